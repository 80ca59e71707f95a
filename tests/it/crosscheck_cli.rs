//! `certmig crosscheck` off Windows: it cannot run (there is no crypt32),
//! and says how to run it instead, with the bad-input exit code.

use crate::support;

#[test]
fn crosscheck_off_windows_exits_2_saying_it_needs_windows_or_wine() {
    let dir = tempfile::tempdir().expect("temp dir");
    support::gen(dir.path(), &["--machines", "1", "--format", "sst"]);
    let out = support::certmig()
        .arg("crosscheck")
        .arg(dir.path())
        .arg("--json")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no report without crypt32");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("certmig: crosscheck needs Windows"),
        "{err}"
    );
    assert!(
        err.contains("x86_64-pc-windows-gnu") && err.contains("wine"),
        "{err}"
    );
}

#[test]
fn crosscheck_is_listed_in_the_help() {
    let out = support::certmig().arg("--help").output().expect("runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("crosscheck"));
}
