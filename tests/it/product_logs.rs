//! Product logs as the products write them (docs/BEHAVIOR.md "Logs"): every
//! line of every product log of every shipped scenario and every matrix cell
//! comes from a component that writes to that file, and none carries one of
//! the simulator's explanations, which go to certmig's own notes.

use std::path::Path;

use certmig::sim::matrix::cells;
use certmig::sim::scenario::{scenario_files, Scenario};
use certmig::sim::{replay, Replay};

/// The components each product log holds (KB 977203: OSDSMPClient in
/// Ccmexec.log; the task sequence engine and USMT in smsts.log; ccmsetup in
/// ccmsetup.log; CCMCertFix in the file its argument names).
fn allowed(file: &str) -> &'static [&'static str] {
    match file {
        "smsts.log" => &["TSManager", "OSDUSMT", "InstallSWUpdate"],
        "Ccmexec.log" => &["OSDSMPClient"],
        "ccmsetup.log" => &["ccmsetup"],
        "CCMCertFix.log" => &["CCMCertFix"],
        other => panic!("a product log certmig does not model: {other}"),
    }
}

/// Words of the simulator's explanations: no product writes them.
const SIMULATOR_WORDS: &[&str] = &[
    "rules in force",
    "import rules",
    "ms09-056",
    "legacy",
    "CertAddSerializedElementToStore",
    "friendly names",
    "certmig",
    "generated",
    "identity",
    "the state store",
    "refused",
    "rule ",
    "not applicable",
    "supersedes",
    "(reference)",
];

fn check(r: &Replay) -> usize {
    let mut lines = 0;
    for m in &r.logs {
        for f in &m.files {
            let components = allowed(&f.file);
            for l in &f.lines {
                lines += 1;
                assert!(
                    components.contains(&l.component.as_str()),
                    "{}: {} {}: component {} does not write there: {}",
                    r.scenario,
                    m.machine,
                    f.file,
                    l.component,
                    l.message
                );
                for w in SIMULATOR_WORDS {
                    assert!(
                        !l.message.contains(w),
                        "{}: {} {}: a simulator sentence ({w:?}) in a product log: {}",
                        r.scenario,
                        m.machine,
                        f.file,
                        l.message
                    );
                }
            }
        }
        for n in &m.notes {
            assert_eq!(n.component, "certmig", "{}: {}", r.scenario, n.message);
        }
    }
    lines
}

#[test]
fn no_simulator_sentence_appears_in_a_product_log() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut lines = 0;
    let mut notes = 0;
    for f in scenario_files(&[dir]).unwrap() {
        let r = replay(&Scenario::load(&f).unwrap());
        lines += check(&r);
        notes += r.notes_text().count();
    }
    for m in cells() {
        let r = replay(&m.scenario(1, Default::default()));
        lines += check(&r);
    }
    assert!(
        lines > 10_000 && notes > 50,
        "{lines} product lines, {notes} notes"
    );
}

#[test]
fn each_product_writes_its_own_log() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let load = |f: &str| Scenario::load(&dir.join(f)).unwrap();
    // Capture and Restore User State under OSDUSMT in smsts.log; the import
    // refusal by OSDSMPClient in Ccmexec.log.
    let r = replay(&load("c04-refresh-xp-to-win7sp1.toml"));
    let m = &r.logs[0];
    assert!(m.smsts_log().contains("component=\"OSDUSMT\""));
    assert!(m
        .ccmexec_log()
        .contains("<![LOG[Failed to import the client certificate store (0x80092024)]LOG]!>"));
    // The client installation in ccmsetup.log, not Ccmexec.log.
    assert!(m.render("ccmsetup.log").contains("component=\"ccmsetup\""));
    assert!(!m.ccmexec_log().contains("ccmsetup"));
    // CCMCertFix logs to the file its only argument names.
    let r = replay(&load("c07-ccmcertfix-before-ts-refresh-to-win7sp1.toml"));
    let m = &r.logs[0];
    let log = m.file("CCMCertFix.log").expect("CCMCertFix's own log");
    assert!(log.lines.iter().all(|l| l.component == "CCMCertFix"));
    assert!(!m.ccmexec_log().contains("CCMCertFix"));
    // Explanations are certmig's: in the notes and the evidence, marked as such.
    let r = replay(&load("c03-refresh-win7rtm-kb974571-before-restore.toml"));
    let why = r
        .outcome
        .evidence
        .iter()
        .find(|l| l.line.contains("CertAddSerializedElementToStore refused"))
        .expect("the explanation in the evidence");
    assert!(why.line.contains("component=\"certmig\""), "{why}");
    assert_eq!(why.log, "certmig.log", "{why}");
}
