//! One machine's certificates written element by element, for streaming
//! writers (`certmig gen`): certificate `i` of a [`MachineSpec`] can be
//! produced on its own, in any order and on any thread, with the same bytes
//! as [`super::generate_machine`] gives for it.
//!
//! Bulk machines ([`MachineSpec::bulk`]) take the fast path: the machine
//! name is stamped into each role's template once, the property entries
//! (friendly name for each defect, key provider info) are encoded once, and
//! a certificate costs one copy of the template, its seeded serial (one
//! SHA-1 of a few bytes) and, for registry elements, the SHA-1 of its DER.

use super::bulk::MachineTemplate;
use super::{defect_of, generate_one, serial_for, CertError, MachineSpec, Role};
use crate::format::key_prov_info::KeyProvInfo;
use crate::format::property::{write_entry, PropertyId, ENTRY_HEADER_LEN, X509_ASN_ENCODING};
use crate::format::registry::add_sha1_property;
use crate::format::{Defect, Thumbprint};

/// What one written element holds, for reports and file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementInfo {
    pub role: Role,
    pub defect: Defect,
    pub signature_valid: bool,
    /// The SHA-1 of the DER, when it was asked for.
    pub thumbprint: Option<Thumbprint>,
}

/// The encoded property entries of one role: key provider info, and the
/// friendly name for each of [`Defect::ALL`].
#[derive(Debug)]
struct RoleEntries {
    friendly_name: [Vec<u8>; 4],
    key_prov_info: Vec<u8>,
    template: Option<MachineTemplate>,
}

/// Produces the certificates of one machine, one element at a time.
#[derive(Debug)]
pub struct MachineGenerator<'s> {
    spec: &'s MachineSpec,
    /// Bulk machines only: [signing, encryption].
    roles: Option<[RoleEntries; 2]>,
}

impl<'s> MachineGenerator<'s> {
    pub fn new(spec: &'s MachineSpec) -> Result<Self, CertError> {
        let roles = if spec.bulk {
            let entries = |role: Role| -> Result<RoleEntries, CertError> {
                let mut friendly_name: [Vec<u8>; 4] = Default::default();
                for (slot, d) in friendly_name.iter_mut().zip(Defect::ALL) {
                    write_entry(
                        slot,
                        PropertyId::FriendlyName.to_u32(),
                        &d.apply(role.friendly_text()),
                    );
                }
                let mut key_prov_info = Vec::new();
                write_entry(
                    &mut key_prov_info,
                    PropertyId::KeyProvInfo.to_u32(),
                    &KeyProvInfo::sccm_machine_key(&role.container(&spec.machine), role.key_spec())
                        .encode(),
                );
                Ok(RoleEntries {
                    friendly_name,
                    key_prov_info,
                    template: Some(MachineTemplate::new(
                        spec.profile,
                        spec.seed,
                        &spec.machine,
                        role,
                    )?),
                })
            };
            Some([entries(Role::Signing)?, entries(Role::Encryption)?])
        } else {
            None
        };
        Ok(MachineGenerator { spec, roles })
    }

    pub fn spec(&self) -> &MachineSpec {
        self.spec
    }

    /// How many certificates the machine has.
    pub fn len(&self) -> usize {
        self.spec.certs_per_machine
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends certificate `i`'s serialized element: to `plain` as
    /// [`super::GeneratedCertificate::element`] writes it (friendly name (11),
    /// key provider info (2), then the certificate (32)), and to `registry`
    /// as the registry provider stores it, with the SHA-1 property (3)
    /// before the certificate ([`add_sha1_property`]). The certificate is
    /// made once for both. The thumbprint is computed when `registry` is
    /// given or `thumbprint` asks for it.
    pub fn write(
        &self,
        i: usize,
        plain: Option<&mut Vec<u8>>,
        registry: Option<&mut Vec<u8>>,
        thumbprint: bool,
    ) -> Result<ElementInfo, CertError> {
        let Some(roles) = &self.roles else {
            let c = generate_one(self.spec, i)?;
            let mut e = c.element();
            if let Some(out) = plain {
                e.write_to(out);
            }
            let thumbprint = (thumbprint || registry.is_some()).then(|| c.thumbprint());
            if let Some(out) = registry {
                add_sha1_property(&mut e);
                e.write_to(out);
            }
            return Ok(ElementInfo {
                role: c.role,
                defect: c.defect,
                signature_valid: c.signature_valid,
                thumbprint,
            });
        };
        let role = Role::of_index(i);
        let defect = defect_of(self.spec, i);
        let r = &roles[role as usize];
        let t = r.template.as_ref().expect("bulk roles have templates");
        let d = Defect::ALL.iter().position(|x| *x == defect).unwrap_or(0);
        let serial = serial_for(self.spec.seed, &self.spec.machine, i);
        let mut thumb = None;
        for (out, with_sha1) in [(plain, false), (registry, true)] {
            let Some(out) = out else { continue };
            let sha1_len = if with_sha1 { ENTRY_HEADER_LEN + 20 } else { 0 };
            out.reserve(
                r.friendly_name[d].len()
                    + r.key_prov_info.len()
                    + sha1_len
                    + ENTRY_HEADER_LEN
                    + t.der.len(),
            );
            out.extend_from_slice(&r.friendly_name[d]);
            out.extend_from_slice(&r.key_prov_info);
            let sha1_at = out.len() + ENTRY_HEADER_LEN;
            if with_sha1 {
                write_entry(out, PropertyId::Sha1Hash.to_u32(), &[0; 20]);
            }
            out.extend_from_slice(&PropertyId::Certificate.to_u32().to_le_bytes());
            out.extend_from_slice(&X509_ASN_ENCODING.to_le_bytes());
            out.extend_from_slice(&(t.der.len() as u32).to_le_bytes());
            let start = out.len();
            out.extend_from_slice(&t.der);
            let der = &mut out[start..];
            t.stamp_serial_into(der, serial);
            if thumb.is_none() && (thumbprint || with_sha1) {
                thumb = Some(Thumbprint::of(der));
            }
            if let (true, Some(tp)) = (with_sha1, thumb) {
                out[sha1_at..sha1_at + 20].copy_from_slice(&tp.0);
            }
        }
        Ok(ElementInfo {
            role,
            defect,
            signature_valid: false,
            thumbprint: thumb,
        })
    }
}
