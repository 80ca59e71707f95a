//! The walk of a directory of stores (`scan`, `crosscheck`, `fleet
//! --inventory`): files in sorted order, links inside never followed,
//! FIFOs, sockets and devices never opened, depth bounded, and (for
//! [`collect_stores`]) files whose first bytes are no store of any format
//! skipped with a note.

use std::path::{Path, PathBuf};

use crate::format::{self, detect, FileFormat};

/// A file a directory walk did not read, and why.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub why: String,
}

/// One path found by [`collect_files`], or the path that could not be read.
pub type Collected = Result<PathBuf, (PathBuf, std::io::Error)>;

/// The files under `path` (itself when it is a file), directories walked
/// recursively in sorted order: the walk of `scan` (and `crosscheck`).
/// `path` itself may be a link (the user named it); inside a directory,
/// links are not followed, and links, FIFOs, sockets and devices are
/// listed as not read, so a walk never hangs, loops or counts a file twice.
pub fn collect_files(path: &Path, out: &mut Vec<Collected>) {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => walk_dir(path, 0, out, None),
        Ok(m) if m.is_file() => out.push(Ok(path.to_owned())),
        Ok(m) => out.push(Err((path.to_owned(), not_read(m.file_type())))),
        Err(e) => out.push(Err((path.to_owned(), e))),
    }
}

/// How deep a scanned directory tree may go.
const MAX_DEPTH: usize = 64;

fn not_read(ft: std::fs::FileType) -> std::io::Error {
    let e = crate::platform::not_regular(ft);
    if !ft.is_symlink() {
        return e;
    }
    std::io::Error::new(
        e.kind(),
        format!("{e} (links inside a scanned directory are not followed)"),
    )
}

/// [`collect_files`], except that a file met walking a directory whose
/// first bytes are no certificate store of any format (text: a CMTrace log,
/// notes) is noted in `skipped` instead of listed. A file named by the user
/// is always listed (and then said to be no store).
pub fn collect_stores(path: &Path, out: &mut Vec<Collected>, skipped: &mut Vec<Skipped>) {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => walk_dir(path, 0, out, Some(skipped)),
        _ => collect_files(path, out),
    }
}

/// Reads the first bytes of `file` into `head` (fewer at its end): how many.
pub fn read_head(file: &mut std::fs::File, head: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Why a file met in a walk is no certificate store of any format, from
/// its first bytes: `None` when it may be one.
fn not_any_store(path: &Path) -> Option<String> {
    let (mut f, _) = crate::platform::open_regular(path, crate::platform::Links::Refuse).ok()?;
    let mut head = [0u8; 64];
    let n = read_head(&mut f, &mut head).ok()?;
    let head = &head[..n];
    if detect(head) != FileFormat::Blob {
        return None;
    }
    match format::store::detect_not_a_store(head) {
        format::NotAStore::Text => Some(format::NotAStore::Text.to_string()),
        _ => None,
    }
}

fn walk_dir(
    dir: &Path,
    depth: usize,
    out: &mut Vec<Collected>,
    mut skipped: Option<&mut Vec<Skipped>>,
) {
    if depth > MAX_DEPTH {
        out.push(Err((
            dir.to_owned(),
            std::io::Error::other(format!("deeper than {MAX_DEPTH} directories: not read")),
        )));
        return;
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => return out.push(Err((dir.to_owned(), e))),
    };
    let mut entries: Vec<(PathBuf, std::io::Result<std::fs::FileType>)> = rd
        .filter_map(Result::ok)
        .map(|e| (e.path(), e.file_type()))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (p, ft) in entries {
        match ft {
            Ok(ft) if ft.is_dir() => walk_dir(&p, depth + 1, out, skipped.as_deref_mut()),
            Ok(ft) if ft.is_file() => match (skipped.as_deref_mut(), not_any_store(&p)) {
                (Some(s), Some(why)) => s.push(Skipped {
                    path: p.display().to_string(),
                    why,
                }),
                _ => out.push(Ok(p)),
            },
            Ok(ft) => out.push(Err((p, not_read(ft)))),
            Err(e) => out.push(Err((p, e))),
        }
    }
}
