//! `certmig validate` through the binary: the reference fixer passes on every
//! format and policy, the self-test kills every mutant on the invariant it was
//! written to break, a fix tool written in Python passes (the README's worked
//! example), the JUnit report is well-formed JUnit XML, bad commands exit 2.

use std::collections::BTreeMap;

use assert_cmd::Command;
use predicates::prelude::*;

use crate::support;

fn json(c: &mut Command, code: i32) -> serde_json::Value {
    let out = c.assert().code(code).get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn the_reference_fixer_passes_on_every_format_and_both_policies() {
    for format in ["sst", "reg", "blob-dir"] {
        for policy in ["truncate", "strip"] {
            let fixer = format!(
                "{} fix {{in}} -o {{out}} --policy {policy}",
                support::certmig_exe().display()
            );
            let r = json(
                support::certmig().args([
                    "validate", "--json", "--format", format, "--policy", policy, "--fixer", &fixer,
                ]),
                0,
            );
            let cases = r["cases"].as_array().unwrap();
            assert!(
                cases.len() >= 20,
                "{format}/{policy}: {} cases",
                cases.len()
            );
            let checked: std::collections::BTreeSet<&str> = cases
                .iter()
                .flat_map(|c| {
                    c["checked"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap())
                })
                .collect();
            assert_eq!(
                checked.len(),
                10,
                "{format}/{policy}: every invariant decided somewhere: {checked:?}"
            );
            for c in cases {
                assert_eq!(
                    c["violations"].as_array().unwrap().len(),
                    0,
                    "{format}/{policy}: {c}"
                );
            }
        }
    }
}

#[test]
fn a_tool_that_repairs_in_place_is_validated_through_its_input() {
    let fixer = format!(
        "{} fix {{in}} --no-backup",
        support::certmig_exe().display()
    );
    support::certmig()
        .args(["validate", "--no-matrix", "--fixer", &fixer])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("all invariants hold"));
}

#[test]
fn the_self_test_kills_every_mutant_on_the_invariant_it_breaks() {
    let r = json(
        support::certmig().args(["validate", "--self-test", "--json", "--timeout", "2"]),
        0,
    );
    assert!(r["reference"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["violations"].as_array().unwrap().is_empty()));
    let mutants = r["mutants"].as_array().unwrap();
    let mut pairs = BTreeMap::new();
    for m in mutants {
        let breaks = m["mutant"]["breaks"].as_str().unwrap();
        let failed: Vec<&str> = m["failed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(m["killed"], true, "{m}");
        assert!(
            failed.contains(&breaks),
            "{} breaks {breaks} but failed {failed:?}",
            m["mutant"]["name"]
        );
        pairs.insert(
            m["mutant"]["name"].as_str().unwrap().to_owned(),
            breaks.to_owned(),
        );
    }
    // The broken fixers the issue names, each on its invariant.
    for (name, inv) in [
        ("drops-terminator", "V4"),
        ("truncates-one-early", "V4"),
        ("deletes-friendly-name", "V3"),
        ("reorders-properties", "V3"),
        ("re-encodes-certificate", "V2"),
        ("drops-key-provider-link", "V3"),
        ("repairs-only-first", "V1"),
        ("regedit5-as-utf8", "V7"),
        ("omits-end-marker", "V7"),
        ("renames-clean-certificates", "V5"),
        ("appends-every-run", "V6"),
        ("overwrites-input-on-malformed", "V8"),
        ("exits-0-after-failing", "V10"),
        ("hangs", "V10"),
    ] {
        assert_eq!(pairs.get(name).map(String::as_str), Some(inv), "{name}");
    }
    assert!(pairs.len() >= 12);
    // The human report ends with the count.
    support::certmig()
        .args(["validate", "--self-test", "--timeout", "2"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(format!(
            "mutants killed: {0}/{0}",
            pairs.len()
        )));
}

/// Not on Windows: CI runs the Windows tests under Wine, which has no
/// `python3` (the external-tool path is covered there by the mutants and
/// `tests/it/containment.rs`).
#[cfg(not(windows))]
fn python_fixer() -> String {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fixers/fix_sst.py");
    format!("python3 {} {{in}} {{out}}", script.display())
}

#[cfg(not(windows))]
#[test]
fn the_readme_python_fixer_passes_and_a_broken_promise_is_caught() {
    support::certmig()
        .args(["validate", "--format", "sst", "--fixer", &python_fixer()])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("all invariants hold"));
    // It truncates; promising strip must fail on V4 with evidence.
    support::certmig()
        .args([
            "validate",
            "--format",
            "sst",
            "--policy",
            "strip",
            "--no-matrix",
            "--fixer",
            &python_fixer(),
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("V4 FAILED"))
        .stdout(predicate::str::contains("should be"));
}

/// A fixer that breaks V4 alone (its repaired names are one code unit
/// short), from `certmig-mutant`: a program on every platform.
fn v4_breaker() -> String {
    let mutant = certmig::validate::selftest::mutants_exe(&support::certmig_exe());
    format!(
        "{} truncates-one-early --policy strip {{in}} {{out}}",
        certmig::platform::quote_path(&mutant)
    )
}

#[test]
fn the_junit_report_is_well_formed_junit_xml_with_one_testcase_per_case_and_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let xml_path = dir.path().join("report.xml");
    let r = json(
        support::certmig()
            .args([
                "validate",
                "--json",
                "--format",
                "sst",
                "--policy",
                "strip",
                "--no-matrix",
                "--fixer",
                &v4_breaker(),
                "--junit",
            ])
            .arg(&xml_path),
        1,
    );
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let support::JUnit {
        testcases,
        failures,
        failing,
        skipped,
    } = support::junit_structure(&xml);
    let cases = r["cases"].as_array().unwrap();
    let checked: usize = cases
        .iter()
        .map(|c| c["checked"].as_array().unwrap().len())
        .sum();
    // A stable count: every invariant and the hazards, per case; what a
    // case does not decide is skipped, not left out.
    assert_eq!(testcases, cases.len() * 11);
    assert_eq!(skipped, cases.len() * 10 - checked);
    let failed_pairs: std::collections::BTreeSet<String> = cases
        .iter()
        .flat_map(|c| {
            c["violations"].as_array().unwrap().iter().map(move |v| {
                format!(
                    "{} {}",
                    c["name"].as_str().unwrap(),
                    v["invariant"].as_str().unwrap()
                )
            })
        })
        .collect();
    assert!(failures > 0);
    assert_eq!(failures, failed_pairs.len());
    assert!(failing.iter().all(|n| n.ends_with(" V4")), "{failing:?}");
}

#[test]
fn bad_fixer_commands_are_bad_input() {
    let mut bad = vec![("certmig fix", "must contain {in}"), ("", "empty")];
    // Shell words have unbalanced quotes; Windows' command-line rules
    // (CommandLineToArgvW) have no such error.
    if cfg!(unix) {
        bad.push(("fix 'unbalanced {in}", "unbalanced quotes"));
    }
    for (cmd, says) in bad {
        support::certmig()
            .args(["validate", "--fixer", cmd])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
    // A program that cannot be found is bad input too, said at once,
    // before any case runs.
    let missing = if cfg!(windows) {
        r"C:\nonexistent\fixer.exe"
    } else {
        "/nonexistent/fixer"
    };
    for program in [missing, "certmig-no-such-fixer-program"] {
        support::certmig()
            .args([
                "validate",
                "--no-matrix",
                "--fixer",
                &format!("{program} {{in}} {{out}}"),
            ])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(format!(
                "the fixer's program `{program}` was not found"
            )));
    }
    // Numbers out of range are refused, not wrapped or allocated.
    for (flag, value) in [
        ("--max-output", "17592186044416"),
        ("--max-output", "0"),
        ("--cases", "1000000"),
        ("--cases", "0"),
        ("--timeout", "0"),
        ("--max-memory", "1"),
    ] {
        support::certmig()
            .args([
                "validate",
                flag,
                value,
                "--fixer",
                &format!("{} fix {{in}} -o {{out}}", support::certmig_exe().display()),
            ])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(flag));
    }
}

/// `validate --junit` is never written over the fix tool under test or a
/// file its command line names (`sh fix.sh ...` with `--junit fix.sh`):
/// bad input, exit 2, before any case runs.
#[cfg(unix)]
#[test]
fn the_junit_report_never_lands_on_the_tool() {
    let tmp = tempfile::tempdir().unwrap();
    let tool = tmp.path().join("fix.sh");
    std::fs::write(&tool, "cp \"$1\" \"$2\"\n").unwrap();
    let fixer = format!("sh {} {{in}} {{out}}", tool.display());
    support::certmig()
        .args(["validate", "--cases", "1", "--fixer", &fixer, "--junit"])
        .arg(&tool)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("an input of this run"));
    assert_eq!(
        std::fs::read_to_string(&tool).unwrap(),
        "cp \"$1\" \"$2\"\n"
    );
}
