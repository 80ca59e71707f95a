//! certmig: a simulation and test harness for the ConfigMgr 2007 client
//! certificate failure in USMT migrations (friendly names with an embedded
//! NUL, refused by CryptoAPI after MS09-056 with 0x80092024).
//!
//! Layers, lowest first (lower layers never import higher ones):
//! - [`format`]: byte-exact readers and writers for `.sst`, elements, registry
//!   `Blob` values and `reg export` files;
//! - [`cert`]: SCCM-like certificate generation with friendly-name defects;
//! - [`cryptoapi`]: CryptoAPI's import rules with and without 974571
//!   (`legacy`, `ms09-056`), their HRESULTs, and what legacy CryptoAPI displays;
//! - [`fix`]: the reference CCMCertFix and the [`fix::Fixer`] interface every
//!   fixer (reference or external) is called through;
//! - [`sim`]: machines, the site server, task-sequence steps, scenarios and the
//!   outcome matrix, with [`cmtrace`] logs;
//! - [`validate`]: running external fix tools against a generated corpus and
//!   judging them on invariants V1-V10;
//! - [`fleet`]: synthetic fleets replayed through [`sim`] and real `reg export`
//!   inventories: who fails, and what to do;
//! - [`scan`] and [`generate`]: the services behind `certmig scan` and `gen`;
//! - [`cli`]: the command line (flags, help, printers; no logic).

pub mod bench_support;
pub mod cert;
pub mod cli;
pub mod cmtrace;
pub mod cryptoapi;
pub mod fix;
pub mod fleet;
pub mod format;
pub mod generate;
pub mod scan;
pub mod sim;
pub mod validate;
