//! The scenario engine: machines, the site server, task-sequence steps, and
//! the outcome of a refresh or replace, with the CMTrace logs that show it.
//!
//! The rules in force are recomputed at every step from the machine's OS and
//! updates (BEHAVIOR.md "The model"), the SMS store is held as real
//! serialized bytes, imports go through [`crate::cryptoapi`], and every fixer
//! (the CCMCertFix step, "Fix Captured State") is called through the
//! [`crate::fix::Fixer`] trait, so an external fix tool can stand in.

pub mod matrix;
pub mod model;
pub mod scenario;
pub mod steps;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::cmtrace::{import_failure_message, CmTraceLog, LogClock, LogLine, Severity};
use crate::cryptoapi::{self, Hresult};
use crate::fix::{Fixer, ReferenceFixer};
use crate::format::{Defect, ReadMode, SerializedStore};
use model::{rules_in_force, Client, ClientVersion, Os, SiteServer};
use scenario::{MachineSpec, Remediation, Scenario};
use steps::TaskSequenceStep;

/// Refresh (same hardware) or replace (old computer to new).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Refresh,
    Replace,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Refresh => "refresh",
            Kind::Replace => "replace",
        }
    }
}

/// How a migration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    Success,
    CaptureFailed,
    RestoreFailed,
    StepFailed,
}

impl OutcomeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Success => "success",
            OutcomeKind::CaptureFailed => "capture-failed",
            OutcomeKind::RestoreFailed => "restore-failed",
            OutcomeKind::StepFailed => "step-failed",
        }
    }
}

/// The outcome, the failing step and HRESULT, the log lines that show it,
/// and whether the client identity survived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub kind: OutcomeKind,
    pub step: Option<String>,
    pub hresult: Option<Hresult>,
    pub evidence: Vec<String>,
    pub identity_preserved: bool,
}

/// One machine's logs.
#[derive(Debug, Clone)]
pub struct MachineLogs {
    pub machine: String,
    pub smsts: Vec<LogLine>,
    pub ccmexec: Vec<LogLine>,
}

impl MachineLogs {
    fn render(lines: &[LogLine]) -> String {
        let mut log = CmTraceLog::new(LogClock::seeded(0));
        log.lines = lines.to_vec();
        log.render()
    }
    pub fn smsts_log(&self) -> String {
        Self::render(&self.smsts)
    }
    pub fn ccmexec_log(&self) -> String {
        Self::render(&self.ccmexec)
    }
}

/// A replayed scenario.
#[derive(Debug, Clone)]
pub struct Replay {
    pub scenario: String,
    pub kind: Kind,
    pub source_os: Os,
    pub target_os: Os,
    pub remediation: Option<Remediation>,
    pub outcome: Outcome,
    pub logs: Vec<MachineLogs>,
    /// Differences from the scenario's expectation (empty = as expected).
    pub mismatches: Vec<String>,
    pub has_expectation: bool,
}

const TS_MANAGER: &str = "TSManager";
const OSD_SMP_CLIENT: &str = "OSDSMPClient";

/// The state captured by USMT and OSDSMPClient.
#[derive(Debug, Clone)]
struct CapturedState {
    sms_store: Vec<u8>,
    key_containers: Vec<String>,
    sms_guid: String,
}

struct Machine {
    name: String,
    os: Os,
    updates: BTreeSet<String>,
    client: Option<Client>,
    logs: MachineLogs,
    thread: u32,
}

impl Machine {
    fn new(spec: &MachineSpec, seed: u64) -> Machine {
        Machine {
            name: spec.name.clone(),
            os: spec.os,
            updates: spec.updates.iter().cloned().collect(),
            client: None,
            logs: MachineLogs { machine: spec.name.clone(), smsts: vec![], ccmexec: vec![] },
            thread: 1000 + (crate::cert::derive(seed, &[spec.name.as_bytes()])[0] as u32) * 8,
        }
    }
}

/// A failed step: what the engine reports.
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
    fixer: &'f dyn Fixer,
    /// The source client's identity when the scenario started.
    original: Option<(Vec<String>, Vec<String>, String)>,
}

impl World<'_> {
    fn log(&mut self, m: &mut Machine, smsts: bool, component: &str, severity: Severity, message: String) -> String {
        let line = LogLine { message, time: self.clock.tick(), component: component.to_owned(), severity, thread: m.thread };
        let text = line.to_string();
        if smsts {
            m.logs.smsts.push(line);
        } else {
            m.logs.ccmexec.push(line);
        }
        text
    }

    fn install_client(&mut self, m: &mut Machine, version: ClientVersion, hotfixes: BTreeSet<String>, defect: Option<Defect>) {
        let bad = Client::generates_bad_certificates(version, &hotfixes);
        let defect = if bad { defect.unwrap_or(Defect::DoubledTerminator) } else { Defect::Clean };
        let certs = model::client_certificates(&m.name, self.seed, defect);
        m.client = Some(Client {
            version,
            hotfixes,
            sms_store: certs.0.clone(),
            key_containers: certs.1.clone(),
            sms_guid: model::sms_guid(&m.name, self.seed),
        });
        let msg = format!(
            "ConfigMgr client {} installed; generated {} certificates{}",
            version.as_str(),
            certs.1.len(),
            if bad { format!(" with friendly-name defect {defect}") } else { String::new() }
        );
        self.log(m, false, "ccmsetup", Severity::Information, msg);
    }

    /// Runs one step; `Err` stops the sequence.
    fn step(&mut self, m: &mut Machine, step: &TaskSequenceStep, in_ts: bool) -> Result<(), StepFailure> {
        use TaskSequenceStep::*;
        let rules = rules_in_force(m.os, &m.updates);
        match step {
            RunCommandLine { command } => self.command(m, command, in_ts),
            InstallSoftwareUpdates { updates } => {
                for u in updates {
                    m.updates.insert(u.clone());
                    self.log(m, true, "InstallSWUpdate", Severity::Information, format!("Installation of update {u} succeeded"));
                }
                Ok(())
            }
            RequestStateStore => {
                self.log(m, false, OSD_SMP_CLIENT, Severity::Information, "Request to state migration point succeeded".into());
                Ok(())
            }
            ReleaseStateStore => {
                self.log(m, false, OSD_SMP_CLIENT, Severity::Information, "Release of state store succeeded".into());
                Ok(())
            }
            CaptureUserState => {
                let Some(client) = m.client.clone() else {
                    return Err(self.fail(m, OutcomeKind::StepFailed, Hresult::CRYPT_E_NOT_FOUND, "no ConfigMgr client to capture".into()));
                };
                self.log(m, false, OSD_SMP_CLIENT, Severity::Information, format!("Exporting the client certificate store (import rules: {rules})"));
                if let Err(h) = import_store(&client.sms_store, rules) {
                    return Err(self.fail(m, OutcomeKind::CaptureFailed, h, import_failure_message(h)));
                }
                self.log(m, false, OSD_SMP_CLIENT, Severity::Information, "Successfully exported the client certificate store".into());
                self.state = Some(CapturedState {
                    sms_store: client.sms_store,
                    key_containers: client.key_containers,
                    sms_guid: client.sms_guid,
                });
                Ok(())
            }
            ApplyOperatingSystem { os } => {
                m.os = *os;
                m.updates.clear();
                m.client = None;
                self.clock.advance(25 * 60 * 1000);
                self.log(m, true, "ApplyOperatingSystem", Severity::Information, format!("Applied {os}; the old OS, client and certificate stores are gone"));
                Ok(())
            }
            SetupWindowsAndConfigmgr { client, patch } => {
                let hotfixes: BTreeSet<String> = patch.iter().cloned().collect();
                if self.state.is_some() {
                    m.client = Some(Client {
                        version: *client,
                        hotfixes,
                        sms_store: SerializedStore::new(vec![]).to_bytes(),
                        key_containers: vec![],
                        sms_guid: String::new(),
                    });
                    self.log(m, false, "ccmsetup", Severity::Information, format!("ConfigMgr client {} installed; client identity and certificates will be restored from the state store", client.as_str()));
                } else {
                    self.install_client(m, *client, hotfixes, None);
                }
                Ok(())
            }
            RestoreUserState => {
                let Some(state) = self.state.clone() else {
                    return Err(self.fail(m, OutcomeKind::StepFailed, Hresult::CRYPT_E_NOT_FOUND, "no captured state to restore".into()));
                };
                self.log(m, false, OSD_SMP_CLIENT, Severity::Information, format!("Importing the client certificate store (import rules: {rules})"));
                if let Err(h) = import_store(&state.sms_store, rules) {
                    return Err(self.fail(m, OutcomeKind::RestoreFailed, h, import_failure_message(h)));
                }
                if let Some(c) = m.client.as_mut() {
                    c.sms_store = state.sms_store;
                    c.key_containers = state.key_containers;
                    c.sms_guid = state.sms_guid;
                }
                self.log(m, false, OSD_SMP_CLIENT, Severity::Information, "Successfully imported the client certificate store".into());
                Ok(())
            }
            FixCapturedState { policy } => {
                let Some(state) = self.state.as_mut() else {
                    return Err(self.fail(m, OutcomeKind::StepFailed, Hresult::CRYPT_E_NOT_FOUND, "no captured state to fix".into()));
                };
                match (ReferenceFixer { policy: *policy }).fix_store(&state.sms_store) {
                    Ok(b) => {
                        state.sms_store = b;
                        self.log(m, true, TS_MANAGER, Severity::Information, "Fixed the client certificate store in the captured state".into());
                        Ok(())
                    }
                    Err(e) => Err(self.fail(m, OutcomeKind::StepFailed, Hresult::E_INVALIDARG, format!("fixer failed: {e}"))),
                }
            }
        }
    }

    fn command(&mut self, m: &mut Machine, command: &str, in_ts: bool) -> Result<(), StepFailure> {
        let lower = command.to_ascii_lowercase();
        // A failing command stops the sequence it runs in (or the remediation
        // run before it) the same way: the migration never completes.
        let kind = OutcomeKind::StepFailed;
        let _ = in_ts;
        if lower.contains("ccmcertfix") {
            let Some(path) = self.site.ccmcertfix() else {
                let h = Hresult::ERROR_FILE_NOT_FOUND;
                return Err(self.fail(m, kind, h, format!("Failed to run command line {command}: the system cannot find the file specified; CCMCertFix.exe is not in Logs\\KB977203 (extract KB977203 with /x)")));
            };
            let Some(client) = m.client.as_mut() else {
                return Err(self.fail(m, kind, Hresult::CRYPT_E_NOT_FOUND, "CCMCertFix: no ConfigMgr client certificate store".into()));
            };
            match self.fixer.fix_store(&client.sms_store) {
                Ok(bytes) => {
                    client.sms_store = bytes;
                    let name = self.fixer.name().to_owned();
                    self.log(m, false, "CCMCertFix", Severity::Information, format!("{name} ({path}) repaired the SMS certificate store"));
                    Ok(())
                }
                Err(e) => Err(self.fail(m, kind, Hresult::E_INVALIDARG, format!("CCMCertFix failed: {e}"))),
            }
        } else if lower.contains("kb977203") && lower.contains("/x") {
            let folder = command.split_whitespace().last().unwrap_or(r"C:\KB977203").to_owned();
            let path = self.site.extract_977203(&folder);
            self.log(m, false, "Hotfix", Severity::Information, format!("Extracted the KB977203 package; CCMCertFix.exe is at {path}"));
            Ok(())
        } else if lower.contains("kb977203") {
            let Some(client) = m.client.as_mut() else {
                return Err(self.fail(m, kind, Hresult::CRYPT_E_NOT_FOUND, "no ConfigMgr client to patch".into()));
            };
            match model::install_client_hotfix(client) {
                Ok(()) => {
                    self.log(m, false, "Hotfix", Severity::Information, "KB977203 installed: new certificates will have clean friendly names; existing certificates are unchanged".into());
                }
                Err(why) => {
                    self.log(m, false, "Hotfix", Severity::Warning, format!("KB977203 is not applicable: {why}"));
                }
            }
            Ok(())
        } else {
            Ok(())
        }
    }

    /// Logs a failure in Ccmexec.log (the component's own line) and returns it.
    fn fail(&mut self, m: &mut Machine, kind: OutcomeKind, h: Hresult, message: String) -> StepFailure {
        let component = match kind {
            OutcomeKind::CaptureFailed | OutcomeKind::RestoreFailed => OSD_SMP_CLIENT,
            _ => TS_MANAGER,
        };
        let line = self.log(m, false, component, Severity::Error, message);
        StepFailure { kind, hresult: h, evidence: vec![line] }
    }

    /// Runs a sequence on `m`. `Err((step name, failure))` on the first failure.
    fn run_sequence(&mut self, m: &mut Machine, steps: &[TaskSequenceStep], in_ts: bool) -> Result<(), (String, StepFailure)> {
        for (i, s) in steps.iter().enumerate() {
            let name = s.display_name();
            if in_ts {
                self.log(m, true, TS_MANAGER, Severity::Information, format!("Start executing an instruction. Instruction name: {name}. Instruction pointer: {i}"));
            }
            match self.step(m, s, in_ts) {
                Ok(()) => {
                    if in_ts {
                        self.log(m, true, TS_MANAGER, Severity::Information, format!("Successfully completed the action ({name}) with the exit win32 code 0"));
                    }
                }
                Err(mut f) => {
                    let code = format!("{:08X}", f.hresult.0);
                    if in_ts {
                        let a = self.log(m, true, TS_MANAGER, Severity::Error, format!("Failed to run the action: {name}. (Error: {code}; Source: Windows)"));
                        let b = self.log(m, true, TS_MANAGER, Severity::Error, format!("Task Sequence Engine failed! Code: enExecutionFail (Error: {code})"));
                        f.evidence.extend([a, b]);
                    }
                    return Err((name, f));
                }
            }
        }
        Ok(())
    }
}

/// Imports a whole store under `rules`: the first refused certificate's HRESULT.
fn import_store(bytes: &[u8], rules: cryptoapi::RuleSet) -> Result<(), Hresult> {
    let store = SerializedStore::parse(bytes, ReadMode::Strict).map_err(|_| Hresult::CRYPT_E_FILE_ERROR)?;
    cryptoapi::import_all(&store.elements, rules).map(drop).map_err(|r| r.hresult)
}

/// Replays a scenario with the reference CCMCertFix.
pub fn replay(s: &Scenario) -> Replay {
    replay_with(s, &ReferenceFixer::default())
}

/// Replays a scenario, calling `fixer` wherever CCMCertFix runs.
pub fn replay_with(s: &Scenario, fixer: &dyn Fixer) -> Replay {
    let mut world = World {
        site: SiteServer::new(&s.site_hotfixes().iter().map(String::as_str).collect::<Vec<_>>()),
        state: None,
        clock: LogClock::seeded(s.seed),
        seed: s.seed,
        fixer,
        original: None,
    };
    let mut source = Machine::new(&s.source, s.seed);
    let version = s.source.client.unwrap_or(ClientVersion::Sp2);
    world.install_client(&mut source, version, s.source.client_hotfixes.iter().cloned().collect(), s.source.defect);
    if let Some(c) = &source.client {
        world.original = Some((c.thumbprints(), c.key_containers.clone(), c.sms_guid.clone()));
    }
    let mut machines = Vec::new();
    let mut result = world.run_sequence(&mut source, &s.before_steps(), false);
    if result.is_ok() {
        result = world.run_sequence(&mut source, &s.task_sequence_steps(), true);
    }
    let mut final_machine = None;
    if s.kind == Kind::Replace {
        let target_spec = s.target.clone().expect("validated: replace has a target");
        let mut target = Machine::new(&target_spec, s.seed);
        if result.is_ok() {
            result = world.run_sequence(&mut target, &s.restore_sequence_steps(), true);
        }
        machines.push(source);
        final_machine = Some(machines.len());
        machines.push(target);
    } else {
        machines.push(source);
        final_machine.get_or_insert(0);
    }
    let end = &machines[final_machine.unwrap_or(0)];
    let outcome = match result {
        Ok(()) => {
            let identity_preserved = match (&end.client, &world.original) {
                (Some(c), Some((thumbs, keys, guid))) => &c.thumbprints() == thumbs && &c.key_containers == keys && &c.sms_guid == guid,
                _ => false,
            };
            Outcome { kind: OutcomeKind::Success, step: None, hresult: None, evidence: vec![], identity_preserved }
        }
        Err((step, f)) => Outcome { kind: f.kind, step: Some(step), hresult: Some(f.hresult), evidence: f.evidence, identity_preserved: false },
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

fn check_expectation(s: &Scenario, r: &Replay) -> Vec<String> {
    let Some(e) = &s.expect else { return vec![] };
    let o = &r.outcome;
    let mut out = Vec::new();
    if e.outcome != o.kind {
        out.push(format!("outcome {} (expected {})", o.kind.as_str(), e.outcome.as_str()));
    }
    if let Some(step) = &e.step {
        if o.step.as_deref() != Some(step.as_str()) {
            out.push(format!("failing step {:?} (expected {step:?})", o.step.as_deref().unwrap_or("none")));
        }
    }
    if let Some(h) = &e.hresult {
        let got = o.hresult.map(|h| h.to_string());
        if got.as_deref() != Some(h.to_ascii_lowercase().as_str()) {
            out.push(format!("HRESULT {} (expected {h})", got.as_deref().unwrap_or("none")));
        }
    }
    if let Some(id) = e.identity_preserved {
        if id != o.identity_preserved {
            out.push(format!("identity preserved {} (expected {id})", o.identity_preserved));
        }
    }
    for want in &e.log_contains {
        let found = r.logs.iter().any(|l| l.smsts.iter().chain(&l.ccmexec).any(|x| x.message.contains(want.as_str()) || x.to_string().contains(want.as_str())));
        if !found {
            out.push(format!("no log line contains {want:?}"));
        }
    }
    out
}
