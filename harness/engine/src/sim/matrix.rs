//! The full outcome matrix: every kind × source OS × KB974571 on the source ×
//! target OS × KB974571 installed on the target before restore × remediation
//! × defect, replayed through the engine.

use rayon::prelude::*;
use serde::Serialize;

use super::model::{ClientVersion, Hotfix, Os, Update};
use super::scenario::{Expectation, MachineSpec, Remediation, Scenario, SiteSpec, StateStore};
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
    pub identity_preserved: bool,
}

/// The scenario for one cell.
#[allow(clippy::too_many_arguments)]
pub fn cell_scenario(
    kind: Kind,
    source_os: Os,
    source_kb: bool,
    target_os: Os,
    target_kb: bool,
    remediation: Remediation,
    defect: Defect,
) -> Scenario {
    // In the superseded remediations the client already has 977384 (the R3
    // prerequisite), installed after its certificates were made.
    let superseded = matches!(
        remediation,
        Remediation::SupersededNoExtract | Remediation::SupersededExtract
    );
    let machine = |name: &str, os: Os, kb: bool, client: Option<ClientVersion>| MachineSpec {
        name: name.into(),
        os,
        updates: if kb { vec![Update::Kb974571] } else { vec![] },
        client,
        client_hotfixes: if superseded && client.is_some() {
            vec![Hotfix::Kb977384]
        } else {
            vec![]
        },
        defect: Some(defect),
    };
    Scenario {
        name: format!(
            "{}-{}{}-to-{}{}-{}-{}",
            kind.as_str(),
            source_os,
            if source_kb { "+kb" } else { "" },
            target_os,
            if target_kb { "+kb" } else { "" },
            remediation.as_str(),
            defect
        ),
        description: String::new(),
        claims: vec![],
        seed: 1,
        kind,
        state_store: StateStore::HardLink,
        site: SiteSpec::default(),
        source: machine("PC0001", source_os, source_kb, Some(ClientVersion::Sp2)),
        // The new computer of a replace: its OS comes from the image applied.
        target: (kind == Kind::Replace).then(|| machine("PC0002", target_os, false, None)),
        target_os: Some(target_os),
        target_kb974571_before_restore: target_kb,
        remediation: Some(remediation),
        policy: Policy::default(),
        before: None,
        task_sequence: None,
        restore_sequence: None,
        expect: None::<Expectation>,
    }
}

/// Every cell, in a fixed order.
pub fn cells() -> Vec<(Kind, Os, bool, Os, bool, Remediation, Defect)> {
    let mut v = Vec::with_capacity(2 * 4 * 2 * 4 * 2 * 8 * 3);
    for kind in [Kind::Refresh, Kind::Replace] {
        for source_os in Os::ALL {
            for source_kb in [false, true] {
                for target_os in Os::ALL {
                    for target_kb in [false, true] {
                        for remediation in Remediation::ALL {
                            for defect in DEFECTS {
                                v.push((
                                    kind,
                                    source_os,
                                    source_kb,
                                    target_os,
                                    target_kb,
                                    remediation,
                                    defect,
                                ));
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
        .map(
            |(kind, source_os, source_kb, target_os, target_kb, remediation, defect)| {
                let s = cell_scenario(
                    kind,
                    source_os,
                    source_kb,
                    target_os,
                    target_kb,
                    remediation,
                    defect,
                );
                let r = replay_with(&s, fixer);
                MatrixRow {
                    kind,
                    source_os,
                    source_kb974571: source_kb,
                    target_os,
                    target_kb974571_before_restore: target_kb,
                    remediation,
                    defect,
                    outcome: r.outcome.kind,
                    step: r.outcome.step,
                    hresult: r.outcome.hresult.map(|h| h.to_string()),
                    identity_preserved: r.outcome.identity_preserved,
                }
            },
        )
        .collect()
}
