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
//! CCMCertFix does ([`certmig_engine::fix::repair_element`]) under the promised
//! `--policy` (default `truncate`), write `OUT` in the same format (a
//! directory for a directory) and exit 0. Without `OUT` the repair is in
//! place. Nothing is written before the whole input has parsed; each file is
//! written as a temporary file beside it, then renamed.
//!
//! Errors: malformed input (or an unreadable `IN`) prints
//! `certmig-mutant: <file>: <error>` to stderr, exits 2 and writes nothing;
//! a `.reg` that is not laid out exactly as `reg export` writes it is refused
//! with exit 1, as `certmig fix` refuses it; a failed write exits 1. Usage
//! errors exit 2.
//!
//! `reference` is the correct behaviour (no bug): byte for byte what
//! `certmig fix IN -o OUT` writes. Each mutant is the reference with ONE
//! deliberate bug, and keeps the reference behaviour everywhere else unless
//! its bug is about it (so malformed input still exits 2, untouched). Every
//! content bug applies only to certificates the run actually repaired, so a
//! second run on the mutant's own output finds nothing to repair and changes
//! nothing: each mutant breaks its target invariant and as few others as
//! the bug allows.
//!
//! `list` prints one line per mutant, `name<TAB>invariant<TAB>description`
//! (`reference` is not listed). `list --json` prints an array of
//! `{"name","invariant","formats","about"}`; `formats` are the validator
//! formats (`sst`, `reg`, `blob` = a blob directory) on which the bug shows.
//! On the others the mutant behaves like the reference.
//!
//! # The mutants
//!
//! | mutant | breaks | formats | bug |
//! |---|---|---|---|
//! | `drops-terminator` | V4 | all | the repaired name has no terminator |
//! | `truncates-one-early` | V4 | all | the repaired name keeps one code unit less |
//! | `ignores-policy` | V4 | all; names with a NUL inside the text | applies the other policy |
//! | `deletes-friendly-name` | V3 | all | removes property 11 from repaired certificates |
//! | `reorders-properties` | V3 | all | reverses the properties of repaired certificates |
//! | `drops-key-provider-link` | V3 | all | removes property 2 from repaired certificates |
//! | `adds-sha1-property` | V3 | sst (reg and registry blobs already have it) | adds property 3 to repaired certificates |
//! | `re-encodes-certificate` | V2 | all | BER re-encodes the DER of repaired certificates |
//! | `reorders-certificates` | V2 | sst, reg; 2+ certificates | reverses the certificates when it repaired any |
//! | `repairs-only-first` | V1 | sst, reg, blob directory; 2+ bad | repairs only the first certificate |
//! | `renames-clean-certificates` | V5 | all; clean certificates | appends ` (checked)` to clean names |
//! | `regedit5-as-utf8` | V7 | reg | writes the `.reg` as UTF-8 under a REGEDIT5 header |
//! | `omits-end-marker` | V7 | sst | leaves out the 12-byte end marker |
//! | `unwraps-hex-lines` | V7 | reg | writes each `Blob` on one line (no wrapping) |
//! | `appends-every-run` | V6 | reg, blob directory (sst: empty store) | a run with nothing to repair appends a line |
//! | `overwrites-input-on-malformed` | V8 | all; malformed input | truncates the bad input file |
//! | `accepts-malformed-input` | V8 | all; malformed input | copies `IN` to `OUT`, exits 0 |
//! | `exits-0-after-failing` | V10 | all | writes nothing yet exits 0 |
//! | `crashes` | V10 | all | aborts (SIGABRT) after reading valid input |
//! | `hangs` | V10 | all | sleeps forever after reading valid input |
//!
//! `harness/mutants/README.md` says, per mutant, what else it breaks as a
//! consequence and which validator checks must be byte-level to catch it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use certmig_engine::fix::{repair_element, Policy};
use certmig_format::reg::{parse_reg, write_reg, RegEncoding};
use certmig_format::registry::{self, RegistryCertificate, RegistryStore};
use certmig_format::store::{StreamError, END_MARKER};
use certmig_format::{
    self as format, self, FileFormat, Limits, PropertyId, ReadMode, SerializedElement,
    SerializedStore, StoreReader, Thumbprint,
};

const PROGRAM: &str = "certmig-mutant";
const EXIT_FAILURE: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;

/// One deliberately broken fixer.
struct Mutant {
    name: &'static str,
    /// The invariant id it is written to break (`V1`..`V10`).
    breaks: &'static str,
    /// Input formats on which the bug shows.
    formats: &'static [&'static str],
    about: &'static str,
    run: fn(&Job) -> Result<(), Failure>,
}

const ALL: &[&str] = &["sst", "reg", "blob"];

const MUTANTS: &[Mutant] = &[
    Mutant {
        name: "drops-terminator",
        breaks: "V4",
        formats: ALL,
        about: "a repaired friendly name has no terminating U+0000 at all",
        run: drops_terminator,
    },
    Mutant {
        name: "truncates-one-early",
        breaks: "V4",
        formats: ALL,
        about: "a repaired friendly name keeps one code unit less than the policy says",
        run: truncates_one_early,
    },
    Mutant {
        name: "ignores-policy",
        breaks: "V4",
        formats: ALL,
        about: "repairs with the other policy than the promised one (differs only for a NUL inside the text)",
        run: ignores_policy,
    },
    Mutant {
        name: "deletes-friendly-name",
        breaks: "V3",
        formats: ALL,
        about: "removes property 11 (friendly name) from the certificates it repairs",
        run: deletes_friendly_name,
    },
    Mutant {
        name: "reorders-properties",
        breaks: "V3",
        formats: ALL,
        about: "repairs the name, then reverses the order of the properties of repaired certificates",
        run: reorders_properties,
    },
    Mutant {
        name: "drops-key-provider-link",
        breaks: "V3",
        formats: ALL,
        about: "removes property 2 (key provider info, the link to the private key) from repaired certificates",
        run: drops_key_provider_link,
    },
    Mutant {
        name: "adds-sha1-property",
        breaks: "V3",
        formats: &["sst"],
        about: "adds property 3 (SHA-1), as a registry store would, to repaired certificates that lack it (.reg already has it)",
        run: adds_sha1_property,
    },
    Mutant {
        name: "re-encodes-certificate",
        breaks: "V2",
        formats: ALL,
        about: "re-encodes the DER of repaired certificates (outer length in a longer BER form): the thumbprint changes; .reg keys and property 3 follow it",
        run: re_encodes_certificate,
    },
    Mutant {
        name: "reorders-certificates",
        breaks: "V2",
        formats: &["sst", "reg"],
        about: "repairs correctly but reverses the order of the certificates when it repaired any",
        run: reorders_certificates,
    },
    Mutant {
        name: "repairs-only-first",
        breaks: "V1",
        formats: ALL,
        about: "repairs only the first certificate of the store; later bad ones keep their embedded NUL",
        run: repairs_only_first,
    },
    Mutant {
        name: "renames-clean-certificates",
        breaks: "V5",
        formats: ALL,
        about: "also rewrites the friendly name of clean certificates, appending \" (checked)\"",
        run: renames_clean_certificates,
    },
    Mutant {
        name: "regedit5-as-utf8",
        breaks: "V7",
        formats: &["reg"],
        about: "writes the .reg as UTF-8 text (no BOM) under the \"Windows Registry Editor Version 5.00\" header",
        run: regedit5_as_utf8,
    },
    Mutant {
        name: "omits-end-marker",
        breaks: "V7",
        formats: &["sst"],
        about: "writes the .sst without its 12-byte end marker",
        run: omits_end_marker,
    },
    Mutant {
        name: "unwraps-hex-lines",
        breaks: "V7",
        formats: &["reg"],
        about: "writes each Blob value of the .reg on one line instead of regedit's 80-column wrapping",
        run: unwraps_hex_lines,
    },
    Mutant {
        name: "appends-every-run",
        breaks: "V6",
        formats: ALL,
        about: "not idempotent: a run with nothing to repair (e.g. on its own output) appends one more blank line to the .reg (a blob directory: one more log line; an empty .sst toggles between 0 and 20 bytes)",
        run: appends_every_run,
    },
    Mutant {
        name: "overwrites-input-on-malformed",
        breaks: "V8",
        formats: ALL,
        about: "on malformed input it truncates the offending input file to 0 bytes (and exits 2)",
        run: overwrites_input_on_malformed,
    },
    Mutant {
        name: "accepts-malformed-input",
        breaks: "V8",
        formats: ALL,
        about: "on malformed input it copies IN to OUT unchanged and exits 0",
        run: accepts_malformed_input,
    },
    Mutant {
        name: "exits-0-after-failing",
        breaks: "V10",
        formats: ALL,
        about: "on valid input it fails before writing (OUT is not written) yet exits 0",
        run: exits_0_after_failing,
    },
    Mutant {
        name: "crashes",
        breaks: "V10",
        formats: ALL,
        about: "aborts (SIGABRT, no output) after reading valid input",
        run: crashes,
    },
    Mutant {
        name: "hangs",
        breaks: "V10",
        formats: ALL,
        about: "sleeps forever (1 s at a time) after reading valid input",
        run: hangs,
    },
];

/// The correct behaviour: not listed, not a mutant.
const REFERENCE: Mutant = Mutant {
    name: "reference",
    breaks: "-",
    formats: ALL,
    about: "the correct behaviour (no bug): what `certmig fix IN -o OUT` writes",
    run: reference,
};

// ---------------------------------------------------------------- mutants

fn reference(job: &Job) -> Result<(), Failure> {
    job.fix(|_| {})
}

fn drops_terminator(job: &Job) -> Result<(), Failure> {
    job.fix(|e| {
        if let Some(v) = friendly_name_mut(e) {
            if v.ends_with(&[0, 0]) {
                v.truncate(v.len() - 2);
            }
        }
    })
}

fn truncates_one_early(job: &Job) -> Result<(), Failure> {
    job.fix(|e| {
        if let Some(v) = friendly_name_mut(e) {
            // `text \0` -> `tex \0`: drop the code unit before the terminator.
            if v.len() >= 4 && v.ends_with(&[0, 0]) {
                let n = v.len();
                v.drain(n - 4..n - 2);
            }
        }
    })
}

fn ignores_policy(job: &Job) -> Result<(), Failure> {
    let other = match job.policy {
        Policy::Truncate => Policy::Strip,
        Policy::Strip => Policy::Truncate,
    };
    let mut doc = job.read()?;
    doc.for_each(|_, e| {
        repair_element(e, other);
    });
    job.write(doc.encode())
}

fn deletes_friendly_name(job: &Job) -> Result<(), Failure> {
    job.fix(|e| e.properties.retain(|p| p.id != PropertyId::FriendlyName))
}

fn reorders_properties(job: &Job) -> Result<(), Failure> {
    job.fix(|e| e.properties.reverse())
}

fn drops_key_provider_link(job: &Job) -> Result<(), Failure> {
    job.fix(|e| e.properties.retain(|p| p.id != PropertyId::KeyProvInfo))
}

fn adds_sha1_property(job: &Job) -> Result<(), Failure> {
    job.fix(registry::add_sha1_property)
}

fn re_encodes_certificate(job: &Job) -> Result<(), Failure> {
    job.fix(|e| {
        e.der = ber_reencode(&e.der).into();
        // A tool that re-encodes also recomputes the SHA-1 it stores, so the
        // element stays self-consistent; `Doc::encode` names a .reg key or a
        // .blob file after the new thumbprint.
        let sha1 = e.thumbprint().0;
        for p in e
            .properties
            .iter_mut()
            .filter(|p| p.id == PropertyId::Sha1Hash)
        {
            p.value = sha1.to_vec().into();
        }
    })
}

fn reorders_certificates(job: &Job) -> Result<(), Failure> {
    let mut doc = job.read()?;
    if doc.repair(job.policy, |_| {}) > 0 {
        doc.reverse();
    }
    job.write(doc.encode())
}

fn repairs_only_first(job: &Job) -> Result<(), Failure> {
    // Only the certificate at index 0: a second run still looks only at
    // index 0, finds it clean and changes nothing (the bug is not also an
    // idempotence bug).
    let mut doc = job.read()?;
    doc.for_each(|i, e| {
        if i == 0 {
            repair_element(e, job.policy);
        }
    });
    job.write(doc.encode())
}

fn renames_clean_certificates(job: &Job) -> Result<(), Failure> {
    const SUFFIX: &str = " (checked)";
    let suffix: Vec<u8> = SUFFIX.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut doc = job.read()?;
    doc.for_each(|_, e| {
        if e.friendly_name_shape() != Some(format::FriendlyNameShape::Clean) {
            // Bad names get the reference repair; the rest are left alone.
            repair_element(e, job.policy);
            return;
        }
        if let Some(v) = friendly_name_mut(e) {
            let at = v.len() - 2;
            if !v[..at].ends_with(&suffix) {
                v.splice(at..at, suffix.iter().copied());
            }
        }
    });
    job.write(doc.encode())
}

fn regedit5_as_utf8(job: &Job) -> Result<(), Failure> {
    let mut doc = job.read()?;
    doc.repair(job.policy, |_| {});
    match &doc {
        Doc::Reg { store, .. } => job.write(Output::File(reg_text(store).into_bytes())),
        _ => job.write(doc.encode()),
    }
}

fn omits_end_marker(job: &Job) -> Result<(), Failure> {
    let mut doc = job.read()?;
    doc.repair(job.policy, |_| {});
    let mut out = doc.encode();
    if let (Doc::Sst(_), Output::File(bytes)) = (&doc, &mut out) {
        if bytes.ends_with(&END_MARKER) {
            bytes.truncate(bytes.len() - END_MARKER.len());
        }
    }
    job.write(out)
}

fn unwraps_hex_lines(job: &Job) -> Result<(), Failure> {
    // Reads any layout (so its own output is accepted on a second run).
    let mut doc = job.read_with(RegLayout::Any)?;
    doc.repair(job.policy, |_| {});
    match &doc {
        Doc::Reg {
            store, encoding, ..
        } => {
            let text = reg_text(store).replace("\\\r\n  ", "").replacen(
                REGEDIT5_HEADER,
                header_of(*encoding),
                1,
            );
            job.write(Output::File(encode_reg_text(&text, *encoding)))
        }
        _ => job.write(doc.encode()),
    }
}

fn appends_every_run(job: &Job) -> Result<(), Failure> {
    // Reads any layout, so it accepts the blank lines it appended last time.
    let mut doc = job.read_with(RegLayout::Any)?;
    let repaired = doc.repair(job.policy, |_| {});
    let mut out = doc.encode();
    if repaired > 0 {
        // A run that repairs something writes exactly what the reference
        // writes, so every single-run check passes.
        return job.write(out);
    }
    // A run with nothing to repair (a clean store, or its own output) still
    // rewrites its output, one line longer than the last time.
    match (&mut doc, &mut out) {
        (
            Doc::Reg {
                encoding,
                extra_blank_lines,
                ..
            },
            Output::File(bytes),
        ) => {
            let crlf = encode_reg_text("\r\n", *encoding);
            let crlf = crlf.strip_prefix(&[0xFF, 0xFE][..]).unwrap_or(&crlf);
            for _ in 0..=*extra_blank_lines {
                bytes.extend_from_slice(crlf);
            }
        }
        // The only freedom a strictly parsed .sst leaves: an empty store is
        // either an empty file or header + end marker. Toggle between them.
        (Doc::Sst(store), Output::File(bytes)) if store.elements.is_empty() => {
            store.empty_file = !store.empty_file;
            *bytes = store.to_bytes();
        }
        // A blob directory gets a log file, one line longer every run.
        (Doc::BlobDir(_), Output::Dir(files)) => {
            let mut log = std::fs::read(job.input.join(RUN_LOG)).unwrap_or_default();
            log.extend_from_slice(b"nothing to repair\r\n");
            files.push((RUN_LOG.to_owned(), log));
        }
        // A single .blob (or a non-empty .sst) has no byte that may vary.
        _ => {}
    }
    job.write(out)
}

/// The log `appends-every-run` keeps in a blob directory.
const RUN_LOG: &str = "certmig-mutant.log";

fn overwrites_input_on_malformed(job: &Job) -> Result<(), Failure> {
    match job.read() {
        Err(Failure::BadInput { path, message }) => {
            // "Start over": truncate the offending file before giving up.
            if path.is_file() {
                if let Err(e) = std::fs::File::create(&path) {
                    eprintln!("{PROGRAM}: {}: {e}", path.display());
                }
            }
            Err(Failure::BadInput { path, message })
        }
        Err(f) => Err(f),
        Ok(mut doc) => {
            doc.repair(job.policy, |_| {});
            job.write(doc.encode())
        }
    }
}

fn accepts_malformed_input(job: &Job) -> Result<(), Failure> {
    match job.read() {
        Err(Failure::BadInput { path, message }) => {
            eprintln!("{PROGRAM}: {}: {message} (ignored)", path.display());
            job.write(job.copy_of_input()?)
        }
        Err(f) => Err(f),
        Ok(mut doc) => {
            doc.repair(job.policy, |_| {});
            job.write(doc.encode())
        }
    }
}

fn exits_0_after_failing(job: &Job) -> Result<(), Failure> {
    let mut doc = job.read()?;
    doc.repair(job.policy, |_| {});
    let _ = doc.encode();
    // The failure is reported, then swallowed.
    eprintln!(
        "{PROGRAM}: {}: could not write the repaired store (simulated failure)",
        job.output.display()
    );
    Ok(())
}

fn crashes(job: &Job) -> Result<(), Failure> {
    let _doc = job.read()?;
    eprintln!("{PROGRAM}: aborting (deliberate crash)");
    std::process::abort()
}

fn hangs(job: &Job) -> Result<(), Failure> {
    let _doc = job.read()?;
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

// ------------------------------------------------------- shared machinery

/// Why a run stopped.
enum Failure {
    /// Malformed or unreadable input: exit 2, nothing written.
    BadInput { path: PathBuf, message: String },
    /// Anything else (refused layout, failed write): exit 1.
    Other { path: PathBuf, message: String },
}

impl Failure {
    fn bad(path: &Path, message: impl ToString) -> Self {
        Failure::BadInput {
            path: path.to_owned(),
            message: message.to_string(),
        }
    }
    fn io(path: &Path, e: std::io::Error) -> Self {
        Failure::Other {
            path: path.to_owned(),
            message: e.to_string(),
        }
    }
}

/// Which `.reg` layouts are read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RegLayout {
    /// Only what `reg export` writes, as `certmig fix` requires.
    Canonical,
    /// Anything the strict reader accepts (used by mutants whose own output
    /// is not canonical, so that a second run reads it).
    Any,
}

/// A parsed input.
enum Doc {
    Sst(SerializedStore<'static>),
    Reg {
        store: RegistryStore<'static>,
        encoding: RegEncoding,
        /// Blank lines after the canonical end of the file (`RegLayout::Any`).
        extra_blank_lines: usize,
    },
    /// One serialized element in a file.
    Blob(SerializedElement<'static>),
    /// A directory of `<THUMBPRINT>.blob` files: (file name, element),
    /// sorted by name.
    BlobDir(Vec<(String, SerializedElement<'static>)>),
}

/// What is written: a file, or the files of a blob directory.
enum Output {
    File(Vec<u8>),
    Dir(Vec<(String, Vec<u8>)>),
}

impl Doc {
    /// Calls `f(index, element)` for every certificate, in file order.
    fn for_each(&mut self, mut f: impl FnMut(usize, &mut SerializedElement<'static>)) {
        match self {
            Doc::Sst(s) => s.elements.iter_mut().enumerate().for_each(|(i, e)| f(i, e)),
            Doc::Reg { store, .. } => store
                .certificates
                .iter_mut()
                .enumerate()
                .for_each(|(i, c)| f(i, &mut c.element)),
            Doc::Blob(e) => f(0, e),
            Doc::BlobDir(files) => files.iter_mut().enumerate().for_each(|(i, (_, e))| f(i, e)),
        }
    }

    /// Repairs every certificate like the reference and applies `bug` to
    /// each one the repair changed. Returns how many were changed.
    fn repair(
        &mut self,
        policy: Policy,
        mut bug: impl FnMut(&mut SerializedElement<'static>),
    ) -> usize {
        let mut changed = 0;
        self.for_each(|_, e| {
            if repair_element(e, policy).changed {
                changed += 1;
                bug(e);
            }
        });
        changed
    }

    /// Reverses the order of the certificates (a blob directory has no
    /// order but its file names').
    fn reverse(&mut self) {
        match self {
            Doc::Sst(s) => s.elements.reverse(),
            Doc::Reg { store, .. } => store.certificates.reverse(),
            Doc::Blob(_) | Doc::BlobDir(_) => {}
        }
    }

    /// The output, written by the library's writers. `.reg` keys and
    /// `.blob` file names follow their certificate's SHA-1 (for the
    /// reference, that is the name they were read under).
    fn encode(&self) -> Output {
        match self {
            Doc::Sst(s) => Output::File(s.to_bytes()),
            Doc::Reg {
                store, encoding, ..
            } => Output::File(write_reg(&rekeyed(store), *encoding)),
            Doc::Blob(e) => Output::File(e.to_bytes()),
            Doc::BlobDir(files) => Output::Dir(
                files
                    .iter()
                    .map(|(name, e)| {
                        let stem = name.strip_suffix(".blob").unwrap_or(name);
                        let name = match stem.parse::<Thumbprint>() {
                            Ok(t) if t == e.thumbprint() => name.clone(),
                            _ => format!("{}.blob", e.thumbprint()),
                        };
                        (name, e.to_bytes())
                    })
                    .collect(),
            ),
        }
    }
}

fn rekeyed(store: &RegistryStore<'static>) -> RegistryStore<'static> {
    RegistryStore {
        name: store.name.clone(),
        certificates: store
            .certificates
            .iter()
            .map(|c| RegistryCertificate {
                thumbprint: c.element.thumbprint(),
                element: c.element.clone(),
            })
            .collect(),
    }
}

const REGEDIT5_HEADER: &str = "Windows Registry Editor Version 5.00";

fn header_of(encoding: RegEncoding) -> &'static str {
    match encoding {
        RegEncoding::Regedit5 => REGEDIT5_HEADER,
        RegEncoding::Regedit4 => "REGEDIT4",
    }
}

/// The canonical REGEDIT5 text of a store (what `write_reg` encodes as
/// UTF-16LE), as a `String`.
fn reg_text(store: &RegistryStore<'static>) -> String {
    let bytes = write_reg(&rekeyed(store), RegEncoding::Regedit5);
    let units: Vec<u16> = bytes[2..]
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    // write_reg produced it from a String: always valid UTF-16.
    String::from_utf16_lossy(&units)
}

/// Encodes `.reg` text the way `write_reg` does for `encoding`.
fn encode_reg_text(text: &str, encoding: RegEncoding) -> Vec<u8> {
    match encoding {
        RegEncoding::Regedit5 => std::iter::once(0xFEFF_u16)
            .chain(text.encode_utf16())
            .flat_map(u16::to_le_bytes)
            .collect(),
        RegEncoding::Regedit4 => text.as_bytes().to_vec(),
    }
}

/// The friendly-name value of an element, to edit in place.
fn friendly_name_mut<'e>(e: &'e mut SerializedElement<'static>) -> Option<&'e mut Vec<u8>> {
    e.properties
        .iter_mut()
        .find(|p| p.id == PropertyId::FriendlyName)
        .map(|p| p.value.to_mut())
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

/// One invocation: the promised policy and the paths.
struct Job {
    policy: Policy,
    input: PathBuf,
    output: PathBuf,
}

impl Job {
    /// Read, repair like the reference, apply `bug` to every repaired
    /// certificate, write: the shape of most mutants.
    fn fix(&self, bug: impl FnMut(&mut SerializedElement<'static>)) -> Result<(), Failure> {
        let mut doc = self.read()?;
        doc.repair(self.policy, bug);
        self.write(doc.encode())
    }

    fn read(&self) -> Result<Doc, Failure> {
        self.read_with(RegLayout::Canonical)
    }

    /// Reads `IN` the way `certmig fix` does: a directory of
    /// `<THUMBPRINT>.blob` files (every one checked against its name), or a
    /// file whose format comes from its content, parsed strictly: a `.sst`
    /// through the streaming reader (same limits), a `.blob` named
    /// `<THUMBPRINT>.blob` checked against its name.
    fn read_with(&self, layout: RegLayout) -> Result<Doc, Failure> {
        let path = &self.input;
        if path.is_dir() {
            return read_blob_dir(path);
        }
        let bytes = std::fs::read(path).map_err(|e| Failure::bad(path, e))?;
        match format::detect(&bytes) {
            FileFormat::Sst => read_sst(path, &bytes),
            FileFormat::Reg => read_reg(path, &bytes, layout),
            FileFormat::Blob => {
                let e = format::parse_element_file(&bytes, ReadMode::Strict)
                    .map_err(|e| Failure::bad(path, e))?
                    .into_owned();
                if let Some(stem) = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .filter(|s| Thumbprint::looks_like(s))
                {
                    registry::parse_blob(&bytes, stem, ReadMode::Strict)
                        .map_err(|e| Failure::bad(path, e))?;
                }
                Ok(Doc::Blob(e))
            }
        }
    }

    /// `IN` as it is, to be written unchanged.
    fn copy_of_input(&self) -> Result<Output, Failure> {
        let path = &self.input;
        if !path.is_dir() {
            return std::fs::read(path)
                .map(Output::File)
                .map_err(|e| Failure::io(path, e));
        }
        let mut files = Vec::new();
        let entries = std::fs::read_dir(path).map_err(|e| Failure::io(path, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Failure::io(path, e))?;
            let p = entry.path();
            if p.is_file() {
                let bytes = std::fs::read(&p).map_err(|e| Failure::io(&p, e))?;
                files.push((entry.file_name().to_string_lossy().into_owned(), bytes));
            }
        }
        Ok(Output::Dir(files))
    }

    /// Writes `OUT`: a file (a temporary file beside it, then a rename), or
    /// a directory of files, each written that way. Repairing a directory
    /// in place also removes the `.blob` files it no longer names.
    fn write(&self, out: Output) -> Result<(), Failure> {
        match out {
            Output::File(bytes) => write_file(&self.output, &bytes),
            Output::Dir(files) => {
                let dir = &self.output;
                std::fs::create_dir_all(dir).map_err(|e| Failure::io(dir, e))?;
                for (name, bytes) in &files {
                    write_file(&dir.join(name), bytes)?;
                }
                if same_file(dir, &self.input) {
                    for p in registry::blob_paths(dir).map_err(|e| Failure::Other {
                        path: dir.clone(),
                        message: e.to_string(),
                    })? {
                        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
                        if !files.iter().any(|(n, _)| Some(n) == name.as_ref()) {
                            std::fs::remove_file(&p).map_err(|e| Failure::io(&p, e))?;
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

fn write_file(out: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".certmig-mutant-")
        .tempfile_in(dir)
        .map_err(|e| Failure::io(out, e))?;
    temp.write_all(bytes).map_err(|e| Failure::io(out, e))?;
    temp.as_file().sync_all().map_err(|e| Failure::io(out, e))?;
    temp.persist(out).map_err(|e| Failure::io(out, e.error))?;
    Ok(())
}

fn read_blob_dir(dir: &Path) -> Result<Doc, Failure> {
    let paths = registry::blob_paths(dir).map_err(|e| Failure::bad(dir, e))?;
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        let bytes = std::fs::read(&p).map_err(|e| Failure::bad(&p, e))?;
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let e = registry::parse_blob(&bytes, stem, ReadMode::Strict)
            .map_err(|e| Failure::bad(&p, e))?
            .into_owned();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push((name, e));
    }
    Ok(Doc::BlobDir(files))
}

fn read_sst(path: &Path, bytes: &[u8]) -> Result<Doc, Failure> {
    let stream = |e: StreamError| match e {
        StreamError::Format(f) => Failure::bad(path, f),
        StreamError::Io(e) => Failure::bad(path, e),
    };
    let mut reader =
        StoreReader::open(bytes, bytes.len() as u64, Limits::default()).map_err(stream)?;
    let mut store = SerializedStore::new(Vec::new());
    store.empty_file = reader.empty_file;
    let mut buf = Vec::new();
    while let Some(offset) = reader.next_element_into(&mut buf).map_err(stream)? {
        let e = SerializedElement::parse(&buf, offset as usize, ReadMode::Strict)
            .map_err(|e| Failure::bad(path, e))?
            .into_owned();
        store.elements.push(e);
        buf.clear();
    }
    Ok(Doc::Sst(store))
}

fn read_reg(path: &Path, bytes: &[u8], layout: RegLayout) -> Result<Doc, Failure> {
    let parsed = parse_reg(bytes, ReadMode::Strict).map_err(|e| Failure::bad(path, e))?;
    let canonical = write_reg(&parsed.store, parsed.encoding);
    let mut extra_blank_lines = 0;
    if canonical != bytes {
        if layout == RegLayout::Canonical {
            return Err(Failure::Other {
                path: path.to_owned(),
                message: "this .reg is not laid out exactly as `reg export` writes it; \
                          refusing to rewrite it (as `certmig fix` does)"
                    .into(),
            });
        }
        // Count the CRLFs after the canonical content, if that is all it is.
        let crlf = encode_reg_text("\r\n", parsed.encoding);
        let crlf = crlf.strip_prefix(&[0xFF, 0xFE][..]).unwrap_or(&crlf);
        let mut tail = bytes;
        while tail.len() > canonical.len() {
            match tail.strip_suffix(crlf) {
                Some(t) => {
                    tail = t;
                    extra_blank_lines += 1;
                }
                None => break,
            }
        }
        if tail != canonical {
            extra_blank_lines = 0;
        }
    }
    Ok(Doc::Reg {
        store: parsed.store,
        encoding: parsed.encoding,
        extra_blank_lines,
    })
}

// ------------------------------------------------------------ command line

const USAGE: &str = "\
usage: certmig-mutant <MUTANT> [--policy truncate|strip] <IN> [<OUT>]
       certmig-mutant reference [--policy truncate|strip] <IN> [<OUT>]
       certmig-mutant list [--json]

A deliberately broken fixer for `certmig validate --self-test`: repairs
friendly names like CCMCertFix, with the one bug MUTANT names. IN is a .sst,
.reg or .blob (detected from content) or a directory of <THUMBPRINT>.blob
files; OUT (default: IN) gets the same format.
Exit codes: 0 done, 2 malformed input or usage error, 1 other failure.
`list` prints name<TAB>invariant<TAB>description for every mutant.";

fn usage_error(message: &str) -> ExitCode {
    eprintln!("{PROGRAM}: {message}");
    eprintln!("{USAGE}");
    ExitCode::from(EXIT_BAD_INPUT)
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
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let Some(first) = args.first().and_then(|a| a.to_str()) else {
        return usage_error("missing MUTANT (try `certmig-mutant list`)");
    };
    match first {
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        "list" => {
            return match args.get(1).and_then(|a| a.to_str()) {
                None => list(false),
                Some("--json") if args.len() == 2 => list(true),
                Some(_) => usage_error("`list` takes only --json"),
            }
        }
        _ => {}
    }
    let Some(mutant) = MUTANTS
        .iter()
        .chain(std::iter::once(&REFERENCE))
        .find(|m| m.name == first)
    else {
        return usage_error(&format!(
            "unknown mutant `{first}` (try `certmig-mutant list`)"
        ));
    };

    let mut policy = Policy::default();
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        let policy_value = match arg.to_str() {
            Some("--policy") => match rest.next().and_then(|v| v.to_str()) {
                Some(v) => Some(v),
                None => return usage_error("--policy needs truncate or strip"),
            },
            Some(s) if s.starts_with("--policy=") => Some(&s["--policy=".len()..]),
            Some("--") => {
                paths.extend(rest.by_ref().map(PathBuf::from));
                None
            }
            Some(s) if s.starts_with('-') && s.len() > 1 => {
                return usage_error(&format!("unknown option `{s}`"))
            }
            _ => {
                paths.push(PathBuf::from(arg));
                None
            }
        };
        if let Some(v) = policy_value {
            match v.parse() {
                Ok(p) => policy = p,
                Err(e) => return usage_error(&e.to_string()),
            }
        }
    }
    let (input, output) = match paths.as_slice() {
        [i] => (i.clone(), i.clone()),
        [i, o] => (i.clone(), o.clone()),
        _ => return usage_error("expected <IN> [<OUT>]"),
    };
    let job = Job {
        policy,
        input,
        output,
    };
    match (mutant.run)(&job) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput { path, message }) => {
            eprintln!("{PROGRAM}: {}: {message}", path.display());
            eprintln!("{PROGRAM}: nothing was written");
            ExitCode::from(EXIT_BAD_INPUT)
        }
        Err(Failure::Other { path, message }) => {
            eprintln!("{PROGRAM}: {}: {message}", path.display());
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
