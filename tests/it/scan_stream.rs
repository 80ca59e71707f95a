//! `certmig scan` streams its report: the output must be byte for byte what
//! printing the whole buffered [`scan::ScanReport`] gives (JSON through
//! `serde_json::to_string_pretty`, the human listing through
//! `report::scan::{file, file_errors, summary}`), on generated stores of every
//! format, profile and defect, on stores whose elements straddle the reader's
//! batches, and on malformed files; each certificate's record (what the
//! stream writes from, without owned strings) must print what its reference
//! report prints; and the one-walk certificate report and the cached
//! signature check must equal their reference versions.

use std::path::PathBuf;
use std::process::Command;

use certmig::cert::{self, adversarial, Profile};
use certmig::cryptoapi::der::CertificateView;
use certmig::format::key_prov_info::{KeyProvInfo, AT_KEYEXCHANGE};
use certmig::format::{
    self, ContextKind, Defect, EntryOrder, FileFormat, Property, PropertyId, ReadMode,
    SerializedElement, SerializedStore,
};
use certmig::report;
use certmig::scan::{self, CertificateRecord, ScanOptions, ScanSink};

use crate::support;

/// What the buffered scan prints: (stdout, stderr, exit code).
fn buffered(paths: &[PathBuf], opts: ScanOptions, json: bool) -> (Vec<u8>, Vec<u8>, i32) {
    let r = scan::scan_paths(paths, opts);
    let code = if r.has_errors() { 2 } else { 0 };
    if json {
        let mut s = serde_json::to_string_pretty(&r).unwrap();
        s.push('\n');
        return (s.into_bytes(), Vec::new(), code);
    }
    let (mut out, mut err) = (String::new(), String::new());
    for f in &r.files {
        out.push_str(&report::scan::file(f));
        err.push_str(&report::scan::file_errors(f));
    }
    out.push_str(&report::scan::summary(&r));
    (out.into_bytes(), err.into_bytes(), code)
}

fn streamed(paths: &[PathBuf], flags: &[&str]) -> (Vec<u8>, Vec<u8>, i32) {
    let o = support::certmig()
        .arg("scan")
        .args(flags)
        .args(paths)
        .output()
        .unwrap();
    (o.stdout, o.stderr, o.status.code().unwrap())
}

/// Every combination of output and options agrees with the buffered report.
fn assert_same(paths: &[PathBuf]) {
    for (flags, mode, verify) in [
        (&[][..], ReadMode::Strict, false),
        (&["--lenient"][..], ReadMode::Lenient, false),
        (&["--verify-signatures"][..], ReadMode::Strict, true),
        (&["--no-verify"][..], ReadMode::Strict, false),
    ] {
        let opts = ScanOptions {
            mode,
            verify_signatures: verify,
        };
        for json in [true, false] {
            let mut f: Vec<&str> = flags.to_vec();
            if json {
                f.push("--json");
            }
            let want = buffered(paths, opts, json);
            let got = streamed(paths, &f);
            assert!(
                got == want,
                "{paths:?} {f:?}:\n--- streamed\n{}\n{}\n--- buffered\n{}\n{}",
                String::from_utf8_lossy(&got.0),
                String::from_utf8_lossy(&got.1),
                String::from_utf8_lossy(&want.0),
                String::from_utf8_lossy(&want.1),
            );
        }
    }
}

#[test]
fn streamed_output_equals_buffered_on_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    support::gen(&d.join("signed"), &["--machines", "2", "--defect", "mixed"]);
    support::gen(
        &d.join("ecdsa"),
        &["--profile", "modern-ecdsa", "--format", "sst,reg"],
    );
    // More than one batch and more than one chunk per batch.
    support::gen(
        &d.join("bulk"),
        &["--bulk", "--format", "sst", "--certs-per-machine", "5000"],
    );
    assert_same(&[d.to_path_buf()]);
    for f in ["signed/PC0001.sst", "signed/PC0002.reg", "bulk/PC0001.sst"] {
        assert_same(&[d.join(f)]);
    }
    // An empty directory and a missing path.
    std::fs::create_dir(d.join("empty")).unwrap();
    assert_same(&[d.join("empty"), d.join("missing.sst")]);
}

#[test]
fn streamed_output_equals_buffered_on_malformed_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    support::gen(
        &d.join("g"),
        &["--bulk", "--format", "sst", "--certs-per-machine", "3000"],
    );
    let good = std::fs::read(d.join("g/PC0001.sst")).unwrap();
    let bad = d.join("bad");
    std::fs::create_dir(&bad).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(bad.join(name), bytes).unwrap();
    write("empty.sst", b"");
    write("header-only.sst", &good[..8]);
    write("short-header.sst", &good[..5]);
    write("pem.sst", b"-----BEGIN CERTIFICATE-----\nMII\n");
    write("der.sst", &[0x30, 0x82, 1, 0, 1, 2, 3]);
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"junk");
    write("trailing.sst", &trailing);
    write("no-end-marker.sst", &good[..good.len() - 12]);
    // Cuts and corruptions in the first batch, across a chunk boundary, in
    // a later batch and near the end.
    for (i, at) in [20usize, 700, 64 * 980, good.len() / 2, good.len() - 40]
        .into_iter()
        .enumerate()
    {
        write(&format!("cut{i}.sst"), &good[..at]);
        let mut b = good.clone();
        b[at] ^= 0xFF;
        b[at + 1] ^= 0x5A;
        write(&format!("flip{i}.sst"), &b);
        let mut b = good.clone();
        b[at..at + 4].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
        write(&format!("len{i}.sst"), &b);
    }
    // A context-first store: only --lenient reads it.
    let mut s = SerializedStore::parse(&good[..], ReadMode::Strict).unwrap();
    s.elements.truncate(3);
    for e in &mut s.elements {
        e.order = format::EntryOrder::ContextFirst;
    }
    write("context-first.sst", &s.to_bytes());
    assert_same(std::slice::from_ref(&bad));
    let mut one_by_one: Vec<PathBuf> = std::fs::read_dir(&bad)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    one_by_one.sort();
    for p in one_by_one {
        assert_same(&[p]);
    }
}

#[test]
fn the_one_walk_report_equals_the_reference_and_the_cached_check_equals_openssl() {
    let mut ders = Vec::new();
    for profile in [Profile::Sccm2007, Profile::ModernRsa, Profile::ModernEcdsa] {
        for defect in [format::Defect::Clean, format::Defect::DoubledTerminator] {
            let spec = cert::MachineSpec {
                profile,
                ..cert::MachineSpec::sccm("PC0042", 7, defect)
            };
            for c in cert::generate_machine(&spec).unwrap() {
                let der = c.der;
                // Tampered: one byte of the TBSCertificate changed.
                let mut tampered = der.clone();
                tampered[40] ^= 1;
                ders.push(tampered);
                // Trailing bytes after the certificate.
                let mut longer = der.clone();
                longer.push(0);
                ders.push(longer);
                ders.push(der);
            }
        }
    }
    ders.push(adversarial::subject_cn_with_embedded_nul(3).unwrap());
    ders.push(adversarial::oid_arc_overflow(3).unwrap());
    let unsigned = adversarial::unsigned(&ders[2]).unwrap();
    ders.push(unsigned);
    ders.push(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
    let mut valid = 0;
    for der in &ders {
        assert_eq!(
            cert::verify_signature_cached(der),
            cert::verify_signature(der),
            "{}",
            format::thumbprint::hex_upper(der)
        );
        valid += cert::verify_signature(der) as usize;
        let e = adversarial::element(der.clone());
        for verify_signatures in [false, true] {
            for mode in [ReadMode::Strict, ReadMode::Lenient] {
                let opts = ScanOptions {
                    mode,
                    verify_signatures,
                };
                assert_eq!(
                    scan::report_element(&e, opts),
                    support::reference::certificate_report(&e, opts)
                );
            }
        }
    }
    assert!(valid >= 6, "the signed certificates verify");
}

#[test]
fn streamed_output_equals_buffered_for_every_profile_and_defect() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for defect in support::DEFECTS {
        for profile in ["sccm2007", "modern", "modern-ecdsa"] {
            support::gen(
                &d.join(format!("{profile}-{defect}")),
                &[
                    "--profile",
                    profile,
                    "--defect",
                    defect,
                    "--format",
                    "sst,blob",
                    "--certs-per-machine",
                    "3",
                ],
            );
        }
        // Bulk: more than one batch of the streamed reader.
        let bulk = d.join(format!("bulk-{defect}"));
        support::gen(
            &bulk,
            &[
                "--bulk",
                "--defect",
                defect,
                "--format",
                "sst",
                "--certs-per-machine",
                "2500",
            ],
        );
        assert_same(&[bulk.join("PC0001.sst")]);
    }
    assert_same(&[d.to_path_buf()]);
}

/// A REGEDIT5 export is streamed in pieces of whole sections
/// (`scan::reg_piece_plan`), parsed on every core: the output equals the
/// buffered report on an export of several pieces, and on that export
/// broken in its first, a middle and its last piece; the certificates
/// before the error are listed, as for a store.
#[test]
fn streamed_reg_output_equals_buffered_across_pieces_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    support::gen(
        &d.join("g"),
        &[
            "--bulk",
            "--defect",
            "mixed",
            "--format",
            "reg",
            "--certs-per-machine",
            "2200",
        ],
    );
    let good = std::fs::read(d.join("g/PC0001.reg")).unwrap();
    // The pieces `certmig scan` cuts on this machine (its thread count).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (_, piece) = scan::reg_piece_plan(threads);
    assert!(good.len() > 3 * piece, "{} bytes", good.len());
    assert_same(&[d.join("g/PC0001.reg")]);
    let bad = d.join("bad");
    std::fs::create_dir(&bad).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(bad.join(name), bytes).unwrap();
    // Even places (whole UTF-16 code units) in the first piece, at the
    // first piece's end, in a middle piece and in the last.
    let even = |at: usize| at & !1;
    let places = [
        even(5000),
        even(piece - 3),
        even(good.len() / 2),
        even(good.len() - 2000),
    ];
    for (i, at) in places.into_iter().enumerate() {
        write(&format!("cut{i}.reg"), &good[..at]);
        // Not a hex digit, or not a structural character, whichever it hits.
        let mut b = good.clone();
        b[at..at + 2].copy_from_slice(&u16::from(b'g').to_le_bytes());
        write(&format!("g{i}.reg"), &b);
        let mut b = good.clone();
        b[at..at + 2].copy_from_slice(&0xD800u16.to_le_bytes());
        write(&format!("surrogate{i}.reg"), &b);
        let mut b = good.clone();
        b[at..at + 2].copy_from_slice(&u16::from(b'\\').to_le_bytes());
        write(&format!("backslash{i}.reg"), &b);
    }
    // An odd length: the whole-file reader's encoding error.
    write("odd.reg", &good[..good.len() - 1]);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&bad)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in &files {
        assert_same(std::slice::from_ref(f));
    }
    // A break in the middle lists the certificates before it.
    let r = scan::scan_paths(&[bad.join("g2.reg")], ScanOptions::default());
    let f = &r.files[0];
    assert_eq!(f.errors.len(), 1, "{:?}", f.errors);
    assert!(
        (800..1400).contains(&f.certificates.len()),
        "{} certificates before the error",
        f.certificates.len()
    );
}

/// A store of `sizes.len()` certificate elements, element `i` taking
/// `sizes[i]` bytes (a friendly name, a key provider info, then an
/// unknown property padding it out, and a certificate).
fn store_of_sizes(der: &[u8], sizes: &[usize]) -> Vec<u8> {
    let kpi = KeyProvInfo::sccm_machine_key("SMS_PC0001_Encrypt", AT_KEYEXCHANGE).encode();
    let elements: Vec<SerializedElement<'static>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            let defect = Defect::ALL[i % Defect::ALL.len()];
            let mut e = SerializedElement::certificate(
                der.to_vec(),
                vec![
                    Property::new(
                        PropertyId::FriendlyName,
                        defect.apply("SMS Encryption Certificate"),
                    ),
                    Property::new(PropertyId::KeyProvInfo, kpi.clone()),
                ],
            );
            let pad = size
                .checked_sub(e.encoded_len() + 12)
                .expect("element size");
            e.properties
                .push(Property::new(PropertyId::Other(0x7000), vec![0x5A; pad]));
            assert_eq!(e.encoded_len(), size);
            e
        })
        .collect();
    SerializedStore::new(elements).to_bytes()
}

/// Elements that end exactly at, just before and just after the reader's
/// batch boundary, an element larger than a whole batch, and the end
/// marker straddling a boundary; then the same stores cut, corrupted and
/// extended around the boundaries.
#[test]
fn streamed_output_equals_buffered_across_batch_boundaries() {
    let batch = scan::BATCH_BYTES;
    let der = cert::generate_machine(&cert::MachineSpec::sccm("PC0001", 5, Defect::Clean))
        .unwrap()
        .remove(0)
        .der;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("stores");
    std::fs::create_dir(&d).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(d.join(name), bytes).unwrap();
    // The header is 8 bytes: the first element ends at `batch` exactly, one
    // byte before, one after; then elements of a third of a batch.
    let third = batch / 3;
    let stores = [
        ("exact", vec![batch - 8, third, third, third, 2000]),
        ("before", vec![batch - 9, 2000, third, batch - 4000]),
        ("after", vec![batch - 7, 1500, 1500]),
        ("huge", vec![3000, 2 * batch + 12345, 3000, third]),
        ("huge-first", vec![batch + 100, 1900]),
        // The end marker starts 6 bytes before the end of the first batch.
        ("end-marker", vec![batch - 8 - 6]),
        ("end-marker-at", vec![batch - 8 - 12]),
    ];
    for (name, sizes) in &stores {
        let bytes = store_of_sizes(&der, sizes);
        write(&format!("{name}.sst"), &bytes);
        let mut trailing = bytes.clone();
        trailing.extend_from_slice(b"x");
        write(&format!("{name}-trailing.sst"), &trailing);
        for (i, at) in [batch - 1, batch, batch + 1, batch + 12, bytes.len() - 13]
            .into_iter()
            .filter(|&at| at < bytes.len())
            .enumerate()
        {
            write(&format!("{name}-cut{i}.sst"), &bytes[..at]);
            let mut b = bytes.clone();
            b[at] ^= 0xA5;
            write(&format!("{name}-flip{i}.sst"), &b);
        }
    }
    assert_same(std::slice::from_ref(&d));
    for (name, _) in &stores {
        assert_same(&[d.join(format!("{name}.sst"))]);
    }
}

// ---------------------------------------------------------------------------
// Records: each certificate's output written from its borrowed record must
// be what its reference report prints.
// ---------------------------------------------------------------------------

/// One DER TLV.
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let n = value.len();
    let mut v = vec![tag];
    match n {
        0..=127 => v.push(n as u8),
        128..=255 => v.extend_from_slice(&[0x81, n as u8]),
        _ => v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
    }
    v.extend_from_slice(value);
    v
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// One attribute: its type (OID value bytes), the value's tag, the value.
type Atv<'a> = (&'a [u8], u8, &'a [u8]);

/// A Name: one RDN per group, each with its attributes.
fn name(rdns: &[&[Atv<'_>]]) -> Vec<u8> {
    let sets: Vec<Vec<u8>> = rdns
        .iter()
        .map(|rdn| {
            let atvs: Vec<Vec<u8>> = rdn
                .iter()
                .map(|(oid, tag, value)| seq(&[tlv(0x06, oid), tlv(*tag, value)]))
                .collect();
            tlv(0x31, &atvs.concat())
        })
        .collect();
    seq(&sets)
}

const CN: &[u8] = &[0x55, 0x04, 0x03];
const O: &[u8] = &[0x55, 0x04, 0x0A];
const OU: &[u8] = &[0x55, 0x04, 0x0B];
const EMAIL: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01];
const DC: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19];
/// 2.5.4.3 with a padded arc: decodes to CN, but not in canonical bytes.
const CN_PADDED: &[u8] = &[0x55, 0x04, 0x80, 0x03];
/// The same, padded past nine bytes (the quick overflow check must look).
const CN_LONG_PADDED: &[u8] = &[
    0x55, 0x04, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x03,
];
const UNKNOWN: &[u8] = &[0x2A, 0x03, 0x04];
const OVERFLOW: &[u8] = &[0x55, 0x04, 0x90, 0x80, 0x80, 0x80, 0x03];
const HUGE_ARC: &[u8] = &[
    0x55, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0x7F,
];
const OPEN_ARC: &[u8] = &[0x55, 0x84];
const SHA1_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05];
const RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];

/// A bare TBSCertificate (which the walker reads as a certificate).
fn tbs(issuer: Vec<u8>, subject: Vec<u8>, signature: &[u8], extensions: &[&[u8]]) -> Vec<u8> {
    let exts: Vec<Vec<u8>> = extensions
        .iter()
        .map(|oid| seq(&[tlv(0x06, oid), tlv(0x04, &[])]))
        .collect();
    seq(&[
        tlv(0xA0, &tlv(0x02, &[2])),
        tlv(0x02, &[7]),
        seq(&[tlv(0x06, signature)]),
        issuer,
        seq(&[]),
        subject,
        seq(&[seq(&[tlv(0x06, RSA)]), tlv(0x03, &[0])]),
        tlv(0xA3, &seq(&exts)),
    ])
}

/// Certificates whose names hold every kind of string value, type and OID
/// the record writers treat apart, and ones the walker refuses.
fn certificate_ders() -> Vec<Vec<u8>> {
    let plain = name(&[&[(CN, 0x13, b"SMS")], &[(CN, 0x13, b"PC0001")]]);
    let utf16be = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_be_bytes).collect() };
    let values: Vec<(u8, Vec<u8>)> = vec![
        (0x13, b"quote \" and back\\slash".to_vec()),
        (0x16, b"tab\there\x01\x1f\x7f end".to_vec()),
        (0x14, b"caf\xe9 \xff".to_vec()),
        (0x0C, "h\u{e9}llo \u{2713} \u{1F600}".as_bytes().to_vec()),
        (0x0C, b"ab\xff\xfecd\xe2\x82".to_vec()),
        (0x0C, b"www.bank.example\0.evil.example".to_vec()),
        (0x13, b"nul\0in\0printable".to_vec()),
        (0x1E, utf16be("BMP \u{1F600} \0 after")),
        (0x1E, vec![0xD8, 0x3D, 0x00, 0x41, 0xDE, 0x00, 0x00]),
        (
            0x1C,
            [0x41u32, 0x1F600, 0, 0x110000, 0xD800]
                .iter()
                .flat_map(|c| c.to_be_bytes())
                .collect(),
        ),
        (0x1C, vec![0, 0, 0]),
        (0x04, b"octets \x00\x80\xff".to_vec()),
        (0x13, Vec::new()),
    ];
    let mut ders = Vec::new();
    for (tag, value) in &values {
        let subject = name(&[
            &[(CN, *tag, value)],
            &[(O, 0x13, b"Org"), (OU, 0x0C, b"Unit")],
        ]);
        ders.push(tbs(plain.clone(), subject.clone(), SHA1_RSA, &[]));
        ders.push(tbs(subject, plain.clone(), SHA1_RSA, &[RSA]));
    }
    for oid in [
        EMAIL,
        DC,
        CN_PADDED,
        CN_LONG_PADDED,
        UNKNOWN,
        OVERFLOW,
        HUGE_ARC,
        OPEN_ARC,
        &[],
    ] {
        let subject = name(&[&[(oid, 0x16, b"value\0cut")], &[(CN, 0x13, b"after")]]);
        ders.push(tbs(plain.clone(), subject.clone(), SHA1_RSA, &[]));
        ders.push(tbs(subject, plain.clone(), oid, &[oid, RSA]));
    }
    ders.push(tbs(
        plain.clone(),
        name(&[]),
        OVERFLOW,
        &[HUGE_ARC, OVERFLOW],
    ));
    // Signed certificates of every profile, and the CVE certificates.
    for profile in [Profile::Sccm2007, Profile::ModernRsa, Profile::ModernEcdsa] {
        let spec = cert::MachineSpec {
            profile,
            ..cert::MachineSpec::sccm("PC0042", 7, Defect::Clean)
        };
        ders.extend(
            cert::generate_machine(&spec)
                .unwrap()
                .into_iter()
                .map(|c| c.der),
        );
    }
    ders.push(adversarial::subject_cn_with_embedded_nul(3).unwrap());
    ders.push(adversarial::oid_arc_overflow(3).unwrap());
    ders.push(adversarial::unsigned(&ders[ders.len() - 3]).unwrap());
    // What the walker refuses.
    ders.push(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
    ders.push(vec![0x30, 0x00]);
    ders.push(Vec::new());
    ders.push(vec![0x31, 0x80]);
    ders
}

/// Friendly-name values of every shape, and text the writers escape.
fn friendly_names() -> Vec<Option<Vec<u8>>> {
    let utf16le = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let mut v: Vec<Option<Vec<u8>>> = vec![None];
    for d in Defect::ALL {
        v.push(Some(d.apply("SMS Signing Certificate")));
    }
    v.extend(
        [
            "no terminator",
            "",
            "\0",
            "quote \" back\\slash \u{1} \u{7f} \u{85} tab\t",
            "caf\u{e9} \u{1F600} \u{2028}\0",
            &"long name ".repeat(40),
        ]
        .iter()
        .map(|s| Some(utf16le(s))),
    );
    v.push(Some(vec![0x41, 0x00, 0x42]));
    v.push(Some(vec![0x3D, 0xD8, 0x41, 0x00, 0x00, 0xDE, 0x00, 0x00]));
    v
}

/// Key provider info values: none, valid ones, one with no container, and
/// ones that do not decode.
fn key_prov_infos() -> Vec<Option<Vec<u8>>> {
    let mut no_container = KeyProvInfo::sccm_machine_key("x", AT_KEYEXCHANGE);
    no_container.container = None;
    let mut surrogate = KeyProvInfo::sccm_machine_key("ab", AT_KEYEXCHANGE).encode();
    surrogate[28..30].copy_from_slice(&0xD800u16.to_le_bytes());
    vec![
        None,
        Some(KeyProvInfo::sccm_machine_key("SMS_PC0001_Signing", AT_KEYEXCHANGE).encode()),
        Some(
            KeyProvInfo::sccm_machine_key(
                "Schl\u{fc}ssel \u{1F600} \"q\" \\ \u{1}",
                AT_KEYEXCHANGE,
            )
            .encode(),
        ),
        Some(no_container.encode()),
        Some(surrogate),
        Some(vec![1, 2, 3]),
    ]
}

#[test]
fn every_record_prints_what_its_reference_report_prints() {
    let ders = certificate_ders();
    let (fnames, kpis) = (friendly_names(), key_prov_infos());
    let kinds = [ContextKind::Certificate, ContextKind::Crl, ContextKind::Ctl];
    let mut elements = Vec::new();
    let n = ders.len() * fnames.len();
    for i in 0..n {
        let mut properties = Vec::new();
        if let Some(k) = &kpis[i % kpis.len()] {
            properties.push(Property::new(PropertyId::KeyProvInfo, k.clone()));
        }
        if let Some(f) = &fnames[(i / ders.len() + i) % fnames.len()] {
            properties.insert(
                i % (properties.len() + 1),
                Property::new(PropertyId::FriendlyName, f.clone()),
            );
        }
        if i % 5 == 0 {
            // A second friendly name and key provider info: the first count.
            properties.push(Property::new(PropertyId::FriendlyName, vec![0x41, 0, 0, 0]));
            properties.push(Property::new(PropertyId::KeyProvInfo, vec![9; 40]));
            properties.push(Property::new(PropertyId::Other(0x1234), vec![7]));
        }
        elements.push(SerializedElement {
            properties,
            kind: if i % 7 == 3 {
                kinds[1 + i % 2]
            } else {
                kinds[0]
            },
            der: ders[i % ders.len()].clone().into(),
            order: EntryOrder::PropertiesFirst,
        });
    }
    for verify_signatures in [false, true] {
        let opts = ScanOptions {
            mode: ReadMode::Strict,
            verify_signatures,
        };
        let reports: Vec<scan::CertificateReport> = elements
            .iter()
            .map(|e| support::reference::certificate_report(e, opts))
            .collect();
        // One scratch view for all, as a streamed chunk reuses it.
        let mut scratch = CertificateView::empty();
        let mut json = report::scan::JsonSink::new(Vec::new()).unwrap();
        let mut human = report::scan::HumanSink {
            out: Vec::new(),
            err: Vec::new(),
        };
        let start = |count| scan::FileStart {
            path: "p.sst",
            format: Some(FileFormat::Sst),
            count: Some(count),
        };
        json.file_start(start(elements.len())).unwrap();
        human.file_start(start(elements.len())).unwrap();
        for (i, (e, want)) in elements.iter().zip(&reports).enumerate() {
            let record = CertificateRecord::of_element(e, &mut scratch, opts);
            assert_eq!(&record.to_report(), want, "element {i}");
            let mut out = Vec::new();
            json.render(i, &record, &mut out);
            json.rendered(&out).unwrap();
            out.clear();
            human.render(i, &record, &mut out);
            human.rendered(&out).unwrap();
        }
        json.file_end("p.sst", elements.len(), &[]).unwrap();
        human.file_end("p.sst", elements.len(), &[]).unwrap();
        let file = scan::FileReport {
            path: "p.sst".into(),
            format: Some(FileFormat::Sst),
            certificates: reports,
            errors: Vec::new(),
        };
        let text = report::scan::file(&file);
        let mut want_json = serde_json::to_string_pretty(&scan::ScanReport {
            files: vec![file],
            skipped: vec![],
        })
        .unwrap();
        want_json.push('\n');
        assert_eq!(
            String::from_utf8(json.finish().unwrap()).unwrap(),
            want_json
        );
        assert_eq!(String::from_utf8(human.out).unwrap(), text);
    }
}

/// A large store (1 000 000 bulk certificates, about 1 GB, or
/// `CERTMIG_SCAN_BIG_CERTS`) and a REGEDIT5 export of a tenth as many
/// (about 675 MB) scanned within a fixed memory budget, the streamed output
/// byte for byte the buffered report's. Run with
/// `cargo test --release --test it scan_stream:: -- --ignored`.
#[test]
#[ignore]
fn scanning_a_large_store_stays_under_64_mb_and_prints_the_buffered_report() {
    let n: usize = std::env::var("CERTMIG_SCAN_BIG_CERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().unwrap();
    // The store, and a REGEDIT5 export of a tenth as many certificates
    // (about two thirds of the store's size).
    for (format, count) in [("sst", n), ("reg", n / 10)] {
        let dir = tmp.path().join(format);
        support::gen(
            &dir,
            &[
                "--bulk",
                "--format",
                format,
                "--certs-per-machine",
                &count.to_string(),
            ],
        );
        let store = dir.join(format!("PC0001.{format}"));
        let listing = tmp.path().join("listing.txt");
        for json in [true, false] {
            let bin = support::certmig_exe();
            let o = Command::new("/usr/bin/time")
                .arg("-v")
                .arg(bin)
                .arg("scan")
                .arg(&store)
                .args(if json { &["--json"][..] } else { &[][..] })
                .stdout(std::fs::File::create(&listing).unwrap())
                .output()
                .unwrap();
            assert!(o.status.success());
            let stderr = String::from_utf8_lossy(&o.stderr);
            let kb: u64 = stderr
                .lines()
                .find_map(|l| {
                    l.trim()
                        .strip_prefix("Maximum resident set size (kbytes): ")
                })
                .and_then(|v| v.trim().parse().ok())
                .expect("GNU time -v prints the peak RSS");
            assert!(kb <= 64 * 1024, "{format} json {json}: peak RSS {kb} kB");
            let opts = ScanOptions::default();
            let (want, _, code) = buffered(std::slice::from_ref(&store), opts, json);
            assert_eq!(code, 0);
            let got = std::fs::read(&listing).unwrap();
            assert_eq!(got.len(), want.len(), "{format} json {json}: output length");
            assert!(
                got == want,
                "{format} json {json}: the streamed output differs"
            );
        }
    }
}
