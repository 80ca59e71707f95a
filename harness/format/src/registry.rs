//! The LocalMachine registry system store (docs/FORMATS.md section 4):
//! `HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\SystemCertificates\<STORE>\Certificates\<THUMBPRINT>`
//! with one REG_BINARY value `Blob` holding a serialized element.
//!
//! A CryptoAPI registry provider ignores a certificate whose key name is not
//! the SHA-1 of its DER (crypt32 compares against the SHA-1 property when one
//! is present), and adds that SHA-1 property (id 3) to what it stores. This
//! module models both. The same Blob values saved one per file
//! (`<THUMBPRINT>.blob`) form the blob-directory format.

use super::element::{ReadMode, SerializedElement};
use super::error::FormatError;
use super::property::{Property, PropertyId};
use super::thumbprint::Thumbprint;

/// `HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\SystemCertificates`.
pub const SYSTEM_CERTIFICATES: &str = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\SystemCertificates";

/// One certificate key: its name (the thumbprint) and its `Blob`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryCertificate<'a> {
    pub thumbprint: Thumbprint,
    pub element: SerializedElement<'a>,
}

/// A registry certificate store, e.g. `SMS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryStore<'a> {
    pub name: String,
    pub certificates: Vec<RegistryCertificate<'a>>,
}

impl<'a> RegistryStore<'a> {
    /// Stores `elements` the way a registry provider does: property 3 (SHA-1)
    /// is appended after the existing properties when missing, each element
    /// is keyed by its upper-case thumbprint, and keys are listed in the
    /// order regedit enumerates subkeys (case-insensitive alphabetical).
    pub fn from_elements(name: &str, elements: Vec<SerializedElement<'a>>) -> Self {
        let mut certificates: Vec<RegistryCertificate<'a>> = elements
            .into_iter()
            .map(|mut e| {
                add_sha1_property(&mut e);
                RegistryCertificate {
                    thumbprint: e.thumbprint(),
                    element: e,
                }
            })
            .collect();
        certificates.sort_by_key(|c| c.thumbprint);
        RegistryStore {
            name: name.to_owned(),
            certificates,
        }
    }

    /// `HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\SystemCertificates\<name>`.
    pub fn key_path(&self) -> String {
        format!("{SYSTEM_CERTIFICATES}\\{}", self.name)
    }

    /// `(file name, Blob bytes)` per certificate: `<THUMBPRINT>.blob`.
    pub fn blob_files(&self) -> Vec<(String, Vec<u8>)> {
        self.certificates
            .iter()
            .map(|c| {
                (
                    format!("{}.blob", c.thumbprint.to_hex()),
                    c.element.to_bytes(),
                )
            })
            .collect()
    }

    pub fn into_owned(self) -> RegistryStore<'static> {
        RegistryStore {
            name: self.name,
            certificates: self
                .certificates
                .into_iter()
                .map(|c| RegistryCertificate {
                    thumbprint: c.thumbprint,
                    element: c.element.into_owned(),
                })
                .collect(),
        }
    }
}

/// Appends property 3 (SHA-1 of the DER) after the other properties when the
/// element has none.
pub fn add_sha1_property(e: &mut SerializedElement<'_>) {
    if e.property(PropertyId::Sha1Hash).is_none() {
        let sha1 = e.thumbprint().0.to_vec();
        e.properties.push(Property::new(PropertyId::Sha1Hash, sha1));
    }
}

/// Why a key name and an element do not belong together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMismatch {
    NotAThumbprint,
    /// The key (or the SHA-1 property) names another certificate.
    Mismatch {
        computed: String,
    },
}

/// Checks a registry key name (or `.blob` file stem) against its element the
/// way crypt32 does: the name must be 40 hex digits equal to the SHA-1 of
/// the DER, and a SHA-1 property, when present, must agree.
pub fn check_key(name: &str, e: &SerializedElement<'_>) -> Result<Thumbprint, KeyMismatch> {
    let named: Thumbprint = name.parse().map_err(|_| KeyMismatch::NotAThumbprint)?;
    let computed = e.thumbprint();
    let stored_ok = e
        .property(PropertyId::Sha1Hash)
        .is_none_or(|p| p.value[..] == computed.0[..]);
    if named != computed || !stored_ok {
        return Err(KeyMismatch::Mismatch {
            computed: computed.to_hex(),
        });
    }
    Ok(named)
}

/// Parses one `.blob` file's bytes; `stem` is its file stem, which must be
/// the certificate's thumbprint.
pub fn parse_blob<'a>(
    bytes: &'a [u8],
    stem: &str,
    mode: ReadMode,
) -> Result<SerializedElement<'a>, FormatError> {
    let e = SerializedElement::parse(bytes, 0, mode)?;
    match check_key(stem, &e) {
        Ok(_) => Ok(e),
        Err(KeyMismatch::NotAThumbprint) => Err(FormatError::FileNameMismatch {
            offset: 0,
            name: stem.to_owned(),
            computed: e.thumbprint().to_hex(),
        }),
        Err(KeyMismatch::Mismatch { computed }) => Err(FormatError::FileNameMismatch {
            offset: 0,
            name: stem.to_owned(),
            computed,
        }),
    }
}
