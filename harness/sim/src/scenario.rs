//! Scenario files (TOML, schema in `scenarios/README.md`) and the standard
//! task sequences each remediation expands into.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::steps::TaskSequenceStep;
use super::world::{Arch, ClientVersion, Hotfix, InSequenceReading, Os, SiteVersion, Update};
use super::{Kind, OutcomeKind};
use crate::cryptoapi::Hresult;
use crate::fix::Policy;
use crate::format::Defect;

certmig_format::vocabulary! {
    "remediation";
    /// The remediations the matrix compares.
    #[strum(serialize_all = "kebab-case")]
    pub enum Remediation {
        None,
        ClientHotfix,
        CcmcertfixBeforeTs,
        CcmcertfixStep,
        CcmcertfixAfterCapture,
        FixCapturedState,
        SupersededNoExtract,
        SupersededExtract,
    }
}

impl Remediation {
    pub const ALL: [Remediation; 8] = [
        Remediation::None,
        Remediation::ClientHotfix,
        Remediation::CcmcertfixBeforeTs,
        Remediation::CcmcertfixStep,
        Remediation::CcmcertfixAfterCapture,
        Remediation::FixCapturedState,
        Remediation::SupersededNoExtract,
        Remediation::SupersededExtract,
    ];
}

certmig_format::vocabulary! {
    "state store";
    /// Where state is kept in a refresh.
    #[derive(Default)]
    #[strum(serialize_all = "kebab-case")]
    pub enum StateStore {
        /// USMT hard-link store on the local disk.
        #[default]
        HardLink,
        /// A state migration point (always used by replace).
        Smp,
    }
}

/// A machine as the scenario describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineSpec {
    pub name: String,
    pub os: Os,
    /// `x86` (default) or `x64`.
    #[serde(default)]
    pub arch: Arch,
    #[serde(default)]
    pub updates: Vec<Update>,
    /// Client version (the source must have one; a replace target gets one
    /// from the restore task sequence).
    #[serde(default)]
    pub client: Option<ClientVersion>,
    /// Client hotfixes present when the client was installed and made its
    /// certificates: with 977203 or 977384 among them the certificates are
    /// clean (C1). An `sp2-r3` client always has 977384 (R3 requires it).
    #[serde(default)]
    pub install_hotfixes: Vec<Hotfix>,
    /// Client hotfixes installed *after* the client made its certificates:
    /// they stop new bad certificates but change none (C6).
    #[serde(default)]
    pub client_hotfixes: Vec<Hotfix>,
    /// The friendly-name defect of the client's certificates (default: what
    /// the client made at install: doubled-terminator without 977203/977384
    /// at that moment (C1), else clean).
    #[serde(default)]
    pub defect: Option<Defect>,
}

/// The site server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSpec {
    /// The site's service pack, `sp1` or `sp2` (default): it decides the
    /// USMT (docs/BEHAVIOR.md "What USMT can do").
    #[serde(default)]
    pub version: SiteVersion,
    #[serde(default)]
    pub hotfixes: Vec<Hotfix>,
}

/// What the scenario expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub outcome: OutcomeKind,
    #[serde(default)]
    pub step: Option<String>,
    /// `0x80092024` etc.
    #[serde(default)]
    pub hresult: Option<Hresult>,
    #[serde(default)]
    pub identity_preserved: Option<bool>,
    /// Certificates with an embedded NUL left on the machine at the end.
    #[serde(default)]
    pub bad_certificates_left: Option<usize>,
    /// Whether the outcome rests on the contested in-sequence CCMCertFix step.
    #[serde(default)]
    pub contested: Option<bool>,
    /// Messages that must appear in some product log line (smsts.log,
    /// Ccmexec.log, ccmsetup.log, CCMCertFix's log).
    #[serde(default)]
    pub log_contains: Vec<String>,
    /// Messages that must appear in certmig's own notes (`certmig.log`).
    #[serde(default)]
    pub notes_contain: Vec<String>,
}

/// A scenario file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The docs/BEHAVIOR.md claims this scenario demonstrates.
    #[serde(default)]
    pub claims: Vec<String>,
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub kind: Kind,
    #[serde(default)]
    pub state_store: StateStore,
    #[serde(default)]
    pub site: SiteSpec,
    pub source: MachineSpec,
    /// Replace: the new computer. Refresh: ignored (same hardware).
    #[serde(default)]
    pub target: Option<MachineSpec>,
    /// The OS the task sequence applies (default: the target's, else the source's).
    #[serde(default)]
    pub target_os: Option<Os>,
    /// Refresh: the architecture of the OS applied (default: the source's,
    /// the same hardware). A replace gives `[target] arch` instead.
    #[serde(default)]
    pub target_arch: Option<Arch>,
    /// Which source to follow for CCMCertFix run inside the task sequence,
    /// where two disagree: `kb2028442` (default) or `kb977203`.
    #[serde(default)]
    pub in_sequence_ccmcertfix: InSequenceReading,
    /// Install KB974571 on the target before Restore User State.
    #[serde(default)]
    pub target_kb974571_before_restore: bool,
    #[serde(default)]
    pub remediation: Option<Remediation>,
    /// The text rule of the reference CCMCertFix: `truncate` (default) or `strip`.
    #[serde(default)]
    pub policy: Policy,
    /// Explicit steps (instead of a remediation's standard ones).
    #[serde(default)]
    pub before: Option<Vec<TaskSequenceStep>>,
    #[serde(default)]
    pub task_sequence: Option<Vec<TaskSequenceStep>>,
    #[serde(default)]
    pub restore_sequence: Option<Vec<TaskSequenceStep>>,
    pub expect: Option<Expectation>,
}

fn default_seed() -> u64 {
    1
}

/// A scenario file that could not be read, with file and line.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = crate::platform::read_text(path, crate::platform::MAX_CONFIG_BYTES).map_err(
            |source| ScenarioError::Io {
                path: path.to_owned(),
                source,
            },
        )?;
        let mut s: Scenario = toml::from_str(&text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|sp| {
                    let before = &text[..sp.start.min(text.len())];
                    (
                        before.matches('\n').count() + 1,
                        sp.start - before.rfind('\n').map_or(0, |i| i + 1) + 1,
                    )
                })
                .unwrap_or((1, 1));
            ScenarioError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        if s.name.is_empty() {
            s.name = path
                .file_stem()
                .and_then(|n| n.to_str())
                .unwrap_or("scenario")
                .to_owned();
        }
        s.validate().map_err(|message| ScenarioError::Invalid {
            path: path.to_owned(),
            message,
        })?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), String> {
        self.check_names()?;
        if self.source.client.is_none() {
            return Err("the source machine needs a `client` (sp1, sp2 or sp2-r3)".into());
        }
        if self.kind == Kind::Replace && self.target.is_none() {
            return Err("a replace scenario needs a [target] machine (the new computer)".into());
        }
        if self.kind == Kind::Refresh && self.target.is_some() {
            return Err(
                "a refresh runs on the same hardware: give `target_os`, not a [target] machine"
                    .into(),
            );
        }
        if self.kind == Kind::Replace && self.target_arch.is_some() {
            return Err("`target_arch` is for a refresh: a replace gives the new computer's `arch` in its [target] machine".into());
        }
        for (what, os, arch) in [
            ("the source", self.source.os, self.source.arch),
            ("the OS applied", self.applied_os(), self.applied_arch()),
        ] {
            if os == Os::XpSp3 && arch == Arch::X64 {
                return Err(format!("{what} is xp-sp3 x64, which does not exist: Windows XP SP3 is 32-bit only (Windows XP Professional x64 Edition stops at SP2)"));
            }
        }
        let hard_link = self.kind == Kind::Refresh && self.state_store == StateStore::HardLink;
        if hard_link
            && self.task_sequence.iter().flatten().any(|s| {
                matches!(
                    s,
                    TaskSequenceStep::RequestStateStore | TaskSequenceStep::ReleaseStateStore
                )
            })
        {
            return Err("request-state-store and release-state-store talk to a state migration point, which a hard-link refresh does not use: set `state_store = \"smp\"` or drop them".into());
        }
        if self.kind == Kind::Refresh && self.restore_sequence.is_some() {
            return Err("`restore_sequence` is the new computer's sequence of a replace; a refresh has only `task_sequence`".into());
        }
        if self.remediation.is_none() && self.task_sequence.is_none() {
            return Err("give either `remediation` or an explicit `task_sequence`".into());
        }
        if self.kind == Kind::Replace
            && self
                .expect
                .as_ref()
                .is_some_and(|e| e.identity_preserved.is_some())
        {
            return Err("`identity_preserved` is for a refresh: a replace is side by side (the new computer is a client of its own), so no identity is reported for it".into());
        }
        for m in std::iter::once(&self.source).chain(&self.target) {
            let sp1 = m.client == Some(ClientVersion::Sp1);
            if sp1
                && m.install_hotfixes
                    .iter()
                    .chain(&m.client_hotfixes)
                    .any(|h| *h == Hotfix::Kb977384)
            {
                return Err(format!(
                    "machine {}: {} is the ConfigMgr 2007 R3 prerequisite and applies to SP2 clients only (KB 977384); an sp1 client cannot have it",
                    m.name,
                    Hotfix::Kb977384
                ));
            }
        }
        Ok(())
    }

    /// The names that become paths under `replay --logs DIR` (the
    /// scenario's, each machine's, and the log each CCMCertFix step names)
    /// are single plain path components, and a step's log is none of the
    /// logs certmig writes beside it.
    fn check_names(&self) -> Result<(), String> {
        use crate::platform::names::{single_component, RESERVED_LOG_NAMES};
        single_component(&self.name).map_err(|e| format!("the scenario's name: {e}"))?;
        for m in std::iter::once(&self.source).chain(&self.target) {
            single_component(&m.name).map_err(|e| format!("a machine's name: {e}"))?;
        }
        let steps = self
            .task_sequence
            .iter()
            .chain(&self.restore_sequence)
            .flatten();
        for step in steps {
            let TaskSequenceStep::RunCommandLine { command } = step else {
                continue;
            };
            if let Some(log) = super::replay::ccmcertfix_log(command) {
                single_component(&log).map_err(|e| format!("the log named by `{command}`: {e}"))?;
                if RESERVED_LOG_NAMES
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(&log))
                {
                    return Err(format!(
                        "the log named by `{command}` is {log}, a log certmig writes itself"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The OS the task sequence applies: `target_os`, else the replace
    /// target's, else the last Apply Operating System of an explicit
    /// sequence, else the source's own.
    pub fn applied_os(&self) -> Os {
        let mut explicit = self
            .task_sequence
            .iter()
            .chain(&self.restore_sequence)
            .flatten()
            .filter_map(|s| match s {
                TaskSequenceStep::ApplyOperatingSystem { os, .. } => Some(*os),
                _ => None,
            });
        self.target_os
            .or(self.target.as_ref().map(|t| t.os))
            .or(explicit.next_back())
            .unwrap_or(self.source.os)
    }

    /// The architecture of the OS applied: `target_arch`, else the replace
    /// target's, else the source's (a refresh keeps its hardware).
    pub fn applied_arch(&self) -> Arch {
        self.target_arch
            .or(self.target.as_ref().map(|t| t.arch))
            .unwrap_or(self.source.arch)
    }

    /// What decides the USMT this scenario's migration uses.
    pub fn route(&self) -> super::usmt::Route {
        super::usmt::Route {
            kind: self.kind,
            source: self.source.os,
            source_arch: self.source.arch,
            target: self.applied_os(),
            target_arch: self.applied_arch(),
            store: self.state_store,
            site: self.site.version,
        }
    }

    /// The site's hotfixes a remediation assumes: 977203 installed, or
    /// 977384 for the superseded ones.
    pub fn site_hotfixes(&self) -> Vec<Hotfix> {
        if !self.site.hotfixes.is_empty() {
            return self.site.hotfixes.clone();
        }
        match self.remediation {
            // 977384 first; the administrator's attempt to install 977203
            // after it is not applicable, so Logs\KB977203 never appears.
            Some(Remediation::SupersededNoExtract | Remediation::SupersededExtract) => {
                vec![Hotfix::Kb977384, Hotfix::Kb977203]
            }
            Some(Remediation::None) | None => vec![],
            Some(_) => vec![Hotfix::Kb977203],
        }
    }

    /// Steps run on the source before the task sequence.
    pub fn before_steps(&self) -> Vec<TaskSequenceStep> {
        if let Some(b) = &self.before {
            return b.clone();
        }
        match self.remediation {
            Some(Remediation::ClientHotfix) => vec![client_hotfix()],
            Some(Remediation::CcmcertfixBeforeTs) => vec![ccmcertfix()],
            // C8: the client hotfix is not applicable where 977384 is, and
            // CCMCertFix (run before the task sequence, where both articles
            // put it) is not in Logs\KB977203...
            Some(Remediation::SupersededNoExtract) => vec![client_hotfix(), ccmcertfix()],
            // ...so it must be extracted from the package with /x first.
            Some(Remediation::SupersededExtract) => vec![
                client_hotfix(),
                TaskSequenceStep::RunCommandLine {
                    command: r"SCCM2007-SP2-KB977203-X86-ENU.exe /x C:\KB977203".into(),
                },
                ccmcertfix(),
            ],
            _ => vec![],
        }
    }

    /// The task sequence on the source (refresh: the whole sequence; replace:
    /// the capture sequence on the old computer).
    pub fn task_sequence_steps(&self) -> Vec<TaskSequenceStep> {
        if let Some(t) = &self.task_sequence {
            return t.clone();
        }
        let r = self.remediation.unwrap_or(Remediation::None);
        let mut steps = Vec::new();
        let smp = self.kind == Kind::Replace || self.state_store == StateStore::Smp;
        if r == Remediation::CcmcertfixStep {
            steps.push(ccmcertfix());
        }
        if smp {
            steps.push(TaskSequenceStep::RequestStateStore);
        }
        steps.push(TaskSequenceStep::CaptureUserState);
        if r == Remediation::CcmcertfixAfterCapture {
            steps.push(ccmcertfix());
        }
        if r == Remediation::FixCapturedState {
            steps.push(TaskSequenceStep::FixCapturedState);
        }
        if smp {
            steps.push(TaskSequenceStep::ReleaseStateStore);
        }
        if self.kind == Kind::Refresh {
            steps.extend(self.restore_part(smp));
        }
        steps
    }

    /// Replace: the restore sequence on the new computer.
    pub fn restore_sequence_steps(&self) -> Vec<TaskSequenceStep> {
        if let Some(t) = &self.restore_sequence {
            return t.clone();
        }
        if self.kind == Kind::Replace {
            self.restore_part(true)
        } else {
            vec![]
        }
    }

    /// The client's hotfixes carried to the new client as PATCH=, plus
    /// 977203 where the remediation deployed it on the site.
    fn client_patches(&self) -> Vec<Hotfix> {
        let mut p: Vec<Hotfix> = Vec::new();
        for &h in self
            .source
            .install_hotfixes
            .iter()
            .chain(&self.source.client_hotfixes)
        {
            if !p.contains(&h) {
                p.push(h);
            }
        }
        let site = self.site_hotfixes();
        let deployed = site.contains(&Hotfix::Kb977203) && !site.contains(&Hotfix::Kb977384);
        if deployed && !p.contains(&Hotfix::Kb977203) {
            p.push(Hotfix::Kb977203);
        }
        p
    }

    fn restore_part(&self, smp: bool) -> Vec<TaskSequenceStep> {
        let mut steps = vec![
            TaskSequenceStep::ApplyOperatingSystem {
                os: self.applied_os(),
                updates: self
                    .target
                    .as_ref()
                    .filter(|_| self.kind == Kind::Replace)
                    .map(|t| t.updates.clone())
                    .unwrap_or_default(),
            },
            TaskSequenceStep::SetupWindowsAndConfigmgr {
                client: self.source.client.unwrap_or(ClientVersion::Sp2),
                patches: self.client_patches(),
            },
        ];
        if self.target_kb974571_before_restore {
            steps.push(TaskSequenceStep::InstallSoftwareUpdates {
                updates: vec![Update::Kb974571],
            });
        }
        if smp {
            steps.push(TaskSequenceStep::RequestStateStore);
        }
        steps.push(TaskSequenceStep::RestoreUserState);
        if smp {
            steps.push(TaskSequenceStep::ReleaseStateStore);
        }
        steps
    }
}

fn client_hotfix() -> TaskSequenceStep {
    TaskSequenceStep::RunCommandLine {
        command: r"msiexec /p \\SITE\SMS_SITE\Client\i386\hotfix\KB977203\SCCM2007AC-SP2-KB977203-x86.msp /qn".into(),
    }
}

fn ccmcertfix() -> TaskSequenceStep {
    TaskSequenceStep::RunCommandLine {
        command: r"CCMCertFix.exe C:\Windows\Temp\CCMCertFix.log".into(),
    }
}

/// Every `*.toml` under `paths` (files or directories), sorted.
pub fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|source| ScenarioError::Io {
                path: p.clone(),
                source,
            })?;
            let mut v: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            v.sort();
            out.extend(v);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}
