//! The shapes throng keeps in redb. These are storage records, not wire DTOs: the API layer
//! renders them into each upstream API's own JSON. Every optional field has a serde default
//! so that a newer throng reads an older file.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Milliseconds since the Unix epoch; what every stored time is.
pub type Millis = u64;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryRecord {
    pub id: u64,
    pub name: String,
    /// `INTERNAL` for directories throng owns; later `CROWD` for synced remote ones.
    pub kind: String,
    #[serde(default)]
    pub description: String,
    pub active: bool,
    pub created: Millis,
    /// For a `CROWD` directory: the server it is synchronised from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteCrowd>,
    /// For a `SCIM` directory: how its SCIM API answers (`api::scim`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim: Option<ScimSettings>,
}

/// A `SCIM` directory's settings: an identity provider provisions its users and groups over
/// SCIM 2.0, as into an Atlassian SCIM directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimSettings {
    /// Users carry Atlassian's `urn:scim:schemas:extension:atlassian-external:1.0` extension
    /// (`atlassianAccountId`), as Atlassian's own SCIM API answers.
    #[serde(default)]
    pub atlassian_extension: bool,
}

/// Where a `CROWD` directory comes from, and how throng authenticates there: as an
/// application of that server, by its password (sealed with the master key) or by an outgoing
/// application link's tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteCrowd {
    /// The server's base URL, without a trailing slash.
    pub server_url: String,
    /// The application throng is on that server.
    pub application: String,
    pub auth: RemoteAuth,
    /// Seconds between synchronisations in the background; `None`: only when asked. A record
    /// from before intervals existed gets Crowd's default, as a new directory does.
    #[serde(default = "default_interval")]
    pub interval: Option<u64>,
}

/// Crowd's default synchronisation interval, 60 minutes: a new directory's, and a stored
/// one's from before intervals.
pub const DEFAULT_SYNC_INTERVAL_SECS: u64 = 3600;

fn default_interval() -> Option<u64> {
    Some(DEFAULT_SYNC_INTERVAL_SECS)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RemoteAuth {
    Password { sealed: String },
    Link { link: u64 },
}

impl SyncStatus {
    /// This running sync, ended at `now` having added, updated and removed so many.
    pub fn succeeded(&self, (added, updated, removed): (usize, usize, usize), now: Millis) -> Self {
        SyncStatus {
            state: "SUCCEEDED".into(),
            ended: Some(now),
            added,
            updated,
            removed,
            error: None,
            progress: String::new(),
            ..self.clone()
        }
    }
}

/// How a directory's last synchronisation went, or the one running.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// `RUNNING`, `SUCCEEDED` or `FAILED`.
    pub state: String,
    /// `FULL` or `INCREMENTAL`.
    pub mode: String,
    pub started: Millis,
    #[serde(default)]
    pub ended: Option<Millis>,
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    /// What went wrong, in the remote server's words when it answered.
    #[serde(default)]
    pub error: Option<String>,
    /// Where a running sync is.
    #[serde(default)]
    pub progress: String,
    /// Why a sync meant to be incremental was full (the server's event token expired, …).
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub directory_id: u64,
    /// As written at creation or the last rename; lookups use the lower-cased form.
    pub name: String,
    /// Crowd's user key: `"{directory id}:{lower-cased name}"` as first created (with `-N`
    /// appended if another user holds that already), kept through renames, because
    /// Atlassian's directory-sync client follows a user across renames by it. Given by the
    /// store at creation; empty only in a record not stored yet.
    #[serde(default)]
    pub key: String,
    /// An identifier the user has in some other system (Crowd's `externalId`), opaque here.
    #[serde(default)]
    pub external_id: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: String,
    pub active: bool,
    pub created: Millis,
    pub updated: Millis,
    /// `crypto::hash_password` output; `None` for a user with no password credential.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// The password must be changed before the next login (Crowd's expired credential, set by
    /// `expire-all-passwords`); a new password clears it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub password_expired: bool,
    #[serde(default)]
    pub attributes: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub directory_id: u64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `GROUP` or `LEGACY_ROLE`.
    pub kind: String,
    pub active: bool,
    pub created: Millis,
    pub updated: Millis,
    #[serde(default)]
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// One entry of the directory change log (`tables::EVENTS`), which Crowd's incremental sync
/// (`/event`) serves. Names are as written at the time of the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Its place in the log: 1, 2, 3, … in commit order, never reused.
    pub seq: u64,
    pub at: Millis,
    pub directory_id: u64,
    pub change: Change,
}

/// What changed. Deleting a user or group implies its memberships went too: no membership
/// events are logged for those, as a sync client drops them with the entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    UserCreated {
        name: String,
    },
    UserUpdated {
        name: String,
    },
    UserRenamed {
        old: String,
        new: String,
    },
    UserDeleted {
        name: String,
    },
    /// `stored` keys were set (replacing their values), `deleted` keys removed.
    UserAttributesChanged {
        name: String,
        stored: Vec<String>,
        deleted: Vec<String>,
    },
    GroupCreated {
        name: String,
    },
    GroupUpdated {
        name: String,
    },
    GroupDeleted {
        name: String,
    },
    GroupAttributesChanged {
        name: String,
        stored: Vec<String>,
        deleted: Vec<String>,
    },
    UserMembershipAdded {
        user: String,
        group: String,
    },
    UserMembershipRemoved {
        user: String,
        group: String,
    },
    GroupMembershipAdded {
        child: String,
        parent: String,
    },
    GroupMembershipRemoved {
        child: String,
        parent: String,
    },
}

/// What a SCIM resource of a `SCIM` directory is, beside the user or group it provisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScimResourceRecord {
    pub kind: ScimKind,
    /// The user's key (`UserRecord::key`, which follows renames) or the group's lower-cased
    /// name.
    pub key: String,
    /// The resource as its identity provider last wrote it, checked against the schema:
    /// every attribute but `id`, `meta`, the computed `groups`/`members` and `password`.
    pub doc: serde_json::Map<String, serde_json::Value>,
    /// 1 at creation, one more at every change: `meta.version` and the `ETag`.
    pub version: u64,
    pub created: Millis,
    pub modified: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScimKind {
    User,
    Group,
}

impl ScimKind {
    /// Its byte in the SCIM tables' keys.
    pub fn tag(self) -> u8 {
        match self {
            ScimKind::User => 0,
            ScimKind::Group => 1,
        }
    }
}

/// An SSO session, stored under the SHA-256 of its token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub directory_id: u64,
    /// The user's name as written when the session began.
    pub user: String,
    /// The application that created it.
    pub application: String,
    pub created: Millis,
    /// Ends at this instant unless validated again before.
    pub expires: Millis,
    /// How much a validation extends it: the server's timeout or a shorter `duration` asked
    /// for at creation.
    pub timeout: Millis,
    /// The user's key when the session began: a later user of the same name (after a delete
    /// or rename) has another, and the session does not pass to them.
    #[serde(default)]
    pub user_key: String,
    /// When that user was created: a key can be given again after a delete, a creation time
    /// (with the key) tells the two users apart.
    #[serde(default)]
    pub user_created: Millis,
    /// The `remote_address` validation factor given at creation, if any.
    #[serde(default)]
    pub remote_address: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceAccountRecord {
    pub id: u64,
    /// `service-account-<uuid>`: unique, used in audit records.
    pub name: String,
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    pub active: bool,
    /// Name of the admin who created it.
    pub author: String,
    pub created: Millis,
    #[serde(default)]
    pub archived: Option<Millis>,
    /// The OAuth 2.0 client configuration this account authenticates with; kept after
    /// archive so the account still names it, although the client itself is gone.
    pub oauth_client_id: String,
    /// What the account was created with, kept for display after archive.
    pub scopes: Vec<String>,
    pub expiry_duration: u64,
}

/// Whose credentials an OAuth client holds. Application links join service accounts later.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientOwner {
    ServiceAccount {
        id: u64,
    },
    /// An incoming application link's client (`store::links`).
    ApplicationLink {
        id: u64,
    },
}

/// An application link (Crowd 7: Settings → Application links, type External application):
/// how OAuth 2.0 client credentials connect throng to another server, one way or the other.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AppLinkRecord {
    pub id: u64,
    /// Unique among links, compared case-insensitively.
    pub name: String,
    /// The admin who created it.
    pub author: String,
    pub created: Millis,
    pub updated: Millis,
    pub direction: LinkDirection,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LinkDirection {
    /// Another server calls throng: it holds the client id and secret of `oauth_client`
    /// (an `OAuthClientRecord` owned by the link), and its tokens carry `scopes`.
    Incoming { redirect_url: String, oauth_client: String, scopes: Vec<String> },
    /// throng calls another server's token endpoint with a client id and a secret, the
    /// secret sealed with the master key (`crypto::Keys::seal_secret`), never stored plain.
    Outgoing {
        service_provider: String,
        token_url: String,
        client_id: String,
        secret_sealed: String,
        scopes: Vec<String>,
    },
}

/// One OAuth 2.0 client configuration: Crowd's "oAuth2Config", with every credential it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthClientRecord {
    /// A UUID: the `authMethods[].id` of the service account.
    pub id: String,
    pub name: String,
    pub owner: ClientOwner,
    /// Crowd's `userKey`: the admin who created the client.
    pub user_key: String,
    pub scopes: Vec<String>,
    /// Lifetime of a client secret, in seconds, from its creation or rotation.
    pub expiry_duration: u64,
    pub last_rotated: Millis,
    /// Tokens issued before this instant are dead; bumped to kill every live token at once.
    #[serde(default)]
    pub tokens_not_before: Millis,
    /// Current credential first; a rotated-out one may follow until its grace ends.
    pub credentials: Vec<Credential>,
    /// The `SCIM` directories the client may provision with a `manage:directory` token
    /// (Atlassian's grant of a directory to an OAuth client, part C step 3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scim_directories: Vec<u64>,
}

/// A way for a client to prove who it is at the token endpoint: a secret it sends
/// (`client_secret_basic`/`client_secret_post`), or a JWT it signs with a private key whose
/// public half throng holds (`private_key_jwt`, RFC 7523 §2.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Credential {
    ClientSecret(SecretCredential),
    PrivateKeyJwt(KeyCredential),
}

impl Credential {
    /// The client id this credential authenticates.
    pub fn client_id(&self) -> &str {
        match self {
            Credential::ClientSecret(s) => &s.client_id,
            Credential::PrivateKeyJwt(k) => &k.client_id,
        }
    }
}

/// `private_key_jwt`: the client's public keys. Keys rotate by being added and removed, so
/// the credential itself does not expire; archiving the account ends it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyCredential {
    pub client_id: String,
    pub created: Millis,
    pub keys: KeySource,
}

/// Where a client's public keys are: registered here, or published by the client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum KeySource {
    /// A JWK set (RFC 7517 §5) of public keys, as registered: the JSON text of
    /// `{"keys":[…]}`, checked by `domain::assertion::parse_jwk_set` before it was stored.
    Inline { jwks: String },
    /// A JWK set URL (`jwks_uri`, RFC 7591 §2), fetched and cached (`domain::jwks`).
    Url { url: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretCredential {
    pub client_id: String,
    /// SHA-256 of the secret, hex.
    pub secret_sha256: String,
    /// nonce || ChaCha20-Poly1305 ciphertext of the secret, base64url, bound to `client_id`.
    pub secret_sealed: String,
    pub created: Millis,
    /// The secret stops working at this instant.
    pub expires: Millis,
    /// Set when rotated out: the grace end, after which it no longer works.
    #[serde(default)]
    pub retired_until: Option<Millis>,
}

impl SecretCredential {
    /// The instant after which this secret no longer authenticates.
    pub fn usable_until(&self) -> Millis {
        self.retired_until.map_or(self.expires, |r| r.min(self.expires))
    }
}

/// An issued access token as recorded, written behind the answer for listing, audit and
/// purge. The token is valid without it: validity comes from its MAC and the client's state.
/// Stored as [`TokenRecord::LEN`] fixed bytes, many to a redb value (see `store::tokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRecord {
    pub jti: [u8; 16],
    /// The OAuth client configuration id (a UUID's bytes).
    pub client: [u8; 16],
    pub client_id: [u8; 16],
    /// Unix seconds.
    pub issued: u64,
    pub expires: u64,
    pub scopes: u8,
}

impl TokenRecord {
    pub const LEN: usize = 16 * 3 + 4 + 4 + 1;

    /// The fixed layout records are stored in, and that access tokens carry after their
    /// version byte: `[jti 16][client 16][client id 16][issued u32][expires u32][scopes]`.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[0..16].copy_from_slice(&self.jti);
        b[16..32].copy_from_slice(&self.client);
        b[32..48].copy_from_slice(&self.client_id);
        b[48..52].copy_from_slice(&(self.issued as u32).to_be_bytes());
        b[52..56].copy_from_slice(&(self.expires as u32).to_be_bytes());
        b[56] = self.scopes;
        b
    }

    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    pub fn read(b: &[u8; Self::LEN]) -> TokenRecord {
        let take16 = |at: usize| -> [u8; 16] { b[at..at + 16].try_into().expect("16 bytes") };
        let u32_at =
            |at: usize| u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes")) as u64;
        TokenRecord {
            jti: take16(0),
            client: take16(16),
            client_id: take16(32),
            issued: u32_at(48),
            expires: u32_at(52),
            scopes: b[56],
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: u64,
    pub timestamp: Millis,
    /// Who did it: a user name, a client id, or `anonymous`.
    pub actor: String,
    /// `SERVICE_ACCOUNT_CREATED`, `CLIENT_AUTHENTICATION_FAILED`, …
    pub action: String,
    /// What it was done to: `service-account-<uuid>`, a client id.
    pub target: String,
    /// Free text; never a secret.
    #[serde(default)]
    pub details: String,
    /// The caller's address, where known.
    #[serde(default)]
    pub remote: String,
    /// How many events this record stands for: failed authentications are aggregated into
    /// one record per (action, source, identity) and window. Records written before
    /// aggregation existed are one event each.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u64,
    /// Of `count`, the attempts refused by the throttle without their credentials checked.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled: u64,
}

fn one() -> u64 {
    1
}

fn is_one(n: &u64) -> bool {
    *n == 1
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audit_record_written_before_counts_reads_as_one_event() {
        let old = br#"{"id":7,"timestamp":1,"actor":"a","action":"X","target":"t"}"#;
        let r: AuditRecord = serde_json::from_slice(old).unwrap();
        assert_eq!((r.count, r.throttled), (1, 0));
        let again: AuditRecord = serde_json::from_slice(&serde_json::to_vec(&r).unwrap()).unwrap();
        assert_eq!(again, r);
        let many = AuditRecord { count: 40, throttled: 30, ..r };
        let text = serde_json::to_string(&many).unwrap();
        assert!(text.contains(r#""count":40"#) && text.contains(r#""throttled":30"#), "{text}");
    }
}
