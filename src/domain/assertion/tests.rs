//! Client assertions signed here, with ring, as a client would sign them: each rule refuses
//! what it must and names itself, and a good assertion passes.

use super::*;
use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::json;

const RSA_DER: &[u8] =
    include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/test-only-rsa-2048.der"));
/// The modulus of a 1024-bit key: too small.
const RSA_1024_N_HEX: &str = "E5B2A7FBCE434BB9AB596445662DAA022C4B4A5DA1B3EE552D037CBEFD9F962BACAE42C8DEDF4AE6CCE8013721D310DEFF04664632FCAFA1AB8491A0BA49B36CF84CD71E7CA491D43C83E801FAA1AFB350203BD2AA4E71509A83022F101A2A325FBC9B27E636B7FEAC9BC05D3231179A75A4B2454529AB89C3CC0E94F8250F99";
const NOW: u64 = 1_800_000_000;
const TOKEN_URL: &str = "https://crowd.example.com/rest/oauth2/latest/token";

fn b64(bytes: &[u8]) -> String {
    crypto::b64url(bytes)
}

/// Signs a JWS signing input, as a client's private key does.
type Sign = Box<dyn Fn(&[u8]) -> Vec<u8>>;

struct Signer {
    alg: &'static str,
    jwk: Value,
    sign: Sign,
}

fn rsa(kid: &str) -> Signer {
    let pair = RsaKeyPair::from_der(RSA_DER).unwrap();
    let public = sig::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
    let jwk =
        json!({"kty": "RSA", "kid": kid, "use": "sig", "n": b64(&public.n), "e": b64(&public.e)});
    let sign = Box::new(move |msg: &[u8]| {
        let mut out = vec![0u8; pair.public().modulus_len()];
        pair.sign(&sig::RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut out).unwrap();
        out
    });
    Signer { alg: "RS256", jwk, sign }
}

fn ec(kid: &str) -> Signer {
    let rng = SystemRandom::new();
    let alg = &sig::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&point[1..33]), "y": b64(&point[33..])});
    let sign =
        Box::new(move |msg: &[u8]| pair.sign(&SystemRandom::new(), msg).unwrap().as_ref().to_vec());
    Signer { alg: "ES256", jwk, sign }
}

impl Signer {
    fn jws(&self, header: Value, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = (self.sign)(input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }

    fn header(&self) -> Value {
        json!({"alg": self.alg, "kid": self.jwk["kid"], "typ": "JWT"})
    }
}

fn claims() -> Value {
    json!({"iss": "svc", "sub": "svc", "aud": TOKEN_URL, "iat": NOW, "exp": NOW + 3600, "jti": "j-1"})
}

fn rules(audiences: &[String]) -> Rules<'_> {
    Rules {
        audiences,
        single_audience: false,
        leeway_secs: 60,
        max_lifetime_secs: 3600,
        now_secs: NOW,
    }
}

fn check(jws: &str, keys: &[Jwk]) -> Result<Verified, Refusal> {
    let audiences = [TOKEN_URL.to_string(), "https://crowd.example.com".to_string()];
    Assertion::parse(jws)?.verify("svc", keys, &rules(&audiences))
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    if value.is_null() {
        claims.as_object_mut().unwrap().remove(key);
    } else {
        claims[key] = value;
    }
    claims
}

#[test]
fn rs256_and_es256_assertions_verify_with_the_registered_keys() {
    let (r, e) = (rsa("rsa-1"), ec("ec-1"));
    let keys = parse_jwk_set(&json!({"keys": [r.jwk, e.jwk]})).unwrap();
    assert_eq!(keys.iter().map(|k| k.alg).collect::<Vec<_>>(), [Alg::Rs256, Alg::Es256]);
    for signer in [&r, &e] {
        let jws = signer.jws(signer.header(), claims());
        assert_eq!(
            check(&jws, &keys),
            Ok(Verified {
                client_id: "svc".into(),
                replay_key: "jti:svc:j-1".into(),
                replay_until: NOW + 3600 + 60
            })
        );
        assert_eq!(Assertion::parse(&jws).unwrap().unverified_subject().as_deref(), Some("svc"));
    }
    // aud as a list, naming the issuer; no kid with a single key of the algorithm.
    let claims = with(claims(), "aud", json!(["other", "https://crowd.example.com"]));
    let jws = e.jws(json!({"alg": "ES256"}), claims);
    assert!(check(&jws, &keys).is_ok());
}

#[test]
fn every_rule_refuses_and_names_itself() {
    let (r, e) = (rsa("rsa-1"), ec("ec-1"));
    let keys = parse_jwk_set(&json!({"keys": [r.jwk, e.jwk]})).unwrap();
    let refused = |jws: String, rule: &str| {
        let Err(Refusal(why)) = check(&jws, &keys) else { panic!("accepted, expected: {rule}") };
        assert!(why.contains(rule), "{why:?} should say {rule:?}");
    };
    // The signature: another key's, a tampered payload, none at all.
    let other = ec("ec-1");
    refused(other.jws(other.header(), claims()), "signature does not verify");
    let good = e.jws(e.header(), claims());
    let (input, signature) = good.rsplit_once('.').unwrap();
    let (header, _) = input.split_once('.').unwrap();
    let forged = b64(with(claims(), "sub", json!("admin")).to_string().as_bytes());
    refused(format!("{header}.{forged}.{signature}"), "signature does not verify");
    refused(format!("{input}."), "signature does not verify");
    // The header: alg none, HS256, an alg that is not the key's, unknown kid, crit.
    let unsigned =
        format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(claims().to_string().as_bytes()));
    refused(unsigned, "alg 'none' is not accepted");
    refused(e.jws(json!({"alg": "HS256", "kid": "ec-1"}), claims()), "alg 'HS256' is not accepted");
    refused(
        e.jws(json!({"alg": "RS256", "kid": "ec-1"}), claims()),
        "is a key for ES256, not RS256",
    );
    refused(e.jws(json!({"alg": "ES256", "kid": "nope"}), claims()), "no key with kid 'nope'");
    refused(e.jws(json!({"alg": "ES256", "kid": "ec-1", "crit": ["exp"]}), claims()), "crit");
    // The claims, each.
    let signed = |c: Value| e.jws(e.header(), c);
    refused(signed(with(claims(), "iss", json!("other"))), "iss and sub");
    refused(signed(with(claims(), "sub", Value::Null)), "iss and sub");
    refused(signed(with(claims(), "aud", json!("https://elsewhere"))), "aud must name");
    refused(signed(with(claims(), "aud", Value::Null)), "aud must name");
    refused(signed(with(claims(), "exp", Value::Null)), "exp is required");
    refused(signed(with(claims(), "exp", json!(NOW - 61))), "expired");
    refused(signed(with(claims(), "exp", json!(NOW + 3600 + 61))), "valid for too long");
    refused(signed(with(claims(), "nbf", json!(NOW + 61))), "not valid yet");
    refused(signed(with(claims(), "iat", json!(NOW + 61))), "in the future");
    refused(signed(with(claims(), "jti", json!("x".repeat(257)))), "jti is at most 256");
    refused(signed(with(claims(), "jti", json!(""))), "jti is at most 256");
    // No jti (part C's example signs none): the signed content is what may not come twice,
    // whichever of its signatures comes (ECDSA signs the same content anew each time, and
    // each signature has a second valid form).
    let no_jti = with(claims(), "jti", Value::Null);
    let (one, two) = (signed(no_jti.clone()), signed(no_jti));
    assert_ne!(one, two);
    let (input, _) = one.rsplit_once('.').unwrap();
    let digest = crypto::hex(&crypto::sha256(input.as_bytes()));
    let key = check(&one, &keys).unwrap().replay_key;
    assert_eq!(key, format!("signed:svc:{digest}"));
    assert_eq!(check(&two, &keys).unwrap().replay_key, key);
    // Each half of iss = sub = client, and an aud list naming nothing of this server's.
    refused(
        signed(with(with(claims(), "iss", json!("other")), "sub", json!("other"))),
        "iss and sub",
    );
    refused(signed(with(claims(), "aud", json!(["a", "b"]))), "aud must name");
    // The edges: accepted until exp + leeway, not at it.
    refused(signed(with(claims(), "exp", json!(NOW - 60))), "expired");
    assert!(check(&signed(with(claims(), "exp", json!(NOW - 59))), &keys).is_ok());
    // Header and claims must be objects; base64url without padding.
    let array_header = format!("{}.{}.{}", b64(br#"["ES256","ec-1"]"#), b64(b"{}"), b64(b"sig"));
    refused(array_header, "not a JSON object");
    let (h, rest) = good.split_once('.').unwrap();
    refused(format!("{h}=.{rest}"), "not base64url");
    // An RS256 assertion for a client with only an EC key.
    let only_ec = parse_jwk_set(&json!({"keys": [ec("e").jwk]})).unwrap();
    let jws = r.jws(json!({"alg": "RS256"}), claims());
    let Err(Refusal(why)) =
        Assertion::parse(&jws).unwrap().verify("svc", &only_ec, &rules(&[TOKEN_URL.into()]))
    else {
        panic!()
    };
    assert!(why.contains("no RS256 key is registered"), "{why}");
    // Within the leeway: accepted.
    assert!(check(&signed(with(claims(), "exp", json!(NOW - 59))), &keys).is_ok());
    assert!(check(&signed(with(claims(), "nbf", json!(NOW + 59))), &keys).is_ok());
    // Envelopes that are not a JWS.
    for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!", &"x".repeat(MAX_ASSERTION_BYTES + 1)] {
        assert!(Assertion::parse(bad).is_err(), "{bad:.20}");
    }
    // Two keys of one algorithm and no kid: which one is not guessed.
    let two = parse_jwk_set(&json!({"keys": [ec("a").jwk, ec("b").jwk]})).unwrap();
    let jws = e.jws(json!({"alg": "ES256"}), claims());
    let Err(Refusal(why)) =
        Assertion::parse(&jws).unwrap().verify("svc", &two, &rules(&[TOKEN_URL.into()]))
    else {
        panic!()
    };
    assert!(why.contains("needs a kid"), "{why}");
}

#[test]
fn a_jwk_set_is_refused_for_small_rsa_keys_private_parts_other_uses_and_curves() {
    let n1024 = crypto::parse_hex::<128>(RSA_1024_N_HEX).unwrap();
    let refused = |set: Value, rule: &str| {
        let Err(Refusal(why)) = parse_jwk_set(&set) else { panic!("accepted: {set}") };
        assert!(why.contains(rule), "{why:?} should say {rule:?}");
    };
    let key = |k: Value| json!({"keys": [k]});
    refused(key(json!({"kty": "RSA", "n": b64(&n1024), "e": "AQAB"})), "1024 bits: at least 2048");
    for part in ["d", "p", "qi", "k"] {
        let mut private = rsa("r").jwk;
        private[part] = json!("AAAA");
        refused(key(private), "private or secret part");
    }
    let mut ops = ec("e").jwk;
    ops["key_ops"] = json!(["verify", "sign"]);
    refused(key(ops), "key_ops");
    for e in ["AAEAAQ", "AQAA", "Ag", "AQ"] {
        let mut bad_e = rsa("r").jwk;
        bad_e["e"] = json!(e);
        refused(key(bad_e), "n or e");
    }
    let mut off_curve = ec("e").jwk;
    off_curve["y"] = json!(b64(&[7u8; 32]));
    refused(key(off_curve), "not on the curve");
    let mut enc = ec("e").jwk;
    enc["use"] = json!("enc");
    refused(key(enc), "'use' is not 'sig'");
    let mut wrong_alg = ec("e").jwk;
    wrong_alg["alg"] = json!("RS256");
    refused(key(wrong_alg), "alg 'RS256' for a key that signs ES256");
    refused(key(json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"})), "P-256");
    refused(key(json!({"kty": "oct"})), "type 'oct'");
    refused(key(json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"})), "32 bytes");
    refused(json!({"keys": [ec("same").jwk, ec("same").jwk]}), "kid 'same' is in the set twice");
    refused(json!({"keys": []}), "1 to 20 keys");
    refused(json!([]), "{\"keys\"");
    // A modulus with a leading zero byte (some writers add one) is read without it.
    let mut padded = rsa("p").jwk;
    let n = crypto::b64url_decode(padded["n"].as_str().unwrap()).unwrap();
    padded["n"] = json!(b64(&[&[0u8][..], &n].concat()));
    let keys = parse_jwk_set(&key(padded)).unwrap();
    let r = rsa("p");
    assert!(check(&r.jws(r.header(), claims()), &keys).is_ok());
}
