//! What the User State Migration Tool can do (docs/BEHAVIOR.md "What USMT
//! can do"): which USMT a migration uses, or why none can perform it.
//!
//! Sources:
//! - [USMT4], the USMT 4.0 requirements: ScanState on Windows XP, Vista and
//!   7, LoadState on Vista and 7 only; "you cannot migrate a 64-bit
//!   operating system to a 32-bit operating system"; the hard-link
//!   migration store is new in USMT 4.0;
//! - [USMT301], the USMT 3.0 requirements: Windows XP and Vista for both
//!   tools; 32-bit to 64-bit, "you cannot do the reverse";
//! - [CM07SP2]: "Configuration Manager 2007 SP2 uses USMT 4", SP1
//!   uses USMT 3.x: an SP1 site can neither capture from nor restore to
//!   Windows 7, nor use the hard-link store.
//!
//! *Modelling choices (no source)*: no USMT migrates to an older Windows
//! (the requirement pages list operating systems, not a direction; named
//! `downgrade-unsupported` in the outcome); a service pack is not another
//! operating system, so `win7-sp1` to `win7-rtm` is Windows 7 to Windows 7;
//! and a migration is judged before its task sequence runs
//! (`usmt-judged-upfront`; a real sequence would fail at Capture or Restore
//! User State instead).

use super::scenario::StateStore;
use super::world::{Arch, Os, SiteVersion};
use super::Kind;

certmig_format::vocabulary! {
    "USMT version";
    /// The USMT a migration runs with.
    pub enum Usmt {
        /// USMT 3.0.1: Windows XP and Vista to Windows XP and Vista.
        #[strum(serialize = "usmt-3.0.1")]
        V301,
        /// USMT 4.0 (ConfigMgr 2007 SP2): from XP, Vista and 7 to Vista and 7;
        /// the hard-link store.
        #[strum(serialize = "usmt-4.0")]
        V40,
    }
}

certmig_format::vocabulary! {
    "unsupported migration";
    /// Why no USMT can perform a migration.
    #[strum(serialize_all = "kebab-case")]
    pub enum Unsupported {
        /// 64-bit Windows to 32-bit Windows ([USMT4], [USMT301]).
        X64ToX86,
        /// The target runs an older Windows than the source (modelling choice).
        Downgrade,
        /// A ConfigMgr 2007 SP1 site uses USMT 3.0.1, which neither captures
        /// from nor restores to Windows 7.
        Sp1SiteWindows7,
        /// A ConfigMgr 2007 SP1 site uses USMT 3.0.1, which has no hard-link store.
        Sp1SiteHardLink,
        /// A hard-link store needs USMT 4.0, which does not restore to Windows XP.
        HardLinkOntoXp,
    }
}

impl Usmt {
    /// The name the product goes by: `USMT 4.0`.
    pub fn product_name(self) -> &'static str {
        match self {
            Usmt::V301 => "USMT 3.0.1",
            Usmt::V40 => "USMT 4.0",
        }
    }
}

/// Everything that decides which USMT performs a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub kind: Kind,
    pub source: Os,
    pub source_arch: Arch,
    pub target: Os,
    pub target_arch: Arch,
    /// Refresh only: a replace always keeps state on a state migration point.
    pub store: StateStore,
    pub site: SiteVersion,
}

impl Unsupported {
    /// The reason in one sentence, for reports, with its source.
    pub fn reason(self, r: &Route) -> String {
        let (source, target) = (r.source, r.target);
        match self {
            Unsupported::X64ToX86 => format!(
                "no USMT migrates 64-bit Windows to 32-bit ({source} x64 to {target} x86)"
            ),
            Unsupported::Downgrade => format!(
                "no USMT migrates to an older operating system ({source} to {target}; a modelling choice)"
            ),
            Unsupported::Sp1SiteWindows7 => sp1_site_windows7(&format!("{source} to {target}")),
            Unsupported::Sp1SiteHardLink => {
                "an SP1 site has only USMT 3.0.1, which has no hard-link state store (USMT 4.0 came with SP2)".to_owned()
            }
            Unsupported::HardLinkOntoXp => format!(
                "the hard-link state store needs USMT 4.0, which restores to Windows Vista and 7 only, not to {target}"
            ),
        }
    }

    /// Why an SP1 site cannot migrate onto `target`, for a judgement that
    /// knows the target alone (`fleet --inventory`: an export does not say
    /// its source's OS).
    pub fn sp1_site_onto(target: Os) -> String {
        sp1_site_windows7(&format!("onto {target}"))
    }

    /// True where no source says the rule (docs/BEHAVIOR.md labels it).
    pub fn is_modelling_choice(self) -> bool {
        self == Unsupported::Downgrade
    }
}

/// The reason `sp1-site-windows7`, `what` saying which migration.
fn sp1_site_windows7(what: &str) -> String {
    format!(
        "an SP1 site has only USMT 3.0.1, which does not migrate Windows 7 ({what}); USMT 4.0 came with SP2"
    )
}

/// The operating system's generation: Windows XP < Vista < 7 (service packs
/// are the same generation).
fn generation(os: Os) -> u8 {
    match os {
        Os::XpSp3 => 0,
        Os::VistaSp2 => 1,
        Os::Win7Rtm | Os::Win7Sp1 => 2,
    }
}

fn is_windows_7(os: Os) -> bool {
    generation(os) == 2
}

/// The USMT for a migration, or why there is none. The rules apply in the
/// order docs/BEHAVIOR.md gives them; the first that applies is the reason.
pub fn usmt_for(r: &Route) -> Result<Usmt, Unsupported> {
    if r.source_arch == Arch::X64 && r.target_arch == Arch::X86 {
        return Err(Unsupported::X64ToX86);
    }
    if generation(r.target) < generation(r.source) {
        return Err(Unsupported::Downgrade);
    }
    let sp1 = r.site == SiteVersion::Sp1;
    if sp1 && (is_windows_7(r.source) || is_windows_7(r.target)) {
        return Err(Unsupported::Sp1SiteWindows7);
    }
    let hard_link = r.kind == Kind::Refresh && r.store == StateStore::HardLink;
    match (hard_link, sp1, r.target) {
        (true, true, _) => Err(Unsupported::Sp1SiteHardLink),
        (true, false, Os::XpSp3) => Err(Unsupported::HardLinkOntoXp),
        (false, _, Os::XpSp3) | (false, true, _) => Ok(Usmt::V301),
        _ => Ok(Usmt::V40),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_support_matrix() {
        use Os::*;
        let r = |kind, source, target, store| {
            usmt_for(&Route {
                kind,
                source,
                source_arch: Arch::X86,
                target,
                target_arch: Arch::X86,
                store,
                site: SiteVersion::Sp2,
            })
        };
        assert_eq!(
            r(Kind::Refresh, XpSp3, Win7Sp1, StateStore::HardLink),
            Ok(Usmt::V40)
        );
        assert_eq!(
            r(Kind::Refresh, XpSp3, XpSp3, StateStore::HardLink),
            Err(Unsupported::HardLinkOntoXp)
        );
        assert_eq!(
            r(Kind::Refresh, XpSp3, XpSp3, StateStore::Smp),
            Ok(Usmt::V301)
        );
        assert_eq!(
            r(Kind::Replace, XpSp3, XpSp3, StateStore::HardLink),
            Ok(Usmt::V301)
        );
        assert_eq!(
            r(Kind::Replace, VistaSp2, XpSp3, StateStore::Smp),
            Err(Unsupported::Downgrade)
        );
        assert_eq!(
            r(Kind::Refresh, Win7Rtm, VistaSp2, StateStore::Smp),
            Err(Unsupported::Downgrade)
        );
        assert_eq!(
            r(Kind::Refresh, Win7Sp1, Win7Rtm, StateStore::HardLink),
            Ok(Usmt::V40)
        );
        assert_eq!(
            r(Kind::Replace, VistaSp2, VistaSp2, StateStore::Smp),
            Ok(Usmt::V40)
        );
    }

    #[test]
    fn an_sp1_site_has_usmt_3_and_64_bit_never_goes_to_32_bit() {
        use Os::*;
        let r = |kind, source, target, store, site, arch: (Arch, Arch)| {
            usmt_for(&Route {
                kind,
                source,
                source_arch: arch.0,
                target,
                target_arch: arch.1,
                store,
                site,
            })
        };
        let x86 = (Arch::X86, Arch::X86);
        let sp1 = SiteVersion::Sp1;
        assert_eq!(
            r(Kind::Refresh, XpSp3, Win7Sp1, StateStore::Smp, sp1, x86),
            Err(Unsupported::Sp1SiteWindows7)
        );
        assert_eq!(
            r(Kind::Replace, Win7Rtm, Win7Sp1, StateStore::Smp, sp1, x86),
            Err(Unsupported::Sp1SiteWindows7)
        );
        assert_eq!(
            r(
                Kind::Refresh,
                XpSp3,
                VistaSp2,
                StateStore::HardLink,
                sp1,
                x86
            ),
            Err(Unsupported::Sp1SiteHardLink)
        );
        assert_eq!(
            r(Kind::Refresh, XpSp3, VistaSp2, StateStore::Smp, sp1, x86),
            Ok(Usmt::V301)
        );
        assert_eq!(
            r(Kind::Replace, VistaSp2, VistaSp2, StateStore::Smp, sp1, x86),
            Ok(Usmt::V301)
        );
        let sp2 = SiteVersion::Sp2;
        assert_eq!(
            r(
                Kind::Refresh,
                Win7Rtm,
                Win7Sp1,
                StateStore::HardLink,
                sp2,
                (Arch::X64, Arch::X86)
            ),
            Err(Unsupported::X64ToX86)
        );
        for arch in [
            (Arch::X86, Arch::X64),
            (Arch::X64, Arch::X64),
            (Arch::X86, Arch::X86),
        ] {
            assert_eq!(
                r(
                    Kind::Refresh,
                    VistaSp2,
                    Win7Sp1,
                    StateStore::HardLink,
                    sp2,
                    arch
                ),
                Ok(Usmt::V40)
            );
        }
    }
}
