//! Telling the formats apart by content, never by file extension.

use super::store::STORE_HEADER;

crate::vocabulary! {
    "format";
    /// The one file-format type: what `scan`, `fix`, `gen` and `validate`
    /// read and write. [`detect`] tells the first three apart by content; a
    /// directory is [`FileFormat::BlobDir`].
    #[strum(serialize_all = "lowercase")]
    pub enum FileFormat {
        /// A serialized store file (`CertSaveStore`), including the empty file.
        Sst,
        /// A `reg export` text file (REGEDIT5 or REGEDIT4).
        Reg,
        /// One serialized element in a file: a registry `Blob` value saved as
        /// `<THUMBPRINT>.blob`.
        Blob,
        /// A directory of `<THUMBPRINT>.blob` files: a registry store's
        /// certificates, one `Blob` value each.
        #[strum(serialize = "blob-dir")]
        BlobDir,
    }
}

const REGEDIT5_UTF16: &[u8] = b"\xff\xfeW\0i\0n\0d\0o\0w\0s\0";

/// Decides the format from the first bytes.
///
/// - empty, or starting with the store header (or a prefix of it, so a
///   truncated store is reported as a truncated store) -> `Sst`;
/// - a UTF-16LE BOM, `REGEDIT4`, `Windows Registry Editor` (with or without a
///   UTF-8 BOM) -> `Reg`;
/// - anything else -> `Blob` (the element reader then says what is wrong,
///   e.g. that a PKCS#7 or DER file is not a store).
pub fn detect(bytes: &[u8]) -> FileFormat {
    let head = &bytes[..bytes.len().min(STORE_HEADER.len())];
    if bytes.is_empty() || (head.len() >= 4 && STORE_HEADER.starts_with(head)) {
        return FileFormat::Sst;
    }
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.starts_with(&REGEDIT5_UTF16[..2])
        || text.starts_with(b"REGEDIT4")
        || text.starts_with(b"Windows Registry Editor")
        || looks_like_utf16_export(bytes)
    {
        return FileFormat::Reg;
    }
    FileFormat::Blob
}

/// A registry export in an encoding regedit does not write: UTF-16
/// big-endian (with its byte-order mark or without), or UTF-16 of either
/// order without a byte-order mark. Detected as `Reg` so the reader refuses
/// it with an error that says which encoding it is, instead of reading it
/// as a `.blob` with a meaningless property id.
fn looks_like_utf16_export(bytes: &[u8]) -> bool {
    let body = bytes.strip_prefix(b"\xfe\xff").unwrap_or(bytes);
    ["Windows Registry Editor", "REGEDIT4"].iter().any(|h| {
        let le = h.bytes().flat_map(|b| [b, 0]);
        let be = h.bytes().flat_map(|b| [0, b]);
        let take = body.len().min(2 * h.len());
        take >= 8
            && (le.take(take).eq(body[..take].iter().copied())
                || be.take(take).eq(body[..take].iter().copied()))
    }) || bytes.starts_with(b"\xfe\xff")
}

/// Parses a file that should be a single serialized element (a `.blob`).
/// When it is not one but looks like a PKCS#7, DER certificate or PEM file,
/// the error says so instead of reporting the first bad entry header.
pub fn parse_element_file(
    bytes: &[u8],
    mode: super::ReadMode,
) -> Result<super::SerializedElement<'_>, super::FormatError> {
    super::SerializedElement::parse(bytes, 0, mode).map_err(|e| {
        match super::store::detect_not_a_store(bytes) {
            super::NotAStore::Unknown => e,
            detected => super::FormatError::NotAStore {
                offset: 0,
                detected,
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content() {
        assert_eq!(detect(b""), FileFormat::Sst);
        assert_eq!(detect(b"\0\0\0\0CERT\0\0\0\0"), FileFormat::Sst);
        assert_eq!(detect(b"\0\0\0\0CE"), FileFormat::Sst);
        assert_eq!(detect(REGEDIT5_UTF16), FileFormat::Reg);
        assert_eq!(detect(b"REGEDIT4\r\n"), FileFormat::Reg);
        assert_eq!(detect(b"\x0b\0\0\0\x01\0\0\0"), FileFormat::Blob);
        assert_eq!(detect(b"\x30\x82\x03\x1f"), FileFormat::Blob);
    }
}
