//! `certmig fix`'s human report: one line per listed certificate (its
//! friendly name before and after, escaped), a count of the rest, the
//! warnings, and what was written.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::str::FromStr;

use serde::ser::{Error as _, SerializeSeq, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};

use certmig_fix::{FixReport, RepairSink};
use certmig_format::friendly_name;
use certmig_format::repair::CertificateRepair;
use certmig_format::Thumbprint;

/// The human listing's sink: keeps the first `cap` certificates' repairs
/// (the report's counts cover every certificate).
#[derive(Debug, Default)]
pub struct Listing {
    cap: usize,
    kept: Vec<CertificateRepair>,
}

impl Listing {
    pub fn new(cap: usize) -> Self {
        Listing {
            cap,
            kept: Vec::new(),
        }
    }
}

impl RepairSink for Listing {
    fn certificate(&mut self, _: usize, repair: CertificateRepair) {
        if self.kept.len() < self.cap {
            self.kept.push(repair);
        }
    }
}

/// The report for stdout (the certificates `listed`, a count of the rest,
/// the totals, what was written), and the warnings for stderr (one
/// `warning: ...` line each).
pub fn human(report: &FixReport, listed: &Listing) -> (String, String) {
    let mut out = String::new();
    let esc = |v: &Option<Vec<u8>>| {
        v.as_deref()
            .map(friendly_name::escape)
            .unwrap_or_else(|| "(none)".into())
    };
    for c in &listed.kept {
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
    if report.certificates_total > listed.kept.len() {
        let _ = writeln!(
            out,
            "... {} more certificate(s) not listed",
            crate::text::group_digits((report.certificates_total - listed.kept.len()) as u64)
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
        crate::text::group_digits(report.certificates_changed as u64),
        crate::text::group_digits(report.certificates_total as u64),
        report.format,
        report.policy
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

/// `fix --json`: the report with every certificate's repair in its
/// `certificates` array, serialized by serde (`certificates` is any
/// sequence: a slice, or [`SpilledRepairs`]).
pub struct FixJson<'a, C> {
    pub report: &'a FixReport,
    pub certificates: C,
}

impl<C: Serialize> Serialize for FixJson<'_, C> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.report;
        let mut m = s.serialize_struct("FixReport", 10)?;
        m.serialize_field("input", &r.input)?;
        m.serialize_field("format", &r.format)?;
        m.serialize_field("policy", &r.policy)?;
        m.serialize_field("dry_run", &r.dry_run)?;
        m.serialize_field("certificates_total", &r.certificates_total)?;
        m.serialize_field("certificates_changed", &r.certificates_changed)?;
        m.serialize_field("certificates", &self.certificates)?;
        m.serialize_field("warnings", &r.warnings)?;
        m.serialize_field("wrote", &r.wrote)?;
        m.serialize_field("backup", &r.backup)?;
        m.end()
    }
}

/// The JSON report's sink: every certificate's repair goes, as it is made,
/// to an anonymous temporary file (one JSON line each; deleted when the
/// spill is dropped), so a report of a million certificates costs no memory
/// per certificate. [`JsonSpill::read_back`] reads them back, one at a
/// time, into the report.
pub struct JsonSpill {
    file: BufWriter<File>,
    count: usize,
    error: Option<io::Error>,
}

/// One spilled line: a repair's data, without the escaped names (those are
/// made once, when the report is written).
#[derive(Serialize, Deserialize)]
struct Spilled {
    thumbprint: String,
    before_hex: Option<String>,
    after_hex: Option<String>,
    changed: bool,
    warning: Option<String>,
}

impl From<CertificateRepair> for Spilled {
    fn from(r: CertificateRepair) -> Self {
        Spilled {
            thumbprint: r.thumbprint.to_hex(),
            before_hex: r.before.as_deref().map(hex::encode_upper),
            after_hex: r.after.as_deref().map(hex::encode_upper),
            changed: r.changed,
            warning: r.warning,
        }
    }
}

impl JsonSpill {
    /// A spill in a new anonymous temporary file (in the system's
    /// temporary directory).
    pub fn new() -> io::Result<Self> {
        Ok(JsonSpill {
            file: BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
            count: 0,
            error: None,
        })
    }

    /// The repairs spilled so far, to be read back as the report is
    /// written. A write to the temporary file that failed during the run
    /// (a full disk where the temporary files go) is reported here, apart
    /// from any failure to write the report itself.
    pub fn read_back(mut self) -> io::Result<SpilledRepairs> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.file.flush()?;
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        Ok(SpilledRepairs {
            count: self.count,
            lines: RefCell::new(BufReader::new(file)),
        })
    }
}

/// `fix --json`: `report` with `certificates` (a slice, or
/// [`SpilledRepairs`]) in its `certificates` array, pretty-printed, and a
/// newline.
pub fn write_json(
    report: &FixReport,
    certificates: impl Serialize,
    out: &mut dyn Write,
) -> io::Result<()> {
    let json = FixJson {
        report,
        certificates,
    };
    serde_json::to_writer_pretty(&mut *out, &json).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

impl RepairSink for JsonSpill {
    fn certificate(&mut self, _: usize, repair: CertificateRepair) {
        if self.error.is_some() {
            return;
        }
        let written = serde_json::to_writer(&mut self.file, &Spilled::from(repair))
            .map_err(io::Error::other)
            .and_then(|()| self.file.write_all(b"\n"));
        match written {
            Ok(()) => self.count += 1,
            Err(e) => self.error = Some(e),
        }
    }
}

/// The spilled repairs as a sequence, read back one at a time as it is
/// serialized ([`JsonSpill::read_back`]).
pub struct SpilledRepairs {
    count: usize,
    lines: RefCell<BufReader<File>>,
}

impl Serialize for SpilledRepairs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut lines = self.lines.borrow_mut();
        let mut seq = s.serialize_seq(Some(self.count))?;
        let mut line = String::new();
        for _ in 0..self.count {
            line.clear();
            lines.read_line(&mut line).map_err(S::Error::custom)?;
            let spilled: Spilled = serde_json::from_str(&line).map_err(S::Error::custom)?;
            seq.serialize_element(&repair_of(spilled).map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

fn repair_of(s: Spilled) -> Result<CertificateRepair, String> {
    let bytes = |h: Option<String>| {
        h.map(|h| hex::decode(h).map_err(|e| format!("spilled report: {e}")))
            .transpose()
    };
    Ok(CertificateRepair {
        thumbprint: Thumbprint::from_str(&s.thumbprint)
            .map_err(|e| format!("spilled report: {e}"))?,
        before: bytes(s.before_hex)?,
        after: bytes(s.after_hex)?,
        changed: s.changed,
        warning: s.warning,
    })
}
