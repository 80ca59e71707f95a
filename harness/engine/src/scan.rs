//! `certmig scan`: read certificate stores of any format (detected from
//! content) and report, per certificate, what an administrator needs to
//! judge it: thumbprint, subject, friendly name (NULs shown as `\0`) and its
//! shape, property ids, key container, whether the signature verifies, the
//! import verdict under each CryptoAPI rule set, and the name findings
//! (what MS09-056 changes in how its names are compared and displayed).
//!
//! Errors never stop a scan: each file reports its own errors (with byte
//! offset, and line for `.reg`), the certificates read before the error are
//! still listed, and other files are still scanned.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cryptoapi::{self, Hresult, RuleSet, Verdict};
use crate::format::{self, detect, FileFormat, FormatError, Location, ReadMode, SerializedElement};

/// Options for a scan.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    pub mode: ReadMode,
    /// Check each certificate's self-signature with openssl (slow: ~30 µs
    /// per certificate); off in throughput benchmarks.
    pub verify_signatures: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            mode: ReadMode::Strict,
            verify_signatures: true,
        }
    }
}

/// The result of scanning some paths: exactly what `scan --json` prints.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScanReport {
    pub files: Vec<FileReport>,
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
    /// Escaped text: NUL as `\0`, backslash as `\\`.
    pub friendly_name: Option<String>,
    /// Raw value bytes, upper-case hex.
    pub friendly_name_hex: Option<String>,
    pub friendly_name_shape: Option<format::FriendlyNameShape>,
    pub property_ids: Vec<u32>,
    pub key_container: Option<String>,
    pub signature_valid: bool,
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
    fn from_format(e: &FormatError, bytes: &[u8]) -> Self {
        match e.location() {
            Location::Offset(o) => ErrorReport {
                offset: Some(o),
                line: None,
                message: e.to_string(),
            },
            Location::Line(l) => ErrorReport {
                offset: format::reg::line_start_offset(bytes, l),
                line: Some(l),
                message: e.to_string(),
            },
        }
    }

    fn io(e: &std::io::Error) -> Self {
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
    for p in paths {
        collect_files(p, &mut files);
    }
    ScanReport {
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

type Collected = Result<PathBuf, (PathBuf, std::io::Error)>;

fn collect_files(path: &Path, out: &mut Vec<Collected>) {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => match std::fs::read_dir(path) {
            Ok(rd) => {
                let mut entries: Vec<PathBuf> =
                    rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
                entries.sort();
                for e in entries {
                    collect_files(&e, out);
                }
            }
            Err(e) => out.push(Err((path.to_owned(), e))),
        },
        Ok(_) => out.push(Ok(path.to_owned())),
        Err(e) => out.push(Err((path.to_owned(), e))),
    }
}

/// Scans one file.
pub fn scan_file(path: &Path, opts: ScanOptions) -> FileReport {
    let display = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => {
            let file_name = path.file_stem().and_then(|s| s.to_str());
            scan_bytes(&display, &bytes, file_name, opts)
        }
        Err(e) => FileReport {
            path: display,
            format: None,
            certificates: Vec::new(),
            errors: vec![ErrorReport::io(&e)],
        },
    }
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
    let mut push =
        |e: &SerializedElement<'_>| report.certificates.push(certificate_report(e, opts));
    let result: Result<(), FormatError> = match format {
        FileFormat::Sst => (|| {
            // Lenient reading also accepts stores whose properties follow
            // their certificate; the properties-first iterator would give
            // each certificate the next one's properties.
            if opts.mode == ReadMode::Lenient {
                if let Ok(store) = format::SerializedStore::parse(bytes, opts.mode) {
                    store.elements.iter().for_each(&mut push);
                    return Ok(());
                }
            }
            for item in format::StoreIter::new(bytes, opts.mode)? {
                let (_, e) = item?;
                push(&e);
            }
            Ok(())
        })(),
        FileFormat::Blob | FileFormat::BlobDir => (|| {
            let e = format::parse_element_file(bytes, opts.mode)?;
            // A file named like a thumbprint must be named for its certificate.
            if let Some(stem) = name.filter(|n| format::Thumbprint::looks_like(n)) {
                format::registry::parse_blob(bytes, stem, opts.mode)?;
            }
            push(&e);
            Ok(())
        })(),
        FileFormat::Reg => format::reg::parse_reg(bytes, opts.mode).map(|parsed| {
            for c in &parsed.store.certificates {
                push(&c.element);
            }
        }),
    };
    if let Err(e) = result {
        report.errors.push(ErrorReport::from_format(&e, bytes));
    }
    report
}

fn certificate_report(e: &SerializedElement<'_>, opts: ScanOptions) -> CertificateReport {
    let fname = e.friendly_name();
    let mut rejections = Vec::new();
    let mut verdict_under = |rules: RuleSet| match cryptoapi::import(e, rules) {
        Ok(_) => Verdict::Ok,
        Err(r) => {
            rejections.push(RejectionReport {
                rules,
                rule: r.rule.id,
                modelling_choice: r.rule.modelling_choice,
                hresult: r.hresult,
                offence: r.offence.to_string(),
            });
            Verdict::Rejected(r.hresult)
        }
    };
    let verdicts = Verdicts {
        legacy: verdict_under(RuleSet::Legacy),
        ms09_056: verdict_under(RuleSet::Ms09056),
    };
    CertificateReport {
        thumbprint: e.thumbprint().to_hex(),
        subject: cryptoapi::exact_subject(&e.der),
        friendly_name: fname.map(format::friendly_name::escape),
        friendly_name_hex: fname.map(hex::encode_upper),
        friendly_name_shape: fname.map(format::friendly_name::classify),
        property_ids: e.property_ids(),
        key_container: e
            .key_prov_info()
            .and_then(|k| k.ok())
            .and_then(|k| k.container),
        signature_valid: opts.verify_signatures && crate::cert::verify_signature(&e.der),
        verdicts,
        legacy_display_name: cryptoapi::legacy_display_name(e),
        rejections,
        names: match e.kind {
            format::ContextKind::Certificate => cryptoapi::name_findings(&e.der)
                .into_iter()
                .map(|f| NameFindingReport {
                    rule: f.rule.id,
                    kind: f.rule.kind,
                    modelling_choice: f.rule.modelling_choice,
                    offence: f.offence.to_string(),
                    legacy: f.legacy,
                    ms09_056: f.ms09_056,
                })
                .collect(),
            _ => Vec::new(),
        },
    }
}
