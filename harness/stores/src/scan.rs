//! `certmig scan`: read certificate stores of any format (detected from
//! content) and report, per certificate, what an administrator needs to
//! judge it: thumbprint, subject, friendly name (NULs shown as `\0`) and its
//! shape, property ids, key container, whether the signature verifies, the
//! import verdict under each CryptoAPI rule set, and the name findings
//! (what MS09-056 changes in how its names are compared and displayed).
//!
//! Errors never stop a scan: each file reports its own errors (with byte
//! offset, and line for `.reg`), the certificates read before the error are
//! still listed (for a `.reg`, those whose values end before it:
//! `format::reg::parse_reg_partial`), and other files are still scanned.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cryptoapi::der::{CertificateView, DerError};
use crate::cryptoapi::{self, Hresult, Offence, Rule, RuleSet, Verdict};
use crate::format::{
    self, detect, ContextKind, ElementView, FileFormat, FormatError, Location, PropertyId,
    ReadMode, SerializedElement, Thumbprint,
};

/// Options for a scan.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    pub mode: ReadMode,
    /// Check each certificate's self-signature with openssl (off by default,
    /// as in `certmig scan`: CryptoAPI's import does not check it, and it
    /// costs tens of microseconds per certificate even with each public key
    /// decoded once).
    pub verify_signatures: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            mode: ReadMode::Strict,
            verify_signatures: false,
        }
    }
}

/// The result of scanning some paths: exactly what `scan --json` prints.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScanReport {
    pub files: Vec<FileReport>,
    /// Files met walking a directory that are no certificate store of any
    /// format (a CMTrace log, notes): noted, not read, not an error.
    pub skipped: Vec<Skipped>,
}

impl ScanReport {
    /// True when any file had an error (the CLI exits 2).
    pub fn has_errors(&self) -> bool {
        self.files.iter().any(|f| !f.errors.is_empty())
    }

    pub fn certificate_count(&self) -> usize {
        self.files.iter().map(|f| f.certificates.len()).sum()
    }
}

/// One file.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FileReport {
    pub path: String,
    pub format: Option<FileFormat>,
    pub certificates: Vec<CertificateReport>,
    pub errors: Vec<ErrorReport>,
}

/// One certificate.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CertificateReport {
    pub thumbprint: String,
    pub subject: String,
    /// The issuer, exactly as the subject (NULs as `\0`).
    pub issuer: String,
    /// The serial number, upper-case hex of its encoded bytes (what
    /// `certutil -dump` shows as "Serial Number").
    pub serial_number: Option<String>,
    /// The validity, `YYYY-MM-DD HH:MM:SS UTC` (`None` when the DER does
    /// not hold two times: CryptoAPI's import does not look).
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    /// Escaped text: NUL as `\0`, backslash as `\\`.
    pub friendly_name: Option<String>,
    /// Raw value bytes, upper-case hex.
    pub friendly_name_hex: Option<String>,
    pub friendly_name_shape: Option<format::FriendlyNameShape>,
    pub property_ids: Vec<u32>,
    pub key_container: Option<String>,
    /// Whether the self-signature verifies; `None` (JSON `null`) when it
    /// was not checked ([`ScanOptions::verify_signatures`]).
    pub signature_valid: Option<bool>,
    /// `{"legacy":"ok","ms09-056":"0x80092024"}`.
    pub verdicts: Verdicts,
    /// The friendly name as Windows displayed it before MS09-056.
    pub legacy_display_name: Option<String>,
    /// Which rule refused the certificate, and where, per rule set.
    pub rejections: Vec<RejectionReport>,
    /// What MS09-056 changes in how the certificate's names and OIDs are
    /// compared and displayed (CVE-2009-2510, CVE-2009-2511). These do not
    /// refuse the import.
    pub names: Vec<NameFindingReport>,
}

/// The import verdict under each rule set.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Verdicts {
    pub legacy: Verdict,
    #[serde(rename = "ms09-056")]
    pub ms09_056: Verdict,
}

/// One rejection: the rule set, the rule, and where the offence is.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RejectionReport {
    pub rules: RuleSet,
    pub rule: cryptoapi::RuleId,
    /// No source backs the rule's exact behaviour (docs/BEHAVIOR.md).
    pub modelling_choice: bool,
    pub hresult: Hresult,
    #[serde(rename = "where")]
    pub offence: String,
}

/// One name finding: the rule, where, and what each rule set does.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NameFindingReport {
    pub rule: cryptoapi::RuleId,
    pub kind: cryptoapi::RuleKind,
    /// No source backs the rule's exact behaviour (docs/BEHAVIOR.md).
    pub modelling_choice: bool,
    #[serde(rename = "where")]
    pub offence: String,
    pub legacy: String,
    #[serde(rename = "ms09-056")]
    pub ms09_056: String,
}

impl From<cryptoapi::NameFinding> for NameFindingReport {
    fn from(f: cryptoapi::NameFinding) -> Self {
        NameFindingReport {
            rule: f.rule.id,
            kind: f.rule.kind,
            modelling_choice: f.rule.modelling_choice,
            offence: f.offence.to_string(),
            legacy: f.legacy,
            ms09_056: f.ms09_056,
        }
    }
}

/// One error, located.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErrorReport {
    /// Byte offset in the file (for `.reg`: the start of the line).
    pub offset: Option<usize>,
    /// 1-based line, for `.reg` files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

impl ErrorReport {
    /// A reader's error, located in `bytes` (for `.reg`: the line's offset).
    pub fn from_format(e: &FormatError, bytes: &[u8]) -> Self {
        // The location has fields of its own: the message does not repeat
        // it ("error at line 8: line 8: ..." before).
        let message = e.to_string();
        let without = |prefix: String| {
            message
                .strip_prefix(&prefix)
                .map_or_else(|| message.clone(), str::to_owned)
        };
        match e.location() {
            Location::Offset(o) => ErrorReport {
                offset: Some(o),
                line: None,
                message: without(format!("offset {o}: ")),
            },
            Location::Line(l) => ErrorReport {
                offset: format::reg::line_start_offset(bytes, l),
                line: Some(l),
                message: without(format!("line {l}: ")),
            },
        }
    }

    /// An I/O error (no location).
    pub fn io(e: &std::io::Error) -> Self {
        ErrorReport {
            offset: None,
            line: None,
            message: e.to_string(),
        }
    }
}

/// Scans files and directories (recursively, in sorted order).
pub fn scan_paths(paths: &[PathBuf], opts: ScanOptions) -> ScanReport {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for p in paths {
        collect_stores(p, &mut files, &mut skipped);
    }
    ScanReport {
        skipped,
        files: files
            .into_iter()
            .map(|f| match f {
                Ok(path) => scan_file(&path, opts),
                Err((path, e)) => FileReport {
                    path: path.display().to_string(),
                    format: None,
                    certificates: Vec::new(),
                    errors: vec![ErrorReport::io(&e)],
                },
            })
            .collect(),
    }
}

pub use crate::platform::walk::{collect_files, collect_stores, Collected, Skipped};

/// Scans one file.
pub fn scan_file(path: &Path, opts: ScanOptions) -> FileReport {
    let display = path.display().to_string();
    match crate::platform::read_store(path, &format::Limits::default()) {
        Ok(bytes) => {
            let file_name = path.file_stem().and_then(|s| s.to_str());
            scan_bytes(&display, &bytes, file_name, opts)
        }
        Err(e) => {
            let (format, error) = unread(&e);
            FileReport {
                path: display,
                format,
                certificates: Vec::new(),
                errors: vec![error],
            }
        }
    }
}

/// The format and error of a file [`crate::platform::read_store`] did not
/// read.
pub(crate) fn unread(e: &crate::platform::StoreFileError) -> (Option<FileFormat>, ErrorReport) {
    match e {
        crate::platform::StoreFileError::Io(e) => (None, ErrorReport::io(e)),
        crate::platform::StoreFileError::Format(e) => {
            (Some(FileFormat::Blob), ErrorReport::from_format(e, &[]))
        }
    }
}

/// Reports one element (what `scan` lists per certificate).
pub fn report_element(e: &SerializedElement<'_>, opts: ScanOptions) -> CertificateReport {
    let mut scratch = CertificateView::empty();
    CertificateRecord::of_element(e, &mut scratch, opts).to_report()
}

/// Scans in-memory bytes; `name` is the file stem (a `.blob` file's stem
/// must be its certificate's thumbprint when it looks like one).
pub fn scan_bytes(path: &str, bytes: &[u8], name: Option<&str>, opts: ScanOptions) -> FileReport {
    let format = detect(bytes);
    let mut report = FileReport {
        path: path.to_owned(),
        format: Some(format),
        certificates: Vec::new(),
        errors: Vec::new(),
    };
    for item in file_elements(format, bytes, name, opts.mode).0 {
        match item {
            Ok(e) => report.certificates.push(report_element(&e, opts)),
            Err(e) => report.errors.push(ErrorReport::from_format(&e, bytes)),
        }
    }
    report
}

// ---------------------------------------------------------------------------
// Records: one certificate's report as views over the input bytes, for the
// streamed output (no owned strings, nothing allocated per certificate in
// the usual case). [`CertificateRecord::to_report`] gives the
// [`CertificateReport`] it stands for.
// ---------------------------------------------------------------------------

/// Where a record's property ids come from.
#[derive(Clone, Copy)]
enum Props<'a> {
    Parsed(&'a [format::Property<'a>]),
    Raw(ElementView<'a>),
}

/// One certificate as `scan` reports it, borrowed from the element it was
/// read from: the fields of a [`CertificateReport`], each computed or
/// written on demand (see [`CertificateRecord::to_report`]).
pub struct CertificateRecord<'a> {
    pub thumbprint: Thumbprint,
    pub kind: ContextKind,
    /// The raw friendly-name value (property 11), if any.
    pub friendly_name: Option<&'a [u8]>,
    /// Its shape.
    pub friendly_name_shape: Option<format::FriendlyNameShape>,
    /// The raw key provider info (property 2), if any.
    key_prov_info: Option<&'a [u8]>,
    props: Props<'a>,
    /// The DER walked once (whatever the element's kind).
    pub view: Result<&'a CertificateView<'a>, DerError>,
    /// The refusal under each rule set, legacy then ms09-056.
    pub refusals: [Option<(&'static Rule, Offence)>; 2],
    /// False when the signature was not checked (see `signature_checked`).
    pub signature_valid: bool,
    pub signature_checked: bool,
}

impl<'a> CertificateRecord<'a> {
    /// The record of a parsed element; `scratch` (reused from element to
    /// element) holds its walked DER.
    pub fn of_element<'e: 'a>(
        e: &'e SerializedElement<'_>,
        scratch: &'a mut CertificateView<'e>,
        opts: ScanOptions,
    ) -> Self {
        Self::build(
            &e.der,
            e.kind,
            e.friendly_name(),
            e.property(PropertyId::KeyProvInfo).map(|p| &p.value[..]),
            Props::Parsed(&e.properties),
            scratch,
            opts,
        )
    }

    /// The record of an element read without allocating.
    pub fn of_view<'e: 'a>(
        e: ElementView<'e>,
        scratch: &'a mut CertificateView<'e>,
        opts: ScanOptions,
    ) -> Self {
        Self::build(
            e.der,
            e.kind,
            e.friendly_name,
            e.key_prov_info,
            Props::Raw(e),
            scratch,
            opts,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn build<'e: 'a>(
        der: &'e [u8],
        kind: ContextKind,
        friendly_name: Option<&'e [u8]>,
        key_prov_info: Option<&'e [u8]>,
        props: Props<'e>,
        scratch: &'a mut CertificateView<'e>,
        opts: ScanOptions,
    ) -> Self {
        let walked = scratch.parse_in(der);
        let view: &'a CertificateView<'e> = scratch;
        let view = walked.map(|()| view);
        let refusals = cryptoapi::refusals_of(kind, view.as_ref().err(), friendly_name);
        CertificateRecord {
            thumbprint: Thumbprint::of(der),
            kind,
            friendly_name,
            friendly_name_shape: friendly_name.map(format::friendly_name::classify),
            key_prov_info,
            props,
            view,
            refusals,
            signature_valid: opts.verify_signatures && crate::cert::verify_signature_cached(der),
            signature_checked: opts.verify_signatures,
        }
    }

    /// The property ids in file order.
    pub fn property_ids(&self) -> impl Iterator<Item = u32> + 'a {
        let (parsed, raw) = match self.props {
            Props::Parsed(p) => (Some(p.iter().map(|p| p.id.to_u32())), None),
            Props::Raw(v) => (None, Some(v.property_ids())),
        };
        parsed
            .into_iter()
            .flatten()
            .chain(raw.into_iter().flatten())
    }

    /// Writes the subject exactly (NULs as `\0`); nothing when the DER
    /// cannot be walked.
    pub fn write_subject<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        match &self.view {
            Ok(v) => cryptoapi::write_name(&v.subject, false, w),
            Err(_) => Ok(()),
        }
    }

    /// The key container name as UTF-16LE code units (valid UTF-16), when
    /// the key provider info decodes and names one.
    pub fn key_container_units(&self) -> Option<&'a [u8]> {
        self.key_prov_info
            .and_then(format::key_prov_info::container_units)
    }

    /// The import verdict under each rule set.
    pub fn verdicts(&self) -> Verdicts {
        let v = |r: &Option<(&'static Rule, Offence)>| match r {
            None => Verdict::Ok,
            Some((rule, _)) => Verdict::Rejected(rule.refusal()),
        };
        Verdicts {
            legacy: v(&self.refusals[0]),
            ms09_056: v(&self.refusals[1]),
        }
    }

    /// Each refusal: the rule set, the rule and where.
    pub fn rejections(&self) -> impl Iterator<Item = (RuleSet, &'static Rule, &Offence)> + '_ {
        RuleSet::ALL
            .into_iter()
            .zip(&self.refusals)
            .filter_map(|(rules, r)| r.as_ref().map(|(rule, offence)| (rules, *rule, offence)))
    }

    /// The name findings (empty, without allocating, for the usual
    /// certificate that has none).
    pub fn names(&self) -> Vec<NameFindingReport> {
        match (self.kind, &self.view) {
            (ContextKind::Certificate, Ok(view)) if cryptoapi::may_have_name_findings(view) => {
                cryptoapi::name_findings_in(view)
                    .into_iter()
                    .map(NameFindingReport::from)
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Writes the issuer exactly (NULs as `\0`); nothing when the DER
    /// cannot be walked.
    pub fn write_issuer<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        match &self.view {
            Ok(v) => cryptoapi::write_name(&v.issuer, false, w),
            Err(_) => Ok(()),
        }
    }

    /// The report this record stands for: each text written by the same
    /// function as the record's JSON writes it.
    pub fn to_report(&self) -> CertificateReport {
        fn text(write: impl FnOnce(&mut String) -> fmt::Result) -> String {
            let mut s = String::new();
            // Writing to a String cannot fail.
            let _ = write(&mut s);
            s
        }
        let view = self.view.as_ref().ok();
        let validity = view.and_then(|v| v.validity.as_ref());
        let time = |i: usize| validity.map(|t| text(|w| format::der::write_time(&t[i], w)));
        let fname = self.friendly_name;
        CertificateReport {
            thumbprint: self.thumbprint.to_hex(),
            subject: text(|w| self.write_subject(w)),
            issuer: text(|w| self.write_issuer(w)),
            serial_number: view.map(|v| format::hex::upper(v.serial.value)),
            not_before: time(0),
            not_after: time(1),
            friendly_name: fname.map(|v| text(|w| format::friendly_name::escape_to(v, w))),
            friendly_name_hex: fname.map(format::hex::upper),
            friendly_name_shape: self.friendly_name_shape,
            property_ids: self.property_ids().collect(),
            key_container: self
                .key_container_units()
                .map(|u| text(|w| format::friendly_name::decode_to(u, w))),
            signature_valid: self.signature_checked.then_some(self.signature_valid),
            verdicts: self.verdicts(),
            legacy_display_name: fname.map(|v| text(|w| format::friendly_name::displayed_to(v, w))),
            rejections: self
                .rejections()
                .map(|(rules, rule, offence)| RejectionReport {
                    rules,
                    rule: rule.id,
                    modelling_choice: rule.modelling_choice,
                    hresult: rule.refusal(),
                    offence: offence.to_string(),
                })
                .collect(),
            names: self.names(),
        }
    }
}

/// Text written by a closure, serialized as a string: the closure writes
/// into a scratch buffer of the thread (reused from field to field and from
/// certificate to certificate, so nothing is allocated for the usual text),
/// which is then serialized as a `str`.
struct Text<F>(F);

impl<F: Fn(&mut String) -> fmt::Result> Serialize for Text<F> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        use std::cell::RefCell;
        thread_local! {
            static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
        }
        SCRATCH.with(|cell| {
            let mut own = String::new();
            // Text inside text (none today) gets a buffer of its own.
            let mut shared = cell.try_borrow_mut();
            let buf = match &mut shared {
                Ok(b) => &mut **b,
                Err(_) => &mut own,
            };
            buf.clear();
            (self.0)(buf).map_err(|_| S::Error::custom("text could not be written"))?;
            s.serialize_str(buf)
        })
    }
}

/// Upper-case hex of some bytes, as a string.
struct HexUpper<'a>(&'a [u8]);

impl Serialize for HexUpper<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // On the stack up to 256 bytes (a thumbprint, a serial number, the
        // usual friendly name); longer values are rare.
        let mut buf = [0u8; 512];
        if self.0.len() <= buf.len() / 2 {
            s.serialize_str(format::hex::upper_into(self.0, &mut buf))
        } else {
            s.serialize_str(&format::hex::upper(self.0))
        }
    }
}

/// A sequence serialized from an iterator made anew each time.
struct Seq<F>(F);

impl<I: Iterator, F: Fn() -> I> Serialize for Seq<F>
where
    I::Item: Serialize,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

/// One rejection of a record, borrowed: what [`RejectionReport`] holds.
struct RejectionRef<'r> {
    rules: RuleSet,
    rule: &'static Rule,
    offence: &'r Offence,
}

impl Serialize for RejectionRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("RejectionReport", 5)?;
        m.serialize_field("rules", &self.rules)?;
        m.serialize_field("rule", &self.rule.id)?;
        m.serialize_field("modelling_choice", &self.rule.modelling_choice)?;
        m.serialize_field("hresult", &self.rule.refusal())?;
        m.serialize_field("where", &Text(|w: &mut String| self.offence.write_to(w)))?;
        m.end()
    }
}

/// A record serializes as the [`CertificateReport`] it stands for (the same
/// fields in the same order, so the same JSON), written from the record
/// itself: the strings are escaped as they are written, and nothing is
/// allocated per certificate unless it has name findings.
impl Serialize for CertificateRecord<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let fname = self.friendly_name;
        let view = self.view.as_ref().ok();
        let validity = view.and_then(|v| v.validity.as_ref());
        let time = |i: usize| {
            validity.map(|t| Text(move |w: &mut String| format::der::write_time(&t[i], w)))
        };
        let mut m = s.serialize_struct("CertificateReport", 17)?;
        m.serialize_field("thumbprint", &HexUpper(&self.thumbprint.0))?;
        m.serialize_field("subject", &Text(|w: &mut String| self.write_subject(w)))?;
        m.serialize_field("issuer", &Text(|w: &mut String| self.write_issuer(w)))?;
        m.serialize_field("serial_number", &view.map(|v| HexUpper(v.serial.value)))?;
        m.serialize_field("not_before", &time(0))?;
        m.serialize_field("not_after", &time(1))?;
        m.serialize_field(
            "friendly_name",
            &fname.map(|v| Text(move |w: &mut String| format::friendly_name::escape_to(v, w))),
        )?;
        m.serialize_field("friendly_name_hex", &fname.map(HexUpper))?;
        m.serialize_field("friendly_name_shape", &self.friendly_name_shape)?;
        m.serialize_field("property_ids", &Seq(|| self.property_ids()))?;
        m.serialize_field(
            "key_container",
            &self
                .key_container_units()
                .map(|u| Text(move |w: &mut String| format::friendly_name::decode_to(u, w))),
        )?;
        m.serialize_field(
            "signature_valid",
            &self.signature_checked.then_some(self.signature_valid),
        )?;
        m.serialize_field("verdicts", &self.verdicts())?;
        m.serialize_field(
            "legacy_display_name",
            &fname.map(|v| Text(move |w: &mut String| format::friendly_name::displayed_to(v, w))),
        )?;
        m.serialize_field(
            "rejections",
            &Seq(|| {
                self.rejections()
                    .map(|(rules, rule, offence)| RejectionRef {
                        rules,
                        rule,
                        offence,
                    })
            }),
        )?;
        m.serialize_field("names", &self.names())?;
        m.end()
    }
}

// ---------------------------------------------------------------------------
// Streaming: what `certmig scan` runs. Same results as [`scan_paths`], handed
// to a [`ScanSink`] as they are produced, with bounded memory.
// ---------------------------------------------------------------------------

/// How many bytes of input one batch reads at a time (one element may
/// exceed it).
pub const BATCH_BYTES: usize = 2 << 20;

/// The start of one file's results.
#[derive(Debug, Clone, Copy)]
pub struct FileStart<'a> {
    pub path: &'a str,
    pub format: Option<FileFormat>,
    /// How many certificates will follow, when the sink asked for it
    /// ([`ScanSink::needs_count`]).
    pub count: Option<usize>,
}

/// Receives a scan's results in input order while they are produced: for
/// each file `file_start`, then its certificates rendered in batches, then
/// `file_end` with its errors. [`ScanSink::render`] runs on every core, so it
/// takes `&self`.
pub trait ScanSink: Sync {
    /// True when `file_start` must say how many certificates follow (the
    /// human listing prints the count first). A streamed `.sst` is then read
    /// twice.
    fn needs_count(&self) -> bool {
        false
    }
    /// Appends the output for certificate number `index` (from 0) of the
    /// current file to `out`.
    fn render(&self, index: usize, c: &CertificateRecord<'_>, out: &mut Vec<u8>);
    fn file_start(&mut self, f: FileStart<'_>) -> std::io::Result<()>;
    /// Output of consecutive certificates, made by [`ScanSink::render`].
    fn rendered(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    fn file_end(&mut self, path: &str, count: usize, errors: &[ErrorReport])
        -> std::io::Result<()>;
    /// `done` of `total` bytes of the current file were read.
    fn progress(&mut self, _done: u64, _total: u64) {}
    /// The files the walk did not read (no store of any format), before
    /// any file is scanned.
    fn skipped(&mut self, _skipped: &[Skipped]) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a streaming scan found, for the closing summary and the exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanTotals {
    pub files: usize,
    pub certificates: usize,
    pub errors: usize,
    /// Files a directory walk did not read: no store of any format.
    pub skipped: usize,
}

/// Scans files and directories like [`scan_paths`], in the same order and
/// with the same results, handing them to `sink` as they are produced.
/// Strict reads of `.sst` files and of REGEDIT5 exports are streamed
/// (memory bounded by a few batches or pieces whatever the file's size)
/// and their certificates judged on every core; `.blob` files, REGEDIT4
/// exports and lenient reads take the whole file.
pub fn scan_paths_to(
    paths: &[PathBuf],
    opts: ScanOptions,
    sink: &mut dyn ScanSink,
) -> std::io::Result<ScanTotals> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for p in paths {
        collect_stores(p, &mut files, &mut skipped);
    }
    sink.skipped(&skipped)?;
    let mut totals = ScanTotals {
        skipped: skipped.len(),
        ..ScanTotals::default()
    };
    for f in files {
        let (count, errors) = match f {
            Ok(path) => scan_file_to(&path, opts, sink)?,
            Err((path, e)) => emit_elements(
                &path.display().to_string(),
                None,
                &[],
                &[ErrorReport::io(&e)],
                opts,
                sink,
            )?,
        };
        totals.files += 1;
        totals.certificates += count;
        totals.errors += errors;
    }
    Ok(totals)
}

/// Scans serialized elements that come from somewhere other than a file
/// (`scan --system-store`: each certificate of a Windows system store as
/// crypt32 serializes it, i.e. a registry `Blob`), reported under `label`
/// as one input of format `blob`. An element that does not parse is an
/// error of that input, located in its own bytes.
pub fn scan_elements_to(
    label: &str,
    blobs: &[Vec<u8>],
    opts: ScanOptions,
    sink: &mut dyn ScanSink,
) -> std::io::Result<ScanTotals> {
    let mut elements = Vec::new();
    let mut errors = Vec::new();
    for b in blobs {
        match SerializedElement::parse(b, 0, opts.mode) {
            Ok(e) => elements.push(e),
            Err(e) => errors.push(ErrorReport::from_format(&e, b)),
        }
    }
    let refs: Vec<&SerializedElement<'_>> = elements.iter().collect();
    let (certificates, errors) =
        emit_elements(label, Some(FileFormat::Blob), &refs, &errors, opts, sink)?;
    Ok(ScanTotals {
        files: 1,
        certificates,
        errors,
        skipped: 0,
    })
}

/// Hands a whole file's results to `sink`: `elements` rendered on every
/// core, then `errors`; returns (certificates, errors).
fn emit_elements(
    path: &str,
    format: Option<FileFormat>,
    elements: &[&SerializedElement<'_>],
    errors: &[ErrorReport],
    opts: ScanOptions,
    sink: &mut dyn ScanSink,
) -> std::io::Result<(usize, usize)> {
    sink.file_start(FileStart {
        path,
        format,
        count: Some(elements.len()),
    })?;
    render_window(sink, 0, elements, opts)?;
    sink.file_end(path, elements.len(), errors)?;
    Ok((elements.len(), errors.len()))
}

/// Renders `elements` (numbered from `base`) on every core, [`CHUNK`] to a
/// core, and hands the output to `sink` in order.
fn render_window<'x, E>(
    sink: &mut dyn ScanSink,
    base: usize,
    elements: &[E],
    opts: ScanOptions,
) -> std::io::Result<()>
where
    E: std::borrow::Borrow<SerializedElement<'x>> + Sync,
{
    use rayon::prelude::*;
    let s: &dyn ScanSink = sink;
    let rendered: Vec<Vec<u8>> = elements
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(ci, chunk)| {
            let mut out = Vec::new();
            render_elements(
                s,
                base + ci * CHUNK,
                chunk.iter().map(|e| e.borrow()),
                opts,
                &mut out,
            );
            out
        })
        .collect();
    for chunk in rendered {
        sink.rendered(&chunk)?;
    }
    Ok(())
}

/// Appends to `out` what `sink` renders for `elements`, numbered from
/// `base` (one DER scratch for them all).
fn render_elements<'e>(
    sink: &dyn ScanSink,
    base: usize,
    elements: impl Iterator<Item = &'e SerializedElement<'e>>,
    opts: ScanOptions,
    out: &mut Vec<u8>,
) {
    let mut scratch = CertificateView::empty();
    for (j, e) in elements.enumerate() {
        let record = CertificateRecord::of_element(e, &mut scratch, opts);
        sink.render(base + j, &record, out);
    }
}

/// Reads a whole file and hands its results to `sink` (what
/// [`scan_file`] reports), a window of elements at a time: memory holds
/// the file and one window, not every element of it.
fn emit_whole(
    path: &Path,
    opts: ScanOptions,
    sink: &mut dyn ScanSink,
) -> std::io::Result<(usize, usize)> {
    let display = path.display().to_string();
    let bytes = match crate::platform::read_store(path, &format::Limits::default()) {
        Ok(b) => b,
        Err(e) => {
            let (format, error) = unread(&e);
            return emit_elements(&display, format, &[], &[error], opts, sink);
        }
    };
    let file_name = path.file_stem().and_then(|s| s.to_str());
    let format = detect(&bytes);
    let (mut items, known) = file_elements(format, &bytes, file_name, opts.mode);
    let count = match known {
        Some(n) => Some(n),
        None if sink.needs_count() => Some(
            file_elements(format, &bytes, file_name, opts.mode)
                .0
                .take_while(Result::is_ok)
                .count(),
        ),
        None => None,
    };
    sink.file_start(FileStart {
        path: &display,
        format: Some(format),
        count,
    })?;
    let (mut done, mut error) = (0usize, None);
    let mut window: Vec<SerializedElement<'_>> = Vec::with_capacity(WINDOW);
    loop {
        window.clear();
        for item in items.by_ref() {
            match item {
                Ok(e) => window.push(e),
                Err(e) => {
                    error = Some(ErrorReport::from_format(&e, &bytes));
                    break;
                }
            }
            if window.len() == WINDOW {
                break;
            }
        }
        if window.is_empty() {
            break;
        }
        render_window(sink, done, &window, opts)?;
        done += window.len();
        if error.is_some() {
            break;
        }
    }
    let errors: Vec<ErrorReport> = error.into_iter().collect();
    sink.file_end(&display, done, &errors)?;
    Ok((done, errors.len()))
}

/// Elements rendered together by [`emit_whole`] (each core takes
/// [`CHUNK`] of them).
const WINDOW: usize = 4096;

/// One element of a file read whole, or the error that stopped the reading
/// (the last item).
type ElementItem<'a> = Result<SerializedElement<'a>, FormatError>;

/// The elements of a file read whole, in file order, one at a time, the
/// error that stopped the reading (if any) last; and how many elements
/// the file holds when that is known without a second reading. One reader
/// for `scan`'s report and its sinks: a store with lenient reading also
/// accepts properties after their certificate
/// ([`format::StoreElements`]); a `.blob` named like a thumbprint must be
/// named for its certificate; the certificates of a `.reg` before an error
/// are listed, as for a store.
fn file_elements<'a>(
    format: FileFormat,
    bytes: &'a [u8],
    name: Option<&str>,
    mode: ReadMode,
) -> (
    Box<dyn Iterator<Item = ElementItem<'a>> + 'a>,
    Option<usize>,
) {
    match format {
        FileFormat::Sst => {
            match format::StoreElements::new(bytes, mode, &format::Limits::default()) {
                Ok(elements) => {
                    let count = elements.count;
                    (Box::new(elements.map(|r| r.map(|(_, e)| e))), count)
                }
                Err(e) => (Box::new(std::iter::once(Err(e))), Some(0)),
            }
        }
        FileFormat::Blob | FileFormat::BlobDir => {
            let read = format::parse_element_file(bytes, mode).and_then(|e| {
                if let Some(stem) = name.filter(|n| format::Thumbprint::looks_like(n)) {
                    format::registry::parse_blob(bytes, stem, mode)?;
                }
                Ok(e)
            });
            let count = usize::from(read.is_ok());
            (Box::new(std::iter::once(read)), Some(count))
        }
        FileFormat::Reg => {
            let (parsed, error) =
                format::reg::parse_reg_partial(bytes, mode, &format::Limits::default());
            let count = parsed.store.certificates.len();
            let elements = parsed.store.certificates.into_iter().map(|c| Ok(c.element));
            (Box::new(elements.chain(error.map(Err))), Some(count))
        }
    }
}

/// Scans one file into `sink`; returns (certificates, errors).
fn scan_file_to(
    path: &Path,
    opts: ScanOptions,
    sink: &mut dyn ScanSink,
) -> std::io::Result<(usize, usize)> {
    use std::io::Seek;
    let display = path.display().to_string();
    let whole = |sink: &mut dyn ScanSink| emit_whole(path, opts, sink);
    if opts.mode != ReadMode::Strict {
        return whole(sink);
    }
    let Ok((mut file, len)) = crate::platform::open_regular(path, crate::platform::Links::Follow)
    else {
        return whole(sink);
    };
    // `detect` looks at no more than the first 26 bytes.
    let mut head = [0u8; 64];
    let Ok(n) = crate::platform::walk::read_head(&mut file, &mut head) else {
        return whole(sink);
    };
    let format = detect(&head[..n]);
    let streamed = match format {
        FileFormat::Sst => stream_sst,
        FileFormat::Reg if format::reg::reads_in_pieces(&head[..n], len) => stream_reg,
        _ => return whole(sink),
    };
    if file.rewind().is_err() {
        return whole(sink);
    }
    let count = if sink.needs_count() {
        let again = match crate::platform::open_regular(path, crate::platform::Links::Follow) {
            Ok((f, _)) => f,
            Err(_) => return whole(sink),
        };
        Some(streamed(again, len, opts, None, sink).0)
    } else {
        None
    };
    sink.file_start(FileStart {
        path: &display,
        format: Some(format),
        count,
    })?;
    let (certificates, error, io) = streamed(file, len, opts, Some(()), sink);
    io?;
    let errors: Vec<ErrorReport> = error.into_iter().collect();
    sink.file_end(&display, certificates, &errors)?;
    Ok((certificates, errors.len()))
}

/// How many elements one core judges and renders into one buffer.
const CHUNK: usize = 32;
/// Batches in flight (being read, waiting, being judged): memory holds this
/// many times [`BATCH_BYTES`] of input, and the output of one batch.
const BATCHES: usize = 4;

/// What a streamed reading found: certificates, the error that ended the
/// file (if any), and the first error writing to the sink.
type Streamed = (usize, Option<ErrorReport>, std::io::Result<()>);

/// Streams a strict `.sst` from `reader` (`len` bytes): a reader thread
/// reads batches of whole elements ([`format::StoreReader::next_batch`],
/// large reads into a few reused buffers), every core judges and renders
/// them, and the output goes to `sink` in input order (`render = None`:
/// only count). Returns the number of certificates, the error that ended
/// the store (if any), and the first error writing to the sink.
fn stream_sst(
    reader: std::fs::File,
    len: u64,
    opts: ScanOptions,
    render: Option<()>,
    sink: &mut dyn ScanSink,
) -> Streamed {
    use crate::fix::read_ahead::read_store;
    use rayon::prelude::*;

    let r = match format::StoreReader::open(reader, len, format::Limits::default()) {
        Ok(r) => r,
        Err(e) => return (0, Some(stream_error(&e)), Ok(())),
    };
    let mut count = 0usize;
    let mut error = None;
    let mut io = Ok(());
    read_store(r, BATCHES, BATCH_BYTES, |batches| {
        // One output buffer per chunk of a batch, reused from batch to batch.
        let mut outs: Vec<Vec<u8>> = Vec::new();
        while let Some((batch, end)) = batches.next() {
            let s: &dyn ScanSink = sink;
            let base = count;
            let chunks = batch.elements.len().div_ceil(CHUNK);
            if outs.len() < chunks {
                outs.resize_with(chunks, Vec::new);
            }
            // Judge and render every element of the batch on every core;
            // each chunk stops at its first malformed element.
            let done: Vec<(usize, Option<FormatError>)> = batch
                .elements
                .par_chunks(CHUNK)
                .zip(outs[..chunks].par_iter_mut())
                .enumerate()
                .map(|(ci, (elements, out))| {
                    out.clear();
                    let mut scratch = CertificateView::empty();
                    for (j, (offset, range)) in elements.iter().enumerate() {
                        let e = match ElementView::parse_strict(
                            &batch.bytes[range.clone()],
                            *offset as usize,
                        ) {
                            Ok(e) => e,
                            Err(err) => return (j, Some(err)),
                        };
                        if render.is_some() {
                            let index = base + ci * CHUNK + j;
                            let record = CertificateRecord::of_view(e, &mut scratch, opts);
                            s.render(index, &record, out);
                        }
                    }
                    (elements.len(), None)
                })
                .collect();
            for ((ok, err), out) in done.into_iter().zip(&outs) {
                count += ok;
                if render.is_some() {
                    if let Err(e) = sink.rendered(out) {
                        io = Err(e);
                        break;
                    }
                }
                if let Some(err) = err {
                    error = Some(ErrorReport::from_format(&err, &[]));
                    break;
                }
            }
            if render.is_some() && io.is_ok() {
                sink.progress(batch.consumed, len);
            }
            if error.is_some() || io.is_err() {
                break;
            }
            if let Some(e) = end {
                error = Some(stream_error(&e));
                break;
            }
            batches.recycle(batch);
        }
    });
    (count, error, io)
}

/// The most bytes of `.reg` text in one piece ([`format::reg::RegPieces`]),
/// about 600 certificates of a `reg export`; pieces are smaller when
/// [`reg_piece_plan`] shares [`REG_BUFFER_BYTES`] among more of them.
pub const REG_PIECE_BYTES: usize = 4 << 20;

/// The fewest bytes in a piece: below it, a piece is mostly the cost of
/// handing it on.
const REG_MIN_PIECE_BYTES: usize = 256 << 10;

/// How a REGEDIT5 export is streamed on `threads` threads: how many
/// pieces are parsed (then rendered) together, and the bytes of a piece.
/// The buffers are a group being parsed, the next group being read and one
/// more, all within [`REG_BUFFER_BYTES`]: on 2 threads, groups of 8 pieces
/// of about 1.4 MiB.
pub fn reg_piece_plan(threads: usize) -> (usize, usize) {
    let most = (REG_BUFFER_BYTES / REG_MIN_PIECE_BYTES - 1) / 2;
    let group = PIECES_PER_THREAD.saturating_mul(threads.max(1)).min(most);
    let piece = (REG_BUFFER_BYTES / (2 * group + 1)).clamp(REG_MIN_PIECE_BYTES, REG_PIECE_BYTES);
    (group, piece)
}

/// What the pieces in flight may take together (a group being parsed and
/// rendered, the next group being read, and one more), so that memory does
/// not grow with the cores.
const REG_BUFFER_BYTES: usize = 24 << 20;

/// Pieces parsed (then rendered) together, per thread. More than one, so
/// that a thread that finishes early takes another piece instead of
/// waiting at the group's end while the reader thread holds a core: on 2
/// cores, 4 per thread (pieces of about 1.4 MiB instead of 4 MiB) took the
/// 337 MB export from 0.29 to 0.22 s and 0.47 to 0.39 CPU seconds, with
/// the same peak memory (BENCHMARKS.md).
const PIECES_PER_THREAD: usize = 4;

/// Streams a REGEDIT5 export from `reader` (`len` bytes), with the results
/// of the whole-file reader ([`file_elements`]): a reader thread cuts it
/// into pieces of whole sections, each group of pieces ([`reg_piece_plan`]) is
/// parsed and then rendered on every core, and the output goes to `sink`
/// in file order, up to the first error (`render = None`: only count).
/// Memory holds a few pieces (each at most [`REG_PIECE_BYTES`], more only for
/// a longer section) and their certificates.
fn stream_reg(
    reader: std::fs::File,
    len: u64,
    opts: ScanOptions,
    render: Option<()>,
    sink: &mut dyn ScanSink,
) -> Streamed {
    use crate::fix::read_ahead::read_ahead;
    use format::reg::{parse_reg5_piece, PieceAt, RegPieces};
    use rayon::prelude::*;

    type Piece = (Vec<u8>, PieceAt);
    let (group, piece_bytes) = reg_piece_plan(rayon::current_num_threads());
    let buffers = 2 * group + 1;
    let pool = (0..buffers)
        .map(|_| {
            (
                Vec::with_capacity(piece_bytes + piece_bytes / 4),
                PieceAt::default(),
            )
        })
        .collect();
    let limits = format::Limits::default();
    let mut count = 0usize;
    let mut error = None;
    let mut io = Ok(());
    let mut pieces = RegPieces::new(reader, piece_bytes);
    let fill = move |(buf, at): &mut Piece| match pieces.next_piece(buf)? {
        Some(next) => {
            *at = next;
            Ok(true)
        }
        None => Ok(false),
    };
    read_ahead(pool, fill, |pending| {
        let mut outs: Vec<Vec<u8>> = Vec::new();
        let mut done_bytes = 0u64;
        loop {
            let mut batch: Vec<Piece> = Vec::with_capacity(group);
            while batch.len() < group {
                match pending.next() {
                    Some((p, None)) => batch.push(p),
                    // What a failed read left in the buffer is not a piece.
                    Some((_, Some(e))) => {
                        error = Some(ErrorReport::io(&e));
                        break;
                    }
                    None => break,
                }
            }
            if batch.is_empty() && error.is_none() {
                break;
            }
            let parsed: Vec<_> = batch
                .par_iter()
                .map(|(bytes, at)| parse_reg5_piece(bytes, *at, opts.mode, &limits))
                .collect();
            // Certificates up to the first error, in file order.
            let mut take = Vec::with_capacity(parsed.len());
            let mut stop = None;
            for (k, (p, err)) in parsed.iter().enumerate() {
                take.push(p.store.certificates.len());
                if let Some(err) = err {
                    stop = Some((k, err));
                    break;
                }
            }
            if render.is_some() {
                if outs.len() < take.len() {
                    outs.resize_with(take.len(), Vec::new);
                }
                let s: &dyn ScanSink = sink;
                let bases: Vec<usize> = take
                    .iter()
                    .scan(count, |acc, &n| {
                        let b = *acc;
                        *acc += n;
                        Some(b)
                    })
                    .collect();
                parsed[..take.len()]
                    .par_iter()
                    .zip(outs[..take.len()].par_iter_mut())
                    .zip(bases.par_iter())
                    .for_each(|(((p, _), out), &base)| {
                        out.clear();
                        let elements = p.store.certificates.iter().map(|c| &c.element);
                        render_elements(s, base, elements, opts, out);
                    });
                for out in &outs[..take.len()] {
                    if let Err(e) = sink.rendered(out) {
                        io = Err(e);
                        break;
                    }
                }
            }
            count += take.iter().sum::<usize>();
            for (bytes, _) in &batch[..take.len()] {
                done_bytes += bytes.len() as u64;
            }
            if render.is_some() && io.is_ok() {
                sink.progress(done_bytes, len);
            }
            if let Some((k, err)) = stop {
                let mut report = ErrorReport::from_format(err, &[]);
                if let Some(line) = report.line {
                    // The offset of the line's start, as for the whole file.
                    let (bytes, at) = &batch[k];
                    report.offset = format::reg::piece_line_start(bytes, *at, line);
                }
                error = Some(report);
            }
            if error.is_some() || io.is_err() {
                break;
            }
            for piece in batch {
                pending.recycle(piece);
            }
        }
    });
    (count, error, io)
}

fn stream_error(e: &format::store::StreamError) -> ErrorReport {
    match e {
        format::store::StreamError::Format(f) => ErrorReport::from_format(f, &[]),
        format::store::StreamError::Io(io) => ErrorReport::io(io),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pieces_in_flight_stay_within_their_memory_for_any_thread_count() {
        for threads in [0, 1, 2, 3, 8, 32, 47, 1000, usize::MAX] {
            let (group, piece) = reg_piece_plan(threads);
            assert!(group >= 1, "{threads} threads");
            assert!(
                (REG_MIN_PIECE_BYTES..=REG_PIECE_BYTES).contains(&piece),
                "{threads} threads: {piece}"
            );
            assert!(
                (2 * group + 1) * piece <= REG_BUFFER_BYTES,
                "{threads} threads: {group} x {piece}"
            );
        }
        // More pieces than threads where memory allows.
        assert_eq!(reg_piece_plan(2).0, 2 * PIECES_PER_THREAD);
    }
}
