//! The full outcome matrix: every kind × source OS × KB974571 on the source ×
//! target OS × KB974571 installed on the target before restore × remediation
//! × defect, replayed through the engine.

use rayon::prelude::*;
use serde::Serialize;

use super::migration::Migration;
use super::model::{ClientHotfix, Os};
use super::scenario::Remediation;
use super::{replay_with, Kind, OutcomeKind};
use crate::fix::{Fixer, Policy, ReferenceFixer};
use crate::format::Defect;

/// The defects the matrix compares.
pub const DEFECTS: [Defect; 3] = [
    Defect::Clean,
    Defect::DoubledTerminator,
    Defect::EmbeddedNul,
];

/// One cell of the matrix: the row `matrix --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatrixRow {
    pub kind: Kind,
    pub source_os: Os,
    pub source_kb974571: bool,
    pub target_os: Os,
    pub target_kb974571_before_restore: bool,
    pub remediation: Remediation,
    pub defect: Defect,
    pub outcome: OutcomeKind,
    pub step: Option<String>,
    pub hresult: Option<String>,
    /// Refresh only; `null` for a replace and an unsupported migration.
    pub identity_preserved: Option<bool>,
    /// Why the migration is `unsupported`.
    pub reason: Option<String>,
}

/// Every cell, in a fixed order: kind, source OS, 974571 on the source,
/// target OS, 974571 before restore, remediation, defect (the last varies
/// fastest). An SP2 client; in the superseded remediations it already has
/// 977384 (the R3 prerequisite), installed after its certificates were made.
pub fn cells() -> Vec<Migration> {
    let mut v = Vec::with_capacity(2 * 4 * 2 * 4 * 2 * 8 * 3);
    for kind in Kind::ALL {
        for source_os in Os::ALL {
            for source_kb974571 in [false, true] {
                for target_os in Os::ALL {
                    for target_kb974571_before_restore in [false, true] {
                        for remediation in Remediation::ALL {
                            let superseded = matches!(
                                remediation,
                                Remediation::SupersededNoExtract | Remediation::SupersededExtract
                            );
                            for defect in DEFECTS {
                                v.push(Migration {
                                    source_kb974571,
                                    target_kb974571_before_restore,
                                    remediation,
                                    defect,
                                    client_hotfix: if superseded {
                                        ClientHotfix::Kb977384
                                    } else {
                                        ClientHotfix::None
                                    },
                                    ..Migration::new(kind, source_os, target_os)
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    v
}

/// Replays the whole matrix (in parallel; rows in [`cells`] order).
pub fn run_matrix() -> Vec<MatrixRow> {
    run_matrix_with(&ReferenceFixer::default())
}

/// Replays the whole matrix with `fixer` as CCMCertFix.
pub fn run_matrix_with(fixer: &dyn Fixer) -> Vec<MatrixRow> {
    cells()
        .into_par_iter()
        .map(|m| {
            let r = replay_with(&m.scenario(1, Policy::default()), fixer);
            MatrixRow {
                kind: m.kind,
                source_os: m.source_os,
                source_kb974571: m.source_kb974571,
                target_os: m.target_os,
                target_kb974571_before_restore: m.target_kb974571_before_restore,
                remediation: m.remediation,
                defect: m.defect,
                outcome: r.outcome.kind,
                step: r.outcome.step,
                hresult: r.outcome.hresult.map(|h| h.to_string()),
                identity_preserved: r.outcome.identity_preserved,
                reason: r.outcome.reason,
            }
        })
        .collect()
}
