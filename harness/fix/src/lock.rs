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
//! - Every temporary file `fix` writes (`.certmig-<tell>-*.tmp`, in the target's
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

/// The start of the name of a temporary file `fix` creates:
/// `.certmig-` and a tell of 16 hexadecimal digits, 8 random and 8 that
/// follow from them (a hash), then `-`; the file system's temporary-file
/// maker adds six random letters or digits and [`TEMP_SUFFIX`]. A user's
/// own `.certmig-notes.tmp` (or any name without a valid tell) is never
/// taken for certmig's: the chance that a name not made by certmig carries
/// a valid tell is one in 2^32. (A labelled choice: no source prescribes a
/// way to recognise one's own debris; this one needs no state outside the
/// name.)
pub fn temp_prefix() -> String {
    let random: u32 = rand::random();
    format!("{TEMP_PREFIX}{random:08x}{:08x}-", tell(random))
}

fn tell(random: u32) -> u32 {
    // Only a check against accidental matches, not a secret.
    xxhash_rust::xxh64::xxh64(&random.to_le_bytes(), 0xce27_f1c5) as u32
}

/// Whether `name` is the name of a temporary file made with
/// [`temp_prefix`]: the prefix, a valid tell, `-`, six letters or digits,
/// the suffix.
pub fn is_our_temp_name(name: &str) -> bool {
    let Some(rest) = name
        .strip_prefix(TEMP_PREFIX)
        .and_then(|r| r.strip_suffix(TEMP_SUFFIX))
    else {
        return false;
    };
    let (Some(tag), Some(random)) = (rest.get(..16), rest.get(17..)) else {
        return false;
    };
    let hex = |s: &str| {
        (s.len() == 8 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| u32::from_str_radix(s, 16).ok())
            .flatten()
    };
    let (Some(r), Some(t)) = (hex(&tag[..8]), hex(&tag[8..])) else {
        return false;
    };
    rest.as_bytes()[16] == b'-'
        && random.len() == 6
        && random.bytes().all(|b| b.is_ascii_alphanumeric())
        && tell(r) == t
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
    // Only regular files (no link, FIFO or device is opened) whose name
    // carries certmig's tell (see [`temp_prefix`]) and, on Unix, owned by
    // the user running certmig.
    let ours = |n: &str| is_our_temp_name(n);
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
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            // SAFETY: geteuid has no preconditions.
            let me = unsafe { libc::geteuid() };
            if f.metadata().map_or(true, |m| m.uid() != me) {
                continue;
            }
        }
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
