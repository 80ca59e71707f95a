//! The reference CCMCertFix: policies, invariants (proptest), safe writing,
//! and fault injection at every write step.

use std::collections::BTreeMap;
use std::path::Path;

use certmig::cert::{self, DefectChoice, MachineSpec, Profile};
use certmig::cmtrace::LogClock;
use certmig::cryptoapi::{self, RuleSet};
use certmig::fix::write::{FailingSteps, Step};
use certmig::fix::{
    self, check_repair, repair_friendly_name, FixOptions, Fixer, NameRepair, Policy, ReferenceFixer,
};
use certmig::format::friendly_name::encode_utf16;
use certmig::format::reg::{write_reg, RegEncoding};
use certmig::format::registry::RegistryStore;
use certmig::format::{Defect, Property, PropertyId, ReadMode, SerializedElement, SerializedStore};
use proptest::prelude::*;

use crate::support;

fn units(us: &[u16]) -> Vec<u8> {
    us.iter().flat_map(|u| u.to_le_bytes()).collect()
}

#[test]
fn both_policies_on_every_shape() {
    let t = "SMS Signing Certificate";
    let clean = Defect::Clean.apply(t);
    for policy in [Policy::Truncate, Policy::Strip] {
        assert_eq!(repair_friendly_name(&clean, policy), NameRepair::Unchanged);
        assert_eq!(
            repair_friendly_name(&encode_utf16(t), policy),
            NameRepair::Unchanged
        );
        assert_eq!(
            repair_friendly_name(&Defect::DoubledTerminator.apply(t), policy),
            NameRepair::Rewritten {
                value: clean.clone(),
                warning: None
            }
        );
        match repair_friendly_name(&Defect::OnlyNuls.apply(t), policy) {
            NameRepair::Rewritten { value, warning } => {
                assert_eq!(value, [0, 0]);
                assert!(warning.unwrap().contains("empty"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            repair_friendly_name(&[0x41, 0, 0], policy),
            NameRepair::Skipped(_)
        ));
    }
    let inside = Defect::EmbeddedNul.apply(t); // "SMS\0Signing Certificate\0"
    assert_eq!(
        repair_friendly_name(&inside, Policy::Truncate),
        NameRepair::Rewritten {
            value: Defect::Clean.apply("SMS"),
            warning: None
        }
    );
    assert_eq!(
        repair_friendly_name(&inside, Policy::Strip),
        NameRepair::Rewritten {
            value: Defect::Clean.apply("SMSSigning Certificate"),
            warning: None
        }
    );
    assert_eq!(
        repair_friendly_name(&units(&[0x41, 0, 0x42, 0, 0]), Policy::Strip),
        NameRepair::Rewritten {
            value: units(&[0x41, 0x42, 0]),
            warning: None
        }
    );
}

/// A pool of real (bulk) certificates: walkable DER for the import rules.
fn pool() -> Vec<Vec<u8>> {
    let spec = MachineSpec {
        machine: "PC0007".into(),
        seed: 3,
        profile: Profile::Sccm2007,
        defect: DefectChoice::Fixed(Defect::Clean),
        certs_per_machine: 24,
        bulk: true,
    };
    cert::generate_machine(&spec)
        .unwrap()
        .into_iter()
        .map(|c| c.der)
        .collect()
}

fn name_value() -> impl Strategy<Value = Vec<u8>> {
    let t = "SMS Encryption Certificate";
    prop_oneof![
        Just(Defect::Clean.apply(t)),
        Just(encode_utf16(t)),
        Just(Defect::DoubledTerminator.apply(t)),
        Just(Defect::EmbeddedNul.apply(t)),
        Just(Defect::OnlyNuls.apply(t)),
        prop::collection::vec(prop_oneof![Just(0u16), 0x41u16..0x5A], 0..12)
            .prop_map(|u| units(&u)),
    ]
}

/// The policy applied to a (even-length) friendly-name value, from its code
/// units: a NUL before the last unit means an embedded NUL; `truncate` keeps
/// the units before the first NUL, `strip` drops every NUL; both then add one
/// terminator. Anything else is left as it was.
fn expected_name(value: &[u8], policy: Policy) -> Vec<u8> {
    let us: Vec<u16> = value
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    if us.len() < 2 || !us[..us.len() - 1].contains(&0) {
        return value.to_vec();
    }
    let mut kept: Vec<u16> = match policy {
        Policy::Truncate => us.iter().copied().take_while(|&u| u != 0).collect(),
        Policy::Strip => us.iter().copied().filter(|&u| u != 0).collect(),
    };
    kept.push(0);
    units(&kept)
}

prop_compose! {
    fn store()(
        certs in prop::collection::vec((0usize..24, name_value(), any::<bool>(), any::<bool>(), 0usize..3), 0..8),
    ) -> SerializedStore<'static> {
        let pool = pool();
        let elements = certs.into_iter().map(|(k, name, with_name, with_extra, rotate)| {
            let mut props = vec![
                Property::new(PropertyId::KeyProvInfo, certmig::format::KeyProvInfo::sccm_machine_key("C", 1).encode()),
                Property::new(PropertyId::Other(0x7777), vec![1, 2, 3]),
            ];
            if with_name { props.push(Property::new(PropertyId::FriendlyName, name)); }
            if with_extra { props.push(Property::new(PropertyId::Description, encode_utf16("d"))); }
            let n = props.len();
            props.rotate_left(rotate % n);
            SerializedElement::certificate(pool[k].clone(), props)
        }).collect();
        SerializedStore::new(elements)
    }
}

proptest! {
    #![proptest_config(support::proptest_config(64))]

    #[test]
    fn fix_makes_stores_importable_and_changes_nothing_else(s in store(), strip in any::<bool>()) {
        let policy = if strip { Policy::Strip } else { Policy::Truncate };
        let before = s.to_bytes();
        let fixed = ReferenceFixer { policy }.fix_store(&before).unwrap();
        let after = SerializedStore::parse(&fixed, ReadMode::Strict).unwrap();
        // Imports under MS09-056.
        prop_assert!(cryptoapi::import_all(&after.elements, RuleSet::Ms09056).is_ok());
        // DER, thumbprints, other properties and order identical; names == policy(old).
        prop_assert!(check_repair(&s.elements, &after.elements, policy).is_ok());
        for (b, a) in s.elements.iter().zip(&after.elements) {
            prop_assert_eq!(b.thumbprint(), a.thumbprint());
            // The new name, computed here from code units, independently of
            // the fixer's own policy code (which check_repair reuses).
            prop_assert_eq!(
                a.friendly_name().map(<[u8]>::to_vec),
                b.friendly_name().map(|v| expected_name(v, policy))
            );
            let clean = b.friendly_name().is_none_or(|v| !certmig::format::friendly_name::has_embedded_nul(v));
            if clean { prop_assert_eq!(b.to_bytes(), a.to_bytes()); }
        }
        // Idempotent.
        prop_assert_eq!(ReferenceFixer { policy }.fix_store(&fixed).unwrap(), fixed);
    }
}

fn opts(input: &Path) -> FixOptions {
    FixOptions {
        input: input.to_owned(),
        output: None,
        policy: Policy::Truncate,
        dry_run: false,
        backup: true,
        log: None,
        log_clock: LogClock::seeded(1),
    }
}

fn machine_store(defect: Defect) -> SerializedStore<'static> {
    SerializedStore::new(
        cert::generate_machine(&MachineSpec::sccm("PC0001", 1, defect))
            .unwrap()
            .iter()
            .map(|c| c.element())
            .collect(),
    )
}

fn listing(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn streaming_sst_fix_equals_the_in_memory_fixer_and_keeps_a_backup() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("s.sst");
    let bytes = machine_store(Defect::DoubledTerminator).to_bytes();
    std::fs::write(&p, &bytes).unwrap();
    let r = fix::run(&opts(&p), &mut ()).unwrap();
    assert_eq!(r.certificates_changed, 2);
    assert_eq!(
        std::fs::read(&p).unwrap(),
        ReferenceFixer::default().fix_store(&bytes).unwrap()
    );
    assert_eq!(std::fs::read(tmp.path().join("s.sst.bak")).unwrap(), bytes);
    // A second run changes nothing and leaves the backup alone.
    let again = fix::run(&opts(&p), &mut ()).unwrap();
    assert_eq!(again.certificates_changed, 0);
    assert_eq!(std::fs::read(tmp.path().join("s.sst.bak")).unwrap(), bytes);
    assert_eq!(listing(tmp.path()).len(), 2);
}

/// Tampers with the `.sst` pipeline while keeping its output check on.
enum SstTamper {
    /// Flips one byte of the complete temporary file.
    FlipByte,
    /// Drops the last byte of the temporary file.
    Truncate,
    /// A repair that also changes another property and reports the change.
    TouchOtherProperty,
}

impl fix::FixHooks for SstTamper {
    fn repair(
        &self,
        index: usize,
        e: &mut SerializedElement<'_>,
        policy: Policy,
    ) -> fix::CertificateRepair {
        let mut r = fix::repair_element(e, policy);
        if matches!(self, SstTamper::TouchOtherProperty) && index == 1 {
            if let Some(p) = e
                .properties
                .iter_mut()
                .find(|p| p.id != PropertyId::FriendlyName)
            {
                let mut v = p.value.to_vec();
                v[0] ^= 1;
                p.value = v.into();
                r.changed = true;
            }
        }
        r
    }

    fn output(&self, _: &fix::FixReport, temp: &Path) -> std::io::Result<()> {
        let mut bytes = std::fs::read(temp)?;
        let mid = bytes.len() / 2;
        match self {
            SstTamper::FlipByte => bytes[mid] ^= 0x20,
            SstTamper::Truncate => drop(bytes.pop()),
            SstTamper::TouchOtherProperty => return Ok(()),
        }
        std::fs::write(temp, bytes)
    }
}

#[test]
fn a_sst_output_changed_after_it_was_written_or_repaired_beyond_the_name_is_refused() {
    for tamper in [
        SstTamper::FlipByte,
        SstTamper::Truncate,
        SstTamper::TouchOtherProperty,
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("s.sst");
        let bytes = machine_store(Defect::DoubledTerminator).to_bytes();
        std::fs::write(&p, &bytes).unwrap();
        let err = fix::run_hooked(&opts(&p), &certmig::fix::write::RealSteps, &tamper, &mut ())
            .unwrap_err();
        assert!(matches!(err, fix::FixError::Invariant { .. }), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), bytes);
        assert_eq!(
            listing(tmp.path()).into_keys().collect::<Vec<_>>(),
            ["s.sst"]
        );
    }
}

#[cfg(unix)]
#[test]
fn in_place_repair_keeps_the_file_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("s.sst");
    std::fs::write(&p, machine_store(Defect::DoubledTerminator).to_bytes()).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    fix::run(&opts(&p), &mut ()).unwrap();
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o640
    );
}

#[test]
fn output_is_always_written_even_as_a_byte_identical_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("clean.sst");
    let bytes = machine_store(Defect::Clean).to_bytes();
    std::fs::write(&p, &bytes).unwrap();
    let mut o = opts(&p);
    o.output = Some(tmp.path().join("out.sst"));
    fix::run(&o, &mut ()).unwrap();
    assert_eq!(std::fs::read(tmp.path().join("out.sst")).unwrap(), bytes);
    assert_eq!(listing(tmp.path()).len(), 2, "no backup for -o");
}

#[test]
fn reg_blob_and_blob_dir_inputs_are_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let store = machine_store(Defect::EmbeddedNul);
    let registry = RegistryStore::from_elements("SMS", store.elements.clone());
    let reg = tmp.path().join("m.reg");
    std::fs::write(&reg, write_reg(&registry, RegEncoding::Regedit5)).unwrap();
    let blobs = tmp.path().join("blobs");
    std::fs::create_dir(&blobs).unwrap();
    for (name, bytes) in registry.blob_files() {
        std::fs::write(blobs.join(name), bytes).unwrap();
    }
    let one = tmp.path().join("one.blob");
    std::fs::write(&one, store.elements[0].to_bytes()).unwrap();
    for (path, n) in [(&reg, 2), (&blobs, 2), (&one, 1)] {
        let r = fix::run(&opts(path), &mut ()).unwrap();
        assert_eq!(
            (r.certificates_total, r.certificates_changed),
            (n, n),
            "{}",
            path.display()
        );
        let scan = certmig::scan::scan_paths(std::slice::from_ref(path), Default::default());
        // (Backups `*.bak` hold the originals, still bad: skip them.)
        for c in scan
            .files
            .iter()
            .filter(|f| !f.path.ends_with(".bak"))
            .flat_map(|f| &f.certificates)
        {
            assert_eq!(c.verdicts.ms09_056, cryptoapi::Verdict::Ok);
            assert_eq!(c.friendly_name.as_deref().unwrap(), "SMS\\0");
        }
    }
}

#[test]
fn malformed_input_writes_nothing_and_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("cut.sst");
    let bytes = machine_store(Defect::DoubledTerminator).to_bytes();
    std::fs::write(&p, &bytes[..bytes.len() - 40]).unwrap();
    let before = listing(tmp.path());
    let err = fix::run(&opts(&p), &mut ()).unwrap_err();
    assert!(err.is_bad_input(), "{err}");
    assert!(err.to_string().contains("cut.sst"));
    assert_eq!(listing(tmp.path()), before);
    let out = support::certmig().arg("fix").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("offset"));
    assert_eq!(listing(tmp.path()), before);
}

#[test]
fn a_failure_at_each_write_step_leaves_the_input_byte_identical_and_no_stray_file() {
    let bytes = machine_store(Defect::DoubledTerminator).to_bytes();
    let reg = write_reg(
        &RegistryStore::from_elements("SMS", machine_store(Defect::DoubledTerminator).elements),
        RegEncoding::Regedit5,
    );
    let element = machine_store(Defect::DoubledTerminator).elements[0].to_bytes();
    for (name, content) in [("s.sst", &bytes), ("s.reg", &reg), ("s.blob", &element)] {
        for step in Step::ALL {
            let tmp = tempfile::tempdir().unwrap();
            let p = tmp.path().join(name);
            std::fs::write(&p, content).unwrap();
            let err = fix::files_run_with(&opts(&p), &FailingSteps { fail: step });
            assert!(err.is_err(), "{name} {step:?} should fail");
            assert_eq!(&std::fs::read(&p).unwrap(), content, "{name} {step:?}");
            assert_eq!(
                listing(tmp.path()).into_keys().collect::<Vec<_>>(),
                [name],
                "{name} {step:?}"
            );
        }
    }
}

#[test]
fn a_failure_at_each_write_step_leaves_a_blob_directory_byte_identical() {
    let registry =
        RegistryStore::from_elements("SMS", machine_store(Defect::DoubledTerminator).elements);
    for step in Step::ALL {
        let tmp = tempfile::tempdir().unwrap();
        for (name, bytes) in registry.blob_files() {
            std::fs::write(tmp.path().join(name), bytes).unwrap();
        }
        let before = listing(tmp.path());
        let err = fix::files_run_with(&opts(tmp.path()), &FailingSteps { fail: step });
        assert!(err.is_err(), "{step:?} should fail");
        assert_eq!(listing(tmp.path()), before, "{step:?}");
    }
}

/// Real steps, but the `n`-th rename fails: a blob directory whose set of
/// repaired files is half committed.
struct FailsAtRename {
    n: usize,
    seen: std::sync::atomic::AtomicUsize,
}

impl certmig::fix::write::WriteSteps for FailsAtRename {
    fn create(&self, dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
        certmig::fix::write::RealSteps.create(dir)
    }
    fn write(&self, file: &mut std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
        certmig::fix::write::RealSteps.write(file, bytes)
    }
    fn fsync(&self, file: &std::fs::File) -> std::io::Result<()> {
        certmig::fix::write::RealSteps.fsync(file)
    }
    fn backup(&self, input: &Path, backup: &Path) -> std::io::Result<()> {
        certmig::fix::write::RealSteps.backup(input, backup)
    }
    fn rename(&self, temp: tempfile::NamedTempFile, target: &Path) -> std::io::Result<()> {
        let k = self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if k == self.n {
            return Err(std::io::Error::other("no space left on device (injected)"));
        }
        certmig::fix::write::RealSteps.rename(temp, target)
    }
}

/// A blob directory is repaired as a set: when the second or a later file
/// cannot be committed (a full disk), the files already replaced and the
/// backups made are put back, and the error says the directory is as it
/// was; with and without backups, in place and into an output directory.
#[test]
fn a_blob_directory_is_committed_whole_or_not_at_all() {
    let store = SerializedStore::new(
        (1..=3)
            .flat_map(|m| {
                cert::generate_machine(&MachineSpec::sccm(
                    &cert::machine_name(m),
                    1,
                    Defect::DoubledTerminator,
                ))
                .unwrap()
                .into_iter()
                .map(|c| c.element())
            })
            .collect(),
    );
    let registry = RegistryStore::from_elements("SMS", store.elements);
    for (backup, to_out) in [(true, false), (false, false), (true, true)] {
        for n in 2..=6 {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("in");
            std::fs::create_dir(&dir).unwrap();
            for (name, bytes) in registry.blob_files() {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
            // An earlier backup of one file must survive as it was.
            let first = registry.blob_files()[0].0.clone();
            std::fs::write(dir.join(format!("{first}.bak")), b"an earlier backup").unwrap();
            let before = listing(&dir);
            let mut o = opts(&dir);
            o.backup = backup;
            let out = tmp.path().join("out");
            if to_out {
                o.output = Some(out.clone());
            }
            let steps = FailsAtRename {
                n,
                seen: Default::default(),
            };
            let err = fix::files_run_with(&o, &steps).unwrap_err().to_string();
            assert!(err.contains("the directory is as it was"), "{n}: {err}");
            assert_eq!(listing(&dir), before, "backup {backup}, rename {n}");
            if to_out {
                assert_eq!(
                    listing(&out).len(),
                    0,
                    "rename {n}: {:?}",
                    listing(&out).keys()
                );
            }
        }
    }
}

/// `fix DIR` on a directory that is not a blob directory (what `gen`
/// writes: `.sst` and `.reg` files and machine folders) is refused as bad
/// input, naming what it found, instead of "0 of 0".
#[test]
fn a_directory_that_is_not_a_blob_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("gen");
    support::gen(&out, &["--machines", "2"]);
    let before = listing(&out.join("PC0001"));
    support::certmig()
        .arg("fix")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not a directory of .blob files"))
        .stderr(predicates::str::contains("PC0001.reg"));
    assert_eq!(listing(&out.join("PC0001")), before);
    // An empty directory is an empty store (a key with no certificates).
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    support::certmig().arg("fix").arg(&empty).assert().code(0);
    // A real blob directory, twice (the second run meets the backups).
    for _ in 0..2 {
        support::certmig()
            .arg("fix")
            .arg(out.join("PC0001"))
            .assert()
            .code(0);
    }
}

#[test]
fn help_documents_the_exit_codes_and_other_failures_exit_1() {
    let out = support::certmig().args(["fix", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("Exit codes: 0 fixed or nothing to fix, 2 bad input")
            && help.contains("1 any other failure"),
        "{help}"
    );
    // 0: repaired, then nothing to fix; 1: the output cannot be written.
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("s.sst");
    let bytes = machine_store(Defect::DoubledTerminator).to_bytes();
    std::fs::write(&p, &bytes).unwrap();
    let code = |args: &[&std::ffi::OsStr]| {
        support::certmig()
            .arg("fix")
            .args(args)
            .output()
            .unwrap()
            .status
            .code()
    };
    let unwritable = tmp.path().join("no").join("such").join("dir").join("o.sst");
    assert_eq!(
        code(&[p.as_os_str(), "-o".as_ref(), unwritable.as_os_str()]),
        Some(1)
    );
    assert_eq!(std::fs::read(&p).unwrap(), bytes);
    assert_eq!(code(&[p.as_os_str()]), Some(0));
    assert_eq!(code(&[p.as_os_str()]), Some(0));
}

#[test]
fn dry_run_and_log() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("s.sst");
    let bytes = machine_store(Defect::OnlyNuls).to_bytes();
    std::fs::write(&p, &bytes).unwrap();
    let mut o = opts(&p);
    o.dry_run = true;
    o.log = Some(tmp.path().join("fix.log"));
    let r = fix::run(&o, &mut ()).unwrap();
    assert_eq!(r.certificates_changed, 2);
    assert_eq!(r.warnings.len(), 2);
    assert_eq!(std::fs::read(&p).unwrap(), bytes);
    let log = std::fs::read_to_string(tmp.path().join("fix.log")).unwrap();
    let lines: Vec<_> = log
        .lines()
        .map(|l| certmig::cmtrace::parse_line(l).unwrap())
        .collect();
    assert!(lines.iter().all(|l| l.component == "CCMCertFix"));
    assert!(lines
        .iter()
        .any(|l| l.severity == certmig::cmtrace::Severity::Warning));
    assert!(lines
        .last()
        .unwrap()
        .message
        .contains("2 of 2 certificates updated"));
}

/// `--log` is never the input, its backup, the output or a file inside a
/// blob directory being repaired, however it is spelled (another name for
/// the directory, a hard link): bad input, exit 2, nothing written.
#[test]
fn the_log_never_lands_on_the_input_its_backup_or_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("s.sst");
    let bytes = machine_store(Defect::DoubledTerminator).to_bytes();
    let out = tmp.path().join("out.sst");
    let bak = tmp.path().join("s.sst.bak");
    std::fs::write(&bak, b"an older backup").unwrap();
    std::fs::write(&out, b"an older output").unwrap();
    let sub = tmp.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let respelled = sub.join("..").join("s.sst");
    let linked = tmp.path().join("hard-link.sst");
    let blobs = tmp.path().join("blobs");
    std::fs::create_dir(&blobs).unwrap();
    std::fs::write(
        blobs.join("x.blob"),
        machine_store(Defect::DoubledTerminator).elements[0].to_bytes(),
    )
    .unwrap();
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (
            vec![
                p.clone().into(),
                "--dry-run".into(),
                "--log".into(),
                p.clone().into(),
            ],
            "the log is",
        ),
        (
            vec![
                p.clone().into(),
                "--no-backup".into(),
                "--log".into(),
                p.clone().into(),
            ],
            "the log is",
        ),
        (
            vec![p.clone().into(), "--log".into(), respelled.clone().into()],
            "the log is",
        ),
        (
            vec![p.clone().into(), "--log".into(), linked.clone().into()],
            "the log is",
        ),
        (
            vec![p.clone().into(), "--log".into(), bak.clone().into()],
            "the backup",
        ),
        (
            vec![
                p.clone().into(),
                "-o".into(),
                out.clone().into(),
                "--log".into(),
                out.clone().into(),
            ],
            "the output",
        ),
        (
            vec![
                blobs.clone().into(),
                "--log".into(),
                blobs.join("fix.log").into(),
            ],
            "inside the blob directory",
        ),
    ];
    for (args, says) in cases {
        std::fs::write(&p, &bytes).unwrap();
        let _ = std::fs::remove_file(&linked);
        std::fs::hard_link(&p, &linked).unwrap();
        let run = support::certmig()
            .arg("fix")
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(says));
        let _ = run;
        assert_eq!(std::fs::read(&p).unwrap(), bytes, "{args:?}");
        assert_eq!(std::fs::read(&bak).unwrap(), b"an older backup", "{args:?}");
        assert_eq!(std::fs::read(&out).unwrap(), b"an older output", "{args:?}");
        assert!(!blobs.join("fix.log").exists(), "{args:?}");
    }
    // A log beside them is written.
    std::fs::write(&p, &bytes).unwrap();
    let log = tmp.path().join("CCMCertFix.log");
    support::certmig()
        .args([
            "fix".as_ref(),
            p.as_os_str(),
            "--log".as_ref(),
            log.as_os_str(),
        ])
        .assert()
        .code(0);
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("CCMCertFix"));
}

/// `fix --json` writes each certificate's report to a temporary file as it
/// is repaired (`JsonSpill`) instead of keeping them all: its output is
/// byte for byte `serde_json::to_string_pretty` of the whole report with
/// every certificate kept in memory, for every format, a dry run, a store
/// with no certificates, and a store of many.
#[test]
fn fix_json_streamed_through_a_spill_equals_the_in_memory_report() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let gen = |dir: &str, args: &[&str]| {
        support::certmig()
            .arg("gen")
            .args(args)
            .arg("--out")
            .arg(d.join(dir))
            .assert()
            .success();
    };
    gen(
        "g",
        &[
            "--machines",
            "1",
            "--defect",
            "mixed",
            "--format",
            "sst,reg,blob",
        ],
    );
    gen(
        "bulk",
        &["--bulk", "--format", "sst", "--certs-per-machine", "3000"],
    );
    let empty = d.join("empty.sst");
    std::fs::write(&empty, SerializedStore::new(Vec::new()).to_bytes()).unwrap();
    for (input, dry) in [
        (d.join("g/PC0001.sst"), false),
        (d.join("g/PC0001.reg"), false),
        (d.join("g/PC0001"), false),
        (d.join("g/PC0001.sst"), true),
        (empty.clone(), false),
        (d.join("bulk/PC0001.sst"), false),
    ] {
        let out = d.join("out");
        let _ = std::fs::remove_dir_all(&out);
        let _ = std::fs::remove_file(&out);
        let mut o = opts(&input);
        // A dry run writes nothing, so it takes no -o (the parser refuses it).
        o.output = (!dry).then(|| out.clone());
        o.dry_run = dry;
        let want = {
            let mut kept = Vec::new();
            let report = certmig::fix::run(&o, &mut kept).unwrap();
            assert_eq!(kept.len(), report.certificates_total);
            let json = certmig::report::fix::FixJson {
                report: &report,
                certificates: &kept[..],
            };
            let mut s = serde_json::to_string_pretty(&json).unwrap();
            s.push('\n');
            s
        };
        let _ = std::fs::remove_dir_all(&out);
        let _ = std::fs::remove_file(&out);
        let mut cmd = support::certmig();
        cmd.arg("fix").arg(&input).arg("--json");
        if dry {
            cmd.arg("--dry-run");
        } else {
            cmd.arg("-o").arg(&out);
        }
        let got = cmd.assert().success().get_output().stdout.clone();
        assert!(
            got == want.as_bytes(),
            "{input:?} dry {dry}:\n{}\n---\n{want}",
            String::from_utf8_lossy(&got)
        );
        let parsed: serde_json::Value = serde_json::from_str(&want).unwrap();
        assert_eq!(
            parsed["certificates"].as_array().unwrap().len() as u64,
            parsed["certificates_total"].as_u64().unwrap()
        );
    }
}

/// The CMTrace log of `fix --log` has every certificate, whatever the human
/// listing shows (50 lines) and with `--json` too.
#[test]
fn the_log_has_every_certificate_with_or_without_json() {
    let tmp = tempfile::tempdir().unwrap();
    support::gen(
        &tmp.path().join("gen"),
        &[
            "--machines",
            "1",
            "--certs-per-machine",
            "200",
            "--bulk",
            "--format",
            "sst",
        ],
    );
    let store = tmp.path().join("gen").join("PC0001.sst");
    for json in [false, true] {
        let log = tmp.path().join(format!("CCMCertFix-{json}.log"));
        let mut c = support::certmig();
        c.args([
            "fix".as_ref(),
            store.as_os_str(),
            "--dry-run".as_ref(),
            "--log".as_ref(),
            log.as_os_str(),
        ]);
        if json {
            c.arg("--json");
        }
        c.assert().code(0);
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<_> = text
            .lines()
            .map(|l| certmig::cmtrace::parse_line(l).unwrap())
            .collect();
        let processed = lines
            .iter()
            .filter(|l| l.message.starts_with("Processing certificate"))
            .count();
        assert_eq!(processed, 200, "json {json}");
        assert!(
            lines
                .last()
                .unwrap()
                .message
                .contains("of 200 certificates"),
            "json {json}"
        );
        // One clock: the times never go back.
        assert!(lines.windows(2).all(|w| w[0].time <= w[1].time));
    }
}

/// The clean-up of temporary files a killed run left removes only regular
/// files whose name carries certmig's tell (`lock::temp_prefix`): a FIFO
/// with such a name is not opened (the repair does not hang), and a user's
/// files named like certmig's temporary files, even exactly in the old
/// `.certmig-XXXXXX.tmp` shape or with a forged tell, are kept.
#[cfg(unix)]
#[test]
fn cleaning_up_never_opens_a_fifo_or_removes_a_users_file() {
    use certmig::fix::lock::{is_our_temp_name, temp_prefix, TEMP_SUFFIX};
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("s.sst");
    std::fs::write(&p, machine_store(Defect::DoubledTerminator).to_bytes()).unwrap();
    let ours = |six: &str| format!("{}{six}{TEMP_SUFFIX}", temp_prefix());
    let fifo = tmp.path().join(ours("Ab12Cd"));
    support::mkfifo(&fifo);
    let users: Vec<_> = [
        ".certmig-my-notes.tmp",
        ".certmig-Ab12Cd.tmp",
        ".certmig-0123456789abcdef-Ab12Cd.tmp",
    ]
    .iter()
    .map(|n| {
        assert!(!is_our_temp_name(n), "{n}");
        let path = tmp.path().join(n);
        std::fs::write(&path, b"mine").unwrap();
        path
    })
    .collect();
    let stale = tmp.path().join(ours("Zz9Yy8"));
    assert!(is_our_temp_name(
        stale.file_name().unwrap().to_str().unwrap()
    ));
    std::fs::write(&stale, b"left by a killed run").unwrap();
    support::certmig()
        .arg("fix")
        .arg(&p)
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(0);
    assert!(fifo.exists());
    for u in &users {
        assert_eq!(std::fs::read(u).unwrap(), b"mine", "{}", u.display());
    }
    assert!(!stale.exists(), "a real leftover is still removed");
}

/// `fix other.sst -o big.sst` while another run holds `big.sst` (an
/// in-place repair locks its input exclusively): the output is locked too,
/// so the second run fails at once as locked and `big.sst` is untouched,
/// instead of being replaced under the first run (whose backup would then
/// hold this run's output, the original lost).
#[test]
fn an_output_held_by_another_run_is_not_written() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.sst");
    let other = tmp.path().join("other.sst");
    let big_bytes = machine_store(Defect::DoubledTerminator).to_bytes();
    std::fs::write(&big, &big_bytes).unwrap();
    std::fs::write(&other, machine_store(Defect::EmbeddedNul).to_bytes()).unwrap();
    let held = certmig::platform::PathLock::try_acquire(&big, true)
        .unwrap()
        .expect("the lock is free");
    support::certmig()
        .args([
            "fix".as_ref(),
            other.as_os_str(),
            "-o".as_ref(),
            big.as_os_str(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("locked"));
    assert_eq!(std::fs::read(&big).unwrap(), big_bytes);
    drop(held);
    support::certmig()
        .args([
            "fix".as_ref(),
            other.as_os_str(),
            "-o".as_ref(),
            big.as_os_str(),
        ])
        .assert()
        .code(0);
    assert_ne!(std::fs::read(&big).unwrap(), big_bytes);
}

/// `fix links/a.sst` where the input is a symbolic link repairs the file it
/// points to, where it is: the link stays a link, the real file is
/// repaired with its mode (and, as root, its owner) kept, the backup is
/// the real original beside it, and the run says which file it repaired.
#[cfg(unix)]
#[test]
fn a_symlinked_input_is_repaired_where_it_points_with_its_owner_and_mode() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tmp = tempfile::tempdir().unwrap();
    let real_dir = tmp.path().join("real");
    let links = tmp.path().join("links");
    std::fs::create_dir_all(&real_dir).unwrap();
    std::fs::create_dir_all(&links).unwrap();
    let real = real_dir.join("a.sst");
    let original = machine_store(Defect::DoubledTerminator).to_bytes();
    std::fs::write(&real, &original).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        std::os::unix::fs::chown(&real, Some(4321), Some(4321)).unwrap();
    }
    let link = links.join("a.sst");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    support::certmig()
        .arg("fix")
        .arg(&link)
        .assert()
        .code(0)
        .stderr(predicates::str::contains("is a symbolic link"));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_link(&link).unwrap(), real);
    let repaired = std::fs::read(&real).unwrap();
    assert_ne!(repaired, original, "the real store was repaired");
    let backup = real_dir.join("a.sst.bak");
    assert!(std::fs::symlink_metadata(&backup).unwrap().is_file());
    assert_eq!(std::fs::read(&backup).unwrap(), original);
    assert!(!links.join("a.sst.bak").exists());
    let meta = std::fs::metadata(&real).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    if root {
        assert_eq!((meta.uid(), meta.gid()), (4321, 4321));
    }
}

/// Run as another user, an in-place repair of a store this user may write
/// but does not own would change its owner: refused, nothing replaced.
#[cfg(target_os = "linux")]
#[test]
fn a_repair_that_cannot_keep_the_owner_replaces_nothing() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Only root can make the files of two users here; as an ordinary
        // user this case is the ordinary user's own run, held by
        // the root test above's owner check.
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let p = tmp.path().join("s.sst");
    let original = machine_store(Defect::DoubledTerminator).to_bytes();
    std::fs::write(&p, &original).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
    let bin = support::certmig_exe();
    let out = std::process::Command::new(bin)
        .arg("fix")
        .arg(&p)
        .uid(4321)
        .gid(4321)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("owner"), "{said}");
    assert_eq!(std::fs::read(&p).unwrap(), original);
    assert!(!tmp.path().join("s.sst.bak").exists());
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

/// A full disk after the repair was committed: the log (or the report on
/// standard output, or the JSON report's temporary file) cannot be written. The run exits 1 and says exactly
/// what is on disk (the input replaced, the original at `IN.bak`), instead
/// of a bare error after the input was already replaced. Each case runs in
/// a user and mount namespace with a 4 KiB tmpfs where the log or the
/// report goes; the store itself is on the ordinary file system.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_after_the_repair_says_what_is_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s.sst");
    let elements = (0..40u8)
        .map(|i| support::sccm_element(i, Defect::DoubledTerminator))
        .collect();
    let original = SerializedStore::new(elements).to_bytes();
    let full = tmp.path().join("full");
    std::fs::create_dir(&full).unwrap();
    let bin = support::certmig_exe();
    let cases = [
        (
            "log",
            "\"$BIN\" fix \"$STORE\" --log \"$FULL/CCMCertFix.log\"".to_owned(),
            "the log could not be written",
        ),
        (
            "json",
            "\"$BIN\" fix \"$STORE\" --json > \"$FULL/report.json\"".to_owned(),
            "the report on standard output is incomplete",
        ),
        (
            "human",
            "\"$BIN\" fix \"$STORE\" > \"$FULL/report.txt\"".to_owned(),
            "the report on standard output is incomplete",
        ),
        // The JSON report's spill where temporary files go: that, not
        // standard output (/dev/null here), is what failed.
        (
            "json spill",
            "TMPDIR=\"$FULL\" \"$BIN\" fix \"$STORE\" --json > /dev/null".to_owned(),
            "the JSON report's temporary file could not be written",
        ),
    ];
    for (name, command, says) in cases {
        std::fs::write(&store, &original).unwrap();
        let _ = std::fs::remove_file(tmp.path().join("s.sst.bak"));
        // Fill all but a little of the tmpfs first, for the human report
        // (a few lines) to fail too.
        let script = format!(
            "mount -t tmpfs -o size=4k tmpfs \"$FULL\" || exit 99; \
             head -c 3900 /dev/zero > \"$FULL/filler\"; {command}"
        );
        let out = std::process::Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "sh", "-c", &script])
            .env("BIN", &bin)
            .env("STORE", &store)
            .env("FULL", &full)
            .output()
            .expect("unshare (util-linux) runs");
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {said}");
        assert!(said.contains(says), "{name}: {said}");
        assert!(
            said.contains("was replaced, its original is"),
            "{name}: {said}"
        );
        assert_eq!(
            std::fs::read(tmp.path().join("s.sst.bak")).unwrap(),
            original,
            "{name}"
        );
        assert_ne!(std::fs::read(&store).unwrap(), original, "{name}");
    }
}

/// An output is never put over a FIFO, a device or a directory: `--log
/// /dev/full` or `-o` onto a FIFO is refused before anything is written
/// (as root, renaming over `/dev/null` would replace the device).
#[cfg(unix)]
#[test]
fn an_output_over_a_special_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("s.sst");
    let original = machine_store(Defect::DoubledTerminator).to_bytes();
    let fifo = tmp.path().join("out.fifo");
    support::mkfifo(&fifo);
    for args in [
        vec![
            "--log".as_ref(),
            std::path::Path::new("/dev/full").as_os_str(),
        ],
        vec!["-o".as_ref(), fifo.as_os_str()],
        vec!["--log".as_ref(), tmp.path().as_os_str()],
    ] {
        std::fs::write(&p, &original).unwrap();
        support::certmig()
            .arg("fix")
            .arg(&p)
            .args(&args)
            .timeout(std::time::Duration::from_secs(20))
            .assert()
            .code(1)
            .stderr(predicates::str::contains("not a regular file"));
        assert_eq!(std::fs::read(&p).unwrap(), original, "{args:?}");
        assert!(!tmp.path().join("s.sst.bak").exists(), "{args:?}");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device());
    }
}

/// `fix DIR -o OUTDIR` where OUTDIR holds a link named like a repaired
/// `.blob` file (to a file elsewhere, to `/dev/zero`): the set is refused
/// before anything is committed, nothing is read or written through the
/// link, and OUTDIR is as it was.
#[cfg(unix)]
#[test]
fn a_link_in_the_output_directory_is_never_read_or_written_through() {
    let registry =
        RegistryStore::from_elements("SMS", machine_store(Defect::DoubledTerminator).elements);
    for pointee in ["victim", "/dev/zero"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("in");
        let out = tmp.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        std::fs::create_dir(&out).unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        for (name, bytes) in registry.blob_files() {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let names: Vec<String> = registry.blob_files().into_iter().map(|(n, _)| n).collect();
        let link_at = out.join(names.last().unwrap());
        let to = if pointee == "victim" {
            victim.clone()
        } else {
            pointee.into()
        };
        std::os::unix::fs::symlink(&to, &link_at).unwrap();
        let input_before = listing(&dir);
        support::certmig()
            .arg("fix")
            .arg(&dir)
            .arg("-o")
            .arg(&out)
            .timeout(std::time::Duration::from_secs(20))
            .assert()
            .code(1)
            .stderr(predicates::str::contains("a symbolic link"));
        assert_eq!(listing(&dir), input_before, "{pointee}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        let left: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "{pointee}: only the link: {left:?}");
        assert_eq!(std::fs::read_link(&link_at).unwrap(), to);
    }
}

/// A blob directory on a real full file system: staging the repaired
/// files runs out of space part-way, so nothing is committed; the
/// directory is byte for byte as it was, with no temporary file left, and
/// the run exits 1. (The commit itself failing half-way is
/// `a_blob_directory_is_committed_whole_or_not_at_all`, by injection: a
/// rename and a hard link need no space.) Runs in a user and mount
/// namespace on a 64 KiB tmpfs filled to one free page.
#[cfg(target_os = "linux")]
#[test]
fn a_blob_directory_on_a_full_disk_is_left_as_it_was() {
    let registry = RegistryStore::from_elements(
        "SMS",
        (0..6u8)
            .map(|i| support::sccm_element(i, Defect::DoubledTerminator))
            .collect(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for (name, bytes) in registry.blob_files() {
        std::fs::write(src.join(name), bytes).unwrap();
    }
    let full = tmp.path().join("full");
    let out = tmp.path().join("out");
    std::fs::create_dir(&full).unwrap();
    std::fs::create_dir(&out).unwrap();
    let script = r#"
        mount -t tmpfs -o size=64k tmpfs "$FULL" || exit 99
        mkdir "$FULL/blobs" && cp "$SRC"/*.blob "$FULL/blobs/" || exit 98
        head -c 1M /dev/zero > "$FULL/filler" 2>/dev/null
        truncate -s -4096 "$FULL/filler"
        (cd "$FULL/blobs" && sha256sum * > "$OUT/before")
        "$BIN" fix "$FULL/blobs" 2> "$OUT/stderr"
        echo $? > "$OUT/code"
        (cd "$FULL/blobs" && sha256sum * > "$OUT/after" && ls -A > "$OUT/names")
    "#;
    let status = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", script])
        .env("BIN", support::certmig_exe())
        .env("SRC", &src)
        .env("FULL", &full)
        .env("OUT", &out)
        .status()
        .expect("unshare (util-linux) runs");
    assert!(status.success(), "{status:?}");
    let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap();
    assert_eq!(read("code").trim(), "1", "{}", read("stderr"));
    assert!(
        read("stderr").contains("No space left"),
        "{}",
        read("stderr")
    );
    assert_eq!(read("before"), read("after"));
    assert_eq!(read("names").lines().count(), 6, "{}", read("names"));
}

/// `fix a.sst -o b.sst` where `b.sst` is a hard link to `a.sst`: one file
/// under two names is not an output of its own (before, the run locked
/// itself out and blamed "another certmig fix"): bad input, exit 2,
/// nothing written.
#[test]
fn an_output_that_is_the_input_under_another_name_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.sst");
    let b = tmp.path().join("b.sst");
    let original = machine_store(Defect::DoubledTerminator).to_bytes();
    std::fs::write(&a, &original).unwrap();
    std::fs::hard_link(&a, &b).unwrap();
    support::certmig()
        .arg("fix")
        .arg(&a)
        .arg("-o")
        .arg(&b)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("same file as the input"));
    assert_eq!(std::fs::read(&a).unwrap(), original);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 2);
}

/// A link planted where `-o` points, to a world-writable file of another
/// user: the output replaces the link as a new file (0644, the running
/// user's), and the file it pointed to is untouched. Before, the output
/// took that file's mode and owner: a repaired store anyone could rewrite.
#[cfg(unix)]
#[test]
fn a_link_at_the_output_lends_it_neither_mode_nor_owner() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("a.sst");
    std::fs::write(&input, machine_store(Defect::DoubledTerminator).to_bytes()).unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"theirs").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o666)).unwrap();
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if me == 0 {
        std::os::unix::fs::chown(&victim, Some(4321), Some(4321)).unwrap();
    }
    let out = tmp.path().join("out.sst");
    std::os::unix::fs::symlink(&victim, &out).unwrap();
    support::certmig()
        .arg("fix")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(0);
    let meta = std::fs::symlink_metadata(&out).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o644);
    assert_eq!(meta.uid(), me);
    assert_eq!(std::fs::read(&victim).unwrap(), b"theirs");
    let victim_meta = std::fs::metadata(&victim).unwrap();
    assert_eq!(victim_meta.permissions().mode() & 0o7777, 0o666);
}
