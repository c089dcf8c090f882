//! throng patch: one connection's life, on its own thread. Read a request head and body under
//! the limits and deadlines, hand the complete request to the workers, wait for their answer,
//! write it, and go on to the next request or close.
//!
//! Upstream read heads on the connection thread but left bodies to the worker and had the
//! worker write the response, so a client that sent its body slowly, or read its answer
//! slowly, held a worker; with a handful of workers, a handful of slow clients stopped the
//! server. Here every socket read and write happens on the connection's thread, bounded in
//! time, and a refused request is answered (in the application's shape, through the server's
//! refusal renderer) before the connection closes. See PATCHES.md.

use crate::connection::Connection;
use crate::door::{ConnEntry, Shared};
use crate::limits::Refusal;
use crate::parse::{self, Framing, Head};
use crate::request::{new_request, Body, Responder, Slot};
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Read buffer a connection starts with and returns to after a larger head.
const INITIAL_BUFFER: usize = 4096;
/// Empty lines tolerated before a request line (RFC 9112 §2.2 asks servers to skip at least
/// one; some clients send a stray CRLF after a body).
const MAX_LEADING_EMPTY_BYTES: usize = 8;
/// Largest the read buffer grows while a body streams through it.
const BODY_BUFFER: usize = 16 * 1024;
/// A chunk-size line (with any extensions) longer than this is refused.
const MAX_CHUNK_LINE: usize = 4096;

/// Bytes read from the connection and not yet consumed, with read deadlines.
struct Input<'a> {
    conn: &'a Connection,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The read timeout currently set on the socket, to avoid a system call per read.
    timeout: Option<Duration>,
}

enum ReadFailure {
    Eof,
    TimedOut,
    Io,
}

impl<'a> Input<'a> {
    fn new(conn: &'a Connection) -> Input<'a> {
        Input { conn, buf: vec![0; INITIAL_BUFFER], start: 0, end: 0, timeout: None }
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Gives back memory a large head took, so that a burst of big heads leaves nothing held.
    fn shrink(&mut self) {
        if self.buf.len() > INITIAL_BUFFER && self.end - self.start <= INITIAL_BUFFER {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            self.buf.truncate(INITIAL_BUFFER);
            self.buf.shrink_to_fit();
        }
    }

    fn set_timeout(&mut self, t: Duration) -> Result<(), ReadFailure> {
        let t = t.max(Duration::from_millis(1));
        if self.timeout != Some(t) {
            self.conn.set_read_timeout(Some(t)).map_err(|_| ReadFailure::Io)?;
            self.timeout = Some(t);
        }
        Ok(())
    }

    /// Reads more bytes, growing the buffer up to `cap` bytes of unconsumed data. Waits at
    /// most until `deadline` (or `idle` when there is none yet). Returns the bytes added.
    fn fill(&mut self, deadline: Deadline, cap: usize) -> Result<usize, ReadFailure> {
        if self.start > 0 && self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let want = (self.buf.len() * 2).min(cap.max(self.buf.len() + 1));
            self.buf.resize(want, 0);
        }
        match deadline {
            Deadline::Idle(t) => self.set_timeout(t)?,
            Deadline::At(at) => {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ReadFailure::TimedOut);
                }
                self.set_timeout(left)?;
            }
        }
        let mut reader = self.conn;
        loop {
            return match reader.read(&mut self.buf[self.end..]) {
                Ok(0) => Err(ReadFailure::Eof),
                Ok(n) => {
                    self.end += n;
                    Ok(n)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    Err(ReadFailure::TimedOut)
                }
                Err(_) => Err(ReadFailure::Io),
            };
        }
    }
}

#[derive(Clone, Copy)]
enum Deadline {
    Idle(Duration),
    At(Instant),
}

/// Why a connection ends.
enum End {
    /// Quietly: the peer left, the idle time ran out, or the server closed the connection.
    Quiet,
    /// With an answer to a request that was refused.
    Refused(Refusal),
}

/// Serves one connection until it closes. `id` is its registry entry.
pub(crate) fn serve(id: u64, entry: Arc<ConnEntry>, shared: Arc<Shared>) {
    // Leaves the budget and the registry however this function ends, a panic included.
    struct Registered<'a>(&'a Shared, u64);
    impl Drop for Registered<'_> {
        fn drop(&mut self) {
            self.0.unregister(self.1);
        }
    }
    let _registered = Registered(&shared, id);
    let conn = &entry.conn;
    let _ = conn.set_write_timeout(Some(shared.limits.write_timeout));
    conn.set_nodelay();
    let mut input = Input::new(conn);
    let slot = Arc::new(Slot::default());
    let end = loop {
        if let Err(end) = serve_one(&entry, &shared, &mut input, &slot) {
            break end;
        }
    };
    if let End::Refused(refusal) = end {
        let answer = shared.answer(&refusal);
        let _ = (&entry.conn).write_all(&answer);
        linger(&entry.conn, shared.limits.linger);
    }
    let _ = entry.conn.shutdown(Shutdown::Both);
}

/// After a refusal: shut the write side and drain input for a bounded time, so the client sees
/// the answer rather than a reset caused by its unread bytes.
fn linger(conn: &Connection, limit: Duration) {
    let _ = conn.shutdown(Shutdown::Write);
    let until = Instant::now() + limit;
    let mut scratch = [0u8; 4096];
    let mut reader = conn;
    let mut drained = 0usize;
    while drained < (1 << 20) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || conn.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match reader.read(&mut scratch) {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}

/// Serves the next request on the connection. `Ok`: keep the connection; `Err`: close it,
/// answering a refusal if there is one.
fn serve_one(
    entry: &ConnEntry,
    shared: &Shared,
    input: &mut Input<'_>,
    slot: &Arc<Slot>,
) -> Result<(), End> {
    let limits = &shared.limits;
    // Idle: wait for the first byte of the next request. Stray empty lines after a body
    // (RFC 9112 §2.2) are skipped here, still idle, so they cannot start a head deadline.
    let mut stray = 0usize;
    loop {
        let skip = input.data().iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
        stray += skip;
        input.consume(skip);
        if stray > MAX_LEADING_EMPTY_BYTES {
            return Err(End::Refused(Refusal::new(400, "empty lines before the request line")));
        }
        if !input.data().is_empty() {
            break;
        }
        input.shrink();
        entry.set_idle(shared.now_us());
        // Checked after turning idle, so a shutdown either sees this connection idle (and
        // closes it) or is seen here.
        if shared.is_closing() {
            return Err(End::Quiet);
        }
        if input.fill(Deadline::Idle(limits.idle_timeout), limits.max_head_bytes).is_err() {
            return Err(End::Quiet);
        }
        if !entry.set_busy() {
            return Err(End::Quiet);
        }
    }
    let head_deadline = Deadline::At(Instant::now() + limits.head_timeout);
    entry.set_reading_head(shared.now_us());
    let head = read_head(shared, input, head_deadline)?;
    if !entry.set_reading_rest() {
        return Err(End::Quiet);
    }
    let path = head.line.target.clone();
    let refused_at = |r: Refusal| End::Refused(r.at(Some(&path)));

    // The body, whole, before any handler sees the request.
    if let Framing::Length(n) = head.framing {
        if n > limits.max_body_bytes as u64 {
            return Err(refused_at(too_large(limits.max_body_bytes)));
        }
    }
    if head.expect_continue && (&entry.conn).write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
        return Err(End::Quiet);
    }
    let (data, reserved) = read_body(shared, input, head.framing).map_err(|e| match e {
        BodyFailure::Refused(r) => refused_at(r),
        BodyFailure::Gone => End::Quiet,
    })?;
    let body_length = data.len();
    let body = Body::new(data, Some(shared.body_memory.clone()), reserved);

    // Counted from here until its answer is in hand, so that a shutdown waits for it: either
    // the shutdown's flag is seen below (and the request refused), or the count is seen there.
    let _in_flight = shared.in_flight();
    if shared.is_closing() {
        return Err(refused_at(Refusal::busy("the server is shutting down")));
    }
    let responder = Responder {
        slot: slot.clone(),
        version: head.line.version.clone(),
        head: head.line.method == crate::Method::Head,
        keep_alive: head.keep_alive,
    };
    let request = new_request(
        head.line.method,
        head.line.target,
        head.line.version,
        head.headers,
        entry.remote,
        body,
        body_length,
        responder,
    );
    match &shared.handler {
        // Handled here, on this thread: no hand-off to a worker and back, which cost a
        // context switch each way on every request (a quarter of the `/status` ceiling).
        Some((handler, permits)) => {
            let _permit = permits.acquire();
            // A panic drops the request, whose drop answers 500; the connection carries on.
            let handled =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(request)));
            if handled.is_err() {
                log::error!("request handler panicked");
            }
        }
        None => shared.messages.push(request),
    }
    // A request is always answered: responding fills the slot, and so does dropping it.
    // A held reply waits here, outside the permit (throng patch).
    let reply = slot.take().release();
    if write_reply(&entry.conn, &reply.bytes, &reply.body, limits).is_err() {
        return Err(End::Quiet);
    }
    if reply.close {
        return Err(End::Quiet);
    }
    Ok(())
}

/// Writes a reply within one deadline for the whole of it (the write timeout, plus a second
/// per `min_body_rate` bytes), so a client that reads a little now and then cannot hold the
/// connection by taking each write just inside the timeout. The common case, a reply the
/// socket takes in one write, costs no extra system call.
fn write_reply(
    conn: &Connection,
    bytes: &[u8],
    body: &[u8],
    limits: &crate::Limits,
) -> std::io::Result<()> {
    let mut out = conn;
    let mut written = match out.write(bytes) {
        Ok(n) => n,
        Err(e) if e.kind() == ErrorKind::Interrupted => 0,
        Err(e) => return Err(e),
    };
    if written == bytes.len() && body.is_empty() {
        return Ok(());
    }
    let total = bytes.len() + body.len();
    let rate = limits.min_body_rate.max(1) as u64;
    let until =
        Instant::now() + limits.write_timeout + Duration::from_millis(total as u64 * 1000 / rate);
    let result = loop {
        if written == total {
            break Ok(());
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Err(std::io::Error::new(ErrorKind::TimedOut, "the client does not read"));
        }
        conn.set_write_timeout(Some(left.max(Duration::from_millis(1))))?;
        let rest =
            if written < bytes.len() { &bytes[written..] } else { &body[written - bytes.len()..] };
        match out.write(rest) {
            Ok(0) => break Err(std::io::Error::new(ErrorKind::WriteZero, "connection closed")),
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    let _ = conn.set_write_timeout(Some(limits.write_timeout));
    result
}

fn too_large(max: usize) -> Refusal {
    Refusal::new(413, format!("request body exceeds {max} bytes"))
}

fn timed_out(what: &str) -> Refusal {
    Refusal::new(408, format!("the request {what} did not arrive in time"))
}

/// Reads and checks a request head; its first byte is already in `input`.
fn read_head(shared: &Shared, input: &mut Input<'_>, deadline: Deadline) -> Result<Head, End> {
    let limits = &shared.limits;
    // The request line: its end must come within the URL limit plus room for the rest.
    let line_cap = limits.max_url_bytes + 32;
    let nl = loop {
        if let Some(nl) = parse::line_end(input.data(), 0) {
            break nl;
        }
        if input.data().len() > line_cap {
            let data = input.data();
            let target = data.splitn(3, |&b| b == b' ').nth(1).unwrap_or(&[]);
            let looks_like_a_request =
                data.iter().position(|&b| b == b' ').is_some_and(|sp| sp > 0 && sp < 32);
            return Err(End::Refused(if looks_like_a_request {
                parse::too_long(target, limits)
            } else {
                Refusal::new(400, "malformed request line")
            }));
        }
        fill_head(input, deadline, limits.max_head_bytes, None)?;
    };
    let line = parse::request_line(&input.data()[..=nl], limits).map_err(End::Refused)?;
    let path = line.target.clone();
    let head_too_large = || {
        let message = format!("request head larger than {} bytes", limits.max_head_bytes);
        End::Refused(Refusal::new(431, message).at(Some(&path)))
    };
    // The header section, up to the empty line that ends it.
    let mut scanned = nl;
    let end = loop {
        if let Some(end) = parse::head_end(input.data(), scanned) {
            break end;
        }
        scanned = input.data().len().saturating_sub(3).max(nl);
        if input.data().len() >= limits.max_head_bytes {
            return Err(head_too_large());
        }
        fill_head(input, deadline, limits.max_head_bytes, Some(&path))?;
    };
    // A head can lie whole in a buffer that a body made larger than the head limit.
    if end > limits.max_head_bytes {
        return Err(head_too_large());
    }
    let fields = parse::header_fields(&input.data()[nl + 1..end], limits)
        .map_err(|r| End::Refused(r.at(Some(&path))))?;
    input.consume(end);
    parse::checked(line, fields).map_err(|r| End::Refused(r.at(Some(&path))))
}

fn fill_head(
    input: &mut Input<'_>,
    deadline: Deadline,
    cap: usize,
    path: Option<&str>,
) -> Result<(), End> {
    match input.fill(deadline, cap) {
        Ok(_) => Ok(()),
        Err(ReadFailure::TimedOut) => Err(End::Refused(timed_out("head").at(path))),
        Err(ReadFailure::Eof | ReadFailure::Io) => Err(End::Quiet),
    }
}

enum BodyFailure {
    Refused(Refusal),
    Gone,
}

/// Reads the whole body under the size cap, the body-memory budget and the body deadline.
/// Returns the body and the bytes reserved for it in the budget.
fn read_body(
    shared: &Shared,
    input: &mut Input<'_>,
    framing: Framing,
) -> Result<(Vec<u8>, usize), BodyFailure> {
    let limits = &shared.limits;
    let start = Instant::now();
    let rate = limits.min_body_rate.max(1) as u64;
    // mod_reqtimeout's rule: the allowance grows by a second for every `rate` bytes received.
    let deadline = |received: usize| {
        Deadline::At(
            start + limits.body_timeout + Duration::from_millis(received as u64 * 1000 / rate),
        )
    };
    let mut reservation = Reservation { shared, bytes: 0 };
    let mut body = Vec::new();
    let result = match framing {
        Framing::None => Ok(()),
        Framing::Length(n) => {
            // Charged to the budget as bytes arrive, not as declared: a declared length costs
            // the server nothing until it is sent.
            copy_body(input, &mut body, n as usize, &mut reservation, &deadline)
        }
        Framing::Chunked => read_chunked(shared, input, &mut body, &mut reservation, &deadline),
    };
    result?;
    let reserved = reservation.bytes;
    std::mem::forget(reservation);
    Ok((body, reserved))
}

/// Moves body bytes from the connection into `body` until it holds `target` bytes, charging
/// each to the body-memory budget as it arrives.
fn copy_body(
    input: &mut Input<'_>,
    body: &mut Vec<u8>,
    target: usize,
    reservation: &mut Reservation<'_>,
    deadline: &dyn Fn(usize) -> Deadline,
) -> Result<(), BodyFailure> {
    while body.len() < target {
        if input.data().is_empty() {
            fill_body(input, deadline(body.len()))?;
        }
        let take = input.data().len().min(target - body.len());
        reservation.grow(take)?;
        body.extend_from_slice(&input.data()[..take]);
        input.consume(take);
    }
    Ok(())
}

/// Bytes of the body-memory budget held for a body being read; given back if reading fails.
struct Reservation<'a> {
    shared: &'a Shared,
    bytes: usize,
}

impl Reservation<'_> {
    fn grow(&mut self, by: usize) -> Result<(), BodyFailure> {
        let budget = &self.shared.body_memory;
        let before = budget.fetch_add(by, Ordering::AcqRel);
        if before + by > self.shared.limits.max_body_memory {
            budget.fetch_sub(by, Ordering::AcqRel);
            return Err(BodyFailure::Refused(Refusal::busy(
                "the server holds too many request bodies at once",
            )));
        }
        self.bytes += by;
        Ok(())
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.shared.body_memory.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

fn fill_body(input: &mut Input<'_>, deadline: Deadline) -> Result<(), BodyFailure> {
    match input.fill(deadline, BODY_BUFFER) {
        Ok(_) => Ok(()),
        Err(ReadFailure::TimedOut) => Err(BodyFailure::Refused(timed_out("body"))),
        // A body cut short by the client closing its side: answer, then close.
        Err(ReadFailure::Eof) => Err(BodyFailure::Refused(Refusal::new(
            400,
            "the connection ended before the whole body arrived",
        ))),
        Err(ReadFailure::Io) => Err(BodyFailure::Gone),
    }
}

/// One line of chunked framing (a chunk size or a trailer field), consumed with its end.
fn chunk_line(
    input: &mut Input<'_>,
    deadline: Deadline,
    max: usize,
) -> Result<Vec<u8>, BodyFailure> {
    loop {
        if let Some(nl) = parse::line_end(input.data(), 0) {
            let line = input.data()[..=nl].to_vec();
            input.consume(nl + 1);
            if !line.ends_with(b"\r\n") {
                return Err(BodyFailure::Refused(Refusal::new(
                    400,
                    "chunked framing lines end in CRLF",
                )));
            }
            return Ok(line);
        }
        if input.data().len() > max {
            return Err(BodyFailure::Refused(Refusal::new(400, "chunked framing line too long")));
        }
        fill_body(input, deadline)?;
    }
}

fn read_chunked(
    shared: &Shared,
    input: &mut Input<'_>,
    body: &mut Vec<u8>,
    reservation: &mut Reservation<'_>,
    deadline: &dyn Fn(usize) -> Deadline,
) -> Result<(), BodyFailure> {
    let max = shared.limits.max_body_bytes;
    loop {
        let line = chunk_line(input, deadline(body.len()), MAX_CHUNK_LINE)?;
        let size = parse::chunk_size(&line).map_err(BodyFailure::Refused)?;
        if size == 0 {
            break;
        }
        if body.len() as u64 + size > max as u64 {
            return Err(BodyFailure::Refused(too_large(max)));
        }
        copy_body(input, body, body.len() + size as usize, reservation, deadline)?;
        // Chunked framing is where proxies and servers are made to disagree (request
        // smuggling), so it is read strictly: every framing line ends in CRLF.
        let crlf = chunk_line(input, deadline(body.len()), 2)?;
        if crlf != b"\r\n" {
            return Err(BodyFailure::Refused(Refusal::new(400, "chunk data not followed by CRLF")));
        }
    }
    // Trailer fields: checked like header fields, bounded like a head, then discarded.
    let mut trailer = 0usize;
    loop {
        let line = chunk_line(input, deadline(body.len()), MAX_CHUNK_LINE)?;
        if line == b"\r\n" {
            return Ok(());
        }
        trailer += line.len();
        if trailer > shared.limits.max_head_bytes {
            return Err(BodyFailure::Refused(Refusal::new(431, "chunked trailer too large")));
        }
        parse::trailer_line(&line).map_err(BodyFailure::Refused)?;
    }
}
