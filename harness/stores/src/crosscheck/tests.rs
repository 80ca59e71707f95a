//! The comparison logic against a fake crypt32: certmig's own reader with
//! switches for the behaviours a real crypt32 has (MS09-056 enforced, Wine's
//! `.sst` reader, the registry provider's key-name check) and for faults the
//! crosscheck must catch.

use super::*;
use crate::cert::{generate_machine, MachineSpec};
use crate::format::reg::{write_reg, RegEncoding};
use crate::format::registry::RegistryStore;
use crate::format::{Defect, SerializedStore};

/// A crypt32 built on certmig's reader.
#[derive(Clone)]
struct Fake {
    platform: Platform,
    /// Refuse friendly names with an embedded NUL (MS09-056).
    enforce: bool,
    /// Wine's store reader: nothing from a properties-first `.sst`.
    wine_sst: bool,
    /// Faults: drop the last code unit of every friendly name; drop the key
    /// link; report a wrong hash.
    trim_name: bool,
    drop_key: bool,
    wrong_hash: bool,
    /// The registry store lists nothing.
    empty_registry: bool,
    calls: Vec<&'static str>,
}

impl Fake {
    fn wine() -> Fake {
        Fake {
            platform: Platform::wine("8.0"),
            enforce: false,
            wine_sst: true,
            trim_name: false,
            drop_key: false,
            wrong_hash: false,
            empty_registry: false,
            calls: Vec::new(),
        }
    }

    fn windows() -> Fake {
        Fake {
            platform: Platform::windows("6.1.7601 Service Pack 1"),
            enforce: true,
            wine_sst: false,
            ..Fake::wine()
        }
    }
}

impl CryptoApi for Fake {
    fn platform(&self) -> Platform {
        self.platform.clone()
    }

    fn add_element(&mut self, element: &[u8]) -> Result<Observed, Hresult> {
        self.calls.push("add_element");
        let e = SerializedElement::parse(element, 0, ReadMode::Strict)
            .map_err(|_| Hresult::CRYPT_E_FILE_ERROR)?;
        let fname = e.friendly_name();
        if self.enforce && fname.is_some_and(format::friendly_name::has_embedded_nul) {
            return Err(Hresult::CRYPT_E_NOT_CHAR_STRING);
        }
        let mut hash = e.thumbprint().0.to_vec();
        if self.wrong_hash {
            hash[0] ^= 1;
        }
        Ok(Observed {
            der: e.der.to_vec(),
            hash: Some(hash),
            friendly_name: fname.map(|v| {
                if self.trim_name {
                    v[..v.len().saturating_sub(2)].to_vec()
                } else {
                    v.to_vec()
                }
            }),
            key_provider: if self.drop_key {
                None
            } else {
                e.key_prov_info().and_then(Result::ok).map(|k| KeyLink {
                    container: k.container,
                    provider: k.provider,
                })
            },
        })
    }

    fn read_serialized_store(&mut self, store: &[u8]) -> Result<Vec<Observed>, Hresult> {
        self.calls.push("read_serialized_store");
        let parsed = SerializedStore::parse(store, ReadMode::Strict)
            .map_err(|_| Hresult::CRYPT_E_FILE_ERROR)?;
        if self.wine_sst && parsed.elements.iter().any(|e| !e.properties.is_empty()) {
            return Ok(Vec::new());
        }
        parsed
            .elements
            .iter()
            .map(|e| self.add_element(&e.to_bytes()))
            .collect()
    }

    fn read_registry_store(
        &mut self,
        blobs: &[RegistryBlob<'_>],
    ) -> Result<Vec<Observed>, Hresult> {
        self.calls.push("read_registry_store");
        if self.empty_registry {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for b in blobs {
            // The registry provider keeps a certificate only under the
            // upper-case hex of its hash.
            if let Ok(o) = self.add_element(b.blob) {
                if o.hash
                    .as_deref()
                    .map(format::thumbprint::hex_upper)
                    .as_deref()
                    == Some(b.name)
                {
                    out.push(o);
                }
            }
        }
        Ok(out)
    }
}

fn elements(defect: Defect) -> Vec<SerializedElement<'static>> {
    generate_machine(&MachineSpec::sccm("PC0001", 7, defect))
        .expect("the key pool makes certificates")
        .iter()
        .map(|c| c.element())
        .collect()
}

fn sst(defect: Defect) -> Vec<u8> {
    SerializedStore::new(elements(defect)).to_bytes()
}

fn reg(defect: Defect) -> Vec<u8> {
    write_reg(
        &RegistryStore::from_elements("SMS", elements(defect)),
        RegEncoding::Regedit5,
    )
}

fn run(api: &mut Fake, path: &str, bytes: &[u8]) -> (Vec<Row>, FileCheck) {
    let mut rows = Vec::new();
    let file = check_bytes(path, bytes, None, api, &mut rows);
    (rows, file)
}

#[test]
fn wine_without_ms09_056_agrees_on_every_defect_and_format() {
    for defect in [
        Defect::Clean,
        Defect::DoubledTerminator,
        Defect::EmbeddedNul,
        Defect::OnlyNuls,
    ] {
        for (name, bytes) in [("PC0001.sst", sst(defect)), ("PC0001.reg", reg(defect))] {
            let mut api = Fake::wine();
            let (rows, file) = run(&mut api, name, &bytes);
            assert!(
                file.errors.is_empty(),
                "{defect:?} {name}: {:?}",
                file.errors
            );
            assert_eq!(rows.len(), 2, "{defect:?} {name}");
            for r in &rows {
                assert!(r.agree, "{defect:?} {name}: {:?}", r.differences);
                assert_eq!(r.certmig.verdict, Outcome::Ok);
                assert!(r.certmig.friendly_name_hex.is_some());
                assert!(r
                    .certmig
                    .key_provider
                    .as_ref()
                    .is_some_and(|k| k.container.is_some()));
            }
        }
    }
}

#[test]
fn windows_refuses_the_defective_names_with_0x80092024_and_certmig_predicts_it() {
    let mut api = Fake::windows();
    let (rows, _) = run(&mut api, "PC0001.sst", &sst(Defect::DoubledTerminator));
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert!(r.agree, "{:?}", r.differences);
        assert_eq!(
            r.certmig.verdict,
            Outcome::Refused(Hresult::CRYPT_E_NOT_CHAR_STRING)
        );
        assert_eq!(r.certmig.rule, Some(RuleId::FriendlyNameEmbeddedNul));
        assert_eq!(
            r.cryptoapi.verdict,
            Outcome::Refused(Hresult::CRYPT_E_NOT_CHAR_STRING)
        );
    }
    let (rows, _) = run(&mut Fake::windows(), "PC0001.sst", &sst(Defect::Clean));
    assert!(rows
        .iter()
        .all(|r| r.agree && r.certmig.verdict == Outcome::Ok));
}

#[test]
fn a_registry_store_that_skips_a_refused_certificate_reports_the_element_hresult() {
    let mut api = Fake::windows();
    let (rows, file) = run(&mut api, "PC0001.reg", &reg(Defect::EmbeddedNul));
    assert_eq!(file.store_reader.as_ref().map(|s| s.certificates), Some(0));
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert!(r.agree, "{:?}", r.differences);
        assert_eq!(r.cryptoapi.via, Via::SerializedElement);
        assert_eq!(
            r.cryptoapi.verdict,
            Outcome::Refused(Hresult::CRYPT_E_NOT_CHAR_STRING)
        );
    }
}

#[test]
fn predicting_with_the_wrong_rules_is_a_verdict_difference() {
    // A crypt32 that enforces MS09-056 while the platform says Wine.
    let mut api = Fake {
        enforce: true,
        ..Fake::wine()
    };
    let (rows, _) = run(&mut api, "PC0001.sst", &sst(Defect::DoubledTerminator));
    for r in &rows {
        assert!(!r.agree);
        assert_eq!(r.differences.len(), 1);
        assert_eq!(r.differences[0].field, "verdict");
        assert_eq!(r.differences[0].certmig, "ok");
        assert_eq!(r.differences[0].cryptoapi, "0x80092024");
    }
}

#[test]
fn each_field_difference_is_caught() {
    let cases = [
        (
            "friendly-name",
            Fake {
                trim_name: true,
                ..Fake::wine()
            },
        ),
        (
            "key-provider",
            Fake {
                drop_key: true,
                ..Fake::wine()
            },
        ),
        (
            "thumbprint",
            Fake {
                wrong_hash: true,
                ..Fake::wine()
            },
        ),
    ];
    for (field, mut api) in cases {
        let (rows, _) = run(&mut api, "PC0001.sst", &sst(Defect::DoubledTerminator));
        assert_eq!(rows.len(), 2);
        for r in &rows {
            assert!(!r.agree, "{field}");
            let fields: Vec<&str> = r.differences.iter().map(|d| d.field).collect();
            assert_eq!(fields, [field]);
        }
    }
}

#[test]
fn a_certificate_the_registry_store_does_not_list_is_absent() {
    let mut api = Fake {
        empty_registry: true,
        ..Fake::wine()
    };
    let (rows, _) = run(&mut api, "PC0001.reg", &reg(Defect::Clean));
    for r in &rows {
        assert!(!r.agree);
        assert_eq!(r.cryptoapi.verdict, Outcome::Absent);
        assert_eq!(r.cryptoapi.via, Via::RegistryStore);
        assert_eq!(r.differences[0].field, "verdict");
    }
}

#[test]
fn wine_sst_reader_is_information_with_its_note_never_a_disagreement() {
    let bytes = sst(Defect::Clean);
    let (rows, file) = run(&mut Fake::wine(), "PC0001.sst", &bytes);
    assert!(rows.iter().all(|r| r.agree));
    let s = file.store_reader.expect("a .sst is read whole too");
    assert_eq!((s.opened, s.certificates), (Outcome::Ok, 0));
    assert_eq!(s.note.as_deref(), Some(WINE_SST_NOTE));
    // Windows' reader lists them all: no note.
    let (_, file) = run(&mut Fake::windows(), "PC0001.sst", &bytes);
    let s = file.store_reader.expect("read whole");
    assert_eq!((s.certificates, s.note), (2, None));
}

#[test]
fn malformed_input_is_an_error_located_in_the_file_and_no_row() {
    let mut bytes = sst(Defect::Clean);
    // Cut the store inside its second element.
    bytes.truncate(bytes.len() - 40);
    let mut api = Fake::wine();
    let (rows, file) = run(&mut api, "cut.sst", &bytes);
    assert_eq!(
        rows.len(),
        1,
        "the certificate before the cut is still compared"
    );
    assert_eq!(file.errors.len(), 1);
    assert!(file.errors[0]
        .offset
        .is_some_and(|o| o > 8 && o <= bytes.len()));
    assert!(!api.calls.contains(&"read_serialized_store"));
}

#[test]
fn the_report_counts_rows_and_agreement() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("b.sst"), sst(Defect::DoubledTerminator)).expect("write");
    std::fs::write(dir.path().join("a.reg"), reg(Defect::Clean)).expect("write");
    let r = crosscheck_paths(&[dir.path().to_owned()], &mut Fake::wine());
    assert_eq!((r.certificates, r.agree), (4, 4));
    assert!(r.all_agree() && !r.has_errors());
    // Sorted walk: a.reg first.
    assert!(r.files[0].path.ends_with("a.reg") && r.files[1].path.ends_with("b.sst"));
    let json = serde_json::to_value(&r).expect("serializes");
    for key in ["platform", "certificates", "agree", "rows", "files"] {
        assert!(json.get(key).is_some(), "{key}");
    }
    let row = &json["rows"][0];
    for key in [
        "path",
        "thumbprint",
        "certmig",
        "cryptoapi",
        "agree",
        "differences",
    ] {
        assert!(row.get(key).is_some(), "{key}");
    }
    assert_eq!(json["platform"]["rules"], "legacy");
    let r = crosscheck_paths(
        &[dir.path().to_owned()],
        &mut Fake {
            trim_name: true,
            ..Fake::wine()
        },
    );
    assert_eq!((r.certificates, r.agree), (4, 0));
    let missing = crosscheck_paths(&[dir.path().join("nope")], &mut Fake::wine());
    assert!(missing.has_errors());
}

/// A `.reg` whose certificate keys are named in lower case.
fn reg_lower_case_keys(defect: Defect) -> Vec<u8> {
    let store = RegistryStore::from_elements("SMS", elements(defect));
    let mut text = String::from_utf8(write_reg(&store, RegEncoding::Regedit4)).expect("ASCII");
    for c in &store.certificates {
        let upper = c.thumbprint.to_hex();
        text = text.replace(
            &format!("\\{upper}]"),
            &format!("\\{}]", upper.to_lowercase()),
        );
    }
    text.into_bytes()
}

#[test]
fn lower_case_key_names_are_the_known_wine_difference_and_only_on_wine() {
    let bytes = reg_lower_case_keys(Defect::Clean);
    let parsed = format::reg::parse_reg(&bytes, ReadMode::Strict).expect("certmig reads it");
    assert!(parsed
        .key_names
        .iter()
        .all(|n| n.chars().all(|c| !c.is_ascii_uppercase())));
    let (rows, _) = run(&mut Fake::wine(), "lower.reg", &bytes);
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert!(r.agree, "explained: {:?}", r.differences);
        assert_eq!(r.cryptoapi.verdict, Outcome::Absent);
        assert_eq!(r.differences.len(), 1);
        assert_eq!(r.differences[0].known, Some(WINE_REGISTRY_KEY_CASE.id));
    }
    // Not a known difference of Windows: a registry store that skips them
    // there disagrees.
    let (rows, _) = run(&mut Fake::windows(), "lower.reg", &bytes);
    assert!(rows
        .iter()
        .all(|r| !r.agree && r.differences[0].known.is_none()));
    // Upper-case names (what regedit writes): nothing to explain.
    let (rows, _) = run(&mut Fake::wine(), "upper.reg", &reg(Defect::Clean));
    assert!(rows.iter().all(|r| r.agree && r.differences.is_empty()));
}
