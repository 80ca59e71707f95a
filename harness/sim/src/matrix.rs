//! The full outcome matrix: every kind × source OS × KB974571 on the source ×
//! target OS × KB974571 installed on the target before restore × remediation
//! × defect, replayed through the engine, for an SP2 site migrating x86 to
//! x86; then the same for an SP1 site, and for x64 to x86 (the site and
//! architecture blocks where they change outcomes: x86 to x64 and x64 to
//! x64 give what x86 to x86 gives, an SP1 site what an SP2 site gives for
//! x64 to x86).

use rayon::prelude::*;
use serde::Serialize;

use super::migration::Migration;
use super::scenario::Remediation;
use super::world::{Arch, ClientHotfix, InSequenceReading, Os, SiteVersion};
use super::{replay_with, Contested, Kind, ModellingChoice, OutcomeKind};
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
    pub site: SiteVersion,
    pub source_os: Os,
    pub source_arch: Arch,
    pub source_kb974571: bool,
    pub target_os: Os,
    pub target_arch: Arch,
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
    /// The modelling choices (no source) the outcome rests on.
    pub modelling_choices: Vec<ModellingChoice>,
    /// Set where CCMCertFix ran inside the task sequence: the sources
    /// disagree, and each reading's outcome is given.
    pub contested: Option<Contested>,
}

impl MatrixRow {
    /// The outcome as the table shows it (`restore-failed (contested)`).
    pub fn outcome_label(&self) -> String {
        super::outcome_label(self.outcome, self.contested.is_some())
    }
}

/// The site and architecture blocks of the matrix, in order: (site,
/// source arch, target arch).
pub const BLOCKS: [(SiteVersion, Arch, Arch); 3] = [
    (SiteVersion::Sp2, Arch::X86, Arch::X86),
    (SiteVersion::Sp1, Arch::X86, Arch::X86),
    (SiteVersion::Sp2, Arch::X64, Arch::X86),
];

/// Every cell, in a fixed order: block ([`BLOCKS`]), kind, source OS,
/// 974571 on the source, target OS, 974571 before restore, remediation,
/// defect (the last varies fastest). An x64 block has no xp-sp3 source
/// (Windows XP SP3 is 32-bit only). An SP2 client; in the superseded
/// remediations it already has 977384 (the R3 prerequisite), installed
/// after its certificates were made.
pub fn cells() -> Vec<Migration> {
    cells_reading(InSequenceReading::default())
}

/// [`cells`], following `reading` where CCMCertFix runs inside the task sequence.
pub fn cells_reading(reading: InSequenceReading) -> Vec<Migration> {
    let mut v = Vec::with_capacity(3 * 2 * 4 * 2 * 4 * 2 * 8 * 3);
    for (site, source_arch, target_arch) in BLOCKS {
        for kind in Kind::ALL {
            for source_os in Os::ALL {
                if source_os == Os::XpSp3 && source_arch == Arch::X64 {
                    continue;
                }
                for source_kb974571 in [false, true] {
                    for target_os in Os::ALL {
                        for target_kb974571_before_restore in [false, true] {
                            for remediation in Remediation::ALL {
                                let superseded = matches!(
                                    remediation,
                                    Remediation::SupersededNoExtract
                                        | Remediation::SupersededExtract
                                );
                                for defect in DEFECTS {
                                    v.push(Migration {
                                        site,
                                        source_arch,
                                        target_arch,
                                        in_sequence: reading,
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
    }
    v
}

/// Replays the whole matrix (in parallel; rows in [`cells`] order).
pub fn run_matrix() -> Vec<MatrixRow> {
    run_matrix_with(&ReferenceFixer::default(), InSequenceReading::default())
}

/// Replays the whole matrix with `fixer` as CCMCertFix, following `reading`
/// where it runs inside the task sequence.
pub fn run_matrix_with(fixer: &dyn Fixer, reading: InSequenceReading) -> Vec<MatrixRow> {
    cells_reading(reading)
        .into_par_iter()
        .map(|m| {
            let r = replay_with(&m.scenario(1, Policy::default()), fixer);
            MatrixRow {
                kind: m.kind,
                site: m.site,
                source_os: m.source_os,
                source_arch: m.source_arch,
                source_kb974571: m.source_kb974571,
                target_os: m.target_os,
                target_arch: m.target_arch,
                target_kb974571_before_restore: m.target_kb974571_before_restore,
                remediation: m.remediation,
                defect: m.defect,
                outcome: r.outcome.kind,
                step: r.outcome.step,
                hresult: r.outcome.hresult.map(|h| h.to_string()),
                identity_preserved: r.outcome.identity_preserved,
                reason: r.outcome.reason,
                modelling_choices: r.outcome.modelling_choices,
                contested: r.outcome.contested,
            }
        })
        .collect()
}
