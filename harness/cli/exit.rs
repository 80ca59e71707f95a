//! The command line's one error type: what went wrong and the exit code it
//! means, the same in every command (README "Commands"):
//!
//! - **0** success, or nothing to do;
//! - **1** a failure that is not the input's fault: a disk that fills, an
//!   output that cannot be written, outcomes that differ from expectations;
//! - **2** bad input: a malformed file (named, with the byte offset or the
//!   line), an input that does not exist, cannot be read or is no regular
//!   file, or options that do not go together (clap's own usage errors
//!   exit 2 as well).
//!
//! Every command returns `Result<u8, CliError>`; `main` maps it once with
//! [`finish`]: an error is printed (`certmig: <message>`) and gives its
//! code. The `Ok` codes are the outcomes that are no error of the command
//! itself (1: outcomes that differ from expectations; 2 where each file's
//! error was already listed with it).

use std::fmt;
use std::io;
use std::path::Path;

use crate::{EXIT_BAD_INPUT, EXIT_FAILURE};

/// A command's error, with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    bad_input: bool,
    message: String,
}

impl CliError {
    /// Exit 2: the input (a file, a name, an option) is at fault.
    pub fn bad_input(message: impl fmt::Display) -> CliError {
        CliError {
            bad_input: true,
            message: message.to_string(),
        }
    }

    /// Exit 1: something else went wrong.
    pub fn failure(message: impl fmt::Display) -> CliError {
        CliError {
            bad_input: false,
            message: message.to_string(),
        }
    }

    /// Exit 2 for errors already printed one by one (each file's own).
    pub fn reported_bad_input() -> CliError {
        CliError {
            bad_input: true,
            message: String::new(),
        }
    }

    /// An input `path` that could not be opened or read: bad input when the
    /// path is at fault (missing, not allowed, not a file where a file is
    /// wanted, not valid data), a failure otherwise (an I/O error of the
    /// machine).
    pub fn input(path: &Path, e: &io::Error) -> CliError {
        let message = format!("{}: {e}", path.display());
        if input_at_fault(e) {
            CliError::bad_input(message)
        } else {
            CliError::failure(message)
        }
    }

    /// The exit code this error means.
    pub fn code(&self) -> u8 {
        if self.bad_input {
            EXIT_BAD_INPUT
        } else {
            EXIT_FAILURE
        }
    }

    /// Prints `certmig: <message>` on standard error and gives the code.
    pub fn report(&self) -> u8 {
        if !self.message.is_empty() {
            eprintln!("certmig: {}", self.message);
        }
        self.code()
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Whether an I/O error opening or reading an input is the input's fault.
pub fn input_at_fault(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        NotFound
            | PermissionDenied
            | InvalidInput
            | InvalidData
            | IsADirectory
            | NotADirectory
            | InvalidFilename
            | UnexpectedEof
    )
}

/// A command's result as its exit code: `Ok(code)` as it is, an error
/// reported once.
pub fn finish(r: Result<u8, CliError>) -> u8 {
    r.unwrap_or_else(|e| e.report())
}
