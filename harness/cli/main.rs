//! The `certmig` binary, the command line: flags and help text in one place (clap
//! derive), each command a thin call into the library followed by a human or
//! JSON printer. No logic here that a test would want to call.
//!
//! Exit codes, for every command: 0 success (or nothing to do), 1 any other
//! failure (including "expectations not met" for replay and validate),
//! 2 bad input (a malformed file: the message names the file and the byte
//! offset or line). On Windows, a closed pipe on standard output ends the
//! program quietly with [`EXIT_CLOSED_PIPE`] (Unix ends it with SIGPIPE).

/// `print!` to standard output, ending the program quietly when the reader
/// has gone away (see [`output_failed`]) instead of panicking.
macro_rules! out {
    ($($t:tt)*) => {
        $crate::write_stdout(format_args!($($t)*))
    };
}

/// An informational line on stderr (`certmig: ...`), unless `--quiet`.
macro_rules! info {
    ($($t:tt)*) => {
        if !$crate::quiet() {
            eprintln!("certmig: {}", format_args!($($t)*));
        }
    };
}

mod crosscheck;
mod exit;
mod fix;
mod fleet;
mod gen;
mod replay;
mod scan;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for success.
pub const EXIT_OK: u8 = 0;
/// Exit code for a failure that is not bad input.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for malformed input.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code when the reader of standard output went away (Windows: a
/// closed pipe, `certmig scan ... | more` quit early). It is the number of
/// Windows' own error for it, ERROR_NO_DATA ("the pipe is being closed"): a
/// labelled choice, Windows has no convention here. Unix never sees it: the
/// process ends by SIGPIPE, like any filter.
pub const EXIT_CLOSED_PIPE: u8 = 232;

const AFTER_HELP: &str = "\
Exit codes: 0 success, 1 failure (or outcomes that differ from expectations), 2 bad input.
Specs: docs/BEHAVIOR.md (claims C1-C11), docs/FORMATS.md (byte layouts). See README.md for examples.";

#[derive(Debug, Parser)]
#[command(
    name = "certmig",
    version,
    about = "Simulate and test the ConfigMgr 2007 client-certificate failure (0x80092024) in USMT migrations",
    long_about = "certmig generates SCCM-like client certificates with friendly-name defects in the exact \
byte formats Windows uses, applies CryptoAPI's import rules with and without security update 974571 \
(MS09-056), and verifies fix tools such as CCMCertFix before they reach a fleet.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Print no progress and no informational lines on stderr (errors and warnings still print).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Set by `--quiet`, read by [`quiet`].
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True under `--quiet`: no progress bars, no informational lines on stderr
/// (what was written where, how fast); errors and warnings still print.
pub(crate) fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate SCCM-like client certificate stores (.sst, .reg, .blob) from a seed.
    Gen(gen::GenArgs),
    /// Repair friendly names with an embedded NUL, like CCMCertFix (reference implementation).
    Fix(fix::FixArgs),
    /// Replay scenario files (refresh/replace task sequences) and check their expected outcomes.
    Replay(replay::ReplayArgs),
    /// Replay every kind x OS pair x KB974571 x remediation x defect and print the outcome matrix.
    Matrix(replay::MatrixArgs),
    /// Run a fix tool against a generated corpus and check invariants V1-V10 (JSON, JUnit reports).
    Validate(validate::ValidateArgs),
    /// Replay a synthetic fleet, or read a directory of real `reg export`s, and say which machines fail.
    Fleet(fleet::FleetArgs),
    /// Show every certificate in stores: .sst, .reg exports, .blob files (format detected from content).
    Scan(scan::ScanArgs),
    /// Annotated hex dump of a store or element: every entry with offset, bytes and meaning.
    Dump(scan::DumpArgs),
    /// Read every certificate again through the platform's own crypt32 (Windows, Wine) and compare.
    Crosscheck(crosscheck::CrosscheckArgs),
}

fn main() -> ExitCode {
    // Like any Unix filter: when the reader of our output goes away
    // (`certmig scan ... | head`), end quietly instead of panicking on EPIPE.
    // SAFETY: restores the default disposition of one signal before any
    // thread exists; no Rust state is involved.
    // (Windows has no SIGPIPE: writes fail with ERROR_NO_DATA instead, and
    // every write to stdout goes through `out!`/`output_failed`.)
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    let code = match cli.command {
        Command::Gen(a) => exit::finish(gen::run(a)),
        Command::Fix(a) => exit::finish(fix::run_cmd(a)),
        Command::Replay(a) => exit::finish(replay::run(a)),
        Command::Matrix(a) => exit::finish(replay::matrix(a)),
        Command::Scan(a) => exit::finish(scan::run(a)),
        Command::Dump(a) => exit::finish(scan::dump(a)),
        Command::Validate(a) => exit::finish(validate::run(a)),
        Command::Fleet(a) => exit::finish(fleet::run(a)),
        Command::Crosscheck(a) => exit::finish(crosscheck::run(a)),
    };
    ExitCode::from(code)
}

/// Writes to standard output (the `out!` macro); see [`output_failed`].
pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_fmt(args).and_then(|()| o.flush()) {
        output_failed(&e)
    }
}

/// Ends the program after a failed write to standard output: quietly with
/// [`EXIT_CLOSED_PIPE`] when the reader went away, else with the error and
/// [`EXIT_FAILURE`].
pub(crate) fn output_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(i32::from(EXIT_CLOSED_PIPE));
    }
    eprintln!("certmig: cannot write to standard output: {e}");
    std::process::exit(i32::from(EXIT_FAILURE))
}

/// Writes `value` as pretty JSON to stdout.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> u8 {
    match serde_json::to_string_pretty(value) {
        Ok(s) => {
            out!("{s}\n");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("certmig: cannot encode JSON: {e}");
            EXIT_FAILURE
        }
    }
}

/// The clap parser for an enum whose names `strum` declares (see
/// `certmig_format::names`): `--help` lists every name with its doc comment,
/// and a wrong name is refused by clap with the valid ones.
pub(crate) fn choice<E>() -> impl clap::builder::TypedValueParser<Value = E>
where
    E: strum::IntoEnumIterator + strum::EnumMessage + Into<&'static str>,
    E: Copy + Send + Sync + 'static,
{
    choice_among(E::iter())
}

/// [`choice`] restricted to `values`.
pub(crate) fn choice_among<E>(
    values: impl IntoIterator<Item = E>,
) -> impl clap::builder::TypedValueParser<Value = E>
where
    E: strum::EnumMessage + Into<&'static str>,
    E: Copy + Send + Sync + 'static,
{
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    let values: Vec<E> = values.into_iter().collect();
    let possible = values.clone().into_iter().map(|v| {
        let value = PossibleValue::new(Into::<&'static str>::into(v));
        match v.get_documentation() {
            Some(doc) => value.help(doc),
            None => value,
        }
    });
    PossibleValuesParser::new(possible).map(move |name: String| {
        *values
            .iter()
            .find(|v| Into::<&'static str>::into(**v) == name)
            .expect("clap accepts only declared names")
    })
}
