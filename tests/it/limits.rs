//! Every reader limit (format::Limits) is enforced with a typed error that
//! names the limit and an offset (or line) inside the input, for the
//! in-memory store reader, the streaming reader and the `.reg` reader.

use certmig::format::reg::{parse_reg_with, write_reg, RegEncoding};
use certmig::format::registry::RegistryStore;
use certmig::format::{
    Defect, FormatError, Limits, Location, ReadMode, SerializedStore, StoreReader,
};

use crate::support::sccm_store;

fn store(n: u8) -> Vec<u8> {
    sccm_store(n, Defect::DoubledTerminator).to_bytes()
}

fn tight(f: impl FnOnce(&mut Limits)) -> Limits {
    let mut l = Limits::default();
    f(&mut l);
    l
}

/// The same bytes through the in-memory and the streaming reader.
fn both(bytes: &[u8], limits: Limits) -> [FormatError; 2] {
    let memory = SerializedStore::parse_with(bytes, ReadMode::Strict, &limits).unwrap_err();
    let mut r = StoreReader::open(std::io::Cursor::new(bytes), bytes.len() as u64, limits).unwrap();
    let mut buf = Vec::new();
    let streaming = loop {
        match r.next_element_into(&mut buf) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the streaming reader accepted what the limit forbids"),
            Err(certmig::format::store::StreamError::Format(e)) => break e,
            Err(e) => panic!("{e}"),
        }
    };
    [memory, streaming]
}

fn assert_limit(e: &FormatError, limit: usize, len: usize) {
    match e {
        FormatError::LimitExceeded {
            offset, limit: l, ..
        } => {
            assert_eq!(*l, limit, "{e}");
            assert!(*offset <= len, "{e}: offset inside the {len}-byte input");
        }
        other => panic!("expected a limit error, got {other}"),
    }
}

#[test]
fn certificates_per_store() {
    let bytes = store(5);
    for e in both(&bytes, tight(|l| l.max_certificates = 4)) {
        assert_limit(&e, 4, bytes.len());
    }
    assert!(SerializedStore::parse_with(
        &bytes,
        ReadMode::Strict,
        &tight(|l| l.max_certificates = 5)
    )
    .is_ok());
}

#[test]
fn element_size() {
    let bytes = store(1);
    let element = bytes.len() - 8 - 12;
    for e in both(&bytes, tight(|l| l.max_element_size = element - 1)) {
        assert_limit(&e, element - 1, bytes.len());
    }
    assert!(SerializedStore::parse_with(
        &bytes,
        ReadMode::Strict,
        &tight(|l| l.max_element_size = element)
    )
    .is_ok());
}

#[test]
fn properties_per_element() {
    let bytes = store(1); // friendly name, key provider info, certificate: 3 entries
    for e in both(&bytes, tight(|l| l.max_properties_per_element = 2)) {
        assert_limit(&e, 2, bytes.len());
    }
    assert!(SerializedStore::parse_with(
        &bytes,
        ReadMode::Strict,
        &tight(|l| l.max_properties_per_element = 3)
    )
    .is_ok());
}

#[test]
fn reg_line_length() {
    let reg = write_reg(
        &RegistryStore::from_elements("SMS", sccm_store(1, Defect::Clean).elements),
        RegEncoding::Regedit5,
    );
    let e =
        parse_reg_with(&reg, ReadMode::Strict, &tight(|l| l.max_reg_line_len = 40)).unwrap_err();
    assert!(e.to_string().contains("longer than the limit of 40"), "{e}");
    assert!(matches!(e.location(), Location::Line(_)), "{e}");
    // Key lines are the longest (about 120 characters; hex lines wrap at 80).
    assert!(parse_reg_with(&reg, ReadMode::Strict, &tight(|l| l.max_reg_line_len = 200)).is_ok());
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let l = Limits::default();
    assert_eq!(
        (
            l.max_element_size,
            l.max_certificates,
            l.max_properties_per_element,
            l.max_reg_line_len
        ),
        (16 << 20, 50_000_000, 4096, 1 << 20)
    );
}
