//! Printers for a [`ValidationReport`]: a human summary (cases × invariants
//! and every failure with its evidence) and JUnit XML (one testcase per case
//! and invariant) for CI systems. JSON is the report itself.

use std::time::Duration;

use certmig_validate::{Invariant, ValidationReport};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// The human summary.
pub fn human(r: &ValidationReport) -> String {
    let mut t = crate::text::terminal_table();
    let mut header = vec!["case".to_owned()];
    header.extend(Invariant::ALL.iter().map(|i| i.id().to_owned()));
    t.set_header(header);
    for c in &r.cases {
        let mut row = vec![c.name.clone()];
        for inv in Invariant::ALL {
            row.push(
                match (c.checked.contains(&inv), c.failed(inv)) {
                    (_, true) => "FAIL",
                    (true, false) => "ok",
                    (false, false) => "·",
                }
                .to_owned(),
            );
        }
        t.add_row(row);
    }
    let mut out = format!(
        "tool: {}\nformat: {}  policy: {}  seed: {}\n{}\n{t}\n",
        r.tool,
        r.format,
        r.policy,
        r.seed,
        r.containment.summary()
    );
    let failed = r.failed_invariants();
    for inv in &failed {
        out.push_str(&format!("\n{inv} FAILED: {}\n", inv.sentence()));
        for c in &r.cases {
            for v in c.violations.iter().filter(|v| v.invariant == *inv) {
                out.push_str(&format!("  {}: {}\n", c.name, v.evidence));
            }
        }
    }
    let hazards: Vec<String> = r
        .cases
        .iter()
        .flat_map(|c| c.hazards.iter().map(move |h| format!("{}: {h}", c.name)))
        .collect();
    if !hazards.is_empty() {
        out.push_str("\nHAZARDS: the tool did what a fix tool must never do\n");
        for h in &hazards {
            out.push_str(&format!("  {h}\n"));
        }
    }
    let cases = r.cases.len();
    if failed.is_empty() && hazards.is_empty() {
        out.push_str(&format!(
            "\nall invariants hold on {} cases\n",
            crate::text::group_digits(cases as u64)
        ));
        return out;
    }
    out.push('\n');
    for inv in &failed {
        out.push_str(&format!(
            "{inv} failed on {} of {cases} cases\n",
            r.failures_of(*inv)
        ));
    }
    if !hazards.is_empty() {
        let on = r.cases.iter().filter(|c| !c.hazards.is_empty()).count();
        out.push_str(&format!(
            "hazards: {} on {on} of {cases} cases\n",
            hazards.len()
        ));
    }
    out
}

/// JUnit XML: one test suite per validation, and per case one testcase
/// for every invariant V1–V10 and one for the tool's hazards, always (a
/// stable count: cases × 11). An invariant a case does not decide is
/// skipped, saying so; a case without hazards passes its hazards testcase.
pub fn junit(r: &ValidationReport) -> String {
    let mut report = Report::new("certmig validate");
    let mut suite = TestSuite::new(format!("{} ({}, {})", r.tool, r.format, r.policy));
    for c in &r.cases {
        let millis: u64 = c.runs.iter().map(|x| x.millis).sum();
        for inv in Invariant::ALL {
            let failures: Vec<&str> = c
                .violations
                .iter()
                .filter(|v| v.invariant == inv)
                .map(|v| v.evidence.as_str())
                .collect();
            let status = if !c.checked.contains(&inv) {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("{inv} is not decided on the case {}", c.name));
                s
            } else if failures.is_empty() {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("{inv}: {}", inv.sentence()));
                s.set_type(inv.id());
                s.set_description(failures.join("\n"));
                s
            };
            let mut tc = TestCase::new(format!("{} {inv}", c.name), status);
            tc.set_classname(format!("certmig.validate.{}", c.name));
            tc.set_time(Duration::from_millis(millis));
            if let Some(run) = c.runs.first() {
                tc.set_system_out(run.stdout.as_str());
                tc.set_system_err(run.stderr.as_str());
            }
            suite.add_test_case(tc);
        }
        suite.add_test_case(hazard_case(
            &format!("{} hazards", c.name),
            &c.name,
            &c.hazards,
        ));
    }
    report.add_test_suite(suite);
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot serialise the JUnit report: {e} -->"))
}

fn hazard_case(name: &str, class: &str, what: &[String]) -> TestCase {
    if what.is_empty() {
        let mut tc = TestCase::new(name, TestCaseStatus::success());
        tc.set_classname(format!("certmig.validate.{class}"));
        return tc;
    }
    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
    s.set_message("hazardous tool behaviour");
    s.set_type("hazard");
    s.set_description(what.join("\n"));
    let mut tc = TestCase::new(name, s);
    tc.set_classname(format!("certmig.validate.{class}"));
    tc
}
