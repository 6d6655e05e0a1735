//! Log delivery end to end: config -> `ProxyLogger` -> writer thread -> UDP syslog socket,
//! unix datagram socket, and stdout/stderr through real pipes; plus the drop counter when the
//! writer is stuck on a target that stopped reading (the engine thread must not block).

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use engine::config::{parse_text, Config};
use engine::log::{LogRecord, LogSystem, ProxyLogger};

/// Upper bound for any wait in these tests.
const STEP: Duration = Duration::from_secs(10);

fn config(text: &str) -> Config {
    match parse_text("test.cfg", text, &|_| None) {
        Ok(l) => l.config,
        Err(d) => panic!("config rejected: {d:?}"),
    }
}

fn logger(sys: &LogSystem, text: &str) -> ProxyLogger {
    let c = config(text);
    let p = c
        .proxies
        .iter()
        .find(|p| p.name == "http-in")
        .expect("frontend http-in");
    sys.logger_for(&c.global, p)
        .expect("logger builds")
        .expect("logger is enabled")
}

fn record() -> LogRecord<'static> {
    let t = UNIX_EPOCH + Duration::from_millis(1_233_922_454_655);
    LogRecord {
        backend: "static",
        server: "srv1",
        t_req: 10,
        t_wait: 0,
        t_connect: 30,
        t_resp: 69,
        t_active: 109,
        t_total: 109,
        status: Some(200),
        bytes_read: 2750,
        bytes_uploaded: 100,
        actconn: 1,
        feconn: 1,
        beconn: 1,
        srv_conn: 1,
        request_line: b"GET /index.html HTTP/1.1",
        ..LogRecord::new("http-in", Some("10.0.1.2:33317".parse().expect("addr")), t)
    }
}

const LINE: &str = "10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 \
                    - - ---- 1/1/1/1/0 0/0 \"GET /index.html HTTP/1.1\"";

fn http_cfg(global_logs: &str) -> String {
    format!(
        "global\n{global_logs}defaults\n  mode http\n  log global\n  option httplog\n  timeout client 5s\n\
         frontend http-in\n  bind 127.0.0.1:8080\n"
    )
}

/// `Mmm dd hh:mm:ss` as RFC 3164 writes it.
fn is_rfc3164_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 15
        && engine::log::time::MONTHS.iter().any(|m| s.starts_with(m))
        && b[3] == b' '
        && (b[4] == b' ' || b[4].is_ascii_digit())
        && b[5].is_ascii_digit()
        && b[9] == b':'
        && b[12] == b':'
}

fn recv_udp(sock: &UdpSocket) -> String {
    let mut buf = [0u8; 65536];
    let n = sock.recv(&mut buf).expect("a datagram before the timeout");
    String::from_utf8(buf[..n].to_vec()).expect("utf-8")
}

#[test]
fn udp_syslog_rfc3164_carries_the_httplog_line() {
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    rx.set_read_timeout(Some(STEP)).expect("timeout");
    let port = rx.local_addr().expect("addr").port();
    let sys = LogSystem::start(64).expect("writer");
    let l = logger(
        &sys,
        &http_cfg(&format!("  log 127.0.0.1:{port} local0\n  log-tag tst\n")),
    );
    assert!(l.log(&record()));
    let got = recv_udp(&rx);
    let pid = std::process::id();
    let (head, msg) = got
        .split_once(&format!(" tst[{pid}]: "))
        .expect("tag[pid] header");
    assert!(head.starts_with("<134>"), "{got}");
    assert!(is_rfc3164_date(&head[5..]), "{got}");
    assert_eq!(msg, format!("{LINE}\n"));
    assert!(sys.flush(STEP));
    assert_eq!(sys.stats().dropped.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[test]
fn udp_syslog_rfc5424_with_len_truncates() {
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    rx.set_read_timeout(Some(STEP)).expect("timeout");
    let port = rx.local_addr().expect("addr").port();
    let sys = LogSystem::start(64).expect("writer");
    let cfg = http_cfg(&format!(
        "  log 127.0.0.1:{port} len 120 format rfc5424 local7 info\n  log-send-hostname lb1\n"
    ));
    let l = logger(&sys, &cfg);
    assert!(l.log(&record()));
    let got = recv_udp(&rx);
    assert_eq!(got.len(), 120, "{got:?}");
    assert!(got.ends_with('\n'));
    // <190>1 2026-11-22T04:56:21.123456+00:00 lb1 haproxy <pid> - - <msg>
    let mut f = got.splitn(8, ' ');
    assert_eq!(f.next(), Some("<190>1"));
    let ts = f.next().expect("timestamp");
    assert!(
        ts.len() == 32 && ts.ends_with("+00:00") && ts.as_bytes()[10] == b'T',
        "{ts}"
    );
    assert_eq!(f.next(), Some("lb1"));
    assert_eq!(f.next(), Some("haproxy"));
    assert_eq!(f.next(), Some(std::process::id().to_string().as_str()));
    assert_eq!(f.next(), Some("-"));
    assert_eq!(f.next(), Some("-"));
    let msg = f.next().expect("message");
    assert!(LINE.starts_with(msg.trim_end_matches('\n')), "{msg}");
}

#[test]
fn level_filter_drops_info_for_an_err_target() {
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    rx.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let port = rx.local_addr().expect("addr").port();
    let sys = LogSystem::start(64).expect("writer");
    let l = logger(&sys, &http_cfg(&format!("  log 127.0.0.1:{port} local0 err\n")));
    assert!(l.log(&record()));
    assert!(sys.flush(STEP));
    let mut buf = [0u8; 2048];
    assert!(
        rx.recv(&mut buf).is_err(),
        "an info line must not reach an 'err' target"
    );
    // An event at err level does.
    rx.set_read_timeout(Some(STEP)).expect("timeout");
    assert!(l.log_event(3, "Server be/s1 is DOWN"));
    let got = recv_udp(&rx);
    assert!(
        got.starts_with("<131>") && got.ends_with("]: Server be/s1 is DOWN\n"),
        "{got}"
    );
}

#[test]
fn unix_datagram_target() {
    let dir = std::env::temp_dir().join(format!("ringlb-log-{}-{}", std::process::id(), nanos()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("log.sock");
    let rx = UnixDatagram::bind(&path).expect("bind unix");
    rx.set_read_timeout(Some(STEP)).expect("timeout");
    let sys = LogSystem::start(64).expect("writer");
    let l = logger(
        &sys,
        &http_cfg(&format!("  log {} format raw local0\n", path.display())),
    );
    assert!(l.log(&record()));
    let mut buf = [0u8; 4096];
    let n = rx.recv(&mut buf).expect("datagram");
    assert_eq!(&buf[..n], format!("{LINE}\n").as_bytes());
    let _ = std::fs::remove_dir_all(&dir);
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Child side of [`stdout_and_stderr_through_pipes`]: logs to its own stdout and stderr.
fn pipe_child() {
    let sys = LogSystem::start(64).expect("writer");
    let l = logger(
        &sys,
        &http_cfg("  log stdout format raw local0\n  log stderr format short local0\n"),
    );
    for _ in 0..3 {
        assert!(l.log(&record()));
    }
    assert!(sys.flush(STEP));
}

#[test]
fn stdout_and_stderr_through_pipes() {
    if std::env::var_os("RINGLB_LOG_PIPE_CHILD").is_some() {
        return pipe_child();
    }
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args([
            "--exact",
            "stdout_and_stderr_through_pipes",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RINGLB_LOG_PIPE_CHILD", "1")
        .output()
        .expect("run child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    // libtest may print "test name ... " before the first line: keep what follows it.
    let tail = |l: &str, from: &str| l.find(from).map(|i| l[i..].to_string());
    let raw: Vec<String> = stdout.lines().filter_map(|l| tail(l, "10.0.1.2:")).collect();
    assert_eq!(raw, vec![LINE.to_string(); 3], "{stdout}");
    let short: Vec<String> = stderr.lines().filter_map(|l| tail(l, "<6>")).collect();
    assert_eq!(short, vec![format!("<6>{LINE}"); 3], "{stderr}");
}

#[test]
fn full_queue_drops_and_counts_without_blocking() {
    let dir = std::env::temp_dir().join(format!("ringlb-logq-{}-{}", std::process::id(), nanos()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("stuck.sock");
    // A receiver that never reads: the writer thread blocks once its queue is full.
    let rx = UnixDatagram::bind(&path).expect("bind unix");
    const DEPTH: usize = 8;
    const LINES: usize = 5000;
    let sys = LogSystem::start(DEPTH).expect("writer");
    let l = logger(
        &sys,
        &http_cfg(&format!("  log {} format raw local0\n", path.display())),
    );
    let rec = record();
    let start = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut accepted = 0usize;
    for _ in 0..LINES {
        let t = Instant::now();
        if l.log(&rec) {
            accepted += 1;
        }
        slowest = slowest.max(t.elapsed());
    }
    let total = start.elapsed();
    let stats = sys.stats();
    let dropped = stats.dropped.load(std::sync::atomic::Ordering::Relaxed) as usize;
    assert!(dropped > 0, "queue never filled");
    assert_eq!(accepted + dropped, LINES);
    // Generous bounds (2 shared cores): a blocked call would take the writer's whole stall.
    assert!(
        slowest < Duration::from_millis(200),
        "slowest log() call {slowest:?}"
    );
    assert!(
        total < Duration::from_secs(5),
        "{LINES} log() calls took {total:?}"
    );
    assert!(
        !sys.flush(Duration::from_millis(50)),
        "writer should be stuck on the full socket"
    );
    drop(rx);
    let _ = std::fs::remove_dir_all(&dir);
}
