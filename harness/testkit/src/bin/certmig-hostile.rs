//! A deliberately hostile "fix tool" for the containment tests of `certmig
//! validate`, the same program on Unix and Windows (the Unix tests also use
//! small shell scripts; Windows has no `/bin/sh`).
//!
//! `certmig-hostile MODE IN OUT [ARG]`; every mode but `hang` and `crash`
//! first copies IN to OUT, as a well-behaved tool would, and then:
//!
//! | mode | then |
//! |---|---|
//! | `copy` | exits 0 |
//! | `flood` | writes to stdout without end |
//! | `hang` | sleeps without end (copies nothing) |
//! | `crash` | aborts (Unix: SIGABRT; Windows: a fail-fast exception) |
//! | `orphan` | starts `certmig-hostile tick ARG`, waits for its first tick and exits 0, leaving it running |
//! | `escape` | the same, but asks for the child to leave the tool's job (Windows: `CREATE_BREAKAWAY_FROM_JOB`) or process group (Unix: a group of its own) |
//! | `delete-input` | removes IN |
//! | `rewrite-input` | appends a byte to IN |
//! | `outside` | writes the file ARG |
//!
//! `certmig-hostile tick FILE` appends a byte to FILE every 20 ms for ever:
//! a test knows the process is alive while FILE grows.

use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> &str {
        args.get(i).map(String::as_str).unwrap_or_else(|| {
            eprintln!("usage: certmig-hostile MODE IN OUT [ARG] | certmig-hostile tick FILE");
            std::process::exit(2)
        })
    };
    let mode = arg(0);
    if mode == "tick" {
        tick(Path::new(arg(1)));
    }
    if mode == "hang" {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    if mode == "crash" {
        std::process::abort();
    }
    let (input, output) = (Path::new(arg(1)), Path::new(arg(2)));
    if let Err(e) = copy(input, output) {
        eprintln!("certmig-hostile: {}: {e}", input.display());
        return ExitCode::from(1);
    }
    match mode {
        "copy" => {}
        "flood" => {
            let mut out = std::io::stdout().lock();
            while out.write_all(b"certmig-hostile flood output\n").is_ok() {}
        }
        "orphan" => start_ticker(arg(3), false),
        "escape" => start_ticker(arg(3), true),
        "delete-input" => remove(input),
        "rewrite-input" => {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(input)
                .expect("open the input");
            f.write_all(b"x").expect("append to the input");
        }
        "outside" => std::fs::write(arg(3), b"pwned").expect("write outside"),
        other => {
            eprintln!("certmig-hostile: unknown mode {other:?}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// Copies a file, or a directory's files (blob directories).
fn copy(input: &Path, output: &Path) -> std::io::Result<()> {
    if input.is_dir() {
        std::fs::create_dir_all(output)?;
        for e in std::fs::read_dir(input)? {
            let e = e?;
            std::fs::copy(e.path(), output.join(e.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::copy(input, output).map(drop)
    }
}

fn remove(p: &Path) {
    let _ = if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    };
}

fn tick(file: &Path) -> ! {
    loop {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
        {
            let _ = f.write_all(b".");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `certmig-hostile tick FILE` with no pipes of ours, optionally
/// asking for it to leave the tool's containment. The child is never
/// waited for: leaving it running is the point.
#[allow(clippy::zombie_processes)]
fn start_ticker(file: &str, escape: bool) {
    let exe = std::env::current_exe().expect("my own path");
    let mut cmd = Command::new(exe);
    cmd.args(["tick", file])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if escape {
        #[cfg(windows)]
        {
            use std::os::windows::process::CommandExt;
            const CREATE_BREAKAWAY_FROM_JOB: u32 = 0x0100_0000;
            let mut breakaway = Command::new(std::env::current_exe().expect("my own path"));
            breakaway
                .args(["tick", file])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .creation_flags(CREATE_BREAKAWAY_FROM_JOB);
            match breakaway.spawn() {
                Ok(_) => {
                    eprintln!("certmig-hostile: the child left the job");
                    wait_for_first_tick(file);
                    return;
                }
                // A job without BREAKAWAY_OK refuses: stay inside it.
                Err(e) => eprintln!("certmig-hostile: breakaway refused: {e}"),
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
    }
    cmd.spawn().expect("start the ticker");
    wait_for_first_tick(file);
}

/// Returns once the ticker has written (so the child really is running
/// when the tool exits), or after 20 s.
fn wait_for_first_tick(file: &str) {
    for _ in 0..2000 {
        if std::fs::metadata(file).is_ok_and(|m| m.len() > 0) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
