//! certmig-fix: the reference CCMCertFix on files, and the safe writing of
//! files every command relies on ([`write`], [`lock`], [`platform`]), with the
//! CMTrace logs a fixer writes ([`cmtrace`]).
//!
//! # The reference CCMCertFix
//!
//! For every certificate whose friendly name has an embedded NUL it rewrites
//! that one property value and nothing else: certificates, every other
//! property, property order, thumbprints and key links stay byte-identical,
//! clean certificates are untouched, and a second run changes nothing.
//!
//! Policies ([`Policy`]): `truncate` (default) keeps what Windows displayed
//! before MS09-056 — the text before the first NUL — plus one terminator;
//! `strip` drops every NUL and adds one terminator. A name that becomes
//! empty is kept as a lone terminator and reported as a warning. An
//! odd-length value (only readable leniently) is left alone with a warning:
//! it is not text, and guessing would change bytes nobody asked to change.
//!
//! [`run`] repairs files (`.sst` streamed element by element, `.reg`, a
//! single `.blob` element, a directory of `<THUMBPRINT>.blob` files) with the
//! safe-writing rules of [`write`] (one safe replace for every output).
//! [`run_hooked`] is the same pipeline with [`hooks`], through which the test
//! mutants change it ([`NoHooks`] is `certmig fix`). [`Fixer`] is the one interface through
//! which the scenario simulator and the validator call any fixer.

pub mod cmtrace;
mod files;
pub mod hooks;
pub mod lock;
pub mod platform;
pub mod read_ahead;
mod sst;
pub mod write;

pub use certmig_format::repair::{
    self, check_repair, repair_element, repair_friendly_name, stream_repair, stream_repair_with,
    CertificateRepair, InvariantViolation, NameRepair, Policy, StreamFixError,
};
pub use files::{
    run, run_hooked, run_with as files_run_with, FixError, FixOptions, FixReport, RepairSink,
};
pub use hooks::{FixHooks, NoHooks};

use certmig_format::{ReadMode, SerializedStore};

pub(crate) use certmig_format as format;

/// A fixer of SMS stores: the reference CCMCertFix, or (in the validator) an
/// external program. The simulator calls fixers only through this trait.
pub trait Fixer: Send + Sync {
    /// A short name for reports and logs.
    fn name(&self) -> &str;
    /// Repairs a serialized store (`.sst` bytes) and returns the new bytes.
    fn fix_store(&self, sst: &[u8]) -> Result<Vec<u8>, FixerError>;
}

/// Why a [`Fixer`] could not repair the store it was handed (a store in
/// memory: no file is involved, so no path is named).
#[derive(Debug, thiserror::Error)]
pub enum FixerError {
    /// The store handed to the fixer does not parse.
    #[error("the store handed to the fixer does not parse: {0}")]
    BadStore(#[from] certmig_format::FormatError),
    /// The fixer (an external tool) failed, or gave back no store.
    #[error("{fixer}: {message}")]
    Failed { fixer: String, message: String },
}

/// The reference CCMCertFix.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferenceFixer {
    pub policy: Policy,
}

impl Fixer for ReferenceFixer {
    fn name(&self) -> &str {
        "CCMCertFix (reference)"
    }

    fn fix_store(&self, sst: &[u8]) -> Result<Vec<u8>, FixerError> {
        let mut store = SerializedStore::parse(sst, ReadMode::Strict)?.into_owned();
        for e in &mut store.elements {
            repair_element(e, self.policy);
        }
        Ok(store.to_bytes())
    }
}
