//! `certmig validate` against hostile fix tools (small shell scripts): endless
//! output, a hang, a crash, a child that outlives the tool, a child that
//! escapes its process group, a tool that deletes or rewrites its input, and
//! one that writes outside its temporary directory. The validator survives
//! each, reports it, and leaves no process behind.
//!
//! Unix only: the tools are `/bin/sh` scripts, and the guarantees tested are
//! the Unix containment's (process groups, `killpg`). The Windows containment
//! (a Job Object) has its own tests in `tests/containment.rs`, which run on
//! every platform with a hostile tool written in Rust.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::cargo_bin;

#[path = "support/validate_report.rs"]
mod validate_report;
use validate_report::{evidence, hazards, outside_writes};

struct Caller {
    dir: tempfile::TempDir,
}

impl Caller {
    fn new() -> Caller {
        Caller {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// Runs `certmig validate --json` on `script` from this directory (with
    /// $HOME inside it too); returns the exit code and the report.
    fn validate(&self, script: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let out = Command::new(cargo_bin("certmig"))
            .current_dir(self.dir.path())
            .env("HOME", &home)
            .args([
                "validate",
                "--json",
                "--no-matrix",
                "--cases",
                "1",
                "--timeout",
                "2",
                "--fixer",
            ])
            .arg(format!("{} {{in}} {{out}}", script.display()))
            .args(extra)
            .output()
            .unwrap();
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code().unwrap(), report)
    }
}

fn running(marker: &str) -> bool {
    Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn endless_output_is_cut_and_the_tool_killed() {
    let c = Caller::new();
    let s = c.script(
        "flood.sh",
        "cp \"$1\" \"$2\"\nexec yes certmig-flood-output",
    );
    let (code, r) = c.validate(&s, &[]);
    assert_eq!(code, 1);
    assert!(
        evidence(&r, "V10").iter().any(|e| e.contains("timed out")),
        "{:?}",
        evidence(&r, "V10")
    );
    let stdout = r["cases"][0]["runs"][0]["stdout"].as_str().unwrap();
    assert!(
        stdout.len() < 70 * 1024 && stdout.contains("more bytes not kept"),
        "{} bytes kept",
        stdout.len()
    );
    assert!(!running("yes certmig-flood-output"));
}

#[test]
fn a_hang_a_crash_and_a_child_that_outlives_the_tool() {
    let c = Caller::new();
    let hang = c.script("hang.sh", "sleep 987654");
    let (code, r) = c.validate(&hang, &[]);
    assert_eq!(code, 1);
    assert!(evidence(&r, "V10")
        .iter()
        .any(|e| e.contains("timed out after")));
    assert!(!running("sleep 987654"), "the hanging tool was killed");

    let crash = c.script("crash.sh", "kill -SEGV $$");
    let (code, r) = c.validate(&crash, &[]);
    assert_eq!(code, 1);
    assert!(
        evidence(&r, "V10")
            .iter()
            .any(|e| e.contains("killed by signal 11")),
        "{:?}",
        evidence(&r, "V10")
    );

    let orphan = c.script("orphan.sh", "sleep 876543 &\ncp \"$1\" \"$2\"");
    let (_, r) = c.validate(&orphan, &[]);
    assert!(!r["cases"].as_array().unwrap().is_empty());
    assert!(
        !running("sleep 876543"),
        "the child left in the tool's process group was killed with it"
    );
}

#[test]
fn a_child_that_escapes_the_process_group_is_reported() {
    let c = Caller::new();
    let s = c.script("escape.sh", "setsid sleep 765432 &\ncp \"$1\" \"$2\"");
    let started = std::time::Instant::now();
    let (code, r) = c.validate(&s, &[]);
    let _ = Command::new("pkill").args(["-f", "sleep 765432"]).status();
    assert_eq!(code, 1);
    assert!(
        started.elapsed().as_secs() < 60,
        "the validator does not wait for the escaped process"
    );
    assert!(
        hazards(&r)
            .iter()
            .any(|h| h.contains("left its process group")),
        "{:?}",
        hazards(&r)
    );
}

#[test]
fn a_tool_that_deletes_or_rewrites_its_input_is_reported() {
    let c = Caller::new();
    let deletes = c.script("deletes.sh", "cp \"$1\" \"$2\"\nrm -f \"$1\"");
    let (code, r) = c.validate(&deletes, &[]);
    assert_eq!(code, 1);
    assert!(
        hazards(&r)
            .iter()
            .any(|h| h.contains("removed or broke its input")),
        "{:?}",
        hazards(&r)
    );

    let rewrites = c.script("rewrites.sh", "cp \"$1\" \"$2\"\nprintf x >> \"$1\"");
    let (code, r) = c.validate(&rewrites, &[]);
    assert_eq!(code, 1);
    assert!(
        hazards(&r).iter().any(|h| h.contains("changed its input")),
        "{:?}",
        hazards(&r)
    );
}

#[test]
fn writes_outside_the_temporary_directory_are_reported() {
    let c = Caller::new();
    let target = c.dir.path().join("outside.txt");
    let s = c.script(
        "outside.sh",
        &format!("cp \"$1\" \"$2\"\necho pwned > '{}'", target.display()),
    );
    let (code, r) = c.validate(&s, &[]);
    assert_eq!(code, 1);
    let writes = outside_writes(&r);
    assert!(
        writes
            .iter()
            .any(|w| *w == format!("created {}", target.display())),
        "{writes:?}"
    );
    // A well-behaved tool from the same directory: nothing outside.
    let fine = c.script(
        "fine.sh",
        &format!(
            "exec {} fix \"$1\" -o \"$2\"",
            cargo_bin("certmig").display()
        ),
    );
    std::fs::remove_file(&target).unwrap();
    let (code, r) = c.validate(&fine, &[]);
    assert_eq!(outside_writes(&r).len(), 0, "{r}");
    assert_eq!(code, 0, "{}", r["cases"]);
}
