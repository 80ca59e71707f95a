//! Every seeded value in certmig comes from this module, so that the same
//! seed always gives the same bytes and the same logs, and so that nobody
//! has to know more than one place to read how.
//!
//! One root, three generators, each where its cost and its consumers need
//! it (changing any of them changes outputs that golden files and users
//! rely on, so they are kept as they are and documented here):
//!
//! - [`derive`]: SHA-1 over the seed and length-prefixed labels. Every
//!   labelled value (certificate serials and dates, key choices, SMS GUIDs,
//!   log thread ids) comes from it: any change of label changes the value,
//!   and values for different labels are independent.
//! - [`uniform`] / [`indexed`]: SplitMix64 counters, for what is drawn per
//!   machine in a fleet of millions (nine draws per machine; a hash per draw
//!   would cost more than the replay), and [`spread`] for the log clock.
//! - [`rng`]: a ChaCha8 stream, where `rand`'s distributions and sampling
//!   are wanted (the validator's corpus).

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

/// The `k`-th uniform number in [0, 1) of item `i` under `seed`.
pub fn uniform(seed: u64, i: u64, k: u64) -> f64 {
    let x = mix64(mix64(seed ^ GOLDEN).wrapping_add(i.wrapping_mul(GOLDEN)) ^ mix64(k + 1));
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// A 64-bit value for item `i` under `seed`.
pub fn indexed(seed: u64, i: u64) -> u64 {
    mix64(seed.wrapping_add(i.wrapping_mul(GOLDEN)))
}

/// A cheap spread of `seed` over 64 bits (the log clock's start and pace).
pub fn spread(seed: u64) -> u64 {
    seed.wrapping_mul(GOLDEN) ^ (seed >> 29)
}

/// A ChaCha8 stream for `seed`.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
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
        let u: Vec<f64> = (0..1000).map(|k| uniform(3, 5, k)).collect();
        assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = u.iter().sum::<f64>() / u.len() as f64;
        assert!((0.45..0.55).contains(&mean), "{mean}");
        assert_ne!(uniform(3, 5, 0), uniform(3, 6, 0));
    }
}
