//! `certmig crosscheck`'s human report: the platform and the rules certmig
//! predicts with, one table row per certificate (both verdicts, agreement,
//! the fields that differ), the whole-store readings per file with their
//! notes, which files could not be read (their errors go to stderr), and
//! the summary line.

use std::fmt::Write as _;

use certmig_stores::crosscheck::CrosscheckReport;

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
    let mut t = crate::text::terminal_table();
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
        if !f.errors.is_empty() {
            let _ = writeln!(
                out,
                "{}: unreadable ({} error(s), on stderr)",
                f.path,
                f.errors.len()
            );
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

#[cfg(test)]
mod tests {
    use super::*;
    use certmig_stores::crosscheck::{
        Difference, FileCheck, KnownDifference, Outcome, Platform, Reading, Row, Via,
        WINE_REGISTRY_KEY_CASE,
    };

    fn reading(via: Via, verdict: Outcome, name: &str) -> Reading {
        Reading {
            via,
            verdict,
            rule: None,
            thumbprint: Some("AB".repeat(20)),
            friendly_name_hex: None,
            friendly_name: Some(name.to_owned()),
            key_provider: None,
        }
    }

    #[test]
    fn the_table_shows_verdicts_differences_known_ones_and_the_summary() {
        let row = |agree: bool, known: Option<&'static str>| Row {
            path: "PC0001.reg".into(),
            thumbprint: "AB".repeat(20),
            certmig: reading(Via::Certmig, Outcome::Ok, "SMS\\0\\0"),
            cryptoapi: reading(Via::RegistryStore, Outcome::Absent, "SMS\\0\\0"),
            agree,
            differences: vec![Difference {
                field: "verdict",
                certmig: "ok".into(),
                cryptoapi: "absent".into(),
                known,
            }],
        };
        let known: Vec<KnownDifference> = vec![WINE_REGISTRY_KEY_CASE];
        let report = CrosscheckReport {
            platform: Platform::wine("8.0"),
            known_differences: known,
            certificates: 2,
            agree: 1,
            rows: vec![row(true, Some(WINE_REGISTRY_KEY_CASE.id)), row(false, None)],
            files: vec![FileCheck {
                path: "bad.sst".into(),
                format: None,
                certificates: 0,
                store_reader: None,
                skipped: 0,
                errors: vec![certmig_stores::scan::ErrorReport {
                    offset: Some(8),
                    line: None,
                    message: "truncated".into(),
                }],
            }],
        };
        let text = human(&report);
        assert!(
            text.starts_with("platform: wine wine-8.0 - certmig predicts with the legacy rules")
        );
        assert!(text.contains("known difference wine-registry-key-case:"));
        assert!(
            text.contains("verdict: certmig ok / crypt32 absent (known: wine-registry-key-case)")
        );
        assert!(text.contains("SMS\\0\\0"));
        assert_eq!(text.matches(" NO ").count(), 1);
        assert!(text.contains("bad.sst: unreadable (1 error(s), on stderr)"));
        assert!(text.ends_with("certificates: 2, agree: 1, disagree: 1\n"));
    }
}
