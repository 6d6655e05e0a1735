//! A tiny TCP proxy on the engine, for benchmarks before the `ringlb` binary exists:
//! `tcpproxy LISTEN_ADDR SERVER_ADDR...` (env `THREADS`, default 1; `PIN=1` to pin;
//! `REUSEPORT=1` for one listening socket per thread; `MAXCONN`).
//! Runs until killed; prints the listening address on stdout.

use std::net::SocketAddr;

use engine::plan::Plan;
use engine::worker::Engine;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parse = |s: &String| -> SocketAddr {
        s.parse().unwrap_or_else(|e| {
            eprintln!("tcpproxy: bad address '{s}': {e}");
            std::process::exit(2)
        })
    };
    let Some((listen, servers)) = args.split_first() else {
        eprintln!("usage: tcpproxy LISTEN_ADDR SERVER_ADDR...");
        std::process::exit(2)
    };
    let servers: Vec<SocketAddr> = servers.iter().map(parse).collect();
    if servers.is_empty() {
        eprintln!("usage: tcpproxy LISTEN_ADDR SERVER_ADDR...");
        std::process::exit(2)
    }
    let mut plan = Plan::simple_tcp(parse(listen), &servers);
    plan.threads = std::env::var("THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    plan.pin = std::env::var("PIN").is_ok_and(|v| v == "1");
    plan.listener_per_thread = std::env::var("REUSEPORT").is_ok_and(|v| v == "1");
    plan.maxconn = std::env::var("MAXCONN")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(4096);
    plan.frontends[0].maxconn = plan.maxconn;
    match Engine::start(plan, None) {
        Ok(h) => {
            for (_, a) in h.local_addrs() {
                println!("listening on {a}");
            }
            if let Err(e) = h.join() {
                eprintln!("tcpproxy: {e}");
                std::process::exit(1)
            }
        }
        Err(e) => {
            eprintln!("tcpproxy: {e}");
            std::process::exit(2)
        }
    }
}
