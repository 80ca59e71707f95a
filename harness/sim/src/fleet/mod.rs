//! Fleet readiness: which machines of a fleet will fail their migration,
//! and what to do to each before rollout.
//!
//! - [`mix`]: the distribution a synthetic fleet is drawn from, and the plan
//!   (remediation per segment);
//! - [`population`]: a synthetic fleet replayed machine by machine through
//!   the scenario engine, in parallel, counted as it streams;
//! - [`inventory`]: a directory of real `reg export`s of the SMS store, one
//!   per machine: which machines fail, which certificates cause it, and
//!   the recommended action;
//! - [`summary`]: totals, failure causes and segments (printed by
//!   `certmig-report`).

pub mod inventory;
pub mod mix;
pub mod population;
pub mod summary;

pub use crate::world::ClientHotfix;
pub use mix::{FleetFileError, Mix, Plan, PlanRule};
pub use population::{Counts, FailureCause, MachineProfile, Population, Tally};
pub use summary::FleetReport;
