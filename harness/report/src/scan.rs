//! `certmig scan`'s human listing: per file, every certificate with its
//! friendly name, properties, key container, signature, import verdicts and
//! name findings; the errors of a file go to stderr, so they come
//! separately.

use certmig_engine::scan::{FileReport, ScanReport};

/// One file's listing (for stdout).
pub fn file(f: &FileReport) -> String {
    let mut out = String::new();
    let fmt = f.format.map(|x| x.as_str()).unwrap_or("?");
    out.push_str(&format!(
        "{} ({fmt}): {} certificate(s)\n",
        f.path,
        f.certificates.len()
    ));
    for c in &f.certificates {
        out.push_str(&format!("  {}  {}\n", c.thumbprint, c.subject));
        match (&c.friendly_name, c.friendly_name_shape) {
            (Some(n), Some(s)) => out.push_str(&format!("    friendly name  \"{n}\"  ({s})\n")),
            _ => out.push_str("    friendly name  (none)\n"),
        }
        let ids: Vec<String> = c.property_ids.iter().map(u32::to_string).collect();
        out.push_str(&format!(
            "    properties     {}    key container {}    signature {}\n",
            ids.join(", "),
            c.key_container.as_deref().unwrap_or("(none)"),
            if c.signature_valid {
                "valid"
            } else {
                "NOT valid"
            }
        ));
        out.push_str(&format!(
            "    import         legacy: {}    ms09-056: {}\n",
            c.verdicts.legacy, c.verdicts.ms09_056
        ));
        for r in &c.rejections {
            out.push_str(&format!(
                "      {} refused by {} ({}): {}\n",
                r.rules, r.rule, r.hresult, r.offence
            ));
        }
        for n in &c.names {
            out.push_str(&format!(
                "    name           {} ({}{}): {}\n      legacy: {}    ms09-056: {}\n",
                n.rule,
                n.kind,
                if n.modelling_choice {
                    ", modelling choice"
                } else {
                    ""
                },
                n.offence,
                n.legacy,
                n.ms09_056
            ));
        }
    }
    out
}

/// One file's errors, one line each with the line or byte offset (for
/// stderr).
pub fn file_errors(f: &FileReport) -> String {
    let mut out = String::new();
    for e in &f.errors {
        out.push_str(&match (e.line, e.offset) {
            (Some(l), _) => format!("{}: error at line {l}: {}\n", f.path, e.message),
            (None, Some(o)) => format!("{}: error at offset {o}: {}\n", f.path, e.message),
            (None, None) => format!("{}: error: {}\n", f.path, e.message),
        });
    }
    out
}

/// The closing line: files, certificates and errors counted.
pub fn summary(report: &ScanReport) -> String {
    let errors: usize = report.files.iter().map(|f| f.errors.len()).sum();
    format!(
        "{} file(s), {} certificate(s), {} error(s)\n",
        report.files.len(),
        report.certificate_count(),
        errors
    )
}
