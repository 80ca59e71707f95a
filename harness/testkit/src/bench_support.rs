//! Inputs for the criterion benchmarks (which can only use the public API).

use certmig_format::{Defect, SerializedStore};
use certmig_model::cert::{self, DefectChoice, MachineSpec, Profile};

/// A `.sst` of `n` bulk SCCM certificates (two per machine, doubled
/// terminators), about 1 KB each: what a large benchmark store looks like.
/// Bulk certificates carry invalid signatures.
pub fn sccm_like_store(n: usize, seed: u64) -> Vec<u8> {
    let mut elements = Vec::with_capacity(n);
    let mut machine = 1;
    while elements.len() < n {
        let spec = MachineSpec {
            machine: cert::machine_name(machine),
            seed,
            profile: Profile::Sccm2007,
            defect: DefectChoice::Fixed(Defect::DoubledTerminator),
            certs_per_machine: 2.min(n - elements.len()),
            bulk: true,
        };
        let certs = cert::generate_machine(&spec).expect("bulk generation");
        elements.extend(certs.iter().map(|c| c.element()));
        machine += 1;
    }
    SerializedStore::new(elements).to_bytes()
}
