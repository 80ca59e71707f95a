//! `certmig crosscheck`'s human report: the platform and the rules certmig
//! predicts with, one table row per certificate (both verdicts, agreement,
//! the fields that differ), the whole-store readings per file with their
//! notes, the errors, and the summary line.

use std::fmt::Write as _;

use certmig_engine::crosscheck::CrosscheckReport;

/// Longest text shown in one cell.
const CELL: usize = 70;

fn cut(s: &str) -> String {
    if s.chars().count() > CELL {
        s.chars().take(CELL - 3).collect::<String>() + "..."
    } else {
        s.to_owned()
    }
}

/// The report for stdout.
pub fn human(r: &CrosscheckReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "platform: {} {} - certmig predicts with the {} rules",
        r.platform.kind, r.platform.version, r.platform.rules
    );
    let _ = writeln!(out, "{}", r.platform.note);
    for k in &r.known_differences {
        let _ = writeln!(
            out,
            "known difference {}: {} ({})",
            k.id, k.description, k.source
        );
    }
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header([
        "file",
        "thumbprint",
        "friendly name",
        "certmig",
        "crypt32",
        "via",
        "agree",
        "differences",
    ]);
    for row in &r.rows {
        let differences: Vec<String> = row
            .differences
            .iter()
            .map(|d| {
                let known = d
                    .known
                    .map(|k| format!(" (known: {k})"))
                    .unwrap_or_default();
                format!(
                    "{}: certmig {} / crypt32 {}{known}",
                    d.field, d.certmig, d.cryptoapi
                )
            })
            .collect();
        t.add_row([
            row.path.clone(),
            row.thumbprint.clone(),
            cut(row
                .certmig
                .friendly_name
                .as_deref()
                .or(row.cryptoapi.friendly_name.as_deref())
                .unwrap_or("(none)")),
            row.certmig.verdict.to_string(),
            row.cryptoapi.verdict.to_string(),
            row.cryptoapi.via.to_string(),
            if row.agree { "yes" } else { "NO" }.to_owned(),
            cut(&differences.join("; ")),
        ]);
    }
    let _ = writeln!(out, "{t}");
    for f in &r.files {
        if let Some(s) = &f.store_reader {
            let _ = writeln!(
                out,
                "{}: {} {}, {} certificate(s) listed (certmig read {})",
                f.path, s.api, s.opened, s.certificates, f.certificates
            );
            if let Some(note) = &s.note {
                let _ = writeln!(out, "  note: {note}");
            }
        }
        if f.skipped > 0 {
            let _ = writeln!(
                out,
                "{}: {} CRL/CTL element(s) not compared",
                f.path, f.skipped
            );
        }
        for e in &f.errors {
            let at = match (e.line, e.offset) {
                (Some(l), _) => format!("line {l}"),
                (None, Some(o)) => format!("byte offset {o}"),
                (None, None) => "-".to_owned(),
            };
            let _ = writeln!(out, "error: {}: {at}: {}", f.path, e.message);
        }
    }
    let _ = writeln!(
        out,
        "certificates: {}, agree: {}, disagree: {}",
        r.certificates,
        r.agree,
        r.certificates - r.agree
    );
    out
}
