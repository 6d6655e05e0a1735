//! End-to-end TCP mode through the engine: concurrency, byte-exact streams, half-close,
//! roundrobin, failover with redispatch, resets.

#[path = "tcp_util.rs"]
mod util;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use util::*;

#[test]
fn two_hundred_concurrent_64k_streams_echo_byte_exact() {
    let a = echo_server("srvA");
    let b = echo_server("srvB");
    let (h, fe) = start(plan(&[a, b], 2));
    let workers: Vec<_> = (0..200u64)
        .map(|i| std::thread::spawn(move || echo_once(fe, 65536, i)))
        .collect();
    let mut banners: HashMap<String, usize> = HashMap::new();
    for w in workers {
        let banner = w.join().expect("client thread").expect("echo ok");
        *banners.entry(banner).or_default() += 1;
    }
    assert_eq!(banners.values().sum::<usize>(), 200);
    assert!(
        banners.contains_key("srvA") && banners.contains_key("srvB"),
        "{banners:?}"
    );
    let c = h.counters();
    assert_eq!(c.conns_total, 200);
    assert!(c.bytes_in >= 200 * 65536, "{c:?}");
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn sixty_four_mib_stream_with_half_close() {
    let a = echo_server("srvA");
    let (h, fe) = start(plan(&[a], 1));
    assert_eq!(echo_once(fe, 64 << 20, 7).as_deref(), Ok("srvA"));
    assert!(
        wait_until(STEP, || h.counters().conns_cur == 0),
        "connection not closed after both FINs"
    );
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn server_half_close_reaches_client_while_client_still_sends() {
    // The server sends its banner and closes its write side first; the client must see
    // EOF yet still be able to send (and the proxy forwards it).
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let srv = std::thread::spawn(move || {
        let (mut c, _) = l.accept().expect("accept");
        c.set_read_timeout(Some(STEP)).expect("timeout");
        c.write_all(b"bye\n").expect("write");
        c.shutdown(std::net::Shutdown::Write).expect("shutdown");
        let mut got = Vec::new();
        c.read_to_end(&mut got).expect("read");
        got
    });
    let (h, fe) = start(plan(&[addr], 1));
    let mut s = TcpStream::connect(fe).expect("connect");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("read to EOF");
    assert_eq!(got, b"bye\n");
    s.write_all(b"late data").expect("write after server FIN");
    s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    assert_eq!(srv.join().expect("server"), b"late data");
    assert!(wait_until(STEP, || h.counters().conns_cur == 0));
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn roundrobin_alternates_between_two_servers() {
    let a = echo_server("srvA");
    let b = echo_server("srvB");
    let (h, fe) = start(plan(&[a, b], 1));
    let seen: Vec<String> = (0..6).map(|i| echo_once(fe, 100, i).expect("echo")).collect();
    for pair in seen.windows(2) {
        assert_ne!(pair[0], pair[1], "roundrobin must alternate: {seen:?}");
    }
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn failover_with_redispatch_when_a_server_refuses() {
    let a = echo_server("srvA");
    let down = refused_addr();
    let p = plan_with(&[a, down], 1, |be| {
        be.settings.retries = 2;
        be.settings.redispatch = true;
        be.settings.timeout_connect = Some(Duration::from_millis(200));
    });
    let (h, fe) = start(p);
    let workers: Vec<_> = (0..20u64)
        .map(|i| std::thread::spawn(move || echo_once(fe, 1024, i)))
        .collect();
    for w in workers {
        assert_eq!(w.join().expect("client").as_deref(), Ok("srvA"));
    }
    let c = h.counters();
    // Roundrobin with two active servers: HAProxy redispatches at once on every retry.
    assert!(c.connect_errors >= 5, "{c:?}");
    assert_eq!(c.redispatches, c.connect_errors, "{c:?}");
    assert_eq!(c.retries, 0, "{c:?}");
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn single_server_retries_wait_the_turn_around_and_redispatch_last() {
    let down = refused_addr();
    let p = plan_with(&[down], 1, |be| {
        be.settings.retries = 2;
        be.settings.redispatch = true;
        be.settings.timeout_connect = Some(Duration::from_millis(150));
    });
    let (h, fe) = start(p);
    let t0 = std::time::Instant::now();
    let mut s = TcpStream::connect(fe).expect("connect");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let took = t0.elapsed();
    // One active server: each retry waits min(timeout connect, 1s) = 150 ms.
    assert!(
        took >= Duration::from_millis(280) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let c = h.counters();
    assert_eq!((c.connect_errors, c.retries, c.redispatches), (3, 1, 1), "{c:?}");
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn without_redispatch_a_refused_server_closes_the_client() {
    let down = refused_addr();
    let p = plan_with(&[down], 1, |be| {
        be.settings.retries = 1;
        be.settings.redispatch = false;
        be.settings.timeout_connect = Some(Duration::from_millis(100));
    });
    let (h, fe) = start(p);
    let mut s = TcpStream::connect(fe).expect("connect");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(got.is_empty());
    let c = h.counters();
    assert_eq!((c.connect_errors, c.retries), (2, 1), "{c:?}");
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn backend_reset_mid_stream_closes_only_that_client() {
    let a = echo_server("srvA");
    let (h, fe) = start(plan(&[a], 1));
    // A long-lived healthy connection.
    let mut good = TcpStream::connect(fe).expect("connect");
    good.set_read_timeout(Some(STEP)).expect("timeout");
    let mut good_r = BufReader::new(good.try_clone().expect("clone"));
    let mut banner = String::new();
    good_r.read_line(&mut banner).expect("banner");
    // The victim asks the server to reset.
    let mut bad = TcpStream::connect(fe).expect("connect");
    bad.set_read_timeout(Some(STEP)).expect("timeout");
    let mut bad_r = BufReader::new(bad.try_clone().expect("clone"));
    let mut b2 = String::new();
    bad_r.read_line(&mut b2).expect("banner");
    bad.write_all(b"RESET!").expect("write");
    let mut got = Vec::new();
    let r = bad_r.read_to_end(&mut got);
    assert!(r.is_ok() || r.is_err(), "the client sees the close");
    assert!(got.len() <= 1024);
    assert!(
        wait_until(STEP, || h.counters().server_aborts == 1),
        "{:?}",
        h.counters()
    );
    // The healthy connection still echoes.
    good.write_all(b"still here\n").expect("write");
    let mut line = String::new();
    good_r.read_line(&mut line).expect("echo");
    assert_eq!(line, "still here\n");
    drop(good);
    drop(good_r);
    assert!(wait_until(STEP, || h.counters().conns_cur == 0));
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn reuseport_listener_per_thread_mode_also_proxies() {
    let a = echo_server("srvA");
    let mut p = plan(&[a], 2);
    p.listener_per_thread = true;
    let (h, fe) = start(p);
    let workers: Vec<_> = (0..20u64)
        .map(|i| std::thread::spawn(move || echo_once(fe, 4096, i)))
        .collect();
    for w in workers {
        assert_eq!(w.join().expect("client").as_deref(), Ok("srvA"));
    }
    h.stop_graceful(None);
    join_within(h, STEP);
}

#[test]
fn inherited_listener_fds_are_used_as_given() {
    // The supervisor binds once and passes fds: the engine must not bind again.
    let a = echo_server("srvA");
    let p = plan(&[a], 2);
    let bound = engine::worker::bind_listeners(&p).expect("bind");
    assert_eq!(bound.len(), 1, "one shared socket per bind");
    let fe = bound[0].addr;
    // As a worker would: rebuild the listener from a bare fd.
    let fd = bound.into_iter().next().expect("one").fd;
    let listeners = vec![engine::worker::Listener::from_fd(0, fd).expect("from fd")];
    assert_eq!(listeners[0].addr, fe);
    let h = engine::worker::Engine::start(p, Some(listeners)).expect("start");
    assert_eq!(echo_once(fe, 100, 1).as_deref(), Ok("srvA"));
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn ipv6_and_several_binds_per_frontend() {
    let a = echo_server("srvA");
    let mut p = plan(&[a], 2);
    p.frontends[0].binds = vec!["[::1]:0".parse().expect("v6"), "127.0.0.1:0".parse().expect("v4")];
    let (h, _) = start(p);
    let addrs: Vec<std::net::SocketAddr> = h.local_addrs().iter().map(|(_, a)| *a).collect();
    assert_eq!(addrs.len(), 2, "{addrs:?}");
    assert!(addrs[0].is_ipv6() && addrs[1].is_ipv4(), "{addrs:?}");
    for fe in addrs {
        assert_eq!(echo_once(fe, 70_000, 3).as_deref(), Ok("srvA"), "via {fe}");
    }
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn dropping_the_handle_stops_the_engine() {
    let a = echo_server("srvA");
    let (h, fe) = start(plan(&[a], 1));
    assert_eq!(echo_once(fe, 10, 1).as_deref(), Ok("srvA"));
    drop(h);
    assert!(
        wait_until(STEP, || TcpStream::connect(fe).is_err()),
        "still listening after drop"
    );
}
