//! certmig-stores: whole certificate stores on disk.
//!
//! - [`scan`]: reads stores (`.sst`, `.reg`, `.blob`, blob directories, the
//!   system store) and judges every certificate under CryptoAPI's rules;
//! - [`generate`]: writes SCCM-like stores from a seed (`certmig gen`);
//! - [`crosscheck`]: every certificate read again through the platform's own
//!   crypt32 (Windows, Wine) and compared with certmig's reading.

pub mod crosscheck;
pub mod generate;
pub mod scan;

pub(crate) use certmig_fix as fix;
pub(crate) use certmig_fix::platform;
pub(crate) use certmig_format as format;
pub(crate) use certmig_model::{cert, cryptoapi};
