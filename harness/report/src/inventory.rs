//! A real inventory's readiness (`certmig fleet --inventory`): the tables
//! printed on a terminal and one CSV row per export.

use certmig_engine::fleet::inventory::{Finding, InventoryReport};
use serde::Serialize;

use crate::fleet::table;

/// A certificate that causes the failure, as `THUMBPRINT<sep>shape` (the
/// rule's id when the friendly name has no shape).
fn cause(c: &Finding, sep: &str) -> String {
    format!(
        "{}{sep}{}",
        c.thumbprint,
        c.shape.unwrap_or(c.rule.as_str())
    )
}

/// The tables and summary lines `certmig fleet --inventory` prints.
pub fn human(r: &InventoryReport) -> String {
    let mut t = table();
    t.set_header([
        "machine",
        "certificates",
        "prediction",
        "step",
        "HRESULT",
        "certificates causing it",
        "action",
    ]);
    for m in &r.machines {
        let causes: Vec<String> = m.causes.iter().map(|c| cause(c, " ")).collect();
        t.add_row([
            m.machine.clone(),
            m.certificates.to_string(),
            m.prediction.as_str().to_owned(),
            m.step.unwrap_or("").to_owned(),
            m.hresult.map(|h| h.to_string()).unwrap_or_default(),
            causes.join("\n"),
            m.action.as_str().to_owned(),
        ]);
    }
    let mut out = format!(
        "target {}{}; sources with KB974571: {}; clients with 977203: {}; site has 977384: {}\n",
        r.target,
        if r.target_kb974571 {
            " + KB974571 before restore"
        } else {
            ""
        },
        r.assumptions.source_kb974571,
        r.assumptions.client_hotfix_977203,
        if r.assumptions.site_has_977384 {
            "yes"
        } else {
            "no"
        }
    );
    out.push_str(&format!("{t}\n"));
    if !r.unreadable.is_empty() {
        let mut u = table();
        u.set_header(["unreadable export", "line", "offset", "error"]);
        for x in &r.unreadable {
            u.add_row([
                x.file.clone(),
                x.line.map(|l| l.to_string()).unwrap_or_default(),
                x.offset.map(|o| o.to_string()).unwrap_or_default(),
                x.error.clone(),
            ]);
        }
        out.push_str(&format!("{u}\n"));
    }
    let s = &r.summary;
    out.push_str(&format!(
        "{} export(s): {} readable, {} unreadable; {} will fail ({} at capture, {} at restore), {} latent; {} bad certificate(s)\n",
        s.exports,
        s.readable,
        s.unreadable,
        s.will_fail,
        s.by_prediction.get("capture-failed").copied().unwrap_or(0),
        s.by_prediction.get("restore-failed").copied().unwrap_or(0),
        s.by_prediction.get("success-latent").copied().unwrap_or(0),
        s.bad_certificates
    ));
    let actions: Vec<String> = s
        .by_action
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(a, n)| format!("{a}: {n}"))
        .collect();
    out.push_str(&format!("actions: {}\n", actions.join(", ")));
    let named: Vec<String> = r
        .machines
        .iter()
        .filter(|m| !m.names.is_empty())
        .map(|m| {
            let rules: std::collections::BTreeSet<&str> =
                m.names.iter().map(|n| n.rule.as_str()).collect();
            let rules: Vec<&str> = rules.into_iter().collect();
            format!("{} ({})", m.machine, rules.join(", "))
        })
        .collect();
    if !named.is_empty() {
        out.push_str(&format!(
            "name findings (they import; MS09-056 changes how their names are compared and displayed): {}\n",
            named.join("; ")
        ));
    }
    if !r.ignored.is_empty() {
        out.push_str(&format!(
            "not read (directories, hidden files): {}\n",
            r.ignored.join(", ")
        ));
    }
    out
}

/// One row of `fleet --inventory --csv`: an export, readable or not (an
/// unreadable one has only its names, its status and the error).
#[derive(Debug, Serialize)]
pub struct ExportRow<'a> {
    pub machine: &'a str,
    pub file: &'a str,
    /// `ok` or `unreadable`.
    pub status: &'static str,
    pub prediction: Option<&'static str>,
    pub step: Option<&'static str>,
    pub hresult: Option<String>,
    pub certificates: Option<usize>,
    pub bad_certificates: Option<usize>,
    /// `THUMBPRINT:shape`, space separated.
    pub causes: Option<String>,
    pub action: Option<&'static str>,
    /// Why the export could not be read (the message names the line or
    /// byte offset itself).
    pub error: Option<&'a str>,
}

/// The header of [`csv`] (the field names of [`ExportRow`]; a test checks).
pub const CSV_HEADER: [&str; 11] = [
    "machine",
    "file",
    "status",
    "prediction",
    "step",
    "hresult",
    "certificates",
    "bad_certificates",
    "causes",
    "action",
    "error",
];

/// The rows of [`csv`], sorted by file name.
pub fn csv_rows(r: &InventoryReport) -> Vec<ExportRow<'_>> {
    let mut rows: Vec<ExportRow<'_>> = r
        .machines
        .iter()
        .map(|m| ExportRow {
            machine: &m.machine,
            file: &m.file,
            status: "ok",
            prediction: Some(m.prediction.as_str()),
            step: Some(m.step.unwrap_or("")),
            hresult: Some(m.hresult.map(|h| h.to_string()).unwrap_or_default()),
            certificates: Some(m.certificates),
            bad_certificates: Some(m.causes.len()),
            causes: Some(
                m.causes
                    .iter()
                    .map(|c| cause(c, ":"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            action: Some(m.action.as_str()),
            error: None,
        })
        .chain(r.unreadable.iter().map(|u| ExportRow {
            machine: &u.machine,
            file: &u.file,
            status: "unreadable",
            prediction: None,
            step: None,
            hresult: None,
            certificates: None,
            bad_certificates: None,
            causes: None,
            action: None,
            error: Some(&u.error),
        }))
        .collect();
    rows.sort_by(|a, b| a.file.cmp(b.file));
    rows
}

/// One CSV row per export, readable or not (RFC 4180, CRLF).
pub fn csv(r: &InventoryReport) -> String {
    crate::csv_string(&CSV_HEADER, csv_rows(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_header_is_the_row_type_s_field_names() {
        let row = ExportRow {
            machine: "PC0001",
            file: "PC0001.reg",
            status: "unreadable",
            prediction: None,
            step: None,
            hresult: None,
            certificates: None,
            bad_certificates: None,
            causes: None,
            action: None,
            error: Some("line 1: bad"),
        };
        let text = crate::csv_string(&CSV_HEADER, [row]);
        assert_eq!(
            text,
            format!(
                "{}\r\nPC0001,PC0001.reg,unreadable,,,,,,,,line 1: bad\r\n",
                CSV_HEADER.join(",")
            )
        );
    }
}
