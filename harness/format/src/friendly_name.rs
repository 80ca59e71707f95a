//! Friendly-name text (docs/FORMATS.md section 6): UTF-16LE code units, normally
//! ending in exactly one U+0000. This module classifies a value into its
//! shape, decides whether it has an *embedded NUL* (what MS09-056 rejects),
//! renders it for people, and builds the defective values the generator needs.

use std::fmt;

use super::error::FormatError;

/// The shapes a friendly-name value can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FriendlyNameShape {
    /// Text then exactly one U+0000 (or a lone U+0000: an empty name).
    Clean,
    /// Text with no U+0000 at all (tolerated); also the empty value.
    NoTerminator,
    /// Text then two U+0000: what an unhotfixed ConfigMgr 2007 client writes.
    DoubledTerminator,
    /// A U+0000 before the last code unit other than a doubled terminator.
    EmbeddedNul,
    /// Two or more code units, all U+0000.
    OnlyNuls,
    /// An odd number of bytes: not UTF-16 text at all.
    OddLength,
}

impl FriendlyNameShape {
    pub const ALL: [FriendlyNameShape; 6] = [
        FriendlyNameShape::Clean,
        FriendlyNameShape::NoTerminator,
        FriendlyNameShape::DoubledTerminator,
        FriendlyNameShape::EmbeddedNul,
        FriendlyNameShape::OnlyNuls,
        FriendlyNameShape::OddLength,
    ];

    /// True for the shapes MS09-056 refuses to import.
    pub fn has_embedded_nul(self) -> bool {
        matches!(
            self,
            FriendlyNameShape::DoubledTerminator
                | FriendlyNameShape::EmbeddedNul
                | FriendlyNameShape::OnlyNuls
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FriendlyNameShape::Clean => "clean",
            FriendlyNameShape::NoTerminator => "no-terminator",
            FriendlyNameShape::DoubledTerminator => "doubled-terminator",
            FriendlyNameShape::EmbeddedNul => "embedded-nul",
            FriendlyNameShape::OnlyNuls => "only-nuls",
            FriendlyNameShape::OddLength => "odd-length",
        }
    }
}

impl fmt::Display for FriendlyNameShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Iterates the UTF-16LE code units of `value` (ignoring an odd last byte).
pub fn code_units(value: &[u8]) -> impl Iterator<Item = u16> + '_ {
    value
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
}

/// Classifies a friendly-name value.
pub fn classify(value: &[u8]) -> FriendlyNameShape {
    if value.len() % 2 != 0 {
        return FriendlyNameShape::OddLength;
    }
    let units = value.len() / 2;
    let first_nul = first_nul_unit(value);
    match first_nul {
        None => FriendlyNameShape::NoTerminator,
        Some(i) if i == units - 1 => FriendlyNameShape::Clean,
        Some(0) if code_units(value).all(|u| u == 0) => FriendlyNameShape::OnlyNuls,
        Some(i) if i == units - 2 && value[value.len() - 2..] == [0, 0] => {
            FriendlyNameShape::DoubledTerminator
        }
        Some(_) => FriendlyNameShape::EmbeddedNul,
    }
}

/// Index of the first U+0000 code unit, if any.
pub fn first_nul_unit(value: &[u8]) -> Option<usize> {
    // A NUL code unit is an aligned zero pair. Names are short: a plain
    // scan of the pairs beats setting up memchr for them.
    if value.len() <= 512 {
        return value.chunks_exact(2).position(|p| p == [0, 0]);
    }
    // memchr finds candidate zero bytes fast.
    let mut from = 0;
    while let Some(rel) = memchr::memchr(0, &value[from..]) {
        let pos = from + rel;
        let aligned = pos & !1;
        if aligned + 1 < value.len() && value[aligned] == 0 && value[aligned + 1] == 0 {
            return Some(aligned / 2);
        }
        from = pos + 1;
    }
    None
}

/// True when MS09-056 would reject this value: a U+0000 before the last unit.
pub fn has_embedded_nul(value: &[u8]) -> bool {
    classify(value).has_embedded_nul()
}

/// Checks that a value is even-length UTF-16 with no unpaired surrogate.
/// `offset` is the absolute offset of the value; errors point at the unit.
pub fn validate(value: &[u8], offset: usize) -> Result<(), FormatError> {
    if value.len() % 2 != 0 {
        return Err(FormatError::FriendlyNameOddLength {
            offset,
            len: value.len(),
        });
    }
    let mut pending_high: Option<(usize, u16)> = None;
    for (i, u) in code_units(value).enumerate() {
        let here = offset + 2 * i;
        match u {
            0xD800..=0xDBFF => {
                if let Some((at, unit)) = pending_high {
                    return Err(FormatError::UnpairedSurrogate { offset: at, unit });
                }
                pending_high = Some((here, u));
            }
            0xDC00..=0xDFFF => {
                if pending_high.take().is_none() {
                    return Err(FormatError::UnpairedSurrogate {
                        offset: here,
                        unit: u,
                    });
                }
            }
            _ => {
                if let Some((at, unit)) = pending_high {
                    return Err(FormatError::UnpairedSurrogate { offset: at, unit });
                }
            }
        }
    }
    if let Some((at, unit)) = pending_high {
        return Err(FormatError::UnpairedSurrogate { offset: at, unit });
    }
    Ok(())
}

/// Renders a value for people: every U+0000 as `\0`, a backslash as `\\`,
/// other control characters and unpaired surrogates as `\u{XXXX}`, an odd
/// trailing byte as `\xNN`.
pub fn escape(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len() / 2 + 4);
    for r in char::decode_utf16(code_units(value)) {
        match r {
            Ok('\0') => out.push_str("\\0"),
            Ok('\\') => out.push_str("\\\\"),
            Ok(c) if c.is_control() => out.push_str(&format!("\\u{{{:04X}}}", c as u32)),
            Ok(c) => out.push(c),
            Err(e) => out.push_str(&format!("\\u{{{:04X}}}", e.unpaired_surrogate())),
        }
    }
    if value.len() % 2 == 1 {
        out.push_str(&format!("\\x{:02X}", value[value.len() - 1]));
    }
    out
}

/// The text Windows displayed before MS09-056: everything before the first
/// U+0000 (lossy for unpaired surrogates).
pub fn displayed(value: &[u8]) -> String {
    let end = first_nul_unit(value)
        .map(|i| 2 * i)
        .unwrap_or(value.len() & !1);
    String::from_utf16_lossy(&code_units(&value[..end]).collect::<Vec<_>>())
}

/// The longest prefix of `units` (UTF-16LE) that is printable ASCII other
/// than `\\`, narrowed to bytes in `buf`: how many units it is.
fn plain_ascii_prefix(units: &[u8], buf: &mut [u8; 64]) -> usize {
    let mut n = 0;
    for (p, b) in units.chunks_exact(2).zip(buf.iter_mut()) {
        if p[1] != 0 || !(0x20..0x7F).contains(&p[0]) || p[0] == b'\\' {
            break;
        }
        *b = p[0];
        n += 1;
    }
    n
}

/// Writes whole UTF-16LE code units (an odd last byte ignored) to `w`:
/// runs of printable ASCII other than `\` as they are, a run at a time,
/// and every other character (or unpaired surrogate) through `other`.
fn write_units<W: fmt::Write + ?Sized>(
    units: &[u8],
    w: &mut W,
    mut other: impl FnMut(Result<char, std::char::DecodeUtf16Error>, &mut W) -> fmt::Result,
) -> fmt::Result {
    let mut buf = [0u8; 64];
    let mut rest = &units[..units.len() & !1];
    while !rest.is_empty() {
        let n = plain_ascii_prefix(rest, &mut buf);
        if n > 0 {
            // Printable ASCII is UTF-8.
            w.write_str(std::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?)?;
            rest = &rest[2 * n..];
            continue;
        }
        let Some(r) = char::decode_utf16(code_units(rest)).next() else {
            break;
        };
        let used = r.as_ref().map_or(1, |c| c.len_utf16());
        other(r, w)?;
        rest = &rest[2 * used..];
    }
    Ok(())
}

/// [`escape`], written to `w` without building a `String`.
pub fn escape_to<W: fmt::Write + ?Sized>(value: &[u8], w: &mut W) -> fmt::Result {
    write_units(value, w, |r, w| match r {
        Ok('\0') => w.write_str("\\0"),
        Ok('\\') => w.write_str("\\\\"),
        Ok(c) if c.is_control() => write!(w, "\\u{{{:04X}}}", c as u32),
        Ok(c) => w.write_char(c),
        Err(e) => write!(w, "\\u{{{:04X}}}", e.unpaired_surrogate()),
    })?;
    if value.len() % 2 == 1 {
        write!(w, "\\x{:02X}", value[value.len() - 1])?;
    }
    Ok(())
}

/// [`displayed`], written to `w` without building a `String`.
pub fn displayed_to<W: fmt::Write + ?Sized>(value: &[u8], w: &mut W) -> fmt::Result {
    let end = first_nul_unit(value)
        .map(|i| 2 * i)
        .unwrap_or(value.len() & !1);
    decode_to(&value[..end], w)
}

/// UTF-16LE `units` decoded as `String::from_utf16_lossy` decodes them (an
/// odd last byte ignored), written to `w`.
pub fn decode_to<W: fmt::Write + ?Sized>(units: &[u8], w: &mut W) -> fmt::Result {
    write_units(units, w, |r, w| {
        w.write_char(r.unwrap_or(char::REPLACEMENT_CHARACTER))
    })
}

/// Encodes `text` as UTF-16LE with no terminator.
pub fn encode_utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

crate::vocabulary! {
    "defect";
    /// The defects the generator can put into a friendly name.
    #[strum(serialize_all = "kebab-case")]
    pub enum Defect {
        /// One terminator: "SMS Signing Certificate\0".
        Clean,
        /// What an unhotfixed ConfigMgr 2007 SP1/SP2 client makes: "...\0\0".
        DoubledTerminator,
        /// A NUL inside the text: "SMS\0Signing Certificate\0".
        EmbeddedNul,
        /// Nothing but NULs: "\0\0".
        OnlyNuls,
    }
}

impl Defect {
    pub const ALL: [Defect; 4] = [
        Defect::Clean,
        Defect::DoubledTerminator,
        Defect::EmbeddedNul,
        Defect::OnlyNuls,
    ];

    /// Builds the friendly-name value for `text` with this defect.
    pub fn apply(self, text: &str) -> Vec<u8> {
        let mut v = match self {
            Defect::OnlyNuls => Vec::new(),
            Defect::EmbeddedNul => {
                // "SMS\0Signing Certificate\0": a NUL in place of the first space.
                let mut s = encode_utf16(text);
                if let Some(i) = text.find(' ') {
                    let unit = text[..i].encode_utf16().count();
                    s[2 * unit] = 0;
                    s[2 * unit + 1] = 0;
                } else {
                    let mut t = encode_utf16(text);
                    t.extend_from_slice(&[0, 0]);
                    t.extend_from_slice(&s);
                    s = t;
                }
                s
            }
            _ => encode_utf16(text),
        };
        v.extend_from_slice(&[0, 0]);
        if matches!(self, Defect::DoubledTerminator | Defect::OnlyNuls) {
            v.extend_from_slice(&[0, 0]);
        }
        v
    }

    /// The shape [`Defect::apply`] produces.
    pub fn shape(self) -> FriendlyNameShape {
        match self {
            Defect::Clean => FriendlyNameShape::Clean,
            Defect::DoubledTerminator => FriendlyNameShape::DoubledTerminator,
            Defect::EmbeddedNul => FriendlyNameShape::EmbeddedNul,
            Defect::OnlyNuls => FriendlyNameShape::OnlyNuls,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(us: &[u16]) -> Vec<u8> {
        us.iter().flat_map(|u| u.to_le_bytes()).collect()
    }

    #[test]
    fn every_shape_of_the_table() {
        let text = "SMS Signing Certificate";
        assert_eq!(
            classify(&Defect::Clean.apply(text)),
            FriendlyNameShape::Clean
        );
        assert_eq!(
            classify(&encode_utf16(text)),
            FriendlyNameShape::NoTerminator
        );
        assert_eq!(
            classify(&Defect::DoubledTerminator.apply(text)),
            FriendlyNameShape::DoubledTerminator
        );
        assert_eq!(
            classify(&Defect::EmbeddedNul.apply(text)),
            FriendlyNameShape::EmbeddedNul
        );
        assert_eq!(
            classify(&Defect::OnlyNuls.apply(text)),
            FriendlyNameShape::OnlyNuls
        );
        assert_eq!(classify(&[0x41, 0, 0]), FriendlyNameShape::OddLength);
        assert_eq!(classify(&[0, 0]), FriendlyNameShape::Clean);
        assert_eq!(classify(&[]), FriendlyNameShape::NoTerminator);
        assert_eq!(
            classify(&units(&[0x41, 0, 0, 0])),
            FriendlyNameShape::EmbeddedNul
        );
    }

    #[test]
    fn doubled_terminator_is_fifty_bytes_and_displays_normally() {
        let v = Defect::DoubledTerminator.apply("SMS Signing Certificate");
        assert_eq!(v.len(), 50);
        assert_eq!(displayed(&v), "SMS Signing Certificate");
        assert_eq!(escape(&v), "SMS Signing Certificate\\0\\0");
    }

    #[test]
    fn nul_detection_is_aligned_to_code_units() {
        // U+0100 is bytes 00 01: a zero byte that is not a NUL unit.
        let v = units(&[0x0100, 0x4100, 0]);
        assert_eq!(first_nul_unit(&v), Some(2));
        assert_eq!(classify(&v), FriendlyNameShape::Clean);
        let v = units(&[0x0041, 0x0100, 0x0000]);
        assert_eq!(first_nul_unit(&v), Some(2));
    }

    #[test]
    fn surrogates_are_checked() {
        assert!(validate(&units(&[0xD83D, 0xDE00, 0]), 0).is_ok());
        assert_eq!(
            validate(&units(&[0x41, 0xD83D, 0]), 10),
            Err(FormatError::UnpairedSurrogate {
                offset: 12,
                unit: 0xD83D
            })
        );
        assert_eq!(
            validate(&units(&[0xDE00]), 0),
            Err(FormatError::UnpairedSurrogate {
                offset: 0,
                unit: 0xDE00
            })
        );
        assert_eq!(escape(&units(&[0xDE00, 0])), "\\u{DE00}\\0");
    }
}
