//! `certmig fix`.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;

use super::exit::CliError;
use super::{output_failed, EXIT_OK};
use certmig_fix::cmtrace::LogClock;
use certmig_fix::{self as fix, FixOptions, Policy, RepairSink};
use certmig_report::fix::{JsonSpill, Listing};

#[derive(Debug, Args)]
#[command(after_help = "\
Repairs friendly names with an embedded NUL like CCMCertFix: only that property value changes;
certificates, other properties, their order, thumbprints and key links stay byte-identical.

Inputs: a .sst (streamed: memory stays bounded), a .reg export, one .blob element, or a
directory of <THUMBPRINT>.blob files. Format detected from content.

Writing: with -o OUT, OUT is always written (a byte-identical copy when nothing needs repair).
In place, a temporary file in the same directory is written, fsynced, re-read and checked,
IN.bak is kept (unless --no-backup), then it is renamed over IN. On malformed input nothing
is written.

Progress: a bar on stderr while a .sst is repaired, when stderr is a terminal (not with --quiet).

Exit codes: 0 fixed or nothing to fix, 2 bad input (file and byte offset/line named), 1 any other failure.

Examples:
  certmig fix PC0001.sst                 repair in place, keep PC0001.sst.bak
  certmig fix PC0001.reg -o fixed.reg --policy strip --json
  certmig fix PC0001/ --dry-run          what would change in a directory of .blob files")]
pub struct FixArgs {
    /// The store to repair: .sst, .reg, .blob, or a directory of .blob files.
    pub input: PathBuf,
    /// Write the repaired store here instead of in place (a directory for a blob directory).
    #[arg(short, long, visible_alias = "out")]
    pub output: Option<PathBuf>,
    /// How to rewrite a name with an embedded NUL.
    #[arg(long, value_parser = super::choice::<Policy>(), default_value_t = Policy::Truncate)]
    pub policy: Policy,
    /// Report what would change; write nothing but the --log (so no -o/--output or --no-backup).
    #[arg(long, conflicts_with_all = ["output", "no_backup"])]
    pub dry_run: bool,
    /// Print a JSON report: per certificate {"thumbprint","before_hex","after_hex","before","after","changed"}.
    #[arg(long)]
    pub json: bool,
    /// Also write a CMTrace-format log here, like CCMCertFix's log argument.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Do not keep IN.bak when repairing in place.
    #[arg(long)]
    pub no_backup: bool,
}

/// Per-certificate lines printed by the human report (counts are complete).
const HUMAN_REPORT_LINES: usize = 50;

pub fn run_cmd(a: FixArgs) -> Result<u8, CliError> {
    let now = chrono::Local::now().naive_local();
    let opts = FixOptions {
        input: a.input,
        output: a.output,
        policy: a.policy,
        dry_run: a.dry_run,
        backup: !a.no_backup,
        log: a.log,
        log_clock: LogClock::new(now, 1),
    };
    let bar = progress_bar();
    if a.json {
        // The JSON report lists every certificate: they go to a temporary
        // file as they are repaired, not into memory.
        let spill = JsonSpill::new().map_err(|e| {
            CliError::failure(format!(
                "cannot create a temporary file for the JSON report: {e}"
            ))
        })?;
        let mut sink = WithProgress {
            inner: spill,
            bar: &bar,
        };
        let run = fix::run(&opts, &mut sink);
        bar.finish_and_clear();
        let report = run.map_err(|e| fix_failed(e, &opts.input))?;
        // The temporary file failing (a full disk where temporary files go)
        // is not standard output failing: each says what it is.
        let spilled = sink.inner.read_back().map_err(|e| {
            CliError::failure(format!(
                "the JSON report's temporary file could not be written: {e}; no report was printed; {}",
                report.on_disk()
            ))
        })?;
        print_report(&report, |out| {
            certmig_report::fix::write_json(&report, spilled, out)
        });
    } else {
        let mut sink = WithProgress {
            inner: Listing::new(HUMAN_REPORT_LINES),
            bar: &bar,
        };
        let run = fix::run(&opts, &mut sink);
        bar.finish_and_clear();
        let report = run.map_err(|e| fix_failed(e, &opts.input))?;
        let (out, warnings) = certmig_report::fix::human(&report, &sink.inner);
        let out = certmig_report::text::fit(&out);
        eprint!("{warnings}");
        print_report(&report, |stdout| stdout.write_all(out.as_bytes()));
    }
    Ok(EXIT_OK)
}

/// Writes the report of a finished run to standard output with `write`,
/// and flushes it; a failure there ends the process as
/// [`output_failed_after`] says.
fn print_report(
    report: &fix::FixReport,
    write: impl FnOnce(&mut std::io::StdoutLock<'static>) -> std::io::Result<()>,
) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = write(&mut stdout).and_then(|()| stdout.flush()) {
        output_failed_after(&e, report)
    }
}

/// A failed run as the command line reports it: bad input (exit 2, nothing
/// was written) or a failure (exit 1).
fn fix_failed(e: fix::FixError, input: &std::path::Path) -> CliError {
    // An input that does not exist is bad input, as in every command
    // (exit.rs). (Other I/O errors on the input may come from replacing it:
    // those are failures.)
    let unreadable_input = matches!(
        &e,
        fix::FixError::Io { path, source }
            if path == input && source.kind() == std::io::ErrorKind::NotFound
    );
    if e.is_bad_input() || unreadable_input {
        CliError::bad_input(format!("{e}\ncertmig: nothing was written"))
    } else {
        CliError::failure(e)
    }
}

/// A bar on stderr when it is a terminal (and not `--quiet`): a `.sst` of a
/// gigabyte takes seconds. It spans the terminal's width.
fn progress_bar() -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() || crate::quiet() {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(0);
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} repairing [{wide_bar}] {binary_bytes}/{binary_total_bytes}, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    b
}

/// A sink that moves the bar as the run goes, then passes each repair on.
struct WithProgress<'b, S> {
    inner: S,
    bar: &'b indicatif::ProgressBar,
}

impl<S: RepairSink> RepairSink for WithProgress<'_, S> {
    fn certificate(&mut self, index: usize, repair: certmig_fix::CertificateRepair) {
        self.inner.certificate(index, repair);
    }

    fn progress(&mut self, done: u64, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
    }
}

/// The report could not be written to standard output (a full disk, a
/// closed pipe) after the run had done its work: says that the report is
/// incomplete and what is on disk, then exits as [`output_failed`] does.
fn output_failed_after(e: &std::io::Error, report: &certmig_fix::FixReport) -> ! {
    eprintln!(
        "certmig: the report on standard output is incomplete; {}",
        report.on_disk()
    );
    output_failed(e)
}
