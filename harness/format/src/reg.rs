//! `reg export` files (docs/FORMATS.md section 4).
//!
//! **Writing** produces exactly what `reg export` / `regedit /e` write for a
//! whole system store (REGEDIT5): UTF-16LE with a byte-order mark, CRLF line
//! ends, the header line `Windows Registry Editor Version 5.00` and a blank
//! line, then every key as `[path]`, its values, and a blank line, in the
//! order regedit enumerates them: `...\SMS`, `...\SMS\Certificates`, each
//! certificate key, then the empty `...\SMS\CRLs` and `...\SMS\CTLs` keys
//! (CryptoAPI creates all three subkeys when it opens a system store).
//! Binary values are `"Blob"=hex:0b,00,...`, wrapped the way regedit wraps
//! them: the column starts after `"Blob"=hex:`; after each byte that has a
//! successor a comma is written and the column advances by 3; once it
//! reaches 76 the line ends in `\` and the next starts with two spaces. So
//! the first line holds 22 bytes, continuation lines 25 (78 characters with
//! the backslash), and no line passes 80 characters.
//!
//! **Reading** accepts any export regedit or `reg export` writes: REGEDIT5
//! (UTF-16LE with BOM) and REGEDIT4 (`REGEDIT4` header, ANSI/UTF-8), LF or
//! CRLF, any wrapping width, comments (`;`), missing parent sections,
//! `hex(3):` as a spelling of `hex:`, a certificate's `Blob` of another type
//! (`hex(7):`, ...: read as its bytes, as crypt32 reads a `Blob` whatever its
//! type, with a note), and any other keys and values (kept in
//! the file, each reported as a [`RegNote`] with its line). The certificates
//! are the `Blob` values under `...\SystemCertificates\<store>\Certificates\<thumbprint>`;
//! `Blob` values under `CRLs\` and `CTLs\` are noted, not read as
//! certificates. For each certificate the reader records the byte span its
//! `Blob` value occupies in the file ([`ParsedReg::blob_spans`]), so that
//! [`splice_blobs`] can rewrite the repaired values and copy every other
//! byte as it was. It rejects, with 1-based line and column: a REGEDIT5
//! header in a file that is not UTF-16LE, UTF-16 without a byte-order mark
//! or big-endian, CR-only line ends (and any other encoding it cannot
//! place), a certificate's `Blob` that is not binary (a string, a dword),
//! odd hex digits, a dangling continuation, a `Blob` under a
//! certificate-store key that is not a 40-hex thumbprint, a thumbprint that
//! does not match its certificate, and a malformed `Blob` element.
//!
//! The reader never builds a `String` of the file. REGEDIT4 text is read in
//! place; REGEDIT5 text is narrowed to one byte per UTF-16 code unit (ASCII
//! as itself, every other unit as `0x80`, which is never structural) in one
//! pass that is a plain copy for all-ASCII text, the common case. Names and
//! paths that go into notes are decoded from the original bytes. Hex is
//! decoded through a 256-entry table, with a fast path for regedit's
//! `xx,xx,...` layout.
//!
//! The reading stops at the first error in file order; [`parse_reg_partial`]
//! also returns what was read before it (an unpaired surrogate stops the
//! reading at the start of its line). A REGEDIT5 export can be read in
//! pieces of whole sections, in bounded memory and on every core, with the
//! same results ([`RegPieces`], [`parse_reg5_piece`]; docs/FORMATS.md 4.3).
//!
//! `write_reg(parse_reg(b)) == b` for every file `write_reg` produces.

use std::borrow::Cow;
use std::ops::Range;

use super::element::{ReadMode, SerializedElement};
use super::error::{FormatError, RegError};
use super::limits::Limits;
use super::registry::{
    check_key, KeyMismatch, RegistryCertificate, RegistryStore, SYSTEM_CERTIFICATES,
};
use super::thumbprint::Thumbprint;

mod pieces;
pub use pieces::{parse_reg5_piece, piece_line_start, reads_in_pieces, RegPieces};

/// The two `.reg` dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RegEncoding {
    /// `Windows Registry Editor Version 5.00`, UTF-16LE with BOM.
    Regedit5,
    /// `REGEDIT4`, single-byte text.
    Regedit4,
}

impl RegEncoding {
    /// Bytes per code unit in the file.
    fn unit(self) -> usize {
        match self {
            RegEncoding::Regedit5 => 2,
            RegEncoding::Regedit4 => 1,
        }
    }

    /// Re-encodes the ASCII text `out[start..]` the way a file of this
    /// dialect holds it (no BOM), in place: REGEDIT5 doubles it into
    /// UTF-16LE, REGEDIT4 keeps it.
    fn widen_from(self, out: &mut Vec<u8>, start: usize) {
        if self == RegEncoding::Regedit4 {
            return;
        }
        let n = out.len() - start;
        out.resize(start + 2 * n, 0);
        let tail = &mut out[start..];
        // Backwards, so that no byte is overwritten before it is moved.
        for k in (0..n).rev() {
            tail[2 * k] = tail[k];
            tail[2 * k + 1] = 0;
        }
    }
}

const REGEDIT5_HEADER: &str = "Windows Registry Editor Version 5.00";
const REGEDIT4_HEADER: &str = "REGEDIT4";
/// regedit's `REG_FILE_HEX_LINE_LEN`.
const HEX_LINE_LEN: usize = 76;

/// Writes a store as `reg export` would (through [`RegEncoder`], in the
/// store's order).
pub fn write_reg(store: &RegistryStore<'_>, encoding: RegEncoding) -> Vec<u8> {
    let encoder = RegEncoder::new(&store.name, encoding);
    let mut out = Vec::new();
    encoder.header(&mut out);
    let mut blob = Vec::new();
    for c in &store.certificates {
        blob.clear();
        c.element.write_to(&mut blob);
        encoder.certificate(&c.thumbprint, &blob, &mut out);
    }
    encoder.footer(&mut out);
    out
}

/// Writes a store's `reg export` piece by piece, with the bytes
/// [`write_reg`] gives for the whole store: [`RegEncoder::header`], then
/// [`RegEncoder::certificate`] for each certificate in key order (upper-case
/// thumbprint order, as [`RegistryStore::from_elements`] sorts them), then
/// [`RegEncoder::footer`]. Each piece is appended to a byte buffer in the
/// file's encoding, so pieces can be made on several threads and written in
/// order without ever holding the whole export.
#[derive(Debug, Clone)]
pub struct RegEncoder {
    root: String,
    encoding: RegEncoding,
}

impl RegEncoder {
    /// For the store `name` (e.g. `SMS`).
    pub fn new(name: &str, encoding: RegEncoding) -> Self {
        RegEncoder {
            root: format!("{SYSTEM_CERTIFICATES}\\{name}"),
            encoding,
        }
    }

    /// The byte-order mark (REGEDIT5), the header line, the store's key
    /// and its `Certificates` key.
    pub fn header(&self, out: &mut Vec<u8>) {
        if self.encoding == RegEncoding::Regedit5 {
            out.extend_from_slice(&[0xFF, 0xFE]);
        }
        let header = match self.encoding {
            RegEncoding::Regedit5 => REGEDIT5_HEADER,
            RegEncoding::Regedit4 => REGEDIT4_HEADER,
        };
        let root = &self.root;
        self.push(
            out,
            format!("{header}\r\n\r\n[{root}]\r\n\r\n[{root}\\Certificates]\r\n\r\n").as_bytes(),
        );
    }

    /// One certificate's key and its `Blob` value: `blob` is the value's
    /// bytes (the serialized element, SHA-1 property included).
    pub fn certificate(&self, thumbprint: &Thumbprint, blob: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.reserve(
            (self.root.len() + 80 + blob.len() * 3 + blob.len() / 8) * self.encoding.unit(),
        );
        out.push(b'[');
        out.extend_from_slice(self.root.as_bytes());
        out.extend_from_slice(b"\\Certificates\\");
        crate::hex::upper_to(&thumbprint.0, out);
        out.extend_from_slice(b"]\r\n");
        push_hex_value(out, "Blob", blob, b"\r\n");
        out.extend_from_slice(b"\r\n\r\n");
        self.encoding.widen_from(out, start);
    }

    /// The store's empty `CRLs` and `CTLs` keys, which end the export.
    pub fn footer(&self, out: &mut Vec<u8>) {
        let root = &self.root;
        self.push(
            out,
            format!("[{root}\\CRLs]\r\n\r\n[{root}\\CTLs]\r\n\r\n").as_bytes(),
        );
    }

    /// Appends ASCII `text` in the file's encoding.
    fn push(&self, out: &mut Vec<u8>, text: &[u8]) {
        let start = out.len();
        out.extend_from_slice(text);
        self.encoding.widen_from(out, start);
    }
}

/// Appends `"name"=hex:..` as ASCII bytes, with regedit's wrapping:
/// continuation lines end in `\` + `newline`; no line end after the last
/// byte.
fn push_hex_value(out: &mut Vec<u8>, name: &str, data: &[u8], newline: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\"=hex:");
    let mut column = name.len() + 7;
    let Some((last, rest)) = data.split_last() else {
        return;
    };
    for &b in rest {
        let [h, l] = crate::hex::lower_pair(b);
        out.extend_from_slice(&[h, l, b',']);
        column += 3;
        if column >= HEX_LINE_LEN {
            out.push(b'\\');
            out.extend_from_slice(newline);
            out.extend_from_slice(b"  ");
            column = 2;
        }
    }
    out.extend_from_slice(&crate::hex::lower_pair(*last));
}

/// Something the reader ignored (and a fixer keeps as it is), with its line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegNote {
    pub line: usize,
    pub message: String,
}

/// A parsed `.reg` export of a certificate store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReg {
    pub store: RegistryStore<'static>,
    pub encoding: RegEncoding,
    /// Ignored keys and values.
    pub notes: Vec<RegNote>,
    /// The line of each certificate's `Blob` value, in store order.
    pub blob_lines: Vec<usize>,
    /// Each certificate's key name as the file spells it (its case kept), in
    /// store order.
    pub key_names: Vec<String>,
    /// The bytes of the file each certificate's `Blob` value occupies, in
    /// store (= file) order: from the value's first character (the `"` of
    /// `"Blob"`, after any indent) to the end of its last line, without that
    /// line's end (CR LF or LF). Continuation lines are inside the span.
    pub blob_spans: Vec<Range<usize>>,
}

/// Parses a `.reg` file with the default limits.
pub fn parse_reg(bytes: &[u8], mode: ReadMode) -> Result<ParsedReg, FormatError> {
    parse_reg_with(bytes, mode, &Limits::default())
}

/// Parses a `.reg` file.
pub fn parse_reg_with(
    bytes: &[u8],
    mode: ReadMode,
    limits: &Limits,
) -> Result<ParsedReg, FormatError> {
    match parse_reg_partial(bytes, mode, limits) {
        (parsed, None) => Ok(parsed),
        (_, Some(e)) => Err(e),
    }
}

/// Parses a `.reg` file as far as it can: what was read before the first
/// error (in file order), and that error. A file of an odd UTF-16 length or
/// with a wrong header gives nothing and its error; an unpaired surrogate
/// stops the reading at the start of its line.
pub fn parse_reg_partial(
    bytes: &[u8],
    mode: ReadMode,
    limits: &Limits,
) -> (ParsedReg, Option<FormatError>) {
    match decode(bytes) {
        // The header line (checked by `decode`) is skipped.
        Ok(text) => parse_text(&text, 0, true, mode, limits),
        Err(e) => (ParsedReg::empty(), Some(e)),
    }
}

/// Where a piece of a REGEDIT5 export starts in its file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PieceAt {
    /// The file offset of the piece's first byte (even: after the BOM).
    pub offset: usize,
    /// How many lines of the file come before the piece.
    pub lines_before: usize,
}

/// Parses a piece of a REGEDIT5 export that holds whole sections: its
/// UTF-16LE bytes from the start of a `[key]` line up to a line end, found
/// at `at` in the file (see [`RegPieces`]). What it reads is what
/// [`parse_reg_partial`] reads from those lines of the whole file: lines,
/// notes and spans are the file's, and the first error stops the piece.
fn parse_reg5_piece_sections(
    piece: &[u8],
    at: PieceAt,
    mode: ReadMode,
    limits: &Limits,
) -> (ParsedReg, Option<FormatError>) {
    if piece.len() % 2 != 0 {
        // Only the file's last piece can be odd; its line as for the file.
        let line = at.lines_before + 1 + piece.chunks_exact(2).filter(|p| p == &[b'\n', 0]).count();
        return (
            ParsedReg::empty(),
            Some(encoding_error(
                line,
                "UTF-16LE text with an odd number of bytes",
            )),
        );
    }
    // Each thread reuses one buffer for the narrowed text of its pieces
    // (a new one per piece would be fresh pages to fault in and clear).
    thread_local! {
        static NARROW: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    NARROW.with_borrow_mut(|narrow| {
        let bad = narrow_utf16_into(piece, at.lines_before + 1, narrow);
        let text = Text {
            file: piece,
            narrow: Cow::Borrowed(narrow),
            base: 0,
            origin: at.offset,
            encoding: RegEncoding::Regedit5,
            latin1: false,
            bad,
        };
        parse_text(&text, at.lines_before, false, mode, limits)
    })
}

/// Parses decoded text whose first line is line `lines_before + 1` of the
/// file (the header when `header`, which is skipped).
fn parse_text(
    text: &Text<'_>,
    lines_before: usize,
    header: bool,
    mode: ReadMode,
    limits: &Limits,
) -> (ParsedReg, Option<FormatError>) {
    let cut = text.bad.as_ref().map_or(text.narrow.len(), |b| b.cut);
    let mut lines = Lines {
        text: &text.narrow[..cut],
        pos: 0,
        line: lines_before,
    };
    if header {
        lines.next();
    }
    let (parsed, error) = Parser {
        text,
        lines: lines.peekable(),
        mode,
        limits,
        notes: Vec::new(),
        certificates: Vec::new(),
        blob_lines: Vec::new(),
        key_names: Vec::new(),
        blob_spans: Vec::new(),
        store_name: None,
        scratch: Vec::new(),
    }
    .run();
    let Some(bad) = &text.bad else {
        return (parsed, error);
    };
    // An error before the bad line wins, except a value left dangling by
    // the cut itself: its continuation is the bad line.
    let error = match error {
        Some(FormatError::Reg(RegError::DanglingContinuation { line })) if line + 1 == bad.line => {
            bad.error()
        }
        Some(e) => e,
        None => bad.error(),
    };
    (parsed, Some(error))
}

impl ParsedReg {
    /// What a file that cannot be decoded gives: nothing.
    fn empty() -> Self {
        ParsedReg {
            store: RegistryStore {
                name: "SMS".to_owned(),
                certificates: Vec::new(),
            },
            encoding: RegEncoding::Regedit5,
            notes: Vec::new(),
            blob_lines: Vec::new(),
            key_names: Vec::new(),
            blob_spans: Vec::new(),
        }
    }
}

fn encoding_error(line: usize, message: impl Into<String>) -> FormatError {
    RegError::Encoding {
        line,
        message: message.into(),
    }
    .into()
}

/// The text of an export, one byte per code unit: ASCII as itself; in
/// REGEDIT5 every other UTF-16 code unit as `0x80` (REGEDIT4 bytes are
/// kept as they are). Structural characters are all ASCII, so the parser
/// works on these bytes and offsets map back to the file by `base + i * unit`.
struct Text<'a> {
    /// The bytes decoded (the whole file, or a piece of it).
    file: &'a [u8],
    narrow: Cow<'a, [u8]>,
    /// Where the text starts in `file` (after the BOM or UTF-8 mark).
    base: usize,
    /// The file offset of `file[0]` (0 unless `file` is a piece).
    origin: usize,
    encoding: RegEncoding,
    /// REGEDIT4 text that is not valid UTF-8 (read as Latin-1).
    latin1: bool,
    /// The first unpaired UTF-16 surrogate, where the reading stops.
    bad: Option<BadUnit>,
}

/// An unpaired UTF-16 surrogate: the text is read up to the start of its
/// line, and the error is reported there (see [`parse_text`]).
struct BadUnit {
    /// The narrow index where its line starts.
    cut: usize,
    line: usize,
    message: String,
}

impl BadUnit {
    fn error(&self) -> FormatError {
        encoding_error(self.line, self.message.clone())
    }
}

impl Text<'_> {
    /// The index in `file` of narrow index `i`.
    fn offset(&self, i: usize) -> usize {
        self.base + i * self.encoding.unit()
    }

    /// The file offset of narrow index `i`.
    fn file_offset(&self, i: usize) -> usize {
        self.origin + self.offset(i)
    }

    /// The characters of narrow range `r`, decoded from the file.
    fn string(&self, r: Range<usize>) -> String {
        let narrow = &self.narrow[r.clone()];
        if narrow.is_ascii() {
            return narrow.iter().map(|&b| b as char).collect();
        }
        let raw = &self.file[self.offset(r.start)..self.offset(r.end)];
        match self.encoding {
            RegEncoding::Regedit5 => char::decode_utf16(
                raw.chunks_exact(2)
                    .map(|p| u16::from_le_bytes([p[0], p[1]])),
            )
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
            RegEncoding::Regedit4 if self.latin1 => raw.iter().map(|&b| b as char).collect(),
            RegEncoding::Regedit4 => String::from_utf8_lossy(raw).into_owned(),
        }
    }
}

/// Decodes the file into one byte per code unit and says which dialect it is.
fn decode(bytes: &[u8]) -> Result<Text<'_>, FormatError> {
    if let Some(body) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if body.len() % 2 != 0 {
            let line = 1 + body.chunks_exact(2).filter(|p| p == &[b'\n', 0]).count();
            return Err(encoding_error(
                line,
                "UTF-16LE text with an odd number of bytes",
            ));
        }
        let mut narrow = Vec::new();
        let bad = narrow_utf16_into(body, 1, &mut narrow);
        if narrow.starts_with(REGEDIT5_HEADER.as_bytes()) {
            header_line_end(&narrow[REGEDIT5_HEADER.len()..])?;
        } else {
            // The first error in the file: an unpaired surrogate in the
            // header line itself, or else the header.
            return Err(match bad {
                Some(b) if b.line == 1 => b.error(),
                _ => encoding_error(
                    1,
                    format!("a UTF-16LE file must start with `{REGEDIT5_HEADER}`"),
                ),
            });
        }
        return Ok(Text {
            file: bytes,
            narrow: Cow::Owned(narrow),
            base: 2,
            origin: 0,
            encoding: RegEncoding::Regedit5,
            latin1: false,
            bad,
        });
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(encoding_error(
            1,
            "UTF-16 big-endian (BOM FE FF); regedit writes UTF-16LE",
        ));
    }
    let base = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let body = &bytes[base..];
    if body.starts_with(REGEDIT4_HEADER.as_bytes()) {
        header_line_end(&body[REGEDIT4_HEADER.len()..])?;
        return Ok(Text {
            file: bytes,
            narrow: Cow::Borrowed(body),
            base,
            origin: 0,
            encoding: RegEncoding::Regedit4,
            // REGEDIT4 files are ANSI: what is not UTF-8 is read as Latin-1.
            latin1: std::str::from_utf8(body).is_err(),
            bad: None,
        });
    }
    if body.starts_with(REGEDIT5_HEADER.as_bytes()) {
        return Err(encoding_error(
            1,
            "a REGEDIT5 header in a file that is not UTF-16LE with a byte-order mark (regedit writes REGEDIT5 as UTF-16LE)",
        ));
    }
    if bytes.len() >= 2 && bytes[1] == 0 {
        return Err(encoding_error(
            1,
            "UTF-16LE text without a byte-order mark (regedit writes FF FE first): not read",
        ));
    }
    if bytes.len() >= 2 && bytes[0] == 0 {
        return Err(encoding_error(
            1,
            "UTF-16 big-endian text without a byte-order mark; regedit writes UTF-16LE with one: not read",
        ));
    }
    Err(encoding_error(
        1,
        "no `Windows Registry Editor Version 5.00` or `REGEDIT4` header",
    ))
}

/// Checks what follows the header on its line: a line end (`\r\n` or
/// `\n`) or the end of the file. A lone CR there means the file's line ends
/// are CR only (as old Mac editors write): every line would be read as one,
/// and the export as holding no certificate, so it is refused instead.
/// (Whether regedit itself accepts CR-only files is not documented: a
/// labelled choice.)
fn header_line_end(after_header: &[u8]) -> Result<(), FormatError> {
    match after_header {
        [b'\r', b'\n', ..] | [b'\n', ..] | [] | [b'\r'] => Ok(()),
        [b'\r', ..] => Err(encoding_error(
            1,
            "the header line ends with a lone CR (CR-only line ends); regedit writes CR LF: not read",
        )),
        _ => Ok(()),
    }
}

/// UTF-16LE code units to one byte each (ASCII as itself, others `0x80`),
/// into `narrow` (replacing its contents); returns the first unpaired
/// surrogate (its line counted from `first_line`, the line `body` starts
/// on). All-ASCII text is one copying pass.
fn narrow_utf16_into(body: &[u8], first_line: usize, narrow: &mut Vec<u8>) -> Option<BadUnit> {
    // Every byte is written below: a reused buffer is not cleared first.
    narrow.resize(body.len() / 2, 0);
    let mut high = 0u8;
    // 16 code units at a time, in fixed-size arrays the compiler vectorises.
    let mut dst = narrow.chunks_exact_mut(16);
    let mut src = body.chunks_exact(32);
    for (d, s) in (&mut dst).zip(&mut src) {
        let d: &mut [u8; 16] = d.try_into().expect("chunks of 16");
        let s: &[u8; 32] = s.try_into().expect("chunks of 32");
        let mut acc = 0u16;
        for k in 0..16 {
            let u = u16::from_le_bytes([s[2 * k], s[2 * k + 1]]);
            d[k] = u as u8;
            acc |= u;
        }
        // Some unit of the 16 is not ASCII iff a bit from 7 up is set.
        high |= u8::from(acc > 0x7F);
    }
    for (d, p) in dst
        .into_remainder()
        .iter_mut()
        .zip(src.remainder().chunks_exact(2))
    {
        *d = p[0];
        high |= p[1] | (p[0] & 0x80);
    }
    if high == 0 {
        return None;
    }
    // Some code unit is not ASCII: mark them and check the surrogates.
    let mut line = first_line;
    let mut line_start = 0;
    let mut pending_high: Option<u16> = None;
    for (i, p) in body.chunks_exact(2).enumerate() {
        let u = u16::from_le_bytes([p[0], p[1]]);
        let unpaired = match u {
            0xD800..=0xDBFF => pending_high.replace(u),
            0xDC00..=0xDFFF => match pending_high.take() {
                Some(_) => None,
                None => Some(u),
            },
            _ => pending_high.take(),
        };
        if let Some(s) = unpaired {
            return Some(BadUnit {
                cut: line_start,
                line,
                message: format!("unpaired UTF-16 surrogate {s:#06x}"),
            });
        }
        if u == u16::from(b'\n') {
            line += 1;
            line_start = i + 1;
        }
        if u >= 0x80 {
            narrow[i] = 0x80;
        }
    }
    pending_high.map(|h| BadUnit {
        cut: line_start,
        line,
        message: format!("unpaired UTF-16 surrogate {h:#06x}"),
    })
}

/// One physical line: its 1-based number, where it starts (narrow index),
/// and its text without the line end (`\n`, and one `\r` before it).
#[derive(Clone, Copy)]
struct Line<'t> {
    no: usize,
    start: usize,
    text: &'t [u8],
}

impl Line<'_> {
    fn end(&self) -> usize {
        self.start + self.text.len()
    }
}

struct Lines<'t> {
    text: &'t [u8],
    pos: usize,
    line: usize,
}

impl<'t> Iterator for Lines<'t> {
    type Item = Line<'t>;
    fn next(&mut self) -> Option<Line<'t>> {
        if self.pos > self.text.len() {
            return None;
        }
        let start = self.pos;
        let rest = &self.text[start..];
        let (mut text, next) = match memchr::memchr(b'\n', rest) {
            Some(n) => (&rest[..n], start + n + 1),
            None => (rest, self.text.len() + 1),
        };
        if let [head @ .., b'\r'] = text {
            text = head;
        }
        self.pos = next;
        self.line += 1;
        Some(Line {
            no: self.line,
            start,
            text,
        })
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c')
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| is_space(b)).count();
    &s[n..]
}

fn trim_end(s: &[u8]) -> &[u8] {
    let n = s.iter().rev().take_while(|&&b| is_space(b)).count();
    &s[..s.len() - n]
}

fn is_blank(s: &[u8]) -> bool {
    s.iter().all(|&b| is_space(b))
}

/// Reads logical entries line by line.
struct Parser<'t, 'l> {
    text: &'t Text<'t>,
    lines: std::iter::Peekable<Lines<'t>>,
    mode: ReadMode,
    limits: &'l Limits,
    notes: Vec<RegNote>,
    certificates: Vec<RegistryCertificate<'static>>,
    blob_lines: Vec<usize>,
    key_names: Vec<String>,
    blob_spans: Vec<Range<usize>>,
    store_name: Option<String>,
    /// Decoded bytes of the `Blob` being read.
    scratch: Vec<u8>,
}

/// The key a section names, relative to the certificate stores. Ranges are
/// relative to the path.
enum KeyKind {
    /// `...\SystemCertificates\<store>` or below, not a certificate key.
    Store,
    /// `...\SystemCertificates\<store>\Certificates\<name>`.
    Certificate {
        store: Range<usize>,
        name: Range<usize>,
    },
    /// `...\SystemCertificates\<store>\{CRLs,CTLs}\<name>`.
    CrlOrCtl {
        name: Range<usize>,
    },
    Other,
}

fn classify_key(path: &[u8]) -> KeyKind {
    let prefix = SYSTEM_CERTIFICATES.as_bytes();
    if path.len() <= prefix.len()
        || !path[..prefix.len()].eq_ignore_ascii_case(prefix)
        || path[prefix.len()] != b'\\'
    {
        return KeyKind::Other;
    }
    let offset = prefix.len() + 1;
    let mut parts = [0..0, 0..0, 0..0];
    let mut count = 0;
    let mut start = offset;
    for (i, &b) in path.iter().enumerate().skip(offset) {
        if b == b'\\' {
            if count < 3 {
                parts[count] = start..i;
            }
            count += 1;
            start = i + 1;
        }
    }
    if count < 3 {
        parts[count] = start..path.len();
    }
    count += 1;
    if count != 3 {
        return KeyKind::Store;
    }
    let [store, container, name] = parts;
    let container = &path[container];
    if container.eq_ignore_ascii_case(b"certificates") {
        KeyKind::Certificate { store, name }
    } else if container.eq_ignore_ascii_case(b"crls") || container.eq_ignore_ascii_case(b"ctls") {
        KeyKind::CrlOrCtl { name }
    } else {
        KeyKind::Store
    }
}

fn syntax(line: usize, column: usize, message: impl Into<String>) -> FormatError {
    RegError::Syntax {
        line,
        column,
        message: message.into(),
    }
    .into()
}

/// The key a value belongs to: its line and its path (narrow range).
#[derive(Clone)]
struct Key {
    line: usize,
    path: Range<usize>,
}

impl<'t> Parser<'t, '_> {
    fn check_len(&self, l: &Line<'_>) -> Result<(), FormatError> {
        if l.text.len() > self.limits.max_reg_line_len {
            return Err(syntax(
                l.no,
                self.limits.max_reg_line_len + 1,
                format!(
                    "line longer than the limit of {} characters",
                    self.limits.max_reg_line_len
                ),
            ));
        }
        Ok(())
    }

    fn path(&self, key: &Key) -> String {
        self.text.string(key.path.clone())
    }

    /// Reads every line; returns what was read before the first error,
    /// and that error.
    fn run(mut self) -> (ParsedReg, Option<FormatError>) {
        let error = self.read_lines().err();
        let parsed = ParsedReg {
            store: RegistryStore {
                name: self.store_name.unwrap_or_else(|| "SMS".to_owned()),
                certificates: self.certificates,
            },
            encoding: self.text.encoding,
            notes: self.notes,
            blob_lines: self.blob_lines,
            key_names: self.key_names,
            blob_spans: self.blob_spans,
        };
        (parsed, error)
    }

    fn read_lines(&mut self) -> Result<(), FormatError> {
        let mut key: Option<Key> = None;
        let mut blob_seen_for_key = false;
        while let Some(l) = self.lines.next() {
            self.check_len(&l)?;
            let raw = l.text;
            let text = trim_start(raw);
            let indent = raw.len() - text.len();
            if text.is_empty() || text[0] == b';' {
                continue;
            }
            if text[0] == b'[' {
                let inner = trim_end(&text[1..]);
                let Some(path) = inner.strip_suffix(b"]") else {
                    return Err(syntax(l.no, raw.len() + 1, "a key line must end with `]`"));
                };
                let from = l.start + indent + 1;
                let k = Key {
                    line: l.no,
                    path: from..from + path.len(),
                };
                if path.starts_with(b"-") {
                    let p = self.path(&k);
                    self.note(l.no, format!("key deletion `[{p}]` ignored"));
                    key = None;
                } else {
                    if let KeyKind::Other = classify_key(path) {
                        let p = self.path(&k);
                        self.note(
                            l.no,
                            format!("key `{p}` is not under {SYSTEM_CERTIFICATES}: ignored"),
                        );
                    }
                    key = Some(k);
                }
                blob_seen_for_key = false;
                continue;
            }
            let Some((name, after_name)) = parse_value_name(text) else {
                return Err(syntax(
                    l.no,
                    indent + 1,
                    "expected `[key]`, `\"name\"=value`, `@=value` or a `;` comment",
                ));
            };
            let value = trim_start(&text[after_name..]);
            let value_at = raw.len() - value.len();
            let binary = hex_value(value).map(|v| (v, value.len() - v.len()));
            let Some(k) = key.clone() else {
                self.skip_continuations(l, value)?;
                self.note(l.no, "value outside any key ignored");
                continue;
            };
            let kind = classify_key(&self.text.narrow[k.path.clone()]);
            let is_blob = name.is_blob(text);
            if is_blob && matches!(kind, KeyKind::Certificate { .. }) {
                let p = self.path(&k);
                let Some((_, prefix_len)) = binary else {
                    // crypt32 reads a `Blob` whatever its type, and would find
                    // no certificate in a string or a dword: never skipped in
                    // silence.
                    return Err(syntax(
                        l.no,
                        value_at + 1,
                        format!(
                            "the `Blob` value under `{p}` is not binary data (`hex:` or `hex(N):`): no certificate can be read from it"
                        ),
                    ));
                };
                let ty = &value[..prefix_len - 1];
                if ty != b"hex" && ty != b"hex(3)" {
                    self.note(
                        l.no,
                        format!(
                            "the `Blob` value under `{p}` is {}, not REG_BINARY: read as its bytes (crypt32's registry store reads a `Blob` whatever its type)",
                            String::from_utf8_lossy(ty)
                        ),
                    );
                }
            }
            match (is_blob, binary, kind) {
                (true, Some(_), KeyKind::Other) | (_, None, _) | (false, _, _) => {
                    self.skip_continuations(l, value)?;
                    let n = name.unescaped(self.text, l.start + indent);
                    let p = self.path(&k);
                    self.note(l.no, format!("value `{n}` under `{p}` ignored"));
                }
                (true, Some((hex, prefix_len)), kind) => {
                    let mut bytes = std::mem::take(&mut self.scratch);
                    bytes.clear();
                    let hex_at = value_at + prefix_len;
                    let end = self.read_hex(l, hex_at, hex, &mut bytes)?;
                    if blob_seen_for_key {
                        return Err(syntax(
                            l.no,
                            indent + 1,
                            "a second `Blob` value under the same key",
                        ));
                    }
                    blob_seen_for_key = true;
                    let span = self.text.file_offset(l.start + indent)..self.text.file_offset(end);
                    self.entry(l.no, &k, kind, &bytes, span)?;
                    self.scratch = bytes;
                }
            }
        }
        Ok(())
    }

    fn note(&mut self, line: usize, message: impl Into<String>) {
        self.notes.push(RegNote {
            line,
            message: message.into(),
        });
    }

    /// The next line, if it continues a value (not blank, not a key line).
    fn continuation(&mut self, after: usize) -> Result<Line<'t>, FormatError> {
        match self.lines.peek() {
            Some(next) if !is_blank(next.text) && !trim_start(next.text).starts_with(b"[") => {
                let next = *next;
                self.check_len(&next)?;
                self.lines.next();
                Ok(next)
            }
            _ => Err(RegError::DanglingContinuation { line: after }.into()),
        }
    }

    /// Consumes the continuation lines of a value that is being ignored.
    fn skip_continuations(&mut self, l: Line<'t>, value: &'t [u8]) -> Result<(), FormatError> {
        let (mut line, mut text) = (l.no, value);
        while trim_end(text).ends_with(b"\\") {
            let next = self.continuation(line)?;
            line = next.no;
            text = next.text;
        }
        Ok(())
    }

    /// Reads comma-separated hex bytes into `out`, following `\`
    /// continuations. `hex` starts at 0-based column `at` of line `l`.
    /// Returns the narrow index where the value's last line ends.
    fn read_hex(
        &mut self,
        l: Line<'t>,
        at: usize,
        hex: &'t [u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, FormatError> {
        out.reserve(hex.len() / 3 + 1);
        let (mut line, mut column, mut hex, mut end) = (l.no, at + 1, hex, l.end());
        loop {
            let trimmed = trim_end(hex);
            let (body, continues) = match trimmed.strip_suffix(b"\\") {
                Some(b) => (b, true),
                None => (trimmed, false),
            };
            parse_hex_bytes(body, line, column, out)?;
            if !continues {
                return Ok(end);
            }
            let next = self.continuation(line)?;
            let stripped = trim_start(next.text);
            column = next.text.len() - stripped.len() + 1;
            line = next.no;
            hex = stripped;
            end = next.end();
        }
    }

    /// A `Blob` value under key `k`: a certificate, or a CRL or CTL of the
    /// store (noted and kept as it is).
    fn entry(
        &mut self,
        line: usize,
        k: &Key,
        kind: KeyKind,
        bytes: &[u8],
        span: Range<usize>,
    ) -> Result<(), FormatError> {
        let not_a_thumbprint = |p: &Self| -> FormatError {
            RegError::NotAThumbprintKey {
                line,
                key: p.path(k),
            }
            .into()
        };
        let at = k.path.start;
        let (store, name) = match kind {
            KeyKind::Certificate { store, name } => (store, name),
            KeyKind::CrlOrCtl { name } => {
                let named = &self.text.narrow[at + name.start..at + name.end];
                if !(named.len() == 40 && named.iter().all(u8::is_ascii_hexdigit)) {
                    return Err(not_a_thumbprint(self));
                }
                let p = self.path(k);
                self.note(
                    line,
                    format!("`Blob` under `{p}` is a CRL or CTL of the store, not a certificate: kept as it is"),
                );
                return Ok(());
            }
            KeyKind::Store | KeyKind::Other => return Err(not_a_thumbprint(self)),
        };
        let element = SerializedElement::parse(bytes, 0, self.mode)
            .map_err(|source| RegError::Blob {
                line,
                source: Box::new(source),
            })?
            .into_owned();
        let name = self.text.string(at + name.start..at + name.end);
        let thumbprint: Thumbprint = match check_key(&name, &element) {
            Ok(t) => t,
            Err(KeyMismatch::NotAThumbprint) => return Err(not_a_thumbprint(self)),
            Err(KeyMismatch::Mismatch { computed }) => {
                return Err(RegError::ThumbprintMismatch {
                    line: k.line,
                    key: name,
                    computed,
                }
                .into())
            }
        };
        if self.store_name.is_none() {
            self.store_name = Some(self.text.string(at + store.start..at + store.end));
        }
        self.certificates.push(RegistryCertificate {
            thumbprint,
            element,
        });
        self.blob_lines.push(line);
        self.key_names.push(name);
        self.blob_spans.push(span);
        Ok(())
    }
}

/// A value's name as it appears in the line: `@` (the default value) or the
/// characters between the quotes (narrow range relative to the value's text),
/// still escaped when `escaped`.
struct ValueName {
    quoted: Option<Range<usize>>,
    escaped: bool,
}

impl ValueName {
    /// Whether the (unescaped) name is `Blob`, in any case.
    fn is_blob(&self, text: &[u8]) -> bool {
        let Some(r) = &self.quoted else { return false };
        let raw = &text[r.clone()];
        if !self.escaped {
            return raw.eq_ignore_ascii_case(b"Blob");
        }
        let mut unescaped = Vec::with_capacity(raw.len());
        let mut it = raw.iter();
        while let Some(&c) = it.next() {
            unescaped.push(if c == b'\\' {
                *it.next().unwrap_or(&c)
            } else {
                c
            });
        }
        unescaped.eq_ignore_ascii_case(b"Blob")
    }

    /// The unescaped name, decoded from the file; `at` is the narrow index
    /// of the value's text.
    fn unescaped(&self, text: &Text<'_>, at: usize) -> String {
        let Some(r) = &self.quoted else {
            return String::new();
        };
        let raw = text.string(at + r.start..at + r.end);
        if !self.escaped {
            return raw;
        }
        let mut name = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => name.extend(chars.next()),
                c => name.push(c),
            }
        }
        name
    }
}

/// Splits `"name"=rest` or `@=rest`; returns the name and where `rest` starts.
fn parse_value_name(text: &[u8]) -> Option<(ValueName, usize)> {
    let after_eq = |from: usize| -> Option<usize> {
        let rest = trim_start(&text[from..]);
        rest.strip_prefix(b"=").map(|r| text.len() - r.len())
    };
    if text.first() == Some(&b'@') {
        let rest = after_eq(1)?;
        return Some((
            ValueName {
                quoted: None,
                escaped: false,
            },
            rest,
        ));
    }
    if text.first() != Some(&b'"') {
        return None;
    }
    let mut escaped = false;
    let mut i = 1;
    while i < text.len() {
        match text[i] {
            b'\\' => {
                if i + 1 >= text.len() {
                    return None;
                }
                escaped = true;
                i += 2;
            }
            b'"' => {
                let rest = after_eq(i + 1)?;
                return Some((
                    ValueName {
                        quoted: Some(1..i),
                        escaped,
                    },
                    rest,
                ));
            }
            _ => i += 1,
        }
    }
    None
}

/// Hex digit values; `0xFF` for every byte that is not a hex digit.
static HEX_VALUE: [u8; 256] = {
    let mut t = [0xFF_u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// The hex digits of a binary value: `hex:` (REG_BINARY), `hex(3):` or
/// any `hex(N):` (N one to eight hexadecimal digits, the value's type as
/// regedit writes it for REG_NONE, REG_MULTI_SZ and other types), whose
/// bytes are given the same way.
fn hex_value(value: &[u8]) -> Option<&[u8]> {
    if let Some(v) = value.strip_prefix(b"hex:") {
        return Some(v);
    }
    let inner = value.strip_prefix(b"hex(")?;
    let close = inner.iter().position(|&b| b == b')')?;
    let digits = &inner[..close];
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    inner[close + 1..].strip_prefix(b":")
}

fn hex_digit(b: u8) -> Option<u8> {
    let v = HEX_VALUE[b as usize];
    (v < 16).then_some(v)
}

/// Parses `0b,00,4d` (spaces around tokens allowed, a trailing comma
/// allowed) into `out`. Errors carry the 1-based column on `line`, where
/// `body` starts at `column`.
fn parse_hex_bytes(
    b: &[u8],
    line: usize,
    column: usize,
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    // Fast path: a line of regedit's `xx,` tokens, decoded without a branch
    // per token; if any token is not `xx,`, it is undone and the general
    // path below reads the line from its start.
    let mut i = 0;
    let tokens = b.len() / 3;
    let start = out.len();
    out.resize(start + tokens, 0);
    let mut bad = 0u8;
    for (d, t) in out[start..].iter_mut().zip(b.chunks_exact(3)) {
        let (h, l) = (HEX_VALUE[t[0] as usize], HEX_VALUE[t[1] as usize]);
        bad |= h | l | (u8::from(t[2] != b',') << 4);
        *d = h << 4 | l;
    }
    if bad > 15 {
        out.truncate(start);
    } else {
        i = tokens * 3;
    }
    // Everything else: spaces, the last byte, and errors.
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i] != b',' && b[i] != b' ' && b[i] != b'\t' {
            i += 1;
        }
        let token = &b[start..i];
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        let at_comma = i < b.len() && b[i] == b',';
        if token.is_empty() {
            if at_comma {
                return Err(syntax(line, column + start, "empty byte between commas"));
            }
            break;
        }
        if let Some(bad) = token.iter().position(|&c| hex_digit(c).is_none()) {
            let shown = if token[bad] < 0x80 {
                (token[bad] as char).to_string()
            } else {
                "non-ASCII character".to_owned()
            };
            return Err(syntax(
                line,
                column + start + bad,
                format!("`{shown}` is not a hex digit"),
            ));
        }
        if token.len() != 2 {
            return Err(RegError::OddHexDigits {
                line,
                column: column + start,
                token: String::from_utf8_lossy(token).into_owned(),
            }
            .into());
        }
        out.push(HEX_VALUE[token[0] as usize] << 4 | HEX_VALUE[token[1] as usize]);
        if at_comma {
            i += 1;
        } else if i < b.len() {
            return Err(syntax(line, column + i, "expected `,` between bytes"));
        }
    }
    Ok(())
}

/// Rewrites the `Blob` values of some certificates of a parsed export and
/// copies every other byte of `original` as it is: keys, other values,
/// comments, blank lines, the wrapping of untouched values, line ends and
/// encoding. Each `(index, element)` replaces the value of
/// `parsed.store.certificates[index]` (its span in
/// [`ParsedReg::blob_spans`]) with `"Blob"=hex:...` in regedit's wrapping,
/// in the file's encoding, with the line end that follows the value in the
/// file (or, at the end of a file without one, the header's).
pub fn splice_blobs(
    original: &[u8],
    parsed: &ParsedReg,
    replacements: &[(usize, SerializedElement<'_>)],
) -> Vec<u8> {
    let mut order: Vec<&(usize, SerializedElement<'_>)> = replacements.iter().collect();
    order.sort_by_key(|(i, _)| *i);
    let encoding = parsed.encoding;
    let mut out = Vec::with_capacity(original.len() + replacements.len() * 64);
    let (mut pos, mut blob) = (0, Vec::new());
    for (i, e) in order {
        let Some(span) = parsed.blob_spans.get(*i) else {
            continue;
        };
        if span.start < pos {
            continue;
        }
        out.extend_from_slice(&original[pos..span.start]);
        blob.clear();
        e.write_to(&mut blob);
        let start = out.len();
        let newline = line_end(original, encoding, span.end);
        push_hex_value(&mut out, "Blob", &blob, newline.as_bytes());
        encoding.widen_from(&mut out, start);
        pos = span.end;
    }
    out.extend_from_slice(&original[pos..]);
    out
}

/// The line end at file offset `at` (CR LF or LF), or else the header line's.
fn line_end(file: &[u8], encoding: RegEncoding, at: usize) -> &'static str {
    let unit = encoding.unit();
    let is = |i: usize, c: u8| match encoding {
        RegEncoding::Regedit5 => file.get(i..i + 2) == Some(&[c, 0][..]),
        RegEncoding::Regedit4 => file.get(i) == Some(&c),
    };
    if is(at, b'\r') && is(at + unit, b'\n') {
        return "\r\n";
    }
    if is(at, b'\n') {
        return "\n";
    }
    let start = if encoding == RegEncoding::Regedit5 {
        2
    } else {
        0
    };
    let mut i = start;
    while i + unit <= file.len() {
        if is(i, b'\n') {
            return if i >= start + unit && is(i - unit, b'\r') {
                "\r\n"
            } else {
                "\n"
            };
        }
        i += unit;
    }
    "\r\n"
}

/// The first byte (an offset in `b`) at which two exports differ outside
/// their `Blob` spans, or `None` when every byte outside them is the same
/// (and both have as many spans). `a` and `b` pair a file with its
/// [`ParsedReg::blob_spans`].
pub fn first_difference_outside_blobs(
    a: (&[u8], &[Range<usize>]),
    b: (&[u8], &[Range<usize>]),
) -> Option<usize> {
    let gaps = |(file, spans): (&[u8], &[Range<usize>])| -> Vec<Range<usize>> {
        let mut out = Vec::with_capacity(spans.len() + 1);
        let mut pos = 0;
        for s in spans {
            out.push(pos..s.start);
            pos = s.end;
        }
        out.push(pos..file.len());
        out
    };
    let (ga, gb) = (gaps(a), gaps(b));
    for (x, y) in ga.iter().zip(&gb) {
        let (sx, sy) = (&a.0[x.clone()], &b.0[y.clone()]);
        if sx != sy {
            let at = sx.iter().zip(sy).position(|(p, q)| p != q);
            return Some(y.start + at.unwrap_or(sx.len().min(sy.len())));
        }
    }
    if ga.len() != gb.len() {
        return Some(
            gb.get(ga.len().min(gb.len()))
                .map_or(b.0.len(), |g| g.start),
        );
    }
    None
}

/// Byte offset of the start of 1-based `line` in a REGEDIT5 (UTF-16LE with
/// BOM) or REGEDIT4 (single-byte) file.
pub fn line_start_offset(bytes: &[u8], line: usize) -> Option<usize> {
    if line <= 1 {
        return Some(0);
    }
    if bytes.starts_with(b"\xff\xfe") {
        return utf16_after_lf(&bytes[2..], line - 1).map(|i| i + 2);
    }
    memchr::memchr_iter(b'\n', bytes)
        .nth(line - 2)
        .map(|pos| pos + 1)
}

/// The index just after the `n`-th `\n` code unit of UTF-16LE `units`
/// (0 for `n == 0`): where line `n + 1` of the text starts.
fn utf16_after_lf(units: &[u8], n: usize) -> Option<usize> {
    if n == 0 {
        return Some(0);
    }
    units
        .chunks_exact(2)
        .enumerate()
        .filter(|(_, p)| p == &[b'\n', 0])
        .nth(n - 1)
        .map(|(k, _)| 2 * (k + 1))
}
