//! `certmig scan` streams its report: the output must be byte for byte what
//! printing the whole buffered [`scan::ScanReport`] gives (JSON through
//! `serde_json::to_string_pretty`, the human listing through
//! `report::scan::{file, file_errors, summary}`), on generated stores of every
//! format and on malformed files; and the one-walk certificate report and the
//! cached signature check must equal their reference versions.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use certmig::cert::{self, adversarial, Profile};
use certmig::format::{self, ReadMode, SerializedStore};
use certmig::report;
use certmig::scan::{self, ScanOptions};

fn certmig() -> Command {
    Command::cargo_bin("certmig").unwrap()
}

fn gen(dir: &Path, args: &[&str]) {
    let st = certmig()
        .arg("gen")
        .args(args)
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

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
    let o = certmig()
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
    gen(&d.join("signed"), &["--machines", "2", "--defect", "mixed"]);
    gen(
        &d.join("ecdsa"),
        &["--profile", "modern-ecdsa", "--format", "sst,reg"],
    );
    // More than one batch and more than one chunk per batch.
    gen(
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
    gen(
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
                    scan::certificate_report_reference(&e, opts)
                );
            }
        }
    }
    assert!(valid >= 6, "the signed certificates verify");
}

/// A large store scanned within a fixed memory budget. Run with
/// `cargo test --release --test scan_stream -- --ignored`.
#[test]
#[ignore]
fn scanning_200k_certificates_stays_under_64_mb() {
    let tmp = tempfile::tempdir().unwrap();
    gen(
        tmp.path(),
        &["--bulk", "--format", "sst", "--certs-per-machine", "200000"],
    );
    let store = tmp.path().join("PC0001.sst");
    for flags in [&["--json"][..], &[][..]] {
        let bin = assert_cmd::cargo::cargo_bin("certmig");
        let o = Command::new("/usr/bin/time")
            .arg("-v")
            .arg(bin)
            .arg("scan")
            .arg(&store)
            .args(flags)
            .stdout(std::process::Stdio::null())
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
        assert!(kb <= 64 * 1024, "{flags:?}: peak RSS {kb} kB");
    }
}
