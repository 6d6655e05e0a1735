//! A Runtime API command's round trip over TCP (connect, send, answer, close), the way
//! `echo cmd | socat stdio tcp4-connect:...` scripts use the socket: target < 200 us
//! median. Compared: a read-only command (`show cli level`), a table change
//! (`set server ... weight`, no swap) and a map change (`set map`, one snapshot swap on a
//! 10,000-entry map). Also the same commands inside one kept `prompt` session, which
//! leaves out the connection set-up.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use control::exec::Context;
use control::listen::{self, SocketAddrSpec, SocketSpec};
use control::Level;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use engine::map::{Maps, MatchKind};
use engine::table::{BackendConfig, ServerConfig, Snapshot, Tables};

fn setup() -> (listen::ControlHandle, SocketAddr) {
    let mut web = BackendConfig::new("web");
    web.servers = vec![ServerConfig::new("s1", SocketAddr::from(([127, 0, 0, 1], 8080)))];
    let tables = Arc::new(Tables::new(Snapshot::from_config(1, &[web]).expect("valid")));
    let maps = Arc::new(Maps::default());
    maps.register("virt@bench.map", MatchKind::Beg, "bench")
        .expect("register");
    let keys: Vec<String> = (0..10_000).map(|i| format!("/p{i}")).collect();
    let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "web")).collect();
    maps.add("virt@bench.map", None, &pairs).expect("fill");
    let ctx = Arc::new(Context::new(tables, maps));
    let mut spec = SocketSpec::new(SocketAddrSpec::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    spec.level = Level::Admin;
    let h = listen::spawn(vec![spec], ctx).expect("spawn");
    let addr = match h.addrs.first() {
        Some(SocketAddrSpec::Tcp(a)) => *a,
        _ => panic!("no tcp address"),
    };
    (h, addr)
}

fn one_shot(addr: SocketAddr, line: &[u8]) -> usize {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s.write_all(line).expect("write");
    let mut out = Vec::with_capacity(256);
    s.read_to_end(&mut out).expect("read");
    out.len()
}

fn round_trip(c: &mut Criterion) {
    let (_h, addr) = setup();
    let mut g = c.benchmark_group("control/socket");
    let cmds: [(&str, &[u8]); 3] = [
        ("show_cli_level", b"show cli level\n"),
        ("set_weight", b"set server web/s1 weight 10\n"),
        ("set_map_10k", b"set map virt@bench.map /p5000 web\n"),
    ];
    for (name, line) in cmds {
        g.bench_with_input(BenchmarkId::new("connect", name), &line, |b, l| {
            b.iter(|| one_shot(addr, l))
        });
    }
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s.write_all(b"prompt\n").expect("write");
    let mut buf = [0u8; 4096];
    let mut seen = Vec::new();
    while !seen.ends_with(b"> ") {
        let n = s.read(&mut buf).expect("read");
        seen.extend_from_slice(&buf[..n]);
    }
    for (name, line) in cmds {
        g.bench_with_input(BenchmarkId::new("session", name), &line, |b, l| {
            b.iter(|| {
                s.write_all(l).expect("write");
                let mut got = Vec::new();
                while !got.ends_with(b"> ") {
                    let n = s.read(&mut buf).expect("read");
                    got.extend_from_slice(&buf[..n]);
                }
                got.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, round_trip);
criterion_main!(benches);
