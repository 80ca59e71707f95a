//! The Windows side of [`super`]: byte-range locks, file identity, the
//! write-through replace, command-line splitting, and Job Objects (with an
//! optional job-wide memory cap, the list of the job's processes and
//! [`process_image_name`] to name them), over `windows-sys`. Every `unsafe`
//! block is one documented Win32 call on handles and buffers owned by the
//! caller for the duration of the call.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::os::windows::io::AsRawHandle;
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};

use windows_sys::Win32::Foundation::{
    CloseHandle, GetLastError, LocalFree, ERROR_INSUFFICIENT_BUFFER, ERROR_IO_PENDING,
    ERROR_LOCK_VIOLATION, ERROR_MORE_DATA, HANDLE, INVALID_HANDLE_VALUE,
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
    AssignProcessToJobObject, CreateJobObjectW, JobObjectAssociateCompletionPortInformation,
    JobObjectBasicProcessIdList, JobObjectExtendedLimitInformation, QueryInformationJobObject,
    SetInformationJobObject, TerminateJobObject, JOBOBJECT_ASSOCIATE_COMPLETION_PORT,
    JOBOBJECT_BASIC_PROCESS_ID_LIST, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION, JOB_OBJECT_LIMIT_JOB_MEMORY,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Threading::{
    CreateMutexW, OpenProcess, OpenThread, QueryFullProcessImageNameW, ReleaseMutex, ResumeThread,
    WaitForSingleObject, PROCESS_NAME_WIN32, PROCESS_QUERY_LIMITED_INFORMATION,
    THREAD_SUSPEND_RESUME,
};
use windows_sys::Win32::System::IO::{
    CreateIoCompletionPort, GetQueuedCompletionStatus, OVERLAPPED,
};
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
/// (`DIE_ON_UNHANDLED_EXCEPTION`). It may also cap the memory committed by
/// all its processes together (`JOB_MEMORY`, see [`Job::memory_limit_hit`]).
pub struct Job {
    handle: HANDLE,
    /// The job-wide memory cap in bytes, if one was set.
    limit: Option<u64>,
    /// A completion port receiving the job's notifications (null when
    /// there is no limit or the port could not be set up): it is how a
    /// refused commit is noticed, since a refusal does not raise the peak.
    port: HANDLE,
    /// Whether a `JOB_MEMORY_LIMIT` notification has been read off `port`.
    limit_hit: AtomicBool,
}

// SAFETY: Job Object and completion port handles may be used from any thread.
unsafe impl Send for Job {}

/// The notification a job posts to its completion port when a process is
/// refused memory over the job-wide limit (`winnt.h`; windows-sys keeps it
/// under the `Win32_System_SystemServices` feature).
const JOB_OBJECT_MSG_JOB_MEMORY_LIMIT: u32 = 10;

impl Job {
    /// Puts a child started with `CREATE_SUSPENDED` into a new job, then
    /// lets it run: nothing it starts can be created outside the job.
    /// With `memory_limit`, the memory committed by all the job's
    /// processes together is capped at that many bytes: a commit past it
    /// fails (the process sees an allocation failure; nothing is killed).
    pub fn contain_suspended(child: &Child, memory_limit: Option<u64>) -> io::Result<Job> {
        // SAFETY: no security attributes, no name.
        let handle = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if handle.is_null() {
            return Err(io::Error::last_os_error());
        }
        let mut job = Job {
            handle,
            limit: memory_limit,
            port: std::ptr::null_mut(),
            limit_hit: AtomicBool::new(false),
        };
        // SAFETY: plain data; zeroed means "no limits" before the flags below.
        let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        limits.BasicLimitInformation.LimitFlags =
            JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
        if let Some(bytes) = memory_limit {
            limits.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_JOB_MEMORY;
            limits.JobMemoryLimit = usize::try_from(bytes).unwrap_or(usize::MAX);
        }
        // SAFETY: `limits` is the structure the information class names,
        // with its size; the job handle is open.
        let ok = unsafe {
            SetInformationJobObject(
                job.handle,
                JobObjectExtendedLimitInformation,
                &limits as *const _ as *const _,
                std::mem::size_of_val(&limits) as u32,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        if memory_limit.is_some() {
            // Best effort: without the port, only the peak tells.
            job.port = completion_port_for(job.handle);
        }
        // SAFETY: both handles are open (the child's is owned by `child`).
        if unsafe { AssignProcessToJobObject(job.handle, child.as_raw_handle() as HANDLE) } == 0 {
            return Err(io::Error::last_os_error());
        }
        resume_threads(child.id())?;
        Ok(job)
    }

    /// Ends every process in the job at once.
    pub fn kill_all(&self) {
        // SAFETY: the job handle is open until drop.
        unsafe { TerminateJobObject(self.handle, 1) };
    }

    /// The ids of the processes in the job now (its nested jobs' included).
    pub fn process_ids(&self) -> io::Result<Vec<u32>> {
        // JOBOBJECT_BASIC_PROCESS_ID_LIST is two counts followed by as many
        // ids (ULONG_PTR) as the buffer holds; a Vec<usize> keeps the
        // buffer aligned for it, and the ids are then its words after the
        // header.
        let header = std::mem::offset_of!(JOBOBJECT_BASIC_PROCESS_ID_LIST, ProcessIdList)
            / std::mem::size_of::<usize>();
        let mut capacity = 1024;
        for _ in 0..2 {
            let mut buf = vec![0usize; header + capacity];
            let bytes = u32::try_from(std::mem::size_of_val(buf.as_slice()))
                .map_err(|_| io::Error::other("the job holds too many processes to list"))?;
            // SAFETY: `buf` is writable for `bytes` bytes, aligned for the
            // structure the information class names and at least its size;
            // the job handle is open.
            let ok = unsafe {
                QueryInformationJobObject(
                    self.handle,
                    JobObjectBasicProcessIdList,
                    buf.as_mut_ptr().cast(),
                    bytes,
                    std::ptr::null_mut(),
                )
            };
            if ok == 0 {
                // A buffer too small for every id still gets the counts
                // and the ids that fit.
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(ERROR_MORE_DATA as i32) {
                    return Err(e);
                }
            }
            // SAFETY: `buf` is aligned for the structure and larger than
            // it, and its counts were written by the call above.
            let (assigned, listed) = unsafe {
                let list = &*buf.as_ptr().cast::<JOBOBJECT_BASIC_PROCESS_ID_LIST>();
                (
                    list.NumberOfAssignedProcesses,
                    list.NumberOfProcessIdsInList,
                )
            };
            let listed = (listed as usize).min(capacity);
            if (assigned as usize) <= listed || capacity > 1024 {
                return Ok(buf[header..header + listed]
                    .iter()
                    .filter_map(|&id| u32::try_from(id).ok())
                    .collect());
            }
            // More processes than room: once more, with room to spare for
            // those started meanwhile.
            capacity = assigned as usize + 256;
        }
        unreachable!("the second pass always returns")
    }

    /// Whether the job's processes were refused memory over the limit
    /// given to [`Job::contain_suspended`] (always `false` without one):
    /// the job said so on its completion port, or its peak commit reached
    /// the limit.
    pub fn memory_limit_hit(&self) -> bool {
        let Some(limit) = self.limit else {
            return false;
        };
        self.drain_notifications();
        if self.limit_hit.load(Ordering::Relaxed) {
            return true;
        }
        // SAFETY: plain data, filled by the call below.
        let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is the structure the information class names, with
        // its size; the job handle is open.
        let ok = unsafe {
            QueryInformationJobObject(
                self.handle,
                JobObjectExtendedLimitInformation,
                (&mut info as *mut JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
                std::mem::size_of_val(&info) as u32,
                std::ptr::null_mut(),
            )
        };
        ok != 0 && info.PeakJobMemoryUsed as u64 >= limit
    }

    /// Reads every notification queued on the job's completion port,
    /// remembering a `JOB_MEMORY_LIMIT` one.
    fn drain_notifications(&self) {
        if self.port.is_null() {
            return;
        }
        loop {
            let (mut message, mut key) = (0u32, 0usize);
            let mut overlapped: *mut OVERLAPPED = std::ptr::null_mut();
            // SAFETY: the port is open until drop; the three out-pointers
            // are valid; a zero timeout only polls.
            let ok = unsafe {
                GetQueuedCompletionStatus(self.port, &mut message, &mut key, &mut overlapped, 0)
            };
            if ok == 0 {
                return;
            }
            if message == JOB_OBJECT_MSG_JOB_MEMORY_LIMIT {
                self.limit_hit.store(true, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: each handle is closed once, here (the port only if open).
        unsafe {
            CloseHandle(self.handle);
            if !self.port.is_null() {
                CloseHandle(self.port);
            }
        }
    }
}

/// A new completion port associated with `job`, so that the job's
/// notifications queue on it; null when either step fails.
fn completion_port_for(job: HANDLE) -> HANDLE {
    // SAFETY: creates a port tied to no file; closed below or by Job's drop.
    let port = unsafe { CreateIoCompletionPort(INVALID_HANDLE_VALUE, std::ptr::null_mut(), 0, 1) };
    if port.is_null() {
        return port;
    }
    let association = JOBOBJECT_ASSOCIATE_COMPLETION_PORT {
        CompletionKey: std::ptr::null_mut(),
        CompletionPort: port,
    };
    // SAFETY: `association` is the structure the information class names,
    // with its size; both handles are open.
    let ok = unsafe {
        SetInformationJobObject(
            job,
            JobObjectAssociateCompletionPortInformation,
            (&association as *const JOBOBJECT_ASSOCIATE_COMPLETION_PORT).cast(),
            std::mem::size_of_val(&association) as u32,
        )
    };
    if ok == 0 {
        // SAFETY: the port was created above and is closed once, here.
        unsafe { CloseHandle(port) };
        return std::ptr::null_mut();
    }
    port
}

/// The full path of the executable of process `pid`
/// (`QueryFullProcessImageNameW`), or `None` when the process cannot be
/// opened for `PROCESS_QUERY_LIMITED_INFORMATION` or queried.
pub fn process_image_name(pid: u32) -> Option<String> {
    // SAFETY: opens one process by id; the handle is closed below.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if process.is_null() {
        return None;
    }
    let mut name = None;
    // A path usually fits in the first buffer; a long one (`\\?\`, up
    // to 32767 characters) in the second.
    for room in [1024usize, 32768] {
        let mut buf = vec![0u16; room];
        let mut len = room as u32;
        // SAFETY: `process` is open with QUERY_LIMITED_INFORMATION; `buf`
        // is writable for `len` characters and `len` is a valid in/out
        // pointer.
        let ok = unsafe {
            QueryFullProcessImageNameW(process, PROCESS_NAME_WIN32, buf.as_mut_ptr(), &mut len)
        };
        if ok != 0 {
            let len = (len as usize).min(room);
            name = Some(
                std::ffi::OsString::from_wide(&buf[..len])
                    .to_string_lossy()
                    .into_owned(),
            );
            break;
        }
        // SAFETY: reads this thread's last error; no handles or buffers.
        if unsafe { GetLastError() } != ERROR_INSUFFICIENT_BUFFER {
            break;
        }
    }
    // SAFETY: opened above; closed once, here.
    unsafe { CloseHandle(process) };
    name
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
