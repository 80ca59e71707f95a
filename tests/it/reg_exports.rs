//! Real `reg export`s (issue 12): whole-store exports with `CRLs`/`CTLs`,
//! other keys and values of every type, comments and any wrapping, in
//! REGEDIT5 and REGEDIT4. `scan`, `fix` and `fleet --inventory` read them;
//! `fix` changes only the `Blob` values of the certificates it repairs and
//! leaves every other byte as it was; `gen` writes the `CRLs`/`CTLs` keys
//! Windows writes.

use std::ops::Range;
use std::path::Path;

use proptest::prelude::*;

use certmig::cmtrace::LogClock;
use certmig::fix::{self, repair_element, FixOptions, Policy};
use certmig::fleet::inventory::{assess_file, InventoryOptions, MachineSet};
use certmig::format::reg::{parse_reg, write_reg, ParsedReg, RegEncoding};
use certmig::format::registry::{RegistryStore, SYSTEM_CERTIFICATES};
use certmig::format::{ReadMode, SerializedElement};
use certmig::sim::world::Os;

use crate::support::{self, hex_wrapped, real_export, regedit4, regedit5, store, utf16};

/// The parts of `file` outside `spans`.
fn outside<'a>(file: &'a [u8], spans: &[Range<usize>]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut pos = 0;
    for s in spans {
        out.push(&file[pos..s.start]);
        pos = s.end;
    }
    out.push(&file[pos..]);
    out
}

fn repaired(s: &RegistryStore<'_>, policy: Policy) -> Vec<SerializedElement<'static>> {
    s.certificates
        .iter()
        .map(|c| {
            let mut e = c.element.clone().into_owned();
            repair_element(&mut e, policy);
            e
        })
        .collect()
}

/// OUT differs from IN only inside the Blob values of the certificates
/// repaired: everything outside the spans is byte-identical, unchanged
/// certificates' spans too, and the repaired Blobs decode to the repaired
/// elements.
fn assert_only_repaired_blobs_changed(
    input: &[u8],
    output: &[u8],
    expected: &[SerializedElement<'_>],
) -> (ParsedReg, ParsedReg) {
    let a = parse_reg(input, ReadMode::Strict).unwrap();
    let b = parse_reg(output, ReadMode::Strict).unwrap();
    assert_eq!(a.encoding, b.encoding);
    assert_eq!(a.blob_spans.len(), b.blob_spans.len());
    assert_eq!(
        outside(input, &a.blob_spans),
        outside(output, &b.blob_spans)
    );
    let messages = |p: &ParsedReg| {
        p.notes
            .iter()
            .map(|n| n.message.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(messages(&a), messages(&b));
    let after: Vec<_> = b
        .store
        .certificates
        .iter()
        .map(|c| c.element.clone())
        .collect();
    assert_eq!(after, expected);
    for (i, c) in a.store.certificates.iter().enumerate() {
        if c.element == expected[i] {
            assert_eq!(
                input[a.blob_spans[i].clone()],
                output[b.blob_spans[i].clone()],
                "certificate {i} was not repaired, its bytes must not change"
            );
        }
    }
    (a, b)
}

fn decode16(bytes: &[u8]) -> String {
    String::from_utf16(
        &bytes
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]))
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

#[test]
fn real_exports_are_read_certificates_only_from_certificates_keys() {
    let s = store();
    for bytes in [regedit5(&s), regedit4(&s)] {
        let parsed = parse_reg(&bytes, ReadMode::Strict).unwrap();
        assert_eq!(parsed.store, s);
        assert_eq!(parsed.blob_spans.len(), 3);
        // The CRL's Blob is noted and not a certificate; so are the other
        // key's values (the `Blob` outside SystemCertificates too).
        let notes: Vec<&str> = parsed.notes.iter().map(|n| n.message.as_str()).collect();
        assert!(
            notes
                .iter()
                .any(|n| n.contains("CRLs") && n.contains("not a certificate")),
            "{notes:?}"
        );
        for name in [
            "Site Code",
            "Flags",
            "Path",
            "Servers",
            "Nothing",
            "Empty",
            "Blob",
        ] {
            assert!(
                notes.iter().any(|n| n.contains(&format!(
                    "value `{name}` under `HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\CCM`"
                ))),
                "{name}: {notes:?}"
            );
        }
        assert!(
            notes.iter().any(|n| n.starts_with("value `` under")),
            "the default value: {notes:?}"
        );
        assert!(notes.iter().any(|n| n.contains("key deletion")));
    }
}

#[test]
fn fix_changes_only_the_repaired_blob_values_of_a_regedit5_export() {
    let s = store();
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out) = (tmp.path().join("PC0042.reg"), tmp.path().join("fixed.reg"));
    let input = regedit5(&s);
    std::fs::write(&inp, &input).unwrap();
    support::certmig()
        .arg("fix")
        .arg(&inp)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let output = std::fs::read(&out).unwrap();
    assert_ne!(output, input);
    let (_, b) =
        assert_only_repaired_blobs_changed(&input, &output, &repaired(&s, Policy::Truncate));
    // A repaired value is written as regedit writes it, in the file's encoding.
    let first = decode16(&output[b.blob_spans[0].clone()]);
    let expected = {
        let mut e = s.certificates[0].element.clone().into_owned();
        repair_element(&mut e, Policy::Truncate);
        RegistryStore {
            name: "SMS".into(),
            certificates: vec![certmig::format::registry::RegistryCertificate {
                thumbprint: e.thumbprint(),
                element: e,
            }],
        }
    };
    let canonical = decode16(&write_reg(&expected, RegEncoding::Regedit5)[2..]);
    assert!(canonical.contains(&format!("{first}\r\n")), "{first}");
    // The third (narrow, `hex(3):`, lower-case name) is now regedit's form.
    let third = decode16(&output[b.blob_spans[2].clone()]);
    assert!(third.starts_with("\"Blob\"=hex:0b,00,00,00,"), "{third}");
    // The input is left alone.
    assert_eq!(std::fs::read(&inp).unwrap(), input);
    // A second run has nothing to do and writes the same bytes.
    let again = tmp.path().join("again.reg");
    support::certmig()
        .arg("fix")
        .arg(&out)
        .arg("-o")
        .arg(&again)
        .assert()
        .success();
    assert_eq!(std::fs::read(&again).unwrap(), output);
}

#[test]
fn fix_changes_only_the_repaired_blob_values_of_a_regedit4_lf_export() {
    let s = store();
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out) = (tmp.path().join("PC0042.reg"), tmp.path().join("fixed.reg"));
    let input = regedit4(&s);
    std::fs::write(&inp, &input).unwrap();
    support::certmig()
        .args(["fix", "--policy", "strip"])
        .arg(&inp)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let output = std::fs::read(&out).unwrap();
    let (_, b) = assert_only_repaired_blobs_changed(&input, &output, &repaired(&s, Policy::Strip));
    // Single-byte text with LF line ends, inside the repaired values too.
    assert!(!output.contains(&b'\r'));
    assert!(!output.contains(&0));
    let first = String::from_utf8(output[b.blob_spans[0].clone()].to_vec()).unwrap();
    assert!(
        first.contains(",\\\n  ") && first.starts_with("\"Blob\"=hex:0b,"),
        "{first}"
    );
}

#[test]
fn fix_in_place_keeps_the_backup_and_the_layout() {
    let s = store();
    let tmp = tempfile::tempdir().unwrap();
    let inp = tmp.path().join("PC0042.reg");
    let input = regedit5(&s);
    std::fs::write(&inp, &input).unwrap();
    support::certmig().arg("fix").arg(&inp).assert().success();
    assert_eq!(
        std::fs::read(tmp.path().join("PC0042.reg.bak")).unwrap(),
        input
    );
    let output = std::fs::read(&inp).unwrap();
    assert_only_repaired_blobs_changed(&input, &output, &repaired(&s, Policy::Truncate));
}

#[test]
fn scan_and_fleet_inventory_read_real_exports() {
    let s = store();
    let tmp = tempfile::tempdir().unwrap();
    for (name, bytes) in [("R5.reg", regedit5(&s)), ("R4.reg", regedit4(&s))] {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let json = support::json_of(support::certmig().arg("scan").arg(&p).arg("--json"));
        let file = &json["files"][0];
        assert_eq!(file["errors"].as_array().unwrap().len(), 0);
        let thumbprints: Vec<&str> = file["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["thumbprint"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = s
            .certificates
            .iter()
            .map(|c| c.thumbprint.to_hex())
            .collect();
        assert_eq!(thumbprints, expected);
        let m = assess_file(
            &p,
            &InventoryOptions {
                target: Os::Win7Sp1,
                target_kb974571: false,
                source_kb974571: MachineSet::None,
                client_hotfix_977203: MachineSet::None,
                site_has_977384: false,
                site_version: Default::default(),
            },
        )
        .unwrap();
        assert_eq!(m.certificates, 3);
        assert!(m.notes.iter().any(|n| n.contains("CRLs")), "{:?}", m.notes);
    }
}

#[test]
fn gen_writes_the_crls_and_ctls_keys_windows_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    support::gen(&dir, &["--machines", "1", "--format", "reg"]);
    let bytes = std::fs::read(dir.join("PC0001.reg")).unwrap();
    let text = decode16(&bytes[2..]);
    let root = format!("{SYSTEM_CERTIFICATES}\\SMS");
    let keys: Vec<&str> = text.split("\r\n").filter(|l| l.starts_with('[')).collect();
    assert_eq!(keys[0], format!("[{root}]"));
    assert_eq!(keys[1], format!("[{root}\\Certificates]"));
    assert_eq!(keys[keys.len() - 2], format!("[{root}\\CRLs]"));
    assert_eq!(keys[keys.len() - 1], format!("[{root}\\CTLs]"));
    assert!(text.ends_with(&format!("[{root}\\CRLs]\r\n\r\n[{root}\\CTLs]\r\n\r\n")));
    let parsed = parse_reg(&bytes, ReadMode::Strict).unwrap();
    assert!(parsed.notes.is_empty(), "{:?}", parsed.notes);
    assert_eq!(parsed.store.certificates.len(), keys.len() - 4);
    assert_eq!(write_reg(&parsed.store, RegEncoding::Regedit5), bytes);
}

fn fix_opts(input: &Path, output: &Path) -> FixOptions {
    FixOptions {
        input: input.to_owned(),
        output: Some(output.to_owned()),
        policy: Policy::Truncate,
        dry_run: false,
        backup: false,
        log: None,
        log_clock: LogClock::seeded(1),
    }
}

/// Extra lines that can go after any key line of an export (never named
/// `Blob`: every name starts with `X`).
fn extra_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z ]{0,12}".prop_map(|c| format!("; {c}")),
        ("X[A-Za-z ]{0,10}", "[ -!#-\\[\\]-~]{0,20}").prop_map(|(n, v)| format!("\"{n}\"=\"{v}\"")),
        ("X[A-Za-z]{0,8}", any::<u32>()).prop_map(|(n, v)| format!("\"{n}\"=dword:{v:08x}")),
        (
            "X[A-Za-z]{0,8}",
            prop::sample::select(vec!["hex", "hex(2)", "hex(7)", "hex(0)", "hex(b)"]),
            prop::collection::vec(any::<u8>(), 0..40),
            1usize..30,
        )
            .prop_map(|(n, t, bytes, w)| format!(
                "\"{n}\"={t}:{}",
                hex_wrapped(&bytes, w, "  ", ",", "\r\n")
            )),
        "[a-zA-Z]{1,10}".prop_map(|v| format!("@=\"{v}\"")),
    ]
}

/// Another key with a value, to go before any key line of an export.
fn extra_key() -> impl Strategy<Value = String> {
    ("[A-Za-z]{1,10}", extra_value())
        .prop_map(|(k, v)| format!("[HKEY_LOCAL_MACHINE\\SOFTWARE\\{k}]\r\n{v}\r\n"))
}

proptest! {
    #![proptest_config(support::proptest_config(24))]

    /// `fix` over an export with random extra keys and values (inserted
    /// after random lines, and as other keys) leaves every byte outside the
    /// Blob values identical.
    #[test]
    fn fix_leaves_every_non_blob_byte_of_an_export_identical(
        values in prop::collection::vec((any::<prop::sample::Index>(), extra_value()), 0..10),
        keys in prop::collection::vec((any::<prop::sample::Index>(), extra_key()), 0..4),
        crlf in any::<bool>(),
        policy_strip in any::<bool>(),
    ) {
        let s = store();
        let base = real_export(&s, "Windows Registry Editor Version 5.00", "\r\n");
        let mut lines: Vec<String> = base.split("\r\n").map(str::to_owned).collect();
        // Values go right after a key line, other keys right before one, so
        // no value or continuation is split and no Blob changes key.
        for (at, extra) in values {
            let after_key: Vec<usize> = (1..lines.len())
                .filter(|&i| lines[i - 1].starts_with('[') && !lines[i - 1].starts_with("[-"))
                .collect();
            let i = after_key[at.index(after_key.len())];
            lines.insert(i, extra);
        }
        for (at, extra) in keys {
            let key_lines: Vec<usize> = (1..lines.len())
                .filter(|&i| lines[i].starts_with('['))
                .collect();
            let i = key_lines[at.index(key_lines.len())];
            lines.insert(i, extra);
        }
        let nl = if crlf { "\r\n" } else { "\n" };
        let text = lines.join("\r\n").replace("\r\n", nl);
        let input = utf16(&text);
        let tmp = tempfile::tempdir().unwrap();
        let (inp, out) = (tmp.path().join("in.reg"), tmp.path().join("out.reg"));
        std::fs::write(&inp, &input).unwrap();
        let policy = if policy_strip { Policy::Strip } else { Policy::Truncate };
        let report = fix::run(&FixOptions { policy, ..fix_opts(&inp, &out) }, &mut ()).unwrap();
        prop_assert_eq!(report.certificates_changed, 2);
        let output = std::fs::read(&out).unwrap();
        assert_only_repaired_blobs_changed(&input, &output, &repaired(&s, policy));
    }
}

/// A rewrite of a file's bytes.
type Rewrite = fn(&[u8]) -> Vec<u8>;

/// Rewrites each output before the pipeline's own check of it.
struct Tamper(Rewrite);

impl fix::FixHooks for Tamper {
    fn output(&self, _: &fix::FixReport, temp: &Path) -> std::io::Result<()> {
        let bytes = std::fs::read(temp)?;
        std::fs::write(temp, (self.0)(&bytes))
    }
}

#[test]
fn fix_refuses_to_commit_an_output_that_changed_anything_but_the_repaired_blobs() {
    let s = store();
    let tampers: [(&str, Rewrite); 2] = [
        // A comment appended: outside every Blob value.
        ("outside", |b| [b, &utf16("; touched\r\n")[2..]].concat()),
        // The clean certificate's Blob rewrapped: its element is the same,
        // its bytes are not.
        ("unchanged Blob", |b| {
            let p = parse_reg(b, ReadMode::Strict).unwrap();
            let span = p.blob_spans[1].clone();
            let text = decode16(&b[span.clone()]);
            let mid = text.find(',').unwrap() + 1;
            let rewrapped = format!("{}\\\r\n  {}", &text[..mid], &text[mid..]);
            [&b[..span.start], &utf16(&rewrapped)[2..], &b[span.end..]].concat()
        }),
    ];
    for (what, tamper) in tampers {
        let tmp = tempfile::tempdir().unwrap();
        let (inp, out) = (tmp.path().join("in.reg"), tmp.path().join("out.reg"));
        let input = regedit5(&s);
        std::fs::write(&inp, &input).unwrap();
        let err = fix::run_hooked(
            &fix_opts(&inp, &out),
            &certmig::fix::write::RealSteps,
            &Tamper(tamper),
            &mut (),
        )
        .unwrap_err();
        assert!(
            matches!(err, fix::FixError::Invariant { .. }),
            "{what}: {err}"
        );
        assert!(!out.exists(), "{what}: nothing is written");
        assert_eq!(std::fs::read(&inp).unwrap(), input);
    }
}

#[test]
fn crl_and_ctl_blobs_keep_their_located_errors() {
    let root = format!("{SYSTEM_CERTIFICATES}\\SMS");
    let file = |key: &str, value: &str| {
        utf16(&format!(
            "Windows Registry Editor Version 5.00\r\n\r\n[{root}\\{key}]\r\n{value}\r\n\r\n"
        ))
    };
    let thumb = "AB".repeat(20);
    use certmig::format::{FormatError::Reg, RegError};
    let reg_error = |key: &str, value: &str| match parse_reg(&file(key, value), ReadMode::Strict) {
        Err(Reg(e)) => e,
        other => panic!("{key}: expected a .reg error, got {other:?}"),
    };
    let e = reg_error("CRLs\\NotAThumbprint", "\"Blob\"=hex:01,02");
    assert!(
        matches!(e, RegError::NotAThumbprintKey { line: 4, .. }),
        "{e:?}"
    );
    let e = reg_error(&format!("CTLs\\{thumb}"), "\"Blob\"=hex:01,2,03");
    assert!(
        matches!(
            e,
            RegError::OddHexDigits {
                line: 4,
                column: 15,
                ..
            }
        ),
        "{e:?}"
    );
    let e = reg_error(&format!("CRLs\\{thumb}"), "\"Blob\"=hex:01,\\");
    assert!(
        matches!(e, RegError::DanglingContinuation { line: 4 }),
        "{e:?}"
    );
    // Text that is not a registry export at all.
    let err = parse_reg(b"just some text\r\n", ReadMode::Strict).unwrap_err();
    assert!(err.to_string().contains("header"), "{err}");
    // A well-formed CRL Blob is not a certificate.
    let ok = parse_reg(
        &file(&format!("CRLs\\{thumb}"), "\"Blob\"=hex:01,02"),
        ReadMode::Strict,
    )
    .unwrap();
    assert!(ok.store.certificates.is_empty());
    assert_eq!(ok.notes.len(), 1);
}
