use std::io::{self, Cursor, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use std::fmt;

use crate::{HTTPVersion, Header, Method, Response};

/// Represents an HTTP request made by a client.
///
/// A `Request` object is what is produced by the server, and is your what
/// your code must analyse and answer.
///
/// This object implements the `Send` trait, therefore you can dispatch your requests to
/// worker threads.
///
/// throng patch: a request reaches the application only once its head *and body* have been
/// read in full by the connection's own thread, under the server's limits, and answering it
/// hands the serialised response back to that thread, which writes it. A worker thread
/// therefore never waits on a client's socket, so slow or stalled clients cannot hold the
/// workers. A connection has one request in flight at a time: pipelined requests wait in the
/// socket buffer until the previous response is written, which keeps responses in order
/// without the upstream reader and writer chains. See PATCHES.md.
///
/// # Automatic cleanup
///
/// If a `Request` object is destroyed without `into_writer` or `respond` being called,
/// an empty response with a 500 status code (internal server error) will automatically be
/// sent back to the client.
/// This means that if your code fails during the handling of a request, this "internal server
/// error" response will automatically be sent during the stack unwinding.
pub struct Request {
    body: Body,
    responder: Option<Responder>,
    remote_addr: Option<SocketAddr>,
    method: Method,
    path: String,
    http_version: HTTPVersion,
    headers: Vec<Header>,
    body_length: Option<usize>,
}

/// A request body held in memory, counted against the server's body-memory budget until it
/// is dropped.
pub(crate) struct Body {
    data: Cursor<Vec<u8>>,
    budget: Option<Arc<AtomicUsize>>,
    reserved: usize,
}

impl Body {
    pub(crate) fn new(data: Vec<u8>, budget: Option<Arc<AtomicUsize>>, reserved: usize) -> Body {
        Body { data: Cursor::new(data), budget, reserved }
    }
}

impl Body {
    fn take_rest(&mut self) -> Vec<u8> {
        let at = self.data.position() as usize;
        let mut data = std::mem::take(self.data.get_mut());
        self.data.set_position(0);
        if at > 0 {
            data.drain(..at.min(data.len()));
        }
        data
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.data.read(buf)
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.fetch_sub(self.reserved, Ordering::AcqRel);
        }
    }
}

/// A serialised response, and whether the connection closes after it.
pub(crate) struct Reply {
    pub bytes: Vec<u8>,
    /// A large body, written after `bytes` rather than copied into them.
    pub body: Vec<u8>,
    pub close: bool,
    /// throng patch: a condition the connection thread checks before writing the reply, once
    /// the handler's permit is given back, with the reply to write instead if it fails.
    pub held: Option<Held>,
}

/// throng patch: what a held reply waits for (see [`Request::respond_bytes_held`]).
pub(crate) struct Held {
    pub until: Box<dyn FnOnce() -> bool + Send>,
    pub otherwise: Box<Reply>,
}

impl Reply {
    /// The reply to write: this one, or, if it is held and its condition fails, the other.
    pub(crate) fn release(mut self) -> Reply {
        match self.held.take() {
            Some(held) => {
                if (held.until)() {
                    self
                } else {
                    *held.otherwise
                }
            }
            None => self,
        }
    }
}

/// Where a connection thread waits for the answer to its request in flight.
#[derive(Default)]
pub(crate) struct Slot {
    reply: Mutex<Option<Reply>>,
    ready: Condvar,
}

impl Slot {
    pub(crate) fn put(&self, reply: Reply) {
        *self.reply.lock().unwrap_or_else(|e| e.into_inner()) = Some(reply);
        self.ready.notify_one();
    }

    /// Waits for the reply. It always comes: answering a request fills the slot, and so does
    /// dropping it unanswered (with a 500), so no other way out is needed.
    pub(crate) fn take(&self) -> Reply {
        let mut reply = self.reply.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(r) = reply.take() {
                return r;
            }
            reply = self.ready.wait(reply).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// What answering a request needs: the slot its connection waits on, and how to frame.
pub(crate) struct Responder {
    pub slot: Arc<Slot>,
    pub version: HTTPVersion,
    pub head: bool,
    pub keep_alive: bool,
}

impl Responder {
    fn send<R: Read>(self, response: Response<R>) -> io::Result<()> {
        let result = response.into_wire(&self.version, self.head, !self.keep_alive);
        let reply = match result {
            Ok(reply) => reply,
            Err(e) => {
                // The body reader failed: the client still gets an answer.
                let fallback = Response::empty(500).into_wire(&self.version, self.head, true);
                self.slot.put(fallback.expect("an empty response serialises"));
                return Err(e);
            }
        };
        self.slot.put(reply);
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn new_request(
    method: Method,
    path: String,
    version: HTTPVersion,
    headers: Vec<Header>,
    remote_addr: Option<SocketAddr>,
    body: Body,
    body_length: usize,
    responder: Responder,
) -> Request {
    Request {
        body,
        responder: Some(responder),
        remote_addr,
        method,
        path,
        http_version: version,
        headers,
        body_length: Some(body_length),
    }
}

impl Request {
    /// Returns true if the request was made through HTTPS. Always false: throng's fork serves
    /// plain HTTP and leaves TLS to a proxy in front of it.
    #[inline]
    pub fn secure(&self) -> bool {
        false
    }

    /// Returns the method requested by the client (eg. `GET`, `POST`, etc.).
    #[inline]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Returns the resource requested by the client, in origin form (`/path?query`).
    #[inline]
    pub fn url(&self) -> &str {
        &self.path
    }

    /// Moves the headers out, for a handler that keeps them in its own request type; the
    /// request has none afterwards.
    pub fn take_headers(&mut self) -> Vec<Header> {
        std::mem::take(&mut self.headers)
    }

    /// Returns a list of all headers sent by the client.
    #[inline]
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// Returns the HTTP version of the request.
    #[inline]
    pub fn http_version(&self) -> &HTTPVersion {
        &self.http_version
    }

    /// Returns the length of the body in bytes: the whole body has been read already, under
    /// the server's size limit, whether it was sent with a length or chunked.
    #[inline]
    pub fn body_length(&self) -> Option<usize> {
        self.body_length
    }

    /// Returns the address of the client that sent this request.
    #[inline]
    pub fn remote_addr(&self) -> Option<&SocketAddr> {
        self.remote_addr.as_ref()
    }

    /// Allows to read the body of the request (already in memory).
    #[inline]
    pub fn as_reader(&mut self) -> &mut dyn Read {
        &mut self.body
    }

    /// throng patch: the unread rest of the body, moved out without a copy. It stays counted
    /// in the server's body-memory budget until the request is answered or dropped.
    pub fn take_body(&mut self) -> Vec<u8> {
        self.body.take_rest()
    }

    /// Turns the request into a writer for a raw HTTP response, written by the connection
    /// once the writer is dropped. The connection is closed after it, since its framing is
    /// the caller's.
    pub fn into_writer(mut self) -> Box<dyn Write + Send + 'static> {
        let responder = self.responder.take().expect("a request is answered once");
        Box::new(RawWriter { bytes: Vec::new(), slot: Some(responder.slot) })
    }

    /// throng patch: answers with a body already in memory, framed with `Content-Length`,
    /// without copying it (a multi-megabyte body is written as it is).
    /// Header fields are given as text; one carrying CR, LF or NUL is left out.
    pub fn respond_bytes(
        mut self,
        status: crate::StatusCode,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(), io::Error> {
        let responder = self.responder.take().expect("a request is answered once");
        let reply = crate::response::wire(
            status,
            headers,
            &responder.version,
            responder.head,
            !responder.keep_alive,
            body,
        );
        responder.slot.put(reply);
        Ok(())
    }

    /// throng patch: as [`Request::respond_bytes`], but the reply is written only once
    /// `until` returns true, and `otherwise` (status, headers, body) in its place if it returns
    /// false. `until` runs on the connection's thread after the handler has given its permit
    /// back, so waiting in it (for a disk flush, say) holds the connection, not a worker.
    pub fn respond_bytes_held(
        mut self,
        status: crate::StatusCode,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        until: Box<dyn FnOnce() -> bool + Send>,
        otherwise: (crate::StatusCode, &[(&str, &str)], Vec<u8>),
    ) -> Result<(), io::Error> {
        let responder = self.responder.take().expect("a request is answered once");
        let (v, head, close) = (&responder.version, responder.head, !responder.keep_alive);
        let alternative =
            crate::response::wire(otherwise.0, otherwise.1, v, head, close, otherwise.2);
        let mut reply = crate::response::wire(status, headers, v, head, close, body);
        reply.held = Some(Held { until, otherwise: Box::new(alternative) });
        responder.slot.put(reply);
        Ok(())
    }

    /// Sends a response to this request.
    #[inline]
    pub fn respond<R>(mut self, response: Response<R>) -> Result<(), io::Error>
    where
        R: Read,
    {
        let responder = self.responder.take().expect("a request is answered once");
        responder.send(response)
    }
}

struct RawWriter {
    bytes: Vec<u8>,
    slot: Option<Arc<Slot>>,
}

impl Write for RawWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for RawWriter {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.put(Reply {
                bytes: std::mem::take(&mut self.bytes),
                body: Vec::new(),
                close: true,
                held: None,
            });
        }
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> Result<(), fmt::Error> {
        write!(formatter, "Request({} {} from {:?})", self.method, self.path, self.remote_addr)
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        if let Some(responder) = self.responder.take() {
            let _ = responder.send(Response::empty(500));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Request;

    #[test]
    fn must_be_send() {
        #![allow(dead_code)]
        fn f<T: Send>(_: &T) {}
        fn bar(rq: &Request) {
            f(rq);
        }
    }
}
