//! Shared builders for the integration tests.
#![allow(dead_code)]

use certmig::format::{Defect, Property, PropertyId, SerializedElement, SerializedStore};

/// A small DER-looking certificate body: the format layer treats the context
/// as opaque bytes, so these tests need no real certificate.
pub fn fake_der(n: u8, len: usize) -> Vec<u8> {
    let mut v = vec![0x30, 0x82, (len >> 8) as u8, len as u8];
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(n)));
    v
}

/// An SCCM-shaped element: friendly name (11), key provider info (2), cert (32).
pub fn sccm_element(n: u8, defect: Defect) -> SerializedElement<'static> {
    let kpi = certmig::format::KeyProvInfo::sccm_machine_key("SMS_PC0042_Signing", 2).encode();
    SerializedElement::certificate(
        fake_der(n, 200),
        vec![
            Property::new(
                PropertyId::FriendlyName,
                defect.apply("SMS Signing Certificate"),
            ),
            Property::new(PropertyId::KeyProvInfo, kpi),
        ],
    )
}

pub fn sccm_store(count: u8, defect: Defect) -> SerializedStore<'static> {
    SerializedStore::new((0..count).map(|i| sccm_element(i, defect)).collect())
}
