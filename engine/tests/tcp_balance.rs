//! End-to-end balancing through the engine: each algorithm's distribution over real
//! connections, weights, server maint/drain, server maxconn queueing, and runtime
//! table changes (a new server added while running takes traffic).

#[path = "tcp_util.rs"]
mod util;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use engine::balance::Balance;
use engine::table::{AdminState, ServerConfig};
use util::*;

fn banner(fe: SocketAddr) -> (TcpStream, String) {
    let s = TcpStream::connect(fe).expect("connect");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut line = String::new();
    r.read_line(&mut line).expect("banner");
    (s, line.trim().to_string())
}

fn tally(fe: SocketAddr, n: usize) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for _ in 0..n {
        let (_s, b) = banner(fe);
        *m.entry(b).or_default() += 1;
    }
    m
}

fn three() -> [SocketAddr; 3] {
    [echo_server("s1"), echo_server("s2"), echo_server("s3")]
}

#[test]
fn weighted_roundrobin_follows_weights() {
    let servers = three();
    let p = plan_with(&servers, 1, |be| {
        be.balance = Balance::RoundRobin;
        be.servers[0].weight = 3;
        be.servers[1].weight = 1;
        be.servers[2].weight = 0;
    });
    let (h, fe) = start(p);
    let m = tally(fe, 40);
    assert_eq!(m.get("s1"), Some(&30), "{m:?}");
    assert_eq!(m.get("s2"), Some(&10), "{m:?}");
    assert_eq!(m.get("s3"), None, "weight 0 gets nothing: {m:?}");
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn static_rr_and_random_spread_over_all_servers() {
    for balance in [Balance::StaticRr, Balance::Random { draws: 2 }] {
        let servers = three();
        let (h, fe) = start(plan_with(&servers, 1, |be| be.balance = balance));
        let m = tally(fe, 60);
        assert_eq!(m.len(), 3, "{balance:?}: {m:?}");
        if balance == Balance::StaticRr {
            assert!(m.values().all(|&n| n == 20), "{m:?}");
        }
        h.stop_now();
        join_within(h, STEP);
    }
}

#[test]
fn leastconn_prefers_the_idle_server() {
    let servers = three();
    let (h, fe) = start(plan_with(&servers, 1, |be| be.balance = Balance::LeastConn));
    // Hold one connection on each of two servers; the next ones go to the third.
    let (a, ba) = banner(fe);
    let (b, bb) = banner(fe);
    assert_ne!(ba, bb);
    for _ in 0..3 {
        let (c, bc) = banner(fe);
        assert!(bc != ba && bc != bb, "leastconn chose a busy server: {bc}");
        drop(c);
        assert!(wait_until(STEP, || h.counters().conns_cur == 2));
    }
    drop((a, b));
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn first_fills_servers_in_order_up_to_maxconn() {
    let servers = three();
    let (h, fe) = start(plan_with(&servers, 1, |be| {
        be.balance = Balance::First;
        for s in &mut be.servers {
            s.maxconn = 2;
        }
    }));
    let held: Vec<(TcpStream, String)> = (0..5).map(|_| banner(fe)).collect();
    let names: Vec<&str> = held.iter().map(|(_, b)| b.as_str()).collect();
    assert_eq!(names, ["s1", "s1", "s2", "s2", "s3"]);
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn source_sends_one_client_to_one_server() {
    let servers = three();
    let (h, fe) = start(plan_with(&servers, 1, |be| be.balance = Balance::Source));
    let m = tally(fe, 12);
    assert_eq!(m.len(), 1, "127.0.0.1 must always hash to the same server: {m:?}");
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn maint_and_drain_servers_get_no_new_connections_but_keep_old_ones() {
    let servers = three();
    let (h, fe) = start(plan(&servers, 1));
    // One connection on each server first.
    let held: Vec<(TcpStream, String)> = (0..3).map(|_| banner(fe)).collect();
    let t = h.tables();
    t.set_admin("be", "s2", AdminState::Maint).expect("maint");
    t.set_admin("be", "s3", AdminState::Drain).expect("drain");
    let m = tally(fe, 10);
    assert_eq!(m.get("s1"), Some(&10), "{m:?}");
    // Existing connections to s2 and s3 still echo.
    for (s, _) in &held {
        let mut w = s.try_clone().expect("clone");
        std::io::Write::write_all(&mut w, b"ping\n").expect("write");
        let mut r = BufReader::new(s.try_clone().expect("clone"));
        let mut line = String::new();
        r.read_line(&mut line).expect("echo on an old connection");
        assert_eq!(line, "ping\n");
    }
    t.set_admin("be", "s2", AdminState::Ready).expect("ready");
    let m = tally(fe, 10);
    assert!(m.contains_key("s2"), "back to ready: {m:?}");
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn server_maxconn_queues_the_excess_until_a_place_frees() {
    let a = echo_server("s1");
    let (h, fe) = start(plan_with(&[a], 1, |be| {
        be.servers[0].maxconn = 1;
        be.settings.timeout_queue = Some(Duration::from_secs(10));
    }));
    let (first, _) = banner(fe);
    let waiter = std::thread::spawn(move || banner(fe).1);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !waiter.is_finished(),
        "second connection must wait for the server's place"
    );
    drop(first);
    assert_eq!(waiter.join().expect("waiter"), "s1");
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn server_added_at_runtime_takes_traffic() {
    let a = echo_server("s1");
    let b = echo_server("s2");
    let (h, fe) = start(plan(&[a], 1));
    assert_eq!(tally(fe, 3).get("s1"), Some(&3));
    h.tables()
        .add_server("be", &ServerConfig::new("s2", b))
        .expect("add server");
    let m = tally(fe, 10);
    assert!(m.contains_key("s2"), "{m:?}");
    h.stop_now();
    join_within(h, STEP);
}
