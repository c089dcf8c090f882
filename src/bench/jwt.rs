//! `private_key_jwt` issuance for `throng bench` (scenarios `jwt-rs256` and `jwt-es256`), and
//! the signing the integration tests use too: a client that signs RFC 7523 assertions with
//! ring, as an identity provider does.
//!
//! Every assertion is single-use, so a run needs as many as it sends. They are signed before
//! the run, on every core, so that the load generator's signing (an RSA-2048 signature costs
//! about half a millisecond, twenty times the server's verification) is not what is measured.
//! `--jwt-pool` sets how many per run; a run that uses them up signs the rest as it goes, and
//! says so, since its figure is then the signer's.
//!
//! The RS256 key is the repository's test key (`tests/keys`): ring cannot generate RSA keys,
//! and the bench only ever registers its public half on service accounts it creates for the
//! run and archives after it.

use super::loadgen::{Request, Scenario};
use super::{call, form_encode, SA_PATH};
use crate::crypto::b64url;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The repository's RSA-2048 test key, PKCS#1 DER. Public: never trust it for anything.
pub const TEST_RSA_DER: &[u8] = include_bytes!("../../tests/keys/test-only-rsa-2048.der");

/// How long the bench's assertions are valid: the signing before a run and the run itself
/// fit in it, and the server's replay guard forgets them soon after.
const LIFETIME: u64 = 300;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub enum Key {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A signing key and the `kid` it is registered under.
pub struct Signer {
    pub kid: String,
    pub key: Key,
}

impl Signer {
    /// RS256 with the test key.
    pub fn rsa(kid: &str) -> Signer {
        let pair = RsaKeyPair::from_der(TEST_RSA_DER).expect("the test key reads");
        Signer { kid: kid.into(), key: Key::Rsa(pair) }
    }

    /// ES256 with a P-256 key made now.
    pub fn ec(kid: &str) -> Signer {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("a P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("it reads");
        Signer { kid: kid.into(), key: Key::Ec(pair) }
    }

    pub fn alg(&self) -> &'static str {
        match self.key {
            Key::Rsa(_) => "RS256",
            Key::Ec(_) => "ES256",
        }
    }

    /// The public JWK, with its `kid`.
    pub fn jwk(&self) -> Value {
        match &self.key {
            Key::Rsa(k) => {
                let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(k.public());
                json!({
                    "kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256",
                    "n": b64url(&public.n), "e": b64url(&public.e),
                })
            }
            Key::Ec(k) => {
                let point = k.public_key().as_ref();
                json!({
                    "kty": "EC", "crv": "P-256", "kid": self.kid,
                    "x": b64url(&point[1..33]), "y": b64url(&point[33..65]),
                })
            }
        }
    }

    /// `{"keys":[this key]}`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk()] })
    }

    /// Signs `header` and `claims` as given (nothing added).
    pub fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let sig = match &self.key {
            Key::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
                    .expect("RSA signs");
                sig
            }
            Key::Ec(k) => k.sign(&rng, input.as_bytes()).expect("ECDSA signs").as_ref().to_vec(),
        };
        format!("{input}.{}", b64url(&sig))
    }

    /// An assertion with this key's `alg` and `kid` over `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_raw(&json!({ "alg": self.alg(), "kid": self.kid, "typ": "JWT" }), claims)
    }
}

/// Claims as an IdP signs them: `iss` = `sub` = the client, `aud`, a fresh `jti`, and `exp`
/// `lifetime` seconds after `now`.
pub fn claims(client_id: &str, aud: &str, now: u64, lifetime: u64) -> Value {
    json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "exp": now + lifetime, "iat": now,
        "jti": crate::crypto::hex(&crate::crypto::random_bytes::<12>()),
    })
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A token request form with `assertion` and no `client_id`, as authlib sends it.
pub fn form(assertion: &str) -> String {
    format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={assertion}",
        form_encode(ASSERTION_TYPE)
    )
}

/// A service account the bench created with a key, to archive after the run.
pub struct JwtClient {
    pub account: u64,
    pub client_id: String,
    pub signer: Arc<Signer>,
    /// The token endpoint, as the server names it (its `aud`).
    pub aud: String,
}

/// Creates an account holding `signer`'s public key with admin Basic credentials.
pub fn create(
    addr: SocketAddr,
    prefix: &str,
    admin: (&str, &str),
    signer: Signer,
) -> Result<JwtClient, String> {
    let meta = call(
        addr,
        &Request::get(&format!("{prefix}/.well-known/oauth-authorization-server")),
        200,
    )?;
    let aud = meta["token_endpoint"].as_str().ok_or("no token_endpoint in the metadata")?;
    let body = json!({"displayName": format!("bench {}", signer.alg()), "expiryDuration": 86_400,
        "scopes": ["manage:directory"], "jwks": signer.jwks()});
    let req = Request::post(&format!("{prefix}{SA_PATH}")).basic(admin.0, admin.1).json(&body);
    let account = call(addr, &req, 201)?;
    Ok(JwtClient {
        account: account["id"].as_u64().ok_or("no account id")?,
        client_id: account["authMethods"][0]["clientId"].as_str().ok_or("no clientId")?.into(),
        signer: Arc::new(signer),
        aud: aud.to_string(),
    })
}

/// Archives the account: its key is public.
pub fn archive(addr: SocketAddr, prefix: &str, admin: (&str, &str), c: &JwtClient) {
    let req =
        Request::new("DELETE", &format!("{prefix}{SA_PATH}/{}", c.account)).basic(admin.0, admin.1);
    if let Err(e) = call(addr, &req, 204) {
        eprintln!("throng bench: archiving the bench's key account {}: {e}", c.account);
    }
}

/// `n` assertions for `client`, signed on every core, each as a token request form.
fn sign_many(client: &JwtClient, n: usize) -> Vec<Vec<u8>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let now = unix_now();
    let per = n.div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    (0..per)
                        .map(|_| {
                            let c = claims(&client.client_id, &client.aud, now, LIFETIME);
                            form(&client.signer.sign(&c)).into_bytes()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|p| p.join().expect("signing thread")).take(n).collect()
    })
}

/// For another load generator (`benches/jwt.sh` drives wrk with them): writes `n` token
/// request forms for `client`, one per line, to `path`.
pub fn write_forms(client: &JwtClient, n: usize, path: &std::path::Path) -> Result<(), String> {
    let mut text = Vec::new();
    for body in sign_many(client, n) {
        text.extend_from_slice(&body);
        text.push(b'\n');
    }
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// What one run sends: `pool` token requests, each with a fresh assertion, signed now on
/// every core; and a count of those signed during the run, after the pool ran out.
pub fn scenario(client: &JwtClient, path: &str, pool: usize) -> (Scenario, Arc<AtomicUsize>) {
    let bodies = sign_many(client, pool);
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let late = Arc::new(AtomicUsize::new(0));
    let base = Request::post(path).form("");
    let (signer, client_id, aud) =
        (client.signer.clone(), client.client_id.clone(), client.aud.clone());
    let counted = late.clone();
    let scenario = Scenario::per_connection(move |_| {
        let (bodies, next, late) = (bodies.clone(), next.clone(), counted.clone());
        let (signer, client_id, aud) = (signer.clone(), client_id.clone(), aud.clone());
        let mut first = Some(base.clone());
        move |out: &mut Request, _| {
            if let Some(r) = first.take() {
                *out = r;
            }
            out.body.clear();
            match bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                Some(body) => out.body.extend_from_slice(body),
                None => {
                    late.fetch_add(1, Ordering::Relaxed);
                    let c = claims(&client_id, &aud, unix_now(), LIFETIME);
                    out.body.extend_from_slice(form(&signer.sign(&c)).as_bytes());
                }
            }
        }
    });
    (scenario, late)
}
