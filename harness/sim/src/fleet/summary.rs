//! What `certmig fleet --machines` reports: totals, failure causes and
//! segments projected from a [`Tally`]. `--json` prints a [`FleetReport`] as
//! it is; `certmig-report` prints its tables, CSV and HTML.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::mix::{Attribute, Mix, Plan};
use super::population::{Counts, FailureCause, MachineProfile, Tally, KEY_SETS};
use crate::world::Os;
use crate::OutcomeKind;

/// One segment: its key fields and its counts, serialized flat:
/// `{"source":"xp-sp3+974571","target":"win7-sp1","machines":..,"success":..}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRow {
    pub key: Vec<(&'static str, String)>,
    pub counts: Counts,
}

impl SegmentRow {
    /// The key values joined, for tables: `xp-sp3+974571 -> win7-sp1`.
    pub fn label(&self) -> String {
        let v: Vec<&str> = self.key.iter().map(|(_, v)| v.as_str()).collect();
        v.join(" -> ")
    }
}

impl Serialize for SegmentRow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = &self.counts;
        let mut m = s.serialize_map(None)?;
        for (k, v) in &self.key {
            m.serialize_entry(k, v)?;
        }
        m.serialize_entry("machines", &c.machines)?;
        m.serialize_entry("success", &c.success)?;
        m.serialize_entry("capture-failed", &c.capture_failed)?;
        m.serialize_entry("restore-failed", &c.restore_failed)?;
        m.serialize_entry("step-failed", &c.step_failed)?;
        m.serialize_entry("unsupported", &c.unsupported)?;
        m.serialize_entry("identity-lost", &c.identity_lost)?;
        m.serialize_entry("latent", &c.latent)?;
        m.end()
    }
}

/// A failure cause and how many machines it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CauseRow {
    pub outcome: OutcomeKind,
    pub step: String,
    pub hresult: Option<String>,
    /// `CRYPT_E_NOT_CHAR_STRING` etc., where known.
    pub hresult_name: Option<&'static str>,
    pub machines: u64,
}

/// Totals over the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub machines: u64,
    pub success: u64,
    #[serde(rename = "capture-failed")]
    pub capture_failed: u64,
    #[serde(rename = "restore-failed")]
    pub restore_failed: u64,
    #[serde(rename = "step-failed")]
    pub step_failed: u64,
    pub unsupported: u64,
    #[serde(rename = "identity-lost")]
    pub identity_lost: u64,
    pub latent: u64,
    /// Machines whose outcome rests on CCMCertFix run inside the task
    /// sequence, which the sources dispute (the plan's
    /// `in_sequence_ccmcertfix` says which was followed).
    pub contested: u64,
}

impl From<Counts> for Totals {
    fn from(c: Counts) -> Self {
        Totals {
            machines: c.machines,
            success: c.success,
            capture_failed: c.capture_failed,
            restore_failed: c.restore_failed,
            step_failed: c.step_failed,
            unsupported: c.unsupported,
            identity_lost: c.identity_lost,
            latent: c.latent,
            contested: c.contested,
        }
    }
}

/// Everything `fleet --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    pub machines: u64,
    pub seed: u64,
    /// Certificates come from this many seeded key sets (see
    /// [`super::population::KEY_SETS`]).
    pub key_sets: u64,
    pub mix: Mix,
    pub plan: Plan,
    pub totals: Totals,
    pub failure_causes: Vec<CauseRow>,
    /// Source OS (+974571 = KB974571 installed) by target OS (+974571 =
    /// installed before Restore User State).
    pub by_os_pair: Vec<SegmentRow>,
    pub by_kind: Vec<SegmentRow>,
    pub by_remediation: Vec<SegmentRow>,
    /// Client version and the hotfix installed after its certificates were made.
    pub by_client: Vec<SegmentRow>,
    pub by_defect: Vec<SegmentRow>,
    /// Every non-empty combination of attributes (what `--csv` prints).
    #[serde(skip)]
    pub cells: Vec<(MachineProfile, Counts)>,
}

fn os_label(os: Os, kb: bool) -> String {
    format!("{os}{}", if kb { "+974571" } else { "" })
}

/// Groups the tally's cells by `key` (sorted by its sort key).
fn group<K: Ord>(
    cells: &[(MachineProfile, Counts)],
    key: impl Fn(&MachineProfile) -> (K, Vec<(&'static str, String)>),
) -> Vec<SegmentRow> {
    let mut m: BTreeMap<K, SegmentRow> = BTreeMap::new();
    for (p, c) in cells {
        let (k, fields) = key(p);
        m.entry(k)
            .or_insert_with(|| SegmentRow {
                key: fields,
                counts: Counts::default(),
            })
            .counts
            .merge(c);
    }
    m.into_values().collect()
}

impl FleetReport {
    pub fn new(machines: u64, seed: u64, mix: Mix, plan: Plan, tally: &Tally) -> FleetReport {
        let cells: Vec<(MachineProfile, Counts)> = tally.cells().map(|(p, c)| (p, *c)).collect();
        let failure_causes = tally
            .causes()
            .into_iter()
            .map(
                |(
                    FailureCause {
                        outcome,
                        step,
                        hresult,
                    },
                    n,
                )| CauseRow {
                    outcome,
                    step,
                    hresult: hresult.map(|h| h.to_string()),
                    hresult_name: hresult.map(|h| h.name()).filter(|n| !n.is_empty()),
                    machines: n,
                },
            )
            .collect();
        FleetReport {
            machines,
            seed,
            key_sets: KEY_SETS,
            mix,
            plan,
            totals: tally.total().into(),
            failure_causes,
            by_os_pair: group(&cells, |p| {
                (
                    (
                        p.source_os,
                        p.source_kb974571,
                        p.target_os,
                        p.target_kb974571_before_restore,
                    ),
                    vec![
                        ("source", os_label(p.source_os, p.source_kb974571)),
                        (
                            "target",
                            os_label(p.target_os, p.target_kb974571_before_restore),
                        ),
                    ],
                )
            }),
            by_kind: group(&cells, |p| {
                (p.kind, vec![("kind", p.kind.as_str().to_owned())])
            }),
            by_remediation: group(&cells, |p| {
                (
                    p.remediation,
                    vec![("remediation", p.remediation.as_str().to_owned())],
                )
            }),
            by_client: group(&cells, |p| {
                (
                    (p.client.index(), p.client_hotfix),
                    vec![
                        ("client", p.client.as_str().to_owned()),
                        ("client_hotfix", p.client_hotfix.name().to_owned()),
                    ],
                )
            }),
            by_defect: group(&cells, |p| {
                (
                    Attribute::index(p.defect),
                    vec![("defect", p.defect.as_str().to_owned())],
                )
            }),
            cells,
        }
    }
}
