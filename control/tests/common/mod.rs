//! Shared set-up of the socket tests: real tables and maps, a control thread on
//! 127.0.0.1:0 and a unix socket in a temp dir, clients with deadlines.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use control::exec::Context;
use control::listen::{self, ControlHandle, ServeOptions, SocketAddrSpec, SocketSpec};
use control::Level;
use engine::map::{Maps, MatchKind};
use engine::table::{BackendConfig, ServerConfig, Snapshot, Tables};

/// Longest any single client exchange may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub struct Lb {
    pub ctx: Arc<Context>,
    pub handle: Option<ControlHandle>,
    pub tcp: SocketAddr,
    pub tcp_user: SocketAddr,
    pub unix: PathBuf,
    pub dir: PathBuf,
}

impl Drop for Lb {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn context() -> Context {
    let mut web = BackendConfig::new("webservers");
    web.mode = engine::table::Mode::Http;
    web.servers = vec![ServerConfig::new(
        "web1",
        SocketAddr::from(([127, 0, 0, 1], 18080)),
    )];
    let tables = Arc::new(Tables::new(
        Snapshot::from_config(2, &[web]).expect("valid config"),
    ));
    let maps = Arc::new(Maps::default());
    maps.register("virt@paths.map", MatchKind::Beg, "file 'lb.cfg' line 14")
        .expect("register");
    let mut ctx = Context::new(tables, maps);
    let mut d = HashMap::new();
    let mut t = BackendConfig::new("mydefaults");
    t.mode = engine::table::Mode::Http;
    d.insert("mydefaults".to_string(), t);
    ctx.defaults = Context::defaults_from(d);
    ctx
}

pub fn start_with(opts: ServeOptions) -> Lb {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ringlb-ctl-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let unix = dir.join("admin.sock");
    let mut admin_tcp = SocketSpec::new(SocketAddrSpec::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    admin_tcp.level = Level::Admin;
    let mut user_tcp = SocketSpec::new(SocketAddrSpec::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    user_tcp.level = Level::User;
    let mut admin_unix = SocketSpec::new(SocketAddrSpec::Unix(unix.clone()));
    admin_unix.level = Level::Admin;
    admin_unix.mode = Some(0o600);
    let mut ctx = context();
    ctx.sockets = vec![control::exec::SocketInfo {
        addr: unix.display().to_string(),
        level: Level::Admin,
    }];
    let ctx = Arc::new(ctx);
    let handle = listen::spawn_with(vec![admin_tcp, user_tcp, admin_unix], ctx.clone(), opts).expect("spawn");
    let tcp_of = |i: usize| match handle.addrs.get(i) {
        Some(SocketAddrSpec::Tcp(a)) => *a,
        other => panic!("unexpected bound address {other:?}"),
    };
    let (tcp, tcp_user) = (tcp_of(0), tcp_of(1));
    Lb {
        ctx,
        handle: Some(handle),
        tcp,
        tcp_user,
        unix,
        dir,
    }
}

pub fn start() -> Lb {
    start_with(ServeOptions::default())
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, DEADLINE).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.set_write_timeout(Some(DEADLINE)).expect("timeout");
    s
}

/// One non-interactive exchange, like `echo "$cmd" | socat stdio tcp4-connect:...`:
/// send the line and half-close, read until the server closes.
pub fn cli(addr: SocketAddr, line: &str) -> String {
    let mut s = connect(addr);
    s.write_all(line.as_bytes()).expect("write");
    s.write_all(b"\n").expect("write");
    let _ = s.shutdown(std::net::Shutdown::Write);
    read_to_close(&mut s)
}

pub fn cli_unix(path: &std::path::Path, line: &str) -> String {
    let mut s = UnixStream::connect(path).expect("connect unix");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.write_all(line.as_bytes()).expect("write");
    s.write_all(b"\n").expect("write");
    let mut out = Vec::new();
    let started = Instant::now();
    s.read_to_end(&mut out).expect("read");
    assert!(started.elapsed() < DEADLINE);
    String::from_utf8_lossy(&out).into_owned()
}

pub fn read_to_close(s: &mut TcpStream) -> String {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read failed after {:?}: {e}", started.elapsed()),
        }
        assert!(started.elapsed() < DEADLINE, "server did not close");
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads until `out` ends with `suffix` (interactive sessions).
pub fn read_until(s: &mut TcpStream, suffix: &str) -> String {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while !out.ends_with(suffix.as_bytes()) {
        assert!(started.elapsed() < DEADLINE, "no '{suffix}' after {out:?}");
        match s.read(&mut buf) {
            Ok(0) => panic!(
                "closed before '{suffix}', got {:?}",
                String::from_utf8_lossy(&out)
            ),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read: {e}, got {:?}", String::from_utf8_lossy(&out)),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
