//! Where an application may call from: its remote addresses (an IP address, a CIDR range or
//! a host name each), the client address a request is judged by, and host name resolution
//! that a slow DNS server cannot turn against the request path.
//!
//! Crowd checks the caller's address against the application's remote addresses after the
//! password (`ClientValidationManagerImpl`, https://confluence.atlassian.com/crowd/specifying-an-application-s-address-or-hostname-25788433.html).
//! Here:
//!
//! - **Forms.** An address (`10.1.2.3`, `::1`), a CIDR range (IPv4 `/0`–`/32`, IPv6
//!   `/0`–`/128`) or a host name of RFC 1123 labels. Stored normalised ([`normalize`]):
//!   addresses in their canonical text, host names lower-cased without a trailing dot.
//! - **IPv4 in IPv6.** A peer seen as `::ffff:1.2.3.4` (a dual-stack socket) is `1.2.3.4`
//!   for every rule, and an IPv4 client matches an IPv6 range over the mapped space.
//! - **Host names.** `localhost` matches any loopback address without asking DNS. Any other
//!   name is resolved forwards (never the client's address backwards, which whoever controls
//!   that reverse zone could make say anything) by std's resolver in a thread of its own,
//!   cached for [`DNS_TTL`]. A name is resolved at most once per TTL however many requests
//!   need it, never under a lock; once it has an answer, requests use it (stale while the
//!   refresh runs) and never wait for DNS. Only a name never answered before makes its first
//!   requests wait, at most [`FIRST_WAIT`].
//! - **The client address** ([`effective_client`]): the TCP peer, unless the peer is one of
//!   the application's trusted proxies and the request carries `X-Forwarded-For`; then the
//!   right-most address of that chain that is not itself a trusted proxy. The left-most
//!   entries are whatever the client wrote, so they are never believed.

use crate::error::{Error, Resource, Result};
use crate::sync::MutexExt;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a host name's addresses are used before they are resolved again.
pub const DNS_TTL: Duration = Duration::from_secs(300);
/// The longest a request waits for a host name that has never been resolved.
pub const FIRST_WAIT: Duration = Duration::from_secs(2);
/// Most names remembered; past it the map starts over (it holds configured names only).
const MAX_NAMES: usize = 4096;
/// Longest remote address accepted, in bytes (a host name is at most 253).
const MAX_LEN: usize = 255;

/// One remote address rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    Ip(IpAddr),
    Cidr(IpAddr, u8),
    /// Lower-cased, without a trailing dot.
    Host(String),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Ip(ip) => write!(f, "{ip}"),
            Rule::Cidr(ip, prefix) => write!(f, "{ip}/{prefix}"),
            Rule::Host(h) => f.write_str(h),
        }
    }
}

fn invalid(text: &str, why: &str) -> Error {
    let shown: String = text.chars().take(64).collect();
    Error::Invalid(Resource::Application, format!("remote address '{shown}' {why}"))
}

impl Rule {
    /// Reads a remote address as an admin wrote it.
    pub fn parse(text: &str) -> Result<Rule> {
        let t = text.trim();
        if t.is_empty() {
            return Err(invalid(text, "is empty"));
        }
        if t.len() > MAX_LEN {
            return Err(invalid(text, "is too long"));
        }
        if let Some((ip, prefix)) = t.split_once('/') {
            let ip: IpAddr =
                ip.parse().map_err(|_| invalid(text, "is not a CIDR range: bad address"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let prefix = prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| invalid(text, "is not a CIDR range: bad prefix length"))?;
            return Ok(Rule::Cidr(ip, prefix));
        }
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Rule::Ip(ip));
        }
        let host = t.strip_suffix('.').unwrap_or(t).to_ascii_lowercase();
        if is_host_name(&host) {
            Ok(Rule::Host(host))
        } else {
            Err(invalid(text, "is not an IP address, a CIDR range or a host name"))
        }
    }

    /// Whether `client` (canonical, see [`canonical`]) is this address or in this range.
    /// Host names never match here: see [`matches`].
    fn covers(&self, client: IpAddr) -> bool {
        match *self {
            Rule::Ip(ip) => canonical(ip) == client,
            Rule::Cidr(net, prefix) => in_range(net, prefix, client),
            Rule::Host(_) => false,
        }
    }
}

/// A remote address in the form it is stored and compared in.
pub fn normalize(text: &str) -> Result<String> {
    Rule::parse(text).map(|r| r.to_string())
}

/// RFC 1123 §2.1 host name: dot-separated labels of 1–63 letters, digits and hyphens, not
/// starting or ending with a hyphen, 253 characters at most. A name whose last label is all
/// digits is refused: it is a mistyped address, not a name.
fn is_host_name(s: &str) -> bool {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(label_ok)
        && !s.rsplit('.').next().is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
}

/// An address as rules see it: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes the IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_range(net: IpAddr, prefix: u8, client: IpAddr) -> bool {
    let same_prefix = |a: u128, b: u128, bits: u8| {
        let shift = u32::from(bits.saturating_sub(prefix));
        prefix == 0 || a.checked_shr(shift) == b.checked_shr(shift)
    };
    match (net, client) {
        (IpAddr::V4(n), IpAddr::V4(c)) => same_prefix(u32::from(n).into(), u32::from(c).into(), 32),
        (IpAddr::V6(n), IpAddr::V6(c)) => same_prefix(n.into(), c.into(), 128),
        // An IPv6 range over the mapped space (`::ffff:0:0/96`) covers IPv4 clients.
        (IpAddr::V6(n), IpAddr::V4(c)) => same_prefix(n.into(), c.to_ipv6_mapped().into(), 128),
        // Clients are canonical: a mapped one is IPv4 already, any other IPv6 is not IPv4.
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

/// Whether `client` may call from where it is: it is one of `rules`' addresses, in one of
/// their ranges, or one of the addresses their host names resolve to. Addresses and ranges
/// are tried first, so DNS is asked only when they do not decide.
pub fn matches(client: IpAddr, rules: &[String], resolver: &Resolver) -> bool {
    matches_rules(client, &parse_rules(rules), resolver)
}

/// The stored addresses as rules, parsed once (an unreadable one, which validation keeps out,
/// matches nothing).
pub fn parse_rules(rules: &[String]) -> Vec<Rule> {
    rules.iter().filter_map(|r| Rule::parse(r).ok()).collect()
}

/// [`matches`] over rules parsed already: what every request of a cached application checks.
pub fn matches_rules(client: IpAddr, rules: &[Rule], resolver: &Resolver) -> bool {
    let client = canonical(client);
    if rules.iter().any(|r| r.covers(client)) {
        return true;
    }
    rules.iter().any(|r| match r {
        Rule::Host(h) if h == "localhost" => client.is_loopback(),
        Rule::Host(h) => resolver.addresses(h).contains(&client),
        _ => false,
    })
}

/// The address a request is judged by: `ip` when it is one, and its text for messages
/// (the peer's own, borrowed, in the common case: this runs on every application call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress<'a> {
    pub ip: Option<IpAddr>,
    pub text: Cow<'a, str>,
}

impl ClientAddress<'_> {
    fn of(ip: IpAddr) -> ClientAddress<'static> {
        let ip = canonical(ip);
        ClientAddress { ip: Some(ip), text: Cow::Owned(ip.to_string()) }
    }

    /// Something that is not an address: it matches no rule, and is shown shortened.
    fn unreadable(text: &str) -> ClientAddress<'static> {
        ClientAddress { ip: None, text: Cow::Owned(text.chars().take(64).collect()) }
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:80`,
/// `[2001:db8::1]:443`) as some proxies write it.
fn forwarded_ip(entry: &str) -> Option<IpAddr> {
    let e = entry.trim().trim_matches('"');
    if let Ok(ip) = e.parse() {
        return Some(ip);
    }
    if let Some(rest) = e.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    match e.split_once(':') {
        Some((host, port)) if !port.contains(':') => {
            host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
        }
        _ => None,
    }
}

/// The client address of a request from `peer` (the TCP peer) carrying `forwarded_for` (every
/// `X-Forwarded-For` value, in order), for an application trusting `trusted_proxies`.
///
/// The chain is read from the right: each trusted proxy appended the address it received the
/// request from, so the right-most entry that is not itself a trusted proxy is the first
/// address nobody trusted vouches past, the client. An entry there that is not an address
/// is taken as it is and matches nothing; if every entry is a trusted proxy, the left-most is
/// the client.
pub fn effective_client<'a>(
    peer: &'a str,
    forwarded_for: &[&str],
    trusted_proxies: &[String],
    resolver: &Resolver,
) -> ClientAddress<'a> {
    let Ok(peer_ip) = peer.parse::<IpAddr>() else {
        return ClientAddress::unreadable(peer);
    };
    if trusted_proxies.is_empty()
        || forwarded_for.is_empty()
        || !matches(peer_ip, trusted_proxies, resolver)
    {
        // The peer's own text, unless it is an IPv4-mapped IPv6 address to shorten: the
        // common case needs no formatting (this runs on every application call).
        let ip = canonical(peer_ip);
        return if ip == peer_ip {
            ClientAddress { ip: Some(ip), text: Cow::Borrowed(peer) }
        } else {
            ClientAddress::of(peer_ip)
        };
    }
    let chain: Vec<&str> = forwarded_for
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let Some(first) = chain.first() else {
        return ClientAddress::of(peer_ip);
    };
    for entry in chain.iter().rev() {
        match forwarded_ip(entry) {
            Some(ip) if matches(ip, trusted_proxies, resolver) => continue,
            Some(ip) => return ClientAddress::of(ip),
            None => return ClientAddress::unreadable(entry),
        }
    }
    forwarded_ip(first).map_or_else(|| ClientAddress::unreadable(first), ClientAddress::of)
}

/// How a name is turned into addresses; std's resolver unless a test says otherwise.
pub type Lookup = dyn Fn(&str) -> std::io::Result<Vec<IpAddr>> + Send + Sync;

fn std_lookup(name: &str) -> std::io::Result<Vec<IpAddr>> {
    Ok((name, 0u16).to_socket_addrs()?.map(|a| a.ip()).collect())
}

/// Host name → addresses, resolved off the request path and cached (see the module doc).
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    ttl: Duration,
    first_wait: Duration,
    lookup: Box<Lookup>,
    names: Mutex<HashMap<String, Entry>>,
    /// Signalled whenever a resolution finishes.
    answered: Condvar,
}

#[derive(Default)]
struct Entry {
    /// The last answer (canonical addresses); `None` until the first one.
    addrs: Option<Arc<[IpAddr]>>,
    /// When the last resolution finished, successful or not.
    resolved: Option<Instant>,
    in_flight: bool,
}

impl Default for Resolver {
    fn default() -> Resolver {
        Resolver::new(DNS_TTL, FIRST_WAIT, Box::new(std_lookup))
    }
}

impl Resolver {
    pub fn new(ttl: Duration, first_wait: Duration, lookup: Box<Lookup>) -> Resolver {
        Resolver {
            inner: Arc::new(Inner {
                ttl,
                first_wait,
                lookup,
                names: Mutex::new(HashMap::new()),
                answered: Condvar::new(),
            }),
        }
    }

    /// The addresses `name` resolves to, as last resolved. Starts a resolution in the
    /// background when the answer is older than the TTL (and none is running); waits only
    /// when the name has never been answered, and then at most the first-wait bound.
    pub fn addresses(&self, name: &str) -> Arc<[IpAddr]> {
        let key = name.to_ascii_lowercase();
        let (known, start) = {
            let mut names = self.inner.names.locked();
            if names.len() >= MAX_NAMES && !names.contains_key(&key) {
                names.retain(|_, e| e.in_flight);
            }
            let e = names.entry(key.clone()).or_default();
            let fresh = e.resolved.is_some_and(|at| at.elapsed() < self.inner.ttl);
            let start = !fresh && !e.in_flight;
            e.in_flight |= start;
            (e.addrs.clone(), start)
        };
        if start {
            self.resolve_in_background(key.clone());
        }
        known.unwrap_or_else(|| self.wait_for_first(&key))
    }

    fn resolve_in_background(&self, key: String) {
        let inner = self.inner.clone();
        let name = key.clone();
        let spawned = std::thread::Builder::new().name("throng-dns".into()).spawn(move || {
            let answer = (inner.lookup)(&name);
            inner.record(&name, answer);
        });
        if let Err(e) = spawned {
            self.inner.record(&key, Err(e));
        }
    }

    fn wait_for_first(&self, key: &str) -> Arc<[IpAddr]> {
        let deadline = Instant::now() + self.inner.first_wait;
        let mut names = self.inner.names.locked();
        loop {
            if let Some(addrs) = names.get(key).and_then(|e| e.addrs.clone()) {
                return addrs;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Arc::from([]);
            }
            names = self
                .inner
                .answered
                .wait_timeout(names, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Inner {
    /// Records an answer. A failed lookup keeps the previous addresses (a DNS hiccup should
    /// not lock an application out) and still counts as this TTL's resolution.
    fn record(&self, name: &str, answer: std::io::Result<Vec<IpAddr>>) {
        let mut names = self.names.locked();
        let e = names.entry(name.to_string()).or_default();
        match answer {
            Ok(addrs) => e.addrs = Some(addrs.into_iter().map(canonical).collect()),
            Err(err) => {
                log::warn!("resolving remote address {name}: {err}");
                e.addrs.get_or_insert_with(|| Arc::from([]));
            }
        }
        e.resolved = Some(Instant::now());
        e.in_flight = false;
        drop(names);
        self.answered.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A resolver over a fixed table, counting lookups, each taking `delay`.
    fn fake(ttl: Duration, delay: Duration) -> (Resolver, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let lookup = move |name: &str| {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(delay);
            match name {
                "jira.example.com" => Ok(vec![ip("10.0.0.5"), ip("2001:db8::5")]),
                "proxy.example.com" => Ok(vec![ip("192.0.2.10")]),
                _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such name")),
            }
        };
        (Resolver::new(ttl, Duration::from_secs(5), Box::new(lookup)), calls)
    }

    fn rules(list: &[&str]) -> Vec<String> {
        list.iter().map(|r| normalize(r).unwrap()).collect()
    }

    #[test]
    fn forms_are_read_and_normalised() {
        assert_eq!(normalize(" 10.1.2.3 ").unwrap(), "10.1.2.3");
        assert_eq!(normalize("0:0:0:0:0:0:0:1").unwrap(), "::1");
        assert_eq!(normalize("10.0.0.0/8").unwrap(), "10.0.0.0/8");
        assert_eq!(normalize("2001:DB8::/32").unwrap(), "2001:db8::/32");
        assert_eq!(normalize("0.0.0.0/0").unwrap(), "0.0.0.0/0");
        assert_eq!(normalize("::/128").unwrap(), "::/128");
        assert_eq!(normalize("Jira.Example.COM.").unwrap(), "jira.example.com");
        assert_eq!(normalize("localhost").unwrap(), "localhost");
        assert_eq!(normalize("3com.net").unwrap(), "3com.net", "RFC 1123 allows a digit first");
        for bad in [
            "",
            "  ",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/-1",
            "10.0.0.0/",
            "/8",
            "300.1.2.3",
            "1.2.3",
            "-bad.example.com",
            "bad-.example.com",
            "a..b",
            "under_score.example.com",
            "fe80::1%eth0",
            "http://x",
            &format!("{}.com", "a".repeat(64)),
            &"a.".repeat(130),
        ] {
            assert!(normalize(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn addresses_and_ranges_match_ipv4_mapped_peers_too() {
        let (r, calls) = fake(DNS_TTL, Duration::ZERO);
        let list = rules(&["127.0.0.1", "10.0.0.0/8", "2001:db8::/32", "192.168.1.7/32"]);
        for yes in ["127.0.0.1", "::ffff:127.0.0.1", "10.200.3.4", "::ffff:10.0.0.1", "2001:db8::9"]
        {
            assert!(matches(ip(yes), &list, &r), "{yes}");
        }
        for no in ["127.0.0.2", "11.0.0.1", "2001:db9::1", "::1", "192.168.1.8"] {
            assert!(!matches(ip(no), &list, &r), "{no}");
        }
        assert!(matches(ip("1.2.3.4"), &rules(&["0.0.0.0/0"]), &r));
        assert!(!matches(ip("::2"), &rules(&["0.0.0.0/0"]), &r));
        assert!(matches(ip("::2"), &rules(&["::/0"]), &r));
        // A rule written as a mapped address, and an IPv6 range over the mapped space.
        assert!(matches(ip("1.2.3.4"), &rules(&["::ffff:1.2.3.4"]), &r));
        assert!(matches(ip("1.2.3.4"), &rules(&["::ffff:0:0/96"]), &r));
        assert_eq!(calls.load(Ordering::SeqCst), 0, "no DNS for address rules");
    }

    #[test]
    fn host_names_resolve_and_localhost_is_loopback() {
        let (r, calls) = fake(DNS_TTL, Duration::ZERO);
        let list = rules(&["localhost", "jira.example.com", "gone.example.com"]);
        assert!(matches(ip("127.0.0.1"), &list, &r));
        assert!(matches(ip("127.8.9.1"), &list, &r));
        assert!(matches(ip("::1"), &list, &r));
        assert_eq!(calls.load(Ordering::SeqCst), 0, "localhost needs no DNS");
        assert!(matches(ip("10.0.0.5"), &list, &r));
        assert!(matches(ip("::ffff:10.0.0.5"), &list, &r));
        assert!(matches(ip("2001:db8::5"), &list, &r));
        assert!(!matches(ip("10.0.0.6"), &list, &r));
        // Each name once: jira answered, gone failed (and its failure is cached too).
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_name_is_resolved_once_per_ttl_however_many_ask() {
        let (r, calls) = fake(DNS_TTL, Duration::from_millis(200));
        let r = Arc::new(r);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || r.addresses("jira.example.com").len())
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), 2, "first askers wait for the first answer");
        }
        assert_eq!(r.addresses("JIRA.example.com").len(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_slow_dns_never_holds_a_request_once_a_name_has_an_answer() {
        // TTL zero: every call finds the answer stale.
        let (r, calls) = fake(Duration::ZERO, Duration::from_millis(300));
        assert_eq!(r.addresses("jira.example.com").len(), 2);
        let before = Instant::now();
        for _ in 0..20 {
            assert_eq!(r.addresses("jira.example.com").len(), 2, "the stale answer serves");
        }
        assert!(before.elapsed() < Duration::from_millis(250), "{:?}", before.elapsed());
        // Give the refresh thread time to start (it takes 300 ms to finish).
        std::thread::sleep(Duration::from_millis(100));
        // One refresh is running; the twenty calls did not start twenty.
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_never_answered_name_waits_at_most_the_first_wait() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let lookup = move |_: &str| {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(500));
            Ok(vec![ip("10.0.0.1")])
        };
        let r = Resolver::new(DNS_TTL, Duration::from_millis(50), Box::new(lookup));
        let before = Instant::now();
        assert!(r.addresses("slow.example.com").is_empty());
        assert!(before.elapsed() < Duration::from_millis(400));
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(&*r.addresses("slow.example.com"), &[ip("10.0.0.1")]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_forwards() {
        let (r, _) = fake(DNS_TTL, Duration::ZERO);
        let trusted = rules(&["127.0.0.1", "10.9.0.0/16"]);
        let eff = |peer: &str, xff: &[&str], trusted: &[String]| {
            effective_client(peer, xff, trusted, &r).text.into_owned()
        };
        // No trusted proxies, or an untrusted peer: the header is ignored.
        assert_eq!(eff("192.0.2.1", &["10.1.1.1"], &[]), "192.0.2.1");
        assert_eq!(eff("192.0.2.1", &["10.1.1.1"], &trusted), "192.0.2.1");
        // A trusted peer without the header is the client.
        assert_eq!(eff("127.0.0.1", &[], &trusted), "127.0.0.1");
        assert_eq!(eff("::ffff:127.0.0.1", &[], &trusted), "127.0.0.1");
        // Trusted peer: the right-most entry that is not a trusted proxy.
        assert_eq!(eff("127.0.0.1", &["203.0.113.7"], &trusted), "203.0.113.7");
        assert_eq!(eff("127.0.0.1", &["6.6.6.6, 203.0.113.7, 10.9.1.1"], &trusted), "203.0.113.7");
        // Several header fields are one list, in order.
        assert_eq!(
            eff("127.0.0.1", &["6.6.6.6", "203.0.113.7, 10.9.1.1"], &trusted),
            "203.0.113.7"
        );
        // A forged left-most entry is never believed.
        assert_eq!(eff("127.0.0.1", &["127.0.0.1, 203.0.113.7"], &trusted), "203.0.113.7");
        // Ports and brackets as proxies write them; mapped forms.
        assert_eq!(eff("127.0.0.1", &["203.0.113.7:5555"], &trusted), "203.0.113.7");
        assert_eq!(eff("127.0.0.1", &["[2001:db8::7]:443"], &trusted), "2001:db8::7");
        assert_eq!(eff("127.0.0.1", &["::ffff:203.0.113.7"], &trusted), "203.0.113.7");
        // Garbage where the client should be matches nothing, and says what it was.
        let junk = effective_client("127.0.0.1", &["unknown, 10.9.1.1"], &trusted, &r);
        assert_eq!(junk, ClientAddress { ip: None, text: Cow::Borrowed("unknown") });
        // Every entry a trusted proxy: the left-most is the client.
        assert_eq!(eff("127.0.0.1", &["10.9.2.2, 10.9.1.1"], &trusted), "10.9.2.2");
        // An empty header is no header.
        assert_eq!(eff("127.0.0.1", &[" , "], &trusted), "127.0.0.1");
        // A proxy trusted by host name.
        let by_name = rules(&["proxy.example.com"]);
        assert_eq!(eff("192.0.2.10", &["203.0.113.8"], &by_name), "203.0.113.8");
        assert_eq!(eff("192.0.2.11", &["203.0.113.8"], &by_name), "192.0.2.11");
    }
}
