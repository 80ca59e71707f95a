//! The scenario engine: machines, the site server, task-sequence steps, and
//! the outcome of a refresh or replace, with the CMTrace logs that show it.
//!
//! - [`model`]: operating systems and updates, the ConfigMgr client and its
//!   SMS store, the site server, hotfix applicability (docs/BEHAVIOR.md "The model");
//! - [`steps`]: the task-sequence steps a scenario names;
//! - [`scenario`]: scenario files (TOML) and the standard sequences each
//!   remediation expands into;
//! - [`engine`](self::replay_with): runs the sequences step by step;
//! - [`matrix`]: the full cartesian product of kinds, OS pairs, updates,
//!   remediations and defects.
//!
//! The rules in force are recomputed at every step from the machine's OS and
//! updates, the SMS store is held as real serialized-store bytes, imports go
//! through [`crate::cryptoapi`], and every fixer (the CCMCertFix step, "Fix
//! Captured State") is called through the [`crate::fix::Fixer`] trait, so an
//! external fix tool can stand in for the reference one.

mod engine;
pub mod matrix;
pub mod migration;
pub mod model;
pub mod scenario;
pub mod steps;

use serde::Serialize;

use crate::cmtrace::{self, LogLine};
use crate::cryptoapi::Hresult;
use crate::fix::ReferenceFixer;
pub use engine::replay_with;
use model::Os;
use scenario::{Remediation, Scenario};

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
    }
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 4] = [
        OutcomeKind::Success,
        OutcomeKind::CaptureFailed,
        OutcomeKind::RestoreFailed,
        OutcomeKind::StepFailed,
    ];
}

/// The outcome of a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub kind: OutcomeKind,
    /// The failing step, as smsts.log names it.
    pub step: Option<String>,
    pub hresult: Option<Hresult>,
    /// The log lines (CMTrace format) that show the failure.
    pub evidence: Vec<String>,
    /// The machine the user is left with (refresh: the same hardware; replace:
    /// the new computer once its sequence ran, else the old one) holds the
    /// original client identity: the same certificate thumbprints in the same
    /// order, the same key containers, the same SMS GUID.
    pub identity_preserved: bool,
    /// Certificates with an embedded NUL in their friendly name in that
    /// machine's SMS store: a success with a non-zero count is the latent
    /// problem of C10, waiting for the next update.
    pub bad_certificates_left: usize,
}

/// One machine's two logs.
#[derive(Debug, Clone, Default)]
pub struct MachineLogs {
    pub machine: String,
    pub smsts: Vec<LogLine>,
    pub ccmexec: Vec<LogLine>,
}

impl MachineLogs {
    /// `smsts.log`: the task sequence engine's log.
    pub fn smsts_log(&self) -> String {
        cmtrace::render(&self.smsts)
    }
    /// `Ccmexec.log`: the client's log, where OSDSMPClient writes.
    pub fn ccmexec_log(&self) -> String {
        cmtrace::render(&self.ccmexec)
    }
    /// Every line of both logs.
    pub fn lines(&self) -> impl Iterator<Item = &LogLine> {
        self.smsts.iter().chain(&self.ccmexec)
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
    /// Every log line of every machine, rendered.
    pub fn log_text(&self) -> impl Iterator<Item = String> + '_ {
        self.logs
            .iter()
            .flat_map(|m| m.lines().map(|l| l.to_string()))
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
        if id != o.identity_preserved {
            out.push(format!(
                "identity preserved {} (expected {id})",
                o.identity_preserved
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
    for want in &e.log_contains {
        if !r.log_text().any(|line| line.contains(want.as_str())) {
            out.push(format!("no log line contains {want:?}"));
        }
    }
    out
}
