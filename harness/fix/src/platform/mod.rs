//! What differs between Unix and Windows, in one place: locks and file
//! identity (for `fix`'s input lock), the replace of an output, and how a
//! fix tool's command line is split. The callers (`fix::lock`,
//! `fix::write`, `validate::tool`) are the same on every platform.
//!
//! | need | Unix | Windows |
//! |---|---|---|
//! | lock an input (file or directory) | `flock` (advisory), shared or exclusive | a named mutex keyed by the input's identity, exclusive; no handle kept open |
//! | lock a temporary file | `flock` | `LockFileEx` on one byte past any real end (Windows' locks are mandatory: a lock on the data would block every other reader) |
//! | same file? | device and inode | volume serial number and file index |
//! | replace durably | `rename`, then fsync the directory | `MoveFileExW(REPLACE_EXISTING \| WRITE_THROUGH)` |
//! | split `--fixer` | POSIX shell words (`shlex`) | `CommandLineToArgvW` |
//! | contain a tool | a process group | a Job Object (see `validate::tool`) |

use std::fs::File;
use std::io;
use std::path::Path;

use tempfile::NamedTempFile;

pub mod names;
#[cfg(windows)]
pub mod system_store;
pub mod walk;
#[cfg(windows)]
pub mod windows;

/// Tries to lock an open file (shared or exclusive) without waiting:
/// `Ok(false)` when another run holds a conflicting lock.
pub fn try_lock(file: &File, exclusive: bool) -> io::Result<bool> {
    #[cfg(windows)]
    {
        windows::try_lock(file, exclusive)
    }
    #[cfg(not(windows))]
    {
        use fs4::fs_std::FileExt;
        if exclusive {
            FileExt::try_lock_exclusive(file)
        } else {
            FileExt::try_lock_shared(file)
        }
    }
}

/// A lock held on a file or a directory; released when dropped.
///
/// Unix: `flock` on an open descriptor of the path, shared or exclusive.
/// Windows: a named mutex whose name is the file's identity (volume serial
/// number and file index), with no handle to the file kept open: Windows
/// will not rename a file over a name that is still open, and an in-place
/// `fix` renames its output over its locked input. A mutex is exclusive,
/// so on Windows two runs that only read one input also exclude each other
/// (a labelled choice: the second fails at once as "locked").
#[derive(Debug)]
pub struct PathLock {
    #[cfg(not(windows))]
    file: File,
    #[cfg(windows)]
    id: (u32, u64),
    #[cfg(windows)]
    _mutex: windows::NamedMutex,
}

impl PathLock {
    /// Locks `path` (a file or a directory) without waiting: `Ok(None)` when
    /// another run holds a conflicting lock.
    pub fn try_acquire(path: &Path, exclusive: bool) -> io::Result<Option<PathLock>> {
        #[cfg(windows)]
        {
            let _ = exclusive;
            let id = windows::file_id(&windows::open_any(path)?)?;
            Ok(windows::NamedMutex::try_take(id)?.map(|m| PathLock { id, _mutex: m }))
        }
        #[cfg(not(windows))]
        {
            // Without blocking on a FIFO; only a file or a directory is locked.
            let mut options = std::fs::OpenOptions::new();
            options.read(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.custom_flags(libc::O_NONBLOCK);
            }
            let file = options.open(path)?;
            let kind = file.metadata()?.file_type();
            if !kind.is_file() && !kind.is_dir() {
                return Err(not_regular(kind));
            }
            Ok(try_lock(&file, exclusive)?.then_some(PathLock { file }))
        }
    }

    /// Whether `path` still names the file or directory this lock holds (a
    /// run that just finished may have renamed its output over the path).
    pub fn still_at(&self, path: &Path) -> io::Result<bool> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let (held, now) = (self.file.metadata()?, std::fs::metadata(path)?);
            Ok((held.dev(), held.ino()) == (now.dev(), now.ino()))
        }
        #[cfg(windows)]
        {
            Ok(windows::file_id(&windows::open_any(path)?)? == self.id)
        }
        #[cfg(not(any(unix, windows)))]
        {
            let _ = (&self.file, path);
            Ok(true)
        }
    }
}

/// What kind of file a non-regular file is, for messages.
pub fn kind_of(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_char_device() || ft.is_block_device() {
            return "a device";
        }
    }
    if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// Whether [`open_regular`] follows a link at the path itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Follow it (a path the user named, or one a walk found to be no link).
    Follow,
    /// Refuse it (`O_NOFOLLOW`; on Windows the link is opened as itself and
    /// then refused as not a regular file).
    Refuse,
}

/// The error for a file that is not regular: "a FIFO, not a regular file:
/// not read".
pub fn not_regular(ft: std::fs::FileType) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}, not a regular file: not read", kind_of(ft)),
    )
}

/// Checks that an output may be put at `path`: nothing there, a regular
/// file, or a symbolic link (which the new file replaces; nothing is
/// written through it). A FIFO, device, socket or directory is refused
/// before anything is written: renaming a file over `/dev/null` (as root)
/// or a FIFO another program reads is never what the user meant.
pub fn check_output_place(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_file() || m.file_type().is_symlink() => Ok(()),
        Ok(m) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}, not a regular file: certmig writes only regular files, nothing was written there",
                kind_of(m.file_type())
            ),
        )),
    }
}

/// Opens `path` for reading only if it is a regular file, without blocking
/// on a FIFO; returns the file and its size as the open file says it is.
pub fn open_regular(path: &Path, links: Links) -> io::Result<(File, u64)> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if links == Links::Refuse {
            libc::O_NOFOLLOW
        } else {
            0
        };
        options.custom_flags(libc::O_NONBLOCK | nofollow);
    }
    #[cfg(windows)]
    if links == Links::Refuse {
        use std::os::windows::fs::OpenOptionsExt;
        // FILE_FLAG_OPEN_REPARSE_POINT: a link is opened as itself.
        options.custom_flags(0x0020_0000);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        // A socket cannot be opened at all (ENXIO): say what it is.
        Err(e) => {
            let meta = match links {
                Links::Follow => std::fs::metadata(path),
                Links::Refuse => std::fs::symlink_metadata(path),
            };
            return Err(match meta {
                Ok(m) if !m.is_file() && !m.file_type().is_symlink() => not_regular(m.file_type()),
                _ => e,
            });
        }
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    #[cfg(unix)]
    {
        // Reads block again (O_NONBLOCK only kept the open from waiting).
        use std::os::fd::AsRawFd;
        // SAFETY: fcntl on a descriptor we own; flags read, then set.
        unsafe {
            let fd = file.as_raw_fd();
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
            }
        }
    }
    Ok((file, meta.len()))
}

/// Reads a whole regular file ([`open_regular`]), never more than the size
/// it had when opened (a file that grows meanwhile is read to that size).
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let (file, len) = open_regular(path, Links::Follow)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Why a store file could not be read: the file system, or a file refused
/// by its first bytes or its size before it was read.
#[derive(Debug, thiserror::Error)]
pub enum StoreFileError {
    #[error("{0}")]
    Io(io::Error),
    #[error("{0}")]
    Format(crate::format::FormatError),
}

/// Reads a file whole (a regular file, a link followed), bounded by its
/// real size, but only once `admit` has accepted its first 64 bytes and its
/// size: a file `admit` refuses costs those 64 bytes.
pub fn read_admitted(
    path: &Path,
    admit: impl FnOnce(&[u8], u64) -> Result<(), StoreFileError>,
) -> Result<Vec<u8>, StoreFileError> {
    use std::io::Read;
    let (mut file, len) = open_regular(path, Links::Follow).map_err(StoreFileError::Io)?;
    let mut bytes = Vec::new();
    (&mut file)
        .take(64)
        .read_to_end(&mut bytes)
        .map_err(StoreFileError::Io)?;
    admit(&bytes, len)?;
    bytes.reserve(
        usize::try_from(len)
            .unwrap_or(0)
            .saturating_sub(bytes.len()),
    );
    file.take(len.saturating_sub(bytes.len() as u64))
        .read_to_end(&mut bytes)
        .map_err(StoreFileError::Io)?;
    Ok(bytes)
}

/// Reads a store file whole (`.sst`, `.reg` or `.blob`) with
/// [`read_admitted`]. A file whose first bytes make it one element
/// (anything that is not a store or an export) and that is larger than
/// [`crate::format::Limits::max_element_size`] is refused before it is
/// read, with the limit error at offset 0: a 2 GB file of zeros costs
/// nothing.
pub fn read_store(path: &Path, limits: &crate::format::Limits) -> Result<Vec<u8>, StoreFileError> {
    read_admitted(path, |head, len| {
        let one_element = crate::format::detect(head) == crate::format::FileFormat::Blob;
        if one_element && len > limits.max_element_size as u64 {
            return Err(StoreFileError::Format(
                crate::format::FormatError::LimitExceeded {
                    offset: 0,
                    what: "the size of a file holding one element (not a store or an export)",
                    limit: limits.max_element_size,
                },
            ));
        }
        Ok(())
    })
}

/// The largest mix, plan or scenario file certmig reads: 1 MiB. The
/// shipped ones are a few KiB; a file this size already holds hundreds of
/// thousands of values, and a TOML document costs many times its size in
/// memory once parsed. (A labelled choice, like [`certmig_format::Limits`].)
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The largest machine list (`fleet --repair-list`) certmig reads: 64 MiB,
/// some million machine names.
pub const MAX_LIST_BYTES: u64 = 64 << 20;

/// Reads a UTF-8 text file the user named (a regular file, a link
/// followed), refusing one larger than `max` bytes before reading it; the
/// error says how large it is and what the limit is.
pub fn read_text(path: &Path, max: u64) -> io::Result<String> {
    use std::io::Read;
    let (file, len) = open_regular(path, Links::Follow)?;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{len} bytes, more than the {max} bytes such a file may have: not read"),
        ));
    }
    let mut text = String::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(max).read_to_string(&mut text)?;
    Ok(text)
}

/// True when `a` and `b` name one file: by identity (device and inode, or
/// volume and file index) when both exist, so a link or another spelling
/// is caught; by their canonical directory and name when one does not
/// exist yet.
pub fn same_place(a: &Path, b: &Path) -> bool {
    if let (Ok(x), Ok(y)) = (FileIdentity::of(a), FileIdentity::of(b)) {
        return x == y;
    }
    let spelled = |p: &Path| -> Option<std::path::PathBuf> {
        Some(std::fs::canonicalize(parent(p)).ok()?.join(p.file_name()?))
    };
    matches!((spelled(a), spelled(b)), (Some(x), Some(y)) if x == y)
}

/// Whether `path` would be inside the directory `dir` (or below it), by
/// their canonical spellings (links resolved): false when either cannot be
/// resolved.
pub fn is_inside(path: &Path, dir: &Path) -> bool {
    match (
        std::fs::canonicalize(dir),
        std::fs::canonicalize(parent(path)),
    ) {
        (Ok(d), Ok(p)) => p.starts_with(d),
        _ => false,
    }
}

/// The directory a path is in (`.` for a bare file name).
pub fn parent(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The path rule for a command's report files (`fleet --html`,
/// `validate --junit`, `matrix --html`): an output is never one of the
/// run's inputs (compared by [`same_place`]) nor inside an input directory.
/// The error names both; the caller refuses before doing any work.
pub fn check_not_an_input(output: &Path, inputs: &[&Path]) -> Result<(), String> {
    for input in inputs {
        if same_place(output, input) {
            return Err(format!(
                "{} is {}, an input of this run: it is not written over; nothing was done",
                output.display(),
                input.display()
            ));
        }
        if input.is_dir() && is_inside(output, input) {
            return Err(format!(
                "{} is inside {}, a directory this run reads: it is not written there; nothing was done",
                output.display(),
                input.display()
            ));
        }
    }
    Ok(())
}

/// Which file a path names (links followed): device and inode on Unix,
/// volume serial number and file index on Windows. Two paths with one
/// identity name one file, whatever their spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity(u64, u64);

impl FileIdentity {
    pub fn of(path: &Path) -> io::Result<FileIdentity> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::metadata(path)?;
            Ok(FileIdentity(m.dev(), m.ino()))
        }
        #[cfg(windows)]
        {
            let (volume, index) = windows::file_id(&windows::open_any(path)?)?;
            Ok(FileIdentity(u64::from(volume), index))
        }
    }
}

/// Renames a finished temporary file over `target` (replacing it). On
/// Windows the rename is written through to disk before this returns.
pub fn replace(temp: NamedTempFile, target: &Path) -> io::Result<()> {
    #[cfg(windows)]
    {
        // The temporary file stays open (and locked) across the rename:
        // tempfile opens it with FILE_SHARE_DELETE, which allows it.
        windows::replace_file(temp.path(), target)?;
        // It is at `target` now: nothing is left to delete. (Not
        // `TempPath::keep`: on Windows it resets the attributes of the old
        // name, which no longer exists, and fails.)
        std::mem::forget(temp.into_temp_path());
        Ok(())
    }
    #[cfg(not(windows))]
    {
        temp.persist(target).map(drop).map_err(|e| e.error)
    }
}

/// Splits a `--fixer` command template into words the way the platform's
/// own command lines are split: POSIX shell words on Unix (quotes and
/// backslash escapes, no expansion), `CommandLineToArgvW`'s rules on
/// Windows (so `C:\Tools\CCMCertFix.exe` keeps its backslashes). `None`
/// for unbalanced quotes (Unix only: Windows' rules have no such error).
pub fn split_command(template: &str) -> Option<Vec<String>> {
    #[cfg(windows)]
    {
        Some(windows::split_command_line(template))
    }
    #[cfg(not(windows))]
    {
        shlex::split(template)
    }
}

/// Quotes a path as one word of a command template for [`split_command`]
/// (shell quoting on Unix; on Windows double quotes around a path with
/// spaces: Windows paths cannot contain `"`, and a trailing backslash is
/// doubled so it does not escape the closing quote).
pub fn quote_path(p: &Path) -> String {
    let s = p.display().to_string();
    #[cfg(windows)]
    {
        if s.is_empty() || s.contains([' ', '\t']) {
            let tail = s.len() - s.trim_end_matches('\\').len();
            return format!("\"{s}{}\"", "\\".repeat(tail));
        }
        s
    }
    #[cfg(not(windows))]
    {
        shlex::try_quote(&s).map(|c| c.into_owned()).unwrap_or(s)
    }
}

/// Whether a word of a command names a path relative to the current
/// directory with at least one directory part (`scripts/fix.py`, and on
/// Windows `scripts\fix.cmd` too).
pub fn has_directory_part(word: &str) -> bool {
    word.contains('/') || (cfg!(windows) && word.contains('\\'))
}
