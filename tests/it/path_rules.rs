//! Randomised attacks on the path rules and the directory walker (issue
//! 19): random names against `platform::names::single_component` and
//! `dir_within`, random trees of directories, files, FIFOs and links
//! (loops, links out of the tree, to devices) against
//! `scan::collect_files`. The coverage-guided fuzz targets for the byte
//! readers are in `fuzz/`; these run with `cargo test`
//! (`PROPTEST_CASES=5000 cargo test --test it path_rules::` for a longer run).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use certmig::platform::names::{dir_within, single_component};
use proptest::prelude::*;

use crate::support;

fn names() -> impl Strategy<Value = String> {
    prop_oneof![
        // Short names from an alphabet rich in what escapes paths.
        "[a./\\\\:\\x00 \\t~$C-Oc-o0-9]{0,8}",
        // Windows device names with extensions and spaces.
        "(CON|con|PRN|AUX|NUL|COM[0-9]|LPT[0-9]|CONIN\\$)(\\.[a-z]{0,3})?( |\\.)?",
        // Anything at all.
        any::<String>(),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("a".repeat(256)),
    ]
}

proptest! {
    #![proptest_config(support::proptest_config(512))]

    /// A name the rule accepts is one plain component on every platform:
    /// joined to a directory it stays directly inside it, names the same
    /// file back, and holds nothing Windows would read as a separator, a
    /// drive, a stream or a device.
    #[test]
    fn an_accepted_name_stays_one_component_inside_its_directory(name in names()) {
        let base = Path::new("/base/dir");
        if single_component(&name).is_ok() {
            let joined = base.join(&name);
            prop_assert_eq!(joined.parent(), Some(base));
            prop_assert_eq!(joined.file_name().and_then(|n| n.to_str()), Some(name.as_str()));
            let parts: Vec<_> = Path::new(&name).components().collect();
            prop_assert_eq!(parts.len(), 1);
            prop_assert!(matches!(parts[0], Component::Normal(_)));
            prop_assert!(!name.contains(['/', '\\', ':', '\0']));
            prop_assert!(!name.ends_with(['.', ' ']));
            prop_assert!(name.len() <= 255);
            let stem = name.split('.').next().unwrap().trim_end().to_ascii_uppercase();
            prop_assert!(!["CON", "PRN", "AUX", "NUL"].contains(&stem.as_str()), "{}", name);
        }
    }

    /// `dir_within` never leaves the base through a link planted at any
    /// depth, to a directory outside or to `..`: it refuses, and nothing
    /// is made outside the base.
    #[test]
    fn dir_within_never_follows_a_planted_link(
        parts in proptest::collection::vec("[a-c]{1,2}", 1..5),
        plant_at in 0usize..5,
        to_parent in any::<bool>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("base");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let plant_at = plant_at.min(parts.len() - 1);
        let mut at = base.clone();
        for p in &parts[..plant_at] {
            at.push(p);
            std::fs::create_dir_all(&at).unwrap();
        }
        let target: PathBuf = if to_parent { "..".into() } else { outside.clone() };
        std::os::unix::fs::symlink(&target, at.join(&parts[plant_at])).unwrap();
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let made = dir_within(&base, &refs);
        prop_assert!(made.is_err(), "{:?}", made);
        prop_assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }
}

/// One entry of a random tree: where (an index into the directories made
/// so far), its name, and what it is.
#[derive(Debug, Clone)]
enum Kind {
    Dir,
    File,
    Fifo,
    /// A link to: 0 `.`, 1 `..`, 2 `/`, 3 `/dev/zero`, 4 the root, 5 an
    /// earlier directory, 6 a name that does not exist.
    Link(u8),
}

fn tree() -> impl Strategy<Value = Vec<(usize, String, Kind)>> {
    let kind = prop_oneof![
        3 => Just(Kind::Dir),
        3 => Just(Kind::File),
        1 => Just(Kind::Fifo),
        3 => (0u8..7).prop_map(Kind::Link),
    ];
    proptest::collection::vec((any::<usize>(), "[a-d]{1,2}(\\.sst)?", kind), 0..24)
}

proptest! {
    #![proptest_config(support::proptest_config(128))]

    /// Over any tree: the walk ends, reports every regular file reachable
    /// without a link exactly once and nothing else as readable, names
    /// every link and FIFO once as not read, and never reaches outside
    /// the root.
    #[test]
    fn the_walker_reports_each_file_once_and_follows_no_link(ops in tree()) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let mut dirs = vec![root.clone()];
        let mut files = BTreeSet::new();
        let mut special = BTreeSet::new();
        for (parent, name, kind) in ops {
            let parent = dirs[parent % dirs.len()].clone();
            let path = parent.join(&name);
            if std::fs::symlink_metadata(&path).is_ok() {
                continue;
            }
            match kind {
                Kind::Dir => {
                    std::fs::create_dir(&path).unwrap();
                    dirs.push(path);
                }
                Kind::File => {
                    std::fs::write(&path, b"x").unwrap();
                    files.insert(path);
                }
                Kind::Fifo => {
                    support::mkfifo(&path);
                    special.insert(path);
                }
                Kind::Link(to) => {
                    let target: PathBuf = match to {
                        0 => ".".into(),
                        1 => "..".into(),
                        2 => "/".into(),
                        3 => "/dev/zero".into(),
                        4 => root.clone(),
                        5 => dirs[name.len() % dirs.len()].clone(),
                        _ => "missing".into(),
                    };
                    std::os::unix::fs::symlink(&target, &path).unwrap();
                    special.insert(path);
                }
            }
        }
        let mut found = Vec::new();
        certmig::scan::collect_files(&root, &mut found);
        let mut read = Vec::new();
        let mut refused = Vec::new();
        for f in found {
            match f {
                Ok(p) => read.push(p),
                Err((p, _)) => refused.push(p),
            }
        }
        let read_set: BTreeSet<_> = read.iter().cloned().collect();
        prop_assert_eq!(read.len(), read_set.len(), "a file reported twice");
        prop_assert_eq!(&read_set, &files);
        let refused_set: BTreeSet<_> = refused.iter().cloned().collect();
        prop_assert_eq!(refused.len(), refused_set.len(), "an entry refused twice");
        prop_assert_eq!(&refused_set, &special);
        for p in read.iter().chain(&refused) {
            prop_assert!(p.starts_with(&root), "{}", p.display());
        }
    }
}
