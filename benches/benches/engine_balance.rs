//! The per-connection cost of routing: `Tables::load` plus `Backend::pick` (including taking
//! and releasing the `ConnSlot`) for each balance algorithm, over 2, 16 and 256 servers.
//! Every new connection pays this on its engine thread, so it must stay far below the cost
//! of the `connect` it precedes (a few microseconds); picks are O(servers), which the 256
//! case makes visible. `load_full` is compared with `load` because a connection that keeps
//! its snapshot pays one reference-count increment more.

use std::hint::black_box;
use std::net::{IpAddr, SocketAddr};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use engine::balance::{Balance, LbState};
use engine::table::{BackendConfig, Pick, ServerConfig, Snapshot, Tables};

fn tables(balance: Balance, servers: u16) -> Tables {
    let mut b = BackendConfig::new("bench");
    b.balance = balance;
    b.servers = (0..servers)
        .map(|i| ServerConfig {
            weight: 1 + u32::from(i % 4),
            ..ServerConfig::new(format!("s{i}"), SocketAddr::from(([127, 0, 0, 1], 10_000 + i)))
        })
        .collect();
    Tables::new(Snapshot::from_config(1, &[b]).expect("valid bench config"))
}

fn pick(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine/balance");
    let algos = [
        ("roundrobin", Balance::RoundRobin),
        ("static-rr", Balance::StaticRr),
        ("leastconn", Balance::LeastConn),
        ("first", Balance::First),
        ("source", Balance::Source),
        ("random", Balance::Random { draws: 2 }),
    ];
    for servers in [2u16, 16, 256] {
        for (name, algo) in algos {
            let t = tables(algo, servers);
            let mut lb = LbState::with_seed(0, 1);
            let mut n = 0u32;
            g.bench_with_input(BenchmarkId::new(name, servers), &servers, |bch, _| {
                bch.iter(|| {
                    n = n.wrapping_add(1);
                    let client = IpAddr::from(n.to_be_bytes());
                    let snap = t.load();
                    let b = snap.backend("bench").expect("bench backend");
                    match b.pick(&mut lb, Some(client), None) {
                        Pick::Server(slot) => black_box(slot.addr()),
                        other => panic!("bench backend has free servers: {other:?}"),
                    }
                })
            });
        }
    }
    let t = tables(Balance::RoundRobin, 16);
    g.bench_function(BenchmarkId::new("load", "guard"), |bch| {
        bch.iter(|| black_box(t.load().generation()))
    });
    g.bench_function(BenchmarkId::new("load", "full"), |bch| {
        bch.iter(|| black_box(t.load_full().generation()))
    });
    g.finish();
}

criterion_group!(benches, pick);
criterion_main!(benches);
