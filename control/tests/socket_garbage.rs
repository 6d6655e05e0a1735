//! Garbage on the socket: random bytes, a 1 MiB line, half-open connections, 100 idle
//! connections. None of it may crash the control thread or keep the next client waiting.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;

fn still_served(lb: &Lb) {
    let t = Instant::now();
    assert_eq!(cli(lb.tcp, "show cli level"), "admin\n\n");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "next client waited {:?}",
        t.elapsed()
    );
}

#[test]
fn random_bytes() {
    let lb = start();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..20 {
        let mut bytes = Vec::with_capacity(4096);
        for _ in 0..(256 * (round + 1)) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.push((seed & 0xff) as u8);
        }
        let mut s = connect(lb.tcp);
        let _ = s.write_all(&bytes);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let _ = read_to_close(&mut s);
    }
    still_served(&lb);
}

#[test]
fn one_mebibyte_line_is_refused_and_closed() {
    let lb = start();
    let mut s = connect(lb.tcp);
    let line = vec![b'a'; 1 << 20];
    // The server may close before reading everything: ignore write errors.
    let _ = s.write_all(&line);
    let out = read_to_close(&mut s);
    assert_eq!(out, format!("{}\n\n", control::messages::COMMAND_TOO_BIG));
    still_served(&lb);
}

#[test]
fn half_open_connections() {
    let lb = start();
    // A command without its LF, then the client shuts its side: it still runs.
    let mut s = connect(lb.tcp);
    s.write_all(b"show cli level").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_to_close(&mut s), "admin\n\n");
    // A client that never reads its answer and keeps its side open.
    let mut quiet = Vec::new();
    for _ in 0..5 {
        let mut s = connect(lb.tcp);
        s.write_all(b"prompt\nshow stat\nshow info\n").unwrap();
        quiet.push(s);
    }
    still_served(&lb);
    drop(quiet);
    still_served(&lb);
}

#[test]
fn hundred_idle_connections_do_not_block_the_next_client() {
    let lb = start();
    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(connect(lb.tcp));
    }
    std::thread::sleep(Duration::from_millis(50));
    still_served(&lb);
    let mut half = Vec::new();
    for _ in 0..100 {
        let mut s = connect(lb.tcp);
        s.write_all(b"show in").unwrap();
        half.push(s);
    }
    still_served(&lb);
    drop(idle);
    drop(half);
    still_served(&lb);
}

#[test]
fn a_client_that_never_reads_times_out() {
    let lb = start_with(control::listen::ServeOptions {
        timeout: Duration::from_millis(300),
        ..control::listen::ServeOptions::default()
    });
    // Fill a large map so that `show map` answers far more than the socket buffers hold.
    let keys: Vec<String> = (0..100_000)
        .map(|i| format!("/some/long/path/number/{i}"))
        .collect();
    let pairs: Vec<(&str, &str)> = keys
        .iter()
        .map(|k| (k.as_str(), "backend_with_a_long_name"))
        .collect();
    lb.ctx.maps.add("virt@paths.map", None, &pairs).expect("fill");
    let mut s = connect(lb.tcp);
    s.write_all(b"prompt\nshow map virt@paths.map\n").unwrap();
    std::thread::sleep(Duration::from_millis(600));
    still_served(&lb);
    // The stuck session was closed: reading drains what was sent, then EOF or reset.
    let _ = read_to_close(&mut s);
}

#[test]
fn flooding_during_a_wait_is_bounded() {
    let lb = start();
    let mut s = connect(lb.tcp);
    s.set_nonblocking(true).unwrap();
    let _ = s.write_all(b"prompt\nwait 300ms\n");
    // Push as much as the socket takes while the wait runs; the server stops reading.
    let junk = vec![b'x'; 64 * 1024];
    let t = Instant::now();
    let mut sent = 0usize;
    while t.elapsed() < Duration::from_millis(200) {
        match s.write(&junk) {
            Ok(n) => sent += n,
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
        // Socket buffers plus one request chunk hold a few MiB at most.
        assert!(
            sent < 32 << 20,
            "the server kept reading during the wait ({sent} bytes)"
        );
    }
    still_served(&lb);
}

#[test]
fn extra_lines_after_a_one_shot_command_do_not_lose_its_answer() {
    let lb = start();
    for _ in 0..20 {
        let mut s = connect(lb.tcp);
        // Non-interactive: only the first line runs; the rest is discarded, not reset.
        s.write_all(b"show cli level\necho ignored\necho ignored too\n")
            .unwrap();
        assert_eq!(read_to_close(&mut s), "admin\n\n");
    }
}
