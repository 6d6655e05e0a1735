//! The engine's input: plain data the binary builds from the parsed config.
//!
//! A [`Plan`] says how many engine threads to run and where, which frontends listen
//! where, and which backends exist. It holds no sockets and does no I/O; validation
//! ([`Plan::validate`]) is pure so the binary can report errors before starting threads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::http::Limits;
use crate::map::Maps;
use crate::rules::ProxyRules;

use crate::table::{BackendConfig, ServerConfig, Snapshot, TableError};

/// Most engine threads a plan may ask for: HAProxy's `MAX_THREADS` on 64-bit.
pub const THREADS_MAX: usize = 64;

/// Most bind addresses per frontend: each costs one socket per thread.
pub const BINDS_PER_FRONTEND_MAX: usize = 64;

/// File descriptors kept aside from `maxconn` for listeners, rings, eventfds, logs.
pub const FDS_RESERVED: u64 = 64;

/// Proxying mode of a frontend or backend (one type for frontends and backends).
pub use crate::table::Mode;

/// One frontend: where to listen and where to send connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontendPlan {
    /// Frontend name (for counters and logs).
    pub name: String,
    /// Bind addresses; port 0 asks the kernel for one (tests).
    pub binds: Vec<SocketAddr>,
    /// Most concurrent connections on this frontend; further ones wait in the backlog.
    pub maxconn: usize,
    /// Proxying mode.
    pub mode: Mode,
    /// `default_backend`: name of a backend in [`Plan::snapshot`], looked up in the
    /// current table snapshot for each new connection.
    pub default_backend: Option<String>,
    /// `timeout client`: inactivity on the client side; `None` is infinite.
    pub timeout_client: Option<Duration>,
    /// HTTP-mode settings (ignored in TCP mode).
    pub http: HttpPlan,
    /// Access logger (`log` lines with `option httplog`/`tcplog`/`log-format`).
    pub logger: Option<LoggerRef>,
}

/// A shared access logger; plans compare them by identity.
#[derive(Debug, Clone)]
pub struct LoggerRef(pub Arc<crate::log::ProxyLogger>);

impl PartialEq for LoggerRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for LoggerRef {}

/// `errorfile <code> <file>` lines of one proxy: status and the whole response, loaded at start.
pub type ErrorFiles = Vec<(u16, Arc<[u8]>)>;

/// `option http-keep-alive` / `http-server-close` / `httpclose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnMode {
    /// Keep both sides alive (default).
    #[default]
    KeepAlive,
    /// Keep the client side alive, close the server side after each response.
    ServerClose,
    /// Close both sides after each response.
    Close,
}

/// `http-reuse`: when an idle server connection of this thread may carry a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reuse {
    /// Never: one server connection per client connection.
    Never,
    /// Not for the first request of a client connection (default).
    #[default]
    Safe,
    /// For any request (`aggressive` maps here too).
    Always,
}

/// `option forwardfor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardFor {
    /// Header name (default `X-Forwarded-For`).
    pub header: String,
    /// `if-none`: only when the request has no such header.
    pub if_none: bool,
    /// `except <network>`: clients in it get no header.
    pub except: Option<(std::net::IpAddr, u8)>,
}

/// HTTP settings of a frontend.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpPlan {
    /// Connection mode.
    pub conn_mode: ConnMode,
    /// Server connection reuse.
    pub reuse: Reuse,
    /// `option forwardfor`.
    pub forwardfor: Option<ForwardFor>,
    /// `timeout http-request`: longest wait for a complete request head.
    pub timeout_http_request: Option<Duration>,
    /// `timeout http-keep-alive`: longest idle wait for the next request.
    pub timeout_http_keep_alive: Option<Duration>,
    /// `errorfile <code> <file>`: whole responses replacing the defaults, loaded at start.
    pub errorfiles: ErrorFiles,
    /// Head limits (`tune.bufsize`, `tune.maxrewrite`, `tune.http.maxhdr`).
    pub limits: HttpLimits,
    /// Compiled ACLs, `http-request`/`http-response` rules and `use_backend` switching.
    pub rules: Option<RulesRef>,
}

/// Shared compiled rules; plans compare them by identity.
#[derive(Debug, Clone)]
pub struct RulesRef(pub Arc<ProxyRules>);

impl PartialEq for RulesRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for RulesRef {}

/// [`Limits`] with `Eq` for the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HttpLimits(pub Limits);

/// Everything the engine needs to start.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `nbthread`; 0 means one per available CPU.
    pub threads: usize,
    /// `cpu-map`: thread i is pinned to `cpu_map[i]`; missing entries pin to `i % cpus`.
    pub cpu_map: Vec<usize>,
    /// Whether to pin threads at all (tests on a busy machine may turn it off).
    pub pin: bool,
    /// Global `maxconn` across all threads and frontends.
    pub maxconn: usize,
    /// One `SO_REUSEPORT` listening socket per thread instead of one shared socket per
    /// bind (see `worker` docs for why shared is the default).
    pub listener_per_thread: bool,
    /// `hard-stop-after`: a graceful stop closes remaining connections after this.
    pub hard_stop_after: Option<Duration>,
    /// Frontends.
    pub frontends: Vec<FrontendPlan>,
    /// The initial backend tables (servers, balance, `retries`, `redispatch`, timeouts).
    /// Build it with `Snapshot::from_config(plan.thread_count(), ..)` so counters get one
    /// shard per thread.
    pub snapshot: Snapshot,
    /// Maps of `map*` converters (`virt@` maps and files), shared with the Runtime API.
    pub maps: Arc<Maps>,
    /// Compiled rules of HTTP backends by name (`http-request` after routing,
    /// `http-response`, `option forwardfor`); backends added at run time have none.
    pub backend_rules: std::collections::HashMap<String, Arc<ProxyRules>>,
    /// `errorfile`s of HTTP backends by name: used for errors once a request was routed
    /// there, before the frontend's.
    pub backend_errorfiles: std::collections::HashMap<String, ErrorFiles>,
}

/// Why a plan cannot run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    /// Too many threads.
    #[error("nbthread {threads} is above the maximum of {max}")]
    TooManyThreads {
        /// Requested.
        threads: usize,
        /// Limit.
        max: usize,
    },
    /// A frontend has no bind line.
    #[error("frontend '{frontend}' has no bind address")]
    NoBind {
        /// Frontend name.
        frontend: String,
    },
    /// Too many binds.
    #[error("frontend '{frontend}' has {binds} bind addresses (max {max})")]
    TooManyBinds {
        /// Frontend name.
        frontend: String,
        /// Count.
        binds: usize,
        /// Limit.
        max: usize,
    },
    /// `default_backend` points nowhere.
    #[error("frontend '{frontend}' refers to unknown backend '{backend}'")]
    NoSuchBackend {
        /// Frontend name.
        frontend: String,
        /// Backend name given.
        backend: String,
    },
    /// The tables refused the backends.
    #[error(transparent)]
    Table(#[from] TableError),
    /// Zero maxconn would never accept.
    #[error("maxconn must be at least 1 (got {maxconn} in '{scope}')")]
    ZeroMaxconn {
        /// `global` or the frontend name.
        scope: String,
        /// Value.
        maxconn: usize,
    },
    /// The fd limit cannot hold maxconn proxied connections.
    #[error("maxconn {maxconn} needs {needed} file descriptors but the limit is {limit}")]
    FdLimit {
        /// Global maxconn.
        maxconn: usize,
        /// 2 per connection plus reserve.
        needed: u64,
        /// `RLIMIT_NOFILE`.
        limit: u64,
    },
}

impl Plan {
    /// A one-frontend, one-backend TCP plan (examples and tests): roundrobin, 3 retries
    /// with redispatch, connect 5s, client/server 30s, one thread.
    pub fn simple_tcp(bind: SocketAddr, servers: &[SocketAddr]) -> Plan {
        Plan::simple_tcp_with(bind, servers, 1, |_| {}).unwrap_or_else(|_| Plan {
            threads: 1,
            cpu_map: Vec::new(),
            pin: false,
            maxconn: 4096,
            listener_per_thread: false,
            hard_stop_after: None,
            frontends: Vec::new(),
            snapshot: Snapshot::new(1),
            maps: Arc::default(),
            backend_rules: Default::default(),
            backend_errorfiles: Default::default(),
        })
    }

    /// Like [`Plan::simple_tcp`] with `threads` threads, and `edit` applied to the
    /// backend config before the snapshot is built.
    pub fn simple_tcp_with(
        bind: SocketAddr,
        servers: &[SocketAddr],
        threads: usize,
        edit: impl FnOnce(&mut BackendConfig),
    ) -> Result<Plan, TableError> {
        let mut be = BackendConfig::new("be");
        be.settings.retries = 3;
        be.settings.redispatch = true;
        be.settings.timeout_connect = Some(Duration::from_secs(5));
        be.settings.timeout_server = Some(Duration::from_secs(30));
        be.servers = servers
            .iter()
            .enumerate()
            .map(|(i, a)| ServerConfig::new(format!("s{}", i + 1), *a))
            .collect();
        edit(&mut be);
        let mut plan = Plan {
            threads,
            cpu_map: Vec::new(),
            pin: false,
            maxconn: 4096,
            listener_per_thread: false,
            hard_stop_after: None,
            frontends: vec![FrontendPlan {
                name: "fe".into(),
                binds: vec![bind],
                maxconn: 4096,
                mode: Mode::Tcp,
                default_backend: Some("be".into()),
                timeout_client: Some(Duration::from_secs(30)),
                http: HttpPlan::default(),
                logger: None,
            }],
            snapshot: Snapshot::new(1),
            maps: Arc::default(),
            backend_rules: Default::default(),
            backend_errorfiles: Default::default(),
        };
        plan.snapshot = Snapshot::from_config(plan.thread_count(), &[be])?;
        Ok(plan)
    }

    /// Number of engine threads this plan runs (resolves 0 to the CPU count).
    pub fn thread_count(&self) -> usize {
        if self.threads == 0 {
            crate::sys::available_cpus().clamp(1, THREADS_MAX)
        } else {
            self.threads
        }
    }

    /// Checks the plan against its limits and an fd limit (`RLIMIT_NOFILE`).
    pub fn validate(&self, fd_limit: u64) -> Result<(), PlanError> {
        if self.threads > THREADS_MAX {
            return Err(PlanError::TooManyThreads {
                threads: self.threads,
                max: THREADS_MAX,
            });
        }
        if self.maxconn == 0 {
            return Err(PlanError::ZeroMaxconn {
                scope: "global".into(),
                maxconn: 0,
            });
        }
        for fe in &self.frontends {
            if fe.binds.is_empty() {
                return Err(PlanError::NoBind {
                    frontend: fe.name.clone(),
                });
            }
            if fe.binds.len() > BINDS_PER_FRONTEND_MAX {
                return Err(PlanError::TooManyBinds {
                    frontend: fe.name.clone(),
                    binds: fe.binds.len(),
                    max: BINDS_PER_FRONTEND_MAX,
                });
            }
            if fe.maxconn == 0 {
                return Err(PlanError::ZeroMaxconn {
                    scope: fe.name.clone(),
                    maxconn: 0,
                });
            }
            if let Some(name) = &fe.default_backend {
                if self.snapshot.backend(name).is_none() {
                    return Err(PlanError::NoSuchBackend {
                        frontend: fe.name.clone(),
                        backend: name.clone(),
                    });
                }
            }
        }
        let needed = (self.maxconn as u64)
            .saturating_mul(2)
            .saturating_add(FDS_RESERVED);
        if needed > fd_limit {
            return Err(PlanError::FdLimit {
                maxconn: self.maxconn,
                needed,
                limit: fd_limit,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Plan {
        let a: SocketAddr = "127.0.0.1:0".parse().expect("literal");
        Plan::simple_tcp(a, &[a])
    }

    #[test]
    fn validate_accepts_and_rejects() {
        assert!(base().validate(20_000).is_ok());
        let mut cases: Vec<(Plan, &str)> = Vec::new();
        let mut p = base();
        p.threads = 65;
        cases.push((p, "nbthread 65 is above the maximum of 64"));
        let mut p = base();
        p.maxconn = 0;
        cases.push((p, "maxconn must be at least 1 (got 0 in 'global')"));
        let mut p = base();
        p.frontends[0].binds.clear();
        cases.push((p, "frontend 'fe' has no bind address"));
        let mut p = base();
        p.frontends[0].default_backend = Some("nope".into());
        cases.push((p, "frontend 'fe' refers to unknown backend 'nope'"));
        let mut p = base();
        p.maxconn = 10_000;
        cases.push((
            p,
            "maxconn 10000 needs 20064 file descriptors but the limit is 20000",
        ));
        for (plan, msg) in cases {
            let err = plan.validate(20_000).expect_err(msg);
            assert_eq!(err.to_string(), msg);
        }
    }

    #[test]
    fn thread_count_resolves_zero() {
        let mut p = base();
        p.threads = 0;
        assert!(p.thread_count() >= 1);
        p.threads = 3;
        assert_eq!(p.thread_count(), 3);
    }
}
