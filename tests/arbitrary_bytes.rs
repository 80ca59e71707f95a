//! Arbitrary bytes never panic any reader, and every error points inside
//! the input: the in-memory and streaming store readers, elements and `.blob`
//! files, key provider info, `.reg` text (UTF-16 and REGEDIT4), and the DER
//! walker behind the import rules. (The fuzz targets in `fuzz/` push the same
//! properties much further; this runs in every `cargo test`.)

use proptest::prelude::*;

use certmig::cryptoapi::{self, der::CertificateView, RuleSet};
use certmig::format::reg::parse_reg;
use certmig::format::registry::parse_blob;
use certmig::format::store::{StreamError, STORE_HEADER};
use certmig::format::{
    parse_element_file, KeyProvInfo, Limits, Location, ReadMode, SerializedElement,
    SerializedStore, StoreIter, StoreReader,
};

fn in_range(e: &certmig::format::FormatError, len: usize) -> bool {
    match e.location() {
        Location::Offset(o) => o <= len,
        Location::Line(l) => l >= 1 && l <= len + 1,
    }
}

fn stores(bytes: &[u8]) -> Result<(), TestCaseError> {
    for mode in [ReadMode::Strict, ReadMode::Lenient] {
        if let Err(e) = SerializedStore::parse(bytes, mode) {
            prop_assert!(in_range(&e, bytes.len()), "{e}");
        }
    }
    match StoreIter::new(bytes, ReadMode::Strict) {
        Ok(it) => {
            for r in it {
                if let Err(e) = r {
                    prop_assert!(in_range(&e, bytes.len()), "{e}");
                    break;
                }
            }
        }
        Err(e) => prop_assert!(in_range(&e, bytes.len()), "{e}"),
    }
    match StoreReader::open(
        std::io::Cursor::new(bytes),
        bytes.len() as u64,
        Limits::default(),
    ) {
        Ok(mut r) => {
            let mut buf = Vec::new();
            loop {
                match r.next_element_into(&mut buf) {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(StreamError::Format(e)) => {
                        prop_assert!(in_range(&e, bytes.len()), "{e}");
                        break;
                    }
                    Err(StreamError::Io(e)) => {
                        return Err(TestCaseError::fail(format!("I/O error from memory: {e}")))
                    }
                }
            }
        }
        Err(StreamError::Format(e)) => prop_assert!(in_range(&e, bytes.len()), "{e}"),
        Err(StreamError::Io(e)) => {
            return Err(TestCaseError::fail(format!("I/O error from memory: {e}")))
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn store_readers(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        stores(&bytes)?;
        stores(&[&STORE_HEADER[..], &bytes].concat())?;
    }

    #[test]
    fn elements_and_blob_files(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        for mode in [ReadMode::Strict, ReadMode::Lenient] {
            if let Err(e) = SerializedElement::parse(&bytes, 0, mode) {
                prop_assert!(in_range(&e, bytes.len()), "{e}");
            }
            if let Err(e) = parse_element_file(&bytes, mode) {
                prop_assert!(in_range(&e, bytes.len()), "{e}");
            }
            if let Err(e) = parse_blob(&bytes, "3F909983993D35BEF4ADBDE19B0FE2D18B7C0033", mode) {
                prop_assert!(in_range(&e, bytes.len()), "{e}");
            }
        }
    }

    #[test]
    fn key_provider_info(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Err(e) = KeyProvInfo::decode(&bytes, 0) {
            prop_assert!(in_range(&e, bytes.len()), "{e}");
        }
    }

    #[test]
    fn reg_files(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let utf16 = [&[0xff, 0xfe][..], &bytes].concat();
        let regedit4 = [&b"REGEDIT4\r\n"[..], &bytes].concat();
        for input in [&bytes, &utf16, &regedit4] {
            for mode in [ReadMode::Strict, ReadMode::Lenient] {
                if let Err(e) = parse_reg(input, mode) {
                    prop_assert!(in_range(&e, input.len()), "{e}");
                }
            }
        }
    }

    #[test]
    fn der_walker_and_import_rules(der in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Err(e) = CertificateView::parse(&der) {
            prop_assert!(e.offset <= der.len(), "{e:?}");
        }
        let _ = cryptoapi::legacy_display_subject(&der);
        let _ = cryptoapi::exact_subject(&der);
        let e = SerializedElement::certificate(der.clone(), vec![]);
        let _ = cryptoapi::verdicts(&e);
        for rules in RuleSet::ALL {
            let _ = cryptoapi::import(&e, rules);
        }
    }
}

/// A real SMS store (two signed certificates) in every format.
fn valid_inputs() -> &'static [Vec<u8>; 3] {
    static INPUTS: std::sync::OnceLock<[Vec<u8>; 3]> = std::sync::OnceLock::new();
    INPUTS.get_or_init(|| {
        use certmig::format::reg::{write_reg, RegEncoding};
        use certmig::format::registry::RegistryStore;
        let certs = certmig::cert::generate_machine(&certmig::cert::MachineSpec::sccm(
            "PC0001",
            1,
            certmig::format::Defect::DoubledTerminator,
        ))
        .unwrap();
        let elements: Vec<_> = certs.iter().map(|c| c.element()).collect();
        [
            SerializedStore::new(elements.clone()).to_bytes(),
            write_reg(
                &RegistryStore::from_elements("SMS", elements.clone()),
                RegEncoding::Regedit5,
            ),
            certs[0].der.clone(),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Valid inputs with a few bytes changed and maybe cut short: these reach
    /// deep into every reader, where arbitrary bytes rarely get.
    #[test]
    fn mutated_valid_inputs(which in 0usize..3, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..5), cut in any::<prop::sample::Index>(), do_cut in any::<bool>()) {
        let mut bytes = valid_inputs()[which].clone();
        for (at, b) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *b;
        }
        if do_cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        match which {
            0 => stores(&bytes)?,
            1 => {
                if let Err(e) = parse_reg(&bytes, ReadMode::Strict) {
                    prop_assert!(in_range(&e, bytes.len()), "{e}");
                }
            }
            _ => {
                if let Err(e) = CertificateView::parse(&bytes) {
                    prop_assert!(e.offset <= bytes.len(), "{e:?}");
                }
                let e = SerializedElement::certificate(bytes.clone(), vec![]);
                let _ = cryptoapi::verdicts(&e);
                let _ = cryptoapi::legacy_display_subject(&bytes);
            }
        }
    }
}
