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
    friendly_name, key_prov_info, parse_element_file, ElementBatch, ElementView, KeyProvInfo,
    Limits, Location, ReadMode, SerializedElement, SerializedStore, StoreIter, StoreReader,
};
use certmig::scan::{self, ScanOptions};

use crate::support;

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
    batches_agree(bytes)?;
    scan_both_modes(bytes);
    scan_agrees(bytes);
    reference_fixer_agrees(bytes);
    Ok(())
}

/// What a streaming read of `bytes` gives: each element's offset and bytes,
/// then how it ended (`Ok` after the end marker, or the error).
type Streamed = (Vec<(u64, Vec<u8>)>, Result<(), String>);

fn open(bytes: &[u8], limits: Limits) -> Result<StoreReader<std::io::Cursor<&[u8]>>, String> {
    StoreReader::open(std::io::Cursor::new(bytes), bytes.len() as u64, limits)
        .map_err(|e| format!("{e:?}"))
}

/// Element by element (`next_element_into`).
fn streamed_by_element(bytes: &[u8], limits: Limits) -> Streamed {
    let mut r = match open(bytes, limits) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut out = Vec::new();
    loop {
        let mut buf = Vec::new();
        match r.next_element_into(&mut buf) {
            Ok(Some(offset)) => out.push((offset, buf)),
            Ok(None) => return (out, Ok(())),
            Err(e) => return (out, Err(format!("{e:?}"))),
        }
    }
}

/// In batches of `capacity` bytes (`next_batch`), with the bytes consumed
/// after each batch checked.
fn streamed_in_batches(bytes: &[u8], capacity: usize, limits: Limits) -> Streamed {
    let mut r = match open(bytes, limits) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut out = Vec::new();
    let mut batch = ElementBatch::with_capacity(capacity);
    loop {
        let result = r.next_batch(&mut batch);
        for (offset, range) in &batch.elements {
            out.push((*offset, batch.bytes[range.clone()].to_vec()));
        }
        match result {
            Ok(true) => {
                let end = out.last().map_or(0, |(o, b)| o + b.len() as u64);
                assert_eq!(batch.consumed, end, "consumed after a batch");
            }
            Ok(false) => {
                assert_eq!(batch.consumed, bytes.len() as u64, "consumed at the end");
                return (out, Ok(()));
            }
            Err(e) => return (out, Err(format!("{e:?}"))),
        }
    }
}

/// The batch reader reads exactly the elements, and stops with exactly the
/// error, of the element-by-element reader, whatever the batch size (a
/// batch smaller than one element grows to hold it), under the default
/// limits and under small ones.
fn batches_agree(bytes: &[u8]) -> Result<(), TestCaseError> {
    let small = Limits {
        max_element_size: 400,
        max_certificates: 4,
        max_properties_per_element: 3,
        ..Limits::default()
    };
    for limits in [Limits::default(), small] {
        let want = streamed_by_element(bytes, limits);
        for capacity in [1, 12, 13, 50, 160, 4096] {
            let got = streamed_in_batches(bytes, capacity, limits);
            prop_assert_eq!(&got, &want, "batches of {} bytes, {:?}", capacity, limits);
        }
    }
    Ok(())
}

/// The allocation-free element reader accepts and refuses exactly what the
/// strict element parser does, and reads the same entries.
fn element_views_agree(bytes: &[u8], base: usize) -> Result<(), TestCaseError> {
    let want = SerializedElement::parse(bytes, base, ReadMode::Strict);
    let got = ElementView::parse_strict(bytes, base);
    match (got, want) {
        (Ok(v), Ok(e)) => {
            prop_assert_eq!(v.kind, e.kind);
            prop_assert_eq!(v.der, &e.der[..]);
            let entries: Vec<(u32, &[u8])> =
                v.entries().map(|(_, id, value)| (id, value)).collect();
            let want: Vec<(u32, &[u8])> = e
                .properties
                .iter()
                .map(|p| (p.id.to_u32(), &p.value[..]))
                .collect();
            prop_assert_eq!(entries, want);
            prop_assert_eq!(v.property_ids().collect::<Vec<_>>(), e.property_ids());
            prop_assert_eq!(v.friendly_name, e.friendly_name());
            prop_assert_eq!(
                v.key_prov_info,
                e.property(PropertyId::KeyProvInfo).map(|p| &p.value[..])
            );
        }
        (Err(g), Err(w)) => prop_assert_eq!(g, w),
        (g, w) => prop_assert!(
            false,
            "view {:?}, element {:?}",
            g.map(|_| ()),
            w.map(|_| ())
        ),
    }
    Ok(())
}

/// `container_units` is `KeyProvInfo::decode`'s container, without allocating.
fn containers_agree(bytes: &[u8]) -> Result<(), TestCaseError> {
    let want = KeyProvInfo::decode(bytes, 0).ok().and_then(|k| k.container);
    let got = key_prov_info::container_units(bytes).map(|units| {
        let mut s = String::new();
        friendly_name::decode_to(units, &mut s).unwrap();
        s
    });
    prop_assert_eq!(got, want);
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
    #![proptest_config(support::proptest_config(256))]

    #[test]
    fn store_readers(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        stores(&bytes)?;
        stores(&[&STORE_HEADER[..], &bytes].concat())?;
    }

    #[test]
    fn elements_and_blob_files(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        element_views_agree(&bytes, 0)?;
        element_views_agree(&bytes, 1000)?;
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
        containers_agree(&bytes)?;
    }

    /// The friendly-name writers write what the functions that build
    /// strings return, on any code units (unpaired surrogates, controls,
    /// odd lengths).
    #[test]
    fn friendly_name_writers(units in prop::collection::vec(prop_oneof![
        0u16..0x80, Just(0u16), Just(0x5Cu16), 0x80u16..0xD800, 0xD800u16..0xE000, 0xE000u16..=0xFFFF
    ], 0..80), odd in proptest::option::of(any::<u8>())) {
        let mut bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
        bytes.extend(odd);
        let (mut escaped, mut displayed) = (String::new(), String::new());
        friendly_name::escape_to(&bytes, &mut escaped).unwrap();
        friendly_name::displayed_to(&bytes, &mut displayed).unwrap();
        prop_assert_eq!(escaped, friendly_name::escape(&bytes));
        prop_assert_eq!(displayed, friendly_name::displayed(&bytes));
        let mut hex = Vec::new();
        certmig::format::thumbprint::hex_upper_to(&bytes, &mut hex);
        prop_assert_eq!(String::from_utf8(hex).unwrap(), hex::encode_upper(&bytes));
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
    #![proptest_config(support::proptest_config(256))]

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
            0 => {
                stores(&bytes)?;
                // Its first element, changed the same way.
                let end = bytes.len().min(8 + 1400);
                element_views_agree(&bytes[8.min(end)..end], 8)?;
            }
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

proptest! {
    #![proptest_config(support::proptest_config(512))]

    /// Key provider info values that decode, then with a few bytes changed
    /// or cut short: `container_units` keeps agreeing with `decode`.
    #[test]
    fn mutated_key_provider_info(container in "[A-Za-z0-9_\u{e9}\u{1F600}]{0,12}", params in 0usize..3, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4), cut in proptest::option::of(any::<prop::sample::Index>())) {
        let mut k = KeyProvInfo::sccm_machine_key(&container, key_prov_info::AT_SIGNATURE);
        for i in 0..params {
            k.params.push(key_prov_info::ProvParam { param: i as u32, flags: 0, data: vec![i as u8; 3 * i] });
        }
        let mut bytes = k.encode();
        containers_agree(&bytes)?;
        for (at, b) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *b;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        containers_agree(&bytes)?;
    }
}

proptest! {
    #![proptest_config(support::proptest_config(512))]

    /// Stores built from elements of any size (properties of any id and
    /// length, a certificate, CRL or CTL last, or no context), with or
    /// without the end marker, with bytes after it, cut anywhere: the batch
    /// reader agrees with the element reader, and the element views with
    /// the element parser.
    #[test]
    fn structured_stores(elements in prop::collection::vec((prop::collection::vec((prop_oneof![Just(2u32), Just(11), 1u32..40, any::<u32>()], 0usize..300), 0..4), prop_oneof![Just(32u32), Just(33), Just(34), Just(11)], 0usize..200), 0..6), end in any::<bool>(), trailing in prop::collection::vec(any::<u8>(), 0..3), cut in proptest::option::of(any::<prop::sample::Index>())) {
        let mut bytes = STORE_HEADER.to_vec();
        for (properties, context, len) in &elements {
            let start = bytes.len();
            for (id, len) in properties {
                certmig::format::property::write_entry(&mut bytes, *id, &vec![0x41; *len]);
            }
            certmig::format::property::write_entry(&mut bytes, *context, &vec![0x30; *len]);
            element_views_agree(&bytes[start..], start)?;
        }
        if end {
            bytes.extend_from_slice(&[0; 12]);
        }
        bytes.extend_from_slice(&trailing);
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        batches_agree(&bytes)?;
    }
}
