//! Property entries (docs/FORMATS.md section 1): the 12-byte header and value that
//! every serialized element, store and registry `Blob` is made of.

use std::borrow::Cow;

use super::cursor::Cursor;
use super::error::{Field, FormatError};

/// Size of a property entry header: id, encoding type, length.
pub const ENTRY_HEADER_LEN: usize = 12;
/// The only valid `reserved` (encoding type) value: `X509_ASN_ENCODING`.
pub const X509_ASN_ENCODING: u32 = 1;
/// Property ids are at most this ([MS-OSHARED]).
pub const MAX_PROPERTY_ID: u32 = 0xFFFF;

/// Property ids the harness knows by name; anything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PropertyId {
    KeyProvInfo,
    Sha1Hash,
    Md5Hash,
    EnhKeyUsage,
    FriendlyName,
    Description,
    SignatureHash,
    Archived,
    KeyIdentifier,
    SubjectPublicKeyMd5Hash,
    SubjectNameMd5Hash,
    /// Context entries: the certificate, CRL or CTL itself.
    Certificate,
    Crl,
    Ctl,
    Other(u32),
}

impl PropertyId {
    pub const fn from_u32(id: u32) -> Self {
        match id {
            2 => PropertyId::KeyProvInfo,
            3 => PropertyId::Sha1Hash,
            4 => PropertyId::Md5Hash,
            9 => PropertyId::EnhKeyUsage,
            11 => PropertyId::FriendlyName,
            13 => PropertyId::Description,
            15 => PropertyId::SignatureHash,
            19 => PropertyId::Archived,
            20 => PropertyId::KeyIdentifier,
            25 => PropertyId::SubjectPublicKeyMd5Hash,
            29 => PropertyId::SubjectNameMd5Hash,
            32 => PropertyId::Certificate,
            33 => PropertyId::Crl,
            34 => PropertyId::Ctl,
            other => PropertyId::Other(other),
        }
    }

    pub const fn to_u32(self) -> u32 {
        match self {
            PropertyId::KeyProvInfo => 2,
            PropertyId::Sha1Hash => 3,
            PropertyId::Md5Hash => 4,
            PropertyId::EnhKeyUsage => 9,
            PropertyId::FriendlyName => 11,
            PropertyId::Description => 13,
            PropertyId::SignatureHash => 15,
            PropertyId::Archived => 19,
            PropertyId::KeyIdentifier => 20,
            PropertyId::SubjectPublicKeyMd5Hash => 25,
            PropertyId::SubjectNameMd5Hash => 29,
            PropertyId::Certificate => 32,
            PropertyId::Crl => 33,
            PropertyId::Ctl => 34,
            PropertyId::Other(id) => id,
        }
    }

    /// The Windows SDK name, e.g. `CERT_FRIENDLY_NAME_PROP_ID`.
    pub const fn sdk_name(self) -> &'static str {
        match self {
            PropertyId::KeyProvInfo => "CERT_KEY_PROV_INFO_PROP_ID",
            PropertyId::Sha1Hash => "CERT_SHA1_HASH_PROP_ID",
            PropertyId::Md5Hash => "CERT_MD5_HASH_PROP_ID",
            PropertyId::EnhKeyUsage => "CERT_ENHKEY_USAGE_PROP_ID",
            PropertyId::FriendlyName => "CERT_FRIENDLY_NAME_PROP_ID",
            PropertyId::Description => "CERT_DESCRIPTION_PROP_ID",
            PropertyId::SignatureHash => "CERT_SIGNATURE_HASH_PROP_ID",
            PropertyId::Archived => "CERT_ARCHIVED_PROP_ID",
            PropertyId::KeyIdentifier => "CERT_KEY_IDENTIFIER_PROP_ID",
            PropertyId::SubjectPublicKeyMd5Hash => "CERT_SUBJECT_PUBLIC_KEY_MD5_HASH_PROP_ID",
            PropertyId::SubjectNameMd5Hash => "CERT_SUBJECT_NAME_MD5_HASH_PROP_ID",
            PropertyId::Certificate => "CERT_CERT_PROP_ID",
            PropertyId::Crl => "CERT_CRL_PROP_ID",
            PropertyId::Ctl => "CERT_CTL_PROP_ID",
            PropertyId::Other(_) => "unknown property",
        }
    }

    /// True for the entries that hold the element's context (cert, CRL, CTL).
    pub const fn is_context(self) -> bool {
        matches!(
            self,
            PropertyId::Certificate | PropertyId::Crl | PropertyId::Ctl
        )
    }
}

/// One property of an element: id and raw value, borrowed from the input
/// when parsed, owned when built.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Property<'a> {
    pub id: PropertyId,
    pub value: Cow<'a, [u8]>,
}

impl<'a> Property<'a> {
    pub fn new(id: PropertyId, value: impl Into<Cow<'a, [u8]>>) -> Self {
        Property {
            id,
            value: value.into(),
        }
    }

    /// Bytes this property takes when written.
    pub fn encoded_len(&self) -> usize {
        ENTRY_HEADER_LEN + self.value.len()
    }

    /// Appends the 12-byte header and value.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        write_entry(out, self.id.to_u32(), &self.value);
    }

    pub fn into_owned(self) -> Property<'static> {
        Property {
            id: self.id,
            value: Cow::Owned(self.value.into_owned()),
        }
    }
}

/// Appends one entry: id, encoding type 1, length, value.
pub fn write_entry(out: &mut Vec<u8>, id: u32, value: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&X509_ASN_ENCODING.to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
}

/// A validated 12-byte entry header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryHeader {
    /// The 12 zero bytes that end a store.
    EndMarker,
    Entry {
        id: u32,
        len: u32,
    },
}

/// Validates a 12-byte entry header found at absolute `offset`.
///
/// `available` is how many bytes follow the header; a length past it is an
/// error here, before anything is allocated or sliced.
pub fn check_header(
    header: &[u8],
    offset: usize,
    available: usize,
) -> Result<EntryHeader, FormatError> {
    let mut c = Cursor::at(header, offset);
    let id = c.u32_le(Field::PropertyId)?;
    let reserved = c.u32_le(Field::PropertyReserved)?;
    let len = c.u32_le(Field::PropertyLength)?;
    if id == 0 {
        if reserved != 0 || len != 0 {
            return Err(FormatError::BadEndMarker {
                offset,
                reserved,
                len,
            });
        }
        return Ok(EntryHeader::EndMarker);
    }
    if id > MAX_PROPERTY_ID {
        return Err(FormatError::BadPropertyId {
            offset,
            prop_id: id,
        });
    }
    if reserved != X509_ASN_ENCODING {
        return Err(FormatError::BadReserved {
            offset,
            prop_id: id,
            reserved,
        });
    }
    if len as usize > available {
        return Err(FormatError::LengthPastEnd {
            offset: offset + 8,
            prop_id: id,
            len,
            available,
        });
    }
    Ok(EntryHeader::Entry { id, len })
}

/// One raw entry read by [`read_entry`]: where it starts, its id, its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawEntry<'a> {
    EndMarker {
        offset: usize,
    },
    Entry {
        offset: usize,
        id: u32,
        value: &'a [u8],
    },
}

/// Reads one entry (or the end marker) from the cursor, zero-copy.
pub fn read_entry<'a>(c: &mut Cursor<'a>) -> Result<RawEntry<'a>, FormatError> {
    let offset = c.offset();
    let header = c
        .take(ENTRY_HEADER_LEN, Field::PropertyId)
        .map_err(|e| match e {
            // Name the exact field that was cut short.
            FormatError::Truncated { available, .. } => FormatError::Truncated {
                field: match available {
                    0..=3 => Field::PropertyId,
                    4..=7 => Field::PropertyReserved,
                    _ => Field::PropertyLength,
                },
                offset,
                needed: ENTRY_HEADER_LEN,
                available,
            },
            other => other,
        })?;
    match check_header(header, offset, c.remaining())? {
        EntryHeader::EndMarker => Ok(RawEntry::EndMarker { offset }),
        EntryHeader::Entry { id, len } => {
            let value = c.take(len as usize, Field::PropertyValue)?;
            Ok(RawEntry::Entry { offset, id, value })
        }
    }
}
