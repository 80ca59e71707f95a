//! The `certmig` binary: see `certmig --help` and README.md.
fn main() -> std::process::ExitCode {
    certmig::cli::main()
}
