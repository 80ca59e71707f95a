//! CryptoAPI with and without security update 974571 (MS09-056): the rules
//! applied when a certificate with its properties enters a store, and the
//! rules applied where its names and OIDs are read, compared and displayed.
//!
//! | rule id | kind | what it is about | legacy | ms09-056 |
//! |---|---|---|---|---|
//! | `friendly-name-embedded-nul` | import | friendly name (property 11) with a U+0000 before its last code unit | imports | refuses, `0x80092024` CRYPT_E_NOT_CHAR_STRING |
//! | `malformed-certificate` | import | certificate DER that cannot be decoded | refuses, `0x80093103` | refuses, `0x80093103` |
//! | `name-embedded-nul` | matching | issuer/subject value with a U+0000 (CVE-2009-2510) | compares up to the NUL (spoofed) | matches nothing |
//! | `name-embedded-nul-display` | display | the same | shows up to the NUL | shows the whole value, NUL as `\0` |
//! | `oid-arc-overflow` | matching | OID arc past 32 bits (CVE-2009-2511) | reads it modulo 2^32 (`2.5.4.4294967299` is CN) | reads it in full (not CN) |
//! | `oid-arc-overflow-display` | display | the same, in a name | shows the type read modulo 2^32 | shows the dotted OID in full |
//!
//! Sources (each [`Rule`] carries its own, and says with `modelling_choice`
//! where none backs the exact behaviour):
//! - the friendly-name refusal and its HRESULT: MS09-056 / KB 974571 and
//!   KB 977203 (what OSDSMPClient logs);
//! - what imports: Wine's crypt32 conformance tests, which run against
//!   Windows. `dlls/crypt32/tests/cert.c` `testAddCert` and
//!   `dlls/crypt32/tests/store.c` `testMemStore` add `bigCert` to a store
//!   with CertAddEncodedCertificateToStore: a bare TBSCertificate (no
//!   signature) whose issuer and subject CN values end in a NUL. So neither
//!   a NUL in a name nor a missing signature is refused at import, under
//!   either rule set. `testMemStore` also shows what is refused: `30 00`
//!   (CRYPT_E_ASN1_EOD) and a CRL given as a certificate
//!   (CRYPT_E_ASN1_BADTAG); certmig reports CRYPT_E_ASN1_CORRUPT for every
//!   undecodable certificate (a modelling choice);
//! - the CVE fixes: the MS09-056 bulletin (the update makes CryptoAPI
//!   "reject certificate names that contain null terminators, and ...
//!   correctly validate ASN.1 object identifiers") and the MSRC SRD blog on
//!   MS09-056 (legacy CryptoAPI parsed only the part of a name before a NUL,
//!   and overflowed converting a large OID arc). They act where names are
//!   compared ([`subject_matches`]) and displayed ([`display_subject`]),
//!   reported per certificate by [`name_findings`].
//!
//! Check order at import: the DER is walked (refused under every rule set
//! when it cannot be), then, under `ms09-056`, the friendly name.

pub use certmig_format::der;

use std::fmt;

use serde::Serialize;

use crate::format::{friendly_name, ContextKind, SerializedElement, Thumbprint};
use der::{decode_string, first_nul, Attribute, CertificateView, DerError, Oid};

/// An HRESULT, shown as `0x80092024`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hresult(pub u32);

impl Hresult {
    pub const CRYPT_E_NOT_CHAR_STRING: Hresult = Hresult(0x8009_2024);
    pub const CRYPT_E_INVALID_X500_STRING: Hresult = Hresult(0x8009_2023);
    pub const CRYPT_E_ASN1_LARGE: Hresult = Hresult(0x8009_3104);
    pub const CRYPT_E_ASN1_CORRUPT: Hresult = Hresult(0x8009_3103);
    pub const CRYPT_E_NOT_FOUND: Hresult = Hresult(0x8009_2004);
    pub const ERROR_FILE_NOT_FOUND: Hresult = Hresult(0x8007_0002);
    pub const E_INVALIDARG: Hresult = Hresult(0x8007_0057);
    pub const CRYPT_E_FILE_ERROR: Hresult = Hresult(0x8009_2003);

    /// The symbolic name, where the harness knows it.
    pub fn name(self) -> &'static str {
        match self {
            Hresult::CRYPT_E_NOT_CHAR_STRING => "CRYPT_E_NOT_CHAR_STRING",
            Hresult::CRYPT_E_INVALID_X500_STRING => "CRYPT_E_INVALID_X500_STRING",
            Hresult::CRYPT_E_ASN1_LARGE => "CRYPT_E_ASN1_LARGE",
            Hresult::CRYPT_E_ASN1_CORRUPT => "CRYPT_E_ASN1_CORRUPT",
            Hresult::CRYPT_E_NOT_FOUND => "CRYPT_E_NOT_FOUND",
            Hresult::ERROR_FILE_NOT_FOUND => "ERROR_FILE_NOT_FOUND",
            Hresult::E_INVALIDARG => "E_INVALIDARG",
            Hresult::CRYPT_E_FILE_ERROR => "CRYPT_E_FILE_ERROR",
            _ => "",
        }
    }
}

impl fmt::Display for Hresult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08x}", self.0)
    }
}

impl fmt::Debug for Hresult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hresult({self} {})", self.name())
    }
}

impl Serialize for Hresult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Hresult {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Hresult {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let hex = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        u32::from_str_radix(hex, 16)
            .map(Hresult)
            .map_err(|_| format!("`{s}` is not an HRESULT like 0x80092024"))
    }
}

certmig_format::vocabulary! {
    "rule set";
    /// The import rules in force on a machine.
    pub enum RuleSet {
        /// No 974571: everything decodable imports; names are read the old way.
        #[strum(serialize = "legacy")]
        Legacy,
        /// 974571 installed, or Windows 7 SP1.
        #[strum(serialize = "ms09-056")]
        Ms09056,
    }
}

impl RuleSet {
    pub const ALL: [RuleSet; 2] = [RuleSet::Legacy, RuleSet::Ms09056];
}

certmig_format::vocabulary! {
    "rule";
    /// The stable id of a rule (what `--json` reports and tests name).
    #[strum(serialize_all = "kebab-case")]
    pub enum RuleId {
        FriendlyNameEmbeddedNul,
        MalformedCertificate,
        NameEmbeddedNul,
        NameEmbeddedNulDisplay,
        OidArcOverflow,
        OidArcOverflowDisplay,
    }
}

certmig_format::vocabulary! {
    "rule kind";
    /// Where a rule acts.
    pub enum RuleKind {
        /// When a certificate enters a store: it may be refused.
        #[strum(serialize = "import")]
        Import,
        /// When a name is compared with an expected name, or an attribute
        /// type is read: the certificate is already in the store.
        #[strum(serialize = "matching")]
        Matching,
        /// When a name is shown to an administrator.
        #[strum(serialize = "display")]
        Display,
    }
}

/// One rule of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: RuleId,
    pub kind: RuleKind,
    pub description: &'static str,
    /// What a refused import returns (import rules only).
    pub hresult: Option<Hresult>,
    pub source: &'static str,
    /// True where no source backs the exact behaviour modelled (the
    /// description and source say which part).
    pub modelling_choice: bool,
}

impl Rule {
    /// The HRESULT of an import refusal by this rule.
    pub fn refusal(&self) -> Hresult {
        self.hresult.unwrap_or(Hresult::CRYPT_E_ASN1_CORRUPT)
    }
}

pub const FRIENDLY_NAME_EMBEDDED_NUL: Rule = Rule {
    id: RuleId::FriendlyNameEmbeddedNul,
    kind: RuleKind::Import,
    description: "ms09-056 refuses to import a certificate whose friendly name (property 11) has a U+0000 before its last code unit; legacy imports it and displays the name up to the first NUL",
    hresult: Some(Hresult::CRYPT_E_NOT_CHAR_STRING),
    source: "MS09-056 / KB 974571; KB 977203 (OSDSMPClient: Failed to import the client certificate store (0x80092024)); the legacy display up to the first NUL is certmig's choice",
    modelling_choice: false,
};
/// Not an MS09-056 rule: a certificate CryptoAPI cannot decode at all.
pub const MALFORMED_CERTIFICATE: Rule = Rule {
    id: RuleId::MalformedCertificate,
    kind: RuleKind::Import,
    description: "every rule set refuses a certificate whose DER cannot be decoded (as certmig's walker reads it: a signed certificate or a bare TBSCertificate, down to its names and algorithm identifiers); the HRESULT is certmig's choice",
    hresult: Some(Hresult::CRYPT_E_ASN1_CORRUPT),
    source: "refusal: Wine dlls/crypt32/tests/store.c testMemStore (CertAddEncodedCertificateToStore fails for `30 00` with CRYPT_E_ASN1_EOD, and for a CRL given as a certificate with CRYPT_E_ASN1_BADTAG; the test also accepts CRYPT_E_ASN1_CORRUPT). One HRESULT, CRYPT_E_ASN1_CORRUPT, for every decoding failure: modelling choice",
    modelling_choice: true,
};
pub const NAME_EMBEDDED_NUL: Rule = Rule {
    id: RuleId::NameEmbeddedNul,
    kind: RuleKind::Matching,
    description: "an issuer or subject value with a U+0000 (CVE-2009-2510): legacy compares only the part before the NUL, so `www.bank.example\\0.evil.example` matches `www.bank.example`; ms09-056 matches no name against it. Such a certificate imports under both rule sets",
    hresult: None,
    source: "legacy: MSRC SRD blog, MS09-056: Addressing the X.509 CryptoAPI ASN.1 security vulnerabilities (2009-10-12), CVE-2009-2510 (CryptoAPI parses only the part before the NULL); ms09-056: MS09-056 bulletin (the update makes CryptoAPI reject certificate names that contain null terminators); import: Wine dlls/crypt32/tests/cert.c testAddCert, store.c testMemStore",
    modelling_choice: false,
};
pub const NAME_EMBEDDED_NUL_DISPLAY: Rule = Rule {
    id: RuleId::NameEmbeddedNulDisplay,
    kind: RuleKind::Display,
    description: "an issuer or subject value with a U+0000 (CVE-2009-2510) as an administrator sees it: legacy shows the value up to the NUL; ms09-056 shows the whole value with the NUL as `\\0`",
    hresult: None,
    source: "legacy: MSRC SRD blog on MS09-056, CVE-2009-2510; ms09-056 display text: modelling choice (no source says how the updated CryptoAPI shows such a value)",
    modelling_choice: true,
};
pub const OID_ARC_OVERFLOW: Rule = Rule {
    id: RuleId::OidArcOverflow,
    kind: RuleKind::Matching,
    description: "an object identifier arc past 32 bits (CVE-2009-2511): legacy reads it modulo 2^32, so the attribute type 2.5.4.4294967299 reads as 2.5.4.3 (CN) and its value matches as a CN; ms09-056 reads the arc in full and does not take the attribute for a CN. Such a certificate imports under both rule sets",
    hresult: None,
    source: "legacy: MSRC SRD blog on MS09-056, CVE-2009-2511 (integer overflow when CryptoAPI converts an OID to a string); the arc read modulo 2^32 is certmig's reading of that overflow: modelling choice; ms09-056: MS09-056 bulletin (the update makes CryptoAPI correctly validate ASN.1 object identifiers); import is not refused: no source documents a refusal",
    modelling_choice: true,
};
pub const OID_ARC_OVERFLOW_DISPLAY: Rule = Rule {
    id: RuleId::OidArcOverflowDisplay,
    kind: RuleKind::Display,
    description: "an issuer or subject attribute type with an arc past 32 bits (CVE-2009-2511) as an administrator sees it: legacy shows the type read modulo 2^32 (2.5.4.4294967299 shows as CN); ms09-056 shows the dotted OID in full",
    hresult: None,
    source: "legacy: MSRC SRD blog on MS09-056, CVE-2009-2511; ms09-056 display text: modelling choice",
    modelling_choice: true,
};

/// The rules applied when a certificate enters a store.
pub fn import_rules() -> &'static [Rule] {
    &[FRIENDLY_NAME_EMBEDDED_NUL, MALFORMED_CERTIFICATE]
}

/// The rules applied where names and OIDs are read, compared and displayed
/// (MS09-056's fixes for CVE-2009-2510 and CVE-2009-2511).
pub fn name_rules() -> &'static [Rule] {
    &[
        NAME_EMBEDDED_NUL,
        NAME_EMBEDDED_NUL_DISPLAY,
        OID_ARC_OVERFLOW,
        OID_ARC_OVERFLOW_DISPLAY,
    ]
}

/// Every rule of the model: the import rules, then the name rules.
pub fn rules() -> &'static [Rule] {
    &[
        FRIENDLY_NAME_EMBEDDED_NUL,
        MALFORMED_CERTIFICATE,
        NAME_EMBEDDED_NUL,
        NAME_EMBEDDED_NUL_DISPLAY,
        OID_ARC_OVERFLOW,
        OID_ARC_OVERFLOW_DISPLAY,
    ]
}

/// Which name an offending value is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NameKind {
    Issuer,
    Subject,
}

/// Where the offending code unit, character or arc is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Offence {
    /// A NUL code unit of the friendly name.
    FriendlyName {
        code_unit: usize,
        byte_offset: usize,
    },
    /// A NUL character in a name value; `der_offset` is its byte in the DER.
    NameValue {
        name: NameKind,
        attribute: String,
        char_index: usize,
        der_offset: usize,
    },
    /// An arc of an OID; `der_offset` is the arc's first byte in the DER.
    OidArc {
        oid: String,
        arc_index: usize,
        arc: String,
        der_offset: usize,
    },
    /// The DER could not be walked.
    Der { der_offset: usize, message: String },
}

impl fmt::Display for Offence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offence::FriendlyName { code_unit, byte_offset } => {
                write!(f, "NUL at code unit {code_unit} (byte {byte_offset}) of the friendly name")
            }
            Offence::NameValue { name, attribute, char_index, der_offset } => write!(
                f,
                "NUL at character {char_index} of the {name:?} {attribute} value (DER offset {der_offset})"
            ),
            Offence::OidArc { oid, arc_index, arc, der_offset } => {
                write!(f, "arc {arc_index} of {oid} is {arc}, past 2^32 (DER offset {der_offset})")
            }
            Offence::Der { der_offset, message } => write!(f, "DER offset {der_offset}: {message}"),
        }
    }
}

impl Offence {
    /// Writes what `Display` writes, faster for the usual offence (a NUL in
    /// the friendly name: no `core::fmt` machinery).
    pub fn write_to<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        match self {
            Offence::FriendlyName {
                code_unit,
                byte_offset,
            } => {
                w.write_str("NUL at code unit ")?;
                w.write_str(itoa::Buffer::new().format(*code_unit))?;
                w.write_str(" (byte ")?;
                w.write_str(itoa::Buffer::new().format(*byte_offset))?;
                w.write_str(") of the friendly name")
            }
            other => write!(w, "{other}"),
        }
    }
}

/// A refused import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{thumbprint}: rejected by {} ({hresult}): {offence}", rule.id)]
pub struct Rejection {
    pub rule: &'static Rule,
    pub hresult: Hresult,
    pub thumbprint: Thumbprint,
    pub offence: Box<Offence>,
}

impl Rejection {
    fn new(e: &SerializedElement<'_>, rule: &'static Rule, offence: Offence) -> Rejection {
        Rejection {
            rule,
            hresult: rule.refusal(),
            thumbprint: e.thumbprint(),
            offence: Box::new(offence),
        }
    }
}

/// A certificate that entered the store, as CryptoAPI then shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportedCertificate {
    pub thumbprint: Thumbprint,
    /// The friendly name as displayed: up to the first NUL.
    pub display_name: Option<String>,
    /// The subject as the rule set's CryptoAPI displays it.
    pub display_subject: String,
}

/// "ok" or the HRESULT: the value of `scan --json`'s `verdicts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Rejected(Hresult),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Ok => f.write_str("ok"),
            Verdict::Rejected(h) => h.fmt(f),
        }
    }
}

impl Serialize for Verdict {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The first import rule `e` breaks under `rules`, and where; `None` when
/// it imports. The certificate is walked first (an undecodable certificate
/// is refused under every rule set); then, under `ms09-056` only, the
/// friendly name is checked (also for CRL and CTL elements, which are not
/// walked). Names and OIDs are not judged here: MS09-056's fixes for them
/// act where they are compared and displayed ([`name_findings`],
/// [`subject_matches`]).
fn check(e: &SerializedElement<'_>, rules: RuleSet) -> Option<(&'static Rule, Offence)> {
    if let Err(offence) = walk(e) {
        return Some((&MALFORMED_CERTIFICATE, offence));
    }
    match rules {
        RuleSet::Legacy => None,
        RuleSet::Ms09056 => check_friendly_name(e),
    }
}

/// Walks a certificate's DER (other contexts are not walked).
fn walk(e: &SerializedElement<'_>) -> Result<(), Offence> {
    match e.kind {
        ContextKind::Certificate => match CertificateView::parse(&e.der) {
            Ok(_) => Ok(()),
            Err(DerError { offset, message }) => Err(Offence::Der {
                der_offset: offset,
                message: message.into(),
            }),
        },
        _ => Ok(()),
    }
}

/// The friendly-name rule (MS09-056, KB 977203).
fn check_friendly_name(e: &SerializedElement<'_>) -> Option<(&'static Rule, Offence)> {
    check_friendly_name_value(e.friendly_name())
}

/// The friendly-name rule on the value of property 11, if any.
fn check_friendly_name_value(v: Option<&[u8]>) -> Option<(&'static Rule, Offence)> {
    let v = v?;
    if !friendly_name::has_embedded_nul(v) {
        return None;
    }
    let unit = friendly_name::first_nul_unit(v).unwrap_or(0);
    Some((
        &FRIENDLY_NAME_EMBEDDED_NUL,
        Offence::FriendlyName {
            code_unit: unit,
            byte_offset: 2 * unit,
        },
    ))
}

/// Everything `scan` asks of the rules about one element, with its DER
/// walked once: the walk (attempted whatever the element's kind; the import
/// rules walk certificates only) and the refusal under each rule set, in the
/// order of [`RuleSet::Legacy`], [`RuleSet::Ms09056`] (exactly what
/// [`import`] refuses with).
pub struct Judged<'a> {
    pub view: Result<CertificateView<'a>, DerError>,
    pub refusals: [Option<(&'static Rule, Offence)>; 2],
}

/// Judges `e` under both rule sets with one walk of its DER: see [`Judged`].
pub fn judge<'a>(e: &'a SerializedElement<'_>) -> Judged<'a> {
    let view = CertificateView::parse(&e.der);
    let refusals = refusals_of(e.kind, view.as_ref().err(), e.friendly_name());
    Judged { view, refusals }
}

/// The refusal under each rule set ([`RuleSet::Legacy`], [`RuleSet::Ms09056`])
/// of an element of this kind whose DER walk failed with `walk_error` (or
/// not), with this friendly-name value: what [`judge`] decides, from the
/// parts of an element.
pub fn refusals_of(
    kind: ContextKind,
    walk_error: Option<&DerError>,
    friendly_name: Option<&[u8]>,
) -> [Option<(&'static Rule, Offence)>; 2] {
    match (walk_error, kind) {
        (Some(DerError { offset, message }), ContextKind::Certificate) => {
            let offence = Offence::Der {
                der_offset: *offset,
                message: (*message).into(),
            };
            [
                Some((&MALFORMED_CERTIFICATE, offence.clone())),
                Some((&MALFORMED_CERTIFICATE, offence)),
            ]
        }
        _ => [None, check_friendly_name_value(friendly_name)],
    }
}

/// [`exact_subject`] of a certificate already walked.
pub fn exact_subject_in(view: &CertificateView<'_>) -> String {
    render(&view.subject, false)
}

/// The issuer of a certificate already walked, exactly (as
/// [`exact_subject_in`] gives the subject).
pub fn exact_issuer_in(view: &CertificateView<'_>) -> String {
    render(&view.issuer, false)
}

/// The verdicts under both rule sets, walking the certificate once: what
/// `scan` computes per certificate.
pub fn verdicts(e: &SerializedElement<'_>) -> (Verdict, Verdict) {
    if walk(e).is_err() {
        let bad = Verdict::Rejected(MALFORMED_CERTIFICATE.refusal());
        return (bad, bad);
    }
    let ms = match check_friendly_name(e) {
        None => Verdict::Ok,
        Some((rule, _)) => Verdict::Rejected(rule.refusal()),
    };
    (Verdict::Ok, ms)
}

/// The verdict alone (no thumbprint, no strings): what `scan` computes per
/// certificate and rule set.
pub fn verdict(e: &SerializedElement<'_>, rules: RuleSet) -> Verdict {
    match check(e, rules) {
        None => Verdict::Ok,
        Some((rule, _)) => Verdict::Rejected(rule.refusal()),
    }
}

/// The first rule `e` breaks under each rule set, `(legacy, ms09-056)`
/// (`None` where it imports), with the certificate walked once: what
/// [`import`] decides under each, without building what it shows.
pub fn refusals(e: &SerializedElement<'_>) -> (Option<&'static Rule>, Option<&'static Rule>) {
    if walk(e).is_err() {
        return (Some(&MALFORMED_CERTIFICATE), Some(&MALFORMED_CERTIFICATE));
    }
    (None, check_friendly_name(e).map(|(rule, _)| rule))
}

/// Imports a serialized element under `rules`.
pub fn import(e: &SerializedElement<'_>, rules: RuleSet) -> Result<ImportedCertificate, Rejection> {
    if let Some((rule, offence)) = check(e, rules) {
        return Err(Rejection::new(e, rule, offence));
    }
    Ok(ImportedCertificate {
        thumbprint: e.thumbprint(),
        display_name: e.friendly_name().map(friendly_name::displayed),
        display_subject: display_subject(&e.der, rules),
    })
}

/// Imports every element; the first rejection wins (what OSDSMPClient does
/// with a whole store).
pub fn import_all<'e, I>(elements: I, rules: RuleSet) -> Result<usize, Rejection>
where
    I: IntoIterator<Item = &'e SerializedElement<'e>>,
{
    let mut n = 0;
    for e in elements {
        // The check alone: the thumbprint and display strings of an
        // imported certificate are not needed here.
        if let Some((rule, offence)) = check(e, rules) {
            return Err(Rejection::new(e, rule, offence));
        }
        n += 1;
    }
    Ok(n)
}

/// The friendly name as legacy CryptoAPI displayed it: up to the first NUL.
pub fn legacy_display_name(e: &SerializedElement<'_>) -> Option<String> {
    e.friendly_name().map(friendly_name::displayed)
}

/// Short names for the attribute types CryptoAPI names.
fn short_name(dotted: &str) -> String {
    match dotted {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "S",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "T",
        "2.5.4.42" => "G",
        "1.2.840.113549.1.9.1" => "E",
        "0.9.2342.19200300.100.1.25" => "DC",
        other => return other.to_owned(),
    }
    .to_owned()
}

fn render(attrs: &[Attribute<'_>], legacy: bool) -> String {
    attrs
        .iter()
        .map(|a| {
            let key = match Oid::decode(&a.oid) {
                Ok(o) if legacy => short_name(&o.legacy_dotted()),
                Ok(o) => short_name(&o.dotted()),
                Err(_) => "?".to_owned(),
            };
            let chars = decode_string(&a.value);
            let value: String = if legacy {
                chars.iter().take_while(|&&c| c != '\0').collect()
            } else {
                chars
                    .iter()
                    .map(|&c| {
                        if c == '\0' {
                            "\\0".to_owned()
                        } else {
                            c.to_string()
                        }
                    })
                    .collect()
            };
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The short name of an attribute type whose OID is encoded canonically as
/// `value` (what [`short_name`] of its dotted form gives), without decoding it.
fn known_short_name(value: &[u8]) -> Option<&'static str> {
    Some(match value {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x04] => "SN",
        [0x55, 0x04, 0x05] => "SERIALNUMBER",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "S",
        [0x55, 0x04, 0x09] => "STREET",
        [0x55, 0x04, 0x0A] => "O",
        [0x55, 0x04, 0x0B] => "OU",
        [0x55, 0x04, 0x0C] => "T",
        [0x55, 0x04, 0x2A] => "G",
        [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01] => "E",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19] => "DC",
        _ => return None,
    })
}

/// The subject exactly (what [`exact_subject_in`] returns), or as legacy
/// CryptoAPI displayed it (`legacy`), written to `w` without building
/// strings for the usual attribute types.
pub fn write_name<W: fmt::Write + ?Sized>(
    attrs: &[Attribute<'_>],
    legacy: bool,
    w: &mut W,
) -> fmt::Result {
    for (i, a) in attrs.iter().enumerate() {
        if i > 0 {
            w.write_str(", ")?;
        }
        match known_short_name(a.oid.value) {
            // A canonical encoding of a known type: no arc overflows, so
            // the legacy reading is the same.
            Some(key) => w.write_str(key)?,
            None => {
                // Anything else, as `render` does it.
                let text = render(std::slice::from_ref(a), legacy);
                let key = text.split_once('=').map_or(&text[..], |(k, _)| k);
                w.write_str(key)?;
            }
        }
        w.write_char('=')?;
        // Text with no NUL that is UTF-8 as it stands (ASCII in any
        // byte-per-character string, or valid UTF8String) goes out whole.
        let plain = match a.value.tag {
            der::tag::UTF8_STRING => std::str::from_utf8(a.value.value).ok(),
            der::tag::BMP_STRING | der::tag::UNIVERSAL_STRING => None,
            _ => std::str::from_utf8(a.value.value)
                .ok()
                .filter(|t| t.is_ascii()),
        };
        if let Some(text) = plain.filter(|t| !t.as_bytes().contains(&0)) {
            w.write_str(text)?;
            continue;
        }
        let mut result = Ok(());
        let mut cut = false;
        der::for_each_char(&a.value, |c| {
            if result.is_err() || cut {
                return;
            }
            result = match c {
                '\0' if legacy => {
                    cut = true;
                    Ok(())
                }
                '\0' => w.write_str("\\0"),
                c => w.write_char(c),
            };
        });
        result?;
    }
    Ok(())
}

/// False when [`name_findings_in`] is sure to find nothing: no name value
/// holds a NUL and no OID it reads has an arc that might pass 32 bits (a
/// quick check that allocates nothing; true means "look").
pub fn may_have_name_findings(view: &CertificateView<'_>) -> bool {
    view.oids().any(|o| der::oid_has_overflowing_arc(o.value))
        || view
            .issuer
            .iter()
            .chain(&view.subject)
            .any(|a| first_nul(&a.value).is_some())
}

/// The subject as legacy CryptoAPI displayed it: attributes in encoded order,
/// each value cut at its first NUL, each type read with arcs modulo 2^32.
pub fn legacy_display_subject(der: &[u8]) -> String {
    CertificateView::parse(der)
        .map(|v| render(&v.subject, true))
        .unwrap_or_default()
}

/// The subject exactly: NULs shown as `\0`, big arcs in full.
pub fn exact_subject(der: &[u8]) -> String {
    CertificateView::parse(der)
        .map(|v| render(&v.subject, false))
        .unwrap_or_default()
}

/// The subject as the rule set's CryptoAPI displays it ([`legacy_display_subject`]
/// or [`exact_subject`]).
pub fn display_subject(der: &[u8], rules: RuleSet) -> String {
    CertificateView::parse(der)
        .map(|v| render(&v.subject, rules == RuleSet::Legacy))
        .unwrap_or_default()
}

/// The issuer as the rule set's CryptoAPI displays it.
pub fn display_issuer(der: &[u8], rules: RuleSet) -> String {
    CertificateView::parse(der)
        .map(|v| render(&v.issuer, rules == RuleSet::Legacy))
        .unwrap_or_default()
}

const CN: &str = "2.5.4.3";

/// Whether a subject CN of the certificate is `expected` (compared without
/// regard to ASCII case, as host names are), as the rule set's CryptoAPI
/// decides it (rules `name-embedded-nul` and `oid-arc-overflow`):
///
/// - `legacy` reads each attribute type with its arcs modulo 2^32 and
///   compares each value up to its first NUL, so both spoofs match;
/// - `ms09-056` takes only a type that is exactly 2.5.4.3 for a CN, and a
///   value with a NUL matches nothing.
///
/// A certificate whose DER cannot be walked matches nothing.
pub fn subject_matches(der: &[u8], expected: &str, rules: RuleSet) -> bool {
    let Ok(view) = CertificateView::parse(der) else {
        return false;
    };
    view.subject.iter().any(|a| {
        let Ok(oid) = Oid::decode(&a.oid) else {
            return false;
        };
        let chars = decode_string(&a.value);
        match rules {
            RuleSet::Legacy => {
                oid.legacy_dotted() == CN
                    && chars
                        .iter()
                        .take_while(|&&c| c != '\0')
                        .collect::<String>()
                        .eq_ignore_ascii_case(expected)
            }
            RuleSet::Ms09056 => {
                oid.overflowing_arc().is_none()
                    && oid.dotted() == CN
                    && !chars.contains(&'\0')
                    && chars
                        .iter()
                        .collect::<String>()
                        .eq_ignore_ascii_case(expected)
            }
        }
    })
}

/// Something MS09-056 changes in how a certificate's names or OIDs are
/// read, compared or displayed. The certificate imports either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameFinding {
    pub rule: &'static Rule,
    pub offence: Offence,
    /// What CryptoAPI without 974571 does.
    pub legacy: String,
    /// What CryptoAPI with 974571 does.
    pub ms09_056: String,
}

/// The name findings of a certificate, in encoded order (signature
/// algorithm, issuer, subject, public key algorithm, extensions); empty when
/// there are none or the DER cannot be walked.
pub fn name_findings(der: &[u8]) -> Vec<NameFinding> {
    match CertificateView::parse(der) {
        Ok(view) => name_findings_in(&view),
        Err(_) => Vec::new(),
    }
}

/// [`name_findings`] of a certificate already walked.
pub fn name_findings_in(view: &CertificateView<'_>) -> Vec<NameFinding> {
    let mut out = Vec::new();
    oid_findings(&view.signature_algorithm, &mut out);
    for (kind, attrs) in [
        (NameKind::Issuer, &view.issuer),
        (NameKind::Subject, &view.subject),
    ] {
        for a in attrs {
            let oid = Oid::decode(&a.oid).ok();
            let exact_key = oid
                .as_ref()
                .map_or_else(|| "?".to_owned(), |o| short_name(&o.dotted()));
            let legacy_key = oid
                .as_ref()
                .map_or_else(|| "?".to_owned(), |o| short_name(&o.legacy_dotted()));
            if let Some((char_index, der_offset)) = first_nul(&a.value) {
                let offence = Offence::NameValue {
                    name: kind,
                    attribute: exact_key.clone(),
                    char_index,
                    der_offset,
                };
                let shown = render(std::slice::from_ref(a), true);
                let cut: String = decode_string(&a.value)
                    .into_iter()
                    .take_while(|&c| c != '\0')
                    .collect();
                out.push(NameFinding {
                    rule: &NAME_EMBEDDED_NUL,
                    offence: offence.clone(),
                    legacy: format!("compared as `{cut}`"),
                    ms09_056: "matches no name: a name with a NUL is rejected".to_owned(),
                });
                out.push(NameFinding {
                    rule: &NAME_EMBEDDED_NUL_DISPLAY,
                    offence,
                    legacy: format!("shown as `{shown}`"),
                    ms09_056: format!("shown as `{}`", render(std::slice::from_ref(a), false)),
                });
            }
            if let Some(o) = &oid {
                if let Some(offence) = arc_offence(o) {
                    out.push(NameFinding {
                        rule: &OID_ARC_OVERFLOW,
                        offence: offence.clone(),
                        legacy: format!("type read as {} ({legacy_key})", o.legacy_dotted()),
                        ms09_056: format!("type read as {}", o.dotted()),
                    });
                    out.push(NameFinding {
                        rule: &OID_ARC_OVERFLOW_DISPLAY,
                        offence,
                        legacy: format!("shown as `{}`", render(std::slice::from_ref(a), true)),
                        ms09_056: format!("shown as `{}`", render(std::slice::from_ref(a), false)),
                    });
                }
            }
        }
    }
    oid_findings(&view.public_key_algorithm, &mut out);
    for id in &view.extension_ids {
        oid_findings(id, &mut out);
    }
    out
}

/// `oid-arc-overflow` for an OID outside the names (algorithms, extensions).
fn oid_findings(tlv: &der::Tlv<'_>, out: &mut Vec<NameFinding>) {
    if let Ok(o) = Oid::decode(tlv) {
        if let Some(offence) = arc_offence(&o) {
            out.push(NameFinding {
                rule: &OID_ARC_OVERFLOW,
                offence,
                legacy: format!("read as {}", o.legacy_dotted()),
                ms09_056: format!("read as {}", o.dotted()),
            });
        }
    }
}

fn arc_offence(o: &Oid) -> Option<Offence> {
    let (arc_index, arc) = o.overflowing_arc()?;
    Some(Offence::OidArc {
        oid: o.dotted(),
        arc_index,
        arc: arc
            .value
            .map_or_else(|| "more than 128 bits".to_owned(), |v| v.to_string()),
        der_offset: arc.offset,
    })
}
