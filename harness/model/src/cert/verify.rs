//! Checking self-signatures fast: [`verify_signature_cached`] gives exactly
//! [`super::verify_signature`]'s answer, without OpenSSL 3's per-call cost of
//! decoding the certificate and its public key and exporting the key to a
//! provider. The certificate is split with the DER walker; each distinct
//! public key (SubjectPublicKeyInfo) is decoded once and kept, so OpenSSL
//! only hashes the TBSCertificate and checks the signature. Anything outside
//! the common shapes below goes through `verify_signature` itself.
//!
//! The fast path takes a certificate only when it is exactly
//! `SEQUENCE { tbs SEQUENCE, algorithm, BIT STRING with 0 unused bits }`
//! filling the input, the inner and outer algorithms are byte for byte equal
//! (OpenSSL's `X509_verify` requires them equal) and one of
//! sha1/sha256/sha384/sha512WithRSAEncryption (NULL parameters) with an
//! rsaEncryption key, or ecdsa-with-SHA256/384 with an id-ecPublicKey key.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::sign::Verifier;

use crate::format::der::{tag, DerReader, Tlv};

/// Most public keys kept (a store of self-signed certificates has one key
/// per certificate; the cache then only costs a lookup).
const MAX_KEYS: usize = 1024;

type Keys = RwLock<HashMap<Vec<u8>, Option<PKey<Public>>>>;
static KEYS: OnceLock<Keys> = OnceLock::new();

const RSA_KEY: &[u8] = &[
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01,
];
const EC_KEY: &[u8] = &[0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];

/// The signature algorithms of the fast path: the whole AlgorithmIdentifier,
/// the key algorithm OID it needs, and the digest.
fn algorithm(alg: &[u8]) -> Option<(&'static [u8], MessageDigest)> {
    const RSA: [u8; 13] = [
        0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x00,
    ];
    const ECDSA: [u8; 11] = [
        0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03,
    ];
    if alg.len() == 15 && alg[..12] == RSA[..12] && alg[13..] == [0x05, 0x00] {
        let md = match alg[12] {
            0x05 => MessageDigest::sha1(),
            0x0B => MessageDigest::sha256(),
            0x0C => MessageDigest::sha384(),
            0x0D => MessageDigest::sha512(),
            _ => return None,
        };
        return Some((RSA_KEY, md));
    }
    if alg.len() == 12 && alg[..11] == ECDSA {
        let md = match alg[11] {
            0x02 => MessageDigest::sha256(),
            0x03 => MessageDigest::sha384(),
            _ => return None,
        };
        return Some((EC_KEY, md));
    }
    None
}

/// The whole TLV (header and value) as bytes of `der`.
fn raw<'a>(der: &'a [u8], t: &Tlv<'_>) -> &'a [u8] {
    &der[t.offset..t.value_offset + t.value.len()]
}

/// What the check needs of a certificate.
struct Parts<'a> {
    tbs: &'a [u8],
    spki: &'a [u8],
    signature: &'a [u8],
    digest: MessageDigest,
}

/// The parts the check needs: TBSCertificate, SubjectPublicKeyInfo and the
/// signature bytes, with the digest; `None` outside the fast path's shapes.
fn split(der: &[u8]) -> Option<Parts<'_>> {
    let mut top = DerReader::new(der, 0);
    let cert = top.expect(tag::SEQUENCE, "").ok()?;
    if !top.is_empty() {
        return None;
    }
    let mut c = DerReader::inside(&cert);
    let tbs = c.expect(tag::SEQUENCE, "").ok()?;
    let outer = c.expect(tag::SEQUENCE, "").ok()?;
    let sig = c.expect(0x03, "").ok()?;
    if !c.is_empty() {
        return None;
    }
    let (&unused, sig_bytes) = sig.value.split_first()?;
    if unused != 0 {
        return None;
    }
    let mut t = DerReader::inside(&tbs);
    if t.peek_tag() == Some(tag::CONTEXT_0) {
        t.read().ok()?;
    }
    t.expect(tag::INTEGER, "").ok()?;
    let inner = t.expect(tag::SEQUENCE, "").ok()?;
    if raw(der, &inner) != raw(der, &outer) {
        return None;
    }
    let (key_oid, md) = algorithm(raw(der, &outer))?;
    t.expect(tag::SEQUENCE, "").ok()?; // issuer
    t.expect(tag::SEQUENCE, "").ok()?; // validity
    t.expect(tag::SEQUENCE, "").ok()?; // subject
    let spki = t.expect(tag::SEQUENCE, "").ok()?;
    let key_alg = DerReader::inside(&spki).expect(tag::SEQUENCE, "").ok()?;
    let oid = DerReader::inside(&key_alg).expect(tag::OID, "").ok()?;
    if raw(der, &oid) != key_oid {
        return None;
    }
    Some(Parts {
        tbs: raw(der, &tbs),
        spki: raw(der, &spki),
        signature: sig_bytes,
        digest: md,
    })
}

/// The decoded public key of `spki`, from the cache or decoded (and kept
/// while the cache has room). `None` when OpenSSL cannot decode it.
fn key(spki: &[u8]) -> Option<PKey<Public>> {
    let keys = KEYS.get_or_init(Default::default);
    if let Some(k) = keys.read().ok()?.get(spki) {
        return k.clone();
    }
    let k = PKey::public_key_from_der(spki).ok();
    if let Ok(mut w) = keys.write() {
        if w.len() < MAX_KEYS {
            w.insert(spki.to_vec(), k.clone());
        }
    }
    k
}

/// Exactly [`super::verify_signature`]`(der)`, faster: see the module
/// documentation. Safe to call from many threads.
pub fn verify_signature_cached(der: &[u8]) -> bool {
    match fast(der) {
        Some(valid) => valid,
        None => super::verify_signature(der),
    }
}

fn fast(der: &[u8]) -> Option<bool> {
    let p = split(der)?;
    let pkey = key(p.spki)?;
    let mut v = Verifier::new(p.digest, &pkey).ok()?;
    v.update(p.tbs).ok()?;
    let valid = v.verify(p.signature).unwrap_or(false);
    // `verify_signature` also needs OpenSSL to decode the whole certificate;
    // a signature that verifies over bytes OpenSSL refuses is not valid there.
    // This decode is most of the cost of a valid signature (about 110 of
    // 130 us per certificate on two threads, in OpenSSL 3's decoder locks;
    // the check itself is about 17 us), but dropping it could turn a
    // certificate OpenSSL refuses into "valid".
    Some(valid && openssl::x509::X509::from_der(der).is_ok())
}
