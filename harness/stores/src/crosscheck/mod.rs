//! `certmig crosscheck`: read every certificate certmig reads a second time,
//! through the platform's own crypt32, and compare the two readings per
//! certificate.
//!
//! What is compared, per certificate:
//!
//! - the **import verdict**: the verdict certmig predicts under the rules the
//!   platform enforces ([`Platform::rules`]) against whether crypt32 accepted
//!   the certificate (and the HRESULT from `GetLastError` when it refused);
//! - the **thumbprint**: SHA-1 of the DER as certmig computes it against
//!   crypt32's `CERT_HASH_PROP_ID`; crypt32's copy of the DER is also checked
//!   against certmig's, byte for byte;
//! - the **friendly name**: the raw bytes of property 11
//!   (`CERT_FRIENDLY_NAME_PROP_ID`), embedded NULs included;
//! - the **key-provider link**: container and provider name of property 2
//!   (`CERT_KEY_PROV_INFO_PROP_ID`), or its absence.
//!
//! How crypt32 reads each format:
//!
//! - a serialized element (each element of a `.sst`, a `.blob` file):
//!   `CertAddSerializedElementToStore` into a fresh memory store;
//! - a `.sst` as a whole: `CertOpenStore(CERT_STORE_PROV_SERIALIZED)` on its
//!   bytes, reported per file as information ([`StoreReading`]), never as a
//!   disagreement: Wine's store reader stops at the first property that comes
//!   before a context (`dlls/crypt32/serialize.c`, `CRYPT_ReadSerializedStore`),
//!   and every `.sst` Windows writes puts the properties first;
//! - a `.reg` export: its `Blob` values written under a private registry key
//!   and read back with `CertOpenStore(CERT_STORE_PROV_REG)`. The registry
//!   store skips silently what it cannot read (Wine:
//!   `dlls/crypt32/regstore.c`, `CRYPT_RegReadSerializedFromReg`), so a
//!   certificate it does not list is added once more as an element to learn
//!   the HRESULT.
//!
//! This module is platform-independent: crypt32 is behind the [`CryptoApi`]
//! trait, implemented on Windows (and under Wine) by [`crypt32`], and by a
//! fake in the tests.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cryptoapi::{self, Hresult, RuleId, RuleSet};
use crate::format::{
    self, detect, ContextKind, FileFormat, ReadMode, SerializedElement, Thumbprint,
};
use crate::scan::{collect_files, ErrorReport};

#[cfg(windows)]
pub mod crypt32;

certmig_format::vocabulary! {
    "platform";
    /// Whose crypt32 answered.
    #[strum(serialize_all = "lowercase")]
    pub enum PlatformKind {
        /// Wine's reimplementation (ntdll exports `wine_get_version`).
        Wine,
        /// Microsoft Windows.
        Windows,
    }
}

/// The platform crypt32 runs on, and the import rules it enforces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Platform {
    pub kind: PlatformKind,
    /// `wine-8.0`, or `10.0.19045` (major.minor.build, plus the service pack).
    pub version: String,
    /// The rules certmig predicts with on this platform.
    pub rules: RuleSet,
    /// Why those rules, and what a genuine Windows 7 SP1 machine would do.
    pub note: String,
}

impl Platform {
    /// Wine: its crypt32 checks no friendly name (no MS09-056 rule in
    /// `CertContext_SetProperty` or the element reader), so certmig predicts
    /// with the legacy rules.
    pub fn wine(version: &str) -> Platform {
        Platform {
            kind: PlatformKind::Wine,
            version: format!("wine-{version}"),
            rules: RuleSet::Legacy,
            note:
                "Wine's crypt32 does not enforce MS09-056 (KB 974571): certmig predicts with the \
                   legacy rules. A genuine Windows 7 SP1 machine (974571 included) refuses every \
                   certificate whose friendly name has an embedded NUL with 0x80092024 \
                   (CRYPT_E_NOT_CHAR_STRING)."
                    .to_owned(),
        }
    }

    /// Windows: certmig predicts with the `ms09-056` rules.
    ///
    /// **Modelling choice:** every Windows from Windows 7 SP1 on includes
    /// 974571, and so does every XP, Vista or 7 RTM updated since October
    /// 2009; an unpatched one would import the defective certificates (the
    /// legacy rules). The version is reported, never used to pick the rules.
    pub fn windows(version: &str) -> Platform {
        Platform {
            kind: PlatformKind::Windows,
            version: version.to_owned(),
            rules: RuleSet::Ms09056,
            note: "certmig predicts with the ms09-056 rules (modelling choice: Windows 7 SP1 and \
                   later include KB 974571): a certificate whose friendly name has an embedded NUL \
                   is refused with 0x80092024, as on a genuine Windows 7 SP1 machine."
                .to_owned(),
        }
    }
}

/// A certificate as crypt32 holds it once it accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observed {
    /// The context's encoded certificate (`pbCertEncoded`).
    pub der: Vec<u8>,
    /// `CERT_HASH_PROP_ID`.
    pub hash: Option<Vec<u8>>,
    /// `CERT_FRIENDLY_NAME_PROP_ID`, the raw bytes.
    pub friendly_name: Option<Vec<u8>>,
    /// `CERT_KEY_PROV_INFO_PROP_ID`, decoded by crypt32.
    pub key_provider: Option<KeyLink>,
}

/// The key-provider link of a certificate: container and provider name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyLink {
    pub container: Option<String>,
    pub provider: Option<String>,
}

/// One `Blob` value of a registry store: `<folder>\<name>\Blob`.
#[derive(Debug, Clone, Copy)]
pub struct RegistryBlob<'a> {
    /// `Certificates`, `CRLs` or `CTLs`.
    pub folder: &'static str,
    /// The subkey name (a thumbprint).
    pub name: &'a str,
    pub blob: &'a [u8],
}

/// The platform's crypt32, as the crosscheck needs it.
pub trait CryptoApi {
    fn platform(&self) -> Platform;
    /// `CertAddSerializedElementToStore` of one element into a fresh memory
    /// store: the certificate as crypt32 then holds it, or the HRESULT.
    fn add_element(&mut self, element: &[u8]) -> Result<Observed, Hresult>;
    /// The certificates `CertOpenStore` reads from a whole serialized store.
    fn read_serialized_store(&mut self, store: &[u8]) -> Result<Vec<Observed>, Hresult>;
    /// The certificates a registry store (`CERT_STORE_PROV_REG`, read-only)
    /// lists when its key holds `blobs`. The key is private and deleted
    /// afterwards.
    fn read_registry_store(&mut self, blobs: &[RegistryBlob<'_>])
        -> Result<Vec<Observed>, Hresult>;
}

/// An import verdict, or a certificate one side does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Refused(Hresult),
    /// Not there: certmig did not read it, or a registry store did not list
    /// it although crypt32 accepts it as an element.
    Absent,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Refused(h) => h.fmt(f),
            Outcome::Absent => f.write_str("absent"),
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

certmig_format::vocabulary! {
    "reader";
    /// Which reader produced a reading.
    #[strum(serialize_all = "kebab-case")]
    pub enum Via {
        /// certmig's strict reader and its import rules.
        Certmig,
        /// `CertAddSerializedElementToStore` into a memory store.
        SerializedElement,
        /// `CertOpenStore(CERT_STORE_PROV_REG)` on a private key.
        RegistryStore,
    }
}

/// One side's reading of one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reading {
    pub via: Via,
    /// `ok`, the HRESULT of the refusal, or `absent`.
    pub verdict: Outcome,
    /// The rule that refused it (certmig's side only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleId>,
    pub thumbprint: Option<String>,
    /// Raw bytes of property 11, upper-case hex.
    pub friendly_name_hex: Option<String>,
    /// The same, escaped for people (NUL as `\0`).
    pub friendly_name: Option<String>,
    pub key_provider: Option<KeyLink>,
}

impl Reading {
    fn absent(via: Via) -> Reading {
        Reading {
            via,
            verdict: Outcome::Absent,
            rule: None,
            thumbprint: None,
            friendly_name_hex: None,
            friendly_name: None,
            key_provider: None,
        }
    }
}

/// certmig's reading of `e` under `rules`.
pub fn certmig_reading(e: &SerializedElement<'_>, rules: RuleSet) -> Reading {
    let (verdict, rule) = match cryptoapi::import(e, rules) {
        Ok(_) => (Outcome::Ok, None),
        Err(r) => (Outcome::Refused(r.hresult), Some(r.rule.id)),
    };
    let fname = e.friendly_name();
    Reading {
        via: Via::Certmig,
        verdict,
        rule,
        thumbprint: Some(e.thumbprint().to_hex()),
        friendly_name_hex: fname.map(format::thumbprint::hex_upper),
        friendly_name: fname.map(format::friendly_name::escape),
        key_provider: e.key_prov_info().map(|k| match k {
            Ok(k) => KeyLink {
                container: k.container,
                provider: k.provider,
            },
            // Undecodable: shown as a link to nothing (crypt32 would fail
            // the element, which the verdict then shows).
            Err(_) => KeyLink {
                container: None,
                provider: None,
            },
        }),
    }
}

/// crypt32's reading: what it holds, or its refusal.
pub fn cryptoapi_reading(result: &Result<Observed, Hresult>, via: Via) -> Reading {
    match result {
        Err(h) => Reading {
            verdict: Outcome::Refused(*h),
            ..Reading::absent(via)
        },
        Ok(o) => Reading {
            via,
            verdict: Outcome::Ok,
            rule: None,
            thumbprint: o.hash.as_deref().map(format::thumbprint::hex_upper),
            friendly_name_hex: o
                .friendly_name
                .as_deref()
                .map(format::thumbprint::hex_upper),
            friendly_name: o
                .friendly_name
                .as_deref()
                .map(format::friendly_name::escape),
            key_provider: o.key_provider.clone(),
        },
    }
}

/// One field on which the two readings differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// `verdict`, `thumbprint`, `certificate` (the DER), `friendly-name` or
    /// `key-provider`.
    pub field: &'static str,
    pub certmig: String,
    pub cryptoapi: String,
    /// The id of the [`KnownDifference`] of this platform that explains it
    /// (such a difference does not count against agreement).
    pub known: Option<&'static str>,
}

/// A documented way a platform's crypt32 differs from what certmig reads
/// (docs/BEHAVIOR.md, "Known differences"), with the source that shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KnownDifference {
    pub id: &'static str,
    pub platform: PlatformKind,
    pub description: &'static str,
    pub source: &'static str,
}

/// Wine's registry store keeps a certificate only when its key name is
/// exactly the upper-case hex of its hash; certmig accepts either case.
pub const WINE_REGISTRY_KEY_CASE: KnownDifference = KnownDifference {
    id: "wine-registry-key-case",
    platform: PlatformKind::Wine,
    description: "Wine's registry store lists a certificate only when its key name is exactly the \
                  upper-case hex of its hash (compared case-sensitively); certmig accepts a \
                  thumbprint key name in either case",
    source: "Wine dlls/crypt32/regstore.c, CRYPT_RegReadSerializedFromReg: the hash formatted by \
             CRYPT_HashToStr (\"%02X\") is compared with the key name by wcscmp, otherwise \
             \"hash doesn't match, ignoring\"",
};

/// Every known difference, each for its platform.
pub fn known_differences() -> &'static [KnownDifference] {
    &[WINE_REGISTRY_KEY_CASE]
}

fn show<T: std::fmt::Debug>(v: &Option<T>) -> String {
    match v {
        None => "(absent)".to_owned(),
        Some(v) => format!("{v:?}"),
    }
}

/// The differences between certmig's reading and crypt32's. When either
/// side refused (or lacks) the certificate only the verdicts are compared;
/// `certmig_der` and `observed_der` (crypt32's copy, when it accepted the
/// certificate) are compared byte for byte.
pub fn compare(
    certmig: &Reading,
    cryptoapi: &Reading,
    certmig_der: Option<&[u8]>,
    observed_der: Option<&[u8]>,
) -> Vec<Difference> {
    let mut out = Vec::new();
    if certmig.verdict != cryptoapi.verdict {
        out.push(Difference {
            field: "verdict",
            certmig: certmig.verdict.to_string(),
            cryptoapi: cryptoapi.verdict.to_string(),
            known: None,
        });
    }
    if certmig.verdict != Outcome::Ok || cryptoapi.verdict != Outcome::Ok {
        return out;
    }
    if certmig.thumbprint != cryptoapi.thumbprint {
        out.push(Difference {
            field: "thumbprint",
            certmig: show(&certmig.thumbprint),
            cryptoapi: show(&cryptoapi.thumbprint),
            known: None,
        });
    }
    if let (Some(a), Some(b)) = (certmig_der, observed_der) {
        if a != b {
            out.push(Difference {
                field: "certificate",
                certmig: format!("{} bytes, SHA-1 {}", a.len(), Thumbprint::of(a).to_hex()),
                cryptoapi: format!("{} bytes, SHA-1 {}", b.len(), Thumbprint::of(b).to_hex()),
                known: None,
            });
        }
    }
    if certmig.friendly_name_hex != cryptoapi.friendly_name_hex {
        out.push(Difference {
            field: "friendly-name",
            certmig: show(&certmig.friendly_name_hex),
            cryptoapi: show(&cryptoapi.friendly_name_hex),
            known: None,
        });
    }
    if certmig.key_provider != cryptoapi.key_provider {
        out.push(Difference {
            field: "key-provider",
            certmig: show(&certmig.key_provider),
            cryptoapi: show(&cryptoapi.key_provider),
            known: None,
        });
    }
    out
}

/// One certificate, read by both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub path: String,
    pub thumbprint: String,
    pub certmig: Reading,
    pub cryptoapi: Reading,
    /// No difference, or only differences a [`KnownDifference`] of this
    /// platform explains (listed in `differences` with their id).
    pub agree: bool,
    pub differences: Vec<Difference>,
}

impl Row {
    fn new(
        path: &str,
        thumbprint: String,
        certmig: Reading,
        cryptoapi: Reading,
        differences: Vec<Difference>,
    ) -> Row {
        Row {
            path: path.to_owned(),
            thumbprint,
            certmig,
            cryptoapi,
            agree: differences.iter().all(|d| d.known.is_some()),
            differences,
        }
    }
}

/// crypt32's whole-store reading of one file (information, never a
/// disagreement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreReading {
    /// The call: `CertOpenStore(CERT_STORE_PROV_SERIALIZED)` or
    /// `CertOpenStore(CERT_STORE_PROV_REG)`.
    pub api: &'static str,
    /// `ok` when the store opened, or the HRESULT.
    pub opened: Outcome,
    /// How many certificates it listed.
    pub certificates: usize,
    /// Why the count differs from certmig's, where that is known.
    pub note: Option<String>,
}

/// One input file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileCheck {
    pub path: String,
    pub format: Option<FileFormat>,
    /// Certificates certmig read in it.
    pub certificates: usize,
    pub store_reader: Option<StoreReading>,
    /// Elements that are not certificates (CRLs, CTLs), not compared.
    pub skipped: usize,
    /// Why the file could not be read (bad input: exit 2).
    pub errors: Vec<ErrorReport>,
}

/// Everything `certmig crosscheck --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrosscheckReport {
    pub platform: Platform,
    /// The known differences of this platform the comparison accounts for.
    pub known_differences: Vec<KnownDifference>,
    /// Rows compared.
    pub certificates: usize,
    /// Rows on which certmig and crypt32 agree.
    pub agree: usize,
    pub rows: Vec<Row>,
    pub files: Vec<FileCheck>,
}

impl CrosscheckReport {
    /// True when a file could not be read (the CLI exits 2).
    pub fn has_errors(&self) -> bool {
        self.files.iter().any(|f| !f.errors.is_empty())
    }

    /// True when every certificate agrees.
    pub fn all_agree(&self) -> bool {
        self.agree == self.certificates
    }
}

/// What Wine's `.sst` reader does with a properties-first store.
pub const WINE_SST_NOTE: &str = "Wine's store reader stops at a property that comes before its \
certificate (dlls/crypt32/serialize.c, CRYPT_ReadSerializedStore: \"prop id before a context id\"), \
and every .sst Windows writes, and Wine's own CertSaveStore, puts the properties first: Wine lists \
no certificate. Information, not a disagreement.";

/// Crosschecks files and directories (walked recursively, sorted).
pub fn crosscheck_paths(paths: &[PathBuf], api: &mut dyn CryptoApi) -> CrosscheckReport {
    let platform = api.platform();
    let mut report = CrosscheckReport {
        known_differences: known_differences()
            .iter()
            .filter(|k| k.platform == platform.kind)
            .copied()
            .collect(),
        platform,
        certificates: 0,
        agree: 0,
        rows: Vec::new(),
        files: Vec::new(),
    };
    let mut files = Vec::new();
    for p in paths {
        collect_files(p, &mut files);
    }
    for f in files {
        match f {
            Ok(path) => check_file(&path, api, &mut report),
            Err((path, e)) => report.files.push(FileCheck {
                path: path.display().to_string(),
                format: None,
                certificates: 0,
                store_reader: None,
                skipped: 0,
                errors: vec![ErrorReport::io(&e)],
            }),
        }
    }
    report.certificates = report.rows.len();
    report.agree = report.rows.iter().filter(|r| r.agree).count();
    report
}

fn check_file(path: &Path, api: &mut dyn CryptoApi, report: &mut CrosscheckReport) {
    let display = path.display().to_string();
    let bytes = match crate::platform::read_store(path, &crate::format::Limits::default()) {
        Ok(b) => b,
        Err(e) => {
            let (format, error) = crate::scan::unread(&e);
            report.files.push(FileCheck {
                path: display,
                format,
                certificates: 0,
                store_reader: None,
                skipped: 0,
                errors: vec![error],
            });
            return;
        }
    };
    let stem = path.file_stem().and_then(|s| s.to_str());
    let file = check_bytes(&display, &bytes, stem, api, &mut report.rows);
    report.files.push(file);
}

/// Crosschecks one file's bytes; rows go to `rows`. `stem` is the file
/// stem (a `.blob` named like a thumbprint must be named for its
/// certificate, as `scan` requires).
pub fn check_bytes(
    path: &str,
    bytes: &[u8],
    stem: Option<&str>,
    api: &mut dyn CryptoApi,
    rows: &mut Vec<Row>,
) -> FileCheck {
    let rules = api.platform().rules;
    let format = detect(bytes);
    let mut file = FileCheck {
        path: path.to_owned(),
        format: Some(format),
        certificates: 0,
        store_reader: None,
        skipped: 0,
        errors: Vec::new(),
    };
    let result = match format {
        FileFormat::Sst => check_sst(path, bytes, api, rules, rows, &mut file),
        FileFormat::Blob | FileFormat::BlobDir => {
            check_blob(path, bytes, stem, api, rules, rows, &mut file)
        }
        FileFormat::Reg => check_reg(path, bytes, api, rules, rows, &mut file),
    };
    if let Err(e) = result {
        file.errors.push(ErrorReport::from_format(&e, bytes));
    }
    file
}

/// Compares one element read by certmig with crypt32's element reading.
fn element_row(
    path: &str,
    e: &SerializedElement<'_>,
    raw: &[u8],
    api: &mut dyn CryptoApi,
    rules: RuleSet,
) -> Row {
    let certmig = certmig_reading(e, rules);
    let observed = api.add_element(raw);
    let cryptoapi = cryptoapi_reading(&observed, Via::SerializedElement);
    let differences = compare(
        &certmig,
        &cryptoapi,
        Some(&e.der),
        observed.as_ref().ok().map(|o| &o.der[..]),
    );
    Row::new(
        path,
        e.thumbprint().to_hex(),
        certmig,
        cryptoapi,
        differences,
    )
}

fn check_sst(
    path: &str,
    bytes: &[u8],
    api: &mut dyn CryptoApi,
    rules: RuleSet,
    rows: &mut Vec<Row>,
    file: &mut FileCheck,
) -> Result<(), format::FormatError> {
    let mut properties_first = true;
    for item in format::StoreIter::new(bytes, ReadMode::Strict)? {
        let (offset, e) = item?;
        if e.kind != ContextKind::Certificate {
            file.skipped += 1;
            continue;
        }
        properties_first &= !e.properties.is_empty();
        let raw = &bytes[offset..offset + e.encoded_len()];
        rows.push(element_row(path, &e, raw, api, rules));
        file.certificates += 1;
    }
    let platform = api.platform();
    let store = api.read_serialized_store(bytes);
    let (opened, certificates) = match &store {
        Ok(list) => (Outcome::Ok, list.len()),
        Err(h) => (Outcome::Refused(*h), 0),
    };
    let note = if certificates == file.certificates {
        None
    } else if platform.kind == PlatformKind::Wine && properties_first && certificates == 0 {
        Some(WINE_SST_NOTE.to_owned())
    } else {
        Some(format!(
            "crypt32's store reader listed {certificates} certificate(s), certmig read {} \
             (information, not a disagreement)",
            file.certificates
        ))
    };
    file.store_reader = Some(StoreReading {
        api: "CertOpenStore(CERT_STORE_PROV_SERIALIZED)",
        opened,
        certificates,
        note,
    });
    Ok(())
}

fn check_blob(
    path: &str,
    bytes: &[u8],
    stem: Option<&str>,
    api: &mut dyn CryptoApi,
    rules: RuleSet,
    rows: &mut Vec<Row>,
    file: &mut FileCheck,
) -> Result<(), format::FormatError> {
    let e = format::parse_element_file(bytes, ReadMode::Strict)?;
    if let Some(stem) = stem.filter(|n| Thumbprint::looks_like(n)) {
        format::registry::parse_blob(bytes, stem, ReadMode::Strict)?;
    }
    if e.kind != ContextKind::Certificate {
        file.skipped += 1;
        return Ok(());
    }
    rows.push(element_row(path, &e, bytes, api, rules));
    file.certificates += 1;
    Ok(())
}

fn check_reg(
    path: &str,
    bytes: &[u8],
    api: &mut dyn CryptoApi,
    rules: RuleSet,
    rows: &mut Vec<Row>,
    file: &mut FileCheck,
) -> Result<(), format::FormatError> {
    let parsed = format::reg::parse_reg(bytes, ReadMode::Strict)?;
    let certificates = &parsed.store.certificates;
    let platform = api.platform();
    // Each key named as the file names it: certmig accepts a thumbprint in
    // either case, Wine's registry store only in upper case
    // ([`WINE_REGISTRY_KEY_CASE`]).
    let names = &parsed.key_names;
    let blobs: Vec<Vec<u8>> = certificates.iter().map(|c| c.element.to_bytes()).collect();
    let keys: Vec<RegistryBlob<'_>> = names
        .iter()
        .zip(&blobs)
        .map(|(name, blob)| RegistryBlob {
            folder: "Certificates",
            name,
            blob,
        })
        .collect();
    let listed = api.read_registry_store(&keys);
    let (opened, mut listed) = match listed {
        Ok(list) => (Outcome::Ok, list),
        Err(h) => (Outcome::Refused(h), Vec::new()),
    };
    let count = listed.len();
    for ((c, blob), name) in certificates.iter().zip(&blobs).zip(names) {
        let e = &c.element;
        if e.kind != ContextKind::Certificate {
            file.skipped += 1;
            continue;
        }
        file.certificates += 1;
        let thumbprint = c.thumbprint.to_hex();
        let found = listed.iter().position(|o| {
            o.hash
                .as_deref()
                .map(format::thumbprint::hex_upper)
                .as_deref()
                == Some(&thumbprint)
        });
        let certmig = certmig_reading(e, rules);
        let (observed, via) = match found {
            Some(i) => (Ok(listed.remove(i)), Via::RegistryStore),
            // Not listed: the element alone says why (the registry store
            // skips silently what it cannot read).
            None => (api.add_element(blob), Via::SerializedElement),
        };
        let mut cryptoapi = cryptoapi_reading(&observed, via);
        if found.is_none() && observed.is_ok() {
            cryptoapi = Reading::absent(Via::RegistryStore);
        }
        let mut differences = compare(
            &certmig,
            &cryptoapi,
            Some(&e.der),
            observed
                .as_ref()
                .ok()
                .filter(|_| found.is_some())
                .map(|o| &o.der[..]),
        );
        if platform.kind == PlatformKind::Wine
            && *name != thumbprint
            && cryptoapi.verdict == Outcome::Absent
        {
            for d in differences.iter_mut().filter(|d| d.field == "verdict") {
                d.known = Some(WINE_REGISTRY_KEY_CASE.id);
            }
        }
        rows.push(Row::new(path, thumbprint, certmig, cryptoapi, differences));
    }
    // Certificates the registry store listed that certmig did not read.
    for o in listed {
        let cryptoapi = cryptoapi_reading(&Ok(o.clone()), Via::RegistryStore);
        let certmig = Reading::absent(Via::Certmig);
        let differences = compare(&certmig, &cryptoapi, None, None);
        let thumbprint = cryptoapi
            .thumbprint
            .clone()
            .unwrap_or_else(|| Thumbprint::of(&o.der).to_hex());
        rows.push(Row::new(path, thumbprint, certmig, cryptoapi, differences));
    }
    file.store_reader = Some(StoreReading {
        api: "CertOpenStore(CERT_STORE_PROV_REG)",
        opened,
        certificates: count,
        note: None,
    });
    Ok(())
}

#[cfg(test)]
mod tests;
