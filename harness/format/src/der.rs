//! A small zero-copy DER walker that sees what legacy CryptoAPI saw.
//!
//! A strict X.509 parser refuses the certificates MS09-056 is about, so it
//! cannot model what Windows did *before* the update. This walker reads
//! definite-length TLVs over a borrowed slice (every length checked against
//! what remains, every error carrying the absolute byte offset), walks a
//! certificate far enough to reach its issuer and subject names and the
//! object identifiers of the TBSCertificate, and hands out the raw string
//! bytes and the raw base-128 arcs, unjudged.
//!
//! The input is a signed certificate or a bare (unsigned) TBSCertificate,
//! which CryptoAPI also decodes as a certificate.
//!
//! OIDs walked: the signature algorithm, every attribute type in issuer and
//! subject, the subject public key algorithm, and every extension id.

use std::fmt;

/// A DER problem, with the absolute offset of the TLV it was reading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DER offset {offset}: {message}")]
pub struct DerError {
    pub offset: usize,
    pub message: &'static str,
}

/// Universal tags the walker names.
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0C;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const T61_STRING: u8 = 0x14;
    pub const IA5_STRING: u8 = 0x16;
    pub const VISIBLE_STRING: u8 = 0x1A;
    pub const UNIVERSAL_STRING: u8 = 0x1C;
    pub const BMP_STRING: u8 = 0x1E;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    pub const CONTEXT_0: u8 = 0xA0;
    pub const CONTEXT_3: u8 = 0xA3;
}

/// One tag-length-value, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    /// Absolute offset of the tag byte.
    pub offset: usize,
    /// Absolute offset of the first value byte.
    pub value_offset: usize,
    pub value: &'a [u8],
}

/// Reads consecutive TLVs from a slice.
#[derive(Debug, Clone)]
pub struct DerReader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> DerReader<'a> {
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        DerReader { buf, pos: 0, base }
    }

    /// The contents of `tlv` as a new reader.
    pub fn inside(tlv: &Tlv<'a>) -> Self {
        DerReader::new(tlv.value, tlv.value_offset)
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn err(&self, at: usize, message: &'static str) -> DerError {
        DerError {
            offset: self.base + at,
            message,
        }
    }

    /// Reads the next TLV (single-byte tags, definite lengths of up to 4 bytes).
    pub fn read(&mut self) -> Result<Tlv<'a>, DerError> {
        let start = self.pos;
        let rest = &self.buf[start..];
        let (&t, after_tag) = rest
            .split_first()
            .ok_or(self.err(start, "unexpected end of data"))?;
        if t & 0x1F == 0x1F {
            return Err(self.err(start, "multi-byte tags are not used in certificates"));
        }
        let (&l0, after_len0) = after_tag
            .split_first()
            .ok_or(self.err(start, "truncated length"))?;
        let (len, header) = if l0 < 0x80 {
            (l0 as usize, 2)
        } else if l0 == 0x80 {
            return Err(self.err(start, "indefinite length is not DER"));
        } else {
            let n = (l0 & 0x7F) as usize;
            if n > 4 {
                return Err(self.err(start, "length of more than 4 bytes"));
            }
            let bytes = after_len0
                .get(..n)
                .ok_or(self.err(start, "truncated length"))?;
            (
                bytes.iter().fold(0usize, |a, &b| a << 8 | b as usize),
                2 + n,
            )
        };
        let value = rest
            .get(header..)
            .and_then(|r| r.get(..len))
            .ok_or(self.err(start, "length runs past the end of its container"))?;
        self.pos = start + header + len;
        Ok(Tlv {
            tag: t,
            offset: self.base + start,
            value_offset: self.base + start + header,
            value,
        })
    }

    /// Reads the next TLV and checks its tag.
    pub fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, DerError> {
        let at = self.pos;
        let tlv = self.read()?;
        if tlv.tag != tag {
            return Err(self.err(at, what));
        }
        Ok(tlv)
    }

    /// Peeks at the next tag.
    pub fn peek_tag(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }
}

/// One arc of an object identifier, as encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arc {
    /// The value; `None` when it does not even fit in 128 bits.
    pub value: Option<u128>,
    /// What a 32-bit decoder (legacy CryptoAPI) read: the value modulo 2^32.
    pub legacy: u32,
    /// Absolute offset of the arc's first byte.
    pub offset: usize,
}

impl Arc {
    /// True when the arc does not fit in 32 bits.
    pub fn overflows_u32(&self) -> bool {
        self.value.is_none_or(|v| v > u32::MAX as u128)
    }
}

/// A decoded object identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oid {
    pub arcs: Vec<Arc>,
    /// Absolute offset of the OID's TLV.
    pub offset: usize,
}

impl Oid {
    /// Decodes the value bytes of an OBJECT IDENTIFIER TLV.
    pub fn decode(tlv: &Tlv<'_>) -> Result<Oid, DerError> {
        let v = tlv.value;
        if v.is_empty() {
            return Err(DerError {
                offset: tlv.offset,
                message: "empty object identifier",
            });
        }
        if v[v.len() - 1] & 0x80 != 0 {
            return Err(DerError {
                offset: tlv.offset,
                message: "object identifier ends inside an arc",
            });
        }
        let mut arcs = Vec::with_capacity(8);
        let mut i = 0;
        while i < v.len() {
            let start = i;
            let (mut value, mut legacy, mut fits) = (0u128, 0u32, true);
            loop {
                let b = v[i];
                i += 1;
                legacy = legacy.wrapping_shl(7) | (b & 0x7F) as u32;
                match value.checked_mul(128) {
                    Some(x) if fits => value = x | (b & 0x7F) as u128,
                    _ => fits = false,
                }
                if b & 0x80 == 0 {
                    break;
                }
            }
            let at = tlv.value_offset + start;
            if start == 0 {
                // The first sub-identifier holds the first two arcs: 40*X + Y.
                let (x, y) = match (fits, value) {
                    (true, v) if v < 40 => (0, Some(v)),
                    (true, v) if v < 80 => (1, Some(v - 40)),
                    (true, v) => (2, Some(v - 80)),
                    (false, _) => (2, None),
                };
                arcs.push(Arc {
                    value: Some(x),
                    legacy: x as u32,
                    offset: at,
                });
                arcs.push(Arc {
                    value: y,
                    legacy: legacy.wrapping_sub(40 * x as u32),
                    offset: at,
                });
            } else {
                arcs.push(Arc {
                    value: fits.then_some(value),
                    legacy,
                    offset: at,
                });
            }
        }
        Ok(Oid {
            arcs,
            offset: tlv.offset,
        })
    }

    /// The dotted form as written (`2.5.4.4294967299`); `?` for an arc past 128 bits.
    pub fn dotted(&self) -> String {
        self.arcs
            .iter()
            .map(|a| a.value.map_or_else(|| "?".to_owned(), |v| v.to_string()))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The dotted form legacy CryptoAPI read (every arc modulo 2^32).
    pub fn legacy_dotted(&self) -> String {
        self.arcs
            .iter()
            .map(|a| a.legacy.to_string())
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The first arc that does not fit in 32 bits, with its index.
    pub fn overflowing_arc(&self) -> Option<(usize, &Arc)> {
        self.arcs
            .iter()
            .enumerate()
            .find(|(_, a)| a.overflows_u32())
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dotted())
    }
}

/// True when some arc of the OID value bytes does not fit in 32 bits,
/// without allocating (the fast path of the overflow rule).
pub fn oid_has_overflowing_arc(value: &[u8]) -> bool {
    let mut acc: u64 = 0;
    let mut len = 0usize;
    let mut first = true;
    for &b in value {
        if len >= 9 {
            return true;
        }
        acc = acc << 7 | (b & 0x7F) as u64;
        len += 1;
        if b & 0x80 == 0 {
            // The first sub-identifier holds 40*X + Y; Y is at most acc - 80.
            let arc = if first { acc.saturating_sub(80) } else { acc };
            if arc > u32::MAX as u64 {
                return true;
            }
            acc = 0;
            len = 0;
            first = false;
        }
    }
    false
}

/// One attribute of a name: its type (raw OID TLV) and value (any string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub oid: Tlv<'a>,
    pub value: Tlv<'a>,
}

/// The parts of a certificate the import rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateView<'a> {
    /// False for a bare TBSCertificate (no signature wrapper).
    pub signed: bool,
    pub signature_algorithm: Tlv<'a>,
    /// The serial number (an INTEGER, as encoded).
    pub serial: Tlv<'a>,
    pub issuer: Vec<Attribute<'a>>,
    /// notBefore and notAfter, when the validity holds two values (the
    /// walker does not require it: CryptoAPI's import does not look).
    pub validity: Option<[Tlv<'a>; 2]>,
    pub subject: Vec<Attribute<'a>>,
    pub public_key_algorithm: Tlv<'a>,
    pub extension_ids: Vec<Tlv<'a>>,
}

impl<'a> CertificateView<'a> {
    /// Walks `der` (a whole certificate).
    pub fn parse(der: &'a [u8]) -> Result<Self, DerError> {
        let mut view = CertificateView::empty();
        view.parse_in(der)?;
        Ok(view)
    }

    /// A view of nothing, whose vectors [`CertificateView::parse_in`] fills.
    pub fn empty() -> Self {
        const NONE: Tlv<'static> = Tlv {
            tag: 0,
            offset: 0,
            value_offset: 0,
            value: &[],
        };
        CertificateView {
            signed: false,
            signature_algorithm: NONE,
            serial: NONE,
            issuer: Vec::new(),
            validity: None,
            subject: Vec::new(),
            public_key_algorithm: NONE,
            extension_ids: Vec::new(),
        }
    }

    /// Walks `der` into `self`, reusing its vectors (what
    /// [`CertificateView::parse`] does, without allocating once the vectors
    /// have grown). On error `self` holds whatever was read before it.
    pub fn parse_in(&mut self, der: &'a [u8]) -> Result<(), DerError> {
        self.issuer.clear();
        self.subject.clear();
        self.extension_ids.clear();
        let mut top = DerReader::new(der, 0);
        let cert = top.expect(tag::SEQUENCE, "a certificate is a SEQUENCE")?;
        let mut c = DerReader::inside(&cert);
        // A signed certificate starts with its TBSCertificate (a SEQUENCE);
        // a bare TBSCertificate starts with its version ([0]) or serial
        // number. CryptoAPI decodes both as a certificate (Wine's crypt32
        // tests, run against Windows: store.c testMemStore and cert.c
        // testAddCert add the unsigned `bigCert`).
        let signed = c.peek_tag() == Some(tag::SEQUENCE);
        let tbs = if signed {
            c.expect(tag::SEQUENCE, "tbsCertificate is a SEQUENCE")?
        } else {
            cert
        };
        self.signed = signed;
        let mut t = DerReader::inside(&tbs);
        if t.peek_tag() == Some(tag::CONTEXT_0) {
            t.read()?; // version
        }
        self.serial = t.expect(tag::INTEGER, "serialNumber is an INTEGER")?;
        let sig = t.expect(tag::SEQUENCE, "signature is an AlgorithmIdentifier")?;
        self.signature_algorithm =
            DerReader::inside(&sig).expect(tag::OID, "an algorithm starts with its OID")?;
        name(
            &t.expect(tag::SEQUENCE, "issuer is a Name")?,
            &mut self.issuer,
        )?;
        let validity = t.expect(tag::SEQUENCE, "validity is a SEQUENCE")?;
        let mut v = DerReader::inside(&validity);
        self.validity = match (v.read(), v.read()) {
            (Ok(a), Ok(b)) => Some([a, b]),
            _ => None,
        };
        name(
            &t.expect(tag::SEQUENCE, "subject is a Name")?,
            &mut self.subject,
        )?;
        let spki = t.expect(tag::SEQUENCE, "subjectPublicKeyInfo is a SEQUENCE")?;
        let mut s = DerReader::inside(&spki);
        let alg = s.expect(
            tag::SEQUENCE,
            "subjectPublicKeyInfo starts with an AlgorithmIdentifier",
        )?;
        self.public_key_algorithm =
            DerReader::inside(&alg).expect(tag::OID, "an algorithm starts with its OID")?;
        while !t.is_empty() {
            let field = t.read()?;
            if field.tag == tag::CONTEXT_3 {
                let mut outer = DerReader::inside(&field);
                let list = outer.expect(tag::SEQUENCE, "extensions are a SEQUENCE")?;
                let mut l = DerReader::inside(&list);
                while !l.is_empty() {
                    let ext = l.expect(tag::SEQUENCE, "an extension is a SEQUENCE")?;
                    self.extension_ids.push(
                        DerReader::inside(&ext)
                            .expect(tag::OID, "an extension starts with its OID")?,
                    );
                }
            }
        }
        Ok(())
    }

    /// Every OID the walker saw, in encoded order.
    pub fn oids(&self) -> impl Iterator<Item = &Tlv<'a>> {
        std::iter::once(&self.signature_algorithm)
            .chain(self.issuer.iter().map(|a| &a.oid))
            .chain(self.subject.iter().map(|a| &a.oid))
            .chain(std::iter::once(&self.public_key_algorithm))
            .chain(self.extension_ids.iter())
    }
}

/// A serial number as upper-case hex of its encoded bytes, as `certutil`
/// shows it (most significant byte first).
pub fn serial_hex(serial: &Tlv<'_>) -> String {
    crate::hex::upper(serial.value)
}

/// A validity time as `YYYY-MM-DD HH:MM:SS UTC`: a UTCTime's two-digit year
/// is 19YY from 50 on, else 20YY (RFC 5280 4.1.2.5.1); a GeneralizedTime
/// has four. Anything else (another tag, another shape) is shown as its
/// characters, quoted.
pub fn time_text(t: &Tlv<'_>) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write_time(t, &mut s);
    s
}

/// [`time_text`], written to `w` (nothing allocated for a well-formed
/// time).
pub fn write_time<W: std::fmt::Write + ?Sized>(t: &Tlv<'_>, w: &mut W) -> std::fmt::Result {
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let v = t.value;
    let (year, rest) = match (t.tag, v.len()) {
        (tag::UTC_TIME, 13) if digits(&v[..12]) && v[12] == b'Z' => {
            let yy = u32::from(v[0] - b'0') * 10 + u32::from(v[1] - b'0');
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &v[2..12])
        }
        (tag::GENERALIZED_TIME, 15) if digits(&v[..14]) && v[14] == b'Z' => {
            let y = v[..4]
                .iter()
                .fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
            (y, &v[4..14])
        }
        _ => {
            let raw: String = v.iter().map(|&b| b as char).collect();
            return write!(w, "{raw:?}");
        }
    };
    // `YYYY-MM-DD HH:MM:SS UTC`; the digits were checked above.
    let mut text = *b"0000-00-00 00:00:00 UTC";
    for (i, d) in [year / 1000, year / 100 % 10, year / 10 % 10, year % 10]
        .into_iter()
        .enumerate()
    {
        text[i] = b'0' + d as u8;
    }
    for (k, at) in [5, 8, 11, 14, 17].into_iter().enumerate() {
        text[at..at + 2].copy_from_slice(&rest[2 * k..2 * k + 2]);
    }
    w.write_str(std::str::from_utf8(&text).unwrap_or_default())
}

/// Reads a Name: SEQUENCE OF SET OF AttributeTypeAndValue, into `out`.
fn name<'a>(seq: &Tlv<'a>, out: &mut Vec<Attribute<'a>>) -> Result<(), DerError> {
    out.reserve(4);
    let mut rdns = DerReader::inside(seq);
    while !rdns.is_empty() {
        let set = rdns.expect(tag::SET, "a relative distinguished name is a SET")?;
        let mut atvs = DerReader::inside(&set);
        while !atvs.is_empty() {
            let atv = atvs.expect(tag::SEQUENCE, "an attribute is a SEQUENCE")?;
            let mut a = DerReader::inside(&atv);
            let oid = a.expect(tag::OID, "an attribute starts with its type OID")?;
            let value = a.read()?;
            out.push(Attribute { oid, value });
        }
    }
    Ok(())
}

/// A string value decoded into characters, by its tag. Unknown tags are read
/// as bytes (Latin-1), as a lenient decoder would.
pub fn decode_string(value: &Tlv<'_>) -> Vec<char> {
    let v = value.value;
    match value.tag {
        tag::UTF8_STRING => String::from_utf8_lossy(v).chars().collect(),
        tag::BMP_STRING => {
            char::decode_utf16(v.chunks_exact(2).map(|p| u16::from_be_bytes([p[0], p[1]])))
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        tag::UNIVERSAL_STRING => v
            .chunks_exact(4)
            .map(|p| {
                char::from_u32(u32::from_be_bytes([p[0], p[1], p[2], p[3]]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
        _ => v.iter().map(|&b| b as char).collect(),
    }
}

/// The characters [`decode_string`] gives, handed to `f` one by one without
/// collecting them.
pub fn for_each_char(value: &Tlv<'_>, mut f: impl FnMut(char)) {
    let v = value.value;
    match value.tag {
        tag::UTF8_STRING => {
            // What `String::from_utf8_lossy` gives: one U+FFFD per invalid
            // sequence.
            for chunk in v.utf8_chunks() {
                chunk.valid().chars().for_each(&mut f);
                if !chunk.invalid().is_empty() {
                    f(char::REPLACEMENT_CHARACTER);
                }
            }
        }
        tag::BMP_STRING => {
            char::decode_utf16(v.chunks_exact(2).map(|p| u16::from_be_bytes([p[0], p[1]])))
                .for_each(|r| f(r.unwrap_or(char::REPLACEMENT_CHARACTER)))
        }
        tag::UNIVERSAL_STRING => v.chunks_exact(4).for_each(|p| {
            f(char::from_u32(u32::from_be_bytes([p[0], p[1], p[2], p[3]]))
                .unwrap_or(char::REPLACEMENT_CHARACTER))
        }),
        _ => v.iter().for_each(|&b| f(b as char)),
    }
}

/// The first U+0000 in a string value: (character index, absolute byte offset).
pub fn first_nul(value: &Tlv<'_>) -> Option<(usize, usize)> {
    let v = value.value;
    let (index, byte) = match value.tag {
        tag::BMP_STRING => {
            let i = v.chunks_exact(2).position(|p| p == [0, 0])?;
            (
                decode_string(&Tlv {
                    value: &v[..2 * i],
                    ..*value
                })
                .len(),
                2 * i,
            )
        }
        tag::UNIVERSAL_STRING => {
            let i = v.chunks_exact(4).position(|p| p == [0, 0, 0, 0])?;
            (i, 4 * i)
        }
        tag::UTF8_STRING => {
            let b = memchr::memchr(0, v)?;
            (String::from_utf8_lossy(&v[..b]).chars().count(), b)
        }
        _ => {
            let b = memchr::memchr(0, v)?;
            (b, b)
        }
    };
    Some((index, value.value_offset + byte))
}

#[cfg(test)]
mod tests {
    #[test]
    fn validity_times_read_as_rfc_5280_says() {
        let tlv = |tag, value: &'static [u8]| Tlv {
            tag,
            offset: 0,
            value_offset: 0,
            value,
        };
        let t = |tag, v: &'static [u8]| time_text(&tlv(tag, v));
        // Two-digit years: 50..99 are 19YY, 00..49 are 20YY (RFC 5280 4.1.2.5.1).
        for (tag, v, want) in [
            (
                tag::UTC_TIME,
                &b"100302145033Z"[..],
                "2010-03-02 14:50:33 UTC",
            ),
            (tag::UTC_TIME, b"500101000000Z", "1950-01-01 00:00:00 UTC"),
            (tag::UTC_TIME, b"491231235959Z", "2049-12-31 23:59:59 UTC"),
            (
                tag::GENERALIZED_TIME,
                b"21100303145033Z",
                "2110-03-03 14:50:33 UTC",
            ),
        ] {
            assert_eq!(t(tag, v), want);
        }
        // Anything else is shown as it is, quoted, never guessed.
        assert_eq!(t(tag::UTC_TIME, b"1003021450Z"), "\"1003021450Z\"");
        assert_eq!(t(tag::OCTET_STRING, b"x"), "\"x\"");
        assert_eq!(
            serial_hex(&tlv(tag::INTEGER, &[0x00, 0xAB, 0x01])),
            "00AB01"
        );
    }

    use super::*;

    fn oid(bytes: &[u8]) -> Oid {
        let mut v = vec![tag::OID, bytes.len() as u8];
        v.extend_from_slice(bytes);
        let tlv = DerReader::new(&v, 0).read().unwrap();
        Oid::decode(&tlv).unwrap()
    }

    #[test]
    fn arcs_are_decoded_and_overflow_wraps_like_legacy_cryptoapi() {
        assert_eq!(oid(&[0x55, 0x04, 0x03]).dotted(), "2.5.4.3");
        assert_eq!(
            oid(&[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05]).dotted(),
            "1.2.840.113549.1.1.5"
        );
        let big = oid(&[0x55, 0x04, 0x90, 0x80, 0x80, 0x80, 0x03]);
        assert_eq!(big.dotted(), "2.5.4.4294967299");
        assert_eq!(big.legacy_dotted(), "2.5.4.3");
        let (i, arc) = big.overflowing_arc().unwrap();
        assert_eq!((i, arc.value, arc.offset), (3, Some(4_294_967_299), 4));
        // Past 128 bits the value is unknown but the legacy reading still exists.
        let huge = oid(&[
            0x55, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F,
        ]);
        assert_eq!(huge.arcs[2].value, None);
        assert_eq!(huge.arcs[2].legacy, u32::MAX);
    }

    #[test]
    fn the_fast_overflow_check_agrees_with_the_decoder() {
        for bytes in [
            &[0x55, 0x04, 0x03][..],
            &[0x55, 0x04, 0x90, 0x80, 0x80, 0x80, 0x03],
            &[0x55, 0x04, 0x8F, 0xFF, 0xFF, 0xFF, 0x7F],
            &[0x8F, 0xFF, 0xFF, 0xFF, 0x7F, 0x01],
            &[0x90, 0x80, 0x80, 0x80, 0x50, 0x01],
        ] {
            assert_eq!(
                oid_has_overflowing_arc(bytes),
                oid(bytes).overflowing_arc().is_some(),
                "{bytes:02x?}"
            );
        }
    }

    #[test]
    fn lengths_are_checked_before_slicing() {
        assert!(DerReader::new(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF], 0)
            .read()
            .is_err());
        assert!(DerReader::new(&[0x30, 0x80, 0, 0], 0).read().is_err());
        assert_eq!(
            DerReader::new(&[0x30, 0x05, 1], 7)
                .read()
                .unwrap_err()
                .offset,
            7
        );
    }
}
