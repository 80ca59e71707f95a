//! One vocabulary: every enum whose values users type or read (policies,
//! formats, rules, updates, outcomes, ...) declares its names once, with
//! `strum` (`#[strum(serialize_all = "kebab-case")]` or per-variant
//! `serialize`), and serde, the command line and the printers all go through
//! those names (`Display`/`FromStr`; serde through the same two, written
//! out in the macro). A name that is not one of them is
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

/// Declares an enum of the vocabulary: the derives every such enum has
/// (strum's names, `Display`/`FromStr`, iteration and doc messages; serde
/// through those names), an [`UnknownName`] error naming `$what`, and
/// `as_str`. Casing or per-variant names go in the enum's own
/// `#[strum(...)]` attributes.
///
/// ```
/// certmig_format::vocabulary! {
///     "colour";
///     #[strum(serialize_all = "kebab-case")]
///     pub enum Colour { Red, DarkBlue }
/// }
/// assert_eq!("dark-blue".parse::<Colour>().unwrap(), Colour::DarkBlue);
/// assert_eq!(Colour::Red.as_str(), "red");
/// ```
#[macro_export]
macro_rules! vocabulary {
    ($what:literal; $(#[$meta:meta])* $vis:vis enum $name:ident { $($body:tt)* }) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            $crate::__strum::Display, $crate::__strum::EnumString,
            $crate::__strum::IntoStaticStr, $crate::__strum::EnumIter,
            $crate::__strum::EnumMessage, $crate::__strum::VariantNames,
        )]
        #[strum(
            crate = "::certmig_format::__strum",
            parse_err_ty = $crate::names::UnknownName,
            parse_err_fn = Self::unknown_name
        )]
        $(#[$meta])*
        $vis enum $name { $($body)* }

        // serde: the declared name, both ways (what `Display` and `FromStr`
        // give).
        impl $crate::__serde::Serialize for $name {
            fn serialize<S: $crate::__serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> $crate::__serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // Parsed inside the visitor, so that a reader that locates
                // errors (TOML) points at the value itself.
                struct Name;
                impl $crate::__serde::de::Visitor<'_> for Name {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: $crate::__serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(Name)
            }
        }

        impl $name {
            /// This value's declared name.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
            fn unknown_name(given: &str) -> $crate::names::UnknownName {
                $crate::names::UnknownName::of::<$name>($what, given)
            }
        }
    };
}
