//! Signing client assertions as an identity provider does: RS256 with the test RSA key
//! (`tests/keys`), ES256 with a P-256 key made per test, both with ring. Gives each key's
//! public JWK for registration and compact JWSs of any header and claims, including
//! malformed ones.

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};
use throng::crypto::b64url;

/// The test RSA key (2048 bits), PKCS#1 DER.
pub const RSA_DER: &[u8] = include_bytes!("../keys/test-only-rsa-2048.der");

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
    pub fn rsa(kid: &str) -> Signer {
        Signer { kid: kid.into(), key: Key::Rsa(RsaKeyPair::from_der(RSA_DER).unwrap()) }
    }

    pub fn ec(kid: &str) -> Signer {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
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
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig).unwrap();
                sig
            }
            Key::Ec(k) => k.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        };
        format!("{input}.{}", b64url(&sig))
    }

    /// An assertion with this key's `alg` and `kid` over `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_raw(&json!({ "alg": self.alg(), "kid": self.kid, "typ": "JWT" }), claims)
    }
}

/// Claims as part C signs them, plus a fresh `jti`: `iss` = `sub` = the client, `aud`, and
/// `exp` a minute from `now`.
pub fn claims(client_id: &str, aud: &str, now: u64) -> Value {
    json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "exp": now + 60, "iat": now,
        "jti": throng::crypto::hex(&throng::crypto::random_bytes::<12>()),
    })
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A token request form with `assertion` and no `client_id`, as authlib sends it.
pub fn form(assertion: &str) -> String {
    format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={assertion}",
        ASSERTION_TYPE.replace(':', "%3A")
    )
}
