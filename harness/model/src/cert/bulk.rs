//! Bulk certificates for benchmark-sized stores.
//!
//! Signing costs about a third of a millisecond per RSA certificate; a
//! 100 000-certificate store would take half a minute. Bulk mode signs one
//! *template* per (profile, seed, role, machine-name length) with a marker
//! serial number and a marker machine name, finds where those markers sit in
//! the DER, and then stamps each certificate's own serial and machine name
//! into copies of the template.
//!
//! The stamped bytes are not what was signed, so **bulk certificates carry
//! invalid signatures**: `GeneratedCertificate::signature_valid` is false and
//! [`super::verify_signature`] returns false for them. Everything the harness
//! checks (thumbprints, friendly names, property order, import rules) works on
//! them as on signed certificates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::{sign, CertError, Profile, Role};

/// The serial number signed into every template (positive, 16 bytes).
const MARKER_SERIAL: [u8; 16] = [0x5A; 16];
/// The character a template's marker machine name is made of.
const MARKER_CHAR: char = 'Q';

#[derive(Debug)]
struct Template {
    der: Vec<u8>,
    serial_at: usize,
    /// The machine name appears in both issuer and subject.
    name_at: Vec<usize>,
}

type Key = (Profile, u64, Role, usize);
static TEMPLATES: OnceLock<Mutex<HashMap<Key, Arc<Template>>>> = OnceLock::new();

fn template(
    profile: Profile,
    seed: u64,
    role: Role,
    name_len: usize,
) -> Result<Arc<Template>, CertError> {
    let cache = TEMPLATES.get_or_init(Default::default);
    let key = (profile, seed, role, name_len);
    if let Some(t) = cache.lock().expect("template cache").get(&key) {
        return Ok(t.clone());
    }
    let marker: String = std::iter::repeat_n(MARKER_CHAR, name_len).collect();
    let der = sign(profile, seed, &marker, role, MARKER_SERIAL)?;
    let serial_at = find_once(&der, &MARKER_SERIAL).ok_or_else(|| {
        CertError::Other("bulk template: marker serial not found exactly once".into())
    })?;
    let name_at: Vec<usize> = memchr::memmem::find_iter(&der, marker.as_bytes()).collect();
    if name_at.len() != 2 {
        return Err(CertError::Other(format!(
            "bulk template: the marker machine name appears {} times, expected 2 (issuer and subject)",
            name_at.len()
        )));
    }
    let t = Arc::new(Template {
        der,
        serial_at,
        name_at,
    });
    cache.lock().expect("template cache").insert(key, t.clone());
    Ok(t)
}

fn find_once(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut it = memchr::memmem::find_iter(hay, needle);
    let first = it.next()?;
    match it.next() {
        None => Some(first),
        Some(_) => None,
    }
}

/// A certificate for `machine`/`role` with `serial`, stamped into the
/// template: fast, and with an invalid signature.
pub fn stamped(
    profile: Profile,
    seed: u64,
    machine: &str,
    role: Role,
    serial: [u8; 16],
) -> Result<Vec<u8>, CertError> {
    let mut m = MachineTemplate::new(profile, seed, machine, role)?;
    m.stamp_serial(serial);
    Ok(m.der)
}

/// The template of one machine and role with the machine name already
/// stamped: each certificate is then a copy with its own serial.
#[derive(Debug, Clone)]
pub struct MachineTemplate {
    /// The DER (machine name stamped; the serial is whatever was stamped last).
    pub der: Vec<u8>,
    /// Where the 16-byte serial number sits in `der`.
    pub serial_at: usize,
}

impl MachineTemplate {
    pub fn new(
        profile: Profile,
        seed: u64,
        machine: &str,
        role: Role,
    ) -> Result<MachineTemplate, CertError> {
        if !machine.is_ascii() {
            return Err(CertError::Other(format!(
                "bulk mode needs an ASCII machine name, not {machine:?}"
            )));
        }
        let t = template(profile, seed, role, machine.len())?;
        let mut der = t.der.clone();
        for &at in &t.name_at {
            der[at..at + machine.len()].copy_from_slice(machine.as_bytes());
        }
        Ok(MachineTemplate {
            der,
            serial_at: t.serial_at,
        })
    }

    /// Stamps `serial` into `der` (a copy of [`Self::der`]).
    pub fn stamp_serial_into(&self, der: &mut [u8], serial: [u8; 16]) {
        der[self.serial_at..self.serial_at + 16].copy_from_slice(&serial);
    }

    fn stamp_serial(&mut self, serial: [u8; 16]) {
        let at = self.serial_at;
        self.der[at..at + 16].copy_from_slice(&serial);
    }
}
