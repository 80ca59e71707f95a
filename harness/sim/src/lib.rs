//! The scenario engine: machines, the site server, task-sequence steps, and
//! the outcome of a refresh or replace, with the CMTrace logs that show it.
//!
//! - [`world`]: operating systems and updates, the ConfigMgr client and its
//!   SMS store, the site server, hotfix applicability (docs/BEHAVIOR.md "The model");
//! - [`steps`]: the task-sequence steps a scenario names;
//! - [`scenario`]: scenario files (TOML) and the standard sequences each
//!   remediation expands into;
//! - [`replay`](self::replay_with): runs the sequences step by step;
//! - [`matrix`]: the full cartesian product of kinds, OS pairs, updates,
//!   remediations and defects.
//!
//! The rules in force are recomputed at every step from the machine's OS and
//! updates, the SMS store is held as real serialized-store bytes, imports go
//! through [`crate::cryptoapi`], and every fixer (the CCMCertFix step, "Fix
//! Captured State") is called through the [`crate::fix::Fixer`] trait, so an
//! external fix tool can stand in for the reference one.

pub mod fleet;
pub mod matrix;
pub mod migration;
mod replay;
pub mod scenario;
pub mod steps;
pub mod usmt;
pub mod world;

use serde::Serialize;

use crate::cmtrace::LogLine;

use crate::cryptoapi::Hresult;
use crate::fix::ReferenceFixer;
pub(crate) use certmig_fix as fix;
pub(crate) use certmig_fix::{cmtrace, platform};
pub(crate) use certmig_format as format;
pub(crate) use certmig_model::{cert, cryptoapi};
pub use replay::replay_with;
use scenario::{Remediation, Scenario};
use world::{InSequenceReading, Os};

certmig_format::vocabulary! {
    "migration kind";
    /// Refresh (same hardware) or replace (old computer to new).
    #[strum(serialize_all = "lowercase")]
    pub enum Kind {
        Refresh,
        Replace,
    }
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Refresh, Kind::Replace];
}

certmig_format::vocabulary! {
    "outcome";
    /// How a migration ended.
    #[strum(serialize_all = "kebab-case")]
    pub enum OutcomeKind {
        /// Every step of every sequence succeeded.
        Success,
        /// Capture User State failed: the export did not import under the
        /// source's rules.
        CaptureFailed,
        /// Restore User State failed: the captured store did not import under the
        /// target's rules.
        RestoreFailed,
        /// Any other step failed (e.g. CCMCertFix not present).
        StepFailed,
        /// No USMT can perform this migration (an older target OS, or a
        /// hard-link store onto Windows XP): neither a success nor a failure
        /// of the certificates.
        Unsupported,
    }
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 5] = [
        OutcomeKind::Success,
        OutcomeKind::CaptureFailed,
        OutcomeKind::RestoreFailed,
        OutcomeKind::StepFailed,
        OutcomeKind::Unsupported,
    ];
}

certmig_format::vocabulary! {
    "modelling choice";
    /// A rule of the model with no source behind it (docs/BEHAVIOR.md lists
    /// each), named in an outcome that rests on it.
    #[strum(serialize_all = "kebab-case")]
    pub enum ModellingChoice {
        /// Capture User State fails because OSDSMPClient's export is checked
        /// by importing it under the source's rules (the article says capture
        /// fails under 974571, not how).
        CaptureCheckedByImport,
        /// A migration USMT cannot perform is judged before its task sequence
        /// runs, and a service pack is not another operating system.
        UsmtJudgedUpfront,
        /// No USMT migrates to an older Windows (the USMT requirement pages
        /// list systems, not directions).
        DowngradeUnsupported,
        /// CCMCertFix ran inside the task sequence, where two Microsoft
        /// sources disagree; the outcome follows the reading chosen (see
        /// [`Outcome::contested`]).
        CcmcertfixInSequence,
        /// A replace's new computer keeps its own ConfigMgr identity (SMS
        /// GUID, key containers, its own certificates); only the client
        /// certificate store the sources name is imported beside them.
        ReplaceKeepsOwnIdentity,
    }
}

/// A rule two sources disagree on, as one outcome met it: the reading
/// followed and what each reading gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contested {
    /// `ccmcertfix-in-sequence`.
    pub rule: &'static str,
    pub followed: InSequenceReading,
    /// Both readings, the followed one first.
    pub readings: Vec<ContestedReading>,
}

/// One reading of a contested rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContestedReading {
    pub reading: InSequenceReading,
    /// The source, as docs/BEHAVIOR.md keys it (`KB2028442`).
    pub source: &'static str,
    /// A few words of it.
    pub says: &'static str,
    /// The outcome under this reading.
    pub outcome: OutcomeKind,
}

impl Contested {
    /// The rule name of CCMCertFix inside the task sequence.
    pub const CCMCERTFIX_IN_SEQUENCE: &'static str = "ccmcertfix-in-sequence";

    /// What the reading not followed gives, for a one-line summary:
    /// `kb977203: success`.
    pub fn other(&self) -> Option<&ContestedReading> {
        self.readings.iter().find(|r| r.reading != self.followed)
    }
}

/// One line of an outcome's evidence, and where it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The machine whose log holds the line.
    pub machine: String,
    /// The log file: `smsts.log`, `Ccmexec.log`, ..., or `certmig.log` for
    /// certmig's own notes.
    pub log: String,
    /// The line as written, in CMTrace format.
    pub line: String,
}

impl std::fmt::Display for Evidence {
    /// `PC0002\Ccmexec.log: <![LOG[...`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\\{}: {}", self.machine, self.log, self.line)
    }
}

/// The outcome of a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub kind: OutcomeKind,
    /// The failing step, as smsts.log names it.
    pub step: Option<String>,
    pub hresult: Option<Hresult>,
    /// The USMT the migration uses (`None` when none can perform it).
    pub usmt: Option<usmt::Usmt>,
    /// Why the migration is `unsupported`, in one sentence.
    pub reason: Option<String>,
    /// The log lines (CMTrace format) that show the failure, each with the
    /// machine and log file it is in: the product's, then certmig's own
    /// notes that explain it (in certmig.log, component `certmig`).
    pub evidence: Vec<Evidence>,
    /// Refresh only: the same hardware ends with the original client
    /// identity (the same certificate thumbprints in the same order, key
    /// links, key containers and SMS GUID). `None` for a replace: the new
    /// computer is a client of its own, associated with the old one, and no
    /// source says which identity it keeps; and for an unsupported migration.
    pub identity_preserved: Option<bool>,
    /// The modelling choices (no source) this outcome rests on.
    pub modelling_choices: Vec<ModellingChoice>,
    /// Set when the outcome rests on a rule two sources disagree on
    /// (CCMCertFix run inside the task sequence): never a plain outcome.
    pub contested: Option<Contested>,
    /// Certificates with an embedded NUL in their friendly name in that
    /// machine's SMS store: a success with a non-zero count is the latent
    /// problem of C10, waiting for the next update.
    pub bad_certificates_left: usize,
}

/// An outcome as every table shows it: `success`, or `success (contested)`
/// when it rests on a rule two sources disagree on.
pub fn outcome_label(kind: OutcomeKind, contested: bool) -> String {
    if contested {
        format!("{} (contested)", kind.as_str())
    } else {
        kind.as_str().to_owned()
    }
}

impl Outcome {
    /// The outcome as a table shows it: `success`, or `success (contested)`
    /// when it rests on a rule two sources disagree on.
    pub fn label(&self) -> String {
        outcome_label(self.kind, self.contested.is_some())
    }
    /// One sentence on the contested rule, if any: which source was
    /// followed and what the other gives.
    pub fn contested_summary(&self) -> Option<String> {
        let c = self.contested.as_ref()?;
        let other = c.other()?;
        Some(format!(
            "CCMCertFix inside the task sequence is contested: followed {} (\"{}\"): {}; under {} (\"{}\"): {}; both support running it before the task sequence starts",
            c.followed.source(),
            c.followed.says(),
            self.kind.as_str(),
            other.source,
            other.says,
            other.outcome.as_str()
        ))
    }
}

/// The file names of the product logs certmig writes.
pub const SMSTS_LOG: &str = "smsts.log";
pub const CCMEXEC_LOG: &str = "Ccmexec.log";
pub const CCMSETUP_LOG: &str = "ccmsetup.log";
/// certmig's own log: the simulator's explanations, never a product's.
pub const NOTES_LOG: &str = "certmig.log";

/// One product log file, as the product writes it.
#[derive(Debug, Clone, Default)]
pub struct ProductLog {
    pub file: String,
    pub lines: Vec<LogLine>,
}

/// One machine's logs: each product's in its own file (smsts.log for the
/// task sequence engine and USMT, Ccmexec.log for OSDSMPClient, ccmsetup.log
/// for the client installation, and CCMCertFix's where its argument names
/// one), and certmig's own notes apart.
#[derive(Debug, Clone, Default)]
pub struct MachineLogs {
    pub machine: String,
    /// In the order first written (smsts.log and Ccmexec.log always exist).
    pub files: Vec<ProductLog>,
    /// The simulator's explanations (`certmig.log`).
    pub notes: Vec<LogLine>,
}

impl MachineLogs {
    /// A machine with empty smsts.log and Ccmexec.log.
    pub fn new(machine: &str) -> MachineLogs {
        MachineLogs {
            machine: machine.to_owned(),
            files: [SMSTS_LOG, CCMEXEC_LOG]
                .map(|f| ProductLog {
                    file: f.to_owned(),
                    lines: vec![],
                })
                .into(),
            notes: vec![],
        }
    }
    /// The product log `file`, created on first use.
    pub fn file_mut(&mut self, file: &str) -> &mut Vec<LogLine> {
        let i = match self.files.iter().position(|f| f.file == file) {
            Some(i) => i,
            None => {
                self.files.push(ProductLog {
                    file: file.to_owned(),
                    lines: vec![],
                });
                self.files.len() - 1
            }
        };
        &mut self.files[i].lines
    }
    /// The product log `file`, if written.
    pub fn file(&self, file: &str) -> Option<&ProductLog> {
        self.files.iter().find(|f| f.file == file)
    }
    /// A product log rendered in CMTrace format (empty if never written).
    pub fn render(&self, file: &str) -> String {
        self.file(file)
            .map(|f| cmtrace::render(&f.lines))
            .unwrap_or_default()
    }
    /// `smsts.log`: the task sequence engine's log.
    pub fn smsts_log(&self) -> String {
        self.render(SMSTS_LOG)
    }
    /// `Ccmexec.log`: the client's log, where OSDSMPClient writes.
    pub fn ccmexec_log(&self) -> String {
        self.render(CCMEXEC_LOG)
    }
    /// `certmig.log`: the simulator's notes.
    pub fn notes_log(&self) -> String {
        cmtrace::render(&self.notes)
    }
    /// Every line of every product log (not certmig's notes).
    pub fn lines(&self) -> impl Iterator<Item = &LogLine> {
        self.files.iter().flat_map(|f| &f.lines)
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
    /// Per machine, in the order they took part (old computer first).
    pub logs: Vec<MachineLogs>,
    /// Differences from the scenario's expectation (empty = as expected).
    pub mismatches: Vec<String>,
    pub has_expectation: bool,
}

impl Replay {
    /// Every product log line of every machine, rendered.
    pub fn log_text(&self) -> impl Iterator<Item = String> + '_ {
        self.logs
            .iter()
            .flat_map(|m| m.lines().map(|l| l.to_string()))
    }
    /// Every note of certmig's own, rendered.
    pub fn notes_text(&self) -> impl Iterator<Item = String> + '_ {
        self.logs
            .iter()
            .flat_map(|m| m.notes.iter().map(|l| l.to_string()))
    }
}

/// Replays a scenario with the reference CCMCertFix (in the scenario's policy).
pub fn replay(s: &Scenario) -> Replay {
    replay_with(s, &ReferenceFixer { policy: s.policy })
}

fn check_expectation(s: &Scenario, r: &Replay) -> Vec<String> {
    let Some(e) = &s.expect else { return vec![] };
    let o = &r.outcome;
    let mut out = Vec::new();
    if e.outcome != o.kind {
        out.push(format!(
            "outcome {} (expected {})",
            o.kind.as_str(),
            e.outcome.as_str()
        ));
    }
    if let Some(step) = &e.step {
        if o.step.as_deref() != Some(step.as_str()) {
            out.push(format!(
                "failing step {:?} (expected {step:?})",
                o.step.as_deref().unwrap_or("none")
            ));
        }
    }
    if let Some(h) = e.hresult {
        if o.hresult != Some(h) {
            out.push(format!(
                "HRESULT {} (expected {h})",
                o.hresult.map_or("none".to_owned(), |h| h.to_string())
            ));
        }
    }
    if let Some(id) = e.identity_preserved {
        if Some(id) != o.identity_preserved {
            out.push(format!(
                "identity preserved {} (expected {id})",
                o.identity_preserved
                    .map_or("n/a".to_owned(), |b| b.to_string())
            ));
        }
    }
    if let Some(n) = e.bad_certificates_left {
        if n != o.bad_certificates_left {
            out.push(format!(
                "{} bad certificate(s) left (expected {n})",
                o.bad_certificates_left
            ));
        }
    }
    if let Some(c) = e.contested {
        if c != o.contested.is_some() {
            out.push(format!(
                "contested {} (expected {c})",
                o.contested.is_some()
            ));
        }
    }
    for want in &e.log_contains {
        if !r.log_text().any(|line| line.contains(want.as_str())) {
            out.push(format!("no product log line contains {want:?}"));
        }
    }
    for want in &e.notes_contain {
        if !r.notes_text().any(|line| line.contains(want.as_str())) {
            out.push(format!("no note of certmig's contains {want:?}"));
        }
    }
    out
}
