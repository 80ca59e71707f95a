//! `certmig fix`'s human report: one line per listed certificate (its
//! friendly name before and after, escaped), a count of the rest, the
//! warnings, and what was written.

use std::fmt::Write as _;

use certmig_engine::fix::{FixReport, ReportSpill};
use certmig_format::friendly_name;
use certmig_format::repair::CertificateRepair;

/// The report for stdout, and the warnings for stderr (one `warning: ...`
/// line each).
pub fn human(report: &FixReport) -> (String, String) {
    let mut out = String::new();
    let esc = |v: &Option<Vec<u8>>| {
        v.as_deref()
            .map(friendly_name::escape)
            .unwrap_or_else(|| "(none)".into())
    };
    for c in &report.certificates {
        if c.changed {
            let _ = writeln!(
                out,
                "{}  \"{}\" -> \"{}\"",
                c.thumbprint,
                esc(&c.before),
                esc(&c.after)
            );
        } else {
            let _ = writeln!(out, "{}  \"{}\" (unchanged)", c.thumbprint, esc(&c.before));
        }
    }
    if report.certificates_total > report.certificates.len() {
        let _ = writeln!(
            out,
            "... {} more certificate(s) not listed",
            report.certificates_total - report.certificates.len()
        );
    }
    let verb = if report.dry_run {
        "would repair"
    } else {
        "repaired"
    };
    let _ = writeln!(
        out,
        "{verb} {} of {} certificate(s) ({}, policy {})",
        report.certificates_changed, report.certificates_total, report.format, report.policy
    );
    if let Some(w) = &report.wrote {
        let _ = writeln!(out, "wrote {}", w.display());
    }
    if let Some(b) = &report.backup {
        let _ = writeln!(out, "backup {}", b.display());
    }
    let warnings = report
        .warnings
        .iter()
        .map(|w| format!("warning: {w}\n"))
        .collect();
    (out, warnings)
}

/// One certificate of `fix --json`'s `certificates` array, number `index`,
/// as the whole report serialized by `serde_json::to_string_pretty` has it
/// (with the separator before it): what a [`ReportSpill`] collects.
pub fn certificate_json(index: usize, r: &CertificateRepair, out: &mut Vec<u8>) {
    out.extend_from_slice(if index == 0 { b"\n    " } else { b",\n    " });
    crate::scan::json_at(r, 2, out);
}

/// `fix --json`: `report` (whose `certificates` are empty) with the
/// certificates of `spill` in its `certificates` array, written to `out`:
/// the bytes of `serde_json::to_string_pretty` of the whole report and a
/// newline, without holding the certificates in memory.
pub fn json_with_spill(
    report: &FixReport,
    spill: &ReportSpill,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut doc = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    doc.push('\n');
    // A raw line end never occurs inside a JSON string: this is the key.
    const KEY: &str = "\n  \"certificates\": [";
    let at = doc.find(KEY).expect("a fix report has certificates") + KEY.len();
    // The report's own array is empty: every certificate went to the spill.
    debug_assert!(doc[at..].starts_with(']'));
    if spill.count() == 0 {
        return out.write_all(doc.as_bytes());
    }
    out.write_all(&doc.as_bytes()[..at])?;
    spill.copy_to(out)?;
    out.write_all(b"\n  ")?;
    out.write_all(&doc.as_bytes()[at..])
}
