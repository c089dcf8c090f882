//! JWT client assertions (`private_key_jwt`, RFC 7523 §2.2 and §3; OpenID Connect Core §9):
//! a client authenticates at the token endpoint with a JWS it signed with its private key,
//! and throng holds only the public keys, as a JWK set (RFC 7517).
//!
//! This module is the rules, without HTTP or storage: reading a JWK set a client registers
//! ([`parse_jwk_set`]: RSA keys of 2048 bits or more for RS256, P-256 keys for ES256), reading
//! a compact JWS ([`Assertion::parse`]), and checking it ([`Assertion::verify`]): the header's
//! `alg` on the allow-list and bound to the key's type, the key chosen by `kid`, the
//! signature (`crypto::verify_jws`), then the claims — `iss` = `sub` = the client, `aud`
//! naming this server, `exp` present and not past, a bounded lifetime, `nbf` and `iat` not in
//! the future (each with a small leeway), and what makes it single-use (its `jti`, or without
//! one the assertion itself). The claims are read only once the signature holds. Every refusal names the rule it broke ([`Refusal`]), which the token
//! endpoint reports as `invalid_client` and nothing more.

use crate::crypto::{self, JwsKey};
use serde::Deserialize;
use serde_json::Value;

/// The longest assertion read; a JWS of an RSA-8192 signature and ordinary claims is far
/// below it.
pub const MAX_ASSERTION_BYTES: usize = 8 * 1024;
/// Most keys a client's JWK set may hold.
pub const MAX_KEYS: usize = 20;

/// A signature algorithm a client assertion may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Es256,
}

impl Alg {
    fn parse(name: &str) -> Option<Alg> {
        match name {
            "RS256" => Some(Alg::Rs256),
            "ES256" => Some(Alg::Es256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }
}

/// One public key of a client's JWK set, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    pub kid: Option<String>,
    /// The algorithm its type allows (RSA: RS256, EC P-256: ES256).
    pub alg: Alg,
    pub key: JwsKey,
}

/// Why a JWK set or an assertion is refused: the rule, in words for `error_description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

fn refuse<T>(why: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(why.into()))
}

#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    key_ops: Option<Vec<String>>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    /// A private key's parts: a set that holds one is refused (it was meant to stay home).
    d: Option<Value>,
    p: Option<Value>,
    q: Option<Value>,
    dp: Option<Value>,
    dq: Option<Value>,
    qi: Option<Value>,
    oth: Option<Value>,
    k: Option<Value>,
}

fn b64_field(v: &Option<String>, what: &str) -> Result<Vec<u8>, Refusal> {
    let text = v.as_deref().ok_or_else(|| Refusal(format!("a JWK without '{what}'")))?;
    crypto::b64url_decode(text).ok_or_else(|| Refusal(format!("'{what}' is not base64url")))
}

/// A client's JWK set (`{"keys":[…]}`), as registered: each key RSA (2048 bits or more) or
/// EC P-256, for signing, public only; `kid`s unique. The keys a set holds for other uses
/// (`use` other than `sig`, `key_ops` without `verify`) are refused rather than skipped, so
/// that what is registered is what is used.
pub fn parse_jwk_set(set: &Value) -> Result<Vec<Jwk>, Refusal> {
    let Some(keys) = set.get("keys").and_then(Value::as_array) else {
        return refuse("a JWK set is {\"keys\":[…]}");
    };
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return refuse(format!("a JWK set holds 1 to {MAX_KEYS} keys"));
    }
    let mut out: Vec<Jwk> = Vec::with_capacity(keys.len());
    for key in keys {
        let jwk = parse_jwk(key)?;
        if jwk.kid.is_some() && out.iter().any(|k| k.kid == jwk.kid) {
            return refuse(format!("kid '{}' is in the set twice", jwk.kid.unwrap_or_default()));
        }
        out.push(jwk);
    }
    Ok(out)
}

fn parse_jwk(key: &Value) -> Result<Jwk, Refusal> {
    let raw = RawJwk::deserialize(key).map_err(|e| Refusal(format!("not a JWK: {e}")))?;
    let private = [&raw.d, &raw.p, &raw.q, &raw.dp, &raw.dq, &raw.qi, &raw.oth, &raw.k];
    if private.iter().any(|part| part.is_some()) {
        return refuse("a JWK with a private or secret part: register the public key only");
    }
    if raw.usage.as_deref().is_some_and(|u| u != "sig") {
        return refuse("a JWK whose 'use' is not 'sig'");
    }
    if raw.key_ops.as_ref().is_some_and(|ops| ops.is_empty() || ops.iter().any(|o| o != "verify")) {
        return refuse("a JWK whose 'key_ops' is anything but [\"verify\"]");
    }
    let (alg, key) = match raw.kty.as_deref() {
        Some("RSA") => {
            let n = b64_field(&raw.n, "n")?;
            // RFC 7518 §6.3.1.1 forbids a leading zero; some writers add one anyway.
            let n = n[n.iter().take_while(|b| **b == 0).count()..].to_vec();
            let bits = n.first().map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
            if bits < 2048 {
                return refuse(format!("an RSA key of {bits} bits: at least 2048 are required"));
            }
            if bits > 8192 {
                return refuse(format!("an RSA key of {bits} bits: at most 8192 are accepted"));
            }
            // What ring verifies with (an odd modulus, an odd exponent of 3 to 33 bits, no
            // leading zero), refused now rather than failing every assertion later.
            let e = b64_field(&raw.e, "e")?;
            let e_ok = !e.is_empty()
                && e[0] != 0
                && e.len() <= 5
                && e.last().is_some_and(|b| b & 1 == 1)
                && (e.len() > 1 || e[0] >= 3)
                && (e.len() < 5 || e[0] == 1);
            if !e_ok || n.last().is_some_and(|b| b & 1 == 0) {
                return refuse("an RSA key whose n or e is not one RS256 verifies with");
            }
            (Alg::Rs256, JwsKey::Rs256 { n, e })
        }
        Some("EC") if raw.crv.as_deref() == Some("P-256") => {
            let (x, y) = (b64_field(&raw.x, "x")?, b64_field(&raw.y, "y")?);
            // RFC 7518 §6.2.1.2: full-length coordinates.
            if x.len() != 32 || y.len() != 32 {
                return refuse("a P-256 key's x and y are 32 bytes each");
            }
            let mut point = [0u8; 65];
            point[0] = 4;
            point[1..33].copy_from_slice(&x);
            point[33..].copy_from_slice(&y);
            if !crypto::p256_point_is_valid(&point) {
                return refuse("a P-256 key whose point is not on the curve");
            }
            (Alg::Es256, JwsKey::Es256 { point })
        }
        Some("EC") => return refuse("an EC key on a curve other than P-256"),
        other => {
            return refuse(format!(
                "a JWK of type '{}': RSA (RS256) and EC P-256 (ES256) are accepted",
                other.unwrap_or("")
            ))
        }
    };
    if let Some(named) = raw.alg.as_deref() {
        if Alg::parse(named) != Some(alg) {
            return refuse(format!("a JWK with alg '{named}' for a key that signs {}", alg.name()));
        }
    }
    Ok(Jwk { kid: raw.kid, alg, key })
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    crit: Option<Value>,
}

/// `aud`: one string or several (RFC 7519 §4.1.3).
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<f64>,
    nbf: Option<f64>,
    iat: Option<f64>,
    jti: Option<String>,
}

/// `bytes` as a JSON object read into `T` (a JSON array would read into a struct too, by
/// position; RFC 7515 and 7519 allow only objects).
fn object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    if !value.is_object() {
        return None;
    }
    T::deserialize(value).ok()
}

/// A compact JWS read but not yet checked.
pub struct Assertion<'a> {
    alg: Alg,
    kid: Option<String>,
    /// `BASE64URL(header) "." BASE64URL(payload)`: what the signature signs.
    signing_input: &'a str,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

/// What a client assertion's claims are held to.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    /// Any of these in `aud` names this server: its token endpoint URL, its issuer, and what
    /// the operator adds.
    pub audiences: &'a [String],
    /// `aud` must be one string, not an array (with `audiences` the issuer alone: the
    /// stricter reading of draft-ietf-oauth-rfc7523bis, after the 2025 audience-injection
    /// disclosure against private_key_jwt).
    pub single_audience: bool,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway_secs: u64,
    /// The longest an assertion may still be valid for when it arrives (`exp` − now).
    pub max_lifetime_secs: u64,
    pub now_secs: u64,
}

/// An assertion that holds: its client, and what makes it single-use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub client_id: String,
    /// `jti:{client}:{jti}` when it carries one (RFC 7523 §3 item 7: a client's `jti` is not
    /// accepted twice). Part C of Atlassian's SCIM set-up signs no `jti`, so without one the
    /// signed content is what may not come twice: `signed:{client}:{SHA-256 of the header
    /// and claims, hex}`. Not the signature's digest: an ECDSA signature has a second valid
    /// form (s and n−s), which would make a replay look new.
    pub replay_key: String,
    /// Until when (seconds) the replay record must be kept: `exp` plus the leeway, the last
    /// instant the assertion is accepted.
    pub replay_until: u64,
}

impl<'a> Assertion<'a> {
    /// Reads a compact JWS: three base64url parts, a header with an allowed `alg` (never
    /// `none` nor `HS*`), no `crit` extension this server does not know.
    pub fn parse(jws: &'a str) -> Result<Assertion<'a>, Refusal> {
        if jws.len() > MAX_ASSERTION_BYTES {
            return refuse(format!("the assertion is over {MAX_ASSERTION_BYTES} bytes"));
        }
        let mut parts = jws.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return refuse("the assertion is not a compact JWS (three parts)");
        };
        let decode = |part: &str, what: &str| {
            crypto::b64url_decode(part)
                .ok_or_else(|| Refusal(format!("the {what} is not base64url")))
        };
        let header: Header = object(&decode(h, "JWS header")?)
            .ok_or_else(|| Refusal("the JWS header is not a JSON object".into()))?;
        if header.crit.is_some() {
            return refuse("the JWS header has 'crit' extensions this server does not know");
        }
        let alg = match header.alg.as_deref() {
            Some(name) => Alg::parse(name)
                .ok_or_else(|| Refusal(format!("alg '{name}' is not accepted: RS256 or ES256")))?,
            None => return refuse("the JWS header has no alg"),
        };
        Ok(Assertion {
            alg,
            kid: header.kid,
            signing_input: &jws[..h.len() + 1 + p.len()],
            payload: decode(p, "JWS payload")?,
            signature: decode(s, "JWS signature")?,
        })
    }

    /// The header's `kid`, which picks the client's key.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `sub` claim before any check: only to find whose keys to check with (RFC 7521
    /// §4.2: `client_id` may be left out of the request).
    pub fn unverified_subject(&self) -> Option<String> {
        object::<Claims>(&self.payload)?.sub
    }

    /// Checks the assertion against client `client_id`'s `keys` and `rules`.
    pub fn verify(
        &self,
        client_id: &str,
        keys: &[Jwk],
        rules: &Rules,
    ) -> Result<Verified, Refusal> {
        let key = self.key(keys)?;
        if !crypto::verify_jws(&key.key, self.signing_input.as_bytes(), &self.signature) {
            return refuse("the signature does not verify with the client's key");
        }
        let claims: Claims = object(&self.payload)
            .ok_or_else(|| Refusal("the JWS payload is not a JSON object of claims".into()))?;
        if claims.iss.as_deref() != Some(client_id) || claims.sub.as_deref() != Some(client_id) {
            return refuse("iss and sub must both be the client id");
        }
        let audience_ok = match &claims.aud {
            Some(Audience::One(a)) => rules.audiences.contains(a),
            Some(Audience::Many(_)) if rules.single_audience => {
                return refuse("aud must be a single string naming the issuer");
            }
            Some(Audience::Many(all)) => all.iter().any(|a| rules.audiences.contains(a)),
            None => false,
        };
        if !audience_ok {
            return refuse("aud must name this server: its token endpoint URL or its issuer");
        }
        let now = rules.now_secs as f64;
        let leeway = rules.leeway_secs as f64;
        let Some(exp) = claims.exp.filter(|e| e.is_finite()) else {
            return refuse("exp is required");
        };
        if now >= exp + leeway {
            return refuse("the assertion has expired (exp)");
        }
        if exp - now > rules.max_lifetime_secs as f64 + leeway {
            return refuse(format!(
                "the assertion is valid for too long: exp at most {} s ahead",
                rules.max_lifetime_secs
            ));
        }
        if claims.nbf.is_some_and(|nbf| !nbf.is_finite() || now + leeway < nbf) {
            return refuse("the assertion is not valid yet (nbf)");
        }
        if claims.iat.is_some_and(|iat| !iat.is_finite() || now + leeway < iat) {
            return refuse("the assertion was issued in the future (iat)");
        }
        let replay_key = match claims.jti {
            Some(j) if !j.is_empty() && j.len() <= 256 => format!("jti:{client_id}:{j}"),
            Some(_) => return refuse("jti is at most 256 characters, and not empty"),
            None => {
                let digest = crypto::sha256(self.signing_input.as_bytes());
                format!("signed:{client_id}:{}", crypto::hex(&digest))
            }
        };
        let replay_until = (exp + leeway).ceil() as u64;
        Ok(Verified { client_id: client_id.to_string(), replay_key, replay_until })
    }

    /// The key named by `kid`, of the header's algorithm; with no `kid`, the one key of that
    /// algorithm if there is exactly one (authlib sends a `kid` only when told to).
    fn key<'k>(&self, keys: &'k [Jwk]) -> Result<&'k Jwk, Refusal> {
        let mut of_alg = keys.iter().filter(|k| k.alg == self.alg);
        match &self.kid {
            Some(kid) => match keys.iter().find(|k| k.kid.as_deref() == Some(kid)) {
                Some(k) if k.alg == self.alg => Ok(k),
                Some(k) => refuse(format!(
                    "kid '{kid}' is a key for {}, not {}",
                    k.alg.name(),
                    self.alg.name()
                )),
                None => refuse(format!("no key with kid '{kid}' is registered for the client")),
            },
            None => match (of_alg.next(), of_alg.next()) {
                (Some(k), None) => Ok(k),
                (None, _) => {
                    refuse(format!("no {} key is registered for the client", self.alg.name()))
                }
                (Some(_), Some(_)) => refuse("the client has several keys: the header needs a kid"),
            },
        }
    }
}

#[cfg(test)]
mod tests;
