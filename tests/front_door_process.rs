//! The front door measured on the real binary: it survives its open-file limit, and memory
//! returns to its baseline after a burst of oversized request heads. These need a process of
//! their own (its own descriptor limit, its own resident size).

mod common;
use common::*;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `throng serve` child whose log lines are collected as they come.
struct Served {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    _dir: TempDir,
}

impl Served {
    /// Starts the binary through `sh -c` so that `ulimit` can apply to it alone.
    fn start(ulimit_files: Option<u32>, args: &[&str]) -> Served {
        let dir = TempDir::new("throng-door");
        let mut script = String::new();
        if let Some(n) = ulimit_files {
            script.push_str(&format!("ulimit -n {n} || exit 99; "));
        }
        script.push_str("exec \"$0\" \"$@\"");
        let mut child = Command::new("sh")
            .args(["-c", &script, env!("CARGO_BIN_EXE_throng"), "serve", "--listen", "127.0.0.1:0"])
            .arg("--data")
            .arg(dir.path())
            .args(args)
            .env("THRONG_PBKDF2_ITERATIONS", "1000")
            .env("THRONG_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("server exited before listening").unwrap();
            log.lock().unwrap().push(line.clone());
            if let Some(u) = line.split("listening on http://").nth(1) {
                break u.trim().parse().unwrap();
            }
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Served { child, addr, log, _dir: dir }
    }

    fn status(&self) -> Option<u16> {
        let mut s = TcpStream::connect(self.addr).ok()?;
        s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
        s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
        let mut b = [0u8; 12];
        s.read_exact(&mut b).ok()?;
        std::str::from_utf8(&b[9..12]).ok()?.parse().ok()
    }

    /// Polls `/status` until it answers 200, for at most `limit`.
    fn answers_within(&self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if self.status() == Some(200) {
                return true;
            }
        }
        false
    }

    fn proc_status(&self, field: &str) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = text.lines().find(|l| l.starts_with(field)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "exit status {exit:?}");
    }
}

impl Drop for Served {
    /// A failed test must not leave a server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Upstream's accept loop ended on the first accept error, so a server that once ran out of
/// descriptors stayed deaf until restarted. Run with 64 descriptors and a connection budget
/// above that, exhaust them, let go, and `/status` answers again.
#[test]
fn the_accept_loop_survives_the_open_file_limit() {
    let served = Served::start(Some(64), &["--max-connections", "1000"]);
    assert!(served.answers_within(Duration::from_secs(10)));
    let mut held = Vec::new();
    for _ in 0..120 {
        let Ok(mut s) = TcpStream::connect(served.addr) else { break };
        let _ = s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
        s.set_nonblocking(true).unwrap();
        held.push(s);
    }
    // Read what each held connection got: 200 for those accepted, a 503 for the ones the
    // spare descriptor let the server refuse, nothing for those still waiting in the backlog.
    let (mut ok, mut refused) = (0, 0);
    let mut seen = vec![false; held.len()];
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until && seen.iter().any(|s| !s) {
        for (i, s) in held.iter_mut().enumerate() {
            let mut b = [0u8; 12];
            match s.read(&mut b) {
                Ok(n) if n >= 12 && !seen[i] => {
                    seen[i] = true;
                    match &b[9..12] {
                        b"200" => ok += 1,
                        b"503" => refused += 1,
                        other => panic!("unexpected {other:?}"),
                    }
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => seen[i] = true,
            }
        }
    }
    let waiting = seen.iter().filter(|s| !**s).count();
    assert!(ok > 10, "some connections were served before the limit ({ok})");
    assert!(
        refused + waiting > 0,
        "the descriptor limit was reached ({ok} served of {})",
        held.len()
    );
    let log = served.log.lock().unwrap().join("\n");
    assert!(log.contains("accepting a connection failed"), "the failure is logged:\n{log}");
    drop(held);
    assert!(
        served.answers_within(Duration::from_secs(10)),
        "/status answers again once descriptors are free"
    );
    eprintln!("served {ok}, refused {refused} with 503, {waiting} left waiting, then recovered");
    served.stop();
}

/// Bursts of 100 connections each sending a 1 MB head (refused at 32 KiB with 431) leave the
/// resident size where it was. Upstream read such heads whole: 41 → 154 MB, never returned.
/// The first burst warms caches that are kept for reuse by design (glibc keeps the stacks of
/// ended threads, and its arenas, for the next ones), so the baseline is taken after it.
#[test]
fn memory_returns_to_its_baseline_after_a_burst_of_oversized_heads() {
    let served = Served::start(None, &[]);
    assert!(served.answers_within(Duration::from_secs(10)));
    let cold = served.proc_status("VmRSS:");
    assert_eq!(oversized_burst(served.addr), 100, "every oversized head is answered 431");
    let warm_peak = served.proc_status("VmHWM:");
    let baseline = settled_rss(&served, u64::MAX);
    for round in 0..2 {
        assert_eq!(oversized_burst(served.addr), 100, "every oversized head is answered 431");
        let after = settled_rss(&served, baseline + 1024);
        eprintln!(
            "RSS: cold {cold} KiB, first burst peak {warm_peak} KiB, baseline {baseline} KiB, \
             after burst {} {after} KiB, peak so far {} KiB",
            round + 2,
            served.proc_status("VmHWM:")
        );
        assert!(after <= baseline + 1024, "baseline {baseline} KiB, after {after} KiB");
    }
    let peak = served.proc_status("VmHWM:");
    assert!(peak < cold + 32 * 1024, "peak {peak} KiB over {cold} KiB at start");
    served.stop();
}

/// 100 connections at once, each sending a 1 MB head; returns how many were answered 431.
fn oversized_burst(addr: SocketAddr) -> usize {
    let senders: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut conns: Vec<TcpStream> = (0..25)
                    .map(|_| {
                        let mut s = TcpStream::connect(addr).unwrap();
                        s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n").unwrap();
                        s
                    })
                    .collect();
                let line = format!("X-Filler: {}\r\n", "a".repeat(1000));
                let mut refused = 0;
                for s in &mut conns {
                    for _ in 0..1000 {
                        if s.write_all(line.as_bytes()).is_err() {
                            break;
                        }
                    }
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    let mut b = [0u8; 12];
                    if s.read_exact(&mut b).is_ok() && &b[9..12] == b"431" {
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    senders.into_iter().map(|t| t.join().unwrap()).sum()
}

/// The resident size once connection threads have ended (they idle a few seconds first):
/// polls until it is at most `target` KiB or has stopped falling, for at most 20 s.
fn settled_rss(served: &Served, target: u64) -> u64 {
    let until = Instant::now() + Duration::from_secs(20);
    let mut threads = served.proc_status("Threads:");
    while Instant::now() < until {
        let rss = served.proc_status("VmRSS:");
        let now = served.proc_status("Threads:");
        // The pool keeps four idle threads; the rest exit after five idle seconds.
        if rss <= target || (now <= 12 && now == threads) {
            return rss;
        }
        threads = now;
        std::thread::yield_now();
    }
    served.proc_status("VmRSS:")
}

/// `--listen` on an address that is taken says so, and what to do, instead of a bare OS error.
#[test]
fn a_listen_address_in_use_is_named_as_such() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = TempDir::new("throng-door");
    let out = Command::new(env!("CARGO_BIN_EXE_throng"))
        .args(["serve", "--listen", &addr, "--data"])
        .arg(dir.path())
        .env("THRONG_PBKDF2_ITERATIONS", "1000")
        .env("THRONG_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(err.contains("already in use"), "{err}");
    assert!(err.contains("--listen"), "it says what to change: {err}");
    assert!(!err.contains("internal error"), "{err}");
    // Nothing was created for a server that never started.
    assert!(!dir.path().join("throng.redb").exists());
}
