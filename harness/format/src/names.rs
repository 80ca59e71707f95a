//! One vocabulary: every enum whose values users type or read (policies,
//! formats, rules, updates, outcomes, ...) declares its names once, with
//! `strum` (`#[strum(serialize_all = "kebab-case")]` or per-variant
//! `serialize`), and serde, the command line and the printers all go through
//! those names (`Display`/`FromStr`; serde via `serde_with`'s
//! `SerializeDisplay`/`DeserializeFromStr`). A name that is not one of them is
//! an [`UnknownName`], which lists the valid ones.

use strum::VariantNames;

/// A name that is not one of an enum's declared names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{given}` (expected one of: {})", .expected.join(", "))]
pub struct UnknownName {
    /// What was being named ("policy", "update", ...).
    pub what: &'static str,
    /// The name given.
    pub given: String,
    /// Every declared name.
    pub expected: Vec<&'static str>,
}

impl UnknownName {
    /// The error for `given`, not a name of `E`.
    pub fn of<E: VariantNames>(what: &'static str, given: &str) -> Self {
        UnknownName {
            what,
            given: given.to_owned(),
            expected: E::VARIANTS.to_vec(),
        }
    }
}

/// Declares the parse error of a `strum::EnumString` enum:
/// `unknown_name!(fn unknown_policy, Policy, "policy");` defines
/// `fn unknown_policy(&str) -> UnknownName` for
/// `#[strum(parse_err_ty = UnknownName, parse_err_fn = unknown_policy)]`.
#[macro_export]
macro_rules! unknown_name {
    (fn $f:ident, $t:ty, $what:literal) => {
        fn $f(given: &str) -> $crate::names::UnknownName {
            $crate::names::UnknownName::of::<$t>($what, given)
        }
    };
}
