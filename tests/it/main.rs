//! certmig's integration tests, one test binary (`cargo test --test it`):
//! each former `tests/<name>.rs` is the module `<name>` here, so a test is
//! run by its module path (`cargo test --test it claims_sim::`), and the
//! helpers they share are in `support/`. One crate links the dependencies
//! (openssl and the rest) once instead of once per test file.

mod support;

mod arbitrary_bytes;
mod cert_generation;
mod claims_rules;
mod claims_sim;
mod cli_pipe;
mod containment;
mod crash_safety;
#[cfg(not(windows))]
mod crosscheck_cli;
#[cfg(windows)]
mod crosscheck_windows;
mod docs_sources;
mod exit_codes;
mod fix_repair;
mod fleet;
mod format_roundtrip;
mod fuzz_regressions;
mod gen_scan_cli;
mod gen_streaming;
mod golden_fix;
mod golden_formats;
mod golden_sim;
#[cfg(target_os = "linux")]
mod hostile_files;
#[cfg(unix)]
mod hostile_tools;
mod layers;
mod limits;
mod malformed_corpus;
#[cfg(unix)]
mod path_rules;
mod product_logs;
mod reg_exports;
mod reg_format;
mod reg_pieces;
mod replay_cli;
mod scan_stream;
#[cfg(windows)]
mod system_store_windows;
#[cfg(unix)]
mod terminal_width;
mod validate;
