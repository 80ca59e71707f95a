//! `certmig fix`'s human report: one line per listed certificate (its
//! friendly name before and after, escaped), a count of the rest, the
//! warnings, and what was written.

use std::fmt::Write as _;

use certmig_engine::fix::FixReport;
use certmig_format::friendly_name;

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
