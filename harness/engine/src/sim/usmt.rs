//! What the User State Migration Tool can do (docs/BEHAVIOR.md "What USMT
//! can do"): which USMT a migration uses, or why none can perform it.
//!
//! Sources: the USMT 4.0 documentation (it captures from Windows XP, Vista
//! and 7 and restores to Vista and 7; the hard-link migration store is new in
//! USMT 4.0 and is for refreshing the same computer), the USMT 3.0.1
//! documentation (Windows XP and Vista to Windows XP and Vista), and
//! ConfigMgr 2007 SP2's release notes (SP2 adds USMT 4.0 support, SP1 uses
//! USMT 3.0.1). No USMT migrates to an older operating system.
//!
//! *Modelling choice (no source)*: a service pack is not a different
//! operating system here, so `win7-sp1` to `win7-rtm` is Windows 7 to
//! Windows 7 (supported); and a cell is judged before its task sequence runs
//! (a real sequence would fail at Capture or Restore User State instead).

use super::model::Os;
use super::scenario::StateStore;
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
        /// The target runs an older operating system than the source.
        Downgrade,
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

impl Unsupported {
    /// The reason in one sentence, for reports.
    pub fn reason(self, source: Os, target: Os) -> String {
        match self {
            Unsupported::Downgrade => format!(
                "no USMT migrates to an older operating system ({source} to {target})"
            ),
            Unsupported::HardLinkOntoXp => format!(
                "the hard-link state store needs USMT 4.0, which restores to Windows Vista and 7 only, not to {target}"
            ),
        }
    }
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

/// The USMT for a migration from `source` to `target`, or why there is none.
/// A replace always keeps state on a state migration point, whatever
/// `store` says.
pub fn usmt_for(
    kind: Kind,
    source: Os,
    target: Os,
    store: StateStore,
) -> Result<Usmt, Unsupported> {
    if generation(target) < generation(source) {
        return Err(Unsupported::Downgrade);
    }
    let hard_link = kind == Kind::Refresh && store == StateStore::HardLink;
    match target {
        Os::XpSp3 if hard_link => Err(Unsupported::HardLinkOntoXp),
        Os::XpSp3 => Ok(Usmt::V301),
        _ => Ok(Usmt::V40),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_support_matrix() {
        use Os::*;
        let r = |k, s, t, st| usmt_for(k, s, t, st);
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
}
