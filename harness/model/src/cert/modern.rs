//! Profile `modern`: the same shape made with rcgen, SHA-256.

use p256::ecdsa::signature::Signer;
use rcgen::{
    date_time_ymd, CertificateParams, DistinguishedName, DnType, KeyPair, KeyUsagePurpose,
    PublicKeyData, SerialNumber, SignatureAlgorithm, SigningKey, PKCS_ECDSA_P256_SHA256,
    PKCS_RSA_SHA256,
};

use super::{derive, keys, not_before_offset, CertError, Role};

fn params(seed: u64, machine: &str, role: Role, serial: [u8; 16]) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    let day = 1 + (not_before_offset(seed, machine) / 86_400 % 28) as u8;
    p.not_before = date_time_ymd(2009, 11, day);
    p.not_after = date_time_ymd(2109, 11, day);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "SMS");
    // rcgen keeps one value per attribute type; the machine's CN goes in as
    // the same OID (2.5.4.3) spelled as a custom type.
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 3]), machine);
    p.distinguished_name = dn;
    p.key_usages = match role {
        Role::Signing => vec![KeyUsagePurpose::DigitalSignature],
        Role::Encryption => vec![
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::DataEncipherment,
        ],
    };
    p
}

/// RSA-2048 from the pool, sha256WithRSAEncryption.
pub(crate) fn rsa(
    key_index: usize,
    seed: u64,
    machine: &str,
    role: Role,
    serial: [u8; 16],
) -> Result<Vec<u8>, CertError> {
    let pem = keys::RSA2048[key_index % keys::RSA2048.len()];
    let key = KeyPair::from_pkcs8_pem_and_sign_algo(pem, &PKCS_RSA_SHA256)?;
    Ok(params(seed, machine, role, serial)
        .self_signed(&key)?
        .der()
        .to_vec())
}

/// A P-256 key derived from the seed, signing with RFC 6979 nonces so the
/// signature (and so the certificate) is the same on every run.
struct DeterministicP256 {
    key: p256::ecdsa::SigningKey,
    public: Vec<u8>,
}

impl DeterministicP256 {
    fn derive(seed: u64, machine: &str, role: Role) -> Result<Self, CertError> {
        for counter in 0u32..16 {
            let a = derive(
                seed,
                &[
                    b"p256",
                    machine.as_bytes(),
                    &[role as u8],
                    &counter.to_le_bytes(),
                ],
            );
            let b = derive(seed, &[b"p256-2", &a]);
            let mut scalar = [0u8; 32];
            scalar[..20].copy_from_slice(&a);
            scalar[20..].copy_from_slice(&b[..12]);
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&scalar) {
                let public = key
                    .verifying_key()
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec();
                return Ok(DeterministicP256 { key, public });
            }
        }
        Err(CertError::Other("could not derive a P-256 key".into()))
    }
}

impl PublicKeyData for DeterministicP256 {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

impl SigningKey for DeterministicP256 {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let sig: p256::ecdsa::Signature = self.key.sign(msg);
        Ok(sig.to_der().as_bytes().to_vec())
    }
}

/// ECDSA P-256, ecdsa-with-SHA256, deterministic.
pub(crate) fn ecdsa(
    seed: u64,
    machine: &str,
    role: Role,
    serial: [u8; 16],
) -> Result<Vec<u8>, CertError> {
    let key = DeterministicP256::derive(seed, machine, role)?;
    Ok(params(seed, machine, role, serial)
        .self_signed(&key)?
        .der()
        .to_vec())
}
