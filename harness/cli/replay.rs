//! `certmig replay` and `certmig matrix`.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::{print_json, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK};
use certmig::sim::matrix::{html, run_matrix, table};
use certmig::sim::scenario::{scenario_files, Scenario};
use certmig::sim::{replay, Replay};

#[derive(Debug, Args)]
#[command(after_help = "\
Replays each scenario's task sequences through the simulator and compares the outcome with the
scenario's [expect] section. Scenario schema: scenarios/README.md.

Exit codes: 0 every outcome as expected, 1 any outcome differs, 2 a scenario file is malformed.

Examples:
  certmig replay                          every scenario in scenarios/
  certmig replay scenarios/c3-refresh-win7sp1.toml --logs out/  (out/<scenario>/<machine>/smsts.log, Ccmexec.log)")]
pub struct ReplayArgs {
    /// Scenario files or directories (default: scenarios/).
    pub paths: Vec<PathBuf>,
    /// Write each machine's smsts.log and Ccmexec.log under DIR/<scenario>/<machine>/.
    #[arg(long, value_name = "DIR")]
    pub logs: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct ReplayRow<'a> {
    scenario: &'a str,
    kind: &'a str,
    source_os: String,
    target_os: String,
    remediation: Option<&'a str>,
    outcome: &'a str,
    step: Option<&'a str>,
    hresult: Option<String>,
    identity_preserved: bool,
    evidence: &'a [String],
    expected: Option<bool>,
    mismatches: &'a [String],
}

fn row(r: &Replay) -> ReplayRow<'_> {
    ReplayRow {
        scenario: &r.scenario,
        kind: r.kind.as_str(),
        source_os: r.source_os.to_string(),
        target_os: r.target_os.to_string(),
        remediation: r.remediation.map(|x| x.as_str()),
        outcome: r.outcome.kind.as_str(),
        step: r.outcome.step.as_deref(),
        hresult: r.outcome.hresult.map(|h| h.to_string()),
        identity_preserved: r.outcome.identity_preserved,
        evidence: &r.outcome.evidence,
        expected: r.has_expectation.then_some(r.mismatches.is_empty()),
        mismatches: &r.mismatches,
    }
}

pub fn run(a: ReplayArgs) -> u8 {
    let paths = if a.paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        a.paths
    };
    let files = match scenario_files(&paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("certmig: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if files.is_empty() {
        eprintln!(
            "certmig: no scenario files (*.toml) in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return EXIT_BAD_INPUT;
    }
    let mut scenarios = Vec::new();
    let mut bad = false;
    for f in &files {
        match Scenario::load(f) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("certmig: {e}");
                bad = true;
            }
        }
    }
    if bad {
        return EXIT_BAD_INPUT;
    }
    let replays: Vec<Replay> = scenarios.iter().map(replay).collect();
    if let Some(dir) = &a.logs {
        for r in &replays {
            for m in &r.logs {
                let d = dir.join(&r.scenario).join(&m.machine);
                let written =
                    certmig::fix::write::write_file(&d.join("smsts.log"), m.smsts_log().as_bytes())
                        .and_then(|_| {
                            certmig::fix::write::write_file(
                                &d.join("Ccmexec.log"),
                                m.ccmexec_log().as_bytes(),
                            )
                        });
                if let Err(e) = written {
                    eprintln!("certmig: writing logs under {}: {e}", d.display());
                    return EXIT_FAILURE;
                }
            }
        }
    }
    let unexpected = replays.iter().filter(|r| !r.mismatches.is_empty()).count();
    if a.json {
        let rows: Vec<_> = replays.iter().map(row).collect();
        let code = print_json(&rows);
        if code != EXIT_OK {
            return code;
        }
    } else {
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
        t.set_header([
            "scenario",
            "kind",
            "source → target",
            "remediation",
            "outcome",
            "failing step",
            "HRESULT",
            "expected?",
        ]);
        for r in &replays {
            t.add_row([
                r.scenario.clone(),
                r.kind.as_str().to_owned(),
                format!("{} → {}", r.source_os, r.target_os),
                r.remediation
                    .map(|x| x.as_str())
                    .unwrap_or("(custom)")
                    .to_owned(),
                r.outcome.kind.as_str().to_owned(),
                r.outcome.step.clone().unwrap_or_default(),
                r.outcome.hresult.map(|h| h.to_string()).unwrap_or_default(),
                match (r.has_expectation, r.mismatches.is_empty()) {
                    (false, _) => "(none)".to_owned(),
                    (true, true) => "yes".to_owned(),
                    (true, false) => format!("NO: {}", r.mismatches.join("; ")),
                },
            ]);
        }
        println!("{t}");
        println!(
            "{} scenario(s), {} as expected, {} unexpected",
            replays.len(),
            replays.len() - unexpected,
            unexpected
        );
    }
    if unexpected > 0 {
        EXIT_FAILURE
    } else {
        EXIT_OK
    }
}

#[derive(Debug, Args)]
#[command(after_help = "\
Replays every combination: refresh/replace x source OS x KB974571 on the source x target OS x
KB974571 installed before Restore User State x remediation x defect (3072 task sequences).

Examples:
  certmig matrix --json > matrix.json
  certmig matrix --html matrix.html")]
pub struct MatrixArgs {
    /// Print an array of rows {"kind","source_os","source_kb974571",...,"identity_preserved"}.
    #[arg(long)]
    pub json: bool,
    /// Also write one self-contained, colour-coded HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

pub fn matrix(a: MatrixArgs) -> u8 {
    let rows = run_matrix();
    if let Some(f) = &a.html {
        if let Err(e) = certmig::fix::write::write_file(f, html(&rows).as_bytes()) {
            eprintln!("certmig: {}: {e}", f.display());
            return EXIT_FAILURE;
        }
    }
    if a.json {
        return print_json(&rows);
    }
    println!("{}", table(&rows));
    EXIT_OK
}
