//! The invariants V1-V10 and the checks that decide them for one case.
//!
//! Every check compares what the tool was given (`before`, parsed from the
//! exact bytes handed to it) with what it wrote (`after`, parsed strictly),
//! and the expectation is the reference CCMCertFix's rule
//! ([`crate::fix::repair_friendly_name`]) under the promised policy.

use serde::Serialize;

use super::corpus::CaseInput;
use super::tool::parse_output;
use crate::cryptoapi::{self, RuleSet};
use crate::fix::{repair_friendly_name, NameRepair, Policy};
use crate::format::reg::{parse_reg, write_reg, RegEncoding};
use crate::format::{FileFormat, PropertyId, ReadMode, SerializedElement};

certmig_format::vocabulary! {
    "invariant";
    /// One invariant of a fix tool.
    pub enum Invariant {
        V1,
        V2,
        V3,
        V4,
        V5,
        V6,
        V7,
        V8,
        V9,
        V10,
    }
}

impl Invariant {
    pub const ALL: [Invariant; 10] = [
        Invariant::V1,
        Invariant::V2,
        Invariant::V3,
        Invariant::V4,
        Invariant::V5,
        Invariant::V6,
        Invariant::V7,
        Invariant::V8,
        Invariant::V9,
        Invariant::V10,
    ];

    pub fn id(self) -> &'static str {
        self.into()
    }

    /// The invariant in one sentence.
    pub fn sentence(self) -> &'static str {
        match self {
            Invariant::V1 => "after repair every certificate imports under the ms09-056 rules",
            Invariant::V2 => "the same certificates come out, DER byte-identical, in the same order",
            Invariant::V3 => "every property other than the friendly name is byte-identical; none added, none dropped, order kept",
            Invariant::V4 => "each repaired friendly name is exactly what the promised policy gives",
            Invariant::V5 => "certificates that were clean are byte-identical",
            Invariant::V6 => "running the tool on its own output changes nothing",
            Invariant::V7 => "the output is a well-formed file of the same format (strict parse; REGEDIT5 as reg export writes it; key names equal thumbprints)",
            Invariant::V8 => "on malformed input the tool exits non-zero, writes no output and leaves its input untouched",
            Invariant::V9 => "run as CCMCertFix on the client before the task sequence (where KB 2028442 and KB 977203 both put it), refresh and replace succeed for every source/target OS pair USMT supports, a refresh keeping its identity",
            Invariant::V10 => "the tool exits 0 on success, and never crashes or times out",
        }
    }

    pub fn parse(s: &str) -> Option<Invariant> {
        Invariant::ALL
            .into_iter()
            .find(|v| v.id().eq_ignore_ascii_case(s))
    }
}

/// A failed invariant with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub invariant: Invariant,
    /// What is wrong and where: thumbprint, property id, byte offset or line.
    pub evidence: String,
}

fn v(invariant: Invariant, evidence: impl Into<String>) -> Violation {
    Violation {
        invariant,
        evidence: evidence.into(),
    }
}

/// Where element `i` of a tool's output is, for evidence.
fn place(
    output: &CaseInput,
    format: FileFormat,
    i: usize,
    elements: &[SerializedElement<'_>],
) -> String {
    match (format, output) {
        (FileFormat::Sst, _) => {
            let offset = 8 + elements[..i].iter().map(|e| e.encoded_len()).sum::<usize>();
            format!("element {i} at byte offset {offset}")
        }
        (FileFormat::Reg, CaseInput::File(b)) => match parse_reg(b, ReadMode::Strict) {
            Ok(r) => r
                .blob_lines
                .get(i)
                .map_or(format!("certificate {i}"), |l| format!("Blob at line {l}")),
            Err(_) => format!("certificate {i}"),
        },
        _ => format!("{}.blob", elements[i].thumbprint()),
    }
}

/// V7: the output parses strictly as the same format; a `.reg` must be the
/// REGEDIT5 text `reg export` writes (UTF-16LE with BOM, CRLF, wrapping),
/// which the harness's byte-exact writer reproduces.
pub fn well_formed(
    output: &CaseInput,
    format: FileFormat,
) -> Result<Vec<SerializedElement<'static>>, Violation> {
    let elements =
        parse_output(output, format).map_err(|e| v(Invariant::V7, format!("strict parse: {e}")))?;
    if let (FileFormat::Reg, CaseInput::File(b)) = (format, output) {
        let parsed = parse_reg(b, ReadMode::Strict).map_err(|e| v(Invariant::V7, e.to_string()))?;
        if parsed.encoding != RegEncoding::Regedit5 {
            return Err(v(
                Invariant::V7,
                "not REGEDIT5 text in UTF-16LE with a byte-order mark",
            ));
        }
        let canonical = write_reg(&parsed.store, RegEncoding::Regedit5);
        if canonical != *b {
            let at = canonical
                .iter()
                .zip(b.iter())
                .position(|(x, y)| x != y)
                .unwrap_or(canonical.len().min(b.len()));
            let line = b[..at.min(b.len())]
                .chunks_exact(2)
                .filter(|u| u == &[b'\n', 0])
                .count()
                + 1;
            return Err(v(Invariant::V7, format!("differs from what reg export writes from line {line} (byte {at}): wrapping, spacing or key order")));
        }
    }
    Ok(elements)
}

/// V1-V5 for one valid case.
pub fn content(
    before: &[SerializedElement<'_>],
    after: &[SerializedElement<'_>],
    output: &CaseInput,
    format: FileFormat,
    policy: Policy,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for (i, e) in after.iter().enumerate() {
        if let Err(r) = cryptoapi::import(e, RuleSet::Ms09056) {
            out.push(v(
                Invariant::V1,
                format!(
                    "{}: {} ({}): {}",
                    place(output, format, i, after),
                    r.rule.id,
                    r.hresult,
                    r.offence
                ),
            ));
        }
    }
    if before.len() != after.len() {
        out.push(v(
            Invariant::V2,
            format!("{} certificates in, {} out", before.len(), after.len()),
        ));
    }
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        let at = || place(output, format, i, after);
        if b.der != a.der {
            out.push(v(
                Invariant::V2,
                format!(
                    "{}: certificate {} became {} (DER changed or order differs)",
                    at(),
                    b.thumbprint(),
                    a.thumbprint()
                ),
            ));
            continue;
        }
        let others = |e: &SerializedElement<'_>| -> Vec<(u32, Vec<u8>)> {
            e.properties
                .iter()
                .filter(|p| p.id != PropertyId::FriendlyName)
                .map(|p| (p.id.to_u32(), p.value.to_vec()))
                .collect()
        };
        let (ob, oa) = (others(b), others(a));
        if ob != oa {
            let detail = match ob.iter().zip(&oa).position(|(x, y)| x != y) {
                Some(k) if ob[k].0 != oa[k].0 => format!(
                    "property {} in place of property {} (entry {k})",
                    oa[k].0, ob[k].0
                ),
                Some(k) => format!("property {} changed (entry {k})", ob[k].0),
                None if oa.len() > ob.len() => format!("property {} added", oa[ob.len()].0),
                None => format!("property {} dropped", ob[oa.len()].0),
            };
            out.push(v(
                Invariant::V3,
                format!("{} ({}): {detail}", at(), b.thumbprint()),
            ));
        }
        let name_b = b.friendly_name();
        let name_a = a.friendly_name();
        if name_b.is_some() && name_a.is_none() {
            out.push(v(
                Invariant::V3,
                format!(
                    "{} ({}): the friendly-name property (11) was dropped",
                    at(),
                    b.thumbprint()
                ),
            ));
            continue;
        }
        let Some(value) = name_b else {
            if name_a.is_some() {
                out.push(v(
                    Invariant::V3,
                    format!(
                        "{} ({}): a friendly-name property (11) was added",
                        at(),
                        b.thumbprint()
                    ),
                ));
            }
            continue;
        };
        match repair_friendly_name(value, policy) {
            NameRepair::Rewritten { value: want, .. } => {
                let got = name_a.unwrap_or_default();
                if got != want.as_slice() {
                    out.push(v(
                        Invariant::V4,
                        format!(
                            "{} ({}): friendly name \"{}\" ({}) should be \"{}\" ({}) under {policy}",
                            at(),
                            b.thumbprint(),
                            crate::format::friendly_name::escape(got),
                            hex::encode_upper(got),
                            crate::format::friendly_name::escape(&want),
                            hex::encode_upper(&want)
                        ),
                    ));
                }
            }
            NameRepair::Unchanged | NameRepair::Skipped(_) => {
                if b.to_bytes() != a.to_bytes() {
                    out.push(v(
                        Invariant::V5,
                        format!(
                            "{} ({}): a certificate with a clean name was changed",
                            at(),
                            b.thumbprint()
                        ),
                    ));
                }
            }
        }
    }
    out
}
