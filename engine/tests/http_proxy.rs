//! End-to-end tests of HTTP mode over 127.0.0.1: a config is built into a plan, the
//! engine runs it, small in-test origins (std threads) answer. Every wait is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::worker::{Engine, EngineHandle};

/// Upper bound for any single read.
const STEP: Duration = Duration::from_secs(10);

/// An origin: answers `<name> <method> <path>` with `X-Origin`, `X-Seen-XFF`,
/// `X-Body-Len`, `X-Seen-Conn`; `/big` answers 1 MiB, `/slow` waits 3 s, `/chunked`
/// answers chunked, `/close` answers close-delimited, `/204` no body. Counts requests.
struct Origin {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    conns: Arc<AtomicUsize>,
}

fn origin(name: &'static str) -> Origin {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind origin");
    let addr = l.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let conns = Arc::new(AtomicUsize::new(0));
    let (h2, c2) = (hits.clone(), conns.clone());
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(c) = c else { continue };
            c2.fetch_add(1, Ordering::SeqCst);
            let h3 = h2.clone();
            std::thread::spawn(move || serve(name, c, &h3));
        }
    });
    Origin { addr, hits, conns }
}

fn serve(name: &str, c: TcpStream, hits: &AtomicUsize) {
    let _ = c.set_read_timeout(Some(STEP));
    let mut w = c.try_clone().expect("clone");
    let mut r = BufReader::new(c);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut headers = Vec::new();
        loop {
            let mut l = String::new();
            if r.read_line(&mut l).unwrap_or(0) == 0 {
                return;
            }
            if l == "\r\n" || l == "\n" {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        hits.fetch_add(1, Ordering::SeqCst);
        let hdr = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        if path == "/early" {
            // Answers before reading the body, then resets the connection.
            let _ = w.write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n");
            std::thread::sleep(Duration::from_millis(300));
            let sock = socket2_linger_zero(&w);
            drop(sock);
            return;
        }
        let mut body_len = 0usize;
        if let Some(n) = hdr("content-length").and_then(|v| v.parse::<usize>().ok()) {
            let mut b = vec![0u8; n];
            if r.read_exact(&mut b).is_err() {
                return;
            }
            body_len = n;
        } else if hdr("transfer-encoding").is_some() {
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).unwrap_or(0) == 0 {
                    return;
                }
                let n = usize::from_str_radix(l.trim(), 16).unwrap_or(0);
                let mut b = vec![0u8; n + 2];
                if r.read_exact(&mut b).is_err() {
                    return;
                }
                if n == 0 {
                    break;
                }
                body_len += n;
            }
        }
        if hdr("expect").is_some() {
            // Body already read: interim after the fact is still valid HTTP.
            let _ = w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        if path == "/slow" {
            std::thread::sleep(Duration::from_secs(3));
        }
        let xff = hdr("x-forwarded-for").unwrap_or_else(|| "-".into());
        let conn = hdr("connection").unwrap_or_else(|| "-".into());
        let extra = format!(
            "X-Origin: {name}\r\nX-Seen-XFF: {xff}\r\nX-Body-Len: {body_len}\r\nX-Seen-Conn: {conn}\r\n"
        );
        let out = match path.as_str() {
            "/big" => {
                let body = vec![b'x'; 1 << 20];
                let mut o = format!("HTTP/1.1 200 OK\r\n{extra}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
                if method != "HEAD" {
                    o.extend_from_slice(&body);
                }
                o
            }
            "/chunked" => format!("HTTP/1.1 200 OK\r\n{extra}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n").into_bytes(),
            "/204" => format!("HTTP/1.1 204 No Content\r\n{extra}\r\n").into_bytes(),
            "/close" => {
                let _ = w.write_all(format!("HTTP/1.1 200 OK\r\n{extra}\r\nuntil close").as_bytes());
                return;
            }
            "/bad" => b"HTTP/1.1 2x0 Nope\r\n\r\n".to_vec(),
            "/ws" => {
                let _ = w.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
                // Echo raw bytes from now on.
                let mut buf = [0u8; 4096];
                loop {
                    match r.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if w.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            }
            _ => {
                let body = format!("{name} {method} {path}\n");
                let mut o = format!("HTTP/1.1 200 OK\r\n{extra}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
                if method != "HEAD" {
                    o.extend_from_slice(body.as_bytes());
                }
                o
            }
        };
        if w.write_all(&out).is_err() {
            return;
        }
    }
}

/// Starts the engine on `cfg` (`{A}`, `{B}`: origin addresses; frontends bind port 0).
fn start(cfg: &str) -> (EngineHandle, Vec<SocketAddr>) {
    let loaded = engine::config::parse_text("t.cfg", cfg, &|_| None).expect("config parses");
    let mut built = engine::build::plan(&loaded.config, 20_000).expect("plan builds");
    built.plan.threads = 1;
    built.plan.pin = false;
    let h = Engine::start(built.plan, None).expect("engine starts");
    let mut addrs: Vec<(usize, SocketAddr)> = h.local_addrs().to_vec();
    addrs.sort();
    (h, addrs.into_iter().map(|(_, a)| a).collect())
}

fn cfg(extra_fe: &str, a: SocketAddr, b: SocketAddr) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
frontend fe\n    bind 127.0.0.1:0\n{extra_fe}    default_backend be\n\
backend be\n    balance roundrobin\n    server a {a}\n    server b {b}\n"
    )
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn hdr(&self, n: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str())
    }
}

fn client(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(addr).expect("connect to proxy");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    let r = BufReader::new(s.try_clone().expect("clone"));
    (s, r)
}

/// Reads one response (`head`: the request was HEAD). `None` on EOF before a status line.
fn read_resp(r: &mut BufReader<TcpStream>, head: bool) -> Option<Resp> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status = line.split_whitespace().nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).ok()?;
        if l == "\r\n" || l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if head || status == 204 || status == 304 || (100..200).contains(&status) {
        return Some(resp);
    }
    if let Some(n) = resp.hdr("content-length").and_then(|v| v.parse::<usize>().ok()) {
        let mut b = vec![0u8; n];
        r.read_exact(&mut b).ok()?;
        resp.body = b;
    } else if resp.hdr("transfer-encoding").is_some() {
        loop {
            let mut l = String::new();
            r.read_line(&mut l).ok()?;
            let n = usize::from_str_radix(l.trim(), 16).ok()?;
            let mut b = vec![0u8; n + 2];
            r.read_exact(&mut b).ok()?;
            if n == 0 {
                break;
            }
            resp.body.extend_from_slice(&b[..n]);
        }
    } else {
        r.read_to_end(&mut resp.body).ok()?;
    }
    Some(resp)
}

fn get(addr: SocketAddr, raw: &[u8]) -> Option<Resp> {
    let (mut s, mut r) = client(addr);
    s.write_all(raw).ok()?;
    read_resp(&mut r, raw.starts_with(b"HEAD"))
}

#[test]
fn keep_alive_pipelining_head_and_roundrobin() {
    let (a, b) = (origin("a"), origin("b"));
    let (h, fe) = start(&cfg("    option forwardfor\n", a.addr, b.addr));
    let (mut s, mut r) = client(fe[0]);
    let mut seen = std::collections::HashSet::new();
    for i in 0..20 {
        s.write_all(format!("GET /k{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .expect("write");
        let resp = read_resp(&mut r, false).expect("keep-alive response");
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.body,
            format!("{} GET /k{i}\n", resp.hdr("x-origin").unwrap_or("?")).as_bytes()
        );
        assert_eq!(resp.hdr("x-seen-xff"), Some("127.0.0.1"));
        seen.insert(resp.hdr("x-origin").unwrap_or("").to_string());
    }
    assert_eq!(seen.len(), 2, "roundrobin over one client connection");
    // Pipelined: three requests in one write, answered in order.
    s.write_all(b"GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /p2 HTTP/1.1\r\nHost: x\r\n\r\nGET /p3 HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let r1 = read_resp(&mut r, false).expect("p1");
    let r2 = read_resp(&mut r, true).expect("p2");
    let r3 = read_resp(&mut r, false).expect("p3");
    assert!(r1.body.ends_with(b"GET /p1\n"));
    assert_eq!(r2.status, 200);
    assert!(r3.body.ends_with(b"GET /p3\n"), "HEAD had no body to skip");
    // Server connections were reused: far fewer than requests.
    assert!(
        a.conns.load(Ordering::SeqCst) + b.conns.load(Ordering::SeqCst) <= 6,
        "server keep-alive: {} + {} connections",
        a.conns.load(Ordering::SeqCst),
        b.conns.load(Ordering::SeqCst)
    );
    h.stop_now();
    h.join().expect("engine stops");
}

#[test]
fn bodies_by_framing_both_ways() {
    let (a, b) = (origin("a"), origin("b"));
    let (h, fe) = start(&cfg("", a.addr, b.addr));
    let body = vec![7u8; 1 << 20];
    let mut req = format!(
        "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let r = get(fe[0], &req).expect("content-length upload");
    assert_eq!(r.hdr("x-body-len"), Some("1048576"));
    let mut req = b"POST /upc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for c in body.chunks(70_000) {
        req.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        req.extend_from_slice(c);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let r = get(fe[0], &req).expect("chunked upload");
    assert_eq!(r.hdr("x-body-len"), Some("1048576"));
    let r = get(fe[0], b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n").expect("1 MiB response");
    assert_eq!(r.body.len(), 1 << 20);
    let r = get(fe[0], b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n").expect("chunked response");
    assert_eq!(r.body, b"hello world");
    let r = get(fe[0], b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n").expect("close-delimited");
    assert_eq!(r.body, b"until close");
    assert_eq!(r.hdr("connection"), Some("close"));
    // 204 then another request on the same connection.
    let (mut s, mut rd) = client(fe[0]);
    s.write_all(b"GET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    assert_eq!(read_resp(&mut rd, false).expect("204").status, 204);
    assert!(read_resp(&mut rd, false)
        .expect("after")
        .body
        .ends_with(b"/after\n"));
    // Expect: 100-continue: the interim response is relayed, then the final one.
    let (mut s, mut rd) = client(fe[0]);
    s.write_all(b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
        .expect("write");
    assert_eq!(read_resp(&mut rd, false).expect("interim").status, 100);
    assert_eq!(
        read_resp(&mut rd, false).expect("final").hdr("x-body-len"),
        Some("3")
    );
    // HTTP/1.0 client: closed after the response.
    let r = get(fe[0], b"GET /old HTTP/1.0\r\n\r\n").expect("http/1.0");
    assert_eq!(r.status, 200);
    h.stop_now();
    h.join().expect("engine stops");
}

#[test]
fn malformed_and_smuggling_requests_never_reach_the_origin() {
    let (a, b) = (origin("a"), origin("b"));
    let (h, fe) = start(&cfg("", a.addr, b.addr));
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "two content-lengths",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!".to_vec(),
        ),
        (
            "cl with te",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
        ),
        (
            "te not chunked last",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n".to_vec(),
        ),
        (
            "space before colon",
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n".to_vec(),
        ),
        (
            "bad request line",
            b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
        ),
        ("bare cr", b"GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n".to_vec()),
        (
            "nul in value",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n".to_vec(),
        ),
        (
            "obs fold",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n".to_vec(),
        ),
        (
            "bad chunk size",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
                .to_vec(),
        ),
        ("huge header", huge.into_bytes()),
        ("http/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n".to_vec()),
    ];
    for (name, raw) in &cases {
        let before = a.hits.load(Ordering::SeqCst) + b.hits.load(Ordering::SeqCst);
        let t0 = Instant::now();
        let r = get(fe[0], raw);
        eprintln!("{name}: {:?} {:?}", t0.elapsed(), r.as_ref().map(|r| r.status));
        if let Some(r) = &r {
            assert_eq!(r.status, 400, "{name}");
            assert!(r.hdr("x-origin").is_none(), "{name}: forwarded");
        }
        let after = a.hits.load(Ordering::SeqCst) + b.hits.load(Ordering::SeqCst);
        // A bad chunk is found after the head went out; the body never completes there.
        if *name != "bad chunk size" {
            assert_eq!(before, after, "{name} reached the origin");
        }
    }
    let r = get(fe[0], b"GET /still HTTP/1.1\r\nHost: x\r\n\r\n").expect("still serving");
    assert_eq!(r.status, 200);
    h.stop_now();
    h.join().expect("engine stops");
}

#[test]
fn errors_503_502_504_408_and_errorfile() {
    let a = origin("a");
    let dead = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let dir = std::env::temp_dir().join(format!("h1-errfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ef = dir.join("503.http");
    std::fs::write(
        &ef,
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 6\r\n\r\ncustom",
    )
    .expect("write");
    let bef = dir.join("503-be.http");
    std::fs::write(
        &bef,
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 7\r\n\r\nbackend",
    )
    .expect("write");
    let text = format!(
        "defaults\n    mode http\n    timeout connect 500ms\n    timeout client 5s\n    timeout server 400ms\n    timeout http-request 300ms\n    retries 1\n\
frontend dead\n    bind 127.0.0.1:0\n    default_backend nowhere\n\
frontend custom\n    bind 127.0.0.1:0\n    errorfile 503 {}\n    default_backend nowhere\n\
frontend live\n    bind 127.0.0.1:0\n    default_backend live\n\
frontend custom_be\n    bind 127.0.0.1:0\n    errorfile 503 {}\n    default_backend nowhere_custom\n\
backend nowhere\n    server gone {dead}\n\
backend nowhere_custom\n    errorfile 503 {}\n    server gone {dead}\n\
backend live\n    server a {}\n",
        ef.display(),
        ef.display(),
        bef.display(),
        a.addr
    );
    let (h, fe) = start(&text);
    let t0 = Instant::now();
    let r = get(fe[0], b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("503");
    assert_eq!(r.status, 503);
    assert!(String::from_utf8_lossy(&r.body).contains("No server is available"));
    assert!(t0.elapsed() < Duration::from_secs(5));
    let r = get(fe[1], b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("errorfile");
    assert_eq!((r.status, &r.body[..]), (503, &b"custom"[..]));
    let r = get(fe[3], b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("backend errorfile");
    assert_eq!(
        (r.status, &r.body[..]),
        (503, &b"backend"[..]),
        "the backend's errorfile wins"
    );
    let r = get(fe[2], b"GET /bad HTTP/1.1\r\nHost: x\r\n\r\n").expect("502");
    assert_eq!(r.status, 502);
    let r = get(fe[2], b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").expect("504");
    assert_eq!(r.status, 504);
    let r = get(fe[2], b"GET / HTTP/1.1\r\nHost: x\r\n").expect("408 on a partial head");
    assert_eq!(r.status, 408);
    h.stop_now();
    h.join().expect("engine stops");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn acl_routing_return_and_httpclose() {
    let (a, b) = (origin("a"), origin("b"));
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
frontend fe\n    bind 127.0.0.1:0\n    acl is_api path_beg /api\n    use_backend api if is_api\n    use_backend api if {{ hdr(host) -i example.org }}\n    http-request return status 200 content-type text/plain string pong if {{ path /ping }}\n    default_backend web\n\
frontend closing\n    bind 127.0.0.1:0\n    option httpclose\n    default_backend web\n\
backend web\n    server a {}\n\
backend api\n    server b {}\n",
        a.addr, b.addr
    );
    let (h, fe) = start(&text);
    let origin_of = |raw: &[u8]| get(fe[0], raw).and_then(|r| r.hdr("x-origin").map(str::to_string));
    assert_eq!(
        origin_of(b"GET /api/v1 HTTP/1.1\r\nHost: x\r\n\r\n").as_deref(),
        Some("b")
    );
    assert_eq!(
        origin_of(b"GET / HTTP/1.1\r\nHost: Example.ORG\r\n\r\n").as_deref(),
        Some("b")
    );
    assert_eq!(
        origin_of(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").as_deref(),
        Some("a")
    );
    let r = get(fe[0], b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n").expect("return");
    assert_eq!((r.status, &r.body[..]), (200, &b"pong"[..]));
    // httpclose: the server is asked to close and the client connection ends.
    let (mut s, mut rd) = client(fe[1]);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let r = read_resp(&mut rd, false).expect("response");
    assert_eq!(r.hdr("x-seen-conn"), Some("close"));
    assert_eq!(r.hdr("connection"), Some("close"));
    let mut rest = Vec::new();
    assert_eq!(
        rd.read_to_end(&mut rest).ok(),
        Some(0),
        "closed after the response"
    );
    h.stop_now();
    h.join().expect("engine stops");
}

#[test]
fn graceful_stop_closes_idle_and_marks_busy_responses() {
    let (a, b) = (origin("a"), origin("b"));
    let (h, fe) = start(&cfg("", a.addr, b.addr));
    let (mut idle, mut idle_r) = client(fe[0]);
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    read_resp(&mut idle_r, false).expect("first response");
    let (mut busy, mut busy_r) = client(fe[0]);
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    std::thread::sleep(Duration::from_millis(300));
    h.stop_graceful(Some(Instant::now() + Duration::from_secs(8)));
    let mut rest = Vec::new();
    assert_eq!(
        idle_r.read_to_end(&mut rest).ok(),
        Some(0),
        "idle keep-alive closed"
    );
    let r = read_resp(&mut busy_r, false).expect("busy request finishes");
    assert_eq!(r.status, 200);
    assert_eq!(r.hdr("connection"), Some("close"));
    h.join().expect("engine stops");
}

#[test]
fn websocket_upgrade_becomes_a_tunnel() {
    let (a, b) = (origin("a"), origin("b"));
    let (h, fe) = start(&cfg("", a.addr, b.addr));
    let (mut s, mut r) = client(fe[0]);
    s.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        .expect("write");
    let resp = read_resp(&mut r, true).expect("101");
    assert_eq!(resp.status, 101);
    for msg in [&b"ping"[..], b"second frame", &[0u8, 1, 2, 255]] {
        s.write_all(msg).expect("write frame");
        let mut back = vec![0u8; msg.len()];
        r.read_exact(&mut back).expect("echo through the tunnel");
        assert_eq!(back, msg);
    }
    // A 101 nobody asked for is an invalid response.
    let bad = get(fe[0], b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n").expect("502");
    assert_eq!(bad.status, 502);
    h.stop_now();
    h.join().expect("engine stops");
}

#[test]
fn client_leaving_mid_body_mid_response_or_while_server_is_slow() {
    let (a, b) = (origin("a"), origin("b"));
    let (h, fe) = start(&cfg("", a.addr, b.addr));
    {
        let (mut s, _r) = client(fe[0]);
        s.write_all(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nonly a few bytes")
            .expect("write");
    }
    {
        let (mut s, mut r) = client(fe[0]);
        s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut some = [0u8; 1000];
        r.read_exact(&mut some).expect("start of the response");
    }
    {
        let (mut s, _r) = client(fe[0]);
        s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
    }
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..5 {
        let r = get(fe[0], b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n").expect("still serving");
        assert_eq!(r.status, 200);
    }
    // The mid-body leaver is a client abort; every connection ends (the slow one once
    // its response went out to nobody): nothing leaks.
    let deadline = Instant::now() + STEP;
    while h.counters().client_aborts < 1 || h.counters().conns_cur > 0 {
        assert!(Instant::now() < deadline, "aborts: {:?}", h.counters());
        std::thread::sleep(Duration::from_millis(20));
    }
    h.stop_now();
    h.join().expect("engine stops");
}

#[test]
fn reuse_never_server_close_and_http10_keep_alive() {
    let (a, b) = (origin("a"), origin("b"));
    let (h, fe) = start(&format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
frontend never\n    bind 127.0.0.1:0\n    http-reuse never\n    default_backend be1\n\
frontend sclose\n    bind 127.0.0.1:0\n    option http-server-close\n    default_backend be2\n\
backend be1\n    server a {}\n\
backend be2\n    server b {}\n",
        a.addr, b.addr
    ));
    // http-reuse never: one server connection per client connection, kept alive on both sides.
    let (mut s, mut r) = client(fe[0]);
    for _ in 0..3 {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
        assert_eq!(read_resp(&mut r, false).expect("response").status, 200);
    }
    drop(s);
    let (mut s2, mut r2) = client(fe[0]);
    s2.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    assert_eq!(read_resp(&mut r2, false).expect("response").status, 200);
    assert!(
        a.conns.load(Ordering::SeqCst) >= 2,
        "no reuse across client connections"
    );
    // http-server-close: the server is asked to close, the client stays.
    let (mut s, mut r) = client(fe[1]);
    for _ in 0..3 {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
        let resp = read_resp(&mut r, false).expect("client kept alive");
        assert_eq!(resp.hdr("x-seen-conn"), Some("close"));
        assert!(resp.hdr("connection").is_none());
    }
    assert_eq!(
        b.conns.load(Ordering::SeqCst),
        3,
        "a server connection per request"
    );
    // HTTP/1.0 with keep-alive: kept, and told so.
    let (mut s, mut r) = client(fe[1]);
    for _ in 0..2 {
        s.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .expect("write");
        let resp = read_resp(&mut r, false).expect("1.0 keep-alive");
        assert_eq!(resp.hdr("connection"), Some("keep-alive"));
    }
    h.stop_now();
    h.join().expect("engine stops");
}

#[test]
fn access_log_line_per_request() {
    let (a, b) = (origin("a"), origin("b"));
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind syslog sink");
    sink.set_read_timeout(Some(STEP)).expect("timeout");
    let port = sink.local_addr().expect("addr").port();
    let text = format!(
        "defaults\n    mode http\n    option httplog\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
frontend fe\n    bind 127.0.0.1:0\n    log 127.0.0.1:{port} local0\n    default_backend be\n\
backend be\n    server a {}\n    server b {}\n",
        a.addr, b.addr
    );
    let (h, fe) = start(&text);
    let r = get(fe[0], b"GET /logged?q=1 HTTP/1.1\r\nHost: x\r\n\r\n").expect("response");
    assert_eq!(r.status, 200);
    let mut buf = [0u8; 2048];
    let n = sink.recv(&mut buf).expect("a log line arrives");
    let line = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(line.contains(" fe be/"), "{line}");
    assert!(line.contains(" 200 "), "{line}");
    assert!(line.contains(" ---- "), "{line}");
    assert!(
        line.ends_with("\"GET /logged?q=1 HTTP/1.1\"") || line.contains("\"GET /logged?q=1 HTTP/1.1\""),
        "{line}"
    );
    h.stop_now();
    h.join().expect("engine stops");
}

/// Makes the next close a reset (SO_LINGER 0) so the peer's next send fails.
fn socket2_linger_zero(s: &TcpStream) -> TcpStream {
    use std::os::fd::AsFd;
    let _ = engine::sys::set_linger_zero(s.as_fd());
    s.try_clone().expect("clone")
}

#[test]
fn server_answering_early_and_resetting_mid_upload() {
    let (a, b) = (origin("a"), origin("b"));
    let (h, fe) = start(&cfg("", a.addr, b.addr));
    let (mut s, mut r) = client(fe[0]);
    let total = 4 << 20;
    s.write_all(format!("POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: {total}\r\n\r\n").as_bytes())
        .expect("write head");
    let writer = std::thread::spawn(move || {
        let _ = s.set_write_timeout(Some(STEP));
        let chunk = vec![b'u'; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            if s.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    let resp = read_resp(&mut r, false).expect("the early answer");
    assert_eq!(resp.status, 413);
    let _ = writer.join();
    // The proxy is not stuck resending to the dead server: it still serves.
    let ok = get(fe[0], b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n").expect("still serving");
    assert_eq!(ok.status, 200);
    h.stop_now();
    h.join().expect("engine stops");
}

#[test]
fn keep_alive_timeout_closes_quietly_and_request_timeout_answers_408() {
    let (a, b) = (origin("a"), origin("b"));
    let (h, fe) = start(&cfg(
        "    timeout http-keep-alive 200ms\n    timeout http-request 400ms\n",
        a.addr,
        b.addr,
    ));
    let (mut s, mut r) = client(fe[0]);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    assert_eq!(read_resp(&mut r, false).expect("first").status, 200);
    let t0 = Instant::now();
    let mut rest = Vec::new();
    assert_eq!(r.read_to_end(&mut rest).ok(), Some(0), "closed without a 408");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    // A first request that never completes gets a 408.
    let r = get(fe[0], b"GET / HTTP/1.1\r\nHost:").expect("408");
    assert_eq!(r.status, 408);
    h.stop_now();
    h.join().expect("engine stops");
}

#[test]
fn tcp_mode_logs_one_line_per_connection() {
    let a = origin("a");
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind syslog sink");
    sink.set_read_timeout(Some(STEP)).expect("timeout");
    let port = sink.local_addr().expect("addr").port();
    let text = format!(
        "defaults\n    mode tcp\n    option tcplog\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
frontend ft\n    bind 127.0.0.1:0\n    log 127.0.0.1:{port} local0\n    default_backend bt\n\
backend bt\n    server a {}\n",
        a.addr
    );
    let (h, fe) = start(&text);
    let r = get(
        fe[0],
        b"GET /tcp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .expect("relayed");
    assert_eq!(r.status, 200);
    let mut buf = [0u8; 2048];
    let n = sink.recv(&mut buf).expect("a log line arrives");
    let line = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(line.contains(" ft bt/a "), "{line}");
    assert!(line.contains(" -- ") || line.contains(" ----"), "{line}");
    h.stop_now();
    h.join().expect("engine stops");
}

#[test]
fn graceful_stop_answers_a_request_racing_the_stop() {
    let (a, b) = (origin("a"), origin("b"));
    let (h, fe) = start(&cfg("", a.addr, b.addr));
    let (mut s, mut r) = client(fe[0]);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    read_resp(&mut r, false).expect("first response");
    // Just idle when the stop comes: the next request is still answered, with close.
    h.stop_graceful(Some(Instant::now() + Duration::from_secs(8)));
    s.write_all(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let resp = read_resp(&mut r, false).expect("answered despite the stop");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.hdr("connection"), Some("close"));
    h.join().expect("engine stops");
}
