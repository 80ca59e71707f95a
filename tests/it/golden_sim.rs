//! Golden snapshots (under `golden/`) of the whole outcome matrix and of the
//! logs of representative scenarios, at least one per outcome kind. Review
//! changes with `cargo insta review`; a change here is a change of behaviour.

use std::path::Path;

use certmig::report::matrix::table;
use certmig::sim::matrix::run_matrix;
use certmig::sim::scenario::Scenario;
use certmig::sim::{replay, OutcomeKind};

#[test]
fn the_whole_outcome_matrix() {
    insta::with_settings!({snapshot_path => "../../golden", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("matrix_table", table(&run_matrix()));
    });
}

#[test]
fn logs_of_representative_scenarios() {
    let files = [
        "c01-c10-refresh-xp-to-win7rtm-latent.toml",
        "c03-refresh-win7rtm-kb974571-before-restore.toml",
        "c04-replace-win7sp1-to-win7sp1.toml",
        "c07-ccmcertfix-step-replace-win7sp1.toml",
        "c08-superseded-no-extract.toml",
        "c08-superseded-extract.toml",
        "c10-replace-vista-to-win7rtm-latent.toml",
        "c11-replace-ccmcertfix-after-capture.toml",
        "fix-captured-state-smp-refresh.toml",
        "unsupported-refresh-win7-to-xp-hard-link.toml",
        "unsupported-refresh-xp-to-win7-from-an-sp1-site.toml",
        "unsupported-refresh-win7-x64-to-x86.toml",
    ];
    let mut outcomes = std::collections::BTreeSet::new();
    for file in files {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(file);
        let r = replay(&Scenario::load(&path).unwrap());
        outcomes.insert(r.outcome.kind);
        let mut text = format!(
            "scenario: {}\noutcome: {} step: {} hresult: {} identity preserved: {}\n",
            r.scenario,
            r.outcome.label(),
            r.outcome.step.as_deref().unwrap_or("-"),
            r.outcome.hresult.map_or("-".to_owned(), |h| h.to_string()),
            r.outcome
                .identity_preserved
                .map_or("n/a".to_owned(), |b| b.to_string())
        );
        if let Some(c) = r.outcome.contested_summary() {
            text.push_str(&format!("{c}\n"));
        }
        let choices: Vec<&str> = r
            .outcome
            .modelling_choices
            .iter()
            .map(|c| c.as_str())
            .collect();
        text.push_str(&format!("modelling choices: {}\n", choices.join(", ")));
        for m in &r.logs {
            // Every product log as written, then certmig's own notes.
            for f in &m.files {
                text.push_str(&format!(
                    "\n=== {}\\{} ===\n{}",
                    m.machine,
                    f.file,
                    m.render(&f.file).replace("\r\n", "\n")
                ));
            }
            text.push_str(&format!(
                "\n=== {}\\certmig.log (certmig's notes, not a product's) ===\n{}",
                m.machine,
                m.notes_log().replace("\r\n", "\n")
            ));
        }
        let name = format!("logs_{}", file.trim_end_matches(".toml"));
        insta::with_settings!({snapshot_path => "../../golden", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(name, text);
        });
    }
    assert_eq!(
        outcomes.len(),
        OutcomeKind::ALL.len(),
        "one snapshot per outcome kind at least: {outcomes:?}"
    );
}
