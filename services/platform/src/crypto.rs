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
    /// Two configured key-encryption keys have the same id.
    #[error("two key-encryption keys have the id `{0}`")]
    DuplicateKeyId(String),
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

    /// Its id, stored with every key it wraps.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A fresh data key, and its wrapping to store (`kid:` + nonce + sealed key).
    pub fn new_data_key(&self) -> Result<(DataKey, Vec<u8>), CryptoError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        let wrapped = self.wrap_raw(key.as_ref())?;
        Ok((DataKey(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_ref()))), wrapped))
    }

    /// Opens a wrapped data key.
    pub fn unwrap_key(&self, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        let key = self.unwrap_raw(wrapped)?;
        Ok(DataKey(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key))))
    }

    fn wrap_raw(&self, key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sealed = seal(&self.cipher, key, self.id.as_bytes())?;
        let mut wrapped = format!("{}:", self.id).into_bytes();
        wrapped.extend_from_slice(&sealed);
        Ok(wrapped)
    }

    fn unwrap_raw(&self, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let split = wrapped.iter().position(|b| *b == b':').ok_or(CryptoError::Opening)?;
        let (id, sealed) = (&wrapped[..split], &wrapped[split + 1..]);
        if id != self.id.as_bytes() {
            return Err(CryptoError::UnknownKey);
        }
        let key = Zeroizing::new(open(&self.cipher, sealed, id)?);
        if key.len() != KEY_LEN {
            return Err(CryptoError::Opening);
        }
        Ok(key)
    }
}

/// The id of the key-encryption key a wrapped data key names (what precedes its first `:`).
pub fn wrapping_key_id(wrapped: &[u8]) -> Option<&str> {
    let split = wrapped.iter().position(|b| *b == b':')?;
    std::str::from_utf8(&wrapped[..split]).ok().filter(|id| !id.is_empty())
}

/// The key-encryption keys of a process: the current one wraps every new key (and rewraps old
/// ones); the accepted ones only open keys wrapped earlier, during a rotation.
#[derive(Debug)]
pub struct KeyEncryptionKeys {
    current: KeyEncryptionKey,
    accepted: Vec<KeyEncryptionKey>,
}

impl KeyEncryptionKeys {
    /// Every id must differ.
    pub fn new(current: KeyEncryptionKey, accepted: Vec<KeyEncryptionKey>) -> Result<Self, CryptoError> {
        let mut ids = vec![current.id.as_str()];
        for key in &accepted {
            if ids.contains(&key.id.as_str()) {
                return Err(CryptoError::DuplicateKeyId(key.id.clone()));
            }
            ids.push(&key.id);
        }
        Ok(Self { current, accepted })
    }

    /// The id of the key that wraps new keys.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// A fresh data key wrapped by the current key.
    pub fn new_data_key(&self) -> Result<(DataKey, Vec<u8>), CryptoError> {
        self.current.new_data_key()
    }

    /// Opens a wrapped data key with whichever configured key wrapped it.
    pub fn unwrap_key(&self, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        self.by_id(wrapped)?.unwrap_key(wrapped)
    }

    /// The same data key wrapped by the current key; `None` when it already is.
    pub fn rewrap(&self, wrapped: &[u8]) -> Result<Option<Vec<u8>>, CryptoError> {
        let wrapping = self.by_id(wrapped)?;
        if wrapping.id == self.current.id {
            return Ok(None);
        }
        let key = wrapping.unwrap_raw(wrapped)?;
        self.current.wrap_raw(&key).map(Some)
    }

    fn by_id(&self, wrapped: &[u8]) -> Result<&KeyEncryptionKey, CryptoError> {
        let id = wrapping_key_id(wrapped).ok_or(CryptoError::Opening)?;
        std::iter::once(&self.current).chain(&self.accepted).find(|k| k.id == id).ok_or(CryptoError::UnknownKey)
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
    fn rewrapping_moves_a_key_to_the_current_key_encryption_key() {
        let old = || KeyEncryptionKey::parse(KEK).unwrap();
        let new =
            || KeyEncryptionKey::parse("k2:202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f").unwrap();
        let (key, wrapped) = old().new_data_key().unwrap();
        let sealed = key.seal(b"hello", b"record").unwrap();
        let rotating = KeyEncryptionKeys::new(new(), vec![old()]).unwrap();
        // Both open during the rotation; new keys are wrapped by the current one.
        assert_eq!(rotating.unwrap_key(&wrapped).unwrap().open(&sealed, b"record").unwrap(), b"hello");
        assert_eq!(wrapping_key_id(&rotating.new_data_key().unwrap().1), Some("k2"));
        let rewrapped = rotating.rewrap(&wrapped).unwrap().expect("a key of the old key-encryption key");
        assert_eq!(wrapping_key_id(&rewrapped), Some("k2"));
        assert_eq!(rotating.rewrap(&rewrapped).unwrap(), None);
        // After the rotation the old key is not needed: the content opens with the new one alone.
        let after = KeyEncryptionKeys::new(new(), Vec::new()).unwrap();
        assert_eq!(after.unwrap_key(&rewrapped).unwrap().open(&sealed, b"record").unwrap(), b"hello");
        assert!(matches!(after.unwrap_key(&wrapped), Err(CryptoError::UnknownKey)));
        assert!(matches!(KeyEncryptionKeys::new(old(), vec![old()]), Err(CryptoError::DuplicateKeyId(_))));
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
