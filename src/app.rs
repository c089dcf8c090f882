//! `App`: the state every request handler shares, built once at start.
//!
//! Opening it does the first-start work (the data directory and the master key, through
//! `datadir`, which also refuses a database whose key is missing or wrong; the internal
//! directory with its admin) and loads what the hot path keeps in memory: the OAuth client
//! registry and the revoked set.

use crate::config::Config;
use crate::crypto::{self, Keys};
use crate::datadir;
use crate::domain::admin::AdminCache;
use crate::domain::applications::Applications;
use crate::domain::audit::FailureLog;
use crate::domain::clock::Clock;
use crate::domain::directory::Directories;
use crate::domain::registry::ClientRegistry;
use crate::domain::throttle::{KdfSlots, Throttle};
use crate::domain::tokens::RevokedSet;
use crate::error::{Error, Result};
use crate::store::directory::Bootstrap;
use crate::store::writer::{Above, Pending, PurgePolicy, Writer, WriterThread};
use crate::store::Store;
use std::fs;
use std::sync::Arc;

pub const DB_FILE: &str = "throng.redb";
pub const KEY_FILE: &str = "secret.key";
pub const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";

pub struct App {
    pub config: Config,
    pub store: Arc<Store>,
    pub keys: Keys,
    pub clock: Arc<Clock>,
    pub clients: ClientRegistry,
    pub revoked: Arc<RevokedSet>,
    /// Tokens whose MAC was checked lately (`domain::tokens::VerifiedTokens`).
    pub verified_tokens: crate::domain::tokens::VerifiedTokens,
    pub writer: Writer,
    pub admins: AdminCache,
    /// Verified application credentials and resolved remote-address host names.
    pub applications: Applications,
    /// Usermanagement callers' views of their directories (`domain::access`).
    pub views: crate::domain::access::AccessCache,
    /// Rendered user entities (`api::usermanagement::user::get`), good while the directory
    /// is unchanged: the most frequent usermanagement read answers from here, copying the
    /// bytes out of its worker's own stripe.
    pub rendered_users: crate::store::cache::PerThread<(u64, String, u8), Box<[u8]>>,
    /// Failed authentications per source and identity (`domain::throttle`).
    pub throttle: Throttle,
    /// Password KDF runs allowed at once.
    pub kdf: KdfSlots,
    /// Failed authentications on their way to the audit log, aggregated.
    pub failures: Arc<FailureLog>,
    /// The HTTP client for calls to other servers (`remote::client`).
    pub outbound: crate::remote::client::Outbound,
    /// Tokens held for outgoing application links (`remote::tokens`).
    pub outgoing_tokens: crate::remote::tokens::OutgoingTokens,
    /// Directories being synchronised now (`remote::sync`).
    pub syncs: crate::remote::sync::Running,
    /// The way to the background sync thread (`remote::schedule`).
    pub scheduler: crate::remote::schedule::Scheduler,
    /// Accepted client assertions, remembered against replay (`store::replay`).
    pub replay: Arc<crate::store::replay::ReplayGuard>,
    /// Key sets fetched from clients' JWKS URLs (`domain::jwks`).
    pub jwks: crate::domain::jwks::JwksCache,
    /// What client assertions are held to.
    pub assertion_policy: crate::domain::oauth::AssertionPolicy,
    /// `http://host:port` (or the configured base URL), without a trailing slash.
    pub base_url: String,
    /// `{base_url}/rest/usermanagement/1` and `{base_url}/crowd/rest/usermanagement/1`.
    usermanagement_bases: [String; 2],
}

impl App {
    /// The base of usermanagement links for a context path (`""` or `/crowd`): built once, as
    /// every entity links back to it.
    pub fn usermanagement_base(&self, context_path: &str) -> &str {
        let i = usize::from(!context_path.is_empty());
        self.usermanagement_bases[i].as_str()
    }

    /// Opens the data directory and store; returns the app and its writer thread.
    pub fn open(
        config: Config,
        base_url: String,
        clock: Arc<Clock>,
    ) -> Result<(App, WriterThread)> {
        let dir = &config.data_dir;
        datadir::prepare(dir)?;
        let keys = datadir::load_key(dir)?;
        datadir::check_key_before_open(dir, &keys)?;
        let store = Arc::new(Store::open(&dir.join(DB_FILE))?);
        // Hashes, sealed secrets and the audit log: owner only, like the key files.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let db = dir.join(DB_FILE);
            fs::set_permissions(&db, fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::Internal(format!("restricting {}: {e}", db.display())))?;
        }
        let oauth_clients = store.all_oauth_clients()?;
        datadir::check_key(dir, &store, &keys, &oauth_clients)?;
        datadir::restrict_initial_password(dir)?;
        first_start(&config, &store, &clock)?;

        let clients = ClientRegistry::load(&oauth_clients);
        let revoked = Arc::new(RevokedSet::load(store.live_revocations(clock.now_secs())?));
        let failures = Arc::new(FailureLog::default());
        let policy = PurgePolicy {
            every: config.purge_interval,
            audit_retention: config.audit_retention,
            audit_max_rows: config.audit_max_rows,
            event_max_rows: config.event_max_rows,
        };
        let above = Arc::new(WriterHooks {
            clock: clock.clone(),
            failures: failures.clone(),
            revoked: revoked.clone(),
        });
        let (writer, thread) = Writer::start(store.clone(), policy, above);
        let throttle = Throttle::new(config.auth_failure_limit, config.auth_failure_period);
        let kdf = KdfSlots::new(config.kdf_slots());
        let outbound = crate::remote::client::Outbound::new(&config).map_err(Error::Internal)?;
        let replay = crate::store::replay::ReplayGuard::open(
            dir,
            clock.now_secs(),
            config.max_live_assertions,
            config.replay_durability,
        )
        .map_err(|e| {
            Error::Startup(format!(
                "opening {}: {e}",
                dir.join(crate::store::replay::FILE).display()
            ))
        })?;
        let replay = Arc::new(replay);
        crate::store::replay::start_ticks(&replay, clock.clone());
        let assertion_policy = assertion_policy(&config, &base_url);
        let app = App {
            config,
            store,
            keys,
            clock,
            clients,
            revoked,
            verified_tokens: Default::default(),
            writer,
            admins: AdminCache::default(),
            views: Default::default(),
            rendered_users: crate::store::cache::PerThread::new(16_384),
            applications: Applications::default(),
            throttle,
            kdf,
            failures,
            outbound,
            outgoing_tokens: Default::default(),
            syncs: Default::default(),
            scheduler: Default::default(),
            replay,
            jwks: Default::default(),
            assertion_policy,
            usermanagement_bases: [
                format!("{base_url}/rest/usermanagement/1"),
                format!("{base_url}{}/rest/usermanagement/1", crate::http::request::CONTEXT_PATH),
            ],
            base_url,
        };
        Ok((app, thread))
    }

    /// The directory rules over this app's store, clock and password hashing settings.
    pub fn directories(&self) -> Directories<'_> {
        Directories::new(&self.store, &self.clock, self.config.pbkdf2_iterations)
    }
}

/// The audiences a client assertion may name: the token endpoint at each path it answers on
/// (RFC 7523 §3 item 3: "the token endpoint URL of the authorization server MAY be used"),
/// the issuer (RFC 8414's identifier, which draft-ietf-oauth-rfc7523bis makes the one value),
/// and what the operator adds.
fn assertion_policy(config: &Config, base_url: &str) -> crate::domain::oauth::AssertionPolicy {
    let context = crate::http::request::CONTEXT_PATH;
    let mut audiences = vec![
        format!("{base_url}/rest/oauth2/latest/token"),
        format!("{base_url}{context}/rest/oauth2/latest/token"),
        format!("{base_url}/oauth/token"),
        base_url.to_string(),
    ];
    audiences.extend(config.assertion_audiences.iter().cloned());
    let single_audience = config.assertion_issuer_only;
    if single_audience {
        audiences = vec![base_url.to_string()];
    }
    crate::domain::oauth::AssertionPolicy {
        audiences,
        single_audience,
        leeway_secs: config.assertion_leeway.as_secs(),
        max_lifetime_secs: config.assertion_max_lifetime.as_secs(),
        jwks_ttl_ms: config.jwks_cache_ttl.as_millis() as u64,
        jwks_refetch_ms: config.jwks_refetch_interval.as_millis() as u64,
    }
}

/// What the store's writer needs from above: the clock, the aggregated failures it commits,
/// and the revoked set it trims after a purge.
struct WriterHooks {
    clock: Arc<Clock>,
    failures: Arc<FailureLog>,
    revoked: Arc<RevokedSet>,
}

impl Above for WriterHooks {
    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn holding(&self) -> bool {
        !self.failures.is_empty()
    }

    fn take(&self, now: u64, all: bool) -> Pending {
        self.failures.take_writes(now, all)
    }

    fn committed(&self, pending: &Pending, ids: &[u64]) {
        self.failures.committed(pending, ids);
    }

    fn purged(&self, now_secs: u64) {
        self.revoked.forget_expired(now_secs);
    }
}

/// On an empty store: the internal directory, `crowd-administrators`, and `admin` in it.
fn first_start(config: &Config, store: &Store, clock: &Clock) -> Result<()> {
    // The KDF is slow by design; run it only when there is a first start to do.
    if store.has_directories()? {
        return Ok(());
    }
    let (password, generated) = match &config.admin_password {
        Some(p) => (p.clone(), false),
        None => (crypto::hex(&crypto::random_bytes::<12>()), true),
    };
    let created = store.bootstrap_if_empty(Bootstrap {
        directory_name: "Internal Directory",
        admin_name: "admin",
        admin_password_hash: crypto::hash_password(&password, config.pbkdf2_iterations),
        now: clock.now_ms(),
    })?;
    if created && generated {
        let path = config.data_dir.join(INITIAL_PASSWORD_FILE);
        datadir::write_private(&path, format!("{password}\n").as_bytes())?;
        // The one deliberate exception to "no secret in the log": the operator must learn the
        // generated password once, as Jenkins and Crowd's own setup do. It is never logged again.
        log::warn!(
            "first start: created user 'admin' with password {password} (also in {})",
            path.display()
        );
    } else if created {
        log::info!(
            "first start: created user 'admin' with the password from THRONG_ADMIN_PASSWORD"
        );
    }
    Ok(())
}
