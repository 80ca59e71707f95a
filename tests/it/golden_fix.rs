//! Golden snapshots (under `golden/`) of before/after annotated dumps for
//! every defect shape under both policies, in every format (element, `.sst`,
//! `.reg`). Review changes with `cargo insta review`.

use certmig::cert::{self, MachineSpec};
use certmig::fix::{repair_element, Policy};
use certmig::format::reg::{write_reg, RegEncoding};
use certmig::format::registry::RegistryStore;
use certmig::format::{dump, Defect, ReadMode, SerializedElement, SerializedStore};

fn both(before: String, after: String) -> String {
    format!("=== before ===\n{before}=== after ===\n{after}")
}

#[test]
fn before_and_after_dumps_per_defect_policy_and_format() {
    for defect in Defect::ALL {
        let certs = cert::generate_machine(&MachineSpec::sccm("PC0001", 1, defect)).unwrap();
        let before: Vec<SerializedElement<'static>> = certs.iter().map(|c| c.element()).collect();
        for policy in [Policy::Truncate, Policy::Strip] {
            let mut after = before.clone();
            for e in &mut after {
                repair_element(e, policy);
            }
            let sst =
                |v: &[SerializedElement<'static>]| dump::store(&SerializedStore::new(v.to_vec()));
            let reg = |v: &[SerializedElement<'static>]| {
                let bytes = write_reg(
                    &RegistryStore::from_elements("SMS", v.to_vec()),
                    RegEncoding::Regedit5,
                );
                dump::reg(&bytes, ReadMode::Strict).unwrap()
            };
            insta::with_settings!({snapshot_path => "../../golden", prepend_module_to_snapshot => false}, {
                insta::assert_snapshot!(
                    format!("fix_{policy}_{defect}_element"),
                    both(dump::element(&before[0], 0), dump::element(&after[0], 0))
                );
                insta::assert_snapshot!(format!("fix_{policy}_{defect}_sst"), both(sst(&before), sst(&after)));
                insta::assert_snapshot!(format!("fix_{policy}_{defect}_reg"), both(reg(&before), reg(&after)));
            });
        }
    }
}
