//! The engine's input: plain data the binary builds from the parsed config.
//!
//! A [`Plan`] says how many engine threads to run and where, which frontends listen
//! where, and which backends exist. It holds no sockets and does no I/O; validation
//! ([`Plan::validate`]) is pure so the binary can report errors before starting threads.

use std::net::SocketAddr;
use std::time::Duration;

/// Most engine threads a plan may ask for: HAProxy's `MAX_THREADS` on 64-bit.
pub const THREADS_MAX: usize = 64;

/// Most bind addresses per frontend: each costs one socket per thread.
pub const BINDS_PER_FRONTEND_MAX: usize = 64;

/// Most servers per backend in this plan form (the tables module has its own limits).
pub const SERVERS_PER_BACKEND_MAX: usize = 4096;

/// Most retries per connection: HAProxy accepts any int, but more than this only
/// delays the error by one turn-around second each.
pub const RETRIES_MAX: u32 = 100;

/// File descriptors kept aside from `maxconn` for listeners, rings, eventfds, logs.
pub const FDS_RESERVED: u64 = 64;

/// Proxying mode of a frontend or backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Layer 4: bytes are forwarded both ways untouched.
    #[default]
    Tcp,
    /// Layer 7 (issue 4; refused by the engine until implemented).
    Http,
}

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
    /// Index into [`Plan::backends`] of `default_backend`, if any.
    pub default_backend: Option<usize>,
    /// `timeout client`: inactivity on the client side; `None` is infinite.
    pub timeout_client: Option<Duration>,
}

/// One server of a backend (stand-in until the tables snapshot carries servers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPlan {
    /// Server name.
    pub name: String,
    /// Address to connect to.
    pub addr: SocketAddr,
}

/// One backend: servers and the per-connection settings the engine applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendPlan {
    /// Backend name.
    pub name: String,
    /// Servers, balanced round-robin.
    pub servers: Vec<ServerPlan>,
    /// `retries`: reconnection attempts after a failed connect.
    pub retries: u32,
    /// `option redispatch`: the last retry goes to another server.
    pub redispatch: bool,
    /// `timeout connect`; `None` is infinite (the kernel's SYN retries still apply).
    pub timeout_connect: Option<Duration>,
    /// `timeout server`: inactivity on the server side.
    pub timeout_server: Option<Duration>,
    /// `timeout tunnel`: once connected, inactivity on both sides (replaces client/server).
    pub timeout_tunnel: Option<Duration>,
}

/// Everything the engine needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Backends.
    pub backends: Vec<BackendPlan>,
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
    #[error("frontend '{frontend}' refers to backend #{index} but only {count} exist")]
    NoSuchBackend {
        /// Frontend name.
        frontend: String,
        /// Index given.
        index: usize,
        /// Backends defined.
        count: usize,
    },
    /// HTTP mode is not implemented yet.
    #[error("frontend '{frontend}': mode http is not supported by this engine yet")]
    HttpUnsupported {
        /// Frontend name.
        frontend: String,
    },
    /// Zero maxconn would never accept.
    #[error("maxconn must be at least 1 (got {maxconn} in '{scope}')")]
    ZeroMaxconn {
        /// `global` or the frontend name.
        scope: String,
        /// Value.
        maxconn: usize,
    },
    /// Limits out of range.
    #[error("backend '{backend}': {what} {value} is above the maximum of {max}")]
    BackendLimit {
        /// Backend name.
        backend: String,
        /// `retries` or `servers`.
        what: &'static str,
        /// Value.
        value: usize,
        /// Limit.
        max: usize,
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
    /// A one-frontend, one-backend TCP plan (examples and tests).
    pub fn simple_tcp(bind: SocketAddr, servers: &[SocketAddr]) -> Plan {
        Plan {
            threads: 1,
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
                default_backend: Some(0),
                timeout_client: Some(Duration::from_secs(30)),
            }],
            backends: vec![BackendPlan {
                name: "be".into(),
                servers: servers
                    .iter()
                    .enumerate()
                    .map(|(i, a)| ServerPlan {
                        name: format!("s{}", i + 1),
                        addr: *a,
                    })
                    .collect(),
                retries: 3,
                redispatch: true,
                timeout_connect: Some(Duration::from_secs(5)),
                timeout_server: Some(Duration::from_secs(30)),
                timeout_tunnel: None,
            }],
        }
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
            if fe.mode == Mode::Http {
                return Err(PlanError::HttpUnsupported {
                    frontend: fe.name.clone(),
                });
            }
            if fe.maxconn == 0 {
                return Err(PlanError::ZeroMaxconn {
                    scope: fe.name.clone(),
                    maxconn: 0,
                });
            }
            if let Some(index) = fe.default_backend {
                if index >= self.backends.len() {
                    return Err(PlanError::NoSuchBackend {
                        frontend: fe.name.clone(),
                        index,
                        count: self.backends.len(),
                    });
                }
            }
        }
        for be in &self.backends {
            if be.retries > RETRIES_MAX {
                return Err(PlanError::BackendLimit {
                    backend: be.name.clone(),
                    what: "retries",
                    value: be.retries as usize,
                    max: RETRIES_MAX as usize,
                });
            }
            if be.servers.len() > SERVERS_PER_BACKEND_MAX {
                return Err(PlanError::BackendLimit {
                    backend: be.name.clone(),
                    what: "servers",
                    value: be.servers.len(),
                    max: SERVERS_PER_BACKEND_MAX,
                });
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
        assert_eq!(base().validate(20_000), Ok(()));
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
        p.frontends[0].default_backend = Some(3);
        cases.push((p, "frontend 'fe' refers to backend #3 but only 1 exist"));
        let mut p = base();
        p.frontends[0].mode = Mode::Http;
        cases.push((
            p,
            "frontend 'fe': mode http is not supported by this engine yet",
        ));
        let mut p = base();
        p.backends[0].retries = 101;
        cases.push((p, "backend 'be': retries 101 is above the maximum of 100"));
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
