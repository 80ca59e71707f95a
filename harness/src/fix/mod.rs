//! The reference CCMCertFix.
//!
//! For every certificate whose friendly name has an embedded NUL it rewrites
//! that one property value and nothing else: certificates, every other
//! property, property order, thumbprints and key links stay byte-identical,
//! clean certificates are untouched, and a second run changes nothing.
//!
//! Policies ([`Policy`]): `truncate` (default) keeps what Windows displayed
//! before MS09-056 — the text before the first NUL — plus one terminator;
//! `strip` drops every NUL and adds one terminator. A name that becomes
//! empty is kept as a lone terminator and reported as a warning. An
//! odd-length value (only readable leniently) is left alone with a warning:
//! it is not text, and guessing would change bytes nobody asked to change.
//!
//! [`run`] repairs files (`.sst` streamed element by element, `.reg`, a
//! single `.blob` element, a directory of `<THUMBPRINT>.blob` files) with the
//! safe-writing rules of [`write`]. [`Fixer`] is the one interface through
//! which the scenario simulator and the validator call any fixer.

mod files;
pub mod lock;
pub mod write;

pub use files::{
    run, run_with as files_run_with, stream_repair, FixError, FixOptions, FixReport, InputFormat,
    StreamFixError,
};

use std::fmt;

use serde::{Serialize, Serializer};

use crate::format::friendly_name::{self, FriendlyNameShape};
use crate::format::{PropertyId, ReadMode, SerializedElement, SerializedStore, Thumbprint};

/// How a friendly name with an embedded NUL is rewritten.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Keep the text before the first NUL (what Windows displayed), plus one terminator.
    #[default]
    Truncate,
    /// Drop every NUL, then add one terminator.
    Strip,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Truncate => "truncate",
            Policy::Strip => "strip",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "truncate" => Ok(Policy::Truncate),
            "strip" => Ok(Policy::Strip),
            _ => Err(format!("unknown policy `{s}` (truncate, strip)")),
        }
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

/// A fixer of SMS stores: the reference CCMCertFix, or (in the validator) an
/// external program. The simulator calls fixers only through this trait.
pub trait Fixer: Send + Sync {
    /// A short name for reports and logs.
    fn name(&self) -> &str;
    /// Repairs a serialized store (`.sst` bytes) and returns the new bytes.
    fn fix_store(&self, sst: &[u8]) -> Result<Vec<u8>, FixError>;
}

/// The reference CCMCertFix.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferenceFixer {
    pub policy: Policy,
}

impl Fixer for ReferenceFixer {
    fn name(&self) -> &str {
        "CCMCertFix (reference)"
    }

    fn fix_store(&self, sst: &[u8]) -> Result<Vec<u8>, FixError> {
        let store =
            SerializedStore::parse(sst, ReadMode::Strict).map_err(|source| FixError::BadInput {
                path: "(state store)".into(),
                source,
            })?;
        let mut store = store.into_owned();
        for e in &mut store.elements {
            repair_element(e, self.policy);
        }
        Ok(store.to_bytes())
    }
}
