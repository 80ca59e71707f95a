//! The Windows side of [`super`]: byte-range locks, file identity, the
//! write-through replace, command-line splitting and Job Objects, over
//! `windows-sys`. Every `unsafe` block is one documented Win32 call on
//! handles and buffers owned by the caller for the duration of the call.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::os::windows::io::AsRawHandle;
use std::path::Path;
use std::process::Child;

use windows_sys::Win32::Foundation::{
    CloseHandle, LocalFree, ERROR_IO_PENDING, ERROR_LOCK_VIOLATION, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Foundation::{WAIT_ABANDONED, WAIT_OBJECT_0};
use windows_sys::Win32::Storage::FileSystem::{
    GetFileInformationByHandle, LockFileEx, MoveFileExW, SetFileAttributesW,
    BY_HANDLE_FILE_INFORMATION, FILE_ATTRIBUTE_NORMAL, LOCKFILE_EXCLUSIVE_LOCK,
    LOCKFILE_FAIL_IMMEDIATELY, MOVEFILE_REPLACE_EXISTING, MOVEFILE_WRITE_THROUGH,
};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, Thread32First, Thread32Next, TH32CS_SNAPTHREAD, THREADENTRY32,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Threading::{
    CreateMutexW, OpenThread, ReleaseMutex, ResumeThread, WaitForSingleObject,
    THREAD_SUSPEND_RESUME,
};
use windows_sys::Win32::System::IO::OVERLAPPED;
use windows_sys::Win32::UI::Shell::CommandLineToArgvW;

/// The offset of the byte certmig's locks take. Windows' byte-range locks
/// are mandatory: a lock over the file's data would make every other
/// handle's reads fail (`ERROR_LOCK_VIOLATION`), the backup's copy and the
/// pipeline's own second handle included. Locking one byte far past any
/// real file's end excludes other certmig runs and nothing else (the same
/// device SQLite uses; locks past the end of a file are allowed:
/// <https://learn.microsoft.com/windows/win32/api/fileapi/nf-fileapi-lockfileex>).
const LOCK_OFFSET: u64 = 1 << 62;

/// Tries to take the lock byte of `file`, shared or exclusive, without
/// waiting: `Ok(false)` when another handle holds a conflicting lock. The
/// lock is released when the handle is closed.
pub fn try_lock(file: &File, exclusive: bool) -> io::Result<bool> {
    let mut flags = LOCKFILE_FAIL_IMMEDIATELY;
    if exclusive {
        flags |= LOCKFILE_EXCLUSIVE_LOCK;
    }
    // SAFETY: OVERLAPPED is plain data; zeroed is its documented initial state.
    let mut overlapped: OVERLAPPED = unsafe { std::mem::zeroed() };
    overlapped.Anonymous.Anonymous.Offset = LOCK_OFFSET as u32;
    overlapped.Anonymous.Anonymous.OffsetHigh = (LOCK_OFFSET >> 32) as u32;
    // SAFETY: the handle is open for the call; `overlapped` lives across it
    // (with LOCKFILE_FAIL_IMMEDIATELY on a synchronous handle the call
    // completes before it returns).
    let ok = unsafe {
        LockFileEx(
            file.as_raw_handle() as HANDLE,
            flags,
            0,
            1,
            0,
            &mut overlapped,
        )
    };
    if ok != 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error().map(|c| c as u32) {
        Some(ERROR_LOCK_VIOLATION) | Some(ERROR_IO_PENDING) => Ok(false),
        _ => Err(e),
    }
}

/// What identifies a file on Windows: the volume's serial number and the
/// file index (`GetFileInformationByHandle`), the pair Unix spells device
/// and inode.
pub fn file_id(file: &File) -> io::Result<(u32, u64)> {
    // SAFETY: plain data, filled by the call below.
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is open; `info` is a valid out-pointer.
    if unsafe { GetFileInformationByHandle(file.as_raw_handle() as HANDLE, &mut info) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((
        info.dwVolumeSerialNumber,
        (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
    ))
}

/// Opens a file or a directory for reading its identity and locking it
/// (directories need `FILE_FLAG_BACKUP_SEMANTICS` to be opened at all).
pub fn open_any(path: &Path) -> io::Result<File> {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_FLAG_BACKUP_SEMANTICS: u32 = 0x0200_0000;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
        .open(path)
}

/// A named mutex owned by this thread: the lock of an input (see
/// [`super::PathLock`]). Its name is the input's identity ([`file_id`]), so
/// every path to the file meets the same mutex. Released on drop, and by
/// Windows when the process ends (an abandoned mutex is taken as free).
pub struct NamedMutex(HANDLE);

impl std::fmt::Debug for NamedMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NamedMutex")
    }
}

// SAFETY: a mutex handle may be moved between threads. Ownership of the
// mutex stays with the thread that took it; should another thread drop it,
// ReleaseMutex fails harmlessly and closing the last handle frees it.
unsafe impl Send for NamedMutex {}

impl NamedMutex {
    /// Takes `Local\certmig-<volume>-<index>` without waiting: `Ok(None)`
    /// when another run holds it.
    pub fn try_take(id: (u32, u64)) -> io::Result<Option<NamedMutex>> {
        let name = wide(OsStr::new(&format!(
            "Local\\certmig-{:08x}-{:016x}",
            id.0, id.1
        )));
        // SAFETY: `name` is NUL-terminated and alive across the call.
        let h = unsafe { CreateMutexW(std::ptr::null(), 0, name.as_ptr()) };
        if h.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `h` is an open mutex handle; a zero timeout only polls.
        match unsafe { WaitForSingleObject(h, 0) } {
            // An abandoned mutex (its holder died) is ours now.
            WAIT_OBJECT_0 | WAIT_ABANDONED => Ok(Some(NamedMutex(h))),
            _ => {
                // SAFETY: not owned, so only the handle is closed, once.
                unsafe { CloseHandle(h) };
                Ok(None)
            }
        }
    }
}

impl Drop for NamedMutex {
    fn drop(&mut self) {
        // SAFETY: owned by this thread (see try_take); closed once.
        unsafe {
            ReleaseMutex(self.0);
            CloseHandle(self.0);
        }
    }
}

fn wide(s: &OsStr) -> Vec<u16> {
    s.encode_wide().chain(Some(0)).collect()
}

/// Renames `from` over `to` (replacing it), durably.
///
/// First `MoveFileExW(REPLACE_EXISTING | WRITE_THROUGH)`, which returns
/// only when the rename is on disk (Windows' counterpart of renaming and
/// then fsyncing the directory). Classic Windows refuses to replace a file
/// that is still open (`ERROR_ACCESS_DENIED`), and `fix` in place keeps its
/// input open and locked until the end; then the standard library's rename
/// is used, which asks for POSIX semantics (the open file keeps its bytes,
/// the name moves: Windows 10 1709 and later, on NTFS), and the renamed
/// file is flushed (`FlushFileBuffers`, which on NTFS commits its metadata).
/// A target that someone else holds open for a moment is waited for (up to
/// about two seconds).
/// `from` loses the temporary-file attribute first, so the result is an
/// ordinary file.
pub fn replace_file(from: &Path, to: &Path) -> io::Result<()> {
    let (f, t) = (wide(from.as_os_str()), wide(to.as_os_str()));
    // SAFETY: `f` is a NUL-terminated wide string alive across the call.
    unsafe { SetFileAttributesW(f.as_ptr(), FILE_ATTRIBUTE_NORMAL) };
    // Another process may have the target open for a moment (another
    // certmig run checking its identity, a virus scanner, an indexer): the
    // replace is refused while it does, so it is tried again for about two
    // seconds before the refusal is reported.
    let mut wait = std::time::Duration::from_millis(5);
    let mut tries = 0;
    loop {
        // SAFETY: both are NUL-terminated wide strings alive across the call.
        let ok = unsafe {
            MoveFileExW(
                f.as_ptr(),
                t.as_ptr(),
                MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH,
            )
        };
        if ok != 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::PermissionDenied {
            return Err(e);
        }
        if std::fs::rename(from, to).is_ok() {
            return std::fs::OpenOptions::new().write(true).open(to)?.sync_all();
        }
        tries += 1;
        if tries == 16 {
            return Err(e);
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(std::time::Duration::from_millis(250));
    }
}

/// Splits a command line the way Windows programs split theirs
/// (`CommandLineToArgvW`: the program name ends at the first space outside
/// quotes and keeps its backslashes; later words follow the
/// backslash-before-quote rules). An empty line has no words.
pub fn split_command_line(line: &str) -> Vec<String> {
    if line.trim().is_empty() {
        // CommandLineToArgvW answers an empty line with the current
        // program's own path.
        return vec![];
    }
    let w = wide(OsStr::new(line));
    let mut n = 0i32;
    // SAFETY: `w` is NUL-terminated and alive across the call; `n` is a
    // valid out-pointer.
    let argv = unsafe { CommandLineToArgvW(w.as_ptr(), &mut n) };
    if argv.is_null() {
        return vec![];
    }
    let words = (0..n.max(0) as usize)
        .map(|i| {
            // SAFETY: CommandLineToArgvW returned `n` pointers to
            // NUL-terminated wide strings, valid until LocalFree below.
            unsafe {
                let p = *argv.add(i);
                let len = (0..).take_while(|&k| *p.add(k) != 0).count();
                std::ffi::OsString::from_wide(std::slice::from_raw_parts(p, len))
                    .to_string_lossy()
                    .into_owned()
            }
        })
        .collect();
    // SAFETY: one block, allocated by CommandLineToArgvW for the caller.
    unsafe { LocalFree(argv as _) };
    words
}

/// A Job Object holding a fix tool and everything it starts. Closing it
/// (drop) kills whatever is still in it (`KILL_ON_JOB_CLOSE`); processes
/// cannot leave it (no `BREAKAWAY_OK`), and a process that crashes ends at
/// once instead of waiting on an error-report dialog
/// (`DIE_ON_UNHANDLED_EXCEPTION`).
pub struct Job(HANDLE);

// SAFETY: a Job Object handle may be used from any thread.
unsafe impl Send for Job {}

impl Job {
    /// Puts a child started with `CREATE_SUSPENDED` into a new job, then
    /// lets it run: nothing it starts can be created outside the job.
    pub fn contain_suspended(child: &Child) -> io::Result<Job> {
        // SAFETY: no security attributes, no name.
        let handle = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if handle.is_null() {
            return Err(io::Error::last_os_error());
        }
        let job = Job(handle);
        // SAFETY: plain data; zeroed means "no limits" before the flags below.
        let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        limits.BasicLimitInformation.LimitFlags =
            JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
        // SAFETY: `limits` is the structure the information class names,
        // with its size; the job handle is open.
        let ok = unsafe {
            SetInformationJobObject(
                job.0,
                JobObjectExtendedLimitInformation,
                &limits as *const _ as *const _,
                std::mem::size_of_val(&limits) as u32,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both handles are open (the child's is owned by `child`).
        if unsafe { AssignProcessToJobObject(job.0, child.as_raw_handle() as HANDLE) } == 0 {
            return Err(io::Error::last_os_error());
        }
        resume_threads(child.id())?;
        Ok(job)
    }

    /// Ends every process in the job at once.
    pub fn kill_all(&self) {
        // SAFETY: the job handle is open until drop.
        unsafe { TerminateJobObject(self.0, 1) };
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: closed once, here.
        unsafe { CloseHandle(self.0) };
    }
}

/// Resumes the threads of a process created suspended (std keeps the
/// primary thread's handle to itself, so they are found by enumeration).
fn resume_threads(pid: u32) -> io::Result<()> {
    // SAFETY: a snapshot of every thread of the system; closed below.
    let snap = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0) };
    if snap == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: plain data; dwSize must be set before the first call.
    let mut entry: THREADENTRY32 = unsafe { std::mem::zeroed() };
    entry.dwSize = std::mem::size_of::<THREADENTRY32>() as u32;
    let mut resumed = 0;
    // SAFETY: `snap` is open and `entry` valid with its size set.
    let mut more = unsafe { Thread32First(snap, &mut entry) } != 0;
    while more {
        if entry.th32OwnerProcessID == pid {
            // SAFETY: opens one thread by id; the handle is closed at once.
            let t = unsafe { OpenThread(THREAD_SUSPEND_RESUME, 0, entry.th32ThreadID) };
            if !t.is_null() {
                // SAFETY: `t` is an open thread handle with SUSPEND_RESUME.
                unsafe {
                    ResumeThread(t);
                    CloseHandle(t);
                }
                resumed += 1;
            }
        }
        // SAFETY: as for Thread32First.
        more = unsafe { Thread32Next(snap, &mut entry) } != 0;
    }
    // SAFETY: closed once.
    unsafe { CloseHandle(snap) };
    if resumed == 0 {
        return Err(io::Error::other(format!(
            "the tool's process {pid} has no thread to resume"
        )));
    }
    Ok(())
}
