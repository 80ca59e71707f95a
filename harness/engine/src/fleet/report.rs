//! What `certmig fleet --machines` reports: totals, failure causes and
//! segments projected from a [`Tally`], as JSON, CSV (one row per
//! combination of attributes) and a self-contained HTML page.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::mix::{Attribute, Mix, Plan};
use super::population::{Counts, FailureCause, MachineProfile, Tally, KEY_SETS};
use crate::sim::model::Os;
use crate::sim::OutcomeKind;

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
    #[serde(rename = "identity-lost")]
    pub identity_lost: u64,
    pub latent: u64,
}

impl From<Counts> for Totals {
    fn from(c: Counts) -> Self {
        Totals {
            machines: c.machines,
            success: c.success,
            capture_failed: c.capture_failed,
            restore_failed: c.restore_failed,
            step_failed: c.step_failed,
            identity_lost: c.identity_lost,
            latent: c.latent,
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

    /// One CSV row per non-empty combination of attributes (RFC 4180).
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "kind,source_os,source_kb974571,client,client_hotfix,defect,target_os,\
target_kb974571_before_restore,state_store,remediation,machines,success,capture_failed,\
restore_failed,step_failed,identity_lost,latent\r\n",
        );
        for (p, c) in &self.cells {
            let fields = [
                p.kind.as_str().to_owned(),
                p.source_os.to_string(),
                p.source_kb974571.to_string(),
                p.client.as_str().to_owned(),
                p.client_hotfix.name().to_owned(),
                p.defect.to_string(),
                p.target_os.to_string(),
                p.target_kb974571_before_restore.to_string(),
                p.state_store.name().to_owned(),
                p.remediation.as_str().to_owned(),
                c.machines.to_string(),
                c.success.to_string(),
                c.capture_failed.to_string(),
                c.restore_failed.to_string(),
                c.step_failed.to_string(),
                c.identity_lost.to_string(),
                c.latent.to_string(),
            ];
            csv_row(&mut out, fields.iter().map(String::as_str));
        }
        out
    }

    /// One self-contained page: totals, a stacked bar per OS pair and per
    /// remediation (inline SVG), failure causes and the segment tables.
    pub fn html(&self) -> String {
        let t = &self.totals;
        let pct = |n: u64| percent(n, t.machines);
        let mut out = String::from(concat!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>certmig fleet readiness</title><style>",
            "body{font-family:Segoe UI,Arial,sans-serif;margin:20px;color:#222;max-width:1300px}",
            "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 8px}p.sub{margin:0 0 14px;color:#555;font-size:13px}",
            ".cards{display:flex;gap:12px;flex-wrap:wrap}.card{border-radius:6px;padding:10px 16px;min-width:150px;color:#fff}",
            ".card b{display:block;font-size:24px}.card span{font-size:12px}",
            ".success{background:#2e9d46}.capture-failed{background:#d64541}.restore-failed{background:#f39c12}",
            ".step-failed{background:#7f4fb3}.total{background:#34495e}.lost{background:#555}",
            "table{border-collapse:collapse;font-size:12px;margin-top:6px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}",
            "th{background:#f2f2f2}td.l,th.l{text-align:left}.legend span{display:inline-block;padding:2px 10px;margin-right:6px;border-radius:3px;font-size:12px;color:#fff}",
            "svg text{font-family:Segoe UI,Arial,sans-serif;font-size:12px}",
            "</style></head><body><h1>certmig fleet readiness</h1>"
        ));
        out.push_str(&format!(
            "<p class=\"sub\">{} machines (seed {}), each replayed through the task-sequence simulator; plan: {}. \
+974571 on a source: KB974571 installed; on a target: installed before Restore User State.</p>",
            group_digits(t.machines),
            self.seed,
            escape(&self.plan.to_string())
        ));
        out.push_str("<div class=\"cards\">");
        for (class, label, n) in [
            ("total", "machines", t.machines),
            ("success", "success", t.success),
            ("capture-failed", "capture failed", t.capture_failed),
            ("restore-failed", "restore failed", t.restore_failed),
            ("step-failed", "step failed", t.step_failed),
            ("lost", "client identity lost", t.identity_lost),
        ] {
            out.push_str(&format!(
                "<div class=\"card {class}\"><b>{}</b><span>{label} &middot; {}</span></div>",
                group_digits(n),
                pct(n)
            ));
        }
        out.push_str("</div>");
        if t.latent > 0 {
            out.push_str(&format!(
                "<p class=\"sub\" style=\"margin-top:10px\">{} of the successes ({}) still carry certificates with an embedded NUL: \
the next KB974571 breaks their next migration (C10).</p>",
                group_digits(t.latent),
                percent(t.latent, t.success)
            ));
        }
        out.push_str("<div class=\"legend\" style=\"margin-top:14px\"><span class=\"success\">success</span><span class=\"capture-failed\">capture failed</span>\
<span class=\"restore-failed\">restore failed</span><span class=\"step-failed\">step failed</span></div>");
        out.push_str("<h2>By OS pair (source &rarr; target)</h2>");
        out.push_str(&bars(&self.by_os_pair));
        out.push_str("<h2>By remediation</h2>");
        out.push_str(&bars(&self.by_remediation));
        out.push_str("<h2>Failure causes</h2><table><tr><th class=\"l\">outcome</th><th class=\"l\">step</th><th class=\"l\">HRESULT</th><th>machines</th><th>share</th></tr>");
        if self.failure_causes.is_empty() {
            out.push_str("<tr><td class=\"l\" colspan=\"5\">no failures</td></tr>");
        }
        for c in &self.failure_causes {
            out.push_str(&format!(
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{} {}</td><td>{}</td><td>{}</td></tr>",
                c.outcome.as_str(),
                escape(&c.step),
                c.hresult.as_deref().unwrap_or(""),
                c.hresult_name.unwrap_or(""),
                group_digits(c.machines),
                pct(c.machines)
            ));
        }
        out.push_str("</table>");
        for (title, rows) in [
            ("By OS pair", &self.by_os_pair),
            ("By kind", &self.by_kind),
            (
                "By client (version / hotfix installed after its certificates)",
                &self.by_client,
            ),
            ("By certificate defect", &self.by_defect),
            ("By remediation", &self.by_remediation),
        ] {
            out.push_str(&format!("<h2>{}</h2>", escape(title)));
            out.push_str(&segment_table(rows));
        }
        out.push_str("</body></html>\n");
        out
    }
}

const OUTCOME_COLOURS: [(OutcomeKind, &str); 4] = [
    (OutcomeKind::Success, "#2e9d46"),
    (OutcomeKind::CaptureFailed, "#d64541"),
    (OutcomeKind::RestoreFailed, "#f39c12"),
    (OutcomeKind::StepFailed, "#7f4fb3"),
];

/// A horizontal stacked bar per segment, as inline SVG: bar length is the
/// segment's share of the largest segment, colours the outcome split.
fn bars(rows: &[SegmentRow]) -> String {
    let label_w = 280.0;
    let bar_w = 760.0;
    let row_h = 22.0;
    let max = rows
        .iter()
        .map(|r| r.counts.machines)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let height = row_h * rows.len() as f64 + 4.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\">",
        label_w + bar_w + 160.0
    );
    for (i, r) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 2.0;
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            label_w - 8.0,
            y + 14.0,
            escape(&r.label())
        ));
        let mut x = label_w;
        for (k, colour) in OUTCOME_COLOURS {
            let n = r.counts.of(k);
            if n == 0 {
                continue;
            }
            let w = bar_w * n as f64 / max;
            s.push_str(&format!(
                "<rect x=\"{x:.2}\" y=\"{y}\" width=\"{w:.2}\" height=\"{}\" fill=\"{colour}\"><title>{}: {} {} ({})</title></rect>",
                row_h - 4.0,
                escape(&r.label()),
                group_digits(n),
                k.as_str(),
                percent(n, r.counts.machines)
            ));
            x += w;
        }
        s.push_str(&format!(
            "<text x=\"{:.2}\" y=\"{}\">{} &middot; {} fail</text>",
            x + 6.0,
            y + 14.0,
            group_digits(r.counts.machines),
            percent(r.counts.failed(), r.counts.machines)
        ));
    }
    s.push_str("</svg>");
    s
}

fn segment_table(rows: &[SegmentRow]) -> String {
    let mut s = String::from("<table><tr>");
    if let Some(r) = rows.first() {
        for (k, _) in &r.key {
            s.push_str(&format!("<th class=\"l\">{}</th>", escape(k)));
        }
    }
    s.push_str("<th>machines</th><th>success</th><th>capture failed</th><th>restore failed</th><th>step failed</th><th>identity lost</th><th>latent</th><th>failing</th></tr>");
    for r in rows {
        s.push_str("<tr>");
        for (_, v) in &r.key {
            s.push_str(&format!("<td class=\"l\">{}</td>", escape(v)));
        }
        let c = &r.counts;
        for n in c.columns() {
            s.push_str(&format!("<td>{}</td>", group_digits(n)));
        }
        s.push_str(&format!(
            "<td>{}</td></tr>",
            percent(c.failed(), c.machines)
        ));
    }
    s.push_str("</table>");
    s
}

/// `12.3%`; `-` of nothing.
pub fn percent(n: u64, of: u64) -> String {
    if of == 0 {
        return "-".into();
    }
    format!("{:.1}%", 100.0 * n as f64 / of as f64)
}

/// `1 000 000`.
pub fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Appends one CSV record (RFC 4180: a field with a comma, quote, CR or LF
/// is quoted, quotes doubled), ended by CRLF.
pub fn csv_row<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push_str("\r\n");
}
