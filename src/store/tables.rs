//! Every redb table throng has, in one place, with the schema version they make up.
//!
//! Keys are normalised (lower-cased names, fixed ids) so lookups never scan. Values are JSON
//! records from `store::records` (forward compatible through `#[serde(default)]`). To change
//! a table's types, migrate into a new table name and bump [`SCHEMA_VERSION`]; never retype.

use redb::TableDefinition;

/// Version of the layout below; recorded in [`META`] under `schema_version`.
pub const SCHEMA_VERSION: u64 = 5;

/// `schema_version`, [`KEY_CHECK`], [`STORE_ID`], id counters, the change log's bounds.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// The [`META`] row holding the check value of the master key the file was written with
/// (`crypto::Keys::check_value`), so that a wrong `secret.key` is refused at start. Added
/// without a schema change: files without it get it on their next open.
pub const KEY_CHECK: &str = "key_check";
/// The [`META`] row holding a random id made once per store file, so that an event token
/// (`store::directory::events`) minted by another store, or by this one before it was wiped,
/// is refused rather than read against the wrong change log. Schema 4 on.
pub const STORE_ID: &str = "store_id";

/// directory id → `DirectoryRecord`.
pub const DIRECTORIES: TableDefinition<u64, &[u8]> = TableDefinition::new("directories");
/// (directory id, lower-cased user name) → `UserRecord`.
pub const USERS: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("users");
/// (directory id, lower-cased group name) → `GroupRecord`.
pub const GROUPS: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("groups");
/// (directory id, group, user) → (): direct user memberships, listed by group.
pub const GROUP_USERS: TableDefinition<(u64, &str, &str), ()> = TableDefinition::new("group_users");
/// (directory id, user, group) → (): the same memberships, listed by user.
pub const USER_GROUPS: TableDefinition<(u64, &str, &str), ()> = TableDefinition::new("user_groups");
/// (directory id, parent group, child group) → (): nested groups, listed by parent. Schema 4 on.
pub const GROUP_CHILDREN: TableDefinition<(u64, &str, &str), ()> =
    TableDefinition::new("group_children");
/// (directory id, child group, parent group) → (): the same links, listed by child.
pub const GROUP_PARENTS: TableDefinition<(u64, &str, &str), ()> =
    TableDefinition::new("group_parents");
/// user key → (directory id, lower-cased user name). A key is given once, at creation, and
/// follows its user through renames (see `UserRecord::key`). Schema 4 on.
pub const USER_KEYS: TableDefinition<&str, (u64, &str)> = TableDefinition::new("user_keys");
/// sequence number → `EventRecord`: the directory change log that incremental sync reads,
/// appended in the transaction of each change. Schema 4 on.
pub const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");

/// service account id → `ServiceAccountRecord`.
pub const SERVICE_ACCOUNTS: TableDefinition<u64, &[u8]> = TableDefinition::new("service_accounts");
/// OAuth 2.0 client configuration id (a UUID) → `OAuthClientRecord`, credentials included.
pub const OAUTH_CLIENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("oauth_clients");
/// client id (current or rotated out) → OAuth client configuration id.
pub const CLIENT_IDS: TableDefinition<&str, &str> = TableDefinition::new("client_ids");

/// (expiry of the batch's last token in unix seconds, batch number) → a batch of issued
/// access tokens: `[version 1]` then fixed-size `TokenRecord`s. The writer appends one batch
/// per commit, so recording a token costs a copy rather than a B-tree insert, and the purge
/// drops whole batches from the front once their last token has expired.
/// (Schema 1 had `tokens` and `client_tokens`, schema 2 `token_records`, one row a token.)
pub const TOKEN_BATCHES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("token_batches");
/// token id → expiry (unix seconds): revoked tokens still inside their lifetime.
pub const REVOKED: TableDefinition<&str, u64> = TableDefinition::new("revoked_tokens");

/// SHA-256 of an SSO token → `SessionRecord`.
pub const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions");
/// (directory id, lower-cased user name, token digest) → (): a user's sessions.
pub const USER_SESSIONS: TableDefinition<(u64, &str, &[u8]), ()> =
    TableDefinition::new("user_sessions");
/// (expiry in unix milliseconds, token digest) → (): sessions by when they end, so the purge
/// reads only the expired ones.
pub const SESSION_EXPIRY: TableDefinition<(u64, &[u8]), ()> =
    TableDefinition::new("session_expiry");

/// sequence number → `AuditRecord`.
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

// ---- Applications (Crowd's applications: who may call usermanagement with Basic) ----------
// New tables need no migration: `Store::open` creates them on a file that lacks them.

/// application id → `ApplicationRecord` (`store::applications`).
pub const APPLICATIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("applications");
/// lower-cased application name → application id: names are unique case-insensitively.
pub const APPLICATION_NAMES: TableDefinition<&str, u64> = TableDefinition::new("application_names");

// ---- Application links (`store::links`) ------------------------------------------------------

/// link id → `AppLinkRecord`.
pub const APP_LINKS: TableDefinition<u64, &[u8]> = TableDefinition::new("app_links");
/// lower-cased link name → link id: names are unique case-insensitively.
pub const APP_LINK_NAMES: TableDefinition<&str, u64> = TableDefinition::new("app_link_names");

/// directory id → `SyncStatus` of a `CROWD` directory: its last synchronisation, or the one
/// running. Not a directory change: writing it moves no change notice.
pub const SYNC_STATUS: TableDefinition<u64, &[u8]> = TableDefinition::new("sync_status");
// ---- SCIM (`store::directory::scim`): a `SCIM` directory's users and groups as resources ----

/// (directory id, SCIM id) → `ScimResourceRecord`: the resource's kind, the user key or
/// lower-cased group name it is, and the document its identity provider wrote.
pub const SCIM_RESOURCES: TableDefinition<(u64, &str), &[u8]> =
    TableDefinition::new("scim_resources");
/// (directory id, kind, user key or lower-cased group name) → SCIM id: which resource an
/// entity is, for users' `groups` and groups' `members`, and for `userName` filters.
pub const SCIM_KEYS: TableDefinition<(u64, u8, &str), &str> = TableDefinition::new("scim_keys");
/// (directory id, kind, externalId, SCIM id) → (): `externalId eq` filters without a scan.
/// externalId is the client's, and need not be unique.
pub const SCIM_EXTERNAL_IDS: TableDefinition<(u64, u8, &str, &str), ()> =
    TableDefinition::new("scim_external_ids");

/// directory id → the remote server's event token that marks what a `CROWD` directory holds:
/// written in the transaction that applies a sync, so it never runs ahead of the data.
pub const SYNC_TOKENS: TableDefinition<u64, &str> = TableDefinition::new("sync_tokens");
