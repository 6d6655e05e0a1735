//! Writes a batch of varied `option httplog` lines through the real logging pipeline
//! (config -> `ProxyLogger` -> writer thread -> stdout, rfc3164 framing) and, with
//! `--expect FILE`, one JSON object per line with the fields a HAProxy log parser must read
//! back. `scripts/check-logs` feeds both to the PyPI `haproxy-log-analysis` parser.
//!
//! `cargo run -p engine --example logsample -- [--count N] [--expect FILE]`

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use engine::config::parse_text;
use engine::log::{LogRecord, LogSystem};

const CONFIG: &str = "global\n  log stdout format rfc3164 local0\n\
defaults\n  mode http\n  log global\n  option httplog\n  timeout client 5s\n\
frontend http-in\n  bind 127.0.0.1:8080\n  capture request header Host len 32\n";

/// Most lines one run may write.
const COUNT_MAX: u64 = 100_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn main() -> ExitCode {
    let mut count = 40u64;
    let mut expect = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--count", Some(n)) => count = n.parse().unwrap_or(40).min(COUNT_MAX),
            ("--expect", Some(p)) => expect = Some(p),
            _ => {
                eprintln!("usage: logsample [--count N] [--expect FILE]");
                return ExitCode::from(2);
            }
        }
    }
    let cfg = match parse_text("logsample.cfg", CONFIG, &|_| None) {
        Ok(l) => l.config,
        Err(d) => {
            eprintln!("config: {d:?}");
            return ExitCode::from(1);
        }
    };
    let Some(fe) = cfg.proxies.iter().find(|p| p.name == "http-in") else {
        return ExitCode::from(1);
    };
    let sys = match LogSystem::start(4096) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let logger = match sys.logger_for(&cfg.global, fe) {
        Ok(Some(l)) => l,
        other => {
            eprintln!("no logger: {other:?}");
            return ExitCode::from(1);
        }
    };
    let mut out = expect.map(|p| std::fs::File::create(p).map(std::io::BufWriter::new));
    let clients = ["10.0.1.2", "192.168.10.200", "127.0.0.1", "2001:db8::7", "::1"];
    let backends = [("static", "srv1"), ("api", "api-2"), ("http-in", "<NOSRV>")];
    let paths = [
        "/",
        "/index.html",
        "/search?q=rust&page=2",
        "/a/b/c.png",
        "/api/v1/items/42?x=%20y",
    ];
    let methods = ["GET", "POST", "HEAD", "PUT", "DELETE"];
    let statuses = [200u16, 301, 404, 503, 502, 200, 204];
    let mut rng = Rng(7);
    let base = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    for i in 0..count {
        let ip = clients[rng.next(clients.len() as u64) as usize];
        let port = 1024 + rng.next(64_000) as u16;
        let client: SocketAddr = match ip.parse::<std::net::IpAddr>() {
            Ok(a) => SocketAddr::new(a, port),
            Err(_) => continue,
        };
        let (be, srv) = backends[rng.next(backends.len() as u64) as usize];
        let nosrv = srv == "<NOSRV>";
        let t_req = rng.next(50) as i64;
        let (t_wait, t_connect, t_resp) = if nosrv {
            (-1, -1, -1)
        } else {
            (rng.next(5) as i64, rng.next(10) as i64, rng.next(900) as i64)
        };
        let t_active = t_req + t_wait.max(0) + t_connect.max(0) + t_resp.max(0) + rng.next(20) as i64;
        let status = if nosrv {
            503
        } else {
            statuses[rng.next(statuses.len() as u64) as usize]
        };
        let method = methods[rng.next(methods.len() as u64) as usize];
        let path = paths[rng.next(paths.len() as u64) as usize];
        let version = if rng.next(4) == 0 { "HTTP/1.0" } else { "HTTP/1.1" };
        let line = format!("{method} {path} {version}");
        let host = format!("www{}.example.com", rng.next(3));
        let hdrs: [&[u8]; 1] = [host.as_bytes()];
        let accept = UNIX_EPOCH + Duration::from_millis(base + i * 37);
        let rec = LogRecord {
            backend: be,
            server: srv,
            t_req,
            t_wait,
            t_connect,
            t_resp,
            t_active,
            t_total: t_active,
            status: Some(status),
            bytes_read: rng.next(200_000),
            bytes_uploaded: 100,
            termination_state: if nosrv { *b"SC--" } else { *b"----" },
            actconn: rng.next(100) as u32,
            feconn: rng.next(100) as u32,
            beconn: rng.next(100) as u32,
            srv_conn: rng.next(100) as u32,
            retries: rng.next(3) as u32,
            srv_queue: rng.next(5) as u32,
            backend_queue: rng.next(5) as u32,
            request_line: line.as_bytes(),
            req_headers: &hdrs,
            ..LogRecord::new("http-in", Some(client), accept)
        };
        if !logger.log(&rec) {
            eprintln!("line {i} dropped");
        }
        if let Some(Ok(f)) = out.as_mut() {
            let mut date = Vec::new();
            engine::log::time::Civil::from_time(accept).write_log_ms(&mut date);
            let path_only = path.split('?').next().unwrap_or(path);
            let _ = writeln!(
                f,
                "{{\"client_ip\":{},\"client_port\":{},\"accept_date\":{},\"frontend_name\":\"http-in\",\
                 \"backend_name\":{},\"server_name\":{},\"tq\":{},\"tw\":{},\"tc\":{},\"tr\":{},\"tt\":\"{}\",\
                 \"status_code\":\"{}\",\"bytes_read\":\"{}\",\"act\":\"{}\",\"fe\":\"{}\",\"be\":\"{}\",\
                 \"srv\":\"{}\",\"retries\":\"{}\",\"queue_server\":{},\"queue_backend\":{},\
                 \"request_headers\":{},\"method\":{},\"path\":{},\"path_only\":{},\"protocol\":{}}}",
                json_str(ip),
                port,
                json_str(&String::from_utf8_lossy(&date)),
                json_str(be),
                json_str(srv),
                t_req,
                t_wait,
                t_connect,
                t_resp,
                t_active,
                status,
                rec.bytes_read,
                rec.actconn,
                rec.feconn,
                rec.beconn,
                rec.srv_conn,
                rec.retries,
                rec.srv_queue,
                rec.backend_queue,
                json_str(&host),
                json_str(method),
                json_str(path),
                json_str(path_only),
                json_str(version),
            );
        }
    }
    if let Some(Ok(f)) = out.as_mut() {
        let _ = f.flush();
    }
    if !sys.flush(Duration::from_secs(10)) {
        eprintln!("log writer did not drain in 10s");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
