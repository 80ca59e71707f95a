//! docs/BEHAVIOR.md claims C1, C2, C3 and C10 at the rule level, the two
//! CVE rules of MS09-056 where they act (name matching and display; the
//! certificates import), unsigned and undecodable certificates: generate,
//! import under each rule set, check the verdict, what CryptoAPI displays
//! and what it matches.

use certmig::cert::{self, adversarial, MachineSpec};
use certmig::cmtrace;
use certmig::cryptoapi::{self, Hresult, NameKind, Offence, RuleSet, Verdict};
use certmig::format::{self, Defect, FriendlyNameShape, ReadMode, SerializedStore};

use crate::support;

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
        assert!(!r.rule.modelling_choice);
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
    // Latent: the same bytes still fail the moment 974571 arrives, on the
    // friendly name alone.
    let r = cryptoapi::import_all(&imported.elements, RuleSet::Ms09056).unwrap_err();
    assert_eq!(r.rule.id.as_str(), "friendly-name-embedded-nul");
    assert_eq!(r.hresult, Hresult(0x8009_2024));
    assert_eq!(imported.elements, certs);
}

/// The ids of a certificate's name findings, in order.
fn finding_ids(der: &[u8]) -> Vec<&'static str> {
    cryptoapi::name_findings(der)
        .iter()
        .map(|f| f.rule.id.as_str())
        .collect()
}

#[test]
fn cve_2009_2510_a_nul_in_issuer_and_subject_imports_and_ms09_056_fixes_display_and_matching() {
    let e = adversarial::element(adversarial::subject_cn_with_embedded_nul(1).unwrap());
    // Imported under both rule sets (Wine crypt32 tests, cert.c testAddCert).
    for rules in RuleSet::ALL {
        assert_eq!(cryptoapi::verdict(&e, rules), Verdict::Ok, "{rules}");
    }
    assert_eq!(cryptoapi::import_all([&e], RuleSet::Ms09056), Ok(1));
    // Display: legacy shows the value up to the NUL, ms09-056 all of it.
    let legacy = cryptoapi::import(&e, RuleSet::Legacy).unwrap();
    let fixed = cryptoapi::import(&e, RuleSet::Ms09056).unwrap();
    assert_eq!(legacy.display_subject, "CN=www.bank.example");
    assert_eq!(fixed.display_subject, "CN=www.bank.example\\0.evil.example");
    assert_eq!(
        cryptoapi::display_issuer(&e.der, RuleSet::Legacy),
        "CN=www.bank.example"
    );
    assert_eq!(
        cryptoapi::display_issuer(&e.der, RuleSet::Ms09056),
        "CN=www.bank.example\\0.evil.example"
    );
    // Matching: legacy is spoofed, ms09-056 matches nothing against it.
    let der = &e.der;
    assert!(cryptoapi::subject_matches(
        der,
        "www.bank.example",
        RuleSet::Legacy
    ));
    assert!(cryptoapi::subject_matches(
        der,
        "WWW.Bank.Example",
        RuleSet::Legacy
    ));
    assert!(!cryptoapi::subject_matches(
        der,
        "www.bank.example",
        RuleSet::Ms09056
    ));
    for rules in RuleSet::ALL {
        assert!(!cryptoapi::subject_matches(
            der,
            adversarial::CN_WITH_NUL,
            rules
        ));
        assert!(!cryptoapi::subject_matches(der, ".evil.example", rules));
    }
    // Reported where it acts: issuer first, then subject; matching, then display.
    assert_eq!(
        finding_ids(der),
        [
            "name-embedded-nul",
            "name-embedded-nul-display",
            "name-embedded-nul",
            "name-embedded-nul-display"
        ]
    );
    let findings = cryptoapi::name_findings(der);
    assert!(!findings[0].rule.modelling_choice && findings[1].rule.modelling_choice);
    assert_eq!(findings[0].legacy, "compared as `www.bank.example`");
    assert_eq!(
        findings[1].ms09_056,
        "shown as `CN=www.bank.example\\0.evil.example`"
    );
    for (f, kind) in findings.iter().zip([
        NameKind::Issuer,
        NameKind::Issuer,
        NameKind::Subject,
        NameKind::Subject,
    ]) {
        match &f.offence {
            Offence::NameValue {
                name,
                attribute,
                char_index,
                der_offset,
            } => {
                assert_eq!((*name, attribute.as_str(), *char_index), (kind, "CN", 16));
                assert_eq!(e.der[*der_offset], 0);
                assert_eq!(&e.der[der_offset - 16..*der_offset], b"www.bank.example");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn cve_2009_2511_an_overflowing_arc_imports_reads_as_cn_under_legacy_and_not_under_ms09_056() {
    let e = adversarial::element(adversarial::oid_arc_overflow(1).unwrap());
    for rules in RuleSet::ALL {
        assert_eq!(cryptoapi::verdict(&e, rules), Verdict::Ok, "{rules}");
    }
    let legacy = cryptoapi::import(&e, RuleSet::Legacy).unwrap();
    let fixed = cryptoapi::import(&e, RuleSet::Ms09056).unwrap();
    assert_eq!(
        legacy.display_subject,
        "O=Evil Example Ltd, CN=www.bank.example"
    );
    assert_eq!(
        fixed.display_subject,
        "O=Evil Example Ltd, 2.5.4.4294967299=www.bank.example"
    );
    assert_eq!(fixed.display_subject, cryptoapi::exact_subject(&e.der));
    assert!(cryptoapi::subject_matches(
        &e.der,
        adversarial::SPOOFED_HOST,
        RuleSet::Legacy
    ));
    assert!(!cryptoapi::subject_matches(
        &e.der,
        adversarial::SPOOFED_HOST,
        RuleSet::Ms09056
    ));
    // Self-signed: the issuer carries the same attribute, and comes first.
    assert_eq!(
        finding_ids(&e.der),
        [
            "oid-arc-overflow",
            "oid-arc-overflow-display",
            "oid-arc-overflow",
            "oid-arc-overflow-display"
        ]
    );
    let findings = cryptoapi::name_findings(&e.der);
    assert_eq!(findings[0].legacy, "type read as 2.5.4.3 (CN)");
    assert_eq!(findings[0].ms09_056, "type read as 2.5.4.4294967299");
    assert_eq!(findings[1].legacy, "shown as `CN=www.bank.example`");
    assert_eq!(
        findings[1].ms09_056,
        "shown as `2.5.4.4294967299=www.bank.example`"
    );
    assert_eq!(findings[0].offence, findings[1].offence);
    assert_eq!(findings[2].offence, findings[3].offence);
    assert_ne!(findings[0].offence, findings[2].offence);
    for f in [&findings[0], &findings[2]] {
        match &f.offence {
            Offence::OidArc {
                oid,
                arc_index,
                arc,
                der_offset,
            } => {
                assert_eq!(
                    (oid.as_str(), *arc_index, arc.as_str()),
                    ("2.5.4.4294967299", 3, "4294967299")
                );
                assert_eq!(
                    &e.der[*der_offset..der_offset + 5],
                    &[0x90, 0x80, 0x80, 0x80, 0x03]
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_clean_certificate_matches_its_cn_under_both_rule_sets_and_has_no_name_findings() {
    let e = adversarial::element(adversarial::oid_arc_overflow(1).unwrap());
    // The plain O attribute is no CN under either rule set.
    for rules in RuleSet::ALL {
        assert!(!cryptoapi::subject_matches(
            &e.der,
            "Evil Example Ltd",
            rules
        ));
    }
    for e in unhotfixed_client_certificates() {
        assert!(cryptoapi::name_findings(&e.der).is_empty());
        let subject = cryptoapi::exact_subject(&e.der);
        let cn = subject
            .split(", ")
            .find_map(|a| a.strip_prefix("CN="))
            .unwrap_or_else(|| panic!("{subject}"));
        for rules in RuleSet::ALL {
            assert!(cryptoapi::subject_matches(&e.der, cn, rules), "{rules}");
            assert_eq!(cryptoapi::display_subject(&e.der, rules), subject);
        }
    }
}

#[test]
fn an_unsigned_certificate_imports_under_both_rule_sets() {
    // Wine crypt32 tests (store.c testMemStore, cert.c testAddCert): a bare
    // TBSCertificate is added to a store.
    let signed = adversarial::subject_cn_with_embedded_nul(1).unwrap();
    let mut ders = vec![adversarial::unsigned(&signed).unwrap()];
    for e in unhotfixed_client_certificates() {
        ders.push(adversarial::unsigned(&e.der).unwrap());
    }
    for der in &ders {
        let view = cryptoapi::der::CertificateView::parse(der).unwrap();
        assert!(!view.signed);
        let clean = adversarial::element(der.clone());
        for rules in RuleSet::ALL {
            assert_eq!(cryptoapi::verdict(&clean, rules), Verdict::Ok, "{rules}");
            assert!(cryptoapi::import(&clean, rules).is_ok());
        }
    }
    // The names read the same as the signed certificate's.
    assert!(
        cryptoapi::der::CertificateView::parse(&signed)
            .unwrap()
            .signed
    );
    assert_eq!(
        cryptoapi::exact_subject(&ders[0]),
        cryptoapi::exact_subject(&signed)
    );
    assert_eq!(finding_ids(&ders[0]), finding_ids(&signed));
    // The friendly-name rule still applies to an unsigned certificate.
    let bad = format::SerializedElement::certificate(
        ders[1].clone(),
        unhotfixed_client_certificates()[0].properties.clone(),
    );
    assert_eq!(cryptoapi::verdict(&bad, RuleSet::Legacy), Verdict::Ok);
    assert_eq!(
        cryptoapi::verdict(&bad, RuleSet::Ms09056),
        Verdict::Rejected(Hresult::CRYPT_E_NOT_CHAR_STRING)
    );
}

#[test]
fn der_that_cannot_be_decoded_is_refused_under_both_rule_sets() {
    // Wine crypt32 tests (store.c testMemStore): `30 00`, and a CRL given as
    // a certificate, are refused by CertAddEncodedCertificateToStore.
    let empty = adversarial::element(vec![0x30, 0x00]);
    // SEQUENCE { SEQUENCE { SEQUENCE { OID 2.5.4.3 } } }: a CRL's shape.
    let crl_like = adversarial::element(vec![
        0x30, 0x09, 0x30, 0x07, 0x30, 0x05, 0x06, 0x03, 0x55, 0x04, 0x03,
    ]);
    for e in [&empty, &crl_like] {
        for rules in RuleSet::ALL {
            let r = cryptoapi::import(e, rules).unwrap_err();
            assert_eq!(r.rule.id.as_str(), "malformed-certificate");
            assert_eq!(r.hresult, Hresult::CRYPT_E_ASN1_CORRUPT);
            assert!(r.rule.modelling_choice, "the HRESULT is certmig's choice");
            assert!(matches!(*r.offence, Offence::Der { .. }));
        }
        assert!(cryptoapi::name_findings(&e.der).is_empty());
    }
}

#[test]
fn every_rule_has_an_id_kind_description_source_and_modelling_flag() {
    let ids: Vec<_> = cryptoapi::rules()
        .iter()
        .map(|r| (r.id.as_str(), r.kind.as_str(), r.modelling_choice))
        .collect();
    assert_eq!(
        ids,
        [
            ("friendly-name-embedded-nul", "import", false),
            ("malformed-certificate", "import", true),
            ("name-embedded-nul", "matching", false),
            ("name-embedded-nul-display", "display", true),
            // The arc read modulo 2^32 is certmig's reading of the overflow.
            ("oid-arc-overflow", "matching", true),
            ("oid-arc-overflow-display", "display", true),
        ]
    );
    for r in cryptoapi::rules() {
        assert!(!r.description.is_empty() && !r.source.is_empty(), "{r:?}");
        // Only import rules refuse, so only they have an HRESULT.
        assert_eq!(
            r.hresult.is_some(),
            r.kind == cryptoapi::RuleKind::Import,
            "{r:?}"
        );
        assert!(r.hresult.is_none_or(|h| h.0 >> 31 == 1));
        assert!(
            !r.modelling_choice || r.source.contains("modelling choice"),
            "{r:?}"
        );
    }
    let import: Vec<_> = cryptoapi::import_rules().iter().map(|r| r.id).collect();
    let names: Vec<_> = cryptoapi::name_rules().iter().map(|r| r.id).collect();
    assert_eq!(
        [import, names].concat(),
        cryptoapi::rules().iter().map(|r| r.id).collect::<Vec<_>>()
    );
}

#[test]
fn scan_json_carries_verdicts_and_the_legacy_display_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("D");
    support::gen(&dir, &["--machines", "1", "--format", "sst"]);
    let out = support::certmig()
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
    assert_eq!(c["rejections"][0]["modelling_choice"], false);
    assert_eq!(c["names"], serde_json::json!([]));
    let human = support::certmig().arg("scan").arg(&dir).output().unwrap();
    let text = String::from_utf8(human.stdout).unwrap();
    assert!(
        text.contains(
            "ms09-056 refused by friendly-name-embedded-nul (0x80092024): NUL at code unit 23"
        ),
        "{text}"
    );
}

#[test]
fn scan_reports_a_spoofing_certificate_as_importing_with_name_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("evil.sst");
    let e = adversarial::element(adversarial::subject_cn_with_embedded_nul(5).unwrap());
    std::fs::write(&path, SerializedStore::new(vec![e]).to_bytes()).unwrap();
    let out = support::certmig()
        .arg("scan")
        .arg(&path)
        .arg("--json")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["files"][0]["certificates"][0];
    assert_eq!(
        c["verdicts"],
        serde_json::json!({"legacy": "ok", "ms09-056": "ok"})
    );
    assert_eq!(c["rejections"], serde_json::json!([]));
    assert_eq!(c["subject"], "CN=www.bank.example\\0.evil.example");
    let names = c["names"].as_array().unwrap();
    assert_eq!(names.len(), 4);
    assert_eq!(names[0]["rule"], "name-embedded-nul");
    assert_eq!(names[0]["kind"], "matching");
    assert_eq!(names[0]["modelling_choice"], false);
    assert_eq!(names[0]["legacy"], "compared as `www.bank.example`");
    assert_eq!(names[1]["rule"], "name-embedded-nul-display");
    assert_eq!(names[1]["modelling_choice"], true);
    assert_eq!(names[1]["legacy"], "shown as `CN=www.bank.example`");
    assert!(names[2]["where"].as_str().unwrap().contains("Subject CN"));
    let human = support::certmig().arg("scan").arg(&path).output().unwrap();
    let text = String::from_utf8(human.stdout).unwrap();
    assert!(
        text.contains("import         legacy: ok    ms09-056: ok"),
        "{text}"
    );
    assert!(
        text.contains("name           name-embedded-nul (matching): NUL at character 16"),
        "{text}"
    );
    assert!(
        text.contains("name-embedded-nul-display (display, modelling choice)"),
        "{text}"
    );
}
