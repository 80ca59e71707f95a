//! One `certmig fix` at a time per file, and no debris from a killed one.
//!
//! - The input (a file, or a blob directory) is locked for the whole run
//!   (`flock` on Unix; on Windows a named mutex named after the input's
//!   identity: see [`crate::platform::PathLock`]): exclusively when it is repaired in place, shared when it is
//!   only read. An existing `-o` output is locked exclusively as well. A
//!   second run on the same file (as its input or its output) fails at once
//!   with [`FixError::Locked`] instead of interleaving its output with the
//!   first.
//!   After locking, the lock holder checks (by device and inode on Unix,
//!   by volume serial number and file index on Windows) that the path still names the file it locked (a first run may have
//!   renamed a repaired file over it) and locks again if not.
//! - Every temporary file `fix` writes (`.certmig-*.tmp`, in the target's
//!   directory) is locked while it is being written. A run that is killed
//!   leaves its temporary file behind unlocked; the next run in that directory
//!   removes such stale files and says so in its warnings. Temporary files
//!   still locked belong to a live run and are left alone.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::FixError;
use crate::platform::{self, PathLock};

/// The prefix and suffix of every temporary file `fix` writes.
pub const TEMP_PREFIX: &str = ".certmig-";
pub const TEMP_SUFFIX: &str = ".tmp";

/// A held lock on an input; released when dropped.
#[derive(Debug)]
pub struct InputLock {
    _held: PathLock,
}

impl InputLock {
    /// Locks `path` (exclusive or shared) without waiting.
    pub fn acquire(path: &Path, exclusive: bool) -> Result<InputLock, FixError> {
        let io = |source| FixError::Io {
            path: path.to_owned(),
            source,
        };
        for _ in 0..16 {
            let Some(held) = PathLock::try_acquire(path, exclusive).map_err(io)? else {
                return Err(FixError::Locked {
                    path: path.to_owned(),
                });
            };
            // Still the same file? A run that just finished may have renamed
            // its repaired output over this path.
            if !held.still_at(path).map_err(io)? {
                continue;
            }
            return Ok(InputLock { _held: held });
        }
        Err(FixError::Locked {
            path: path.to_owned(),
        })
    }
}

/// Locks a temporary file just created, so no other run takes it for stale.
pub fn lock_temp(file: &File) -> std::io::Result<()> {
    platform::try_lock(file, true).map(drop)
}

/// Removes the temporary files an interrupted run left in `dir`; returns a
/// warning per file removed (and per file that could not be removed).
pub fn remove_stale_temps(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut warnings = Vec::new();
    // Only regular files (no link, FIFO or device is opened) whose name is
    // exactly what certmig's temporary files are called: the prefix, six
    // letters or digits (tempfile's random part), the suffix.
    let ours = |n: &str| {
        n.strip_prefix(TEMP_PREFIX)
            .and_then(|r| r.strip_suffix(TEMP_SUFFIX))
            .is_some_and(|r| r.len() == 6 && r.bytes().all(|b| b.is_ascii_alphanumeric()))
    };
    let mut stale: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(ours))
        .collect();
    stale.sort();
    for p in stale {
        let Ok((f, _)) = platform::open_regular(&p, platform::Links::Refuse) else {
            continue;
        };
        // Locked: a live run is writing it.
        if !matches!(platform::try_lock(&f, true), Ok(true)) {
            continue;
        }
        match std::fs::remove_file(&p) {
            Ok(()) => warnings.push(format!(
                "removed {}, a temporary file left by an interrupted run",
                p.display()
            )),
            Err(e) => warnings.push(format!(
                "{} is a temporary file left by an interrupted run and cannot be removed: {e}",
                p.display()
            )),
        }
    }
    warnings
}
