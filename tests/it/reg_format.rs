//! `.reg` exports: regedit's exact layout and wrapping, the tolerated
//! variants, and round trips.

use certmig::format::reg::{parse_reg, write_reg, RegEncoding};
use certmig::format::registry::RegistryStore;
use certmig::format::{Defect, PropertyId, ReadMode};
use proptest::prelude::*;

use crate::support::{self, sccm_element};

fn utf16_text(bytes: &[u8]) -> String {
    assert_eq!(&bytes[..2], &[0xFF, 0xFE]);
    String::from_utf16(
        &bytes[2..]
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]))
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

fn store(n: u8) -> RegistryStore<'static> {
    RegistryStore::from_elements(
        "SMS",
        (0..n)
            .map(|i| sccm_element(i, Defect::DoubledTerminator))
            .collect(),
    )
}

#[test]
fn regedit5_layout_is_exact() {
    let s = store(2);
    let bytes = write_reg(&s, RegEncoding::Regedit5);
    assert_eq!(&bytes[..6], &[0xFF, 0xFE, b'W', 0, b'i', 0]);
    let text = utf16_text(&bytes);
    assert!(!text.replace("\r\n", "").contains('\n'), "CRLF only");
    assert!(!text.replace("\r\n", "").contains('\r'), "CRLF only");
    let lines: Vec<&str> = text.split("\r\n").collect();
    let root = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\SystemCertificates\SMS";
    assert_eq!(lines[0], "Windows Registry Editor Version 5.00");
    assert_eq!(lines[1], "");
    assert_eq!(lines[2], format!("[{root}]"));
    assert_eq!(lines[3], "");
    assert_eq!(lines[4], format!(r"[{root}\Certificates]"));
    assert_eq!(lines[5], "");
    assert_eq!(
        lines[6],
        format!(r"[{root}\Certificates\{}]", s.certificates[0].thumbprint)
    );
    assert!(lines[7].starts_with("\"Blob\"=hex:0b,00,00,00,01,00,00,00,"));
    // The file ends with the blank line after the last key.
    assert!(text.ends_with("\r\n\r\n"));
    assert!(!text.ends_with("\r\n\r\n\r\n"));
    // Wrapping: 22 bytes on the first line, 25 on each continuation line,
    // no line over 80 characters, two-space indent, the last byte without a comma.
    let blob_lines: Vec<&str> = lines[7..]
        .iter()
        .take_while(|l| !l.is_empty())
        .copied()
        .collect();
    let count = |l: &str| {
        l.trim_start_matches("\"Blob\"=hex:")
            .trim()
            .trim_end_matches('\\')
            .split(',')
            .filter(|t| !t.is_empty())
            .count()
    };
    assert_eq!(count(blob_lines[0]), 22);
    assert_eq!(blob_lines[0].len(), 78);
    for l in &blob_lines[1..blob_lines.len() - 1] {
        assert!(l.starts_with("  ") && !l.starts_with("   "));
        assert_eq!(count(l), 25);
        assert_eq!(l.len(), 78);
        assert!(l.ends_with(",\\"));
    }
    let last = blob_lines.last().unwrap();
    assert!(!last.ends_with(',') && !last.ends_with('\\'));
    let total: usize = blob_lines.iter().map(|l| count(l)).sum();
    assert_eq!(total, s.certificates[0].element.encoded_len());
    // Value lines are wrapped; key lines are not (regedit never wraps them).
    assert!(lines
        .iter()
        .filter(|l| !l.starts_with('['))
        .all(|l| l.len() <= 80));
}

#[test]
fn registry_provider_adds_the_sha1_property_and_sorts_keys() {
    let s = store(5);
    let mut sorted = s
        .certificates
        .iter()
        .map(|c| c.thumbprint.to_hex())
        .collect::<Vec<_>>();
    let keys = sorted.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    for c in &s.certificates {
        assert_eq!(c.element.property_ids(), [11, 2, 3]);
        assert_eq!(
            &c.element.property(PropertyId::Sha1Hash).unwrap().value[..],
            &c.thumbprint.0[..]
        );
    }
}

#[test]
fn regedit4_lf_only_hex3_comments_and_other_values_are_read() {
    let s = store(1);
    let c = &s.certificates[0];
    let hex: Vec<String> = c
        .element
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let text = format!(
        "REGEDIT4\n\n; exported by hand\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\SystemCertificates\\SMS\\Certificates\\{}]\n\"Blob\"=hex(3):{},\\\n    {}\n\"Other\"=dword:00000001\n\n[HKEY_CURRENT_USER\\Software\\Foo]\n\"x\"=\"y\"\n",
        c.thumbprint.to_hex().to_lowercase(),
        hex[..10].join(","),
        hex[10..].join(", ")
    );
    let parsed = parse_reg(text.as_bytes(), ReadMode::Strict).unwrap();
    assert_eq!(parsed.encoding, RegEncoding::Regedit4);
    assert_eq!(parsed.store.certificates, s.certificates);
    assert_eq!(parsed.blob_lines, vec![5]);
    let notes: Vec<usize> = parsed.notes.iter().map(|n| n.line).collect();
    assert_eq!(notes, vec![7, 9, 10]);
    // And our own REGEDIT4 writer reads back too.
    let r4 = write_reg(&s, RegEncoding::Regedit4);
    assert!(r4.starts_with(b"REGEDIT4\r\n\r\n["));
    assert_eq!(parse_reg(&r4, ReadMode::Strict).unwrap().store, s);
}

#[test]
fn errors_carry_line_and_column() {
    let s = store(1);
    let good = utf16_text(&write_reg(&s, RegEncoding::Regedit5));
    let bad = good.replacen("hex:0b,00", "hex:0b,0g", 1);
    let err = parse_reg(&to_utf16(&bad), ReadMode::Strict).unwrap_err();
    assert_eq!(err.to_string(), "line 8, column 16: `g` is not a hex digit");
    let bad = good.replacen("hex:0b,00", "hex:0b,000", 1);
    let err = parse_reg(&to_utf16(&bad), ReadMode::Strict).unwrap_err();
    assert!(
        matches!(
            err,
            certmig::format::FormatError::Reg(certmig::format::RegError::OddHexDigits {
                line: 8,
                column: 15,
                ..
            })
        ),
        "{err:?}"
    );
}

fn to_utf16(text: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    v.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    v
}

prop_compose! {
    fn arbitrary_store()(
        shapes in prop::collection::vec((0u8..=255, 0usize..4, 1usize..700), 0..6),
    ) -> RegistryStore<'static> {
        let elements = shapes
            .into_iter()
            .map(|(n, d, len)| {
                let mut e = sccm_element(n, Defect::ALL[d]);
                e.der = support::fake_der(n, len).into();
                e
            })
            .collect();
        RegistryStore::from_elements("SMS", elements)
    }
}

proptest! {
    #![proptest_config(support::proptest_config(64))]

    #[test]
    fn reg_round_trips_both_ways(s in arbitrary_store()) {
        for enc in [RegEncoding::Regedit5, RegEncoding::Regedit4] {
            let bytes = write_reg(&s, enc);
            let parsed = parse_reg(&bytes, ReadMode::Strict).unwrap();
            prop_assert_eq!(&parsed.store, &s);
            prop_assert_eq!(write_reg(&parsed.store, enc), bytes);
        }
    }

    #[test]
    fn arbitrary_reg_text_never_panics(body in "[\\[\\]\"=@;:,\\\\ a-f0-9\r\nBlobhex()]{0,400}") {
        for header in ["Windows Registry Editor Version 5.00\r\n", "REGEDIT4\n"] {
            let text = format!("{header}{body}");
            let bytes = if header.starts_with('W') { to_utf16(&text) } else { text.into_bytes() };
            if let Err(e) = parse_reg(&bytes, ReadMode::Strict) {
                if let certmig::format::Location::Line(l) = e.location() {
                    prop_assert!(l >= 1 && l <= bytes.len() + 1);
                }
            }
        }
    }
}

/// Odd encodings and value types are read or refused with an error that
/// names the line, never skipped in silence: CR-only line ends, UTF-16
/// without a byte-order mark (either order), UTF-16 big-endian with one,
/// and a certificate's `Blob` that is a string or a dword are refused by
/// `scan` and by `fix` (exit 2, nothing written); a `Blob` of type
/// `hex(7)` (or any `hex(N)`) is read as its bytes, as crypt32's registry
/// store reads a `Blob` whatever its type, with a note.
#[test]
fn odd_encodings_and_value_types_are_read_or_refused_never_skipped() {
    let s = store(2);
    let good = utf16_text(&write_reg(&s, RegEncoding::Regedit5));
    let le = |t: &str| -> Vec<u8> { t.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let be = |t: &str| -> Vec<u8> { t.encode_utf16().flat_map(u16::to_be_bytes).collect() };
    let refused: Vec<(&str, Vec<u8>, &str)> = vec![
        ("cr-only", to_utf16(&good.replace("\r\n", "\r")), "lone CR"),
        ("utf16le-no-bom", le(&good), "without a byte-order mark"),
        ("utf16be-no-bom", be(&good), "big-endian"),
        (
            "utf16be",
            [&[0xFE, 0xFF][..], &be(&good)].concat(),
            "big-endian",
        ),
        (
            "string-blob",
            to_utf16(&good.replacen("\"Blob\"=hex:", "\"Blob\"=\"x\"\r\n\"Other\"=hex:", 1)),
            "is not binary data",
        ),
        (
            "dword-blob",
            to_utf16(&good.replacen(
                "\"Blob\"=hex:",
                "\"Blob\"=dword:00000001\r\n\"Other\"=hex:",
                1,
            )),
            "is not binary data",
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (name, bytes, says) in &refused {
        let path = tmp.path().join(format!("{name}.reg"));
        std::fs::write(&path, bytes).unwrap();
        for args in [&["scan"][..], &["fix"][..]] {
            support::certmig()
                .args(args)
                .arg(&path)
                .assert()
                .code(2)
                .stderr(predicates::str::contains(*says))
                .stderr(predicates::str::contains("line"));
        }
        assert_eq!(&std::fs::read(&path).unwrap(), bytes, "{name}");
        assert!(!tmp.path().join(format!("{name}.reg.bak")).exists());
    }
    // The inventory does not call a CR-only export's machine ready.
    let inventory = tmp.path().join("inventory");
    std::fs::create_dir(&inventory).unwrap();
    std::fs::write(inventory.join("PC0001.reg"), &refused[0].1).unwrap();
    support::certmig()
        .args(["fleet", "--target", "win7-sp1", "--inventory"])
        .arg(&inventory)
        .assert()
        .code(2)
        .stdout(predicates::str::contains("lone CR"));
    // A hex(7) Blob: both certificates are read, with a note.
    let typed = good.replacen("\"Blob\"=hex:", "\"Blob\"=hex(7):", 1);
    let parsed = parse_reg(&to_utf16(&typed), ReadMode::Strict).unwrap();
    assert_eq!(parsed.store.certificates.len(), 2);
    assert!(
        parsed
            .notes
            .iter()
            .any(|n| n.message.contains("hex(7), not REG_BINARY")),
        "{:?}",
        parsed.notes
    );
    let path = tmp.path().join("typed.reg");
    std::fs::write(&path, to_utf16(&typed)).unwrap();
    support::certmig()
        .args(["scan", "--json"])
        .arg(&path)
        .assert()
        .code(0)
        .stdout(predicates::str::contains("\"thumbprint\"").count(2));
}
