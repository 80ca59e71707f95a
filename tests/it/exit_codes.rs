//! Exit codes mean the same in every command (issue 21; harness/cli/exit.rs):
//! 0 success, 1 a failure that is not the input's fault, 2 bad input. Every
//! command is run here with a missing input, an input it cannot read (a
//! directory or a FIFO where a file is wanted), a file that is not what it
//! wants (a text file for a store, a store for a scenario) and options that
//! do not go together: each exits 2, says why on standard error and writes
//! nothing on standard output.

use std::path::Path;

use crate::support;

/// One case: the arguments, and what the case is about.
struct Case {
    what: &'static str,
    args: Vec<String>,
}

fn case(what: &'static str, args: &[&str]) -> Case {
    Case {
        what,
        args: args.iter().map(|a| a.to_string()).collect(),
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Every command × {missing input, unreadable input, not what it wants, bad
/// option combination}, where the command takes such an input.
fn cases(dir: &Path) -> Vec<Case> {
    let missing = s(&dir.join("no-such-file"));
    let a_dir = s(&dir.join("a-directory"));
    std::fs::create_dir_all(&a_dir).unwrap();
    let text = dir.join("notes.sst");
    std::fs::write(&text, "these are notes, not a certificate store\r\n").unwrap();
    let text = s(&text);
    let store = dir.join("PC0001.sst");
    std::fs::write(
        &store,
        support::sccm_store(2, certmig::format::Defect::Clean).to_bytes(),
    )
    .unwrap();
    let store = s(&store);
    let texts = dir.join("texts");
    std::fs::create_dir_all(&texts).unwrap();
    std::fs::write(texts.join("PC1.reg"), "not an export\r\n").unwrap();
    let texts = s(&texts);
    let out = s(&dir.join("out"));
    vec![
        // gen takes no input: its bad options.
        case(
            "gen: zero machines",
            &["gen", "--machines", "0", "--out", &out],
        ),
        case(
            "gen: an unknown format",
            &["gen", "--format", "pdf", "--out", &out],
        ),
        // fix
        case("fix: missing input", &["fix", &missing]),
        case(
            "fix: a text file named .sst",
            &["fix", &text, "-o", &s(&dir.join("o.sst"))],
        ),
        case(
            "fix: --dry-run with -o",
            &["fix", &store, "--dry-run", "-o", &out],
        ),
        // replay
        case("replay: missing scenario", &["replay", &missing]),
        case("replay: a store as a scenario", &["replay", &store]),
        case(
            "replay: a bad reading",
            &["replay", "--in-sequence-ccmcertfix", "kb1"],
        ),
        // matrix
        case(
            "matrix: a bad reading",
            &["matrix", "--in-sequence-ccmcertfix", "kb1"],
        ),
        // validate
        case(
            "validate: a tool that does not exist",
            &[
                "validate",
                "--fixer",
                &format!("{missing} {{in}} {{out}}"),
                "--no-matrix",
                "--cases",
                "1",
            ],
        ),
        case(
            "validate: a tool without {in}",
            &["validate", "--fixer", "cp a b", "--no-matrix"],
        ),
        case(
            "validate: --self-test with --fixer",
            &["validate", "--self-test", "--fixer", "cp {in} {out}"],
        ),
        // fleet, synthetic
        case(
            "fleet: missing mix",
            &["fleet", "--machines", "10", "--mix", &missing],
        ),
        case(
            "fleet: a store as a mix",
            &["fleet", "--machines", "10", "--mix", &store],
        ),
        case(
            "fleet: a directory as a plan",
            &["fleet", "--machines", "10", "--plan", &a_dir],
        ),
        case("fleet: zero machines", &["fleet", "--machines", "0"]),
        case(
            "fleet: an inventory option with --machines",
            &["fleet", "--machines", "10", "--target", "win7-sp1"],
        ),
        // fleet, inventory
        case(
            "inventory: missing directory",
            &["fleet", "--inventory", &missing, "--target", "win7-sp1"],
        ),
        case(
            "inventory: a file, not a directory",
            &["fleet", "--inventory", &store, "--target", "win7-sp1"],
        ),
        case(
            "inventory: an export that is not one",
            &["fleet", "--inventory", &texts, "--target", "win7-sp1"],
        ),
        case("inventory: no --target", &["fleet", "--inventory", &texts]),
        case(
            "inventory: --seed",
            &[
                "fleet",
                "--inventory",
                &texts,
                "--target",
                "win7-sp1",
                "--seed",
                "3",
            ],
        ),
        // scan
        case("scan: missing input", &["scan", &missing]),
        case("scan: a text file named .sst", &["scan", &text]),
        case(
            "scan: --current-user with files",
            &["scan", "--current-user", &store],
        ),
        // dump
        case("dump: missing input", &["dump", &missing]),
        case("dump: a directory", &["dump", &a_dir]),
        case("dump: a text file named .sst", &["dump", &text]),
        // crosscheck
        case("crosscheck: missing input", &["crosscheck", &missing]),
        // every command: an unknown option
        case("an unknown option", &["scan", "--frobnicate", &store]),
    ]
}

/// Runs certmig with `args` (bounded in time): its exit code and stderr.
fn exit_of<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (Option<i32>, String) {
    let out = support::certmig()
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_command_exits_2_on_bad_input_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    let all = cases(tmp.path());
    let commands: std::collections::BTreeSet<&str> =
        all.iter().map(|c| c.args[0].as_str()).collect();
    assert_eq!(
        commands.into_iter().collect::<Vec<_>>(),
        [
            "crosscheck",
            "dump",
            "fix",
            "fleet",
            "gen",
            "matrix",
            "replay",
            "scan",
            "validate"
        ],
        "every command has a case"
    );
    for c in &all {
        let (code, stderr) = exit_of(&c.args);
        if code != Some(2) {
            wrong.push(format!("{}: exit {code:?} (want 2): {stderr}", c.what));
        } else if stderr.trim().is_empty() {
            wrong.push(format!("{}: exit 2 without a word on stderr", c.what));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(!tmp.path().join("out").exists(), "nothing was written");
}

/// A FIFO where a file is wanted is refused without being opened (no hang).
#[cfg(unix)]
#[test]
fn a_fifo_as_input_is_bad_input_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo: std::path::PathBuf = tmp.path().join("store.sst");
    support::mkfifo(&fifo);
    let f = s(&fifo);
    for args in [
        vec!["scan", &f],
        vec!["dump", &f],
        vec!["fix", &f],
        vec!["replay", &f],
        vec!["fleet", "--machines", "5", "--mix", &f],
        vec!["fleet", "--machines", "5", "--plan", &f],
    ] {
        let (code, stderr) = exit_of(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
    }
}

/// What is not bad input: a run that goes through exits 0, and an outcome
/// that differs from its expectation exits 1 (replay) whatever the command.
#[test]
fn success_is_0_and_a_differing_outcome_is_1() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("g");
    support::certmig()
        .args(["gen", "--machines", "1", "--format", "sst", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    support::certmig().arg("scan").arg(&out).assert().code(0);
    support::certmig()
        .arg("dump")
        .arg(out.join("PC0001.sst"))
        .assert()
        .code(0);
    support::certmig()
        .args(["fleet", "--machines", "5"])
        .assert()
        .code(0);
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/c04-refresh-xp-to-win7sp1.toml"),
    )
    .unwrap();
    let wrong = tmp.path().join("wrong.toml");
    std::fs::write(
        &wrong,
        base.replace("outcome = \"restore-failed\"", "outcome = \"success\""),
    )
    .unwrap();
    support::certmig()
        .arg("replay")
        .arg(&wrong)
        .assert()
        .code(1);
}

/// `--quiet` (any command, before or after it): no progress and no
/// informational line on stderr; the result and the exit code are the same.
#[test]
fn quiet_leaves_stderr_to_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("m.html");
    let loud = support::certmig()
        .args(["fleet", "--machines", "5"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&loud.stderr).contains("replayed 5 machines"));
    for args in [
        vec!["--quiet", "fleet", "--machines", "5"],
        vec!["fleet", "--machines", "5", "-q"],
    ] {
        let out = support::certmig().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, loud.stdout, "the same report");
    }
    let out = support::certmig()
        .args(["matrix", "-q", "--html"])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty() && out.stdout.is_empty());
    assert!(page.is_file());
    // Errors still print.
    let (code, stderr) = exit_of(&["-q", "scan", "/no/such/file"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("/no/such/file"), "{stderr}");
}

/// A text file where a store is wanted (a CMTrace log, what `replay --logs`
/// and `fix --log` write) is "not a certificate store", in every command,
/// and the location is printed once.
#[test]
fn a_text_file_is_not_a_certificate_store() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("CCMCertFix.log");
    std::fs::write(
        &log,
        "<![LOG[Fixed 2 certificate(s) in the SMS store]LOG]!><time=\"10:00:00.000+000\" date=\"06-14-2011\" component=\"CCMCertFix\" context=\"\" type=\"1\" thread=\"1\" file=\"\">\r\n",
    )
    .unwrap();
    let log = s(&log);
    for args in [
        vec!["scan", &log],
        vec!["dump", &log],
        vec!["fix", &log, "--dry-run"],
    ] {
        let out = support::certmig().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("it is text"), "{args:?}: {text}");
        assert!(!text.contains("offset 0: offset 0"), "{args:?}: {text}");
        assert!(!text.contains("property id"), "{args:?}: {text}");
    }
}
