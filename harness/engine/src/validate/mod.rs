//! Validating a fix tool before fleet rollout (`certmig validate`).
//!
//! A tool is any program that repairs an SMS store: the reference `certmig
//! fix`, an administrator's script, a vendor's binary. It is run on a corpus
//! generated from a seed ([`corpus`]), each case in its own temporary
//! directory with a copy of the input ([`tool`]: no shell, timeout that kills
//! the whole process group, output size limit, stdout and stderr captured), and
//! judged against invariants V1-V10 ([`check`]), with the evidence for every
//! failure. V9 replays refresh and replace through the simulator with the tool
//! as the CCMCertFix step. [`selftest`] proves the validator on the reference
//! fixer (must pass) and on deliberately broken fixers (each must fail on the
//! invariant it breaks). The results are plain data; `certmig-report` prints
//! them as a table or JUnit XML, and `--json` as they are.

pub mod check;
pub mod corpus;
pub mod selftest;
pub mod tool;
mod watch;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rayon::prelude::*;
use serde::Serialize;

pub use check::{Invariant, Violation};
use corpus::{Case, CaseInput};
use tool::{
    case_paths, read_input, run_tool, size_of, write_input, ExternalFixer, Run, RunLimits,
    ToolCommand,
};

use crate::fix::Policy;
use crate::format::{Defect, FileFormat};
use crate::sim::migration::Migration;
use crate::sim::scenario::Remediation;
use crate::sim::{replay_with, OutcomeKind};

/// What to validate and how.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// The command template as the user wrote it (for reports).
    pub template: String,
    pub command: ToolCommand,
    pub format: FileFormat,
    /// The policy the tool promises (V4).
    pub policy: Policy,
    pub seed: u64,
    /// Valid cases in the corpus (the malformed ones come on top).
    pub cases: usize,
    pub limits: RunLimits,
    /// Replay the simulator with the tool as CCMCertFix (V9).
    pub matrix: bool,
    /// Stop at the first case that breaks this invariant (the self-test's
    /// mutants: one kill is enough).
    pub stop_at: Option<Invariant>,
}

impl ValidateOptions {
    pub fn new(template: &str, command: ToolCommand) -> Self {
        ValidateOptions {
            template: template.to_owned(),
            command,
            format: FileFormat::Reg,
            policy: Policy::Truncate,
            seed: 1,
            cases: DEFAULT_CASES,
            limits: RunLimits {
                timeout: Duration::from_secs(30),
                max_output: 256 << 20,
            },
            matrix: true,
            stop_at: None,
        }
    }
}

/// V9 stops replaying after this many failed cells.
const MATRIX_FAILURES_SHOWN: usize = 4;

/// Valid cases by default: every fixed case plus random stores.
pub const DEFAULT_CASES: usize = 20;

/// One case's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    pub name: String,
    pub description: String,
    pub valid: bool,
    /// The invariants this case decided.
    pub checked: Vec<Invariant>,
    pub violations: Vec<Violation>,
    /// Hostile behaviour seen in this case's runs: changing or removing its
    /// input when it has an output of its own, leaving a process running
    /// outside its process group.
    pub hazards: Vec<String>,
    /// The tool's runs (the fix, then the re-run on its own output).
    pub runs: Vec<Run>,
}

impl CaseReport {
    pub fn failed(&self, inv: Invariant) -> bool {
        self.violations.iter().any(|v| v.invariant == inv)
    }
}

/// The whole validation.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationReport {
    pub tool: String,
    pub format: FileFormat,
    pub policy: Policy,
    pub seed: u64,
    pub cases: Vec<CaseReport>,
    /// Files created, changed or removed outside the tool's temporary
    /// directories while it ran (in the current directory and in $HOME).
    pub outside_writes: Vec<String>,
}

impl ValidationReport {
    /// Invariants that failed on at least one case.
    pub fn failed_invariants(&self) -> BTreeSet<Invariant> {
        self.cases
            .iter()
            .flat_map(|c| c.violations.iter().map(|v| v.invariant))
            .collect()
    }

    pub fn passed(&self) -> bool {
        self.outside_writes.is_empty()
            && self
                .cases
                .iter()
                .all(|c| c.violations.is_empty() && c.hazards.is_empty())
    }
}

/// Validates a tool. `progress(done, total)` is called with `done = 0`
/// before the first case and then each time a case (or the V9 replay, which
/// counts as one) is finished; `total` is the number of cases plus one for
/// V9 when [`ValidateOptions::matrix`] is set. A run that stops early
/// ([`ValidateOptions::stop_at`]) ends below `total`.
pub fn validate(opts: &ValidateOptions, progress: &(dyn Fn(u64, u64) + Sync)) -> ValidationReport {
    let corpus = corpus::generate(opts.seed, opts.cases, opts.format);
    let watched = watch::Watched::snapshot();
    let total = corpus.len() as u64 + u64::from(opts.matrix);
    let done = AtomicU64::new(0);
    let tick = || progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
    progress(0, total);
    let mut cases: Vec<CaseReport> = if let Some(target) = opts.stop_at {
        // Sequential, so the first kill stops the run.
        let mut out = Vec::new();
        for c in &corpus {
            let r = run_case(opts, c);
            tick();
            let killed = r.failed(target);
            out.push(r);
            if killed {
                break;
            }
        }
        out
    } else {
        corpus
            .par_iter()
            .map(|c| {
                let r = run_case(opts, c);
                tick();
                r
            })
            .collect()
    };
    if opts.matrix
        && !(opts.stop_at.is_some()
            && cases
                .iter()
                .any(|c| c.failed(opts.stop_at.unwrap_or(Invariant::V9))))
    {
        cases.push(matrix_case(opts));
        tick();
    }
    ValidationReport {
        tool: opts.template.clone(),
        format: opts.format,
        policy: opts.policy,
        seed: opts.seed,
        cases,
        outside_writes: watched.changes(),
    }
}

fn v(invariant: Invariant, evidence: impl Into<String>) -> Violation {
    Violation {
        invariant,
        evidence: evidence.into(),
    }
}

/// V10 for one run: crashes and timeouts always break it.
fn crash_or_timeout(run: &Run) -> Option<Violation> {
    match run.exit {
        tool::Exit::Signal { .. }
        | tool::Exit::Exception { .. }
        | tool::Exit::TimedOut { .. }
        | tool::Exit::OutputTooLarge { .. }
        | tool::Exit::SpawnFailed { .. } => Some(v(
            Invariant::V10,
            format!("{}: {}", run.argv.join(" "), run.exit),
        )),
        tool::Exit::Code { .. } => None,
    }
}

fn run_case(opts: &ValidateOptions, case: &Case) -> CaseReport {
    let mut report = CaseReport {
        name: case.name.clone(),
        description: case.description.clone(),
        valid: case.valid,
        checked: vec![],
        violations: vec![],
        hazards: vec![],
        runs: vec![],
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            report.checked.push(Invariant::V10);
            report.violations.push(v(
                Invariant::V10,
                format!("cannot create a temporary directory: {e}"),
            ));
            return report;
        }
    };
    let (inp, out) = case_paths(dir.path(), opts.format, 1);
    if let Err(e) = write_input(&inp, &case.input) {
        report.violations.push(v(
            Invariant::V10,
            format!("cannot write the case input: {e}"),
        ));
        return report;
    }
    let run = run_tool(&opts.command, &inp, &out, dir.path(), opts.limits);
    if case.valid && opts.command.has_out {
        match read_input(&inp, opts.format) {
            Ok(now) if now == case.input => {}
            Ok(_) => report.hazards.push(format!(
                "changed its input {} although it writes its output to {{out}}",
                inp.display()
            )),
            Err(e) => report
                .hazards
                .push(format!("removed or broke its input {}: {e}", inp.display())),
        }
    }
    if case.valid {
        valid_case(opts, case, &mut report, run, dir.path(), &inp, &out);
    } else {
        report.checked = vec![Invariant::V8, Invariant::V10];
        report.violations.extend(crash_or_timeout(&run));
        if run.exit.success() {
            report
                .violations
                .push(v(Invariant::V8, "exited 0 on malformed input"));
        }
        if opts.command.has_out && out.exists() {
            report.violations.push(v(
                Invariant::V8,
                format!(
                    "wrote {} ({} bytes) for malformed input",
                    out.display(),
                    size_of(&out)
                ),
            ));
        }
        match read_input(&inp, opts.format) {
            Ok(now) if now == case.input => {}
            Ok(_) => report
                .violations
                .push(v(Invariant::V8, "changed its input")),
            Err(e) => report
                .violations
                .push(v(Invariant::V8, format!("removed or broke its input: {e}"))),
        }
        report.runs.push(run);
    }
    for r in &report.runs {
        if r.escaped {
            report.hazards.push(format!("{}: a process it started left its process group and kept running (its output pipe was still open after the group was killed)", r.argv.join(" ")));
        }
    }
    report
}

#[allow(clippy::too_many_arguments)]
fn valid_case(
    opts: &ValidateOptions,
    case: &Case,
    report: &mut CaseReport,
    run: Run,
    dir: &std::path::Path,
    inp: &std::path::Path,
    out: &std::path::Path,
) {
    use Invariant::*;
    report.checked = vec![V10];
    let crashed = crash_or_timeout(&run);
    let code_ok = run.exit.success();
    report.runs.push(run);
    if let Some(c) = crashed {
        report.violations.push(c);
        return;
    }
    if !code_ok {
        report
            .violations
            .push(v(V10, format!("{} on valid input", report.runs[0].exit)));
        return;
    }
    let written = if opts.command.has_out { out } else { inp };
    report.checked.push(V7);
    let output = match read_input(written, opts.format) {
        Ok(o) => o,
        Err(e) => {
            report.violations.push(v(
                V10,
                format!("exited 0 but wrote no output at {}: {e}", written.display()),
            ));
            report.violations.push(v(V7, "no output"));
            return;
        }
    };
    let after = match check::well_formed(&output, opts.format) {
        Ok(a) => a,
        Err(violation) => {
            report.violations.push(violation);
            return;
        }
    };
    let before =
        tool::parse_output(&case.input, opts.format).expect("the corpus renders valid stores");
    report.checked.extend([V1, V2, V3, V4, V5]);
    report.violations.extend(check::content(
        &before,
        &after,
        &output,
        opts.format,
        opts.policy,
    ));
    // V6: the tool on its own output.
    report.checked.push(V6);
    let (inp2, out2) = case_paths(dir, opts.format, 2);
    if let Err(e) = write_input(&inp2, &output) {
        report.violations.push(v(
            V6,
            format!("cannot copy the output for a second run: {e}"),
        ));
        return;
    }
    let run2 = run_tool(&opts.command, &inp2, &out2, dir, opts.limits);
    let second = if opts.command.has_out { &out2 } else { &inp2 };
    if let Some(c) = crash_or_timeout(&run2) {
        report.violations.push(c);
    } else if !run2.exit.success() {
        report
            .violations
            .push(v(V6, format!("the second run ended with {}", run2.exit)));
    } else {
        match read_input(second, opts.format) {
            Ok(again) if again == output => {}
            Ok(again) => report
                .violations
                .push(v(V6, first_difference(&output, &again))),
            Err(e) => report
                .violations
                .push(v(V6, format!("the second run wrote no output: {e}"))),
        }
    }
    report.runs.push(run2);
}

/// Where a second output first differs from the first.
fn first_difference(a: &CaseInput, b: &CaseInput) -> String {
    match (a, b) {
        (CaseInput::File(x), CaseInput::File(y)) => {
            let at = x
                .iter()
                .zip(y)
                .position(|(p, q)| p != q)
                .unwrap_or(x.len().min(y.len()));
            format!("the second run's output differs from the first at byte offset {at} ({} bytes, then {})", x.len(), y.len())
        }
        (CaseInput::BlobDir(x), CaseInput::BlobDir(y)) => {
            let names =
                |d: &[(String, Vec<u8>)]| d.iter().map(|f| f.0.clone()).collect::<BTreeSet<_>>();
            match x.iter().zip(y).find(|(p, q)| p != q) {
                Some((p, _)) => format!("the second run changed {}", p.0),
                None => format!(
                    "the second run's files differ: {:?} then {:?}",
                    names(x),
                    names(y)
                ),
            }
        }
        _ => "the second run's output has another shape".to_owned(),
    }
}

/// V9: refresh and replace of an unhotfixed client's doubled-terminator
/// certificates with the tool as the CCMCertFix step, for every source and
/// target OS (with and without 974571).
fn matrix_case(opts: &ValidateOptions) -> CaseReport {
    let fixer = ExternalFixer {
        command: opts.command.clone(),
        format: opts.format,
        limits: opts.limits,
        label: opts.template.clone(),
    };
    let cells: Vec<Migration> = crate::sim::matrix::cells()
        .into_iter()
        .filter(|m| {
            m.remediation == Remediation::CcmcertfixStep && m.defect == Defect::DoubledTerminator
        })
        .collect();
    // A broken tool fails every cell alike; a hanging one would take a
    // timeout per cell. A few failures are evidence enough.
    let failures = std::sync::atomic::AtomicUsize::new(0);
    let skipped = std::sync::atomic::AtomicUsize::new(0);
    let mut violations: Vec<(usize, Violation)> = cells
        .par_iter()
        .enumerate()
        .filter_map(|(i, m)| {
            if failures.load(std::sync::atomic::Ordering::Relaxed) >= MATRIX_FAILURES_SHOWN {
                skipped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return None;
            }
            let r = replay_with(&m.scenario(1, Policy::default()), &fixer);
            let o = &r.outcome;
            // Every migration USMT supports succeeds, keeping a refreshed
            // client's identity.
            let failed = o.kind != OutcomeKind::Success && o.kind != OutcomeKind::Unsupported;
            (failed || o.identity_preserved == Some(false)).then(|| {
                let why = match (&o.step, o.hresult) {
                    // The product's line, then certmig's note of why (for a
                    // failed CCMCertFix step: the tool's own error).
                    (Some(step), Some(h)) => format!(
                        "{} at {step} ({h}): {}",
                        o.kind.as_str(),
                        o.evidence.join(" ")
                    ),
                    _ => format!(
                        "{}, identity preserved: {:?}",
                        o.kind.as_str(),
                        o.identity_preserved
                    ),
                };
                failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (i, v(Invariant::V9, format!("{}: {why}", m.name())))
            })
        })
        .collect();
    violations.sort_by_key(|(i, _)| *i);
    let skipped = skipped.into_inner();
    if skipped > 0 {
        violations.push((
            cells.len(),
            v(
                Invariant::V9,
                format!("{skipped} more cells not replayed after {MATRIX_FAILURES_SHOWN} failures"),
            ),
        ));
    }
    CaseReport {
        name: "matrix".into(),
        description: format!(
            "refresh and replace, {} OS pairs, the tool as the CCMCertFix step",
            cells.len()
        ),
        valid: true,
        checked: vec![Invariant::V9],
        violations: violations.into_iter().map(|(_, v)| v).collect(),
        hazards: vec![],
        runs: vec![],
    }
}
