//! The rules of docs/ARCHITECTURE.md that Cargo alone does not hold, checked
//! on the sources: each crate depends only on the crates below it, the format
//! crate knows no files, only the command line prints, the binary does not
//! import through the facade, the fuzz crate stays free of heavy
//! dependencies, and every test module is compiled.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The `.rs` files under `dir`, recursively, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The lines of a source that are code (comments and doc comments dropped).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
}

/// Where any of `needles` occurs in the code of the sources under `dir`.
fn occurrences(dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for f in sources(dir) {
        let text = read(&f);
        for (n, line) in code_lines(&text) {
            if let Some(needle) = needles.iter().find(|x| line.contains(*x)) {
                found.push(format!("{}:{n}: {needle}", f.display()));
            }
        }
    }
    found
}

/// The workspace crates a crate's `Cargo.toml` depends on (normal
/// dependencies, every target).
fn workspace_dependencies(manifest: &Path) -> BTreeSet<String> {
    let doc: toml::Table = toml::from_str(&read(manifest)).unwrap();
    let mut tables: Vec<&toml::Table> = Vec::new();
    if let Some(d) = doc.get("dependencies").and_then(|d| d.as_table()) {
        tables.push(d);
    }
    if let Some(targets) = doc.get("target").and_then(|t| t.as_table()) {
        for t in targets.values() {
            if let Some(d) = t.get("dependencies").and_then(|d| d.as_table()) {
                tables.push(d);
            }
        }
    }
    tables
        .into_iter()
        .flat_map(|t| t.keys())
        .filter(|k| k.starts_with("certmig-"))
        .cloned()
        .collect()
}

/// The graph of docs/ARCHITECTURE.md: each crate and what it may use.
const LAYERS: &[(&str, &[&str])] = &[
    ("harness/format", &[]),
    ("harness/model", &["certmig-format"]),
    ("harness/fix", &["certmig-format"]),
    (
        "harness/sim",
        &["certmig-format", "certmig-model", "certmig-fix"],
    ),
    (
        "harness/stores",
        &["certmig-format", "certmig-model", "certmig-fix"],
    ),
    (
        "harness/validate",
        &[
            "certmig-format",
            "certmig-model",
            "certmig-fix",
            "certmig-sim",
        ],
    ),
    (
        "harness/report",
        &[
            "certmig-format",
            "certmig-model",
            "certmig-fix",
            "certmig-sim",
            "certmig-stores",
            "certmig-validate",
        ],
    ),
    (
        "harness/testkit",
        &["certmig-format", "certmig-model", "certmig-fix"],
    ),
    // The criterion benchmarks: over the facade, like the tests.
    ("benches", &["certmig-testkit"]),
];

/// The crates' lines, for "no crate above a third".
fn lines_under(dir: &Path) -> usize {
    sources(dir).iter().map(|f| read(f).lines().count()).sum()
}

#[test]
fn each_crate_depends_only_on_the_crates_below_it() {
    for (dir, allowed) in LAYERS {
        let got = workspace_dependencies(&root().join(dir).join("Cargo.toml"));
        let allowed: BTreeSet<String> = allowed.iter().map(|s| s.to_string()).collect();
        let extra: Vec<_> = got.difference(&allowed).collect();
        assert!(extra.is_empty(), "{dir} depends on {extra:?}, above it");
    }
    // Every workspace member is in the table (a new crate gets a row).
    let doc: toml::Table = toml::from_str(&read(&root().join("Cargo.toml"))).unwrap();
    let members: BTreeSet<&str> = doc["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.as_str())
        .filter(|m| *m != ".")
        .collect();
    let listed: BTreeSet<&str> = LAYERS.iter().map(|(d, _)| *d).collect();
    assert_eq!(members, listed);
}

#[test]
fn no_crate_holds_more_than_a_third_of_the_lines() {
    let mut sizes: Vec<(String, usize)> = LAYERS
        .iter()
        .map(|(d, _)| (d.to_string(), lines_under(&root().join(d))))
        .collect();
    sizes.push((
        "harness/cli".into(),
        lines_under(&root().join("harness/cli")),
    ));
    let total: usize = sizes.iter().map(|(_, n)| n).sum();
    for (d, n) in &sizes {
        assert!(3 * n <= total, "{d} has {n} of {total} lines");
    }
}

#[test]
fn the_format_crate_knows_no_files() {
    let found = occurrences(
        &root().join("harness/format/src"),
        &["std::fs", "File::", "std::path", "PathBuf", "read_dir"],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn only_the_command_line_prints() {
    let printing = ["println!", "print!(", "eprintln!", "eprint!(", "dbg!("];
    for dir in [
        "format", "model", "fix", "sim", "stores", "validate", "report",
    ] {
        let found = occurrences(&root().join("harness").join(dir).join("src"), &printing);
        assert!(found.is_empty(), "{found:#?}");
    }
}

#[test]
fn the_binary_uses_the_crates_not_the_facade() {
    let mut found = Vec::new();
    for f in sources(&root().join("harness/cli")) {
        if f.ends_with("lib.rs") {
            continue;
        }
        let text = read(&f);
        for (n, line) in code_lines(&text) {
            if line.contains("certmig::") {
                found.push(format!("{}:{n}", f.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_fuzz_crate_links_no_heavy_dependency() {
    let lock = read(&root().join("fuzz/Cargo.lock"));
    for heavy in ["openssl", "ring", "rcgen", "rayon", "clap", "indicatif"] {
        assert!(
            !lock.contains(&format!("name = \"{heavy}\"")),
            "fuzz/Cargo.lock has {heavy}"
        );
    }
}

#[test]
fn every_test_module_is_compiled() {
    let dir = root().join("tests/it");
    let main = read(&dir.join("main.rs"));
    let declared: BTreeSet<String> = main
        .lines()
        .filter_map(|l| l.trim().strip_prefix("mod "))
        .filter_map(|l| l.strip_suffix(';'))
        .map(str::to_owned)
        .collect();
    let files: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let stem = p.file_stem()?.to_str()?.to_owned();
            let module = (p.is_dir() && p.join("mod.rs").is_file())
                || p.extension().is_some_and(|x| x == "rs");
            (module && stem != "main").then_some(stem)
        })
        .collect();
    let missing: Vec<_> = files.difference(&declared).collect();
    assert!(
        missing.is_empty(),
        "tests/it holds modules main.rs does not declare (they never run): {missing:?}"
    );
}

/// The checks above catch what they are for: a planted dependency, file use
/// and print are found in text made for the purpose.
#[test]
fn the_checks_catch_what_they_are_for() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = tmp.path().join("Cargo.toml");
    std::fs::write(
        &manifest,
        "[package]\nname = \"x\"\n[dependencies]\ncertmig-sim.workspace = true\n\
         [target.'cfg(unix)'.dependencies]\ncertmig-report.workspace = true\n",
    )
    .unwrap();
    let got = workspace_dependencies(&manifest);
    assert!(got.contains("certmig-sim") && got.contains("certmig-report"));
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(
        src.join("a.rs"),
        "// std::fs in a comment is fine\nfn f() { let _ = std::fs::read(\"x\"); println!(\"x\"); }\n",
    )
    .unwrap();
    assert_eq!(occurrences(&src, &["std::fs"]).len(), 1);
    assert_eq!(occurrences(&src, &["println!"]).len(), 1);
}
