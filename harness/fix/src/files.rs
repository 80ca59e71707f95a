//! `certmig fix`: repairing files safely.

use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::hooks::{FixHooks, NoHooks};
use super::sst::{self, SstError};
use super::write::{backup_path, parent, RealSteps, TempOutput, WriteSteps};
use super::{check_repair, CertificateRepair, InvariantViolation, Policy};
use crate::cmtrace::{LogClock, Severity};
use crate::format::reg::{self, parse_reg};
use crate::format::registry;
use crate::format::{
    self, FileFormat, FormatError, Limits, ReadMode, SerializedElement, StoreReader,
};

/// What to repair and how.
#[derive(Debug, Clone)]
pub struct FixOptions {
    pub input: PathBuf,
    /// Write here instead of in place (a directory for a blob directory).
    pub output: Option<PathBuf>,
    pub policy: Policy,
    pub dry_run: bool,
    /// Keep `IN.bak` when repairing in place.
    pub backup: bool,
    /// Write a CMTrace log, like CCMCertFix's log argument.
    pub log: Option<PathBuf>,
    /// The clock of the log (the CLI starts it at the current time).
    pub log_clock: LogClock,
}

/// Where a run's per-certificate repairs go, as they are made, and how far
/// the run has got: the listing, the JSON report and the progress bar of
/// `certmig fix` are sinks; the run keeps no certificate in memory (its
/// [`FixReport`] holds the counts).
pub trait RepairSink {
    /// Certificate `index` (from 0, in file order) and what its repair did.
    fn certificate(&mut self, index: usize, repair: CertificateRepair);
    /// `done` of the input's `total` bytes are repaired (a `.sst`: after
    /// every batch of elements; the other inputs, read whole, are not
    /// reported).
    fn progress(&mut self, done: u64, total: u64) {
        let _ = (done, total);
    }
}

/// Keeps every certificate's repair (for small stores and tests).
impl RepairSink for Vec<CertificateRepair> {
    fn certificate(&mut self, _: usize, repair: CertificateRepair) {
        self.push(repair);
    }
}

/// Keeps nothing: the report's counts are all a caller wants.
impl RepairSink for () {
    fn certificate(&mut self, _: usize, _: CertificateRepair) {}
}

/// What `fix` did: the counts and what was written (each certificate's
/// repair went to the run's [`RepairSink`]).
#[derive(Debug, Clone)]
pub struct FixReport {
    pub input: PathBuf,
    pub format: FileFormat,
    pub policy: Policy,
    pub dry_run: bool,
    pub certificates_total: usize,
    pub certificates_changed: usize,
    pub warnings: Vec<String>,
    /// The file (or directory) written, if any.
    pub wrote: Option<PathBuf>,
    pub backup: Option<PathBuf>,
}

impl FixReport {
    /// What this run left on disk, in a sentence: for an error that comes
    /// after the work was done (the log, the report on standard output),
    /// so the user knows the input was (or was not) replaced.
    pub fn on_disk(&self) -> String {
        match (&self.wrote, &self.backup) {
            (Some(w), Some(b)) => format!(
                "the repair itself is complete and on disk: {} was replaced, its original is {}",
                w.display(),
                b.display()
            ),
            (Some(w), None) if self.wrote.as_ref() == Some(&self.input) => format!(
                "the repair itself is complete and on disk: {} was replaced (no backup was asked for)",
                w.display()
            ),
            (Some(w), None) => format!(
                "the repair itself is complete and on disk: {} was written, {} is unchanged",
                w.display(),
                self.input.display()
            ),
            (None, _) if self.dry_run => format!(
                "this was a dry run: {} is unchanged and nothing else was written",
                self.input.display()
            ),
            (None, _) => format!(
                "no certificate needed a repair: {} is unchanged",
                self.input.display()
            ),
        }
    }

    /// The report of a run that has done nothing yet (format: `.sst` until
    /// the input says otherwise).
    pub fn new(opts: &FixOptions) -> Self {
        FixReport {
            input: opts.input.clone(),
            format: FileFormat::Sst,
            policy: opts.policy,
            dry_run: opts.dry_run,
            certificates_total: 0,
            certificates_changed: 0,
            warnings: Vec::new(),
            wrote: None,
            backup: None,
        }
    }
}

/// Why `fix` failed. [`FixError::is_bad_input`] errors exit 2; the others 1.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("{}: {source}", path.display())]
    BadInput { path: PathBuf, source: FormatError },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: the repaired output failed its check, nothing was replaced: {source}", path.display())]
    Invariant {
        path: PathBuf,
        source: InvariantViolation,
    },
    #[error("{}: {message}", path.display())]
    Unsupported { path: PathBuf, message: String },
    #[error("{}: another certmig fix is working on it (the file is locked); nothing was done: run again when it has finished", path.display())]
    Locked { path: PathBuf },
    /// A directory that is not a blob directory (bad input; nothing done).
    #[error("{}: not a directory of .blob files (it holds {found}); nothing was done: repair each store by itself (certmig fix FILE)", path.display())]
    NotABlobDirectory { path: PathBuf, found: String },
    /// A blob directory's set of repaired files could not be committed whole.
    #[error("{}: {source}; the repair was not committed: {outcome}", path.display())]
    SetNotCommitted {
        path: PathBuf,
        source: io::Error,
        outcome: String,
    },
    /// The log could not be written after the run had done its work: the
    /// error says what is on disk ([`FixReport::on_disk`]).
    #[error("{}: the log could not be written: {source}; {done}", path.display())]
    LogNotWritten {
        path: PathBuf,
        source: io::Error,
        done: String,
    },
    /// The input is a FIFO, a device or a socket (bad input; not opened).
    #[error("{}: {kind}, not a regular file or a directory: not read; nothing was done", path.display())]
    SpecialFile { path: PathBuf, kind: &'static str },
    /// Two paths of one run name the same file (bad input; nothing done).
    #[error("{}: {what} is {other}; nothing was done", path.display())]
    PathConflict {
        path: PathBuf,
        what: &'static str,
        other: String,
    },
}

impl FixError {
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            FixError::BadInput { .. }
                | FixError::PathConflict { .. }
                | FixError::SpecialFile { .. }
                | FixError::NotABlobDirectory { .. }
        )
    }
}

/// The path rule for `--log`: never the input, its backup, the output, or
/// a file inside a blob directory being repaired.
fn check_log_path(opts: &FixOptions, target: &Path, in_place: bool) -> Result<(), FixError> {
    let Some(log) = &opts.log else {
        return Ok(());
    };
    crate::platform::check_output_place(log).map_err(io_err(log))?;
    let conflict = |what: &'static str, other: &Path| FixError::PathConflict {
        path: log.clone(),
        what,
        other: format!("{}", other.display()),
    };
    if crate::platform::same_place(log, &opts.input) {
        return Err(conflict("the log", &opts.input));
    }
    if !in_place && crate::platform::same_place(log, target) {
        return Err(conflict("the log is the output", target));
    }
    let backup = backup_path(&opts.input);
    if in_place && opts.backup && crate::platform::same_place(log, &backup) {
        return Err(conflict("the log is the backup", &backup));
    }
    for dir in [Some(opts.input.as_path()), (!in_place).then_some(target)]
        .into_iter()
        .flatten()
        .filter(|d| d.is_dir())
    {
        if crate::platform::is_inside(log, dir) {
            return Err(conflict("the log is inside the blob directory", dir));
        }
    }
    Ok(())
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> FixError + '_ {
    move |source| FixError::Io {
        path: path.to_owned(),
        source,
    }
}

fn bad(path: &Path) -> impl Fn(FormatError) -> FixError + '_ {
    move |source| FixError::BadInput {
        path: path.to_owned(),
        source,
    }
}

/// Repairs a file or blob directory with the real file system; each
/// certificate's repair goes to `sink` as it is made.
pub fn run(opts: &FixOptions, sink: &mut dyn RepairSink) -> Result<FixReport, FixError> {
    run_hooked(opts, &RealSteps, &NoHooks, sink)
}

/// Repairs with the given write steps (tests inject failures here), keeping
/// only the counts.
pub fn run_with(opts: &FixOptions, steps: &dyn WriteSteps) -> Result<FixReport, FixError> {
    run_hooked(opts, steps, &NoHooks, &mut ())
}

/// Repairs with the given write steps and hooks (the test mutants change the
/// pipeline here; [`NoHooks`] is `certmig fix`).
pub fn run_hooked(
    opts: &FixOptions,
    steps: &dyn WriteSteps,
    hooks: &dyn FixHooks,
    sink: &mut dyn RepairSink,
) -> Result<FixReport, FixError> {
    let log = match &opts.log {
        Some(path) => Some(Mutex::new(LogSpill::new(opts).map_err(|e| {
            FixError::Io {
                path: path.clone(),
                source: e,
            }
        })?)),
        None => None,
    };
    let resolved = resolve_link(opts)?;
    let (opts, note) = match &resolved {
        Some((o, note)) => (o, Some(note)),
        None => (opts, None),
    };
    let pipeline = Pipeline {
        steps,
        hooks,
        log,
        sink: std::cell::RefCell::new(sink),
    };
    let outcome = fix(opts, &pipeline).map(|mut r| {
        r.warnings.splice(0..0, note.cloned());
        r
    });
    hooks.finish(opts, outcome)
}

/// An in-place repair of a symbolic link repairs the file it points to,
/// where it is: the link is kept, the backup is made beside the real file,
/// the real file's owner and mode are kept. Returns the options with the
/// real file as input, and a line saying so; `None` when the input is not
/// a link or the run writes elsewhere (`-o`).
fn resolve_link(opts: &FixOptions) -> Result<Option<(FixOptions, String)>, FixError> {
    let input = &opts.input;
    let meta = std::fs::symlink_metadata(input).map_err(io_err(input))?;
    // Only a link to a regular file is followed: anything else is refused
    // by `fix` under the name the user gave.
    let points_to_file = std::fs::metadata(input).is_ok_and(|m| m.is_file());
    if !meta.file_type().is_symlink() || !points_to_file || !target(opts).1 {
        return Ok(None);
    }
    let real = std::fs::canonicalize(input).map_err(io_err(input))?;
    let note = format!(
        "{} is a symbolic link: the file it points to, {}, is the one repaired (the link is kept)",
        input.display(),
        real.display()
    );
    let mut resolved = opts.clone();
    resolved.input = real;
    resolved.output = None;
    Ok(Some((resolved, note)))
}

/// The CMTrace log of a run (`--log`), written as the certificates are
/// repaired: every certificate's lines, whatever the listing keeps, go to
/// an anonymous temporary file (no memory per certificate), copied into
/// the log file (written safely) once the run is over.
struct LogSpill {
    clock: LogClock,
    file: io::BufWriter<File>,
    error: Option<io::Error>,
}

const LOG_COMPONENT: &str = "CCMCertFix";

impl LogSpill {
    fn new(opts: &FixOptions) -> io::Result<LogSpill> {
        let mut log = LogSpill {
            clock: opts.log_clock.clone(),
            file: io::BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
            error: None,
        };
        log.line(
            Severity::Information,
            format!(
                "CCMCertFix (certmig reference) started; policy {}; input {}",
                opts.policy,
                opts.input.display()
            ),
        );
        Ok(log)
    }

    fn line(&mut self, severity: Severity, message: String) {
        if self.error.is_some() {
            return;
        }
        let line = crate::cmtrace::LogLine {
            message,
            time: self.clock.tick(),
            component: LOG_COMPONENT.to_owned(),
            severity,
            thread: 1,
        };
        if let Err(e) = write!(self.file, "{line}\r\n") {
            self.error = Some(e);
        }
    }

    /// One certificate's lines.
    fn certificate(&mut self, c: &CertificateRepair, policy: Policy) {
        let info = Severity::Information;
        self.line(
            info,
            format!("Processing certificate {} in store SMS", c.thumbprint),
        );
        if c.changed {
            self.line(
                info,
                format!(
                    "Friendly name \"{}\" contains an embedded NUL; rewritten as \"{}\" (policy {policy})",
                    c.before.as_deref().map(format::friendly_name::escape).unwrap_or_default(),
                    c.after.as_deref().map(format::friendly_name::escape).unwrap_or_default(),
                ),
            );
        }
        if let Some(w) = &c.warning {
            self.line(Severity::Warning, w.clone());
        }
    }

    /// The summary, then the whole log into `path` (temporary file in its
    /// directory, fsync, rename).
    fn finish(
        &mut self,
        opts: &FixOptions,
        report: &FixReport,
        path: &Path,
        steps: &dyn WriteSteps,
    ) -> io::Result<()> {
        use std::io::{Seek, SeekFrom};
        self.line(
            Severity::Information,
            format!(
                "Certificate store {}: {} of {} certificates updated",
                if opts.dry_run {
                    "checked (dry run)"
                } else {
                    "repaired"
                },
                report.certificates_changed,
                report.certificates_total
            ),
        );
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.file.flush()?;
        let spill = self.file.get_mut();
        spill.seek(SeekFrom::Start(0))?;
        let mut out = TempOutput::create(steps, path)?;
        io::copy(spill, &mut out)?;
        out.fsync()?;
        out.commit(path, None)
    }
}

/// What every path of a run goes through: the write steps, the hooks, the
/// log and the caller's sink.
struct Pipeline<'a> {
    log: Option<Mutex<LogSpill>>,
    steps: &'a dyn WriteSteps,
    hooks: &'a dyn FixHooks,
    sink: std::cell::RefCell<&'a mut dyn RepairSink>,
}

fn fix(opts: &FixOptions, p: &Pipeline<'_>) -> Result<FixReport, FixError> {
    let input = &opts.input;
    let meta = std::fs::metadata(input).map_err(io_err(input))?;
    if !meta.is_file() && !meta.is_dir() {
        return Err(FixError::SpecialFile {
            path: input.clone(),
            kind: crate::platform::kind_of(meta.file_type()),
        });
    }
    let (target_path, in_place) = target(opts);
    if !in_place && !meta.is_dir() {
        crate::platform::check_output_place(&target_path).map_err(io_err(&target_path))?;
        // Another name for the input (a hard link): not an output of its own.
        if crate::platform::same_place(&target_path, input) {
            return Err(FixError::PathConflict {
                path: target_path,
                what: "-o names the same file as the input (a hard link; to repair in place, give no -o): the input",
                other: format!("{}", input.display()),
            });
        }
    }
    check_log_path(opts, &target_path, in_place)?;
    let _lock = super::lock::InputLock::acquire(input, in_place && !opts.dry_run)?;
    // An existing output is locked too, exclusively: another run repairing
    // that file in place (or writing it with -o) must not have its file
    // replaced under it, nor back up this run's output as its original.
    let _output_lock = if !in_place && !opts.dry_run && target_path.exists() {
        Some(super::lock::InputLock::acquire(&target_path, true)?)
    } else {
        None
    };
    let mut report = FixReport::new(opts);
    if !opts.dry_run {
        let dir = if meta.is_dir() && in_place {
            input.as_path()
        } else {
            parent(&target_path)
        };
        report.warnings.extend(super::lock::remove_stale_temps(dir));
    }
    if meta.is_dir() {
        report.format = FileFormat::BlobDir;
        fix_blob_dir(opts, p, &mut report)?;
    } else {
        let mut head = [0u8; 64];
        let n = io::Read::read(
            &mut crate::platform::open_regular(input, crate::platform::Links::Follow)
                .map_err(io_err(input))?
                .0,
            &mut head,
        )
        .map_err(io_err(input))?;
        match format::detect(&head[..n]) {
            FileFormat::Sst => fix_sst(opts, p, &mut report)?,
            FileFormat::Reg => {
                report.format = FileFormat::Reg;
                fix_whole_file(opts, p, &mut report)?
            }
            FileFormat::Blob | FileFormat::BlobDir => {
                report.format = FileFormat::Blob;
                fix_whole_file(opts, p, &mut report)?
            }
        }
    }
    if let (Some(log), Some(path)) = (&p.log, &opts.log) {
        let finished = log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .finish(opts, &report, path, p.steps);
        if let Err(source) = finished {
            return Err(FixError::LogNotWritten {
                path: path.clone(),
                source,
                done: report.on_disk(),
            });
        }
    }
    Ok(report)
}

/// The safe replace, written once for every output of `fix`: a temporary
/// file in `target`'s directory is filled by `fill` (which may record into
/// the report, and may check what it writes as it goes), shown to the
/// hooks, fsynced, re-read and checked by `check`,
/// and only then committed: the backup of `backup.0` at `backup.1` (when
/// given), the rename over the target, the directory fsync
/// ([`TempOutput::commit`]). With `only_if_changed` and no certificate
/// changed, nothing is replaced (in place: the input, and any earlier
/// backup, stay as they are). Every step goes through the pipeline's
/// [`WriteSteps`]; a failure at any step removes the temporary file and
/// leaves the target and the input as they were. Returns whether the target
/// was replaced.
fn safe_replace(
    p: &Pipeline<'_>,
    report: &mut FixReport,
    (target, backup): (&Path, Option<(&Path, &Path)>),
    only_if_changed: bool,
    fill: impl FnOnce(&mut TempOutput<'_>, &mut FixReport) -> Result<(), FixError>,
    check: impl FnOnce(&Path) -> Result<(), FixError>,
) -> Result<bool, FixError> {
    let mut temp = TempOutput::create(p.steps, target).map_err(io_err(target))?;
    fill(&mut temp, report)?;
    p.hooks
        .output(report, temp.path())
        .map_err(io_err(target))?;
    temp.fsync().map_err(io_err(target))?;
    if p.hooks.checks_output() {
        check(temp.path())?;
    }
    if only_if_changed && report.certificates_changed == 0 {
        return Ok(false);
    }
    temp.commit(target, backup).map_err(io_err(target))?;
    Ok(true)
}

/// [`safe_replace`] for a one-file input: to `OUT`, or in place (keeping
/// `IN.bak` when asked); `check` gets the temporary file and the target.
fn replace_file(
    opts: &FixOptions,
    p: &Pipeline<'_>,
    report: &mut FixReport,
    fill: impl FnOnce(&mut TempOutput<'_>, &mut FixReport) -> Result<(), FixError>,
    check: impl FnOnce(&Path, &Path) -> Result<(), FixError>,
) -> Result<(), FixError> {
    let (target, in_place) = target(opts);
    let backup = (in_place && opts.backup).then(|| backup_path(&opts.input));
    let backup_of = backup.as_deref().map(|b| (opts.input.as_path(), b));
    let check = |temp: &Path| check(temp, &target);
    if safe_replace(p, report, (&target, backup_of), in_place, fill, check)? {
        report.wrote = Some(target.clone());
        report.backup = backup;
    }
    Ok(())
}

fn record(p: &Pipeline<'_>, report: &mut FixReport, r: CertificateRepair, opts: &FixOptions) {
    if let Some(log) = &p.log {
        log.lock()
            .unwrap_or_else(|e| e.into_inner())
            .certificate(&r, opts.policy);
    }
    report.certificates_total += 1;
    if r.changed {
        report.certificates_changed += 1;
    }
    if let Some(w) = &r.warning {
        report.warnings.push(format!("{}: {w}", r.thumbprint));
    }
    p.sink
        .borrow_mut()
        .certificate(report.certificates_total - 1, r);
}

/// Where the output goes, and whether that is the input itself.
fn target(opts: &FixOptions) -> (PathBuf, bool) {
    match &opts.output {
        Some(o) if !same_file(o, &opts.input) => (o.clone(), false),
        _ => (opts.input.clone(), true),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Streams a `.sst` through the pipeline of [`super::sst`]: reading,
/// repairing and checking, and writing overlap; memory stays bounded by a
/// few batches of elements. The check of what was written is split in two:
/// every element is checked against the input as it is written, and after
/// the fsync the temporary file is re-read and compared with the hashes of
/// the bytes written.
fn fix_sst(opts: &FixOptions, p: &Pipeline<'_>, report: &mut FixReport) -> Result<(), FixError> {
    let input = &opts.input;
    let limits = Limits::default();
    // Opened as the regular file it was found to be (what replaced it since,
    // a FIFO say, is refused without blocking), and read to its size now.
    let (f, len) = crate::platform::open_regular(input, crate::platform::Links::Follow)
        .map_err(io_err(input))?;
    let reader = StoreReader::open(f, len, limits).map_err(|e| stream_err(input, e))?;
    let (target, _) = target(opts);
    let written = std::cell::RefCell::new(None);
    let stream = |out: Option<sst::Output<'_, '_>>, report: &mut FixReport| {
        sst::stream(
            reader,
            out,
            opts.policy,
            &limits,
            |i, e| p.hooks.repair(i, e, opts.policy),
            |r| record(p, report, r, opts),
            |done| p.sink.borrow_mut().progress(done, len),
        )
        .map_err(|e| match e {
            SstError::Read(e) => stream_err(input, e),
            SstError::Element(source) => FixError::BadInput {
                path: input.clone(),
                source,
            },
            SstError::Write(source) => FixError::Io {
                path: target.clone(),
                source,
            },
            SstError::Invariant(source) => FixError::Invariant {
                path: target.clone(),
                source,
            },
        })
    };
    if opts.dry_run {
        return stream(None, report).map(drop);
    }
    let check = p.hooks.checks_output();
    replace_file(
        opts,
        p,
        report,
        |out, report| {
            *written.borrow_mut() = Some(stream(Some(sst::Output { out, check }), report)?);
            Ok(())
        },
        |temp, target| {
            let written = written.borrow();
            let written = written.as_ref().expect("the store was written");
            match written.verify(temp).map_err(io_err(target))? {
                Ok(()) => Ok(()),
                Err(message) => Err(invariant(target, 0, message)),
            }
        },
    )
}

fn stream_err(path: &Path, e: format::store::StreamError) -> FixError {
    match e {
        format::store::StreamError::Format(source) => FixError::BadInput {
            path: path.to_owned(),
            source,
        },
        format::store::StreamError::Io(source) => FixError::Io {
            path: path.to_owned(),
            source,
        },
    }
}

fn invariant(path: &Path, index: usize, message: String) -> FixError {
    FixError::Invariant {
        path: path.to_owned(),
        source: InvariantViolation { index, message },
    }
}

/// `.reg` and single-element files: small, read whole.
fn fix_whole_file(
    opts: &FixOptions,
    p: &Pipeline<'_>,
    report: &mut FixReport,
) -> Result<(), FixError> {
    let input = &opts.input;
    let bytes = crate::platform::read_store(input, &Limits::default()).map_err(|e| match e {
        crate::platform::StoreFileError::Io(e) => io_err(input)(e),
        crate::platform::StoreFileError::Format(e) => bad(input)(e),
    })?;
    let (before, original, new_bytes) = match report.format {
        FileFormat::Reg => {
            // Only the Blob values of the certificates repaired change; every
            // other byte of the export (other keys and values, comments,
            // wrapping, line ends, encoding) is copied as it is.
            let parsed = parse_reg(&bytes, ReadMode::Strict).map_err(bad(input))?;
            let before: Vec<_> = parsed
                .store
                .certificates
                .iter()
                .map(|c| c.element.clone())
                .collect();
            let mut repaired = Vec::new();
            for (i, e) in before.iter().enumerate() {
                let mut e = e.clone();
                let r = p.hooks.repair(i, &mut e, opts.policy);
                let changed = r.changed;
                record(p, report, r, opts);
                if changed {
                    repaired.push((i, e));
                }
            }
            let new_bytes = reg::splice_blobs(&bytes, &parsed, &repaired);
            (before, Some(parsed.blob_spans), new_bytes)
        }
        _ => {
            let mut e = format::parse_element_file(&bytes, ReadMode::Strict).map_err(bad(input))?;
            if let Some(stem) = input
                .file_stem()
                .and_then(|s| s.to_str())
                .filter(|s| format::Thumbprint::looks_like(s))
            {
                registry::parse_blob(&bytes, stem, ReadMode::Strict).map_err(bad(input))?;
            }
            let before = vec![e.clone().into_owned()];
            let r = p.hooks.repair(0, &mut e, opts.policy);
            record(p, report, r, opts);
            (before, None, e.to_bytes())
        }
    };
    if opts.dry_run {
        return Ok(());
    }
    let (format, (to, _)) = (report.format, target(opts));
    replace_file(
        opts,
        p,
        report,
        |out, _| out.write_all(&new_bytes).map_err(io_err(&to)),
        |temp, target| {
            let original = original.as_deref().map(|spans| (&bytes[..], spans));
            check_written(format, &before, original, temp, target, opts.policy)
        },
    )
}

/// Re-reads a written `.reg` or element file (`temp`, to become `target`)
/// and checks it against the certificates it was made from. For a `.reg`,
/// `original` is the input and its `Blob` spans: every byte outside the
/// `Blob` values must be the same, and so must the `Blob` value of every
/// certificate whose element did not change.
fn check_written(
    format: FileFormat,
    before: &[SerializedElement<'_>],
    original: Option<(&[u8], &[Range<usize>])>,
    temp: &Path,
    target: &Path,
    policy: Policy,
) -> Result<(), FixError> {
    let written = std::fs::read(temp).map_err(io_err(target))?;
    let after: Vec<SerializedElement<'_>> = match format {
        FileFormat::Reg => {
            let parsed = parse_reg(&written, ReadMode::Strict)
                .map_err(|e| invariant(target, 0, e.to_string()))?;
            if let Some((input, spans)) = original {
                let ours = (&written[..], &parsed.blob_spans[..]);
                if let Some(at) = reg::first_difference_outside_blobs((input, spans), ours) {
                    return Err(invariant(
                        target,
                        0,
                        format!("byte {at} outside the Blob values differs from the input"),
                    ));
                }
                let certificates = &parsed.store.certificates;
                for (i, (a, b)) in spans.iter().zip(&parsed.blob_spans).enumerate() {
                    let same = before.get(i) == certificates.get(i).map(|c| &c.element);
                    if same && input[a.clone()] != written[b.clone()] {
                        return Err(invariant(
                            target,
                            i,
                            "the Blob value of an unchanged certificate was rewritten".into(),
                        ));
                    }
                }
            }
            parsed
                .store
                .certificates
                .into_iter()
                .map(|c| c.element)
                .collect()
        }
        _ => vec![SerializedElement::parse(&written, 0, ReadMode::Strict)
            .map_err(|e| invariant(target, 0, e.to_string()))?],
    };
    check_repair(before, &after, policy).map_err(|source| FixError::Invariant {
        path: target.to_owned(),
        source,
    })
}

/// A directory of `<THUMBPRINT>.blob` files: every file is parsed and
/// checked before any is replaced; each is then written safely.
/// The `.blob` files of a blob directory, refusing a directory that holds
/// anything else a store could be in (another file, a link, a FIFO, a
/// subdirectory): such a directory is not a blob directory, and repairing
/// only its `.blob` files would call a partial repair whole. Earlier
/// backups (`*.blob.bak`) and certmig's own temporary files are allowed;
/// an empty directory is an empty store (a registry key with no
/// certificates).
fn blob_dir_files(dir: &Path) -> Result<Vec<PathBuf>, FixError> {
    let io = io_err(dir);
    let mut blobs = Vec::new();
    let mut others = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(&io)? {
        let entry = entry.map_err(&io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let lower = name.to_ascii_lowercase();
        let kind = entry.file_type().map_err(&io)?;
        let regular = kind.is_file();
        if regular && lower.ends_with(".blob") {
            blobs.push(entry.path());
        } else if regular
            && (lower.ends_with(".blob.bak") || name.starts_with(super::lock::TEMP_PREFIX))
        {
        } else if regular {
            others.push(name);
        } else {
            others.push(format!("{name} ({})", crate::platform::kind_of(kind)));
        }
    }
    if !others.is_empty() {
        others.sort();
        let shown: Vec<&str> = others.iter().take(50).map(String::as_str).collect();
        let more = others.len() - shown.len();
        return Err(FixError::NotABlobDirectory {
            path: dir.to_owned(),
            found: format!(
                "{}{}",
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
        });
    }
    blobs.sort();
    Ok(blobs)
}

/// One repaired blob file, staged (written, fsynced, checked) before any
/// is committed.
struct Staged<'s> {
    temp: TempOutput<'s>,
    target: PathBuf,
    /// The file it backs up when repaired in place, and the backup's path.
    backup: Option<(PathBuf, PathBuf)>,
    /// What `target` and the backup held before (to restore them).
    target_before: Option<Vec<u8>>,
    backup_before: Option<Vec<u8>>,
}

/// A blob directory is repaired as a set: every changed file is staged
/// first; only when all are ready are they committed, and if a commit
/// fails, the files already replaced (and the backups made) are put back,
/// so the directory is as it was; the error says so, or says exactly what
/// could not be put back.
fn fix_blob_dir(
    opts: &FixOptions,
    p: &Pipeline<'_>,
    report: &mut FixReport,
) -> Result<(), FixError> {
    let dir = &opts.input;
    let paths = blob_dir_files(dir)?;
    let mut files = Vec::with_capacity(paths.len());
    for path in &paths {
        let bytes = crate::platform::read_regular(path).map_err(io_err(path))?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let e = registry::parse_blob(&bytes, stem, ReadMode::Strict)
            .map_err(bad(path))?
            .into_owned();
        files.push((path.clone(), bytes, e));
    }
    let out_dir = opts.output.clone().filter(|o| !same_file(o, dir));
    if let Some(o) = &out_dir {
        if !opts.dry_run {
            std::fs::create_dir_all(o).map_err(io_err(o))?;
        }
    }
    let mut staged: Vec<Staged<'_>> = Vec::new();
    for (i, (path, bytes, before)) in files.into_iter().enumerate() {
        let mut after = before.clone();
        let r = p.hooks.repair(i, &mut after, opts.policy);
        let changed = r.changed;
        record(p, report, r, opts);
        if opts.dry_run {
            continue;
        }
        let target = match &out_dir {
            Some(o) => o.join(path.file_name().unwrap_or_default()),
            None if changed => path.clone(),
            None => continue,
        };
        let new_bytes = if changed { after.to_bytes() } else { bytes };
        let backup = (out_dir.is_none() && opts.backup).then(|| (path.clone(), backup_path(&path)));
        let mut temp = TempOutput::create(p.steps, &target).map_err(io_err(&target))?;
        temp.write_all(&new_bytes).map_err(io_err(&target))?;
        p.hooks
            .output(report, temp.path())
            .map_err(io_err(&target))?;
        temp.fsync().map_err(io_err(&target))?;
        if p.hooks.checks_output() {
            let before = std::slice::from_ref(&before);
            check_written(
                FileFormat::Blob,
                before,
                None,
                temp.path(),
                &target,
                opts.policy,
            )?;
        }
        // What the target held, to put back if the set cannot be committed:
        // read without following a link (a link in the output directory is
        // refused: a set is committed only where it can be put back).
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(FixError::Io {
                path: target.clone(),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a symbolic link where a repaired .blob file would go: not replaced, nothing was committed",
                ),
            });
        }
        let previous = |p: &Path| -> Result<Option<Vec<u8>>, FixError> {
            let (f, len) = match crate::platform::open_regular(p, crate::platform::Links::Refuse) {
                Ok(opened) => opened,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io_err(p)(e)),
            };
            let mut bytes = Vec::new();
            io::Read::read_to_end(&mut io::Read::take(f, len), &mut bytes).map_err(io_err(p))?;
            Ok(Some(bytes))
        };
        let backup_before = match &backup {
            Some((_, b)) => previous(b)?,
            None => None,
        };
        staged.push(Staged {
            target_before: previous(&target)?,
            backup_before,
            temp,
            target,
            backup,
        });
    }
    let mut committed: Vec<Committed> = Vec::new();
    for item in staged {
        let backup_of = item
            .backup
            .as_ref()
            .map(|(i, b)| (i.as_path(), b.as_path()));
        if let Err(e) = item.temp.commit(&item.target, backup_of) {
            let outcome = restore(&committed, p.steps);
            return Err(FixError::SetNotCommitted {
                path: item.target.clone(),
                source: e,
                outcome,
            });
        }
        committed.push(Committed {
            target: (item.target, item.target_before),
            backup: item.backup.map(|(_, b)| (b, item.backup_before)),
        });
    }
    if !opts.dry_run {
        report.wrote = Some(out_dir.unwrap_or_else(|| dir.clone()));
    }
    Ok(())
}

/// A path and what it held before a commit (`None`: nothing was there).
type Previous = (PathBuf, Option<Vec<u8>>);

/// One file of a set that was committed, and its backup if one was made.
struct Committed {
    target: Previous,
    backup: Option<Previous>,
}

/// Puts back the files of a set committed so far (their bytes before, or
/// nothing where there was nothing), and the backups; says what is on disk.
fn restore(committed: &[Committed], steps: &dyn WriteSteps) -> String {
    let mut failed = Vec::new();
    let mut put = |path: &Path, before: &Option<Vec<u8>>| {
        let r = match before {
            Some(bytes) => super::write::write_with(steps, path, bytes),
            None => std::fs::remove_file(path),
        };
        if let Err(e) = r {
            failed.push(format!("{}: {e}", path.display()));
        }
    };
    for c in committed {
        for (path, before) in std::iter::once(&c.target).chain(&c.backup) {
            put(path, before);
        }
    }
    if failed.is_empty() {
        format!(
            "the {} file(s) already replaced were put back: the directory is as it was",
            committed.len()
        )
    } else {
        format!(
            "{} of the {} file(s) already replaced could not be put back ({}): those hold the repair, the others are as they were",
            failed.len(),
            committed.len(),
            failed.join("; ")
        )
    }
}
