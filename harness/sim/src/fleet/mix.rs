//! The population a synthetic fleet is drawn from (the *mix*) and the
//! remediation applied to it (the *plan*), both TOML files.
//!
//! A mix is one weight table per machine attribute; weights are any
//! non-negative numbers (they are normalised), a table left out keeps the
//! built-in default's weights, and a value left out of a table has weight 0.
//! Attributes are drawn independently. Example (the built-in default, also
//! shipped as `scenarios/fleet/default-mix.toml`):
//!
//! ```toml
//! [kind]                            # refresh | replace
//! refresh = 70
//! replace = 30
//! [source_os]                       # xp-sp3 | vista-sp2 | win7-rtm | win7-sp1
//! xp-sp3 = 55
//! vista-sp2 = 10
//! win7-rtm = 30
//! win7-sp1 = 5
//! [source_kb974571]                 # yes | no (ignored for win7-sp1, which includes it)
//! yes = 60
//! no = 40
//! # ... client, client_hotfix, defect, target_os,
//! # target_kb974571_before_restore, state_store
//! [site_version]                    # sp1 | sp2: an SP1 site has USMT 3.0.1 only
//! sp2 = 100
//! [source_arch]                     # x86 | x64 (an xp-sp3 side is always x86)
//! x86 = 100
//! [target_arch]
//! x86 = 100
//! ```
//!
//! A plan names the remediation (any remediation of the matrix) for every
//! machine, or per segment with rules (first match wins):
//!
//! ```toml
//! default = "ccmcertfix-before-ts"  # where both KB 977203 and KB 2028442 put it
//! policy = "truncate"               # the reference CCMCertFix's text rule
//! in_sequence_ccmcertfix = "kb2028442"  # the contested in-sequence step: kb2028442 | kb977203
//! [[rule]]
//! client_hotfix = "kb977384"        # R3 sites: CCMCertFix must be extracted with /x
//! remediation = "superseded-extract"
//! ```

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fix::Policy;
use crate::format::Defect;
use crate::scenario::{Remediation, StateStore};
use crate::world::{Arch, ClientHotfix, ClientVersion, InSequenceReading, Os, SiteVersion};
use crate::Kind;

/// A machine attribute with a fixed, small set of values: what a weight
/// table ranges over and what a segment is keyed by.
pub trait Attribute: Copy + PartialEq + 'static {
    /// Every value, in report order.
    const ALL: &'static [Self];
    /// The name used in mix files and reports.
    fn name(self) -> &'static str;
    /// Position in [`Attribute::ALL`].
    fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|v| *v == self)
            .expect("value in ALL")
    }
}

impl Attribute for Kind {
    const ALL: &'static [Self] = &[Kind::Refresh, Kind::Replace];
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Attribute for Os {
    const ALL: &'static [Self] = &Os::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn index(self) -> usize {
        self as usize
    }
}

impl Attribute for bool {
    const ALL: &'static [Self] = &[false, true];
    fn name(self) -> &'static str {
        if self {
            "yes"
        } else {
            "no"
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

impl Attribute for ClientVersion {
    const ALL: &'static [Self] = &[ClientVersion::Sp1, ClientVersion::Sp2, ClientVersion::Sp2R3];
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Attribute for Defect {
    const ALL: &'static [Self] = &Defect::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Attribute for SiteVersion {
    const ALL: &'static [Self] = &SiteVersion::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Attribute for Arch {
    const ALL: &'static [Self] = &Arch::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Attribute for StateStore {
    const ALL: &'static [Self] = &[StateStore::HardLink, StateStore::Smp];
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Attribute for Remediation {
    const ALL: &'static [Self] = &Remediation::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Attribute for ClientHotfix {
    const ALL: &'static [Self] = &[
        ClientHotfix::None,
        ClientHotfix::Kb977203,
        ClientHotfix::Kb977384,
    ];
    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// A distribution over an attribute's values: cumulative probabilities in
/// [`Attribute::ALL`] order, so a draw depends only on the uniform number.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights<T: Attribute> {
    /// The weights as given, per value of `T::ALL`.
    weights: Vec<f64>,
    cumulative: Vec<f64>,
    _t: std::marker::PhantomData<T>,
}

impl<T: Attribute> Weights<T> {
    /// `pairs`: (value, weight); values left out weigh 0.
    pub fn new(pairs: &[(T, f64)]) -> Result<Self, String> {
        let mut weights = vec![0.0; T::ALL.len()];
        for &(v, w) in pairs {
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!(
                    "weight of `{}` must be a non-negative number, not {w}",
                    v.name()
                ));
            }
            weights[v.index()] += w;
        }
        let total: f64 = weights.iter().sum();
        if !total.is_finite() {
            return Err(format!(
                "the weights add up to more than a number can hold ({total}): use smaller ones"
            ));
        }
        if total <= 0.0 {
            return Err("every weight is zero".into());
        }
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        Ok(Weights {
            weights,
            cumulative,
            _t: std::marker::PhantomData,
        })
    }

    /// The value for a uniform `u` in [0, 1).
    pub fn pick(&self, u: f64) -> T {
        for (i, c) in self.cumulative.iter().enumerate() {
            if u < *c && self.weights[i] > 0.0 {
                return T::ALL[i];
            }
        }
        // Rounding at the top end: the last value with a weight.
        let last = self
            .weights
            .iter()
            .rposition(|w| *w > 0.0)
            .expect("some weight is positive");
        T::ALL[last]
    }

    /// Probability of `v`.
    pub fn probability(&self, v: T) -> f64 {
        let total: f64 = self.weights.iter().sum();
        self.weights[v.index()] / total
    }

    /// Every value with a positive weight, as (value, probability).
    pub fn support(&self) -> impl Iterator<Item = (T, f64)> + '_ {
        T::ALL
            .iter()
            .copied()
            .filter(|v| self.weights[v.index()] > 0.0)
            .map(|v| (v, self.probability(v)))
    }
}

impl<T: Attribute> Serialize for Weights<T> {
    /// `{"value": probability, ...}` for the values with a positive weight.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for (v, p) in self.support() {
            m.serialize_entry(v.name(), &p)?;
        }
        m.end()
    }
}

/// The distribution of machines in a synthetic fleet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mix {
    pub kind: Weights<Kind>,
    pub source_os: Weights<Os>,
    /// KB974571 installed on the source (ignored for win7-sp1, which includes it).
    pub source_kb974571: Weights<bool>,
    pub client: Weights<ClientVersion>,
    /// Installed after the certificates were made; `sp2-r3` clients always
    /// have KB977384 (R3 requires it).
    pub client_hotfix: Weights<ClientHotfix>,
    /// The friendly-name shape of the client's existing certificates.
    pub defect: Weights<Defect>,
    pub target_os: Weights<Os>,
    /// KB974571 installed on the target before Restore User State (ignored
    /// for win7-sp1).
    pub target_kb974571_before_restore: Weights<bool>,
    /// Refresh only: a local hard-link store or a state migration point.
    pub state_store: Weights<StateStore>,
    /// The ConfigMgr 2007 site's service pack.
    pub site_version: Weights<SiteVersion>,
    /// Ignored for xp-sp3, which is 32-bit only.
    pub source_arch: Weights<Arch>,
    /// The OS applied (a replace: the new computer's); ignored for xp-sp3.
    pub target_arch: Weights<Arch>,
}

fn w<T: Attribute>(pairs: &[(T, f64)]) -> Weights<T> {
    Weights::new(pairs).expect("valid built-in weights")
}

impl Default for Mix {
    /// A ConfigMgr 2007 estate in 2011 moving to Windows 7: mostly XP with
    /// the October 2009 security updates (so KB974571) on SP2 clients that
    /// made their certificates before any hotfix, most task sequences
    /// applying a Windows 7 SP1 image. See `scenarios/fleet/default-mix.toml`.
    fn default() -> Self {
        Mix {
            kind: w(&[(Kind::Refresh, 70.0), (Kind::Replace, 30.0)]),
            source_os: w(&[
                (Os::XpSp3, 55.0),
                (Os::VistaSp2, 10.0),
                (Os::Win7Rtm, 30.0),
                (Os::Win7Sp1, 5.0),
            ]),
            source_kb974571: w(&[(true, 60.0), (false, 40.0)]),
            client: w(&[
                (ClientVersion::Sp1, 15.0),
                (ClientVersion::Sp2, 75.0),
                (ClientVersion::Sp2R3, 10.0),
            ]),
            client_hotfix: w(&[
                (ClientHotfix::None, 85.0),
                (ClientHotfix::Kb977203, 10.0),
                (ClientHotfix::Kb977384, 5.0),
            ]),
            defect: w(&[
                (Defect::Clean, 10.0),
                (Defect::DoubledTerminator, 88.0),
                (Defect::EmbeddedNul, 2.0),
            ]),
            target_os: w(&[(Os::Win7Rtm, 20.0), (Os::Win7Sp1, 80.0)]),
            target_kb974571_before_restore: w(&[(true, 30.0), (false, 70.0)]),
            state_store: w(&[(StateStore::HardLink, 80.0), (StateStore::Smp, 20.0)]),
            site_version: w(&[(SiteVersion::Sp2, 100.0)]),
            source_arch: w(&[(Arch::X86, 100.0)]),
            target_arch: w(&[(Arch::X86, 100.0)]),
        }
    }
}

/// A mix or plan file that could not be read, with file, line and column.
#[derive(Debug, thiserror::Error)]
pub enum FleetFileError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: line {line}, column {column}: {message}")]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Line and column (1-based) of byte `at` in `text`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    (
        before.matches('\n').count() + 1,
        at.min(text.len()) - before.rfind('\n').map_or(0, |i| i + 1) + 1,
    )
}

fn parse_error(
    path: &str,
    text: &str,
    span: Option<std::ops::Range<usize>>,
    message: String,
) -> FleetFileError {
    let (line, column) = span.map_or((1, 1), |s| line_column(text, s.start));
    FleetFileError::Parse {
        path: path.to_owned(),
        line,
        column,
        message,
    }
}

type RawTable = std::collections::BTreeMap<toml::Spanned<String>, toml::Spanned<f64>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMix {
    kind: Option<RawTable>,
    source_os: Option<RawTable>,
    source_kb974571: Option<RawTable>,
    client: Option<RawTable>,
    client_hotfix: Option<RawTable>,
    defect: Option<RawTable>,
    target_os: Option<RawTable>,
    target_kb974571_before_restore: Option<RawTable>,
    state_store: Option<RawTable>,
    site_version: Option<RawTable>,
    source_arch: Option<RawTable>,
    target_arch: Option<RawTable>,
}

fn table<T: Attribute>(
    path: &str,
    text: &str,
    field: &str,
    raw: Option<RawTable>,
    default: &Weights<T>,
) -> Result<Weights<T>, FleetFileError> {
    let Some(raw) = raw else {
        return Ok(default.clone());
    };
    let mut pairs = Vec::new();
    for (k, v) in &raw {
        let Some(value) = T::ALL.iter().find(|a| a.name() == k.get_ref()) else {
            let names: Vec<&str> = T::ALL.iter().map(|a| a.name()).collect();
            return Err(parse_error(
                path,
                text,
                Some(k.span()),
                format!(
                    "`{}` is not a value of [{field}] (one of: {})",
                    k.get_ref(),
                    names.join(", ")
                ),
            ));
        };
        pairs.push((*value, *v.get_ref()));
        if !(v.get_ref().is_finite() && *v.get_ref() >= 0.0) {
            return Err(parse_error(
                path,
                text,
                Some(v.span()),
                format!("[{field}] weights must be non-negative numbers"),
            ));
        }
    }
    // A span for "every weight is zero": the first key, if any.
    let first = raw.keys().next().map(|k| k.span());
    Weights::new(&pairs).map_err(|m| parse_error(path, text, first, format!("[{field}]: {m}")))
}

impl Mix {
    /// Parses a mix; `path` is only used in messages.
    pub fn parse(path: &str, text: &str) -> Result<Mix, FleetFileError> {
        let raw: RawMix = toml::from_str(text)
            .map_err(|e| parse_error(path, text, e.span(), e.message().to_owned()))?;
        let d = Mix::default();
        Ok(Mix {
            kind: table(path, text, "kind", raw.kind, &d.kind)?,
            source_os: table(path, text, "source_os", raw.source_os, &d.source_os)?,
            source_kb974571: table(
                path,
                text,
                "source_kb974571",
                raw.source_kb974571,
                &d.source_kb974571,
            )?,
            client: table(path, text, "client", raw.client, &d.client)?,
            client_hotfix: table(
                path,
                text,
                "client_hotfix",
                raw.client_hotfix,
                &d.client_hotfix,
            )?,
            defect: table(path, text, "defect", raw.defect, &d.defect)?,
            target_os: table(path, text, "target_os", raw.target_os, &d.target_os)?,
            target_kb974571_before_restore: table(
                path,
                text,
                "target_kb974571_before_restore",
                raw.target_kb974571_before_restore,
                &d.target_kb974571_before_restore,
            )?,
            state_store: table(path, text, "state_store", raw.state_store, &d.state_store)?,
            site_version: table(
                path,
                text,
                "site_version",
                raw.site_version,
                &d.site_version,
            )?,
            source_arch: table(path, text, "source_arch", raw.source_arch, &d.source_arch)?,
            target_arch: table(path, text, "target_arch", raw.target_arch, &d.target_arch)?,
        })
    }

    /// Reads a mix file.
    pub fn load(path: &Path) -> Result<Mix, FleetFileError> {
        let p = path.display().to_string();
        let text = crate::platform::read_text(path, crate::platform::MAX_CONFIG_BYTES).map_err(
            |source| FleetFileError::Io {
                path: p.clone(),
                source,
            },
        )?;
        Mix::parse(&p, &text)
    }
}

/// One rule of a plan: the machines it matches (every field given must
/// match) and their remediation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_os: Option<Os>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kb974571: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_hotfix: Option<ClientHotfix>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defect: Option<Defect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_os: Option<Os>,
    pub remediation: Remediation,
}

/// The remediation per machine: the first rule that matches, else `default`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    #[serde(default = "default_remediation")]
    pub default: Remediation,
    /// The reference CCMCertFix's text rule.
    #[serde(default)]
    pub policy: Policy,
    /// Which source to follow where CCMCertFix runs inside the task
    /// sequence (`ccmcertfix-step`): `kb2028442` (default) or `kb977203`.
    #[serde(default)]
    pub in_sequence_ccmcertfix: InSequenceReading,
    #[serde(default, rename = "rule", skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<PlanRule>,
}

fn default_remediation() -> Remediation {
    Remediation::None
}

impl Default for Plan {
    /// Do nothing: which machines fail as things stand.
    fn default() -> Self {
        Plan::global(Remediation::None)
    }
}

impl Plan {
    /// The same remediation everywhere.
    pub fn global(r: Remediation) -> Plan {
        Plan {
            default: r,
            policy: Policy::default(),
            in_sequence_ccmcertfix: InSequenceReading::default(),
            rules: vec![],
        }
    }

    pub fn parse(path: &str, text: &str) -> Result<Plan, FleetFileError> {
        toml::from_str(text).map_err(|e| parse_error(path, text, e.span(), e.message().to_owned()))
    }

    pub fn load(path: &Path) -> Result<Plan, FleetFileError> {
        let p = path.display().to_string();
        let text = crate::platform::read_text(path, crate::platform::MAX_CONFIG_BYTES).map_err(
            |source| FleetFileError::Io {
                path: p.clone(),
                source,
            },
        )?;
        Plan::parse(&p, &text)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rules.is_empty() {
            return f.write_str(self.default.as_str());
        }
        write!(
            f,
            "{} rule(s), otherwise {}",
            self.rules.len(),
            self.default.as_str()
        )
    }
}
