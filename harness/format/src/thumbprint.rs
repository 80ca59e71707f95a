//! SHA-1 thumbprints: SHA-1 over the DER certificate exactly as stored,
//! shown and used as registry key names in upper-case hex (docs/FORMATS.md 7).

use std::fmt;
use std::str::FromStr;

use sha1::{Digest, Sha1};

/// A certificate's SHA-1 thumbprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Thumbprint(pub [u8; 20]);

impl Thumbprint {
    /// SHA-1 of `der`.
    pub fn of(der: &[u8]) -> Self {
        Thumbprint(Sha1::digest(der).into())
    }

    /// 40 upper-case hex digits, as in a registry key name.
    pub fn to_hex(&self) -> String {
        hex_upper(self.0)
    }

    /// True when `s` is 40 hex digits (either case).
    pub fn looks_like(s: &str) -> bool {
        s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
    }
}

pub use crate::hex::{upper as hex_upper, upper_to as hex_upper_to};

impl FromStr for Thumbprint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        // One pass: the decoder checks the length (40 digits) and every
        // digit (either case) itself.
        let mut out = [0u8; 20];
        match hex::decode_to_slice(s, &mut out) {
            Ok(()) => Ok(Thumbprint(out)),
            Err(_) => Err(format!("`{s}` is not a 40-digit hex thumbprint")),
        }
    }
}

impl fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Thumbprint({})", self.to_hex())
    }
}

impl serde::Serialize for Thumbprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_upper_is_hex_encode_upper() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(hex_upper(&all), hex::encode_upper(&all));
        assert_eq!(hex_upper([]), "");
        let t = Thumbprint::of(b"x");
        assert_eq!(t.to_hex(), hex::encode_upper(t.0));
    }

    #[test]
    fn parses_exactly_forty_hex_digits_of_either_case() {
        let t = Thumbprint::of(b"x");
        assert_eq!(t.to_hex().parse::<Thumbprint>(), Ok(t));
        assert_eq!(t.to_hex().to_lowercase().parse::<Thumbprint>(), Ok(t));
        let hex = t.to_hex();
        for bad in [
            &hex[..38],
            &format!("{hex}00"),
            &format!("{}G", &hex[..39]),
            "",
            &hex[..39],
        ] {
            assert!(bad.parse::<Thumbprint>().is_err(), "{bad:?}");
            assert!(!Thumbprint::looks_like(bad));
        }
        // 40 bytes, but not 40 hex digits.
        let wide = format!("{}é", &hex[..38]);
        assert_eq!(wide.len(), 40);
        assert!(wide.parse::<Thumbprint>().is_err());
    }
}
