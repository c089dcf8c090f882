//! The in-memory view of every OAuth client that the token hot path reads.
//!
//! Issuing a token looks a client id up here, and validating one looks its client up here, so
//! neither touches the disk. Every change to a client is committed to the store first and then
//! applied here while `mutate` holds a lock, so two concurrent admin changes land in the same
//! order in both places.

use crate::crypto;
use crate::store::records::{Credential, Millis, OAuthClientRecord};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

/// One usable client secret.
#[derive(Debug)]
pub struct SecretEntry {
    /// The OAuth client configuration id that holds it.
    pub client: Arc<ClientState>,
    pub client_id: String,
    pub secret_sha256: [u8; 32],
    pub usable_until: Millis,
}

/// What validation needs to know of a client.
#[derive(Debug)]
pub struct ClientState {
    pub id: String,
    pub scopes: Vec<String>,
    pub tokens_not_before: Millis,
    /// The name tokens are issued to (the service account's name), for introspection `sub`.
    pub subject: String,
}

#[derive(Default)]
struct Maps {
    secrets: HashMap<String, Arc<SecretEntry>>,
    clients: HashMap<String, Arc<ClientState>>,
}

#[derive(Default)]
pub struct ClientRegistry {
    maps: RwLock<Maps>,
    writer: Mutex<()>,
}

fn sha_from_hex(h: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = h.get(2 * i..2 * i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()).unwrap_or(0);
    }
    out
}

impl ClientRegistry {
    /// Builds the registry from stored clients; `subject` names each client's owner.
    pub fn load(
        records: &[OAuthClientRecord],
        subject: impl Fn(&OAuthClientRecord) -> String,
    ) -> ClientRegistry {
        let reg = ClientRegistry::default();
        {
            let mut maps = reg.maps.write().expect("registry lock");
            for r in records {
                Self::put(&mut maps, r, subject(r));
            }
        }
        reg
    }

    fn put(maps: &mut Maps, r: &OAuthClientRecord, subject: String) {
        Self::drop_client(maps, &r.id);
        let state = Arc::new(ClientState {
            id: r.id.clone(),
            scopes: r.scopes.clone(),
            tokens_not_before: r.tokens_not_before,
            subject,
        });
        for c in &r.credentials {
            let Credential::ClientSecret(s) = c;
            maps.secrets.insert(
                s.client_id.clone(),
                Arc::new(SecretEntry {
                    client: state.clone(),
                    client_id: s.client_id.clone(),
                    secret_sha256: sha_from_hex(&s.secret_sha256),
                    usable_until: s.usable_until(),
                }),
            );
        }
        maps.clients.insert(r.id.clone(), state);
    }

    fn drop_client(maps: &mut Maps, id: &str) {
        if maps.clients.remove(id).is_some() {
            maps.secrets.retain(|_, s| s.client.id != id);
        }
    }

    /// Runs `commit` (a store change) and applies its outcome here, serialised with every other
    /// change so memory follows the store in commit order.
    pub fn mutate<T>(
        &self,
        commit: impl FnOnce() -> crate::error::Result<T>,
        apply: impl FnOnce(&T) -> Change,
    ) -> crate::error::Result<T> {
        let _serial = self.writer.lock().expect("registry writer lock");
        let out = commit()?;
        let change = apply(&out);
        let mut maps = self.maps.write().expect("registry lock");
        match change {
            Change::Upsert(record, subject) => Self::put(&mut maps, &record, subject),
            Change::Remove(id) => Self::drop_client(&mut maps, &id),
            Change::None => {}
        }
        Ok(out)
    }

    pub fn secret(&self, client_id: &str) -> Option<Arc<SecretEntry>> {
        self.maps.read().expect("registry lock").secrets.get(client_id).cloned()
    }

    pub fn client(&self, id: &str) -> Option<Arc<ClientState>> {
        self.maps.read().expect("registry lock").clients.get(id).cloned()
    }

    /// Checks a presented secret in constant time. Unknown client ids still cost one hash and
    /// one comparison, so timing does not tell whether a client id exists.
    pub fn verify(&self, client_id: &str, secret: &str, now: Millis) -> Option<Arc<SecretEntry>> {
        static DECOY: [u8; 32] = [0u8; 32];
        let entry = self.secret(client_id);
        let stored = entry.as_ref().map_or(&DECOY, |e| &e.secret_sha256);
        let ok = crypto::verify_secret_sha256(secret, stored);
        match entry {
            Some(e) if ok && now < e.usable_until => Some(e),
            _ => None,
        }
    }
}

/// What a committed store change means for the registry.
pub enum Change {
    Upsert(OAuthClientRecord, String),
    Remove(String),
    None,
}
