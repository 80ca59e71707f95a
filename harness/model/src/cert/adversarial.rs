//! Adversarial certificates for MS09-056's two CVEs and for CryptoAPI's
//! decoding, built as real DER (the first two really signed with profile
//! sccm2007's key pool, sha1RSA). Every one of them imports under both rule
//! sets (only the friendly name is judged at import, and [`element`] gives
//! them a clean one); what MS09-056 changes is how their names are compared
//! and displayed (`cryptoapi::subject_matches`, `cryptoapi::name_findings`):
//!
//! - [`subject_cn_with_embedded_nul`] (CVE-2009-2510): the subject CN (and,
//!   self-signed, the issuer CN) is `www.bank.example\0.evil.example`. A CA
//!   checking the part after the NUL would issue it to the owner of
//!   `evil.example`; legacy CryptoAPI displayed and matched only
//!   `www.bank.example`. Under ms09-056 it matches no name.
//! - [`oid_arc_overflow`] (CVE-2009-2511): a subject attribute whose type is
//!   `2.5.4.4294967299`. Legacy CryptoAPI read the arc modulo 2^32, so it saw
//!   `2.5.4.3` — a CN of `www.bank.example` that no CA ever vetted as a CN.
//!   Under ms09-056 it is no CN.
//! - [`unsigned`]: a certificate's bare TBSCertificate, without the
//!   signature wrapper, which CryptoAPI decodes as a certificate (Wine
//!   dlls/crypt32/tests/store.c testMemStore, cert.c testAddCert).

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::x509::{X509Builder, X509Name, X509NameBuilder};

use super::{derive, keys, serial_for, CertError, EPOCH_2009_11_01, VALIDITY_SECS};
use crate::format::{Defect, Property, PropertyId, SerializedElement};

/// The host name a spoofing certificate pretends to be.
pub const SPOOFED_HOST: &str = "www.bank.example";
/// The CN with an embedded NUL.
pub const CN_WITH_NUL: &str = "www.bank.example\0.evil.example";
/// The attribute type whose last arc overflows 32 bits: 2^32 + 3.
pub const OVERFLOWING_OID: &str = "2.5.4.4294967299";

fn signed(seed: u64, label: &str, name: X509Name) -> Result<Vec<u8>, CertError> {
    let key = keys::sccm2007(derive(seed, &[label.as_bytes()])[0] as usize)?;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let serial = BigNum::from_slice(&serial_for(seed, label, 0))?.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    let (not_before, not_after) = (
        Asn1Time::from_unix(EPOCH_2009_11_01)?,
        Asn1Time::from_unix(EPOCH_2009_11_01 + VALIDITY_SECS)?,
    );
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    b.set_pubkey(key)?;
    b.sign(key, MessageDigest::sha1())?;
    Ok(b.build().to_der()?)
}

/// CVE-2009-2510: subject `CN=www.bank.example\0.evil.example`.
pub fn subject_cn_with_embedded_nul(seed: u64) -> Result<Vec<u8>, CertError> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, CN_WITH_NUL)?;
    signed(seed, "cve-2009-2510", name.build())
}

/// CVE-2009-2511: subject attribute `2.5.4.4294967299=www.bank.example`.
pub fn oid_arc_overflow(seed: u64) -> Result<Vec<u8>, CertError> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("O", "Evil Example Ltd")?;
    name.append_entry_by_text(OVERFLOWING_OID, SPOOFED_HOST)?;
    signed(seed, "cve-2009-2511", name.build())
}

/// The TBSCertificate of a signed certificate: the same certificate with no
/// signature algorithm and no signature around it. `None` when `der` does
/// not start with a signed certificate.
pub fn unsigned(der: &[u8]) -> Option<Vec<u8>> {
    use crate::format::der::{tag, DerReader};
    let cert = DerReader::new(der, 0).read().ok()?;
    let mut inside = DerReader::inside(&cert);
    let tbs = inside.read().ok()?;
    (cert.tag == tag::SEQUENCE && tbs.tag == tag::SEQUENCE)
        .then(|| der[tbs.offset..tbs.value_offset + tbs.value.len()].to_vec())
}

/// An element for an adversarial certificate with a clean friendly name, so
/// the friendly-name rule does not fire.
pub fn element(der: Vec<u8>) -> SerializedElement<'static> {
    SerializedElement::certificate(
        der,
        vec![Property::new(
            PropertyId::FriendlyName,
            Defect::Clean.apply("Adversarial test certificate"),
        )],
    )
}
