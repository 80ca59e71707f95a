//! `reg export` files: `format::reg::parse_reg`, strict and lenient.
//!
//! Asserts: no panic; every error names a line the file has (`scan`'s
//! byte offsets for it: `tests/it/arbitrary_bytes.rs`); strict success implies the
//! same store leniently; whatever parses is written back by `write_reg` in
//! its dialect and that output parses again to the same store, and is a fixed
//! point of write(parse(.)); a REGEDIT5 export read in pieces (as `scan`
//! streams one) reads what the whole file reads, up to the same first error.
#![no_main]

use certmig_format::reg::{
    parse_reg, parse_reg5_piece, parse_reg_partial, parse_reg_with, reads_in_pieces, write_reg,
    RegPieces,
};
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
    // Pieces of a size the input picks (small, so that inputs of a few
    // hundred bytes are cut several times).
    if reads_in_pieces(data, data.len() as u64) {
        let size = 4 + 2 * usize::from(data.get(2).copied().unwrap_or(0) % 64);
        let limits = Limits::default();
        let (whole, whole_error) = parse_reg_partial(data, ReadMode::Strict, &limits);
        let mut pieces = RegPieces::new(data, size);
        let mut buf = Vec::new();
        let (mut certs, mut lines, mut spans, mut notes, mut error) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), None);
        while let Some(at) = pieces.next_piece(&mut buf).expect("reading a slice") {
            let (p, e) = parse_reg5_piece(&buf, at, ReadMode::Strict, &limits);
            certs.extend(p.store.certificates);
            lines.extend(p.blob_lines);
            spans.extend(p.blob_spans);
            notes.extend(p.notes);
            if let Some(e) = e {
                error = Some(e.to_string());
                break;
            }
        }
        assert_eq!(certs, whole.store.certificates, "pieces of {size}");
        assert_eq!(lines, whole.blob_lines);
        assert_eq!(spans, whole.blob_spans);
        assert_eq!(notes, whole.notes);
        assert_eq!(error, whole_error.map(|e| e.to_string()));
    }
});
