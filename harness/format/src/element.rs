//! Serialized elements (docs/FORMATS.md section 2): what
//! `CertSerializeCertificateStoreElement` returns and what a registry store
//! keeps in a certificate's `Blob` value. Properties come first, then the
//! context entry (id 32 for a certificate); property order is preserved.

use std::borrow::Cow;

use super::cursor::Cursor;
use super::error::FormatError;
use super::friendly_name::{self, FriendlyNameShape};
use super::key_prov_info::KeyProvInfo;
use super::property::{read_entry, Property, PropertyId, RawEntry, ENTRY_HEADER_LEN};
use super::thumbprint::Thumbprint;

/// How strictly to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// Properties first, then the context ([MS-OSHARED], what Windows writes);
    /// friendly names must be valid UTF-16.
    #[default]
    Strict,
    /// Also accept properties after the context (what Wine's reader expects)
    /// and malformed friendly-name text; the order seen is reported.
    Lenient,
}

/// The order of properties relative to the context entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryOrder {
    #[default]
    PropertiesFirst,
    ContextFirst,
}

/// What an element's context entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContextKind {
    Certificate,
    Crl,
    Ctl,
}

impl ContextKind {
    pub fn property_id(self) -> PropertyId {
        match self {
            ContextKind::Certificate => PropertyId::Certificate,
            ContextKind::Crl => PropertyId::Crl,
            ContextKind::Ctl => PropertyId::Ctl,
        }
    }
    fn from_id(id: PropertyId) -> Option<Self> {
        match id {
            PropertyId::Certificate => Some(ContextKind::Certificate),
            PropertyId::Crl => Some(ContextKind::Crl),
            PropertyId::Ctl => Some(ContextKind::Ctl),
            _ => None,
        }
    }
}

/// One serialized element: its properties in file order and its context.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SerializedElement<'a> {
    pub properties: Vec<Property<'a>>,
    pub kind: ContextKind,
    /// The DER certificate (or CRL / CTL) exactly as stored.
    pub der: Cow<'a, [u8]>,
    pub order: EntryOrder,
}

impl<'a> SerializedElement<'a> {
    /// A certificate element with `properties` written before it.
    pub fn certificate(der: impl Into<Cow<'a, [u8]>>, properties: Vec<Property<'a>>) -> Self {
        SerializedElement {
            properties,
            kind: ContextKind::Certificate,
            der: der.into(),
            order: EntryOrder::PropertiesFirst,
        }
    }

    /// Parses exactly one element occupying all of `bytes` (a registry
    /// `Blob` or a `.blob` file). `base` is the absolute offset of `bytes`.
    pub fn parse(bytes: &'a [u8], base: usize, mode: ReadMode) -> Result<Self, FormatError> {
        let mut c = Cursor::at(bytes, base);
        let first = c.offset();
        let mut entries = Vec::new();
        while !c.is_empty() {
            match read_entry(&mut c)? {
                RawEntry::EndMarker { offset } => {
                    return Err(FormatError::EndMarkerInElement { offset })
                }
                RawEntry::Entry { offset, id, value } => entries.push((offset, id, value)),
            }
        }
        let contexts: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, (_, id, _))| PropertyId::from_u32(*id).is_context())
            .map(|(i, _)| i)
            .collect();
        match contexts.as_slice() {
            [] => Err(FormatError::MissingContext { offset: first }),
            [i] if *i == entries.len() - 1 => {
                Self::assemble(&entries, *i, EntryOrder::PropertiesFirst, mode)
            }
            [0] if mode == ReadMode::Lenient => {
                Self::assemble(&entries, 0, EntryOrder::ContextFirst, mode)
            }
            [0] => Err(FormatError::PropertiesAfterContext {
                offset: entries[1].0,
            }),
            [i] => Err(FormatError::PropertiesAfterContext {
                offset: entries[i + 1].0,
            }),
            [_, second, ..] => Err(FormatError::TrailingData {
                offset: entries[*second].0,
                len: bytes.len() - (entries[*second].0 - base),
            }),
        }
    }

    /// Builds an element from raw entries; `ctx` is the index of the context.
    pub(crate) fn assemble(
        entries: &[(usize, u32, &'a [u8])],
        ctx: usize,
        order: EntryOrder,
        mode: ReadMode,
    ) -> Result<Self, FormatError> {
        let mut properties = Vec::with_capacity(entries.len() - 1);
        for (i, &(offset, id, value)) in entries.iter().enumerate() {
            if i == ctx {
                continue;
            }
            let pid = PropertyId::from_u32(id);
            if pid == PropertyId::FriendlyName && mode == ReadMode::Strict {
                friendly_name::validate(value, offset + ENTRY_HEADER_LEN)?;
            }
            properties.push(Property::new(pid, value));
        }
        let (_, id, der) = entries[ctx];
        Ok(SerializedElement {
            properties,
            kind: ContextKind::from_id(PropertyId::from_u32(id)).expect("context id"),
            der: Cow::Borrowed(der),
            order,
        })
    }

    /// Bytes this element takes when written.
    pub fn encoded_len(&self) -> usize {
        ENTRY_HEADER_LEN
            + self.der.len()
            + self
                .properties
                .iter()
                .map(Property::encoded_len)
                .sum::<usize>()
    }

    /// Appends the element in its order.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        let context = Property::new(self.kind.property_id(), &self.der[..]);
        if self.order == EntryOrder::ContextFirst {
            context.write_to(out);
        }
        for p in &self.properties {
            p.write_to(out);
        }
        if self.order == EntryOrder::PropertiesFirst {
            context.write_to(out);
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.write_to(&mut v);
        v
    }

    /// The first property with this id.
    pub fn property(&self, id: PropertyId) -> Option<&Property<'a>> {
        self.properties.iter().find(|p| p.id == id)
    }

    /// The raw friendly-name value, if the element has one.
    pub fn friendly_name(&self) -> Option<&[u8]> {
        self.property(PropertyId::FriendlyName)
            .map(|p| &p.value[..])
    }

    pub fn friendly_name_shape(&self) -> Option<FriendlyNameShape> {
        self.friendly_name().map(friendly_name::classify)
    }

    /// The decoded key provider info, if present and well-formed.
    pub fn key_prov_info(&self) -> Option<Result<KeyProvInfo, FormatError>> {
        self.property(PropertyId::KeyProvInfo)
            .map(|p| KeyProvInfo::decode(&p.value, 0))
    }

    /// SHA-1 of the DER context: the thumbprint Windows shows.
    pub fn thumbprint(&self) -> Thumbprint {
        Thumbprint::of(&self.der)
    }

    pub fn property_ids(&self) -> Vec<u32> {
        self.properties.iter().map(|p| p.id.to_u32()).collect()
    }

    pub fn into_owned(self) -> SerializedElement<'static> {
        SerializedElement {
            properties: self
                .properties
                .into_iter()
                .map(Property::into_owned)
                .collect(),
            kind: self.kind,
            der: Cow::Owned(self.der.into_owned()),
            order: self.order,
        }
    }
}

/// One element read strictly (properties first, then the context) without
/// allocating: its property entries stay raw bytes, walked again on demand.
/// What `scan` streams a store through; [`ElementView::parse_strict`] accepts
/// and refuses exactly what [`SerializedElement::parse`] does in
/// [`ReadMode::Strict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElementView<'a> {
    /// The property entries, before the context entry.
    properties: &'a [u8],
    /// Absolute offset of `properties`.
    base: usize,
    pub kind: ContextKind,
    /// The DER certificate (or CRL / CTL) exactly as stored.
    pub der: &'a [u8],
    /// The value of the first friendly-name property (11), if any.
    pub friendly_name: Option<&'a [u8]>,
    /// The value of the first key provider info property (2), if any.
    pub key_prov_info: Option<&'a [u8]>,
}

impl<'a> ElementView<'a> {
    /// Parses exactly one element occupying all of `bytes`, whose first
    /// byte is at absolute offset `base`: the same result as
    /// [`SerializedElement::parse`]`(bytes, base, ReadMode::Strict)`.
    pub fn parse_strict(bytes: &'a [u8], base: usize) -> Result<Self, FormatError> {
        let mut c = Cursor::at(bytes, base);
        let first = c.offset();
        let mut n = 0usize;
        // The first context entry: its index and offset.
        let mut context: Option<(usize, usize)> = None;
        // The offset of the entry after the first context, and of a second
        // context.
        let mut after_context = None;
        let mut second_context = None;
        let mut last = None;
        while !c.is_empty() {
            match read_entry(&mut c)? {
                RawEntry::EndMarker { offset } => {
                    return Err(FormatError::EndMarkerInElement { offset })
                }
                RawEntry::Entry { offset, id, value } => {
                    if let Some((i, _)) = context {
                        if n == i + 1 {
                            after_context = Some(offset);
                        }
                    }
                    if PropertyId::from_u32(id).is_context() {
                        if context.is_none() {
                            context = Some((n, offset));
                        } else if second_context.is_none() {
                            second_context = Some(offset);
                        }
                    }
                    last = Some((id, value));
                    n += 1;
                }
            }
        }
        let (ctx, ctx_offset) = match (context, second_context) {
            (None, _) => return Err(FormatError::MissingContext { offset: first }),
            (Some(_), Some(second)) => {
                return Err(FormatError::TrailingData {
                    offset: second,
                    len: bytes.len() - (second - base),
                })
            }
            (Some(c), None) => c,
        };
        if ctx != n - 1 {
            return Err(FormatError::PropertiesAfterContext {
                offset: after_context.unwrap_or(first),
            });
        }
        let Some((id, der)) = last else {
            return Err(FormatError::MissingContext { offset: first });
        };
        let mut view = ElementView {
            properties: &bytes[..ctx_offset - base],
            base,
            kind: ContextKind::from_id(PropertyId::from_u32(id)).expect("context id"),
            der,
            friendly_name: None,
            key_prov_info: None,
        };
        for (offset, id, value) in view.entries() {
            match PropertyId::from_u32(id) {
                PropertyId::FriendlyName => {
                    friendly_name::validate(value, offset + ENTRY_HEADER_LEN)?;
                    view.friendly_name.get_or_insert(value);
                }
                PropertyId::KeyProvInfo => {
                    view.key_prov_info.get_or_insert(value);
                }
                _ => {}
            }
        }
        Ok(view)
    }

    /// The property entries in file order: (absolute offset, id, value).
    pub fn entries(&self) -> impl Iterator<Item = (usize, u32, &'a [u8])> + 'a {
        let mut c = Cursor::at(self.properties, self.base);
        std::iter::from_fn(move || match read_entry(&mut c) {
            Ok(RawEntry::Entry { offset, id, value }) => Some((offset, id, value)),
            _ => None,
        })
    }

    /// The property ids in file order.
    pub fn property_ids(&self) -> impl Iterator<Item = u32> + 'a {
        self.entries().map(|(_, id, _)| id)
    }

    /// The value of the first property with this id.
    pub fn property(&self, id: PropertyId) -> Option<&'a [u8]> {
        let id = id.to_u32();
        self.entries().find(|e| e.1 == id).map(|e| e.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::friendly_name::Defect;

    fn sample() -> SerializedElement<'static> {
        SerializedElement::certificate(
            vec![0x30, 0x03, 0x02, 0x01, 0x05],
            vec![
                Property::new(
                    PropertyId::FriendlyName,
                    Defect::DoubledTerminator.apply("SMS Signing Certificate"),
                ),
                Property::new(PropertyId::Other(0x1234), vec![9, 9]),
            ],
        )
    }

    #[test]
    fn element_round_trips_byte_exact() {
        let e = sample();
        let b = e.to_bytes();
        assert_eq!(&b[..12], &[0x0b, 0, 0, 0, 1, 0, 0, 0, 50, 0, 0, 0]);
        let p = SerializedElement::parse(&b, 0, ReadMode::Strict).unwrap();
        assert_eq!(p, e);
        assert_eq!(p.to_bytes(), b);
    }

    #[test]
    fn context_first_needs_lenient_mode_and_is_reported() {
        let mut e = sample();
        e.order = EntryOrder::ContextFirst;
        let b = e.to_bytes();
        assert!(matches!(
            SerializedElement::parse(&b, 0, ReadMode::Strict),
            Err(FormatError::PropertiesAfterContext { offset: 17 })
        ));
        let p = SerializedElement::parse(&b, 0, ReadMode::Lenient).unwrap();
        assert_eq!(p.order, EntryOrder::ContextFirst);
        assert_eq!(p.to_bytes(), b);
    }
}
