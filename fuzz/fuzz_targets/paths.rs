//! The path rules and the directory walker (certmig-fix): names that
//! come from input files, and directory trees an attacker prepared.
//!
//! The first byte chooses:
//! - even: the rest, as text, is a name from an input file.
//!   `platform::names::single_component` accepts it only if it is one plain
//!   component that stays directly inside any directory it is joined to,
//!   with nothing Windows reads as a separator, drive, stream or device;
//!   `dir_within` of a temporary base and the name (and the name twice)
//!   then makes directories strictly below the base.
//! - odd: the rest is a program that builds a tree of directories, files,
//!   FIFOs and links (to `.`, `..`, `/`, `/dev/zero`, the root, an earlier
//!   directory, nothing) in a fresh directory; `platform::walk::collect_files` must
//!   report every regular file reachable without a link exactly once and
//!   nothing else as readable, name every link and FIFO once, and never
//!   leave the root (a walk that follows a loop never ends: the fuzzer's
//!   timeout catches it).
#![no_main]

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use certmig_fix::platform::names::{dir_within, single_component};
use libfuzzer_sys::fuzz_target;

fn check_name(name: &str) {
    let base = Path::new("/base/dir");
    if single_component(name).is_err() {
        return;
    }
    let joined = base.join(name);
    assert_eq!(joined.parent(), Some(base), "{name:?}");
    let parts: Vec<_> = Path::new(name).components().collect();
    assert!(matches!(parts[..], [Component::Normal(_)]), "{name:?}");
    assert!(!name.contains(['/', '\\', ':', '\0']), "{name:?}");
    assert!(!name.ends_with(['.', ' ']), "{name:?}");
    let stem = name.split('.').next().unwrap().trim_end().to_ascii_uppercase();
    assert!(!["CON", "PRN", "AUX", "NUL"].contains(&stem.as_str()), "{name:?}");
    let tmp = tempfile::tempdir().unwrap();
    let made = dir_within(tmp.path(), &[name, name]).unwrap();
    assert_eq!(made, tmp.path().join(name).join(name));
    assert!(made.is_dir());
}

fn check_tree(program: &[u8]) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let mut dirs = vec![root.clone()];
    let (mut files, mut special) = (BTreeSet::new(), BTreeSet::new());
    for op in program.chunks_exact(3).take(32) {
        let parent = dirs[usize::from(op[0]) % dirs.len()].clone();
        let name = format!("{}{}", (b'a' + op[1] % 4) as char, if op[1] & 4 != 0 { ".sst" } else { "" });
        let path = parent.join(&name);
        if std::fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        match op[2] % 10 {
            0..=2 => {
                std::fs::create_dir(&path).unwrap();
                dirs.push(path);
            }
            3..=5 => {
                std::fs::write(&path, b"x").unwrap();
                files.insert(path);
            }
            6 => {
                let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
                // SAFETY: mkfifo with a valid NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
                special.insert(path);
            }
            _ => {
                let target: PathBuf = match op[1] >> 4 {
                    0 => ".".into(),
                    1 => "..".into(),
                    2 => "/".into(),
                    3 => "/dev/zero".into(),
                    4 => root.clone(),
                    5..=9 => dirs[usize::from(op[1]) % dirs.len()].clone(),
                    _ => "missing".into(),
                };
                std::os::unix::fs::symlink(&target, &path).unwrap();
                special.insert(path);
            }
        }
    }
    let mut found = Vec::new();
    certmig_fix::platform::walk::collect_files(&root, &mut found);
    let (mut read, mut refused) = (Vec::new(), Vec::new());
    for f in found {
        match f {
            Ok(p) => read.push(p),
            Err((p, _)) => refused.push(p),
        }
    }
    let read_set: BTreeSet<_> = read.iter().cloned().collect();
    assert_eq!(read.len(), read_set.len(), "a file reported twice");
    assert_eq!(read_set, files);
    let refused_set: BTreeSet<_> = refused.iter().cloned().collect();
    assert_eq!(refused.len(), refused_set.len(), "an entry refused twice");
    assert_eq!(refused_set, special);
    assert!(read.iter().chain(&refused).all(|p| p.starts_with(&root)));
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        check_name(&String::from_utf8_lossy(rest));
    } else {
        check_tree(rest);
    }
});
