//! The random draws the generator makes, on ChaCha8 and plain arithmetic only.
//!
//! Nothing here calls `rand`'s distributions or a platform maths function (`ln`, `exp`, `cos`):
//! their results may change between versions or machines, and a seed must give the same dataset
//! everywhere. Additions, multiplications and divisions of `f64` are exact IEEE 754 operations.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One ChaCha8 stream of a dataset.
pub(crate) struct Dice(ChaCha8Rng);

impl Dice {
    /// Stream `stream` of the dataset `seed`; different streams are independent.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Dice(rng)
    }

    /// Uniform in [0, 1), from the top 53 bits of one draw.
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in [0, n) (multiply-shift; the bias is below 2^-32 for the sizes used here).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.0.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in [lo, hi].
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// One item, uniformly.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// One item, with probability proportional to its weight.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut roll = self.below(total);
        for (item, weight) in items {
            if roll < u64::from(*weight) {
                return item;
            }
            roll -= u64::from(*weight);
        }
        unreachable!("a roll below the total weight should land on an item")
    }

    /// `len` lowercase hexadecimal digits.
    pub fn hex(&mut self, len: usize) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(len);
        let mut bits = 0u64;
        for i in 0..len {
            if i % 16 == 0 {
                bits = self.0.next_u64();
            }
            out.push(DIGITS[(bits & 0xf) as usize] as char);
            bits >>= 4;
        }
        out
    }

    /// A `sha256:` digest.
    pub fn digest(&mut self) -> String {
        format!("sha256:{}", self.hex(64))
    }

    /// Roughly standard normal, within ±3.5: four uniforms summed, centred and scaled to unit
    /// variance.
    pub fn normalish(&mut self) -> f64 {
        let sum = self.unit() + self.unit() + self.unit() + self.unit();
        (sum - 2.0) * 1.732_050_807_568_877_2
    }

    /// Mean 1, at most 8, most of the mass near zero: eight times a product of three uniforms.
    pub fn skewed(&mut self) -> f64 {
        8.0 * self.unit() * self.unit() * self.unit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_and_stream_give_the_same_draws_and_other_streams_differ() {
        let draws = |seed, stream| {
            let mut dice = Dice::new(seed, stream);
            (0..8).map(|_| dice.below(1000)).collect::<Vec<_>>()
        };
        assert_eq!(draws(1, 0), draws(1, 0));
        assert_ne!(draws(1, 0), draws(1, 1));
        assert_ne!(draws(1, 0), draws(2, 0));
    }

    #[test]
    fn draws_stay_in_their_ranges() {
        let mut dice = Dice::new(3, 0);
        for _ in 0..10_000 {
            assert!((0.0..1.0).contains(&dice.unit()));
            assert!((5..=7).contains(&dice.between(5, 7)));
            assert!((0.0..=8.0).contains(&dice.skewed()));
            assert!(dice.normalish().abs() <= 3.5);
        }
        let hex = dice.hex(64);
        assert_eq!(hex.len(), 64);
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }
}
