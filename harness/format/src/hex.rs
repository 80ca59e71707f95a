//! Hex digits, written once for the hot paths: the `hex` crate allocates a
//! `String` per call, and a scan or a `reg export` writes millions of
//! thumbprints and `Blob` bytes. Elsewhere, `hex::encode_upper` is used as it
//! is (and these functions give the same text).

/// The two lower-case hex digits of every byte.
static LOWER: [[u8; 2]; 256] = pairs(b"0123456789abcdef");
/// The two upper-case hex digits of every byte.
static UPPER: [[u8; 2]; 256] = pairs(b"0123456789ABCDEF");

const fn pairs(digits: &[u8; 16]) -> [[u8; 2]; 256] {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [digits[i >> 4], digits[i & 15]];
        i += 1;
    }
    t
}

/// The two lower-case hex digits of `b`.
pub fn lower_pair(b: u8) -> [u8; 2] {
    LOWER[usize::from(b)]
}

/// Upper-case hex of `bytes`, appended to `out`.
pub fn upper_to(bytes: &[u8], out: &mut Vec<u8>) {
    let at = out.len();
    out.resize(at + 2 * bytes.len(), 0);
    upper_into(bytes, &mut out[at..]);
}

/// Upper-case hex of `bytes` into the start of `out` (as many bytes as fit
/// in pairs); returns the digits written, as text.
pub fn upper_into<'o>(bytes: &[u8], out: &'o mut [u8]) -> &'o str {
    let mut n = 0;
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&UPPER[usize::from(b)]);
        n += 2;
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&out[..n]).unwrap_or_default()
}

/// Upper-case hex of `bytes` (what `hex::encode_upper` gives).
pub fn upper(bytes: impl AsRef<[u8]>) -> String {
    let mut out = Vec::with_capacity(2 * bytes.as_ref().len());
    upper_to(bytes.as_ref(), &mut out);
    // Only ASCII digits were pushed.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_same_digits_as_the_hex_crate() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(super::upper(&all), hex::encode_upper(&all));
        let lower: Vec<u8> = all.iter().flat_map(|&b| super::lower_pair(b)).collect();
        assert_eq!(lower, hex::encode(&all).into_bytes());
    }
}
