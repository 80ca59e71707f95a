//! Watching for writes outside a tool's temporary directories: the
//! top level of the current directory and of `$HOME` are listed before and
//! after a validation. New or removed entries and changed regular files are
//! reported (directories' own timestamps are not: other programs touch them).
//! This sees only those two places; a tool that writes elsewhere is not
//! caught here.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    File {
        len: u64,
        modified: Option<SystemTime>,
    },
    Other,
}

/// The listings of the watched directories.
pub struct Watched {
    dirs: Vec<(PathBuf, BTreeMap<String, Entry>)>,
}

fn list(dir: &std::path::Path) -> BTreeMap<String, Entry> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    rd.filter_map(Result::ok)
        .map(|e| {
            let entry = match e.metadata() {
                Ok(m) if m.is_file() => Entry::File {
                    len: m.len(),
                    modified: m.modified().ok(),
                },
                _ => Entry::Other,
            };
            (e.file_name().to_string_lossy().into_owned(), entry)
        })
        .collect()
}

impl Watched {
    pub fn snapshot() -> Watched {
        let mut dirs: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
        if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
            if !dirs.contains(&home) {
                dirs.push(home);
            }
        }
        Watched {
            dirs: dirs
                .into_iter()
                .map(|d| {
                    let l = list(&d);
                    (d, l)
                })
                .collect(),
        }
    }

    /// What changed since the snapshot, one line each.
    pub fn changes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (dir, before) in &self.dirs {
            let after = list(dir);
            for (name, e) in &after {
                match before.get(name) {
                    None => out.push(format!("created {}", dir.join(name).display())),
                    Some(b) if b != e && matches!(e, Entry::File { .. }) => {
                        out.push(format!("changed {}", dir.join(name).display()))
                    }
                    _ => {}
                }
            }
            for name in before.keys().filter(|n| !after.contains_key(*n)) {
                out.push(format!("removed {}", dir.join(name).display()));
            }
        }
        out
    }
}
