//! A reader that goes away early (`certmig matrix | head -1`, `| more` quit
//! after a page) ends certmig quietly: no panic, no error message. On Unix
//! the process ends by SIGPIPE, like any filter; Windows has no SIGPIPE, so
//! certmig exits with code 232 (ERROR_NO_DATA, "the pipe is being closed").

use std::io::Read;
use std::process::{Command, Stdio};

use crate::support;

/// Runs `args` with stdout a pipe that is closed after `keep` bytes;
/// returns how it ended and its stderr.
fn run_into_closed_pipe(args: &[&str], keep: usize) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(support::certmig_exe())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = vec![0u8; keep];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (child.wait().unwrap(), stderr)
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    // The matrix table is about 1 MB: far more than any pipe buffers.
    for args in [&["matrix"][..], &["matrix", "--json"][..]] {
        let (status, stderr) = run_into_closed_pipe(args, 100);
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(libc_sigpipe()), "{args:?}: {status}");
        }
        #[cfg(windows)]
        assert_eq!(status.code(), Some(232), "{args:?}: {status}");
    }
}

#[cfg(unix)]
fn libc_sigpipe() -> i32 {
    13 // SIGPIPE on every Unix certmig builds for (Linux, macOS, the BSDs)
}
