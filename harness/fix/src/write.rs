//! Safe writing: the harness never loses a byte of a user's file.
//!
//! Every output is written to a temporary file in the target's own
//! directory, fsynced, checked by the caller, and only then renamed over the
//! target (rename is atomic within a directory), after which the directory is
//! fsynced (on Windows the rename itself is written through instead: see
//! [`crate::platform::replace`]). In place, a backup `IN.bak` is made first (a hard link to the
//! original, or a fsynced copy where links are not possible) unless the
//! caller opts out. A failure at any step leaves the input byte-identical and
//! removes the temporary file.
//!
//! The steps go through [`WriteSteps`] so tests can make each one fail
//! ([`FailingSteps`]) and prove the guarantee.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// The steps of a safe write, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create,
    Write,
    Fsync,
    Backup,
    Rename,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::Create,
        Step::Write,
        Step::Fsync,
        Step::Backup,
        Step::Rename,
    ];
}

/// The file-system operations of a safe write.
pub trait WriteSteps: Sync {
    fn create(&self, dir: &Path) -> io::Result<NamedTempFile>;
    fn write(&self, file: &mut File, bytes: &[u8]) -> io::Result<()>;
    fn fsync(&self, file: &File) -> io::Result<()>;
    /// Makes `backup` a complete copy of `input` (atomically).
    fn backup(&self, input: &Path, backup: &Path) -> io::Result<()>;
    /// Renames the temporary file over `target`.
    fn rename(&self, temp: NamedTempFile, target: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealSteps;

impl WriteSteps for RealSteps {
    fn create(&self, dir: &Path) -> io::Result<NamedTempFile> {
        let temp = tempfile::Builder::new()
            .prefix(&super::lock::temp_prefix())
            .suffix(super::lock::TEMP_SUFFIX)
            .rand_bytes(6)
            .tempfile_in(dir)?;
        super::lock::lock_temp(temp.as_file())?;
        Ok(temp)
    }

    fn write(&self, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        file.write_all(bytes)
    }

    fn fsync(&self, file: &File) -> io::Result<()> {
        file.sync_all()
    }

    fn backup(&self, input: &Path, backup: &Path) -> io::Result<()> {
        let dir = parent(backup);
        // Named like every temporary file of `fix` (with the tell), so a
        // run killed here leaves debris the next run recognises and removes.
        let tmp = tempfile::Builder::new()
            .prefix(&super::lock::temp_prefix())
            .suffix(super::lock::TEMP_SUFFIX)
            .rand_bytes(6)
            .tempfile_in(dir)?;
        let tmp_path = tmp.into_temp_path();
        // A hard link shares the original's bytes: complete by construction,
        // and locked with the input while this run lives.
        std::fs::remove_file(&tmp_path)?;
        let _copy_lock = if std::fs::hard_link(input, &tmp_path).is_err() {
            std::fs::copy(input, &tmp_path)?;
            let copy = File::open(&tmp_path)?;
            // Locked like the other temporary files: not stale while we live.
            super::lock::lock_temp(&copy)?;
            copy.sync_all()?;
            Some(copy)
        } else {
            None
        };
        std::fs::rename(&tmp_path, backup)?;
        Ok(())
    }

    fn rename(&self, temp: NamedTempFile, target: &Path) -> io::Result<()> {
        keep_owner(temp.as_file(), target)?;
        if let Some(p) = permissions_for(target) {
            temp.as_file().set_permissions(p)?;
        }
        crate::platform::replace(temp, target)
    }
}

/// Gives the new file the owner and group of the file it replaces (Unix),
/// so an in-place repair by root of another user's store leaves it theirs.
/// When that is not allowed (an ordinary user replacing a file owned by
/// someone else), the replace is refused rather than silently changing the
/// owner: nothing is replaced.
#[cfg(unix)]
fn keep_owner(temp: &File, target: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Some(old) = replaced_file(target) else {
        return Ok(());
    };
    let new = temp.metadata()?;
    if (old.uid(), old.gid()) == (new.uid(), new.gid()) {
        return Ok(());
    }
    std::os::unix::fs::fchown(temp, Some(old.uid()), Some(old.gid())).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "the repaired file cannot be given the owner of {} (user {}, group {}): {e}; it was not replaced",
                target.display(),
                old.uid(),
                old.gid()
            ),
        )
    })
}

#[cfg(not(unix))]
fn keep_owner(_temp: &File, _target: &Path) -> io::Result<()> {
    Ok(())
}

/// The regular file an output replaces, if there is one. A link at the
/// target is replaced as a new file: the file it points to lends the
/// output neither its mode nor its owner (a link planted where `-o` points,
/// to a world-writable file of another user, would otherwise make the
/// repaired store theirs and writable by anyone).
fn replaced_file(target: &Path) -> Option<std::fs::Metadata> {
    std::fs::symlink_metadata(target)
        .ok()
        .filter(std::fs::Metadata::is_file)
}

/// The permissions the output should have: the replaced file's own, or
/// 0644 for a new file on Unix (temporary files are created private, 0600).
fn permissions_for(target: &Path) -> Option<std::fs::Permissions> {
    match replaced_file(target) {
        Some(m) => Some(m.permissions()),
        #[cfg(unix)]
        None => {
            use std::os::unix::fs::PermissionsExt;
            Some(std::fs::Permissions::from_mode(0o644))
        }
        #[cfg(not(unix))]
        None => None,
    }
}

/// Writes `bytes` to `path` with the safe-write steps (temporary file,
/// fsync, rename); for new outputs such as `gen`'s files.
pub fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    std::fs::create_dir_all(parent(path))?;
    write_with(&RealSteps, path, bytes)
}

/// Writes `bytes` to `path` through `steps`: temporary file, write, fsync,
/// rename (no check, no backup; `fix`'s log).
pub fn write_with(steps: &dyn WriteSteps, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut out = TempOutput::create(steps, path)?;
    out.write_all(bytes)?;
    out.fsync()?;
    out.commit(path, None)
}

/// Real steps, except that `fail` fails (for fault-injection tests).
#[derive(Debug, Clone, Copy)]
pub struct FailingSteps {
    pub fail: Step,
}

impl FailingSteps {
    fn check(&self, step: Step) -> io::Result<()> {
        if self.fail == step {
            return Err(io::Error::other(format!("injected failure at {step:?}")));
        }
        Ok(())
    }
}

impl WriteSteps for FailingSteps {
    fn create(&self, dir: &Path) -> io::Result<NamedTempFile> {
        self.check(Step::Create)?;
        RealSteps.create(dir)
    }
    fn write(&self, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        self.check(Step::Write)?;
        RealSteps.write(file, bytes)
    }
    fn fsync(&self, file: &File) -> io::Result<()> {
        self.check(Step::Fsync)?;
        RealSteps.fsync(file)
    }
    fn backup(&self, input: &Path, backup: &Path) -> io::Result<()> {
        self.check(Step::Backup)?;
        RealSteps.backup(input, backup)
    }
    fn rename(&self, temp: NamedTempFile, target: &Path) -> io::Result<()> {
        self.check(Step::Rename)?;
        RealSteps.rename(temp, target)
    }
}

pub use crate::platform::parent;

/// `IN.bak` next to `IN`.
pub fn backup_path(input: &Path) -> PathBuf {
    let mut s = input.as_os_str().to_owned();
    s.push(".bak");
    PathBuf::from(s)
}

/// A temporary file being written through [`WriteSteps`].
pub struct TempOutput<'s> {
    steps: &'s dyn WriteSteps,
    temp: NamedTempFile,
}

impl<'s> TempOutput<'s> {
    /// Creates the temporary file in `target`'s directory.
    /// Refuses a target that is not a regular file, a link or nothing
    /// ([`crate::platform::check_output_place`]).
    pub fn create(steps: &'s dyn WriteSteps, target: &Path) -> io::Result<Self> {
        crate::platform::check_output_place(target)?;
        Ok(TempOutput {
            steps,
            temp: steps.create(parent(target))?,
        })
    }

    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// Asks the system to start writing `len` bytes at `offset` of the
    /// temporary file to disk now, while more is being written (Linux:
    /// `sync_file_range(SYNC_FILE_RANGE_WRITE)`; elsewhere nothing), so the
    /// [`TempOutput::fsync`] at the end has less left to wait for. A hint
    /// only: it promises nothing and its failure is ignored; the fsync
    /// (through the [`WriteSteps`]) is what makes the file durable.
    pub fn start_writeback(&self, offset: u64, len: u64) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
                return;
            };
            // SAFETY: sync_file_range(2) only starts the write-out of a range
            // of an open file; no memory is involved.
            unsafe {
                libc::sync_file_range(
                    self.temp.as_file().as_raw_fd(),
                    offset,
                    len,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (offset, len);
    }

    /// Fsyncs the temporary file.
    pub fn fsync(&self) -> io::Result<()> {
        self.steps.fsync(self.temp.as_file())
    }

    /// Makes the backup (when asked), renames over `target`, fsyncs the
    /// directory. If the rename fails the backup made here is removed again;
    /// the temporary file is removed on every failure.
    pub fn commit(self, target: &Path, backup_of: Option<(&Path, &Path)>) -> io::Result<()> {
        if let Some((input, backup)) = backup_of {
            self.steps.backup(input, backup)?;
            if let Err(e) = self.steps.rename(self.temp, target) {
                let _ = std::fs::remove_file(backup);
                return Err(e);
            }
        } else {
            self.steps.rename(self.temp, target)?;
        }
        if let Ok(d) = File::open(parent(target)) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl TempOutput<'_> {
    /// Renames over `target` without fsyncing the file or its directory:
    /// for many new outputs made durable together afterwards with
    /// [`sync_filesystem`] (`gen`). A reader never sees a partial file at
    /// `target`, but a crash before the sync may leave it empty.
    pub fn commit_unsynced(self, target: &Path) -> io::Result<()> {
        self.steps.rename(self.temp, target)
    }
}

/// Whether [`sync_filesystem`] makes files durable in one call (Linux's
/// `syncfs`); elsewhere each file must be fsynced on its own.
pub const SYNCS_FILESYSTEM: bool = cfg!(target_os = "linux");

/// Flushes every file and directory written on the file system that holds
/// `dir` to the disk, in one call (Linux: `syncfs`). Elsewhere it does
/// nothing: see [`SYNCS_FILESYSTEM`].
pub fn sync_filesystem(dir: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let d = File::open(dir)?;
        // SAFETY: `syncfs` takes a valid open descriptor, borrowed for the call.
        if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = dir;
    Ok(())
}

impl Write for TempOutput<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.steps.write(self.temp.as_file_mut(), buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
