//! The friendly-name repair CCMCertFix performs, as a pure transform over
//! the format's types: [`repair_friendly_name`] (one value under a
//! [`Policy`]), [`repair_element`] (one serialized element),
//! [`stream_repair`] (a `.sst`, one element at a time; [`stream_repair_with`]
//! takes another repair) and [`check_repair`]
//! (the invariants a repair must keep).
//!
//! It lives beside the byte formats, not in the engine, because it is only
//! bytes in and bytes out: the fuzzers reach it without the rest of certmig,
//! and every fixer built on it (the reference CCMCertFix, the simulator's
//! fixer, the test mutants) shares this one definition. Files, locks and the
//! safe replace are the engine's (`certmig_fix`).

use std::io::{self, Write};

use serde::{Serialize, Serializer};

use crate::friendly_name::{self, FriendlyNameShape};
use crate::store::{StoreReader, StreamError, END_MARKER, STORE_HEADER};
use crate::{FormatError, PropertyId, ReadMode, SerializedElement, Thumbprint};

crate::vocabulary! {
    "policy";
    /// How a friendly name with an embedded NUL is rewritten. Its names
    /// (`truncate`, `strip`) are declared once, here, for serde, the command
    /// line and every printer.
    #[derive(Default)]
    #[strum(serialize_all = "kebab-case")]
    pub enum Policy {
        /// Keep the text before the first NUL (what Windows displayed), plus one terminator.
        #[default]
        Truncate,
        /// Drop every NUL, then add one terminator.
        Strip,
    }
}

/// What a policy does to one friendly-name value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameRepair {
    Unchanged,
    /// Left alone, with the reason (odd-length values).
    Skipped(String),
    Rewritten {
        value: Vec<u8>,
        warning: Option<String>,
    },
}

/// The single source of truth for the new value of a friendly name.
pub fn repair_friendly_name(value: &[u8], policy: Policy) -> NameRepair {
    match friendly_name::classify(value) {
        FriendlyNameShape::Clean | FriendlyNameShape::NoTerminator => NameRepair::Unchanged,
        FriendlyNameShape::OddLength => NameRepair::Skipped(format!(
            "odd-length friendly name ({} bytes) is not text; left unchanged",
            value.len()
        )),
        _ => {
            let mut out: Vec<u8> = match policy {
                Policy::Truncate => {
                    let end = 2 * friendly_name::first_nul_unit(value).unwrap_or(value.len() / 2);
                    value[..end].to_vec()
                }
                Policy::Strip => value
                    .chunks_exact(2)
                    .filter(|u| u != &[0, 0])
                    .flatten()
                    .copied()
                    .collect(),
            };
            let warning = out.is_empty().then(|| {
                "the friendly name is empty after repair; kept as a lone terminator".to_owned()
            });
            out.extend_from_slice(&[0, 0]);
            NameRepair::Rewritten {
                value: out,
                warning,
            }
        }
    }
}

/// The report for one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRepair {
    pub thumbprint: Thumbprint,
    pub before: Option<Vec<u8>>,
    pub after: Option<Vec<u8>>,
    pub changed: bool,
    pub warning: Option<String>,
}

impl Serialize for CertificateRepair {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("thumbprint", &self.thumbprint)?;
        m.serialize_entry("before_hex", &self.before.as_deref().map(hex::encode_upper))?;
        m.serialize_entry("after_hex", &self.after.as_deref().map(hex::encode_upper))?;
        m.serialize_entry("before", &self.before.as_deref().map(friendly_name::escape))?;
        m.serialize_entry("after", &self.after.as_deref().map(friendly_name::escape))?;
        m.serialize_entry("changed", &self.changed)?;
        if let Some(w) = &self.warning {
            m.serialize_entry("warning", w)?;
        }
        m.end()
    }
}

/// Repairs one element in place and reports what happened.
pub fn repair_element(e: &mut SerializedElement<'_>, policy: Policy) -> CertificateRepair {
    let thumbprint = e.thumbprint();
    let before = e.friendly_name().map(<[u8]>::to_vec);
    let mut changed = false;
    let mut warning = None;
    for p in e
        .properties
        .iter_mut()
        .filter(|p| p.id == PropertyId::FriendlyName)
    {
        match repair_friendly_name(&p.value, policy) {
            NameRepair::Unchanged => {}
            NameRepair::Skipped(w) => warning = Some(w),
            NameRepair::Rewritten { value, warning: w } => {
                p.value = value.into();
                changed = true;
                warning = warning.or(w);
            }
        }
    }
    CertificateRepair {
        thumbprint,
        after: e.friendly_name().map(<[u8]>::to_vec),
        before,
        changed,
        warning,
    }
}

/// A broken repair invariant, with where it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("certificate {index}: {message}")]
pub struct InvariantViolation {
    pub index: usize,
    pub message: String,
}

/// Checks `after` against `before` for `policy`: same certificates (DER) in
/// the same order; every property other than the friendly name identical and
/// in order; friendly names equal to the policy's result; nothing embedded
/// left.
pub fn check_repair(
    before: &[SerializedElement<'_>],
    after: &[SerializedElement<'_>],
    policy: Policy,
) -> Result<(), InvariantViolation> {
    let fail = |index, message: String| Err(InvariantViolation { index, message });
    if before.len() != after.len() {
        return fail(
            after.len().min(before.len()),
            format!("{} certificates became {}", before.len(), after.len()),
        );
    }
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        if b.der != a.der || b.kind != a.kind {
            return fail(i, "the certificate bytes changed".into());
        }
        if b.order != a.order || b.properties.len() != a.properties.len() {
            return fail(i, "properties were added, dropped or moved".into());
        }
        for (pb, pa) in b.properties.iter().zip(&a.properties) {
            if pb.id != pa.id {
                return fail(
                    i,
                    format!("property {} became {}", pb.id.to_u32(), pa.id.to_u32()),
                );
            }
            let expected: std::borrow::Cow<'_, [u8]> =
                match (pb.id, repair_friendly_name(&pb.value, policy)) {
                    (PropertyId::FriendlyName, NameRepair::Rewritten { value, .. }) => value.into(),
                    _ => (&pb.value[..]).into(),
                };
            check_value(i, &expected, &pa.value)?;
        }
    }
    Ok(())
}

fn check_value(index: usize, expected: &[u8], got: &[u8]) -> Result<(), InvariantViolation> {
    if expected != got {
        return Err(InvariantViolation {
            index,
            message: format!(
                "expected {} but found {}",
                hex::encode_upper(expected),
                hex::encode_upper(got)
            ),
        });
    }
    Ok(())
}

/// Why [`stream_repair`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum StreamFixError {
    #[error(transparent)]
    Read(StreamError),
    #[error(transparent)]
    Element(FormatError),
    #[error(transparent)]
    Write(io::Error),
}

/// The streaming core of `fix` on a `.sst`: reads one element at a time,
/// repairs it, and writes it to `out` (unchanged elements as their original
/// bytes), calling `on_certificate` with each report. Memory: one element.
pub fn stream_repair<R: io::Read, W: Write>(
    reader: &mut StoreReader<R>,
    out: Option<&mut W>,
    policy: Policy,
    on_certificate: impl FnMut(CertificateRepair),
) -> Result<(), StreamFixError> {
    stream_repair_with(
        reader,
        out,
        |_, e| repair_element(e, policy),
        on_certificate,
    )
}

/// [`stream_repair`] with another repair: `repair(index, element)` rewrites
/// the element in place and reports it; an element it reports unchanged is
/// written as its original bytes.
pub fn stream_repair_with<R: io::Read, W: Write>(
    reader: &mut StoreReader<R>,
    mut out: Option<&mut W>,
    mut repair: impl FnMut(usize, &mut SerializedElement<'_>) -> CertificateRepair,
    mut on_certificate: impl FnMut(CertificateRepair),
) -> Result<(), StreamFixError> {
    let mut write = |bytes: &[u8]| match out.as_mut() {
        Some(w) => w.write_all(bytes).map_err(StreamFixError::Write),
        None => Ok(()),
    };
    if !reader.empty_file {
        write(&STORE_HEADER)?;
    }
    let mut buf = Vec::with_capacity(4096);
    let mut index = 0;
    while let Some(offset) = reader
        .next_element_into(&mut buf)
        .map_err(StreamFixError::Read)?
    {
        let mut e = SerializedElement::parse(&buf, offset as usize, ReadMode::Strict)
            .map_err(StreamFixError::Element)?;
        let r = repair(index, &mut e);
        if r.changed {
            write(&e.to_bytes())?;
        } else {
            write(&buf)?;
        }
        on_certificate(r);
        buf.clear();
        index += 1;
    }
    if !reader.empty_file {
        write(&END_MARKER)?;
    }
    Ok(())
}
