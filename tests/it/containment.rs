//! `certmig validate`'s containment of a fix tool, on every platform: the
//! hostile tool is `certmig-hostile` (harness/testkit), a Rust program, so
//! the same tests run on Unix (process groups) and on Windows (a Job Object;
//! under Wine in CI). The Unix-only tests with shell scripts are in
//! `tests/it/hostile_tools.rs`.
//!
//! A process left running is detected without any platform tool: the
//! hostile tool's child appends to a file every 20 ms, so it is alive while
//! the file grows.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support;
use crate::support::validate_report::{
    assert_evidence, assert_flood_cut, assert_hazard, evidence, hazards, left_running,
    outside_writes, writes_contained,
};

fn hostile() -> PathBuf {
    support::certmig_exe()
        .with_file_name(format!("certmig-hostile{}", std::env::consts::EXE_SUFFIX))
}

struct Caller {
    dir: tempfile::TempDir,
}

impl Caller {
    fn new() -> Caller {
        Caller {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `certmig validate --json` with `certmig-hostile MODE {in} {out} [ARG]`
    /// as the fixer; the exit code and the report.
    fn validate(&self, mode: &str, arg: Option<&Path>) -> (i32, serde_json::Value) {
        let quote = |p: &Path| format!("\"{}\"", p.display());
        let mut fixer = format!("{} {mode} {{in}} {{out}}", quote(&hostile()));
        if let Some(a) = arg {
            fixer.push(' ');
            fixer.push_str(&quote(a));
        }
        let out = Command::new(support::certmig_exe())
            .current_dir(self.dir.path())
            .args([
                "validate",
                "--json",
                "--no-matrix",
                "--cases",
                "1",
                "--timeout",
                "2",
                "--fixer",
                &fixer,
            ])
            .output()
            .unwrap();
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap(), report)
    }
}

/// True when the ticker writing `file` is still running (the file grows).
fn still_ticking(file: &Path) -> bool {
    let len = || std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let before = len();
    std::thread::sleep(Duration::from_millis(400));
    len() > before
}

#[test]
fn a_tool_that_only_copies_is_not_hostile() {
    let c = Caller::new();
    let (code, r) = c.validate("copy", None);
    // A copy repairs nothing: the corpus' defective certificates stay
    // defective (V1 and others), but nothing about the run is hostile.
    assert!(evidence(&r, "V10").is_empty(), "{r}");
    assert!(hazards(&r).is_empty(), "{r}");
    assert!(outside_writes(&r).is_empty(), "{r}");
    assert_eq!(code, 1, "a copy is not a fix");
}

#[test]
fn endless_output_is_cut_and_the_tool_killed() {
    let c = Caller::new();
    let (code, r) = c.validate("flood", None);
    assert_eq!(code, 1);
    assert_flood_cut(&r);
}

#[test]
fn a_hang_is_timed_out_and_a_crash_is_reported_as_one() {
    let c = Caller::new();
    let (code, r) = c.validate("hang", None);
    assert_eq!(code, 1);
    assert_evidence(&r, "V10", "timed out after");
    let (code, r) = c.validate("crash", None);
    assert_eq!(code, 1);
    assert_evidence(&r, "V10", "(crash)");
}

#[test]
fn a_child_left_running_by_the_tool_is_killed_with_it() {
    let c = Caller::new();
    let ticks = c.dir.path().join("orphan.ticks");
    let (code, r) = c.validate("orphan", Some(&ticks));
    assert!(!r["cases"].as_array().unwrap().is_empty());
    assert_eq!(code, 1);
    if writes_contained(&r) {
        // Its ticks went to a private overlay: the file never appears, and
        // the report names the process and the file.
        assert!(!ticks.exists(), "{}", ticks.display());
        assert!(left_running(&r, "tick"), "{:?}", hazards(&r));
        assert!(outside_writes(&r)
            .iter()
            .any(|w| w.contains(&ticks.display().to_string())));
    } else {
        assert!(ticks.exists(), "the child ran");
        assert!(
            !still_ticking(&ticks),
            "the child the tool left running was killed with it"
        );
        // The Job Object lists what is left in it: the child is named.
        if cfg!(windows) {
            assert!(left_running(&r, "certmig-hostile"), "{:?}", hazards(&r));
        }
    }
}

/// Windows: a Job Object without BREAKAWAY_OK refuses a child's request to
/// leave it, so the child is killed with the rest (Unix has no such
/// refusal: `tests/it/hostile_tools.rs` shows an escape is reported instead).
#[cfg(windows)]
#[test]
fn a_child_cannot_break_away_from_the_job() {
    let c = Caller::new();
    let ticks = c.dir.path().join("escape.ticks");
    let (_, r) = c.validate("escape", Some(&ticks));
    let stderr = r["cases"][0]["runs"][0]["stderr"].as_str().unwrap();
    assert!(stderr.contains("breakaway refused"), "{stderr}");
    assert!(ticks.exists(), "the child ran");
    assert!(!still_ticking(&ticks), "the child was killed with the job");
}

#[test]
fn a_tool_that_deletes_or_rewrites_its_input_is_reported() {
    let c = Caller::new();
    let (code, r) = c.validate("delete-input", None);
    assert_eq!(code, 1);
    assert_hazard(&r, "removed or broke its input");
    let (code, r) = c.validate("rewrite-input", None);
    assert_eq!(code, 1);
    assert_hazard(&r, "changed its input");
}

/// Where writes are contained (Linux with user namespaces), a write
/// outside the case is prevented and named; elsewhere the report says that
/// such writes are neither prevented nor detected, and blames nothing.
#[test]
fn writes_outside_the_case_are_prevented_and_named_or_said_uncontained() {
    let c = Caller::new();
    let target = c.dir.path().join("outside.txt");
    let (code, r) = c.validate("outside", Some(&target));
    if writes_contained(&r) {
        assert_eq!(code, 1);
        let writes = outside_writes(&r);
        assert!(
            writes
                .iter()
                .any(|w| w.ends_with(&format!("wrote {}", target.display()))),
            "{writes:?}"
        );
        assert!(!target.exists(), "the write reached {}", target.display());
    } else {
        assert_eq!(r["containment"]["writes_prevented"], false);
        assert!(outside_writes(&r).is_empty(), "{r}");
        assert!(
            r["containment"]["notes"]
                .as_array()
                .is_some_and(|n| !n.is_empty()),
            "{r}"
        );
        let _ = code;
    }
}
