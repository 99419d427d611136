//! 64-bit hashing: line keys, group ids, and a fast hasher for the maps.
//!
//! Keys are hashes of the digit-normalized line (64 bits, so a miner keeps 8 bytes per cached
//! key, not the line). Deterministic: the same text hashes the same in every process and run,
//! so pickled and merged miners agree.

use std::hash::{BuildHasherDefault, Hasher};

const K: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let r = (a as u128).wrapping_mul(b as u128);
    (r as u64) ^ ((r >> 64) as u64)
}

#[inline]
pub fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Hash of a byte string with a seed (different seeds: independent hashes).
pub fn bytes(b: &[u8], seed: u64) -> u64 {
    let mut h = seed ^ fold_mul(b.len() as u64 ^ K, K);
    let mut pairs = b.chunks_exact(16);
    for c in &mut pairs {
        let (x, y) = (u64::from_le_bytes(c[..8].try_into().unwrap()), u64::from_le_bytes(c[8..].try_into().unwrap()));
        h = fold_mul(h ^ x ^ 0x2d35_8dcc_aa6c_78a5, y ^ K);
    }
    let mut chunks = pairs.remainder().chunks_exact(8);
    for c in &mut chunks {
        h = fold_mul(h ^ u64::from_le_bytes(c.try_into().unwrap()), K ^ 0x2d35_8dcc_aa6c_78a5);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rest.len()].copy_from_slice(rest);
        h = fold_mul(h ^ u64::from_le_bytes(buf), K ^ 0x8bb8_4b93_962e_acc9);
    }
    finish(h)
}

/// Hash of two words (a pair), order-sensitive.
#[inline]
pub fn pair(a: u64, b: u64) -> u64 {
    finish(fold_mul(a ^ K, b ^ 0x4b33_a62e_d433_d4a3) ^ a.rotate_left(29))
}

/// A fast hasher for the maps (keys are small: already-hashed u64s, short strings).
#[derive(Default)]
pub struct Fast(u64);

impl Hasher for Fast {
    #[inline]
    fn finish(&self) -> u64 {
        finish(self.0)
    }
    #[inline]
    fn write(&mut self, b: &[u8]) {
        self.0 = pair(self.0, bytes(b, 7));
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = fold_mul(self.0 ^ v, K);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.write_u64(v as u64)
    }
}

pub type Build = BuildHasherDefault<Fast>;
pub type Map<K, V> = std::collections::HashMap<K, V, Build>;
pub type Set<K> = std::collections::HashSet<K, Build>;
