//! `certmig fleet` (being built).

use clap::Args;

#[derive(Debug, Args)]
pub struct FleetArgs {}

pub fn run(_a: FleetArgs) -> u8 {
    eprintln!("certmig: fleet is not built yet");
    super::EXIT_FAILURE
}
