//! The outcome matrix (`certmig matrix`): the plain-text table the golden
//! snapshot holds, and one self-contained, colour-coded HTML page.

use certmig_format::Defect;
use certmig_sim::matrix::{MatrixRow, BLOCKS};
use certmig_sim::scenario::Remediation;
use certmig_sim::world::{Arch, InSequenceReading, Os, SiteVersion};
use certmig_sim::{Kind, OutcomeKind};
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// The block a row belongs to: (site, source arch, target arch).
fn block(r: &MatrixRow) -> (SiteVersion, Arch, Arch) {
    (r.site, r.source_arch, r.target_arch)
}

/// The sentence under every matrix that has contested rows.
pub fn contested_legend(rows: &[MatrixRow]) -> Option<String> {
    let c = rows.iter().find_map(|r| r.contested.as_ref())?;
    let n = rows.iter().filter(|r| r.contested.is_some()).count();
    let followed = c.followed;
    let other: InSequenceReading = followed.other();
    Some(format!(
        "{n} row(s) marked (contested): CCMCertFix ran inside the task sequence, where the sources disagree. Followed {} (\"{}\"); {} reads otherwise (\"{}\"): --in-sequence-ccmcertfix {other} replays that reading, and --json gives both outcomes. Both support running CCMCertFix on the client before the task sequence starts (ccmcertfix-before-ts).",
        followed.source(),
        followed.says(),
        other.source(),
        other.says(),
    ))
}

/// A plain-text table of the matrix (what `certmig matrix` prints and the
/// golden snapshot holds), with the contested rows explained under it.
pub fn table(rows: &[MatrixRow]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    // Fits a terminal; whole lines when piped (and in the golden snapshot).
    t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    t.set_header([
        "kind",
        "site",
        "source",
        "target",
        "remediation",
        "defect",
        "outcome",
        "step",
        "hresult",
        "identity",
    ]);
    for r in rows {
        t.add_row([
            r.kind.as_str().to_owned(),
            r.site.as_str().to_owned(),
            format!(
                "{}/{}{}",
                r.source_os,
                r.source_arch,
                if r.source_kb974571 { "+974571" } else { "" }
            ),
            format!(
                "{}/{}{}",
                r.target_os,
                r.target_arch,
                if r.target_kb974571_before_restore {
                    "+974571"
                } else {
                    ""
                }
            ),
            r.remediation.as_str().to_owned(),
            r.defect.to_string(),
            r.outcome_label(),
            r.step.clone().unwrap_or_default(),
            r.hresult.clone().unwrap_or_default(),
            match r.identity_preserved {
                Some(true) => "kept",
                Some(false) => "lost",
                None => "-",
            }
            .to_owned(),
        ]);
    }
    match contested_legend(rows) {
        Some(legend) => format!("{t}\n{}", crate::text::paragraph(&legend).trim_end()),
        None => t.to_string(),
    }
}

/// `&middot;` (an entity, not data: nothing to escape).
pub(crate) const MIDDOT: PreEscaped<&str> = PreEscaped("&middot;");

const STYLE: &str = concat!(
    "body{font-family:Segoe UI,Arial,sans-serif;margin:16px;color:#222}h1{font-size:20px;margin:0 0 4px}",
    "p.sub{margin:0 0 12px;color:#555;font-size:13px}.legend span{display:inline-block;padding:3px 10px;margin-right:6px;border-radius:3px;font-size:12px}",
    "h2{font-size:16px;margin:18px 0 6px}.grids{display:flex;flex-wrap:wrap;gap:14px}",
    ".g{border:1px solid #ccc;border-radius:4px;padding:6px}.g h3{font-size:12px;margin:0 0 4px}",
    "table{border-collapse:collapse;font-size:10px}td,th{border:1px solid #fff;padding:0;text-align:center}",
    "th{background:#eee;font-weight:normal;padding:1px 3px;white-space:nowrap}",
    "td{width:16px;height:14px}.success{background:#2e9d46}.capture-failed{background:#d64541}",
    ".restore-failed{background:#f39c12}.step-failed{background:#7f4fb3}.unsupported{background:#c8c8c8}.lost{outline:2px dashed #000;outline-offset:-3px}",
    ".contested{background-image:repeating-linear-gradient(45deg,transparent 0 3px,rgba(255,255,255,.7) 3px 5px)}",
    "table.sum{font-size:12px;margin-bottom:8px}table.sum td,table.sum th{padding:3px 8px;width:auto;height:auto;border:1px solid #fff}",
    ".all{background:#2e9d46;color:#fff}.none{background:#d64541;color:#fff}.some{background:#f39c12}",
);

/// The at-a-glance table: per remediation, how many of the OS pairs USMT
/// supports succeed (without losing a refreshed client's identity), per kind
/// and defect; and on a line of its own, how many pairs USMT cannot migrate.
fn summary(all: &[MatrixRow], defects: &[Defect], b: (SiteVersion, Arch, Arch)) -> Markup {
    let rows: Vec<&MatrixRow> = all.iter().filter(|r| block(r) == b).collect();
    let unsupported = |kind: Kind, d: Defect| {
        rows.iter()
            .filter(|r| {
                r.kind == kind
                    && r.defect == d
                    && r.remediation == Remediation::None
                    && r.outcome == OutcomeKind::Unsupported
            })
            .count()
    };
    html! {
        h2 { "Summary, ConfigMgr 2007 " (b.0.as_str().to_uppercase()) " site, " (b.1) " to " (b.2) ": OS pairs that migrate successfully (of those USMT supports)" }
        table.sum {
            tr {
                th { "remediation" }
                @for kind in Kind::ALL {
                    @for d in defects {
                        th { (kind.as_str()) " " (MIDDOT) " " (d) }
                    }
                }
            }
            @for rem in Remediation::ALL {
                tr {
                    th { (rem.as_str()) }
                    @for kind in Kind::ALL {
                        @for &d in defects {
                            @let cell: Vec<&MatrixRow> = rows
                                .iter()
                                .filter(|r| {
                                    r.kind == kind
                                        && r.remediation == rem
                                        && r.defect == d
                                        && r.outcome != OutcomeKind::Unsupported
                                })
                                .copied()
                                .collect();
                            @let ok = cell
                                .iter()
                                .filter(|r| r.outcome == OutcomeKind::Success && r.identity_preserved != Some(false))
                                .count();
                            @let contested = cell.iter().filter(|r| r.contested.is_some()).count();
                            @let class = match ok {
                                0 => "none",
                                n if n == cell.len() => "all",
                                _ => "some",
                            };
                            td class=(class) {
                                (ok) "/" (cell.len())
                                @if contested > 0 { " (contested)" }
                            }
                        }
                    }
                }
            }
            tr {
                th { "unsupported by USMT" }
                @for kind in Kind::ALL {
                    @for &d in defects {
                        td.unsupported { (unsupported(kind, d)) }
                    }
                }
            }
        }
    }
}

/// One matrix cell's tooltip: `refresh xp-sp3 -> win7-sp1+: restore-failed
/// at Restore User State (0x80092024)`.
fn title(kind: Kind, src: &str, tgt: &str, r: &MatrixRow) -> String {
    format!(
        "{} {src} -> {tgt}: {}{}{}",
        kind.as_str(),
        r.outcome_label(),
        r.step
            .as_deref()
            .map(|s| format!(" at {s}"))
            .unwrap_or_default(),
        r.hresult
            .as_deref()
            .map(|h| format!(" ({h})"))
            .or_else(|| r.reason.as_deref().map(|why| format!(": {why}")))
            .unwrap_or_default()
    )
}

/// One self-contained HTML page: per kind × remediation × defect, a grid of
/// source (rows) by target (columns), each cell coloured by outcome.
pub fn html(rows: &[MatrixRow]) -> String {
    let labels: Vec<(Os, bool)> = Os::ALL
        .iter()
        .flat_map(|&o| [(o, false), (o, true)])
        .collect();
    let label = |(o, kb): (Os, bool)| format!("{o}{}", if kb { "+" } else { "" });
    // The real defect first: that is what a fleet has.
    let defects = [
        Defect::DoubledTerminator,
        Defect::EmbeddedNul,
        Defect::Clean,
    ];
    let find = |kind: Kind, defect: Defect, rem: Remediation, src, tgt| {
        rows.iter().find(|r| {
            block(r) == BLOCKS[0]
                && r.kind == kind
                && r.defect == defect
                && r.remediation == rem
                && (r.source_os, r.source_kb974571) == src
                && (r.target_os, r.target_kb974571_before_restore) == tgt
        })
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "certmig outcome matrix" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "certmig: refresh and replace outcomes" }
                p.sub {
                    "Rows: source OS (+ = KB974571 installed). Columns: target OS (+ = KB974571 installed before Restore User State). "
                    "A dashed cell is a refresh that succeeded but lost the client identity; a grey cell is a migration no USMT performs; "
                    "a hatched cell is contested (CCMCertFix inside the task sequence, below). The grids show an SP2 site migrating x86 to x86; "
                    "the summaries cover an SP1 site and x64 to x86 too."
                }
                @if let Some(legend) = contested_legend(rows) {
                    p.sub { (legend) }
                }
                div.legend {
                    span.success style="color:#fff" { "success" }
                    span.capture-failed style="color:#fff" { "capture failed" }
                    span.restore-failed { "restore failed" }
                    span.step-failed style="color:#fff" { "step failed" }
                    span.unsupported { "unsupported (no USMT migrates it)" }
                }
                @for b in BLOCKS {
                    (summary(rows, &defects, b))
                }
                @for kind in [Kind::Refresh, Kind::Replace] {
                    @for defect in defects {
                        h2 { (kind.as_str()) " " (MIDDOT) " certificates " (defect) }
                        div.grids {
                            @for rem in Remediation::ALL {
                                div.g {
                                    h3 { (rem.as_str()) }
                                    table {
                                        tr {
                                            th {}
                                            @for &t in &labels {
                                                th { (label(t)) }
                                            }
                                        }
                                        @for &src in &labels {
                                            tr {
                                                th { (label(src)) }
                                                @for &tgt in &labels {
                                                    @match find(kind, defect, rem, src, tgt) {
                                                        Some(r) => {
                                                            @let lost = r.outcome == OutcomeKind::Success && r.identity_preserved == Some(false);
                                                            td
                                                                class=(format!("{}{}{}", r.outcome.as_str(), if lost { " lost" } else { "" }, if r.contested.is_some() { " contested" } else { "" }))
                                                                title=(title(kind, &label(src), &label(tgt), r)) {}
                                                        }
                                                        None => td {},
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

/// One row of `matrix --csv`: a matrix row, the contested rule flattened
/// into the reading followed and the other reading's outcome.
#[derive(Debug, serde::Serialize)]
pub struct CsvRow<'a> {
    pub kind: &'a str,
    pub site: &'a str,
    pub source_os: &'a str,
    pub source_arch: &'a str,
    pub source_kb974571: bool,
    pub target_os: &'a str,
    pub target_arch: &'a str,
    pub target_kb974571_before_restore: bool,
    pub remediation: &'a str,
    pub defect: &'a str,
    pub outcome: &'a str,
    pub step: &'a str,
    pub hresult: &'a str,
    /// `true`, `false`, or empty (a replace, an unsupported migration).
    pub identity_preserved: Option<bool>,
    pub reason: &'a str,
    /// `;`-separated.
    pub modelling_choices: String,
    /// The reading followed where the outcome is contested, else empty.
    pub contested_followed: &'a str,
    /// The outcome under the other reading, else empty.
    pub contested_other_outcome: &'a str,
}

/// The header of [`csv`] (the field names of [`CsvRow`]; a test checks).
pub const CSV_HEADER: [&str; 18] = [
    "kind",
    "site",
    "source_os",
    "source_arch",
    "source_kb974571",
    "target_os",
    "target_arch",
    "target_kb974571_before_restore",
    "remediation",
    "defect",
    "outcome",
    "step",
    "hresult",
    "identity_preserved",
    "reason",
    "modelling_choices",
    "contested_followed",
    "contested_other_outcome",
];

/// `matrix --csv`: one row per matrix row (RFC 4180, CRLF).
pub fn csv(rows: &[MatrixRow]) -> String {
    crate::csv_string(
        &CSV_HEADER,
        rows.iter().map(|r| CsvRow {
            kind: r.kind.as_str(),
            site: r.site.as_str(),
            source_os: r.source_os.as_str(),
            source_arch: r.source_arch.as_str(),
            source_kb974571: r.source_kb974571,
            target_os: r.target_os.as_str(),
            target_arch: r.target_arch.as_str(),
            target_kb974571_before_restore: r.target_kb974571_before_restore,
            remediation: r.remediation.as_str(),
            defect: r.defect.as_str(),
            outcome: r.outcome.as_str(),
            step: r.step.as_deref().unwrap_or(""),
            hresult: r.hresult.as_deref().unwrap_or(""),
            identity_preserved: r.identity_preserved,
            reason: r.reason.as_deref().unwrap_or(""),
            modelling_choices: r
                .modelling_choices
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(";"),
            contested_followed: r.contested.as_ref().map_or("", |c| c.followed.as_str()),
            contested_other_outcome: r
                .contested
                .as_ref()
                .and_then(|c| c.other())
                .map_or("", |o| o.outcome.as_str()),
        }),
    )
}
