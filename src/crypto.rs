//! Every cryptographic operation throng performs, all of them through ring.
//!
//! Nothing here is hand-rolled: randomness (`SystemRandom`), SHA-256, HMAC-SHA256, PBKDF2,
//! HKDF, ChaCha20-Poly1305 and constant-time comparison are ring's. This module only fixes
//! formats (hex, base64url, the stored password-hash string) and key handling.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{aead, digest, hkdf, hmac, pbkdf2};
use std::num::NonZeroU32;

/// Fills `buf` from the operating system's CSPRNG.
pub fn fill_random(buf: &mut [u8]) {
    // SystemRandom only fails if the OS RNG is unavailable; there is nothing safe to do then.
    SystemRandom::new().fill(buf).expect("operating system random number generator failed");
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    fill_random(&mut b);
    b
}

/// Random bytes for token ids, from a per-thread buffer refilled 1 KiB at a time from the
/// operating system's CSPRNG (ring's `SystemRandom`): the same randomness, one `getrandom`
/// system call per 64 tokens instead of one each. Never use it for keys.
pub fn random_id() -> [u8; 16] {
    use std::cell::RefCell;
    const POOL: usize = 1024;
    thread_local! {
        static BUF: RefCell<([u8; POOL], usize)> = const { RefCell::new(([0u8; POOL], POOL)) };
    }
    BUF.with(|b| {
        let (pool, used) = &mut *b.borrow_mut();
        if *used + 16 > POOL {
            fill_random(pool);
            *used = 0;
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&pool[*used..*used + 16]);
        // Wipe what was handed out so the pool never holds an id twice.
        pool[*used..*used + 16].fill(0);
        *used += 16;
        out
    })
}

/// Lowercase hex of `bytes`.
/// `n` characters from `[A-Za-z0-9]`, uniformly (rejection sampling over fresh randomness):
/// the shape of Crowd's 24-character SSO tokens.
pub fn random_alphanumeric(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes::<32>() {
            // 248 = 4 * 62: bytes at or above it would favour the first characters.
            if b < 248 && out.len() < n {
                out.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    out
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// A random RFC 4122 version-4 UUID in its hyphenated lowercase form.
pub fn uuid_v4() -> String {
    let mut b: [u8; 16] = random_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid_text(&b)
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// Decodes base64url into `out` without allocating; the decoded length, or `None`.
pub fn b64url_decode_into(s: &str, out: &mut [u8]) -> Option<usize> {
    URL_SAFE_NO_PAD.decode_slice(s, out).ok()
}

/// The 16 bytes of a hyphenated UUID, or of 32 hex digits.
pub fn parse_hex16(s: &str) -> Option<[u8; 16]> {
    parse_hex(s)
}

/// `N` bytes from exactly `2N` hex digits; hyphens (as in a UUID) are skipped.
pub fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    let mut digits = s.bytes().filter(|b| *b != b'-');
    for o in &mut out {
        let hi = (digits.next()? as char).to_digit(16)?;
        let lo = (digits.next()? as char).to_digit(16)?;
        *o = (hi * 16 + lo) as u8;
    }
    digits.next().is_none().then_some(out)
}

/// A UUID's hyphenated lowercase text.
pub fn uuid_text(b: &[u8; 16]) -> String {
    let h = hex(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Constant-time equality. ring marks its helper deprecated as "internal", but it is the
/// constant-time primitive ring ships, and our design card says ring does this; wrapping it
/// here keeps the one call site easy to swap.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    #[allow(deprecated)]
    ring::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Verifies a 256-bit random secret against its stored SHA-256. A fast hash is right for
/// high-entropy machine secrets; slow KDFs exist for guessable human passwords.
pub fn verify_secret_sha256(presented: &str, stored: &[u8; 32]) -> bool {
    ct_eq(&sha256(presented.as_bytes()), stored)
}

/// PBKDF2-HMAC-SHA256 password hash, stored as `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`.
pub fn hash_password(password: &str, iterations: u32) -> String {
    let iterations = NonZeroU32::new(iterations.max(1)).expect("non-zero");
    let salt: [u8; 16] = random_bytes();
    let mut out = [0u8; 32];
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iterations, &salt, password.as_bytes(), &mut out);
    format!("pbkdf2-sha256${}${}${}", iterations, b64url(&salt), b64url(&out))
}

/// Checks `password` against a string made by [`hash_password`], in constant time.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(iter), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(iter), Some(salt), Some(hash)) = (
        iter.parse::<u32>().ok().and_then(NonZeroU32::new),
        b64url_decode(salt),
        b64url_decode(hash),
    ) else {
        return false;
    };
    pbkdf2::verify(pbkdf2::PBKDF2_HMAC_SHA256, iter, &salt, password.as_bytes(), &hash).is_ok()
}

/// The server's master key (32 random bytes in `DATA/secret.key`) and the subkeys derived
/// from it with HKDF, one per purpose, so that no key serves two algorithms.
pub struct Keys {
    secrets_aead: aead::LessSafeKey,
    token_mac: hmac::Key,
    lookup_mac: hmac::Key,
    check_value: u64,
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn derive(master: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"throng key derivation v1").extract(master);
    let info = [purpose];
    let okm = prk.expand(&info, Len(32)).expect("32 bytes is a valid HKDF length");
    let mut out = [0u8; 32];
    okm.fill(&mut out).expect("length matches");
    out
}

fn check_value(master: &[u8; 32]) -> u64 {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &derive(master, b"key-check"));
    let tag = hmac::sign(&key, b"throng key check v1");
    u64::from_be_bytes(tag.as_ref()[..8].try_into().expect("a 32-byte tag"))
}

impl Keys {
    pub fn from_master(master: &[u8; 32]) -> Keys {
        let aead_key = derive(master, b"client-secret-aead");
        let unbound =
            aead::UnboundKey::new(&aead::CHACHA20_POLY1305, &aead_key).expect("32-byte key");
        Keys {
            secrets_aead: aead::LessSafeKey::new(unbound),
            token_mac: hmac::Key::new(hmac::HMAC_SHA256, &derive(master, b"access-token-hmac")),
            lookup_mac: hmac::Key::new(hmac::HMAC_SHA256, &derive(master, b"credential-cache")),
            check_value: check_value(master),
        }
    }

    /// The key check value: a fingerprint of the master key that the database records at first
    /// start, so that a key from another installation is told apart from the right one. It is
    /// the first 64 bits of an HMAC of a fixed label under a subkey of its own, so it says
    /// nothing about the key or the other subkeys; 64 bits is ample to tell keys apart.
    pub fn check_value(&self) -> u64 {
        self.check_value
    }

    /// Encrypts a client secret for storage; `context` (the client id) is bound as associated
    /// data so a ciphertext cannot be moved to another client. Output: nonce || ciphertext || tag.
    pub fn seal_secret(&self, secret: &str, context: &str) -> Vec<u8> {
        let nonce_bytes: [u8; aead::NONCE_LEN] = random_bytes();
        let mut buf = secret.as_bytes().to_vec();
        self.secrets_aead
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce_bytes),
                aead::Aad::from(context.as_bytes()),
                &mut buf,
            )
            .expect("sealing cannot fail for small inputs");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        out
    }

    pub fn open_secret(&self, sealed: &[u8], context: &str) -> Option<String> {
        if sealed.len() < aead::NONCE_LEN + aead::CHACHA20_POLY1305.tag_len() {
            return None;
        }
        let (nonce, ct) = sealed.split_at(aead::NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ct.to_vec();
        let plain = self
            .secrets_aead
            .open_in_place(nonce, aead::Aad::from(context.as_bytes()), &mut buf)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }

    /// HMAC-SHA256 tag of an access token's signing input.
    pub fn token_tag(&self, signing_input: &[u8]) -> hmac::Tag {
        hmac::sign(&self.token_mac, signing_input)
    }

    /// Constant-time check of a token tag.
    pub fn verify_token_tag(&self, signing_input: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.token_mac, signing_input, tag).is_ok()
    }

    /// A keyed digest used as the key of in-memory credential caches, so the cache never
    /// holds anything from which a password could be recovered.
    pub fn cache_key(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.lookup_mac);
        for p in parts {
            ctx.update(&(p.len() as u64).to_be_bytes());
            ctx.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_round_trip() {
        let h = hash_password("correct horse", 1000);
        assert!(h.starts_with("pbkdf2-sha256$1000$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct hors", &h));
        assert!(!verify_password("correct horse", "garbage"));
        assert!(!verify_password("x", "pbkdf2-sha256$0$AA$AA"));
    }

    #[test]
    fn sealed_secret_is_bound_to_its_client() {
        let keys = Keys::from_master(&[7u8; 32]);
        let sealed = keys.seal_secret("s3cret", "client-a");
        assert_eq!(keys.open_secret(&sealed, "client-a").as_deref(), Some("s3cret"));
        assert_eq!(keys.open_secret(&sealed, "client-b"), None);
        assert_eq!(keys.open_secret(&sealed[..10], "client-a"), None);
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
    }

    #[test]
    fn check_value_tells_keys_apart_and_is_stable() {
        let a = Keys::from_master(&[7u8; 32]);
        assert_eq!(a.check_value(), Keys::from_master(&[7u8; 32]).check_value());
        assert_ne!(a.check_value(), Keys::from_master(&[8u8; 32]).check_value());
        // Recorded in every database: a change here would lock every installation out.
        // (Computed independently: HKDF-SHA256 then HMAC-SHA256, in Python's hmac module.)
        assert_eq!(a.check_value(), 0xf34c_143a_4461_3464);
    }

    #[test]
    fn random_ids_do_not_repeat() {
        let ids: std::collections::HashSet<[u8; 16]> = (0..1000).map(|_| random_id()).collect();
        assert_eq!(ids.len(), 1000);
    }

    #[test]
    fn uuid_and_hex_shapes() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(parse_hex16(&u).map(|b| uuid_text(&b)), Some(u.clone()));
        assert_eq!(
            parse_hex16("00112233445566778899aabbccddeeff").map(|b| hex(&b)).as_deref(),
            Some("00112233445566778899aabbccddeeff")
        );
        assert_eq!(parse_hex16("0011"), None);
        assert_eq!(parse_hex16(&format!("{u}00")), None);
        assert_eq!(parse_hex16("zz112233445566778899aabbccddeeff"), None);
        assert_eq!(parse_hex::<32>(&hex(&sha256(b"x"))), Some(sha256(b"x")));
        assert!(verify_secret_sha256("abc", &sha256(b"abc")));
        assert!(!verify_secret_sha256("abd", &sha256(b"abc")));
    }
}

/// A public key a JWS signature is checked with: RS256 (RSASSA-PKCS1-v1_5 with SHA-256, a
/// 2048–8192-bit modulus) or ES256 (ECDSA on P-256 with SHA-256), the two algorithms a
/// client assertion may use (RFC 7518 §3.3, §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwsKey {
    /// Modulus and exponent, big-endian, without leading zeros.
    Rs256 { n: Vec<u8>, e: Vec<u8> },
    /// The SEC1 uncompressed point `0x04‖x‖y`.
    Es256 { point: [u8; 65] },
}

/// Whether `signature` (as a JWS carries it: PKCS#1 v1.5 bytes, or `r‖s` of 32 bytes each)
/// signs `signing_input` under `key`.
pub fn verify_jws(key: &JwsKey, signing_input: &[u8], signature: &[u8]) -> bool {
    use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
    match key {
        JwsKey::Rs256 { n, e } => RsaPublicKeyComponents { n, e }
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, signing_input, signature)
            .is_ok(),
        JwsKey::Es256 { point } => {
            signature.len() == 64
                && UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(signing_input, signature)
                    .is_ok()
        }
    }
}

/// Whether `point` (SEC1 uncompressed, `0x04‖x‖y`) is a valid P-256 public key: on the curve,
/// coordinates in range. ring checks a peer's key fully before an ECDH agreement, so one with
/// a throwaway key is the check (ring has no other public one); the agreement itself is
/// discarded.
pub fn p256_point_is_valid(point: &[u8; 65]) -> bool {
    use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, ECDH_P256};
    let Ok(mine) = EphemeralPrivateKey::generate(&ECDH_P256, &SystemRandom::new()) else {
        return false;
    };
    agree_ephemeral(mine, &UnparsedPublicKey::new(&ECDH_P256, point), |_| ()).is_ok()
}
