//! Golden snapshots (under `golden/`): an annotated hex dump of one element,
//! one `.sst` and one `.reg` per friendly-name defect, from seed 1. Review
//! changes with `cargo insta review`; they change only when the byte layout is
//! meant to change.

use certmig::cert::{self, MachineSpec};
use certmig::format::reg::{write_reg, RegEncoding};
use certmig::format::registry::RegistryStore;
use certmig::format::{dump, Defect, ReadMode, SerializedStore};

#[test]
fn annotated_dumps_per_defect_shape() {
    for defect in Defect::ALL {
        let certs = cert::generate_machine(&MachineSpec::sccm("PC0001", 1, defect)).unwrap();
        let elements: Vec<_> = certs.iter().map(|c| c.element()).collect();
        let sst = SerializedStore::new(elements.clone());
        let reg = write_reg(
            &RegistryStore::from_elements("SMS", elements.clone()),
            RegEncoding::Regedit5,
        );
        insta::with_settings!({snapshot_path => "../../golden", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(format!("element_{defect}"), dump::element(&elements[0], 0));
            insta::assert_snapshot!(format!("sst_{defect}"), dump::store(&sst));
            insta::assert_snapshot!(format!("reg_{defect}"), dump::reg(&reg, ReadMode::Strict).unwrap());
        });
    }
}
