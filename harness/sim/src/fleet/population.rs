//! A synthetic fleet: machine `i` of a fleet with seed `s` is drawn from the
//! mix with a counter-based generator over `(s, i)` (so it does not depend on
//! which thread replays it, or in what order), turned into a scenario with
//! its plan's remediation, and replayed through the real engine
//! ([`sim::replay_with`]). Outcomes are counted as they stream into a fixed
//! size [`Tally`] (one counter row per combination of attributes), so memory
//! does not grow with the number of machines.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use super::mix::{Attribute, Mix, Plan};
use crate::cryptoapi::Hresult;
use crate::fix::ReferenceFixer;
use crate::format::Defect;
use crate::migration::Migration;
use crate::scenario::{Remediation, StateStore};
use crate::world::{Arch, ClientHotfix, ClientVersion, Os, SiteVersion};
use crate::{Kind, Outcome, OutcomeKind};

/// A fleet machine: one [`Migration`] cell, drawn from the mix.
pub type MachineProfile = Migration;

/// Certificates come from this many seeded key sets: signing certificates
/// is generation, not replay, and costs milliseconds each, while the
/// outcome depends only on their friendly-name shape. The engine caches
/// each set ([`sim::world::client_certificates`]).
pub const KEY_SETS: u64 = 4;

use certmig_format::seed::{indexed, key, uniform};

impl MachineProfile {
    /// Machine `i` of the fleet `seed`: each attribute from its own uniform
    /// number, then normalised (win7-sp1 already includes KB974571; an
    /// `sp2-r3` client always has KB977384, which R3 requires; Windows XP
    /// SP3 is 32-bit only, so an xp-sp3 side is x86 whatever its draw).
    pub fn draw(mix: &Mix, plan: &Plan, seed: u64, i: u64) -> MachineProfile {
        let fleet = key(seed, "fleet machines");
        let u = |k: u64| uniform(fleet, i, k);
        let kind = mix.kind.pick(u(0));
        let source_os = mix.source_os.pick(u(1));
        let source_kb = mix.source_kb974571.pick(u(2)) && source_os != Os::Win7Sp1;
        let client = mix.client.pick(u(3));
        let client_hotfix = match (client, mix.client_hotfix.pick(u(4))) {
            (ClientVersion::Sp2R3, _) => ClientHotfix::Kb977384,
            // 977384 is the R3 prerequisite, SP2 only (KB 977384).
            (ClientVersion::Sp1, ClientHotfix::Kb977384) => ClientHotfix::None,
            (_, h) => h,
        };
        let defect = mix.defect.pick(u(5));
        let target_os = mix.target_os.pick(u(6));
        let target_kb = mix.target_kb974571_before_restore.pick(u(7)) && target_os != Os::Win7Sp1;
        let state_store = if kind == Kind::Replace {
            StateStore::Smp
        } else {
            mix.state_store.pick(u(8))
        };
        // Drawn after the attributes above, so adding them moved no draw.
        let site = mix.site_version.pick(u(9));
        let arch = |os: Os, a: Arch| if os == Os::XpSp3 { Arch::X86 } else { a };
        let source_arch = arch(source_os, mix.source_arch.pick(u(10)));
        let target_arch = arch(target_os, mix.target_arch.pick(u(11)));
        let mut p = MachineProfile {
            kind,
            site,
            source_os,
            source_arch,
            source_kb974571: source_kb,
            client,
            client_hotfix,
            defect,
            target_os,
            target_arch,
            target_kb974571_before_restore: target_kb,
            state_store,
            remediation: plan.default,
            in_sequence: plan.in_sequence_ccmcertfix,
        };
        p.remediation = plan.remediation_for(&p);
        p
    }

    /// The engine's seed for this machine (one of [`KEY_SETS`] key sets).
    pub fn scenario_seed(seed: u64, i: u64) -> u64 {
        1 + indexed(key(seed, "fleet key sets"), i) % KEY_SETS
    }

    /// Position of this combination in a [`Tally`].
    pub fn cell(&self) -> usize {
        let mut i = 0;
        let mut put = |v: usize, n: usize| i = i * n + v;
        put(self.kind.index(), Kind::ALL.len());
        put(self.site.index(), SiteVersion::ALL.len());
        put(self.source_os.index(), Os::ALL.len());
        put(self.source_arch.index(), Arch::ALL.len());
        put(self.source_kb974571.index(), 2);
        put(self.client.index(), ClientVersion::ALL.len());
        put(self.client_hotfix.index(), ClientHotfix::ALL.len());
        put(
            Attribute::index(self.defect),
            <Defect as Attribute>::ALL.len(),
        );
        put(self.target_os.index(), Os::ALL.len());
        put(self.target_arch.index(), Arch::ALL.len());
        put(self.target_kb974571_before_restore.index(), 2);
        put(self.state_store.index(), StateStore::ALL.len());
        put(self.remediation.index(), Remediation::ALL.len());
        i
    }

    /// The inverse of [`MachineProfile::cell`].
    pub fn of_cell(mut i: usize) -> MachineProfile {
        let mut take = |n: usize| {
            let v = i % n;
            i /= n;
            v
        };
        let remediation = Remediation::ALL[take(Remediation::ALL.len())];
        let state_store = StateStore::ALL[take(StateStore::ALL.len())];
        let target_kb = take(2) == 1;
        let target_arch = Arch::ALL[take(Arch::ALL.len())];
        let target_os = Os::ALL[take(Os::ALL.len())];
        let defect = <Defect as Attribute>::ALL[take(<Defect as Attribute>::ALL.len())];
        let client_hotfix = ClientHotfix::ALL[take(ClientHotfix::ALL.len())];
        let client = ClientVersion::ALL[take(ClientVersion::ALL.len())];
        let source_kb = take(2) == 1;
        let source_arch = Arch::ALL[take(Arch::ALL.len())];
        let source_os = Os::ALL[take(Os::ALL.len())];
        let site = SiteVersion::ALL[take(SiteVersion::ALL.len())];
        let kind = Kind::ALL[take(Kind::ALL.len())];
        MachineProfile {
            kind,
            site,
            source_os,
            source_arch,
            source_kb974571: source_kb,
            client,
            client_hotfix,
            defect,
            target_os,
            target_arch,
            target_kb974571_before_restore: target_kb,
            state_store,
            remediation,
            in_sequence: Default::default(),
        }
    }
}

/// Number of cells of a [`Tally`].
pub const CELLS: usize = 2 * 2 * 4 * 2 * 2 * 3 * 3 * 4 * 4 * 2 * 2 * 2 * 8;

impl Plan {
    /// The remediation for `p`: the first rule whose every given field
    /// matches, else the default.
    pub fn remediation_for(&self, p: &MachineProfile) -> Remediation {
        self.rules
            .iter()
            .find(|r| {
                r.kind.is_none_or(|v| v == p.kind)
                    && r.source_os.is_none_or(|v| v == p.source_os)
                    && r.source_kb974571.is_none_or(|v| v == p.source_kb974571)
                    && r.client.is_none_or(|v| v == p.client)
                    && r.client_hotfix.is_none_or(|v| v == p.client_hotfix)
                    && r.defect.is_none_or(|v| v == p.defect)
                    && r.target_os.is_none_or(|v| v == p.target_os)
            })
            .map_or(self.default, |r| r.remediation)
    }
}

/// Counters of one cell (or of any group of machines).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub machines: u64,
    pub success: u64,
    pub capture_failed: u64,
    pub restore_failed: u64,
    pub step_failed: u64,
    /// Migrations no USMT performs (an older target OS, a hard-link store
    /// onto XP): neither a success nor a failure.
    pub unsupported: u64,
    /// A refreshed machine no longer holds the original client identity
    /// (certificates, key links, SMS GUID); replaces are side by side and
    /// not counted.
    pub identity_lost: u64,
    /// Successes that still carry certificates with an embedded NUL (C10:
    /// the next KB974571 breaks the next migration).
    pub latent: u64,
    /// Outcomes that rest on a rule two sources disagree on (CCMCertFix
    /// inside the task sequence): counted in their outcome too, but never
    /// a plain one.
    pub contested: u64,
}

impl Counts {
    /// The counters in the order every table shows them: machines, success,
    /// capture-failed, restore-failed, step-failed, unsupported, identity
    /// lost, latent, contested.
    pub fn columns(&self) -> [u64; 9] {
        [
            self.machines,
            self.success,
            self.capture_failed,
            self.restore_failed,
            self.step_failed,
            self.unsupported,
            self.identity_lost,
            self.latent,
            self.contested,
        ]
    }

    pub fn add_outcome(&mut self, o: &Outcome) {
        self.machines += 1;
        match o.kind {
            OutcomeKind::Success => self.success += 1,
            OutcomeKind::CaptureFailed => self.capture_failed += 1,
            OutcomeKind::RestoreFailed => self.restore_failed += 1,
            OutcomeKind::StepFailed => self.step_failed += 1,
            OutcomeKind::Unsupported => self.unsupported += 1,
        }
        self.identity_lost += u64::from(o.identity_preserved == Some(false));
        self.latent += u64::from(o.kind == OutcomeKind::Success && o.bad_certificates_left > 0);
        self.contested += u64::from(o.contested.is_some());
    }

    pub fn merge(&mut self, o: &Counts) {
        self.machines += o.machines;
        self.success += o.success;
        self.capture_failed += o.capture_failed;
        self.restore_failed += o.restore_failed;
        self.step_failed += o.step_failed;
        self.unsupported += o.unsupported;
        self.identity_lost += o.identity_lost;
        self.latent += o.latent;
        self.contested += o.contested;
    }

    pub fn of(&self, k: OutcomeKind) -> u64 {
        match k {
            OutcomeKind::Success => self.success,
            OutcomeKind::CaptureFailed => self.capture_failed,
            OutcomeKind::RestoreFailed => self.restore_failed,
            OutcomeKind::StepFailed => self.step_failed,
            OutcomeKind::Unsupported => self.unsupported,
        }
    }

    /// Machines whose supported migration failed (unsupported ones aside).
    pub fn failed(&self) -> u64 {
        self.machines - self.success - self.unsupported
    }
}

/// Why machines failed: the outcome, the failing step and its HRESULT.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FailureCause {
    pub outcome: OutcomeKind,
    pub step: String,
    pub hresult: Option<Hresult>,
}

/// Outcome counts per cell plus failure causes: the whole aggregate state,
/// bounded by the number of cells (combinations of attributes, at most
/// [`CELLS`]) whatever the number of machines. Only the cells machines fall
/// into are held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    cells: HashMap<u32, Counts>,
    /// Few distinct causes exist (a handful of steps and HRESULTs).
    causes: Vec<(FailureCause, u64)>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally::new()
    }
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            cells: HashMap::new(),
            causes: Vec::new(),
        }
    }

    /// Counts one replayed machine.
    pub fn add(&mut self, p: &MachineProfile, o: &Outcome) {
        self.cells
            .entry(p.cell() as u32)
            .or_default()
            .add_outcome(o);
        if !matches!(o.kind, OutcomeKind::Success | OutcomeKind::Unsupported) {
            let step = o.step.as_deref().unwrap_or("");
            match self
                .causes
                .iter_mut()
                .find(|(c, _)| c.outcome == o.kind && c.hresult == o.hresult && c.step == step)
            {
                Some((_, n)) => *n += 1,
                None => self.causes.push((
                    FailureCause {
                        outcome: o.kind,
                        step: step.to_owned(),
                        hresult: o.hresult,
                    },
                    1,
                )),
            }
        }
    }

    pub fn merge(mut self, other: Tally) -> Tally {
        for (cell, c) in &other.cells {
            self.cells.entry(*cell).or_default().merge(c);
        }
        for (c, n) in other.causes {
            match self.causes.iter_mut().find(|(d, _)| *d == c) {
                Some((_, m)) => *m += n,
                None => self.causes.push((c, n)),
            }
        }
        self
    }

    /// Every non-empty cell, in cell order.
    pub fn cells(&self) -> impl Iterator<Item = (MachineProfile, &Counts)> {
        let mut v: Vec<(&u32, &Counts)> = self.cells.iter().collect();
        v.sort_by_key(|(cell, _)| **cell);
        v.into_iter()
            .map(|(cell, c)| (MachineProfile::of_cell(*cell as usize), c))
    }

    /// Failure causes, most frequent first (ties in cause order).
    pub fn causes(&self) -> Vec<(FailureCause, u64)> {
        let mut v = self.causes.clone();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Totals over every machine.
    pub fn total(&self) -> Counts {
        let mut t = Counts::default();
        for c in self.cells.values() {
            t.merge(c);
        }
        t
    }
}

/// A synthetic fleet to replay.
#[derive(Debug, Clone)]
pub struct Population {
    pub machines: u64,
    pub seed: u64,
    pub mix: Mix,
    pub plan: Plan,
}

/// Machines replayed per unit of parallel work (and per progress update).
const CHUNK: u64 = 1024;

impl Population {
    /// Replays every machine (in parallel across the cores) and counts.
    /// `progress` is called with the number of machines just replayed.
    pub fn run(&self, progress: &(dyn Fn(u64) + Sync)) -> Tally {
        self.run_until(progress, &AtomicBool::new(false))
    }

    /// As [`Population::run`], stopping early once `stop` is set.
    pub fn run_until(&self, progress: &(dyn Fn(u64) + Sync), stop: &AtomicBool) -> Tally {
        let fixer = ReferenceFixer {
            policy: self.plan.policy,
        };
        let chunks = self.machines.div_ceil(CHUNK);
        // At most 8 pieces of work per thread, so at most that many tallies
        // exist whatever the number of machines; machines cost about the
        // same, so the pieces still balance across the cores.
        let pieces = (rayon::current_num_threads() as u64 * 8).max(1);
        let min_len = chunks.div_ceil(pieces).max(1) as usize;
        (0..chunks as usize)
            .into_par_iter()
            .with_min_len(min_len)
            .fold(Tally::new, |mut t, c| {
                if stop.load(Ordering::Relaxed) {
                    return t;
                }
                let c = c as u64;
                let end = ((c + 1) * CHUNK).min(self.machines);
                for i in c * CHUNK..end {
                    let p = MachineProfile::draw(&self.mix, &self.plan, self.seed, i);
                    let s = p.scenario(
                        MachineProfile::scenario_seed(self.seed, i),
                        self.plan.policy,
                    );
                    let r = crate::replay_with(&s, &fixer);
                    t.add(&p, &r.outcome);
                }
                progress(end - c * CHUNK);
                t
            })
            .reduce(Tally::new, Tally::merge)
    }
}
