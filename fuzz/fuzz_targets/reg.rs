//! `reg export` files: `format::reg::parse_reg`, strict and lenient.
//!
//! Asserts: no panic; every error names a line the file has (`scan`'s
//! byte offsets for it: `tests/arbitrary_bytes.rs`); strict success implies the
//! same store leniently; whatever parses is written back by `write_reg` in
//! its dialect and that output parses again to the same store, and is a fixed
//! point of write(parse(.)).
#![no_main]

use certmig_format::reg::{parse_reg, parse_reg_with, write_reg};
use certmig_format::{dump, Limits, ReadMode};
use certmig_fuzz::assert_line_in;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let strict = parse_reg(data, ReadMode::Strict);
    let lenient = parse_reg(data, ReadMode::Lenient);
    for (mode, r) in [(ReadMode::Strict, &strict), (ReadMode::Lenient, &lenient)] {
        match r {
            Ok(p) => {
                assert_eq!(p.blob_lines.len(), p.store.certificates.len());
                for &l in &p.blob_lines {
                    assert!((1..=certmig_fuzz::max_lines(data)).contains(&l));
                }
                let out = write_reg(&p.store, p.encoding);
                let again = parse_reg(&out, mode)
                    .unwrap_or_else(|e| panic!("write_reg output does not parse ({mode:?}): {e}"));
                assert_eq!(
                    again.store, p.store,
                    "write_reg then parse_reg changed the store"
                );
                assert_eq!(again.encoding, p.encoding);
                assert!(
                    again.notes.is_empty(),
                    "write_reg wrote something the reader ignores"
                );
                assert_eq!(write_reg(&again.store, again.encoding), out);
                let _ = dump::reg(data, mode);
            }
            Err(e) => assert_line_in(e, data),
        }
    }
    if let Ok(p) = &strict {
        assert_eq!(lenient.as_ref().ok().map(|l| &l.store), Some(&p.store));
    }
    // A short line limit reaches the limit error with small inputs.
    let tight = Limits {
        max_reg_line_len: 40,
        ..Limits::default()
    };
    if let Err(e) = parse_reg_with(data, ReadMode::Strict, &tight) {
        assert_line_in(&e, data);
    }
});
