//! A synthetic fleet's report (`certmig fleet --machines`): the tables
//! printed on a terminal, one CSV row per combination of attributes, and a
//! self-contained HTML page with inline SVG charts.

use certmig_sim::fleet::mix::Attribute;
use certmig_sim::fleet::population::{Counts, MachineProfile};
use certmig_sim::fleet::summary::SegmentRow;
use certmig_sim::fleet::FleetReport;
use certmig_sim::OutcomeKind;
use comfy_table::{CellAlignment, Table};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Serialize;

use crate::matrix::MIDDOT;
use crate::text::{group_digits, percent};

pub(crate) fn table() -> Table {
    crate::text::terminal_table()
}

fn right(t: &mut Table, from: usize) {
    let n = t.column_count();
    for i in from..n {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn segments(out: &mut String, title: &str, rows: &[SegmentRow]) {
    let mut t = table();
    let mut header: Vec<String> = rows
        .first()
        .map(|r| r.key.iter().map(|(k, _)| k.to_string()).collect())
        .unwrap_or_default();
    let keys = header.len();
    header.extend(
        [
            "machines",
            "success",
            "capture-failed",
            "restore-failed",
            "step-failed",
            "unsupported",
            "identity-lost",
            "latent",
            "contested",
            "failing",
        ]
        .map(String::from),
    );
    t.set_header(header);
    for r in rows {
        let c = &r.counts;
        let mut cells: Vec<String> = r.key.iter().map(|(_, v)| v.clone()).collect();
        cells.extend(c.columns().map(group_digits));
        cells.push(percent(c.failed(), c.machines));
        t.add_row(cells);
    }
    right(&mut t, keys);
    out.push_str(&format!("\n{title}\n{t}\n"));
}

/// The tables `certmig fleet` prints: totals, failure causes and segments.
pub fn human(r: &FleetReport) -> String {
    let t = &r.totals;
    let mut out = format!(
        "{} machines, seed {}, plan: {}\n",
        group_digits(r.machines),
        r.seed,
        r.plan
    );
    let mut tt = table();
    tt.set_header(["outcome", "machines", "share"]);
    for (name, n) in [
        ("success", t.success),
        ("capture-failed", t.capture_failed),
        ("restore-failed", t.restore_failed),
        ("step-failed", t.step_failed),
        ("unsupported (no USMT migrates it)", t.unsupported),
        ("identity lost (refresh)", t.identity_lost),
        ("success, bad certificates left (latent)", t.latent),
        (
            "contested (CCMCertFix inside the task sequence)",
            t.contested,
        ),
    ] {
        tt.add_row([name.to_owned(), group_digits(n), percent(n, t.machines)]);
    }
    right(&mut tt, 1);
    out.push_str(&format!("{tt}\n"));
    if t.contested > 0 {
        let reading = r.plan.in_sequence_ccmcertfix;
        out.push_str(&format!(
            "{} machine(s) ran CCMCertFix inside the task sequence, where the sources disagree: their outcomes follow {} (\"{}\"); --in-sequence-ccmcertfix {} follows {}. Both articles support running CCMCertFix on the client before the task sequence starts (remediation ccmcertfix-before-ts).\n",
            group_digits(t.contested),
            reading.source(),
            reading.says(),
            reading.other(),
            reading.other().source()
        ));
    }
    let mut c = table();
    c.set_header(["failure cause: outcome", "step", "HRESULT", "machines"]);
    for f in &r.failure_causes {
        c.add_row([
            f.outcome.as_str().to_owned(),
            f.step.clone(),
            format!(
                "{} {}",
                f.hresult.as_deref().unwrap_or(""),
                f.hresult_name.unwrap_or("")
            )
            .trim()
            .to_owned(),
            group_digits(f.machines),
        ]);
    }
    right(&mut c, 3);
    if !r.failure_causes.is_empty() {
        out.push_str(&format!("\n{c}\n"));
    }
    segments(
        &mut out,
        "By OS pair (source -> target; +974571 on the target: installed before restore)",
        &r.by_os_pair,
    );
    segments(&mut out, "By remediation", &r.by_remediation);
    segments(
        &mut out,
        "By client (hotfix installed after its certificates were made)",
        &r.by_client,
    );
    segments(&mut out, "By kind", &r.by_kind);
    segments(&mut out, "By certificate defect", &r.by_defect);
    out
}

/// One row of `fleet --csv`: a combination of attributes and its counts.
#[derive(Debug, Serialize)]
pub struct CellRow<'a> {
    pub kind: &'a str,
    pub site_version: &'a str,
    pub source_os: &'a str,
    pub source_arch: &'a str,
    pub source_kb974571: bool,
    pub client: &'a str,
    pub client_hotfix: &'a str,
    pub defect: &'a str,
    pub target_os: &'a str,
    pub target_arch: &'a str,
    pub target_kb974571_before_restore: bool,
    pub state_store: &'a str,
    pub remediation: &'a str,
    pub machines: u64,
    pub success: u64,
    pub capture_failed: u64,
    pub restore_failed: u64,
    pub step_failed: u64,
    pub unsupported: u64,
    pub identity_lost: u64,
    pub latent: u64,
    pub contested: u64,
}

impl<'a> CellRow<'a> {
    pub fn new(p: &MachineProfile, c: &Counts) -> CellRow<'a> {
        CellRow {
            kind: p.kind.as_str(),
            site_version: p.site.as_str(),
            source_os: p.source_os.as_str(),
            source_arch: p.source_arch.as_str(),
            source_kb974571: p.source_kb974571,
            client: p.client.as_str(),
            client_hotfix: p.client_hotfix.name(),
            defect: p.defect.as_str(),
            target_os: p.target_os.as_str(),
            target_arch: p.target_arch.as_str(),
            target_kb974571_before_restore: p.target_kb974571_before_restore,
            state_store: p.state_store.name(),
            remediation: p.remediation.as_str(),
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

/// The header of [`csv`] (the field names of [`CellRow`]; a test checks).
pub const CSV_HEADER: [&str; 22] = [
    "kind",
    "site_version",
    "source_os",
    "source_arch",
    "source_kb974571",
    "client",
    "client_hotfix",
    "defect",
    "target_os",
    "target_arch",
    "target_kb974571_before_restore",
    "state_store",
    "remediation",
    "machines",
    "success",
    "capture_failed",
    "restore_failed",
    "step_failed",
    "unsupported",
    "identity_lost",
    "latent",
    "contested",
];

/// One CSV row per non-empty combination of attributes (RFC 4180, CRLF).
pub fn csv(r: &FleetReport) -> String {
    crate::csv_string(&CSV_HEADER, r.cells.iter().map(|(p, c)| CellRow::new(p, c)))
}

const STYLE: &str = concat!(
    "body{font-family:Segoe UI,Arial,sans-serif;margin:20px;color:#222;max-width:1300px}",
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 8px}p.sub{margin:0 0 14px;color:#555;font-size:13px}",
    ".cards{display:flex;gap:12px;flex-wrap:wrap}.card{border-radius:6px;padding:10px 16px;min-width:150px;color:#fff}",
    ".card b{display:block;font-size:24px}.card span{font-size:12px}",
    ".success{background:#2e9d46}.capture-failed{background:#d64541}.restore-failed{background:#f39c12}",
    ".step-failed{background:#7f4fb3}.unsupported{background:#c8c8c8;color:#222}.total{background:#34495e}.lost{background:#555}",
    "table{border-collapse:collapse;font-size:12px;margin-top:6px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}",
    "th{background:#f2f2f2}td.l,th.l{text-align:left}.legend span{display:inline-block;padding:2px 10px;margin-right:6px;border-radius:3px;font-size:12px;color:#fff}",
    "svg text{font-family:Segoe UI,Arial,sans-serif;font-size:12px}",
);

/// One self-contained page: totals, a stacked bar per OS pair and per
/// remediation (inline SVG), failure causes and the segment tables.
pub fn html(r: &FleetReport) -> String {
    let t = &r.totals;
    let pct = |n: u64| percent(n, t.machines);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "certmig fleet readiness" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "certmig fleet readiness" }
                p.sub {
                    (group_digits(t.machines)) " machines (seed " (r.seed)
                    "), each replayed through the task-sequence simulator; plan: " (r.plan)
                    ". +974571 on a source: KB974571 installed; on a target: installed before Restore User State."
                }
                div.cards {
                    @for (class, label, n) in [
                        ("total", "machines", t.machines),
                        ("success", "success", t.success),
                        ("capture-failed", "capture failed", t.capture_failed),
                        ("restore-failed", "restore failed", t.restore_failed),
                        ("step-failed", "step failed", t.step_failed),
                        ("unsupported", "unsupported by USMT", t.unsupported),
                        ("lost", "client identity lost (refresh)", t.identity_lost),
                    ] {
                        div class=(format!("card {class}")) {
                            b { (group_digits(n)) }
                            span { (label) " " (MIDDOT) " " (pct(n)) }
                        }
                    }
                }
                @if t.latent > 0 {
                    p.sub style="margin-top:10px" {
                        (group_digits(t.latent)) " of the successes (" (percent(t.latent, t.success))
                        ") still carry certificates with an embedded NUL: the next KB974571 breaks their next migration (C10)."
                    }
                }
                @if t.contested > 0 {
                    @let reading = r.plan.in_sequence_ccmcertfix;
                    p.sub style="margin-top:10px" {
                        (group_digits(t.contested)) " machine(s) ran CCMCertFix inside the task sequence, where two Microsoft sources disagree. "
                        "Their outcomes follow " (reading.source()) " (\u{201c}" (reading.says()) "\u{201d}); "
                        (reading.other().source()) " reads otherwise (\u{201c}" (reading.other().says()) "\u{201d}). "
                        "Both support running CCMCertFix on the client before the task sequence starts."
                    }
                }
                div.legend style="margin-top:14px" {
                    span.success { "success" }
                    span.capture-failed { "capture failed" }
                    span.restore-failed { "restore failed" }
                    span.step-failed { "step failed" }
                    span.unsupported { "unsupported" }
                }
                h2 { "By OS pair (source " (PreEscaped("&rarr;")) " target)" }
                (bars(&r.by_os_pair))
                h2 { "By remediation" }
                (bars(&r.by_remediation))
                h2 { "Failure causes" }
                table {
                    tr {
                        th.l { "outcome" }
                        th.l { "step" }
                        th.l { "HRESULT" }
                        th { "machines" }
                        th { "share" }
                    }
                    @if r.failure_causes.is_empty() {
                        tr { td.l colspan="5" { "no failures" } }
                    }
                    @for c in &r.failure_causes {
                        tr {
                            td.l { (c.outcome.as_str()) }
                            td.l { (c.step) }
                            td.l { (c.hresult.as_deref().unwrap_or("")) " " (c.hresult_name.unwrap_or("")) }
                            td { (group_digits(c.machines)) }
                            td { (pct(c.machines)) }
                        }
                    }
                }
                @for (title, rows) in [
                    ("By OS pair", &r.by_os_pair),
                    ("By kind", &r.by_kind),
                    (
                        "By client (version / hotfix installed after its certificates)",
                        &r.by_client,
                    ),
                    ("By certificate defect", &r.by_defect),
                    ("By remediation", &r.by_remediation),
                ] {
                    h2 { (title) }
                    (segment_table(rows))
                }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

const OUTCOME_COLOURS: [(OutcomeKind, &str); 5] = [
    (OutcomeKind::Success, "#2e9d46"),
    (OutcomeKind::CaptureFailed, "#d64541"),
    (OutcomeKind::RestoreFailed, "#f39c12"),
    (OutcomeKind::StepFailed, "#7f4fb3"),
    (OutcomeKind::Unsupported, "#c8c8c8"),
];

/// A horizontal stacked bar per segment, as inline SVG: bar length is the
/// segment's share of the largest segment, colours the outcome split.
fn bars(rows: &[SegmentRow]) -> Markup {
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
    // Each bar's pieces (outcome, colour, count, x, width) and where it ends.
    let pieces = |r: &SegmentRow| {
        let mut x = label_w;
        let mut v = Vec::new();
        for (k, colour) in OUTCOME_COLOURS {
            let n = r.counts.of(k);
            if n == 0 {
                continue;
            }
            let w = bar_w * n as f64 / max;
            v.push((k, colour, n, x, w));
            x += w;
        }
        (v, x)
    };
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(label_w + bar_w + 160.0) height=(height) role="img" {
            @for (i, r) in rows.iter().enumerate() {
                @let y = i as f64 * row_h + 2.0;
                @let (parts, end) = pieces(r);
                text x=(label_w - 8.0) y=(y + 14.0) text-anchor="end" { (r.label()) }
                @for (k, colour, n, x, w) in parts {
                    rect x=(format!("{x:.2}")) y=(y) width=(format!("{w:.2}")) height=(row_h - 4.0) fill=(colour) {
                        title {
                            (r.label()) ": " (group_digits(n)) " " (k.as_str())
                            " (" (percent(n, r.counts.machines)) ")"
                        }
                    }
                }
                text x=(format!("{:.2}", end + 6.0)) y=(y + 14.0) {
                    (group_digits(r.counts.machines)) " " (MIDDOT) " "
                    (percent(r.counts.failed(), r.counts.machines)) " fail"
                }
            }
        }
    }
}

fn segment_table(rows: &[SegmentRow]) -> Markup {
    html! {
        table {
            tr {
                @if let Some(r) = rows.first() {
                    @for (k, _) in &r.key {
                        th.l { (k) }
                    }
                }
                th { "machines" }
                th { "success" }
                th { "capture failed" }
                th { "restore failed" }
                th { "step failed" }
                th { "unsupported" }
                th { "identity lost" }
                th { "latent" }
                th { "contested" }
                th { "failing" }
            }
            @for r in rows {
                tr {
                    @for (_, v) in &r.key {
                        td.l { (v) }
                    }
                    @for n in r.counts.columns() {
                        td { (group_digits(n)) }
                    }
                    td { (percent(r.counts.failed(), r.counts.machines)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_header_is_the_row_type_s_field_names() {
        let p = MachineProfile::of_cell(0);
        let text = crate::csv_string(&CSV_HEADER, [CellRow::new(&p, &Counts::default())]);
        assert_eq!(
            text.split("\r\n").next(),
            Some(CSV_HEADER.join(",").as_str())
        );
    }
}
