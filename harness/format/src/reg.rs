//! `reg export` files (docs/FORMATS.md section 4).
//!
//! **Writing** produces exactly what `reg export` / `regedit /e` write
//! (REGEDIT5): UTF-16LE with a byte-order mark, CRLF line ends, the header
//! line `Windows Registry Editor Version 5.00` and a blank line, then every key
//! as `[path]`, its values, and a blank line. Parent keys (`...\SMS`,
//! `...\SMS\Certificates`) come first as empty sections. Binary values are
//! `"Blob"=hex:0b,00,...`, wrapped the way regedit wraps them: the column
//! starts after `"Blob"=hex:`; after each byte that has a successor a comma is
//! written and the column advances by 3; once it reaches 76 the line ends in
//! `\` and the next starts with two spaces. So the first line holds 22 bytes,
//! continuation lines 25 (78 characters with the backslash), and no line
//! passes 80 characters.
//!
//! **Reading** accepts REGEDIT5 (UTF-16LE with BOM) and REGEDIT4 (`REGEDIT4`
//! header, ANSI/UTF-8), LF or CRLF, any wrapping width, comments (`;`),
//! missing parent sections, `hex(3):` as a spelling of `hex:`, and other keys
//! and values (ignored, each reported as a [`RegNote`] with its line). It
//! rejects, with 1-based line and column: a REGEDIT5 header in a file that is
//! not UTF-16LE (and any other encoding it cannot place), odd hex digits, a
//! dangling continuation, a `Blob` under a key that is not a 40-hex
//! thumbprint, a thumbprint that does not match its certificate, and a
//! malformed `Blob` element.
//!
//! `write_reg(parse_reg(b)) == b` for every file `write_reg` produces.

use std::fmt::Write as _;

use super::element::{ReadMode, SerializedElement};
use super::error::{FormatError, RegError};
use super::limits::Limits;
use super::registry::{
    check_key, KeyMismatch, RegistryCertificate, RegistryStore, SYSTEM_CERTIFICATES,
};

/// The two `.reg` dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RegEncoding {
    /// `Windows Registry Editor Version 5.00`, UTF-16LE with BOM.
    Regedit5,
    /// `REGEDIT4`, single-byte text.
    Regedit4,
}

const REGEDIT5_HEADER: &str = "Windows Registry Editor Version 5.00";
const REGEDIT4_HEADER: &str = "REGEDIT4";
/// regedit's `REG_FILE_HEX_LINE_LEN`.
const HEX_LINE_LEN: usize = 76;

/// Writes a store as `reg export` would.
pub fn write_reg(store: &RegistryStore<'_>, encoding: RegEncoding) -> Vec<u8> {
    let mut text = String::new();
    text.push_str(match encoding {
        RegEncoding::Regedit5 => REGEDIT5_HEADER,
        RegEncoding::Regedit4 => REGEDIT4_HEADER,
    });
    text.push_str("\r\n\r\n");
    let root = store.key_path();
    let _ = write!(text, "[{root}]\r\n\r\n[{root}\\Certificates]\r\n\r\n");
    let mut blob = Vec::new();
    for c in &store.certificates {
        let _ = write!(
            text,
            "[{root}\\Certificates\\{}]\r\n",
            c.thumbprint.to_hex()
        );
        blob.clear();
        c.element.write_to(&mut blob);
        write_hex_value(&mut text, "Blob", &blob);
        text.push_str("\r\n");
    }
    match encoding {
        RegEncoding::Regedit5 => {
            let mut out = Vec::with_capacity(2 + text.len() * 2);
            out.extend_from_slice(&[0xFF, 0xFE]);
            for u in text.encode_utf16() {
                out.extend_from_slice(&u.to_le_bytes());
            }
            out
        }
        RegEncoding::Regedit4 => text.into_bytes(),
    }
}

/// Appends `"name"=hex:..` with regedit's wrapping, ending in CRLF.
fn write_hex_value(text: &mut String, name: &str, data: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let prefix = format!("\"{name}\"=hex:");
    text.reserve(prefix.len() + data.len() * 3 + data.len() / 25 * 5 + 2);
    text.push_str(&prefix);
    let mut column = prefix.len();
    for (i, b) in data.iter().enumerate() {
        text.push(HEX[(b >> 4) as usize] as char);
        text.push(HEX[(b & 15) as usize] as char);
        if i + 1 == data.len() {
            break;
        }
        text.push(',');
        column += 3;
        if column >= HEX_LINE_LEN {
            text.push_str("\\\r\n  ");
            column = 2;
        }
    }
    text.push_str("\r\n");
}

/// Something the reader ignored, with its line.
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
    let (text, encoding) = decode(bytes)?;
    Parser {
        lines: text
            .split('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
            .peekable(),
        mode,
        limits,
        notes: Vec::new(),
        certificates: Vec::new(),
        blob_lines: Vec::new(),
        store_name: None,
    }
    .run(encoding)
}

fn encoding_error(line: usize, message: impl Into<String>) -> FormatError {
    RegError::Encoding {
        line,
        message: message.into(),
    }
    .into()
}

/// Decodes the file into text and says which dialect it is.
fn decode(bytes: &[u8]) -> Result<(String, RegEncoding), FormatError> {
    if let Some(body) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if body.len() % 2 != 0 {
            let line = 1 + body.chunks_exact(2).filter(|p| p == &[b'\n', 0]).count();
            return Err(encoding_error(
                line,
                "UTF-16LE text with an odd number of bytes",
            ));
        }
        let units = body
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]));
        let mut text = String::with_capacity(body.len() / 2);
        let mut line = 1;
        for r in char::decode_utf16(units) {
            match r {
                Ok(c) => {
                    if c == '\n' {
                        line += 1;
                    }
                    text.push(c);
                }
                Err(e) => {
                    return Err(encoding_error(
                        line,
                        format!("unpaired UTF-16 surrogate {:#06x}", e.unpaired_surrogate()),
                    ))
                }
            }
        }
        if !text.starts_with(REGEDIT5_HEADER) {
            return Err(encoding_error(
                1,
                format!("a UTF-16LE file must start with `{REGEDIT5_HEADER}`"),
            ));
        }
        return Ok((text, RegEncoding::Regedit5));
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(encoding_error(
            1,
            "UTF-16 big-endian (BOM FE FF); regedit writes UTF-16LE",
        ));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(body) {
        Ok(t) => t.to_owned(),
        // REGEDIT4 files are ANSI: read them as Latin-1.
        Err(_) => body.iter().map(|&b| b as char).collect(),
    };
    if text.starts_with(REGEDIT4_HEADER) {
        return Ok((text, RegEncoding::Regedit4));
    }
    if text.starts_with(REGEDIT5_HEADER) {
        return Err(encoding_error(
            1,
            "a REGEDIT5 header in a file that is not UTF-16LE with a byte-order mark (regedit writes REGEDIT5 as UTF-16LE)",
        ));
    }
    if bytes.len() >= 2 && bytes[1] == 0 {
        return Err(encoding_error(1, "UTF-16LE text without a byte-order mark"));
    }
    Err(encoding_error(
        1,
        "no `Windows Registry Editor Version 5.00` or `REGEDIT4` header",
    ))
}

/// Reads logical entries line by line; `I` yields (1-based line, text).
struct Parser<'t, 'l, I: Iterator<Item = (usize, &'t str)>> {
    lines: std::iter::Peekable<I>,
    mode: ReadMode,
    limits: &'l Limits,
    notes: Vec<RegNote>,
    certificates: Vec<RegistryCertificate<'static>>,
    blob_lines: Vec<usize>,
    store_name: Option<String>,
}

/// The key a section names, relative to the certificate stores.
enum KeyKind {
    /// `...\SystemCertificates\<store>` or below, not a certificate key.
    Store,
    /// `...\SystemCertificates\<store>\{Certificates,CRLs,CTLs}\<name>`.
    Entry {
        store: String,
        name: String,
    },
    Other,
}

fn classify_key(path: &str) -> KeyKind {
    let lower = path.to_ascii_lowercase();
    let prefix = SYSTEM_CERTIFICATES.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix(&prefix)
        .and_then(|r| r.strip_prefix('\\'))
    else {
        return KeyKind::Other;
    };
    let offset = path.len() - rest.len();
    let parts: Vec<&str> = path[offset..].split('\\').collect();
    match parts.as_slice() {
        [_] | [_, _] => KeyKind::Store,
        [store, container, name]
            if ["certificates", "crls", "ctls"]
                .contains(&container.to_ascii_lowercase().as_str()) =>
        {
            KeyKind::Entry {
                store: store.to_string(),
                name: name.to_string(),
            }
        }
        [_, ..] => KeyKind::Store,
        [] => KeyKind::Other,
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

impl<'t, I: Iterator<Item = (usize, &'t str)>> Parser<'t, '_, I> {
    fn check_len(&self, line: usize, text: &str) -> Result<(), FormatError> {
        if text.len() > self.limits.max_reg_line_len {
            return Err(syntax(
                line,
                self.limits.max_reg_line_len + 1,
                format!(
                    "line longer than the limit of {} characters",
                    self.limits.max_reg_line_len
                ),
            ));
        }
        Ok(())
    }

    fn run(mut self, encoding: RegEncoding) -> Result<ParsedReg, FormatError> {
        // Header (already checked by `decode`).
        self.lines.next();
        let mut key: Option<(usize, String)> = None;
        let mut blob_seen_for_key = false;
        while let Some((line, raw)) = self.lines.next() {
            self.check_len(line, raw)?;
            let text = raw.trim_start();
            if text.is_empty() || text.starts_with(';') {
                continue;
            }
            if let Some(rest) = text.strip_prefix('[') {
                let Some(path) = rest.trim_end().strip_suffix(']') else {
                    return Err(syntax(line, raw.len() + 1, "a key line must end with `]`"));
                };
                if path.starts_with('-') {
                    self.note(line, format!("key deletion `[{path}]` ignored"));
                    key = None;
                } else {
                    key = Some((line, path.to_owned()));
                    if let KeyKind::Other = classify_key(path) {
                        self.note(
                            line,
                            format!("key `{path}` is not under {SYSTEM_CERTIFICATES}: ignored"),
                        );
                    }
                }
                blob_seen_for_key = false;
                continue;
            }
            let indent = raw.len() - text.len();
            let (name, after_name) = parse_value_name(text).ok_or_else(|| {
                syntax(
                    line,
                    indent + 1,
                    "expected `[key]`, `\"name\"=value`, `@=value` or a `;` comment",
                )
            })?;
            let value = after_name.trim_start();
            let value_col = indent + (text.len() - value.len()) + 1;
            let binary = value
                .strip_prefix("hex:")
                .or_else(|| value.strip_prefix("hex(3):"))
                .map(|v| (v, value.len() - v.len()));
            let Some((key_line, path)) = key.clone() else {
                self.skip_continuations(line, value)?;
                self.note(line, "value outside any key ignored");
                continue;
            };
            let is_blob = name.eq_ignore_ascii_case("Blob");
            match (is_blob, binary) {
                (true, Some((hex, prefix_len))) => {
                    let bytes = self.read_hex(line, value_col + prefix_len, hex)?;
                    if blob_seen_for_key {
                        return Err(syntax(
                            line,
                            indent + 1,
                            "a second `Blob` value under the same key",
                        ));
                    }
                    blob_seen_for_key = true;
                    self.certificate(line, key_line, &path, bytes)?;
                }
                _ => {
                    self.skip_continuations(line, value)?;
                    self.note(line, format!("value `{name}` under `{path}` ignored"));
                }
            }
        }
        Ok(ParsedReg {
            store: RegistryStore {
                name: self.store_name.unwrap_or_else(|| "SMS".to_owned()),
                certificates: self.certificates,
            },
            encoding,
            notes: self.notes,
            blob_lines: self.blob_lines,
        })
    }

    fn note(&mut self, line: usize, message: impl Into<String>) {
        self.notes.push(RegNote {
            line,
            message: message.into(),
        });
    }

    /// Consumes the continuation lines of a value that is being ignored.
    fn skip_continuations(
        &mut self,
        mut line: usize,
        mut text: &'t str,
    ) -> Result<(), FormatError> {
        while text.trim_end().ends_with('\\') {
            match self.lines.peek() {
                Some(&(l, next))
                    if !next.trim().is_empty() && !next.trim_start().starts_with('[') =>
                {
                    self.check_len(l, next)?;
                    self.lines.next();
                    line = l;
                    text = next;
                }
                _ => return Err(RegError::DanglingContinuation { line }.into()),
            }
        }
        Ok(())
    }

    /// Reads comma-separated hex bytes, following `\` continuations.
    /// `column` is the 1-based column where `hex` starts on `line`.
    fn read_hex(
        &mut self,
        mut line: usize,
        mut column: usize,
        mut hex: &'t str,
    ) -> Result<Vec<u8>, FormatError> {
        let mut out = Vec::with_capacity(hex.len() / 3 + 1);
        loop {
            let trimmed = hex.trim_end();
            let (body, continues) = match trimmed.strip_suffix('\\') {
                Some(b) => (b, true),
                None => (trimmed, false),
            };
            parse_hex_bytes(body, line, column, &mut out)?;
            if !continues {
                return Ok(out);
            }
            match self.lines.peek() {
                Some(&(l, next))
                    if !next.trim().is_empty() && !next.trim_start().starts_with('[') =>
                {
                    self.check_len(l, next)?;
                    self.lines.next();
                    let stripped = next.trim_start();
                    column = next.len() - stripped.len() + 1;
                    line = l;
                    hex = stripped;
                }
                _ => return Err(RegError::DanglingContinuation { line }.into()),
            }
        }
    }

    fn certificate(
        &mut self,
        line: usize,
        key_line: usize,
        path: &str,
        bytes: Vec<u8>,
    ) -> Result<(), FormatError> {
        let (store, name) = match classify_key(path) {
            KeyKind::Entry { store, name } => (store, name),
            _ => {
                return Err(RegError::NotAThumbprintKey {
                    line,
                    key: path.to_owned(),
                }
                .into())
            }
        };
        let element = SerializedElement::parse(&bytes, 0, self.mode)
            .map_err(|source| RegError::Blob {
                line,
                source: Box::new(source),
            })?
            .into_owned();
        let thumbprint = match check_key(&name, &element) {
            Ok(t) => t,
            Err(KeyMismatch::NotAThumbprint) => {
                return Err(RegError::NotAThumbprintKey {
                    line,
                    key: path.to_owned(),
                }
                .into())
            }
            Err(KeyMismatch::Mismatch { computed }) => {
                return Err(RegError::ThumbprintMismatch {
                    line: key_line,
                    key: name,
                    computed,
                }
                .into())
            }
        };
        if self.store_name.is_none() {
            self.store_name = Some(store);
        }
        self.certificates.push(RegistryCertificate {
            thumbprint,
            element,
        });
        self.blob_lines.push(line);
        Ok(())
    }
}

/// Splits `"name"=rest` or `@=rest`; returns the unescaped name and `rest`.
fn parse_value_name(text: &str) -> Option<(String, &str)> {
    if let Some(rest) = text.strip_prefix('@') {
        return rest
            .trim_start()
            .strip_prefix('=')
            .map(|r| (String::new(), r));
    }
    let rest = text.strip_prefix('"')?;
    let mut name = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, e) = chars.next()?;
                name.push(e);
            }
            '"' => {
                let after = rest[i + 1..].trim_start();
                return after.strip_prefix('=').map(|r| (name, r));
            }
            c => name.push(c),
        }
    }
    None
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses `0b,00,4d` (spaces around tokens allowed, a trailing comma
/// allowed) into `out`. Errors carry the 1-based column on `line`.
fn parse_hex_bytes(
    body: &str,
    line: usize,
    column: usize,
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    let b = body.as_bytes();
    let mut i = 0;
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
            return Err(syntax(
                line,
                column + start + bad,
                format!("`{}` is not a hex digit", token[bad] as char),
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
        out.push(hex_digit(token[0]).unwrap_or(0) << 4 | hex_digit(token[1]).unwrap_or(0));
        if at_comma {
            i += 1;
        } else if i < b.len() {
            return Err(syntax(line, column + i, "expected `,` between bytes"));
        }
    }
    Ok(())
}

/// Byte offset of the start of 1-based `line` in a REGEDIT5 (UTF-16LE with
/// BOM) or REGEDIT4 (single-byte) file.
pub fn line_start_offset(bytes: &[u8], line: usize) -> Option<usize> {
    if line <= 1 {
        return Some(0);
    }
    let utf16 = bytes.starts_with(b"\xff\xfe");
    let mut seen = 1;
    if utf16 {
        let mut i = 2;
        while i + 1 < bytes.len() {
            if bytes[i] == b'\n' && bytes[i + 1] == 0 {
                seen += 1;
                if seen == line {
                    return Some(i + 2);
                }
            }
            i += 2;
        }
    } else {
        for pos in memchr::memchr_iter(b'\n', bytes) {
            seen += 1;
            if seen == line {
                return Some(pos + 1);
            }
        }
    }
    None
}
