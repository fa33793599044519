//! Secrets handed to callers (API keys, invite tokens): 256 bits from the
//! operating system's RNG, base64url, stored and compared only as SHA-256.

use base64::Engine;
use sha2::{Digest, Sha256};

/// Bytes of randomness in every secret (256 bits).
const SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random generator failed: {0}")]
pub struct RandomError(String);

/// A fresh secret: `prefix` then 43 base64url characters.
pub fn generate(prefix: &str) -> Result<String, RandomError> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// SHA-256 of a secret, hex: the only form in which secrets are stored.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hashed() {
        let a = generate("x_").unwrap();
        let b = generate("x_").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 2 + 43);
        assert!(a[2..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
    }
}
