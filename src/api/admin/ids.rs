//! The admin API's entity ids: `"<directory id>-<base64url of the name, unpadded>"`, so that
//! `1-Z3JvdXAx` is the group `group1` of directory 1 (crowd-rest-common
//! `DirectoryEntityId.marshal` and `fromString`).
//!
//! Crowd splits at the first `-` (base64url has `-` in its alphabet, directory ids do not) and
//! decodes with `java.util.Base64.getUrlDecoder()`, which takes the name with or without its
//! `=` padding; so does [`parse`]. Names are UTF-8, as Crowd's `String.getBytes()` writes them
//! on its (UTF-8) JVMs. An id that does not parse names nothing: the caller answers it as a
//! missing user or group.

use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

pub use crate::domain::directory::batch::DirectoryEntity;

/// Writes ids as Crowd does: no padding.
const ENCODE: GeneralPurpose =
    GeneralPurpose::new(&URL_SAFE, GeneralPurposeConfig::new().with_encode_padding(false));

/// Reads ids as Java's URL decoder does: padding optional, stray low bits of the last
/// character ignored.
const DECODE: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The id of `name` in `directory`.
pub fn encode(directory: u64, name: &str) -> String {
    format!("{directory}-{}", ENCODE.encode(name.as_bytes()))
}

/// The directory and name an id stands for, or `None` if it is not one.
pub fn parse(text: &str) -> Option<DirectoryEntity> {
    let (directory, encoded) = text.split_once('-')?;
    // `Long.parseLong` would take a sign too; no id Crowd writes has one.
    if directory.is_empty() || !directory.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let directory = directory.parse().ok()?;
    let name = String::from_utf8(DECODE.decode(encoded).ok()?).ok()?;
    Some(DirectoryEntity { directory, name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crowds_example_reads_and_writes() {
        assert_eq!(encode(1, "group1"), "1-Z3JvdXAx");
        assert_eq!(parse("1-Z3JvdXAx"), Some(DirectoryEntity::new(1, "group1")));
    }

    #[test]
    fn names_round_trip_whatever_they_hold() {
        for name in ["bob", "a b", "a+b/c?", "ünïcødé 名前", "x-y_z", "~!@#$%^&*()", "ab", "abc"]
        {
            let id = encode(42, name);
            assert!(!id.contains('='), "{id}");
            assert_eq!(parse(&id), Some(DirectoryEntity::new(42, name)), "{id}");
        }
    }

    #[test]
    fn padding_is_optional_and_the_alphabet_url_safe() {
        assert_eq!(parse("7-YWI="), Some(DirectoryEntity::new(7, "ab")));
        assert_eq!(parse("7-YWI"), Some(DirectoryEntity::new(7, "ab")));
        // `?` and `>` encode to `_` and `-` in base64url, `/` and `+` in plain base64.
        assert_eq!(encode(1, "??>"), "1-Pz8-");
        assert_eq!(parse("1-Pz8-"), Some(DirectoryEntity::new(1, "??>")));
        assert_eq!(parse("1-Pz8+"), None);
    }

    #[test]
    fn malformed_ids_name_nothing() {
        for bad in
            ["", "1", "Z3JvdXAx", "-Z3JvdXAx", "x-Z3JvdXAx", "+1-Z3JvdXAx", "1-Z3Jv!", "1-_w"]
        {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(parse("99999999999999999999999-YQ"), None, "directory id overflows");
        assert_eq!(
            parse("1-"),
            Some(DirectoryEntity::new(1, "")),
            "an empty name, which never exists"
        );
    }
}
