//! A REGEDIT5 export read piece by piece, each piece whole sections, so
//! that a large export is parsed in bounded memory and its pieces on every
//! core ([`RegPieces`], parsed with [`parse_reg5_piece`]).
//!
//! A piece ends just before a line that starts with `[` (a key line). A key
//! line is never part of a value (the parser refuses it as a continuation),
//! and every section starts at one, so a piece parses exactly as its lines
//! do inside the whole file: the parser's only look-ahead, at a value's
//! trailing `\`, sees a `[` line at the cut in the file and the end of the
//! piece in the piece, and both are the same dangling-continuation error.
//! A cut is between ASCII code units, so no surrogate pair is split, and an
//! unpaired surrogate stops a piece at the start of its line exactly as it
//! stops the whole file.

use std::io::{self, Read};

use super::{parse_reg5_piece_sections, parse_reg_partial, ParsedReg, PieceAt};
use crate::element::ReadMode;
use crate::error::FormatError;
use crate::limits::Limits;

/// A line end followed by a key line, in UTF-16LE.
const CUT: &[u8] = b"\n\0[\0";

/// Reads a REGEDIT5 export (UTF-16LE, from its byte-order mark) in pieces
/// of about `piece_bytes`, each ending at a line end before a `[` line (or
/// at the end of the file). A piece grows past `piece_bytes` only when one
/// section is longer than that: memory is bounded by the largest section,
/// not by the file.
pub struct RegPieces<R> {
    inner: R,
    piece_bytes: usize,
    /// Bytes read past the last piece's end.
    carry: Vec<u8>,
    /// Where the next piece starts.
    at: PieceAt,
    eof: bool,
    /// Line ends counted in the buffer being filled, and up to where (an
    /// even index: whole code units).
    lines: usize,
    counted: usize,
}

/// Bytes read at a time: each step's line ends are counted while the step
/// is still in the cache (counting a whole piece afterwards would read it
/// from memory again).
const STEP: usize = 256 << 10;

impl<R: Read> RegPieces<R> {
    /// `inner` must be at the start of the file.
    pub fn new(inner: R, piece_bytes: usize) -> Self {
        RegPieces {
            inner,
            piece_bytes: piece_bytes.max(CUT.len() * 2),
            carry: Vec::new(),
            at: PieceAt {
                offset: 0,
                lines_before: 0,
            },
            eof: false,
            lines: 0,
            counted: 0,
        }
    }

    /// Replaces `buf`'s contents with the next piece and returns where it
    /// starts, or `None` at the end of the file.
    pub fn next_piece(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<PieceAt>> {
        buf.clear();
        buf.append(&mut self.carry);
        let mut want = self.piece_bytes;
        let cut = loop {
            self.fill(buf, want)?;
            // The piece starts on a key line (or is the file's start), so
            // a cut at 0 would be an empty piece.
            if let Some(cut) = last_cut(buf, self.at.offset) {
                if cut > 0 {
                    break cut;
                }
            }
            if self.eof {
                break buf.len();
            }
            // One section longer than a piece: read on until it ends.
            want = buf.len() + self.piece_bytes;
        };
        if cut == 0 {
            return Ok(None);
        }
        // `cut` is even, or the end of the file: the carry's line ends
        // (counted, and hot in the cache) move to the next piece.
        let carried = count_lines(&buf[cut.min(self.counted)..self.counted]);
        self.carry.extend_from_slice(&buf[cut..]);
        buf.truncate(cut);
        let at = self.at;
        self.at = PieceAt {
            offset: at.offset + cut,
            lines_before: at.lines_before + self.lines - carried,
        };
        self.lines = carried;
        self.counted = self.counted.saturating_sub(cut);
        Ok(Some(at))
    }

    /// Reads until `buf` holds `want` bytes or the file ends (into its
    /// spare capacity, which is not zeroed first), counting line ends.
    fn fill(&mut self, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
        while !self.eof && buf.len() < want {
            let asked = (want - buf.len()).min(STEP);
            buf.reserve(asked);
            let n = (&mut self.inner).take(asked as u64).read_to_end(buf)?;
            self.eof = n < asked;
            let end = buf.len() & !1;
            self.lines += count_lines(&buf[self.counted..end]);
            self.counted = end;
        }
        Ok(())
    }
}

/// Parses one piece read by [`RegPieces`]: the first (at offset 0, with the
/// header) as the start of a file, the others as whole sections. Returns
/// what [`parse_reg_partial`] reads from those lines of the whole file, and
/// the first error among them.
pub fn parse_reg5_piece(
    piece: &[u8],
    at: PieceAt,
    mode: ReadMode,
    limits: &Limits,
) -> (ParsedReg, Option<FormatError>) {
    if at.offset == 0 {
        parse_reg_partial(piece, mode, limits)
    } else {
        parse_reg5_piece_sections(piece, at, mode, limits)
    }
}

/// The file offset where line `line` starts, for a line of `piece` (at
/// `at`): what [`super::line_start_offset`] gives on the whole file.
pub fn piece_line_start(piece: &[u8], at: PieceAt, line: usize) -> Option<usize> {
    if at.offset == 0 {
        return super::line_start_offset(piece, line);
    }
    let nth = line.checked_sub(at.lines_before + 1)?;
    super::utf16_after_lf(piece, nth).map(|i| at.offset + i)
}

/// Whether a file of `len` bytes starting with `head` is read by pieces: a
/// REGEDIT5 export (UTF-16LE byte-order mark) of an even length. (An odd
/// length is an encoding error of the whole file, found before anything is
/// read: the whole-file reader reports it.)
pub fn reads_in_pieces(head: &[u8], len: u64) -> bool {
    head.starts_with(&[0xFF, 0xFE]) && len % 2 == 0
}

/// The last place in `buf` (file offset `origin`) where a key line starts
/// after a line end, at an even file offset.
fn last_cut(buf: &[u8], origin: usize) -> Option<usize> {
    let finder = memchr::memmem::FinderRev::new(CUT);
    let mut end = buf.len();
    while let Some(i) = finder.rfind(&buf[..end]) {
        if (origin + i) % 2 == 0 {
            return Some(i + 2);
        }
        end = i + CUT.len() - 1;
    }
    None
}

/// The line ends (`\n` code units) in `piece`, which starts at an even
/// file offset.
fn count_lines(piece: &[u8]) -> usize {
    // Four code units per 64-bit word: a unit is `\n` iff it XORs to zero,
    // and a zero unit is found without carries between units (a line is
    // some 80 units: a search per line end would cost more).
    const LF: u64 = 0x000A_000A_000A_000A;
    const LOW: u64 = 0x7FFF_7FFF_7FFF_7FFF;
    const ONES: u64 = 0x0001_0001_0001_0001;
    let mut words = piece.chunks_exact(8);
    let mut n = 0;
    // Per-unit counters in one word, added up every 65 535 words at most
    // (no `popcnt` on the baseline x86-64 target).
    loop {
        let mut lanes = 0u64;
        let mut taken = 0;
        for w in (&mut words).take(0xFFFF) {
            let v = u64::from_le_bytes(w.try_into().expect("chunks of 8")) ^ LF;
            lanes += (!(((v & LOW) + LOW) | v | LOW) >> 15) & ONES;
            taken += 1;
        }
        n += (lanes.wrapping_mul(ONES) >> 48) as usize;
        if taken < 0xFFFF {
            break;
        }
    }
    n + words
        .remainder()
        .chunks_exact(2)
        .filter(|p| p == &[b'\n', 0])
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        let mut out = vec![0xFF, 0xFE];
        out.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
        out
    }

    fn pieces(bytes: &[u8], size: usize) -> Vec<(PieceAt, Vec<u8>)> {
        let mut r = RegPieces::new(bytes, size);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(at) = r.next_piece(&mut buf).unwrap() {
            out.push((at, buf.clone()));
        }
        out
    }

    #[test]
    fn line_ends_are_counted_as_code_units_at_every_length_and_alignment() {
        // `\n` units among units that hold 0x0A in either byte (not line
        // ends), at every length around the 64-byte blocks.
        let units: Vec<u16> = (0..300u16)
            .map(|i| match i % 7 {
                0 => 0x000A,
                1 => 0x0A00,
                2 => 0x0A0A,
                3 => 0x010A,
                _ => 0x0041 + i,
            })
            .collect();
        let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
        for start in [0, 2, 6] {
            for end in start..bytes.len() {
                let piece = &bytes[start..end];
                let plain = piece.chunks_exact(2).filter(|p| p == &[b'\n', 0]).count();
                assert_eq!(count_lines(piece), plain, "bytes {start}..{end}");
            }
        }
    }

    #[test]
    fn pieces_cover_the_file_and_end_before_key_lines() {
        let text = utf16(
            "Windows Registry Editor Version 5.00\r\n\r\n[A]\r\n\"x\"=hex:01,\\\r\n  02\r\n\r\n[B]\r\n\r\n[C]\r\n",
        );
        for size in [4, 8, 16, 40, 1000] {
            let got = pieces(&text, size);
            let joined: Vec<u8> = got.iter().flat_map(|(_, b)| b.clone()).collect();
            assert_eq!(joined, text, "size {size}");
            let mut offset = 0;
            let mut lines = 0;
            for (at, b) in &got {
                assert_eq!(at.offset, offset);
                assert_eq!(at.lines_before, lines);
                if at.offset > 0 {
                    assert!(b.starts_with(b"[\0"), "size {size}: {b:?}");
                }
                offset += b.len();
                lines += count_lines(b);
            }
            if size <= 16 {
                assert_eq!(got.len(), 4, "size {size}");
            }
        }
        assert!(pieces(&[], 8).is_empty());
    }

    #[test]
    fn a_cut_is_only_at_an_even_offset() {
        // U+0A0A is `0A 0A`; `0A 00 5B 00` at an odd offset is no cut.
        let mut text = utf16("Windows Registry Editor Version 5.00\r\n");
        text.extend_from_slice(&[0x41, 0x0A, 0x00, 0x5B, 0x00, 0x41]);
        assert_eq!(last_cut(&text, 0), None);
        assert_eq!(last_cut(&text[1..], 1), None);
        assert_eq!(last_cut(&text[1..], 0), Some(text.len() - 1 - 4 + 2 - 1));
    }

    #[test]
    fn an_odd_last_piece_is_the_error_the_whole_file_gives() {
        let mut text = utf16("Windows Registry Editor Version 5.00\r\n\r\n[A]\r\n\r\n[B]\r\n");
        text.push(b'x');
        let limits = Limits::default();
        let whole = parse_reg_partial(&text, ReadMode::Strict, &limits)
            .1
            .unwrap();
        let (at, last) = pieces(&text, 8).pop().unwrap();
        assert!(at.offset > 0 && last.len() % 2 == 1);
        let piece = parse_reg5_piece(&last, at, ReadMode::Strict, &limits)
            .1
            .unwrap();
        assert_eq!(piece.to_string(), whole.to_string());
    }
}
