//! `certmig scan` and `certmig dump`.

use std::path::PathBuf;

use clap::Args;

use super::{print_json, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK};
use certmig::format::{self, ReadMode};
use certmig::report;
use certmig::scan::{scan_paths, ScanOptions, ScanReport};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  certmig scan out/                 every store under out/, recursively
  certmig scan PC0001.reg --json    one object: {\"files\":[{\"path\",\"format\",\"certificates\",\"errors\"}]}

Exit codes: 0 every file parsed, 2 any file had an error (all errors are printed; other files are still scanned).")]
pub struct ScanArgs {
    /// Files or directories (scanned recursively); format detected from content.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
    /// Also accept properties after the certificate (Wine's reader order) and malformed friendly-name text.
    #[arg(long)]
    pub lenient: bool,
    /// Skip the self-signature check (faster on very large stores; reports signature_valid=false).
    #[arg(long)]
    pub no_verify: bool,
}

pub fn run(a: ScanArgs) -> u8 {
    let opts = ScanOptions {
        mode: if a.lenient {
            ReadMode::Lenient
        } else {
            ReadMode::Strict
        },
        verify_signatures: !a.no_verify,
    };
    let report = scan_paths(&a.paths, opts);
    let code = if a.json {
        print_json(&report)
    } else {
        print_human(&report);
        EXIT_OK
    };
    if code != EXIT_OK {
        code
    } else if report.has_errors() {
        EXIT_BAD_INPUT
    } else {
        EXIT_OK
    }
}

fn print_human(r: &ScanReport) {
    // File by file, so a file's errors (stderr) follow its listing (stdout).
    for f in &r.files {
        print!("{}", report::scan::file(f));
        eprint!("{}", report::scan::file_errors(f));
    }
    print!("{}", report::scan::summary(r));
}

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  certmig dump PC0001.sst")]
pub struct DumpArgs {
    /// A .sst, .reg or .blob file.
    pub path: PathBuf,
    /// Read leniently (see `scan --lenient`).
    #[arg(long)]
    pub lenient: bool,
}

pub fn dump(a: DumpArgs) -> u8 {
    let bytes = match std::fs::read(&a.path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("certmig: {}: {e}", a.path.display());
            return EXIT_FAILURE;
        }
    };
    let mode = if a.lenient {
        ReadMode::Lenient
    } else {
        ReadMode::Strict
    };
    match format::dump::file(&bytes, mode) {
        Ok(text) => {
            print!("{text}");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("certmig: {}: {e}", a.path.display());
            EXIT_BAD_INPUT
        }
    }
}
