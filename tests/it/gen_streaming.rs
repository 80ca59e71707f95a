//! `certmig gen` streams its files (certificate by certificate, in ordered
//! parallel batches) and must write the same bytes as the whole-store path it
//! replaced: every certificate of a machine made with `generate_machine`, then
//! `SerializedStore::to_bytes`, `reg::write_reg` over
//! `RegistryStore::from_elements`, and one `SerializedElement::to_bytes` per
//! `.blob`. These tests build that reference in memory and compare files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use certmig::cert::{self, DefectChoice, MachineGenerator, MachineSpec, Profile};
use certmig::format::reg::{self, RegEncoder, RegEncoding};
use certmig::format::registry::RegistryStore;
use certmig::format::{Defect, FileFormat, SerializedStore};
use certmig::generate::{self, generate, generate_with, GenOptions};

/// Every file of machine `index`, as the whole-store path wrote it.
fn reference(opts: &GenOptions, index: usize) -> BTreeMap<PathBuf, Vec<u8>> {
    let machine = cert::machine_name(index);
    let spec = MachineSpec {
        machine: machine.clone(),
        seed: opts.seed,
        profile: opts.profile,
        defect: opts.defect,
        certs_per_machine: opts.certs_per_machine,
        bulk: opts.bulk,
    };
    let certs = cert::generate_machine(&spec).unwrap();
    let elements: Vec<_> = certs.iter().map(|c| c.element()).collect();
    let registry = RegistryStore::from_elements("SMS", elements.clone());
    let mut files = BTreeMap::new();
    for f in &opts.formats {
        match f {
            FileFormat::Sst => {
                files.insert(
                    PathBuf::from(format!("{machine}.sst")),
                    SerializedStore::new(elements.clone()).to_bytes(),
                );
            }
            FileFormat::Reg => {
                files.insert(
                    PathBuf::from(format!("{machine}.reg")),
                    reg::write_reg(&registry, RegEncoding::Regedit5),
                );
            }
            FileFormat::Blob | FileFormat::BlobDir => {
                for c in &registry.certificates {
                    files.insert(
                        Path::new(&machine).join(format!("{}.blob", c.thumbprint.to_hex())),
                        c.element.to_bytes(),
                    );
                }
            }
        }
    }
    files
}

fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_owned(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn options(out: &Path) -> GenOptions {
    GenOptions {
        machines: 2,
        seed: 1,
        profile: Profile::Sccm2007,
        defect: DefectChoice::Fixed(Defect::DoubledTerminator),
        formats: vec![FileFormat::Sst, FileFormat::Reg, FileFormat::Blob],
        certs_per_machine: 2,
        bulk: false,
        out: out.to_owned(),
        overwrite: false,
    }
}

/// Generates `opts` (streaming) and compares every file with the reference.
fn assert_same_as_whole_store_path(opts: &GenOptions) {
    let report = generate(opts).unwrap();
    let mut expected = BTreeMap::new();
    for i in 1..=opts.machines {
        expected.extend(reference(opts, i));
    }
    let written = tree(&opts.out);
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{opts:?}"
    );
    for (path, bytes) in &expected {
        assert!(
            written[path] == *bytes,
            "{} differs for {opts:?}",
            path.display()
        );
    }
    // The report lists every file written (a repeated format twice), and counts them.
    let listed: Vec<PathBuf> = report
        .machines
        .iter()
        .flat_map(|m| {
            m.files
                .iter()
                .map(|f| f.strip_prefix(&opts.out).unwrap().to_owned())
        })
        .collect();
    assert_eq!(report.file_count, listed.len());
    let distinct: std::collections::BTreeSet<&PathBuf> = listed.iter().collect();
    assert_eq!(distinct, written.keys().collect());
    assert_eq!(report.machine_count, opts.machines);
    assert_eq!(
        report.certificate_count,
        opts.machines * opts.certs_per_machine
    );
}

#[test]
fn streamed_generation_writes_the_whole_store_bytes_for_seeds_profiles_and_defects() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            1,
            Profile::Sccm2007,
            DefectChoice::Fixed(Defect::DoubledTerminator),
            false,
            2,
        ),
        (7, Profile::Sccm2007, DefectChoice::Mixed, false, 3),
        (
            2,
            Profile::ModernRsa,
            DefectChoice::Fixed(Defect::EmbeddedNul),
            false,
            2,
        ),
        (
            3,
            Profile::ModernEcdsa,
            DefectChoice::Fixed(Defect::Clean),
            false,
            2,
        ),
        (
            4,
            Profile::Sccm2007,
            DefectChoice::Fixed(Defect::OnlyNuls),
            true,
            5,
        ),
        (5, Profile::ModernEcdsa, DefectChoice::Mixed, true, 9),
        (6, Profile::ModernRsa, DefectChoice::Mixed, true, 4),
    ];
    for (k, (seed, profile, defect, bulk, certs)) in cases.into_iter().enumerate() {
        let opts = GenOptions {
            seed,
            profile,
            defect,
            bulk,
            certs_per_machine: certs,
            ..options(&tmp.path().join(k.to_string()))
        };
        assert_same_as_whole_store_path(&opts);
    }
}

#[test]
fn streamed_generation_matches_across_batches_and_the_reg_export_s_second_pass() {
    // More certificates than a batch, and than KEEP_FOR_REG: the .sst spans
    // several batches and the .reg export makes its certificates again.
    let n = generate::KEEP_FOR_REG + generate::BATCH + generate::CHUNK / 2 + 3;
    let tmp = tempfile::tempdir().unwrap();
    for (k, defect) in [DefectChoice::Mixed, DefectChoice::Fixed(Defect::Clean)]
        .into_iter()
        .enumerate()
    {
        let opts = GenOptions {
            machines: 1,
            seed: 11 + k as u64,
            defect,
            bulk: true,
            certs_per_machine: n,
            formats: vec![FileFormat::Reg, FileFormat::Sst],
            ..options(&tmp.path().join(k.to_string()))
        };
        assert_same_as_whole_store_path(&opts);
    }
}

#[test]
fn each_format_alone_and_repeated_formats_match() {
    let tmp = tempfile::tempdir().unwrap();
    let formats = [
        vec![FileFormat::Sst],
        vec![FileFormat::Reg],
        vec![FileFormat::BlobDir],
        vec![FileFormat::Blob, FileFormat::Sst, FileFormat::Blob],
    ];
    for (k, formats) in formats.into_iter().enumerate() {
        let opts = GenOptions {
            formats,
            bulk: true,
            certs_per_machine: 6,
            machines: 3,
            ..options(&tmp.path().join(k.to_string()))
        };
        assert_same_as_whole_store_path(&opts);
    }
}

#[test]
fn the_summary_report_counts_without_listing() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = GenOptions {
        bulk: true,
        certs_per_machine: 4,
        machines: 3,
        ..options(&tmp.path().join("D"))
    };
    let r = generate_with(&opts, false).unwrap();
    assert!(r.machines.is_empty());
    assert_eq!((r.machine_count, r.certificate_count), (3, 12));
    // .sst, .reg and 4 .blob files per machine.
    assert_eq!(r.file_count, 3 * 6);
    assert_eq!(tree(&opts.out).len(), 3 * 6);
    // The JSON shape is unchanged: no counts in it.
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["machines", "out"]
    );
}

#[test]
fn refuses_to_overwrite_a_blob_file_before_writing_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("D");
    let opts = GenOptions {
        formats: vec![FileFormat::Sst, FileFormat::Blob],
        bulk: true,
        ..options(&out)
    };
    let first = generate(&opts).unwrap();
    let blob = first.machines[1].files[2].clone();
    // Only PC0002's second .blob file is there.
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    std::fs::write(&blob, b"user data").unwrap();
    let e = generate(&opts).unwrap_err().to_string();
    assert!(e.contains(&blob.display().to_string()), "{e}");
    assert_eq!(std::fs::read(&blob).unwrap(), b"user data");
    assert!(!out.join("PC0001.sst").exists());
    generate(&GenOptions {
        overwrite: true,
        ..opts
    })
    .unwrap();
    assert_ne!(std::fs::read(&blob).unwrap(), b"user data");
}

#[test]
fn the_machine_generator_gives_generate_machine_s_elements() {
    for bulk in [false, true] {
        let spec = MachineSpec {
            machine: "PC0042".into(),
            seed: 9,
            profile: Profile::Sccm2007,
            defect: DefectChoice::Mixed,
            certs_per_machine: 6,
            bulk,
        };
        let certs = cert::generate_machine(&spec).unwrap();
        let g = MachineGenerator::new(&spec).unwrap();
        for (i, c) in certs.iter().enumerate() {
            let (mut plain, mut registry) = (Vec::new(), Vec::new());
            let info = g
                .write(i, Some(&mut plain), Some(&mut registry), false)
                .unwrap();
            let mut e = c.element();
            assert_eq!(plain, e.to_bytes());
            certmig::format::registry::add_sha1_property(&mut e);
            assert_eq!(registry, e.to_bytes());
            assert_eq!(info.thumbprint, Some(c.thumbprint()));
            assert_eq!((info.role, info.defect), (c.role, c.defect));
            assert_eq!(info.signature_valid, !bulk);
            // Alone, in any order.
            let mut alone = Vec::new();
            let info = g.write(i, Some(&mut alone), None, false).unwrap();
            assert_eq!(alone, plain);
            assert_eq!(info.thumbprint, None);
        }
    }
}

#[test]
fn the_reg_encoder_writes_write_reg_s_bytes_in_both_dialects() {
    let spec = MachineSpec {
        certs_per_machine: 5,
        bulk: true,
        ..MachineSpec::sccm("PC0007", 3, Defect::EmbeddedNul)
    };
    let elements: Vec<_> = cert::generate_machine(&spec)
        .unwrap()
        .iter()
        .map(|c| c.element())
        .collect();
    for name in ["SMS", "My"] {
        for count in [0, 1, 5] {
            let store = RegistryStore::from_elements(name, elements[..count].to_vec());
            for encoding in [RegEncoding::Regedit5, RegEncoding::Regedit4] {
                let enc = RegEncoder::new(name, encoding);
                let mut out = Vec::new();
                enc.header(&mut out);
                for c in &store.certificates {
                    enc.certificate(&c.thumbprint, &c.element.to_bytes(), &mut out);
                }
                enc.footer(&mut out);
                assert!(
                    out == reg::write_reg(&store, encoding),
                    "{name} {count} {encoding:?}"
                );
            }
        }
    }
}
