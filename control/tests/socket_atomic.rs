//! Changes made through the socket are atomic for readers: a map replaced with `prepare map`
//! / `add map @<ver>` (payload) / `commit map` is seen whole or not at all, and 1,000
//! `add server`s under traffic never leave a reader without a server.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use engine::balance::LbState;
use engine::map::MatchKind;
use engine::table::Pick;

/// Waits (bounded) until a reader thread has started counting: on a busy machine the
/// writer could otherwise finish before the reader ran once.
fn wait_for(count: &AtomicU64) {
    let t = Instant::now();
    while count.load(Ordering::Relaxed) == 0 {
        assert!(t.elapsed() < DEADLINE, "reader thread never ran");
        std::thread::yield_now();
    }
}

#[test]
fn map_commit_is_seen_whole() {
    let lb = start();
    let entries = 200;
    let payload = |gen: u32| -> String {
        (0..entries)
            .map(|i| format!("/k{i} v{gen}\n"))
            .collect::<String>()
    };
    assert_eq!(
        cli(lb.tcp, &format!("add map virt@paths.map <<\n{}", payload(0))),
        "\n"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let mixes = Arc::new(AtomicU64::new(0));
    let reads = Arc::new(AtomicU64::new(0));
    let reader = {
        let (maps, stop, mixes, reads) = (lb.ctx.maps.clone(), stop.clone(), mixes.clone(), reads.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let set = maps.load();
                let first = set
                    .lookup("virt@paths.map", MatchKind::Beg, "/k0")
                    .map(str::to_owned);
                let last = set
                    .lookup("virt@paths.map", MatchKind::Beg, &format!("/k{}", entries - 1))
                    .map(str::to_owned);
                if first.is_none() || first != last {
                    mixes.fetch_add(1, Ordering::Relaxed);
                }
                reads.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    wait_for(&reads);
    let mut s = connect(lb.tcp);
    s.write_all(b"prompt\n").unwrap();
    read_until(&mut s, "> ");
    for gen in 1..=10u32 {
        s.write_all(b"prepare map virt@paths.map\n").unwrap();
        let out = read_until(&mut s, "> ");
        let ver: u32 = out
            .trim_start_matches("New version created: ")
            .split('\n')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("prepare answered {out:?}"));
        s.write_all(format!("add map @{ver} virt@paths.map <<\n{}\n", payload(gen)).as_bytes())
            .unwrap();
        // One `+ ` per payload line, then the answer.
        let out = read_until(&mut s, "\n> ");
        assert_eq!(out.trim_start_matches("+ "), "\n> ");
        s.write_all(format!("commit map @{ver} virt@paths.map\n").as_bytes())
            .unwrap();
        assert_eq!(read_until(&mut s, "> "), "\n> ");
        let expect = format!("v{gen}");
        assert_eq!(
            lb.ctx.maps.load().lookup("virt@paths.map", MatchKind::Beg, "/k7"),
            Some(expect.as_str())
        );
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    assert!(reads.load(Ordering::Relaxed) > 0);
    assert_eq!(
        mixes.load(Ordering::Relaxed),
        0,
        "a reader saw a half-applied map"
    );
}

#[test]
fn thousand_add_servers_under_traffic() {
    let lb = start();
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(0));
    let picks = Arc::new(AtomicU64::new(0));
    let traffic: Vec<_> = (0..2)
        .map(|t| {
            let (tables, stop, failed, picks) =
                (lb.ctx.tables.clone(), stop.clone(), failed.clone(), picks.clone());
            std::thread::spawn(move || {
                let mut lbs = LbState::new(t);
                while !stop.load(Ordering::Relaxed) {
                    let snap = tables.load();
                    let Some(b) = snap.backend("webservers") else {
                        failed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    match b.pick(&mut lbs, None, None) {
                        Pick::Server(slot) => drop(slot),
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    picks.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    wait_for(&picks);
    let started = Instant::now();
    let mut s = connect(lb.tcp);
    s.write_all(b"prompt\n").unwrap();
    read_until(&mut s, "> ");
    for i in 0..1000u32 {
        let port = 20_000 + i;
        s.write_all(
            format!("add server webservers/d{i} 127.0.0.1:{port}; set server webservers/d{i} state ready\n")
                .as_bytes(),
        )
        .unwrap();
        let out = read_until(&mut s, "\n\n> \n> ");
        assert_eq!(out, "New server registered.\n\n> \n> ", "server {i}");
    }
    stop.store(true, Ordering::Relaxed);
    for t in traffic {
        t.join().unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(
        lb.ctx.tables.load().backend("webservers").unwrap().servers.len(),
        1001
    );
    assert!(picks.load(Ordering::Relaxed) > 0);
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "a pick found no server while servers were added"
    );
}
