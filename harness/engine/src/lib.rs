//! certmig's engines, over the formats (`certmig-format`) and the domain
//! model (`certmig-model`):
//!
//! - [`fix`]: the reference CCMCertFix on files (streaming `.sst`, `.reg`,
//!   `.blob`, blob directories) with locks and the safe replace, and the
//!   [`fix::Fixer`] interface every fixer (reference or external) is called
//!   through;
//! - [`sim`]: machines, the site server, task-sequence steps, scenarios and
//!   the outcome matrix, with [`cmtrace`] logs;
//! - [`validate`]: running external fix tools against a generated corpus and
//!   judging them on invariants V1-V10;
//! - [`fleet`]: synthetic fleets replayed through [`sim`] and real
//!   `reg export` inventories;
//! - [`scan`] and [`generate`]: the services behind `certmig scan` and `gen`;
//! - [`crosscheck`]: every certificate read again through the platform's own
//!   crypt32 (Windows, Wine) and compared with certmig's reading.
//! - [`platform`]: what differs between Unix and Windows (locks, file
//!   identity, the durable replace, command-line splitting, the system store).
//!
//! Results are plain data (serde-serializable); printing them is
//! `certmig-report`'s job.

pub mod cmtrace;
pub mod crosscheck;
pub mod fix;
pub mod fleet;
pub mod generate;
pub mod platform;
pub mod scan;
pub mod sim;
pub mod validate;

pub(crate) use certmig_format as format;
pub(crate) use certmig_model::{cert, cryptoapi};
