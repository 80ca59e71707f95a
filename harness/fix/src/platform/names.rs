//! Names that come from input files (a scenario's name, its machines' names,
//! the log a CCMCertFix step names) and become parts of paths certmig
//! writes: each must be one plain path component on every platform, so it
//! can never reach outside the directory the user named, alias another
//! file, or open a device.

/// Makes (or finds) the directory `base/parts[0]/parts[1]/...` without
/// following a link below `base`: each part is a [`single_component`], and
/// an existing part that is a symbolic link or not a directory is refused,
/// so nothing planted inside the directory the user named can send a write
/// elsewhere. `base` itself (the user's own argument) is made if missing.
pub fn dir_within(base: &std::path::Path, parts: &[&str]) -> std::io::Result<std::path::PathBuf> {
    use std::io::{Error, ErrorKind};
    std::fs::create_dir_all(base)?;
    let mut dir = base.to_path_buf();
    for part in parts {
        single_component(part).map_err(|why| Error::new(ErrorKind::InvalidInput, why))?;
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(m) => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{} is {}, not a directory: not followed, nothing was written there",
                        dir.display(),
                        super::kind_of(m.file_type())
                    ),
                ))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => match std::fs::create_dir(&dir) {
                Err(e) if e.kind() != ErrorKind::AlreadyExists => return Err(e),
                // Made by another writer at the same moment: checked again.
                Err(_) if !std::fs::symlink_metadata(&dir)?.is_dir() => {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!(
                            "{} appeared as something other than a directory",
                            dir.display()
                        ),
                    ))
                }
                _ => {}
            },
            Err(e) => return Err(e),
        }
    }
    Ok(dir)
}

/// Log files certmig itself writes beside a machine's product logs; a name
/// from input may not take one of them (compared without case, as Windows
/// does).
pub const RESERVED_LOG_NAMES: [&str; 4] =
    ["smsts.log", "Ccmexec.log", "ccmsetup.log", "certmig.log"];

/// Checks that `name` is one plain file or directory name: not empty, at
/// most 255 bytes, not `.` or `..`, no `/`, `\`, `:`, NUL or control
/// character, no trailing dot or space (Windows drops them), and not a
/// Windows device name (`CON`, `NUL`, `COM1`, `LPT1.txt`, ...). The error
/// says what is wrong.
pub fn single_component(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{name:?} cannot be a file name: {why}"));
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 255 {
        return bad("it is longer than 255 bytes");
    }
    if name == "." || name == ".." {
        return bad("it names a directory relative to another");
    }
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '/' | '\\' | ':') || c.is_control())
    {
        return bad(&format!("it holds {c:?}, which separates or escapes paths"));
    }
    if name.ends_with(['.', ' ']) {
        return bad("it ends with a dot or a space, which Windows drops");
    }
    let stem = name
        .split('.')
        .next()
        .unwrap_or(name)
        .trim_end()
        .to_ascii_uppercase();
    let device = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit());
    if device {
        return bad("it is a Windows device name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_and_every_escape_is_refused() {
        for ok in [
            "PC0001",
            "c04-refresh-xp-to-win7sp1",
            "CCMCertFix.log",
            "a b",
            "CONSOLE",
            "COM",
            "x.y.z",
        ] {
            assert_eq!(single_component(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "/some/dir",
            "a/b",
            r"a\b",
            "C:",
            "C:x",
            "a\0b",
            "a\nb",
            "name.",
            "name ",
            "CON",
            "nul",
            "Com1",
            "LPT9.txt",
            "aux.log",
        ] {
            assert!(single_component(bad).is_err(), "{bad:?}");
        }
        assert!(single_component(&"x".repeat(256)).is_err());
    }
}
