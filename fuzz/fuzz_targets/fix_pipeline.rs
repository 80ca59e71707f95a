//! The fix pipeline on a `.sst` (and on a single element, a `.blob`): parse,
//! `fix::repair_element` on every element under both policies, write,
//! re-parse.
//!
//! Asserts, for each policy: the repaired store writes, re-parses strictly and
//! passes `fix::check_repair` against the input; no friendly name with an
//! embedded NUL is left (odd-length values, which are skipped with a warning,
//! aside); fixing twice equals fixing once (and the second pass reports no
//! change); the streaming `fix::stream_repair` over the same bytes succeeds
//! exactly when the whole-store parse does, writes identical bytes and
//! reports identical per-certificate repairs; errors are located inside the
//! input. (The engine's `ReferenceFixer`, what the simulator calls, giving
//! the same bytes: `tests/it/arbitrary_bytes.rs`.)
#![no_main]

use certmig_format::friendly_name::has_embedded_nul;
use certmig_format::repair::{self as fix, check_repair, repair_element, stream_repair, Policy};
use certmig_format::store::StreamError;
use certmig_format::{Limits, ReadMode, SerializedElement, SerializedStore, StoreReader};
use certmig_fuzz::assert_offset_in;
use libfuzzer_sys::fuzz_target;

const POLICIES: [Policy; 2] = [Policy::Truncate, Policy::Strip];

/// `fix` on a .sst, streamed: the output bytes and reports, or the error.
fn streamed(
    data: &[u8],
    policy: Policy,
) -> Result<(Vec<u8>, Vec<fix::CertificateRepair>), certmig_format::FormatError> {
    let unwrap = |e: StreamError| match e {
        StreamError::Format(f) => f,
        StreamError::Io(io) => panic!("I/O error reading a slice: {io}"),
    };
    let mut reader =
        StoreReader::open(data, data.len() as u64, Limits::default()).map_err(unwrap)?;
    let mut out = Vec::new();
    let mut reports = Vec::new();
    match stream_repair(&mut reader, Some(&mut out), policy, |r| reports.push(r)) {
        Ok(()) => Ok((out, reports)),
        Err(fix::StreamFixError::Read(e)) => Err(unwrap(e)),
        Err(fix::StreamFixError::Element(e)) => Err(e),
        Err(fix::StreamFixError::Write(e)) => panic!("writing to a Vec failed: {e}"),
    }
}

fn fix_elements(
    elements: &mut [SerializedElement<'_>],
    policy: Policy,
) -> Vec<fix::CertificateRepair> {
    elements
        .iter_mut()
        .map(|e| repair_element(e, policy))
        .collect()
}

fn check_fixed(before: &[SerializedElement<'_>], after: &[SerializedElement<'_>], policy: Policy) {
    check_repair(before, after, policy).unwrap_or_else(|v| panic!("{policy}: {v}"));
    for e in after {
        for p in e
            .properties
            .iter()
            .filter(|p| p.id == certmig_format::PropertyId::FriendlyName)
        {
            assert!(
                p.value.len() % 2 != 0 || !has_embedded_nul(&p.value),
                "{policy}: an embedded NUL survived: {:02x?}",
                p.value
            );
        }
    }
}

fn store_pipeline(data: &[u8]) {
    let parsed = SerializedStore::parse(data, ReadMode::Strict);
    for policy in POLICIES {
        let stream = streamed(data, policy);
        let store = match &parsed {
            Ok(s) => s,
            Err(e) => {
                assert_offset_in(e, 0, data.len());
                let se = stream.expect_err("stream_repair accepted a store parse rejects");
                assert_offset_in(&se, 0, data.len());
                continue;
            }
        };
        let mut fixed = store.clone().into_owned();
        let reports = fix_elements(&mut fixed.elements, policy);
        let out = fixed.to_bytes();
        let reparsed = SerializedStore::parse(&out, ReadMode::Strict)
            .unwrap_or_else(|e| panic!("{policy}: the repaired store does not parse: {e}"));
        assert_eq!(
            reparsed, fixed,
            "{policy}: the repaired store reads back differently"
        );
        check_fixed(&store.elements, &reparsed.elements, policy);
        assert_eq!(reports.iter().any(|r| r.changed), out != data);

        // Fixing twice equals fixing once.
        let mut twice = reparsed.clone().into_owned();
        let second = fix_elements(&mut twice.elements, policy);
        assert!(
            second.iter().all(|r| !r.changed),
            "{policy}: a second fix changed something"
        );
        assert_eq!(
            twice.to_bytes(),
            out,
            "{policy}: fixing twice differs from fixing once"
        );

        // The streaming fixer gives the same bytes and reports.
        let (sout, sreports) =
            stream.unwrap_or_else(|e| panic!("{policy}: stream_repair failed: {e}"));
        assert_eq!(sout, out, "{policy}: stream_repair wrote other bytes");
        assert_eq!(
            sreports, reports,
            "{policy}: stream_repair reported differently"
        );
    }
}

fn element_pipeline(data: &[u8]) {
    let Ok(e) = SerializedElement::parse(data, 0, ReadMode::Strict) else {
        return;
    };
    for policy in POLICIES {
        let mut fixed = e.clone().into_owned();
        let r = repair_element(&mut fixed, policy);
        let out = fixed.to_bytes();
        assert_eq!(r.changed, out != data);
        let back = SerializedElement::parse(&out, 0, ReadMode::Strict)
            .unwrap_or_else(|err| panic!("{policy}: the repaired element does not parse: {err}"));
        assert_eq!(back, fixed);
        assert_eq!(back.thumbprint(), e.thumbprint());
        check_fixed(
            std::slice::from_ref(&e),
            std::slice::from_ref(&back),
            policy,
        );
        let mut twice = back.clone();
        assert!(!repair_element(&mut twice, policy).changed);
        assert_eq!(twice.to_bytes(), out);
    }
}

fuzz_target!(|data: &[u8]| {
    store_pipeline(data);
    element_pipeline(data);
});
