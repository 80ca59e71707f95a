//! The world of docs/BEHAVIOR.md: operating systems and their updates, the
//! ConfigMgr 2007 client with its SMS store, the site server with its
//! hotfixes, and hotfix applicability.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use crate::cert::{self, MachineSpec};
use crate::cryptoapi::RuleSet;
use crate::format::{Defect, ReadMode, SerializedStore};

certmig_format::vocabulary! {
    "update";
    /// Updates the model knows an operating system can have (besides what its
    /// service pack includes). A scenario naming any other is bad input.
    pub enum Update {
        /// Security update 974571 (MS09-056): CryptoAPI refuses friendly names with an embedded NUL.
        #[strum(serialize = "KB974571")]
        Kb974571,
    }
}

certmig_format::vocabulary! {
    "hotfix";
    /// ConfigMgr 2007 hotfixes the model knows, on a client or a site server.
    pub enum Hotfix {
        /// The SP1/SP2 hotfix that stops new bad certificates and ships CCMCertFix.
        #[strum(serialize = "KB977203")]
        Kb977203,
        /// The R3 prerequisite hotfix, which supersedes and includes 977203 (the seed says so; KB 977384 is not quoted for it).
        #[strum(serialize = "KB977384")]
        Kb977384,
    }
}

certmig_format::vocabulary! {
    "client hotfix";
    /// The ConfigMgr client hotfix installed on a client *after* it made its
    /// certificates (so it did not change them, C6): what a fleet's mix and a
    /// migration cell say of a client.
    #[strum(serialize_all = "kebab-case")]
    pub enum ClientHotfix {
        None,
        Kb977203,
        /// The R3 prerequisite; every `sp2-r3` client has it.
        Kb977384,
    }
}

impl ClientHotfix {
    /// The hotfix installed, if any.
    pub fn hotfix(self) -> Option<Hotfix> {
        match self {
            ClientHotfix::None => None,
            ClientHotfix::Kb977203 => Some(Hotfix::Kb977203),
            ClientHotfix::Kb977384 => Some(Hotfix::Kb977384),
        }
    }
}

certmig_format::vocabulary! {
    "operating system";
    /// Operating systems in the model.
    pub enum Os {
        #[strum(serialize = "xp-sp3")]
        XpSp3,
        #[strum(serialize = "vista-sp2")]
        VistaSp2,
        #[strum(serialize = "win7-rtm")]
        Win7Rtm,
        #[strum(serialize = "win7-sp1")]
        Win7Sp1,
    }
}

impl Os {
    pub const ALL: [Os; 4] = [Os::XpSp3, Os::VistaSp2, Os::Win7Rtm, Os::Win7Sp1];
    /// Windows 7 SP1 ships 974571.
    pub fn includes_kb974571(self) -> bool {
        self == Os::Win7Sp1
    }
}

certmig_format::vocabulary! {
    "architecture";
    /// A Windows installation's processor architecture.
    #[derive(Default)]
    pub enum Arch {
        /// 32-bit Windows (the default: the era's common desktop image).
        #[default]
        #[strum(serialize = "x86")]
        X86,
        /// 64-bit Windows.
        #[strum(serialize = "x64")]
        X64,
    }
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::X86, Arch::X64];
}

certmig_format::vocabulary! {
    "site version";
    /// The ConfigMgr 2007 site's service pack: it decides which USMT the
    /// site's task sequences run ("Configuration Manager 2007 SP2 uses
    /// USMT 4": [CM07SP2]; SP1 uses USMT 3.0.1).
    #[derive(Default)]
    pub enum SiteVersion {
        #[strum(serialize = "sp1")]
        Sp1,
        #[default]
        #[strum(serialize = "sp2")]
        Sp2,
    }
}

impl SiteVersion {
    pub const ALL: [SiteVersion; 2] = [SiteVersion::Sp1, SiteVersion::Sp2];
}

certmig_format::vocabulary! {
    "reading of CCMCertFix as a task-sequence step";
    /// Two Microsoft sources disagree on CCMCertFix run as a step *inside*
    /// the task sequence (docs/BEHAVIOR.md "Contested: CCMCertFix inside the
    /// task sequence"); the user chooses which to follow.
    #[derive(Default)]
    pub enum InSequenceReading {
        /// KB 2028442 (the later article, the default): CCMCertFix "needs
        /// to be run on the client PC BEFORE the Task Sequence is started";
        /// run inside it, it does not resolve the problem, and certmig
        /// leaves the certificates the task sequence migrates unrepaired.
        #[default]
        #[strum(serialize = "kb2028442")]
        Kb2028442,
        /// KB 977203, as the seed summarises it: it "explains how to run the
        /// ccmcertfix.exe tool during refresh and replace OSD scenarios by
        /// using your deployment task sequences"; the step repairs the store.
        #[strum(serialize = "kb977203")]
        Kb977203,
    }
}

impl InSequenceReading {
    pub const ALL: [InSequenceReading; 2] =
        [InSequenceReading::Kb2028442, InSequenceReading::Kb977203];
    /// The other reading.
    pub fn other(self) -> InSequenceReading {
        match self {
            InSequenceReading::Kb2028442 => InSequenceReading::Kb977203,
            InSequenceReading::Kb977203 => InSequenceReading::Kb2028442,
        }
    }
    /// The source this reading follows, as docs/BEHAVIOR.md keys it.
    pub fn source(self) -> &'static str {
        match self {
            InSequenceReading::Kb2028442 => "KB2028442",
            InSequenceReading::Kb977203 => "KB977203 (as [seed] summarises it)",
        }
    }
    /// A few words of the source.
    pub fn says(self) -> &'static str {
        match self {
            InSequenceReading::Kb2028442 => "needs to be run on the client PC BEFORE the Task Sequence is started",
            InSequenceReading::Kb977203 => "explains how to run the ccmcertfix.exe tool during refresh and replace OSD scenarios by using your deployment task sequences",
        }
    }
    /// Whether CCMCertFix run inside a task sequence repairs the store.
    pub fn step_repairs(self) -> bool {
        self == InSequenceReading::Kb977203
    }
}

certmig_format::vocabulary! {
    "client version";
    /// ConfigMgr 2007 client versions.
    pub enum ClientVersion {
        #[strum(serialize = "sp1")]
        Sp1,
        #[strum(serialize = "sp2")]
        Sp2,
        /// SP2 with R3, which requires 977384.
        #[strum(serialize = "sp2-r3")]
        Sp2R3,
    }
}

/// The rules a machine with `os` and `updates` enforces.
pub fn rules_in_force(os: Os, updates: &BTreeSet<Update>) -> RuleSet {
    if os.includes_kb974571() || updates.contains(&Update::Kb974571) {
        RuleSet::Ms09056
    } else {
        RuleSet::Legacy
    }
}

/// The ConfigMgr client on a machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub version: ClientVersion,
    pub hotfixes: BTreeSet<Hotfix>,
    /// The LocalMachine SMS store, as serialized store bytes.
    pub sms_store: Vec<u8>,
    /// The machine key containers the certificates point to.
    pub key_containers: Vec<String>,
    /// The client identity.
    pub sms_guid: String,
}

impl Client {
    /// True when this client generates certificates with an embedded NUL
    /// (C1): SP1/SP2 without 977203 or 977384.
    pub fn generates_bad_certificates(version: ClientVersion, hotfixes: &BTreeSet<Hotfix>) -> bool {
        matches!(version, ClientVersion::Sp1 | ClientVersion::Sp2)
            && !hotfixes.contains(&Hotfix::Kb977203)
            && !hotfixes.contains(&Hotfix::Kb977384)
    }

    /// Each certificate's key link: the container its key provider info
    /// (property 2) names, in store order; `None` where the link is missing
    /// or unreadable (the certificate can no longer sign or decrypt).
    pub fn key_links(&self) -> Vec<Option<String>> {
        SerializedStore::parse(&self.sms_store, ReadMode::Strict)
            .map(|s| {
                s.elements
                    .iter()
                    .map(|e| {
                        e.key_prov_info()
                            .and_then(Result::ok)
                            .and_then(|k| k.container)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The certificates' thumbprints, in store order.
    pub fn thumbprints(&self) -> Vec<String> {
        SerializedStore::parse(&self.sms_store, ReadMode::Strict)
            .map(|s| s.elements.iter().map(|e| e.thumbprint().to_hex()).collect())
            .unwrap_or_default()
    }
}

/// Why a hotfix did not install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotApplicable {
    /// 977203 itself is already on the client (the seed: "not applicable
    /// (because hotfix 977203 or 977384 is already installed)").
    AlreadyInstalled,
    Superseded,
    WrongClientVersion(ClientVersion),
    NoClient,
}

impl fmt::Display for NotApplicable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotApplicable::AlreadyInstalled => {
                write!(f, "{} is already installed", Hotfix::Kb977203)
            }
            NotApplicable::Superseded => write!(
                f,
                "{} is installed; it supersedes and contains {}",
                Hotfix::Kb977384,
                Hotfix::Kb977203
            ),
            NotApplicable::WrongClientVersion(v) => write!(
                f,
                "the client is {} (977203 applies to SP1 and SP2)",
                v.as_str()
            ),
            NotApplicable::NoClient => f.write_str("no ConfigMgr client is installed"),
        }
    }
}

/// Installs the 977203 client hotfix (C6, C8): stops new bad certificates,
/// repairs nothing.
pub fn install_client_hotfix(client: &mut Client) -> Result<(), NotApplicable> {
    if client.hotfixes.contains(&Hotfix::Kb977384) {
        return Err(NotApplicable::Superseded);
    }
    if client.version == ClientVersion::Sp2R3 {
        return Err(NotApplicable::WrongClientVersion(client.version));
    }
    if client.hotfixes.contains(&Hotfix::Kb977203) {
        return Err(NotApplicable::AlreadyInstalled);
    }
    client.hotfixes.insert(Hotfix::Kb977203);
    Ok(())
}

/// A ConfigMgr 2007 site server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteServer {
    pub install_dir: String,
    pub hotfixes: BTreeSet<Hotfix>,
    /// Where CCMCertFix.exe was extracted by hand with `/x`, if it was.
    pub extracted_ccmcertfix: Option<String>,
}

impl SiteServer {
    /// A site server with no hotfixes.
    pub fn new() -> Self {
        SiteServer {
            install_dir: r"C:\Program Files\Microsoft Configuration Manager".to_owned(),
            hotfixes: BTreeSet::new(),
            extracted_ccmcertfix: None,
        }
    }

    /// A site server on which the administrator installed `hotfixes` in
    /// order; 977203 goes through its applicability check (C8, C9).
    pub fn with_hotfixes(hotfixes: &[Hotfix]) -> Self {
        let mut site = SiteServer::new();
        for &h in hotfixes {
            if h == Hotfix::Kb977203 {
                // Not applicable where 977384 is: nothing is installed.
                let _ = site.install_977203();
            } else {
                site.hotfixes.insert(h);
            }
        }
        site
    }

    /// Installs 977203 on the site (C9): not applicable where 977384 is.
    pub fn install_977203(&mut self) -> Result<(), NotApplicable> {
        if self.hotfixes.contains(&Hotfix::Kb977384) {
            return Err(NotApplicable::Superseded);
        }
        self.hotfixes.insert(Hotfix::Kb977203);
        Ok(())
    }

    /// `<install dir>\Logs\KB977203\CCMCertFix.exe` once 977203 is installed.
    pub fn ccmcertfix_in_logs(&self) -> Option<String> {
        self.hotfixes
            .contains(&Hotfix::Kb977203)
            .then(|| format!(r"{}\Logs\KB977203\CCMCertFix.exe", self.install_dir))
    }

    /// The client patch 977203 places under `Client\i386\hotfix`.
    pub fn client_hotfix_package(&self) -> Option<String> {
        self.hotfixes.contains(&Hotfix::Kb977203).then(|| {
            format!(
                r"{}\Client\i386\hotfix\KB977203\SCCM2007AC-SP2-KB977203-x86.msp",
                self.install_dir
            )
        })
    }

    /// Runs the hotfix package with `/x` into `folder` (C8): CCMCertFix.exe
    /// is then available there, whatever is installed.
    pub fn extract_977203(&mut self, folder: &str) -> String {
        let path = format!(r"{}\CCMCertFix.exe", folder.trim_end_matches('\\'));
        self.extracted_ccmcertfix = Some(path.clone());
        path
    }

    /// Where an administrator can get CCMCertFix.exe, if anywhere.
    pub fn ccmcertfix(&self) -> Option<String> {
        self.ccmcertfix_in_logs()
            .or_else(|| self.extracted_ccmcertfix.clone())
    }
}

/// A client's certificates for `machine`: the SMS store as serialized-store
/// bytes and the key containers they point to. Cached, because signing is
/// the slow part and a matrix asks for the same few stores thousands of times.
pub fn client_certificates(machine: &str, seed: u64, defect: Defect) -> (Vec<u8>, Vec<String>) {
    type Cache = Mutex<HashMap<(String, u64, Defect), Arc<(Vec<u8>, Vec<String>)>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (machine.to_owned(), seed, defect);
    let cache = CACHE.get_or_init(Default::default);
    let hit = cache.lock().expect("certificate cache").get(&key).cloned();
    let v = match hit {
        Some(v) => v,
        None => {
            let certs = cert::generate_machine(&MachineSpec::sccm(machine, seed, defect))
                .expect("certificate generation from the committed key pool");
            let store =
                SerializedStore::new(certs.iter().map(|c| c.element()).collect()).to_bytes();
            let containers = certs
                .iter()
                .filter_map(|c| c.key_prov_info.container.clone())
                .collect();
            let v = Arc::new((store, containers));
            cache
                .lock()
                .expect("certificate cache")
                .insert(key, v.clone());
            v
        }
    };
    (v.0.clone(), v.1.clone())
}

impl Default for SiteServer {
    fn default() -> Self {
        SiteServer::new()
    }
}

/// The programs a Run Command Line step can run that the model knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    /// `CCMCertFix.exe [log file]`.
    CcmCertFix,
    /// The 977203 package run with `/x <folder>`: extracts its files
    /// (CCMCertFix.exe among them) whatever is installed. Without a folder
    /// (`None`) the package asks for one (the seed: "You then specify where
    /// you want to extract the file"), which no one answers in a task sequence.
    ExtractKb977203 { folder: Option<String> },
    /// `msiexec /p ...KB977203...msp`: the client hotfix.
    InstallKb977203,
    /// Anything else: succeeds and changes nothing.
    Other,
}

impl CommandLine {
    /// Recognises a command line by the program it names (case-insensitive).
    pub fn recognise(command: &str) -> CommandLine {
        let lower = command.to_ascii_lowercase();
        let words: Vec<&str> = command.split_whitespace().collect();
        if lower.contains("ccmcertfix") {
            return CommandLine::CcmCertFix;
        }
        if !lower.contains("kb977203") {
            return CommandLine::Other;
        }
        match words.iter().position(|w| w.eq_ignore_ascii_case("/x")) {
            Some(i) => CommandLine::ExtractKb977203 {
                folder: words.get(i + 1).map(|f| f.to_string()),
            },
            None => CommandLine::InstallKb977203,
        }
    }
}

/// A seeded SMS GUID like `GUID:4A2F...`.
pub fn sms_guid(machine: &str, seed: u64) -> String {
    let d = cert::derive(seed, &[b"sms-guid", machine.as_bytes()]);
    let h = hex::encode_upper(&d[..16]);
    format!(
        "GUID:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
