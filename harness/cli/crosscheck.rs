//! `certmig crosscheck`.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
#[command(after_help = "\
Reads every certificate twice, with certmig and with the platform's own crypt32, and compares
per certificate: the import verdict (certmig's prediction under the rules the platform enforces
against whether crypt32 accepted it, with its HRESULT), the thumbprint (CERT_HASH_PROP_ID), the
friendly-name bytes (embedded NULs included) and the key-provider link.

crypt32 reads each element with CertAddSerializedElementToStore, each .reg export through a
private registry store (a volatile key under HKCU\\Software\\certmig, deleted afterwards), and each
.sst once more whole with CertOpenStore (reported per file, as information).

Needs Windows, or Wine:
  cargo build --release --target x86_64-pc-windows-gnu --bin certmig
  wine target/x86_64-pc-windows-gnu/release/certmig.exe crosscheck DIR --json

Exit codes: 0 every certificate agrees, 1 any disagrees, 2 bad input (file and byte offset named)
or not on Windows.

Examples:
  certmig.exe crosscheck out/               every store under out/, recursively
  certmig.exe crosscheck PC0001.reg --json  {\"platform\",\"certificates\",\"agree\",\"rows\":[...],\"files\":[...]}")]
pub struct CrosscheckArgs {
    /// Files or directories (walked recursively, sorted); format detected from content.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Why `crosscheck` cannot run here.
#[cfg(not(windows))]
pub const NEEDS_WINDOWS: &str = "crosscheck needs Windows' crypt32 (or Wine's): build certmig.exe \
with `cargo build --release --target x86_64-pc-windows-gnu --bin certmig` and run it on Windows, \
or under Wine: `wine target/x86_64-pc-windows-gnu/release/certmig.exe crosscheck PATHS...`";

#[cfg(not(windows))]
pub fn run(_a: CrosscheckArgs) -> Result<u8, super::exit::CliError> {
    Err(super::exit::CliError::bad_input(NEEDS_WINDOWS))
}

#[cfg(windows)]
pub fn run(a: CrosscheckArgs) -> Result<u8, super::exit::CliError> {
    use super::{EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK};
    use certmig_stores::crosscheck::{crosscheck_paths, crypt32::Crypt32};

    let report = crosscheck_paths(&a.paths, &mut Crypt32::new());
    if a.json {
        let code = super::print_json(&report);
        if code != EXIT_OK {
            return Ok(code);
        }
    } else {
        print!(
            "{}",
            certmig_report::text::fit(&certmig_report::crosscheck::human(&report))
        );
    }
    for f in &report.files {
        for e in &f.errors {
            match (e.line, e.offset) {
                (Some(l), _) => eprintln!("certmig: {}: line {l}: {}", f.path, e.message),
                (None, Some(o)) => eprintln!("certmig: {}: byte offset {o}: {}", f.path, e.message),
                (None, None) => eprintln!("certmig: {}: {}", f.path, e.message),
            }
        }
    }
    // Each file's errors are printed above.
    Ok(if report.has_errors() {
        EXIT_BAD_INPUT
    } else if report.all_agree() {
        EXIT_OK
    } else {
        EXIT_FAILURE
    })
}
