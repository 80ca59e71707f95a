//! One migration cell: everything that decides one machine's migration
//! (kind, operating systems and 974571 on each side, the ConfigMgr client
//! and the hotfix installed after it made its certificates, the
//! certificates' defect, the state store and the remediation), and the
//! scenario it expands into. The outcome matrix, the synthetic fleet and the
//! validator's V9 all describe their machines with [`Migration`] and replay
//! [`Migration::scenario`]; nothing else builds these scenarios.

use serde::Serialize;

use super::scenario::{MachineSpec, Remediation, Scenario, SiteSpec, StateStore};
use super::world::{Arch, ClientHotfix, ClientVersion, InSequenceReading, Os, SiteVersion, Update};
use super::Kind;
use crate::fix::Policy;
use crate::format::Defect;

/// Everything that decides one machine's migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Migration {
    pub kind: Kind,
    /// The ConfigMgr 2007 site's service pack.
    pub site: SiteVersion,
    pub source_os: Os,
    pub source_arch: Arch,
    /// KB974571 installed on the source (false for win7-sp1, which includes it).
    pub source_kb974571: bool,
    pub client: ClientVersion,
    /// The client hotfix installed *after* the client made its certificates
    /// (so it did not change them, C6).
    pub client_hotfix: ClientHotfix,
    /// The friendly-name defect of the client's certificates.
    pub defect: Defect,
    pub target_os: Os,
    pub target_arch: Arch,
    /// KB974571 installed before Restore User State (false for win7-sp1).
    pub target_kb974571_before_restore: bool,
    /// Refresh only (a replace always uses a state migration point).
    pub state_store: StateStore,
    pub remediation: Remediation,
    /// Which source to follow for CCMCertFix inside the task sequence.
    pub in_sequence: InSequenceReading,
}

impl Migration {
    /// The plain case, to be adjusted with struct-update syntax: an SP2
    /// client with no hotfix and the ConfigMgr 2007 defect (C1), no 974571
    /// on either side, no remediation, an SP2 site, x86 on both sides, the
    /// default reading of CCMCertFix inside the task sequence; a refresh
    /// keeps state in a hard-link store, a replace on a state migration point.
    pub fn new(kind: Kind, source_os: Os, target_os: Os) -> Migration {
        Migration {
            kind,
            site: SiteVersion::default(),
            source_os,
            source_arch: Arch::default(),
            source_kb974571: false,
            client: ClientVersion::Sp2,
            client_hotfix: ClientHotfix::None,
            defect: Defect::DoubledTerminator,
            target_os,
            target_arch: Arch::default(),
            target_kb974571_before_restore: false,
            state_store: match kind {
                Kind::Refresh => StateStore::HardLink,
                Kind::Replace => StateStore::Smp,
            },
            remediation: Remediation::None,
            in_sequence: InSequenceReading::default(),
        }
    }

    /// A short, unique name: `refresh-xp-sp3+kb-to-win7-sp1-none-doubled-terminator`;
    /// what differs from the defaults of [`Migration::new`] is added
    /// (`-x64` after an OS, `-site-sp1`, `-kb977203-reading`).
    pub fn name(&self) -> String {
        let kb = |yes: bool| if yes { "+kb" } else { "" };
        let arch = |a: Arch| if a == Arch::X64 { "-x64" } else { "" };
        let mut name = format!(
            "{}-{}{}{}-to-{}{}{}-{}-{}",
            self.kind,
            self.source_os,
            arch(self.source_arch),
            kb(self.source_kb974571),
            self.target_os,
            arch(self.target_arch),
            kb(self.target_kb974571_before_restore),
            self.remediation,
            self.defect
        );
        if self.site != SiteVersion::default() {
            name += &format!("-site-{}", self.site);
        }
        if self.in_sequence != InSequenceReading::default() {
            name += &format!("-{}-reading", self.in_sequence);
        }
        name
    }

    /// The scenario this migration replays: the source is `PC0001`, a
    /// replace's new computer `PC0002` (its OS comes from the image
    /// applied), with the remediation expanded into the standard sequences.
    pub fn scenario(&self, seed: u64, policy: Policy) -> Scenario {
        let machine =
            |name: &str, os: Os, arch: Arch, kb: bool, client: Option<ClientVersion>| MachineSpec {
                name: name.to_owned(),
                os,
                arch,
                updates: if kb { vec![Update::Kb974571] } else { vec![] },
                client,
                install_hotfixes: vec![],
                client_hotfixes: match client {
                    Some(_) => self.client_hotfix.hotfix().into_iter().collect(),
                    None => vec![],
                },
                defect: Some(self.defect),
            };
        Scenario {
            name: self.name(),
            description: String::new(),
            claims: vec![],
            seed,
            kind: self.kind,
            state_store: self.state_store,
            site: SiteSpec {
                version: self.site,
                hotfixes: vec![],
            },
            source: machine(
                "PC0001",
                self.source_os,
                self.source_arch,
                self.source_kb974571,
                Some(self.client),
            ),
            target: (self.kind == Kind::Replace)
                .then(|| machine("PC0002", self.target_os, self.target_arch, false, None)),
            target_os: Some(self.target_os),
            target_arch: (self.kind == Kind::Refresh).then_some(self.target_arch),
            in_sequence_ccmcertfix: self.in_sequence,
            target_kb974571_before_restore: self.target_kb974571_before_restore,
            remediation: Some(self.remediation),
            policy,
            before: None,
            task_sequence: None,
            restore_sequence: None,
            expect: None,
        }
    }
}
