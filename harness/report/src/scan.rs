//! `certmig scan`'s human listing: per file, every certificate with its
//! friendly name, properties, key container, signature, import verdicts and
//! name findings; the errors of a file go to stderr, so they come
//! separately.

use certmig_engine::scan::{
    CertificateReport, ErrorReport, FileReport, FileStart, ScanReport, ScanSink, ScanTotals,
};
use certmig_format::FileFormat;

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
    format!("{path} ({fmt}): {count} certificate(s)\n")
}

/// One certificate of a file's listing, appended to `out`.
pub fn certificate(c: &CertificateReport, out: &mut String) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = writeln!(out, "  {}  {}", c.thumbprint, c.subject);
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
        if !c.signature_checked {
            "not checked"
        } else if c.signature_valid {
            "valid"
        } else {
            "NOT valid"
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
        let _ = writeln!(
            out,
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
        );
    }
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

/// The closing line from a streaming scan's totals (the same text as
/// [`summary`]).
pub fn summary_totals(t: &ScanTotals) -> String {
    format!(
        "{} file(s), {} certificate(s), {} error(s)\n",
        t.files, t.certificates, t.errors
    )
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
    fn render(&self, _index: usize, c: &CertificateReport, out: &mut Vec<u8>) {
        thread_local! {
            static TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        TEXT.with_borrow_mut(|s| {
            s.clear();
            certificate(c, s);
            out.extend_from_slice(s.as_bytes());
        });
    }
    fn file_start(&mut self, f: FileStart<'_>) -> std::io::Result<()> {
        let count = f.count.unwrap_or_default();
        self.out
            .write_all(file_header(f.path, f.format, count).as_bytes())
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
}

impl<O: std::io::Write + Sync> JsonSink<O> {
    /// Writes the opening of the document.
    pub fn new(mut out: O) -> std::io::Result<Self> {
        out.write_all(b"{\n  \"files\": [")?;
        Ok(JsonSink { out, files: 0 })
    }

    /// Writes the closing of the document.
    pub fn finish(mut self) -> std::io::Result<O> {
        self.out.write_all(if self.files > 0 {
            b"\n  ]\n}\n"
        } else {
            b"]\n}\n"
        })?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Serializes `value` as `serde_json`'s pretty printer does when the value
/// sits `depth` levels deep in the document.
fn json_at<T: serde::Serialize + ?Sized>(value: &T, depth: usize, out: &mut Vec<u8>) {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, PrettyAt::new(depth));
    // Our reports are plain data: strings, numbers, options, vectors.
    value
        .serialize(&mut ser)
        .expect("a scan report always serializes");
}

impl<O: std::io::Write + Sync> ScanSink for JsonSink<O> {
    fn render(&self, index: usize, c: &CertificateReport, out: &mut Vec<u8>) {
        out.extend_from_slice(if index == 0 { b"\n" } else { b",\n" });
        out.extend_from_slice(b"        ");
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
    fn newline_indent<W: ?Sized + std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        const SPACES: &[u8] = b"\n                                ";
        match SPACES.get(..1 + 2 * self.indent) {
            Some(s) => w.write_all(s),
            None => {
                w.write_all(b"\n")?;
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
            self.newline_indent(w)?;
        }
        w.write_all(b"]")
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline_indent(w)
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
            self.newline_indent(w)?;
        }
        w.write_all(b"}")
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline_indent(w)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}
