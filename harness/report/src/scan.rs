//! `certmig scan`'s human listing: per file, every certificate with its
//! friendly name, properties, key container, signature, import verdicts and
//! name findings; the errors of a file go to stderr, so they come
//! separately.

use std::fmt::{self, Write as _};

use certmig_format::{friendly_name, thumbprint, FileFormat};
use certmig_model::cryptoapi::{Hresult, Verdict};
use certmig_stores::scan::{
    CertificateRecord, CertificateReport, ErrorReport, FileReport, FileStart, ScanReport, ScanSink,
    ScanTotals,
};

/// One file's listing (for stdout).
pub fn file(f: &FileReport) -> String {
    let mut out = file_header(&f.path, f.format, f.certificates.len());
    for c in &f.certificates {
        certificate(c, &mut out);
    }
    out
}

/// The first line of a file's listing: path, format and count.
pub fn file_header(path: &str, format: Option<FileFormat>, count: usize) -> String {
    let fmt = format.map(|x| x.as_str()).unwrap_or("?");
    let count = crate::text::group_digits(count as u64);
    format!("{path} ({fmt}): {count} certificate(s)\n")
}

/// One certificate of a file's listing, appended to `out`.
pub fn certificate(c: &CertificateReport, out: &mut String) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = writeln!(out, "  {}  {}", c.thumbprint, c.subject);
    let _ = writeln!(out, "    issuer         {}", c.issuer);
    let _ = writeln!(
        out,
        "    serial         {}\n    valid          {} to {}",
        c.serial_number.as_deref().unwrap_or("?"),
        c.not_before.as_deref().unwrap_or("?"),
        c.not_after.as_deref().unwrap_or("?")
    );
    match (&c.friendly_name, c.friendly_name_shape) {
        (Some(n), Some(s)) => {
            let _ = writeln!(out, "    friendly name  \"{n}\"  ({s})");
        }
        _ => out.push_str("    friendly name  (none)\n"),
    }
    out.push_str("    properties     ");
    for (i, id) in c.property_ids.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{id}");
    }
    let _ = writeln!(
        out,
        "    key container {}    signature {}",
        c.key_container.as_deref().unwrap_or("(none)"),
        match c.signature_valid {
            None => "not checked",
            Some(true) => "valid",
            Some(false) => "NOT valid",
        }
    );
    let _ = writeln!(
        out,
        "    import         legacy: {}    ms09-056: {}",
        c.verdicts.legacy, c.verdicts.ms09_056
    );
    for r in &c.rejections {
        let _ = writeln!(
            out,
            "      {} refused by {} ({}): {}",
            r.rules, r.rule, r.hresult, r.offence
        );
    }
    for n in &c.names {
        let _ = name_line(out, n);
    }
}

/// One name finding of the human listing (two lines).
fn name_line<W: fmt::Write + ?Sized>(
    w: &mut W,
    n: &certmig_stores::scan::NameFindingReport,
) -> fmt::Result {
    writeln!(
        w,
        "    name           {} ({}{}): {}\n      legacy: {}    ms09-056: {}",
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
    )
}

/// A `fmt::Write` appending to bytes.
struct Bytes<'a>(&'a mut Vec<u8>);

impl fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Appends `value` (a UTF-16LE name, valid UTF-16) as text.
fn utf16_to<W: fmt::Write>(units: &[u8], w: &mut W) -> fmt::Result {
    friendly_name::decode_to(units, w)
}

/// Appends a verdict as its `Display` gives it: `ok` or `0x80092024`.
fn push_verdict(out: &mut Vec<u8>, v: Verdict) {
    match v {
        Verdict::Ok => out.extend_from_slice(b"ok"),
        Verdict::Rejected(h) => push_hresult(out, h),
    }
}

/// Appends an HRESULT as its `Display` gives it: `0x` and eight lower-case
/// hex digits.
fn push_hresult(out: &mut Vec<u8>, h: Hresult) {
    out.extend_from_slice(b"0x");
    for b in h.0.to_be_bytes() {
        out.extend_from_slice(&certmig_format::hex::lower_pair(b));
    }
}

fn signature_text(c: &CertificateRecord<'_>) -> &'static str {
    if !c.signature_checked {
        "not checked"
    } else if c.signature_valid {
        "valid"
    } else {
        "NOT valid"
    }
}

/// [`certificate`] of the record's report, written from the record itself
/// (nothing allocated unless the certificate has name findings).
pub fn certificate_record(c: &CertificateRecord<'_>, out: &mut Vec<u8>) {
    // Writing to a byte vector cannot fail.
    let _ = certificate_record_fmt(c, &mut Bytes(out));
}

fn certificate_record_fmt(c: &CertificateRecord<'_>, w: &mut Bytes<'_>) -> fmt::Result {
    w.write_str("  ")?;
    thumbprint::hex_upper_to(&c.thumbprint.0, w.0);
    w.write_str("  ")?;
    c.write_subject(w)?;
    w.write_str("\n    issuer         ")?;
    c.write_issuer(w)?;
    // Serial and validity written from the walked DER (nothing allocated).
    let view = c.view.as_ref().ok();
    w.write_str("\n    serial         ")?;
    match view {
        Some(v) => certmig_format::hex::upper_to(v.serial.value, w.0),
        None => w.write_str("?")?,
    }
    w.write_str("\n    valid          ")?;
    match view.and_then(|v| v.validity.as_ref()) {
        Some([from, to]) => {
            certmig_format::der::write_time(from, w)?;
            w.write_str(" to ")?;
            certmig_format::der::write_time(to, w)?;
        }
        None => w.write_str("? to ?")?,
    }
    match c.friendly_name {
        Some(v) => {
            w.write_str("\n    friendly name  \"")?;
            friendly_name::escape_to(v, w)?;
            w.write_str("\"  (")?;
            w.write_str(c.friendly_name_shape.map_or("", |s| s.as_str()))?;
            w.write_str(")\n")?;
        }
        None => w.write_str("\n    friendly name  (none)\n")?,
    }
    w.write_str("    properties     ")?;
    for (i, id) in c.property_ids().enumerate() {
        if i > 0 {
            w.write_str(", ")?;
        }
        w.0.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
    }
    w.write_str("    key container ")?;
    match c.key_container_units() {
        Some(units) => utf16_to(units, w)?,
        None => w.write_str("(none)")?,
    }
    w.write_str("    signature ")?;
    w.write_str(signature_text(c))?;
    let v = c.verdicts();
    w.write_str("\n    import         legacy: ")?;
    push_verdict(w.0, v.legacy);
    w.write_str("    ms09-056: ")?;
    push_verdict(w.0, v.ms09_056);
    w.write_str("\n")?;
    for (rules, rule, offence) in c.rejections() {
        w.write_str("      ")?;
        w.write_str(rules.as_str())?;
        w.write_str(" refused by ")?;
        w.write_str(rule.id.as_str())?;
        w.write_str(" (")?;
        push_hresult(w.0, rule.refusal());
        w.write_str("): ")?;
        offence.write_to(w)?;
        w.write_str("\n")?;
    }
    for n in &c.names() {
        name_line(w, n)?;
    }
    Ok(())
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

/// The closing line: files, certificates and errors counted, and the files
/// a walk skipped (no store of any format), if any.
pub fn summary(report: &ScanReport) -> String {
    let errors: usize = report.files.iter().map(|f| f.errors.len()).sum();
    summary_totals(&ScanTotals {
        files: report.files.len(),
        certificates: report.certificate_count(),
        errors,
        skipped: report.skipped.len(),
    })
}

/// The closing line from a streaming scan's totals (the same text as
/// [`summary`]).
pub fn summary_totals(t: &ScanTotals) -> String {
    use crate::text::group_digits;
    let skipped = if t.skipped > 0 {
        format!(
            ", {} skipped (not a certificate store)",
            group_digits(t.skipped as u64)
        )
    } else {
        String::new()
    };
    format!(
        "{} file(s), {} certificate(s), {} error(s){skipped}\n",
        group_digits(t.files as u64),
        group_digits(t.certificates as u64),
        group_digits(t.errors as u64)
    )
}

/// The notes on the files a walk skipped, one line each (for stderr).
pub fn skipped_notes(skipped: &[certmig_stores::scan::Skipped]) -> String {
    skipped
        .iter()
        .map(|s| format!("{}: skipped: {}\n", s.path, s.why))
        .collect()
}

/// The human listing, streamed: each file's listing on `out` as its
/// certificates are judged, its errors on `err` after it, then the summary
/// ([`HumanSink::finish`]). The bytes are those of [`file`], [`file_errors`]
/// and [`summary`].
pub struct HumanSink<O, E> {
    pub out: O,
    pub err: E,
}

impl<O: std::io::Write + Sync, E: std::io::Write + Sync> HumanSink<O, E> {
    pub fn finish(&mut self, t: &ScanTotals) -> std::io::Result<()> {
        self.out.write_all(summary_totals(t).as_bytes())?;
        self.out.flush()
    }
}

impl<O: std::io::Write + Sync, E: std::io::Write + Sync> ScanSink for HumanSink<O, E> {
    fn needs_count(&self) -> bool {
        true
    }
    fn render(&self, _index: usize, c: &CertificateRecord<'_>, out: &mut Vec<u8>) {
        certificate_record(c, out);
    }
    fn file_start(&mut self, f: FileStart<'_>) -> std::io::Result<()> {
        let count = f.count.unwrap_or_default();
        self.out
            .write_all(file_header(f.path, f.format, count).as_bytes())
    }
    fn skipped(&mut self, skipped: &[certmig_stores::scan::Skipped]) -> std::io::Result<()> {
        self.err.write_all(skipped_notes(skipped).as_bytes())?;
        self.err.flush()
    }
    fn rendered(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)
    }
    fn file_end(
        &mut self,
        path: &str,
        _count: usize,
        errors: &[ErrorReport],
    ) -> std::io::Result<()> {
        // A file's errors (stderr) follow its listing (stdout).
        self.out.flush()?;
        let f = FileReport {
            path: path.to_owned(),
            format: None,
            certificates: Vec::new(),
            errors: errors.to_vec(),
        };
        self.err.write_all(file_errors(&f).as_bytes())?;
        self.err.flush()
    }
}

/// `scan --json`, streamed: the bytes of `serde_json::to_string_pretty` of
/// the [`ScanReport`] followed by a newline, written as the certificates are
/// judged.
pub struct JsonSink<O> {
    pub out: O,
    files: usize,
    skipped: Vec<certmig_stores::scan::Skipped>,
}

impl<O: std::io::Write + Sync> JsonSink<O> {
    /// Writes the opening of the document.
    pub fn new(mut out: O) -> std::io::Result<Self> {
        out.write_all(b"{\n  \"files\": [")?;
        Ok(JsonSink {
            out,
            files: 0,
            skipped: Vec::new(),
        })
    }

    /// Writes the closing of the document.
    pub fn finish(mut self) -> std::io::Result<O> {
        self.out
            .write_all(if self.files > 0 { b"\n  ]" } else { b"]" })?;
        let mut b = b",\n  \"skipped\": ".to_vec();
        json_at(&self.skipped, 1, &mut b);
        b.extend_from_slice(b"\n}\n");
        self.out.write_all(&b)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Serializes `value` as `serde_json`'s pretty printer does when the value
/// sits `depth` levels deep in the document.
pub(crate) fn json_at<T: serde::Serialize + ?Sized>(value: &T, depth: usize, out: &mut Vec<u8>) {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, PrettyAt::new(depth));
    // Our reports are plain data: strings, numbers, options, vectors.
    value
        .serialize(&mut ser)
        .expect("a scan report always serializes");
}

impl<O: std::io::Write + Sync> ScanSink for JsonSink<O> {
    fn render(&self, index: usize, c: &CertificateRecord<'_>, out: &mut Vec<u8>) {
        out.extend_from_slice(if index == 0 { b"\n" } else { b",\n" });
        out.extend_from_slice(b"        ");
        // An element of a file's `certificates`, four levels deep.
        json_at(c, 4, out);
    }
    fn file_start(&mut self, f: FileStart<'_>) -> std::io::Result<()> {
        let mut b = Vec::new();
        b.extend_from_slice(if self.files == 0 { b"\n" } else { b",\n" });
        b.extend_from_slice(b"    {\n      \"path\": ");
        json_at(f.path, 3, &mut b);
        b.extend_from_slice(b",\n      \"format\": ");
        json_at(&f.format, 3, &mut b);
        b.extend_from_slice(b",\n      \"certificates\": [");
        self.files += 1;
        self.out.write_all(&b)
    }
    fn rendered(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)
    }
    fn skipped(&mut self, skipped: &[certmig_stores::scan::Skipped]) -> std::io::Result<()> {
        self.skipped = skipped.to_vec();
        Ok(())
    }
    fn file_end(
        &mut self,
        _path: &str,
        count: usize,
        errors: &[ErrorReport],
    ) -> std::io::Result<()> {
        let mut b = Vec::new();
        b.extend_from_slice(if count > 0 { b"\n      ]" } else { b"]" });
        b.extend_from_slice(b",\n      \"errors\": ");
        json_at(errors, 3, &mut b);
        b.extend_from_slice(b"\n    }");
        self.out.write_all(&b)
    }
}

/// `serde_json::ser::PrettyFormatter` (two-space indent) starting at a given
/// depth, so one value of a document can be written on its own with the
/// bytes the whole document would have.
struct PrettyAt {
    indent: usize,
    has_value: bool,
}

impl PrettyAt {
    fn new(depth: usize) -> Self {
        PrettyAt {
            indent: depth,
            has_value: false,
        }
    }
    /// Writes `,` (unless `first`), a new line and the indentation, in one
    /// write (the usual depth; deeper documents in pieces).
    fn separator<W: ?Sized + std::io::Write>(&self, w: &mut W, first: bool) -> std::io::Result<()> {
        const SEPARATOR: &[u8] = b",\n                                ";
        let from = usize::from(first);
        match SEPARATOR.get(from..2 + 2 * self.indent) {
            Some(s) => w.write_all(s),
            None => {
                w.write_all(&SEPARATOR[from..2])?;
                (0..self.indent).try_for_each(|_| w.write_all(b"  "))
            }
        }
    }
}

impl serde_json::ser::Formatter for PrettyAt {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.indent += 1;
        self.has_value = false;
        w.write_all(b"[")
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.indent -= 1;
        if self.has_value {
            self.separator(w, true)?;
        }
        w.write_all(b"]")
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.separator(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.indent += 1;
        self.has_value = false;
        w.write_all(b"{")
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.indent -= 1;
        if self.has_value {
            self.separator(w, true)?;
        }
        w.write_all(b"}")
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.separator(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}
