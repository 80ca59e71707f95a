//! Every seeded value in certmig comes from this module, from one root:
//! [`derive`], SHA-1 over the seed and length-prefixed labels. Any change of
//! seed or label changes the value, and values for different labels are
//! independent. Where many values are wanted from one label, the root gives
//! a 64-bit [`key`] and a cheap expansion of it does the rest:
//!
//! - [`uniform`] / [`indexed`]: SplitMix64 counters over a key, for what is
//!   drawn per machine in a fleet of millions (nine draws per machine; a hash
//!   per draw would cost more than the replay);
//! - [`rng`]: a ChaCha8 stream over a key, where `rand`'s distributions and
//!   sampling are wanted (the validator's corpus).
//!
//! The same seed always gives the same bytes, the same fleets and the same
//! logs.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha1::{Digest, Sha1};

/// 2^64 divided by the golden ratio: the SplitMix64 increment.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// A 160-bit value derived from the seed and labels (SHA-1 based, so any
/// change of input changes it).
pub fn derive(seed: u64, labels: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(seed.to_le_bytes());
    for l in labels {
        h.update((l.len() as u64).to_le_bytes());
        h.update(l);
    }
    h.finalize().into()
}

/// SplitMix64's finaliser: a bijective 64-bit mix.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 64-bit key of `label` under `seed` (the first 8 bytes of
/// [`derive`]).
pub fn key(seed: u64, label: &str) -> u64 {
    let d = derive(seed, &[label.as_bytes()]);
    u64::from_le_bytes(d[..8].try_into().expect("20 bytes"))
}

/// The `k`-th uniform number in [0, 1) of item `i` under `key`.
pub fn uniform(key: u64, i: u64, k: u64) -> f64 {
    let x = mix64(mix64(key ^ GOLDEN).wrapping_add(i.wrapping_mul(GOLDEN)) ^ mix64(k + 1));
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// A 64-bit value for item `i` under `key`.
pub fn indexed(key: u64, i: u64) -> u64 {
    mix64(key.wrapping_add(i.wrapping_mul(GOLDEN)))
}

/// A ChaCha8 stream for `label` under `seed`.
pub fn rng(seed: u64, label: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(key(seed, label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_length_prefixed() {
        assert_ne!(derive(1, &[b"ab", b"c"]), derive(1, &[b"a", b"bc"]));
        assert_eq!(derive(7, &[b"x"]), derive(7, &[b"x"]));
    }

    #[test]
    fn uniforms_are_in_range_and_differ_per_draw() {
        let u: Vec<f64> = (0..1000).map(|k| uniform(key(3, "test"), 5, k)).collect();
        assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = u.iter().sum::<f64>() / u.len() as f64;
        assert!((0.45..0.55).contains(&mean), "{mean}");
        assert_ne!(uniform(3, 5, 0), uniform(3, 6, 0));
        assert_ne!(key(3, "a"), key(3, "b"));
        assert_ne!(key(3, "a"), key(4, "a"));
    }
}
