//! Multi-threaded stress of the swappable tables: reader threads load snapshots and pick
//! servers in a loop while a writer adds and removes servers, moves addresses and flips
//! weights and states for a bounded time.
//!
//! What it shows:
//! - readers never see a half-applied change: every change the writer makes touches
//!   backends `a` and `b` together, so in any snapshot they must list the same servers at
//!   the same addresses, built by the same generation;
//! - readers never block on a writer: the writer's change function itself waits, with a
//!   deadline, until readers make progress while the change is being built (a reader that
//!   waited for the writer would make the test fail at that deadline, not hang);
//! - connection accounting survives the races: once every slot is dropped all gauges read 0,
//!   and the backend's session total equals the readers' successful picks.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::balance::{Balance, LbState};
use engine::counters::Counter;
use engine::table::{
    AdminState, BackendConfig, Pick, ServerConfig, Snapshot, TableError, Tables, WeightChange,
};

/// How long the writer keeps changing the tables.
const RUN: Duration = Duration::from_millis(1000);
/// Longest the whole test may take before it is declared stuck.
const DEADLINE: Duration = Duration::from_secs(30);
/// Reader progress the writer waits for inside one change.
const PROGRESS_DURING_CHANGE: u64 = 50;
/// Dynamic servers kept at most in each backend.
const DYNAMIC_MAX: usize = 6;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn backend(name: &str, balance: Balance) -> BackendConfig {
    let mut b = BackendConfig::new(name);
    b.balance = balance;
    b.servers = (0..4u16)
        .map(|i| ServerConfig::new(format!("s{i}"), addr(7000 + i)))
        .collect();
    b
}

/// The invariant: `a` and `b` always carry the same servers at the same addresses and the
/// same generation. Returns a description of the first difference.
fn check(s: &Snapshot) -> Result<(), String> {
    let (Some(a), Some(b)) = (s.backend("a"), s.backend("b")) else {
        return Err("a backend is missing".into());
    };
    if a.generation != b.generation {
        return Err(format!(
            "generations differ: a={} b={}",
            a.generation, b.generation
        ));
    }
    if s.generation() > 0 && a.generation != s.generation() {
        return Err(format!(
            "backend generation {} in snapshot {}",
            a.generation,
            s.generation()
        ));
    }
    let la: Vec<_> = a.servers.iter().map(|s| (&*s.name, s.addr)).collect();
    let lb: Vec<_> = b.servers.iter().map(|s| (&*s.name, s.addr)).collect();
    if la != lb {
        return Err(format!("server lists differ: a={la:?} b={lb:?}"));
    }
    Ok(())
}

/// One reader: load, check, pick on both backends, drop the slots; until `stop`.
fn read_loop(
    t: usize,
    tables: &Tables,
    stop: &AtomicBool,
    progress: &AtomicU64,
    start: Instant,
) -> Result<(u64, u64), String> {
    let mut lb = LbState::with_seed(t, 0x5eed + t as u64);
    let (mut loops, mut picked, mut last_gen) = (0u64, 0u64, 0u64);
    let client = IpAddr::from([10, 0, 0, t as u8]);
    while !stop.load(Ordering::Relaxed) {
        if start.elapsed() > DEADLINE {
            return Err("reader ran past the deadline".into());
        }
        let snap = tables.load_full();
        check(&snap)?;
        if snap.generation() < last_gen {
            return Err(format!(
                "generation went back: {} after {last_gen}",
                snap.generation()
            ));
        }
        last_gen = snap.generation();
        for name in ["a", "b"] {
            let b = snap.backend(name).ok_or("backend vanished")?;
            match b.pick(&mut lb, Some(client), None) {
                Pick::Server(slot) => {
                    // The server comes from this very snapshot.
                    if !b.servers.iter().any(|s| Arc::ptr_eq(s, slot.server())) {
                        return Err(format!("picked {} not in its snapshot", slot.server().name));
                    }
                    slot.add(Counter::BytesIn, 1);
                    picked += 1;
                }
                // The static servers s0..s3 are never all unusable.
                other => return Err(format!("{name}: no server: {other:?}")),
            }
        }
        loops += 1;
        progress.fetch_add(1, Ordering::Relaxed);
    }
    Ok((loops, picked))
}

#[test]
fn readers_never_block_nor_see_half_applied_changes() {
    let start = Instant::now();
    let threads = 3;
    let snap = Snapshot::from_config(
        threads,
        &[
            backend("a", Balance::RoundRobin),
            backend("b", Balance::LeastConn),
        ],
    )
    .expect("valid config");
    let tables = Arc::new(Tables::new(snap));
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicU64::new(0));

    let readers: Vec<_> = (0..2)
        .map(|t| {
            let (tables, stop, progress) = (tables.clone(), stop.clone(), progress.clone());
            std::thread::spawn(move || {
                let r = read_loop(t, &tables, &stop, &progress, start);
                if r.is_err() {
                    stop.store(true, Ordering::Relaxed); // let the writer finish early
                }
                r
            })
        })
        .collect();

    // Writer: every change touches a and b together.
    let mut changes = 0u64;
    let mut next_id = 0u32;
    let mut dynamic: Vec<String> = Vec::new();
    let mut refused_busy = 0u64;
    let mut removed = 0u64;
    let mut step = 0u64;
    while start.elapsed() < RUN {
        step += 1;
        match step % 4 {
            0..=1 if dynamic.len() < DYNAMIC_MAX => {
                let name = format!("d{next_id}");
                let cfg = ServerConfig {
                    weight: 1 + next_id % 5,
                    ..ServerConfig::new(name.clone(), addr(8000 + (next_id % 1000) as u16))
                };
                next_id += 1;
                let r = tables.update(|s| {
                    // Hold the change open until readers move on: they must not wait for us.
                    let seen = progress.load(Ordering::Relaxed);
                    while progress.load(Ordering::Relaxed) < seen + PROGRESS_DURING_CHANGE
                        && !stop.load(Ordering::Relaxed)
                    {
                        assert!(
                            start.elapsed() < DEADLINE,
                            "readers made no progress during a change"
                        );
                        std::thread::yield_now();
                    }
                    s.with_server("a", &cfg)?.with_server("b", &cfg)
                });
                r.expect("add to both");
                dynamic.push(name);
                changes += 1;
            }
            0..=2 => {
                let Some(name) = dynamic.first().cloned() else {
                    continue;
                };
                for be in ["a", "b"] {
                    tables.set_admin(be, &name, AdminState::Maint).expect("maint");
                }
                match tables.update(|s| s.without_server("a", &name)?.without_server("b", &name)) {
                    Ok(_) => {
                        dynamic.remove(0);
                        removed += 1;
                        changes += 1;
                    }
                    // A reader still holds a slot on it: both stay, none is removed.
                    Err(TableError::ServerBusy { conns, .. }) => {
                        assert!(conns > 0);
                        refused_busy += 1;
                        std::thread::yield_now(); // let the reader holding it finish
                        let s = tables.load();
                        assert!(s.server("a", &name).is_ok() && s.server("b", &name).is_ok());
                    }
                    Err(e) => panic!("unexpected: {e}"),
                }
            }
            _ => {
                // Move a static server in both backends, and flip weights (atomics).
                let port = 7100 + (step % 50) as u16;
                let ip = IpAddr::from([127, 0, 0, 1]);
                tables
                    .update(|s| {
                        s.with_server_addr("a", "s1", ip, Some(port))?.with_server_addr(
                            "b",
                            "s1",
                            ip,
                            Some(port),
                        )
                    })
                    .expect("move");
                changes += 1;
                for be in ["a", "b"] {
                    let w = WeightChange::Absolute(1 + (step % 7) as u32);
                    tables.set_weight(be, "s2", w).expect("weight");
                    if let Some(d) = dynamic.last() {
                        tables
                            .set_weight(be, d, WeightChange::Percent((step % 3) as u32 * 100))
                            .expect("pct");
                    }
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);

    let mut picked_total = 0;
    for r in readers {
        let (loops, picked) = r.join().expect("reader panicked").expect("reader invariant");
        assert!(loops > 100, "a reader made only {loops} loops");
        picked_total += picked;
    }
    assert!(changes > 20, "the writer made only {changes} changes");
    assert!(removed > 0, "the writer never managed to remove a server");

    let snap = tables.load_full();
    check(&snap).expect("final invariant");
    let mut sessions = 0;
    for be in snap.backends() {
        assert_eq!(be.conns().cur(), 0, "{}: connections left", be.name);
        for s in &be.servers {
            assert_eq!(s.cur_conns(), 0, "{}/{}: connections left", be.name, s.name);
        }
        sessions += be.counters().get(Counter::Sessions);
        assert_eq!(
            be.counters().get(Counter::Sessions),
            be.counters().get(Counter::BytesIn)
        );
    }
    assert_eq!(sessions, picked_total);
    eprintln!(
        "stress: {changes} changes ({removed} removals, {refused_busy} refused busy), {picked_total} picks in {:?}",
        start.elapsed()
    );
}

#[test]
fn concurrent_writers_all_apply() {
    // Two writers adding distinct servers race on the CAS; update retries so none is lost.
    let tables = Arc::new(Tables::new(
        Snapshot::from_config(2, &[BackendConfig::new("w")]).expect("valid"),
    ));
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let tables = tables.clone();
            std::thread::spawn(move || {
                for i in 0..100u16 {
                    let cfg = ServerConfig::new(format!("t{t}-{i}"), addr(9000 + i));
                    tables.add_server("w", &cfg).expect("add");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    let snap = tables.load();
    let b = snap.backend("w").expect("w");
    assert_eq!(b.servers.len(), 200);
    assert_eq!(snap.generation(), 200);
    let mut ids: Vec<u32> = b.servers.iter().map(|s| s.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 200, "ids are unique");
}
