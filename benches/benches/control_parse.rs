//! control/parse: the cost of turning one Runtime API line into a `Command`, for a short
//! command, a server change, a map payload of 100 entries and an unknown command (which
//! builds HAProxy's suggestion list). The parser runs on the control thread, never on an
//! engine thread, but a script applying thousands of changes pays it per command: this
//! shows it stays far below the socket round trip (target < 200 us).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

fn bench_parse(c: &mut Criterion) {
    let mut payload = String::from("add map virt@paths.map <<\n");
    for i in 0..100 {
        payload.push_str(&format!("/path/{i} backend{i}\n"));
    }
    payload.push('\n');
    let inputs: [(&str, &[u8]); 4] = [
        ("show_info", b"show info"),
        ("set_server_weight", b"set server mybackend1/web1 weight 50%"),
        (
            "add_server",
            b"add server mybackend1/web1 172.16.0.12:8080 check port 8080 weight 10 inter 2s",
        ),
        ("add_map_payload_100", payload.as_bytes()),
    ];
    let mut group = c.benchmark_group("control/parse");
    for (variant, input) in inputs {
        group.bench_with_input(BenchmarkId::new(variant, input.len()), input, |b, i| {
            b.iter(|| control::parse(black_box(i)))
        });
    }
    group.bench_function(BenchmarkId::new("unknown_command_reply", 9), |b| {
        b.iter(|| {
            control::parse(black_box(b"shwo info"))
                .map_err(|e| e.reply(control::messages::Visibility::default()))
        })
    });
    group.finish();
}

fn bench_split(c: &mut Criterion) {
    let mut input = Vec::new();
    for _ in 0..100 {
        input.extend_from_slice(b"set server b/s state ready;get weight b/s\n");
    }
    let mut group = c.benchmark_group("control/split");
    group.bench_with_input(
        BenchmarkId::new("200_commands", input.len()),
        &input,
        |b, input| {
            b.iter(|| {
                let mut sp = control::Splitter::new();
                let mut rest = &input[..];
                let mut n = 0;
                while let (used, control::Feed::Request(_)) = sp.feed(rest) {
                    rest = &rest[used..];
                    n += 1;
                }
                n
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench_parse, bench_split);
criterion_main!(benches);
