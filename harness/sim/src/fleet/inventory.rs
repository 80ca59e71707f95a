//! A real inventory: one `reg export` of the SMS store per machine (file
//! name = machine name), judged with CryptoAPI's import rules as the
//! migration would apply them.
//!
//! Per machine: **capture** imports the store under the rules in force on
//! the source, **restore** under the rules on the target (`ms09-056` for
//! win7-sp1 or with `--target-kb974571`, else `legacy`), exactly as the
//! simulator's Capture User State and Restore User State do.
//!
//! What an administrator knows, and what the harness assumes:
//! - A `.reg` export does not say which OS or updates the source has.
//!   KB974571 is a security update an administrator can look up per machine
//!   in the software-update compliance reports, so it is an input: none of
//!   the sources have it unless told (`SourceKb974571::All`, or a list of
//!   machine names). The assumption only moves a failure between capture
//!   and restore, or turns a latent success into a capture failure for a
//!   target that does not enforce the rules; it never changes the action.
//! - The client version and its hotfixes are not in the export either: bad
//!   certificates exist because the client made them before any hotfix,
//!   and 977203 installed since does not change them (C6).
//!
//! Recommended action (only when some certificate is refused under
//! `ms09-056`, even if this migration would succeed, since the next
//! KB974571 breaks the next one — C10). CCMCertFix always runs on the client
//! *before the task sequence starts*: KB 2028442 says it "needs to be run on
//! the client PC BEFORE the Task Sequence is started", and KB 977203 has it
//! run on existing clients too; inside the task sequence the two disagree.
//! - `extract-ccmcertfix-with-x-and-run-before-ts` where the site has
//!   977384 (977203 is then not applicable, so CCMCertFix.exe never appears
//!   in `Logs\KB977203`: it must be extracted from the 977203 package with
//!   `/x`, C8);
//! - `run-ccmcertfix-before-ts` where the client already has 977203;
//! - `install-client-hotfix-and-run-ccmcertfix-before-ts` otherwise:
//!   CCMCertFix repairs the existing certificates (C7) and 977203 stops the
//!   client making new bad ones (C6);
//! - `investigate` when a refused certificate breaks a rule CCMCertFix does
//!   not repair: a certificate whose DER cannot be decoded
//!   (`malformed-certificate`, refused under every rule set). No client
//!   makes those; remove or reissue the certificate;
//! - `none` when every certificate imports under `ms09-056`.
//!
//! A certificate with a NUL in an issuer or subject value (CVE-2009-2510)
//! or an OID arc past 32 bits (CVE-2009-2511) imports under both rule sets
//! (Wine's crypt32 tests, run against Windows: cert.c testAddCert), so it
//! is no cause and changes no action; MS09-056 changes how its names are
//! compared and displayed, which each machine lists under `names`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use crate::cryptoapi::{self, Hresult, RuleId, RuleKind, RuleSet};
use crate::format::reg::parse_reg;
use crate::format::{
    friendly_name, ContextKind, FormatError, Location, ReadMode, SerializedElement, Thumbprint,
};
use crate::steps::TaskSequenceStep;
use crate::world::{rules_in_force, Os, SiteVersion, Update};

/// Which sources have KB974571 installed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MachineSet {
    /// None of them (the default assumption).
    #[default]
    None,
    All,
    /// The machines named (case-insensitive).
    Listed(BTreeSet<String>),
}

impl MachineSet {
    pub fn contains(&self, machine: &str) -> bool {
        match self {
            MachineSet::None => false,
            MachineSet::All => true,
            MachineSet::Listed(s) => s.contains(&machine.to_ascii_uppercase()),
        }
    }

    /// Machine names, one per line (blank lines and `#` comments ignored;
    /// a CSV export's first column is taken).
    pub fn parse_list(text: &str) -> MachineSet {
        MachineSet::Listed(
            text.lines()
                .map(|l| l.split([',', ';', '\t']).next().unwrap_or("").trim())
                .map(|l| l.trim_matches('"'))
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| l.to_ascii_uppercase())
                .collect(),
        )
    }

    fn describe(&self) -> String {
        match self {
            MachineSet::None => "none".into(),
            MachineSet::All => "all".into(),
            MachineSet::Listed(s) => format!("{} listed machine(s)", s.len()),
        }
    }
}

/// What the administrator tells the harness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryOptions {
    /// The OS the task sequence applies.
    pub target: Os,
    /// KB974571 installed on the target before Restore User State.
    pub target_kb974571: bool,
    /// Sources with KB974571 installed.
    pub source_kb974571: MachineSet,
    /// Clients that already have the 977203 client hotfix.
    pub client_hotfix_977203: MachineSet,
    /// The site server has 977384 (ConfigMgr 2007 R3 prerequisite).
    pub site_has_977384: bool,
    /// The site's service pack: an SP1 site migrates with USMT 3.0.1, which
    /// does not restore to Windows 7.
    pub site_version: SiteVersion,
}

impl InventoryOptions {
    /// Why no USMT the site has can restore to the target, if none can (the
    /// sources' OS is not in an export, so only the target is judged).
    pub fn unsupported(&self) -> Option<String> {
        let sp1 = self.site_version == SiteVersion::Sp1;
        let windows_7 = matches!(self.target, Os::Win7Rtm | Os::Win7Sp1);
        (sp1 && windows_7).then(|| crate::usmt::Unsupported::sp1_site_onto(self.target))
    }
}

/// What the migration would do with this store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prediction {
    /// Every certificate imports under `ms09-056`.
    Success,
    /// Migrates now, but carries certificates `ms09-056` refuses (C10).
    SuccessLatent,
    CaptureFailed,
    RestoreFailed,
    /// No USMT the site has performs this migration (an SP1 site onto
    /// Windows 7): neither a success nor a failure of the certificates.
    Unsupported,
}

impl Prediction {
    pub const ALL: [Prediction; 5] = [
        Prediction::Success,
        Prediction::SuccessLatent,
        Prediction::CaptureFailed,
        Prediction::RestoreFailed,
        Prediction::Unsupported,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Prediction::Success => "success",
            Prediction::SuccessLatent => "success-latent",
            Prediction::CaptureFailed => "capture-failed",
            Prediction::RestoreFailed => "restore-failed",
            Prediction::Unsupported => "unsupported",
        }
    }
    pub fn fails(self) -> bool {
        matches!(self, Prediction::CaptureFailed | Prediction::RestoreFailed)
    }
}

/// The recommended action for a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    None,
    /// Run CCMCertFix on the client before the task sequence starts.
    RunCcmcertfixBeforeTs,
    /// Install the 977203 client hotfix, and run CCMCertFix on the client
    /// before the task sequence starts.
    InstallClientHotfixAndRunCcmcertfixBeforeTs,
    /// Extract CCMCertFix from the 977203 package with `/x` (the site has
    /// 977384), and run it on the client before the task sequence starts.
    ExtractCcmcertfixWithXAndRunBeforeTs,
    Investigate,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::None,
        Action::RunCcmcertfixBeforeTs,
        Action::InstallClientHotfixAndRunCcmcertfixBeforeTs,
        Action::ExtractCcmcertfixWithXAndRunBeforeTs,
        Action::Investigate,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::RunCcmcertfixBeforeTs => "run-ccmcertfix-before-ts",
            Action::InstallClientHotfixAndRunCcmcertfixBeforeTs => {
                "install-client-hotfix-and-run-ccmcertfix-before-ts"
            }
            Action::ExtractCcmcertfixWithXAndRunBeforeTs => {
                "extract-ccmcertfix-with-x-and-run-before-ts"
            }
            Action::Investigate => "investigate",
        }
    }
    /// What to do, in one sentence an administrator can follow.
    pub fn advice(self) -> &'static str {
        match self {
            Action::None => "nothing to do",
            Action::RunCcmcertfixBeforeTs => "run CCMCertFix.exe on the client before the task sequence starts (KB 2028442; KB 977203)",
            Action::InstallClientHotfixAndRunCcmcertfixBeforeTs => "install the 977203 client hotfix, and run CCMCertFix.exe on the client before the task sequence starts (KB 2028442; KB 977203)",
            Action::ExtractCcmcertfixWithXAndRunBeforeTs => "extract CCMCertFix.exe from the 977203 package with /x and a folder (977384 makes 977203 not applicable), and run it on the client before the task sequence starts (seed; KB 2028442)",
            Action::Investigate => "a certificate CCMCertFix cannot repair: remove or reissue it",
        }
    }
}

/// A certificate `ms09-056` refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub thumbprint: String,
    /// The friendly-name shape (`doubled-terminator`, ...), if it has one.
    pub shape: Option<&'static str>,
    /// The friendly name with NULs shown as `\0`.
    pub friendly_name: Option<String>,
    pub rule: RuleId,
    /// No source backs the rule's exact behaviour (docs/BEHAVIOR.md).
    pub modelling_choice: bool,
    pub hresult: Hresult,
    /// Refused under the source's rules too (so capture fails on it).
    pub refused_on_capture: bool,
    /// CCMCertFix repairs it (an embedded NUL in the friendly name).
    pub ccmcertfix_repairs: bool,
}

/// A certificate whose names or OIDs MS09-056 compares or displays
/// differently (it imports either way).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameFlag {
    pub thumbprint: String,
    pub rule: RuleId,
    pub kind: RuleKind,
    /// No source backs the rule's exact behaviour (docs/BEHAVIOR.md).
    pub modelling_choice: bool,
    #[serde(rename = "where")]
    pub offence: String,
}

/// One machine's readiness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MachineReadiness {
    pub machine: String,
    pub file: String,
    pub certificates: usize,
    pub capture_rules: RuleSet,
    pub restore_rules: RuleSet,
    pub prediction: Prediction,
    /// The step that fails, as smsts.log names it.
    pub step: Option<&'static str>,
    pub hresult: Option<Hresult>,
    /// The certificates that cause the failure (or the latent problem).
    pub causes: Vec<Finding>,
    pub action: Action,
    /// Name findings (CVE-2009-2510, CVE-2009-2511): no effect on the
    /// migration or the action.
    pub names: Vec<NameFlag>,
    /// Things the reader ignored or noticed (other keys, another store).
    pub notes: Vec<String>,
}

/// An export that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    pub machine: String,
    pub file: String,
    /// 1-based line of a `.reg` syntax error.
    pub line: Option<usize>,
    /// Byte offset in the file (for `.reg` errors: the start of the line).
    pub offset: Option<usize>,
    pub error: String,
}

/// Counts over the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventorySummary {
    /// Exports found (readable + unreadable).
    pub exports: usize,
    pub readable: usize,
    pub unreadable: usize,
    /// Readable machines whose capture or restore would fail.
    pub will_fail: usize,
    pub by_prediction: BTreeMap<&'static str, usize>,
    pub by_action: BTreeMap<&'static str, usize>,
    /// Certificates refused under `ms09-056`, over every machine.
    pub bad_certificates: usize,
    /// Certificates with name findings (they import), over every machine.
    pub name_findings: usize,
}

/// Everything `fleet --inventory --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryReport {
    pub directory: String,
    pub target: Os,
    pub target_kb974571: bool,
    /// The assumptions the prediction rests on.
    pub assumptions: Assumptions,
    /// Why no USMT the site has migrates onto the target, if none does
    /// (every machine is then `unsupported`).
    pub unsupported: Option<String>,
    pub summary: InventorySummary,
    pub machines: Vec<MachineReadiness>,
    pub unreadable: Vec<Unreadable>,
    /// Directories and hidden files in DIR that were not read.
    pub ignored: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assumptions {
    pub source_kb974571: String,
    pub client_hotfix_977203: String,
    pub site_has_977384: bool,
    pub site_version: SiteVersion,
}

/// The rules in force on a target: the simulator's rule
/// ([`rules_in_force`]) for `target` with 974571 installed or not.
pub fn target_rules(target: Os, kb974571: bool) -> RuleSet {
    let updates = if kb974571 {
        BTreeSet::from([Update::Kb974571])
    } else {
        BTreeSet::new()
    };
    rules_in_force(target, &updates)
}

/// Judges one machine's store (the certificates of its `.reg` export).
pub fn assess(
    machine: &str,
    file: &str,
    elements: &[SerializedElement<'_>],
    opts: &InventoryOptions,
) -> MachineReadiness {
    assess_known(machine, file, elements.iter().map(|e| (e, None)), opts)
}

/// [`assess`] over elements whose thumbprints may be known already (a
/// `.reg` export's key names were checked against them): each thumbprint is
/// computed at most once, and only for a certificate that is reported.
fn assess_known<'e, 'a: 'e>(
    machine: &str,
    file: &str,
    elements: impl ExactSizeIterator<Item = (&'e SerializedElement<'a>, Option<Thumbprint>)>,
    opts: &InventoryOptions,
) -> MachineReadiness {
    let capture_rules = if opts.source_kb974571.contains(machine) {
        RuleSet::Ms09056
    } else {
        RuleSet::Legacy
    };
    let restore_rules = target_rules(opts.target, opts.target_kb974571);
    let certificates = elements.len();
    let mut causes = Vec::new();
    let mut capture_failure = None;
    let mut restore_failure = None;
    let mut names = Vec::new();
    for (e, known) in elements {
        let mut thumbprint = known;
        let mut hex = || thumbprint.get_or_insert_with(|| e.thumbprint()).to_hex();
        if e.kind == ContextKind::Certificate {
            for f in cryptoapi::name_findings(&e.der) {
                names.push(NameFlag {
                    thumbprint: hex(),
                    rule: f.rule.id,
                    kind: f.rule.kind,
                    modelling_choice: f.rule.modelling_choice,
                    offence: f.offence.to_string(),
                });
            }
        }
        // What `cryptoapi::import` decides under each rule set.
        let (legacy, strict) = cryptoapi::refusals(e);
        let under = |rules: RuleSet| match rules {
            RuleSet::Legacy => legacy,
            RuleSet::Ms09056 => strict,
        };
        let on_capture = under(capture_rules);
        let on_restore = under(restore_rules);
        if capture_failure.is_none() {
            capture_failure = on_capture.map(|r| r.refusal());
        }
        if restore_failure.is_none() {
            restore_failure = on_restore.map(|r| r.refusal());
        }
        // Refused under ms09-056, or (a corrupt certificate) under legacy too.
        if let Some(r) = strict.or(on_capture) {
            let fname = e.friendly_name();
            causes.push(Finding {
                thumbprint: hex(),
                shape: fname.map(|v| friendly_name::classify(v).as_str()),
                friendly_name: fname.map(friendly_name::escape),
                rule: r.id,
                modelling_choice: r.modelling_choice,
                hresult: r.refusal(),
                refused_on_capture: on_capture.is_some(),
                ccmcertfix_repairs: r.id == RuleId::FriendlyNameEmbeddedNul,
            });
        }
    }
    let (prediction, step, hresult) = match (capture_failure, restore_failure) {
        _ if opts.unsupported().is_some() => (Prediction::Unsupported, None, None),
        (Some(h), _) => (
            Prediction::CaptureFailed,
            Some(TaskSequenceStep::CAPTURE_USER_STATE),
            Some(h),
        ),
        (None, Some(h)) => (
            Prediction::RestoreFailed,
            Some(TaskSequenceStep::RESTORE_USER_STATE),
            Some(h),
        ),
        (None, None) if causes.is_empty() => (Prediction::Success, None, None),
        (None, None) => (Prediction::SuccessLatent, None, None),
    };
    let action = if causes.is_empty() {
        Action::None
    } else if causes.iter().any(|c| !c.ccmcertfix_repairs) {
        Action::Investigate
    } else if opts.site_has_977384 {
        Action::ExtractCcmcertfixWithXAndRunBeforeTs
    } else if opts.client_hotfix_977203.contains(machine) {
        Action::RunCcmcertfixBeforeTs
    } else {
        Action::InstallClientHotfixAndRunCcmcertfixBeforeTs
    };
    let mut notes = Vec::new();
    if let Some(why) = opts.unsupported() {
        notes.push(format!("unsupported: {why}"));
    }
    if certificates == 0 {
        notes.push("the export holds no certificates (is it the SMS store?)".to_owned());
    }
    MachineReadiness {
        machine: machine.to_owned(),
        file: file.to_owned(),
        certificates,
        capture_rules,
        restore_rules,
        prediction,
        step,
        hresult,
        causes,
        action,
        names,
        notes,
    }
}

fn unreadable(machine: &str, file: &str, bytes: &[u8], e: &FormatError) -> Unreadable {
    let (line, offset) = match e.location() {
        Location::Line(l) => (Some(l), crate::format::reg::line_start_offset(bytes, l)),
        Location::Offset(o) => (None, Some(o)),
    };
    Unreadable {
        machine: machine.to_owned(),
        file: file.to_owned(),
        line,
        offset,
        error: e.to_string(),
    }
}

/// Reads and judges one export.
pub fn assess_file(path: &Path, opts: &InventoryOptions) -> Result<MachineReadiness, Unreadable> {
    let file = path.display().to_string();
    let machine = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.clone());
    // A store is read whole once its first bytes say which: a `reg export`
    // or a serialized store (`.sst`); anything else (one certificate's
    // `.blob`, text, a 2 GB file of something) is not read.
    let bytes = crate::platform::read_admitted(path, |head, _| {
        match crate::format::detect(head) {
            crate::format::FileFormat::Reg => Ok(()),
            // The parser bounds each element by the limits.
            crate::format::FileFormat::Sst => Ok(()),
            other => Err(crate::platform::StoreFileError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not a machine's store (it reads as {other}): not read; an inventory is of `reg export` files, serialized stores (.sst) or directories of .blob files, one per machine"),
            ))),
        }
    })
    .map_err(|e| Unreadable {
        machine: machine.clone(),
        file: file.clone(),
        line: None,
        offset: None,
        error: e.to_string(),
    })?;
    if crate::format::detect(&bytes) == crate::format::FileFormat::Sst {
        let store = crate::format::SerializedStore::parse(&bytes, ReadMode::Strict)
            .map_err(|e| unreadable(&machine, &file, &bytes, &e))?;
        return Ok(assess_known(
            &machine,
            &file,
            store.elements.iter().map(|e| (e, None)),
            opts,
        ));
    }
    let parsed =
        parse_reg(&bytes, ReadMode::Strict).map_err(|e| unreadable(&machine, &file, &bytes, &e))?;
    let certificates = &parsed.store.certificates;
    let mut m = assess_known(
        &machine,
        &file,
        certificates
            .iter()
            .map(|c| (&c.element, Some(c.thumbprint))),
        opts,
    );
    if !parsed.store.name.eq_ignore_ascii_case("SMS") && !parsed.store.certificates.is_empty() {
        m.notes.push(format!(
            "the export is of the `{}` store, not `SMS`",
            parsed.store.name
        ));
    }
    m.notes.extend(
        parsed
            .notes
            .iter()
            .map(|n| format!("line {}: {}", n.line, n.message)),
    );
    Ok(m)
}

/// Judges a machine's blob directory: each `.blob` file in it (a registry
/// store's certificates, one per file, as `gen` writes them).
pub fn assess_blob_dir(
    dir: &Path,
    opts: &InventoryOptions,
) -> Result<MachineReadiness, Unreadable> {
    let file = dir.display().to_string();
    let machine = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.clone());
    let fail = |error: String| Unreadable {
        machine: machine.clone(),
        file: file.clone(),
        line: None,
        offset: None,
        error,
    };
    let mut blobs: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| fail(e.to_string()))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("blob"))
        })
        .collect();
    blobs.sort();
    let limits = crate::format::Limits::default();
    let mut bytes = Vec::with_capacity(blobs.len());
    for b in &blobs {
        bytes.push(
            crate::platform::read_store(b, &limits)
                .map_err(|e| fail(format!("{}: {e}", b.display())))?,
        );
    }
    let mut elements = Vec::with_capacity(bytes.len());
    for (b, raw) in blobs.iter().zip(&bytes) {
        let e = crate::format::detect::parse_element_file(raw, ReadMode::Strict)
            .map_err(|e| fail(format!("{}: {e}", b.display())))?;
        elements.push(e);
    }
    Ok(assess_known(
        &machine,
        &file,
        elements.iter().map(|e| (e, None)),
        opts,
    ))
}

/// How a directory entry holds a machine's store, in the order an
/// inventory prefers them when one machine has several (a `reg export` is
/// what the inventory is of).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Held {
    Export,
    Store,
    BlobDir,
    /// A file that is no machine's store: listed as unreadable.
    Other,
}

/// What `entry` holds, from its first bytes (a file) or its `.blob` files
/// (a directory); `None` for a directory that holds none.
fn held(path: &Path, is_dir: bool) -> Option<Held> {
    if is_dir {
        let any_blob = std::fs::read_dir(path)
            .ok()?
            .filter_map(Result::ok)
            .any(|e| {
                e.path()
                    .extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("blob"))
            });
        return any_blob.then_some(Held::BlobDir);
    }
    let (mut f, _) = crate::platform::open_regular(path, crate::platform::Links::Refuse).ok()?;
    let mut head = [0u8; 64];
    let n = std::io::Read::read(&mut f, &mut head).unwrap_or(0);
    Some(match crate::format::detect(&head[..n]) {
        crate::format::FileFormat::Reg => Held::Export,
        crate::format::FileFormat::Sst => Held::Store,
        _ => Held::Other,
    })
}

/// Reads every export in `dir` (every regular file that is not hidden,
/// in name order; subdirectories are listed as ignored), in parallel, and
/// keeps every machine in the report.
pub fn assess_dir(dir: &Path, opts: &InventoryOptions) -> std::io::Result<InventoryReport> {
    assess_dir_with(dir, opts, true, |_| Ok(()))
}

/// Exports judged in parallel before they are handed on, in name order.
pub const INVENTORY_BATCH: usize = 512;

/// One export's result, as [`assess_dir_with`] hands it on.
pub type Assessed = Result<MachineReadiness, Unreadable>;

/// Reads every export in `dir` as [`assess_dir`] does, judging them in
/// parallel batches of [`INVENTORY_BATCH`], and hands each result to `each`
/// in name order as it streams, while the summary is tallied. The report
/// keeps the unreadable exports, and every machine only when
/// `keep_machines` is set: without it, memory does not grow with the
/// number of exports beyond their names. An error from `each` stops the
/// run and is returned.
pub fn assess_dir_with(
    dir: &Path,
    opts: &InventoryOptions,
    keep_machines: bool,
    mut each: impl FnMut(&Assessed) -> std::io::Result<()> + Send,
) -> std::io::Result<InventoryReport> {
    // Each machine once: its entries grouped by name (file stem or
    // directory name), the one an inventory prefers read, the others noted.
    let mut candidates: Vec<(String, Held, std::ffi::OsString)> = Vec::new();
    let mut ignored = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let hidden = name.to_string_lossy().starts_with('.');
        let ft = entry.file_type()?;
        let found = (!hidden && (ft.is_file() || ft.is_dir()))
            .then(|| held(&entry.path(), ft.is_dir()))
            .flatten();
        match found {
            Some(h) => {
                let stem = if ft.is_dir() {
                    name.to_string_lossy().into_owned()
                } else {
                    Path::new(&name)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default()
                };
                candidates.push((stem.to_ascii_uppercase(), h, name));
            }
            None => ignored.push(entry.path().display().to_string()),
        }
    }
    // The order of the paths: in one directory, that of the names' bytes;
    // the preferred entry of a machine first.
    candidates.sort_unstable_by(|a, b| (&a.0, a.1, &a.2).cmp(&(&b.0, b.1, &b.2)));
    let mut names: Vec<std::ffi::OsString> = Vec::new();
    let mut also: std::collections::HashMap<std::ffi::OsString, Vec<String>> =
        std::collections::HashMap::new();
    let mut last: Option<(String, std::ffi::OsString)> = None;
    for (stem, h, name) in candidates {
        match &last {
            // Another entry of the same machine (a file that is no store
            // is never preferred, and never hides one).
            Some((s, first)) if *s == stem && h != Held::Other => {
                also.entry(first.clone())
                    .or_default()
                    .push(dir.join(&name).display().to_string());
            }
            _ => {
                last = Some((stem, name.clone()));
                names.push(name);
            }
        }
    }
    names.sort_unstable();
    ignored.sort();
    let mut tally = Tally::new();
    let mut machines = Vec::new();
    let mut unreadable = Vec::new();
    let judge = |batch: &[std::ffi::OsString]| -> Vec<Assessed> {
        batch
            .par_iter()
            .map(|n| {
                let path = dir.join(n);
                let mut r = if path.is_dir() {
                    assess_blob_dir(&path, opts)
                } else {
                    assess_file(&path, opts)
                };
                if let (Ok(m), Some(others)) = (&mut r, also.get(n)) {
                    m.notes.push(format!(
                        "the same machine is also in {} (not read: one store per machine, a `reg export` first)",
                        others.join(", ")
                    ));
                }
                r
            })
            .collect()
    };
    let mut take = |results: Vec<Assessed>| -> std::io::Result<()> {
        for r in results {
            each(&r)?;
            match r {
                Ok(m) => {
                    tally.add(&m);
                    if keep_machines {
                        machines.push(m);
                    }
                }
                Err(u) => unreadable.push(u),
            }
        }
        Ok(())
    };
    // A batch is handed on while the next one is judged.
    let mut pending = Vec::new();
    for batch in names.chunks(INVENTORY_BATCH) {
        let ready = std::mem::take(&mut pending);
        let (taken, judged) = rayon::join(|| take(ready), || judge(batch));
        taken?;
        pending = judged;
    }
    take(pending)?;
    let summary = tally.summary(unreadable.len());
    Ok(InventoryReport {
        directory: dir.display().to_string(),
        target: opts.target,
        target_kb974571: opts.target_kb974571,
        unsupported: opts.unsupported(),
        assumptions: Assumptions {
            source_kb974571: opts.source_kb974571.describe(),
            client_hotfix_977203: opts.client_hotfix_977203.describe(),
            site_has_977384: opts.site_has_977384,
            site_version: opts.site_version,
        },
        summary,
        machines,
        unreadable,
        ignored,
    })
}

/// The summary's counts, tallied machine by machine.
struct Tally {
    readable: usize,
    will_fail: usize,
    by_prediction: BTreeMap<&'static str, usize>,
    by_action: BTreeMap<&'static str, usize>,
    bad_certificates: usize,
    name_findings: usize,
}

impl Tally {
    fn new() -> Self {
        Tally {
            readable: 0,
            will_fail: 0,
            by_prediction: Prediction::ALL.iter().map(|p| (p.as_str(), 0)).collect(),
            by_action: Action::ALL.iter().map(|a| (a.as_str(), 0)).collect(),
            bad_certificates: 0,
            name_findings: 0,
        }
    }

    fn add(&mut self, m: &MachineReadiness) {
        self.readable += 1;
        if m.prediction.fails() {
            self.will_fail += 1;
        }
        *self.by_prediction.entry(m.prediction.as_str()).or_default() += 1;
        *self.by_action.entry(m.action.as_str()).or_default() += 1;
        self.bad_certificates += m.causes.len();
        self.name_findings += m
            .names
            .iter()
            .map(|n| n.thumbprint.as_str())
            .collect::<BTreeSet<_>>()
            .len();
    }

    fn summary(self, unreadable: usize) -> InventorySummary {
        InventorySummary {
            exports: self.readable + unreadable,
            readable: self.readable,
            unreadable,
            will_fail: self.will_fail,
            by_prediction: self.by_prediction,
            by_action: self.by_action,
            bad_certificates: self.bad_certificates,
            name_findings: self.name_findings,
        }
    }
}
