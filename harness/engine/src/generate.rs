//! `certmig gen`: write, per simulated machine `PCnnnn`, the SMS store the
//! way Windows would hold or export it:
//!
//! - `DIR/PCnnnn.sst`: the store saved with `CertSaveStore`;
//! - `DIR/PCnnnn.reg`: what `reg export HKLM\SOFTWARE\Microsoft\SystemCertificates\SMS`
//!   gives on that machine (REGEDIT5; the registry provider adds property 3);
//! - `DIR/PCnnnn/<THUMBPRINT>.blob`: each certificate's registry `Blob` value.
//!
//! Machines are generated in parallel (rayon) but every byte follows from
//! the seed and the machine name, so the output is identical run to run.
//! Existing files are never overwritten unless `overwrite` is set.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use serde::Serialize;

use crate::cert::{self, DefectChoice, MachineSpec, Profile};
use crate::format::registry::RegistryStore;
use crate::format::{reg, FileFormat, SerializedStore};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub machines: usize,
    pub seed: u64,
    pub profile: Profile,
    pub defect: DefectChoice,
    pub formats: Vec<FileFormat>,
    pub certs_per_machine: usize,
    pub bulk: bool,
    pub out: PathBuf,
    pub overwrite: bool,
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct GenReport {
    pub out: PathBuf,
    pub machines: Vec<MachineReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MachineReport {
    pub machine: String,
    pub files: Vec<PathBuf>,
    pub certificates: Vec<GeneratedSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GeneratedSummary {
    pub thumbprint: String,
    pub role: String,
    pub friendly_name_shape: String,
    pub signature_valid: bool,
}

/// The bytes of one machine's files, before anything is written.
struct MachineFiles {
    report: MachineReport,
    files: Vec<(PathBuf, Vec<u8>)>,
}

/// Generates every machine, then writes the files.
pub fn generate(opts: &GenOptions) -> Result<GenReport> {
    if opts.machines == 0 {
        bail!("--machines must be at least 1");
    }
    if opts.certs_per_machine == 0 {
        bail!("--certs-per-machine must be at least 1");
    }
    let machines: Vec<MachineFiles> = (1..=opts.machines)
        .into_par_iter()
        .map(|i| machine_files(opts, i))
        .collect::<Result<_>>()?;
    if !opts.overwrite {
        for m in &machines {
            for (path, _) in &m.files {
                if path.exists() {
                    bail!(
                        "{} already exists; refusing to overwrite it (use --force, or choose another --out)",
                        path.display()
                    );
                }
            }
        }
    }
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating {}", opts.out.display()))?;
    for m in &machines {
        for (path, bytes) in &m.files {
            crate::fix::write::write_file(path, bytes)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(GenReport {
        out: opts.out.clone(),
        machines: machines.into_iter().map(|m| m.report).collect(),
    })
}

fn machine_files(opts: &GenOptions, index: usize) -> Result<MachineFiles> {
    let machine = cert::machine_name(index);
    let spec = MachineSpec {
        machine: machine.clone(),
        seed: opts.seed,
        profile: opts.profile,
        defect: opts.defect,
        certs_per_machine: opts.certs_per_machine,
        bulk: opts.bulk,
    };
    let certs = cert::generate_machine(&spec).with_context(|| format!("generating {machine}"))?;
    let elements: Vec<_> = certs.iter().map(|c| c.element()).collect();
    let mut files = Vec::new();
    let registry = RegistryStore::from_elements("SMS", elements.clone());
    for f in &opts.formats {
        match f {
            FileFormat::Sst => {
                let store = SerializedStore::new(elements.clone());
                files.push((opts.out.join(format!("{machine}.sst")), store.to_bytes()));
            }
            FileFormat::Reg => {
                files.push((
                    opts.out.join(format!("{machine}.reg")),
                    reg::write_reg(&registry, reg::RegEncoding::Regedit5),
                ));
            }
            // Each certificate's Blob value as a file, in the machine's directory.
            FileFormat::Blob | FileFormat::BlobDir => {
                let dir = opts.out.join(&machine);
                for c in &registry.certificates {
                    files.push((
                        dir.join(format!("{}.blob", c.thumbprint.to_hex())),
                        c.element.to_bytes(),
                    ));
                }
            }
        }
    }
    let report = MachineReport {
        machine,
        files: files.iter().map(|(p, _)| p.clone()).collect(),
        certificates: certs
            .iter()
            .map(|c| GeneratedSummary {
                thumbprint: c.thumbprint().to_hex(),
                role: format!("{:?}", c.role),
                friendly_name_shape: c.defect.shape().to_string(),
                signature_valid: c.signature_valid,
            })
            .collect(),
    };
    Ok(MachineFiles { report, files })
}
