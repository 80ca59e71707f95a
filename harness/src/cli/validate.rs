//! `certmig validate` (being built).

use clap::Args;

#[derive(Debug, Args)]
pub struct ValidateArgs {}

pub fn run(_a: ValidateArgs) -> u8 {
    eprintln!("certmig: validate is not built yet");
    super::EXIT_FAILURE
}
