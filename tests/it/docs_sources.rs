//! docs/BEHAVIOR.md's claims, sources and tests table, checked against the
//! repository (issue 20): every row quotes a few words of each source it
//! cites (or marks the part with no source a modelling choice), every test
//! it names exists, and every source key cited anywhere — the docs, the
//! README, the scenarios, the code — is in the Sources table. A cited KB
//! missing from the sources list fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `[KEY]` source citations in `text`, with their byte offsets: keys that
/// look like the Sources table's (`seed`, `Wine`, `Wine-src`, `SRD`,
/// `MS09-056`, `WinSDK`, `X.690`, `RFC<digits>`, `MS-...`, `KB<digits>`,
/// `USMT<digits>`, `CM07...`). Other
/// brackets (TOML tables, links) are not citations.
fn citations(text: &str) -> Vec<(usize, &str)> {
    let looks_like = |k: &str| {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        matches!(
            k,
            "seed" | "Wine" | "Wine-src" | "SRD" | "MS09-056" | "WinSDK" | "X.690"
        ) || k.strip_prefix("RFC").is_some_and(digits)
            || k.strip_prefix("KB").is_some_and(digits)
            || k.strip_prefix("USMT").is_some_and(digits)
            || k.starts_with("CM07")
            || k.strip_prefix("MS-")
                .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_uppercase()))
    };
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(open) = text[at..].find('[') {
        let start = at + open + 1;
        match text[start..].find(']') {
            Some(len) if len <= 24 && looks_like(&text[start..start + len]) => {
                out.push((start - 1, &text[start..start + len]));
                at = start + len;
            }
            _ => at = start,
        }
    }
    out
}

/// The keys of docs/BEHAVIOR.md's "## Sources" table (`| **[key]** | ... |`).
fn source_keys(behavior: &str) -> BTreeSet<String> {
    let section = behavior
        .split("\n## Sources\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Sources section");
    let keys: BTreeSet<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| **["))
        .filter_map(|l| l.split_once("]**"))
        .map(|(k, _)| k.to_owned())
        .collect();
    assert!(keys.len() >= 10, "{keys:?}");
    keys
}

/// The rows of the "## Claims, sources and tests" table, as cells.
fn claims_rows(behavior: &str) -> Vec<Vec<String>> {
    let section = behavior
        .split("\n## Claims, sources and tests\n")
        .nth(1)
        .expect("the claims table section");
    section
        .lines()
        .skip_while(|l| !l.starts_with("| claim or rule |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect()
}

/// Files that may cite sources: docs, README, scenarios, and the code.
fn citing_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name();
            if name == "target" || name.to_string_lossy().starts_with('.') {
                continue;
            }
            if p.is_dir() {
                walk(&p, out);
            } else if p
                .extension()
                .is_some_and(|x| x == "md" || x == "rs" || x == "toml")
            {
                out.push(p);
            }
        }
    }
    let mut out = vec![root().join("README.md")];
    for d in ["docs", "scenarios", "harness", "tests", "benches"] {
        walk(&root().join(d), &mut out);
    }
    out
}

#[test]
fn every_cited_source_is_in_the_sources_list() {
    let keys = source_keys(&read(&root().join("docs/BEHAVIOR.md")));
    let mut unknown = Vec::new();
    let files = citing_files();
    assert!(files.len() > 50, "{} files", files.len());
    for f in files {
        // This file's own examples of bad citations are not citations.
        if f.ends_with("tests/it/docs_sources.rs") {
            continue;
        }
        let text = read(&f);
        for (at, key) in citations(&text) {
            if !keys.contains(key) {
                let line = text[..at].matches('\n').count() + 1;
                unknown.push(format!("{}:{line}: [{key}]", f.display()));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "sources cited but not in docs/BEHAVIOR.md's Sources table:\n{}",
        unknown.join("\n")
    );
}

#[test]
fn every_claims_row_quotes_its_sources_or_names_the_modelling_choice() {
    let behavior = read(&root().join("docs/BEHAVIOR.md"));
    let rows = claims_rows(&behavior);
    assert!(rows.len() >= 30, "{} rows", rows.len());
    let mut wrong = Vec::new();
    for row in &rows {
        assert_eq!(row.len(), 4, "{row:?}");
        let (claim, source) = (&row[0], &row[1]);
        let cited = citations(source);
        let labelled = source.contains("modelling choice");
        // Each citation's part of the cell (up to the next citation or
        // `;`) quotes the source, or says the words are paraphrased.
        for (i, (at, key)) in cited.iter().enumerate() {
            let end = cited.get(i + 1).map_or(source.len(), |(n, _)| *n);
            let part = &source[*at..end];
            let part = part.split("; ").next().unwrap_or(part);
            let quoted = part.matches('"').count() >= 2
                || (part.contains('“') && part.contains('”'))
                || part.contains("paraphrased");
            if !quoted {
                wrong.push(format!(
                    "{claim}: [{key}] is cited without a few of its words ({part:?})"
                ));
            }
        }
        let has_quote = source.matches('"').count() >= 2;
        if !(has_quote || labelled) {
            wrong.push(format!("{claim}: the source neither quotes a source nor says \"modelling choice\": {source:?}"));
        }
        if row[3].starts_with("yes") && !labelled {
            wrong.push(format!("{claim}: the row rests on a modelling choice, but its source does not say which part ({source:?})"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_test_the_claims_table_names_exists() {
    let behavior = read(&root().join("docs/BEHAVIOR.md"));
    let mut missing = Vec::new();
    let mut named = 0;
    for row in claims_rows(&behavior) {
        let mut file: Option<PathBuf> = None;
        for token in row[2].split('`').skip(1).step_by(2) {
            let Some((path, name)) = token.rsplit_once("::") else {
                continue;
            };
            if !path.is_empty() {
                file = Some(if path.ends_with(".rs") {
                    root().join(path)
                } else {
                    // `module::function`: a module of the integration-test
                    // crate (`cargo test --test it module::function`).
                    root().join("tests/it").join(format!("{path}.rs"))
                });
            }
            let Some(f) = &file else {
                missing.push(format!("{token}: no file"));
                continue;
            };
            named += 1;
            let text = std::fs::read_to_string(f).unwrap_or_default();
            if !text.contains(&format!("fn {name}(")) {
                missing.push(format!("{token} ({})", f.display()));
            }
        }
    }
    assert!(named >= 60, "{named} tests named");
    assert!(
        missing.is_empty(),
        "named in the claims table but not found:\n{}",
        missing.join("\n")
    );
}

/// The checker itself: a cited KB that is not in the list, a row without a
/// quote, and a quote-less citation are caught.
#[test]
fn the_checks_catch_what_they_are_for() {
    let keys: BTreeSet<String> = ["seed", "KB977203"].map(String::from).into();
    let cited: Vec<&str> = citations("see [KB977203] and [KB2028443], not [target] or [0]")
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    assert_eq!(cited, ["KB977203", "KB2028443"]);
    assert!(!keys.contains("KB2028443"));
    let doc = "x\n## Claims, sources and tests\n\n| claim or rule | source | tests that prove it | modelling choice |\n|---|---|---|---|\n| C1 | [seed]: \"a few words\" | `a::b` | no |\n| C2 | [KB977203] | `a::c` | no |\n\ntext\n";
    let rows = claims_rows(doc);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][1], "[KB977203]");
    let result = std::panic::catch_unwind(|| {
        for row in &rows {
            let quoted = row[1].matches('"').count() >= 2 || row[1].contains("modelling choice");
            assert!(quoted, "{row:?}");
        }
    });
    assert!(result.is_err(), "a row citing a KB without its words fails");
}
