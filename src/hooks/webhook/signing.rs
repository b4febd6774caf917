//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
//!
//! Secrets follow the same convention, `whsec_` + base64 of the key bytes, so a receiver can
//! verify with any Standard Webhooks library as well as by hand.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "whsec_";
/// Key sizes accepted: shorter keys are too weak, longer ones buy nothing for HMAC-SHA256.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// A subscription's signing key.
#[derive(Clone)]
pub struct Secret {
    key: Vec<u8>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SecretError {
    #[error("must start with `whsec_` followed by base64 (Standard Webhooks)")]
    Prefix,
    #[error("the part after `whsec_` is not valid base64")]
    Base64,
    #[error("must encode 24 to 64 bytes, got {0}")]
    Length(usize),
}

impl Secret {
    /// A new random secret, in its `whsec_…` text form.
    pub fn generate() -> String {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        format!("{PREFIX}{}", STANDARD.encode(key))
    }

    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let encoded = text.strip_prefix(PREFIX).ok_or(SecretError::Prefix)?;
        let key = STANDARD.decode(encoded).map_err(|_| SecretError::Base64)?;
        if !KEY_BYTES.contains(&key.len()) {
            return Err(SecretError::Length(key.len()));
        }
        Ok(Secret { key })
    }

    /// The `webhook-signature` header value for one attempt.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key size");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body.as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference implementations.
    #[test]
    fn matches_the_standard_webhooks_test_vector() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn generated_secrets_parse_and_bad_ones_are_named() {
        assert!(Secret::parse(&Secret::generate()).is_ok());
        assert_eq!(Secret::parse("hunter2").unwrap_err(), SecretError::Prefix);
        assert_eq!(Secret::parse("whsec_!!!").unwrap_err(), SecretError::Base64);
        assert_eq!(
            Secret::parse("whsec_c2hvcnQ=").unwrap_err(),
            SecretError::Length(5)
        );
    }
}
