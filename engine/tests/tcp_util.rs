//! Shared helpers for the TCP end-to-end tests (included with `#[path]`): echo servers,
//! a client mirroring `acceptance/lib/tcpcheck.py`, and bounded waits.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use engine::plan::Plan;
use engine::table::BackendConfig;
use engine::worker::{Engine, EngineHandle};

/// Upper bound for any single test step.
pub const STEP: Duration = Duration::from_secs(20);

/// An echo server: sends `NAME\n`, echoes until EOF, then half-closes. A first payload
/// chunk starting `RESET!` makes it send 1 KiB and reset the connection (SO_LINGER 0).
pub fn echo_server(name: &str) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind echo server");
    let addr = l.local_addr().expect("addr");
    let name = name.to_string();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let name = name.clone();
            std::thread::spawn(move || {
                let _ = c.set_read_timeout(Some(STEP));
                if c.write_all(format!("{name}\n").as_bytes()).is_err() {
                    return;
                }
                let mut buf = vec![0u8; 65536];
                let mut first = true;
                loop {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if first && buf.get(..n).is_some_and(|b| b.starts_with(b"RESET!")) {
                                let _ = c.write_all(&[b'x'; 1024]);
                                std::thread::sleep(Duration::from_millis(50));
                                let _ = engine::sys::set_linger_zero(c.as_fd());
                                return; // drop: RST
                            }
                            first = false;
                            if c.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = c.shutdown(Shutdown::Write);
            });
        }
    });
    addr
}

/// An address on loopback where nothing listens (connect is refused).
pub fn refused_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// Starts an engine and returns it with its first listening address.
pub fn start(plan: Plan) -> (EngineHandle, SocketAddr) {
    let h = Engine::start(plan, None).expect("engine start");
    let addr = h.local_addrs().first().map(|(_, a)| *a).expect("a listener");
    (h, addr)
}

/// A plan with test-friendly settings: no pinning, `threads` threads.
pub fn plan(servers: &[SocketAddr], threads: usize) -> Plan {
    plan_with(servers, threads, |_| {})
}

/// Like [`plan`], with `edit` applied to the backend config first.
pub fn plan_with(servers: &[SocketAddr], threads: usize, edit: impl FnOnce(&mut BackendConfig)) -> Plan {
    Plan::simple_tcp_with("127.0.0.1:0".parse().expect("literal"), servers, threads, edit)
        .expect("valid backend")
}

/// Deterministic pseudo-random payload.
pub fn payload(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Like tcpcheck.py's `one`: read the banner, send `n` bytes then shutdown(WR), read
/// everything back until EOF. Returns the banner if the echo was byte-exact.
pub fn echo_once(fe: SocketAddr, n: usize, seed: u64) -> Result<String, String> {
    let s = TcpStream::connect(fe).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(STEP)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(STEP)).map_err(|e| e.to_string())?;
    let mut r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
    let mut banner = String::new();
    r.read_line(&mut banner).map_err(|e| format!("banner: {e}"))?;
    let data = payload(n, seed);
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        for chunk in data.chunks(65536) {
            w.write_all(chunk)?;
        }
        w.shutdown(Shutdown::Write)
    });
    let mut got = Vec::with_capacity(n);
    r.read_to_end(&mut got)
        .map_err(|e| format!("read after {} bytes: {e}", got.len()))?;
    sender
        .join()
        .map_err(|_| "sender panicked".to_string())?
        .map_err(|e| format!("send: {e}"))?;
    if got.len() != n {
        return Err(format!("got {} of {n} bytes", got.len()));
    }
    if got != payload(n, seed) {
        return Err("payload differs".into());
    }
    Ok(banner.trim().to_string())
}

/// Joins the engine within `limit`, or fails the test.
pub fn join_within(h: EngineHandle, limit: Duration) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(h.join());
    });
    match rx.recv_timeout(limit) {
        Ok(r) => r.expect("engine exited cleanly"),
        Err(_) => panic!("engine did not stop within {limit:?}"),
    }
}

/// Polls `f` until it returns true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}
