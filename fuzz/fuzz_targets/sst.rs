//! `.sst` stores: `SerializedStore::parse`, the zero-copy `StoreIter`, and
//! the streaming `StoreReader` (plus the per-element strict parse that
//! `fix` does after it) over the same bytes.
//!
//! Asserts: no panic; errors located inside the input; the three readers
//! agree on success or failure, on the elements, their offsets and the error;
//! strict success writes back byte for byte and reads the same leniently; a
//! lenient read writes back a prefix of the input (only data after the end
//! marker may be dropped). Each check runs with the default limits and with
//! tight limits (so the limit errors are reached with small inputs).
#![no_main]

use certmig_format::store::StreamError;
use certmig_format::{
    dump, FormatError, Limits, ReadMode, SerializedElement, SerializedStore, StoreIter, StoreReader,
};
use certmig_fuzz::assert_offset_in;
use libfuzzer_sys::fuzz_target;

const TIGHT: Limits = Limits {
    max_element_size: 600,
    max_certificates: 3,
    max_properties_per_element: 4,
    max_reg_line_len: 1 << 20,
};

/// What `fix` reads: framing by `StoreReader`, each element parsed strictly.
fn streamed(
    data: &[u8],
    limits: Limits,
) -> Result<Vec<(usize, SerializedElement<'static>)>, FormatError> {
    let unwrap = |e: StreamError| match e {
        StreamError::Format(f) => f,
        StreamError::Io(io) => panic!("I/O error reading a slice: {io}"),
    };
    let mut r = StoreReader::open(data, data.len() as u64, limits).map_err(unwrap)?;
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while let Some(offset) = r.next_element_into(&mut buf).map_err(unwrap)? {
        assert!(
            buf.len() <= limits.max_element_size,
            "element of {} bytes past the limit",
            buf.len()
        );
        let e = SerializedElement::parse(&buf, offset as usize, ReadMode::Strict)?;
        assert_eq!(
            &data[offset as usize..offset as usize + buf.len()],
            &buf[..]
        );
        out.push((offset as usize, e.into_owned()));
        buf.clear();
    }
    if r.empty_file {
        assert!(data.is_empty());
    }
    Ok(out)
}

fn check(data: &[u8], limits: &Limits) {
    let strict = SerializedStore::parse_with(data, ReadMode::Strict, limits);
    let lenient = SerializedStore::parse_with(data, ReadMode::Lenient, limits);
    for (mode, r) in [(ReadMode::Strict, &strict), (ReadMode::Lenient, &lenient)] {
        match r {
            Ok(s) => {
                let out = s.to_bytes();
                assert_eq!(out.len(), s.encoded_len());
                if mode == ReadMode::Strict {
                    assert_eq!(out, data, "a strict store does not write back");
                } else {
                    assert!(data.starts_with(&out), "a lenient store writes other bytes");
                }
                // Every limit holds in both modes.
                assert!(s.elements.len() <= limits.max_certificates);
                for e in &s.elements {
                    assert!(
                        e.encoded_len() <= limits.max_element_size,
                        "{mode:?}: element of {} bytes",
                        e.encoded_len()
                    );
                    assert!(
                        e.properties.len() < limits.max_properties_per_element,
                        "{mode:?}: {} properties",
                        e.properties.len()
                    );
                }
                let _ = dump::store(s);
            }
            Err(e) => assert_offset_in(e, 0, data.len()),
        }
    }
    if let Ok(s) = &strict {
        assert_eq!(
            lenient.as_ref().ok(),
            Some(s),
            "strict success must read the same leniently"
        );
    }

    // The zero-copy iterator, strict: what `parse` is built on, and `scan`.
    let iter: Result<Vec<(usize, SerializedElement<'_>)>, FormatError> =
        StoreIter::new_with(data, ReadMode::Strict, limits).and_then(|it| it.collect());
    match (&iter, &strict) {
        (Ok(a), Ok(b)) => {
            assert!(a.iter().map(|(_, e)| e).eq(b.elements.iter()));
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("StoreIter and SerializedStore::parse disagree: {a:?} / {b:?}"),
    }
    // The lenient iterator stops at the end marker whatever follows.
    if let Ok(it) = StoreIter::new_with(data, ReadMode::Lenient, limits) {
        for item in it {
            if let Err(e) = item {
                assert_offset_in(&e, 0, data.len());
            }
        }
    }

    // The streaming reader (what `fix` uses on a .sst of any size).
    let stream = streamed(data, *limits);
    match (&stream, &iter) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.len(), b.len());
            for ((oa, ea), (ob, eb)) in a.iter().zip(b) {
                assert_eq!(oa, ob, "element offsets differ");
                assert_eq!(ea, eb, "elements differ");
            }
        }
        (Err(a), Err(b)) => {
            assert_offset_in(a, 0, data.len());
            assert_eq!(
                a, b,
                "streaming and in-memory readers report different errors"
            );
        }
        (a, b) => panic!(
            "StoreReader and StoreIter disagree: {:?} / {:?}",
            a.as_ref().map(Vec::len),
            b.as_ref().map(Vec::len)
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    check(data, &Limits::default());
    check(data, &TIGHT);
});
