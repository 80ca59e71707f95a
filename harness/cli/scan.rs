//! `certmig scan` and `certmig dump`.

use std::io::{BufWriter, IsTerminal};
use std::path::PathBuf;

use clap::Args;

use super::exit::CliError;
use super::{EXIT_BAD_INPUT, EXIT_OK};
use certmig_format::{self as format, ReadMode};
use certmig_report::scan::{HumanSink, JsonSink};
use certmig_stores::scan::{
    scan_paths_to, CertificateRecord, ErrorReport, FileStart, ScanOptions, ScanSink,
};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  certmig scan out/                 every store under out/, recursively
  certmig scan PC0001.reg --json    one object: {\"files\":[{\"path\",\"format\",\"certificates\",\"errors\"}]}
  certmig scan --system-store SMS   (Windows) this machine's LocalMachine SMS store, read-only

Signatures are not checked unless --verify-signatures (CryptoAPI's import does not check them).
Exit codes: 0 every file parsed, 2 any file had an error (all errors are printed; other files are still scanned).")]
pub struct ScanArgs {
    /// Files or directories (scanned recursively); format detected from content.
    #[arg(required_unless_present = "system_store")]
    pub paths: Vec<PathBuf>,
    /// Windows only: scan this system store of the machine (e.g. SMS), opened read-only through
    /// crypt32, instead of files; LocalMachine unless --current-user.
    #[arg(long, value_name = "NAME", conflicts_with = "paths")]
    pub system_store: Option<String>,
    /// With --system-store: the current user's store instead of LocalMachine's.
    #[arg(long, requires = "system_store", conflicts_with = "paths")]
    pub current_user: bool,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
    /// Also accept properties after the certificate (Wine's reader order) and malformed friendly-name text.
    #[arg(long)]
    pub lenient: bool,
    /// Check each certificate's self-signature with its own public key (off by default: CryptoAPI's
    /// import does not check it, and it costs far more than the rest of the scan). Without it the
    /// human listing says "signature not checked" and the JSON has signature_valid=null.
    #[arg(long)]
    pub verify_signatures: bool,
    /// Accepted for compatibility, and does nothing: signatures are not checked unless --verify-signatures.
    #[arg(long, conflicts_with = "verify_signatures")]
    pub no_verify: bool,
}

pub fn run(a: ScanArgs) -> Result<u8, CliError> {
    let opts = ScanOptions {
        mode: if a.lenient {
            ReadMode::Lenient
        } else {
            ReadMode::Strict
        },
        verify_signatures: a.verify_signatures,
    };
    let store = match a
        .system_store
        .as_deref()
        .map(|n| read_system_store(n, a.current_user))
    {
        None => None,
        Some(Ok(read)) => Some(read),
        Some(Err(message)) => {
            return Err(CliError::bad_input(message));
        }
    };
    // A progress bar on stderr when it is a terminal and the listing is not
    // (bars and a scrolling listing on one screen garble each other).
    let bar = if std::io::stderr().is_terminal()
        && !std::io::stdout().is_terminal()
        && !crate::quiet()
    {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} scanning {msg} [{bar:30}] {binary_bytes}/{binary_total_bytes}, {binary_bytes_per_sec}, eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    // Small: the streamed listing comes in chunks of tens of kilobytes,
    // which a buffer smaller than them passes straight to stdout instead
    // of copying.
    let stdout = BufWriter::with_capacity(1 << 13, std::io::stdout());
    let result = if a.json {
        JsonSink::new(stdout).and_then(|sink| {
            let mut sink = Progress {
                inner: sink,
                bar: &bar,
            };
            let totals = scan_inputs(&a, &store, opts, &mut sink)?;
            bar.finish_and_clear();
            sink.inner.finish()?;
            Ok(totals)
        })
    } else {
        let mut sink = Progress {
            inner: HumanSink {
                out: stdout,
                err: std::io::stderr(),
            },
            bar: &bar,
        };
        scan_inputs(&a, &store, opts, &mut sink).and_then(|totals| {
            bar.finish_and_clear();
            sink.inner.finish(&totals)?;
            Ok(totals)
        })
    };
    bar.finish_and_clear();
    match result {
        // The listing's reader went away (Windows; Unix ends by SIGPIPE).
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => crate::output_failed(&e),
        Err(e) => Err(CliError::failure(format!("cannot write the report: {e}"))),
        // Each file's errors are printed with it.
        Ok(t) if t.errors > 0 => Ok(EXIT_BAD_INPUT),
        // Nothing to scan is no success: say so (a directory of logs, an
        // empty one).
        Ok(t) if t.files == 0 => Err(CliError::bad_input(format!(
            "no certificate store in {}{}",
            a.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if t.skipped > 0 {
                format!(
                    " ({} file(s) skipped: not a certificate store)",
                    certmig_report::text::group_digits(t.skipped as u64)
                )
            } else {
                String::new()
            }
        ))),
        Ok(_) => Ok(EXIT_OK),
    }
}

/// What to scan: the files and directories given, or the certificates of a
/// system store, read (before any output starts) as `(label, elements)`.
type StoreRead = Option<(String, Vec<Vec<u8>>)>;

fn scan_inputs(
    a: &ScanArgs,
    store: &StoreRead,
    opts: ScanOptions,
    sink: &mut dyn ScanSink,
) -> std::io::Result<certmig_stores::scan::ScanTotals> {
    match store {
        None => scan_paths_to(&a.paths, opts, sink),
        Some((label, blobs)) => certmig_stores::scan::scan_elements_to(label, blobs, opts, sink),
    }
}

/// Reads `--system-store NAME` through crypt32, read-only.
#[cfg(windows)]
fn read_system_store(name: &str, current_user: bool) -> Result<(String, Vec<Vec<u8>>), String> {
    use certmig_fix::platform::system_store::{read, Location};
    let location = if current_user {
        Location::CurrentUser
    } else {
        Location::LocalMachine
    };
    let label = format!("{}\\{name}", location.name());
    read(location, name)
        .map(|blobs| (label.clone(), blobs))
        .map_err(|e| format!("cannot open the system store {label}: {e}"))
}

#[cfg(not(windows))]
fn read_system_store(name: &str, _current_user: bool) -> Result<(String, Vec<Vec<u8>>), String> {
    Err(format!(
        "--system-store {name}: reading a system store needs Windows (or Wine: build certmig.exe with \
         `cargo build --release --target x86_64-pc-windows-gnu`, see the README's \"Windows\")"
    ))
}

/// Draws the progress bar around another sink.
struct Progress<'b, S> {
    inner: S,
    bar: &'b indicatif::ProgressBar,
}

impl<S: ScanSink> ScanSink for Progress<'_, S> {
    fn needs_count(&self) -> bool {
        self.inner.needs_count()
    }
    fn render(&self, index: usize, c: &CertificateRecord<'_>, out: &mut Vec<u8>) {
        self.inner.render(index, c, out)
    }
    fn file_start(&mut self, f: FileStart<'_>) -> std::io::Result<()> {
        // The file's name, not its whole path: the bar stays one line.
        let name = std::path::Path::new(f.path)
            .file_name()
            .map_or_else(|| f.path.to_owned(), |n| n.to_string_lossy().into_owned());
        let short: String = if name.chars().count() > 32 {
            name.chars().take(31).chain(['…']).collect()
        } else {
            name
        };
        self.bar.set_message(short);
        self.bar.set_position(0);
        self.inner.file_start(f)
    }
    fn skipped(&mut self, skipped: &[certmig_stores::scan::Skipped]) -> std::io::Result<()> {
        self.inner.skipped(skipped)
    }
    fn rendered(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.rendered(bytes)
    }
    fn file_end(
        &mut self,
        path: &str,
        count: usize,
        errors: &[ErrorReport],
    ) -> std::io::Result<()> {
        let (inner, bar) = (&mut self.inner, self.bar);
        bar.suspend(|| inner.file_end(path, count, errors))
    }
    fn progress(&mut self, done: u64, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
    }
}

#[derive(Debug, Args)]
#[command(after_help = "\
Exit codes: 0 the whole file was dumped, 2 a file that does not exist, cannot be read or is
malformed (the dump stops at the error, which names the byte offset).

Example:
  certmig dump PC0001.sst")]
pub struct DumpArgs {
    /// A .sst, .reg or .blob file.
    pub path: PathBuf,
    /// Read leniently (see `scan --lenient`).
    #[arg(long)]
    pub lenient: bool,
}

pub fn dump(a: DumpArgs) -> Result<u8, CliError> {
    let bytes = match certmig_fix::platform::read_store(&a.path, &format::Limits::default()) {
        Ok(b) => b,
        Err(certmig_fix::platform::StoreFileError::Io(e)) => {
            return Err(CliError::input(&a.path, &e))
        }
        Err(certmig_fix::platform::StoreFileError::Format(e)) => {
            return Err(CliError::bad_input(format!("{}: {e}", a.path.display())))
        }
    };
    let mode = if a.lenient {
        ReadMode::Lenient
    } else {
        ReadMode::Strict
    };
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let dumped = format::dump::file_to(&bytes, mode, &mut stdout);
    let flushed = std::io::Write::flush(&mut stdout);
    match (dumped, flushed) {
        (Err(format::dump::DumpError::Io(e)), _) | (Ok(()), Err(e)) => crate::output_failed(&e),
        (Err(format::dump::DumpError::Format(e)), _) => Err(CliError::bad_input(format!(
            "{}: {e}\ncertmig: the dump stops there: it is not the whole file",
            a.path.display()
        ))),
        (Ok(()), Ok(())) => Ok(EXIT_OK),
    }
}
