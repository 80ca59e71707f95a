//! `certmig gen` then `certmig scan`, through the real binary.

use std::collections::BTreeMap;
use std::path::Path;

use openssl::hash::MessageDigest;
use openssl::x509::X509;
use serde_json::Value;

use crate::support;

fn gen(dir: &Path, seed: u64) {
    support::gen(dir, &["--machines", "3", "--seed", &seed.to_string()]);
}

fn scan_json(path: &Path) -> Value {
    support::json_of(
        support::certmig()
            .arg("scan")
            .arg(path)
            .arg("--json")
            .arg("--verify-signatures"),
    )
}

#[test]
fn three_machines_give_six_doubled_terminator_certificates_per_format() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("D");
    gen(&dir, 1);
    let report = scan_json(&dir);
    let mut per_format: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for f in report["files"].as_array().unwrap() {
        assert_eq!(f["errors"].as_array().unwrap().len(), 0);
        for c in f["certificates"].as_array().unwrap() {
            per_format
                .entry(f["format"].as_str().unwrap().to_owned())
                .or_default()
                .push(c.clone());
        }
    }
    assert_eq!(
        per_format.keys().collect::<Vec<_>>(),
        ["blob", "reg", "sst"]
    );
    for (format, certs) in &per_format {
        assert_eq!(certs.len(), 6, "{format}");
        for c in certs {
            assert_eq!(c["friendly_name_shape"], "doubled-terminator");
            assert_eq!(c["signature_valid"], true);
            assert!(c["friendly_name"]
                .as_str()
                .unwrap()
                .ends_with("Certificate\\0\\0"));
        }
    }
    // Thumbprints agree with openssl's own SHA-1 of each certificate in the .sst files.
    let mut from_openssl = Vec::new();
    for m in ["PC0001", "PC0002", "PC0003"] {
        let bytes = std::fs::read(dir.join(format!("{m}.sst"))).unwrap();
        for e in certmig::format::StoreIter::new(&bytes, certmig::format::ReadMode::Strict).unwrap()
        {
            let der = e.unwrap().1.der.into_owned();
            from_openssl.push(hex::encode_upper(
                X509::from_der(&der)
                    .unwrap()
                    .digest(MessageDigest::sha1())
                    .unwrap(),
            ));
        }
    }
    from_openssl.sort();
    for certs in per_format.values() {
        let mut t: Vec<String> = certs
            .iter()
            .map(|c| c["thumbprint"].as_str().unwrap().to_owned())
            .collect();
        t.sort();
        assert_eq!(t, from_openssl);
    }
}

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walk(dir) {
        out.insert(
            e.strip_prefix(dir).unwrap().display().to_string(),
            std::fs::read(&e).unwrap(),
        );
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

#[test]
fn same_seed_twice_gives_identical_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    gen(&tmp.path().join("a"), 5);
    gen(&tmp.path().join("b"), 5);
    gen(&tmp.path().join("c"), 6);
    let (a, b, c) = (
        tree(&tmp.path().join("a")),
        tree(&tmp.path().join("b")),
        tree(&tmp.path().join("c")),
    );
    assert_eq!(a.len(), 12);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn gen_refuses_to_overwrite_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("D");
    gen(&dir, 1);
    std::fs::write(dir.join("PC0001.sst"), b"user data").unwrap();
    support::certmig()
        .args(["gen", "--machines", "3", "--seed", "2", "--out"])
        .arg(&dir)
        .assert()
        .failure();
    assert_eq!(std::fs::read(dir.join("PC0001.sst")).unwrap(), b"user data");
    support::gen(&dir, &["--machines", "3", "--seed", "2", "--force"]);
    assert_ne!(std::fs::read(dir.join("PC0001.sst")).unwrap(), b"user data");
}

#[test]
fn scan_reports_every_bad_file_exits_2_and_still_scans_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("D");
    gen(&dir, 1);
    let sst = std::fs::read(dir.join("PC0001.sst")).unwrap();
    std::fs::write(dir.join("cut.sst"), &sst[..sst.len() / 2]).unwrap();
    std::fs::write(
        dir.join("p7.sst"),
        [
            0x30, 0x82, 0, 0x10, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
        ],
    )
    .unwrap();
    let out = support::certmig()
        .arg("scan")
        .arg(&dir)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = v["files"].as_array().unwrap();
    let by_name = |n: &str| {
        files
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(n))
            .unwrap()
            .clone()
    };
    let cut = by_name("cut.sst");
    let err = &cut["errors"][0];
    assert!(err["offset"].as_u64().unwrap() <= sst.len() as u64 / 2);
    assert!(!err["message"].as_str().unwrap().is_empty());
    assert!(by_name("p7.sst")["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("PKCS#7"));
    assert_eq!(
        by_name("PC0002.sst")["certificates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Human output names the file and the offset on stderr.
    let out = support::certmig()
        .arg("scan")
        .arg(dir.join("cut.sst"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cut.sst: error at offset"), "{stderr}");
}

#[test]
fn bulk_scan_reports_invalid_signatures() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("B");
    support::gen(
        &dir,
        &[
            "--machines",
            "1",
            "--certs-per-machine",
            "10",
            "--bulk",
            "--format",
            "sst",
        ],
    );
    let v = scan_json(&dir);
    let certs = v["files"][0]["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 10);
    assert!(certs.iter().all(|c| c["signature_valid"] == false));
    // Without --verify-signatures nothing is checked, and the JSON says so.
    let out = support::certmig()
        .arg("scan")
        .arg(&dir)
        .arg("--json")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let certs = v["files"][0]["certificates"].as_array().unwrap();
    assert!(
        certs.iter().all(|c| c["signature_valid"].is_null()),
        "{certs:?}"
    );
}

/// `scan --system-store` reads a Windows machine's own store: elsewhere it
/// says so and exits 2 (its Windows test: tests/it/system_store_windows.rs).
#[cfg(not(windows))]
#[test]
fn scan_system_store_needs_windows() {
    let out = std::process::Command::new(support::certmig_exe())
        .args(["scan", "--system-store", "SMS"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs Windows"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
}

/// `scan`, `dump` and `fleet --inventory` over a directory that also holds a
/// FIFO, a link to `/dev/zero`, two links back to the directory and a
/// socket: each ends at once, small, names every such entry and reads none
/// of them; the stores beside them are read once each.
#[cfg(unix)]
#[test]
fn special_files_in_a_scanned_directory_are_named_and_never_read() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    gen(&d.join("gen"), 1);
    let fifo = d.join("fifo.sst");
    support::mkfifo(&fifo);
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.sst")).unwrap();
    std::os::unix::fs::symlink(".", d.join("a")).unwrap();
    std::os::unix::fs::symlink(".", d.join("b")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(d.join("sock.sst")).unwrap();
    let out = support::certmig()
        .arg("scan")
        .arg(d)
        .arg("--json")
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "the entries not read are errors"
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = r["files"].as_array().unwrap();
    let error_of = |name: &str| -> String {
        files
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} not listed: {r}"))["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(error_of("fifo.sst").contains("a FIFO"));
    assert!(error_of("zero.sst").contains("a symbolic link"));
    assert!(error_of("/a").contains("not followed"));
    assert!(error_of("/b").contains("not followed"));
    assert!(error_of("sock.sst").contains("a socket"));
    // The generated stores, each once (no loop through a or b).
    let stores = files
        .iter()
        .filter(|f| f["errors"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(stores, walk(&d.join("gen")).len(), "{r}");
    for special in ["fifo.sst", "zero.sst"] {
        support::certmig()
            .args(["dump".as_ref(), d.join(special).as_os_str()])
            .timeout(std::time::Duration::from_secs(20))
            .assert()
            .failure()
            .stderr(predicates::str::contains("not a regular file"));
    }
    support::certmig()
        .args(["fleet", "--target", "win7-sp1", "--inventory"])
        .arg(d)
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .success()
        .stdout(predicates::str::contains("fifo.sst"))
        .stdout(predicates::str::contains("zero.sst"));
}

/// `gen` never writes through a link planted where a machine's blob
/// directory goes: it fails naming the directory, and the place the link
/// points to stays empty.
#[cfg(unix)]
#[test]
fn gen_never_writes_through_a_planted_link() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let victim = tmp.path().join("victim");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&victim).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("PC0001")).unwrap();
    support::certmig()
        .args([
            "gen",
            "--machines",
            "1",
            "--format",
            "blob",
            "--force",
            "--out",
        ])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("a symbolic link"));
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
}

/// `scan` shows what `certutil -dump` shows of a certificate's identity:
/// issuer, serial number and validity, in the listing and the JSON, read
/// from the DER (checked here against openssl's reading of the same file).
#[test]
fn scan_shows_issuer_serial_and_validity() {
    let dir = tempfile::tempdir().unwrap();
    support::gen(dir.path(), &["--machines", "1", "--format", "sst"]);
    let v = scan_json(dir.path());
    let c = &v["files"][0]["certificates"][0];
    let store = std::fs::read(dir.path().join("PC0001.sst")).unwrap();
    let s =
        certmig::format::SerializedStore::parse(&store, certmig::format::ReadMode::Strict).unwrap();
    let x = openssl::x509::X509::from_der(&s.elements[0].der).unwrap();
    assert_eq!(
        c["serial_number"],
        x.serial_number()
            .to_bn()
            .unwrap()
            .to_hex_str()
            .unwrap()
            .to_string()
    );
    // openssl prints "Mar  2 14:50:33 2010 GMT"; certmig "2010-03-02 14:50:33 UTC".
    let asn1 = |t: &openssl::asn1::Asn1TimeRef| t.to_string();
    let (from, to) = (asn1(x.not_before()), asn1(x.not_after()));
    let ours = c["not_before"].as_str().unwrap();
    assert!(
        from.ends_with(" GMT") && from.contains(&ours[11..19]),
        "{from} / {ours}"
    );
    assert!(from.contains(&ours[..4]), "{from} / {ours}");
    let ours_to = c["not_after"].as_str().unwrap();
    assert!(
        to.contains(&ours_to[..4]) && to.contains(&ours_to[11..19]),
        "{to} / {ours_to}"
    );
    assert_eq!(c["issuer"], c["subject"], "self-signed");
    let text = support::certmig()
        .arg("scan")
        .arg(dir.path())
        .output()
        .unwrap()
        .stdout;
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains(&format!(
        "    serial         {}",
        c["serial_number"].as_str().unwrap()
    )));
    assert!(text.contains(&format!("    valid          {ours} to {ours_to}")));
}

/// Formats are told by content, and a walk skips what is no store: the logs
/// `replay --logs` writes next to generated stores are noted, not read and
/// not errors (exit 0); a directory with no store says so (exit 2); a log
/// named on the command line is "not a certificate store" (exit 2).
#[test]
fn a_walk_skips_what_is_no_store_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    support::gen(dir.path(), &["-q", "--machines", "1", "--format", "sst"]);
    support::certmig()
        .args(["replay", "-q", "--logs"])
        .arg(dir.path().join("logs"))
        .arg("scenarios/c04-refresh-xp-to-win7sp1.toml")
        .assert()
        .success();
    let logs = dir.path().join("logs/c04-refresh-xp-to-win7sp1/PC0002");
    assert!(logs.join("smsts.log").is_file());
    let out = support::certmig()
        .arg("scan")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stdout.contains(
            "1 file(s), 2 certificate(s), 0 error(s), 4 skipped (not a certificate store)"
        ),
        "{stdout}"
    );
    assert!(
        stderr.contains("smsts.log: skipped: it is text"),
        "{stderr}"
    );
    let v = {
        let out = support::certmig()
            .arg("scan")
            .arg(dir.path())
            .arg("--json")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    assert_eq!(v["files"].as_array().unwrap().len(), 1);
    assert_eq!(v["skipped"].as_array().unwrap().len(), 4);
    // Only logs: nothing to scan, said so.
    support::certmig()
        .arg("scan")
        .arg(&logs)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no certificate store in"))
        .stderr(predicates::str::contains("4 file(s) skipped"));
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    support::certmig()
        .arg("scan")
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no certificate store in"));
    // Named by the user, a log is read, and said to be no store.
    support::certmig()
        .arg("scan")
        .arg(logs.join("smsts.log"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("it is text"));
}
