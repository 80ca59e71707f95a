//! docs/BEHAVIOR.md claims C1, C2, C3 and C10 at the rule level, and the two
//! CVE rules of MS09-056: generate, import under each rule set, check the
//! verdict and what CryptoAPI displays.

use assert_cmd::Command;
use certmig::cert::{self, adversarial, MachineSpec};
use certmig::cmtrace;
use certmig::cryptoapi::{self, Hresult, NameKind, Offence, RuleSet, Verdict};
use certmig::format::{self, Defect, FriendlyNameShape, ReadMode, SerializedStore};

fn unhotfixed_client_certificates() -> Vec<format::SerializedElement<'static>> {
    // An unhotfixed ConfigMgr 2007 SP1/SP2 client: the doubled terminator.
    cert::generate_machine(&MachineSpec::sccm("PC0042", 1, Defect::DoubledTerminator))
        .unwrap()
        .iter()
        .map(|c| c.element())
        .collect()
}

#[test]
fn c1_unhotfixed_configmgr_2007_client_certificates_have_an_embedded_nul() {
    for e in unhotfixed_client_certificates() {
        let name = e.friendly_name().unwrap();
        assert_eq!(
            format::friendly_name::classify(name),
            FriendlyNameShape::DoubledTerminator
        );
        assert!(format::friendly_name::has_embedded_nul(name));
    }
}

#[test]
fn c2_without_974571_they_import_and_display_up_to_the_first_nul() {
    let certs = unhotfixed_client_certificates();
    let shown: Vec<_> = certs
        .iter()
        .map(|e| {
            cryptoapi::import(e, RuleSet::Legacy)
                .unwrap()
                .display_name
                .unwrap()
        })
        .collect();
    assert_eq!(
        shown,
        ["SMS Signing Certificate", "SMS Encryption Certificate"]
    );
    assert_eq!(cryptoapi::verdict(&certs[0], RuleSet::Legacy), Verdict::Ok);
}

#[test]
fn c3_with_974571_import_fails_with_0x80092024_and_osdsmpclient_logs_it() {
    for e in unhotfixed_client_certificates() {
        let r = cryptoapi::import(&e, RuleSet::Ms09056).unwrap_err();
        assert_eq!(r.hresult, Hresult(0x8009_2024));
        assert_eq!(r.hresult.to_string(), "0x80092024");
        assert_eq!(r.rule.id.as_str(), "friendly-name-embedded-nul");
        assert_eq!(r.thumbprint, e.thumbprint());
        let units = format::friendly_name::code_units(e.friendly_name().unwrap()).count();
        assert_eq!(
            *r.offence,
            Offence::FriendlyName {
                code_unit: units - 2,
                byte_offset: 2 * (units - 2)
            }
        );
        assert_eq!(
            cmtrace::import_failure_message(r.hresult),
            "Failed to import the client certificate store (0x80092024)"
        );
    }
}

#[test]
fn c10_when_neither_side_has_974571_bad_certificates_migrate_and_stay_bad() {
    let certs = unhotfixed_client_certificates();
    // Export on the source (legacy), import on the target (legacy).
    let exported = SerializedStore::new(certs.clone()).to_bytes();
    assert_eq!(cryptoapi::import_all(&certs, RuleSet::Legacy), Ok(2));
    let imported = SerializedStore::parse(&exported, ReadMode::Strict).unwrap();
    assert_eq!(
        cryptoapi::import_all(&imported.elements, RuleSet::Legacy),
        Ok(2)
    );
    // Latent: the same bytes still fail the moment 974571 arrives.
    assert!(cryptoapi::import_all(&imported.elements, RuleSet::Ms09056).is_err());
    assert_eq!(imported.elements, certs);
}

#[test]
fn cve_2009_2510_a_nul_in_the_subject_spoofs_under_legacy_and_is_refused_by_ms09_056() {
    let e = adversarial::element(adversarial::subject_cn_with_embedded_nul(1).unwrap());
    let shown = cryptoapi::import(&e, RuleSet::Legacy).unwrap();
    assert_eq!(shown.display_subject, "CN=www.bank.example");
    assert_eq!(
        cryptoapi::exact_subject(&e.der),
        "CN=www.bank.example\\0.evil.example"
    );
    let r = cryptoapi::import(&e, RuleSet::Ms09056).unwrap_err();
    assert_eq!(r.rule.id.as_str(), "name-embedded-nul");
    assert_eq!(r.hresult, Hresult::CRYPT_E_INVALID_X500_STRING);
    match *r.offence {
        Offence::NameValue {
            name,
            attribute,
            char_index,
            der_offset,
        } => {
            // Self-signed: the issuer carries the same name and is checked first.
            assert_eq!(
                (name, attribute.as_str(), char_index),
                (NameKind::Issuer, "CN", 16)
            );
            assert_eq!(e.der[der_offset], 0);
            assert_eq!(&e.der[der_offset - 16..der_offset], b"www.bank.example");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cve_2009_2511_an_overflowing_arc_reads_as_cn_under_legacy_and_is_refused_by_ms09_056() {
    let e = adversarial::element(adversarial::oid_arc_overflow(1).unwrap());
    let shown = cryptoapi::import(&e, RuleSet::Legacy).unwrap();
    assert_eq!(
        shown.display_subject,
        "O=Evil Example Ltd, CN=www.bank.example"
    );
    assert_eq!(
        cryptoapi::exact_subject(&e.der),
        "O=Evil Example Ltd, 2.5.4.4294967299=www.bank.example"
    );
    let r = cryptoapi::import(&e, RuleSet::Ms09056).unwrap_err();
    assert_eq!(r.rule.id.as_str(), "oid-arc-overflow");
    assert_eq!(r.hresult, Hresult::CRYPT_E_ASN1_LARGE);
    match *r.offence {
        Offence::OidArc {
            oid,
            arc_index,
            arc,
            der_offset,
        } => {
            assert_eq!(
                (oid.as_str(), arc_index, arc.as_str()),
                ("2.5.4.4294967299", 3, "4294967299")
            );
            assert_eq!(
                &e.der[der_offset..der_offset + 5],
                &[0x90, 0x80, 0x80, 0x80, 0x03]
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_rule_has_an_id_description_hresult_and_source() {
    let ids: Vec<_> = cryptoapi::rules().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "friendly-name-embedded-nul",
            "name-embedded-nul",
            "oid-arc-overflow"
        ]
    );
    for r in cryptoapi::rules() {
        assert!(!r.description.is_empty() && !r.source.is_empty() && r.hresult.0 >> 31 == 1);
    }
}

#[test]
fn scan_json_carries_verdicts_and_the_legacy_display_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("D");
    Command::cargo_bin("certmig")
        .unwrap()
        .args(["gen", "--machines", "1", "--format", "sst", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let out = Command::cargo_bin("certmig")
        .unwrap()
        .arg("scan")
        .arg(&dir)
        .arg("--json")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["files"][0]["certificates"][0];
    assert_eq!(
        c["verdicts"],
        serde_json::json!({"legacy": "ok", "ms09-056": "0x80092024"})
    );
    assert_eq!(c["legacy_display_name"], "SMS Signing Certificate");
    assert_eq!(c["rejections"][0]["rule"], "friendly-name-embedded-nul");
    let human = Command::cargo_bin("certmig")
        .unwrap()
        .arg("scan")
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8(human.stdout).unwrap();
    assert!(
        text.contains(
            "ms09-056 refused by friendly-name-embedded-nul (0x80092024): NUL at code unit 23"
        ),
        "{text}"
    );
}
