//! `SerializedElement::parse` (a registry `Blob` value or a `.blob` file),
//! strict and lenient.
//!
//! Asserts: no panic; every error's offset is inside the input, and moves by
//! exactly `base` when the same bytes are read at another absolute offset;
//! a parsed element writes back byte for byte; strict success implies the same
//! element leniently; the dump of the bytes does not panic. (`scan` over
//! the same bytes: `tests/it/arbitrary_bytes.rs`.)
#![no_main]

use certmig_format::{dump, parse_element_file, EntryOrder, ReadMode, SerializedElement};
use certmig_fuzz::assert_offset_in;
use libfuzzer_sys::fuzz_target;

/// Another absolute offset to read the same bytes at.
const BASE: usize = 0x1234;

fuzz_target!(|data: &[u8]| {
    let strict = SerializedElement::parse(data, 0, ReadMode::Strict);
    let lenient = SerializedElement::parse(data, 0, ReadMode::Lenient);
    for (mode, result) in [(ReadMode::Strict, &strict), (ReadMode::Lenient, &lenient)] {
        match result {
            Ok(e) => {
                assert_eq!(e.to_bytes(), data, "{mode:?} element does not write back");
                assert_eq!(e.encoded_len(), data.len());
                if mode == ReadMode::Strict {
                    assert_eq!(e.order, EntryOrder::PropertiesFirst);
                }
                assert_eq!(&e.clone().into_owned(), e);
                let _ = e.friendly_name_shape();
                let _ = e.thumbprint();
                if let Some(Err(err)) = e.key_prov_info() {
                    let v = &e
                        .property(certmig_format::PropertyId::KeyProvInfo)
                        .unwrap()
                        .value;
                    assert_offset_in(&err, 0, v.len());
                }
                let _ = dump::element(e, 0);
            }
            Err(err) => assert_offset_in(err, 0, data.len()),
        }
        match (result, &SerializedElement::parse(data, BASE, mode)) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => {
                assert_offset_in(b, BASE, data.len());
                assert_eq!(a.offset().map(|o| o + BASE), b.offset(), "{a} / {b}");
            }
            (a, b) => panic!("the result depends on the base offset: {a:?} / {b:?}"),
        }
        match parse_element_file(data, mode) {
            Ok(e) => assert_eq!(Some(&e), result.as_ref().ok()),
            Err(err) => {
                assert!(result.is_err());
                assert_offset_in(&err, 0, data.len());
            }
        }
    }
    if let Ok(s) = &strict {
        assert_eq!(
            lenient.as_ref().ok(),
            Some(s),
            "strict success must read the same leniently"
        );
    }
});
