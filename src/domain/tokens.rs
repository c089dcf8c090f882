//! Access tokens: compact self-validating tokens and the revoked set. Their records are
//! written behind the answer by `store::writer`.
//!
//! A token is base64url(payload || HMAC-SHA256(payload)), 120 characters, where the payload is
//! `[version 1][jti 16][client 16][client id 16][iat u32][exp u32][scope bits u8]` and the MAC
//! key is a subkey of `DATA/secret.key`. Validity needs no disk: the MAC, the expiry, the
//! client's in-memory state (present, `tokens_not_before` older than the token) and the revoked
//! set decide it. So a token answered 200 stays valid after a crash even if its record never
//! reached the store; the record, written behind in batches, serves listing, audit and purge.
//!
//! Why not a JWT, as Crowd's own provider issues: clients treat the token as opaque, and every
//! byte of it is parsed again on every API call. Measured with callgrind, tiny_http spends
//! ~115 instructions per request-head byte, so a 300-character JWT cost more than the whole
//! validation; this form is 120 characters and decodes at fixed offsets with no JSON.
//! Introspection (RFC 7662) is the readable view.

use crate::crypto::{self, Keys};
use crate::store::cache::{MixedState, PerThread};
use crate::store::records::TokenRecord;
use crate::sync::RwLockExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;

/// Every scope a token can carry, by bit position. Append only: bits are in issued tokens.
pub const KNOWN_SCOPES: &[&str] = &["APPLICATION", "manage:directory"];

const VERSION: u8 = 1;
/// A token's payload is its version byte and its record's bytes.
const PAYLOAD_LEN: usize = 1 + TokenRecord::LEN;
const TAG_LEN: usize = 32;
/// Length of a token's text.
pub const TOKEN_LEN: usize = (PAYLOAD_LEN + TAG_LEN).div_ceil(3) * 4;

/// The bits of a space-delimited scope list, or `None` if it names an unknown scope.
pub fn scope_bits<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Option<u8> {
    let mut bits = 0u8;
    for s in scopes {
        bits |= 1 << KNOWN_SCOPES.iter().position(|k| *k == s)?;
    }
    Some(bits)
}

/// The space-delimited scope list of `bits`.
pub fn scope_text(bits: u8) -> String {
    let names: Vec<&str> = KNOWN_SCOPES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, s)| *s)
        .collect();
    names.join(" ")
}

/// The claims of a live or once-live token: exactly what its record stores. `Copy`: nothing
/// on the hot path allocates for it.
pub type Claims = TokenRecord;

impl TokenRecord {
    pub fn jti_text(&self) -> String {
        crypto::b64url(&self.jti)
    }

    pub fn client_text(&self) -> String {
        crypto::uuid_text(&self.client)
    }

    pub fn client_id_text(&self) -> String {
        crypto::hex(&self.client_id)
    }

    pub fn scope_text(&self) -> String {
        scope_text(self.scopes)
    }

    pub fn has_scope(&self, name: &str) -> bool {
        scope_bits([name]).is_some_and(|b| self.scopes & b == b)
    }
}

/// Mints a fresh token; `scopes` must already be granted.
pub fn mint(
    keys: &Keys,
    client: [u8; 16],
    client_id: [u8; 16],
    scopes: u8,
    issued: u64,
    ttl_secs: u64,
) -> (String, Claims) {
    let claims = Claims {
        jti: crypto::random_id(),
        client,
        client_id,
        issued,
        expires: issued + ttl_secs,
        scopes,
    };
    let mut buf = [0u8; PAYLOAD_LEN + TAG_LEN];
    buf[0] = VERSION;
    buf[1..PAYLOAD_LEN].copy_from_slice(&claims.to_bytes());
    let tag = keys.token_tag(&buf[..PAYLOAD_LEN]);
    buf[PAYLOAD_LEN..].copy_from_slice(tag.as_ref());
    (crypto::b64url(&buf), claims)
}

/// Checks the MAC and decodes the claims. Says nothing of expiry or revocation.
pub fn verify_mac(keys: &Keys, token: &str) -> Option<Claims> {
    if token.len() != TOKEN_LEN {
        return None;
    }
    let mut buf = [0u8; PAYLOAD_LEN + TAG_LEN];
    if crypto::b64url_decode_into(token, &mut buf)? != buf.len() {
        return None;
    }
    let (payload, tag) = buf.split_at(PAYLOAD_LEN);
    if payload[0] != VERSION || !keys.verify_token_tag(payload, tag) {
        return None;
    }
    Some(Claims::read(payload[1..].try_into().expect("record length")))
}

/// Tokens whose MAC checked out, per worker stripe: a client presents the same token on every
/// call until it expires, and decoding and MAC-checking it each time was a third of a cached
/// usermanagement read. Only tokens that passed [`verify_mac`] go in; a hit is the whole token
/// compared in constant time, so a forged one is never taken for a known one. The MAC is all
/// that is memoized: expiry, the client's state and revocation are checked on every call.
pub struct VerifiedTokens(PerThread<u64, ([u8; TOKEN_LEN], Claims), MixedState>);

impl Default for VerifiedTokens {
    fn default() -> Self {
        VerifiedTokens(PerThread::new(4096))
    }
}

impl VerifiedTokens {
    /// [`verify_mac`], remembered.
    pub fn verify(&self, keys: &Keys, token: &str) -> Option<Claims> {
        let text: &[u8; TOKEN_LEN] = token.as_bytes().try_into().ok()?;
        // The slot: the token's last characters, which encode its tag (random to anyone
        // without the key); choosing them only chooses which remembered token to miss.
        let slot = u64::from_le_bytes(text[TOKEN_LEN - 8..].try_into().expect("8 bytes"));
        let remembered = self
            .0
            .get_with(&slot, 0, |(known, claims)| crypto::ct_eq(known, text).then_some(*claims));
        if let Some(Some(claims)) = remembered {
            return Some(claims);
        }
        let claims = verify_mac(keys, token)?;
        self.0.fill(slot, (*text, claims), 0);
        Some(claims)
    }
}

/// Revoked token ids still inside their lifetime, mirrored from the store's durable table.
#[derive(Default)]
pub struct RevokedSet {
    ids: RwLock<HashMap<[u8; 16], u64>>,
    /// `ids.len()`, readable without the lock: almost always 0, and then validation does not
    /// touch the lock, whose reader count every core would otherwise write on every request.
    len: AtomicUsize,
}

impl RevokedSet {
    /// From the store's (base64url id, expiry) pairs; ids that do not decode are skipped.
    pub fn load(entries: Vec<(String, u64)>) -> RevokedSet {
        let ids = entries
            .into_iter()
            .filter_map(|(jti, exp)| Some((crypto::b64url_decode(&jti)?.try_into().ok()?, exp)))
            .collect();
        let ids: HashMap<_, _> = ids;
        RevokedSet { len: AtomicUsize::new(ids.len()), ids: RwLock::new(ids) }
    }

    pub fn contains(&self, jti: &[u8; 16]) -> bool {
        // Stored after the insert, under the write lock: a revocation that has answered is seen.
        self.len.load(Ordering::Acquire) != 0 && self.ids.reading().contains_key(jti)
    }

    pub fn insert(&self, jti: [u8; 16], exp: u64) {
        let mut ids = self.ids.writing();
        ids.insert(jti, exp);
        self.len.store(ids.len(), Ordering::Release);
    }

    /// Forgets revocations whose tokens have expired anyway.
    pub fn forget_expired(&self, now: u64) {
        let mut ids = self.ids.writing();
        ids.retain(|_, exp| *exp > now);
        self.len.store(ids.len(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_tokens_are_matched_whole() {
        let keys = Keys::from_master(&[1u8; 32]);
        let memo = VerifiedTokens::default();
        let (token, claims) = mint(&keys, [3; 16], [4; 16], 1, 1000, 3600);
        assert_eq!(memo.verify(&keys, &token), Some(claims));
        assert_eq!(memo.verify(&keys, &token), Some(claims), "from memory");
        // Same slot (the last characters), another token: not taken for the remembered one.
        for i in [0, 5, 60, 111] {
            let mut forged = token.clone().into_bytes();
            forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(forged).unwrap();
            assert_eq!(memo.verify(&keys, &forged), None, "flip at {i}");
        }
        // A token under another key is not remembered as valid under this one.
        let other = VerifiedTokens::default();
        assert_eq!(other.verify(&Keys::from_master(&[2u8; 32]), &token), None);
        assert_eq!(memo.verify(&keys, &token[..119]), None);
    }

    #[test]
    fn mint_then_verify_and_tamper() {
        let keys = Keys::from_master(&[1u8; 32]);
        let (token, claims) = mint(&keys, [3; 16], [4; 16], 1, 1000, 3600);
        assert_eq!(token.len(), TOKEN_LEN);
        assert_eq!(TOKEN_LEN, 120);
        assert_eq!(verify_mac(&keys, &token), Some(claims));
        assert_eq!(claims.expires, 4600);
        assert_eq!(claims.scope_text(), "APPLICATION");
        let other = Keys::from_master(&[2u8; 32]);
        assert_eq!(verify_mac(&other, &token), None);
        for i in [0, 5, 60, 119] {
            let mut bad = token.clone().into_bytes();
            bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
            assert_eq!(verify_mac(&keys, std::str::from_utf8(&bad).unwrap()), None, "flip at {i}");
        }
        assert_eq!(verify_mac(&keys, &token[..119]), None);
        assert_eq!(verify_mac(&keys, ""), None);
        assert_eq!(verify_mac(&keys, &"!".repeat(120)), None);
    }

    #[test]
    fn scope_bits_round_trip() {
        assert_eq!(scope_bits(["APPLICATION"]), Some(1));
        assert_eq!(scope_bits(["USER"]), None);
        assert_eq!(scope_text(1), "APPLICATION");
        assert_eq!(scope_text(0), "");
    }
}
