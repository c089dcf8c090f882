//! throng patch: parsing a request head by RFC 9112, refusing what is malformed with the status
//! the RFC (or common practice) gives, instead of hanging or dropping the connection.
//!
//! Everything here works on bytes already read; the connection loop (`client.rs`) decides
//! when enough has arrived and enforces the size limits before calling in.

use crate::common::{HTTPVersion, Header, HeaderField, Method};
use crate::limits::{Limits, Refusal};
use ascii::AsciiString;

/// How the body of a request is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// A parsed request line.
#[derive(Debug)]
pub(crate) struct RequestLine {
    pub method: Method,
    /// The target in origin form (`/path?query`); an absolute-form target is reduced to it.
    pub target: String,
    pub version: HTTPVersion,
}

/// A parsed and checked head.
#[derive(Debug)]
pub(crate) struct Head {
    pub line: RequestLine,
    pub headers: Vec<Header>,
    pub framing: Framing,
    pub expect_continue: bool,
    pub keep_alive: bool,
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// `tchar` (RFC 9110 §5.6.2) by byte value.
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(c, b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.')
            || matches!(c, b'^' | b'_' | b'`' | b'|' | b'~');
        b += 1;
    }
    t
};

/// Where the line that starts at `from` ends: the index of its `\n`.
pub(crate) fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    buf[from..].iter().position(|&b| b == b'\n').map(|i| from + i)
}

/// The index just past the empty line that ends the head, searching from `from` (bytes
/// before it are known not to hold the end). Lines end in CRLF or, leniently, a bare LF
/// (RFC 9112 §2.2 allows a recipient to accept it; nginx and Node do).
pub(crate) fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(nl) = line_end(buf, i) {
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            // Not enough bytes yet to tell: look again from this `\n` next time.
            None => return None,
            Some(b'\r') if nl + 2 >= buf.len() => return None,
            _ => i = nl + 1,
        }
    }
    None
}

/// Strips the line terminator (CRLF or LF) from a line that includes it.
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn bad(message: &str) -> Refusal {
    Refusal::new(400, message)
}

/// Parses the request line (without its terminator).
pub(crate) fn request_line(line: &[u8], limits: &Limits) -> Result<RequestLine, Refusal> {
    let line = trim_eol(line);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line: expected METHOD TARGET HTTP/1.1"));
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(bad("malformed request line: invalid method"));
    }
    if target.len() > limits.max_url_bytes {
        return Err(too_long(target, limits));
    }
    if target.is_empty() || !target.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return Err(bad("malformed request line: invalid request target"));
    }
    let version = match version {
        b"HTTP/1.1" => HTTPVersion(1, 1),
        b"HTTP/1.0" => HTTPVersion(1, 0),
        v if v.starts_with(b"HTTP/")
            && v.len() > 5
            && v[5..].iter().all(|&b| b.is_ascii_digit() || b == b'.') =>
        {
            let target = String::from_utf8_lossy(target).into_owned();
            return Err(
                Refusal::new(505, "only HTTP/1.0 and HTTP/1.1 are supported").at(Some(&target))
            );
        }
        _ => return Err(bad("malformed request line: invalid HTTP version")),
    };
    // Checked above: visible ASCII only.
    let target = String::from_utf8(target.to_vec()).expect("ASCII");
    let method: Method = std::str::from_utf8(method).expect("ASCII").parse().expect("any token");
    let target = origin_form(target, &method)?;
    Ok(RequestLine { method, target, version })
}

/// The 414 for a target over the limit; the part read is kept so the answer can still be
/// in the shape of the API the path names.
pub(crate) fn too_long(target_prefix: &[u8], limits: &Limits) -> Refusal {
    let keep = &target_prefix[..target_prefix.len().min(limits.max_url_bytes)];
    let path = String::from_utf8_lossy(keep).into_owned();
    Refusal::new(414, format!("request target longer than {} bytes", limits.max_url_bytes))
        .at(Some(&path))
}

/// RFC 9112 §3.2: origin form as is; absolute form (which a server MUST accept) reduced to
/// its path and query; asterisk form for OPTIONS only.
fn origin_form(target: String, method: &Method) -> Result<String, Refusal> {
    if target.starts_with('/') {
        return Ok(target);
    }
    if target == "*" {
        return if *method == Method::Options {
            Ok(target)
        } else {
            Err(bad("the asterisk target is for OPTIONS only"))
        };
    }
    let lower = target.get(..8).unwrap_or(&target).to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &target[7..]
    } else if lower.starts_with("https://") {
        &target[8..]
    } else {
        return Err(bad("malformed request line: the target must be a path"));
    };
    Ok(match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => rest[i..].to_string(),
        Some(i) => format!("/{}", &rest[i..]),
        None => "/".to_string(),
    })
}

/// Parses the header section: the lines after the request line, up to and including the
/// empty line. `limits.max_headers` is enforced here (431).
pub(crate) fn header_fields(block: &[u8], limits: &Limits) -> Result<Vec<Header>, Refusal> {
    let mut headers = Vec::with_capacity(16);
    let mut rest = block;
    while !rest.is_empty() {
        let nl = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len() - 1);
        let (line, tail) = rest.split_at(nl + 1);
        rest = tail;
        let line = trim_eol(line);
        if line.is_empty() {
            break;
        }
        if headers.len() >= limits.max_headers {
            return Err(Refusal::new(
                431,
                format!("more than {} header fields", limits.max_headers),
            ));
        }
        headers.push(header_line(line)?);
    }
    Ok(headers)
}

fn header_line(line: &[u8]) -> Result<Header, Refusal> {
    if line[0] == b' ' || line[0] == b'\t' {
        // RFC 9112 §5.2: obsolete line folding may be rejected with 400.
        return Err(bad("folded header lines are not accepted"));
    }
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(|| bad("malformed header field: no colon"))?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    // RFC 9112 §5.1: no whitespace between the name and the colon; a server MUST reject it.
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(bad("malformed header field name"));
    }
    let value = trim_ows(value);
    // One pass without branches, which the compiler vectorizes (a bearer token or a cookie is
    // most of a request's head); only a value that fails is walked again, for its first bad
    // byte.
    let (mut high, mut control) = (0u8, false);
    for &b in value {
        high |= b;
        control |= (b < 0x20) & (b != b'\t') | (b == 0x7f);
    }
    if high >= 0x80 || control {
        for &b in value {
            match b {
                b'\t' | b' ' | 0x21..=0x7e => {}
                0x80..=0xff => return Err(bad("header field values must be ASCII")),
                // RFC 9112 §2.2: a bare CR, or any other control byte, is invalid.
                _ => return Err(bad("control character in a header field value")),
            }
        }
    }
    let field = HeaderField::from_bytes(name.to_vec()).map_err(|_| bad("non-ASCII header name"))?;
    let value =
        AsciiString::from_ascii(value.to_vec()).map_err(|_| bad("non-ASCII header value"))?;
    Ok(Header { field, value })
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Checks the fields that decide how the message is read (RFC 9112 §6, §9.3; RFC 9110 §10.1.1)
/// and returns the whole head.
pub(crate) fn checked(line: RequestLine, headers: Vec<Header>) -> Result<Head, Refusal> {
    let mut codings: Vec<String> = Vec::new();
    let mut te_fields = 0;
    let mut lengths = 0;
    let mut length: Option<u64> = None;
    let mut hosts = 0;
    let mut expect_continue = false;
    let (mut close, mut keep_alive) = (false, false);
    for h in &headers {
        let v = h.value.as_str();
        if h.field.equiv("Transfer-Encoding") {
            te_fields += 1;
            codings.extend(
                v.split(',').map(|c| c.trim().to_ascii_lowercase()).filter(|c| !c.is_empty()),
            );
        } else if h.field.equiv("Content-Length") {
            lengths += 1;
            // 1*DIGIT only: no sign, no list, no spaces (RFC 9110 §8.6).
            if v.is_empty() || v.len() > 19 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("invalid Content-Length"));
            }
            length = v.parse().ok();
        } else if h.field.equiv("Host") {
            hosts += 1;
        } else if h.field.equiv("Expect") {
            if v.eq_ignore_ascii_case("100-continue") {
                expect_continue = true;
            } else {
                return Err(Refusal::new(417, "only Expect: 100-continue is supported"));
            }
        } else if h.field.equiv("Connection") {
            for token in v.split(',').map(str::trim) {
                close |= token.eq_ignore_ascii_case("close");
                keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        }
    }
    let http11 = line.version == HTTPVersion(1, 1);
    // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request with no Host or several.
    if hosts > 1 || (http11 && hosts == 0) {
        return Err(bad("an HTTP/1.1 request needs exactly one Host header field"));
    }
    // Several Content-Length fields, even equal ones, and Content-Length beside
    // Transfer-Encoding are how requests are smuggled past proxies: refuse them outright
    // (RFC 9112 §6.1 and §6.3 allow it).
    if lengths > 1 {
        return Err(bad("more than one Content-Length"));
    }
    // Any Transfer-Encoding field, even an empty one, is framing to a proxy that reads it:
    // beside Content-Length, or naming no coding, the message's end is in doubt.
    if te_fields > 0 && lengths > 0 {
        return Err(bad("Content-Length and Transfer-Encoding together"));
    }
    if te_fields > 0 && codings.is_empty() {
        return Err(bad("Transfer-Encoding names no coding"));
    }
    let framing = if codings.is_empty() {
        match length {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        }
    } else {
        if lengths > 0 {
            return Err(bad("Content-Length and Transfer-Encoding together"));
        }
        // Any coding but chunked is one this server does not implement (RFC 9112 §6.1: 501);
        // chunked twice, or chunked over HTTP/1.0, is faulty framing (400).
        if let Some(other) = codings.iter().find(|c| *c != "chunked") {
            return Err(Refusal::new(501, format!("transfer coding '{other}' is not supported")));
        }
        if codings.len() > 1 {
            return Err(bad("chunked may be applied only once"));
        }
        if !http11 {
            return Err(bad("Transfer-Encoding is not allowed in HTTP/1.0"));
        }
        Framing::Chunked
    };
    let keep_alive = !close && (http11 || keep_alive);
    let expect_continue = expect_continue && http11 && framing != Framing::None;
    Ok(Head { line, headers, framing, expect_continue, keep_alive })
}

/// Checks a trailer field line of a chunked body as strictly as a header field.
pub(crate) fn trailer_line(line: &[u8]) -> Result<(), Refusal> {
    header_line(trim_eol(line)).map(|_| ())
}

/// Parses a chunk-size line (without the terminator): hex digits, then optional extensions,
/// which are ignored (RFC 9112 §7.1.1) but must hold no control characters.
pub(crate) fn chunk_size(line: &[u8]) -> Result<u64, Refusal> {
    let line = trim_eol(line);
    if line.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err(bad("control character in a chunk line"));
    }
    let digits_end = line.iter().position(|&b| !b.is_ascii_hexdigit()).unwrap_or(line.len());
    let digits = &line[..digits_end];
    let rest = trim_ows(&line[digits_end..]);
    if digits.is_empty() || digits.len() > 15 || !(rest.is_empty() || rest[0] == b';') {
        return Err(bad("malformed chunk size"));
    }
    let text = std::str::from_utf8(digits).expect("hex digits");
    Ok(u64::from_str_radix(text, 16).expect("at most 15 hex digits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits { max_url_bytes: 64, max_headers: 4, ..Limits::default() }
    }

    fn head(text: &str) -> Result<Head, Refusal> {
        let bytes = text.as_bytes();
        let end = head_end(bytes, 0).expect("complete head");
        let nl = line_end(bytes, 0).unwrap();
        let line = request_line(&bytes[..=nl], &limits())?;
        let fields = header_fields(&bytes[nl + 1..end], &limits())?;
        checked(line, fields)
    }

    fn status(text: &str) -> u16 {
        match head(text) {
            Ok(_) => 200,
            Err(r) => r.status,
        }
    }

    #[test]
    fn head_ends_with_crlf_or_bare_lf() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY", 0), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: x\n\nBODY", 0), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n", 0), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r", 0), None);
    }

    #[test]
    fn good_requests() {
        let h = head("POST /t?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert_eq!(h.line.target, "/t?x=1");
        assert_eq!(h.framing, Framing::Length(5));
        assert!(h.keep_alive);
        let h = head("GET http://example.com/a/b?c HTTP/1.1\nHost: a\n\n").unwrap();
        assert_eq!(h.line.target, "/a/b?c");
        let h = head("GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(!h.keep_alive);
        let h = head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap();
        assert!(h.keep_alive);
        let h = head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n").unwrap();
        assert_eq!(h.framing, Framing::Chunked);
    }

    #[test]
    fn refusals_carry_the_right_status() {
        assert_eq!(status("GET /\r\n\r\n"), 400);
        assert_eq!(status("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
        assert_eq!(status("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505);
        assert_eq!(status("GET / FTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status(&format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(64))), 414);
        assert_eq!(status("GET / HTTP/1.1\r\n\r\n"), 400, "no Host");
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), 400);
        assert_eq!(
            status("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nHost: a\r\nE: 5\r\n\r\n"),
            431
        );
        let two = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n";
        assert_eq!(status(two), 400);
        assert_eq!(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
        assert_eq!(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n"), 400);
        let both =
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(both), 400);
        assert_eq!(status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
        let empty_te =
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\nContent-Length: 1\r\n\r\n";
        assert_eq!(status(empty_te), 400, "an empty Transfer-Encoding beside Content-Length");
        assert_eq!(status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n"), 400);
        let twice = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n";
        assert_eq!(status(twice), 400);
        assert_eq!(status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
        assert_eq!(status("POST / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n"), 417);
        assert_eq!(status("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    }

    #[test]
    fn the_505_and_414_keep_the_path_for_the_error_shape() {
        let r = head("GET /rest/oauth2/latest/token HTTP/3.0\r\nHost: a\r\n\r\n").unwrap_err();
        assert_eq!(r.path.as_deref(), Some("/rest/oauth2/latest/token"));
        let long = format!("GET /rest/x{} HTTP/1.1\r\nHost: a\r\n\r\n", "y".repeat(80));
        let r = head(&long).unwrap_err();
        assert_eq!(r.status, 414);
        assert!(r.path.unwrap().starts_with("/rest/xyyy"));
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(chunk_size(b"1a\r\n").unwrap(), 26);
        assert_eq!(chunk_size(b"0;ext=1\r\n").unwrap(), 0);
        assert!(chunk_size(b"\r\n").is_err());
        assert!(chunk_size(b"zz\r\n").is_err());
        assert!(chunk_size(b"1 x\r\n").is_err());
        assert!(chunk_size(b"ffffffffffffffff\r\n").is_err());
        assert!(chunk_size(b"5;a\rb\r\n").is_err(), "a bare CR in an extension");
        assert!(trailer_line(b"X-T: v\r\n").is_ok());
        assert!(trailer_line(b"X T: v\r\n").is_err());
    }
}
