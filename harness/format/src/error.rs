//! Typed errors of the byte and text formats.
//!
//! Every variant carries where the problem is: an absolute byte offset for the
//! binary formats, a line and column for `.reg` text. The crates that read
//! files add the path.

use std::fmt;

/// The field a binary reader was reading when it ran out of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    StoreHeader,
    PropertyId,
    PropertyReserved,
    PropertyLength,
    PropertyValue,
    EndMarker,
    KeyProvInfoHeader,
    KeyProvInfoString,
    KeyProvInfoParam,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::StoreHeader => "store header",
            Field::PropertyId => "property id",
            Field::PropertyReserved => "property encoding type",
            Field::PropertyLength => "property length",
            Field::PropertyValue => "property value",
            Field::EndMarker => "end marker",
            Field::KeyProvInfoHeader => "key provider info header",
            Field::KeyProvInfoString => "key provider info string",
            Field::KeyProvInfoParam => "key provider info parameter",
        })
    }
}

/// What a file that is not a serialized store looks like instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAStore {
    /// A DER SEQUENCE holding the PKCS#7 signedData OID: a `.p7b`.
    Pkcs7,
    /// A DER SEQUENCE that is not PKCS#7: most likely a bare `.cer`.
    DerCertificate,
    /// PEM text (`-----BEGIN`).
    Pem,
    /// Other text (a CMTrace log, notes, a script): no store of any format
    /// starts with four printable characters.
    Text,
    /// Anything else.
    Unknown,
}

impl fmt::Display for NotAStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotAStore::Pkcs7 => "it looks like a PKCS#7 (.p7b) file, not a serialized store",
            NotAStore::DerCertificate => {
                "it looks like a bare DER certificate (.cer), not a serialized store"
            }
            NotAStore::Pem => "it looks like PEM text, not a serialized store",
            NotAStore::Text => "it is text (a log? notes?), not a certificate store of any format",
            NotAStore::Unknown => "unknown content",
        })
    }
}

/// A problem in a `.reg` file, always with 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegError {
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "line {line}: the file is not REGEDIT5 (UTF-16LE with BOM) or REGEDIT4 text: {message}"
    )]
    Encoding { line: usize, message: String },
    #[error("line {line}, column {column}: odd number of hex digits in `{token}`")]
    OddHexDigits {
        line: usize,
        column: usize,
        token: String,
    },
    #[error("line {line}: the value ends with `\\` but no continuation line follows")]
    DanglingContinuation { line: usize },
    #[error(
        "line {line}: a `Blob` value under key `{key}`, which is not a 40-digit hex thumbprint"
    )]
    NotAThumbprintKey { line: usize, key: String },
    #[error("line {line}: key {key} does not match the certificate's SHA-1 {computed}")]
    ThumbprintMismatch {
        line: usize,
        key: String,
        computed: String,
    },
    #[error("line {line}: the Blob value is malformed: {source}")]
    Blob {
        line: usize,
        #[source]
        source: Box<FormatError>,
    },
}

impl RegError {
    /// The 1-based line the error points at.
    pub fn line(&self) -> usize {
        match self {
            RegError::Syntax { line, .. }
            | RegError::Encoding { line, .. }
            | RegError::OddHexDigits { line, .. }
            | RegError::DanglingContinuation { line }
            | RegError::NotAThumbprintKey { line, .. }
            | RegError::ThumbprintMismatch { line, .. }
            | RegError::Blob { line, .. } => *line,
        }
    }
}

/// Every way a certificate store can be malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("offset {offset}: truncated {field}: {needed} bytes needed, {available} left")]
    Truncated {
        field: Field,
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("offset {offset}: property {prop_id} has length {len} ({len:#x}) but only {available} bytes remain")]
    LengthPastEnd {
        offset: usize,
        prop_id: u32,
        len: u32,
        available: usize,
    },
    #[error("offset {offset}: property {prop_id} has encoding type {reserved:#x}; it must be 1 (X509_ASN_ENCODING)")]
    BadReserved {
        offset: usize,
        prop_id: u32,
        reserved: u32,
    },
    #[error("offset {offset}: property id {prop_id:#x} is out of range (1..=0xFFFF)")]
    BadPropertyId { offset: usize, prop_id: u32 },
    #[error("offset {offset}: malformed end marker (id 0 with encoding type {reserved:#x} and length {len})")]
    BadEndMarker {
        offset: usize,
        reserved: u32,
        len: u32,
    },
    #[error("offset {offset}: an end marker inside a single serialized element")]
    EndMarkerInElement { offset: usize },
    #[error("offset {offset}: not a serialized certificate store: {detected}")]
    NotAStore { offset: usize, detected: NotAStore },
    #[error("offset {offset}: the store has no end marker (12 zero bytes)")]
    MissingEndMarker { offset: usize },
    #[error("offset {offset}: {len} bytes of data after the end marker")]
    TrailingData { offset: usize, len: usize },
    #[error("offset {offset}: properties with no certificate, CRL or CTL entry after them")]
    MissingContext { offset: usize },
    #[error("offset {offset}: properties follow the certificate (the order Wine's reader expects); read leniently to accept it")]
    PropertiesAfterContext { offset: usize },
    #[error(
        "offset {offset}: the friendly name has an odd byte length ({len}); it is not UTF-16 text"
    )]
    FriendlyNameOddLength { offset: usize, len: usize },
    #[error("offset {offset}: the friendly name has an unpaired UTF-16 surrogate {unit:#06x}")]
    UnpairedSurrogate { offset: usize, unit: u16 },
    #[error("offset {offset}: key provider info: {message}")]
    KeyProvInfo { offset: usize, message: String },
    #[error("offset {offset}: the SHA-1 property {stored} does not match the certificate's SHA-1 {computed}")]
    Sha1Mismatch {
        offset: usize,
        stored: String,
        computed: String,
    },
    #[error("offset {offset}: the file is named for thumbprint {name} but the certificate's SHA-1 is {computed}")]
    FileNameMismatch {
        offset: usize,
        name: String,
        computed: String,
    },
    #[error("offset {offset}: {what} exceeds the limit of {limit}")]
    LimitExceeded {
        offset: usize,
        what: &'static str,
        limit: usize,
    },
    #[error("{0}")]
    Reg(#[from] RegError),
}

impl FormatError {
    /// Where the error is: `Offset(n)` for binary formats, `Line(l)` for text.
    pub fn location(&self) -> Location {
        match self {
            FormatError::Truncated { offset, .. }
            | FormatError::LengthPastEnd { offset, .. }
            | FormatError::BadReserved { offset, .. }
            | FormatError::BadPropertyId { offset, .. }
            | FormatError::BadEndMarker { offset, .. }
            | FormatError::EndMarkerInElement { offset }
            | FormatError::NotAStore { offset, .. }
            | FormatError::MissingEndMarker { offset }
            | FormatError::TrailingData { offset, .. }
            | FormatError::MissingContext { offset }
            | FormatError::PropertiesAfterContext { offset }
            | FormatError::FriendlyNameOddLength { offset, .. }
            | FormatError::UnpairedSurrogate { offset, .. }
            | FormatError::KeyProvInfo { offset, .. }
            | FormatError::Sha1Mismatch { offset, .. }
            | FormatError::FileNameMismatch { offset, .. }
            | FormatError::LimitExceeded { offset, .. } => Location::Offset(*offset),
            FormatError::Reg(e) => Location::Line(e.line()),
        }
    }

    /// The absolute byte offset, for binary formats.
    pub fn offset(&self) -> Option<usize> {
        match self.location() {
            Location::Offset(o) => Some(o),
            Location::Line(_) => None,
        }
    }
}

/// Where in a file an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    Offset(usize),
    Line(usize),
}
