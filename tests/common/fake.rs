//! A loopback HTTP server that answers as a test tells it, for the other side of an outgoing
//! call: a server that is not Crowd, one that answers garbage or nothing, or one that speaks
//! Crowd's own dialect path by path.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// The header every Crowd answer carries.
pub const CROWD: (&str, &str) = ("X-Embedded-Crowd-Version", "Crowd/7.0.0");

/// What the fake server does with each request.
#[derive(Clone)]
pub enum Behaviour {
    /// Answers with this status, these extra headers and this body.
    Answer(u16, Vec<(&'static str, &'static str)>, Vec<u8>),
    /// Reads the request and says nothing until the client gives up.
    Silent,
    /// Answers as this function says for the request's path (with its query).
    Routes(Arc<dyn Fn(&str) -> Answer + Send + Sync>),
}

/// A status, extra headers and a body.
pub type Answer = (u16, Vec<(&'static str, &'static str)>, Vec<u8>);

/// A loopback HTTP server that answers as told, whatever is asked.
pub struct FakeServer {
    pub url: String,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl FakeServer {
    pub fn start() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let behaviour = Arc::new(Mutex::new(Behaviour::Silent));
        let shared = behaviour.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let behaviour = shared.lock().unwrap().clone();
                std::thread::spawn(move || serve(stream, behaviour));
            }
        });
        FakeServer { url, behaviour }
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }
}

fn serve(mut stream: TcpStream, behaviour: Behaviour) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let path = String::from_utf8_lossy(&head).split(' ').nth(1).unwrap_or("").to_string();
    let behaviour = match behaviour {
        Behaviour::Routes(route) => {
            let (status, headers, body) = route(&path);
            Behaviour::Answer(status, headers, body)
        }
        other => other,
    };
    match behaviour {
        Behaviour::Routes(_) => unreachable!("resolved above"),
        Behaviour::Answer(status, headers, body) => {
            let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
            for (n, v) in headers {
                out.push_str(&format!("{n}: {v}\r\n"));
            }
            out.push_str("Connection: close\r\n\r\n");
            let _ = stream.write_all(out.as_bytes());
            let _ = stream.write_all(&body);
        }
        // Until the client closes its end.
        Behaviour::Silent => while stream.read(&mut byte).is_ok_and(|n| n > 0) {},
    }
}
