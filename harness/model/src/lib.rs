//! certmig's domain model, above the byte formats of `certmig-format`:
//!
//! - [`cert`]: SCCM-like client certificates (ConfigMgr 2007's self-signed
//!   signing and encryption certificates, modern profiles, adversarial
//!   variants and fast bulk stamping) with every friendly-name defect;
//! - [`cryptoapi`]: CryptoAPI's import rules with and without security
//!   update 974571 (`legacy`, `ms09-056`), their HRESULTs, and what legacy
//!   CryptoAPI displays;
//! - [`seed`]: where every seeded value comes from.
//!
//! Nothing here knows of operating systems, task sequences or files.

pub mod cert;
pub mod cryptoapi;
pub use certmig_format::seed;

pub(crate) use certmig_format as format;
