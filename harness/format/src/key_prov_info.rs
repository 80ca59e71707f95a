//! Persisted `CRYPT_KEY_PROV_INFO` (property 2, docs/FORMATS.md section 5): the link
//! from a certificate to its private key container. Pointers are stored as
//! byte offsets from the start of the value.
//!
//! [`KeyProvInfo::encode`] writes the canonical layout Windows writes for an
//! SCCM client certificate: 28-byte header, container name, provider name,
//! then the parameter array and parameter data. [`KeyProvInfo::decode`] follows
//! the offsets, so it reads any layout.

use super::cursor::{u32_at, Cursor};
use super::error::{Field, FormatError};
use super::friendly_name::encode_utf16;

/// `PROV_RSA_FULL`.
pub const PROV_RSA_FULL: u32 = 1;
/// `PROV_RSA_AES`.
pub const PROV_RSA_AES: u32 = 24;
/// `CRYPT_MACHINE_KEYSET`: the key lives under the machine's MachineKeys folder.
pub const CRYPT_MACHINE_KEYSET: u32 = 0x20;
/// `AT_KEYEXCHANGE`.
pub const AT_KEYEXCHANGE: u32 = 1;
/// `AT_SIGNATURE`.
pub const AT_SIGNATURE: u32 = 2;
/// The provider ConfigMgr 2007 clients use.
pub const MS_ENHANCED_PROV: &str = "Microsoft Enhanced Cryptographic Provider v1.0";

const HEADER_LEN: usize = 28;
const PARAM_LEN: usize = 16;

/// One `CRYPT_KEY_PROV_PARAM`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProvParam {
    pub param: u32,
    pub flags: u32,
    pub data: Vec<u8>,
}

/// A decoded `CRYPT_KEY_PROV_INFO`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyProvInfo {
    pub container: Option<String>,
    pub provider: Option<String>,
    pub prov_type: u32,
    pub flags: u32,
    pub params: Vec<ProvParam>,
    pub key_spec: u32,
}

impl KeyProvInfo {
    /// A machine-keyset link to `container` in the Enhanced provider, as a
    /// ConfigMgr 2007 client writes it.
    pub fn sccm_machine_key(container: &str, key_spec: u32) -> Self {
        KeyProvInfo {
            container: Some(container.to_owned()),
            provider: Some(MS_ENHANCED_PROV.to_owned()),
            prov_type: PROV_RSA_FULL,
            flags: CRYPT_MACHINE_KEYSET,
            params: Vec::new(),
            key_spec,
        }
    }

    /// Decodes a persisted value found at absolute file offset `base`.
    pub fn decode(value: &[u8], base: usize) -> Result<Self, FormatError> {
        let mut c = Cursor::at(value, base);
        let container_off = c.u32_le(Field::KeyProvInfoHeader)?;
        let provider_off = c.u32_le(Field::KeyProvInfoHeader)?;
        let prov_type = c.u32_le(Field::KeyProvInfoHeader)?;
        let flags = c.u32_le(Field::KeyProvInfoHeader)?;
        let param_count = c.u32_le(Field::KeyProvInfoHeader)?;
        let params_off = c.u32_le(Field::KeyProvInfoHeader)?;
        let key_spec = c.u32_le(Field::KeyProvInfoHeader)?;
        let container = read_string(value, container_off, base, "container name")?;
        let provider = read_string(value, provider_off, base, "provider name")?;
        let mut params = Vec::new();
        if param_count > 0 {
            let array_len = (param_count as usize).checked_mul(PARAM_LEN);
            let start = params_off as usize;
            let fits = array_len
                .and_then(|l| start.checked_add(l))
                .is_some_and(|end| params_off != 0 && end <= value.len());
            if !fits {
                return Err(FormatError::KeyProvInfo {
                    offset: base + 16,
                    message: format!(
                        "{param_count} parameters at offset {params_off:#x} do not fit in {} bytes",
                        value.len()
                    ),
                });
            }
            // Parameter data may overlap; copied out, it must still fit in
            // the value, so memory stays proportional to the input.
            let mut copied = 0usize;
            for i in 0..param_count as usize {
                let at = start + i * PARAM_LEN;
                let field = |k: usize| u32_at(value, at + 4 * k).unwrap_or(0);
                let (param, data_off, data_len, pflags) = (field(0), field(1), field(2), field(3));
                let data = (data_off as usize)
                    .checked_add(data_len as usize)
                    .and_then(|end| value.get(data_off as usize..end))
                    .ok_or_else(|| FormatError::KeyProvInfo {
                        offset: base + at,
                        message: format!(
                            "parameter {i}: {data_len} bytes at offset {data_off:#x} run past the value"
                        ),
                    })?;
                copied += data.len();
                if copied > value.len() {
                    return Err(FormatError::KeyProvInfo {
                        offset: base + at,
                        message: format!(
                            "parameter {i}: the parameters' data add up to more than the {}-byte value (overlapping data)",
                            value.len()
                        ),
                    });
                }
                params.push(ProvParam {
                    param,
                    flags: pflags,
                    data: data.to_vec(),
                });
            }
        }
        Ok(KeyProvInfo {
            container,
            provider,
            prov_type,
            flags,
            params,
            key_spec,
        })
    }

    /// Encodes the canonical persisted layout.
    pub fn encode(&self) -> Vec<u8> {
        let container = self.container.as_deref().map(nul_terminated);
        let provider = self.provider.as_deref().map(nul_terminated);
        let mut at = HEADER_LEN;
        let mut place = |s: &Option<Vec<u8>>| match s {
            Some(b) => {
                let off = at;
                at += b.len();
                off as u32
            }
            None => 0,
        };
        let container_off = place(&container);
        let provider_off = place(&provider);
        let params_off = if self.params.is_empty() { 0 } else { at };
        let mut data_at = at + self.params.len() * PARAM_LEN;
        let mut out =
            Vec::with_capacity(data_at + self.params.iter().map(|p| p.data.len()).sum::<usize>());
        for v in [
            container_off,
            provider_off,
            self.prov_type,
            self.flags,
            self.params.len() as u32,
            params_off as u32,
            self.key_spec,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for b in [&container, &provider].into_iter().flatten() {
            out.extend_from_slice(b);
        }
        for p in &self.params {
            for v in [p.param, data_at as u32, p.data.len() as u32, p.flags] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            data_at += p.data.len();
        }
        for p in &self.params {
            out.extend_from_slice(&p.data);
        }
        out
    }

    /// `AT_SIGNATURE`, `AT_KEYEXCHANGE` or the number.
    pub fn key_spec_name(&self) -> String {
        match self.key_spec {
            AT_KEYEXCHANGE => "AT_KEYEXCHANGE".into(),
            AT_SIGNATURE => "AT_SIGNATURE".into(),
            n => n.to_string(),
        }
    }
}

fn nul_terminated(s: &str) -> Vec<u8> {
    let mut v = encode_utf16(s);
    v.extend_from_slice(&[0, 0]);
    v
}

/// Reads the NUL-terminated UTF-16LE string at `off` (0 = none).
/// The container name of a persisted value, as UTF-16LE code units without
/// its terminator, when [`KeyProvInfo::decode`] would decode the value and
/// find a container name: the same answer as
/// `KeyProvInfo::decode(value, 0).ok().and_then(|k| k.container)`, without
/// allocating (decode the units with [`char::decode_utf16`]: they are valid
/// UTF-16).
pub fn container_units(value: &[u8]) -> Option<&[u8]> {
    let field = |k: usize| u32_at(value, 4 * k);
    let (container_off, provider_off) = (field(0)?, field(1)?);
    let (param_count, params_off) = (field(4)?, field(5)?);
    field(6)?;
    let container = string_units(value, container_off)?;
    string_units(value, provider_off)?;
    if param_count > 0 {
        let start = params_off as usize;
        let end = (param_count as usize)
            .checked_mul(PARAM_LEN)
            .and_then(|l| start.checked_add(l))?;
        if params_off == 0 || end > value.len() {
            return None;
        }
        let mut copied = 0usize;
        for i in 0..param_count as usize {
            let at = start + i * PARAM_LEN;
            let (data_off, data_len) = (u32_at(value, at + 4)?, u32_at(value, at + 8)?);
            let data_end = (data_off as usize).checked_add(data_len as usize)?;
            if data_end > value.len() || data_off as usize > data_end {
                return None;
            }
            copied += data_len as usize;
            if copied > value.len() {
                return None;
            }
        }
    }
    container
}

/// [`read_string`] without allocating: `Some(None)` for no string, `None`
/// when `read_string` fails, else the units before the terminator.
#[allow(clippy::option_option)]
fn string_units(value: &[u8], off: u32) -> Option<Option<&[u8]>> {
    if off == 0 {
        return Some(None);
    }
    let tail = value.get(off as usize..)?;
    let units = tail
        .chunks_exact(2)
        .position(|p| p == [0, 0])
        .unwrap_or(tail.len() / 2);
    if 2 * units + 2 > tail.len() {
        return None;
    }
    let text = &tail[..2 * units];
    // Without a surrogate it is valid UTF-16.
    if text.chunks_exact(2).all(|p| !(0xD8..0xE0).contains(&p[1])) {
        return Some(Some(text));
    }
    char::decode_utf16(
        text.chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]])),
    )
    .all(|r| r.is_ok())
    .then_some(Some(text))
}

fn read_string(
    value: &[u8],
    off: u32,
    base: usize,
    what: &str,
) -> Result<Option<String>, FormatError> {
    if off == 0 {
        return Ok(None);
    }
    let start = off as usize;
    let tail = value.get(start..).ok_or_else(|| FormatError::KeyProvInfo {
        offset: base,
        message: format!(
            "{what} offset {off:#x} is past the end of the {}-byte value",
            value.len()
        ),
    })?;
    let units: Vec<u16> = tail
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .take_while(|&u| u != 0)
        .collect();
    if 2 * units.len() + 2 > tail.len() {
        return Err(FormatError::Truncated {
            field: Field::KeyProvInfoString,
            offset: base + start,
            needed: 2 * units.len() + 2,
            available: tail.len(),
        });
    }
    String::from_utf16(&units)
        .map(Some)
        .map_err(|_| FormatError::KeyProvInfo {
            offset: base + start,
            message: format!("{what} is not valid UTF-16"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sccm_layout_matches_the_observed_bytes() {
        // docs/FORMATS.md 5: container at 0x1C, provider at 0x42, 160 bytes in all
        // (an 18-character container name).
        let k = KeyProvInfo::sccm_machine_key("SMS_PC0042_Signing", AT_KEYEXCHANGE);
        let b = k.encode();
        assert_eq!(b.len(), 160);
        assert_eq!(u32_at(&b, 0), Some(0x1C));
        assert_eq!(u32_at(&b, 4), Some(0x42));
        assert_eq!(u32_at(&b, 8), Some(1));
        assert_eq!(u32_at(&b, 12), Some(0x20));
        assert_eq!(u32_at(&b, 24), Some(1));
        assert_eq!(KeyProvInfo::decode(&b, 0).unwrap(), k);
    }

    #[test]
    fn params_round_trip() {
        let k = KeyProvInfo {
            container: None,
            provider: Some("P".into()),
            prov_type: PROV_RSA_AES,
            flags: 0,
            params: vec![
                ProvParam {
                    param: 7,
                    flags: 1,
                    data: vec![1, 2, 3],
                },
                ProvParam {
                    param: 8,
                    flags: 0,
                    data: vec![],
                },
            ],
            key_spec: AT_SIGNATURE,
        };
        let b = k.encode();
        assert_eq!(KeyProvInfo::decode(&b, 0).unwrap(), k);
        assert_eq!(KeyProvInfo::decode(&b, 0).unwrap().encode(), b);
    }

    #[test]
    fn bad_offsets_are_errors_not_panics() {
        let mut b = KeyProvInfo::sccm_machine_key("C", AT_SIGNATURE).encode();
        b[0] = 0xF0;
        assert!(matches!(
            KeyProvInfo::decode(&b, 5),
            Err(FormatError::KeyProvInfo { offset: 5, .. })
        ));
        assert!(KeyProvInfo::decode(&b[..10], 0).is_err());
        let mut b = KeyProvInfo::sccm_machine_key("C", AT_SIGNATURE).encode();
        b[16] = 0xFF; // a huge parameter count
        b[20] = 0x1C;
        assert!(KeyProvInfo::decode(&b, 0).is_err());
    }
}
