//! The validator's self-test (`certmig validate --self-test`) as a table.

use certmig_validate::selftest::SelfTest;

/// The self-test as a table, ending with `mutants killed: K/N`.
pub fn human(s: &SelfTest) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "reference fixer: {}\n",
        if s.reference.passed() {
            "all invariants hold".to_owned()
        } else {
            format!("FAILED {:?}", s.reference.failed_invariants())
        }
    ));
    let mut t = crate::text::terminal_table();
    t.set_header(["mutant", "breaks", "format", "failed", "killed", "evidence"]);
    for m in &s.mutants {
        let failed: Vec<&str> = m.failed.iter().map(|i| i.id()).collect();
        let mut evidence = m.evidence.clone().unwrap_or_default();
        if evidence.chars().count() > 90 {
            evidence = evidence.chars().take(87).collect::<String>() + "...";
        }
        t.add_row([
            m.mutant.name.clone(),
            m.mutant.breaks.id().to_owned(),
            m.format.to_string(),
            failed.join(" "),
            if m.killed { "yes" } else { "NO (survived)" }.to_owned(),
            evidence,
        ]);
    }
    out.push_str(&format!(
        "{t}\nmutants killed: {}/{}\n",
        s.killed(),
        s.mutants.len()
    ));
    out
}
