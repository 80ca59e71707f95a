//! `certmig validate`: run a fix tool against a generated corpus and check
//! invariants V1-V10; `--self-test` proves the validator with the reference
//! fixer and the mutants.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::exit::CliError;
use super::{print_json, EXIT_FAILURE, EXIT_OK};
use certmig_fix::Policy;
use certmig_format::FileFormat;
use certmig_report as report;
use certmig_validate::tool::ToolCommand;
use certmig_validate::{selftest, validate, ValidateOptions, DEFAULT_CASES};

#[derive(Debug, Args)]
#[command(after_help = "\
The tool is run once per corpus case, each case in a fresh directory with a copy of the input
(your own files are never given to it), then once more on its own output. The command is split
like a shell would split it but never run through a shell; its program must exist (exit 2
otherwise); {in} and {out} are replaced by paths (a tool that repairs in place takes only {in}).
With --format blob-dir, {in} and {out} are directories of <THUMBPRINT>.blob files.

Containment (the report's first lines say which held): on Linux, user/mount/PID namespaces make
every write outside the case fail or land in a private overlay (named in the report as a hazard)
and end every process the tool starts; without user namespaces, only its process group is killed;
on Windows, a Job Object ends everything it started and caps its memory (--max-memory).

Invariants:
  V1 every certificate imports under ms09-056 after repair   V6 a second run changes nothing
  V2 same certificates, DER byte-identical, same order       V7 well-formed output of the same format
  V3 other properties byte-identical, none added or dropped  V8 malformed input: non-zero exit, no output,
  V4 repaired names are exactly what --policy gives             input untouched
  V5 clean certificates byte-identical                       V9 refresh/replace succeed with it as CCMCertFix
                                                             V10 exit 0 on success; no crash, no timeout

Exit codes: 0 every invariant holds (self-test: the reference passes and every mutant is killed),
1 an invariant failed, 2 bad arguments (e.g. a fixer command without {in}).

Examples:
  certmig validate --fixer 'certmig fix {in} -o {out}'
  certmig validate --fixer 'python3 fix.py {in} {out}' --format sst --policy strip --junit report.xml
  certmig validate --fixer 'pwsh -File Fix-SmsStore.ps1 -Path {in}'     (repairs in place)
  certmig validate --self-test")]
pub struct ValidateArgs {
    /// The fix tool's command line, with {in} and usually {out}.
    #[arg(long, value_name = "COMMAND", required_unless_present = "self_test")]
    pub fixer: Option<String>,
    /// The format the tool reads and writes.
    #[arg(
        long,
        default_value_t = FileFormat::Reg,
        value_parser = super::choice_among([FileFormat::Sst, FileFormat::Reg, FileFormat::BlobDir])
    )]
    pub format: FileFormat,
    /// The text rule the tool promises (checked by V4).
    #[arg(long, value_parser = super::choice::<Policy>(), default_value_t = Policy::Truncate)]
    pub policy: Policy,
    /// The corpus follows from this seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Valid cases in the corpus (malformed cases come on top), 1 to 100000.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CASES as u64,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub cases: u64,
    /// Seconds one run may take, reading its output included, before
    /// everything it started is killed (1 to 86400).
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
    /// Largest output one run may write, and the most certmig reads of it,
    /// in MiB (1 to 65536).
    #[arg(long, value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub max_output: u64,
    /// Memory one run (the tool and everything it starts) may commit, in
    /// MiB; enforced on Windows (Job Object), not capped elsewhere.
    #[arg(long, value_name = "MIB", default_value_t = 2048,
          value_parser = clap::value_parser!(u64).range(16..=1_048_576))]
    pub max_memory: u64,
    /// Skip V9 (replaying refresh and replace with the tool as CCMCertFix).
    #[arg(long)]
    pub no_matrix: bool,
    /// Print the whole report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write a JUnit XML report (one testcase per case and invariant).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Validate the validator: the reference fixer must pass, every mutant must fail on its invariant.
    #[arg(long, conflicts_with = "fixer")]
    pub self_test: bool,
}

pub fn run(a: ValidateArgs) -> Result<u8, CliError> {
    let progress = std::io::stderr().is_terminal() && !a.json && !crate::quiet();
    if a.self_test {
        return self_test(&a, progress);
    }
    let template = a.fixer.clone().unwrap_or_default();
    let command = match ToolCommand::parse(&template).and_then(|mut c| {
        c.resolve_program()?;
        Ok(c)
    }) {
        Ok(c) => c,
        Err(e) => {
            return Err(CliError::bad_input(format!("--fixer: {e}")));
        }
    };
    if let Some(f) = &a.junit {
        // Never over the tool itself, or a file its command line names.
        let named: Vec<&std::path::Path> = command
            .words
            .iter()
            .map(std::path::Path::new)
            .filter(|p| p.is_file())
            .collect();
        if let Err(e) = certmig_fix::platform::check_not_an_input(f, &named) {
            return Err(CliError::bad_input(format!("--junit: {e}")));
        }
    }
    let mut o = ValidateOptions::new(&template, command);
    o.format = a.format;
    o.policy = a.policy;
    o.seed = a.seed;
    o.cases = a.cases as usize;
    o.limits.timeout = Duration::from_secs(a.timeout);
    // In range by the parsers above: at most 64 GiB and 1 TiB.
    o.limits.max_output = a.max_output << 20;
    o.limits.max_memory = a.max_memory << 20;
    o.matrix = !a.no_matrix;
    let bar = progress_bar(progress);
    let r = validate(&o, &|done, total| advance(&bar, done, total));
    bar.finish_and_clear();
    let r = match r {
        Ok(r) => r,
        Err(e @ certmig_validate::ValidateError::Template(_)) => {
            return Err(CliError::bad_input(e));
        }
        Err(e) => {
            return Err(CliError::failure(e));
        }
    };
    if let Some(f) = &a.junit {
        if let Err(e) = certmig_fix::write::write_file(f, report::validate::junit(&r).as_bytes()) {
            return Err(CliError::failure(format!("{}: {e}", f.display())));
        }
    }
    if a.json {
        let code = print_json(&r);
        if code != EXIT_OK {
            return Ok(code);
        }
    } else {
        out!("{}", report::text::fit(&report::validate::human(&r)));
    }
    Ok(if r.passed() { EXIT_OK } else { EXIT_FAILURE })
}

fn self_test(a: &ValidateArgs, progress: bool) -> Result<u8, CliError> {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            return Err(CliError::failure(format!(
                "cannot find my own executable: {e}"
            )));
        }
    };
    let timeout = Duration::from_secs(a.timeout.clamp(1, 5));
    let bar = progress_bar(progress);
    let s = selftest::run(
        &exe,
        a.seed,
        a.cases as usize,
        a.policy,
        timeout,
        &|done, total| advance(&bar, done, total),
    );
    bar.finish_and_clear();
    let s = match s {
        Ok(s) => s,
        Err(e) => {
            return Err(CliError::failure(e));
        }
    };
    if a.json {
        let code = print_json(&s);
        if code != EXIT_OK {
            return Ok(code);
        }
    } else {
        out!("{}", report::text::fit(&report::selftest::human(&s)));
    }
    Ok(if s.passed() { EXIT_OK } else { EXIT_FAILURE })
}

/// The bar `validate` draws on stderr (hidden when `show` is false).
fn progress_bar(show: bool) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} cases and V9 runs {elapsed}")
    {
        bar.set_style(style);
    }
    bar
}

/// The validator's progress callback: a new run (the self-test makes one
/// per fixer and format) starts the bar again.
fn advance(bar: &indicatif::ProgressBar, done: u64, total: u64) {
    if done == 0 {
        bar.reset();
    }
    bar.set_length(total);
    bar.set_position(done);
}
