//! `certmig replay` and `certmig matrix`.

use std::path::PathBuf;

use clap::Args;

use super::exit::CliError;
use super::{print_json, EXIT_FAILURE, EXIT_OK};
use certmig_fix::ReferenceFixer;
use certmig_report as report;
use certmig_sim::matrix::run_matrix_with;
use certmig_sim::scenario::{scenario_files, Scenario};
use certmig_sim::world::InSequenceReading;
use certmig_sim::{replay, Replay, NOTES_LOG};

#[derive(Debug, Args)]
#[command(after_help = "\
Replays each scenario's task sequences through the simulator and compares the outcome with the
scenario's [expect] section. Scenario schema: scenarios/README.md.

Exit codes: 0 every outcome as expected, 1 any outcome differs, 2 a scenario file is malformed.

Examples:
  certmig replay                          every scenario in scenarios/
  certmig replay scenarios/c04-refresh-xp-to-win7sp1.toml --logs out/
      (out/<scenario>/<machine>/smsts.log, Ccmexec.log, ccmsetup.log, CCMCertFix.log as written, and certmig.log: certmig's own notes)
  certmig replay scenarios/c07-ccmcertfix-step-replace-win7sp1.toml --in-sequence-ccmcertfix kb977203
  certmig replay --junit replay.xml       a CI gate: one testcase per scenario

CCMCertFix run inside the task sequence is contested: KB 2028442 says it must run before the task
sequence starts, KB 977203 (as the seed summarises it) runs it in the task sequence. Outcomes that
rest on it are marked (contested) and --json gives both readings' outcomes.")]
pub struct ReplayArgs {
    /// Scenario files or directories (default: scenarios/).
    pub paths: Vec<PathBuf>,
    /// Write each machine's product logs and certmig.log under DIR/<scenario>/<machine>/.
    #[arg(long, value_name = "DIR")]
    pub logs: Option<PathBuf>,
    /// Where CCMCertFix runs inside the task sequence, follow KB2028442 (it does not help; the
    /// default) or KB977203 (it repairs); overrides each scenario's `in_sequence_ccmcertfix`.
    #[arg(long, value_name = "SOURCE", value_parser = super::choice::<InSequenceReading>())]
    pub in_sequence_ccmcertfix: Option<InSequenceReading>,
    /// Print one JSON row per scenario (outcome, step, HRESULT, evidence, contested, ...).
    #[arg(long)]
    pub json: bool,
    /// Also write a JUnit XML report to FILE: one testcase per scenario (a CI gate).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

pub fn run(a: ReplayArgs) -> Result<u8, CliError> {
    let paths = if a.paths.is_empty() {
        let here = PathBuf::from("scenarios");
        if !here.is_dir() {
            return Err(CliError::bad_input(format!(
                "no scenarios/ directory in {}: run certmig replay from the certmig checkout, or name scenario files or directories (certmig replay PATH...)",
                std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|_| ".".into())
            )));
        }
        vec![here]
    } else {
        a.paths
    };
    let files = match scenario_files(&paths) {
        Ok(f) => f,
        Err(e) => {
            return Err(CliError::bad_input(e));
        }
    };
    if files.is_empty() {
        return Err(CliError::bad_input(format!(
            "no scenario files (*.toml) in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut scenarios = Vec::new();
    let mut bad = false;
    for f in &files {
        match Scenario::load(f) {
            Ok(mut s) => {
                if let Some(r) = a.in_sequence_ccmcertfix {
                    s.in_sequence_ccmcertfix = r;
                }
                scenarios.push(s)
            }
            Err(e) => {
                eprintln!("certmig: {e}");
                bad = true;
            }
        }
    }
    if bad {
        // Each file's error is printed above.
        return Err(CliError::reported_bad_input());
    }
    if let Some(f) = &a.junit {
        // Never over a scenario file.
        let inputs: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
        if let Err(e) = certmig_fix::platform::check_not_an_input(f, &inputs) {
            return Err(CliError::bad_input(format!("--junit: {e}")));
        }
    }
    let replays: Vec<Replay> = scenarios.iter().map(replay).collect();
    if let Some(dir) = &a.logs {
        // Each log is written whole or not at all; a failure says how many
        // were written before it (they are complete, the rest are missing).
        let mut written = 0usize;
        for r in &replays {
            for m in &r.logs {
                let parts = [r.scenario.as_str(), m.machine.as_str()];
                let result = certmig_fix::platform::names::dir_within(dir, &parts).and_then(|d| {
                    m.files
                        .iter()
                        .map(|f| (f.file.as_str(), m.render(&f.file)))
                        .chain([(NOTES_LOG, m.notes_log())])
                        .try_for_each(|(file, text)| {
                            certmig_fix::write::write_file(&d.join(file), text.as_bytes())?;
                            written += 1;
                            Ok(())
                        })
                });
                if let Err(e) = result {
                    eprintln!(
                        "certmig: writing logs under {}: {e}",
                        dir.join(parts[0]).join(parts[1]).display()
                    );
                    return Err(CliError::failure(format!(
                        "the logs are incomplete: {written} log file(s) were written whole under {}, the others were not written",
                        dir.display()
                    )));
                }
            }
        }
    }
    let unexpected = replays.iter().filter(|r| !r.mismatches.is_empty()).count();
    if let Some(f) = &a.junit {
        let xml = report::replay::junit(&replays);
        if let Err(e) = certmig_fix::write::write_file(f, xml.as_bytes()) {
            return Err(CliError::failure(format!("{}: {e}", f.display())));
        }
        info!(
            "wrote the JUnit report to {} ({} testcase(s), {} failing)",
            f.display(),
            replays.len(),
            unexpected
        );
    }
    if a.json {
        let code = print_json(&report::replay::rows(&replays));
        if code != EXIT_OK {
            return Ok(code);
        }
    } else {
        out!("{}", report::text::fit(&report::replay::human(&replays)));
    }
    Ok(if unexpected > 0 {
        EXIT_FAILURE
    } else {
        EXIT_OK
    })
}

#[derive(Debug, Args)]
#[command(after_help = "\
Replays every combination: refresh/replace x source OS x KB974571 on the source x target OS x
KB974571 installed before Restore User State x remediation x defect (3072 task sequences) for an
SP2 site migrating x86 to x86, then again for an SP1 site (USMT 3.0.1 only), and for x64 to x86
(never supported): 8448 rows. Rows where CCMCertFix ran inside the task sequence are marked
(contested): KB 2028442 and KB 977203 disagree; --json gives both readings' outcomes.

Exit codes: 0 the matrix was printed or written, 1 the HTML page could not be written, 2 bad options.

Examples:
  certmig matrix --json > matrix.json
  certmig matrix --csv > matrix.csv
  certmig matrix --html matrix.html       (writes the page, prints no table)")]
pub struct MatrixArgs {
    /// Print an array of rows {"kind","site","source_os",...,"identity_preserved","contested"}.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print one CSV row per run (RFC 4180; the contested rule as two columns).
    #[arg(long)]
    pub csv: bool,
    /// Write one self-contained, colour-coded HTML page to FILE (and print no table).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Where CCMCertFix runs inside the task sequence, follow KB2028442 (default) or KB977203.
    #[arg(long, value_name = "SOURCE", value_parser = super::choice::<InSequenceReading>(), default_value_t)]
    pub in_sequence_ccmcertfix: InSequenceReading,
}

pub fn matrix(a: MatrixArgs) -> Result<u8, CliError> {
    let rows = run_matrix_with(&ReferenceFixer::default(), a.in_sequence_ccmcertfix);
    if let Some(f) = &a.html {
        if let Err(e) = certmig_fix::write::write_file(f, report::matrix::html(&rows).as_bytes()) {
            return Err(CliError::failure(format!("{}: {e}", f.display())));
        }
        info!(
            "wrote the HTML page to {} ({} runs)",
            f.display(),
            report::text::group_digits(rows.len() as u64)
        );
    }
    if a.json {
        return Ok(print_json(&rows));
    }
    if a.csv {
        out!("{}", report::matrix::csv(&rows));
        return Ok(EXIT_OK);
    }
    if a.html.is_none() {
        out!("{}\n", report::matrix::table(&rows));
    }
    Ok(EXIT_OK)
}
