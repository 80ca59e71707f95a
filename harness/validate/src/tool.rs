//! Running an external fix tool in isolation: a command template split like
//! the platform splits command lines (never run through a shell), its
//! program found before any case runs, `{in}`/`{out}` replaced by paths
//! inside a fresh case directory of the validation's [`Sandbox`] (see
//! [`super::contain`] for what each platform contains), everything it
//! starts killed on timeout, when the output grows past a limit or when it
//! exits, stdout and stderr captured (bounded), and what it wrote read back
//! as untrusted input ([`read_output`]: regular files only, links never
//! followed, bounded by `--max-output` whatever the file claims).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::contain::{self, CaseDir, Sandbox};
use super::corpus::{render, CaseInput};
use crate::fix::{Fixer, FixerError};
use crate::format::reg::parse_reg;
use crate::format::{FileFormat, PropertyId, ReadMode, SerializedElement, SerializedStore};
use crate::platform;

/// How much of stdout and of stderr a report keeps.
pub const CAPTURE_LIMIT: usize = 64 * 1024;

/// A fix tool's command line with `{in}` and `{out}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCommand {
    pub words: Vec<String>,
    /// True when the template has `{out}`; otherwise the tool repairs `{in}` in place.
    pub has_out: bool,
}

/// A command template that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the fixer command is empty")]
    Empty,
    #[error("the fixer command has unbalanced quotes: {0}")]
    Quotes(String),
    #[error(
        "the fixer command must contain {{in}} (and {{out}} unless the tool repairs in place): {0}"
    )]
    NoInput(String),
    #[error("the fixer's program `{0}` was not found ({1})")]
    NotFound(String, String),
}

impl ToolCommand {
    /// Splits `template` like the platform's command lines (POSIX shell
    /// words on Unix, `CommandLineToArgvW` on Windows: see
    /// [`platform::split_command`]), with no expansion of any kind.
    pub fn parse(template: &str) -> Result<ToolCommand, TemplateError> {
        let words = platform::split_command(template)
            .ok_or_else(|| TemplateError::Quotes(template.to_owned()))?;
        if words.is_empty() {
            return Err(TemplateError::Empty);
        }
        if !words.iter().any(|w| w.contains("{in}")) {
            return Err(TemplateError::NoInput(template.to_owned()));
        }
        let has_out = words.iter().any(|w| w.contains("{out}"));
        // The tool runs inside each case's temporary directory: a relative
        // path in the command (a word with a directory part that names an
        // existing file, e.g. `scripts/fix.py`) is resolved against the current directory,
        // as the shell the user typed it in would have.
        let words = words
            .into_iter()
            .map(|w| {
                let p = Path::new(&w);
                if !w.contains('{')
                    && platform::has_directory_part(&w)
                    && p.is_relative()
                    && p.exists()
                {
                    std::path::absolute(p)
                        .map(|a| a.display().to_string())
                        .unwrap_or(w)
                } else {
                    w
                }
            })
            .collect();
        Ok(ToolCommand { words, has_out })
    }

    /// Finds the program as the shell would (a path with a directory part
    /// against the current directory, a bare name on `PATH`) and puts its
    /// full path in place: a program that is missing or not executable is
    /// bad input before any case runs, and the sandbox executes a full path.
    pub fn resolve_program(&mut self) -> Result<(), TemplateError> {
        let program = which::which(&self.words[0])
            .map_err(|e| TemplateError::NotFound(self.words[0].clone(), e.to_string()))?;
        let program = std::path::absolute(&program).unwrap_or(program);
        self.words[0] = program.display().to_string();
        Ok(())
    }

    fn argv(&self, input: &Path, output: &Path) -> Vec<String> {
        let (i, o) = (input.display().to_string(), output.display().to_string());
        self.words
            .iter()
            .map(|w| w.replace("{in}", &i).replace("{out}", &o))
            .collect()
    }
}

/// Limits of one run.
#[derive(Debug, Clone, Copy)]
pub struct RunLimits {
    pub timeout: Duration,
    /// Largest output the tool may write (bytes, a directory's files added
    /// up), and the most certmig reads of it.
    pub max_output: u64,
    /// Memory the tool and everything it starts may commit together
    /// (enforced on Windows by the Job Object; not capped elsewhere).
    pub max_memory: u64,
}

/// At most this many entries of a `blob-dir` output are read.
pub const MAX_OUTPUT_ENTRIES: usize = 10_000;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "ended", rename_all = "kebab-case")]
pub enum Exit {
    Code {
        code: i32,
    },
    Signal {
        signal: i32,
    },
    /// Windows: the process ended with an NTSTATUS error code (0xC0000000
    /// and up: an access violation, a stack overflow, ...), a crash.
    Exception {
        code: u32,
    },
    TimedOut {
        after_ms: u64,
    },
    OutputTooLarge {
        bytes: u64,
    },
    /// The program could not be started at all.
    SpawnFailed {
        error: String,
    },
}

impl Exit {
    pub fn success(&self) -> bool {
        *self == Exit::Code { code: 0 }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code { code } => write!(f, "exit code {code}"),
            Exit::Signal { signal } => write!(f, "killed by signal {signal} (crash)"),
            Exit::Exception { code } => write!(f, "ended by exception 0x{code:08X} (crash)"),
            Exit::TimedOut { after_ms } => {
                write!(
                    f,
                    "timed out after {after_ms} ms (everything it started killed)"
                )
            }
            Exit::OutputTooLarge { bytes } => write!(
                f,
                "output grew past the limit ({bytes} bytes; everything it started killed)"
            ),
            Exit::SpawnFailed { error } => write!(f, "could not be started: {error}"),
        }
    }
}

/// One run of the tool.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub argv: Vec<String>,
    pub exit: Exit,
    pub stdout: String,
    pub stderr: String,
    pub millis: u64,
    /// (Process-group containment only.) A process the tool started left
    /// its process group and still held the tool's output pipes after the
    /// group was killed.
    pub escaped: bool,
    /// Processes the tool left running after it exited (killed with the
    /// run), as `pid N: command line`.
    pub left_running: Vec<String>,
    /// Writes outside its case directory (prevented), one line each
    /// (`wrote /tmp/x`, `removed ...`), at most 20, then a count.
    pub writes_outside: Vec<String>,
}

impl Run {
    /// What this run did that a fix tool must never do, one line each.
    pub fn hazards(&self) -> Vec<String> {
        let who = self.argv.join(" ");
        let mut out = Vec::new();
        if self.escaped {
            out.push(format!("{who}: a process it started left its process group and kept running (its output pipe was still open after the group was killed)"));
        }
        if !self.left_running.is_empty() {
            out.push(format!(
                "{who}: left processes running after it exited (killed): {}",
                self.left_running.join("; ")
            ));
        }
        for w in &self.writes_outside {
            out.push(format!("outside its case directory (prevented): {w}"));
        }
        out
    }
}

/// Reads a pipe to the end in a thread, keeping the first
/// [`CAPTURE_LIMIT`] bytes; the text arrives on the returned channel.
fn drain(mut r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        let mut dropped = 0u64;
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            let room = CAPTURE_LIMIT.saturating_sub(kept.len()).min(n);
            kept.extend_from_slice(&buf[..room]);
            dropped += (n - room) as u64;
        }
        let mut s = String::from_utf8_lossy(&kept).into_owned();
        if dropped > 0 {
            s.push_str(&format!("\n[... {dropped} more bytes not kept]"));
        }
        let _ = tx.send(s);
    });
    rx
}

/// How long to wait for the output pipes once the tool's processes are dead.
const PIPE_GRACE: Duration = Duration::from_secs(1);

/// The captured text, or a note when a process outside the containment
/// still holds the pipe (the reading thread is then left to finish on its
/// own).
fn collect(rx: Option<mpsc::Receiver<String>>, escaped: &mut bool) -> String {
    match rx.map(|r| r.recv_timeout(PIPE_GRACE)) {
        Some(Ok(s)) => s,
        Some(Err(_)) => {
            *escaped = true;
            "[the pipe was still held open by a process that left the tool's process group]"
                .to_owned()
        }
        None => String::new(),
    }
}

/// Bytes under `p` (a file, or a directory's files, one level), without
/// following links; used to watch a running tool's output.
pub fn size_of(p: &Path) -> u64 {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::read_dir(p)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .take(MAX_OUTPUT_ENTRIES + 1)
                    .filter_map(|e| std::fs::symlink_metadata(e.path()).ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// Runs the tool once in `case` with `input`/`output` (paths inside it).
pub fn run_tool(
    sandbox: &Sandbox,
    case: &CaseDir,
    cmd: &ToolCommand,
    input: &Path,
    output: &Path,
    limits: RunLimits,
) -> Run {
    let argv = cmd.argv(input, output);
    let start = Instant::now();
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let spawn_failed = |argv: Vec<String>, error: String| Run {
        argv,
        exit: Exit::SpawnFailed { error },
        stdout: String::new(),
        stderr: String::new(),
        millis: 0,
        escaped: false,
        left_running: vec![],
        writes_outside: vec![],
    };
    let mut running = match sandbox.spawn(&mut command, case, &argv, limits.max_memory) {
        Ok(c) => c,
        Err(e) => return spawn_failed(argv, e.to_string()),
    };
    let out = running.child().stdout.take().map(drain);
    let err = running.child().stderr.take().map(drain);
    let mut poll = Duration::from_millis(1);
    let ended = loop {
        if running.exited(poll) {
            break None;
        }
        let elapsed = start.elapsed();
        if elapsed >= limits.timeout {
            break Some(Exit::TimedOut {
                after_ms: elapsed.as_millis() as u64,
            });
        }
        let written = size_of(output);
        if written > limits.max_output {
            break Some(Exit::OutputTooLarge { bytes: written });
        }
        poll = (poll * 2).min(Duration::from_millis(20));
    };
    // The tool (exited, or still running) and whatever it left running go
    // now; what it left behind is looked at.
    let finished = running.finish();
    let exit = match (ended, finished.status, finished.start_error) {
        (Some(e), _, _) => e,
        (None, _, Some(error)) => Exit::SpawnFailed { error },
        (None, Some(status), None) => contain::describe_status(status),
        (None, None, None) => Exit::SpawnFailed {
            error: "its exit status is unknown".into(),
        },
    };
    let mut escaped = false;
    let stdout = collect(out, &mut escaped);
    let stderr = collect(err, &mut escaped);
    let mut writes_outside = finished.writes;
    if finished.more_writes > 0 {
        writes_outside.push(format!("and {} more", finished.more_writes));
    }
    Run {
        argv,
        exit,
        stdout,
        stderr,
        millis: start.elapsed().as_millis() as u64,
        escaped,
        left_running: finished.leftovers,
        writes_outside,
    }
}

/// Writes a case input at `path` (a file, or a directory of blob files),
/// creating every file new: nothing already there is written through.
pub fn write_input(path: &Path, input: &CaseInput) -> std::io::Result<()> {
    let create = |p: &Path, bytes: &[u8]| {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(p)?
            .write_all(bytes)
    };
    match input {
        CaseInput::File(b) => create(path, b),
        CaseInput::BlobDir(files) => {
            std::fs::create_dir(path)?;
            for (name, bytes) in files {
                create(&path.join(name), bytes)?;
            }
            Ok(())
        }
    }
}

/// Why what a tool left could not be read as output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("{path}: nothing there")]
    Missing { path: String },
    #[error("{path}: {what}, not a regular file (not read)")]
    NotRegular { path: String, what: &'static str },
    #[error("{path}: {bytes} bytes, more than --max-output ({limit} bytes; not read)")]
    TooLarge {
        path: String,
        bytes: u64,
        limit: u64,
    },
    #[error("{path}: more than {MAX_OUTPUT_ENTRIES} entries (not read)")]
    TooManyEntries { path: String },
    #[error("{path}: {error}")]
    Io { path: String, error: String },
}

/// Opens `path` only if it is a regular file, without following a link
/// and without blocking on a FIFO, and reads at most `budget` bytes of it.
fn read_regular(path: &Path, budget: u64, limit: u64) -> Result<Vec<u8>, OutputError> {
    let shown = || path.display().to_string();
    let io = |e: std::io::Error| OutputError::Io {
        path: shown(),
        error: e.to_string(),
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(OutputError::Missing { path: shown() })
        }
        Err(e) => return Err(io(e)),
    };
    if !meta.is_file() {
        return Err(OutputError::NotRegular {
            path: shown(),
            what: platform::kind_of(meta.file_type()),
        });
    }
    // Not a regular file by now (it changed after the look above): the
    // open says so.
    let (file, len) = platform::open_regular(path, platform::Links::Refuse).map_err(io)?;
    if len > budget {
        return Err(OutputError::TooLarge {
            path: shown(),
            bytes: len,
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(budget + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > budget {
        return Err(OutputError::TooLarge {
            path: shown(),
            bytes: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// Reads back what is at `path` in the shape of `format`, as untrusted
/// input: regular files only, links never followed, at most `max_bytes`
/// in all and [`MAX_OUTPUT_ENTRIES`] files.
pub fn read_output(
    path: &Path,
    format: FileFormat,
    max_bytes: u64,
) -> Result<CaseInput, OutputError> {
    if format != FileFormat::BlobDir {
        return read_regular(path, max_bytes, max_bytes).map(CaseInput::File);
    }
    let shown = || path.display().to_string();
    let meta =
        std::fs::symlink_metadata(path).map_err(|_| OutputError::Missing { path: shown() })?;
    if !meta.is_dir() {
        return Err(OutputError::NotRegular {
            path: shown(),
            what: platform::kind_of(meta.file_type()),
        });
    }
    let entries = std::fs::read_dir(path).map_err(|e| OutputError::Io {
        path: shown(),
        error: e.to_string(),
    })?;
    let mut files = Vec::new();
    let mut left = max_bytes;
    for e in entries {
        let e = e.map_err(|e| OutputError::Io {
            path: shown(),
            error: e.to_string(),
        })?;
        if files.len() >= MAX_OUTPUT_ENTRIES {
            return Err(OutputError::TooManyEntries { path: shown() });
        }
        let bytes = read_regular(&e.path(), left, max_bytes)?;
        left -= bytes.len() as u64;
        files.push((e.file_name().to_string_lossy().into_owned(), bytes));
    }
    files.sort();
    Ok(CaseInput::BlobDir(files))
}

/// The file names a case uses inside its directory.
pub fn case_paths(dir: &Path, format: FileFormat) -> (PathBuf, PathBuf) {
    let ext = format.as_str();
    if format == FileFormat::BlobDir {
        (dir.join("in"), dir.join("out"))
    } else {
        (
            dir.join(format!("in.{ext}")),
            dir.join(format!("out.{ext}")),
        )
    }
}

/// One run of the tool on `input` in a fresh case directory, and what it
/// wrote (read as untrusted input).
pub struct Attempt {
    pub run: Run,
    /// The case directory's input path, and what is there after the run.
    pub input_after: Result<CaseInput, OutputError>,
    /// What the tool wrote (`{out}`, or `{in}` for an in-place tool).
    pub output: Result<CaseInput, OutputError>,
    /// Whether anything is at `{out}` after the run.
    pub output_exists: bool,
    pub output_path: PathBuf,
}

/// Runs the tool on `input` in a fresh case directory of `sandbox`.
pub fn attempt(
    sandbox: &Sandbox,
    label: &str,
    cmd: &ToolCommand,
    input: &CaseInput,
    format: FileFormat,
    limits: RunLimits,
) -> std::io::Result<Attempt> {
    let case = sandbox.case(label)?;
    let (inp, out) = case_paths(&case.path, format);
    write_input(&inp, input)?;
    let run = run_tool(sandbox, &case, cmd, &inp, &out, limits);
    let input_limit = limits.max_output.max(input.len() as u64);
    let input_after = read_output(&inp, format, input_limit);
    let output_exists = std::fs::symlink_metadata(&out).is_ok();
    let output = if cmd.has_out {
        read_output(&out, format, limits.max_output)
    } else {
        input_after.clone()
    };
    Ok(Attempt {
        run,
        input_after,
        output,
        output_exists,
        output_path: if cmd.has_out { out } else { inp },
    })
}

/// Runs the tool on `input` and reads back what it wrote; the error says
/// how it failed, with its stderr. The run's hazards go to `hazards`.
pub fn fix_once(
    sandbox: &Sandbox,
    cmd: &ToolCommand,
    input: &CaseInput,
    format: FileFormat,
    limits: RunLimits,
    hazards: &mut Vec<String>,
) -> Result<CaseInput, String> {
    let a = attempt(sandbox, "v9", cmd, input, format, limits)
        .map_err(|e| format!("cannot prepare the run: {e}"))?;
    hazards.extend(a.run.hazards());
    if !a.run.exit.success() {
        return Err(format!(
            "the tool ended with {}: {}",
            a.run.exit,
            a.run.stderr.trim()
        ));
    }
    a.output
        .map_err(|e| format!("the tool exited 0 but its output cannot be read: {e}"))
}

/// Parses what a tool wrote, strictly, into elements in file order.
pub fn parse_output(
    input: &CaseInput,
    format: FileFormat,
) -> Result<Vec<SerializedElement<'static>>, String> {
    match (input, format) {
        (CaseInput::File(b), FileFormat::Sst) => SerializedStore::parse(b, ReadMode::Strict)
            .map(|s| s.into_owned().elements)
            .map_err(|e| e.to_string()),
        (CaseInput::File(b), FileFormat::Reg) => parse_reg(b, ReadMode::Strict)
            .map(|r| {
                r.store
                    .certificates
                    .into_iter()
                    .map(|c| c.element)
                    .collect()
            })
            .map_err(|e| e.to_string()),
        (CaseInput::BlobDir(files), FileFormat::BlobDir) => files
            .iter()
            .map(|(name, bytes)| {
                let e = crate::format::parse_element_file(bytes, ReadMode::Strict)
                    .map_err(|e| format!("{name}: {e}"))?;
                crate::format::registry::check_key(name.trim_end_matches(".blob"), &e).map_err(
                    |e| {
                        format!("{name}: the file name is not the certificate's thumbprint ({e:?})")
                    },
                )?;
                Ok(e.into_owned())
            })
            .collect(),
        _ => Err(format!("the output is not a {format} file")),
    }
}

/// An external tool as the simulator's CCMCertFix (invariant V9): the SMS
/// store is handed to it in the format under test and read back.
pub struct ExternalFixer<'a> {
    pub sandbox: &'a Sandbox,
    pub command: ToolCommand,
    pub format: FileFormat,
    pub limits: RunLimits,
    pub label: String,
    /// Hazards of every run (deduplicated, at most 20).
    pub hazards: std::sync::Mutex<Vec<String>>,
}

impl Fixer for ExternalFixer<'_> {
    fn name(&self) -> &str {
        &self.label
    }

    fn fix_store(&self, sst: &[u8]) -> Result<Vec<u8>, FixerError> {
        let fail = |message: String| FixerError::Failed {
            fixer: self.label.clone(),
            message,
        };
        let store = SerializedStore::parse(sst, ReadMode::Strict)?;
        let input = render(&store.elements, self.format);
        let mut hazards = Vec::new();
        let output = fix_once(
            self.sandbox,
            &self.command,
            &input,
            self.format,
            self.limits,
            &mut hazards,
        );
        if !hazards.is_empty() {
            let mut all = self.hazards.lock().unwrap_or_else(|e| e.into_inner());
            for h in hazards {
                if all.len() < 20 && !all.contains(&h) {
                    all.push(h);
                }
            }
        }
        let output = output.map_err(fail)?;
        let mut elements = parse_output(&output, self.format).map_err(fail)?;
        if self.format != FileFormat::Sst {
            // The registry layout keys certificates by thumbprint (regedit's
            // order) and adds property 3: put the store back the way the
            // client keeps it, so only the tool's own changes remain.
            let order: Vec<_> = store.elements.iter().map(|e| e.thumbprint()).collect();
            elements.sort_by_key(|e| {
                order
                    .iter()
                    .position(|t| *t == e.thumbprint())
                    .unwrap_or(usize::MAX)
            });
            for e in &mut elements {
                let had_sha1 = store.elements.iter().any(|o| {
                    o.thumbprint() == e.thumbprint() && o.property(PropertyId::Sha1Hash).is_some()
                });
                if !had_sha1 {
                    if let Some(i) = e.properties.iter().rposition(|p| {
                        p.id == PropertyId::Sha1Hash && p.value[..] == e.thumbprint().0[..]
                    }) {
                        e.properties.remove(i);
                    }
                }
            }
        }
        Ok(SerializedStore::new(elements).to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_path_is_one_word_again() {
        for p in [
            "/opt/fix tools/ccmcertfix",
            "plain",
            r"C:\Program Files\certfix\fix.exe",
            r"C:\Tools\CCMCertFix.exe",
        ] {
            let t = format!("{} {{in}} {{out}}", platform::quote_path(Path::new(p)));
            let cmd = ToolCommand::parse(&t).unwrap();
            // (On Unix a backslash inside single quotes is literal.)
            assert_eq!(cmd.words, [p, "{in}", "{out}"], "{t}");
            assert!(cmd.has_out);
        }
    }

    #[test]
    fn templates_without_words_or_input_are_refused() {
        assert_eq!(ToolCommand::parse("   "), Err(TemplateError::Empty));
        assert!(matches!(
            ToolCommand::parse("fix.exe {out}"),
            Err(TemplateError::NoInput(_))
        ));
        let in_place = ToolCommand::parse("fix.exe --in-place {in}").unwrap();
        assert!(!in_place.has_out);
    }

    #[cfg(unix)]
    #[test]
    fn unix_templates_are_shell_words() {
        let cmd = ToolCommand::parse(r#"fix\ it.sh '{in}' "{out}" --name 'a b'"#).unwrap();
        assert_eq!(cmd.words, ["fix it.sh", "{in}", "{out}", "--name", "a b"]);
        assert!(matches!(
            ToolCommand::parse("fix.sh '{in} {out}"),
            Err(TemplateError::Quotes(_))
        ));
    }

    /// Windows' own rules (CommandLineToArgvW): the program name keeps its
    /// backslashes; later words too, except before a double quote.
    #[cfg(windows)]
    #[test]
    fn windows_templates_keep_drive_letters_and_backslashes() {
        let cmd =
            ToolCommand::parse(r"C:\Tools\CCMCertFix.exe /log C:\Logs\fix.log {in} {out}").unwrap();
        assert_eq!(
            cmd.words,
            [
                r"C:\Tools\CCMCertFix.exe",
                "/log",
                r"C:\Logs\fix.log",
                "{in}",
                "{out}"
            ]
        );
        let cmd =
            ToolCommand::parse(r#""C:\Program Files\fix\fix.exe" "{in}" {out} a\"b"#).unwrap();
        assert_eq!(
            cmd.words,
            [r"C:\Program Files\fix\fix.exe", "{in}", "{out}", "a\"b"]
        );
        // argv() puts real Windows paths in place of the placeholders.
        let argv = cmd.argv(
            Path::new(r"C:\Temp\case 1\in1.sst"),
            Path::new(r"C:\Temp\case 1\out1.sst"),
        );
        assert_eq!(argv[1], r"C:\Temp\case 1\in1.sst");
        assert_eq!(argv[2], r"C:\Temp\case 1\out1.sst");
    }
}
