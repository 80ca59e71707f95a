//! Checks shared by the fuzz targets in `fuzz_targets/`.
//!
//! The invariant every target asserts about errors: a binary reader's
//! [`FormatError`] carries an absolute byte offset inside the input it was
//! given (`base..=base + len`: an offset equal to the length means "at the
//! end", e.g. a missing end marker), and a `.reg` error carries a 1-based line
//! the file has.

use certmig_format::{FormatError, Location};

/// Asserts that a binary reader's error points inside `base..=base + len`.
pub fn assert_offset_in(err: &FormatError, base: usize, len: usize) {
    match err.location() {
        Location::Offset(o) => assert!(
            (base..=base + len).contains(&o),
            "error offset {o} outside {base}..={}: {err}",
            base + len
        ),
        Location::Line(l) => panic!("a binary reader reported a line ({l}): {err}"),
    }
}

/// An upper bound on the lines of `bytes` read as REGEDIT4 or REGEDIT5 text:
/// every line break (LF, or LF 00 in UTF-16LE) holds a 0x0A byte.
pub fn max_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count() + 1
}

/// Asserts that a `.reg` error names a line the file has.
pub fn assert_line_in(err: &FormatError, bytes: &[u8]) {
    match err.location() {
        Location::Line(l) => assert!(
            (1..=max_lines(bytes)).contains(&l),
            "error line {l} outside 1..={}: {err}",
            max_lines(bytes)
        ),
        Location::Offset(o) => panic!("the .reg reader reported an offset ({o}): {err}"),
    }
}
