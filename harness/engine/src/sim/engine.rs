//! Runs a scenario's sequences step by step on simulated machines.
//!
//! One [`World`] per replay: the site server, the state store in flight (the
//! captured SMS store, key links and SMS GUID), the seeded log clock and the
//! fixer standing in for CCMCertFix. Each [`Machine`] keeps its OS, updates,
//! ConfigMgr client and its two logs. A failing step stops the sequence; the
//! outcome names the step, its HRESULT and the log lines that show it.

use std::collections::BTreeSet;

use super::model::{self, rules_in_force, Client, ClientVersion, Hotfix, Os, SiteServer, Update};
use super::scenario::{MachineSpec, Scenario};
use super::steps::TaskSequenceStep;
use super::{check_expectation, Kind, MachineLogs, Outcome, OutcomeKind, Replay};
use crate::cmtrace::{import_failure_message, LogClock, LogLine, Severity};
use crate::cryptoapi::{self, Hresult, Rejection};
use crate::fix::Fixer;
use crate::format::{Defect, ReadMode, SerializedStore};

const TS_MANAGER: &str = "TSManager";
const OSD_SMP_CLIENT: &str = "OSDSMPClient";
const CCMSETUP: &str = "ccmsetup";
const HOTFIX: &str = "Hotfix";

/// Which of a machine's two logs a line goes to.
#[derive(Clone, Copy)]
enum Log {
    Smsts,
    Ccmexec,
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
            logs: MachineLogs {
                machine: spec.name.clone(),
                ..MachineLogs::default()
            },
            // Thread ids as Windows hands them out: multiples of 4.
            thread: 1000 + u32::from(u16::from_le_bytes([d[0], d[1]]) % 2000) * 4,
        }
    }
}

/// A failed step, before the sequence adds its own lines.
struct StepFailure {
    kind: OutcomeKind,
    hresult: Hresult,
    evidence: Vec<String>,
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
}

impl World<'_> {
    /// Appends a line to one of `m`'s logs. Lines are rendered only when
    /// someone reads them (the logs, or [`World::log_evidence`]).
    fn log(
        &mut self,
        m: &mut Machine,
        log: Log,
        component: &str,
        severity: Severity,
        message: String,
    ) {
        let line = LogLine {
            message,
            time: self.clock.tick(),
            component: component.to_owned(),
            severity,
            thread: m.thread,
        };
        match log {
            Log::Smsts => m.logs.smsts.push(line),
            Log::Ccmexec => m.logs.ccmexec.push(line),
        }
    }

    /// As [`World::log`], returning the rendered line (for an outcome's evidence).
    fn log_evidence(
        &mut self,
        m: &mut Machine,
        log: Log,
        component: &str,
        severity: Severity,
        message: String,
    ) -> String {
        self.log(m, log, component, severity, message);
        let lines = match log {
            Log::Smsts => &m.logs.smsts,
            Log::Ccmexec => &m.logs.ccmexec,
        };
        lines.last().map(ToString::to_string).unwrap_or_default()
    }

    /// Logs the failing component's own error line (the task sequence
    /// manager's in smsts.log, a client component's in Ccmexec.log) and
    /// returns it as evidence.
    fn fail(
        &mut self,
        m: &mut Machine,
        kind: OutcomeKind,
        h: Hresult,
        component: &str,
        message: String,
    ) -> StepFailure {
        let log = if component == TS_MANAGER {
            Log::Smsts
        } else {
            Log::Ccmexec
        };
        let line = self.log_evidence(m, log, component, Severity::Error, message);
        StepFailure {
            kind,
            hresult: h,
            evidence: vec![line],
        }
    }

    /// A step that found nothing to work on (no client, no captured state).
    fn missing(&mut self, m: &mut Machine, component: &str, message: String) -> StepFailure {
        self.fail(
            m,
            OutcomeKind::StepFailed,
            Hresult::CRYPT_E_NOT_FOUND,
            component,
            message,
        )
    }

    /// The client as it stands before the scenario: certificates made when it
    /// was installed, then the hotfixes installed since (which do not touch
    /// the certificates, C6).
    fn existing_client(&mut self, m: &mut Machine, spec: &MachineSpec) {
        let version = spec.client.unwrap_or(ClientVersion::Sp2);
        let hotfixes: BTreeSet<Hotfix> = spec.client_hotfixes.iter().copied().collect();
        let defect =
            spec.defect
                .unwrap_or(if Client::generates_bad_certificates(version, &hotfixes) {
                    Defect::DoubledTerminator
                } else {
                    Defect::Clean
                });
        let (sms_store, key_containers) = model::client_certificates(&m.name, self.seed, defect);
        let n = key_containers.len();
        m.client = Some(Client {
            version,
            hotfixes,
            sms_store,
            key_containers,
            sms_guid: model::sms_guid(&m.name, self.seed),
        });
        let hotfixes = if spec.client_hotfixes.is_empty() {
            "none".to_owned()
        } else {
            spec.client_hotfixes
                .iter()
                .map(|h| h.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let msg = format!(
            "ConfigMgr 2007 client {} on {}; SMS store holds {n} certificates (friendly names {defect}); client hotfixes: {hotfixes}",
            version.as_str(),
            m.os
        );
        self.log(m, Log::Ccmexec, CCMSETUP, Severity::Information, msg);
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
                        "InstallSWUpdate",
                        Severity::Information,
                        format!("Installation of update {u} succeeded"),
                    );
                }
                let rules = rules_in_force(m.os, &m.updates);
                self.log(
                    m,
                    Log::Smsts,
                    "InstallSWUpdate",
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
                self.log(
                    m,
                    Log::Smsts,
                    "ApplyOperatingSystem",
                    Severity::Information,
                    msg,
                );
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
                    return Err(self.missing(m, TS_MANAGER, msg));
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
                        self.log(m, Log::Smsts, TS_MANAGER, Severity::Information, msg);
                        Ok(())
                    }
                    Err(e) => {
                        let msg =
                            format!("{} failed on the captured state: {e}", self.fixer.name());
                        Err(self.fail(
                            m,
                            OutcomeKind::StepFailed,
                            Hresult::E_INVALIDARG,
                            TS_MANAGER,
                            msg,
                        ))
                    }
                }
            }
        }
    }

    /// Capture User State: OSDSMPClient exports the SMS store and verifies
    /// the export by importing it under the rules in force on the source.
    fn capture(&mut self, m: &mut Machine) -> Result<(), StepFailure> {
        let Some(client) = m.client.clone() else {
            let msg = "There is no ConfigMgr client certificate store to capture".to_owned();
            return Err(self.missing(m, OSD_SMP_CLIENT, msg));
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
        self.log(
            m,
            Log::Smsts,
            "scanstate",
            Severity::Information,
            "USMT scanstate completed; user state and the client identity are in the state store"
                .into(),
        );
        self.state = Some(CapturedState {
            sms_store: client.sms_store,
            key_containers: client.key_containers,
            sms_guid: client.sms_guid,
        });
        Ok(())
    }

    /// Restore User State: OSDSMPClient imports the captured store under the
    /// rules in force on the target at this moment.
    fn restore(&mut self, m: &mut Machine) -> Result<(), StepFailure> {
        let Some(state) = self.state.clone() else {
            let msg = "There is no captured state to restore".to_owned();
            return Err(self.missing(m, OSD_SMP_CLIENT, msg));
        };
        self.import(m, &state.sms_store, "Importing", OutcomeKind::RestoreFailed)?;
        let Some(client) = m.client.as_mut() else {
            let msg =
                "There is no ConfigMgr client to restore the certificate store into".to_owned();
            return Err(self.fail(
                m,
                OutcomeKind::RestoreFailed,
                Hresult::CRYPT_E_NOT_FOUND,
                OSD_SMP_CLIENT,
                msg,
            ));
        };
        client.sms_store = state.sms_store;
        client.key_containers = state.key_containers;
        client.sms_guid = state.sms_guid.clone();
        self.log(
            m,
            Log::Ccmexec,
            OSD_SMP_CLIENT,
            Severity::Information,
            "Successfully imported the client certificate store".into(),
        );
        self.log(
            m,
            Log::Ccmexec,
            "ClientIDManagerStartup",
            Severity::Information,
            format!("Restored client identity {}", state.sms_guid),
        );
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
        let opening =
            format!("{verb} the client certificate store (import rules in force: {rules})");
        self.log(
            m,
            Log::Ccmexec,
            OSD_SMP_CLIENT,
            Severity::Information,
            opening,
        );
        let rejection: Rejection = match SerializedStore::parse(store, ReadMode::Strict) {
            Ok(s) => match cryptoapi::import_all(&s.elements, rules) {
                Ok(_) => return Ok(()),
                Err(r) => r,
            },
            Err(e) => {
                let msg = format!("The client certificate store is not a serialized store: {e}");
                self.log(m, Log::Ccmexec, OSD_SMP_CLIENT, Severity::Error, msg);
                let h = Hresult::CRYPT_E_FILE_ERROR;
                return Err(self.fail(m, kind, h, OSD_SMP_CLIENT, import_failure_message(h)));
            }
        };
        let detail = format!(
            "CertAddSerializedElementToStore refused certificate {} under {rules}: rule {} ({}): {}",
            rejection.thumbprint, rejection.rule.id, rejection.hresult, rejection.offence
        );
        let first = self.log_evidence(m, Log::Ccmexec, OSD_SMP_CLIENT, Severity::Error, detail);
        let mut f = self.fail(
            m,
            kind,
            rejection.hresult,
            OSD_SMP_CLIENT,
            import_failure_message(rejection.hresult),
        );
        f.evidence.insert(0, first);
        Err(f)
    }

    /// Setup Windows and ConfigMgr: installs the client with its patches.
    /// Certificates are generated only when no client state is waiting to be
    /// restored; they are bad iff the client is SP1/SP2 without 977203/977384.
    fn setup_client(&mut self, m: &mut Machine, version: ClientVersion, patches: &[Hotfix]) {
        let mut hotfixes = BTreeSet::new();
        for &p in patches {
            if p == Hotfix::Kb977203 && self.site.client_hotfix_package().is_none() {
                let msg = format!("PATCH={}: the client hotfix package is not on the site server; the client is installed without it", Hotfix::Kb977203);
                self.log(m, Log::Ccmexec, CCMSETUP, Severity::Warning, msg);
                continue;
            }
            hotfixes.insert(p);
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
        if self.state.is_some() {
            m.client = Some(Client {
                version,
                hotfixes,
                sms_store: SerializedStore::new(vec![]).to_bytes(),
                key_containers: vec![],
                sms_guid: String::new(),
            });
            let msg = format!("ConfigMgr 2007 client {}{patched} installed; its certificates and identity will come from the state store", version.as_str());
            self.log(m, Log::Ccmexec, CCMSETUP, Severity::Information, msg);
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
            let (sms_store, key_containers) = model::client_certificates(&m.name, seed, defect);
            let n = key_containers.len();
            m.client = Some(Client {
                version,
                hotfixes,
                sms_store,
                key_containers,
                sms_guid: model::sms_guid(&m.name, seed),
            });
            let msg = format!("ConfigMgr 2007 client {}{patched} installed; generated {n} new certificates (friendly names {defect})", version.as_str());
            self.log(m, Log::Ccmexec, CCMSETUP, Severity::Information, msg);
        }
    }

    /// Run Command Line, for the programs the model knows: CCMCertFix, the
    /// 977203 client hotfix (msiexec /p) and the 977203 package's `/x`
    /// extraction. Any other command line succeeds.
    fn command(&mut self, m: &mut Machine, command: &str) -> Result<(), StepFailure> {
        match model::CommandLine::recognise(command) {
            model::CommandLine::CcmCertFix => self.ccmcertfix(m, command),
            model::CommandLine::ExtractKb977203 { folder } => {
                let path = self.site.extract_977203(&folder);
                self.log(
                    m,
                    Log::Ccmexec,
                    HOTFIX,
                    Severity::Information,
                    format!(
                        "Extracted the KB977203 package to {folder}; CCMCertFix.exe is at {path}"
                    ),
                );
                Ok(())
            }
            model::CommandLine::InstallKb977203 => {
                let Some(client) = m.client.as_mut() else {
                    let msg = format!(
                        "{}: there is no ConfigMgr client to patch",
                        Hotfix::Kb977203
                    );
                    return Err(self.fail(
                        m,
                        OutcomeKind::StepFailed,
                        Hresult::ERROR_FILE_NOT_FOUND,
                        HOTFIX,
                        msg,
                    ));
                };
                let (severity, msg) = match model::install_client_hotfix(client) {
                    Ok(()) => (Severity::Information, format!("{} installed: new certificates will have clean friendly names; the existing certificates are unchanged", Hotfix::Kb977203)),
                    Err(why) => (Severity::Warning, format!("{} is not applicable: {why}", Hotfix::Kb977203)),
                };
                self.log(m, Log::Ccmexec, HOTFIX, severity, msg);
                Ok(())
            }
            model::CommandLine::Other => {
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
    /// where the package was extracted, else the step fails (C8).
    fn ccmcertfix(&mut self, m: &mut Machine, command: &str) -> Result<(), StepFailure> {
        let Some(path) = self.site.ccmcertfix() else {
            let msg = format!(
                "Failed to run command line {command}: the system cannot find the file specified; CCMCertFix.exe is not in Logs\\{} on the site server (where {} is installed, extract it from the {} package with /x)",
                Hotfix::Kb977203,
                Hotfix::Kb977384,
                Hotfix::Kb977203
            );
            return Err(self.fail(
                m,
                OutcomeKind::StepFailed,
                Hresult::ERROR_FILE_NOT_FOUND,
                TS_MANAGER,
                msg,
            ));
        };
        let Some(store) = m.client.as_ref().map(|c| c.sms_store.clone()) else {
            let msg = "CCMCertFix: there is no ConfigMgr client certificate store".to_owned();
            return Err(self.missing(m, "CCMCertFix", msg));
        };
        match self.fixer.fix_store(&store) {
            Ok(bytes) => {
                let repaired = count_bad(&store) - count_bad(&bytes).min(count_bad(&store));
                if let Some(c) = m.client.as_mut() {
                    c.sms_store = bytes;
                }
                let msg = format!(
                    "{} ran from {path}: repaired {repaired} certificate(s) in the SMS store",
                    self.fixer.name()
                );
                self.log(m, Log::Ccmexec, "CCMCertFix", Severity::Information, msg);
                Ok(())
            }
            Err(e) => {
                let msg = format!("{} failed: {e}", self.fixer.name());
                Err(self.fail(
                    m,
                    OutcomeKind::StepFailed,
                    Hresult::E_INVALIDARG,
                    "CCMCertFix",
                    msg,
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
/// State") runs, and checks the scenario's expectation.
pub fn replay_with(s: &Scenario, fixer: &dyn Fixer) -> Replay {
    let mut world = World {
        site: SiteServer::with_hotfixes(&s.site_hotfixes()),
        state: None,
        clock: LogClock::seeded(s.seed),
        seed: s.seed,
        installs: 0,
        fixer,
    };
    let mut source = Machine::new(&s.source, s.seed);
    world.existing_client(&mut source, &s.source);
    let original = source.client.as_ref().map(Identity::of);

    let mut result = world.run_sequence(&mut source, &s.before_steps(), false);
    if result.is_ok() {
        result = world.run_sequence(&mut source, &s.task_sequence_steps(), true);
    }
    let mut machines = vec![source];
    if let (Kind::Replace, Some(target_spec)) = (s.kind, &s.target) {
        // The new computer's restore sequence runs only once the old one's
        // capture sequence finished.
        if result.is_ok() {
            let mut target = Machine::new(target_spec, s.seed);
            result = world.run_sequence(&mut target, &s.restore_sequence_steps(), true);
            machines.push(target);
        }
    }
    let end = machines.last().and_then(|m| m.client.as_ref());
    let identity_preserved = match (end, &original) {
        (Some(c), Some(o)) => Identity::of(c) == *o,
        _ => false,
    };
    let bad_certificates_left = end.map_or(0, |c| count_bad(&c.sms_store));
    let outcome = match result {
        Ok(()) => Outcome {
            kind: OutcomeKind::Success,
            step: None,
            hresult: None,
            evidence: vec![],
            identity_preserved,
            bad_certificates_left,
        },
        Err((step, f)) => Outcome {
            kind: f.kind,
            step: Some(step),
            hresult: Some(f.hresult),
            evidence: f.evidence,
            identity_preserved,
            bad_certificates_left,
        },
    };
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
