//! `scan`, `fix`, `dump` and `fleet --inventory` over a directory of
//! hostile entries: a FIFO, a link to `/dev/zero`, link loops, a link out
//! of the tree, an unreadable file and a socket, each named like a store.
//! Every command ends in seconds, under 256 MiB (measured per process with
//! `wait4`), names every such entry and skips or refuses it, and writes
//! nothing. (SECURITY.md, "Special files"; issue 19, must-show 2.)

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{self, run_measured, Measured};

const MAX_RSS_KIB: u64 = 256 * 1024;

/// The hostile directory, beside one real store and one real `.reg`; the
/// names of the hostile entries.
fn hostile_dir(root: &Path) -> (PathBuf, Vec<&'static str>) {
    let d = root.join("d");
    std::fs::create_dir(&d).unwrap();
    let gen = root.join("g");
    support::gen(&gen, &["--machines", "1", "--format", "sst,reg"]);
    for f in std::fs::read_dir(&gen).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, d.join(f.file_name().unwrap())).unwrap();
    }
    support::mkfifo(&d.join("fifo.sst"));
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.sst")).unwrap();
    std::os::unix::fs::symlink(".", d.join("loop-a")).unwrap();
    std::os::unix::fs::symlink(".", d.join("loop-b")).unwrap();
    std::os::unix::fs::symlink("..", d.join("up")).unwrap();
    std::fs::write(d.join("unreadable.sst"), b"secret").unwrap();
    std::fs::set_permissions(
        d.join("unreadable.sst"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(d.join("sock.reg")).unwrap();
    std::mem::forget(_socket);
    for p in [root, &d] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    (
        d,
        vec![
            "fifo.sst",
            "zero.sst",
            "loop-a",
            "loop-b",
            "up",
            "unreadable.sst",
            "sock.reg",
        ],
    )
}

/// certmig as a user for whom `unreadable.sst` is unreadable: root reads
/// any file, so as root the run is made as another user.
fn certmig(args: &[&std::ffi::OsStr]) -> Measured {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    run_measured(args, root.then_some(4321), Duration::from_secs(30))
}

fn listing(d: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            (e.file_name().to_string_lossy().into_owned(), m.len())
        })
        .collect();
    v.sort();
    v
}

fn check(what: &str, m: &Measured, names: &[&str]) {
    let said = format!("{}{}", m.stdout, m.stderr);
    assert!(!m.timed_out, "{what}: did not end in 30 s");
    assert!(
        m.elapsed < Duration::from_secs(10),
        "{what}: {:?}",
        m.elapsed
    );
    assert!(
        m.max_rss_kib < MAX_RSS_KIB,
        "{what}: {} KiB at its peak",
        m.max_rss_kib
    );
    for n in names {
        assert!(said.contains(n), "{what}: {n} is not named:\n{said}");
    }
}

#[test]
fn every_command_over_a_hostile_directory_ends_bounded_and_names_every_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, hostile) = hostile_dir(tmp.path());
    let before = listing(&d);
    let d = d.as_os_str();

    // scan: every entry named with why it was not read; the real stores read.
    let m = certmig(&["scan".as_ref(), d]);
    check("scan", &m, &hostile);
    assert_eq!(m.code, Some(2), "scan: {}", m.stderr);
    assert!(m.stdout.contains("PC0001.sst") && m.stdout.contains("PC0001.reg"));
    for (n, why) in [
        ("fifo.sst", "a FIFO"),
        ("zero.sst", "a symbolic link"),
        ("loop-a", "a symbolic link"),
        ("unreadable.sst", "Permission denied"),
        ("sock.reg", "a socket"),
    ] {
        let line = format!("{}{}", m.stdout, m.stderr)
            .lines()
            .find(|l| l.contains(n) && l.contains("error"))
            .map(str::to_owned)
            .unwrap_or_default();
        assert!(line.contains(why), "scan: {n}: {line}");
    }
    // Each store once: the loops add nothing.
    assert_eq!(
        m.stdout.matches("PC0001.sst (sst)").count(),
        1,
        "{}",
        m.stdout
    );

    // fix of the directory: refused whole (not a blob directory), every
    // entry named, nothing written.
    for dry in [false, true] {
        let mut args = vec!["fix".as_ref(), d];
        if dry {
            args.push("--dry-run".as_ref());
        }
        let m = certmig(&args);
        check("fix", &m, &hostile);
        assert_eq!(m.code, Some(2), "fix: {}", m.stderr);
    }

    // fleet --inventory: the exports read, every other entry named as not read.
    let m = certmig(&[
        "fleet".as_ref(),
        "--inventory".as_ref(),
        d,
        "--target".as_ref(),
        "win7-sp1".as_ref(),
    ]);
    check("fleet --inventory", &m, &hostile);

    // dump and fix of each hostile entry by itself: refused at once.
    for n in &hostile {
        let p = Path::new(d).join(n);
        for cmd in ["dump", "fix"] {
            let m = certmig(&[cmd.as_ref(), p.as_os_str()]);
            check(&format!("{cmd} {n}"), &m, &[n]);
            assert!(matches!(m.code, Some(1 | 2)), "{cmd} {n}: {m:?}");
        }
    }
    assert_eq!(listing(Path::new(d)), before, "nothing was written");
}

/// A store of many tiny elements costs its size and a window, not memory
/// per element: `scan --lenient`, `dump` and `dump --lenient` of a 12 MB
/// store of 900 000 elements stay under 200 MiB (before, 525 MB, 300 MB
/// and 300 MB). A sparse 2 GB file of zeros (read as one element), and 2 GB
/// mix, plan and scenario files, are refused before they are read.
#[test]
fn huge_and_many_element_inputs_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = tmp.path().join("tiny.sst");
    let mut bytes = vec![0, 0, 0, 0, b'C', b'E', b'R', b'T'];
    let element = [32u8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0x30, 0];
    for _ in 0..900_000 {
        bytes.extend_from_slice(&element);
    }
    bytes.extend_from_slice(&[0; 12]);
    std::fs::write(&tiny, &bytes).unwrap();
    drop(bytes);
    for args in [
        &["scan", "--lenient"][..],
        &["scan", "--lenient", "--json"][..],
        &["dump"][..],
        &["dump", "--lenient"][..],
    ] {
        let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        all.push(tiny.as_os_str());
        let m = run_measured(&all, None, Duration::from_secs(120));
        assert_eq!(m.code, Some(0), "{args:?}: {}", m.stderr);
        assert!(
            m.max_rss_kib < 200 * 1024,
            "{args:?}: {} KiB",
            m.max_rss_kib
        );
    }
    let zeros = tmp.path().join("zeros.sst");
    std::fs::File::create(&zeros)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    for cmd_name in ["scan", "dump", "fix"] {
        let m = run_measured(
            &[cmd_name.as_ref(), zeros.as_os_str()],
            None,
            Duration::from_secs(30),
        );
        assert_eq!(m.code, Some(2), "{cmd_name}: {}", m.stderr);
        assert!(
            m.max_rss_kib < 64 * 1024,
            "{cmd_name}: {} KiB",
            m.max_rss_kib
        );
        assert!(
            format!("{}{}", m.stdout, m.stderr)
                .contains("offset 0: the size of a file holding one element"),
            "{cmd_name}: {m:?}"
        );
    }
    let big = tmp.path().join("big.toml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    for args in [
        vec![
            "fleet".as_ref(),
            "--machines".as_ref(),
            "10".as_ref(),
            "--mix".as_ref(),
            big.as_os_str(),
        ],
        vec![
            "fleet".as_ref(),
            "--machines".as_ref(),
            "10".as_ref(),
            "--plan".as_ref(),
            big.as_os_str(),
        ],
        vec!["replay".as_ref(), big.as_os_str()],
    ] {
        let m = run_measured(&args, None, Duration::from_secs(30));
        assert!(matches!(m.code, Some(1 | 2)), "{args:?}: {m:?}");
        assert!(m.max_rss_kib < 64 * 1024, "{args:?}: {} KiB", m.max_rss_kib);
        assert!(m.stderr.contains("not read"), "{args:?}: {}", m.stderr);
    }
}
