//! `certmig fleet`: the synthetic fleet's aggregation equals replaying each
//! machine on its own; the inventory's predictions and actions over
//! generated `reg export`s (clean, defective, adversarial, corrupt); the
//! command line's JSON/CSV shapes and exit codes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use certmig::cert::{self, DefectChoice, Profile};
use certmig::fleet::inventory::{
    assess_dir, assess_dir_with, Action, InventoryOptions, InventoryReport, MachineSet, Prediction,
};
use certmig::fleet::mix::Attribute;
use certmig::fleet::{ClientHotfix, MachineProfile, Mix, Plan, Population};
use certmig::format::registry::RegistryStore;
use certmig::format::{reg, Defect, FileFormat};
use certmig::generate::{generate, GenOptions};
use certmig::sim::scenario::{Remediation, Scenario};
use certmig::sim::world::{Os, SiteVersion};
use certmig::sim::{replay, OutcomeKind};

use crate::support;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn example_mix() -> Mix {
    Mix::load(&repo("scenarios/fleet/example-mix.toml")).unwrap()
}

fn example_plan() -> Plan {
    Plan::load(&repo("scenarios/fleet/example-plan.toml")).unwrap()
}

/// The scenario a machine with profile `p` replays, written as a user would
/// write the scenario file (scenarios/README.md), independently of the
/// fleet's own builder.
fn scenario_file(p: &MachineProfile, seed: u64, plan: &Plan) -> Scenario {
    let hotfix = match p.client_hotfix {
        ClientHotfix::None => "",
        ClientHotfix::Kb977203 => "\"KB977203\"",
        ClientHotfix::Kb977384 => "\"KB977384\"",
    };
    let refresh = p.kind == certmig::sim::Kind::Refresh;
    let target_arch = if refresh {
        format!("target_arch = \"{}\"\n", p.target_arch)
    } else {
        String::new()
    };
    let mut text = format!(
        "seed = {seed}\nkind = \"{}\"\nstate_store = \"{}\"\ntarget_os = \"{}\"\n{target_arch}\
         target_kb974571_before_restore = {}\nremediation = \"{}\"\npolicy = \"{}\"\n\
         in_sequence_ccmcertfix = \"{}\"\n\
         [site]\nversion = \"{}\"\n\
         [source]\nname = \"PC0001\"\nos = \"{}\"\narch = \"{}\"\nupdates = [{}]\nclient = \"{}\"\n\
         client_hotfixes = [{hotfix}]\ndefect = \"{}\"\n",
        p.kind.as_str(),
        p.state_store.name(),
        p.target_os,
        p.target_kb974571_before_restore,
        p.remediation.as_str(),
        plan.policy.as_str(),
        plan.in_sequence_ccmcertfix,
        p.site,
        p.source_os,
        p.source_arch,
        if p.source_kb974571 {
            "\"KB974571\""
        } else {
            ""
        },
        p.client.as_str(),
        p.defect,
    );
    if !refresh {
        text.push_str(&format!(
            "[target]\nname = \"PC0002\"\nos = \"{}\"\narch = \"{}\"\ndefect = \"{}\"\n",
            p.target_os, p.target_arch, p.defect
        ));
    }
    toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Per (cell, outcome, step, hresult, identity, latent, contested): machines.
type Counted = BTreeMap<
    (
        usize,
        OutcomeKind,
        Option<String>,
        Option<String>,
        Option<bool>,
        bool,
        bool,
    ),
    u64,
>;

/// Replays every machine on its own, sequentially, and counts.
fn one_by_one(pop: &Population) -> Counted {
    let mut out = Counted::new();
    for i in 0..pop.machines {
        let p = MachineProfile::draw(&pop.mix, &pop.plan, pop.seed, i);
        let s = scenario_file(&p, MachineProfile::scenario_seed(pop.seed, i), &pop.plan);
        // The file names no scenario; the fleet's is named after its cell.
        let built = p.scenario(MachineProfile::scenario_seed(pop.seed, i), pop.plan.policy);
        assert_eq!(built.name, p.name());
        assert_eq!(
            s,
            Scenario {
                name: String::new(),
                ..built
            },
            "the fleet builds the scenario the file describes"
        );
        let o = replay(&s).outcome;
        let latent = o.kind == OutcomeKind::Success && o.bad_certificates_left > 0;
        *out.entry((
            p.cell(),
            o.kind,
            o.step,
            o.hresult.map(|h| h.to_string()),
            o.identity_preserved,
            latent,
            o.contested.is_some(),
        ))
        .or_default() += 1;
    }
    out
}

fn check_aggregate(pop: &Population) -> Result<(), TestCaseError> {
    let tally = pop.run(&|_| {});
    let single = one_by_one(pop);
    // Per cell: machines, each outcome (unsupported among them), identity
    // losses (refresh only), latent successes, contested outcomes.
    let mut want: BTreeMap<usize, [u64; 9]> = BTreeMap::new();
    let mut causes: BTreeMap<(OutcomeKind, String, Option<String>), u64> = BTreeMap::new();
    for ((cell, kind, step, h, identity, latent, contested), n) in &single {
        let c = want.entry(*cell).or_default();
        c[0] += n;
        c[1 + OutcomeKind::ALL.iter().position(|k| k == kind).unwrap()] += n;
        c[6] += if *identity == Some(false) { *n } else { 0 };
        c[7] += if *latent { *n } else { 0 };
        c[8] += if *contested { *n } else { 0 };
        if *kind != OutcomeKind::Success && *kind != OutcomeKind::Unsupported {
            *causes
                .entry((*kind, step.clone().unwrap_or_default(), h.clone()))
                .or_default() += n;
        }
    }
    let got: BTreeMap<usize, [u64; 9]> = tally
        .cells()
        .map(|(p, c)| (p.cell(), c.columns()))
        .collect();
    prop_assert_eq!(got, want);
    let got_causes: BTreeMap<(OutcomeKind, String, Option<String>), u64> = tally
        .causes()
        .into_iter()
        .map(|(c, n)| ((c.outcome, c.step, c.hresult.map(|h| h.to_string())), n))
        .collect();
    prop_assert_eq!(got_causes, causes);
    prop_assert_eq!(tally.total().machines, pop.machines);
    Ok(())
}

fn any_plan() -> impl Strategy<Value = Plan> {
    prop_oneof![
        (0..Remediation::ALL.len()).prop_map(|i| Plan::global(Remediation::ALL[i])),
        Just(example_plan()),
        Just(Plan {
            in_sequence_ccmcertfix: certmig::sim::world::InSequenceReading::Kb977203,
            ..Plan::global(Remediation::CcmcertfixStep)
        }),
    ]
}

/// A mix with random weights (each table keeps at least one positive weight).
fn any_mix() -> impl Strategy<Value = Mix> {
    proptest::collection::vec(0u8..4, 32).prop_map(|w| {
        let mut text = String::new();
        let mut k = 0;
        let mut table = |name: &str, values: &[&str], text: &mut String| {
            text.push_str(&format!("[{name}]\n"));
            for (j, v) in values.iter().enumerate() {
                let weight = if j == 0 { w[k] + 1 } else { w[k] };
                text.push_str(&format!("{v} = {weight}\n"));
                k += 1;
            }
        };
        let os = ["xp-sp3", "vista-sp2", "win7-rtm", "win7-sp1"];
        let yes_no = ["yes", "no"];
        table("kind", &["refresh", "replace"], &mut text);
        table("source_os", &os, &mut text);
        table("source_kb974571", &yes_no, &mut text);
        table("client", &["sp1", "sp2", "sp2-r3"], &mut text);
        table(
            "client_hotfix",
            &["none", "kb977203", "kb977384"],
            &mut text,
        );
        table(
            "defect",
            &["doubled-terminator", "clean", "embedded-nul", "only-nuls"],
            &mut text,
        );
        table("target_os", &os, &mut text);
        table("target_kb974571_before_restore", &yes_no, &mut text);
        table("state_store", &["hard-link", "smp"], &mut text);
        table("site_version", &["sp2", "sp1"], &mut text);
        table("source_arch", &["x86", "x64"], &mut text);
        table("target_arch", &["x86", "x64"], &mut text);
        assert_eq!(k, w.len(), "one weight per value");
        Mix::parse("random.toml", &text).unwrap()
    })
}

proptest! {
    #![proptest_config(support::proptest_config(48))]

    /// Fleet aggregation (parallel, counted as it streams) equals replaying
    /// each machine's scenario on its own and counting.
    #[test]
    fn aggregation_equals_per_machine_replay(
        machines in 1u64..40,
        seed in any::<u64>(),
        mix in prop_oneof![Just(Mix::default()), Just(example_mix()), any_mix()],
        plan in any_plan(),
    ) {
        check_aggregate(&Population { machines, seed, mix, plan })?;
    }
}

#[test]
fn aggregation_does_not_depend_on_threads_and_spans_chunks() {
    let pop = Population {
        machines: 2500, // more than two chunks of 1024
        seed: 7,
        mix: example_mix(),
        plan: example_plan(),
    };
    let parallel = pop.run(&|_| {});
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| pop.run(&|_| {}));
    assert_eq!(parallel, one);
    assert_eq!(parallel.total().machines, 2500);
    let seen = std::sync::atomic::AtomicU64::new(0);
    pop.run(&|n| {
        seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(
        seen.into_inner(),
        2500,
        "progress counts every machine once"
    );
}

#[test]
fn the_shipped_default_mix_is_the_built_in_one_and_the_examples_parse() {
    assert_eq!(
        Mix::load(&repo("scenarios/fleet/default-mix.toml")).unwrap(),
        Mix::default()
    );
    let plan = example_plan();
    // The example recommends what both articles support: CCMCertFix before
    // the task sequence.
    assert_eq!(plan.default, Remediation::CcmcertfixBeforeTs);
    assert_eq!(plan.rules.len(), 2);
    example_mix();
}

#[test]
fn the_draw_follows_the_mix_and_the_plan_rules() {
    let mix = Mix::parse(
        "m.toml",
        "[source_os]\nxp-sp3 = 1\n[client]\nsp2-r3 = 1\n[target_os]\nwin7-sp1 = 3\nwin7-rtm = 1\n[source_arch]\nx64 = 1\n[target_arch]\nx64 = 1\n",
    )
    .unwrap();
    let plan = Plan::parse(
        "p.toml",
        "default = \"none\"\n[[rule]]\ntarget_os = \"win7-sp1\"\nremediation = \"superseded-extract\"\n",
    )
    .unwrap();
    let mut sp1 = 0;
    for i in 0..4000 {
        let p = MachineProfile::draw(&mix, &plan, 11, i);
        assert_eq!(p.source_os, Os::XpSp3);
        // Windows XP SP3 is 32-bit only, whatever the mix says.
        assert_eq!(p.source_arch, certmig::sim::world::Arch::X86);
        assert_eq!(p.target_arch, certmig::sim::world::Arch::X64);
        // R3 requires KB977384.
        assert_eq!(p.client_hotfix, ClientHotfix::Kb977384);
        assert!(!p.target_kb974571_before_restore || p.target_os != Os::Win7Sp1);
        let want = if p.target_os == Os::Win7Sp1 {
            sp1 += 1;
            Remediation::SupersededExtract
        } else {
            Remediation::None
        };
        assert_eq!(p.remediation, want);
        assert_eq!(MachineProfile::of_cell(p.cell()), p);
        assert_eq!(p, MachineProfile::draw(&mix, &plan, 11, i), "deterministic");
    }
    assert!((2800..3200).contains(&sp1), "3:1 weights, got {sp1}/4000");
}

#[test]
fn malformed_mix_and_plan_files_name_line_and_column() {
    let e = Mix::parse("m.toml", "[source_os]\nxp-sp3 = 1\nwin8 = 2\n").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("m.toml: line 3, column 1"), "{msg}");
    assert!(msg.contains("win8") && msg.contains("xp-sp3"), "{msg}");
    let e = Mix::parse("m.toml", "[kind]\nrefresh = 0\nreplace = 0\n").unwrap_err();
    assert!(e.to_string().contains("every weight is zero"), "{e}");
    let e = Mix::parse("m.toml", "[kind]\nrefresh = -1\n").unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
    let e = Mix::parse("m.toml", "[kinds]\nrefresh = 1\n").unwrap_err();
    assert!(e.to_string().contains("line 1"), "{e}");
    let e = Plan::parse("p.toml", "default = \"ccmcertfix\"\n").unwrap_err();
    assert!(e.to_string().contains("p.toml: line 1"), "{e}");
    // Weights that are each finite but add up past f64::MAX are refused,
    // not turned into a mix where every machine is the last value.
    let e = Mix::parse(
        "m.toml",
        "[source_os]\nxp-sp3 = 1.7e308\nvista-sp2 = 1.7e308\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("add up to more than"), "{e}");
}

/// A machine (an export's file name) that a spreadsheet would take for a
/// formula goes into the inventory CSV as text, with a leading `'`.
#[test]
fn inventory_csv_cells_that_would_be_formulas_are_neutralised() {
    use certmig::report::inventory::spreadsheet_safe;
    for evil in [
        "=HYPERLINK(\"http://x\")",
        "+1",
        "-1+2",
        "@SUM(A1)",
        "\tx",
        "\rx",
    ] {
        assert_eq!(spreadsheet_safe(evil), format!("'{evil}"));
    }
    for fine in ["PC0001", "a=b", "PC-01", ""] {
        assert_eq!(spreadsheet_safe(fine), fine);
    }
    let d = tempfile::tempdir().unwrap();
    gen_reg(d.path(), 1, 1, Defect::DoubledTerminator);
    std::fs::rename(d.path().join("PC0001.reg"), d.path().join("=calc.reg")).unwrap();
    let out = support::certmig()
        .args(["fleet", "--target", "win7-sp1", "--csv", "--inventory"])
        .arg(d.path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let row = text.lines().nth(1).unwrap_or_else(|| panic!("{text}"));
    assert!(row.starts_with("'=calc,"), "{row}");
}

// ---------------------------------------------------------------- inventory

fn gen_reg(dir: &Path, seed: u64, machines: usize, defect: Defect) {
    generate(&GenOptions {
        machines,
        seed,
        profile: Profile::Sccm2007,
        defect: DefectChoice::Fixed(defect),
        formats: vec![FileFormat::Reg],
        certs_per_machine: 2,
        bulk: false,
        out: dir.to_owned(),
        overwrite: false,
    })
    .unwrap();
}

/// An inventory directory:
/// - BAD1, BAD2: an unhotfixed client's doubled terminators (C1);
/// - NUL3: a NUL inside the names;
/// - GOOD4: clean certificates;
/// - EVIL5: a planted certificate with a NUL in its subject CN (CVE-2009-2510),
///   which imports under both rule sets (Wine crypt32 tests, cert.c
///   testAddCert): no cause, but name findings;
/// - CORRUPT7: a certificate whose DER cannot be decoded (`30 00`, refused by
///   CertAddEncodedCertificateToStore in Wine's store.c testMemStore);
/// - BROKEN6: PC0001's export with an odd number of hex digits on line 9.
fn inventory_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let put = |seed: u64, defect: Defect, names: &[&str]| {
        let tmp = d.path().join(format!("gen-{seed}"));
        gen_reg(&tmp, seed, names.len(), defect);
        for (i, n) in names.iter().enumerate() {
            std::fs::rename(
                tmp.join(format!("{}.reg", cert::machine_name(i + 1))),
                d.path().join(format!("{n}.reg")),
            )
            .unwrap();
        }
        std::fs::remove_dir(&tmp).unwrap();
    };
    put(1, Defect::DoubledTerminator, &["BAD1", "BAD2"]);
    put(2, Defect::EmbeddedNul, &["NUL3"]);
    put(3, Defect::Clean, &["GOOD4"]);
    let evil =
        cert::adversarial::element(cert::adversarial::subject_cn_with_embedded_nul(5).unwrap());
    let store = RegistryStore::from_elements("SMS", vec![evil]);
    std::fs::write(
        d.path().join("EVIL5.reg"),
        reg::write_reg(&store, reg::RegEncoding::Regedit5),
    )
    .unwrap();
    let corrupt = cert::adversarial::element(vec![0x30, 0x00]);
    let store = RegistryStore::from_elements("SMS", vec![corrupt]);
    std::fs::write(
        d.path().join("CORRUPT7.reg"),
        reg::write_reg(&store, reg::RegEncoding::Regedit5),
    )
    .unwrap();
    // Corrupt a copy of BAD1: drop one hex digit on line 9 (a Blob line).
    let bytes = std::fs::read(d.path().join("BAD1.reg")).unwrap();
    let units: Vec<u16> = bytes[2..]
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    let text = String::from_utf16(&units).unwrap();
    let mut lines: Vec<String> = text.split("\r\n").map(String::from).collect();
    assert!(lines[8].contains(",0"), "{}", lines[8]);
    lines[8] = lines[8].replacen(",0", ",", 1);
    let mut out = vec![0xFF, 0xFE];
    for u in lines.join("\r\n").encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    std::fs::write(d.path().join("BROKEN6.reg"), out).unwrap();
    d
}

fn options(target: Os) -> InventoryOptions {
    InventoryOptions {
        target,
        target_kb974571: false,
        source_kb974571: MachineSet::None,
        client_hotfix_977203: MachineSet::None,
        site_has_977384: false,
        site_version: Default::default(),
    }
}

fn by_machine(r: &InventoryReport) -> BTreeMap<&str, (Prediction, Action, usize)> {
    r.machines
        .iter()
        .map(|m| (m.machine.as_str(), (m.prediction, m.action, m.causes.len())))
        .collect()
}

#[test]
fn inventory_predicts_failures_and_actions_and_reports_the_unreadable_export() {
    let d = inventory_dir();
    use Action::*;
    use Prediction::*;

    // Windows 7 SP1 target (974571 inside), sources without 974571.
    let r = assess_dir(d.path(), &options(Os::Win7Sp1)).unwrap();
    let fix = InstallClientHotfixAndRunCcmcertfixBeforeTs;
    assert_eq!(
        by_machine(&r),
        BTreeMap::from([
            ("BAD1", (RestoreFailed, fix, 2)),
            ("BAD2", (RestoreFailed, fix, 2)),
            ("CORRUPT7", (CaptureFailed, Investigate, 1)),
            ("EVIL5", (Success, None, 0)),
            ("GOOD4", (Success, None, 0)),
            ("NUL3", (RestoreFailed, fix, 2)),
        ])
    );
    let bad1 = r.machines.iter().find(|m| m.machine == "BAD1").unwrap();
    assert_eq!(bad1.step, Some("Restore User State"));
    assert_eq!(bad1.hresult.unwrap().to_string(), "0x80092024");
    for c in &bad1.causes {
        assert_eq!(c.shape, Some("doubled-terminator"));
        assert_eq!(c.rule.as_str(), "friendly-name-embedded-nul");
        assert_eq!(c.thumbprint.len(), 40);
        assert!(c.ccmcertfix_repairs && !c.refused_on_capture);
    }
    // The spoofing certificate imports: no step fails, and the name
    // findings say what MS09-056 changes (issuer and subject CN).
    let evil = r.machines.iter().find(|m| m.machine == "EVIL5").unwrap();
    assert!(evil.step.is_none() && evil.hresult.is_none());
    let rules: Vec<_> = evil.names.iter().map(|n| n.rule.as_str()).collect();
    assert_eq!(
        rules,
        [
            "name-embedded-nul",
            "name-embedded-nul-display",
            "name-embedded-nul",
            "name-embedded-nul-display"
        ]
    );
    assert!(!evil.names[0].modelling_choice && evil.names[1].modelling_choice);
    assert!(r
        .machines
        .iter()
        .filter(|m| m.machine != "EVIL5")
        .all(|m| m.names.is_empty()));
    assert_eq!(r.summary.name_findings, 1);
    // The undecodable certificate is refused under the source's legacy
    // rules already, and CCMCertFix cannot repair it.
    let corrupt = r.machines.iter().find(|m| m.machine == "CORRUPT7").unwrap();
    assert_eq!(corrupt.step, Some("Capture User State"));
    assert_eq!(corrupt.hresult.unwrap().to_string(), "0x80093103");
    let c = &corrupt.causes[0];
    assert_eq!(c.rule.as_str(), "malformed-certificate");
    assert!(c.modelling_choice && c.refused_on_capture && !c.ccmcertfix_repairs);
    assert!(!bad1.causes[0].modelling_choice);

    // The corrupt export is listed with its line, offset and message, and counted.
    assert_eq!(r.unreadable.len(), 1);
    let u = &r.unreadable[0];
    assert_eq!(u.machine, "BROKEN6");
    assert_eq!(u.line, Some(9));
    assert!(u.offset.unwrap() > 0);
    assert!(u.error.contains("odd number of hex digits"), "{}", u.error);
    assert_eq!(r.summary.exports, 7);
    assert_eq!((r.summary.readable, r.summary.unreadable), (6, 1));
    assert_eq!(r.summary.will_fail, 4);
    assert_eq!(
        r.summary.by_action["install-client-hotfix-and-run-ccmcertfix-before-ts"],
        3
    );
    assert_eq!(r.summary.bad_certificates, 7);

    // Windows 7 RTM without 974571, BAD2's source has 974571; the site has 977384.
    let mut o = options(Os::Win7Rtm);
    o.source_kb974571 = MachineSet::parse_list("# from the compliance report\nbad2\n");
    o.site_has_977384 = true;
    let r = assess_dir(d.path(), &o).unwrap();
    let x = ExtractCcmcertfixWithXAndRunBeforeTs;
    assert_eq!(
        by_machine(&r),
        BTreeMap::from([
            ("BAD1", (SuccessLatent, x, 2)),
            ("BAD2", (CaptureFailed, x, 2)),
            ("CORRUPT7", (CaptureFailed, Investigate, 1)),
            ("EVIL5", (Success, None, 0)),
            ("GOOD4", (Success, None, 0)),
            ("NUL3", (SuccessLatent, x, 2)),
        ])
    );
    let bad2 = r.machines.iter().find(|m| m.machine == "BAD2").unwrap();
    assert_eq!(bad2.step, Some("Capture User State"));
    assert!(bad2.causes.iter().all(|c| c.refused_on_capture));

    // Windows 7 RTM with 974571 before restore, clients already hotfixed.
    let mut o = options(Os::Win7Rtm);
    o.target_kb974571 = true;
    o.client_hotfix_977203 = MachineSet::All;
    let r = assess_dir(d.path(), &o).unwrap();
    assert_eq!(
        by_machine(&r)["BAD1"],
        (RestoreFailed, RunCcmcertfixBeforeTs, 2)
    );
    assert_eq!(by_machine(&r)["GOOD4"], (Success, None, 0));
}

#[test]
fn an_empty_export_and_a_missing_directory() {
    let d = tempfile::tempdir().unwrap();
    let store = RegistryStore::from_elements("SMS", vec![]);
    std::fs::write(
        d.path().join("EMPTY.reg"),
        reg::write_reg(&store, reg::RegEncoding::Regedit5),
    )
    .unwrap();
    let r = assess_dir(d.path(), &options(Os::Win7Sp1)).unwrap();
    assert_eq!(r.machines[0].prediction, Prediction::Success);
    assert_eq!(r.machines[0].action, Action::None);
    assert!(r.machines[0].notes[0].contains("no certificates"));
    assert!(assess_dir(&d.path().join("nope"), &options(Os::Win7Sp1)).is_err());
}

// ------------------------------------------------------------ command line

#[test]
fn cli_fleet_json_shape_and_determinism() {
    let run = || {
        let out = support::certmig()
            .args(["fleet", "--machines", "300", "--seed", "5", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice::<serde_json::Value>(&out).unwrap()
    };
    let v = run();
    assert_eq!(v, run(), "same seed, same report");
    assert_eq!(v["machines"], 300);
    let t = &v["totals"];
    let sum: u64 = support::OUTCOMES
        .iter()
        .map(|k| t[k].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 300);
    for seg in [
        "by_os_pair",
        "by_kind",
        "by_remediation",
        "by_client",
        "by_defect",
    ] {
        let rows = v[seg].as_array().unwrap();
        let n: u64 = rows.iter().map(|r| r["machines"].as_u64().unwrap()).sum();
        assert_eq!(n, 300, "{seg}");
    }
    assert!(v["by_os_pair"][0]["source"].is_string());
    assert_eq!(v["plan"]["default"], "none");
    let causes = v["failure_causes"].as_array().unwrap();
    assert!(causes
        .iter()
        .any(|c| c["hresult"] == "0x80092024" && c["hresult_name"] == "CRYPT_E_NOT_CHAR_STRING"));
    assert!(v["mix"]["source_os"]["xp-sp3"].as_f64().unwrap() > 0.5);
}

#[test]
fn cli_fleet_csv_shape_plan_and_html() {
    let d = tempfile::tempdir().unwrap();
    let html = d.path().join("fleet.html");
    let out = support::certmig()
        .args([
            "fleet",
            "--machines",
            "400",
            "--seed",
            "2",
            "--csv",
            "--plan",
        ])
        .arg(repo("scenarios/fleet/example-plan.toml"))
        .arg("--mix")
        .arg(repo("scenarios/fleet/example-mix.toml"))
        .arg("--html")
        .arg(&html)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), 22);
    assert_eq!(header[0], "kind");
    assert_eq!(header[13], "machines");
    assert_eq!(header[21], "contested");
    assert_eq!(
        header[14..19],
        [
            "success",
            "capture_failed",
            "restore_failed",
            "step_failed",
            "unsupported"
        ]
    );
    let mut total = 0;
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 22, "{l}");
        let n: u64 = f[13].parse().unwrap();
        // Every machine has exactly one outcome, unsupported among them.
        let outcomes: u64 = f[14..19].iter().map(|x| x.parse::<u64>().unwrap()).sum();
        assert_eq!(n, outcomes, "{l}");
        assert!(
            [
                "ccmcertfix-step",
                "superseded-extract",
                "ccmcertfix-before-ts"
            ]
            .contains(&f[12]),
            "{l}"
        );
        total += n;
    }
    assert_eq!(total, 400);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg"));
    assert!(!page.contains("http://") || page.contains("xmlns=\"http://www.w3.org/2000/svg\""));
}

#[test]
fn cli_fleet_bad_input_exits_2() {
    let d = tempfile::tempdir().unwrap();
    let mix = d.path().join("mix.toml");
    std::fs::write(&mix, "[target_os]\nwin7-sp2 = 1\n").unwrap();
    support::certmig()
        .args(["fleet", "--machines", "10", "--mix"])
        .arg(&mix)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("line 2, column 1"));
    support::certmig()
        .args(["fleet", "--machines", "10", "--plan"])
        .arg(d.path().join("missing.toml"))
        .assert()
        .code(2);
    // Usage errors (clap) also exit 2.
    support::certmig().args(["fleet"]).assert().code(2);
    support::certmig()
        .args([
            "fleet",
            "--machines",
            "10",
            "--inventory",
            "x",
            "--target",
            "win7-sp1",
        ])
        .assert()
        .code(2);
}

#[test]
fn cli_inventory_csv_json_and_exit_codes() {
    let d = inventory_dir();
    // One unreadable export: exit 2, and it is listed, never skipped.
    let out = support::certmig()
        .args(["fleet", "--inventory"])
        .arg(d.path())
        .args(["--target", "win7-sp1", "--csv"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("BROKEN6.reg"))
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "machine,file,status,prediction,step,hresult,certificates,bad_certificates,causes,action,error"
    );
    assert_eq!(lines.len(), 8);
    let evil = lines.iter().find(|l| l.starts_with("EVIL5,")).unwrap();
    assert!(evil.contains(",ok,success,,,1,0,,none,"), "{evil}");
    let broken = lines.iter().find(|l| l.starts_with("BROKEN6,")).unwrap();
    assert!(
        broken.contains(",unreadable,") && broken.contains("line 9"),
        "{broken}"
    );
    let bad1 = lines.iter().find(|l| l.starts_with("BAD1,")).unwrap();
    assert!(
        bad1.contains(",ok,restore-failed,Restore User State,0x80092024,2,2,"),
        "{bad1}"
    );
    assert!(
        bad1.ends_with(",install-client-hotfix-and-run-ccmcertfix-before-ts,"),
        "{bad1}"
    );

    let out = support::certmig()
        .args(["fleet", "--inventory"])
        .arg(d.path())
        .args(["--target", "win7-rtm", "--source-kb974571", "--json"])
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["summary"]["unreadable"], 1);
    assert_eq!(v["summary"]["by_prediction"]["capture-failed"], 4);
    assert_eq!(v["unreadable"][0]["line"], 9);
    assert_eq!(v["machines"][0]["machine"], "BAD1");
    assert_eq!(v["machines"][0]["causes"][0]["shape"], "doubled-terminator");
    assert_eq!(v["assumptions"]["source_kb974571"], "all");

    // Without the corrupt export: exit 0, even though machines will fail.
    std::fs::remove_file(d.path().join("BROKEN6.reg")).unwrap();
    support::certmig()
        .args(["fleet", "--inventory"])
        .arg(d.path())
        .args(["--target", "win7-sp1", "--site-has-977384"])
        .assert()
        .success()
        .stdout(predicates::str::contains("extract-ccmcertfix-with-x-and-run-before-ts"))
        .stdout(predicates::str::contains(
            "6 export(s): 6 readable, 0 unreadable; 4 will fail",
        ))
        .stdout(predicates::str::contains(
            "name findings (they import; MS09-056 changes how their names are compared and displayed): EVIL5 (name-embedded-nul, name-embedded-nul-display)",
        ));
    // --inventory needs --target.
    support::certmig()
        .args(["fleet", "--inventory"])
        .arg(d.path())
        .assert()
        .code(2);
}

#[test]
fn inventory_streams_the_csv_s_bytes_and_the_table_lists_only_machines_that_need_action() {
    use certmig::report::inventory::{csv, human, CsvStream, HumanTable};
    let d = inventory_dir();
    let o = options(Os::Win7Sp1);
    let whole = assess_dir(d.path(), &o).unwrap();
    let mut rows = CsvStream::new(Vec::new());
    let mut table = HumanTable::default();
    let mut order = Vec::new();
    let streamed = assess_dir_with(d.path(), &o, false, |a| {
        order.push(match a {
            Ok(m) => m.file.clone(),
            Err(u) => u.file.clone(),
        });
        if let Ok(m) = a {
            table.add(m);
        }
        rows.row(a)
    })
    .unwrap();
    // Streamed in file-name order; nothing kept but the unreadable exports.
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(order.len(), 7);
    assert!(streamed.machines.is_empty());
    assert_eq!(streamed.summary, whole.summary);
    assert_eq!(streamed.unreadable, whole.unreadable);
    assert_eq!(
        String::from_utf8(rows.finish().unwrap()).unwrap(),
        csv(&whole)
    );
    let text = table.render(&streamed);
    assert_eq!(text, human(&whole));
    // Machines that need action have a row; the others are only counted.
    for m in &whole.machines {
        assert_eq!(
            text.contains(&format!("│ {} ", m.machine)),
            m.action != Action::None,
            "{}: {text}",
            m.machine
        );
    }
    assert!(text.contains("machine needing action"), "{text}");
    assert!(!text.contains("more machine(s) need action"), "{text}");
    assert!(
        text.contains("7 export(s): 6 readable, 1 unreadable; 4 will fail"),
        "{text}"
    );
    // An empty CSV still has its header.
    let empty = tempfile::tempdir().unwrap();
    let mut rows = CsvStream::new(Vec::new());
    assert_eq!(
        assess_dir_with(empty.path(), &o, false, |a| rows.row(a))
            .unwrap()
            .summary
            .exports,
        0
    );
    let header = String::from_utf8(rows.finish().unwrap()).unwrap();
    assert_eq!(header, csv(&assess_dir(empty.path(), &o).unwrap()));
    assert!(table_of(&assess_dir(empty.path(), &o).unwrap()).contains("no machine needs action"));
}

fn table_of(r: &InventoryReport) -> String {
    certmig::report::inventory::human(r)
}

#[test]
fn the_inventory_table_lists_the_first_machines_that_need_action_and_counts_the_rest() {
    use certmig::report::inventory::LISTED;
    let d = tempfile::tempdir().unwrap();
    generate(&GenOptions {
        machines: LISTED + 3,
        seed: 1,
        profile: Profile::Sccm2007,
        defect: DefectChoice::Fixed(Defect::DoubledTerminator),
        formats: vec![FileFormat::Reg],
        certs_per_machine: 2,
        bulk: true,
        out: d.path().to_owned(),
        overwrite: false,
    })
    .unwrap();
    let out = support::certmig()
        .args(["fleet", "--inventory"])
        .arg(d.path())
        .args(["--target", "win7-sp1"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("│ PC")).collect();
    assert_eq!(listed.len(), LISTED, "{text}");
    assert!(
        listed[0].starts_with("│ PC0001 ")
            && listed[LISTED - 1].starts_with(&format!("│ PC{LISTED:04} "))
    );
    assert!(
        text.contains("3 more machine(s) need action, not listed here (--csv lists every machine)"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "{n} export(s): {n} readable, 0 unreadable; {n} will fail (0 at capture, {n} at restore)",
        n = LISTED + 3
    )));
    // The CSV still has every machine.
    let out = support::certmig()
        .args(["fleet", "--inventory"])
        .arg(d.path())
        .args(["--target", "win7-sp1", "--csv"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), LISTED + 4);
}

/// The documented 1 000 000-machine run (BENCHMARKS.md); slow in a debug
/// build: `cargo test --release --test it fleet:: -- --ignored`.
#[test]
#[ignore]
fn one_million_machines() {
    let pop = Population {
        machines: 1_000_000,
        seed: 1,
        mix: Mix::default(),
        plan: Plan::default(),
    };
    let t = pop.run(&|_| {});
    assert_eq!(t.total().machines, 1_000_000);
}

#[test]
fn attribute_names_round_trip() {
    for d in <Defect as Attribute>::ALL {
        assert_eq!(d.name().parse::<Defect>().unwrap(), *d);
    }
}

#[test]
fn migrations_usmt_cannot_perform_are_counted_on_their_own() {
    let d = tempfile::tempdir().unwrap();
    let mix = d.path().join("mix.toml");
    // Half the machines are refreshed onto XP through a hard-link store (no
    // USMT does that), half are replaced from XP to Windows 7 SP1.
    std::fs::write(
        &mix,
        "[kind]\nrefresh = 1\nreplace = 1\n[source_os]\nxp-sp3 = 1\n[target_os]\nxp-sp3 = 1\nwin7-sp1 = 1\n[state_store]\nhard-link = 1\n",
    )
    .unwrap();
    let out = support::certmig()
        .args([
            "fleet",
            "--machines",
            "400",
            "--seed",
            "3",
            "--json",
            "--mix",
        ])
        .arg(&mix)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let t = &v["totals"];
    let n = |k: &str| t[k].as_u64().unwrap();
    assert!(n("unsupported") > 100, "{t}");
    assert_eq!(
        n("success")
            + n("capture-failed")
            + n("restore-failed")
            + n("step-failed")
            + n("unsupported"),
        400
    );
    // Never a failure cause: the causes add up to the failures alone.
    let causes: u64 = v["failure_causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["machines"].as_u64().unwrap())
        .sum();
    assert_eq!(
        causes,
        n("capture-failed") + n("restore-failed") + n("step-failed")
    );
    // XP to XP: refreshes (hard-link) are unsupported, replaces (a state
    // migration point, USMT 3.0.1) migrate.
    let xp = v["by_os_pair"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "xp-sp3" && r["target"] == "xp-sp3")
        .expect("an XP to XP row");
    assert!(xp["unsupported"].as_u64().unwrap() > 0, "{xp}");
    assert!(xp["success"].as_u64().unwrap() > 0, "{xp}");
    let by_kind = v["by_kind"].as_array().unwrap();
    let replace = by_kind.iter().find(|r| r["kind"] == "replace").unwrap();
    assert_eq!(replace["unsupported"], 0, "{replace}");
}

/// `fleet --html` is never written over the run's own mix or plan,
/// however spelled (a hard link too): bad input, exit 2, nothing written.
#[test]
fn the_html_report_never_lands_on_the_mix_or_the_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let mix = tmp.path().join("mix.toml");
    let plan = tmp.path().join("plan.toml");
    std::fs::write(&mix, "[kind]\nrefresh = 1\n").unwrap();
    std::fs::write(&plan, "default = \"ccmcertfix\"\n").unwrap();
    let linked = tmp.path().join("linked.toml");
    std::fs::hard_link(&mix, &linked).unwrap();
    for html in [&mix, &plan, &linked] {
        support::certmig()
            .args(["fleet", "--machines", "10", "--mix"])
            .arg(&mix)
            .arg("--plan")
            .arg(&plan)
            .arg("--html")
            .arg(html)
            .assert()
            .code(2)
            .stderr(predicates::str::contains("an input of this run"));
        assert_eq!(
            std::fs::read_to_string(&mix).unwrap(),
            "[kind]\nrefresh = 1\n"
        );
        assert_eq!(
            std::fs::read_to_string(&plan).unwrap(),
            "default = \"ccmcertfix\"\n"
        );
    }
}

/// Every action that runs CCMCertFix runs it on the client before the task
/// sequence starts (KB 2028442; KB 977203), in its name, in the table's
/// explanation and in the JSON; issue 20.
#[test]
fn inventory_actions_run_ccmcertfix_before_the_task_sequence() {
    for a in Action::ALL {
        if matches!(a, Action::None | Action::Investigate) {
            continue;
        }
        assert!(a.as_str().ends_with("-before-ts"), "{}", a.as_str());
        assert!(
            a.advice().contains("before the task sequence starts"),
            "{}",
            a.advice()
        );
    }
    let d = inventory_dir();
    std::fs::remove_file(d.path().join("BROKEN6.reg")).unwrap();
    for (extra, action) in [
        (None, "install-client-hotfix-and-run-ccmcertfix-before-ts"),
        (Some("--client-hotfix-977203"), "run-ccmcertfix-before-ts"),
        (
            Some("--site-has-977384"),
            "extract-ccmcertfix-with-x-and-run-before-ts",
        ),
    ] {
        let mut c = support::certmig();
        c.args(["fleet", "--inventory"])
            .arg(d.path())
            .args(["--target", "win7-sp1"]);
        c.args(extra);
        let out = c.assert().success().get_output().stdout.clone();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(&format!("  {action}: "))
                && text.contains("before the task sequence starts"),
            "{text}"
        );
    }
}

/// `--site-version sp1` with a Windows 7 target: an SP1 site has only USMT
/// 3.0.1, so every machine is `unsupported`, with the reason; onto Vista the
/// certificates decide as before.
#[test]
fn an_sp1_site_makes_every_windows_7_inventory_unsupported() {
    let d = inventory_dir();
    std::fs::remove_file(d.path().join("BROKEN6.reg")).unwrap();
    let sp1 = |target: Os| InventoryOptions {
        site_version: SiteVersion::Sp1,
        ..options(target)
    };
    let r = assess_dir(d.path(), &sp1(Os::Win7Sp1)).unwrap();
    let why = r.unsupported.as_deref().unwrap();
    assert!(why.contains("USMT 3.0.1"), "{why}");
    // An export does not say its source's OS: the reason names the target only.
    assert!(
        why.contains("(onto win7-sp1)") && !why.contains("xp-sp3"),
        "{why}"
    );
    assert_eq!(r.machines.len(), 6);
    for m in &r.machines {
        assert_eq!(m.prediction, Prediction::Unsupported, "{}", m.machine);
        assert!(m.step.is_none() && m.hresult.is_none());
    }
    // The bad certificates still need CCMCertFix before the next migration.
    assert_eq!(
        by_machine(&r)["BAD1"].1,
        Action::InstallClientHotfixAndRunCcmcertfixBeforeTs
    );
    let r = assess_dir(d.path(), &sp1(Os::VistaSp2)).unwrap();
    assert!(r.unsupported.is_none());
    assert_eq!(
        by_machine(&r),
        by_machine(&assess_dir(d.path(), &options(Os::VistaSp2)).unwrap())
    );
    support::certmig()
        .args(["fleet", "--inventory"])
        .arg(d.path())
        .args(["--target", "win7-rtm", "--site-version", "sp1"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "unsupported: an SP1 site has only USMT 3.0.1",
        ));
}

/// A fleet never counts CCMCertFix inside the task sequence as plain
/// success: every such machine is `contested`, in the totals, the CSV and
/// the report, whichever reading the plan follows.
#[test]
fn a_fleet_counts_the_in_sequence_step_as_contested() {
    for reading in [
        certmig::sim::world::InSequenceReading::Kb2028442,
        certmig::sim::world::InSequenceReading::Kb977203,
    ] {
        let plan = Plan {
            in_sequence_ccmcertfix: reading,
            ..Plan::global(Remediation::CcmcertfixStep)
        };
        let pop = Population {
            machines: 300,
            seed: 4,
            mix: Mix::default(),
            plan: plan.clone(),
        };
        let tally = pop.run(&|_| {});
        let t = tally.total();
        // The default mix has no unsupported migration: every machine ran
        // CCMCertFix inside its task sequence.
        assert_eq!((t.machines, t.unsupported), (300, 0));
        assert_eq!(t.contested, 300, "{reading}");
        let report = certmig::fleet::FleetReport::new(300, 4, Mix::default(), plan, &tally);
        let text = certmig::report::fleet::human(&report);
        assert!(
            text.contains(&format!("their outcomes follow {}", reading.source())),
            "{text}"
        );
        assert!(certmig::report::fleet::csv(&report)
            .lines()
            .next()
            .unwrap()
            .ends_with(",contested"));
    }
    let tally = Population {
        machines: 300,
        seed: 4,
        mix: Mix::default(),
        plan: Plan::global(Remediation::CcmcertfixBeforeTs),
    }
    .run(&|_| {});
    assert_eq!(
        tally.total().contested,
        0,
        "before the task sequence: not contested"
    );
}

/// `fleet --inventory --html FILE`: the report an administrator shares, one
/// self-contained page with every machine that needs action, what each
/// action means (CCMCertFix before the task sequence) and the unreadable
/// exports; no table on stdout; never inside the inventory itself.
#[test]
fn inventory_html_is_a_page_to_share() {
    let d = inventory_dir();
    let out = tempfile::tempdir().unwrap();
    let page = out.path().join("readiness.html");
    let run = support::certmig()
        .args(["fleet", "--inventory"])
        .arg(d.path())
        .args(["--target", "win7-sp1", "--html"])
        .arg(&page)
        .output()
        .unwrap();
    // BROKEN6 is unreadable: exit 2, named on stderr, and the page still written.
    assert_eq!(run.status.code(), Some(2));
    assert!(run.stdout.is_empty(), "no table unless asked");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("BROKEN6") && stderr.contains("wrote the HTML report"),
        "{stderr}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("<script") && !html.contains("<link"),
        "self-contained"
    );
    for want in [
        "Machines that need action",
        "BAD1",
        "NUL3",
        "CORRUPT7",
        "install-client-hotfix-and-run-ccmcertfix-before-ts",
        "before the task sequence starts",
        "Unreadable exports",
        "BROKEN6",
        "EVIL5",
    ] {
        assert!(html.contains(want), "{want}");
    }
    // Inside the inventory, it would be read as an export next time.
    support::certmig()
        .args(["fleet", "--inventory"])
        .arg(d.path())
        .args(["--target", "win7-sp1", "--html"])
        .arg(d.path().join("report.html"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("a directory this run reads"));
    assert!(!d.path().join("report.html").exists());
}

/// The inventory reads every store format `gen` (and Windows) writes: a
/// `reg export`, a serialized store (`.sst`), a directory of `.blob` files;
/// a machine found in several is judged once (its export first) and the
/// others are noted; the judgement is the same whatever the format.
#[test]
fn the_inventory_reads_every_store_format_once_per_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let judged = |format: &str| {
        let dir = tmp.path().join(format.replace(',', "-"));
        support::gen(
            &dir,
            &["-q", "--force", "--machines", "3", "--format", format],
        );
        let out = support::certmig()
            .args(["fleet", "--inventory"])
            .arg(&dir)
            .args(["--target", "win7-sp1", "--json"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let verdicts = |r: &serde_json::Value| -> Vec<(String, String, String, usize)> {
        r["machines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["machine"].as_str().unwrap().to_owned(),
                    m["prediction"].as_str().unwrap().to_owned(),
                    m["action"].as_str().unwrap().to_owned(),
                    m["causes"].as_array().unwrap().len(),
                )
            })
            .collect()
    };
    let reg = judged("reg");
    assert_eq!(verdicts(&reg).len(), 3);
    for format in ["sst", "blob", "sst,reg,blob"] {
        let r = judged(format);
        assert_eq!(verdicts(&r), verdicts(&reg), "{format}");
        assert_eq!(r["summary"]["unreadable"], 0, "{format}");
    }
    let all = judged("sst,reg,blob");
    for m in all["machines"].as_array().unwrap() {
        assert!(
            m["file"].as_str().unwrap().ends_with(".reg"),
            "the export first: {m}"
        );
        assert!(m["notes"][0].as_str().unwrap().contains("also in"), "{m}");
    }
}
