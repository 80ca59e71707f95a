//! Test support for certmig, never installed with it: benchmark inputs
//! ([`bench_support`]) and, as the binary `certmig-mutant`, the deliberately
//! broken fixers that `certmig validate --self-test` must catch (README.md
//! beside this crate).

pub mod bench_support;
