//! Containing a fix tool: where its runs happen, what they may write, and
//! that nothing they start outlives them.
//!
//! A [`Sandbox`] is made once per validation: a root directory of its own
//! under the system temporary directory, the mechanism this machine offers
//! (probed once), and a [`Containment`] that says, for the report, what is
//! guaranteed. Each tool run gets a fresh case directory under the root
//! ([`Sandbox::case`]) holding its input and its private `HOME`, temporary
//! and XDG directories, and is started by [`Sandbox::spawn`].
//!
//! | platform | writes outside the case directory | processes the tool starts | memory |
//! |---|---|---|---|
//! | Linux with unprivileged user namespaces | **prevented** (read-only view); in the temporary directories, the home directory, the working directory and the cases' directory **reported by path** (private overlays) | end with the run (PID namespace), named in the report when left running | not capped |
//! | other Unix, or Linux without user namespaces | not contained, not watched (said in the report) | the tool's process group is killed; a process that left it is reported when it holds the output pipes | not capped |
//! | Windows | not contained, not watched (said in the report) | a Job Object: every process ends with the run, named in the report when left running | the job is capped at `RunLimits::max_memory` |
//!
//! Nothing here looks at places other programs write to: a report never
//! blames the tool for another program's files.

#[cfg(target_os = "linux")]
mod linux;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// What containment a validation ran under, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Containment {
    /// `namespaces` (Linux), `job-object` (Windows), `process-group`
    /// (other Unix, or Linux without user namespaces), `none`.
    pub mechanism: &'static str,
    /// True when writes outside the case directory are prevented.
    pub writes_prevented: bool,
    /// The places where a prevented write is found and named.
    pub writes_reported_in: Vec<PathBuf>,
    /// True when every process the tool starts ends with its run.
    pub processes_end_with_run: bool,
    /// What the guarantees above leave out, and why.
    pub notes: Vec<String>,
}

impl Containment {
    /// One paragraph for the human report.
    pub fn summary(&self) -> String {
        let writes = if self.writes_prevented {
            let places: Vec<String> = self
                .writes_reported_in
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            format!(
                "writes outside the case directory are prevented; those in {} are named",
                places.join(", ")
            )
        } else {
            "writes outside the case directory are neither prevented nor detected".to_owned()
        };
        let processes = if self.processes_end_with_run {
            "every process the tool starts ends with its run"
        } else {
            "only the tool's process group is killed"
        };
        let mut s = format!("containment: {} ({writes}; {processes})", self.mechanism);
        for n in &self.notes {
            s.push_str(&format!("\n  note: {n}"));
        }
        s
    }
}

/// Where the runs of one validation happen.
pub struct Sandbox {
    root: PathBuf,
    next: AtomicU64,
    pub containment: Containment,
    #[cfg(target_os = "linux")]
    places: Option<linux::Places>,
}

/// One run's directory: the tool's working directory, where its input is
/// written and its output read; removed (whatever the tool did to its
/// permissions) when dropped.
pub struct CaseDir {
    pub path: PathBuf,
}

impl Drop for CaseDir {
    fn drop(&mut self) {
        remove_tree(&self.path);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        remove_tree(&self.root);
    }
}

impl Sandbox {
    /// Makes the root directory and finds out what containment is offered.
    pub fn new() -> io::Result<Sandbox> {
        let root = tempfile::Builder::new()
            .prefix("certmig-validate-")
            .tempdir()?
            .keep();
        // Canonical on Unix (the overlays compare real paths); on Windows
        // canonicalize gives a verbatim `\\?\` path, which programs given it
        // as their directory or arguments do not all understand.
        #[cfg(unix)]
        let root = std::fs::canonicalize(&root)?;
        #[cfg(target_os = "linux")]
        {
            let (places, containment) = match linux::available() {
                Ok(()) => {
                    let places = linux::Places::discover(&root);
                    let mut notes = vec![
                        "elsewhere a write fails with a read-only file system error and is not named"
                            .to_owned(),
                    ];
                    notes.extend(
                        places
                            .skipped
                            .iter()
                            .map(|(p, why)| format!("{}: {why}", p.display())),
                    );
                    let c = Containment {
                        mechanism: "namespaces",
                        writes_prevented: true,
                        writes_reported_in: places.overlaid.clone(),
                        processes_end_with_run: true,
                        notes,
                    };
                    (Some(places), c)
                }
                Err(why) => (
                    None,
                    process_group(format!("user namespaces are not available here ({why})")),
                ),
            };
            Ok(Sandbox {
                root,
                next: AtomicU64::new(0),
                containment,
                places,
            })
        }
        #[cfg(windows)]
        {
            Ok(Sandbox {
                root,
                next: AtomicU64::new(0),
                containment: Containment {
                    mechanism: "job-object",
                    writes_prevented: false,
                    writes_reported_in: vec![],
                    processes_end_with_run: true,
                    notes: vec![
                        "Windows: the tool's profile and temporary directories are private, but a write elsewhere is neither prevented nor detected".into(),
                    ],
                },
            })
        }
        #[cfg(all(unix, not(target_os = "linux")))]
        {
            Ok(Sandbox {
                root,
                next: AtomicU64::new(0),
                containment: process_group("this platform has no containment certmig uses".into()),
            })
        }
    }

    /// A fresh case directory, with the tool's private home and temporary
    /// directories inside.
    pub fn case(&self, label: &str) -> io::Result<CaseDir> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let path = self.root.join(format!("{n:04}-{label}"));
        std::fs::create_dir(&path)?;
        let dir = CaseDir { path };
        for sub in PRIVATE_DIRS {
            std::fs::create_dir_all(dir.path.join(sub))?;
        }
        Ok(dir)
    }

    /// The tool's environment: its private places inside `case`.
    pub fn private_env(case: &CaseDir) -> Vec<(OsString, OsString)> {
        let at = |sub: &str| case.path.join(sub).into_os_string();
        let mut env = vec![
            ("HOME".into(), at("home")),
            ("TMPDIR".into(), at("tmp")),
            ("TMP".into(), at("tmp")),
            ("TEMP".into(), at("tmp")),
            ("XDG_CONFIG_HOME".into(), at("home/.config")),
            ("XDG_CACHE_HOME".into(), at("home/.cache")),
            ("XDG_DATA_HOME".into(), at("home/.local/share")),
            ("XDG_STATE_HOME".into(), at("home/.local/state")),
            ("XDG_RUNTIME_DIR".into(), at("tmp")),
        ];
        if cfg!(windows) {
            env.extend([
                ("USERPROFILE".into(), at("home")),
                ("APPDATA".into(), at("home/AppData/Roaming")),
                ("LOCALAPPDATA".into(), at("home/AppData/Local")),
            ]);
        }
        env
    }

    /// Starts `argv` in `case` (its working directory), contained.
    /// `command` has its pipes set; its program is `argv[0]`.
    pub fn spawn(
        &self,
        command: &mut Command,
        case: &CaseDir,
        argv: &[String],
        max_memory: u64,
    ) -> io::Result<Running> {
        command.current_dir(&case.path);
        command.envs(Self::private_env(case));
        #[cfg(target_os = "linux")]
        {
            let _ = max_memory;
            if let Some(places) = &self.places {
                return linux::spawn(command, places, &case.path, argv).map(Running::Namespaces);
            }
        }
        let _ = argv;
        platform::spawn(command, max_memory).map(Running::Plain)
    }
}

const PRIVATE_DIRS: [&str; 8] = [
    "home",
    "tmp",
    "home/.config",
    "home/.cache",
    "home/.local/share",
    "home/.local/state",
    "home/AppData/Roaming",
    "home/AppData/Local",
];

#[cfg(unix)]
fn process_group(why: String) -> Containment {
    Containment {
        mechanism: "process-group",
        writes_prevented: false,
        writes_reported_in: vec![],
        processes_end_with_run: false,
        notes: vec![
            why,
            "a process that leaves the tool's process group is reported only while it holds the tool's output pipes".into(),
        ],
    }
}

/// A running tool.
pub enum Running {
    #[cfg(target_os = "linux")]
    Namespaces(linux::Contained),
    Plain(platform::Contained),
}

/// How a run ended, as far as containment knows.
#[derive(Debug, Default)]
pub struct Finished {
    /// The tool's own exit status, when it exited by itself.
    pub status: Option<ExitStatus>,
    /// Why the tool never ran.
    pub start_error: Option<String>,
    /// Processes the tool left running after it exited (all killed now).
    pub leftovers: Vec<String>,
    /// Writes outside the case directory (prevented), one line each.
    pub writes: Vec<String>,
    /// Writes found beyond those listed.
    pub more_writes: usize,
}

impl Running {
    /// True once the tool has exited; waits at most `wait`.
    pub fn exited(&mut self, wait: Duration) -> bool {
        match self {
            #[cfg(target_os = "linux")]
            Running::Namespaces(c) => c.exited(wait),
            Running::Plain(c) => {
                if c.exited() {
                    return true;
                }
                std::thread::sleep(wait);
                false
            }
        }
    }

    /// The pipes of the tool's standard output and error.
    pub fn child(&mut self) -> &mut std::process::Child {
        match self {
            #[cfg(target_os = "linux")]
            Running::Namespaces(c) => &mut c.child,
            Running::Plain(c) => &mut c.child,
        }
    }

    /// Kills whatever is left, and says what the run left behind.
    pub fn finish(self) -> Finished {
        match self {
            #[cfg(target_os = "linux")]
            Running::Namespaces(c) => c.finish(),
            Running::Plain(mut c) => {
                let leftovers = c.leftovers();
                c.kill_all();
                let status = c.child.wait().ok();
                Finished {
                    status,
                    leftovers,
                    ..Finished::default()
                }
            }
        }
    }
}

/// Removes a directory tree the tool may have left unremovable
/// (directories without write or search permission); never follows links.
pub fn remove_tree(path: &Path) {
    if std::fs::remove_dir_all(path).is_ok() || !path.exists() {
        return;
    }
    make_removable(path, 0);
    let _ = std::fs::remove_dir_all(path);
}

fn make_removable(path: &Path, depth: usize) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_dir() || depth > 64 {
        return;
    }
    let mut perm = meta.permissions();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        perm.set_mode(0o700);
    }
    #[cfg(not(unix))]
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    let _ = std::fs::set_permissions(path, perm);
    if let Ok(rd) = std::fs::read_dir(path) {
        for e in rd.flatten() {
            make_removable(&e.path(), depth + 1);
        }
    }
}

/// The tool itself watched and killed with its process group (Unix) or
/// its Job Object (Windows).
#[cfg(unix)]
mod platform {
    use std::io;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};

    /// The tool, leading a process group of its own.
    pub struct Contained {
        pub child: Child,
    }

    pub fn spawn(command: &mut Command, _max_memory: u64) -> io::Result<Contained> {
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

        /// A process group cannot be listed portably: processes left in it
        /// are killed, not named.
        pub fn leftovers(&mut self) -> Vec<String> {
            Vec::new()
        }

        /// Kills the tool's process group: the tool and everything it
        /// started that stayed in it.
        pub fn kill_all(&mut self) {
            // SAFETY: kill(2) with a negative pid signals a process group.
            unsafe {
                libc::kill(-(self.child.id() as i32), libc::SIGKILL);
            }
        }
    }
}

/// Windows: the tool is started suspended, put into a Job Object of its own
/// (memory capped) and only then resumed, so every process it starts is in
/// the job too (a process cannot leave it); on timeout, on too much output,
/// or once the tool itself has exited, the whole job is terminated, and the
/// processes still in it after the tool exited are named.
#[cfg(windows)]
mod platform {
    use std::io;
    use std::os::windows::process::CommandExt;
    use std::process::{Child, Command};

    use crate::platform::windows::{process_image_name, Job};

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
    pub fn spawn(command: &mut Command, max_memory: u64) -> io::Result<Contained> {
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
        match Job::contain_suspended(&child, Some(max_memory)) {
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

        /// The processes still in the job once the tool has exited.
        pub fn leftovers(&mut self) -> Vec<String> {
            if !self.exited() {
                return Vec::new();
            }
            let tool = self.child.id();
            self.job
                .process_ids()
                .unwrap_or_default()
                .into_iter()
                .filter(|p| *p != tool)
                .map(|p| (p, process_image_name(p)))
                // The console host Windows starts for a console program
                // without one is the system's, not the tool's (a labelled
                // choice).
                .filter(|(_, name)| {
                    !name
                        .as_deref()
                        .is_some_and(|n| n.to_ascii_lowercase().ends_with("\\conhost.exe"))
                })
                .take(20)
                .map(|(p, name)| match name {
                    Some(name) => format!("pid {p}: {name}"),
                    None => format!("pid {p}"),
                })
                .collect()
        }

        /// Terminates the job: the tool and everything it started.
        pub fn kill_all(&mut self) {
            self.job.kill_all();
        }
    }
}

/// How a platform exit status reads in a report.
pub fn describe_status(status: ExitStatus) -> super::tool::Exit {
    use super::tool::Exit;
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code { code },
            (None, Some(signal)) => Exit::Signal { signal },
            (None, None) => Exit::Signal { signal: 0 },
        }
    }
    #[cfg(windows)]
    {
        match status.code() {
            // NTSTATUS errors (severity bits 11): a crash, not an answer.
            Some(code) if (code as u32) >= 0xC000_0000 => Exit::Exception { code: code as u32 },
            Some(code) => Exit::Code { code },
            None => Exit::Signal { signal: 0 },
        }
    }
}
