//! `certmig-mutant list` describes every mutant once, on an invariant V1-V10
//! (what `certmig validate --self-test` reads). Being an integration test of
//! this package, it also makes `cargo test` build the `certmig-mutant`
//! binary beside `certmig`, where the self-test looks for it.

use std::process::Command;

#[test]
fn every_mutant_is_listed_once_with_an_invariant() {
    let out = Command::new(env!("CARGO_BIN_EXE_certmig-mutant"))
        .arg("list")
        .output()
        .expect("run certmig-mutant list");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let mut names = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 3, "{line}");
        let v: u32 = fields[1]
            .strip_prefix('V')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not an invariant id: {line}"));
        assert!((1..=10).contains(&v), "{line}");
        names.push(fields[0].to_owned());
    }
    let count = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), count, "a mutant is listed twice");
    assert!(count >= 20, "only {count} mutants");
}
