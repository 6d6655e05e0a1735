//! The per-request cost of a map lookup (`use_backend %[path,map_beg(virt@paths.map)]`):
//! `Maps::load` plus `MapSet::lookup` over a map of 100,000 entries, for each match kind,
//! with a hit and a miss. HAProxy's list-matched kinds (`beg`, `end`, `dom`, `reg`) scan;
//! ours probe a hash per distinct key length, which this bench keeps honest. `reg` runs
//! on 1,000 entries only: a regex list is linear by nature.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use engine::map::{Maps, MatchKind};

fn maps(kind: MatchKind, n: usize, key: impl Fn(usize) -> String) -> Maps {
    let keys: Vec<String> = (0..n).map(key).collect();
    let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "backend")).collect();
    let m = Maps::default();
    m.register("virt@bench", kind, "bench").expect("register");
    m.add("virt@bench", None, &pairs).expect("valid bench map");
    m
}

/// Variant name, kind, entries, key maker, a hit sample, a miss sample.
type Case = (
    &'static str,
    MatchKind,
    usize,
    fn(usize) -> String,
    &'static str,
    &'static str,
);

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine/map");
    let cases: [Case; 5] = [
        (
            "str",
            MatchKind::Str,
            100_000,
            |i| format!("/path/{i}"),
            "/path/77777",
            "/nope",
        ),
        (
            "beg",
            MatchKind::Beg,
            100_000,
            |i| format!("/p{i}/"),
            "/p77777/some/deeper/path",
            "/nope/x",
        ),
        (
            "end",
            MatchKind::End,
            100_000,
            |i| format!(".s{i}"),
            "/file.s77777",
            "/file.none",
        ),
        (
            "dom",
            MatchKind::Dom,
            100_000,
            |i| format!("host{i}.example.com"),
            "www.host77777.example.com",
            "www.other.org",
        ),
        (
            "reg",
            MatchKind::Reg,
            1_000,
            |i| format!("^/r{i}/[a-z]+$"),
            "/r777/abc",
            "/zz",
        ),
    ];
    for (name, kind, n, key, hit, miss) in cases {
        let m = maps(kind, n, key);
        for (variant, sample) in [("hit", hit), ("miss", miss)] {
            g.bench_with_input(
                BenchmarkId::new(format!("{name}/{variant}"), n),
                &sample,
                |b, s| b.iter(|| black_box(m.load().lookup("virt@bench", kind, black_box(s)).is_some())),
            );
        }
    }
    g.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
