//! `certmig-mutant`: deliberately broken fixers, used by
//! `certmig validate --self-test` to prove that the validator catches bugs.
//!
//! # Contract
//!
//! ```text
//! certmig-mutant <MUTANT> [--policy truncate|strip] <IN> [<OUT>]
//! certmig-mutant reference [--policy truncate|strip] <IN> [<OUT>]
//! certmig-mutant list [--json]
//! ```
//!
//! The same contract as any external fixer the validator runs: read `IN`
//! (like `certmig fix`: a directory of `<THUMBPRINT>.blob` files, or a file
//! whose format is detected from its content: a `.sst` serialized store, a
//! REGEDIT5/REGEDIT4 `.reg` export, or one serialized element `.blob`),
//! repair every friendly name with an embedded NUL the way the reference
//! CCMCertFix does under the promised `--policy` (default `truncate`), write
//! `OUT` in the same format (a directory for a directory) and exit 0. Without
//! `OUT` the repair is in place (no `IN.bak` is kept, as with `certmig fix
//! --no-backup`).
//!
//! Every run is `certmig fix` itself: the pipeline of
//! [`certmig_fix`] (readers, writers, locks, the safe replace).
//! `reference` is that pipeline with no hook ([`certmig_fix::run`]),
//! so it writes byte for byte what `certmig fix IN -o OUT` writes and fails
//! the way it fails. Each mutant is the same pipeline with ONE deliberate bug,
//! a small function plugged into one of its hook points
//! ([`certmig_fix::FixHooks`]); every mutant also runs without the
//! pipeline's re-read check of its output (a broken tool has none, and the
//! check would refuse to commit the bug). Content bugs apply only to
//! certificates the run actually repaired, so a second run on a mutant's own
//! output finds nothing to repair and changes nothing: each mutant breaks its
//! target invariant and as few others as the bug allows.
//!
//! Errors (those of `certmig fix`): malformed input (or an unreadable `IN`)
//! prints `certmig-mutant: <file>: <error>` to stderr, exits 2 and writes
//! nothing; a failed write exits 1. Usage errors exit 2. A `.reg` is
//! repaired in place in its text: only the `Blob` values of the certificates
//! repaired are rewritten, every other byte is copied.
//!
//! `list` prints one line per mutant, `name<TAB>invariant<TAB>description`
//! (`reference` is not listed). `list --json` prints an array of
//! `{"name","invariant","formats","about"}`; `formats` are the validator
//! formats (`sst`, `reg`, `blob-dir`) on which the bug shows.
//! On the others the mutant behaves like the reference.
//!
//! # The mutants
//!
//! | mutant | breaks | formats | hook | bug |
//! |---|---|---|---|---|
//! | `drops-terminator` | V4 | all | repair | the repaired name has no terminator |
//! | `truncates-one-early` | V4 | all | repair | the repaired name keeps one code unit less |
//! | `ignores-policy` | V4 | all; names with a NUL inside the text | repair | applies the other policy |
//! | `deletes-friendly-name` | V3 | all | repair | removes property 11 from repaired certificates |
//! | `reorders-properties` | V3 | all | repair | reverses the properties of repaired certificates |
//! | `drops-key-provider-link` | V3 | all | repair | removes property 2 from repaired certificates |
//! | `adds-sha1-property` | V3 | sst (reg and registry blobs already have it) | repair | adds property 3 to repaired certificates |
//! | `re-encodes-certificate` | V2 | sst (reg keys, blob names: V7) | repair | BER re-encodes the DER of repaired certificates |
//! | `reorders-certificates` | V2 | sst, reg; 2+ certificates | output | reverses the certificates when it repaired any |
//! | `repairs-only-first` | V1 | sst, reg, blob directory; 2+ bad | repair | repairs only the first certificate |
//! | `renames-clean-certificates` | V5 | all; clean certificates | repair | appends ` (checked)` to clean names |
//! | `regedit5-as-utf8` | V7 | reg | output | writes the `.reg` as UTF-8 under a REGEDIT5 header |
//! | `omits-end-marker` | V7 | sst | output | leaves out the 12-byte end marker |
//! | `unwraps-hex-lines` | V7 | reg | output | writes each `Blob` on one line (no wrapping) |
//! | `appends-every-run` | V6 | reg, blob directory (sst: empty store) | finish | a run with nothing to repair appends a line |
//! | `overwrites-input-on-malformed` | V8 | all; malformed input | finish | truncates the bad input file |
//! | `accepts-malformed-input` | V8 | all; malformed input | finish | copies `IN` to `OUT`, exits 0 |
//! | `exits-0-after-failing` | V10 | all | output | writes nothing yet exits 0 |
//! | `crashes` | V10 | all | output | aborts (SIGABRT) after reading valid input |
//! | `hangs` | V10 | all | output | sleeps forever after reading valid input |
//!
//! `harness/testkit/README.md` says, per mutant, what else it breaks as a
//! consequence and which validator checks must be byte-level to catch it.

use std::ffi::OsString;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use certmig_fix as fix;
use certmig_fix::cmtrace::LogClock;
use certmig_fix::write::RealSteps;
use certmig_fix::{
    repair_element, CertificateRepair, FixError, FixHooks, FixOptions, FixReport, Policy,
};
use certmig_format::reg::{parse_reg, write_reg, RegEncoding};
use certmig_format::registry;
use certmig_format::store::{END_MARKER, STORE_HEADER};
use certmig_format::{
    FileFormat, FriendlyNameShape, PropertyId, ReadMode, SerializedElement, SerializedStore,
};

const PROGRAM: &str = "certmig-mutant";
const EXIT_FAILURE: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;

/// One deliberately broken fixer: the fix pipeline with one bug.
struct Mutant {
    name: &'static str,
    /// The invariant id it is written to break (`V1`..`V10`).
    breaks: &'static str,
    /// Input formats on which the bug shows.
    formats: &'static [&'static str],
    about: &'static str,
    bug: Bug,
}

/// Where a mutant's bug plugs into the pipeline ([`FixHooks`]).
#[derive(Clone, Copy)]
enum Bug {
    /// Applied to every certificate the reference repair changed
    /// ([`FixHooks::repair`]).
    Repaired(fn(&mut SerializedElement<'_>)),
    /// Replaces the repair of every certificate ([`FixHooks::repair`]).
    Repair(fn(usize, &mut SerializedElement<'_>, Policy) -> CertificateRepair),
    /// Rewrites (or never lets go of) each output file before it is
    /// committed ([`FixHooks::output`]).
    Output(fn(&FixReport, &Path) -> io::Result<()>),
    /// Changes the outcome ([`FixHooks::finish`]).
    Finish(fn(&FixOptions, Result<FixReport, FixError>) -> Result<FixReport, FixError>),
}

impl FixHooks for Mutant {
    fn repair(
        &self,
        index: usize,
        e: &mut SerializedElement<'_>,
        policy: Policy,
    ) -> CertificateRepair {
        match self.bug {
            Bug::Repaired(bug) => {
                let r = repair_element(e, policy);
                if r.changed {
                    bug(e);
                }
                r
            }
            Bug::Repair(repair) => repair(index, e, policy),
            _ => repair_element(e, policy),
        }
    }

    fn checks_output(&self) -> bool {
        false
    }

    fn output(&self, report: &FixReport, temp: &Path) -> io::Result<()> {
        match self.bug {
            Bug::Output(bug) => bug(report, temp),
            _ => Ok(()),
        }
    }

    fn finish(
        &self,
        opts: &FixOptions,
        outcome: Result<FixReport, FixError>,
    ) -> Result<FixReport, FixError> {
        match self.bug {
            Bug::Finish(bug) => bug(opts, outcome),
            _ => outcome,
        }
    }
}

const ALL: &[&str] = &["sst", "reg", "blob-dir"];

const MUTANTS: &[Mutant] = &[
    Mutant {
        name: "drops-terminator",
        breaks: "V4",
        formats: ALL,
        about: "a repaired friendly name has no terminating U+0000 at all",
        bug: Bug::Repaired(drops_terminator),
    },
    Mutant {
        name: "truncates-one-early",
        breaks: "V4",
        formats: ALL,
        about: "a repaired friendly name keeps one code unit less than the policy says",
        bug: Bug::Repaired(truncates_one_early),
    },
    Mutant {
        name: "ignores-policy",
        breaks: "V4",
        formats: ALL,
        about: "repairs with the other policy than the promised one (differs only for a NUL inside the text)",
        bug: Bug::Repair(ignores_policy),
    },
    Mutant {
        name: "deletes-friendly-name",
        breaks: "V3",
        formats: ALL,
        about: "removes property 11 (friendly name) from the certificates it repairs",
        bug: Bug::Repaired(deletes_friendly_name),
    },
    Mutant {
        name: "reorders-properties",
        breaks: "V3",
        formats: ALL,
        about: "repairs the name, then reverses the order of the properties of repaired certificates",
        bug: Bug::Repaired(reorders_properties),
    },
    Mutant {
        name: "drops-key-provider-link",
        breaks: "V3",
        formats: ALL,
        about: "removes property 2 (key provider info, the link to the private key) from repaired certificates",
        bug: Bug::Repaired(drops_key_provider_link),
    },
    Mutant {
        name: "adds-sha1-property",
        breaks: "V3",
        formats: &["sst"],
        about: "adds property 3 (SHA-1), as a registry store would, to repaired certificates that lack it (.reg already has it)",
        bug: Bug::Repaired(registry::add_sha1_property),
    },
    Mutant {
        name: "re-encodes-certificate",
        breaks: "V2",
        formats: &["sst"],
        about: "re-encodes the DER of repaired certificates (outer length in a longer BER form): the thumbprint changes (.reg keys and .blob names keep the old one)",
        bug: Bug::Repaired(re_encodes_certificate),
    },
    Mutant {
        name: "reorders-certificates",
        breaks: "V2",
        formats: &["sst", "reg"],
        about: "repairs correctly but reverses the order of the certificates when it repaired any",
        bug: Bug::Output(reorders_certificates),
    },
    Mutant {
        name: "repairs-only-first",
        breaks: "V1",
        formats: ALL,
        about: "repairs only the first certificate of the store; later bad ones keep their embedded NUL",
        bug: Bug::Repair(repairs_only_first),
    },
    Mutant {
        name: "renames-clean-certificates",
        breaks: "V5",
        formats: ALL,
        about: "also rewrites the friendly name of clean certificates, appending \" (checked)\"",
        bug: Bug::Repair(renames_clean_certificates),
    },
    Mutant {
        name: "regedit5-as-utf8",
        breaks: "V7",
        formats: &["reg"],
        about: "writes the .reg as UTF-8 text (no BOM) under the \"Windows Registry Editor Version 5.00\" header",
        bug: Bug::Output(regedit5_as_utf8),
    },
    Mutant {
        name: "omits-end-marker",
        breaks: "V7",
        formats: &["sst"],
        about: "writes the .sst without its 12-byte end marker",
        bug: Bug::Output(omits_end_marker),
    },
    Mutant {
        name: "unwraps-hex-lines",
        breaks: "V7",
        formats: &["reg"],
        about: "writes each Blob value of the .reg on one line instead of regedit's 80-column wrapping",
        bug: Bug::Output(unwraps_hex_lines),
    },
    Mutant {
        name: "appends-every-run",
        breaks: "V6",
        formats: ALL,
        about: "not idempotent: a run with nothing to repair (e.g. on its own output) appends one blank line to the .reg it wrote (a blob directory: one more log line; an empty .sst toggles between 0 and 20 bytes)",
        bug: Bug::Finish(appends_every_run),
    },
    Mutant {
        name: "overwrites-input-on-malformed",
        breaks: "V8",
        formats: ALL,
        about: "on malformed input it truncates the offending input file to 0 bytes (and exits 2)",
        bug: Bug::Finish(overwrites_input_on_malformed),
    },
    Mutant {
        name: "accepts-malformed-input",
        breaks: "V8",
        formats: ALL,
        about: "on malformed input it copies IN to OUT unchanged and exits 0",
        bug: Bug::Finish(accepts_malformed_input),
    },
    Mutant {
        name: "exits-0-after-failing",
        breaks: "V10",
        formats: ALL,
        about: "on valid input it fails before writing (OUT is not written) yet exits 0",
        bug: Bug::Output(exits_0_after_failing),
    },
    Mutant {
        name: "crashes",
        breaks: "V10",
        formats: ALL,
        about: "aborts (SIGABRT, no output) after reading valid input",
        bug: Bug::Output(crashes),
    },
    Mutant {
        name: "hangs",
        breaks: "V10",
        formats: ALL,
        about: "sleeps forever (1 s at a time) after reading valid input",
        bug: Bug::Output(hangs),
    },
];

/// The correct behaviour, not listed: `certmig fix` with no hook.
const REFERENCE: &str = "reference";

// ------------------------------------------------- repair: each certificate

fn drops_terminator(e: &mut SerializedElement<'_>) {
    if let Some(v) = friendly_name_mut(e) {
        if v.ends_with(&[0, 0]) {
            v.truncate(v.len() - 2);
        }
    }
}

fn truncates_one_early(e: &mut SerializedElement<'_>) {
    if let Some(v) = friendly_name_mut(e) {
        // `text \0` -> `tex \0`: drop the code unit before the terminator.
        if v.len() >= 4 && v.ends_with(&[0, 0]) {
            let n = v.len();
            v.drain(n - 4..n - 2);
        }
    }
}

fn ignores_policy(_: usize, e: &mut SerializedElement<'_>, policy: Policy) -> CertificateRepair {
    let other = match policy {
        Policy::Truncate => Policy::Strip,
        Policy::Strip => Policy::Truncate,
    };
    repair_element(e, other)
}

fn deletes_friendly_name(e: &mut SerializedElement<'_>) {
    e.properties.retain(|p| p.id != PropertyId::FriendlyName)
}

fn reorders_properties(e: &mut SerializedElement<'_>) {
    e.properties.reverse()
}

fn drops_key_provider_link(e: &mut SerializedElement<'_>) {
    e.properties.retain(|p| p.id != PropertyId::KeyProvInfo)
}

fn re_encodes_certificate(e: &mut SerializedElement<'_>) {
    e.der = ber_reencode(&e.der).into();
    // A tool that re-encodes also recomputes the SHA-1 it stores, so the
    // element stays self-consistent.
    let sha1 = e.thumbprint().0;
    for p in e
        .properties
        .iter_mut()
        .filter(|p| p.id == PropertyId::Sha1Hash)
    {
        p.value = sha1.to_vec().into();
    }
}

fn repairs_only_first(
    index: usize,
    e: &mut SerializedElement<'_>,
    policy: Policy,
) -> CertificateRepair {
    // Only the certificate at index 0: a second run still looks only at
    // index 0, finds it clean and changes nothing (the bug is not also an
    // idempotence bug).
    if index == 0 {
        return repair_element(e, policy);
    }
    let name = e.friendly_name().map(<[u8]>::to_vec);
    CertificateRepair {
        thumbprint: e.thumbprint(),
        before: name.clone(),
        after: name,
        changed: false,
        warning: None,
    }
}

fn renames_clean_certificates(
    _: usize,
    e: &mut SerializedElement<'_>,
    policy: Policy,
) -> CertificateRepair {
    const SUFFIX: &str = " (checked)";
    if e.friendly_name_shape() != Some(FriendlyNameShape::Clean) {
        // Bad names get the reference repair; the rest are left alone.
        return repair_element(e, policy);
    }
    let mut r = repair_element(e, policy);
    let suffix: Vec<u8> = SUFFIX.encode_utf16().flat_map(u16::to_le_bytes).collect();
    if let Some(v) = friendly_name_mut(e) {
        let at = v.len() - 2;
        if !v[..at].ends_with(&suffix) {
            v.splice(at..at, suffix);
            r.after = Some(v.clone());
            r.changed = true;
        }
    }
    r
}

// ------------------------------------------------ output: each output file

fn reorders_certificates(report: &FixReport, temp: &Path) -> io::Result<()> {
    if report.certificates_changed == 0 {
        return Ok(());
    }
    let bytes = std::fs::read(temp)?;
    let reversed = match report.format {
        FileFormat::Sst => {
            let mut s =
                SerializedStore::parse(&bytes, ReadMode::Strict).map_err(io::Error::other)?;
            s.elements.reverse();
            s.to_bytes()
        }
        FileFormat::Reg => {
            let mut r = parse_reg(&bytes, ReadMode::Strict).map_err(io::Error::other)?;
            r.store.certificates.reverse();
            write_reg(&r.store, r.encoding)
        }
        // A blob directory has no order but its file names'.
        FileFormat::Blob | FileFormat::BlobDir => return Ok(()),
    };
    std::fs::write(temp, reversed)
}

fn regedit5_as_utf8(report: &FixReport, temp: &Path) -> io::Result<()> {
    if report.format != FileFormat::Reg {
        return Ok(());
    }
    let bytes = std::fs::read(temp)?;
    let text = reg_text(&bytes, bytes.starts_with(&[0xFF, 0xFE]));
    let text = match text.strip_prefix("REGEDIT4") {
        Some(rest) => format!("Windows Registry Editor Version 5.00{rest}"),
        None => text,
    };
    std::fs::write(temp, text)
}

fn omits_end_marker(report: &FixReport, temp: &Path) -> io::Result<()> {
    let file = std::fs::OpenOptions::new().write(true).open(temp)?;
    let len = file.metadata()?.len();
    if report.format == FileFormat::Sst
        && len >= END_MARKER.len() as u64
        && std::fs::read(temp)?.ends_with(&END_MARKER)
    {
        file.set_len(len - END_MARKER.len() as u64)?;
    }
    Ok(())
}

fn unwraps_hex_lines(report: &FixReport, temp: &Path) -> io::Result<()> {
    if report.format != FileFormat::Reg {
        return Ok(());
    }
    // Every `Blob` value on one line; the rest of the file as written.
    let bytes = std::fs::read(temp)?;
    let parsed = parse_reg(&bytes, ReadMode::Strict).map_err(io::Error::other)?;
    let utf16 = parsed.encoding == RegEncoding::Regedit5;
    let mut out = Vec::with_capacity(bytes.len());
    let mut pos = 0;
    for span in &parsed.blob_spans {
        out.extend_from_slice(&bytes[pos..span.start]);
        let value = reg_text(&bytes[span.clone()], utf16);
        let one_line = value.replace("\\\r\n  ", "").replace("\\\n  ", "");
        out.extend_from_slice(&reg_bytes(&one_line, utf16)[if utf16 { 2 } else { 0 }..]);
        pos = span.end;
    }
    out.extend_from_slice(&bytes[pos..]);
    std::fs::write(temp, out)
}

fn exits_0_after_failing(report: &FixReport, temp: &Path) -> io::Result<()> {
    let _ = std::fs::remove_file(temp);
    // The failure is reported, then swallowed.
    eprintln!(
        "{PROGRAM}: {}: could not write the repaired store (simulated failure)",
        report.input.display()
    );
    std::process::exit(0)
}

fn crashes(_: &FixReport, temp: &Path) -> io::Result<()> {
    let _ = std::fs::remove_file(temp);
    eprintln!("{PROGRAM}: aborting (deliberate crash)");
    std::process::abort()
}

fn hangs(_: &FixReport, temp: &Path) -> io::Result<()> {
    let _ = std::fs::remove_file(temp);
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

// ------------------------------------------------- finish: the outcome

/// The log `appends-every-run` keeps in a blob directory.
const RUN_LOG: &str = "certmig-mutant.log";

fn appends_every_run(
    opts: &FixOptions,
    outcome: Result<FixReport, FixError>,
) -> Result<FixReport, FixError> {
    // A run that repairs something wrote exactly what the reference writes,
    // so every single-run check passes. A run with nothing to repair (a clean
    // store, or its own output) adds one more line to what it wrote.
    let Ok(report) = &outcome else { return outcome };
    let Some(out) = report
        .wrote
        .as_deref()
        .filter(|_| report.certificates_changed == 0)
    else {
        return outcome;
    };
    let appended = match report.format {
        FileFormat::Reg => (|| {
            let utf16 = std::fs::read(out)?.starts_with(&[0xFF, 0xFE]);
            let mut f = std::fs::OpenOptions::new().append(true).open(out)?;
            f.write_all(&reg_bytes("\r\n", utf16)[if utf16 { 2 } else { 0 }..])
        })(),
        // The only freedom a strictly parsed .sst leaves: an empty store is
        // either an empty file or header + end marker. Toggle between them.
        FileFormat::Sst => (|| {
            let empty_store = [&STORE_HEADER[..], &END_MARKER[..]].concat();
            match std::fs::read(out)? {
                b if b.is_empty() => std::fs::write(out, empty_store),
                b if b == empty_store => std::fs::write(out, b""),
                _ => Ok(()),
            }
        })(),
        // A blob directory gets a log file, one line longer every run.
        FileFormat::BlobDir => {
            let mut log = std::fs::read(opts.input.join(RUN_LOG)).unwrap_or_default();
            log.extend_from_slice(b"nothing to repair\r\n");
            std::fs::write(out.join(RUN_LOG), log)
        }
        // A single .blob has no byte that may vary.
        FileFormat::Blob => Ok(()),
    };
    match appended {
        Ok(()) => outcome,
        Err(source) => Err(FixError::Io {
            path: out.to_owned(),
            source,
        }),
    }
}

fn overwrites_input_on_malformed(
    _: &FixOptions,
    outcome: Result<FixReport, FixError>,
) -> Result<FixReport, FixError> {
    if let Err(FixError::BadInput { path, .. }) = &outcome {
        // "Start over": truncate the offending file before giving up.
        if path.is_file() {
            if let Err(e) = std::fs::File::create(path) {
                eprintln!("{PROGRAM}: {}: {e}", path.display());
            }
        }
    }
    outcome
}

fn accepts_malformed_input(
    opts: &FixOptions,
    outcome: Result<FixReport, FixError>,
) -> Result<FixReport, FixError> {
    match outcome {
        Err(e) if e.is_bad_input() => {
            eprintln!("{PROGRAM}: {e} (ignored)");
            if let Some(out) = &opts.output {
                copy(&opts.input, out).map_err(|source| FixError::Io {
                    path: out.clone(),
                    source,
                })?;
            }
            Ok(FixReport::new(opts))
        }
        o => o,
    }
}

/// Copies a file, or the files of a directory, to `out`.
fn copy(input: &Path, out: &Path) -> io::Result<()> {
    if !input.is_dir() {
        return std::fs::copy(input, out).map(drop);
    }
    std::fs::create_dir_all(out)?;
    for entry in std::fs::read_dir(input)? {
        let p = entry?.path();
        if p.is_file() {
            std::fs::copy(&p, out.join(p.file_name().unwrap_or_default()))?;
        }
    }
    Ok(())
}

// ----------------------------------------------------------------- helpers

/// The friendly-name value of an element, to edit in place.
fn friendly_name_mut<'e>(e: &'e mut SerializedElement<'_>) -> Option<&'e mut Vec<u8>> {
    e.properties
        .iter_mut()
        .find(|p| p.id == PropertyId::FriendlyName)
        .map(|p| p.value.to_mut())
}

/// The text of a `.reg` file (or of a part of one): UTF-16LE when `utf16`
/// (a byte-order mark is skipped), else single-byte text.
fn reg_text(bytes: &[u8], utf16: bool) -> String {
    if !utf16 {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let body = bytes.strip_prefix(&[0xFF, 0xFE]).unwrap_or(bytes);
    let units: Vec<u16> = body
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// `.reg` text encoded as `write_reg` encodes it.
fn reg_bytes(text: &str, utf16: bool) -> Vec<u8> {
    if !utf16 {
        return text.as_bytes().to_vec();
    }
    std::iter::once(0xFEFF_u16)
        .chain(text.encode_utf16())
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// Re-encodes a certificate with its outer SEQUENCE length in a longer (BER,
/// non-minimal) form: same TBS and signature (the signature still verifies),
/// different bytes, so a different thumbprint. If the length already uses 4
/// bytes, flips the last byte of the signature instead.
fn ber_reencode(der: &[u8]) -> Vec<u8> {
    let longer = match der {
        [0x30, l, rest @ ..] if *l < 0x80 => Some([&[0x30, 0x81, *l][..], rest].concat()),
        [0x30, l @ 0x81..=0x83, rest @ ..] => Some([&[0x30, *l + 1, 0x00][..], rest].concat()),
        _ => None,
    };
    longer.unwrap_or_else(|| {
        let mut v = der.to_vec();
        if let Some(last) = v.last_mut() {
            *last ^= 0x01;
        } else {
            v.push(0);
        }
        v
    })
}

// ------------------------------------------------------------ command line

const AFTER_HELP: &str = "\
A deliberately broken fixer for `certmig validate --self-test`: `certmig fix`'s own
pipeline with the one bug MUTANT names (`reference`: no bug). IN is a .sst, .reg or
.blob (detected from content) or a directory of <THUMBPRINT>.blob files; OUT
(default: IN) gets the same format.
Exit codes: 0 done, 2 malformed input or usage error, 1 other failure.
`list` prints name<TAB>invariant<TAB>description for every mutant.";

/// `certmig-mutant`'s command line: deliberately broken fixers.
#[derive(Debug, Parser)]
#[command(
    name = PROGRAM,
    about = "Deliberately broken fixers for `certmig validate --self-test`",
    override_usage = "certmig-mutant <MUTANT> [--policy truncate|strip] <IN> [<OUT>]\n       \
                      certmig-mutant reference [--policy truncate|strip] <IN> [<OUT>]\n       \
                      certmig-mutant list [--json]",
    after_help = AFTER_HELP,
    disable_help_subcommand = true
)]
enum Cli {
    /// Print every mutant: name<TAB>invariant<TAB>description.
    List {
        /// An array of {"name","invariant","formats","about"} instead.
        #[arg(long)]
        json: bool,
    },
    /// `<MUTANT> [--policy truncate|strip] <IN> [<OUT>]` (see RunArgs).
    #[command(external_subcommand)]
    Run(Vec<OsString>),
}

/// `<MUTANT> [--policy truncate|strip] <IN> [<OUT>]`.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, no_binary_name = true, after_help = AFTER_HELP)]
struct RunArgs {
    /// The mutant (see `list`), or `reference`.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(
        MUTANTS.iter().map(|m| m.name).chain([REFERENCE])
    ))]
    mutant: String,
    /// The policy promised: truncate or strip.
    #[arg(long, default_value_t = Policy::Truncate, value_parser = parse_policy)]
    policy: Policy,
    /// The store to repair.
    input: PathBuf,
    /// Where to write the repaired store (default: in place).
    output: Option<PathBuf>,
}

fn parse_policy(s: &str) -> Result<Policy, String> {
    s.parse()
        .map_err(|e: certmig_format::names::UnknownName| e.to_string())
}

fn list(json: bool) -> ExitCode {
    if json {
        let rows: Vec<_> = MUTANTS
            .iter()
            .map(|m| {
                serde_json::json!({
                    "name": m.name,
                    "invariant": m.breaks,
                    "formats": m.formats,
                    "about": m.about,
                })
            })
            .collect();
        match serde_json::to_string_pretty(&rows) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("{PROGRAM}: {e}");
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    } else {
        for m in MUTANTS {
            println!("{}\t{}\t{}", m.name, m.breaks, m.about);
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args = match Cli::parse() {
        Cli::List { json } => return list(json),
        Cli::Run(args) => RunArgs::try_parse_from(args).unwrap_or_else(|e| e.exit()),
    };
    let opts = FixOptions {
        output: args.output,
        input: args.input,
        policy: args.policy,
        dry_run: false,
        backup: false,
        log: None,
        log_clock: LogClock::seeded(0),
    };
    let outcome = match MUTANTS.iter().find(|m| m.name == args.mutant) {
        Some(mutant) => fix::run_hooked(&opts, &RealSteps, mutant, &mut ()),
        None => fix::run(&opts, &mut ()),
    };
    match outcome {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{PROGRAM}: {e}");
            if e.is_bad_input() {
                eprintln!("{PROGRAM}: nothing was written");
                ExitCode::from(EXIT_BAD_INPUT)
            } else {
                ExitCode::from(EXIT_FAILURE)
            }
        }
    }
}
