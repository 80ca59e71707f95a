//! The `certmig` binary: see `certmig --help` and README.md.
fn main() -> std::process::ExitCode {
    // Like any Unix filter: when the reader of our output goes away
    // (`certmig scan ... | head`), end quietly instead of panicking on EPIPE.
    // SAFETY: restores the default disposition of one signal before any
    // thread exists; no Rust state is involved.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    certmig::cli::main()
}
