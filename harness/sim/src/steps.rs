//! Task-sequence steps, as a scenario file names them (`step = "capture-user-state"`).

use serde::{Deserialize, Serialize};

use super::world::{ClientVersion, CommandLine, Hotfix, Os, Update};

/// One step of a task sequence (or, for `before`, something the
/// administrator runs on the client before the task sequence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TaskSequenceStep {
    /// Run Command Line: `CCMCertFix.exe [log]`, `msiexec /p ...KB977203...msp`
    /// (client hotfix), `SCCM2007-...-KB977203-....exe /x <folder>` (extract
    /// on the site server), anything else succeeds.
    RunCommandLine {
        command: String,
    },
    /// Install Software Updates, e.g. `["KB974571"]`: changes the rules in
    /// force from the next step on.
    InstallSoftwareUpdates {
        updates: Vec<Update>,
    },
    RequestStateStore,
    /// USMT scanstate plus OSDSMPClient exporting the SMS store, verified by
    /// importing it under the source's rules.
    CaptureUserState,
    ReleaseStateStore,
    /// Wipes the old OS, client and stores (a hard-link state store and the
    /// state migration point survive). `updates`: those integrated in the image.
    ApplyOperatingSystem {
        os: Os,
        #[serde(default)]
        updates: Vec<Update>,
    },
    /// Installs the client, with `patches` (e.g. `["KB977203"]`, the
    /// installation property PATCH=); generates certificates only when no
    /// client state is waiting to be restored.
    SetupWindowsAndConfigmgr {
        client: ClientVersion,
        #[serde(default)]
        patches: Vec<Hotfix>,
    },
    /// OSDSMPClient imports the captured store under the target's rules.
    RestoreUserState,
    /// Harness only: the fixer (the reference CCMCertFix, or the tool under
    /// test) repairs the SMS store inside the state store in flight.
    FixCapturedState,
}

impl TaskSequenceStep {
    /// The name of Capture User State, where a failed export is logged.
    pub const CAPTURE_USER_STATE: &'static str = "Capture User State";
    /// The name of Restore User State, where a refused import is logged.
    pub const RESTORE_USER_STATE: &'static str = "Restore User State";

    /// The step's name as the task sequence editor (and smsts.log) shows it.
    pub fn display_name(&self) -> String {
        match self {
            TaskSequenceStep::RunCommandLine { command } => match CommandLine::recognise(command) {
                CommandLine::CcmCertFix => "Run CCMCertFix".into(),
                CommandLine::ExtractKb977203 { .. } => "Extract KB977203".into(),
                CommandLine::InstallKb977203 => "Install KB977203 client hotfix".into(),
                CommandLine::Other => "Run Command Line".into(),
            },
            TaskSequenceStep::InstallSoftwareUpdates { .. } => "Install Software Updates".into(),
            TaskSequenceStep::RequestStateStore => "Request State Store".into(),
            TaskSequenceStep::CaptureUserState => Self::CAPTURE_USER_STATE.into(),
            TaskSequenceStep::ReleaseStateStore => "Release State Store".into(),
            TaskSequenceStep::ApplyOperatingSystem { .. } => "Apply Operating System".into(),
            TaskSequenceStep::SetupWindowsAndConfigmgr { .. } => {
                "Setup Windows and ConfigMgr".into()
            }
            TaskSequenceStep::RestoreUserState => Self::RESTORE_USER_STATE.into(),
            TaskSequenceStep::FixCapturedState => "Fix Captured State".into(),
        }
    }
}
