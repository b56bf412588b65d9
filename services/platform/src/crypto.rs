//! Envelope encryption of content at rest.
//!
//! Content (message bodies, notes, files) is sealed with AES-256-GCM under a data key of its
//! own owner (a workspace). Data keys are stored only wrapped by the key-encryption key from
//! configuration, so the database alone reveals nothing, and destroying a wrapped data key
//! makes its content unreadable for good. Every seal binds "associated data" (which record it
//! belongs to), so a ciphertext moved to another row does not open.

use aes_gcm::{
    Aes256Gcm, Key, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use rand::RngCore;
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The key-encryption key is not `kid:<64 hex digits>`.
    #[error("a key-encryption key is `<id>:<64 hex digits>` (256 bits)")]
    BadKey,
    /// Wrong key, wrong associated data, or altered ciphertext.
    #[error("the data does not open with this key")]
    Opening,
    /// A wrapped key names a key-encryption key we do not have.
    #[error("unknown key-encryption key id")]
    UnknownKey,
}

/// The key that wraps data keys. Its id is stored with every wrapped key, so keys can rotate:
/// new keys are wrapped with the current one while older wrappings still open.
pub struct KeyEncryptionKey {
    id: String,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyEncryptionKey({}, ***)", self.id)
    }
}

/// Key-encryption key used only in the embedded mode when none is configured.
pub const EMBEDDED_DEV_KEY_ENCRYPTION_KEY: &str =
    "embedded-dev:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

impl KeyEncryptionKey {
    /// Parses `kid:<64 hex digits>`.
    pub fn parse(value: &str) -> Result<Self, CryptoError> {
        let (id, hex_key) = value.split_once(':').ok_or(CryptoError::BadKey)?;
        let bytes = Zeroizing::new(hex::decode(hex_key.trim()).map_err(|_| CryptoError::BadKey)?);
        if id.is_empty() || id.contains(':') || bytes.len() != KEY_LEN {
            return Err(CryptoError::BadKey);
        }
        Ok(Self { id: id.to_owned(), cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)) })
    }

    /// A fresh data key, and its wrapping to store (`kid:` + nonce + sealed key).
    pub fn new_data_key(&self) -> Result<(DataKey, Vec<u8>), CryptoError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        let sealed = seal(&self.cipher, key.as_ref(), self.id.as_bytes())?;
        let mut wrapped = format!("{}:", self.id).into_bytes();
        wrapped.extend_from_slice(&sealed);
        Ok((DataKey(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_ref()))), wrapped))
    }

    /// Opens a wrapped data key.
    pub fn unwrap_key(&self, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        let split = wrapped.iter().position(|b| *b == b':').ok_or(CryptoError::Opening)?;
        let (id, sealed) = (&wrapped[..split], &wrapped[split + 1..]);
        if id != self.id.as_bytes() {
            return Err(CryptoError::UnknownKey);
        }
        let key = Zeroizing::new(open(&self.cipher, sealed, id)?);
        if key.len() != KEY_LEN {
            return Err(CryptoError::Opening);
        }
        Ok(DataKey(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key))))
    }
}

/// What sealing adds to a plaintext: the nonce and the tag.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + 16;

/// The data key of one owner (a workspace).
#[derive(Clone)]
pub struct DataKey(Aes256Gcm);

impl DataKey {
    /// Seals `plaintext` for the record named by `associated` (nonce + ciphertext + tag).
    pub fn seal(&self, plaintext: &[u8], associated: &[u8]) -> Result<Vec<u8>, CryptoError> {
        seal(&self.0, plaintext, associated)
    }

    /// Opens what `seal` made for the same record.
    pub fn open(&self, sealed: &[u8], associated: &[u8]) -> Result<Vec<u8>, CryptoError> {
        open(&self.0, sealed, associated)
    }
}

fn seal(cipher: &Aes256Gcm, plaintext: &[u8], associated: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: associated })
        .map_err(|_| CryptoError::Opening)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

fn open(cipher: &Aes256Gcm, sealed: &[u8], associated: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN {
        return Err(CryptoError::Opening);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: associated })
        .map_err(|_| CryptoError::Opening)
}

/// A fresh 256-bit secret for links and sessions, URL-safe.
pub fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How a secret token is stored: its SHA-256, hex. A leaked table gives no usable link.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEK: &str = "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn content_opens_only_with_its_key_and_record() {
        let kek = KeyEncryptionKey::parse(KEK).unwrap();
        let (key, wrapped) = kek.new_data_key().unwrap();
        let sealed = key.seal(b"hello", b"workspace-1/message-1").unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"hello"));
        let again = kek.unwrap_key(&wrapped).unwrap();
        assert_eq!(again.open(&sealed, b"workspace-1/message-1").unwrap(), b"hello");
        // Another record, another key, or a changed byte: nothing opens.
        assert!(again.open(&sealed, b"workspace-1/message-2").is_err());
        let (other, _) = kek.new_data_key().unwrap();
        assert!(other.open(&sealed, b"workspace-1/message-1").is_err());
        let mut altered = sealed.clone();
        altered[20] ^= 1;
        assert!(again.open(&altered, b"workspace-1/message-1").is_err());
    }

    #[test]
    fn wrapped_keys_name_their_key_encryption_key() {
        let kek = KeyEncryptionKey::parse(KEK).unwrap();
        let (_, wrapped) = kek.new_data_key().unwrap();
        assert!(wrapped.starts_with(b"k1:"));
        let other =
            KeyEncryptionKey::parse("k2:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f").unwrap();
        assert!(matches!(other.unwrap_key(&wrapped), Err(CryptoError::UnknownKey)));
        for bad in ["", "k1", "k1:00", ":000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "k1:zz"] {
            assert!(KeyEncryptionKey::parse(bad).is_err(), "{bad}");
        }
    }
}
