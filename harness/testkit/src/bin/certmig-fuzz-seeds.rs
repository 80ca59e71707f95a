//! Writes the seed corpora of the fuzz targets with the library itself:
//! generated stores (every profile and friendly-name defect) as `.sst`,
//! `.reg` (REGEDIT5 and REGEDIT4) and `.blob` bytes, their key provider info
//! values and DER certificates, the adversarial certificates, and a few
//! hand-made edge cases (empty store, context-first store, trailing data, a
//! CRL element, key provider info with parameters).
//!
//! Usage: `certmig-fuzz-seeds [CORPUS_DIR]` (default `fuzz/corpus`); writes
//! `CORPUS_DIR/<target>/<name>` and prints how many files per target. The same
//! build always writes the same bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use certmig_format::key_prov_info::{ProvParam, AT_SIGNATURE};
use certmig_format::reg::{write_reg, RegEncoding};
use certmig_format::registry::RegistryStore;
use certmig_format::{
    ContextKind, Defect, EntryOrder, KeyProvInfo, Property, PropertyId, SerializedElement,
    SerializedStore,
};
use certmig_model::cert::{self, adversarial, DefectChoice, MachineSpec, Profile};

struct Seeds {
    dir: PathBuf,
    count: BTreeMap<&'static str, usize>,
}

impl Seeds {
    fn put(&mut self, targets: &[&'static str], name: &str, bytes: &[u8]) {
        for t in targets {
            let d = self.dir.join(t);
            std::fs::create_dir_all(&d).expect("create corpus directory");
            std::fs::write(d.join(name), bytes).expect("write seed");
            *self.count.entry(t).or_default() += 1;
        }
    }
}

const STORE: &[&str] = &["sst", "fix_pipeline"];
const ELEMENT: &[&str] = &["element", "fix_pipeline"];

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("fuzz/corpus"));
    let mut s = Seeds {
        dir,
        count: BTreeMap::new(),
    };

    let profiles = [
        (Profile::Sccm2007, "sccm2007"),
        (Profile::ModernRsa, "modern-rsa"),
        (Profile::ModernEcdsa, "modern-ecdsa"),
    ];
    for (pi, (profile, pname)) in profiles.into_iter().enumerate() {
        for defect in Defect::ALL {
            let spec = MachineSpec {
                machine: cert::machine_name(pi + 1),
                seed: 1,
                profile,
                defect: DefectChoice::Fixed(defect),
                certs_per_machine: 2,
                bulk: false,
            };
            let certs = cert::generate_machine(&spec).expect("generate certificates");
            let elements: Vec<_> = certs.iter().map(|c| c.element()).collect();
            let tag = format!("{pname}-{defect}");

            let store = SerializedStore::new(elements.clone());
            s.put(STORE, &format!("{tag}.sst"), &store.to_bytes());
            let registry = RegistryStore::from_elements("SMS", elements.clone());
            if defect == Defect::DoubledTerminator || profile == Profile::Sccm2007 {
                s.put(
                    &["reg"],
                    &format!("{tag}.reg"),
                    &write_reg(&registry, RegEncoding::Regedit5),
                );
            }
            for (i, c) in certs.iter().enumerate() {
                s.put(ELEMENT, &format!("{tag}-{i}.blob"), &c.element().to_bytes());
                s.put(
                    &["key_prov_info"],
                    &format!("{tag}-{i}.kpi"),
                    &c.key_prov_info.encode(),
                );
                if defect == Defect::Clean {
                    s.put(&["der"], &format!("{pname}-{i}.der"), &c.der);
                }
            }
            if defect == Defect::DoubledTerminator {
                // The registry provider adds the SHA-1 property (3) to each Blob.
                for (i, c) in registry.certificates.iter().enumerate() {
                    s.put(
                        ELEMENT,
                        &format!("{tag}-{i}-registry.blob"),
                        &c.element.to_bytes(),
                    );
                }
                s.put(
                    &["reg"],
                    &format!("{tag}-regedit4.reg"),
                    &write_reg(&registry, RegEncoding::Regedit4),
                );
                // Properties after the certificate: what Wine's reader expects.
                let mut cf = store.clone();
                for e in &mut cf.elements {
                    e.order = EntryOrder::ContextFirst;
                }
                s.put(STORE, &format!("{tag}-context-first.sst"), &cf.to_bytes());
                s.put(
                    ELEMENT,
                    &format!("{tag}-context-first.blob"),
                    &cf.elements[0].to_bytes(),
                );
                // Data after the end marker (lenient mode ignores it).
                let mut trailing = store.to_bytes();
                trailing.extend_from_slice(b"trailing");
                s.put(STORE, &format!("{tag}-trailing.sst"), &trailing);
            }
        }
    }

    // The adversarial certificates of the other two MS09-056 rules.
    for (name, der) in [
        (
            "cve-2009-2510-subject-nul",
            adversarial::subject_cn_with_embedded_nul(1),
        ),
        ("cve-2009-2511-oid-arc", adversarial::oid_arc_overflow(1)),
    ] {
        let der = der.expect("adversarial certificate");
        s.put(&["der"], &format!("{name}.der"), &der);
        let e = adversarial::element(der);
        s.put(ELEMENT, &format!("{name}.blob"), &e.to_bytes());
        s.put(
            STORE,
            &format!("{name}.sst"),
            &SerializedStore::new(vec![e]).to_bytes(),
        );
    }

    // Small hand-made stores and elements.
    s.put(STORE, "empty-file.sst", b"");
    s.put(
        STORE,
        "empty-store.sst",
        &SerializedStore::new(Vec::new()).to_bytes(),
    );
    let small = |kind: ContextKind, name: Defect| SerializedElement {
        properties: vec![
            Property::new(PropertyId::FriendlyName, name.apply("SMS Signing")),
            Property::new(PropertyId::Other(0x1234), vec![1, 2, 3]),
        ],
        kind,
        der: vec![0x30, 0x03, 0x02, 0x01, 0x05].into(),
        order: EntryOrder::PropertiesFirst,
    };
    let tiny = SerializedStore::new(vec![
        small(ContextKind::Certificate, Defect::EmbeddedNul),
        small(ContextKind::Crl, Defect::Clean),
        small(ContextKind::Ctl, Defect::OnlyNuls),
    ]);
    s.put(STORE, "tiny-cert-crl-ctl.sst", &tiny.to_bytes());
    for (i, e) in tiny.elements.iter().enumerate() {
        s.put(ELEMENT, &format!("tiny-{i}.blob"), &e.to_bytes());
    }
    let tiny_reg = RegistryStore::from_elements(
        "SMS",
        vec![small(ContextKind::Certificate, Defect::DoubledTerminator)],
    );
    s.put(
        &["reg"],
        "tiny.reg",
        &write_reg(&tiny_reg, RegEncoding::Regedit5),
    );
    s.put(
        &["reg"],
        "tiny-regedit4.reg",
        &write_reg(&tiny_reg, RegEncoding::Regedit4),
    );
    s.put(
        &["reg"],
        "comments-and-other-values.reg",
        b"REGEDIT4\n\n; comment\n[HKEY_CURRENT_USER\\Other]\n\"Name\"=\"value\"\n\"Bin\"=hex:01,02,\\\n  03\n@=dword:00000001\n[-HKEY_LOCAL_MACHINE\\Gone]\n",
    );
    let with_params = KeyProvInfo {
        container: Some("Container".into()),
        provider: None,
        prov_type: 24,
        flags: 0,
        params: vec![
            ProvParam {
                param: 7,
                flags: 1,
                data: vec![1, 2, 3],
            },
            ProvParam {
                param: 8,
                flags: 0,
                data: vec![],
            },
        ],
        key_spec: AT_SIGNATURE,
    };
    s.put(&["key_prov_info"], "params.kpi", &with_params.encode());
    s.put(
        &["key_prov_info"],
        "empty-strings.kpi",
        &KeyProvInfo {
            container: Some(String::new()),
            provider: Some(String::new()),
            ..with_params.clone()
        }
        .encode(),
    );

    for (t, n) in &s.count {
        println!("{:<14} {n:>3} seeds in {}", t, s.dir.join(t).display());
    }
}
