//! Arbitrary bytes never panic any reader, and every error points inside
//! the input: the in-memory and streaming store readers, elements and `.blob`
//! files, key provider info, `.reg` text (UTF-16 and REGEDIT4), and the DER
//! walker behind the import rules. (The fuzz targets in `fuzz/` push the same
//! properties much further; this runs in every `cargo test`.)

use proptest::prelude::*;

use certmig::cryptoapi::{
    self, der::CertificateView, verdict, verdicts, Offence, RuleId, RuleKind, RuleSet, Verdict,
};
use certmig::format::reg::parse_reg;
use certmig::format::registry::parse_blob;
use certmig::format::store::{StreamError, STORE_HEADER};
use certmig::format::{detect, ContextKind, Defect, FileFormat, Property, PropertyId};
use certmig::format::{
    parse_element_file, KeyProvInfo, Limits, Location, ReadMode, SerializedElement,
    SerializedStore, StoreIter, StoreReader,
};
use certmig::scan::{self, ScanOptions};

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
    scan_both_modes(bytes);
    scan_agrees(bytes);
    reference_fixer_agrees(bytes);
    Ok(())
}

// The model-level oracles over the same bytes (moved here from the fuzz
// targets, which depend on certmig-format alone).

/// Runs `scan` (what `certmig scan` does with a file, signatures not checked)
/// in both modes and asserts that every error it reports has a byte offset
/// inside the file.
fn scan_both_modes(bytes: &[u8]) {
    for mode in [ReadMode::Strict, ReadMode::Lenient] {
        let r = scan::scan_bytes(
            "fuzz",
            bytes,
            None,
            ScanOptions {
                mode,
                verify_signatures: false,
            },
        );
        for e in &r.errors {
            let o = e
                .offset
                .unwrap_or_else(|| panic!("scan error without an offset: {e:?}"));
            assert!(
                o <= bytes.len(),
                "scan error offset {o} past {}: {e:?}",
                bytes.len()
            );
        }
    }
}

/// `scan` (what `certmig scan` prints) lists exactly the certificates
/// `SerializedStore::parse` reads, with their properties, in both modes, and
/// reports an error exactly when the parse fails.
fn scan_agrees(data: &[u8]) {
    if detect(data) != FileFormat::Sst {
        return;
    }
    for mode in [ReadMode::Strict, ReadMode::Lenient] {
        let opts = ScanOptions {
            mode,
            verify_signatures: false,
        };
        let report = scan::scan_bytes("fuzz", data, None, opts);
        match SerializedStore::parse(data, mode) {
            Ok(s) => {
                assert!(
                    report.errors.is_empty(),
                    "{mode:?}: scan fails on a store parse reads: {:?}",
                    report.errors
                );
                let got: Vec<_> = report
                    .certificates
                    .iter()
                    .map(|c| (c.thumbprint.clone(), c.property_ids.clone()))
                    .collect();
                let want: Vec<_> = s
                    .elements
                    .iter()
                    .map(|e| (e.thumbprint().to_hex(), e.property_ids()))
                    .collect();
                assert_eq!(
                    got, want,
                    "{mode:?}: scan reads other certificates than parse"
                );
            }
            Err(_) => assert!(
                !report.errors.is_empty(),
                "{mode:?}: scan reads a store parse rejects"
            ),
        }
    }
}

/// The engine's `ReferenceFixer` (what the simulator calls CCMCertFix) gives
/// the bytes of the streaming repair, and fails exactly when it does.
fn reference_fixer_agrees(data: &[u8]) {
    use certmig::fix::{stream_repair, Fixer, Policy, ReferenceFixer};
    for policy in [Policy::Truncate, Policy::Strip] {
        let fixed = ReferenceFixer { policy }.fix_store(data);
        let streamed = StoreReader::open(data, data.len() as u64, Limits::default())
            .ok()
            .and_then(|mut r| {
                let mut out = Vec::new();
                stream_repair(&mut r, Some(&mut out), policy, |_| {})
                    .ok()
                    .map(|()| out)
            });
        match (fixed, streamed) {
            (Ok(a), Some(b)) => assert_eq!(a, b, "{policy}: ReferenceFixer differs"),
            (Err(_), None) => {}
            (a, b) => panic!(
                "{policy}: ReferenceFixer {:?} but stream {:?}",
                a.is_ok(),
                b.is_some()
            ),
        }
    }
}

fn in_der(offset: usize, der: &[u8]) {
    assert!(
        offset <= der.len(),
        "offset {offset} past the DER ({})",
        der.len()
    );
}

fn check_element(e: &SerializedElement<'_>) {
    let der = &e.der[..];
    let (legacy, ms) = verdicts(e);
    assert_eq!(legacy, verdict(e, RuleSet::Legacy));
    assert_eq!(ms, verdict(e, RuleSet::Ms09056));
    // Only what has a source refuses an import: DER that cannot be decoded
    // (every rule set) and, under ms09-056, a NUL inside the friendly name.
    // A NUL in a name, an overflowing OID arc or a missing signature never do.
    let decodable = e.kind != ContextKind::Certificate || CertificateView::parse(der).is_ok();
    let bad_name = e
        .friendly_name()
        .is_some_and(certmig::format::friendly_name::has_embedded_nul);
    assert_eq!(legacy == Verdict::Ok, decodable, "legacy {legacy}");
    assert_eq!(ms == Verdict::Ok, decodable && !bad_name, "ms09-056 {ms}");
    for (rules, v) in [(RuleSet::Legacy, legacy), (RuleSet::Ms09056, ms)] {
        match cryptoapi::import(e, rules) {
            Ok(c) => {
                assert_eq!(v, Verdict::Ok);
                assert_eq!(c.thumbprint, e.thumbprint());
                assert_eq!(c.display_subject, cryptoapi::display_subject(der, rules));
            }
            Err(rej) => {
                assert_eq!(v, Verdict::Rejected(rej.hresult));
                assert_eq!(rej.rule.kind, RuleKind::Import);
                assert_eq!(Some(rej.hresult), rej.rule.hresult);
                let _ = rej.to_string();
                match &*rej.offence {
                    Offence::FriendlyName { byte_offset, .. } => {
                        assert_eq!(rules, RuleSet::Ms09056);
                        assert_eq!(rej.rule.id, RuleId::FriendlyNameEmbeddedNul);
                        assert!(*byte_offset < e.friendly_name().map_or(0, <[u8]>::len))
                    }
                    Offence::Der { der_offset, .. } => {
                        assert_eq!(rej.rule.id, RuleId::MalformedCertificate);
                        in_der(*der_offset, der)
                    }
                    other @ (Offence::NameValue { .. } | Offence::OidArc { .. }) => {
                        panic!("a name or OID refused an import: {other:?}")
                    }
                }
            }
        }
    }
}

/// The name findings over `der`: only for a walkable certificate, never an
/// import rule, every offset inside the DER (a NUL's offset on a zero byte);
/// and whatever the updated CryptoAPI matches, legacy matched too.
fn names_agree(der: &[u8]) {
    let findings = cryptoapi::name_findings(der);
    let walkable = CertificateView::parse(der).is_ok();
    assert!(walkable || findings.is_empty());
    for f in &findings {
        assert_ne!(f.rule.kind, RuleKind::Import, "{f:?}");
        let _ = f.offence.to_string();
        match &f.offence {
            Offence::NameValue { der_offset, .. } => {
                assert!(*der_offset < der.len());
                assert_eq!(der[*der_offset], 0, "{f:?}");
            }
            Offence::OidArc { der_offset, .. } => assert!(*der_offset < der.len()),
            other => panic!("not a name finding: {other:?}"),
        }
    }
    let shown = cryptoapi::display_subject(der, RuleSet::Ms09056);
    let cut = cryptoapi::display_subject(der, RuleSet::Legacy);
    let candidates = shown
        .split(", ")
        .chain(cut.split(", "))
        .filter_map(|a| a.split_once('=').map(|(_, v)| v.to_owned()))
        .chain(["".to_owned(), "www.bank.example".to_owned()]);
    for expected in candidates {
        if cryptoapi::subject_matches(der, &expected, RuleSet::Ms09056) {
            assert!(
                cryptoapi::subject_matches(der, &expected, RuleSet::Legacy),
                "{expected:?}"
            );
        }
    }
}

/// The verdicts over `der` as a certificate with no properties, with a clean
/// and with a defective friendly name, and as a CRL.
fn verdicts_agree(der: &[u8]) {
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
    let _ = cryptoapi::legacy_display_subject(der);
    let _ = cryptoapi::exact_subject(der);
    let _ = cryptoapi::display_issuer(der, RuleSet::Legacy);
    names_agree(der);
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
        scan_both_modes(&bytes);
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
            scan_both_modes(input);
        }
    }

    #[test]
    fn der_walker_and_import_rules(der in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Err(e) = CertificateView::parse(&der) {
            prop_assert!(e.offset <= der.len(), "{e:?}");
        }
        verdicts_agree(&der);
    }
}

/// A real SMS store (two signed certificates) in every format, then one
/// certificate's DER, its bare TBSCertificate, and the CVE-2009-2511
/// certificate (OID arcs past 32 bits).
fn valid_inputs() -> &'static [Vec<u8>; 5] {
    static INPUTS: std::sync::OnceLock<[Vec<u8>; 5]> = std::sync::OnceLock::new();
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
            certmig::cert::adversarial::unsigned(&certs[0].der).unwrap(),
            certmig::cert::adversarial::oid_arc_overflow(1).unwrap(),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Valid inputs with a few bytes changed and maybe cut short: these reach
    /// deep into every reader, where arbitrary bytes rarely get.
    #[test]
    fn mutated_valid_inputs(which in 0usize..5, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..5), cut in any::<prop::sample::Index>(), do_cut in any::<bool>()) {
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
                verdicts_agree(&bytes);
            }
        }
    }
}
