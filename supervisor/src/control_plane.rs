//! The worker's control plane: the Runtime API context over the running engine (tables,
//! maps, process facts, `defaults` templates, frontends), the stats sockets of the config
//! served by one control thread, and the answers to commands the master forwards.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::{Context as _, Result};
use control::exec::{Context, FrontendControl, FrontendError, FrontendInfo, SocketInfo};
use control::info::ProcessInfo;
use control::listen::{self, ControlHandle, ServeOptions, SocketAddrSpec, SocketSpec};
use control::Level;
use engine::config::Config;
use engine::counters::FrontendCounters;
use engine::map::Maps;
use engine::plan::Plan;
use engine::worker::EngineHandle;

use crate::cli::CliLevel;
use crate::sys;

/// The frontends as the Runtime API sees them: names, modes and counters from the plan and
/// the running engine. Pausing or closing listeners at run time is not in the engine yet, so
/// those commands answer that plainly rather than pretending.
struct Frontends {
    list: Vec<(String, &'static str, u32, Arc<FrontendCounters>)>,
}

const NOT_YET: &str = "This command is not supported by ringlb yet.";

impl FrontendControl for Frontends {
    fn disable(&self, name: &str) -> Result<(), FrontendError> {
        self.find(name).and(Err(FrontendError::Refused(NOT_YET.into())))
    }
    fn enable(&self, name: &str) -> Result<(), FrontendError> {
        self.find(name).and(Err(FrontendError::Refused(NOT_YET.into())))
    }
    fn shutdown(&self, name: &str) -> Result<(), FrontendError> {
        self.find(name).and(Err(FrontendError::Refused(NOT_YET.into())))
    }
    fn set_maxconn(&self, name: &str, _maxconn: u32) -> Result<(), FrontendError> {
        self.find(name).and(Err(FrontendError::Refused(NOT_YET.into())))
    }
    fn list(&self) -> Vec<FrontendInfo> {
        self.list
            .iter()
            .enumerate()
            .map(|(i, (name, mode, maxconn, counters))| FrontendInfo {
                name: name.clone(),
                id: u32::try_from(i + 1).unwrap_or(u32::MAX),
                mode,
                status: "OPEN",
                maxconn: *maxconn,
                counters: Some(Arc::clone(counters)),
            })
            .collect()
    }
}

impl Frontends {
    fn find(&self, name: &str) -> Result<(), FrontendError> {
        if self.list.iter().any(|(n, ..)| n == name) {
            Ok(())
        } else {
            Err(FrontendError::NoSuchFrontend)
        }
    }
}

/// The level a master CLI session hands to the worker.
pub fn level(l: CliLevel) -> Level {
    match l {
        CliLevel::User => Level::User,
        CliLevel::Operator => Level::Operator,
        CliLevel::Admin => Level::Admin,
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Builds the Runtime API context over a started engine. `plan` is the one the engine runs.
pub fn context(
    cfg: &Config,
    plan: &Plan,
    handle: &EngineHandle,
    maps: Arc<Maps>,
    started: Instant,
) -> Context {
    let mut ctx = Context::new(Arc::clone(handle.tables()), maps);
    let g = &cfg.global;
    ctx.info = ProcessInfo {
        nbthread: plan.thread_count(),
        pid: std::process::id(),
        start: SystemTime::now() - started.elapsed(),
        maxconn: plan.maxconn as u64,
        ulimit_n: engine::sys::nofile_limit().unwrap_or(0),
        node: g.node.clone().unwrap_or_else(hostname),
        description: g.description.clone().unwrap_or_default(),
        boot_time_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        ..ProcessInfo::default()
    };
    let mut templates = HashMap::new();
    for d in cfg.defaults.iter().filter(|d| !d.name.is_empty()) {
        if let (Some(b), _) = engine::build::backend_config(d) {
            templates.insert(d.name.clone(), b);
        }
    }
    ctx.defaults = Context::defaults_from(templates);
    ctx.frontends = Arc::new(Frontends {
        list: plan
            .frontends
            .iter()
            .zip(handle.frontend_counters())
            .map(|(fe, c)| {
                let mode = match fe.mode {
                    engine::plan::Mode::Tcp => "tcp",
                    engine::plan::Mode::Http => "http",
                };
                (
                    fe.name.clone(),
                    mode,
                    u32::try_from(fe.maxconn).unwrap_or(u32::MAX),
                    Arc::clone(c),
                )
            })
            .collect(),
    });
    ctx
}

/// The `stats socket` lines of the config as the control thread serves them.
pub fn socket_specs(cfg: &Config) -> Result<Vec<SocketSpec>> {
    let user = |n: &str| sys::lookup_user(n).ok().flatten().map(|(uid, _)| uid);
    let group = |n: &str| sys::lookup_group(n).ok().flatten();
    cfg.global
        .stats_sockets
        .iter()
        .map(|s| {
            SocketSpec::from_config(s, &user, &group)
                .with_context(|| format!("parsing [{}:{}] : stats socket", s.place.file, s.place.line))
        })
        .collect()
}

/// What `show cli sockets` lists.
pub fn socket_infos(specs: &[SocketSpec]) -> Vec<SocketInfo> {
    specs
        .iter()
        .map(|s| SocketInfo {
            addr: match &s.addr {
                SocketAddrSpec::Unix(p) => p.display().to_string(),
                SocketAddrSpec::Tcp(a) if a.is_ipv4() => format!("ipv4@{a}"),
                SocketAddrSpec::Tcp(a) => format!("ipv6@{a}"),
            },
            level: s.level,
        })
        .collect()
}

/// Starts the stats sockets (nothing to start when the config has none).
pub fn serve(cfg: &Config, specs: Vec<SocketSpec>, ctx: Arc<Context>) -> Result<Option<ControlHandle>> {
    if specs.is_empty() {
        return Ok(None);
    }
    let h = listen::spawn_with(specs, ctx, ServeOptions::from_config(&cfg.global))
        .context("start the stats sockets")?;
    Ok(Some(h))
}
