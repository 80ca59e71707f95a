//! Replayed scenarios (`certmig replay`): the table with the closing count,
//! and the rows `replay --json` prints.

use certmig_sim::{Contested, Evidence, ModellingChoice, Replay};
use serde::Serialize;

/// One scenario's replay as `replay --json` prints it.
#[derive(Debug, Serialize)]
pub struct ReplayRow<'a> {
    pub scenario: &'a str,
    pub kind: &'a str,
    pub source_os: String,
    pub target_os: String,
    pub remediation: Option<&'a str>,
    pub outcome: &'a str,
    pub step: Option<&'a str>,
    pub hresult: Option<String>,
    /// The USMT the migration uses (`null` when none can perform it).
    pub usmt: Option<&'a str>,
    /// Why the migration is `unsupported`.
    pub reason: Option<&'a str>,
    /// Refresh only (`null` for a replace, which is side by side).
    pub identity_preserved: Option<bool>,
    /// Product log lines that show the failure, then certmig's notes, each
    /// `{"machine","log","line"}`.
    pub evidence: &'a [Evidence],
    /// The modelling choices (no source) the outcome rests on.
    pub modelling_choices: &'a [ModellingChoice],
    /// Set where CCMCertFix ran inside the task sequence, which the sources
    /// dispute: the reading followed and each reading's source and outcome.
    pub contested: Option<&'a Contested>,
    pub expected: Option<bool>,
    pub mismatches: &'a [String],
}

impl<'a> ReplayRow<'a> {
    pub fn new(r: &'a Replay) -> ReplayRow<'a> {
        ReplayRow {
            scenario: &r.scenario,
            kind: r.kind.as_str(),
            source_os: r.source_os.to_string(),
            target_os: r.target_os.to_string(),
            remediation: r.remediation.map(|x| x.as_str()),
            outcome: r.outcome.kind.as_str(),
            step: r.outcome.step.as_deref(),
            hresult: r.outcome.hresult.map(|h| h.to_string()),
            usmt: r.outcome.usmt.map(|u| u.as_str()),
            reason: r.outcome.reason.as_deref(),
            identity_preserved: r.outcome.identity_preserved,
            evidence: &r.outcome.evidence,
            modelling_choices: &r.outcome.modelling_choices,
            contested: r.outcome.contested.as_ref(),
            expected: r.has_expectation.then_some(r.mismatches.is_empty()),
            mismatches: &r.mismatches,
        }
    }
}

/// The rows of `replay --json`.
pub fn rows(replays: &[Replay]) -> Vec<ReplayRow<'_>> {
    replays.iter().map(ReplayRow::new).collect()
}

/// The table `certmig replay` prints (fitted to the terminal), then
/// `N scenario(s), N as expected, N unexpected`, then the long texts a
/// table would only wrap: why a migration is unsupported, how an outcome
/// differs from its expectation, and the contested rule.
pub fn human(replays: &[Replay]) -> String {
    let mut t = crate::text::terminal_table();
    t.set_header(["scenario", "migration", "outcome", "expected?"]);
    // The verdict never wraps; the names and texts share the rest.
    if let Some(c) = t.column_mut(3) {
        c.set_constraint(comfy_table::ColumnConstraint::ContentWidth);
    }
    let mut below = Vec::new();
    for r in replays {
        let o = &r.outcome;
        if let Some(why) = &o.reason {
            below.push(format!("{}: unsupported: {why}", r.scenario));
        }
        if !r.mismatches.is_empty() {
            below.push(format!("{}: NO: {}", r.scenario, r.mismatches.join("; ")));
        }
        if let Some(why) = o.contested_summary() {
            below.push(format!("{} (contested): {why}", r.scenario));
        }
        let mut outcome = o.label();
        if let Some(step) = &o.step {
            outcome += &format!("\nat {step}");
        }
        if let Some(h) = o.hresult {
            outcome += &format!("\n{h}");
        }
        t.add_row([
            r.scenario.clone(),
            format!(
                "{} {} → {}\n{}",
                r.kind.as_str(),
                r.source_os,
                r.target_os,
                r.remediation.map_or("(custom steps)", |x| x.as_str())
            ),
            outcome,
            match (r.has_expectation, r.mismatches.is_empty()) {
                (false, _) => "(none)".to_owned(),
                (true, true) => "yes".to_owned(),
                (true, false) => "NO (below)".to_owned(),
            },
        ]);
    }
    let unexpected = replays.iter().filter(|r| !r.mismatches.is_empty()).count();
    let mut out = format!(
        "{t}\n{} scenario(s), {} as expected, {} unexpected\n",
        replays.len(),
        replays.len() - unexpected,
        unexpected
    );
    for line in below {
        out += &crate::text::paragraph(&line);
    }
    out
}

/// JUnit XML for a CI gate on the scenarios: one test suite, one testcase
/// per scenario, always (a stable count). A scenario whose outcome differs
/// from its `[expect]` is a failure whose message says how and whose text
/// holds the evidence (the product lines, then certmig's notes, then the
/// contested rule if any); one without an `[expect]` is skipped.
pub fn junit(replays: &[Replay]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("certmig replay");
    let mut suite = TestSuite::new("scenarios");
    for r in replays {
        let status = if !r.has_expectation {
            let mut s = TestCaseStatus::skipped();
            s.set_message("the scenario states no [expect]: its outcome is only reported");
            s
        } else if r.mismatches.is_empty() {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(r.mismatches.join("; "));
            s.set_type(r.outcome.kind.as_str());
            let mut text: Vec<String> =
                r.outcome.evidence.iter().map(ToString::to_string).collect();
            text.extend(r.outcome.contested_summary());
            s.set_description(text.join("\n"));
            s
        };
        let mut tc = TestCase::new(r.scenario.as_str(), status);
        tc.set_classname(format!("certmig.replay.{}", r.kind.as_str()));
        let mut out = format!(
            "{} {} -> {}, remediation {}: {}",
            r.kind.as_str(),
            r.source_os,
            r.target_os,
            r.remediation.map_or("(custom)", |x| x.as_str()),
            r.outcome.label()
        );
        if let Some(step) = &r.outcome.step {
            out += &format!(" at {step}");
        }
        if let Some(h) = r.outcome.hresult {
            out += &format!(" ({h})");
        }
        if let Some(why) = &r.outcome.reason {
            out += &format!(": {why}");
        }
        tc.set_system_out(out);
        suite.add_test_case(tc);
    }
    report.add_test_suite(suite);
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot serialise the JUnit report: {e} -->"))
}
