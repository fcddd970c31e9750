//! Pseudonymous author and mention ids: hex HMAC-SHA256 of `platform:lowercased handle` under a
//! deployment secret, so the same account gets the same id everywhere without storing its handle.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Minimum key length accepted outside dev mode (bytes).
pub const MIN_KEY_BYTES: usize = 16;

/// The fixed, public key used by [`Pseudonymiser::dev`]. Never use it for real data: anyone can
/// recompute the ids.
pub const DEV_KEY: &[u8] = b"murmur-dev-mode-pseudonymisation-key-not-secret";

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PseudonymKeyError {
    /// No key.
    #[error("pseudonymisation key is empty")]
    Empty,
    /// Too short to resist brute force over the (small) space of handles.
    #[error("pseudonymisation key is {0} bytes; at least {MIN_KEY_BYTES} are required")]
    TooShort(usize),
}

/// Keyed hash of account handles. `Debug` never prints the key.
#[derive(Clone)]
pub struct Pseudonymiser {
    mac: Hmac<Sha256>,
    dev_mode: bool,
}

impl Pseudonymiser {
    /// A pseudonymiser keyed by a deployment secret of at least [`MIN_KEY_BYTES`] bytes.
    pub fn new(key: &[u8]) -> Result<Self, PseudonymKeyError> {
        if key.is_empty() {
            return Err(PseudonymKeyError::Empty);
        }
        if key.len() < MIN_KEY_BYTES {
            return Err(PseudonymKeyError::TooShort(key.len()));
        }
        Ok(Self::with_key(key, false))
    }

    /// Dev mode: the fixed public [`DEV_KEY`]. The service must only allow this behind an explicit
    /// flag (e.g. `--dev-mode`); [`Pseudonymiser::is_dev_mode`] lets it check and log loudly.
    pub fn dev() -> Self {
        Self::with_key(DEV_KEY, true)
    }

    fn with_key(key: &[u8], dev_mode: bool) -> Self {
        // `new_from_slice` only fails for fixed-size-key MACs; HMAC takes keys of any length.
        #[allow(clippy::expect_used)]
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
        Self { mac, dev_mode }
    }

    /// True when built with [`Pseudonymiser::dev`].
    pub fn is_dev_mode(&self) -> bool {
        self.dev_mode
    }

    /// Hex HMAC-SHA256 of `platform:handle`, the handle lowercased and stripped of a leading `@`.
    pub fn pseudonymise(&self, platform: &str, handle: &str) -> String {
        let canonical_handle = handle.trim().trim_start_matches('@').to_lowercase();
        let mut mac = self.mac.clone();
        mac.update(platform.as_bytes());
        mac.update(b":");
        mac.update(canonical_handle.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonymiser").field("key", &"***").field("dev_mode", &self.dev_mode).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_empty_and_short_keys() {
        assert_eq!(Pseudonymiser::new(b"").err(), Some(PseudonymKeyError::Empty));
        assert_eq!(Pseudonymiser::new(b"short").err(), Some(PseudonymKeyError::TooShort(5)));
        assert!(Pseudonymiser::new(&[7u8; 16]).is_ok());
    }

    #[test]
    fn matches_a_reference_hmac_and_is_case_insensitive() {
        let pseudonymiser = Pseudonymiser::new(b"0123456789abcdef0123").map_err(|e| e.to_string());
        let pseudonymiser = pseudonymiser.expect("valid key");
        let id = pseudonymiser.pseudonymise("reddit", "@SpeZ");
        // Reference computed independently with Python: hmac.new(key, b"reddit:spez", sha256).hexdigest()
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"0123456789abcdef0123").expect("key");
        mac.update(b"reddit:spez");
        assert_eq!(id, hex::encode(mac.finalize().into_bytes()));
        assert_eq!(id.len(), 64);
        assert_eq!(id, pseudonymiser.pseudonymise("reddit", "spez"));
        assert_ne!(id, pseudonymiser.pseudonymise("mastodon", "spez"));
        assert_ne!(id, Pseudonymiser::dev().pseudonymise("reddit", "spez"));
    }

    #[test]
    fn debug_hides_the_key() {
        let printed = format!("{:?}", Pseudonymiser::dev());
        assert!(!printed.contains("murmur-dev"), "{printed}");
        assert!(Pseudonymiser::dev().is_dev_mode());
    }
}
