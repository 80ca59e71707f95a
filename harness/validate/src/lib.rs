//! Validating a fix tool before fleet rollout (`certmig validate`).
//!
//! A tool is any program that repairs an SMS store: the reference `certmig
//! fix`, an administrator's script, a vendor's binary. It is run on a corpus
//! generated from a seed ([`corpus`], made one case at a time), each run in a
//! fresh case directory with a copy of the input, contained ([`contain`]:
//! writes outside the case prevented and named, every process it starts
//! ended with its run, where the platform allows), bounded ([`tool`]: no
//! shell, a timeout, an output size limit, stdout and stderr captured, its
//! output read back as untrusted input), and
//! judged against invariants V1-V10 ([`check`]), with the evidence for every
//! failure. V9 replays refresh and replace through the simulator with the tool
//! as CCMCertFix run before the task sequence. [`selftest`] proves the validator on the reference
//! fixer (must pass) and on deliberately broken fixers (each must fail on the
//! invariant it breaks). The results are plain data; `certmig-report` prints
//! them as a table or JUnit XML, and `--json` as they are.

pub(crate) use certmig_fix as fix;
pub(crate) use certmig_fix::platform;
pub(crate) use certmig_format as format;
pub(crate) use certmig_model::{cert, cryptoapi};
pub(crate) use certmig_sim as sim;

pub mod check;
pub mod contain;
pub mod corpus;
pub mod selftest;
pub mod tool;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rayon::prelude::*;
use serde::Serialize;

pub use check::{Invariant, Violation};
pub use contain::Containment;
use contain::Sandbox;
use corpus::{Case, CaseInput};
use tool::{attempt, ExternalFixer, Run, RunLimits, TemplateError, ToolCommand};

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
                max_memory: 2 << 30,
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
    /// input when it has an output of its own, writing outside its case
    /// directory, leaving processes running after it exited.
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
    /// What contained the tool's runs, and what that guarantees here.
    pub containment: Containment,
}

/// Why a validation could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The command template is unusable (bad input).
    #[error("--fixer: {0}")]
    Template(#[from] TemplateError),
    /// The runs' directory could not be made.
    #[error("cannot prepare the tool's runs: {0}")]
    Sandbox(std::io::Error),
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
        self.cases
            .iter()
            .all(|c| c.violations.is_empty() && c.hazards.is_empty())
    }

    /// On how many cases invariant `inv` failed.
    pub fn failures_of(&self, inv: Invariant) -> usize {
        self.cases.iter().filter(|c| c.failed(inv)).count()
    }
}

/// Validates a tool. `progress(done, total)` is called with `done = 0`
/// before the first case and then each time a case, or one of V9's replayed
/// migrations, is finished; `total` is the number of cases plus V9's
/// migrations when [`ValidateOptions::matrix`] is set (so the progress
/// keeps moving through V9). A run that stops early
/// ([`ValidateOptions::stop_at`]) ends below `total`.
pub fn validate(
    opts: &ValidateOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<ValidationReport, ValidateError> {
    let mut opts = opts.clone();
    opts.command.resolve_program()?;
    let opts = &opts;
    let sandbox = Sandbox::new().map_err(ValidateError::Sandbox)?;
    let corpus = corpus::generate(opts.seed, opts.cases, opts.format);
    let v9 = if opts.matrix { v9_cells() } else { Vec::new() };
    let total = corpus.total() as u64 + v9.len() as u64;
    let done = AtomicU64::new(0);
    let tick = || progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
    progress(0, total);
    let mut cases: Vec<CaseReport> = if let Some(target) = opts.stop_at {
        // Sequential, so the first kill stops the run.
        let mut out = Vec::new();
        for c in corpus {
            let r = run_case(opts, &sandbox, &c);
            tick();
            let killed = r.failed(target);
            out.push(r);
            if killed {
                break;
            }
        }
        out
    } else {
        // The corpus is made as the cases are taken, in order.
        let mut numbered: Vec<(usize, CaseReport)> = corpus
            .enumerate()
            .par_bridge()
            .map(|(i, c)| {
                let r = run_case(opts, &sandbox, &c);
                tick();
                (i, r)
            })
            .collect();
        numbered.sort_by_key(|(i, _)| *i);
        numbered.into_iter().map(|(_, r)| r).collect()
    };
    if opts.matrix
        && !(opts.stop_at.is_some()
            && cases
                .iter()
                .any(|c| c.failed(opts.stop_at.unwrap_or(Invariant::V9))))
    {
        cases.push(matrix_case(opts, &sandbox, &v9, &tick));
    }
    Ok(ValidationReport {
        tool: opts.template.clone(),
        format: opts.format,
        policy: opts.policy,
        seed: opts.seed,
        cases,
        containment: sandbox.containment.clone(),
    })
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

fn run_case(opts: &ValidateOptions, sandbox: &Sandbox, case: &Case) -> CaseReport {
    let mut report = CaseReport {
        name: case.name.clone(),
        description: case.description.clone(),
        valid: case.valid,
        checked: vec![],
        violations: vec![],
        hazards: vec![],
        runs: vec![],
    };
    let first = match attempt(
        sandbox,
        &case.name,
        &opts.command,
        &case.input,
        opts.format,
        opts.limits,
    ) {
        Ok(a) => a,
        Err(e) => {
            report.checked.push(Invariant::V10);
            report.violations.push(v(
                Invariant::V10,
                format!("certmig cannot prepare the case: {e}"),
            ));
            return report;
        }
    };
    if case.valid && opts.command.has_out {
        match &first.input_after {
            Ok(now) if *now == case.input => {}
            Ok(_) => report
                .hazards
                .push("changed its input {in} although it writes its output to {out}".to_owned()),
            Err(e) => report
                .hazards
                .push(format!("removed or broke its input {{in}}: {e}")),
        }
    }
    if case.valid {
        valid_case(opts, sandbox, case, &mut report, first);
    } else {
        report.checked = vec![Invariant::V8, Invariant::V10];
        report.violations.extend(crash_or_timeout(&first.run));
        if first.run.exit.success() {
            report
                .violations
                .push(v(Invariant::V8, "exited 0 on malformed input"));
        }
        if opts.command.has_out && first.output_exists {
            report.violations.push(v(
                Invariant::V8,
                format!(
                    "wrote {{out}} for malformed input ({})",
                    match &first.output {
                        Ok(o) => format!("{} bytes", o.len()),
                        Err(e) => e.to_string(),
                    }
                ),
            ));
        }
        match &first.input_after {
            Ok(now) if *now == case.input => {}
            Ok(_) => report
                .violations
                .push(v(Invariant::V8, "changed its input")),
            Err(e) => report
                .violations
                .push(v(Invariant::V8, format!("removed or broke its input: {e}"))),
        }
        report.runs.push(first.run);
    }
    for r in &report.runs {
        report.hazards.extend(r.hazards());
    }
    report
}

fn valid_case(
    opts: &ValidateOptions,
    sandbox: &Sandbox,
    case: &Case,
    report: &mut CaseReport,
    first: tool::Attempt,
) {
    use Invariant::*;
    report.checked = vec![V10];
    let crashed = crash_or_timeout(&first.run);
    let code_ok = first.run.exit.success();
    report.runs.push(first.run);
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
    report.checked.push(V7);
    let output = match first.output {
        Ok(o) => o,
        Err(e) => {
            report
                .violations
                .push(v(V10, format!("exited 0 but left no readable output: {e}")));
            report.violations.push(v(V7, format!("no output: {e}")));
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
    // V6: the tool on its own output, in a fresh case directory.
    report.checked.push(V6);
    let second = match attempt(
        sandbox,
        &format!("{}-again", case.name),
        &opts.command,
        &output,
        opts.format,
        opts.limits,
    ) {
        Ok(a) => a,
        Err(e) => {
            report
                .violations
                .push(v(V6, format!("certmig cannot prepare the second run: {e}")));
            return;
        }
    };
    if let Some(c) = crash_or_timeout(&second.run) {
        report.violations.push(c);
    } else if !second.run.exit.success() {
        report.violations.push(v(
            V6,
            format!("the second run ended with {}", second.run.exit),
        ));
    } else {
        match &second.output {
            Ok(again) if *again == output => {}
            Ok(again) => report
                .violations
                .push(v(V6, first_difference(&output, again))),
            Err(e) => report.violations.push(v(
                V6,
                format!("the second run left no readable output: {e}"),
            )),
        }
    }
    report.runs.push(second.run);
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
/// certificates with the tool as CCMCertFix run on the client before the
/// task sequence starts (where KB 977203 and KB 2028442 both put it), for
/// every source and target OS (with and without 974571), SP2 site, x86.
/// V9's migrations: refresh and replace of doubled-terminator certificates
/// with CCMCertFix before the task sequence, every OS pair (SP2 site, x86).
fn v9_cells() -> Vec<Migration> {
    crate::sim::matrix::cells()
        .into_iter()
        .filter(|m| {
            m.remediation == Remediation::CcmcertfixBeforeTs
                && m.defect == Defect::DoubledTerminator
                && (m.site, m.source_arch, m.target_arch) == crate::sim::matrix::BLOCKS[0]
        })
        .collect()
}

fn matrix_case(
    opts: &ValidateOptions,
    sandbox: &Sandbox,
    cells: &[Migration],
    tick: &(dyn Fn() + Sync),
) -> CaseReport {
    let fixer = ExternalFixer {
        sandbox,
        command: opts.command.clone(),
        format: opts.format,
        limits: opts.limits,
        label: opts.template.clone(),
        hazards: Default::default(),
    };
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
                tick();
                return None;
            }
            let r = replay_with(&m.scenario(1, Policy::default()), &fixer);
            tick();
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
                        o.evidence
                            .iter()
                            .map(|e| e.to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
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
            "refresh and replace, {} OS pairs, the tool as CCMCertFix before the task sequence",
            cells.len()
        ),
        valid: true,
        checked: vec![Invariant::V9],
        violations: violations.into_iter().map(|(_, v)| v).collect(),
        hazards: fixer
            .hazards
            .into_inner()
            .unwrap_or_else(|e| e.into_inner()),
        runs: vec![],
    }
}
