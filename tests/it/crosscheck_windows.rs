//! `certmig crosscheck` against the platform's own crypt32: a generated
//! corpus (every friendly-name shape, every format) must agree certificate by
//! certificate. Runs on Windows, and under Wine:
//!
//! ```sh
//! harness/testkit/wine/install-bcryptprimitives.sh     # Wine 8 and older only
//! CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine \
//!   cargo test --target x86_64-pc-windows-gnu --test it crosscheck_windows::
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::support;

fn gen(out: &Path, defect: &str, profile: &str) {
    support::windows_certmig()
        .args([
            "gen",
            "--machines",
            "2",
            "--seed",
            "3",
            "--format",
            "sst,reg,blob",
        ])
        .args(["--defect", defect, "--profile", profile, "--out"])
        .arg(out)
        .assert()
        .success();
}

fn crosscheck(path: &Path) -> (Option<i32>, Value) {
    let out = support::windows_certmig()
        .arg("crosscheck")
        .arg(path)
        .arg("--json")
        .output()
        .expect("runs");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), json)
}

#[test]
fn every_certificate_of_a_generated_corpus_agrees_with_crypt32() {
    let dir = tempfile::tempdir().expect("temp dir");
    for defect in support::DEFECTS {
        gen(&dir.path().join(defect), defect, "sccm2007");
    }
    gen(&dir.path().join("ecdsa"), "mixed", "modern-ecdsa");
    let (code, r) = crosscheck(dir.path());

    let rows = r["rows"].as_array().expect("rows");
    let n = r["certificates"].as_u64().expect("count");
    assert_eq!(n as usize, rows.len());
    // 6 directories x 2 machines x 2 certificates, each in a .sst, a .reg and a .blob.
    assert_eq!(n, 6 * 2 * 2 * 3);
    let disagree: Vec<&Value> = rows.iter().filter(|row| row["agree"] != true).collect();
    assert!(disagree.is_empty(), "{disagree:#?}");
    assert_eq!(r["agree"], r["certificates"]);
    assert_eq!(code, Some(0));

    // Every format and every friendly-name shape went through crypt32.
    let formats: BTreeSet<&str> = r["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["format"].as_str().expect("format"))
        .collect();
    assert_eq!(formats, BTreeSet::from(["blob", "reg", "sst"]));
    let names: BTreeSet<&str> = rows
        .iter()
        .map(|row| row["certmig"]["friendly_name"].as_str().unwrap_or("-"))
        .collect();
    let has = |what: &str, f: &dyn Fn(&str) -> bool| {
        assert!(names.iter().any(|n| f(n)), "no {what} name in {names:?}");
    };
    has("clean", &|n| {
        n.ends_with("Certificate\\0") && !n.ends_with("\\0\\0")
    });
    has("doubled-terminator", &|n| n.ends_with("Certificate\\0\\0"));
    has("embedded-nul", &|n| n.starts_with("SMS\\0"));
    has("only-nuls", &|n| n == "\\0\\0");

    let platform = &r["platform"];
    match platform["kind"].as_str() {
        // Wine enforces no MS09-056 rule: everything imports, with its name
        // byte for byte.
        Some("wine") => {
            assert_eq!(platform["rules"], "legacy");
            assert!(rows.iter().all(|row| row["cryptoapi"]["verdict"] == "ok"));
            for row in rows {
                assert_eq!(
                    row["certmig"]["friendly_name_hex"],
                    row["cryptoapi"]["friendly_name_hex"]
                );
                assert_eq!(
                    row["certmig"]["key_provider"],
                    row["cryptoapi"]["key_provider"]
                );
            }
        }
        // Windows with 974571: the defective names are refused with 0x80092024.
        Some("windows") => {
            assert_eq!(platform["rules"], "ms09-056");
            assert!(rows
                .iter()
                .any(|row| row["cryptoapi"]["verdict"] == "0x80092024"));
        }
        other => panic!("unknown platform {other:?}"),
    }

    // The private registry keys are gone.
    let gone = std::process::Command::new("reg")
        .args(["query", r"HKCU\Software\certmig"])
        .output()
        .expect("reg.exe runs");
    assert!(
        !gone.status.success(),
        "HKCU\\Software\\certmig is left behind"
    );
}

#[test]
fn a_reg_with_lower_case_key_names_is_accounted_for_per_platform() {
    let dir = tempfile::tempdir().expect("temp dir");
    gen(dir.path(), "clean", "sccm2007");
    let reg = dir.path().join("PC0001.reg");
    let bytes = std::fs::read(&reg).expect("the export");
    // REGEDIT5 is UTF-16LE: lower the hex digits of each certificate key line.
    let units: Vec<u16> = bytes[2..]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let text = String::from_utf16(&units).expect("UTF-16");
    let lowered: String = text
        .lines()
        .map(|l| {
            if l.starts_with('[') && l.contains(r"\Certificates\") {
                let cut = l.rfind('\\').expect("a key line") + 1;
                format!("{}{}\r\n", &l[..cut], l[cut..].to_lowercase())
            } else {
                format!("{l}\r\n")
            }
        })
        .collect();
    let mut out = vec![0xff, 0xfe];
    out.extend(lowered.encode_utf16().flat_map(u16::to_le_bytes));
    let lower = dir.path().join("lower");
    std::fs::create_dir(&lower).expect("dir");
    std::fs::write(lower.join("PC0001.reg"), out).expect("write");

    let (code, r) = crosscheck(&lower);
    let rows = r["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    if r["platform"]["kind"] == "wine" {
        for row in rows {
            assert_eq!(row["cryptoapi"]["verdict"], "absent");
            assert_eq!(row["differences"][0]["known"], "wine-registry-key-case");
            assert_eq!(row["agree"], true);
        }
        assert_eq!(code, Some(0));
    }
}

#[test]
fn a_malformed_store_is_bad_input_named_with_its_byte_offset() {
    let dir = tempfile::tempdir().expect("temp dir");
    gen(dir.path(), "doubled-terminator", "sccm2007");
    let sst = dir.path().join("PC0001.sst");
    let mut bytes = std::fs::read(&sst).expect("the store");
    bytes.truncate(bytes.len() - 40);
    let cut = dir.path().join("cut.sst");
    std::fs::write(&cut, bytes).expect("write");
    let out = support::windows_certmig()
        .arg("crosscheck")
        .arg(&cut)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cut.sst: byte offset "), "{err}");
}
