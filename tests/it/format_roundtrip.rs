//! Round trips for every format (element, `.sst`, `<THUMBPRINT>.blob` files
//! and blob directories here; `.reg` in `reg_format.rs`), as proptest
//! invariants: `parse(write(x)) == x` and `write(parse(b)) == b`.

use certmig::format::registry::{self, RegistryStore};
use certmig::format::{
    ContextKind, EntryOrder, KeyProvInfo, Limits, Property, PropertyId, ReadMode,
    SerializedElement, SerializedStore, StoreReader,
};
use proptest::prelude::*;

use crate::support;

fn property_id() -> impl Strategy<Value = PropertyId> {
    prop_oneof![
        Just(PropertyId::FriendlyName),
        Just(PropertyId::KeyProvInfo),
        Just(PropertyId::Sha1Hash),
        Just(PropertyId::Md5Hash),
        Just(PropertyId::Description),
        Just(PropertyId::Archived),
        (1u32..=0xFFFF)
            .prop_filter("not a context id", |i| !(32..=34).contains(i))
            .prop_map(PropertyId::from_u32),
    ]
}

fn friendly_name_value() -> impl Strategy<Value = Vec<u8>> {
    // Valid UTF-16 (strict mode rejects odd lengths and lone surrogates).
    prop::collection::vec(prop_oneof![Just(0u16), 0x20u16..0xD7FF], 0..40)
        .prop_map(|us| us.iter().flat_map(|u| u.to_le_bytes()).collect())
}

fn property() -> impl Strategy<Value = Property<'static>> {
    property_id().prop_flat_map(|id| {
        let value = match id {
            PropertyId::FriendlyName => friendly_name_value().boxed(),
            _ => prop::collection::vec(any::<u8>(), 0..64).boxed(),
        };
        value.prop_map(move |v| Property::new(id, v))
    })
}

prop_compose! {
    fn element()(
        properties in prop::collection::vec(property(), 0..6),
        der in prop::collection::vec(any::<u8>(), 1..300),
        kind in prop_oneof![Just(ContextKind::Certificate), Just(ContextKind::Crl), Just(ContextKind::Ctl)],
    ) -> SerializedElement<'static> {
        SerializedElement { properties, kind, der: der.into(), order: EntryOrder::PropertiesFirst }
    }
}

proptest! {
    #![proptest_config(support::proptest_config(128))]

    #[test]
    fn element_round_trips(e in element()) {
        let bytes = e.to_bytes();
        let parsed = SerializedElement::parse(&bytes, 0, ReadMode::Strict).unwrap();
        prop_assert_eq!(&parsed, &e);
        prop_assert_eq!(&parsed.to_bytes(), &bytes);
    }

    #[test]
    fn store_round_trips_and_streams_identically(elements in prop::collection::vec(element(), 0..8)) {
        let s = SerializedStore::new(elements);
        let bytes = s.to_bytes();
        let parsed = SerializedStore::parse(&bytes, ReadMode::Strict).unwrap();
        prop_assert_eq!(&parsed, &s);
        prop_assert_eq!(&parsed.to_bytes(), &bytes);

        let mut r = StoreReader::open(&bytes[..], bytes.len() as u64, Limits::default()).unwrap();
        let mut buf = Vec::new();
        let mut n = 0;
        while r.next_element_into(&mut buf).unwrap().is_some() { n += 1; }
        prop_assert_eq!(n, s.elements.len());
        prop_assert_eq!(&buf[..], &bytes[8..bytes.len() - 12]);
    }

    #[test]
    fn context_first_stores_round_trip_leniently(elements in prop::collection::vec(element(), 1..6)) {
        let mut s = SerializedStore::new(elements);
        for e in &mut s.elements { e.order = EntryOrder::ContextFirst; }
        // The order is only detectable when the last element has properties:
        // otherwise the same bytes are also a valid properties-first store.
        prop_assume!(!s.elements.last().unwrap().properties.is_empty());
        let bytes = s.to_bytes();
        let parsed = SerializedStore::parse(&bytes, ReadMode::Lenient).unwrap();
        prop_assert_eq!(&parsed.to_bytes(), &bytes);
        prop_assert_eq!(parsed.order(), EntryOrder::ContextFirst);
    }

    #[test]
    fn blob_files_round_trip_one_by_one_and_as_a_directory(elements in prop::collection::vec(element(), 0..6)) {
        // Registry Blob values are certificate elements; the registry provider
        // keeps its own SHA-1 property (3), so a random one would not match.
        let elements: Vec<_> = elements
            .into_iter()
            .map(|mut e| {
                e.kind = ContextKind::Certificate;
                e.properties.retain(|p| p.id != PropertyId::Sha1Hash);
                e
            })
            .collect();
        let s = RegistryStore::from_elements("SMS", elements);
        let mut thumbs: Vec<_> = s.certificates.iter().map(|c| c.thumbprint).collect();
        thumbs.dedup();
        prop_assume!(thumbs.len() == s.certificates.len());
        let files = s.blob_files();
        prop_assert_eq!(files.len(), s.certificates.len());
        let dir = tempfile::tempdir().unwrap();
        for (c, (name, bytes)) in s.certificates.iter().zip(&files) {
            prop_assert_eq!(name, &format!("{}.blob", c.thumbprint.to_hex()));
            let stem = name.strip_suffix(".blob").unwrap();
            let parsed = registry::parse_blob(bytes, stem, ReadMode::Strict).unwrap();
            prop_assert_eq!(&parsed, &c.element);
            prop_assert_eq!(&parsed.to_bytes(), bytes);
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        // Read back as a registry key's values are listed: by name.
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let certificates = names
            .iter()
            .map(|name| {
                let bytes = std::fs::read(dir.path().join(name)).unwrap();
                let stem = name.strip_suffix(".blob").unwrap();
                let e = registry::parse_blob(&bytes, stem, ReadMode::Strict).unwrap().into_owned();
                registry::RegistryCertificate { thumbprint: e.thumbprint(), element: e }
            })
            .collect();
        let read = RegistryStore { name: "SMS".into(), certificates };
        prop_assert_eq!(&read, &s);
        prop_assert_eq!(read.blob_files(), files);
    }

    #[test]
    fn key_prov_info_round_trips(
        container in proptest::option::of("[A-Za-z0-9_{}-]{0,40}"),
        provider in proptest::option::of("[A-Za-z0-9 .]{0,60}"),
        prov_type in any::<u32>(), flags in any::<u32>(), key_spec in any::<u32>(),
        params in prop::collection::vec((any::<u32>(), any::<u32>(), prop::collection::vec(any::<u8>(), 0..16)), 0..3),
    ) {
        let k = KeyProvInfo {
            container, provider, prov_type, flags, key_spec,
            params: params.into_iter().map(|(param, flags, data)| certmig::format::key_prov_info::ProvParam { param, flags, data }).collect(),
        };
        let b = k.encode();
        let d = KeyProvInfo::decode(&b, 0).unwrap();
        prop_assert_eq!(&d, &k);
        prop_assert_eq!(d.encode(), b);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_errors_are_in_range(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for mode in [ReadMode::Strict, ReadMode::Lenient] {
            if let Err(e) = SerializedStore::parse(&bytes, mode) {
                prop_assert!(e.offset().unwrap() <= bytes.len());
            }
            if let Err(e) = SerializedElement::parse(&bytes, 0, mode) {
                prop_assert!(e.offset().unwrap() <= bytes.len());
            }
        }
        let _ = KeyProvInfo::decode(&bytes, 0);
        // The same bytes behind a store header.
        let framed = [&certmig::format::store::STORE_HEADER[..], &bytes].concat();
        if let Err(e) = SerializedStore::parse(&framed, ReadMode::Strict) {
            prop_assert!(e.offset().unwrap() <= framed.len());
        }
    }
}
