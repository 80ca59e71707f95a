//! The CryptoAPI model's DER walker (`cryptoapi::der`) and everything built
//! on it: `CertificateView::parse`, `Oid::decode`, the fast arc-overflow
//! check, `verdicts` / `verdict` / `import` on an element built around the
//! arbitrary DER, `legacy_display_subject` and `exact_subject`.
//!
//! Asserts: no panic; every DER error and every offence offset is inside the
//! DER; TLVs lie inside their container; `verdicts` agrees with `verdict`
//! and with `import`; the fast overflow check never misses an arc the decoder
//! sees overflow (it gates the decoder in the MS09-056 rule).
#![no_main]

use certmig::cryptoapi::der::{oid_has_overflowing_arc, tag, CertificateView, DerReader, Oid, Tlv};
use certmig::cryptoapi::{
    self, exact_subject, legacy_display_subject, verdict, verdicts, Offence, RuleSet, Verdict,
};
use certmig::format::{ContextKind, Defect, Property, PropertyId, SerializedElement};
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
                let _ = cryptoapi::der::decode_string(&t);
                if let Some((_, at)) = cryptoapi::der::first_nul(&t) {
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

fn check_element(e: &SerializedElement<'_>) {
    let der = &e.der[..];
    let (legacy, ms) = verdicts(e);
    assert_eq!(legacy, verdict(e, RuleSet::Legacy));
    assert_eq!(ms, verdict(e, RuleSet::Ms09056));
    for (rules, v) in [(RuleSet::Legacy, legacy), (RuleSet::Ms09056, ms)] {
        match cryptoapi::import(e, rules) {
            Ok(c) => {
                assert_eq!(v, Verdict::Ok);
                assert_eq!(c.thumbprint, e.thumbprint());
            }
            Err(rej) => {
                assert_eq!(v, Verdict::Rejected(rej.hresult));
                let _ = rej.to_string();
                match &*rej.offence {
                    Offence::FriendlyName { byte_offset, .. } => {
                        assert!(*byte_offset < e.friendly_name().map_or(0, <[u8]>::len))
                    }
                    Offence::NameValue { der_offset, .. }
                    | Offence::OidArc { der_offset, .. }
                    | Offence::Der { der_offset, .. } => in_der(*der_offset, der),
                }
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
    let _ = legacy_display_subject(der);
    let _ = exact_subject(der);

    // As a certificate with no properties, with a clean and with a defective
    // friendly name, and as a CRL (not walked).
    let mut e = SerializedElement::certificate(der, Vec::new());
    check_element(&e);
    e.properties = vec![Property::new(
        PropertyId::FriendlyName,
        Defect::Clean.apply("F"),
    )];
    check_element(&e);
    e.properties = vec![Property::new(
        PropertyId::FriendlyName,
        Defect::DoubledTerminator.apply("F"),
    )];
    check_element(&e);
    e.kind = ContextKind::Crl;
    check_element(&e);
});
