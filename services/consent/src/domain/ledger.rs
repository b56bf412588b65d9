//! The consent ledger's chain: one per workspace, entries numbered 1, 2, 3…, each carrying the
//! previous entry's MAC and its own, HMAC-SHA256 under the ledger key over the canonical
//! encoding of every field. A head (last number and MAC) is kept beside the chain, so removing
//! the last entry shows too. No I/O.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use ohjaus_platform::config::Secret;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// Names the encoding, so a MAC of anything else never matches an entry's.
const DOMAIN: &[u8] = b"ohjaus.consent.ledger.v1";

/// The key that chains entries (`security.consent_ledger_key`).
#[derive(Clone)]
pub struct LedgerKey(Secret);

impl std::fmt::Debug for LedgerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LedgerKey(***)")
    }
}

/// One entry as stored: text fields raw, so that an entry changed into nonsense still reads
/// back and is reported, not refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub workspace_id: Uuid,
    pub seq: i64,
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub action: String,
    pub actor_kind: String,
    pub actor_id: String,
    pub request_id: Uuid,
    pub organization_id: Uuid,
    pub customer_id: Uuid,
    pub expert_id: Uuid,
    pub expert_organization_id: Uuid,
    /// The purpose text sealed with the workspace's data key: the MAC covers these bytes, so
    /// the chain verifies without the key and after it is gone.
    pub purpose_sealed: Vec<u8>,
    pub visible_from: Option<DateTime<Utc>>,
    pub prev_mac: Vec<u8>,
    pub mac: Vec<u8>,
}

/// The last entry of a chain as recorded when it was appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub last_seq: i64,
    pub last_mac: Vec<u8>,
}

/// Why a chain does not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The entry's fields no longer match its MAC.
    Changed,
    /// The entry with this number is gone.
    Missing,
    /// The entry carries another number than the one it was written with.
    OutOfOrder,
    /// The head does not match the chain's last entry.
    HeadMismatch,
}

/// What recomputing a chain found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    Ok { entries: i64 },
    Broken { entries: i64, seq: i64, problem: Problem },
}

impl LedgerKey {
    pub fn new(secret: Secret) -> Self {
        Self(secret)
    }

    fn hmac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; this cannot fail.
        match Hmac::<Sha256>::new_from_slice(self.0.expose().as_bytes()) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        }
    }

    /// The MAC of `entry` as if it stood at `seq` (its own `mac` is not part of it).
    fn mac_at(&self, entry: &Entry, seq: i64) -> Vec<u8> {
        let mut mac = self.hmac();
        for field in canonical(entry, seq) {
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            mac.update(&len.to_be_bytes());
            mac.update(&field);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// Seals a new entry: sets its `mac` from every other field.
    pub fn seal(&self, entry: &mut Entry) {
        entry.mac = self.mac_at(entry, entry.seq);
    }

    fn intact(&self, entry: &Entry, seq: i64) -> bool {
        bool::from(self.mac_at(entry, seq).as_slice().ct_eq(entry.mac.as_slice()))
    }

    /// Recomputes a workspace's chain (entries in stored order of `seq`) against its head and
    /// reports the first problem.
    pub fn verify(&self, entries: &[Entry], head: Option<&Head>) -> Verification {
        let count = i64::try_from(entries.len()).unwrap_or(i64::MAX);
        let broken = |seq, problem| Verification::Broken { entries: count, seq, problem };
        let mut previous: &[u8] = &[];
        for (expected, entry) in (1_i64..).zip(entries) {
            if entry.seq != expected {
                // Numbers are unique per workspace, so a gap is the only way to differ here.
                return broken(expected, Problem::Missing);
            }
            if !self.intact(entry, entry.seq) {
                // An entry that verifies at another number was moved; anything else was changed.
                let moved = (1..=count.saturating_add(1)).any(|seq| seq != entry.seq && self.intact(entry, seq));
                return broken(expected, if moved { Problem::OutOfOrder } else { Problem::Changed });
            }
            if entry.prev_mac != previous {
                // Intact on its own but not after its predecessor: what came before it is gone.
                return broken(expected, Problem::Missing);
            }
            previous = &entry.mac;
        }
        let (last_seq, last_mac) = head.map_or((0, &[][..]), |h| (h.last_seq, h.last_mac.as_slice()));
        if last_seq > count {
            // The chain is whole up to here, but the head knows of later entries.
            return broken(count + 1, Problem::HeadMismatch);
        }
        if last_seq != count || last_mac != previous {
            return broken(last_seq.clamp(1, count.max(1)), Problem::HeadMismatch);
        }
        Verification::Ok { entries: count }
    }
}

/// What an entry's sealed purpose is bound to: it opens only as that entry's.
pub fn purpose_aad(workspace: Uuid, entry: Uuid) -> Vec<u8> {
    format!("consent:workspace:{workspace}:entry:{entry}").into_bytes()
}

/// Every field of an entry but its own MAC, in a fixed order, `seq` as given.
fn canonical(e: &Entry, seq: i64) -> Vec<Vec<u8>> {
    let micros = |t: DateTime<Utc>| t.timestamp_micros().to_be_bytes().to_vec();
    vec![
        DOMAIN.to_vec(),
        e.workspace_id.as_bytes().to_vec(),
        seq.to_be_bytes().to_vec(),
        e.id.as_bytes().to_vec(),
        micros(e.at),
        e.action.as_bytes().to_vec(),
        e.actor_kind.as_bytes().to_vec(),
        e.actor_id.as_bytes().to_vec(),
        e.request_id.as_bytes().to_vec(),
        e.organization_id.as_bytes().to_vec(),
        e.customer_id.as_bytes().to_vec(),
        e.expert_id.as_bytes().to_vec(),
        e.expert_organization_id.as_bytes().to_vec(),
        e.purpose_sealed.clone(),
        e.visible_from.map(micros).unwrap_or_default(),
        e.prev_mac.clone(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LedgerKey {
        LedgerKey::new(Secret::new("ledger-key-for-unit-tests-0123456789"))
    }

    fn chain(n: i64) -> (Vec<Entry>, Head) {
        let key = key();
        let workspace = Uuid::now_v7();
        let mut entries: Vec<Entry> = Vec::new();
        for seq in 1..=n {
            let mut entry = Entry {
                workspace_id: workspace,
                seq,
                id: Uuid::now_v7(),
                at: DateTime::from_timestamp(1_800_000_000 + seq, 0).unwrap_or_default(),
                action: "requested".into(),
                actor_kind: "expert".into(),
                actor_id: Uuid::now_v7().to_string(),
                request_id: Uuid::now_v7(),
                organization_id: Uuid::now_v7(),
                customer_id: Uuid::now_v7(),
                expert_id: Uuid::now_v7(),
                expert_organization_id: Uuid::now_v7(),
                purpose_sealed: vec![1, 2, 3],
                visible_from: None,
                prev_mac: entries.last().map(|e| e.mac.clone()).unwrap_or_default(),
                mac: Vec::new(),
            };
            key.seal(&mut entry);
            entries.push(entry);
        }
        let head = Head { last_seq: n, last_mac: entries.last().map(|e| e.mac.clone()).unwrap_or_default() };
        (entries, head)
    }

    #[test]
    fn an_untouched_chain_verifies_and_an_empty_one_too() {
        let (entries, head) = chain(4);
        assert_eq!(key().verify(&entries, Some(&head)), Verification::Ok { entries: 4 });
        assert_eq!(key().verify(&[], None), Verification::Ok { entries: 0 });
        assert_eq!(key().verify(&[], Some(&Head { last_seq: 0, last_mac: vec![] })), Verification::Ok { entries: 0 });
    }

    #[test]
    fn another_key_sees_every_entry_changed() {
        let (entries, head) = chain(2);
        let other = LedgerKey::new(Secret::new("another-ledger-key-0123456789abcdef"));
        assert!(matches!(
            other.verify(&entries, Some(&head)),
            Verification::Broken { seq: 1, problem: Problem::Changed, .. }
        ));
    }

    #[test]
    fn each_kind_of_tampering_is_named() {
        let (entries, head) = chain(4);
        let mut changed = entries.clone();
        changed[2].visible_from = Some(Utc::now());
        assert_eq!(
            key().verify(&changed, Some(&head)),
            Verification::Broken { entries: 4, seq: 3, problem: Problem::Changed }
        );
        let mut gap = entries.clone();
        gap.remove(1);
        assert_eq!(
            key().verify(&gap, Some(&head)),
            Verification::Broken { entries: 3, seq: 2, problem: Problem::Missing }
        );
        let mut swapped = entries.clone();
        swapped.swap(1, 2);
        swapped[1].seq = 2;
        swapped[2].seq = 3;
        assert_eq!(
            key().verify(&swapped, Some(&head)),
            Verification::Broken { entries: 4, seq: 2, problem: Problem::OutOfOrder }
        );
        assert_eq!(
            key().verify(&entries[..3], Some(&head)),
            Verification::Broken { entries: 3, seq: 4, problem: Problem::HeadMismatch }
        );
        assert!(matches!(key().verify(&entries, None), Verification::Broken { problem: Problem::HeadMismatch, .. }));
    }
}
