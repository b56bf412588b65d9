//! The proof of work a visitor's browser does before a form is accepted: ALTCHA's protocol
//! (v1, SHA-256), implemented from its specification.
//!
//! A challenge is `SHA-256(salt ‖ number)` for a secret `number` in `0..=max_number`, with the
//! HMAC-SHA-256 of the challenge under the service's key as its signature. The salt carries the
//! form, the time the page was served and the expiry (`<random>?form=…&issued=…&expires=…`), so
//! they are covered by the signature: a solution is good for that form only, not before the
//! minimum fill time and not after the expiry. The browser finds `number` by trying each in
//! turn and sends back `base64(JSON {algorithm, challenge, number, salt, signature})`; the service
//! checks the signature (constant time), the hash, the form and the times, and the caller keeps
//! the challenge as used until it expires (each solution accepted once).

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use ohjaus_platform::{error::FieldViolation, proto::forms::v1 as pb};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::FormId;

pub const ALGORITHM: &str = "SHA-256";
/// The field a refusal names.
pub const FIELD: &str = "proof";

/// The key that signs challenges: derived from a secret every replica of the service shares.
#[derive(Clone)]
pub struct ProofKey([u8; 32]);

impl std::fmt::Debug for ProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProofKey(..)")
    }
}

impl ProofKey {
    /// The challenge key derived from `secret` under a label of its own, so it is no other
    /// key's value.
    pub fn derive(secret: &[u8]) -> Self {
        Self(Sha256::new_with_prefix(b"ohjaus forms proof-of-work v1\0").chain_update(secret).finalize().into())
    }

    fn sign(&self, challenge: &str) -> Hmac<Sha256> {
        // An HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(challenge.as_bytes());
        mac
    }
}

fn hash(salt: &str, number: u64) -> String {
    hex::encode(Sha256::new_with_prefix(salt.as_bytes()).chain_update(number.to_string().as_bytes()).finalize())
}

/// A new challenge for a page of `form` served at `now`.
pub fn issue(key: &ProofKey, form: FormId, now: DateTime<Utc>, valid: TimeDelta, max_number: u64) -> pb::Challenge {
    let mut rng = rand::thread_rng();
    let nonce: [u8; 12] = rng.r#gen();
    let expires = now + valid;
    let salt =
        format!("{}?form={form}&issued={}&expires={}", hex::encode(nonce), now.timestamp_millis(), expires.timestamp());
    let number = rng.gen_range(0..=max_number);
    let challenge = hash(&salt, number);
    let signature = hex::encode(key.sign(&challenge).finalize().into_bytes());
    pb::Challenge {
        algorithm: ALGORITHM.to_owned(),
        challenge,
        max_number: i64::try_from(max_number).unwrap_or(i64::MAX),
        salt,
        signature,
    }
}

/// What the browser sends back.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    algorithm: String,
    challenge: String,
    number: u64,
    salt: String,
    signature: String,
}

/// A solution that holds: its challenge (to be kept as used) and when it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub challenge: String,
    pub expires_at: DateTime<Utc>,
}

fn refused(reason: &str) -> FieldViolation {
    FieldViolation::new(FIELD, reason)
}

/// Checks a solution for `form` at `now`: a missing or wrong one is `proof-invalid`, an expired
/// one `proof-expired`, one sent sooner than `min_fill` after the page `sent-too-fast`.
pub fn verify(
    key: &ProofKey,
    payload: &str,
    form: FormId,
    now: DateTime<Utc>,
    min_fill: TimeDelta,
) -> Result<Verified, FieldViolation> {
    if payload.trim().is_empty() {
        return Err(refused("proof-missing"));
    }
    let invalid = || refused("proof-invalid");
    let bytes = STANDARD.decode(payload.trim()).map_err(|_| invalid())?;
    let payload: Payload = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let signature = hex::decode(&payload.signature).map_err(|_| invalid())?;
    if payload.algorithm != ALGORITHM || key.sign(&payload.challenge).verify_slice(&signature).is_err() {
        return Err(invalid());
    }
    if hash(&payload.salt, payload.number) != payload.challenge {
        return Err(invalid());
    }
    let (_, query) = payload.salt.split_once('?').ok_or_else(invalid)?;
    let param =
        |name: &str| query.split('&').find_map(|pair| pair.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')));
    if param("form") != Some(form.to_string().as_str()) {
        return Err(invalid());
    }
    let issued = param("issued")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .ok_or_else(invalid)?;
    let expires_at = param("expires")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(invalid)?;
    if now >= expires_at {
        return Err(refused("proof-expired"));
    }
    if now - issued < min_fill {
        return Err(refused("sent-too-fast"));
    }
    Ok(Verified { challenge: payload.challenge, expires_at })
}

/// Solves a challenge as the page's script does (tests and the benchmark do the browser's
/// part with it): the payload to send, or none if no number up to `max_number` fits.
pub fn solve(challenge: &pb::Challenge) -> Option<String> {
    let max = u64::try_from(challenge.max_number).ok()?;
    let number = (0..=max).find(|n| hash(&challenge.salt, *n) == challenge.challenge)?;
    let payload = Payload {
        algorithm: challenge.algorithm.clone(),
        challenge: challenge.challenge.clone(),
        number,
        salt: challenge.salt.clone(),
        signature: challenge.signature.clone(),
    };
    serde_json::to_vec(&payload).ok().map(|json| STANDARD.encode(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (ProofKey, FormId, DateTime<Utc>) {
        (ProofKey::derive(b"secret"), FormId::new(), DateTime::from_timestamp(1_800_000_000, 0).unwrap())
    }

    fn reason(result: Result<Verified, FieldViolation>) -> String {
        result.unwrap_err().reason
    }

    #[test]
    fn a_solved_challenge_verifies_once_its_fill_time_has_passed() {
        let (key, form, now) = setup();
        let challenge = issue(&key, form, now, TimeDelta::minutes(15), 500);
        let payload = solve(&challenge).unwrap();
        let verified = verify(&key, &payload, form, now + TimeDelta::seconds(5), TimeDelta::seconds(3)).unwrap();
        assert_eq!(verified.challenge, challenge.challenge);
        assert_eq!(verified.expires_at, now + TimeDelta::minutes(15));
        let early = verify(&key, &payload, form, now + TimeDelta::seconds(2), TimeDelta::seconds(3));
        assert_eq!(reason(early), "sent-too-fast");
        let late = verify(&key, &payload, form, now + TimeDelta::minutes(15), TimeDelta::seconds(3));
        assert_eq!(reason(late), "proof-expired");
    }

    #[test]
    fn a_wrong_number_another_form_another_key_or_garbage_is_invalid() {
        let (key, form, now) = setup();
        let later = now + TimeDelta::seconds(10);
        let min = TimeDelta::seconds(3);
        let challenge = issue(&key, form, now, TimeDelta::minutes(15), 500);
        let payload = solve(&challenge).unwrap();
        let mut wrong: Payload = serde_json::from_slice(&STANDARD.decode(&payload).unwrap()).unwrap();
        wrong.number = (wrong.number + 1) % 501;
        let wrong = STANDARD.encode(serde_json::to_vec(&wrong).unwrap());
        assert_eq!(reason(verify(&key, &wrong, form, later, min)), "proof-invalid");
        assert_eq!(reason(verify(&key, &payload, FormId::new(), later, min)), "proof-invalid");
        assert_eq!(reason(verify(&ProofKey::derive(b"other"), &payload, form, later, min)), "proof-invalid");
        assert_eq!(reason(verify(&key, "bm90IGpzb24=", form, later, min)), "proof-invalid");
        assert_eq!(reason(verify(&key, "", form, later, min)), "proof-missing");
        // A forged salt (an earlier issue time) breaks the signature's hash.
        let mut forged: Payload = serde_json::from_slice(&STANDARD.decode(&payload).unwrap()).unwrap();
        forged.salt = forged.salt.replace("issued=", "issued=1");
        let forged = STANDARD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(reason(verify(&key, &forged, form, later, min)), "proof-invalid");
    }
}
