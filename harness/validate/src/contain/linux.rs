//! Linux: each tool run in new user, mount, PID, IPC and network
//! namespaces, set up by the forked child with raw system calls before the
//! tool is executed. No root, no setuid helper: unprivileged user namespaces
//! (Linux 5.12 or later for `mount_setattr`).
//!
//! What the tool sees:
//!
//! * **every mount read-only** (`mount_setattr(AT_RECURSIVE,
//!   MOUNT_ATTR_RDONLY)`): a write anywhere fails with `EROFS`; devices such
//!   as `/dev/null` stay writable (a read-only mount does not stop writes to
//!   a device node);
//! * **its case directory writable**: the real directory, bind-mounted over
//!   itself and made read-write again, the only place where a write reaches
//!   the real file system;
//! * **private writable places** ([`Places`]: the temporary directories, the
//!   real home directory from the password database, `$HOME`, the caller's
//!   working directory, the directory holding the cases): an overlay whose
//!   lower layer is the real directory (the tool reads what is there) and
//!   whose upper layer lives on a private, size-capped tmpfs. A write there
//!   succeeds for the tool, never reaches the real directory, and is found
//!   afterwards in the upper layer, so the report names the path even when
//!   the tool swallowed an error or carried on.
//!
//! Processes: the tool runs as PID 2 under a small init (PID 1, forked by
//! the child certmig spawned); when the tool exits, init reports whether
//! anything it started is still alive, certmig names those processes from
//! `/proc`, and init kills everything left (`kill(-1)`) before it ends.
//! When init dies, for any reason, the kernel kills every process of the
//! namespace: nothing the tool starts can outlive its run, whatever session,
//! process group or descriptors it takes. Capabilities: the tool runs with
//! none (`SECBIT_NOROOT` and `no_new_privs`), so it cannot undo the mounts.
//!
//! The protocol between certmig and the sandbox is a Unix socket and a pipe:
//! records `A` (the sandbox is up: init's pid, with the private tmpfs
//! attached as a descriptor, which certmig alone then holds), `B` (the tool exited: its wait status, and whether processes are
//! left), `C` (everything is dead), `E` (the tool could not be executed),
//! `F` (the sandbox could not be set up: step and errno); certmig answers
//! with one byte, "kill everything now", and finally closes its end.
//!
//! Everything the forked child does is an async-signal-safe system call on
//! data prepared before the fork (the parent may have other threads).

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::Finished;

/// Upper bound on what the tool may write into the private places,
/// together (the tmpfs size): beyond it its writes fail with `ENOSPC`.
const PRIVATE_BYTES: u64 = 64 << 20;
/// And on how many files and directories it may make there.
const PRIVATE_INODES: u64 = 16_384;

/// At most this many entries of the private places are looked at.
const WALK_ENTRIES: usize = 10_000;
/// And this deep.
const WALK_DEPTH: usize = 32;

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const AT_RECURSIVE: libc::c_int = 0x8000;

const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;
const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
const SECBIT_NO_SETUID_FIXUP_LOCKED: libc::c_ulong = 1 << 3;

/// The places where a tool's writes are captured (each an overlay), and
/// the places that stay plain read-only because they cannot be overlaid.
#[derive(Debug, Clone)]
pub struct Places {
    pub overlaid: Vec<PathBuf>,
    /// Not overlaid, with why (writes there are still prevented).
    pub skipped: Vec<(PathBuf, String)>,
}

/// The real home directory of the user running certmig, from the password
/// database (not `$HOME`, which the caller controls).
fn passwd_home() -> Option<PathBuf> {
    // SAFETY: getpwuid_r writes into `pwd` and `buf`, both owned here and
    // sized as passed; `result` points into them or is null.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let r = libc::getpwuid_r(
            libc::getuid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if r != 0 || result.is_null() || pwd.pw_dir.is_null() {
            return None;
        }
        let dir = std::ffi::CStr::from_ptr(pwd.pw_dir);
        Some(PathBuf::from(OsStr::from_bytes(dir.to_bytes())))
    }
}

/// Mount points, from `/proc/self/mountinfo` (field 5, octal escapes
/// decoded).
fn mount_points() -> Vec<PathBuf> {
    let Ok(text) = std::fs::read("/proc/self/mountinfo") else {
        return Vec::new();
    };
    text.split(|b| *b == b'\n')
        .filter_map(|line| line.split(|b| *b == b' ').nth(4))
        .map(|raw| PathBuf::from(OsStr::from_bytes(&unescape_octal(raw))))
        .collect()
}

/// mountinfo writes a space, tab, newline or backslash in a path as `\ooo`.
fn unescape_octal(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let code = raw
            .get(i + 1..i + 4)
            .filter(|d| raw[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|d| d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0')));
        match code {
            Some(v) => {
                out.push(v as u8);
                i += 4;
            }
            None => {
                out.push(raw[i]);
                i += 1;
            }
        }
    }
    out
}

/// A path the overlay's option string can carry as it is.
fn plain_option_path(p: &Path) -> bool {
    !p.as_os_str()
        .as_bytes()
        .iter()
        .any(|b| matches!(b, b',' | b':' | b'\\' | b'=' | b'\n'))
}

impl Places {
    /// The places a tool could write to on a real machine that other
    /// programs also use: the system temporary directories, the real home
    /// directory and `$HOME`, the working directory, and `case_root` (where
    /// the case directories are made). Each is made canonical; a place
    /// inside another is covered by it; `/` and places with mounts beneath
    /// them are not overlaid (an overlay would hide those mounts).
    pub fn discover(case_root: &Path) -> Places {
        let mut candidates: Vec<PathBuf> = vec![
            std::env::temp_dir(),
            "/tmp".into(),
            "/var/tmp".into(),
            "/dev/shm".into(),
        ];
        candidates.extend(passwd_home());
        candidates.extend(std::env::var_os("HOME").map(PathBuf::from));
        candidates.extend(std::env::current_dir().ok());
        candidates.extend(case_root.parent().map(Path::to_path_buf));
        let mut canonical: Vec<PathBuf> = candidates
            .into_iter()
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .filter(|p| p.is_dir())
            .collect();
        canonical.sort();
        canonical.dedup();
        // The outermost of nested places covers the others.
        let outer: Vec<PathBuf> = canonical
            .iter()
            .filter(|p| !canonical.iter().any(|q| q != *p && p.starts_with(q)))
            .cloned()
            .collect();
        let mounts = mount_points();
        let mut places = Places {
            overlaid: Vec::new(),
            skipped: Vec::new(),
        };
        for p in outer {
            if p == Path::new("/") {
                places
                    .skipped
                    .push((p, "the root directory (read-only, not watched)".into()));
            } else if mounts.iter().any(|m| m != &p && m.starts_with(&p)) {
                places.skipped.push((
                    p,
                    "has file systems mounted beneath it (read-only, not watched)".into(),
                ));
            } else if !plain_option_path(&p) {
                places.skipped.push((
                    p,
                    "its name has a character an overlay option cannot carry (read-only, not watched)"
                        .into(),
                ));
            } else {
                places.overlaid.push(p);
            }
        }
        places
    }
}

/// Everything the forked child needs, prepared before the fork.
struct Plan {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    case_dir: CString,
    /// `(upper, work)` directories, made on the private tmpfs.
    layers: Vec<(CString, CString)>,
    /// `(mount point, options)`, the one covering the case directory last.
    overlays: Vec<(CString, CString)>,
    tmpfs_options: CString,
    program: CString,
    /// Owns the strings `argv_ptrs` points into.
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
}

// SAFETY: the raw pointers in `argv_ptrs` point into `argv`, owned by the
// same Plan and never changed after it is built; the plan is only read.
unsafe impl Send for Plan {}
unsafe impl Sync for Plan {}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in a path"))
}

fn cpath(p: &Path) -> io::Result<CString> {
    cstring(p.as_os_str().as_bytes())
}

impl Plan {
    fn new(places: &Places, case_dir: &Path, argv: &[String]) -> io::Result<Plan> {
        if !plain_option_path(case_dir) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: the case directory's name cannot be an overlay option",
                    case_dir.display()
                ),
            ));
        }
        // SAFETY: getuid/getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let mut layers = Vec::new();
        let mut overlays = Vec::new();
        let mut covering = None;
        for (i, place) in places.overlaid.iter().enumerate() {
            let upper = case_dir.join(format!("u{i}"));
            let work = case_dir.join(format!("w{i}"));
            let options = format!(
                "lowerdir={},upperdir={},workdir={}",
                place.display(),
                upper.display(),
                work.display()
            );
            layers.push((cpath(&upper)?, cpath(&work)?));
            let entry = (cpath(place)?, cstring(options.as_bytes())?);
            if case_dir.starts_with(place) {
                covering = Some(entry);
            } else {
                overlays.push(entry);
            }
        }
        overlays.extend(covering);
        let program = cstring(argv[0].as_bytes())?;
        let argv: Vec<CString> = argv
            .iter()
            .map(|a| cstring(a.as_bytes()))
            .collect::<io::Result<_>>()?;
        let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        Ok(Plan {
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
            case_dir: cpath(case_dir)?,
            layers,
            overlays,
            tmpfs_options: cstring(
                format!("size={PRIVATE_BYTES},nr_inodes={PRIVATE_INODES},mode=0700").as_bytes(),
            )?,
            program,
            _argv: argv,
            argv_ptrs,
        })
    }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Writes all of `buf` to `fd` (a record, under PIPE_BUF: one write).
unsafe fn put(fd: RawFd, buf: &[u8]) {
    libc::write(fd, buf.as_ptr().cast(), buf.len());
}

/// Sends record A (`'A'` and `data`) with descriptor `fd` attached
/// (SCM_RIGHTS), from the forked child: a stack buffer, no allocation.
unsafe fn send_with_fd(sock: RawFd, data: &[u8; 4], fd: RawFd) {
    let mut bytes = [b'A', data[0], data[1], data[2], data[3]];
    let mut iov = libc::iovec {
        iov_base: bytes.as_mut_ptr().cast(),
        iov_len: bytes.len(),
    };
    // Room for one descriptor's control message, aligned for cmsghdr.
    let mut control = [0u64; 8];
    let mut msg: libc::msghdr = std::mem::zeroed();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as _;
    let cmsg = libc::CMSG_FIRSTHDR(&msg);
    (*cmsg).cmsg_level = libc::SOL_SOCKET;
    (*cmsg).cmsg_type = libc::SCM_RIGHTS;
    (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
    std::ptr::copy_nonoverlapping(
        (&fd as *const RawFd).cast::<u8>(),
        libc::CMSG_DATA(cmsg),
        std::mem::size_of::<RawFd>(),
    );
    libc::sendmsg(sock, &msg, 0);
}

/// Reports a failed set-up step and ends the child.
unsafe fn fail(res: RawFd, step: u8) -> ! {
    let e = errno().to_le_bytes();
    put(res, &[b'F', step, e[0], e[1], e[2], e[3]]);
    libc::_exit(125)
}

unsafe fn write_proc(path: &[u8], data: &[u8]) -> bool {
    let fd = libc::open(path.as_ptr().cast(), libc::O_WRONLY | libc::O_CLOEXEC);
    if fd < 0 {
        return false;
    }
    let ok = libc::write(fd, data.as_ptr().cast(), data.len()) == data.len() as isize;
    libc::close(fd);
    ok
}

unsafe fn mount_setattr(path: *const libc::c_char, flags: libc::c_int, attr: &MountAttr) -> bool {
    libc::syscall(
        libc::SYS_mount_setattr,
        libc::AT_FDCWD,
        path,
        flags as libc::c_uint,
        attr as *const MountAttr,
        std::mem::size_of::<MountAttr>(),
    ) == 0
}

/// Closes every descriptor but those in `keep`.
unsafe fn close_all_but(keep: &[RawFd]) {
    let mut sorted = [-1; 4];
    let n = keep.len().min(4);
    sorted[..n].copy_from_slice(&keep[..n]);
    sorted[..n].sort_unstable();
    let mut low: libc::c_uint = 0;
    for &fd in &sorted[..n] {
        if fd >= 0 && fd as libc::c_uint > low {
            close_range(low, fd as libc::c_uint - 1);
        }
        if fd >= 0 {
            low = fd as libc::c_uint + 1;
        }
    }
    close_range(low, libc::c_uint::MAX);
}

unsafe fn close_range(low: libc::c_uint, high: libc::c_uint) {
    if libc::syscall(libc::SYS_close_range, low, high, 0) != 0 {
        // Before Linux 5.9: one by one, up to a bound.
        let mut fd = low;
        while fd <= high.min(65_535) {
            libc::close(fd as libc::c_int);
            fd += 1;
        }
    }
}

/// Writes `/proc/self/fd/N` and a NUL into `buf` (no allocation).
fn fd_path(fd: RawFd, buf: &mut [u8; 32]) {
    let prefix = b"/proc/self/fd/";
    buf[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 10];
    let mut n = fd.max(0) as u32;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        buf[prefix.len() + i] = digits[len - 1 - i];
    }
    buf[prefix.len() + len] = 0;
}

/// Sets up the namespaces and mounts (steps 1-12), in the forked child.
/// Returns the descriptor of the private tmpfs.
unsafe fn setup(plan: &Plan, res: RawFd) -> RawFd {
    let flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWNET;
    if libc::unshare(flags) != 0 {
        fail(res, 1);
    }
    if !write_proc(b"/proc/self/setgroups\0", b"deny") && errno() != libc::ENOENT {
        fail(res, 2);
    }
    if !write_proc(b"/proc/self/uid_map\0", &plan.uid_map) {
        fail(res, 3);
    }
    if !write_proc(b"/proc/self/gid_map\0", &plan.gid_map) {
        fail(res, 4);
    }
    let root = c"/".as_ptr();
    if libc::mount(
        std::ptr::null(),
        root,
        std::ptr::null(),
        libc::MS_REC | libc::MS_PRIVATE,
        std::ptr::null(),
    ) != 0
    {
        fail(res, 5);
    }
    // The real case directory, as a mount of this namespace (a bind mount's
    // source must be one), before the tmpfs covers it.
    let real_case = libc::open(
        plan.case_dir.as_ptr(),
        libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
    );
    if real_case < 0 {
        fail(res, 11);
    }
    let mut real_case_path = [0u8; 32];
    fd_path(real_case, &mut real_case_path);
    let read_only = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    if !mount_setattr(root, AT_RECURSIVE, &read_only) {
        fail(res, 6);
    }
    if libc::mount(
        c"certmig".as_ptr(),
        plan.case_dir.as_ptr(),
        c"tmpfs".as_ptr(),
        libc::MS_NOSUID | libc::MS_NODEV,
        plan.tmpfs_options.as_ptr().cast(),
    ) != 0
    {
        fail(res, 7);
    }
    for (upper, work) in &plan.layers {
        if libc::mkdir(upper.as_ptr(), 0o700) != 0 || libc::mkdir(work.as_ptr(), 0o700) != 0 {
            fail(res, 8);
        }
    }
    let private = libc::open(
        plan.case_dir.as_ptr(),
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
    );
    if private < 0 {
        fail(res, 9);
    }
    for (target, options) in &plan.overlays {
        if libc::mount(
            c"overlay".as_ptr(),
            target.as_ptr(),
            c"overlay".as_ptr(),
            libc::MS_NOSUID,
            options.as_ptr().cast(),
        ) != 0
        {
            fail(res, 10);
        }
    }
    if libc::mount(
        real_case_path.as_ptr().cast(),
        plan.case_dir.as_ptr(),
        std::ptr::null(),
        libc::MS_BIND,
        std::ptr::null(),
    ) != 0
    {
        fail(res, 11);
    }
    let writable = MountAttr {
        attr_set: 0,
        attr_clr: MOUNT_ATTR_RDONLY,
        propagation: 0,
        userns_fd: 0,
    };
    if !mount_setattr(plan.case_dir.as_ptr(), 0, &writable) {
        fail(res, 12);
    }
    libc::close(real_case);
    private
}

/// The child certmig spawned: sets up, forks init, waits for it.
unsafe fn sandbox_child(plan: &Plan, res: RawFd, ctl: RawFd) -> ! {
    let private = setup(plan, res);
    let init = libc::fork();
    if init < 0 {
        fail(res, 13);
    }
    if init == 0 {
        init_main(plan, res, ctl);
    }
    // Record A carries the private tmpfs to certmig, which alone keeps it:
    // no process of the namespace holds a way to it.
    send_with_fd(res, &init.to_le_bytes(), private);
    close_all_but(&[]);
    loop {
        let mut status = 0;
        let r = libc::waitpid(init, &mut status, 0);
        if r == init || (r < 0 && errno() != libc::EINTR) {
            libc::_exit(0);
        }
    }
}

/// Reaps every exited child but `keep`; true when a child is still alive.
unsafe fn reap_all_but(keep: libc::pid_t) -> bool {
    loop {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        if r != 0 {
            return false; // ECHILD: no children at all
        }
        let pid = info.si_pid();
        if pid == 0 || pid == keep {
            return pid == 0;
        }
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

/// Waits for one byte (or the end) on `ctl`.
unsafe fn await_word(ctl: RawFd) {
    let mut b = 0u8;
    while libc::read(ctl, (&mut b as *mut u8).cast(), 1) < 0 && errno() == libc::EINTR {}
}

unsafe fn kill_everything_and_reap() {
    libc::kill(-1, libc::SIGKILL);
    loop {
        let r = libc::waitpid(-1, std::ptr::null_mut(), 0);
        if r < 0 && errno() != libc::EINTR {
            break;
        }
    }
}

/// PID 1 of the namespace: starts the tool and watches it.
unsafe fn init_main(plan: &Plan, res: RawFd, ctl: RawFd) -> ! {
    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    // The tool cannot ptrace init (and make it lie to certmig)...
    libc::prctl(libc::PR_SET_DUMPABLE, 0);
    // ...nor see any process outside its namespace: a /proc of its own
    // (where that is refused, the tool sees the machine's /proc).
    libc::mount(
        c"proc".as_ptr(),
        c"/proc".as_ptr(),
        c"proc".as_ptr(),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY,
        std::ptr::null(),
    );
    let tool = libc::fork();
    if tool < 0 {
        fail(res, 14);
    }
    if tool == 0 {
        tool_main(plan, res);
    }
    close_all_but(&[res, ctl]);
    let pidfd = libc::syscall(libc::SYS_pidfd_open, tool, 0) as RawFd;
    let mut status = 0;
    let mut exited = false;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: pidfd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: ctl,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // Without a pidfd (Linux before 5.3), look every 10 ms.
        let n = libc::poll(fds.as_mut_ptr(), 2, if pidfd < 0 { 10 } else { 1000 });
        if n > 0 && fds[1].revents != 0 {
            break; // killed on certmig's word (timeout, too much output)
        }
        reap_all_but(tool);
        let r = libc::waitpid(tool, &mut status, libc::WNOHANG);
        if r == tool {
            exited = true;
            break;
        }
    }
    if exited {
        let left = reap_all_but(0) as u8;
        let s = status.to_le_bytes();
        put(res, &[b'B', s[0], s[1], s[2], s[3], left]);
        await_word(ctl);
    }
    kill_everything_and_reap();
    put(res, b"C");
    await_word(ctl);
    libc::_exit(0)
}

/// The tool: no capabilities, no new privileges, in its case directory.
unsafe fn tool_main(plan: &Plan, res: RawFd) -> ! {
    libc::prctl(
        libc::PR_SET_SECUREBITS,
        SECBIT_NOROOT
            | SECBIT_NOROOT_LOCKED
            | SECBIT_NO_SETUID_FIXUP
            | SECBIT_NO_SETUID_FIXUP_LOCKED,
    );
    libc::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL,
        0,
        0,
        0,
    );
    libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if libc::chdir(plan.case_dir.as_ptr()) == 0 {
        libc::execv(plan.program.as_ptr(), plan.argv_ptrs.as_ptr());
    }
    let e = errno().to_le_bytes();
    put(res, &[b'E', e[0], e[1], e[2], e[3]]);
    libc::_exit(127)
}

/// What each failed set-up step was doing.
fn step_name(step: u8) -> &'static str {
    match step {
        1 => "unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWIPC|CLONE_NEWNET)",
        2 => "writing /proc/self/setgroups",
        3 => "writing /proc/self/uid_map",
        4 => "writing /proc/self/gid_map",
        5 => "making the mounts private",
        6 => "mount_setattr(MOUNT_ATTR_RDONLY, AT_RECURSIVE)",
        7 => "mounting the private tmpfs",
        8 => "making the overlay layers",
        9 => "opening the private tmpfs",
        10 => "mounting an overlay",
        11 => "opening or bind-mounting the case directory",
        12 => "making the case directory writable",
        13 => "fork (init)",
        14 => "fork (tool)",
        _ => "an unknown step",
    }
}

/// The report channel: a Unix socket pair (record A carries a descriptor).
fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two descriptors into `fds`, which we own.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are fresh descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`, which we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are fresh descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Whether namespaces can contain a tool on this machine: the whole set-up
/// is tried once in a forked child (on a throwaway directory with one
/// overlay), and the answer kept.
pub fn available() -> Result<(), String> {
    static ANSWER: OnceLock<Result<(), String>> = OnceLock::new();
    ANSWER.get_or_init(probe).clone()
}

fn probe() -> Result<(), String> {
    let scratch = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let lower = scratch.path().join("lower");
    let case = scratch.path().join("case");
    std::fs::create_dir(&lower)
        .and_then(|_| std::fs::create_dir(&case))
        .map_err(|e| e.to_string())?;
    let places = Places {
        overlaid: vec![lower],
        skipped: vec![],
    };
    let plan = Plan::new(&places, &case, &["/".to_owned()]).map_err(|e| e.to_string())?;
    let (res_r, res_w) = pipe().map_err(|e| e.to_string())?;
    // SAFETY: the child only makes system calls on data prepared above
    // (setup) and ends with _exit; the parent waits for it.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: see above.
        unsafe {
            setup(&plan, res_w.as_raw_fd());
            libc::_exit(0)
        }
    }
    drop(res_w);
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let mut buf = [0u8; 16];
    let n = read_some(&res_r, &mut buf);
    if n >= 6 && buf[0] == b'F' {
        let e = i32::from_le_bytes([buf[2], buf[3], buf[4], buf[5]]);
        return Err(format!(
            "{}: {}",
            step_name(buf[1]),
            io::Error::from_raw_os_error(e)
        ));
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(format!("the probe ended with wait status {status}"))
    }
}

/// Reads what is there (at most `buf`'s length), and a descriptor sent
/// with it (SCM_RIGHTS), if any.
fn receive(sock: &OwnedFd, buf: &mut [u8]) -> (usize, Option<OwnedFd>) {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 8];
    loop {
        // SAFETY: recvmsg writes into `buf` and `control`, both owned here
        // and sized as the header says; a descriptor it passes is ours.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&control) as _;
            let n = libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
            if n < 0 {
                if errno() == libc::EINTR {
                    continue;
                }
                return (0, None);
            }
            let mut fd = None;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            if !cmsg.is_null()
                && (*cmsg).cmsg_level == libc::SOL_SOCKET
                && (*cmsg).cmsg_type == libc::SCM_RIGHTS
            {
                let mut raw: RawFd = -1;
                std::ptr::copy_nonoverlapping(
                    libc::CMSG_DATA(cmsg),
                    (&mut raw as *mut RawFd).cast::<u8>(),
                    std::mem::size_of::<RawFd>(),
                );
                if raw >= 0 {
                    fd = Some(OwnedFd::from_raw_fd(raw));
                }
            }
            return (n as usize, fd);
        }
    }
}

fn read_some(fd: &OwnedFd, buf: &mut [u8]) -> usize {
    loop {
        // SAFETY: reads into `buf`, owned here, at most its length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return n as usize;
        }
        if errno() != libc::EINTR {
            return 0;
        }
    }
}

/// A tool running in its namespaces.
pub struct Contained {
    pub child: Child,
    res: OwnedFd,
    ctl: Option<OwnedFd>,
    places: Vec<PathBuf>,
    /// From record A.
    init: Option<libc::pid_t>,
    /// From record A: the private tmpfs holding the overlays' upper layers.
    private: Option<OwnedFd>,
    /// From record B: the tool's wait status and whether it left processes.
    status: Option<(i32, bool)>,
    /// From record E or F: why the tool never ran.
    start_error: Option<String>,
    /// Record C: every process of the namespace but init is dead.
    dead: bool,
    /// The pipe's writers are all gone.
    closed: bool,
    pending: Vec<u8>,
}

/// Starts `argv` contained, in `case_dir`, with `command` (already given
/// its environment and pipes; its program and arguments are not used: the
/// sandbox executes `argv` itself).
pub fn spawn(
    command: &mut Command,
    places: &Places,
    case_dir: &Path,
    argv: &[String],
) -> io::Result<Contained> {
    let plan = Plan::new(places, case_dir, argv)?;
    let (res_r, res_w) = socket_pair()?;
    let (ctl_r, ctl_w) = pipe()?;
    let (res, ctl) = (res_w.as_raw_fd(), ctl_r.as_raw_fd());
    command.process_group(0);
    // SAFETY: the closure runs in the forked child and only makes system
    // calls on the plan and descriptors prepared above; it never returns in
    // the sandbox processes (they _exit), and the tool executes itself.
    unsafe {
        command.pre_exec(move || sandbox_child(&plan, res, ctl));
    }
    let child = command.spawn()?;
    drop((res_w, ctl_r));
    let mut c = Contained {
        child,
        res: res_r,
        ctl: Some(ctl_w),
        places: places.overlaid.clone(),
        init: None,
        private: None,
        status: None,
        start_error: None,
        dead: false,
        closed: false,
        pending: Vec::new(),
    };
    // Record A (or F) comes within milliseconds.
    c.pump_until(Duration::from_secs(10), |c| {
        c.init.is_some() || c.start_error.is_some()
    });
    if c.init.is_none() && c.start_error.is_none() {
        c.start_error = Some("the sandbox did not start within 10 s".into());
    }
    Ok(c)
}

impl Contained {
    /// Reads what arrives within `wait` (returning as soon as something
    /// does) and takes the records it completes.
    fn pump(&mut self, wait: Duration) {
        if self.closed {
            return;
        }
        let mut fds = [libc::pollfd {
            fd: self.res.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one pollfd owned here.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, wait.as_millis().min(60_000) as i32) };
        if n <= 0 {
            return;
        }
        let mut buf = [0u8; 64];
        let (got, fd) = receive(&self.res, &mut buf);
        if let Some(fd) = fd {
            self.private = Some(fd);
        }
        if got == 0 {
            self.closed = true; // every writer is gone
        }
        self.pending.extend_from_slice(&buf[..got]);
        self.parse_pending();
    }

    /// Pumps until `done` holds, the pipe closes or `wait` has passed.
    fn pump_until(&mut self, wait: Duration, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + wait;
        while !done(self) && !self.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            self.pump(left);
        }
    }

    fn parse_pending(&mut self) {
        loop {
            let need = match self.pending.first() {
                None => return,
                Some(b'A') => 5,
                Some(b'B') => 6,
                Some(b'C') => 1,
                Some(b'E') => 5,
                Some(b'F') => 6,
                Some(_) => {
                    self.pending.clear();
                    return;
                }
            };
            if self.pending.len() < need {
                return;
            }
            let r: Vec<u8> = self.pending.drain(..need).collect();
            let int = |i: usize| i32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
            match r[0] {
                b'A' => self.init = Some(int(1)),
                b'B' => self.status = Some((int(1), r[5] != 0)),
                b'C' => self.dead = true,
                b'E' => {
                    self.start_error = Some(format!(
                        "cannot be executed: {}",
                        io::Error::from_raw_os_error(int(1))
                    ))
                }
                b'F' => {
                    self.start_error = Some(format!(
                        "certmig could not contain the tool ({}): {}",
                        step_name(r[1]),
                        io::Error::from_raw_os_error(int(2))
                    ))
                }
                _ => {}
            }
        }
    }

    /// True once the tool has exited (waiting at most `wait`).
    pub fn exited(&mut self, wait: Duration) -> bool {
        if self.status.is_none() && self.start_error.is_none() {
            self.pump(wait);
        }
        if self.closed && self.status.is_none() && self.start_error.is_none() {
            self.start_error = Some("the sandbox ended before the tool did".into());
        }
        self.status.is_some() || self.start_error.is_some()
    }

    fn word(&mut self) {
        if let Some(ctl) = &self.ctl {
            // SAFETY: writes one byte from a local.
            unsafe { put(ctl.as_raw_fd(), b"K") };
        }
    }

    /// Ends the run: names the processes the tool left (if it exited),
    /// kills everything, finds what it wrote outside, and lets the sandbox
    /// go.
    pub fn finish(mut self) -> Finished {
        let mut after = Finished {
            status: self
                .status
                .map(|s| std::os::unix::process::ExitStatusExt::from_raw(s.0)),
            start_error: self.start_error.clone(),
            ..Finished::default()
        };
        if let (Some(init), Some((_, true))) = (self.init, self.status) {
            after.leftovers = namespace_processes(self.child.id(), init);
        }
        self.word();
        if self.init.is_some() {
            self.pump_until(Duration::from_secs(10), |c| c.dead);
        }
        if self.init.is_some() {
            if let (true, Some(private)) = (self.dead, &self.private) {
                let root = PathBuf::from(format!("/proc/self/fd/{}", private.as_raw_fd()));
                let mut budget = WALK_ENTRIES;
                for (i, place) in self.places.iter().enumerate() {
                    walk_upper(
                        &root.join(format!("u{i}")),
                        place,
                        0,
                        &mut budget,
                        &mut after,
                    );
                }
            } else {
                after
                    .writes
                    .push("(the sandbox did not answer: what the tool wrote outside its case directory is unknown)".into());
            }
        }
        self.ctl = None; // init ends
                         // SAFETY: kill(2) on our child's process group; nothing of the
                         // sandbox may outlive this call.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
        after
    }
}

/// The processes of the sandbox's PID namespace other than init, as
/// `pid N: command line`, from `/proc` (the namespace is known from the
/// child certmig spawned, `sandbox`: init itself cannot be inspected).
fn namespace_processes(sandbox: u32, init: libc::pid_t) -> Vec<String> {
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(mine) = std::fs::read_link(format!("/proc/{sandbox}/ns/pid_for_children")).ok() else {
        return vec!["(processes left running, not named: /proc is not readable)".into()];
    };
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if pid == init.to_string() || ns(pid).as_ref() != Some(&mine) {
            continue;
        }
        let mut cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        cmd.truncate(200);
        for b in &mut cmd {
            if *b == 0 {
                *b = b' ';
            }
        }
        let cmd = String::from_utf8_lossy(&cmd).trim_end().to_owned();
        out.push(if cmd.is_empty() {
            format!("pid {pid} (no command line: starting or ending)")
        } else {
            format!("pid {pid}: {cmd}")
        });
        if out.len() >= 20 {
            break;
        }
    }
    out.sort();
    out
}

/// Lists what the tool wrote under one private place (an overlay's upper
/// layer), as paths of the real place; links are never followed, and the
/// walk is bounded.
fn walk_upper(dir: &Path, place: &Path, depth: usize, budget: &mut usize, after: &mut Finished) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    // Bounded before sorting: a directory may hold more than the budget.
    let mut names: Vec<_> = rd
        .flatten()
        .map(|e| e.file_name())
        .take(*budget + 1)
        .collect();
    names.sort();
    for name in names {
        if *budget == 0 {
            after.more_writes += 1;
            continue;
        }
        *budget -= 1;
        let here = dir.join(&name);
        let real = place.join(&name);
        let Ok(meta) = std::fs::symlink_metadata(&here) else {
            continue;
        };
        use std::os::unix::fs::FileTypeExt;
        use std::os::unix::fs::MetadataExt;
        let ft = meta.file_type();
        let line = if ft.is_char_device() && meta.rdev() == 0 {
            Some(format!("removed {}", real.display()))
        } else if ft.is_dir() {
            let before = after.writes.len() + after.more_writes;
            if depth < WALK_DEPTH {
                walk_upper(&here, &real, depth + 1, budget, after);
            }
            // A directory with nothing written beneath: made, or changed.
            (after.writes.len() + after.more_writes == before)
                .then(|| format!("made or changed the directory {}", real.display()))
        } else if ft.is_symlink() {
            Some(format!("made the link {}", real.display()))
        } else {
            Some(format!("wrote {}", real.display()))
        };
        if let Some(line) = line {
            if after.writes.len() < 20 {
                after.writes.push(line);
            } else {
                after.more_writes += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_octal(br"/mnt/a\040b\134c"), b"/mnt/a b\\c");
        assert_eq!(unescape_octal(br"/x\09"), br"/x\09"); // not octal
        assert_eq!(unescape_octal(br"/x\04"), br"/x\04"); // cut short
    }

    #[test]
    fn fd_paths_are_written_without_allocating() {
        for (fd, want) in [
            (0, "/proc/self/fd/0"),
            (7, "/proc/self/fd/7"),
            (1234, "/proc/self/fd/1234"),
        ] {
            let mut buf = [0u8; 32];
            fd_path(fd, &mut buf);
            let end = buf.iter().position(|b| *b == 0).unwrap();
            assert_eq!(&buf[..end], want.as_bytes());
        }
    }

    #[test]
    fn places_are_outermost_canonical_and_never_the_root() {
        let root = tempfile::tempdir().unwrap();
        let places = Places::discover(&root.path().join("cases"));
        for p in &places.overlaid {
            assert!(p.is_absolute() && p != Path::new("/"), "{p:?}");
            assert_eq!(std::fs::canonicalize(p).unwrap(), *p);
            assert!(
                !places.overlaid.iter().any(|q| q != p && p.starts_with(q)),
                "{p:?} is inside another place: {:?}",
                places.overlaid
            );
        }
        // The directory holding the cases is covered.
        let tmp = std::fs::canonicalize(root.path()).unwrap();
        assert!(
            places.overlaid.iter().any(|p| tmp.starts_with(p))
                || places.skipped.iter().any(|(p, _)| tmp.starts_with(p)),
            "{places:?}"
        );
        assert!(!plain_option_path(Path::new("/a,b")));
        assert!(!plain_option_path(Path::new("/a:b")));
        assert!(plain_option_path(Path::new("/tmp/certmig-validate-x1")));
    }
}
