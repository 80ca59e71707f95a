//! `certmig scan --system-store` on Windows (run under Wine by CI): a
//! generated export is imported with the platform's own `reg.exe` into a
//! private CurrentUser store (`certmig-test-<pid>`, never the machine's
//! `SMS` store), and scanning that store through crypt32 must show what
//! scanning the export file shows, certificate for certificate. The key is
//! deleted afterwards, also when the test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support;

/// Deletes the private store's key when dropped.
struct PrivateStore {
    key: String,
}

impl Drop for PrivateStore {
    fn drop(&mut self) {
        let _ = Command::new("reg")
            .args(["delete", &self.key, "/f"])
            .output();
    }
}

fn scan(args: &[&str]) -> serde_json::Value {
    support::json_of(
        support::windows_certmig()
            .arg("scan")
            .args(args)
            .arg("--json"),
    )
}

/// (thumbprint, friendly-name bytes, key container, verdicts) per certificate.
fn certificates(v: &serde_json::Value) -> Vec<(String, String, String, String)> {
    let mut rows: Vec<_> = v["files"][0]["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["thumbprint"].as_str().unwrap().to_owned(),
                c["friendly_name_hex"].as_str().unwrap().to_owned(),
                c["key_container"].as_str().unwrap_or("").to_owned(),
                c["verdicts"].to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn gen(dir: &Path, defect: &str) -> PathBuf {
    support::windows_certmig()
        .args([
            "gen",
            "--machines",
            "1",
            "--format",
            "reg",
            "--defect",
            defect,
        ])
        .arg("--out")
        .arg(dir)
        .assert()
        .success();
    dir.join("PC0001.reg")
}

#[test]
fn a_system_store_reads_like_its_export() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("certmig-test-{}", std::process::id());
    let key = format!("HKEY_CURRENT_USER\\Software\\Microsoft\\SystemCertificates\\{name}");
    for defect in ["doubled-terminator", "embedded-nul", "only-nuls", "clean"] {
        let export = gen(&dir.path().join(defect), defect);
        // The same export, aimed at the private store: regedit's UTF-16LE
        // text with the root key replaced.
        let bytes = std::fs::read(&export).unwrap();
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let text = String::from_utf16(&units).unwrap().replace(
            "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\SystemCertificates\\SMS",
            &key,
        );
        let mut out = vec![0xFF, 0xFE];
        out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let private = dir.path().join(format!("{defect}-private.reg"));
        std::fs::write(&private, out).unwrap();

        let _store = PrivateStore { key: key.clone() };
        let imported = Command::new("reg")
            .arg("import")
            .arg(&private)
            .output()
            .unwrap();
        assert!(imported.status.success(), "reg import: {imported:?}");

        let from_file = certificates(&scan(&[export.to_str().unwrap()]));
        let from_store = certificates(&scan(&["--system-store", &name, "--current-user"]));
        assert_eq!(from_file.len(), 2, "{defect}");
        assert_eq!(from_store, from_file, "{defect}");
    }
}

#[test]
fn a_missing_system_store_is_a_clear_error() {
    let out = support::windows_certmig()
        .args([
            "scan",
            "--system-store",
            "certmig-no-such-store",
            "--current-user",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open the system store CurrentUser\\certmig-no-such-store"),
        "{stderr}"
    );
}
