//! `certmig validate --self-test`: the validator proves itself. The reference
//! fixer (`certmig fix`) must pass every invariant; every deliberately broken
//! fixer of `certmig-mutant` must fail, on the invariant it was written to
//! break. A mutant that survives means an invariant check is too weak.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::tool::ToolCommand;
use super::{validate, Invariant, ValidateOptions, ValidationReport};
use crate::fix::Policy;
use crate::format::FileFormat;

/// One mutant as `certmig-mutant list` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mutant {
    pub name: String,
    pub breaks: Invariant,
    pub description: String,
}

/// A mutant's fate.
#[derive(Debug, Clone, Serialize)]
pub struct MutantResult {
    pub mutant: Mutant,
    /// The format whose corpus killed it (or the last one tried).
    pub format: FileFormat,
    /// Every invariant it failed there.
    pub failed: Vec<Invariant>,
    pub killed: bool,
    /// The first evidence against it on its own invariant.
    pub evidence: Option<String>,
}

/// The whole self-test.
#[derive(Debug, Clone, Serialize)]
pub struct SelfTest {
    pub reference: ValidationReport,
    pub mutants: Vec<MutantResult>,
}

impl SelfTest {
    pub fn killed(&self) -> usize {
        self.mutants.iter().filter(|m| m.killed).count()
    }
    pub fn passed(&self) -> bool {
        self.reference.passed() && self.killed() == self.mutants.len() && !self.mutants.is_empty()
    }
}

/// Why the self-test could not run.
#[derive(Debug, thiserror::Error)]
pub enum SelfTestError {
    #[error("cannot find {}: the self-test's mutants (certmig-mutant, in harness/testkit) must sit beside this certmig; from the checkout, build them with the profile that built certmig: `cargo build --release --workspace` for target/release, `cargo build --workspace` for target/debug", .0.display())]
    MutantsMissing(PathBuf),
    #[error("{}: {message}", path.display())]
    List { path: PathBuf, message: String },
    #[error(transparent)]
    Validate(#[from] super::ValidateError),
}

/// The mutants binary beside `certmig_exe`.
pub fn mutants_exe(certmig_exe: &Path) -> PathBuf {
    certmig_exe.with_file_name(format!("certmig-mutant{}", std::env::consts::EXE_SUFFIX))
}

/// Reads `certmig-mutant list`: `name<TAB>Vn<TAB>description` per line.
pub fn list_mutants(exe: &Path) -> Result<Vec<Mutant>, SelfTestError> {
    if !exe.is_file() {
        return Err(SelfTestError::MutantsMissing(exe.to_owned()));
    }
    let out = std::process::Command::new(exe)
        .arg("list")
        .output()
        .map_err(|e| SelfTestError::List {
            path: exe.to_owned(),
            message: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut mutants = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut parts = line.splitn(3, '\t');
        let (Some(name), Some(inv), desc) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SelfTestError::List {
                path: exe.to_owned(),
                message: format!("line {}: expected NAME<TAB>Vn<TAB>description", n + 1),
            });
        };
        let breaks = Invariant::parse(inv.trim()).ok_or_else(|| SelfTestError::List {
            path: exe.to_owned(),
            message: format!("line {}: unknown invariant {inv:?}", n + 1),
        })?;
        mutants.push(Mutant {
            name: name.trim().to_owned(),
            breaks,
            description: desc.unwrap_or("").trim().to_owned(),
        });
    }
    if mutants.is_empty() {
        return Err(SelfTestError::List {
            path: exe.to_owned(),
            message: "listed no mutants".into(),
        });
    }
    Ok(mutants)
}

fn quote(p: &Path) -> String {
    crate::platform::quote_path(p)
}

/// Runs the self-test with `certmig_exe` as the reference fixer and the
/// mutants beside it. `timeout` bounds each run (the hanging mutant waits
/// that long once). `progress` is passed to every [`validate`] run: it starts
/// again from `(0, total)` for each one.
pub fn run(
    certmig_exe: &Path,
    seed: u64,
    cases: usize,
    policy: Policy,
    timeout: Duration,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<SelfTest, SelfTestError> {
    let mutants_exe = mutants_exe(certmig_exe);
    let mutants = list_mutants(&mutants_exe)?;
    let options = |template: String, format: FileFormat| {
        let command =
            ToolCommand::parse(&template).expect("the self-test's own templates are well formed");
        let mut o = ValidateOptions::new(&template, command);
        o.format = format;
        o.policy = policy;
        o.seed = seed;
        o.cases = cases;
        o.limits.timeout = timeout;
        o
    };
    let reference = validate(
        &options(
            format!(
                "{} fix {{in}} -o {{out}} --policy {policy}",
                quote(certmig_exe)
            ),
            FileFormat::Reg,
        ),
        progress,
    )?;
    let mut results = Vec::new();
    for m in mutants {
        let mut result = None;
        // The default format first; a mutant whose bug lives in another
        // format (e.g. the .sst end marker) is tried there too.
        for format in [FileFormat::Reg, FileFormat::Sst] {
            let mut o = options(
                format!(
                    "{} {} --policy {policy} {{in}} {{out}}",
                    quote(&mutants_exe),
                    m.name
                ),
                format,
            );
            o.stop_at = Some(m.breaks);
            o.matrix = m.breaks == Invariant::V9;
            let report = validate(&o, progress)?;
            let failed: Vec<Invariant> = report.failed_invariants().into_iter().collect();
            let evidence = report
                .cases
                .iter()
                .flat_map(|c| {
                    c.violations
                        .iter()
                        .filter(|v| v.invariant == m.breaks)
                        .map(move |v| format!("{}: {}", c.name, v.evidence))
                })
                .next();
            let killed = failed.contains(&m.breaks);
            result = Some(MutantResult {
                mutant: m.clone(),
                format,
                failed,
                killed,
                evidence,
            });
            if killed {
                break;
            }
        }
        results.extend(result);
    }
    Ok(SelfTest {
        reference,
        mutants: results,
    })
}
