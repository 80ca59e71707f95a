//! Inputs the cargo-fuzz targets (`fuzz/`, see fuzz/README.md) found, kept
//! as regression tests. Each fixture under `harness/fixtures/fuzz/` is the
//! minimised crash input (`cargo fuzz tmin`); each test states the invariant
//! the fuzz target asserted.

use certmig::format::store::StreamError;
use certmig::format::{
    FormatError, FriendlyNameShape, KeyProvInfo, Limits, ReadMode, SerializedStore, StoreIter,
    StoreReader,
};
use certmig::scan::{scan_bytes, ScanOptions};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/harness/fixtures/fuzz/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn stream_error(bytes: &[u8], limits: Limits) -> Option<FormatError> {
    let mut r = match StoreReader::open(bytes, bytes.len() as u64, limits) {
        Ok(r) => r,
        Err(StreamError::Format(e)) => return Some(e),
        Err(StreamError::Io(e)) => panic!("{e}"),
    };
    let mut buf = Vec::new();
    loop {
        match r.next_element_into(&mut buf) {
            Ok(Some(_)) => buf.clear(),
            Ok(None) => return None,
            Err(StreamError::Format(e)) => return Some(e),
            Err(StreamError::Io(e)) => panic!("{e}"),
        }
    }
}

/// fuzz target `sst`: the streaming reader (`fix`) and the in-memory readers
/// (`scan`, `parse`) report the same error. A file starting `-----BEGIN` was
/// "unknown content" to `StoreReader` (it looked at 8 bytes) and "PEM text"
/// to `SerializedStore::parse` (32 bytes).
#[test]
fn streaming_reader_names_a_pem_file_like_the_in_memory_reader() {
    let bytes = fixture("sst-stream-pem-header.sst");
    let in_memory = SerializedStore::parse(&bytes, ReadMode::Strict).unwrap_err();
    let iter = StoreIter::new(&bytes, ReadMode::Strict).err().unwrap();
    assert_eq!(iter, in_memory);
    assert_eq!(stream_error(&bytes, Limits::default()), Some(in_memory));
}

/// fuzz target `key_prov_info`: decoding copies out at most the value's own
/// length of parameter data. Parameters whose data overlap made `decode`
/// (and so `scan`, `dump` and the simulator) allocate quadratically: a
/// 256 KiB `.sst` made `certmig scan` take 4 GiB.
#[test]
fn overlapping_key_prov_info_parameters_cannot_multiply_memory() {
    let value = fixture("key-prov-info-overlapping-params.bin");
    assert_bounded(&value);

    // The same shape at scale: 255 parameters, each pointing at the whole
    // 4 KiB value (1 MiB copied out before the fix).
    let len = 4096usize;
    let n = (len - 28) / 16 - 1;
    let mut v = vec![0u8; len];
    for (i, x) in [0u32, 0, 1, 0x20, n as u32, 28, 2].iter().enumerate() {
        v[4 * i..4 * i + 4].copy_from_slice(&x.to_le_bytes());
    }
    for i in 0..n {
        let at = 28 + 16 * i;
        for (k, x) in [i as u32, 0, len as u32, 0].iter().enumerate() {
            v[at + 4 * k..at + 4 * k + 4].copy_from_slice(&x.to_le_bytes());
        }
    }
    assert_bounded(&v);
}

fn assert_bounded(value: &[u8]) {
    match KeyProvInfo::decode(value, 100) {
        Ok(k) => {
            let copied: usize = k.params.iter().map(|p| p.data.len()).sum();
            assert!(
                copied <= value.len(),
                "{} parameters copy {copied} bytes out of a {}-byte value",
                k.params.len(),
                value.len()
            );
        }
        Err(e) => {
            let o = e.offset().expect("a byte offset");
            assert!((100..=100 + value.len()).contains(&o), "{e}");
        }
    }
}

/// fuzz target `sst` (with small limits): the lenient reading of a
/// context-first store enforces the element-size and property-count limits
/// like the properties-first readers do. It accepted a 704-byte element with
/// a 600-byte limit.
#[test]
fn context_first_stores_are_held_to_the_element_limits() {
    let bytes = fixture("sst-context-first-element-over-limit.sst");
    let tight = Limits {
        max_element_size: 600,
        max_certificates: 3,
        max_properties_per_element: 4,
        ..Limits::default()
    };
    match SerializedStore::parse_with(&bytes, ReadMode::Lenient, &tight) {
        Ok(s) => {
            for e in &s.elements {
                assert!(
                    e.encoded_len() <= tight.max_element_size,
                    "an element of {} bytes passed a {}-byte limit",
                    e.encoded_len(),
                    tight.max_element_size
                );
                assert!(e.properties.len() < tight.max_properties_per_element);
            }
        }
        Err(e) => {
            let o = e.offset().expect("a byte offset");
            assert!(o <= bytes.len(), "{e}");
        }
    }
    // With the default limits the store still reads (leniently).
    let s = SerializedStore::parse(&bytes, ReadMode::Lenient).unwrap();
    assert_eq!(s.to_bytes(), bytes);
}

/// fuzz target `sst`: `scan` lists the certificates `SerializedStore::parse`
/// reads. On a store whose properties follow their certificate (read with
/// `--lenient`), `scan` used the properties-first iterator: it showed the
/// first certificate without its friendly name, gave the second one the
/// first one's ("SMS Signing" with a doubled terminator, so the wrong
/// certificate was reported as refused by MS09-056) and ended with an error.
#[test]
fn lenient_scan_of_a_context_first_store_keeps_each_certificates_properties() {
    let bytes = fixture("sst-context-first-scan-lenient.sst");
    let store = SerializedStore::parse(&bytes, ReadMode::Lenient).unwrap();
    let opts = ScanOptions {
        mode: ReadMode::Lenient,
        verify_signatures: false,
    };
    let report = scan_bytes("fixture.sst", &bytes, None, opts);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let got: Vec<_> = report
        .certificates
        .iter()
        .map(|c| {
            (
                c.thumbprint.clone(),
                c.property_ids.clone(),
                c.friendly_name_shape,
            )
        })
        .collect();
    let want: Vec<_> = store
        .elements
        .iter()
        .map(|e| {
            (
                e.thumbprint().to_hex(),
                e.property_ids(),
                e.friendly_name_shape(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        report.certificates[0].friendly_name_shape,
        Some(FriendlyNameShape::DoubledTerminator)
    );
}

/// fuzz target `sst`: lenient reading accepts malformed friendly-name text
/// (`ReadMode::Lenient`), in a whole store as in `StoreIter` and a single
/// element. `SerializedStore::parse` read strictly first and rejected a store
/// whose friendly name has an odd byte length instead of reading it
/// leniently, so `dump --lenient` failed on a file `scan --lenient` read.
#[test]
fn lenient_store_parse_accepts_an_odd_length_friendly_name() {
    let bytes = fixture("sst-lenient-odd-friendly-name.sst");
    assert!(matches!(
        SerializedStore::parse(&bytes, ReadMode::Strict),
        Err(FormatError::FriendlyNameOddLength { offset: 20, len: 3 })
    ));
    let store = SerializedStore::parse(&bytes, ReadMode::Lenient)
        .unwrap_or_else(|e| panic!("lenient parse: {e}"));
    let iter: Vec<_> = StoreIter::new(&bytes, ReadMode::Lenient)
        .unwrap()
        .map(|r| r.unwrap().1)
        .collect();
    assert_eq!(store.elements, iter);
    assert_eq!(
        store.elements[0].friendly_name_shape(),
        Some(FriendlyNameShape::OddLength)
    );
    assert_eq!(store.to_bytes(), bytes);
}

/// fuzz target `reg`: a REGEDIT5 export read in pieces (how `scan` streams
/// one) reports the error the whole file reports. A file with a broken
/// header and an unpaired surrogate further down was an encoding error at
/// the surrogate's line for the whole file (the UTF-16 was checked before
/// the header) but a header error for the pieces (the first piece ends
/// before that line). Both now report the first error in the file, the
/// header's. (The fuzzer's input, reduced by hand.)
#[test]
fn a_broken_header_is_the_first_error_even_with_a_bad_surrogate_below() {
    use certmig::format::reg::{parse_reg5_piece, parse_reg_partial, RegPieces};
    let mut bytes = vec![0xFF, 0xFE];
    let text = "Windows Registry Editor Version 5.0X\r\n\r\n[A]\r\n\"x\"=\"?\"\r\n";
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    // The `?` becomes a lone high surrogate on line 4.
    let q = bytes.len() - 8;
    bytes[q..q + 2].copy_from_slice(&0xD961u16.to_le_bytes());
    let (_, whole) = parse_reg_partial(&bytes, ReadMode::Strict, &Limits::default());
    let whole = whole.expect("an error").to_string();
    assert!(
        whole.starts_with("line 1:") && whole.contains("must start with"),
        "{whole}"
    );
    let mut pieces = RegPieces::new(&bytes[..], 8);
    let mut buf = Vec::new();
    let at = pieces.next_piece(&mut buf).unwrap().unwrap();
    assert!(
        buf.len() < bytes.len(),
        "the first piece ends before the surrogate"
    );
    let (_, first) = parse_reg5_piece(&buf, at, ReadMode::Strict, &Limits::default());
    assert_eq!(first.map(|e| e.to_string()), Some(whole));
}
