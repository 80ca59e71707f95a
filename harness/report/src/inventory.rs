//! A real inventory's readiness (`certmig fleet --inventory`): the tables
//! printed on a terminal and one CSV row per export.

use certmig_sim::fleet::inventory::{
    Action, Assessed, Finding, InventoryReport, MachineReadiness, Unreadable,
};
use serde::Serialize;
use std::borrow::Cow;

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

/// The tables and summary lines `certmig fleet --inventory` prints, for a
/// report that kept its machines.
pub fn human(r: &InventoryReport) -> String {
    let mut t = HumanTable::default();
    for m in &r.machines {
        t.add(m);
    }
    t.render(r)
}

/// Machines listed in the human table at most; the others that need
/// action are counted, and `--csv` lists every machine.
pub const LISTED: usize = 50;

/// What the human report keeps while the machines stream past: the first
/// [`LISTED`] machines that need action (an action other than `none`), how
/// many more need it, and the machines with name findings.
#[derive(Debug, Default)]
pub struct HumanTable {
    listed: Vec<MachineReadiness>,
    more: usize,
    named: Vec<String>,
}

impl HumanTable {
    pub fn add(&mut self, m: &MachineReadiness) {
        if m.action != Action::None {
            if self.listed.len() < LISTED {
                self.listed.push(m.clone());
            } else {
                self.more += 1;
            }
        }
        if !m.names.is_empty() {
            let rules: std::collections::BTreeSet<&str> =
                m.names.iter().map(|n| n.rule.as_str()).collect();
            let rules: Vec<&str> = rules.into_iter().collect();
            self.named
                .push(format!("{} ({})", m.machine, rules.join(", ")));
        }
    }

    /// The tables and summary lines; `r` gives the summary, the assumptions
    /// and the unreadable exports.
    pub fn render(&self, r: &InventoryReport) -> String {
        let mut out = format!(
            "target {}{}; sources with KB974571: {}; clients with 977203: {}; site {}, has 977384: {}\n",
            r.target,
            if r.target_kb974571 {
                " + KB974571 before restore"
            } else {
                ""
            },
            r.assumptions.source_kb974571,
            r.assumptions.client_hotfix_977203,
            r.assumptions.site_version,
            if r.assumptions.site_has_977384 {
                "yes"
            } else {
                "no"
            }
        );
        if self.listed.is_empty() {
            out.push_str("no machine needs action\n");
        } else {
            let mut t = table();
            t.set_header([
                "machine needing action",
                "certificates",
                "prediction",
                "step",
                "HRESULT",
                "certificates causing it",
                "action",
            ]);
            for m in &self.listed {
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
            out.push_str(&format!("{t}\n"));
            if self.more > 0 {
                out.push_str(&format!(
                    "{} more machine(s) need action, not listed here (--csv lists every machine)\n",
                    self.more
                ));
            }
        }
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
        // What each action means, once per action present: CCMCertFix runs
        // on the client before the task sequence (KB 2028442; KB 977203).
        for a in certmig_sim::fleet::inventory::Action::ALL {
            if a != certmig_sim::fleet::inventory::Action::None
                && s.by_action.get(a.as_str()).copied().unwrap_or(0) > 0
            {
                out.push_str(&format!("  {}: {}\n", a.as_str(), a.advice()));
            }
        }
        if let Some(why) = &r.unsupported {
            out.push_str(&format!("unsupported: {why}\n"));
        }
        if !self.named.is_empty() {
            out.push_str(&format!(
                "name findings (they import; MS09-056 changes how their names are compared and displayed): {}\n",
                self.named.join("; ")
            ));
        }
        if !r.ignored.is_empty() {
            out.push_str(&format!(
                "not read (directories, links, FIFOs, sockets, devices, hidden files): {}\n",
                r.ignored.join(", ")
            ));
        }
        out
    }
}

/// One row of `fleet --inventory --csv`: an export, readable or not (an
/// unreadable one has only its names, its status and the error).
#[derive(Debug, Serialize)]
pub struct ExportRow<'a> {
    /// Cells that come from the exports' names are [`spreadsheet_safe`].
    pub machine: Cow<'a, str>,
    pub file: Cow<'a, str>,
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
    pub error: Option<Cow<'a, str>>,
}

/// A cell a spreadsheet would read as a formula (it starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return: a machine named `=HYPERLINK(...)`)
/// gets a leading `'`, which spreadsheets show as text (OWASP's advice for
/// CSV injection); any other cell is kept as it is.
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
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

/// The CSV row of a readable export.
pub fn machine_row(m: &MachineReadiness) -> ExportRow<'_> {
    ExportRow {
        machine: spreadsheet_safe(&m.machine),
        file: spreadsheet_safe(&m.file),
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
    }
}

/// The CSV row of an unreadable export.
pub fn unreadable_row(u: &Unreadable) -> ExportRow<'_> {
    ExportRow {
        machine: spreadsheet_safe(&u.machine),
        file: spreadsheet_safe(&u.file),
        status: "unreadable",
        prediction: None,
        step: None,
        hresult: None,
        certificates: None,
        bad_certificates: None,
        causes: None,
        action: None,
        error: Some(spreadsheet_safe(&u.error)),
    }
}

/// The rows of [`csv`], sorted by file name.
pub fn csv_rows(r: &InventoryReport) -> Vec<ExportRow<'_>> {
    let mut rows: Vec<ExportRow<'_>> = r
        .machines
        .iter()
        .map(machine_row)
        .chain(r.unreadable.iter().map(unreadable_row))
        .collect();
    rows.sort_by(|a, b| a.file.cmp(&b.file));
    rows
}

/// One CSV row per export, readable or not (RFC 4180, CRLF).
pub fn csv(r: &InventoryReport) -> String {
    crate::csv_string(&CSV_HEADER, csv_rows(r))
}

/// [`csv`] written row by row as the exports stream past (in file-name
/// order, as `assess_dir_with` hands them on): the same bytes, without
/// holding the rows.
pub struct CsvStream<W: std::io::Write> {
    w: csv::Writer<W>,
    any: bool,
}

impl<W: std::io::Write> CsvStream<W> {
    pub fn new(w: W) -> Self {
        CsvStream {
            w: crate::csv_writer(w),
            any: false,
        }
    }

    pub fn row(&mut self, a: &Assessed) -> std::io::Result<()> {
        self.any = true;
        let row = match a {
            Ok(m) => machine_row(m),
            Err(u) => unreadable_row(u),
        };
        self.w.serialize(row).map_err(std::io::Error::other)
    }

    /// Writes the header if no row was written, flushes, and returns the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        if !self.any {
            self.w
                .write_record(CSV_HEADER)
                .map_err(std::io::Error::other)?;
        }
        self.w.into_inner().map_err(|e| e.into_error())
    }
}

const STYLE: &str = concat!(
    "body{font-family:Segoe UI,Arial,sans-serif;margin:20px;color:#222;max-width:1300px}",
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 8px}p.sub{margin:0 0 12px;color:#555;font-size:13px}",
    ".cards{display:flex;gap:12px;flex-wrap:wrap}.card{border-radius:6px;padding:10px 16px;min-width:150px;color:#fff}",
    ".card b{display:block;font-size:24px}.card span{font-size:12px}",
    ".total{background:#34495e}.fail{background:#d64541}.latent{background:#f39c12}.ok{background:#2e9d46}",
    ".unsupported{background:#c8c8c8;color:#222}.unreadable{background:#7f4fb3}",
    "table{border-collapse:collapse;font-size:12px;margin-top:6px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}",
    "th{background:#f2f2f2}td.n{text-align:right}code{font-size:11px}",
);

/// `fleet --inventory --html FILE`: one self-contained page an
/// administrator can share: the assumptions, the counts, what each action
/// means (CCMCertFix always before the task sequence), every machine that
/// needs action with the certificates that cause it, the unreadable
/// exports, and the machines with name findings.
pub fn html(r: &InventoryReport) -> String {
    use maud::{html, PreEscaped, DOCTYPE};
    let s = &r.summary;
    let by = |k: &str| s.by_prediction.get(k).copied().unwrap_or(0);
    let needing: Vec<&MachineReadiness> = r
        .machines
        .iter()
        .filter(|m| m.action != Action::None)
        .collect();
    let named: Vec<&MachineReadiness> = r.machines.iter().filter(|m| !m.names.is_empty()).collect();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "certmig inventory readiness" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "certmig: inventory readiness" }
                p.sub {
                    (r.directory) ": target " (r.target)
                    @if r.target_kb974571 { " with KB974571 before Restore User State" }
                    "; sources with KB974571: " (r.assumptions.source_kb974571)
                    "; clients with 977203: " (r.assumptions.client_hotfix_977203)
                    "; site " (r.assumptions.site_version)
                    ", 977384 on the site: " (if r.assumptions.site_has_977384 { "yes" } else { "no" })
                }
                @if let Some(why) = &r.unsupported {
                    p.sub { "unsupported: " (why) }
                }
                div.cards {
                    @for (class, label, n) in [
                        ("total", "exports", s.exports),
                        ("fail", "will fail", s.will_fail),
                        ("latent", "migrate now, fail with the next KB974571", by("success-latent")),
                        ("ok", "ready", by("success")),
                        ("unsupported", "unsupported by the site's USMT", by("unsupported")),
                        ("unreadable", "unreadable exports", s.unreadable),
                    ] {
                        div class=(format!("card {class}")) {
                            b { (crate::text::group_digits(n as u64)) }
                            span { (label) }
                        }
                    }
                }
                h2 { "What to do" }
                table {
                    tr { th { "action" } th { "machines" } th { "what it means" } }
                    @for a in Action::ALL {
                        @let n = s.by_action.get(a.as_str()).copied().unwrap_or(0);
                        @if n > 0 {
                            tr { td { code { (a.as_str()) } } td.n { (n) } td { (a.advice()) } }
                        }
                    }
                }
                h2 { "Machines that need action (" (needing.len()) ")" }
                @if needing.is_empty() {
                    p.sub { "none" }
                } @else {
                    table {
                        tr {
                            th { "machine" } th { "certificates" } th { "prediction" }
                            th { "step" } th { "HRESULT" } th { "certificates causing it" } th { "action" }
                        }
                        @for m in &needing {
                            tr {
                                td { (m.machine) }
                                td.n { (m.certificates) }
                                td { (m.prediction.as_str()) }
                                td { (m.step.unwrap_or("")) }
                                td { (m.hresult.map(|h| h.to_string()).unwrap_or_default()) }
                                td {
                                    @for c in &m.causes {
                                        code { (cause(c, " ")) } br;
                                    }
                                }
                                td { code { (m.action.as_str()) } }
                            }
                        }
                    }
                }
                @if !r.unreadable.is_empty() {
                    h2 { "Unreadable exports (" (r.unreadable.len()) ")" }
                    table {
                        tr { th { "file" } th { "line" } th { "offset" } th { "error" } }
                        @for u in &r.unreadable {
                            tr {
                                td { (u.file) }
                                td.n { (u.line.map(|l| l.to_string()).unwrap_or_default()) }
                                td.n { (u.offset.map(|o| o.to_string()).unwrap_or_default()) }
                                td { (u.error) }
                            }
                        }
                    }
                }
                @if !named.is_empty() {
                    h2 { "Name findings (they import; MS09-056 changes how their names are compared and displayed)" }
                    table {
                        tr { th { "machine" } th { "rules" } }
                        @for m in &named {
                            tr {
                                td { (m.machine) }
                                td {
                                    @for n in &m.names {
                                        code { (n.rule.as_str()) } " " (n.offence) br;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_header_is_the_row_type_s_field_names() {
        let row = ExportRow {
            machine: "PC0001".into(),
            file: "PC0001.reg".into(),
            status: "unreadable",
            prediction: None,
            step: None,
            hresult: None,
            certificates: None,
            bad_certificates: None,
            causes: None,
            action: None,
            error: Some("line 1: bad".into()),
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
