//! CryptoAPI's import rules with and without security update 974571
//! (MS09-056), applied whenever a certificate with its properties enters a
//! store.
//!
//! | rule id | what it rejects | HRESULT (ms09-056) |
//! |---|---|---|
//! | `friendly-name-embedded-nul` | friendly name (property 11) with a U+0000 before its last code unit | `0x80092024` CRYPT_E_NOT_CHAR_STRING |
//! | `name-embedded-nul` | issuer or subject string value containing U+0000 (CVE-2009-2510) | `0x80092023` CRYPT_E_INVALID_X500_STRING |
//! | `oid-arc-overflow` | object identifier arc that does not fit in 32 bits (CVE-2009-2511) | `0x80093104` CRYPT_E_ASN1_LARGE |
//!
//! The first HRESULT is documented: it is what OSDSMPClient logs
//! (KB 977203). Microsoft does not document what an import of the other two
//! returns after the update; these are the harness's modelling choices:
//! `CRYPT_E_INVALID_X500_STRING` is CryptoAPI's error for an X.500 name
//! attribute value with a character its string type does not allow, and
//! `CRYPT_E_ASN1_LARGE` ("ASN1 value too large") is what its ASN.1 decoder
//! returns for a value that does not fit its destination — a 32-bit arc.
//! A certificate whose DER cannot be walked at all is refused under both
//! rule sets with `0x80093103` CRYPT_E_ASN1_CORRUPT.
//!
//! Check order: friendly name, then issuer and subject values (issuer first,
//! attributes in encoded order), then OIDs in encoded order (signature
//! algorithm, issuer types, subject types, public key algorithm,
//! extensions). The first failing check is reported.
//!
//! Under `legacy` everything imports, and CryptoAPI *displays* the friendly
//! name and every name value up to the first NUL and reads overflowing arcs
//! modulo 2^32, so `2.5.4.4294967299` shows as `2.5.4.3`, i.e. `CN`: the
//! spoofing the update closed. [`legacy_display_subject`] shows exactly that.

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
        /// No 974571: everything imports.
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
    /// The stable id of an import rule (what `--json` reports and tests name).
    #[strum(serialize_all = "kebab-case")]
    pub enum RuleId {
        FriendlyNameEmbeddedNul,
        NameEmbeddedNul,
        OidArcOverflow,
        MalformedCertificate,
    }
}

/// One import rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: RuleId,
    pub description: &'static str,
    pub hresult: Hresult,
    pub source: &'static str,
}

pub const FRIENDLY_NAME_EMBEDDED_NUL: Rule = Rule {
    id: RuleId::FriendlyNameEmbeddedNul,
    description: "friendly name (property 11) has a U+0000 before its last code unit",
    hresult: Hresult::CRYPT_E_NOT_CHAR_STRING,
    source: "MS09-056 / KB 974571; KB 977203 (OSDSMPClient: Failed to import the client certificate store (0x80092024))",
};
pub const NAME_EMBEDDED_NUL: Rule = Rule {
    id: RuleId::NameEmbeddedNul,
    description: "an issuer or subject string value contains U+0000 (CVE-2009-2510)",
    hresult: Hresult::CRYPT_E_INVALID_X500_STRING,
    source: "MS09-056 / KB 974571, CVE-2009-2510; HRESULT is the harness's modelling choice",
};
pub const OID_ARC_OVERFLOW: Rule = Rule {
    id: RuleId::OidArcOverflow,
    description: "an object identifier arc does not fit in 32 bits (CVE-2009-2511)",
    hresult: Hresult::CRYPT_E_ASN1_LARGE,
    source: "MS09-056 / KB 974571, CVE-2009-2511; HRESULT is the harness's modelling choice",
};
/// Not an MS09-056 rule: a certificate CryptoAPI cannot decode at all.
pub const MALFORMED_CERTIFICATE: Rule = Rule {
    id: RuleId::MalformedCertificate,
    description: "the certificate's DER cannot be decoded (refused under every rule set)",
    hresult: Hresult::CRYPT_E_ASN1_CORRUPT,
    source: "CryptoAPI ASN.1 decoder",
};

/// The three MS09-056 rules.
pub fn rules() -> &'static [Rule] {
    &[
        FRIENDLY_NAME_EMBEDDED_NUL,
        NAME_EMBEDDED_NUL,
        OID_ARC_OVERFLOW,
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

/// A refused import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{thumbprint}: rejected by {} ({}): {offence}", rule.id, rule.hresult)]
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
            hresult: rule.hresult,
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

/// The first rule `e` breaks under `rules`, and where; `None` when it imports.
fn check(e: &SerializedElement<'_>, rules: RuleSet) -> Option<(&'static Rule, Offence)> {
    let view = match e.kind {
        ContextKind::Certificate => match CertificateView::parse(&e.der) {
            Ok(v) => Some(v),
            Err(DerError { offset, message }) => {
                return Some((
                    &MALFORMED_CERTIFICATE,
                    Offence::Der {
                        der_offset: offset,
                        message: message.into(),
                    },
                ))
            }
        },
        _ => None,
    };
    match rules {
        RuleSet::Legacy => None,
        RuleSet::Ms09056 => check_ms09_056(e, view.as_ref()),
    }
}

/// The three MS09-056 rules, in order, over an already walked certificate.
fn check_ms09_056(
    e: &SerializedElement<'_>,
    view: Option<&CertificateView<'_>>,
) -> Option<(&'static Rule, Offence)> {
    if let Some(v) = e.friendly_name() {
        if friendly_name::has_embedded_nul(v) {
            let unit = friendly_name::first_nul_unit(v).unwrap_or(0);
            return Some((
                &FRIENDLY_NAME_EMBEDDED_NUL,
                Offence::FriendlyName {
                    code_unit: unit,
                    byte_offset: 2 * unit,
                },
            ));
        }
    }
    let view = view?;
    for (kind, attrs) in [
        (NameKind::Issuer, &view.issuer),
        (NameKind::Subject, &view.subject),
    ] {
        for a in attrs {
            if let Some((char_index, der_offset)) = first_nul(&a.value) {
                let attribute = Oid::decode(&a.oid)
                    .map(|o| short_name(&o.dotted()))
                    .unwrap_or_default();
                return Some((
                    &NAME_EMBEDDED_NUL,
                    Offence::NameValue {
                        name: kind,
                        attribute,
                        char_index,
                        der_offset,
                    },
                ));
            }
        }
    }
    for tlv in view.oids() {
        if tlv.value.is_empty()
            || tlv.value[tlv.value.len() - 1] & 0x80 != 0
            || der::oid_has_overflowing_arc(tlv.value)
        {
            match Oid::decode(tlv) {
                Ok(oid) => {
                    if let Some((arc_index, arc)) = oid.overflowing_arc() {
                        return Some((
                            &OID_ARC_OVERFLOW,
                            Offence::OidArc {
                                oid: oid.dotted(),
                                arc_index,
                                arc: arc.value.map_or_else(
                                    || "more than 128 bits".to_owned(),
                                    |v| v.to_string(),
                                ),
                                der_offset: arc.offset,
                            },
                        ));
                    }
                }
                Err(DerError { offset, message }) => {
                    return Some((
                        &MALFORMED_CERTIFICATE,
                        Offence::Der {
                            der_offset: offset,
                            message: message.into(),
                        },
                    ))
                }
            }
        }
    }
    None
}

/// The verdicts under both rule sets, walking the certificate once: what
/// `scan` computes per certificate.
pub fn verdicts(e: &SerializedElement<'_>) -> (Verdict, Verdict) {
    let view = match e.kind {
        ContextKind::Certificate => match CertificateView::parse(&e.der) {
            Ok(v) => Some(v),
            Err(_) => {
                let bad = Verdict::Rejected(MALFORMED_CERTIFICATE.hresult);
                return (bad, bad);
            }
        },
        _ => None,
    };
    let ms = match check_ms09_056(e, view.as_ref()) {
        None => Verdict::Ok,
        Some((rule, _)) => Verdict::Rejected(rule.hresult),
    };
    (Verdict::Ok, ms)
}

/// The verdict alone (no thumbprint, no strings): what `scan` computes per
/// certificate and rule set.
pub fn verdict(e: &SerializedElement<'_>, rules: RuleSet) -> Verdict {
    match check(e, rules) {
        None => Verdict::Ok,
        Some((rule, _)) => Verdict::Rejected(rule.hresult),
    }
}

/// Imports a serialized element under `rules`.
pub fn import(e: &SerializedElement<'_>, rules: RuleSet) -> Result<ImportedCertificate, Rejection> {
    if let Some((rule, offence)) = check(e, rules) {
        return Err(Rejection::new(e, rule, offence));
    }
    Ok(ImportedCertificate {
        thumbprint: e.thumbprint(),
        display_name: e.friendly_name().map(friendly_name::displayed),
        display_subject: match rules {
            RuleSet::Legacy => legacy_display_subject(&e.der),
            RuleSet::Ms09056 => exact_subject(&e.der),
        },
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
