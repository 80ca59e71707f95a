//! The screens people read fit their terminal (issue 21): `replay`,
//! `matrix`, `fleet`, `fleet --inventory` and `validate`, run in a
//! pseudo-terminal of 80 and of 120 columns (their own session, so the
//! pseudo-terminal is their controlling terminal and nothing measures the
//! terminal of whoever runs the tests), print no line wider than the
//! terminal. Piped, the same tables keep whole lines (the golden snapshots).

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support;

/// Runs certmig with `args` in a new pseudo-terminal of `cols` columns and
/// returns what it printed there (stdout and stderr, as a terminal shows
/// them).
fn in_terminal(cols: u16, args: &[&str]) -> String {
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 50,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty with valid out-pointers; the window size is read only.
    let made = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(made, 0, "openpty: {}", std::io::Error::last_os_error());
    // Close-on-exec (openpty does not set it), so that the commands other
    // tests of this binary start meanwhile do not inherit the terminal and
    // keep it open; the command here gets the slave as its stdout and stderr
    // all the same.
    for fd in [master, slave] {
        // SAFETY: fcntl on a descriptor just opened here.
        let set = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        assert_eq!(set, 0, "fcntl: {}", std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just opened and are owned here.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let slave_fd = std::os::fd::AsRawFd::as_raw_fd(&slave);
    let mut cmd = Command::new(support::certmig_exe());
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("COLUMNS")
        .stdin(Stdio::null())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    // SAFETY: between fork and exec only async-signal-safe calls: a new
    // session whose controlling terminal is the pseudo-terminal.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 || libc::ioctl(slave_fd, libc::TIOCSCTTY as _, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("certmig runs");
    // The command holds copies of the slave side: without dropping them the
    // terminal never closes and the read below never ends.
    drop(cmd);
    drop(slave);
    // A command that hangs is killed, which closes the terminal and ends
    // the read: the test fails instead of hanging.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let (done, pid) = (done.clone(), child.id() as libc::pid_t);
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if std::time::Instant::now() > deadline {
                    // SAFETY: kill of our own child, still unreaped (the
                    // main thread waits for it only after `done`).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return true;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            false
        })
    };
    let mut out = Vec::new();
    let mut m = std::fs::File::from(master);
    // Read until the terminal closes (EIO once the child and its copies of
    // the slave are gone).
    let mut buf = [0u8; 65536];
    loop {
        match m.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let status = child.wait().unwrap();
    assert!(
        !watchdog.join().unwrap(),
        "certmig {args:?} hung: killed after 300 s"
    );
    assert!(status.code().is_some(), "certmig {args:?} died: {status}");
    String::from_utf8_lossy(&out).into_owned()
}

/// The lines a terminal shows: escape sequences dropped, and of what a
/// carriage return overwrote (a progress bar), the last.
fn shown_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for raw in text.split('\n') {
        let mut line = String::new();
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for d in chars.by_ref() {
                        if d.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
                continue;
            }
            line.push(c);
        }
        let last = line.rsplit('\r').find(|s| !s.is_empty()).unwrap_or("");
        lines.push(last.to_owned());
    }
    lines
}

fn check(cols: u16, what: &str, args: &[&str]) -> usize {
    let text = in_terminal(cols, args);
    let lines = shown_lines(&text);
    let wide: Vec<&String> = lines
        .iter()
        .filter(|l| l.chars().count() > usize::from(cols))
        .collect();
    assert!(
        wide.is_empty(),
        "{what} at {cols} columns: {} line(s) wider, e.g. {:?}",
        wide.len(),
        wide.first()
    );
    lines.len()
}

#[test]
fn replay_matrix_fleet_inventory_and_validate_fit_80_and_120_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("exports");
    let g = std::process::Command::new(support::certmig_exe())
        .args(["gen", "--machines", "3", "--format", "reg", "--out"])
        .arg(&gen)
        .output()
        .unwrap();
    assert!(g.status.success());
    let gen = gen.display().to_string();
    for cols in [80, 120] {
        assert!(check(cols, "replay", &["replay"]) > 30);
        assert!(check(cols, "matrix", &["matrix"]) > 8448);
        assert!(check(cols, "fleet", &["fleet", "--machines", "2000"]) > 20);
        assert!(
            check(
                cols,
                "fleet --inventory",
                &["fleet", "--inventory", &gen, "--target", "win7-sp1"]
            ) > 5
        );
        assert!(
            check(
                cols,
                "validate",
                &[
                    "validate",
                    "--fixer",
                    "cp {in} {out}",
                    "--format",
                    "sst",
                    "--cases",
                    "4",
                    "--no-matrix"
                ]
            ) > 5
        );
    }
    // Piped, nothing is wrapped: the replay table keeps whole lines.
    let piped = Command::new(support::certmig_exe())
        .arg("replay")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = String::from_utf8(piped.stdout).unwrap();
    assert!(text
        .lines()
        .any(|l| l.contains("c01-c10-refresh-xp-to-win7rtm-latent")));
    assert!(Path::new(&gen).is_dir());
}

/// `fix` on a large `.sst` shows a bar that moves as the store is repaired
/// (a gigabyte takes seconds), one line within the terminal; `--quiet` shows
/// none. Piped (every other test), no bar is drawn.
#[test]
fn fix_shows_progress_within_the_terminal_and_quiet_hides_it() {
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("bulk");
    let g = Command::new(support::certmig_exe())
        .args([
            "gen",
            "--bulk",
            "--format",
            "sst",
            "--certs-per-machine",
            "30000",
            "--out",
        ])
        .arg(&gen)
        .output()
        .unwrap();
    assert!(g.status.success());
    let store = gen.join("PC0001.sst");
    let out = tmp.path().join("fixed.sst");
    let args = |quiet: bool| {
        let mut v = vec!["fix".to_owned(), store.display().to_string(), "-o".into()];
        v.push(out.display().to_string());
        if quiet {
            v.push("--quiet".into());
        }
        v
    };
    for cols in [80u16, 120] {
        let a = args(false);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let text = in_terminal(cols, &a);
        assert!(
            text.contains("repairing ["),
            "no progress bar at {cols} columns:\n{text}"
        );
        assert!(text.contains("of 30 000 certificate(s)"), "{text}");
        check(cols, "fix", &a);
    }
    let a = args(true);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let quiet = in_terminal(80, &a);
    assert!(!quiet.contains("repairing ["), "{quiet}");
    assert!(quiet.contains("certificate(s)"), "{quiet}");
}
