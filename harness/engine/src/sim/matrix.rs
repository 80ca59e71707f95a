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
    pub identity_preserved: bool,
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
            }
        })
        .collect()
}

/// A plain-text table of the matrix (what `certmig matrix` prints and the
/// golden snapshot holds).
pub fn table(rows: &[MatrixRow]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    t.set_header([
        "kind",
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
            format!(
                "{}{}",
                r.source_os,
                if r.source_kb974571 { "+974571" } else { "" }
            ),
            format!(
                "{}{}",
                r.target_os,
                if r.target_kb974571_before_restore {
                    "+974571"
                } else {
                    ""
                }
            ),
            r.remediation.as_str().to_owned(),
            r.defect.to_string(),
            r.outcome.as_str().to_owned(),
            r.step.clone().unwrap_or_default(),
            r.hresult.clone().unwrap_or_default(),
            if r.identity_preserved { "kept" } else { "lost" }.to_owned(),
        ]);
    }
    t.to_string()
}

/// The at-a-glance table: per remediation, how many of the 64 OS pairs
/// succeed, per kind and defect.
fn summary(rows: &[MatrixRow], defects: &[Defect]) -> String {
    let mut out = String::from("<h2>Summary: OS pairs that migrate successfully</h2><table class=\"sum\"><tr><th>remediation</th>");
    for kind in Kind::ALL {
        for d in defects {
            out.push_str(&format!(
                "<th>{} &middot; {}</th>",
                kind.as_str(),
                escape(&d.to_string())
            ));
        }
    }
    out.push_str("</tr>");
    for rem in Remediation::ALL {
        out.push_str(&format!("<tr><th>{}</th>", rem.as_str()));
        for kind in Kind::ALL {
            for &d in defects {
                let cell: Vec<&MatrixRow> = rows
                    .iter()
                    .filter(|r| r.kind == kind && r.remediation == rem && r.defect == d)
                    .collect();
                let ok = cell
                    .iter()
                    .filter(|r| r.outcome == OutcomeKind::Success && r.identity_preserved)
                    .count();
                let class = match ok {
                    0 => "none",
                    n if n == cell.len() => "all",
                    _ => "some",
                };
                out.push_str(&format!("<td class=\"{class}\">{ok}/{}</td>", cell.len()));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One self-contained HTML page: per kind × remediation × defect, a grid of
/// source (rows) by target (columns), each cell coloured by outcome.
pub fn html(rows: &[MatrixRow]) -> String {
    let mut out = String::from(concat!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>certmig outcome matrix</title><style>",
        "body{font-family:Segoe UI,Arial,sans-serif;margin:16px;color:#222}h1{font-size:20px;margin:0 0 4px}",
        "p.sub{margin:0 0 12px;color:#555;font-size:13px}.legend span{display:inline-block;padding:3px 10px;margin-right:6px;border-radius:3px;font-size:12px}",
        "h2{font-size:16px;margin:18px 0 6px}.grids{display:flex;flex-wrap:wrap;gap:14px}",
        ".g{border:1px solid #ccc;border-radius:4px;padding:6px}.g h3{font-size:12px;margin:0 0 4px}",
        "table{border-collapse:collapse;font-size:10px}td,th{border:1px solid #fff;padding:0;text-align:center}",
        "th{background:#eee;font-weight:normal;padding:1px 3px;white-space:nowrap}",
        "td{width:16px;height:14px}.success{background:#2e9d46}.capture-failed{background:#d64541}",
        ".restore-failed{background:#f39c12}.step-failed{background:#7f4fb3}.lost{outline:2px dashed #000;outline-offset:-3px}",
        "table.sum{font-size:12px;margin-bottom:8px}table.sum td,table.sum th{padding:3px 8px;width:auto;height:auto;border:1px solid #fff}",
        ".all{background:#2e9d46;color:#fff}.none{background:#d64541;color:#fff}.some{background:#f39c12}",
        "</style></head><body><h1>certmig: refresh and replace outcomes</h1>",
        "<p class=\"sub\">Rows: source OS (+ = KB974571 installed). Columns: target OS (+ = KB974571 installed before Restore User State). ",
        "A dashed cell is a success that lost the client identity.</p><div class=\"legend\">",
        "<span class=\"success\" style=\"color:#fff\">success</span><span class=\"capture-failed\" style=\"color:#fff\">capture failed</span>",
        "<span class=\"restore-failed\">restore failed</span><span class=\"step-failed\" style=\"color:#fff\">step failed</span></div>"
    ));
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
    out.push_str(&summary(rows, &defects));
    for kind in [Kind::Refresh, Kind::Replace] {
        for defect in defects {
            out.push_str(&format!(
                "<h2>{} &middot; certificates {}</h2><div class=\"grids\">",
                kind.as_str(),
                escape(&defect.to_string())
            ));
            for rem in Remediation::ALL {
                out.push_str(&format!(
                    "<div class=\"g\"><h3>{}</h3><table><tr><th></th>",
                    rem.as_str()
                ));
                for &t in &labels {
                    out.push_str(&format!("<th>{}</th>", escape(&label(t))));
                }
                out.push_str("</tr>");
                for &src in &labels {
                    out.push_str(&format!("<tr><th>{}</th>", escape(&label(src))));
                    for &tgt in &labels {
                        let r = rows.iter().find(|r| {
                            r.kind == kind
                                && r.defect == defect
                                && r.remediation == rem
                                && (r.source_os, r.source_kb974571) == src
                                && (r.target_os, r.target_kb974571_before_restore) == tgt
                        });
                        match r {
                            Some(r) => {
                                let lost =
                                    r.outcome == OutcomeKind::Success && !r.identity_preserved;
                                let title = format!(
                                    "{} {} -> {}: {}{}{}",
                                    kind.as_str(),
                                    label(src),
                                    label(tgt),
                                    r.outcome.as_str(),
                                    r.step
                                        .as_deref()
                                        .map(|s| format!(" at {s}"))
                                        .unwrap_or_default(),
                                    r.hresult
                                        .as_deref()
                                        .map(|h| format!(" ({h})"))
                                        .unwrap_or_default()
                                );
                                out.push_str(&format!(
                                    "<td class=\"{}{}\" title=\"{}\"></td>",
                                    r.outcome.as_str(),
                                    if lost { " lost" } else { "" },
                                    escape(&title)
                                ));
                            }
                            None => out.push_str("<td></td>"),
                        }
                    }
                    out.push_str("</tr>");
                }
                out.push_str("</table></div>");
            }
            out.push_str("</div>");
        }
    }
    out.push_str("</body></html>\n");
    out
}
