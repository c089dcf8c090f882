//! Server configuration: what `throng serve` reads from its flags and the environment.
//!
//! Flags win over environment variables, which win over defaults. Durations are written the
//! humantime way (`1h`, `24h`, `90s`). The admin password is a secret: `Debug` never prints it.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Production default for PBKDF2-HMAC-SHA256 on human passwords (OWASP 2023 guidance).
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 600_000;

/// Everything a running server needs to know, fixed at start.
#[derive(Clone)]
pub struct Config {
    /// Directory holding `throng.redb`, `secret.key` and `initial-admin-password`.
    pub data_dir: PathBuf,
    /// Address to bind; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Public base URL used in `link` hrefs; derived from `listen` when unset.
    pub base_url: Option<String>,
    /// Worker threads taking requests from the HTTP server.
    pub workers: usize,
    /// Initial admin password on first start (`THRONG_ADMIN_PASSWORD`); generated when unset.
    pub admin_password: Option<String>,
    /// PBKDF2 iterations for new password hashes. Tests lower it; production keeps the default.
    pub pbkdf2_iterations: u32,
    /// Lifetime of an access token (`expires_in`).
    pub token_ttl: Duration,
    /// How long a rotated-out client id and secret keep working.
    pub rotation_grace: Duration,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How often the background purge of expired tokens runs.
    pub purge_interval: Duration,

    // The front door: what any one client may hold of the server, and for how long.
    /// Connections open at once; beyond it a new connection is answered 503 and closed.
    /// `None` derives it from the open-file limit (see `http::limits`).
    pub max_connections: Option<usize>,
    /// An idle keep-alive connection (no byte of a next request) is closed after this.
    pub idle_timeout: Duration,
    /// The whole request head must arrive within this time of its first byte (else 408).
    pub head_timeout: Duration,
    /// The body gets this long, plus one second per `min_body_rate` bytes (else 408).
    pub body_timeout: Duration,
    /// Slowest body accepted, in bytes per second, after the `body_timeout` allowance.
    pub min_body_rate: usize,
    /// Largest request head (request line and headers together); 431 above.
    pub max_head_bytes: usize,
    /// Most header fields in a request; 431 above.
    pub max_headers: usize,
    /// Longest request target (path and query); 414 above.
    pub max_url_bytes: usize,

    // Failed authentication: throttled per source address and per presented identity.
    /// Failures allowed in a burst per identity before 429; a source may fail five times as
    /// many (`domain::throttle::SOURCE_MULTIPLE`: one address may carry several identities).
    pub auth_failure_limit: u32,
    /// The time in which a full burst of failures is forgiven (a leaky bucket).
    pub auth_failure_period: Duration,
    /// Password KDF runs at once; beyond it a login is answered 503 without hashing.
    /// `None`: a quarter of the workers, at least one.
    pub kdf_concurrency: Option<usize>,

    // The audit log's bounds.
    /// Audit records older than this are purged.
    pub audit_retention: Duration,
    /// Most audit records kept; the oldest go first.
    pub audit_max_rows: u64,

    // The directory.
    /// An SSO session ends this long after it was last validated (Crowd's session timeout).
    pub session_timeout: Duration,
    /// Most live SSO sessions per user; a new one beyond it ends the oldest.
    pub max_sessions_per_user: usize,
    /// Most change events kept for incremental sync; a client whose token is older gets 410
    /// and synchronises in full.
    pub event_max_rows: u64,

    // Calls to other servers (application links, remote directories: `remote`).
    /// PEM file of the CA certificates to trust for https:// calls instead of the bundled
    /// Mozilla roots (a private CA); `None` trusts the bundled roots.
    pub outbound_ca: Option<PathBuf>,
    /// Connecting, and then each read and write of a call, may take this long.
    pub outbound_timeout: Duration,
    /// Largest answer body read from another server.
    pub outbound_max_body: usize,

    // Client assertions (`private_key_jwt`: `domain::assertion`, `store::replay`).
    /// More values an assertion's `aud` may name besides the token endpoint URLs and the
    /// issuer (the audience an identity provider was told differs per deployment).
    pub assertion_audiences: Vec<String>,
    /// `--assertion-audience-mode issuer`: an assertion's `aud` must be the issuer, as one
    /// string, and nothing else (the extras and the token endpoint URLs do not count).
    pub assertion_issuer_only: bool,
    /// How far ahead an assertion's `exp` may be when it arrives.
    pub assertion_max_lifetime: Duration,
    /// Clock skew allowed on an assertion's `exp`, `nbf` and `iat`.
    pub assertion_leeway: Duration,
    /// Most assertions remembered against replay at once; beyond it new ones are refused.
    pub max_live_assertions: usize,
    /// When a remembered assertion is on the disk.
    pub replay_durability: crate::store::replay::Durability,
    /// How long a client's key set fetched from its JWKS URL is used before it is fetched
    /// again.
    pub jwks_cache_ttl: Duration,
    /// An unknown `kid` fetches a client's key set again, at most this often.
    pub jwks_refetch_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8095)),
            base_url: None,
            workers: default_workers(),
            admin_password: None,
            pbkdf2_iterations: DEFAULT_PBKDF2_ITERATIONS,
            token_ttl: Duration::from_secs(3600),
            rotation_grace: Duration::from_secs(24 * 3600),
            max_body_bytes: 1 << 20,
            purge_interval: Duration::from_secs(60),
            max_connections: None,
            idle_timeout: Duration::from_secs(60),
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            min_body_rate: 4096,
            max_head_bytes: 32 * 1024,
            max_headers: 100,
            max_url_bytes: 8 * 1024,
            auth_failure_limit: 10,
            auth_failure_period: Duration::from_secs(60),
            kdf_concurrency: None,
            audit_retention: Duration::from_secs(90 * 86_400),
            audit_max_rows: 1_000_000,
            session_timeout: Duration::from_secs(30 * 60),
            max_sessions_per_user: 100,
            event_max_rows: 100_000,
            outbound_ca: None,
            outbound_timeout: Duration::from_secs(10),
            outbound_max_body: 64 << 20,
            assertion_audiences: Vec::new(),
            assertion_issuer_only: false,
            assertion_max_lifetime: Duration::from_secs(3600),
            assertion_leeway: Duration::from_secs(60),
            max_live_assertions: 1_000_000,
            replay_durability: crate::store::replay::Durability::Os,
            jwks_cache_ttl: Duration::from_secs(300),
            jwks_refetch_interval: Duration::from_secs(60),
        }
    }
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * 2
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("base_url", &self.base_url)
            .field("workers", &self.workers)
            .field("admin_password", &self.admin_password.as_ref().map(|_| "***"))
            .field("pbkdf2_iterations", &self.pbkdf2_iterations)
            .field("token_ttl", &self.token_ttl)
            .field("rotation_grace", &self.rotation_grace)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("purge_interval", &self.purge_interval)
            .field("max_connections", &self.max_connections)
            .field("idle_timeout", &self.idle_timeout)
            .field("head_timeout", &self.head_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("min_body_rate", &self.min_body_rate)
            .field("max_head_bytes", &self.max_head_bytes)
            .field("max_headers", &self.max_headers)
            .field("max_url_bytes", &self.max_url_bytes)
            .field("auth_failure_limit", &self.auth_failure_limit)
            .field("auth_failure_period", &self.auth_failure_period)
            .field("kdf_concurrency", &self.kdf_concurrency)
            .field("audit_retention", &self.audit_retention)
            .field("audit_max_rows", &self.audit_max_rows)
            .field("session_timeout", &self.session_timeout)
            .field("max_sessions_per_user", &self.max_sessions_per_user)
            .field("event_max_rows", &self.event_max_rows)
            .field("outbound_ca", &self.outbound_ca)
            .field("outbound_timeout", &self.outbound_timeout)
            .field("outbound_max_body", &self.outbound_max_body)
            .field("assertion_audiences", &self.assertion_audiences)
            .field("assertion_issuer_only", &self.assertion_issuer_only)
            .field("assertion_max_lifetime", &self.assertion_max_lifetime)
            .field("assertion_leeway", &self.assertion_leeway)
            .field("max_live_assertions", &self.max_live_assertions)
            .field("replay_durability", &self.replay_durability)
            .field("jwks_cache_ttl", &self.jwks_cache_ttl)
            .field("jwks_refetch_interval", &self.jwks_refetch_interval)
            .finish()
    }
}

/// One option of `throng serve`: its flag, its environment variable and its help text.
pub struct OptionSpec {
    pub flag: &'static str,
    pub env: &'static str,
    pub value: &'static str,
    pub help: &'static str,
}

/// Every option `serve` understands; `--help` prints this table, the parser walks it.
pub const SERVE_OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        flag: "--data",
        env: "THRONG_DATA",
        value: "DIR",
        help: "data directory holding throng.redb and key files [default: data]",
    },
    OptionSpec {
        flag: "--listen",
        env: "THRONG_LISTEN",
        value: "ADDR",
        help: "address to listen on; port 0 picks a free port [default: 127.0.0.1:8095]",
    },
    OptionSpec {
        flag: "--base-url",
        env: "THRONG_BASE_URL",
        value: "URL",
        help: "public URL of this server, used in links [default: http://LISTEN]",
    },
    OptionSpec {
        flag: "--workers",
        env: "THRONG_WORKERS",
        value: "N",
        help: "request worker threads [default: 2 x CPUs]",
    },
    OptionSpec {
        flag: "--token-ttl",
        env: "THRONG_TOKEN_TTL",
        value: "DURATION",
        help: "access token lifetime [default: 1h]",
    },
    OptionSpec {
        flag: "--rotation-grace",
        env: "THRONG_ROTATION_GRACE",
        value: "DURATION",
        help: "how long a rotated-out client secret keeps working [default: 24h]",
    },
    OptionSpec {
        flag: "--pbkdf2-iterations",
        env: "THRONG_PBKDF2_ITERATIONS",
        value: "N",
        help: "PBKDF2-HMAC-SHA256 iterations for passwords [default: 600000]",
    },
    OptionSpec {
        flag: "--max-body",
        env: "THRONG_MAX_BODY",
        value: "BYTES",
        help: "largest request body accepted [default: 1048576]",
    },
    OptionSpec {
        flag: "--purge-interval",
        env: "THRONG_PURGE_INTERVAL",
        value: "DURATION",
        help: "how often expired tokens are purged [default: 60s]",
    },
    OptionSpec {
        flag: "--max-connections",
        env: "THRONG_MAX_CONNECTIONS",
        value: "N",
        help: "connections open at once; more get 503 [default: from the open-file limit]",
    },
    OptionSpec {
        flag: "--idle-timeout",
        env: "THRONG_IDLE_TIMEOUT",
        value: "DURATION",
        help: "close a keep-alive connection idle this long [default: 60s]",
    },
    OptionSpec {
        flag: "--head-timeout",
        env: "THRONG_HEAD_TIMEOUT",
        value: "DURATION",
        help: "a request head must arrive within this of its first byte [default: 10s]",
    },
    OptionSpec {
        flag: "--body-timeout",
        env: "THRONG_BODY_TIMEOUT",
        value: "DURATION",
        help: "time allowed for a body, plus 1s per --min-body-rate bytes [default: 10s]",
    },
    OptionSpec {
        flag: "--min-body-rate",
        env: "THRONG_MIN_BODY_RATE",
        value: "BYTES",
        help: "slowest request body accepted, bytes per second [default: 4096]",
    },
    OptionSpec {
        flag: "--max-head",
        env: "THRONG_MAX_HEAD",
        value: "BYTES",
        help: "largest request head (request line and headers) [default: 32768]",
    },
    OptionSpec {
        flag: "--max-headers",
        env: "THRONG_MAX_HEADERS",
        value: "N",
        help: "most header fields in one request [default: 100]",
    },
    OptionSpec {
        flag: "--max-url",
        env: "THRONG_MAX_URL",
        value: "BYTES",
        help: "longest request target, path and query [default: 8192]",
    },
    OptionSpec {
        flag: "--auth-failure-limit",
        env: "THRONG_AUTH_FAILURE_LIMIT",
        value: "N",
        help: "failed logins allowed per identity (5x per address) before 429 [default: 10]",
    },
    OptionSpec {
        flag: "--auth-failure-period",
        env: "THRONG_AUTH_FAILURE_PERIOD",
        value: "DURATION",
        help: "time in which a full burst of failed logins is forgiven [default: 60s]",
    },
    OptionSpec {
        flag: "--kdf-concurrency",
        env: "THRONG_KDF_CONCURRENCY",
        value: "N",
        help: "password hashes computed at once; more get 503 [default: workers / 4, >= 1]",
    },
    OptionSpec {
        flag: "--audit-retention",
        env: "THRONG_AUDIT_RETENTION",
        value: "DURATION",
        help: "audit records older than this are purged [default: 90days]",
    },
    OptionSpec {
        flag: "--audit-max-rows",
        env: "THRONG_AUDIT_MAX_ROWS",
        value: "N",
        help: "most audit records kept, the oldest purged first [default: 1000000]",
    },
    OptionSpec {
        flag: "--session-timeout",
        env: "THRONG_SESSION_TIMEOUT",
        value: "DURATION",
        help: "an SSO session ends this long after its last validation [default: 30m]",
    },
    OptionSpec {
        flag: "--max-sessions-per-user",
        env: "THRONG_MAX_SESSIONS_PER_USER",
        value: "N",
        help: "live SSO sessions per user; more end the oldest [default: 100]",
    },
    OptionSpec {
        flag: "--event-max-rows",
        env: "THRONG_EVENT_MAX_ROWS",
        value: "N",
        help: "change events kept for incremental sync [default: 100000]",
    },
    OptionSpec {
        flag: "--outbound-ca",
        env: "THRONG_OUTBOUND_CA",
        value: "FILE",
        help: "PEM CA certificates to trust for https:// calls to other servers, instead of \
               the bundled Mozilla roots",
    },
    OptionSpec {
        flag: "--outbound-timeout",
        env: "THRONG_OUTBOUND_TIMEOUT",
        value: "DURATION",
        help: "connect, read and write timeout of calls to other servers [default: 10s]",
    },
    OptionSpec {
        flag: "--outbound-max-body",
        env: "THRONG_OUTBOUND_MAX_BODY",
        value: "BYTES",
        help: "largest answer read from another server [default: 67108864]",
    },
    OptionSpec {
        flag: "--assertion-audience",
        env: "THRONG_ASSERTION_AUDIENCE",
        value: "URLS",
        help: "comma-separated audiences a client assertion may name besides the token \
               endpoint URLs and the issuer",
    },
    OptionSpec {
        flag: "--assertion-audience-mode",
        env: "THRONG_ASSERTION_AUDIENCE_MODE",
        value: "any|issuer",
        help: "any: aud may name the token endpoint URLs, the issuer or --assertion-audience, \
               as a string or in an array; issuer: aud must be the issuer alone, one string \
               (draft-ietf-oauth-rfc7523bis) [default: any]",
    },
    OptionSpec {
        flag: "--assertion-max-lifetime",
        env: "THRONG_ASSERTION_MAX_LIFETIME",
        value: "DURATION",
        help: "how far ahead a client assertion's exp may be [default: 1h]",
    },
    OptionSpec {
        flag: "--assertion-leeway",
        env: "THRONG_ASSERTION_LEEWAY",
        value: "DURATION",
        help: "clock skew allowed on a client assertion's exp, nbf and iat [default: 60s]",
    },
    OptionSpec {
        flag: "--max-live-assertions",
        env: "THRONG_MAX_LIVE_ASSERTIONS",
        value: "N",
        help: "most client assertions remembered against replay at once [default: 1000000]",
    },
    OptionSpec {
        flag: "--replay-durability",
        env: "THRONG_REPLAY_DURABILITY",
        value: "os|disk",
        help: "when a used client assertion's record is on the disk: os = written before the \
               answer and flushed every second, disk = flushed before the answer [default: os]",
    },
    OptionSpec {
        flag: "--jwks-cache-ttl",
        env: "THRONG_JWKS_CACHE_TTL",
        value: "DURATION",
        help: "how long a key set fetched from a client's JWKS URL is used [default: 5m]",
    },
    OptionSpec {
        flag: "--jwks-refetch-interval",
        env: "THRONG_JWKS_REFETCH_INTERVAL",
        value: "DURATION",
        help: "an unknown kid fetches a client's JWKS URL again at most this often [default: 1m]",
    },
];

impl Config {
    /// Builds a config from `serve` arguments, falling back to `env` (a lookup, so tests can
    /// pass their own) and then to defaults.
    pub fn from_args_and_env(
        args: &[String],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let mut given: Vec<(&'static str, String)> = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f, Some(v.to_string())),
                None => (arg.as_str(), None),
            };
            let spec = SERVE_OPTIONS
                .iter()
                .find(|s| s.flag == flag)
                .ok_or_else(|| format!("unknown option '{arg}' (see 'throng serve --help')"))?;
            let value = match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| format!("{flag} needs a value ({})", spec.value))?
                }
            };
            given.push((spec.flag, value));
            i += 1;
        }
        let lookup = |flag: &str| -> Option<(String, String)> {
            let spec = SERVE_OPTIONS.iter().find(|s| s.flag == flag)?;
            if let Some((_, v)) = given.iter().rev().find(|(f, _)| *f == flag) {
                return Some((flag.to_string(), v.clone()));
            }
            env(spec.env).filter(|v| !v.is_empty()).map(|v| (spec.env.to_string(), v))
        };

        let mut cfg = Config::default();
        if let Some((_, v)) = lookup("--data") {
            cfg.data_dir = PathBuf::from(v);
        }
        if let Some((src, v)) = lookup("--listen") {
            cfg.listen = parse_listen(&v).map_err(|e| format!("{src}: {e}"))?;
        }
        if let Some((src, v)) = lookup("--base-url") {
            if !(v.starts_with("http://") || v.starts_with("https://")) {
                return Err(format!("{src}: '{v}' is not an http(s) URL"));
            }
            cfg.base_url = Some(v.trim_end_matches('/').to_string());
        }
        if let Some((src, v)) = lookup("--workers") {
            cfg.workers = parse_number(&src, &v, 1, 1024)?;
        }
        if let Some((src, v)) = lookup("--token-ttl") {
            cfg.token_ttl = parse_duration(&src, &v)?;
        }
        if let Some((src, v)) = lookup("--rotation-grace") {
            cfg.rotation_grace = parse_duration(&src, &v)?;
        }
        if let Some((src, v)) = lookup("--pbkdf2-iterations") {
            cfg.pbkdf2_iterations = parse_number(&src, &v, 1, u32::MAX as usize)? as u32;
        }
        if let Some((src, v)) = lookup("--max-body") {
            cfg.max_body_bytes = parse_number(&src, &v, 1024, 1 << 30)?;
        }
        if let Some((src, v)) = lookup("--purge-interval") {
            cfg.purge_interval = parse_duration(&src, &v)?;
        }
        if let Some((src, v)) = lookup("--max-connections") {
            cfg.max_connections = Some(parse_number(&src, &v, 1, 1 << 20)?);
        }
        if let Some((src, v)) = lookup("--idle-timeout") {
            cfg.idle_timeout = parse_duration(&src, &v)?;
        }
        if let Some((src, v)) = lookup("--head-timeout") {
            cfg.head_timeout = parse_duration(&src, &v)?;
        }
        if let Some((src, v)) = lookup("--body-timeout") {
            cfg.body_timeout = parse_duration(&src, &v)?;
        }
        if let Some((src, v)) = lookup("--min-body-rate") {
            cfg.min_body_rate = parse_number(&src, &v, 1, 1 << 30)?;
        }
        if let Some((src, v)) = lookup("--max-head") {
            cfg.max_head_bytes = parse_number(&src, &v, 1024, 1 << 20)?;
        }
        if let Some((src, v)) = lookup("--max-headers") {
            cfg.max_headers = parse_number(&src, &v, 8, 10_000)?;
        }
        if let Some((src, v)) = lookup("--max-url") {
            cfg.max_url_bytes = parse_number(&src, &v, 256, 1 << 20)?;
        }
        if let Some((src, v)) = lookup("--auth-failure-limit") {
            cfg.auth_failure_limit = parse_number(&src, &v, 1, 1_000_000)? as u32;
        }
        if let Some((src, v)) = lookup("--auth-failure-period") {
            cfg.auth_failure_period = parse_duration(&src, &v)?;
        }
        if let Some((src, v)) = lookup("--kdf-concurrency") {
            cfg.kdf_concurrency = Some(parse_number(&src, &v, 1, 1024)?);
        }
        if let Some((src, v)) = lookup("--audit-retention") {
            cfg.audit_retention = parse_duration(&src, &v)?;
        }
        if let Some((src, v)) = lookup("--audit-max-rows") {
            cfg.audit_max_rows = parse_number(&src, &v, 1, usize::MAX)? as u64;
        }
        if let Some((src, v)) = lookup("--session-timeout") {
            cfg.session_timeout = parse_duration(&src, &v)?;
        }
        if let Some((src, v)) = lookup("--max-sessions-per-user") {
            cfg.max_sessions_per_user = parse_number(&src, &v, 1, 100_000)?;
        }
        if let Some((src, v)) = lookup("--event-max-rows") {
            cfg.event_max_rows = parse_number(&src, &v, 1, usize::MAX)? as u64;
        }
        if let Some((_, v)) = lookup("--outbound-ca") {
            cfg.outbound_ca = Some(PathBuf::from(v));
        }
        if let Some((src, v)) = lookup("--outbound-timeout") {
            cfg.outbound_timeout = parse_duration(&src, &v)?;
        }
        if let Some((src, v)) = lookup("--outbound-max-body") {
            cfg.outbound_max_body = parse_number(&src, &v, 1024, 1 << 32)?;
        }
        if let Some((src, v)) = lookup("--assertion-audience") {
            cfg.assertion_audiences =
                v.split(',').map(str::trim).filter(|a| !a.is_empty()).map(String::from).collect();
            if cfg.assertion_audiences.iter().any(|a| a.len() > 2048) {
                return Err(format!("{src}: an audience is at most 2048 characters"));
            }
        }
        if let Some((src, v)) = lookup("--assertion-audience-mode") {
            cfg.assertion_issuer_only = match v.as_str() {
                "any" => false,
                "issuer" => true,
                _ => return Err(format!("{src}: '{v}' is not any or issuer")),
            };
        }
        if let Some((src, v)) = lookup("--assertion-max-lifetime") {
            cfg.assertion_max_lifetime = parse_duration(&src, &v)?;
        }
        if let Some((src, v)) = lookup("--assertion-leeway") {
            cfg.assertion_leeway = parse_duration(&src, &v)?;
        }
        if let Some((src, v)) = lookup("--max-live-assertions") {
            cfg.max_live_assertions = parse_number(&src, &v, 1, 1 << 30)?;
        }
        if let Some((src, v)) = lookup("--replay-durability") {
            use crate::store::replay::Durability;
            cfg.replay_durability = match v.as_str() {
                "os" => Durability::Os,
                "disk" => Durability::Disk,
                _ => return Err(format!("{src}: '{v}' is not os or disk")),
            };
        }
        if let Some((src, v)) = lookup("--jwks-cache-ttl") {
            cfg.jwks_cache_ttl = parse_duration(&src, &v)?;
        }
        if let Some((src, v)) = lookup("--jwks-refetch-interval") {
            cfg.jwks_refetch_interval = parse_duration(&src, &v)?;
        }
        cfg.admin_password = env("THRONG_ADMIN_PASSWORD").filter(|p| !p.is_empty());
        cfg.validate()?;
        Ok(cfg)
    }

    /// Password KDF runs allowed at once: the configured number, or a quarter of the workers
    /// (at least one), so that password guessing can never hold every worker.
    pub fn kdf_slots(&self) -> usize {
        self.kdf_concurrency.unwrap_or((self.workers / 4).max(1)).min(self.workers)
    }

    /// Checks rules that span several options.
    pub fn validate(&self) -> Result<(), String> {
        if self.token_ttl < Duration::from_secs(1) || self.token_ttl > Duration::from_secs(86_400) {
            return Err("token TTL must be between 1s and 24h".into());
        }
        if self.purge_interval < Duration::from_millis(10) {
            return Err("purge interval must be at least 10ms".into());
        }
        if self.workers == 0 {
            return Err("workers must be at least 1".into());
        }
        for (name, d) in [
            ("idle timeout", self.idle_timeout),
            ("head timeout", self.head_timeout),
            ("body timeout", self.body_timeout),
            ("auth failure period", self.auth_failure_period),
        ] {
            if d < Duration::from_millis(10) {
                return Err(format!("{name} must be at least 10ms"));
            }
        }
        if self.assertion_max_lifetime < Duration::from_secs(1)
            || self.assertion_max_lifetime > Duration::from_secs(86_400)
        {
            return Err("assertion max lifetime must be between 1s and 24h".into());
        }
        if self.jwks_cache_ttl < Duration::from_secs(1)
            || self.jwks_refetch_interval < Duration::from_secs(1)
        {
            return Err("the JWKS cache TTL and refetch interval must be at least 1s".into());
        }
        if self.assertion_leeway > Duration::from_secs(300) {
            return Err("assertion leeway must be at most 5m".into());
        }
        if self.max_url_bytes + 32 > self.max_head_bytes {
            return Err(
                "the request head limit must exceed the URL limit by at least 32 bytes".into()
            );
        }
        Ok(())
    }
}

fn parse_listen(v: &str) -> Result<SocketAddr, String> {
    let v = v.strip_prefix("http://").unwrap_or(v);
    if let Ok(addr) = v.parse() {
        return Ok(addr);
    }
    std::net::ToSocketAddrs::to_socket_addrs(v)
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("'{v}' is not an address such as 127.0.0.1:8095"))
}

fn parse_number(src: &str, v: &str, min: usize, max: usize) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("{src}: '{v}' is not a whole number in {min}..={max}")),
    }
}

fn parse_duration(src: &str, v: &str) -> Result<Duration, String> {
    humantime::parse_duration(v)
        .map_err(|e| format!("{src}: '{v}' is not a duration such as 90s or 1h ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_beat_environment_which_beats_defaults() {
        let env = |k: &str| match k {
            "THRONG_LISTEN" => Some("127.0.0.1:9000".to_string()),
            "THRONG_DATA" => Some("/tmp/x".to_string()),
            _ => None,
        };
        let cfg = Config::from_args_and_env(&args(&["--listen", "127.0.0.1:0"]), env).unwrap();
        assert_eq!(cfg.listen.port(), 0);
        assert_eq!(cfg.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(cfg.token_ttl, Duration::from_secs(3600));
        assert_eq!(cfg.pbkdf2_iterations, DEFAULT_PBKDF2_ITERATIONS);
    }

    #[test]
    fn durations_and_errors() {
        let cfg = Config::from_args_and_env(
            &args(&["--token-ttl=90s", "--rotation-grace", "2h"]),
            |_| None,
        )
        .unwrap();
        assert_eq!(cfg.token_ttl, Duration::from_secs(90));
        assert_eq!(cfg.rotation_grace, Duration::from_secs(7200));
        assert!(Config::from_args_and_env(&args(&["--token-ttl", "soon"]), |_| None).is_err());
        assert!(Config::from_args_and_env(&args(&["--bogus"]), |_| None).is_err());
        assert!(Config::from_args_and_env(&args(&["--workers"]), |_| None).is_err());
    }

    #[test]
    fn debug_hides_the_admin_password() {
        let cfg = Config { admin_password: Some("hunter2".into()), ..Config::default() };
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }
}
