//! Profile `sccm2007`: what a ConfigMgr 2007 client makes, built with openssl.

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::KeyUsage;
use openssl::x509::{X509Builder, X509NameBuilder};

use super::{not_before_offset, CertError, Role, EPOCH_2009_11_01, VALIDITY_SECS};

/// A self-signed RSA certificate, sha1WithRSAEncryption, subject
/// `CN=SMS, CN=<machine>`.
pub(crate) fn certificate(
    key: &PKey<Private>,
    seed: u64,
    machine: &str,
    role: Role,
    serial: [u8; 16],
) -> Result<Vec<u8>, CertError> {
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let serial = BigNum::from_slice(&serial)?.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, "SMS")?;
    name.append_entry_by_nid(Nid::COMMONNAME, machine)?;
    let name = name.build();
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    let nb = EPOCH_2009_11_01 + i64::from(not_before_offset(seed, machine));
    let (not_before, not_after) = (
        Asn1Time::from_unix(nb)?,
        Asn1Time::from_unix(nb + VALIDITY_SECS)?,
    );
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    b.set_pubkey(key)?;
    let usage = match role {
        Role::Signing => KeyUsage::new().digital_signature().build()?,
        Role::Encryption => KeyUsage::new()
            .key_encipherment()
            .data_encipherment()
            .build()?,
    };
    b.append_extension(usage)?;
    b.sign(key, MessageDigest::sha1())?;
    Ok(b.build().to_der()?)
}
