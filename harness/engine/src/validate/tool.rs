//! Running an external fix tool in isolation: a command template split like
//! the platform splits command lines (never run through a shell),
//! `{in}`/`{out}` replaced by paths inside a private temporary directory,
//! the tool and everything it starts (a process group on Unix, a Job Object
//! on Windows) killed whole on timeout or when the output grows past a
//! limit, stdout and stderr captured (bounded).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::corpus::{render, CaseInput};
use crate::fix::{FixError, Fixer};
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
    /// Largest output the tool may write (bytes, a directory's files added up).
    pub max_output: u64,
}

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
                    "timed out after {after_ms} ms ({} killed)",
                    containment::GROUP
                )
            }
            Exit::OutputTooLarge { bytes } => write!(
                f,
                "output grew past the limit ({bytes} bytes; {} killed)",
                containment::GROUP
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
    /// A process the tool started left its process group (e.g. `setsid`)
    /// and still held the tool's output pipes after the group was killed.
    pub escaped: bool,
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

/// How long to wait for the output pipes once the tool's group is dead.
const PIPE_GRACE: Duration = Duration::from_secs(1);

/// The captured text, or a note when a process outside the group still holds
/// the pipe (the reading thread is then left to finish on its own).
fn collect(rx: Option<mpsc::Receiver<String>>, escaped: &mut bool) -> String {
    match rx.map(|r| r.recv_timeout(PIPE_GRACE)) {
        Some(Ok(s)) => s,
        Some(Err(_)) => {
            *escaped = true;
            format!(
                "[the pipe was still held open by a process that left the tool's {}]",
                containment::GROUP
            )
        }
        None => String::new(),
    }
}

/// Bytes under `p` (a file, or a directory's files).
pub fn size_of(p: &Path) -> u64 {
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => std::fs::read_dir(p)
            .map(|rd| rd.filter_map(Result::ok).map(|e| size_of(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// Runs the tool once with `input`/`output`, in `dir` as working directory.
pub fn run_tool(
    cmd: &ToolCommand,
    input: &Path,
    output: &Path,
    dir: &Path,
    limits: RunLimits,
) -> Run {
    let argv = cmd.argv(input, output);
    let start = Instant::now();
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A private temporary directory: well-behaved tools stay in the case's.
        .env("TMPDIR", dir)
        .env("TMP", dir)
        .env("TEMP", dir);
    let mut child = match containment::spawn(&mut command) {
        Ok(c) => c,
        Err(e) => {
            return Run {
                argv,
                exit: Exit::SpawnFailed {
                    error: e.to_string(),
                },
                stdout: String::new(),
                stderr: String::new(),
                millis: 0,
                escaped: false,
            }
        }
    };
    let out = child.child.stdout.take().map(drain);
    let err = child.child.stderr.take().map(drain);
    let mut poll = Duration::from_millis(1);
    let ended = loop {
        if child.exited() {
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
        thread::sleep(poll);
        poll = (poll * 2).min(Duration::from_millis(20));
    };
    // The tool (exited but not yet reaped, or still running) and whatever it
    // left running go now; then the tool is reaped.
    child.kill_all();
    let status = child.child.wait();
    let exit = match (ended, status) {
        (Some(e), _) => e,
        (None, Ok(status)) => containment::exit(status),
        (None, Err(e)) => Exit::SpawnFailed {
            error: e.to_string(),
        },
    };
    let mut escaped = false;
    let stdout = collect(out, &mut escaped);
    let stderr = collect(err, &mut escaped);
    Run {
        argv,
        exit,
        stdout,
        stderr,
        millis: start.elapsed().as_millis() as u64,
        escaped,
    }
}

/// Writes a case input at `path` (a file, or a directory of blob files).
pub fn write_input(path: &Path, input: &CaseInput) -> std::io::Result<()> {
    match input {
        CaseInput::File(b) => std::fs::write(path, b),
        CaseInput::BlobDir(files) => {
            std::fs::create_dir_all(path)?;
            for (name, bytes) in files {
                std::fs::write(path.join(name), bytes)?;
            }
            Ok(())
        }
    }
}

/// Reads back what is at `path` in the shape of `like`.
pub fn read_input(path: &Path, format: FileFormat) -> std::io::Result<CaseInput> {
    if format == FileFormat::BlobDir {
        let mut files = Vec::new();
        for e in std::fs::read_dir(path)? {
            let e = e?;
            files.push((
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path())?,
            ));
        }
        files.sort();
        Ok(CaseInput::BlobDir(files))
    } else {
        std::fs::read(path).map(CaseInput::File)
    }
}

/// The file names a case uses inside its directory.
pub fn case_paths(dir: &Path, format: FileFormat, n: usize) -> (PathBuf, PathBuf) {
    let ext = format.as_str();
    if format == FileFormat::BlobDir {
        (dir.join(format!("in{n}")), dir.join(format!("out{n}")))
    } else {
        (
            dir.join(format!("in{n}.{ext}")),
            dir.join(format!("out{n}.{ext}")),
        )
    }
}

/// Runs the tool on `input` in a fresh temporary directory and reads back
/// what it wrote; the error says how it failed, with its stderr.
pub fn fix_once(
    cmd: &ToolCommand,
    input: &CaseInput,
    format: FileFormat,
    limits: RunLimits,
) -> Result<CaseInput, String> {
    let dir =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let (inp, out) = case_paths(dir.path(), format, 1);
    write_input(&inp, input).map_err(|e| format!("cannot write the input: {e}"))?;
    let run = run_tool(cmd, &inp, &out, dir.path(), limits);
    if !run.exit.success() {
        return Err(format!(
            "the tool ended with {}: {}",
            run.exit,
            run.stderr.trim()
        ));
    }
    let written = if cmd.has_out { out } else { inp };
    read_input(&written, format).map_err(|e| {
        format!(
            "the tool exited 0 but its output {} cannot be read: {e}",
            written.display()
        )
    })
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
pub struct ExternalFixer {
    pub command: ToolCommand,
    pub format: FileFormat,
    pub limits: RunLimits,
    pub label: String,
}

impl Fixer for ExternalFixer {
    fn name(&self) -> &str {
        &self.label
    }

    fn fix_store(&self, sst: &[u8]) -> Result<Vec<u8>, FixError> {
        let fail = |message: String| FixError::Unsupported {
            path: PathBuf::from(&self.label),
            message,
        };
        let store =
            SerializedStore::parse(sst, ReadMode::Strict).map_err(|source| FixError::BadInput {
                path: "(state store)".into(),
                source,
            })?;
        let input = render(&store.elements, self.format);
        let output = fix_once(&self.command, &input, self.format, self.limits).map_err(fail)?;
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

/// How a tool run is contained: started in a group of its own, watched
/// without being reaped, and killed with everything it started.
#[cfg(unix)]
mod containment {
    use std::io;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Child, Command, ExitStatus};

    use super::Exit;

    /// What the reports call the set of processes killed together.
    pub const GROUP: &str = "process group";

    /// The tool, leading a process group of its own.
    pub struct Contained {
        pub child: Child,
    }

    /// Starts the tool as the leader of a new process group.
    pub fn spawn(command: &mut Command) -> io::Result<Contained> {
        command.process_group(0);
        Ok(Contained {
            child: command.spawn()?,
        })
    }

    impl Contained {
        /// True once the tool has exited; the child is not reaped, so its
        /// pid (and process group id) cannot be reused before the group is
        /// killed.
        pub fn exited(&mut self) -> bool {
            // SAFETY: waitid(2) with WNOWAIT only reads the child's state
            // into `info`, a zeroed plain-data struct owned here.
            unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                let r = libc::waitid(
                    libc::P_PID,
                    self.child.id() as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                );
                r == 0 && info.si_pid() != 0
            }
        }

        /// Kills the tool's process group: the tool and everything it started.
        pub fn kill_all(&mut self) {
            // SAFETY: kill(2) with a negative pid signals a process group; no
            // memory is involved.
            unsafe {
                libc::kill(-(self.child.id() as i32), libc::SIGKILL);
            }
        }
    }

    pub fn exit(status: ExitStatus) -> Exit {
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code { code },
            (None, Some(signal)) => Exit::Signal { signal },
            (None, None) => Exit::Signal { signal: 0 },
        }
    }
}

/// Windows: the tool is started suspended, put into a Job Object of its own
/// and only then resumed, so every process it starts is in the job too (a
/// process cannot leave it); on timeout, on too much output, or once the
/// tool itself has exited, the whole job is terminated. The tool's own exit
/// code is reported (not the job's), which is why this is not the
/// `process-wrap` crate: its job child waits for every process in the job.
#[cfg(windows)]
mod containment {
    use std::io;
    use std::os::windows::process::CommandExt;
    use std::process::{Child, Command, ExitStatus};

    use super::Exit;
    use crate::platform::windows::Job;

    /// What the reports call the set of processes killed together.
    pub const GROUP: &str = "job object";

    const CREATE_SUSPENDED: u32 = 0x0000_0004;

    /// The tool, and the job that holds it and its descendants.
    pub struct Contained {
        pub child: Child,
        job: Job,
    }

    /// `ERROR_INTERNAL_ERROR`: what `CreateProcessW` returns when the new
    /// process died while the loader was still starting it. Seen under Wine
    /// with many tools starting at once (one start in several hundred, in
    /// CI's V9 matrix); it says nothing about the tool.
    const ERROR_INTERNAL_ERROR: i32 = 1359;

    /// How many times a start that failed with `ERROR_INTERNAL_ERROR` is
    /// tried again (a labelled choice: other start errors, such as "not
    /// found" or "access denied", are reported at once).
    const START_RETRIES: u32 = 3;

    /// Starts the tool suspended, puts it in a new job, lets it run.
    pub fn spawn(command: &mut Command) -> io::Result<Contained> {
        command.creation_flags(CREATE_SUSPENDED);
        let mut attempt = 0;
        let mut child = loop {
            match command.spawn() {
                Err(e)
                    if e.raw_os_error() == Some(ERROR_INTERNAL_ERROR)
                        && attempt < START_RETRIES =>
                {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100 << attempt));
                }
                other => break other?,
            }
        };
        match Job::contain_suspended(&child) {
            Ok(job) => Ok(Contained { child, job }),
            Err(e) => {
                // Never let an uncontained tool run.
                let _ = child.kill();
                let _ = child.wait();
                Err(io::Error::new(
                    e.kind(),
                    format!("cannot put the tool in a job object: {e}"),
                ))
            }
        }
    }

    impl Contained {
        /// True once the tool has exited (its handle, held by `child`,
        /// keeps its pid from being reused).
        pub fn exited(&mut self) -> bool {
            matches!(self.child.try_wait(), Ok(Some(_)))
        }

        /// Terminates the job: the tool and everything it started.
        pub fn kill_all(&mut self) {
            self.job.kill_all();
        }
    }

    pub fn exit(status: ExitStatus) -> Exit {
        match status.code() {
            // NTSTATUS errors (severity bits 11): a crash, not an answer.
            Some(code) if (code as u32) >= 0xC000_0000 => Exit::Exception { code: code as u32 },
            Some(code) => Exit::Code { code },
            None => Exit::Signal { signal: 0 },
        }
    }
}

/// Elsewhere, with the standard library only: the tool itself is watched and
/// killed, but processes it starts are not contained.
#[cfg(not(any(unix, windows)))]
mod containment {
    use std::io;
    use std::process::{Child, Command, ExitStatus};

    use super::Exit;

    pub const GROUP: &str = "tool";

    pub struct Contained {
        pub child: Child,
    }

    pub fn spawn(command: &mut Command) -> io::Result<Contained> {
        Ok(Contained {
            child: command.spawn()?,
        })
    }

    impl Contained {
        pub fn exited(&mut self) -> bool {
            matches!(self.child.try_wait(), Ok(Some(_)))
        }

        pub fn kill_all(&mut self) {
            let _ = self.child.kill();
        }
    }

    pub fn exit(status: ExitStatus) -> Exit {
        match status.code() {
            Some(code) => Exit::Code { code },
            None => Exit::Signal { signal: 0 },
        }
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
