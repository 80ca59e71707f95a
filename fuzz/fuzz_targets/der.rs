//! The DER walker (`certmig_format::der`) the CryptoAPI rules are built on:
//! `CertificateView::parse`, `Oid::decode`, the fast arc-overflow check.
//!
//! Asserts: no panic; every DER error is inside the DER; TLVs lie inside
//! their container; the fast overflow check never misses an arc the decoder
//! sees overflow (a pre-check for the decoder). The import
//! verdicts over the same DER (`verdicts` agrees with `verdict` and `import`,
//! offences located) are checked by `tests/it/arbitrary_bytes.rs` in the main
//! workspace, which the fuzz crate does not depend on.
#![no_main]

use certmig_format::der::{
    self, oid_has_overflowing_arc, tag, CertificateView, DerReader, Oid, Tlv,
};
use libfuzzer_sys::fuzz_target;

fn in_der(offset: usize, der: &[u8]) {
    assert!(
        offset <= der.len(),
        "offset {offset} past the {}-byte DER",
        der.len()
    );
}

fn check_tlv(t: &Tlv<'_>, der: &[u8]) {
    assert!(t.offset < t.value_offset);
    assert!(t.value_offset + t.value.len() <= der.len());
    assert_eq!(
        &der[t.value_offset..t.value_offset + t.value.len()],
        t.value
    );
    assert_eq!(der[t.offset], t.tag);
}

fn check_oid(t: &Tlv<'_>, der: &[u8]) {
    match Oid::decode(t) {
        Ok(oid) => {
            assert!(oid.arcs.len() >= 2);
            for a in &oid.arcs {
                in_der(a.offset, der);
                if let Some(v) = a.value {
                    assert_eq!(
                        a.legacy, v as u32,
                        "the legacy arc is the value modulo 2^32"
                    );
                }
            }
            let _ = (oid.dotted(), oid.legacy_dotted(), oid.to_string());
            if oid.overflowing_arc().is_some() {
                assert!(
                    oid_has_overflowing_arc(t.value),
                    "the fast check misses an overflowing arc in {:02x?}",
                    t.value
                );
            }
        }
        Err(e) => in_der(e.offset, der),
    }
}

/// Walks every TLV, recursing into constructed ones (depth-bounded).
fn walk(r: &mut DerReader<'_>, der: &[u8], depth: usize) {
    while !r.is_empty() {
        match r.read() {
            Ok(t) => {
                check_tlv(&t, der);
                if t.tag == tag::OID {
                    check_oid(&t, der);
                }
                let _ = der::decode_string(&t);
                if let Some((_, at)) = der::first_nul(&t) {
                    assert!(at >= t.value_offset && at < t.value_offset + t.value.len());
                }
                if t.tag & 0x20 != 0 && depth < 32 {
                    walk(&mut DerReader::inside(&t), der, depth + 1);
                }
            }
            Err(e) => {
                in_der(e.offset, der);
                return;
            }
        }
    }
}

fuzz_target!(|der: &[u8]| {
    walk(&mut DerReader::new(der, 0), der, 0);
    match CertificateView::parse(der) {
        Ok(v) => {
            for t in v.oids() {
                check_tlv(t, der);
                assert_eq!(t.tag, tag::OID);
                check_oid(t, der);
            }
            for a in v.issuer.iter().chain(&v.subject) {
                check_tlv(&a.oid, der);
                check_tlv(&a.value, der);
            }
        }
        Err(e) => in_der(e.offset, der),
    }
});
