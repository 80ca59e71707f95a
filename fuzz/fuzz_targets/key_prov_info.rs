//! `CRYPT_KEY_PROV_INFO` (property 2): `KeyProvInfo::decode`, and
//! `encode(decode(x))`.
//!
//! Asserts: no panic; errors located inside the value (at two bases); what
//! decodes encodes to a canonical value that decodes to the same thing and is
//! a fixed point; and what decodes takes memory proportional to the value
//! (the parameter data copied out is at most the value's own length, so a
//! hostile value cannot make `scan` allocate quadratically).
#![no_main]

use certmig_format::KeyProvInfo;
use certmig_fuzz::assert_offset_in;
use libfuzzer_sys::fuzz_target;

const BASE: usize = 77;

fuzz_target!(|data: &[u8]| {
    let r = KeyProvInfo::decode(data, 0);
    match (&r, &KeyProvInfo::decode(data, BASE)) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => {
            assert_offset_in(a, 0, data.len());
            assert_offset_in(b, BASE, data.len());
            assert_eq!(a.offset().map(|o| o + BASE), b.offset());
        }
        (a, b) => panic!("the result depends on the base: {a:?} / {b:?}"),
    }
    let Ok(k) = r else { return };
    let param_bytes: usize = k.params.iter().map(|p| p.data.len()).sum();
    assert!(
        param_bytes <= data.len(),
        "{} parameters copy {param_bytes} bytes out of a {}-byte value",
        k.params.len(),
        data.len()
    );
    let canonical = k.encode();
    let back = KeyProvInfo::decode(&canonical, 0)
        .unwrap_or_else(|e| panic!("encode(decode(x)) does not decode: {e}"));
    assert_eq!(back, k, "encode(decode(x)) decodes to something else");
    assert_eq!(back.encode(), canonical, "encode is not a fixed point");
    let _ = k.key_spec_name();
});
