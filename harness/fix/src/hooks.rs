//! Hooks into the fix pipeline, for deliberately broken fixers.
//!
//! `certmig fix` runs the pipeline with [`NoHooks`]: every method's default
//! is what the pipeline does anyway, so the hooks change nothing. The test
//! mutants (`certmig-mutant`, in certmig-testkit) are this same pipeline with
//! one method overridden: each is a small mutation of the code users run,
//! not a reimplementation that has to be kept in step with it by hand.
//!
//! The hook points, in the order a run reaches them:
//!
//! 1. [`FixHooks::repair`]: each certificate, in file order (a `.sst`,
//!    streamed; a `.reg`; a single `.blob`; the files of a blob directory,
//!    by name).
//! 2. [`FixHooks::output`]: each output file, complete in its temporary file
//!    beside the target, before it is fsynced, re-read, checked and renamed.
//! 3. [`FixHooks::checks_output`]: whether that check runs at all.
//! 4. [`FixHooks::finish`]: the outcome of the run (the report, or the error
//!    from which the exit status follows).

use std::io;
use std::path::Path;

use super::{repair_element, CertificateRepair, FixError, FixOptions, FixReport, Policy};
use crate::format::SerializedElement;

/// Hook points of the fix pipeline ([`super::run_hooked`]). Every method has
/// a default that is the pipeline's own behaviour.
pub trait FixHooks: Sync {
    /// Repairs certificate `index` (file order) in place and reports what
    /// changed. A `.sst` writes a certificate reported unchanged as its
    /// original bytes, and a blob directory repaired in place leaves such a
    /// file alone, so a mutation that edits an element must report it
    /// `changed`.
    fn repair(
        &self,
        index: usize,
        e: &mut SerializedElement<'_>,
        policy: Policy,
    ) -> CertificateRepair {
        let _ = index;
        repair_element(e, policy)
    }

    /// Whether every output is re-read and checked against the input
    /// ([`super::check_repair`]) before it replaces anything. A mutation that
    /// breaks the output on purpose turns the check off (a broken tool has
    /// none), or the pipeline would refuse to commit its bug.
    fn checks_output(&self) -> bool {
        true
    }

    /// Called with each output file, complete in its temporary file `temp`
    /// (which a mutation may rewrite), before it is fsynced, re-read, checked
    /// and renamed over the target. `report` is the run so far (its
    /// `format`, its counts). Not called on a dry run. An error fails the run
    /// like a failed write: nothing is replaced.
    fn output(&self, report: &FixReport, temp: &Path) -> io::Result<()> {
        let _ = (report, temp);
        Ok(())
    }

    /// Called last, with the outcome of the run (after the input lock is
    /// released); what it returns is the outcome. A failed run's error says
    /// whether the input was malformed ([`FixError::is_bad_input`]).
    fn finish(
        &self,
        opts: &FixOptions,
        outcome: Result<FixReport, FixError>,
    ) -> Result<FixReport, FixError> {
        let _ = opts;
        outcome
    }
}

/// The pipeline as it is: what `certmig fix` runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl FixHooks for NoHooks {}
