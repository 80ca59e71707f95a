//! The cert layer: determinism, independent checks with openssl, defects,
//! profiles, adversarial certificates, bulk mode.

use certmig::cert::{self, adversarial, DefectChoice, MachineSpec, Profile, Role};
use certmig::format::{friendly_name, Defect, FriendlyNameShape, Thumbprint};
use openssl::hash::MessageDigest;
use openssl::x509::X509;

fn spec(profile: Profile, defect: Defect) -> MachineSpec {
    MachineSpec {
        machine: "PC0042".into(),
        seed: 7,
        profile,
        defect: DefectChoice::Fixed(defect),
        certs_per_machine: 2,
        bulk: false,
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    for profile in [Profile::Sccm2007, Profile::ModernRsa, Profile::ModernEcdsa] {
        let a = cert::generate_machine(&spec(profile, Defect::DoubledTerminator)).unwrap();
        let b = cert::generate_machine(&spec(profile, Defect::DoubledTerminator)).unwrap();
        assert_eq!(a, b, "{profile:?}");
        let mut other = spec(profile, Defect::DoubledTerminator);
        other.seed = 8;
        let c = cert::generate_machine(&other).unwrap();
        assert_ne!(a[0].der, c[0].der, "{profile:?}");
    }
}

#[test]
fn sccm2007_certificates_are_what_a_configmgr_2007_client_makes() {
    let certs =
        cert::generate_machine(&spec(Profile::Sccm2007, Defect::DoubledTerminator)).unwrap();
    assert_eq!(certs.len(), 2);
    for c in &certs {
        let x = X509::from_der(&c.der).unwrap();
        // Thumbprint computed independently by openssl.
        let digest = x.digest(MessageDigest::sha1()).unwrap();
        assert_eq!(&digest[..], &Thumbprint::of(&c.der).0[..]);
        assert_eq!(
            x.signature_algorithm().object().to_string(),
            "sha1WithRSAEncryption"
        );
        assert_eq!(x.public_key().unwrap().bits(), 2048);
        let subject: Vec<String> = x
            .subject_name()
            .entries()
            .map(|e| String::from_utf8(e.data().as_slice().to_vec()).unwrap())
            .collect();
        assert_eq!(subject, ["SMS", "PC0042"]);
        assert!(cert::verify_signature(&c.der));
        assert!(c.signature_valid);
        assert_eq!(
            friendly_name::classify(&c.friendly_name),
            FriendlyNameShape::DoubledTerminator
        );
        assert!(
            x.not_after().to_string().contains("2109")
                || x.not_after().to_string().contains("2110")
        );
    }
    // Key usage: signing vs encryption, and the key link of each.
    let text = |c: &cert::GeneratedCertificate| {
        String::from_utf8(X509::from_der(&c.der).unwrap().to_text().unwrap()).unwrap()
    };
    assert!(text(&certs[0]).contains("Digital Signature"));
    assert!(text(&certs[1]).contains("Key Encipherment, Data Encipherment"));
    assert_eq!(certs[0].role, Role::Signing);
    assert_eq!(certs[0].key_prov_info.key_spec, 2);
    assert_eq!(certs[1].key_prov_info.key_spec, 1);
    assert_eq!(
        certs[0].key_prov_info.container.as_deref(),
        Some("SMS_PC0042_Signing")
    );
    assert_eq!(certs[0].key_prov_info.flags, 0x20);
    assert_eq!(certs[0].key_prov_info.encode().len(), 160);
    // Element order: friendly name, key provider info, certificate.
    assert_eq!(certs[0].element().property_ids(), [11, 2]);
}

#[test]
fn modern_profiles_are_rcgen_sha256() {
    for (profile, alg) in [
        (Profile::ModernRsa, "sha256WithRSAEncryption"),
        (Profile::ModernEcdsa, "ecdsa-with-SHA256"),
    ] {
        let certs = cert::generate_machine(&spec(profile, Defect::Clean)).unwrap();
        for c in &certs {
            let x = X509::from_der(&c.der).unwrap();
            assert_eq!(x.signature_algorithm().object().to_string(), alg);
            assert!(cert::verify_signature(&c.der), "{profile:?}");
            let cns: Vec<String> = x
                .subject_name()
                .entries()
                .map(|e| String::from_utf8(e.data().as_slice().to_vec()).unwrap())
                .collect();
            assert_eq!(cns, ["SMS", "PC0042"]);
        }
    }
}

#[test]
fn every_defect_gives_its_shape_and_mixed_is_seeded() {
    for d in Defect::ALL {
        let certs = cert::generate_machine(&spec(Profile::Sccm2007, d)).unwrap();
        for c in certs {
            assert_eq!(friendly_name::classify(&c.friendly_name), d.shape());
            assert_eq!(
                friendly_name::displayed(&c.friendly_name).is_empty(),
                d == Defect::OnlyNuls
            );
        }
    }
    let mut mixed = spec(Profile::Sccm2007, Defect::Clean);
    mixed.defect = DefectChoice::Mixed;
    mixed.certs_per_machine = 40;
    mixed.bulk = true;
    let a: Vec<Defect> = cert::generate_machine(&mixed)
        .unwrap()
        .iter()
        .map(|c| c.defect)
        .collect();
    let b: Vec<Defect> = cert::generate_machine(&mixed)
        .unwrap()
        .iter()
        .map(|c| c.defect)
        .collect();
    assert_eq!(a, b);
    for d in Defect::ALL {
        assert!(a.contains(&d), "mixed never chose {d}");
    }
}

#[test]
fn bulk_certificates_are_unique_parseable_and_do_not_verify() {
    let mut s = spec(Profile::Sccm2007, Defect::DoubledTerminator);
    s.bulk = true;
    s.certs_per_machine = 50;
    let certs = cert::generate_machine(&s).unwrap();
    let mut thumbs: Vec<_> = certs.iter().map(|c| c.thumbprint()).collect();
    thumbs.sort();
    thumbs.dedup();
    assert_eq!(thumbs.len(), 50);
    for c in &certs {
        assert!(!c.signature_valid);
        assert!(!cert::verify_signature(&c.der));
        let x = X509::from_der(&c.der).unwrap();
        let cns: Vec<String> = x
            .subject_name()
            .entries()
            .map(|e| String::from_utf8(e.data().as_slice().to_vec()).unwrap())
            .collect();
        assert_eq!(cns, ["SMS", "PC0042"]);
    }
}

#[test]
fn adversarial_certificates_are_real_der_with_the_nul_and_the_big_arc() {
    let der = adversarial::subject_cn_with_embedded_nul(1).unwrap();
    let x = X509::from_der(&der).unwrap();
    assert!(cert::verify_signature(&der));
    let cn = x
        .subject_name()
        .entries()
        .next()
        .unwrap()
        .data()
        .as_slice()
        .to_vec();
    assert_eq!(cn, adversarial::CN_WITH_NUL.as_bytes());

    let der = adversarial::oid_arc_overflow(1).unwrap();
    assert!(cert::verify_signature(&der));
    // 2.5.4.4294967299: 55 04 then base-128 of 2^32 + 3 = 90 80 80 80 03.
    let oid = [0x06, 0x07, 0x55, 0x04, 0x90, 0x80, 0x80, 0x80, 0x03];
    assert!(
        der.windows(oid.len()).any(|w| w == oid),
        "the overflowing OID is encoded"
    );
}
