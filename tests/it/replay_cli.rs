//! `certmig replay` and `certmig matrix` through the binary: exit codes,
//! tables, JSON, logs on disk, HTML, and bad scenario files.

use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::support;

fn shipped(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file)
}

/// How many scenario files are shipped (`scenarios/*.toml`).
fn shipped_count() -> usize {
    std::fs::read_dir(shipped(""))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "toml")
        })
        .count()
}

#[test]
fn replay_with_no_arguments_runs_every_shipped_scenario_and_exits_0() {
    let n = shipped_count();
    support::certmig()
        .arg("replay")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(format!(
            "{n} scenario(s), {n} as expected, 0 unexpected"
        )))
        .stdout(predicate::str::contains("refresh xp-sp3 → win7-sp1"))
        .stdout(predicate::str::contains("restore-failed"));
}

#[test]
fn an_outcome_that_differs_from_the_expectation_exits_1_and_says_how() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(shipped("c04-refresh-xp-to-win7sp1.toml")).unwrap();
    let wrong = text.replace("outcome = \"restore-failed\"", "outcome = \"success\"");
    assert_ne!(text, wrong);
    let f = dir.path().join("wrong.toml");
    std::fs::write(&f, wrong).unwrap();
    support::certmig()
        .arg("replay")
        .arg(&f)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "NO: outcome restore-failed (expected success)",
        ))
        .stdout(predicate::str::contains("1 unexpected"));
}

#[test]
fn malformed_scenarios_exit_2_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("syntax.toml", "kind = \"refresh\"\nremediation = none\n", "line 2, column 15"),
        ("unknown-key.toml", "kind = \"refresh\"\nremediaton = \"none\"\n", "line 2, column 1"),
        ("bad-os.toml", "kind = \"refresh\"\nremediation = \"none\"\n[source]\nname = \"PC1\"\nos = \"win10\"\nclient = \"sp2\"\n", "line 5"),
        ("no-client.toml", "kind = \"refresh\"\nremediation = \"none\"\n[source]\nname = \"PC1\"\nos = \"xp-sp3\"\n", "needs a `client`"),
        ("refresh-target.toml", "kind = \"refresh\"\nremediation = \"none\"\n[source]\nname = \"PC1\"\nos = \"xp-sp3\"\nclient = \"sp2\"\n[target]\nname = \"PC2\"\nos = \"win7-sp1\"\n", "same hardware"),
        ("bad-hresult.toml", "kind = \"refresh\"\nremediation = \"none\"\n[source]\nname = \"PC1\"\nos = \"xp-sp3\"\nclient = \"sp2\"\n[expect]\noutcome = \"success\"\nhresult = \"oops\"\n", "not an HRESULT"),
        // A typo in a KB is bad input, never a silently different outcome.
        ("bad-kb.toml", "kind = \"refresh\"\nremediation = \"none\"\n[source]\nname = \"PC1\"\nos = \"xp-sp3\"\nupdates = [\"KB97457\"]\nclient = \"sp2\"\n", "line 6, column 12: unknown update `KB97457` (expected one of: KB974571)"),
        ("bad-hotfix.toml", "kind = \"refresh\"\nremediation = \"none\"\n[source]\nname = \"PC1\"\nos = \"xp-sp3\"\nclient = \"sp2\"\nclient_hotfixes = [\"KB977302\"]\n", "unknown hotfix `KB977302`"),
        ("r3-on-sp1.toml", "kind = \"refresh\"\nremediation = \"none\"\n[source]\nname = \"PC1\"\nos = \"xp-sp3\"\nclient = \"sp1\"\nclient_hotfixes = [\"KB977384\"]\n", "applies to SP2 clients only"),
        ("replace-identity.toml", "kind = \"replace\"\nremediation = \"none\"\n[source]\nname = \"PC1\"\nos = \"xp-sp3\"\nclient = \"sp2\"\n[target]\nname = \"PC2\"\nos = \"win7-sp1\"\n[expect]\noutcome = \"success\"\nidentity_preserved = true\n", "side by side"),
        // Windows XP SP3 is 32-bit only.
        ("xp-x64.toml", "kind = \"refresh\"\nremediation = \"none\"\ntarget_os = \"win7-sp1\"\n[source]\nname = \"PC1\"\nos = \"xp-sp3\"\narch = \"x64\"\nclient = \"sp2\"\n", "xp-sp3 x64, which does not exist"),
        ("bad-arch.toml", "kind = \"refresh\"\nremediation = \"none\"\n[source]\nname = \"PC1\"\nos = \"xp-sp3\"\narch = \"amd64\"\nclient = \"sp2\"\n", "unknown architecture `amd64`"),
        ("bad-site.toml", "kind = \"refresh\"\nremediation = \"none\"\n[site]\nversion = \"sp3\"\n[source]\nname = \"PC1\"\nos = \"xp-sp3\"\nclient = \"sp2\"\n", "unknown site version `sp3`"),
        ("replace-target-arch.toml", "kind = \"replace\"\nremediation = \"none\"\ntarget_arch = \"x64\"\n[source]\nname = \"PC1\"\nos = \"xp-sp3\"\nclient = \"sp2\"\n[target]\nname = \"PC2\"\nos = \"win7-sp1\"\n", "`target_arch` is for a refresh"),
        ("bad-reading.toml", "kind = \"refresh\"\nremediation = \"none\"\nin_sequence_ccmcertfix = \"kb123\"\n[source]\nname = \"PC1\"\nos = \"xp-sp3\"\nclient = \"sp2\"\n", "unknown reading of CCMCertFix as a task-sequence step `kb123`"),
        // A hard-link refresh uses no state migration point.
        ("hard-link-request.toml", "kind = \"refresh\"\n[source]\nname = \"PC1\"\nos = \"xp-sp3\"\nclient = \"sp2\"\n[[task_sequence]]\nstep = \"request-state-store\"\n[[task_sequence]]\nstep = \"capture-user-state\"\n", "a hard-link refresh does not use"),
    ];
    for (name, text, says) in cases {
        let f = dir.path().join(name);
        std::fs::write(&f, text).unwrap();
        support::certmig()
            .arg("replay")
            .arg(&f)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(name))
            .stderr(predicate::str::contains(says));
    }
    support::certmig()
        .args(["replay", "no/such/dir"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no/such/dir"));
}

#[test]
fn replay_json_and_logs_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::certmig()
        .args(["replay", "--json", "--logs"])
        .arg(dir.path())
        .arg(shipped("c03-refresh-win7rtm-kb974571-before-restore.toml"))
        .arg(shipped("c07-ccmcertfix-step-replace-win7sp1.toml"))
        .arg(shipped(
            "c09-site-hotfix-places-ccmcertfix-and-client-patch.toml",
        ))
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let rows: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["outcome"], "restore-failed");
    assert_eq!(rows[0]["hresult"], "0x80092024");
    assert_eq!(rows[0]["step"], "Restore User State");
    assert_eq!(rows[0]["expected"], true);
    assert_eq!(rows[0]["identity_preserved"], false);
    assert_eq!(rows[0]["usmt"], "usmt-4.0");
    // Each evidence line says which machine's which log holds it.
    let ev = &rows[0]["evidence"];
    assert_eq!(ev[0]["log"], "Ccmexec.log");
    assert_eq!(ev[0]["machine"], "PC0042");
    assert!(ev[0]["line"]
        .as_str()
        .unwrap()
        .starts_with("<![LOG[Failed to import the client certificate store (0x80092024)]LOG]!>"));
    assert!(ev
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["log"] == "certmig.log"));
    assert_eq!(rows[1]["kind"], "replace");
    assert_eq!(
        rows[1]["identity_preserved"],
        serde_json::Value::Null,
        "a replace is side by side"
    );
    // CCMCertFix inside the task sequence: contested, both articles named
    // with the outcome each gives, never a plain outcome.
    assert_eq!(rows[1]["outcome"], "capture-failed");
    let c = &rows[1]["contested"];
    assert_eq!(c["rule"], "ccmcertfix-in-sequence");
    assert_eq!(c["followed"], "kb2028442");
    let readings = c["readings"].as_array().unwrap();
    assert_eq!(readings.len(), 2);
    assert_eq!(readings[0]["source"], "KB2028442");
    assert_eq!(readings[0]["outcome"], "capture-failed");
    assert!(readings[1]["source"]
        .as_str()
        .unwrap()
        .starts_with("KB977203"));
    assert_eq!(readings[1]["outcome"], "success");
    assert!(rows[1]["modelling_choices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "ccmcertfix-in-sequence"));
    assert_eq!(rows[0]["contested"], serde_json::Value::Null);
    let ccmexec = std::fs::read_to_string(
        dir.path()
            .join("c03-refresh-win7rtm-kb974571-before-restore/PC0042/Ccmexec.log"),
    )
    .unwrap();
    assert!(ccmexec
        .contains("<![LOG[Failed to import the client certificate store (0x80092024)]LOG]!>"));
    assert!(ccmexec.ends_with("\r\n"));
    // The capture failed on the old computer: the new one never took part.
    assert!(!dir
        .path()
        .join("c07-ccmcertfix-step-replace-win7sp1/PC0210")
        .exists());
    for machine in ["PC0015", "PC0215"] {
        let d = dir
            .path()
            .join("c09-site-hotfix-places-ccmcertfix-and-client-patch")
            .join(machine);
        for log in ["smsts.log", "Ccmexec.log", "certmig.log"] {
            assert!(d.join(log).is_file(), "{}: {log}", d.display());
        }
        // Only the new computer's client is installed by the scenario.
        assert_eq!(d.join("ccmsetup.log").is_file(), machine == "PC0215");
    }
}

/// `certmig matrix --json`'s output (exit 0).
fn matrix_json() -> Vec<u8> {
    support::certmig()
        .args(["matrix", "--json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone()
}

#[test]
fn matrix_json_has_every_cell_with_the_documented_fields() {
    let out = matrix_json();
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&out).unwrap();
    // The SP2 x86 block and the SP1 block (3072 each), x64 to x86 (no
    // xp-sp3 source: 2304).
    assert_eq!(rows.len(), 2 * 3072 + 2304);
    let keys = [
        "kind",
        "site",
        "source_os",
        "source_arch",
        "source_kb974571",
        "target_os",
        "target_arch",
        "target_kb974571_before_restore",
        "remediation",
        "defect",
        "outcome",
        "step",
        "hresult",
        "identity_preserved",
        "reason",
        "modelling_choices",
        "contested",
    ];
    for r in &rows {
        let mut got: Vec<&str> = r.keys().map(String::as_str).collect();
        got.sort_unstable();
        let mut want = keys.to_vec();
        want.sort_unstable();
        assert_eq!(got, want);
    }
    let remediations: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["remediation"].as_str().unwrap())
        .collect();
    assert_eq!(
        remediations.into_iter().collect::<Vec<_>>(),
        [
            "ccmcertfix-after-capture",
            "ccmcertfix-before-ts",
            "ccmcertfix-step",
            "client-hotfix",
            "fix-captured-state",
            "none",
            "superseded-extract",
            "superseded-no-extract"
        ]
    );
}

#[test]
fn matrix_html_is_one_self_contained_page() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("m.html");
    // The page is written and named; no table is printed unless asked.
    support::certmig()
        .args(["matrix", "--html"])
        .arg(&f)
        .assert()
        .code(0)
        .stdout("")
        .stderr(predicate::str::contains("wrote the HTML page to"));
    let html = std::fs::read_to_string(&f).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("<script src") && !html.contains("<link"),
        "no external resources"
    );
    let cells: usize = support::OUTCOMES
        .iter()
        .map(|o| {
            ["", " lost", " contested", " lost contested"]
                .iter()
                .map(|extra| {
                    html.matches(&format!("<td class=\"{o}{extra}\" title="))
                        .count()
                })
                .sum::<usize>()
        })
        .sum();
    assert_eq!(
        cells, 3072,
        "one coloured cell per row of the SP2 x86 block"
    );
    assert!(
        html.contains(" contested\" title="),
        "contested cells are marked"
    );
    assert!(html.contains("KB2028442") && html.contains("KB977203"));
    for block in [
        "SP2 site, x86 to x86",
        "SP1 site, x86 to x86",
        "SP2 site, x64 to x86",
    ] {
        assert!(html.contains(block), "{block}");
    }
    assert!(html.contains(": OS pairs that migrate successfully"));
    assert!(html.contains("class=\"restore-failed\"") && html.contains("class=\"capture-failed\""));
    assert!(html.contains("<td class=\"unsupported\"") && html.contains("unsupported by USMT"));
}

/// Which cells USMT cannot perform, computed here from the rule (no
/// downgrade; a refresh goes through a hard-link store, which needs USMT
/// 4.0, which does not restore to XP), not from certmig's code.
#[test]
fn matrix_json_marks_every_migration_usmt_cannot_perform_unsupported() {
    let out = matrix_json();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
    let generation = |os: &str| match os {
        "xp-sp3" => 0,
        "vista-sp2" => 1,
        "win7-rtm" | "win7-sp1" => 2,
        other => panic!("{other}"),
    };
    let (mut unsupported, mut downgrades, mut hard_link_xp) = (0, 0, 0);
    for r in rows
        .iter()
        .filter(|r| r["site"] == "sp2" && r["source_arch"] == "x86")
    {
        let (src, tgt) = (
            r["source_os"].as_str().unwrap(),
            r["target_os"].as_str().unwrap(),
        );
        let downgrade = generation(tgt) < generation(src);
        let onto_xp = r["kind"] == "refresh" && tgt == "xp-sp3";
        if downgrade || onto_xp {
            assert_eq!(r["outcome"], "unsupported", "{r}");
            let reason = r["reason"].as_str().expect("a reason");
            assert!(
                reason.contains(if downgrade {
                    "older operating system"
                } else {
                    "hard-link"
                }),
                "{reason}"
            );
            assert!(
                r["step"].is_null() && r["hresult"].is_null() && r["identity_preserved"].is_null()
            );
            unsupported += 1;
            downgrades += usize::from(downgrade);
            hard_link_xp += usize::from(onto_xp && !downgrade);
        } else {
            assert_ne!(r["outcome"], "unsupported", "{r}");
            assert!(r["reason"].is_null(), "{r}");
        }
    }
    // Per remediation (8) and defect (3): label pairs (OS, 974571 or not)
    // from Vista (2) to XP (2) and from 7 (4) to XP or Vista (4), both kinds;
    // refreshes from XP (2) onto XP (2).
    assert_eq!(downgrades, 8 * 3 * 2 * (2 * 2 + 4 * 4));
    assert_eq!(hard_link_xp, 8 * 3 * 2 * 2);
    assert_eq!(unsupported, 1056);
}

/// A scenario is input like any other file: the names that become paths
/// under `--logs DIR` (the scenario's, a machine's, the log a CCMCertFix
/// step names) must be plain file names. Otherwise the scenario is bad input
/// (exit 2, file named), and nothing is written anywhere.
#[test]
fn names_from_a_scenario_never_lead_outside_the_logs_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let logs = tmp.path().join("logs");
    let base = std::fs::read_to_string(shipped("c04-refresh-xp-to-win7sp1.toml")).unwrap();
    let step = |log: &str| {
        format!(
            "{}\n[[task_sequence]]\nstep = \"run-command-line\"\ncommand = 'CCMCertFix.exe {log}'\n",
            base.replace("remediation = \"none\"\n", "")
                .split("[expect]")
                .next()
                .unwrap()
        )
    };
    let cases = [
        (
            base.replace(
                "name = \"PC0002\"",
                &format!("name = {:?}", elsewhere.display().to_string()),
            ),
            "a machine's name",
        ),
        (
            base.replace("name = \"PC0002\"", "name = \"..\""),
            "a machine's name",
        ),
        (
            base.replace("name = \"PC0002\"", "name = \"CON\""),
            "device name",
        ),
        (format!("name = \"../../x\"\n{base}"), "the scenario's name"),
        (step(r"C:\Windows\.."), "the log named by"),
        (
            step(r"C:\Windows\certmig.log"),
            "a log certmig writes itself",
        ),
    ];
    for (i, (text, says)) in cases.iter().enumerate() {
        let file = tmp.path().join(format!("bad-{i}.toml"));
        std::fs::write(&file, text).unwrap();
        support::certmig()
            .args([
                "replay".as_ref(),
                file.as_os_str(),
                "--logs".as_ref(),
                logs.as_os_str(),
            ])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(file.display().to_string()))
            .stderr(predicate::str::contains(*says));
        assert_eq!(
            std::fs::read_dir(&elsewhere).unwrap().count(),
            0,
            "case {i}"
        );
        assert!(!logs.exists(), "case {i}");
    }
}

/// Links planted inside `--logs DIR` never send a write elsewhere: a
/// scenario's directory that is a link to another directory is refused
/// (exit 1, the message names it and says how many logs were written), and
/// a log file that is a link is replaced by the log, the file it pointed to
/// untouched.
#[cfg(unix)]
#[test]
fn links_inside_the_logs_directory_are_never_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let victim_dir = tmp.path().join("victim");
    std::fs::create_dir(&victim_dir).unwrap();
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let scenario = shipped("c04-refresh-xp-to-win7sp1.toml");
    let name = certmig::sim::scenario::Scenario::load(&scenario)
        .unwrap()
        .name;
    let replay_into = |logs: &Path| {
        support::certmig()
            .args([
                "replay".as_ref(),
                scenario.as_os_str(),
                "--logs".as_ref(),
                logs.as_os_str(),
            ])
            .assert()
    };
    // A scenario directory that is a link: refused.
    let logs = tmp.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::os::unix::fs::symlink(&victim_dir, logs.join(&name)).unwrap();
    replay_into(&logs)
        .code(1)
        .stderr(predicate::str::contains("a symbolic link"))
        .stderr(predicate::str::contains("0 log file(s) were written whole"));
    assert_eq!(std::fs::read_dir(&victim_dir).unwrap().count(), 0);
    // A log file that is a link: replaced, not written through.
    let logs2 = tmp.path().join("logs2");
    replay_into(&logs2).code(0);
    let machine_dir = std::fs::read_dir(logs2.join(&name))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let smsts = machine_dir.join("smsts.log");
    std::fs::remove_file(&smsts).unwrap();
    std::os::unix::fs::symlink(&victim, &smsts).unwrap();
    replay_into(&logs2).code(0);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(std::fs::symlink_metadata(&smsts).unwrap().is_file());
}

/// The switch replays the other reading of the contested in-sequence step,
/// from the command line: `replay` (which then differs from a scenario that
/// expects the default reading: exit 1) and `matrix`.
#[test]
fn the_in_sequence_switch_replays_the_other_reading() {
    let out = support::certmig()
        .args(["replay", "--json", "--in-sequence-ccmcertfix", "kb977203"])
        .arg(shipped("c07-ccmcertfix-step-replace-win7sp1.toml"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let rows: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let row = &rows[0];
    assert_eq!(row["outcome"], "success");
    assert_eq!(row["contested"]["followed"], "kb977203");
    assert_eq!(row["contested"]["readings"][1]["reading"], "kb2028442");
    assert_eq!(row["contested"]["readings"][1]["outcome"], "capture-failed");
    assert_eq!(row["expected"], false);
    // The table says so too.
    support::certmig()
        .args(["replay", "--in-sequence-ccmcertfix", "kb977203"])
        .arg(shipped("c07-ccmcertfix-step-replace-win7sp1.toml"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("success (contested)"))
        .stdout(predicate::str::contains("followed KB977203"));
    let out = support::certmig()
        .args(["matrix", "--json", "--in-sequence-ccmcertfix", "kb977203"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
    let contested: Vec<_> = rows.iter().filter(|r| !r["contested"].is_null()).collect();
    assert_eq!(contested.len(), 464);
    assert!(contested
        .iter()
        .all(|r| r["contested"]["followed"] == "kb977203"));
    support::certmig()
        .args(["matrix", "--in-sequence-ccmcertfix", "kb1"])
        .assert()
        .code(2);
}

/// `replay --junit FILE`: a JUnit report a CI gate reads, parsed here with a
/// real XML parser: one testcase per scenario whatever the outcome, a
/// failure (with the mismatch and the evidence) for each scenario that
/// differs from its expectation, a skipped testcase for one without
/// `[expect]`; the file is written even when the run exits 1, and never over
/// a scenario.
#[test]
fn replay_junit_is_junit_xml_with_one_testcase_per_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("replay.xml");
    support::certmig()
        .args(["replay", "--junit"])
        .arg(&xml)
        .arg(shipped(""))
        .assert()
        .code(0)
        .stderr(predicate::str::contains("wrote the JUnit report to"));
    let shipped_count = shipped_count();
    let j = support::junit_structure(&std::fs::read_to_string(&xml).unwrap());
    assert_eq!((j.testcases, j.failures, j.skipped), (shipped_count, 0, 0));

    // One scenario that differs, one without an expectation, one as expected.
    let base = std::fs::read_to_string(shipped("c04-refresh-xp-to-win7sp1.toml")).unwrap();
    std::fs::write(
        dir.path().join("wrong.toml"),
        base.replace("outcome = \"restore-failed\"", "outcome = \"success\""),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("no-expect.toml"),
        base.split("[expect]").next().unwrap(),
    )
    .unwrap();
    std::fs::copy(
        shipped("c04-refresh-xp-to-win7sp1.toml"),
        dir.path().join("right.toml"),
    )
    .unwrap();
    let xml2 = dir.path().join("out").join("r.xml");
    std::fs::create_dir(dir.path().join("out")).unwrap();
    support::certmig()
        .args(["replay", "--junit"])
        .arg(&xml2)
        .arg(dir.path())
        .assert()
        .code(1);
    let text = std::fs::read_to_string(&xml2).unwrap();
    let j = support::junit_structure(&text);
    assert_eq!((j.testcases, j.failures, j.skipped), (3, 1, 1));
    assert_eq!(j.failing, ["wrong"]);
    assert!(
        text.contains("outcome restore-failed (expected success)"),
        "{text}"
    );
    assert!(
        text.contains("Failed to import the client certificate store (0x80092024)"),
        "the failure carries the evidence: {text}"
    );
    // Never over a scenario file.
    let before = std::fs::read(dir.path().join("right.toml")).unwrap();
    support::certmig()
        .args(["replay", "--junit"])
        .arg(dir.path().join("right.toml"))
        .arg(dir.path().join("right.toml"))
        .assert()
        .code(2);
    assert_eq!(
        std::fs::read(dir.path().join("right.toml")).unwrap(),
        before
    );
}

/// `matrix --csv`: one row per run, the header of `report::matrix::CSV_HEADER`
/// (the row struct's field names), the contested rule in two columns.
#[test]
fn matrix_csv_has_every_run() {
    let out = support::certmig()
        .args(["matrix", "--csv"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, certmig::report::matrix::CSV_HEADER);
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2 * 3072 + 2304);
    let contested: Vec<_> = rows.iter().filter(|x| &x[16] == "kb2028442").collect();
    assert_eq!(contested.len(), 464);
    // Each names the other reading's outcome; elsewhere both columns are empty.
    assert!(contested.iter().all(|x| !x[17].is_empty()));
    assert!(rows
        .iter()
        .filter(|x| x[16].is_empty())
        .all(|x| x[17].is_empty()));
    assert!(text.ends_with("\r\n"));
}

/// `replay` with no paths, outside the checkout: says where it looked and
/// what to do (exit 2), instead of "scenarios: No such file or directory".
#[test]
fn replay_outside_the_checkout_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = support::certmig();
    c.current_dir(dir.path())
        .arg("replay")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no scenarios/ directory in"))
        .stderr(predicate::str::contains("certmig replay PATH"));
}
