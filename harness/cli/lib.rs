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
//! - [`fix`], [`sim`], [`validate`], [`fleet`], [`scan`], [`generate`],
//!   [`crosscheck`], [`cmtrace`] (`certmig-engine`);
//! - [`report`] (`certmig-report`): tables, CSV, HTML and JUnit printers.

pub use certmig_engine::{
    cmtrace, crosscheck, fix, fleet, generate, platform, scan, sim, validate,
};
pub use certmig_format as format;
pub use certmig_model::{cert, cryptoapi};
pub use certmig_report as report;
