//! Key sets that clients publish at a JWKS URL (`jwks_uri`, RFC 7591 §2), fetched with the
//! outgoing HTTP client and cached.
//!
//! A set is used for `--jwks-cache-ttl` after it was fetched. An assertion naming a `kid` the
//! cached set lacks fetches it again at once (a client that rotated its key publishes the
//! new one first), but at most once per `--jwks-refetch-interval`, so a stream of made-up
//! `kid`s cannot turn throng into a load generator against the client's server. A URL that
//! is down, slow or answers something that is not a valid key set fails the assertion; the
//! failure too is kept for the refetch interval, so a down URL costs one call per interval,
//! not one per token request. One request fetches while the others go on with the keys
//! already cached (or, with none, are refused at once): no lock is held across the network,
//! so a slow JWKS host holds one request, not every request of its client. What the client
//! is told of a failure is its kind (no answer, a status, not JSON, a refused key set); the
//! URL and the network error go to the log.

use crate::domain::assertion::{parse_jwk_set, Jwk, Refusal};
use crate::remote::client::Outbound;
use crate::store::records::Millis;
use crate::sync::MutexExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The largest key set read: twenty RSA-8192 keys are about 30 KB.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// What fetching a URL's key set last gave.
#[derive(Default)]
struct Fetched {
    keys: Option<Arc<Vec<Jwk>>>,
    /// When `keys` were fetched.
    fetched_at: Millis,
    /// When a fetch was last made, and why it failed if it did.
    attempted_at: Option<Millis>,
    failure: Option<String>,
    /// A request is fetching now.
    fetching: bool,
}

/// Key sets by URL.
#[derive(Default)]
pub struct JwksCache {
    urls: Mutex<HashMap<String, Arc<Mutex<Fetched>>>>,
}

/// How the cache is used: the client to fetch with and the two intervals.
pub struct Fetching<'a> {
    pub outbound: &'a Outbound,
    pub ttl_ms: Millis,
    pub refetch_ms: Millis,
    pub now: Millis,
}

impl JwksCache {
    /// The key set at `url`, fetched if the cached one is too old, or lacks `kid` and the
    /// refetch interval has passed.
    pub fn keys(
        &self,
        f: &Fetching<'_>,
        url: &str,
        kid: Option<&str>,
    ) -> Result<Arc<Vec<Jwk>>, Refusal> {
        let slot = self.urls.locked().entry(url.to_string()).or_default().clone();
        {
            let mut state = slot.locked();
            let fresh = state.keys.is_some() && f.now < state.fetched_at.saturating_add(f.ttl_ms);
            let has_kid =
                |keys: &[Jwk]| kid.is_none_or(|k| keys.iter().any(|j| j.kid.as_deref() == Some(k)));
            let may_fetch = !state.fetching
                && state.attempted_at.is_none_or(|at| f.now >= at.saturating_add(f.refetch_ms));
            if let Some(keys) = &state.keys {
                // Without the kid and not to be fetched now: verification names the missing
                // kid. While another request fetches, the cached keys still serve.
                let settled = !may_fetch && (state.failure.is_none() || state.fetching);
                if (fresh && has_kid(keys)) || settled {
                    return Ok(keys.clone());
                }
            }
            if !may_fetch {
                let why = if state.fetching {
                    "the client's JWKS URL is being fetched; try again in a moment".to_string()
                } else {
                    state.failure.clone().unwrap_or_default()
                };
                return Err(Refusal(why));
            }
            state.fetching = true;
            state.attempted_at = Some(f.now);
        }
        // The network call, with no lock held.
        let fetched = fetch(f.outbound, url);
        let mut state = slot.locked();
        state.fetching = false;
        match fetched {
            Ok(keys) => {
                let keys = Arc::new(keys);
                state.keys = Some(keys.clone());
                state.fetched_at = f.now;
                state.failure = None;
                Ok(keys)
            }
            Err((told, detail)) => {
                log::warn!("fetching the JWK set at {url}: {detail}");
                let why = format!("the client's JWKS URL could not be used: {told}");
                state.failure = Some(why.clone());
                Err(Refusal(why))
            }
        }
    }

    /// Forgets what was fetched from `url` (its client's keys changed).
    pub fn forget(&self, url: &str) {
        self.urls.locked().remove(url);
    }
}

/// The key set at `url`, or what to tell the client and what to log.
fn fetch(outbound: &Outbound, url: &str) -> Result<Vec<Jwk>, (String, String)> {
    let both = |s: String| (s.clone(), s);
    let answer = outbound
        .get(url, &[("Accept", "application/jwk-set+json, application/json")])
        .map_err(|e| ("it did not answer".to_string(), e.to_string()))?;
    if answer.status != 200 {
        return Err(both(format!("it answered HTTP {}", answer.status)));
    }
    if answer.body.len() > MAX_JWKS_BYTES {
        return Err(both(format!("its key set is over {MAX_JWKS_BYTES} bytes")));
    }
    let set: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|e| ("its answer is not JSON".to_string(), format!("not JSON: {e}")))?;
    parse_jwk_set(&set).map_err(|r| both(format!("its key set is refused: {}", r.0)))
}
