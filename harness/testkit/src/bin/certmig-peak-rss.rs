//! `certmig-peak-rss REPORT PROGRAM [ARGS...]`: runs PROGRAM (standard
//! input, output and error inherited), waits for it with `wait4` and writes
//! its peak resident memory in KiB (`ru_maxrss`) to the file REPORT; exits
//! with the program's exit code (128 + the signal when it was killed).
//!
//! For the memory bounds of `tests/it/hostile_files.rs` and `hostile_tools.rs`. Linux counts the
//! memory of the process that started a program into the program's own
//! peak (the page tables a fork copies, or the whole memory a vfork
//! shares), so a test harness that has held a large output would inflate
//! every measure it takes of its children: this small program is the
//! parent instead.

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    use std::os::unix::process::ExitStatusExt;
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let [report, program, rest @ ..] = &args[..] else {
        eprintln!("usage: certmig-peak-rss REPORT PROGRAM [ARGS...]");
        return std::process::ExitCode::from(2);
    };
    let child = match std::process::Command::new(program).args(rest).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("certmig-peak-rss: {}: {e}", program.to_string_lossy());
            return std::process::ExitCode::from(127);
        }
    };
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 on our own child with valid pointers.
        let r = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
        if r > 0 {
            break;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            eprintln!(
                "certmig-peak-rss: wait4: {}",
                std::io::Error::last_os_error()
            );
            return std::process::ExitCode::from(127);
        }
    }
    if let Err(e) = std::fs::write(report, format!("{}\n", usage.ru_maxrss)) {
        eprintln!("certmig-peak-rss: {}: {e}", report.to_string_lossy());
        return std::process::ExitCode::from(127);
    }
    let status = std::process::ExitStatus::from_raw(status);
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(127);
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(127))
}

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!("certmig-peak-rss: Unix only");
    std::process::ExitCode::from(2)
}
