//! XXH64 (the xxHash 64-bit algorithm, streaming), for checking that a
//! written file holds the bytes written.
//!
//! A checksum against accidents (a rewritten or truncated temporary file,
//! a write that did not land), not a cryptographic hash: whoever can write
//! the temporary file could as well write the target. It runs at memory
//! speed, where SHA-256 (even with the SHA extensions) costs more than the
//! rest of `fix` on a large store. The test vectors are those of the
//! reference implementation.

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

/// A running XXH64 with seed 0.
#[derive(Debug, Clone)]
pub(super) struct Xxh64 {
    v: [u64; 4],
    total: u64,
    /// The bytes of an incomplete 32-byte stripe.
    buf: [u8; 32],
    buffered: usize,
}

fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

fn merge(acc: u64, v: u64) -> u64 {
    (acc ^ round(0, v)).wrapping_mul(P1).wrapping_add(P4)
}

fn u64_at(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}

impl Xxh64 {
    pub(super) fn new() -> Self {
        Xxh64 {
            v: [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)],
            total: 0,
            buf: [0; 32],
            buffered: 0,
        }
    }

    fn stripe(v: &mut [u64; 4], s: &[u8]) {
        v[0] = round(v[0], u64_at(&s[0..]));
        v[1] = round(v[1], u64_at(&s[8..]));
        v[2] = round(v[2], u64_at(&s[16..]));
        v[3] = round(v[3], u64_at(&s[24..]));
    }

    pub(super) fn update(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if self.buffered > 0 {
            let take = (32 - self.buffered).min(bytes.len());
            self.buf[self.buffered..self.buffered + take].copy_from_slice(&bytes[..take]);
            self.buffered += take;
            bytes = &bytes[take..];
            if self.buffered < 32 {
                return;
            }
            let buf = self.buf;
            Self::stripe(&mut self.v, &buf);
            self.buffered = 0;
        }
        let mut stripes = bytes.chunks_exact(32);
        for s in &mut stripes {
            Self::stripe(&mut self.v, s);
        }
        let rest = stripes.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    pub(super) fn finish(&self) -> u64 {
        let mut h = if self.total >= 32 {
            let [a, b, c, d] = self.v;
            let mut h = a
                .rotate_left(1)
                .wrapping_add(b.rotate_left(7))
                .wrapping_add(c.rotate_left(12))
                .wrapping_add(d.rotate_left(18));
            for v in self.v {
                h = merge(h, v);
            }
            h
        } else {
            P5
        };
        h = h.wrapping_add(self.total);
        let mut rest = &self.buf[..self.buffered];
        while rest.len() >= 8 {
            h ^= round(0, u64_at(rest));
            h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
            rest = &rest[8..];
        }
        if rest.len() >= 4 {
            let k = u64::from(u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")));
            h ^= k.wrapping_mul(P1);
            h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
            rest = &rest[4..];
        }
        for &b in rest {
            h ^= u64::from(b).wrapping_mul(P5);
            h = h.rotate_left(11).wrapping_mul(P1);
        }
        h ^= h >> 33;
        h = h.wrapping_mul(P2);
        h ^= h >> 29;
        h = h.wrapping_mul(P3);
        h ^ (h >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xxh64(bytes: &[u8]) -> u64 {
        let mut h = Xxh64::new();
        h.update(bytes);
        h.finish()
    }

    #[test]
    fn reference_vectors_whole_and_in_pieces() {
        let ramp: Vec<u8> = (0..=255u8).cycle().take(1280).collect();
        let long: Vec<u8> = (0..100_003usize).map(|i| (i * 7 % 251) as u8).collect();
        let cases: [(&[u8], u64); 5] = [
            (b"", 0xEF46_DB37_51D8_E999),
            (b"a", 0xD24E_C4F1_A98C_6E5B),
            (b"abc", 0x44BC_2CF5_AD77_0999),
            (&ramp, 0xAFC1_84AD_7938_A354),
            (&long, 0x1D0E_DB76_D73B_0886),
        ];
        for (bytes, expected) in cases {
            assert_eq!(xxh64(bytes), expected, "{} bytes", bytes.len());
            for piece in [1, 5, 31, 32, 33, 1000] {
                let mut h = Xxh64::new();
                for c in bytes.chunks(piece) {
                    h.update(c);
                }
                assert_eq!(h.finish(), expected, "{} bytes by {piece}", bytes.len());
            }
        }
    }
}
