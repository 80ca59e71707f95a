//! `certmig gen`.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::Args;
use strum::{EnumMessage, IntoEnumIterator};

use super::exit::CliError;
use super::{print_json, EXIT_OK};
use certmig_format::{Defect, FileFormat};
use certmig_model::cert::{DefectChoice, Profile};
use certmig_stores::generate::{generate_with, GenOptions};

#[derive(Debug, Args)]
#[command(after_help = "\
Writes, per machine PCnnnn:
  DIR/PCnnnn.sst                  the SMS store saved with CertSaveStore
  DIR/PCnnnn.reg                  `reg export HKLM\\SOFTWARE\\Microsoft\\SystemCertificates\\SMS` (REGEDIT5)
  DIR/PCnnnn/<THUMBPRINT>.blob    each certificate's registry Blob value

Exit codes: 0 every file written, 1 a file could not be written (or exists already: --force
overwrites), 2 bad options.

Example:
  certmig gen --machines 3 --seed 1 --out out/
  certmig gen --machines 1 --certs-per-machine 100000 --bulk --format sst --out big/")]
pub struct GenArgs {
    /// Number of machines (PC0001, PC0002, ...), at least 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=u32::MAX as u64).map(|n| n as usize))]
    pub machines: usize,
    /// Seed: the same seed always gives the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Certificate generator profile.
    #[arg(long, value_parser = super::choice::<Profile>(), default_value_t = Profile::Sccm2007)]
    pub profile: Profile,
    /// Friendly-name defect of every certificate.
    #[arg(long, value_parser = defect_choice(), default_value = "doubled-terminator")]
    pub defect: DefectChoice,
    /// Output formats, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "sst,reg,blob")]
    pub format: Vec<FileFormat>,
    /// Certificates per machine: signing, encryption, signing, ..., at least 1.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=u32::MAX as u64).map(|n| n as usize))]
    pub certs_per_machine: usize,
    /// Fast stamped certificates for benchmark-sized stores. Their signatures DO NOT verify.
    #[arg(long)]
    pub bulk: bool,
    /// Output directory (created if missing).
    #[arg(short = 'o', long, visible_alias = "output", value_name = "DIR")]
    pub out: PathBuf,
    /// Overwrite files that already exist in the output directory.
    #[arg(long)]
    pub force: bool,
    /// Print what was written as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--defect`: a friendly-name defect, or `mixed`.
fn defect_choice() -> impl TypedValueParser<Value = DefectChoice> {
    let defects = Defect::iter()
        .map(|d| PossibleValue::new(d.as_str()).help(d.get_documentation().unwrap_or_default()));
    let mixed = PossibleValue::new(DefectChoice::MIXED).help("A seeded choice per certificate");
    PossibleValuesParser::new(defects.chain([mixed]))
        .map(|name| name.parse().expect("clap accepts only declared names"))
}

pub fn run(a: GenArgs) -> Result<u8, CliError> {
    let opts = GenOptions {
        machines: a.machines,
        seed: a.seed,
        profile: a.profile,
        defect: a.defect,
        formats: a.format,
        certs_per_machine: a.certs_per_machine,
        bulk: a.bulk,
        out: a.out,
        overwrite: a.force,
    };
    // Only --json lists every file and certificate; the summary line needs
    // the counts alone, so memory stays bounded whatever the size.
    match generate_with(&opts, a.json) {
        Ok(report) => {
            if a.json {
                return Ok(print_json(&report));
            }
            out!(
                "{}",
                certmig_report::text::fit(&certmig_report::gen::human(&report, a.bulk))
            );
            Ok(EXIT_OK)
        }
        // Files that exist already (without --force) or cannot be written.
        Err(e) => Err(CliError::failure(format!("{e:#}"))),
    }
}
