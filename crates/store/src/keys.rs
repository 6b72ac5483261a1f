//! API and application keys: generated from the OS's random source, stored as SHA-256 hashes,
//! and compared in constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A key pair as shown once at creation. `Debug` does not print the secrets.
#[derive(Clone)]
pub struct KeyPair {
    pub api_key: String,
    pub app_key: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPair { .. }")
    }
}

impl KeyPair {
    /// A new pair: a 32-hex-digit API key and a 40-hex-digit application key, as Datadog's.
    pub fn generate() -> Self {
        KeyPair {
            api_key: random_hex(16),
            app_key: random_hex(20),
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// The stored form of a key: a lookup prefix (not secret) and the full hash.
pub struct KeyHash {
    pub lookup: String,
    pub hash: [u8; 32],
}

/// Hashes a presented or generated key.
pub fn hash_key(key: &str) -> KeyHash {
    let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    KeyHash {
        lookup: hex::encode(&hash[..8]),
        hash,
    }
}

/// Compares two hashes in constant time.
pub fn hashes_match(stored: &[u8], presented: &[u8; 32]) -> bool {
    stored.len() == 32 && bool::from(stored.ct_eq(presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_random_and_hash_consistently() {
        let a = KeyPair::generate();
        let b = KeyPair::generate();
        assert_ne!(a.api_key, b.api_key);
        assert_eq!((a.api_key.len(), a.app_key.len()), (32, 40));
        let h = hash_key(&a.api_key);
        assert!(hashes_match(&h.hash, &hash_key(&a.api_key).hash));
        assert!(!hashes_match(&h.hash, &hash_key(&b.api_key).hash));
        assert!(!format!("{a:?}").contains(&a.api_key));
    }
}
