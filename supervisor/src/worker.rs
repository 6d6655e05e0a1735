//! A worker process: the engine's threads on the configured (or inherited) listeners, the
//! control thread for the Runtime API, and the signals that stop it. Runs alone (no `-W`) or
//! under the master, which passes it the listening sockets and a link for forwarded commands.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use engine::build;
use engine::config::Config;
use engine::plan::Plan;
use engine::worker::{Engine, EngineHandle, Listener};

use crate::control_plane;
use crate::link;
use crate::sys;

/// How often the worker's main thread looks at the engine and the stop flags when no signal
/// arrives. Why: the engine threads may finish by themselves (every connection drained after
/// a stop); 100 ms keeps the exit prompt without busy waiting.
const SUPERVISE_TICK_MS: i32 = 100;

/// The plan built from `cfg`, with its warnings printed.
pub fn plan(cfg: &Config, quiet: bool) -> Result<Plan, ExitCode> {
    let fd_limit = engine::sys::nofile_limit().unwrap_or(1024);
    match build::plan(cfg, fd_limit) {
        Ok(built) => {
            if !quiet {
                for w in &built.warnings {
                    eprintln!("{w}");
                }
            }
            Ok(built.plan)
        }
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!("[ALERT] config : Fatal errors found in configuration.");
            Err(ExitCode::from(1))
        }
    }
}

/// Matches inherited sockets to the plan's frontends by address. An address the master did
/// not pass (it should not happen: both read the same config) is bound here.
fn inherited_listeners(plan: &Plan, fds: Vec<(SocketAddr, OwnedFd)>) -> Result<Vec<Listener>> {
    let mut by_addr: HashMap<SocketAddr, OwnedFd> = fds.into_iter().collect();
    let mut out = Vec::new();
    for (fi, fe) in plan.frontends.iter().enumerate() {
        for addr in &fe.binds {
            let fd = match by_addr.remove(addr) {
                Some(fd) => fd,
                None => {
                    eprintln!("[WARNING] worker : listener {addr} not passed by the master; binding it here");
                    engine::sys::bind_listener(addr, false, engine::sys::LISTEN_BACKLOG_DEFAULT)
                        .with_context(|| format!("bind {addr} for frontend '{}'", fe.name))?
                }
            };
            out.push(Listener {
                frontend: fi,
                thread: None,
                addr: *addr,
                fd,
            });
        }
    }
    Ok(out)
}

/// Runs a worker until it is stopped. `env` is `Some` under the master.
pub fn run(cfg: &Config, plan: Plan, env: Option<link::WorkerEnv>) -> ExitCode {
    match run_inner(cfg, plan, env) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("[ALERT] worker : {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(cfg: &Config, plan: Plan, env: Option<link::WorkerEnv>) -> Result<ExitCode> {
    let started = Instant::now();
    let hard_stop_after = plan.hard_stop_after;
    let signals = std::fs::File::from(sys::install_master_signals().context("install signal handlers")?);
    // The stats sockets are checked before anything starts: a bad one stops the start.
    let specs = control_plane::socket_specs(cfg)?;
    let (listeners, master) = match env {
        Some(env) => (
            Some(inherited_listeners(&plan, env.listen_fds)?),
            Some(env.master),
        ),
        None => (None, None),
    };
    let maps = Arc::clone(&plan.maps);
    let plan_view = plan.clone();
    let handle = Engine::start(plan, listeners).context("start the engine")?;
    let mut ctx = control_plane::context(cfg, &plan_view, &handle, maps, started);
    ctx.sockets = control_plane::socket_infos(&specs);
    let ctx = Arc::new(ctx);
    let mut control = control_plane::serve(cfg, specs, Arc::clone(&ctx))?;
    if let Some(master) = &master {
        master
            .notify_ready()
            .context("tell the master this worker is ready")?;
    }
    let master_gone = Arc::new(AtomicBool::new(false));
    if let Some(master) = master {
        let gone = Arc::clone(&master_gone);
        let ctx = Arc::clone(&ctx);
        std::thread::Builder::new()
            .name("ringlb-master-link".into())
            .spawn(move || {
                let _ = master
                    .serve(|line, level| control::exec::answer(&ctx, line, control_plane::level(level)));
                gone.store(true, Ordering::SeqCst);
            })
            .context("spawn the master link thread")?;
    }
    supervise(&handle, signals, hard_stop_after, &master_gone, &mut control);
    let result = handle.join();
    if let Some(c) = control {
        c.shutdown();
    }
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(anyhow::anyhow!(e).context("engine thread failed")),
    }
}

/// Waits for a stop: SIGTERM, SIGINT or SIGUSR1 (the master's soft stop) stop gracefully,
/// bounded by `hard-stop-after`; SIGQUIT stops at once; a vanished master stops gracefully.
/// The stats sockets close as soon as the stop begins.
fn supervise(
    handle: &EngineHandle,
    signals: std::fs::File,
    hard_stop_after: Option<Duration>,
    master_gone: &AtomicBool,
    control: &mut Option<control::listen::ControlHandle>,
) {
    let mut stopping = false;
    loop {
        if handle.is_finished() {
            return;
        }
        let mut fds = [sys::poll_fd(signals.as_raw_fd(), sys::POLLIN)];
        let _ = sys::poll(&mut fds, SUPERVISE_TICK_MS);
        let mut buf = [0u8; 64];
        // Drain the self-pipe; the pending set says which signals came.
        while matches!((&signals).read(&mut buf), Ok(n) if n > 0) {}
        let pending = sys::take_signals();
        let has = |sig: libc::c_int| pending & (1u64 << sig) != 0;
        if has(libc::SIGQUIT) {
            handle.stop_now();
            stopping = true;
        } else if !stopping
            && (has(libc::SIGTERM)
                || has(libc::SIGINT)
                || has(libc::SIGUSR1)
                || master_gone.load(Ordering::SeqCst))
        {
            handle.stop_graceful(hard_stop_after.map(|d| Instant::now() + d));
            stopping = true;
            // A stopping worker stops taking Runtime API clients at once: after a reload
            // the new worker's sockets must get them all. Forwarded `@!pid` commands still
            // reach this worker over the master link while it drains.
            if let Some(c) = control.take() {
                c.shutdown();
            }
        }
    }
}
