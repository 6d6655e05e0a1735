//! End-to-end limits through the engine: timeouts, maxconn queueing, graceful and hard
//! stop, and a bounded open/close soak.

#[path = "tcp_util.rs"]
mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use util::*;

fn read_banner(s: &TcpStream) -> std::io::Result<String> {
    let mut r = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    Ok(line)
}

#[test]
fn timeout_client_closes_an_idle_connection() {
    let a = echo_server("srvA");
    let mut p = plan_with(&[a], 1, |be| {
        be.settings.timeout_server = Some(Duration::from_millis(300));
    });
    p.frontends[0].timeout_client = Some(Duration::from_millis(300));
    let (h, fe) = start(p);
    let s = TcpStream::connect(fe).expect("connect");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    let t0 = Instant::now();
    let mut all = Vec::new();
    (&s).read_to_end(&mut all).expect("EOF from the proxy");
    let took = t0.elapsed();
    assert_eq!(all, b"srvA\n");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(h.counters().timeouts, 1);
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn timeout_tunnel_overrides_client_and_server_once_connected() {
    let a = echo_server("srvA");
    let mut p = plan_with(&[a], 1, |be| {
        be.settings.timeout_server = Some(Duration::from_millis(200));
        be.settings.timeout_tunnel = Some(Duration::from_millis(1500));
    });
    p.frontends[0].timeout_client = Some(Duration::from_millis(200));
    let (h, fe) = start(p);
    let mut s = TcpStream::connect(fe).expect("connect");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    assert_eq!(read_banner(&s).expect("banner"), "srvA\n");
    std::thread::sleep(Duration::from_millis(600));
    // Still open after 3x the client timeout: the tunnel timeout applies.
    s.write_all(b"ping").expect("write");
    let mut four = [0u8; 4];
    s.read_exact(&mut four).expect("echo");
    assert_eq!(&four, b"ping");
    let t0 = Instant::now();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).expect("closed by tunnel timeout");
    assert!(t0.elapsed() >= Duration::from_millis(1000), "{:?}", t0.elapsed());
    h.stop_now();
    join_within(h, STEP);
}

/// A listener with backlog 0 whose queue is filled: further SYNs get no answer, so a
/// connect to it hangs until `timeout connect` (loopback only).
fn blackhole() -> (OwnedFd, Vec<TcpStream>, SocketAddr) {
    let fd = engine::sys::bind_listener(&"127.0.0.1:0".parse().expect("literal"), false, 0).expect("bind");
    let addr = engine::sys::local_addr(std::os::fd::AsFd::as_fd(&fd)).expect("addr");
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            break;
        };
        fillers.push(s);
    }
    (fd, fillers, addr)
}

#[test]
fn timeout_connect_fires_on_a_blackholed_server() {
    let (_fd, _fillers, hole) = blackhole();
    let p = plan_with(&[hole], 1, |be| {
        be.settings.timeout_connect = Some(Duration::from_millis(200));
        be.settings.retries = 1;
        be.settings.redispatch = false;
    });
    let (h, fe) = start(p);
    let s = TcpStream::connect(fe).expect("connect");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    let t0 = Instant::now();
    let mut all = Vec::new();
    let _ = (&s).read_to_end(&mut all);
    let took = t0.elapsed();
    assert!(all.is_empty());
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(5),
        "two connect timeouts: {took:?}"
    );
    let c = h.counters();
    assert_eq!((c.connect_errors, c.retries), (2, 1), "{c:?}");
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn maxconn_makes_excess_connections_wait_not_drop() {
    let a = echo_server("srvA");
    let mut p = plan(&[a], 2);
    p.maxconn = 100;
    p.frontends[0].maxconn = 2;
    let (h, fe) = start(p);
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let s = TcpStream::connect(fe).expect("connect");
            s.set_read_timeout(Some(STEP)).expect("timeout");
            assert_eq!(read_banner(&s).expect("banner"), "srvA\n");
            s
        })
        .collect();
    // Three more: the kernel completes the handshake (backlog) but the engine must not
    // accept them while two are open.
    let waiting: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(fe).expect("queued connect"))
        .collect();
    for s in &waiting {
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        let mut b = [0u8; 1];
        let r = (&*s).read(&mut b);
        assert!(r.is_err(), "a queued connection was served past maxconn: {r:?}");
    }
    assert_eq!(h.counters().conns_total, 2);
    held.clear();
    for s in &waiting {
        s.set_read_timeout(Some(STEP)).expect("timeout");
    }
    // Served in turn as slots free: read banners while closing each to free a slot.
    for s in waiting {
        assert_eq!(read_banner(&s).expect("served after slots freed"), "srvA\n");
        drop(s);
    }
    assert!(wait_until(STEP, || h.counters().conns_cur == 0));
    assert_eq!(h.counters().conns_total, 5, "none dropped");
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn graceful_stop_refuses_new_and_finishes_open_connections() {
    let a = echo_server("srvA");
    let (h, fe) = start(plan(&[a], 2));
    let mut s = TcpStream::connect(fe).expect("connect");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    assert_eq!(read_banner(&s).expect("banner"), "srvA\n");
    h.stop_graceful(None);
    assert!(
        wait_until(STEP, || TcpStream::connect(fe).is_err()),
        "listener still accepting after graceful stop"
    );
    // The open connection still works.
    s.write_all(b"after stop").expect("write");
    let mut buf = [0u8; 10];
    s.read_exact(&mut buf).expect("echo");
    assert_eq!(&buf, b"after stop");
    assert!(!h.is_finished());
    s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).expect("eof");
    join_within(h, STEP);
}

#[test]
fn hard_stop_deadline_closes_remaining_connections() {
    let a = echo_server("srvA");
    let (h, fe) = start(plan(&[a], 1));
    let s = TcpStream::connect(fe).expect("connect");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    assert_eq!(read_banner(&s).expect("banner"), "srvA\n");
    let t0 = Instant::now();
    h.stop_graceful(Some(Instant::now() + Duration::from_millis(300)));
    join_within(h, STEP);
    assert!(t0.elapsed() >= Duration::from_millis(250), "{:?}", t0.elapsed());
    let mut rest = Vec::new();
    let _ = (&s).read_to_end(&mut rest);
}

#[test]
fn soak_two_thousand_connections_leave_nothing_behind() {
    let a = echo_server("srvA");
    let (h, fe) = start(plan(&[a], 2));
    // Warm up, then measure fds.
    echo_once(fe, 10, 0).expect("warm-up");
    assert!(wait_until(STEP, || h.counters().conns_cur == 0));
    let fds_before = engine::sys::open_fd_count();
    let workers: Vec<_> = (0..8u64)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..250u64 {
                    if i % 5 == 0 {
                        // Abrupt close without reading.
                        let s = TcpStream::connect(fe).map_err(|e| e.to_string())?;
                        drop(s);
                    } else {
                        echo_once(fe, 512, t * 1000 + i)?;
                    }
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for w in workers {
        w.join().expect("thread").expect("soak client");
    }
    assert!(
        wait_until(STEP, || h.counters().conns_cur == 0),
        "connections stuck: {:?}",
        h.counters()
    );
    assert_eq!(h.counters().conns_total, 2001);
    // Server-side threads of the echo server may lag; allow a little slack for them.
    assert!(
        wait_until(STEP, || engine::sys::open_fd_count() <= fds_before + 4),
        "fds leaked: {} -> {}",
        fds_before,
        engine::sys::open_fd_count()
    );
    h.stop_graceful(None);
    join_within(h, STEP);
}

#[test]
fn clients_resetting_mid_transfer_free_everything() {
    // A server that streams 8 MiB to every client; clients read a little and reset, so
    // the proxy has sends and recvs in flight when it must cancel and close.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let srv = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            std::thread::spawn(move || {
                let chunk = vec![7u8; 65536];
                for _ in 0..128 {
                    if c.write_all(&chunk).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let (h, fe) = start(plan(&[srv], 2));
    let workers: Vec<_> = (0..40)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(fe).expect("connect");
                s.set_read_timeout(Some(STEP)).expect("timeout");
                let mut buf = vec![0u8; 200_000];
                s.read_exact(&mut buf).expect("some data");
                engine::sys::set_linger_zero(std::os::fd::AsFd::as_fd(&s)).expect("linger");
                // drop: RST while the proxy is still sending
            })
        })
        .collect();
    for w in workers {
        w.join().expect("client");
    }
    assert!(
        wait_until(STEP, || h.counters().conns_cur == 0),
        "connections stuck after client resets: {:?}",
        h.counters()
    );
    let c = h.counters();
    assert_eq!(c.conns_total, 40);
    assert!(c.client_aborts >= 1, "{c:?}");
    h.stop_now();
    join_within(h, STEP);
}

#[test]
fn stop_now_after_graceful_stop_closes_at_once() {
    let a = echo_server("srvA");
    let (h, fe) = start(plan(&[a], 2));
    let s = TcpStream::connect(fe).expect("connect");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    assert_eq!(read_banner(&s).expect("banner"), "srvA\n");
    h.stop_graceful(None);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !h.is_finished(),
        "graceful stop must wait for the open connection"
    );
    let t0 = Instant::now();
    h.stop_now();
    join_within(h, STEP);
    assert!(t0.elapsed() < Duration::from_millis(500), "{:?}", t0.elapsed());
}
