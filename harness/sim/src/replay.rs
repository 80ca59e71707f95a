//! Runs a scenario's sequences step by step on simulated machines.
//!
//! One [`World`] per replay: the site server, the state store in flight (the
//! captured SMS store, key links and SMS GUID), the seeded log clock and the
//! fixer standing in for CCMCertFix. Each [`Machine`] keeps its OS, updates,
//! ConfigMgr client and its two logs. A failing step stops the sequence; the
//! outcome names the step, its HRESULT and the log lines that show it.

use std::collections::BTreeSet;

use super::scenario::{MachineSpec, Scenario};
use super::steps::TaskSequenceStep;
use super::usmt::{self, Usmt};
use super::world::{
    self, rules_in_force, Client, ClientVersion, Hotfix, InSequenceReading, Os, SiteServer, Update,
};
use super::{
    check_expectation, Contested, ContestedReading, Evidence, Kind, MachineLogs, ModellingChoice,
    Outcome, OutcomeKind, Replay, CCMEXEC_LOG, CCMSETUP_LOG, NOTES_LOG, SMSTS_LOG,
};
use crate::cmtrace::{import_failure_message, LogClock, LogLine, Severity};
use crate::cryptoapi::{self, Hresult, Rejection};
use crate::fix::Fixer;
use crate::format::{Defect, ReadMode, SerializedStore};

// Components, and the logs they write (KB 977203; docs/BEHAVIOR.md "Logs").
/// The task sequence engine, in smsts.log.
const TS_MANAGER: &str = "TSManager";
/// Capture and Restore User State (osdmigrateuserstate), in smsts.log.
const OSD_USMT: &str = "OSDUSMT";
/// Install Software Updates, in smsts.log.
const INSTALL_SW_UPDATE: &str = "InstallSWUpdate";
/// The client's state-migration component, in Ccmexec.log.
const OSD_SMP_CLIENT: &str = "OSDSMPClient";
/// The client installation, in ccmsetup.log.
const CCMSETUP: &str = "ccmsetup";
/// CCMCertFix, in the log file its argument names.
const CCMCERTFIX: &str = "CCMCertFix";
/// certmig's own notes (certmig.log): never a product's log.
const CERTMIG: &str = "certmig";

/// Which of a machine's logs a line goes to.
#[derive(Clone)]
enum Log {
    Smsts,
    Ccmexec,
    Ccmsetup,
    /// A product log named by a command line (CCMCertFix's argument).
    File(String),
    /// certmig's notes: the simulator's explanations.
    Notes,
}

/// The state captured by USMT scanstate and OSDSMPClient, in flight between
/// Capture User State and Restore User State.
#[derive(Debug, Clone)]
struct CapturedState {
    sms_store: Vec<u8>,
    key_containers: Vec<String>,
    sms_guid: String,
}

/// A client's identity: what a migration must carry over. The key links are
/// read from the certificates themselves, so a fixer that drops or rewrites
/// property 2 loses the identity even though the key containers migrated.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    thumbprints: Vec<String>,
    key_links: Vec<Option<String>>,
    key_containers: Vec<String>,
    sms_guid: String,
}

impl Identity {
    fn of(c: &Client) -> Identity {
        Identity {
            thumbprints: c.thumbprints(),
            key_links: c.key_links(),
            key_containers: c.key_containers.clone(),
            sms_guid: c.sms_guid.clone(),
        }
    }
}

struct Machine {
    name: String,
    os: Os,
    updates: BTreeSet<Update>,
    client: Option<Client>,
    logs: MachineLogs,
    thread: u32,
}

impl Machine {
    fn new(spec: &MachineSpec, seed: u64) -> Machine {
        let d = crate::cert::derive(seed, &[b"thread", spec.name.as_bytes()]);
        Machine {
            name: spec.name.clone(),
            os: spec.os,
            updates: spec.updates.iter().cloned().collect(),
            client: None,
            logs: MachineLogs::new(&spec.name),
            // Thread ids as Windows hands them out: multiples of 4.
            thread: 1000 + u32::from(u16::from_le_bytes([d[0], d[1]]) % 2000) * 4,
        }
    }
}

/// A failed step, before the sequence adds its own lines.
struct StepFailure {
    kind: OutcomeKind,
    hresult: Hresult,
    /// The product log lines that show the failure.
    evidence: Vec<Evidence>,
    /// certmig's notes that explain it (after the product lines).
    notes: Vec<Evidence>,
}

struct World<'f> {
    site: SiteServer,
    state: Option<CapturedState>,
    clock: LogClock,
    seed: u64,
    /// Clients installed fresh so far: each gets new keys, certificates and
    /// SMS GUID (a different seed), as a real installation would.
    installs: u64,
    fixer: &'f dyn Fixer,
    /// The USMT this migration runs with.
    usmt: Option<Usmt>,
    kind: Kind,
    /// Which source to follow for CCMCertFix inside the task sequence.
    reading: InSequenceReading,
    /// A task sequence is running (false for the `before` steps).
    in_ts: bool,
    /// CCMCertFix ran inside a task sequence: the outcome is contested.
    contested: bool,
}

impl World<'_> {
    /// Appends a line to one of `m`'s logs. Lines are rendered only when
    /// someone reads them (the logs, or [`World::log_evidence`]). Product
    /// lines advance the clock; certmig's notes take the current time.
    fn log(
        &mut self,
        m: &mut Machine,
        log: Log,
        component: &str,
        severity: Severity,
        message: String,
    ) {
        let time = match log {
            Log::Notes => self.clock.now(),
            _ => self.clock.tick(),
        };
        let line = LogLine {
            message,
            time,
            component: component.to_owned(),
            severity,
            thread: m.thread,
        };
        match log {
            Log::Smsts => m.logs.file_mut(SMSTS_LOG).push(line),
            Log::Ccmexec => m.logs.file_mut(CCMEXEC_LOG).push(line),
            Log::Ccmsetup => m.logs.file_mut(CCMSETUP_LOG).push(line),
            Log::File(f) => m.logs.file_mut(&f).push(line),
            Log::Notes => m.logs.notes.push(line),
        }
    }

    /// As [`World::log`], returning the line with where it was written
    /// (for an outcome's evidence).
    fn log_evidence(
        &mut self,
        m: &mut Machine,
        log: Log,
        component: &str,
        severity: Severity,
        message: String,
    ) -> Evidence {
        let file = match &log {
            Log::Smsts => SMSTS_LOG.to_owned(),
            Log::Ccmexec => CCMEXEC_LOG.to_owned(),
            Log::Ccmsetup => CCMSETUP_LOG.to_owned(),
            Log::File(f) => f.clone(),
            Log::Notes => NOTES_LOG.to_owned(),
        };
        let notes = matches!(log, Log::Notes);
        self.log(m, log, component, severity, message);
        let last = if notes {
            m.logs.notes.last()
        } else {
            m.logs.file(&file).and_then(|f| f.lines.last())
        };
        Evidence {
            machine: m.name.clone(),
            log: file,
            line: last.map(ToString::to_string).unwrap_or_default(),
        }
    }

    /// A note of certmig's own: an explanation no product writes.
    fn note(&mut self, m: &mut Machine, severity: Severity, message: String) {
        self.log(m, Log::Notes, CERTMIG, severity, message);
    }

    /// Logs the failing component's own error line (the task sequence
    /// manager's in smsts.log, OSDSMPClient's in Ccmexec.log) and returns it
    /// as evidence, followed by certmig's note explaining it, if any.
    fn fail(
        &mut self,
        m: &mut Machine,
        kind: OutcomeKind,
        h: Hresult,
        component: &str,
        message: String,
        why: Option<String>,
    ) -> StepFailure {
        // Only the task sequence engine writes TSManager's lines, and only
        // while a task sequence runs: a `before` step that fails leaves
        // certmig's note alone.
        let evidence = match component {
            OSD_SMP_CLIENT => {
                vec![self.log_evidence(m, Log::Ccmexec, component, Severity::Error, message)]
            }
            TS_MANAGER if !self.in_ts => vec![],
            _ => vec![self.log_evidence(m, Log::Smsts, component, Severity::Error, message)],
        };
        let notes = why
            .map(|why| self.log_evidence(m, Log::Notes, CERTMIG, Severity::Error, why))
            .into_iter()
            .collect();
        StepFailure {
            kind,
            hresult: h,
            evidence,
            notes,
        }
    }

    /// A step that found nothing to work on (no client, no captured state):
    /// the task sequence engine's error, with certmig's explanation.
    fn missing(&mut self, m: &mut Machine, step: &str, why: String) -> StepFailure {
        let h = Hresult::CRYPT_E_NOT_FOUND;
        self.fail(
            m,
            OutcomeKind::StepFailed,
            h,
            TS_MANAGER,
            format!("{step} failed (0x{:08x})", h.0),
            Some(why),
        )
    }

    /// The client as it stands before the scenario: certificates made when it
    /// was installed, with the hotfixes present at that moment (C1), then the
    /// hotfixes installed since, which do not touch the certificates (C6).
    /// An `sp2-r3` client has 977384 from the start (R3 requires it).
    fn existing_client(&mut self, m: &mut Machine, spec: &MachineSpec) {
        let version = spec.client.unwrap_or(ClientVersion::Sp2);
        let mut at_install: BTreeSet<Hotfix> = spec.install_hotfixes.iter().copied().collect();
        if version == ClientVersion::Sp2R3 {
            at_install.insert(Hotfix::Kb977384);
        }
        let defect = spec.defect.unwrap_or(
            if Client::generates_bad_certificates(version, &at_install) {
                Defect::DoubledTerminator
            } else {
                Defect::Clean
            },
        );
        let (sms_store, key_containers) = world::client_certificates(&m.name, self.seed, defect);
        let n = key_containers.len();
        let list = |h: &BTreeSet<Hotfix>| {
            if h.is_empty() {
                "none".to_owned()
            } else {
                h.iter().map(|h| h.as_str()).collect::<Vec<_>>().join(", ")
            }
        };
        let since: BTreeSet<Hotfix> = spec.client_hotfixes.iter().copied().collect();
        let msg = format!(
            "before the scenario: ConfigMgr 2007 client {} on {}, installed with hotfixes {}; its SMS store holds {n} certificates (friendly names {defect}); hotfixes installed since: {}",
            version.as_str(),
            m.os,
            list(&at_install),
            list(&since)
        );
        m.client = Some(Client {
            version,
            hotfixes: at_install.union(&since).copied().collect(),
            sms_store,
            key_containers,
            sms_guid: world::sms_guid(&m.name, self.seed),
        });
        self.note(m, Severity::Information, msg);
    }

    /// Runs one step; `Err` stops the sequence.
    fn step(&mut self, m: &mut Machine, step: &TaskSequenceStep) -> Result<(), StepFailure> {
        use TaskSequenceStep::*;
        match step {
            RunCommandLine { command } => self.command(m, command),
            InstallSoftwareUpdates { updates } => {
                for u in updates {
                    m.updates.insert(*u);
                    self.log(
                        m,
                        Log::Smsts,
                        INSTALL_SW_UPDATE,
                        Severity::Information,
                        format!("Installation of update {u} succeeded"),
                    );
                }
                let rules = rules_in_force(m.os, &m.updates);
                self.note(
                    m,
                    Severity::Information,
                    format!("CryptoAPI import rules now in force: {rules}"),
                );
                Ok(())
            }
            RequestStateStore => {
                self.log(
                    m,
                    Log::Ccmexec,
                    OSD_SMP_CLIENT,
                    Severity::Information,
                    "Request to state migration point succeeded".into(),
                );
                Ok(())
            }
            ReleaseStateStore => {
                self.log(
                    m,
                    Log::Ccmexec,
                    OSD_SMP_CLIENT,
                    Severity::Information,
                    "Release of state store succeeded".into(),
                );
                Ok(())
            }
            CaptureUserState => self.capture(m),
            ApplyOperatingSystem { os, updates } => {
                m.os = *os;
                m.updates = updates.iter().copied().collect();
                m.client = None;
                self.clock.advance(25 * 60 * 1000);
                let msg = format!("Applied {os}; the previous OS, ConfigMgr client and certificate stores are gone");
                self.note(m, Severity::Information, msg);
                Ok(())
            }
            SetupWindowsAndConfigmgr { client, patches } => {
                self.setup_client(m, *client, patches);
                Ok(())
            }
            RestoreUserState => self.restore(m),
            FixCapturedState => {
                let Some(state) = self.state.as_ref() else {
                    let msg = "Fix Captured State: there is no captured state in flight".to_owned();
                    return Err(self.missing(m, "Fix Captured State", msg));
                };
                match self.fixer.fix_store(&state.sms_store) {
                    Ok(bytes) => {
                        if let Some(state) = self.state.as_mut() {
                            state.sms_store = bytes;
                        }
                        let msg = format!(
                            "{} repaired the client certificate store in the captured state",
                            self.fixer.name()
                        );
                        self.note(m, Severity::Information, msg);
                        Ok(())
                    }
                    Err(e) => {
                        let h = Hresult::E_INVALIDARG;
                        let msg =
                            format!("{} failed on the captured state: {e}", self.fixer.name());
                        Err(self.fail(
                            m,
                            OutcomeKind::StepFailed,
                            h,
                            TS_MANAGER,
                            format!("Fix Captured State failed (0x{:08x})", h.0),
                            Some(msg),
                        ))
                    }
                }
            }
        }
    }

    /// A line of OSDUSMT (Capture and Restore User State) in smsts.log;
    /// `{usmt}` in `text` becomes the USMT's product name.
    fn usmt_line(&mut self, m: &mut Machine, text: &str) {
        let usmt = self.usmt.map_or("USMT", Usmt::product_name);
        let msg = text.replace("{usmt}", usmt);
        self.log(m, Log::Smsts, OSD_USMT, Severity::Information, msg);
    }

    /// Capture User State: USMT's scanstate (OSDUSMT in smsts.log) and
    /// OSDSMPClient exporting the SMS store, verified by importing it under
    /// the rules in force on the source (a modelling choice: no source says
    /// how the capture fails, only that it does under 974571).
    fn capture(&mut self, m: &mut Machine) -> Result<(), StepFailure> {
        self.usmt_line(m, "Capturing user state with {usmt} scanstate");
        let Some(client) = m.client.clone() else {
            let msg = "There is no ConfigMgr client certificate store to capture".to_owned();
            return Err(self.missing(m, "Capture User State", msg));
        };
        self.import(
            m,
            &client.sms_store,
            "Exporting",
            OutcomeKind::CaptureFailed,
        )?;
        self.log(
            m,
            Log::Ccmexec,
            OSD_SMP_CLIENT,
            Severity::Information,
            "Successfully exported the client certificate store".into(),
        );
        self.usmt_line(m, "{usmt} scanstate completed successfully");
        self.note(
            m,
            Severity::Information,
            "the user state and the client's certificates, key containers and SMS GUID are in the state store".into(),
        );
        self.state = Some(CapturedState {
            sms_store: client.sms_store,
            key_containers: client.key_containers,
            sms_guid: client.sms_guid,
        });
        Ok(())
    }

    /// Restore User State: USMT's loadstate (OSDUSMT in smsts.log) and
    /// OSDSMPClient importing the captured store under the rules in force on
    /// the target at this moment.
    fn restore(&mut self, m: &mut Machine) -> Result<(), StepFailure> {
        self.usmt_line(m, "Restoring user state with {usmt} loadstate");
        let Some(state) = self.state.clone() else {
            let msg = "There is no captured state to restore".to_owned();
            return Err(self.missing(m, "Restore User State", msg));
        };
        self.import(m, &state.sms_store, "Importing", OutcomeKind::RestoreFailed)?;
        let Some(client) = m.client.as_mut() else {
            let h = Hresult::CRYPT_E_NOT_FOUND;
            return Err(self.fail(
                m,
                OutcomeKind::RestoreFailed,
                h,
                OSD_SMP_CLIENT,
                import_failure_message(h),
                Some("there is no ConfigMgr client to restore the certificate store into".into()),
            ));
        };
        let note = if self.kind == Kind::Refresh {
            client.sms_store = state.sms_store;
            client.key_containers = state.key_containers;
            client.sms_guid = state.sms_guid.clone();
            format!(
                "the client's certificates, key containers and SMS GUID {} were restored",
                state.sms_guid
            )
        } else {
            let imported = store_len(&state.sms_store);
            client.sms_store = merge_stores(&client.sms_store, &state.sms_store);
            format!(
                "the old computer's client certificate store ({imported} certificate(s)) was imported into this client's SMS store, beside its own; this computer keeps its own SMS GUID {} and key containers (modelling choice replace-keeps-own-identity: no source says which identity a replace keeps, and the sources name only the client certificate store)",
                client.sms_guid
            )
        };
        self.log(
            m,
            Log::Ccmexec,
            OSD_SMP_CLIENT,
            Severity::Information,
            "Successfully imported the client certificate store".into(),
        );
        self.usmt_line(m, "{usmt} loadstate completed successfully");
        self.note(m, Severity::Information, note);
        Ok(())
    }

    /// Imports a whole store as OSDSMPClient does under the rules in force on
    /// `m` now, logging "`verb` the client certificate store"; on refusal
    /// logs the certificate and rule, then the C3 line, and fails with `kind`.
    fn import(
        &mut self,
        m: &mut Machine,
        store: &[u8],
        verb: &str,
        kind: OutcomeKind,
    ) -> Result<(), StepFailure> {
        let rules = rules_in_force(m.os, &m.updates);
        self.log(
            m,
            Log::Ccmexec,
            OSD_SMP_CLIENT,
            Severity::Information,
            format!("{verb} the client certificate store"),
        );
        self.note(
            m,
            Severity::Information,
            format!("CryptoAPI import rules in force on {}: {rules}", m.name),
        );
        let rejection: Rejection = match SerializedStore::parse(store, ReadMode::Strict) {
            Ok(s) => match cryptoapi::import_all(&s.elements, rules) {
                Ok(_) => return Ok(()),
                Err(r) => r,
            },
            Err(e) => {
                let h = Hresult::CRYPT_E_FILE_ERROR;
                let why = format!("the client certificate store is not a serialized store: {e}");
                return Err(self.fail(
                    m,
                    kind,
                    h,
                    OSD_SMP_CLIENT,
                    import_failure_message(h),
                    Some(why),
                ));
            }
        };
        let why = format!(
            "CertAddSerializedElementToStore refused certificate {} under {rules}: rule {} ({}): {}",
            rejection.thumbprint, rejection.rule.id, rejection.hresult, rejection.offence
        );
        Err(self.fail(
            m,
            kind,
            rejection.hresult,
            OSD_SMP_CLIENT,
            import_failure_message(rejection.hresult),
            Some(why),
        ))
    }

    /// Setup Windows and ConfigMgr: installs the client with its patches.
    /// Certificates are generated only when no client state is waiting to be
    /// restored; they are bad iff the client is SP1/SP2 without 977203/977384.
    fn setup_client(&mut self, m: &mut Machine, version: ClientVersion, patches: &[Hotfix]) {
        let mut hotfixes = BTreeSet::new();
        for &p in patches {
            if p == Hotfix::Kb977203 && self.site.client_hotfix_package().is_none() {
                let msg = format!(
                    "PATCH={}: the patch file was not found; installing without it",
                    Hotfix::Kb977203
                );
                self.log(m, Log::Ccmsetup, CCMSETUP, Severity::Warning, msg);
                self.note(m, Severity::Warning, "the client hotfix package is not on the site server (977203 is not installed there)".into());
                continue;
            }
            if p == Hotfix::Kb977384 && version == ClientVersion::Sp1 {
                // 977384 is the R3 prerequisite: SP2 only (KB 977384).
                let msg = format!(
                    "PATCH={}: not applicable to this client version",
                    Hotfix::Kb977384
                );
                self.log(m, Log::Ccmsetup, CCMSETUP, Severity::Warning, msg);
                self.note(
                    m,
                    Severity::Warning,
                    format!(
                        "{} applies to ConfigMgr 2007 SP2 clients only; this client is sp1",
                        Hotfix::Kb977384
                    ),
                );
                continue;
            }
            hotfixes.insert(p);
        }
        if version == ClientVersion::Sp2R3 {
            // R3 requires 977384.
            hotfixes.insert(Hotfix::Kb977384);
        }
        let patched = if hotfixes.is_empty() {
            String::new()
        } else {
            format!(
                " with {}",
                hotfixes
                    .iter()
                    .map(|h| h.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        // A refresh's client takes its identity from the state store; a
        // replace's new computer is a client of its own (modelling choice
        // `replace-keeps-own-identity`), so it makes its own certificates.
        if self.state.is_some() && self.kind == Kind::Refresh {
            m.client = Some(Client {
                version,
                hotfixes,
                sms_store: SerializedStore::new(vec![]).to_bytes(),
                key_containers: vec![],
                sms_guid: String::new(),
            });
            let msg = format!(
                "ConfigMgr 2007 client {}{patched} installed",
                version.as_str()
            );
            self.log(m, Log::Ccmsetup, CCMSETUP, Severity::Information, msg);
            self.note(
                m,
                Severity::Information,
                "the client's certificates and identity will come from the state store".into(),
            );
        } else {
            let bad = Client::generates_bad_certificates(version, &hotfixes);
            let defect = if bad {
                Defect::DoubledTerminator
            } else {
                Defect::Clean
            };
            self.installs += 1;
            let seed = u64::from_le_bytes(
                crate::cert::derive(
                    self.seed,
                    &[b"client install", &self.installs.to_le_bytes()],
                )[..8]
                    .try_into()
                    .expect("8 bytes"),
            );
            let (sms_store, key_containers) = world::client_certificates(&m.name, seed, defect);
            let n = key_containers.len();
            m.client = Some(Client {
                version,
                hotfixes,
                sms_store,
                key_containers,
                sms_guid: world::sms_guid(&m.name, seed),
            });
            let msg = format!(
                "ConfigMgr 2007 client {}{patched} installed",
                version.as_str()
            );
            self.log(m, Log::Ccmsetup, CCMSETUP, Severity::Information, msg);
            self.note(m, Severity::Information, format!("the new client generated {n} new certificates (friendly names {defect}) and a new SMS GUID"));
        }
    }

    /// Run Command Line, for the programs the model knows: CCMCertFix, the
    /// 977203 client hotfix (msiexec /p) and the 977203 package's `/x`
    /// extraction. Any other command line succeeds.
    fn command(&mut self, m: &mut Machine, command: &str) -> Result<(), StepFailure> {
        match world::CommandLine::recognise(command) {
            world::CommandLine::CcmCertFix => self.ccmcertfix(m, command),
            world::CommandLine::ExtractKb977203 { folder: None } => {
                // Modelling choice (no source says what the extractor does
                // without a folder in an unattended step): it asks for one,
                // no one answers, nothing is extracted; the step is not
                // failed (no source gives an exit code).
                self.note(
                    m,
                    Severity::Warning,
                    format!(
                        "{command}: the KB977203 package asks for a folder to extract to and no one can answer in a task sequence: nothing was extracted (modelling choice); give the folder after /x"
                    ),
                );
                Ok(())
            }
            world::CommandLine::ExtractKb977203 {
                folder: Some(folder),
            } => {
                let path = self.site.extract_977203(&folder);
                self.note(
                    m,
                    Severity::Information,
                    format!(
                        "Extracted the KB977203 package to {folder}; CCMCertFix.exe is at {path}"
                    ),
                );
                Ok(())
            }
            world::CommandLine::InstallKb977203 => {
                let Some(client) = m.client.as_mut() else {
                    let h = Hresult::ERROR_FILE_NOT_FOUND;
                    let why = format!(
                        "{}: there is no ConfigMgr client to patch",
                        Hotfix::Kb977203
                    );
                    return Err(self.fail(
                        m,
                        OutcomeKind::StepFailed,
                        h,
                        TS_MANAGER,
                        format!("Failed to run command line {command} (0x{:08x})", h.0),
                        Some(why),
                    ));
                };
                let (severity, msg) = match world::install_client_hotfix(client) {
                    Ok(()) => (Severity::Information, format!("{} installed: new certificates will have clean friendly names; the existing certificates are unchanged", Hotfix::Kb977203)),
                    Err(why) => (Severity::Warning, format!("{} is not applicable: {why}", Hotfix::Kb977203)),
                };
                self.note(m, severity, msg);
                Ok(())
            }
            world::CommandLine::Other => {
                self.log(
                    m,
                    Log::Smsts,
                    TS_MANAGER,
                    Severity::Information,
                    format!("Command line {command} returned 0"),
                );
                Ok(())
            }
        }
    }

    /// CCMCertFix on the client: found at `Logs\KB977203` on the site or
    /// where the package was extracted, else the step fails (C8). It writes
    /// its own log to the file its only argument names (KB 977203), and
    /// nowhere else.
    fn ccmcertfix(&mut self, m: &mut Machine, command: &str) -> Result<(), StepFailure> {
        let log = ccmcertfix_log(command).map(Log::File);
        let Some(path) = self.site.ccmcertfix() else {
            let h = Hresult::ERROR_FILE_NOT_FOUND;
            let why = format!(
                "CCMCertFix.exe is not in Logs\\{} on the site server (where {} is installed, extract it from the {} package with /x)",
                Hotfix::Kb977203,
                Hotfix::Kb977384,
                Hotfix::Kb977203
            );
            return Err(self.fail(
                m,
                OutcomeKind::StepFailed,
                h,
                TS_MANAGER,
                format!("Failed to run command line {command}: the system cannot find the file specified (0x{:08x})", h.0),
                Some(why),
            ));
        };
        let Some(store) = m.client.as_ref().map(|c| c.sms_store.clone()) else {
            let msg = "CCMCertFix: there is no ConfigMgr client certificate store".to_owned();
            return Err(self.missing(m, "Run CCMCertFix", msg));
        };
        if self.in_ts {
            // Contested (docs/BEHAVIOR.md "Contested: CCMCertFix inside the
            // task sequence"): follow the reading the user chose.
            self.contested = true;
            let r = self.reading;
            let (follows, other) = (r.source(), r.other().source());
            if !r.step_repairs() {
                let msg = format!(
                    "contested, following {follows} (\"{}\"): CCMCertFix run inside the task sequence does not resolve the problem, so the certificates the task sequence migrates stay as they were (how it fails to help is a modelling choice: the article gives no mechanism); {other} reads otherwise (--in-sequence-ccmcertfix {})",
                    r.says(),
                    r.other()
                );
                self.note(m, Severity::Warning, msg);
                return Ok(());
            }
            let msg = format!(
                "contested, following {follows} (\"{}\"): CCMCertFix runs as a task-sequence step; {other} says it \"{}\"",
                r.says(),
                r.other().says()
            );
            self.note(m, Severity::Warning, msg);
        }
        match self.fixer.fix_store(&store) {
            Ok(bytes) => {
                let repaired = count_bad(&store) - count_bad(&bytes).min(count_bad(&store));
                if let Some(c) = m.client.as_mut() {
                    c.sms_store = bytes;
                }
                if let Some(log) = log {
                    let msg = format!("Fixed {repaired} certificate(s) in the SMS store");
                    self.log(m, log, CCMCERTFIX, Severity::Information, msg);
                }
                let msg = format!(
                    "{} ran from {path}: repaired {repaired} certificate(s) in the SMS store",
                    self.fixer.name()
                );
                self.note(m, Severity::Information, msg);
                Ok(())
            }
            Err(e) => {
                let h = Hresult::E_INVALIDARG;
                if let Some(log) = log {
                    let msg = format!(
                        "Failed to fix the certificates in the SMS store (0x{:08x})",
                        h.0
                    );
                    self.log(m, log, CCMCERTFIX, Severity::Error, msg);
                }
                Err(self.fail(
                    m,
                    OutcomeKind::StepFailed,
                    h,
                    TS_MANAGER,
                    format!("Failed to run command line {command} (0x{:08x})", h.0),
                    Some(format!("{} failed: {e}", self.fixer.name())),
                ))
            }
        }
    }

    /// Runs a sequence on `m`: `Err((step name, failure))` on the first
    /// failure. A task sequence (`in_ts`) logs every step in smsts.log; what an
    /// administrator runs before it logs only in the client's log.
    fn run_sequence(
        &mut self,
        m: &mut Machine,
        steps: &[TaskSequenceStep],
        in_ts: bool,
    ) -> Result<(), (String, StepFailure)> {
        self.in_ts = in_ts;
        for (i, s) in steps.iter().enumerate() {
            let name = s.display_name();
            if in_ts {
                self.log(m, Log::Smsts, TS_MANAGER, Severity::Information, format!("Start executing an instruction. Instruction name: {name}. Instruction pointer: {i}"));
            }
            match self.step(m, s) {
                Ok(()) if in_ts => {
                    self.log(
                        m,
                        Log::Smsts,
                        TS_MANAGER,
                        Severity::Information,
                        format!(
                            "Successfully completed the action ({name}) with the exit win32 code 0"
                        ),
                    );
                }
                Ok(()) => {}
                Err(mut f) => {
                    if in_ts {
                        let code = format!("{:08X}", f.hresult.0);
                        let a = self.log_evidence(m, Log::Smsts, TS_MANAGER, Severity::Error, format!("Failed to run the action: {name}. (Error: {code}; Source: Windows)"));
                        let b = self.log_evidence(m, Log::Smsts, TS_MANAGER, Severity::Error, format!("Task Sequence Engine failed! Code: enExecutionFail (Error: {code})"));
                        f.evidence.extend([a, b]);
                    }
                    return Err((name, f));
                }
            }
        }
        Ok(())
    }
}

/// The file name of the log CCMCertFix's argument names (its only
/// argument is the log file's path), if the command line gives one.
pub(crate) fn ccmcertfix_log(command: &str) -> Option<String> {
    let mut words = command.split_whitespace();
    words.find(|w| w.to_ascii_lowercase().contains("ccmcertfix"))?;
    let path = words.next()?.trim_matches('"');
    let name = path.rsplit(['\\', '/']).next().unwrap_or(path);
    (!name.is_empty()).then(|| name.to_owned())
}

/// The number of elements in a serialized store (0 if it does not parse).
fn store_len(store: &[u8]) -> usize {
    SerializedStore::parse(store, ReadMode::Strict).map_or(0, |s| s.elements.len())
}

/// `own`'s elements, then `imported`'s, as one serialized store (a store
/// that does not parse contributes nothing: the import checked it already).
fn merge_stores(own: &[u8], imported: &[u8]) -> Vec<u8> {
    let parse = |b| SerializedStore::parse(b, ReadMode::Strict).map_or(vec![], |s| s.elements);
    let mut elements = parse(own);
    elements.extend(parse(imported));
    SerializedStore::new(elements).to_bytes()
}

/// Certificates with an embedded NUL in their friendly name.
fn count_bad(store: &[u8]) -> usize {
    SerializedStore::parse(store, ReadMode::Strict)
        .map(|s| {
            s.elements
                .iter()
                .filter(|e| {
                    e.friendly_name_shape()
                        .is_some_and(|x| x.has_embedded_nul())
                })
                .count()
        })
        .unwrap_or(0)
}

/// Replays a scenario, calling `fixer` wherever CCMCertFix (or "Fix Captured
/// State") runs, and checks the scenario's expectation. Where CCMCertFix ran
/// inside the task sequence, the scenario is replayed again under the other
/// reading of that contested rule, and the outcome carries both.
pub fn replay_with(s: &Scenario, fixer: &dyn Fixer) -> Replay {
    let mut r = replay_once(s, fixer);
    if let Some(c) = r.outcome.contested.as_mut() {
        let mut other = s.clone();
        other.in_sequence_ccmcertfix = s.in_sequence_ccmcertfix.other();
        let o = replay_once(&other, fixer).outcome.kind;
        c.readings.push(ContestedReading {
            reading: other.in_sequence_ccmcertfix,
            source: other.in_sequence_ccmcertfix.source(),
            says: other.in_sequence_ccmcertfix.says(),
            outcome: o,
        });
    }
    r
}

/// One replay under the scenario's own reading of the contested rule.
fn replay_once(s: &Scenario, fixer: &dyn Fixer) -> Replay {
    let migrates = s
        .task_sequence_steps()
        .iter()
        .any(|st| matches!(st, TaskSequenceStep::CaptureUserState));
    let route = s.route();
    let support = usmt::usmt_for(&route);
    let mut world = World {
        site: SiteServer::with_hotfixes(&s.site_hotfixes()),
        state: None,
        clock: LogClock::seeded(s.seed),
        seed: s.seed,
        installs: 0,
        fixer,
        usmt: support.ok(),
        kind: s.kind,
        reading: s.in_sequence_ccmcertfix,
        in_ts: false,
        contested: false,
    };
    let mut source = Machine::new(&s.source, s.seed);
    world.existing_client(&mut source, &s.source);
    let original = source.client.as_ref().map(Identity::of);

    if let (true, Err(why)) = (migrates, support) {
        // No USMT can perform this migration: it is neither a success nor a
        // failure of the certificates, and no sequence runs.
        let reason = why.reason(&route);
        let note = world.log_evidence(
            &mut source,
            Log::Notes,
            CERTMIG,
            Severity::Warning,
            format!("unsupported: {reason}"),
        );
        let mut modelling_choices = vec![ModellingChoice::UsmtJudgedUpfront];
        if why.is_modelling_choice() {
            modelling_choices.push(ModellingChoice::DowngradeUnsupported);
        }
        let outcome = Outcome {
            kind: OutcomeKind::Unsupported,
            step: None,
            hresult: None,
            usmt: None,
            reason: Some(reason),
            evidence: vec![note],
            identity_preserved: None,
            modelling_choices,
            contested: None,
            bad_certificates_left: source
                .client
                .as_ref()
                .map_or(0, |c| count_bad(&c.sms_store)),
        };
        return finish(s, outcome, vec![source]);
    }

    let mut result = world.run_sequence(&mut source, &s.before_steps(), false);
    if result.is_ok() {
        result = world.run_sequence(&mut source, &s.task_sequence_steps(), true);
    }
    let mut machines = vec![source];
    let mut restored_on_new_computer = false;
    if let (Kind::Replace, Some(target_spec)) = (s.kind, &s.target) {
        // The new computer's restore sequence runs only once the old one's
        // capture sequence finished.
        if result.is_ok() {
            let mut target = Machine::new(target_spec, s.seed);
            result = world.run_sequence(&mut target, &s.restore_sequence_steps(), true);
            restored_on_new_computer = result.is_ok();
            machines.push(target);
        }
    }
    let end = machines.last().and_then(|m| m.client.as_ref());
    // A replace is side by side: the new computer is a client of its own,
    // so no identity is claimed for it (docs/BEHAVIOR.md "Refresh and replace").
    let identity_preserved = (s.kind == Kind::Refresh).then(|| match (end, &original) {
        (Some(c), Some(o)) => Identity::of(c) == *o,
        _ => false,
    });
    let bad_certificates_left = end.map_or(0, |c| count_bad(&c.sms_store));
    let usmt = migrates.then_some(world.usmt).flatten();
    let mut modelling_choices = Vec::new();
    if matches!(result, Err((_, ref f)) if f.kind == OutcomeKind::CaptureFailed) {
        modelling_choices.push(ModellingChoice::CaptureCheckedByImport);
    }
    if restored_on_new_computer {
        modelling_choices.push(ModellingChoice::ReplaceKeepsOwnIdentity);
    }
    let contested = world.contested.then(|| {
        modelling_choices.push(ModellingChoice::CcmcertfixInSequence);
        (s.in_sequence_ccmcertfix, Contested::CCMCERTFIX_IN_SEQUENCE)
    });
    let (kind, step, hresult, evidence) = match result {
        Ok(()) => (OutcomeKind::Success, None, None, vec![]),
        Err((step, f)) => (
            f.kind,
            Some(step),
            Some(f.hresult),
            f.evidence.into_iter().chain(f.notes).collect(),
        ),
    };
    let outcome = Outcome {
        kind,
        step,
        hresult,
        usmt,
        reason: None,
        evidence,
        identity_preserved,
        modelling_choices,
        contested: contested.map(|(followed, rule)| Contested {
            rule,
            followed,
            readings: vec![ContestedReading {
                reading: followed,
                source: followed.source(),
                says: followed.says(),
                outcome: kind,
            }],
        }),
        bad_certificates_left,
    };
    finish(s, outcome, machines)
}

/// The replay of `s` with its outcome and machines, checked against its expectation.
fn finish(s: &Scenario, outcome: Outcome, machines: Vec<Machine>) -> Replay {
    let mut r = Replay {
        scenario: s.name.clone(),
        kind: s.kind,
        source_os: s.source.os,
        target_os: s.applied_os(),
        remediation: s.remediation,
        outcome,
        logs: machines.into_iter().map(|m| m.logs).collect(),
        mismatches: vec![],
        has_expectation: s.expect.is_some(),
    };
    r.mismatches = check_expectation(s, &r);
    r
}
