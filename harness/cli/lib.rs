//! certmig: a simulation and test harness for the ConfigMgr 2007 client
//! certificate failure in USMT migrations (friendly names with an embedded
//! NUL, refused by CryptoAPI after MS09-056 with 0x80092024).
//!
//! This facade re-exports the workspace's library crates under one name, for
//! the integration tests (`tests/`), the benchmarks (`benches/`) and anyone
//! who wants the whole library; the `certmig` binary is a thin command line
//! over the same crates. Layers, lowest first (lower layers never import
//! higher ones; see `docs/ARCHITECTURE.md`):
//!
//! - [`format`] (`certmig-format`): byte-exact readers and writers for
//!   `.sst`, elements, registry `Blob` values and `reg export` files, the DER
//!   walker and the friendly-name repair transform;
//! - [`cert`] and [`cryptoapi`] (`certmig-model`): certificate generation,
//!   CryptoAPI's import rules with and without 974571;
//! - [`fix`] with [`platform`] and [`cmtrace`] (`certmig-fix`): the reference
//!   CCMCertFix and the safe writing of files;
//! - [`sim`] and [`fleet`] (`certmig-sim`): task sequences, scenarios, the
//!   matrix, fleets;
//! - [`validate`] (`certmig-validate`): the fix-tool validator;
//! - [`scan`], [`generate`], [`crosscheck`] (`certmig-stores`);
//! - [`report`] (`certmig-report`): tables, CSV, HTML and JUnit printers.

pub use certmig_fix as fix;
pub use certmig_fix::{cmtrace, platform};
pub use certmig_format as format;
pub use certmig_model::{cert, cryptoapi};
pub use certmig_report as report;
pub use certmig_sim as sim;
pub use certmig_sim::fleet;
pub use certmig_stores::{crosscheck, generate, scan};
pub use certmig_validate as validate;
