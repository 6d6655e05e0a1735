//! Engine threads: one pinned thread per core, each with its own io_uring [`Ring`], a
//! `slab` of connections, a buffer pool, timers and counters, and the public
//! [`Engine::start`] / [`EngineHandle`] API.
//!
//! Listeners: by default one socket per bind address, shared by every thread; each thread
//! keeps one accept armed on it (accept waits are exclusive in the kernel, so a new
//! connection wakes one thread only). This was chosen over one `SO_REUSEPORT` socket per
//! thread because with reuseport the kernel pins each incoming connection to one thread's
//! socket: a thread paused by `maxconn` (or busy) strands the connections queued on its
//! socket while another thread holds the free slot (`maxconn` 2 with 2 threads deadlocked
//! in `tcp_limits::maxconn_*`), and a master passing fds to workers must pass one socket
//! per thread. [`Plan::listener_per_thread`] still selects reuseport for measurements.
//! Measured (2 threads pinned, 8 client threads, connect + 1-byte banner + close, 3
//! alternated runs of 2 s on the shared 2-core VM): shared 26.9k/27.8k/26.6k conn/s,
//! reuseport 25.1k/27.1k/22.2k conn/s: no gain from reuseport here to pay for its
//! stranding problem.
//!
//! `maxconn` is enforced by reservation: a thread arms an accept only after reserving a
//! slot in the global and frontend counts, so `connections + armed accepts <= maxconn`
//! always holds and excess connections wait in the kernel backlog, never accepted and
//! dropped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::balance::{Balance, LbState};
use crate::counters::{Counter, FrontendConn, FrontendCounters};
use crate::h1::{HttpConn, ServerPool};
use crate::plan::Mode;
use crate::plan::{Plan, PlanError};
use crate::sys;
use crate::table::{Backend, ConnSlot, Pick, QueueTicket, Snapshot, Tables};
use crate::tcp::{Abort, Dir, Phase, TcpConn, BUF_LARGE_BYTES, BUF_SMALL_BYTES};
use crate::uring::{accepted_fd, Completion, IoBuf, Ring};

/// Connections one thread holds at most: the open-file cap of 20,000 allows ~9,900
/// proxied connections per process, so one thread never needs more.
pub const CONNECTIONS_PER_THREAD_MAX: usize = 10_000;

/// Idle small buffers kept per thread for reuse; beyond this they are freed (bounds RSS
/// after a burst while avoiding an allocation per connection in steady state).
pub const BUF_POOL_MAX: usize = 1024;

/// Large buffers a thread hands out at once (in use or pooled): 256 x 256 KiB = 64 MiB
/// per thread at most; directions beyond this keep their small buffer.
pub const LARGE_BUFS_PER_THREAD_MAX: usize = 256;

/// How often a thread with paused accepts re-checks for free `maxconn` slots freed by
/// other threads (they don't wake it: nothing on the request path crosses threads).
pub const PAUSED_RECHECK: Duration = Duration::from_millis(10);

/// Longest sleep of an idle loop: a safety net, wake-ups normally come from the eventfd.
pub const IDLE_WAIT_MAX: Duration = Duration::from_secs(1);

/// Longest turn-around delay before retrying the same server (HAProxy: min(connect, 1s)).
pub const RETRY_DELAY_MAX: Duration = Duration::from_secs(1);

/// Most retries per connection: HAProxy accepts any int, but more than this only
/// delays the error by one turn-around second each.
pub const RETRIES_MAX: u32 = 100;

/// How often a connection waiting in a backend queue (all servers at `maxconn`) picks
/// again; slots freed by other threads don't wake this one.
pub const QUEUE_POLL: Duration = Duration::from_millis(10);

/// Queue wait limit when neither `timeout queue` nor `timeout connect` is set.
pub const QUEUE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);

/// Back-off after an accept error such as EMFILE.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

// Operation tags in the low byte of user_data; the slab key or listener index above.
const TAG_ACCEPT: u64 = 1;
const TAG_WAKE: u64 = 2;
pub(crate) const TAG_C_RECV: u64 = 3;
pub(crate) const TAG_C_SEND: u64 = 4;
pub(crate) const TAG_S_RECV: u64 = 5;
pub(crate) const TAG_S_SEND: u64 = 6;
pub(crate) const TAG_CONNECT: u64 = 7;
pub(crate) const TAG_CONNECT_TIMEOUT: u64 = 8;
pub(crate) const TAG_CANCEL: u64 = 9;
const TAG_CANCEL_ACCEPT: u64 = 10;

pub(crate) fn ud(key: usize, tag: u64) -> u64 {
    ((key as u64) << 8) | tag
}

/// Errors starting or running the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The plan is invalid.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Binding a listener failed.
    #[error("cannot bind {addr} for frontend '{frontend}': {source}")]
    Bind {
        /// Frontend name.
        frontend: String,
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: io::Error,
    },
    /// A system call at start-up failed.
    #[error("{what}: {source}")]
    Sys {
        /// What was being done.
        what: &'static str,
        /// Cause.
        source: io::Error,
    },
    /// A listener refers to a frontend that does not exist.
    #[error("listener for frontend #{frontend} but the plan has {count} frontends")]
    ListenerFrontend {
        /// Index given.
        frontend: usize,
        /// Frontends in the plan.
        count: usize,
    },
    /// An engine thread failed.
    #[error("engine thread {thread} failed: {message}")]
    Thread {
        /// Thread index.
        thread: usize,
        /// What happened.
        message: String,
    },
}

/// A listening socket and who accepts on it.
#[derive(Debug)]
pub struct Listener {
    /// Index of the frontend in [`Plan::frontends`].
    pub frontend: usize,
    /// Engine thread that accepts on it; `None` shares it between all threads.
    pub thread: Option<usize>,
    /// Bound address (port resolved).
    pub addr: SocketAddr,
    /// The listening socket.
    pub fd: OwnedFd,
}

impl Listener {
    /// Wraps an inherited listening socket (e.g. passed by the master) for `frontend`,
    /// shared by all threads; its address is read back from the socket.
    pub fn from_fd(frontend: usize, fd: OwnedFd) -> io::Result<Listener> {
        let addr = sys::local_addr(fd.as_fd())?;
        Ok(Listener {
            frontend,
            thread: None,
            addr,
            fd,
        })
    }
}

/// Binds every frontend's addresses: one socket shared by all threads, or with
/// [`Plan::listener_per_thread`] one `SO_REUSEPORT` socket per engine thread (port 0 is
/// resolved by the first socket and reused by the others).
pub fn bind_listeners(plan: &Plan) -> Result<Vec<Listener>, EngineError> {
    let threads = if plan.listener_per_thread {
        plan.thread_count()
    } else {
        1
    };
    let mut out = Vec::new();
    for (fi, fe) in plan.frontends.iter().enumerate() {
        for bind in &fe.binds {
            let mut addr = *bind;
            for t in 0..threads {
                let backlog = sys::LISTEN_BACKLOG_DEFAULT
                    .min(i32::try_from(fe.maxconn).unwrap_or(i32::MAX))
                    .max(1);
                let fd = sys::bind_listener(&addr, plan.listener_per_thread, backlog).map_err(|source| {
                    EngineError::Bind {
                        frontend: fe.name.clone(),
                        addr,
                        source,
                    }
                })?;
                if t == 0 {
                    addr = sys::local_addr(fd.as_fd()).map_err(|source| EngineError::Bind {
                        frontend: fe.name.clone(),
                        addr,
                        source,
                    })?;
                }
                out.push(Listener {
                    frontend: fi,
                    thread: plan.listener_per_thread.then_some(t),
                    addr,
                    fd,
                });
            }
        }
    }
    Ok(out)
}

/// Counters of one scope (global, a frontend, a backend), written by one thread only.
#[derive(Debug, Default)]
pub struct CounterSet {
    /// Current connections.
    pub conns_cur: AtomicU64,
    /// Connections accepted (or routed, for backends) in total.
    pub conns_total: AtomicU64,
    /// Bytes received from clients.
    pub bytes_in: AtomicU64,
    /// Bytes received from servers.
    pub bytes_out: AtomicU64,
    /// Failed server connects.
    pub connect_errors: AtomicU64,
    /// Retries.
    pub retries: AtomicU64,
    /// Redispatches.
    pub redispatches: AtomicU64,
    /// Connections closed by a timeout.
    pub timeouts: AtomicU64,
    /// Connections aborted by a client error.
    pub client_aborts: AtomicU64,
    /// Connections aborted by a server error.
    pub server_aborts: AtomicU64,
    /// Accept errors.
    pub accept_errors: AtomicU64,
    /// HTTP requests received (`req_tot`).
    pub http_requests: AtomicU64,
    /// HTTP responses by status class: 1xx, 2xx, 3xx, 4xx, 5xx, other (`hrsp_*`).
    pub http_responses: [AtomicU64; 6],
}

/// A plain-number copy of a [`CounterSet`], summed over threads.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Current connections.
    pub conns_cur: u64,
    /// Connections in total.
    pub conns_total: u64,
    /// Bytes received from clients.
    pub bytes_in: u64,
    /// Bytes received from servers.
    pub bytes_out: u64,
    /// Failed server connects.
    pub connect_errors: u64,
    /// Retries.
    pub retries: u64,
    /// Redispatches.
    pub redispatches: u64,
    /// Timeouts.
    pub timeouts: u64,
    /// Client aborts.
    pub client_aborts: u64,
    /// Server aborts.
    pub server_aborts: u64,
    /// Accept errors.
    pub accept_errors: u64,
    /// HTTP requests received.
    pub http_requests: u64,
    /// HTTP responses by status class: 1xx, 2xx, 3xx, 4xx, 5xx, other.
    pub http_responses: [u64; 6],
}

impl CounterSet {
    pub(crate) fn add(c: &AtomicU64, n: u64) {
        // Single writer: a load + store is enough and cheaper than an RMW.
        c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }
    fn sub(c: &AtomicU64, n: u64) {
        c.store(c.load(Ordering::Relaxed).wrapping_sub(n), Ordering::Relaxed);
    }
    pub(crate) fn sub_one(c: &AtomicU64) {
        Self::sub(c, 1);
    }
    fn read_into(&self, out: &mut Counts) {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        out.conns_cur += r(&self.conns_cur);
        out.conns_total += r(&self.conns_total);
        out.bytes_in += r(&self.bytes_in);
        out.bytes_out += r(&self.bytes_out);
        out.connect_errors += r(&self.connect_errors);
        out.retries += r(&self.retries);
        out.redispatches += r(&self.redispatches);
        out.timeouts += r(&self.timeouts);
        out.client_aborts += r(&self.client_aborts);
        out.server_aborts += r(&self.server_aborts);
        out.accept_errors += r(&self.accept_errors);
        out.http_requests += r(&self.http_requests);
        for (o, c) in out.http_responses.iter_mut().zip(self.http_responses.iter()) {
            *o += r(c);
        }
    }
}

/// One thread's counters (frontend/backend/server counters live in the tables' sharded
/// [`crate::counters::Counters`]).
#[derive(Debug, Default)]
pub struct ThreadCounters {
    /// Whole thread.
    pub global: CounterSet,
}

const RUNNING: u8 = 0;
const STOPPING: u8 = 1;

pub(crate) struct Shared {
    pub(crate) plan: Plan,
    pub(crate) tables: Arc<Tables>,
    fe_counters: Vec<Arc<FrontendCounters>>,
    stop: AtomicU8,
    hard_deadline: Mutex<Option<Instant>>,
    global_slots: AtomicUsize,
    frontend_slots: Vec<AtomicUsize>,
    wake: Vec<OwnedFd>,
    counters: Vec<Arc<ThreadCounters>>,
}

impl Shared {
    pub(crate) fn fe_counters_for(&self, frontend: usize) -> Option<&Arc<FrontendCounters>> {
        self.fe_counters.get(frontend)
    }

    fn reserve(&self, frontend: usize) -> bool {
        let max = self.plan.maxconn;
        if self
            .global_slots
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                (c < max).then_some(c + 1)
            })
            .is_err()
        {
            return false;
        }
        let (Some(fe_slots), Some(fe)) = (
            self.frontend_slots.get(frontend),
            self.plan.frontends.get(frontend),
        ) else {
            self.global_slots.fetch_sub(1, Ordering::AcqRel);
            return false;
        };
        if fe_slots
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                (c < fe.maxconn).then_some(c + 1)
            })
            .is_err()
        {
            self.global_slots.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    fn release(&self, frontend: usize) {
        let prev = self.global_slots.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(prev > 0, "global slot underflow");
        if let Some(s) = self.frontend_slots.get(frontend) {
            let prev = s.fetch_sub(1, Ordering::AcqRel);
            debug_assert!(prev > 0, "frontend slot underflow");
        }
    }
}

/// The engine entry point.
pub struct Engine;

/// A running engine: stop it, wait for it, read its counters.
pub struct EngineHandle {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<Result<(), String>>>,
    addrs: Vec<(usize, SocketAddr)>,
}

impl Engine {
    /// Starts the engine threads. `listeners` are already-bound sockets (inherited from a
    /// master); `None` binds the plan's addresses here with [`bind_listeners`].
    pub fn start(plan: Plan, listeners: Option<Vec<Listener>>) -> Result<EngineHandle, EngineError> {
        let fd_limit = sys::nofile_limit().map_err(|source| EngineError::Sys {
            what: "read open file limit",
            source,
        })?;
        plan.validate(fd_limit)?;
        let listeners = match listeners {
            Some(l) => l,
            None => bind_listeners(&plan)?,
        };
        let threads = plan.thread_count();
        let mut per_thread: Vec<Vec<(usize, OwnedFd)>> = (0..threads).map(|_| Vec::new()).collect();
        let mut addrs = Vec::new();
        for l in listeners {
            if l.frontend >= plan.frontends.len() {
                return Err(EngineError::ListenerFrontend {
                    frontend: l.frontend,
                    count: plan.frontends.len(),
                });
            }
            if !addrs.contains(&(l.frontend, l.addr)) {
                addrs.push((l.frontend, l.addr));
            }
            match l.thread {
                Some(t) => {
                    if let Some(v) = per_thread.get_mut(t % threads) {
                        v.push((l.frontend, l.fd));
                    }
                }
                None => {
                    for v in per_thread.iter_mut() {
                        let fd = sys::dup(l.fd.as_fd()).map_err(|source| EngineError::Sys {
                            what: "duplicate shared listener",
                            source,
                        })?;
                        v.push((l.frontend, fd));
                    }
                }
            }
        }
        let mut wake = Vec::with_capacity(threads);
        let mut counters = Vec::with_capacity(threads);
        for _ in 0..threads {
            wake.push(sys::eventfd().map_err(|source| EngineError::Sys {
                what: "create eventfd",
                source,
            })?);
            counters.push(Arc::new(ThreadCounters::default()));
        }
        let mut plan = plan;
        let snapshot = std::mem::replace(&mut plan.snapshot, Snapshot::new(1));
        let shared = Arc::new(Shared {
            tables: Arc::new(Tables::new(snapshot)),
            fe_counters: plan
                .frontends
                .iter()
                .map(|_| Arc::new(FrontendCounters::new(threads)))
                .collect(),
            frontend_slots: plan.frontends.iter().map(|_| AtomicUsize::new(0)).collect(),
            plan,
            stop: AtomicU8::new(RUNNING),
            hard_deadline: Mutex::new(None),
            global_slots: AtomicUsize::new(0),
            wake,
            counters,
        });
        let cpus = sys::available_cpus();
        let mut handles = Vec::with_capacity(threads);
        for (t, lst) in per_thread.into_iter().enumerate() {
            let shared = Arc::clone(&shared);
            let cpu = shared.plan.cpu_map.get(t).copied().unwrap_or(t % cpus.max(1));
            let pin = shared.plan.pin;
            let h = std::thread::Builder::new()
                .name(format!("ringlb-engine-{t}"))
                .spawn(move || {
                    if pin {
                        // Pinning is best effort: a cpu-map outside our affinity mask
                        // still runs, just unpinned.
                        let _ = sys::pin_current_thread(cpu);
                    }
                    let mut w = Worker::new(t, shared, lst).map_err(|e| format!("start: {e}"))?;
                    w.run().map_err(|e| format!("ring: {e}"))
                })
                .map_err(|source| EngineError::Sys {
                    what: "spawn engine thread",
                    source,
                })?;
            handles.push(h);
        }
        Ok(EngineHandle {
            shared,
            threads: handles,
            addrs,
        })
    }
}

impl EngineHandle {
    /// Listening addresses by frontend index (ports resolved).
    pub fn local_addrs(&self) -> &[(usize, SocketAddr)] {
        &self.addrs
    }

    /// Stops accepting; connections finish on their own, or are closed at `hard_deadline`
    /// (default: the plan's `hard_stop_after`, if any).
    pub fn stop_graceful(&self, hard_deadline: Option<Instant>) {
        let deadline = hard_deadline.or_else(|| self.shared.plan.hard_stop_after.map(|d| Instant::now() + d));
        if let Ok(mut g) = self.shared.hard_deadline.lock() {
            *g = match (*g, deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        self.shared.stop.store(STOPPING, Ordering::Release);
        for w in &self.shared.wake {
            let _ = sys::eventfd_signal(w.as_fd());
        }
    }

    /// Stops now: closes every connection.
    pub fn stop_now(&self) {
        self.stop_graceful(Some(Instant::now()));
    }

    /// Whether every engine thread has exited.
    pub fn is_finished(&self) -> bool {
        self.threads.iter().all(|h| h.is_finished())
    }

    /// Waits for every engine thread to exit.
    pub fn join(mut self) -> Result<(), EngineError> {
        let mut first = Ok(());
        for (t, h) in std::mem::take(&mut self.threads).into_iter().enumerate() {
            let r = match h.join() {
                Ok(Ok(())) => Ok(()),
                Ok(Err(message)) => Err(EngineError::Thread { thread: t, message }),
                Err(_) => Err(EngineError::Thread {
                    thread: t,
                    message: "panicked".into(),
                }),
            };
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// Engine-wide counters summed over threads.
    pub fn counters(&self) -> Counts {
        let mut c = Counts::default();
        for t in &self.shared.counters {
            t.global.read_into(&mut c);
        }
        c
    }

    /// The backend tables the Runtime API drives (add/remove, state, weight, address).
    pub fn tables(&self) -> &Arc<Tables> {
        &self.shared.tables
    }

    /// The maps of `map*` converters (`virt@` maps), for the Runtime API's map commands.
    pub fn maps(&self) -> &Arc<crate::map::Maps> {
        &self.shared.plan.maps
    }

    /// Per-frontend counters, by index in [`Plan::frontends`].
    pub fn frontend_counters(&self) -> &[Arc<FrontendCounters>] {
        &self.shared.fe_counters
    }
}

impl Drop for EngineHandle {
    /// A handle dropped without [`EngineHandle::join`] stops the engine at once (threads
    /// finish closing in the background) instead of leaking running threads.
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop_now();
        }
    }
}

/// Per-connection protocol state: TCP and HTTP/1.1 on the same loop. The HTTP state is
/// boxed so that TCP connections do not pay for its size (`Conn` itself is boxed).
#[allow(clippy::large_enum_variant)]
pub enum Proto {
    /// Layer-4 forwarding.
    Tcp(TcpConn),
    /// HTTP/1.1 proxying ([`crate::h1`]).
    Http(Box<HttpConn>),
}

impl Proto {
    pub(crate) fn phase(&self) -> Phase {
        match self {
            Proto::Tcp(t) => t.phase,
            Proto::Http(h) => h.phase,
        }
    }

    pub(crate) fn phase_mut(&mut self) -> &mut Phase {
        match self {
            Proto::Tcp(t) => &mut t.phase,
            Proto::Http(h) => &mut h.phase,
        }
    }

    fn has_server(&self) -> bool {
        match self {
            Proto::Tcp(t) => t.server.is_some(),
            Proto::Http(h) => h.server.is_some(),
        }
    }

    /// Drops the server socket after a failed connect (nothing is in flight on it).
    fn drop_server(&mut self) {
        match self {
            Proto::Tcp(t) => t.server = None,
            Proto::Http(h) => h.server = None,
        }
    }

    /// Installs a new server socket and its address, and enters `Connecting`.
    fn begin_connect(&mut self, sock: OwnedFd, addr: &SocketAddr, now: Instant) -> (i32, &sys::RawSockAddr) {
        let (server, server_addr, phase, active) = match self {
            Proto::Tcp(t) => (
                &mut t.server,
                &mut t.server_addr,
                &mut t.phase,
                &mut t.server_active,
            ),
            Proto::Http(h) => {
                h.connect_pending = true;
                h.txn.connect_start.get_or_insert(now);
                (
                    &mut h.server,
                    &mut h.server_addr,
                    &mut h.phase,
                    &mut h.server_active,
                )
            }
        };
        debug_assert!(server.is_none(), "connect with a server socket open");
        *server_addr = sys::RawSockAddr::new(addr);
        *phase = Phase::Connecting;
        *active = now;
        let raw = sock.as_raw_fd();
        *server = Some(sock);
        (raw, server_addr)
    }

    fn fds(&self) -> [Option<std::os::fd::BorrowedFd<'_>>; 2] {
        match self {
            Proto::Tcp(t) => [Some(t.client.as_fd()), t.server.as_ref().map(|s| s.as_fd())],
            Proto::Http(h) => [Some(h.client.as_fd()), h.server.as_ref().map(|s| s.as_fd())],
        }
    }

    fn into_bufs(self, out: &mut Vec<IoBuf>) {
        match self {
            Proto::Tcp(t) => t.into_bufs(out),
            Proto::Http(h) => h.into_bufs(out),
        }
    }
}

pub(crate) struct Conn {
    pub(crate) id: u64,
    pub(crate) frontend: usize,
    /// Holds the frontend's `scur` while the connection lives.
    pub(crate) fe_conn: FrontendConn,
    /// The backend version this connection (HTTP: this request) was routed with.
    pub(crate) backend: Option<Arc<Backend>>,
    /// The chosen server's place (counts in its `scur`/`maxconn`).
    pub(crate) slot: Option<ConnSlot>,
    /// Waiting for a server place since `Pick::Queue`, until the given instant.
    pub(crate) queue: Option<(QueueTicket, Instant)>,
    /// Client address, for `balance source` and `option forwardfor`.
    pub(crate) client_ip: Option<IpAddr>,
    /// The next connect attempt redispatches to another server.
    pub(crate) redispatch_pending: bool,
    pub(crate) retries_left: u32,
    pub(crate) inflight: u32,
    /// Deadline of this connection's live entry in the timer heap (others are stale).
    pub(crate) timer_at: Option<Instant>,
    pub(crate) proto: Proto,
    /// What a TCP connection's log line needs (only when its frontend logs).
    pub(crate) tcp_log: Option<Box<TcpLog>>,
}

/// Facts about a TCP connection for its `tcplog` line at close.
pub(crate) struct TcpLog {
    peer: Option<SocketAddr>,
    local: Option<SocketAddr>,
    accepted: Instant,
    accepted_sys: std::time::SystemTime,
    connect_start: Option<Instant>,
    connected: Option<Instant>,
    bytes_in: u64,
    bytes_out: u64,
    term: [u8; 4],
}

impl TcpLog {
    fn term(&mut self, t: &[u8; 2]) {
        if self.term == *b"----" {
            self.term = [t[0], t[1], b'-', b'-'];
        }
    }
}

struct ListenerState {
    fd: Option<OwnedFd>,
    frontend: usize,
    armed: bool,
    /// A slot is reserved for the armed accept.
    reserved: bool,
    retry_at: Option<Instant>,
}

pub(crate) struct Worker {
    pub(crate) thread: usize,
    pub(crate) ring: Ring,
    pub(crate) shared: Arc<Shared>,
    pub(crate) counters: Arc<ThreadCounters>,
    pub(crate) conns: Slab<Box<Conn>>,
    listeners: Vec<ListenerState>,
    pool: Vec<IoBuf>,
    /// Idle large buffers; `large_out` counts all large buffers this thread allocated
    /// (pooled or in use), capped at [`LARGE_BUFS_PER_THREAD_MAX`].
    large_pool: Vec<IoBuf>,
    large_out: usize,
    scratch_bufs: Vec<IoBuf>,
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    wake_buf: IoBuf,
    wake_armed: bool,
    lb: LbState,
    next_id: u64,
    pub(crate) now: Instant,
    pub(crate) stopping: bool,
    /// Idle keep-alive server connections of this thread (HTTP).
    pub(crate) idle_servers: ServerPool,
    /// Scratch for writing HTTP heads, reused by every request.
    pub(crate) head_out: Vec<u8>,
    /// Working memory of the HTTP rules, reset for each message.
    pub(crate) rules_scratch: crate::rules::EvalScratch,
    hard_deadline: Option<Instant>,
    closing_all: bool,
}

impl Worker {
    fn new(thread: usize, shared: Arc<Shared>, listeners: Vec<(usize, OwnedFd)>) -> io::Result<Worker> {
        let ring = Ring::new()?;
        let counters = shared
            .counters
            .get(thread)
            .cloned()
            .ok_or_else(|| io::Error::other("no counters for thread"))?;
        Ok(Worker {
            thread,
            ring,
            counters,
            conns: Slab::with_capacity(64),
            listeners: listeners
                .into_iter()
                .map(|(frontend, fd)| ListenerState {
                    fd: Some(fd),
                    frontend,
                    armed: false,
                    reserved: false,
                    retry_at: None,
                })
                .collect(),
            shared,
            pool: Vec::new(),
            large_pool: Vec::new(),
            large_out: 0,
            scratch_bufs: Vec::with_capacity(4),
            timers: BinaryHeap::new(),
            wake_buf: IoBuf::new(8),
            wake_armed: false,
            lb: LbState::new(thread),
            next_id: 1,
            now: Instant::now(),
            stopping: false,
            idle_servers: ServerPool::default(),
            head_out: Vec::with_capacity(BUF_SMALL_BYTES),
            rules_scratch: crate::rules::EvalScratch::default(),
            hard_deadline: None,
            closing_all: false,
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let mut cqes = Vec::with_capacity(crate::uring::COMPLETIONS_PER_TURN_MAX);
        self.arm_wake()?;
        loop {
            self.now = Instant::now();
            self.check_stop();
            if !self.stopping {
                self.arm_accepts();
            }
            self.fire_timers();
            if self.stopping && self.finished() {
                if self.wake_armed {
                    let wfd = self.wake_fd_raw();
                    self.ring.cancel_fd(wfd, ud(0, TAG_CANCEL_ACCEPT))?;
                    // Wait for the wake read's completion: it owns wake_buf.
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while self.wake_armed && Instant::now() < deadline {
                        self.ring.wait(Some(Duration::from_millis(100)), &mut cqes)?;
                        for c in cqes.iter().copied() {
                            if c.user_data & 0xff == TAG_WAKE {
                                self.wake_armed = false;
                                self.wake_buf.complete();
                            }
                        }
                    }
                    if self.wake_armed {
                        // Leak rather than free memory the kernel might still write.
                        std::mem::forget(std::mem::replace(&mut self.wake_buf, IoBuf::new(8)));
                    }
                }
                return Ok(());
            }
            let timeout = self.wait_timeout();
            self.ring.wait(Some(timeout), &mut cqes)?;
            self.now = Instant::now();
            for c in cqes.iter().copied() {
                self.on_completion(c)?;
            }
        }
    }

    fn wake_fd_raw(&self) -> i32 {
        self.shared
            .wake
            .get(self.thread)
            .map(|f| f.as_raw_fd())
            .unwrap_or(-1)
    }

    fn arm_wake(&mut self) -> io::Result<()> {
        let fd = self.wake_fd_raw();
        if fd >= 0 && !self.wake_armed {
            self.ring.read_eventfd(fd, &mut self.wake_buf, ud(0, TAG_WAKE))?;
            self.wake_armed = true;
        }
        Ok(())
    }

    fn finished(&self) -> bool {
        self.conns.is_empty() && self.listeners.iter().all(|l| !l.armed)
    }

    fn wait_timeout(&self) -> Duration {
        let mut t = IDLE_WAIT_MAX;
        if let Some(Reverse((at, _, _))) = self.timers.peek() {
            t = t.min(at.saturating_duration_since(self.now));
        }
        let paused = !self.stopping && self.listeners.iter().any(|l| !l.armed && l.fd.is_some());
        if paused {
            t = t.min(PAUSED_RECHECK);
        }
        if let Some(d) = self.hard_deadline {
            t = t.min(d.saturating_duration_since(self.now));
        }
        t.max(Duration::from_micros(100))
    }

    fn check_stop(&mut self) {
        if self.shared.stop.load(Ordering::Acquire) == RUNNING {
            return;
        }
        if !self.stopping {
            self.stopping = true;
            self.h1_stop_idle();
            for (i, l) in self.listeners.iter_mut().enumerate() {
                if l.armed {
                    // The accept completes with ECANCELED (or an fd we then serve).
                    let _ = self
                        .ring
                        .cancel_user_data(ud(i, TAG_ACCEPT), ud(i, TAG_CANCEL_ACCEPT));
                } else {
                    l.fd = None;
                    if l.reserved {
                        l.reserved = false;
                        self.shared.release(l.frontend);
                    }
                }
            }
        }
        if let Ok(g) = self.shared.hard_deadline.lock() {
            self.hard_deadline = *g;
        }
        if let Some(d) = self.hard_deadline {
            if self.now >= d && !self.closing_all {
                self.closing_all = true;
                let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
                for k in keys {
                    self.close(k);
                }
            }
        }
    }

    fn arm_accepts(&mut self) {
        for i in 0..self.listeners.len() {
            let Some(l) = self.listeners.get_mut(i) else {
                continue;
            };
            if l.armed || l.fd.is_none() {
                continue;
            }
            if let Some(at) = l.retry_at {
                if self.now < at {
                    continue;
                }
                l.retry_at = None;
            }
            if self.conns.len() >= CONNECTIONS_PER_THREAD_MAX {
                return;
            }
            if !l.reserved {
                if !self.shared.reserve(l.frontend) {
                    continue;
                }
                l.reserved = true;
            }
            let fd = l.fd.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1);
            if self.ring.accept(fd, ud(i, TAG_ACCEPT)).is_ok() {
                l.armed = true;
            }
        }
    }

    fn on_completion(&mut self, c: Completion) -> io::Result<()> {
        let tag = c.user_data & 0xff;
        let key = (c.user_data >> 8) as usize;
        match tag {
            TAG_WAKE => {
                self.wake_armed = false;
                self.wake_buf.complete();
                // Stay wakeable while stopping: a later stop_now() brings the deadline
                // forward. The exit path cancels this read and waits for it.
                self.arm_wake()?;
            }
            TAG_ACCEPT => self.on_accept(key, c.result),
            TAG_CANCEL_ACCEPT => {}
            _ => self.on_conn_event(key, tag, c.result),
        }
        Ok(())
    }

    fn on_accept(&mut self, li: usize, result: i32) {
        let Some(l) = self.listeners.get_mut(li) else {
            return;
        };
        debug_assert!(l.armed && l.reserved, "accept completion without armed accept");
        l.armed = false;
        let frontend = l.frontend;
        let Some(fd) = accepted_fd(result) else {
            if result != -libc::ECANCELED {
                CounterSet::add(&self.counters.global.accept_errors, 1);
                // Out of fds or memory: give the system a moment. Other errors (a client
                // that reset before accept) concern one connection only.
                if matches!(
                    -result,
                    libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM
                ) {
                    l.retry_at = Some(self.now + ACCEPT_ERROR_BACKOFF);
                }
            }
            if self.stopping {
                l.reserved = false;
                l.fd = None;
                self.shared.release(frontend);
            }
            return;
        };
        // The reservation now belongs to the connection.
        l.reserved = false;
        if self.stopping {
            l.fd = None;
        }
        self.new_conn(frontend, fd);
    }

    pub(crate) fn take_buf(&mut self) -> IoBuf {
        self.pool.pop().unwrap_or_else(|| IoBuf::new(BUF_SMALL_BYTES))
    }

    /// Promotes idle halves that asked for it to two large buffers, within the cap.
    fn grow_bufs(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let Proto::Tcp(t) = &mut conn.proto else {
            return;
        };
        for half in [&mut t.c2s, &mut t.s2c] {
            if !half.can_grow() {
                continue;
            }
            let available = self.large_pool.len() + (LARGE_BUFS_PER_THREAD_MAX - self.large_out);
            if available < 2 {
                half.wants_large = false;
                continue;
            }
            let mut take = || match self.large_pool.pop() {
                Some(b) => b,
                None => {
                    self.large_out += 1;
                    IoBuf::new(BUF_LARGE_BYTES)
                }
            };
            let large = [take(), take()];
            let small = half.grow(large);
            if self.pool.len() < BUF_POOL_MAX {
                self.pool.push(small);
            }
        }
    }

    /// Returns a buffer to its pool (or frees it).
    pub(crate) fn give_buf(&mut self, b: IoBuf) {
        if b.is_busy() {
            debug_assert!(false, "returning a busy buffer");
            return; // IoBuf's Drop leaks it
        }
        if b.len() >= BUF_LARGE_BYTES {
            self.large_pool.push(b);
        } else if self.pool.len() < BUF_POOL_MAX {
            self.pool.push(b);
        }
    }

    fn new_conn(&mut self, frontend: usize, fd: OwnedFd) {
        let _ = sys::set_nodelay(fd.as_fd());
        if self.shared.plan.frontends.get(frontend).map(|f| f.mode) == Some(Mode::Http) {
            self.h1_new_conn(frontend, fd);
            return;
        }
        let bufs = [self.take_buf(), self.take_buf()];
        let snap = self.shared.tables.load();
        let backend = self
            .shared
            .plan
            .frontends
            .get(frontend)
            .and_then(|f| f.default_backend.as_deref())
            .and_then(|name| snap.backend(name))
            .filter(|b| b.published)
            .cloned();
        drop(snap);
        let retries = backend
            .as_ref()
            .map(|b| b.settings.retries.min(RETRIES_MAX))
            .unwrap_or(0);
        let client_ip = match &backend {
            Some(b) if b.balance == Balance::Source => sys::peer_addr(fd.as_fd()).ok().map(|a| a.ip()),
            _ => None,
        };
        let Some(fe_counters) = self.shared.fe_counters.get(frontend) else {
            return; // unreachable: listeners are checked against the plan at start
        };
        let fe_conn = fe_counters.accept(self.thread);
        let id = self.next_id;
        self.next_id += 1;
        let mut conn = Box::new(Conn {
            id,
            frontend,
            fe_conn,
            backend,
            slot: None,
            queue: None,
            client_ip,
            redispatch_pending: false,
            retries_left: retries,
            inflight: 0,
            timer_at: None,
            tcp_log: None,
            proto: Proto::Tcp(TcpConn::new(fd, bufs, self.now)),
        });
        let logs = self
            .shared
            .plan
            .frontends
            .get(frontend)
            .is_some_and(|f| f.logger.is_some());
        if logs {
            if let Proto::Tcp(t) = &conn.proto {
                let fd = t.client.as_fd();
                conn.tcp_log = Some(Box::new(TcpLog {
                    peer: sys::peer_addr(fd).ok(),
                    local: sys::local_addr(fd).ok(),
                    accepted: self.now,
                    accepted_sys: std::time::SystemTime::now(),
                    connect_start: None,
                    connected: None,
                    bytes_in: 0,
                    bytes_out: 0,
                    term: *b"----",
                }));
            }
        }
        let key = self.conns.insert(conn);
        CounterSet::add(&self.counters.global.conns_cur, 1);
        CounterSet::add(&self.counters.global.conns_total, 1);
        self.route(key, false);
        self.pump(key);
        self.arm_timer(key);
    }

    pub(crate) fn next_conn_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(crate) fn count(&self, f: impl Fn(&CounterSet)) {
        f(&self.counters.global);
    }

    /// Adds to the chosen server's and backend's totals, if a server was chosen.
    pub(crate) fn count_server(&self, key: usize, c: Counter, n: u64) {
        if let Some(slot) = self.conns.get(key).and_then(|c| c.slot.as_ref()) {
            slot.add(c, n);
        }
    }

    /// Chooses a server with the backend's algorithm and starts connecting; with
    /// `redispatch`, another server than the current one when one is usable.
    pub(crate) fn route(&mut self, key: usize, redispatch: bool) {
        let now = self.now;
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        debug_assert!(
            conn.proto.phase() != Phase::Closing,
            "routing a closing connection"
        );
        debug_assert!(!conn.proto.has_server(), "routing with a server socket open");
        let Some(backend) = conn.backend.clone() else {
            self.give_up(key);
            return;
        };
        let exclude = if redispatch {
            conn.slot.as_ref().map(|s| Arc::clone(s.server()))
        } else {
            None
        };
        match backend.pick(&mut self.lb, conn.client_ip, exclude.as_deref()) {
            Pick::Server(slot) => {
                conn.queue = None;
                conn.slot = Some(slot); // drops the previous place, if any
                self.start_connect(key);
            }
            Pick::Queue => {
                let s = &backend.settings;
                let limit = s
                    .timeout_queue
                    .or(s.timeout_connect)
                    .unwrap_or(QUEUE_TIMEOUT_DEFAULT);
                let until = match &conn.queue {
                    Some((_, until)) => *until,
                    None => {
                        let until = now + limit;
                        conn.queue = Some((backend.enqueue(), until));
                        until
                    }
                };
                if now >= until {
                    conn.queue = None;
                    self.count(|s| CounterSet::add(&s.timeouts, 1));
                    self.give_up(key);
                    return;
                }
                *conn.proto.phase_mut() = Phase::WaitRetry((now + QUEUE_POLL).min(until));
                self.arm_timer(key);
            }
            Pick::NoServer => self.give_up(key),
        }
    }

    /// Gives back a connection's `maxconn` reservation (a connection freed outside
    /// `maybe_free`).
    pub(crate) fn shared_release(&self, frontend: usize) {
        self.shared.release(frontend);
    }

    /// A connection just turned into a TCP tunnel: start relaying.
    pub(crate) fn tunnel_started(&mut self, key: usize) {
        self.pump(key);
        self.arm_timer(key);
    }

    /// No server could take the connection: TCP closes, HTTP answers 503.
    fn give_up(&mut self, key: usize) {
        if let Some(l) = self.conns.get_mut(key).and_then(|c| c.tcp_log.as_mut()) {
            l.term(b"SC");
        }
        match self.conns.get(key).map(|c| &c.proto) {
            Some(Proto::Http(_)) => self.h1_no_server(key),
            _ => self.close(key),
        }
    }

    /// Connects to the server of the connection's slot (HTTP: or reuses an idle connection).
    pub(crate) fn start_connect(&mut self, key: usize) {
        if self.h1_try_reuse(key) {
            return;
        }
        let now = self.now;
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        debug_assert!(conn.queue.is_none(), "connecting while queued");
        let (Some(slot), Some(backend)) = (&conn.slot, &conn.backend) else {
            self.close(key);
            return;
        };
        let addr = slot.addr();
        let timeout = backend.settings.timeout_connect;
        let sock = match sys::tcp_socket(&addr) {
            Ok(s) => s,
            Err(_) => {
                self.give_up(key);
                return;
            }
        };
        let _ = sys::set_nodelay(sock.as_fd());
        if let Some(l) = conn.tcp_log.as_mut() {
            l.connect_start.get_or_insert(now);
        }
        let (raw, server_addr) = conn.proto.begin_connect(sock, &addr, now);
        let r = self.ring.connect(
            raw,
            server_addr,
            ud(key, TAG_CONNECT),
            timeout.map(|d| (d, ud(key, TAG_CONNECT_TIMEOUT))),
        );
        match r {
            Ok(()) => conn.inflight += if timeout.is_some() { 2 } else { 1 },
            Err(_) => self.close(key),
        }
    }

    fn pump(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let t = match &mut conn.proto {
            Proto::Tcp(t) => t,
            Proto::Http(_) => {
                self.h1_pump(key);
                return;
            }
        };
        if t.phase == Phase::Closing {
            return;
        }
        if t.c2s.can_grow() || t.s2c.can_grow() {
            self.grow_bufs(key);
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let Proto::Tcp(t) = &mut conn.proto else {
            return;
        };
        let r = t.pump(
            &mut self.ring,
            (ud(key, TAG_C_RECV), ud(key, TAG_S_SEND)),
            (ud(key, TAG_S_RECV), ud(key, TAG_C_SEND)),
            &mut conn.inflight,
        );
        match r {
            Ok(true) => self.close(key),
            Ok(false) => {}
            Err(a) => self.abort(key, a),
        }
    }

    fn abort(&mut self, key: usize, a: Abort) {
        if let Some(l) = self.conns.get_mut(key).and_then(|c| c.tcp_log.as_mut()) {
            match a {
                Abort::Client(_) => l.term(b"CD"),
                Abort::Server(_) => l.term(b"SD"),
                Abort::Internal => l.term(b"PD"),
            }
        }
        match a {
            Abort::Client(_) => {
                self.count(|s| CounterSet::add(&s.client_aborts, 1));
                self.count_server(key, Counter::ClientAborts, 1);
            }
            Abort::Server(_) => {
                self.count(|s| CounterSet::add(&s.server_aborts, 1));
                self.count_server(key, Counter::ServerAborts, 1);
            }
            Abort::Internal => {}
        }
        self.close(key);
    }

    fn on_conn_event(&mut self, key: usize, tag: u64, result: i32) {
        let now = self.now;
        let Some(conn) = self.conns.get_mut(key) else {
            debug_assert!(false, "completion for a freed connection");
            return;
        };
        debug_assert!(conn.inflight > 0, "completion with nothing in flight");
        conn.inflight = conn.inflight.saturating_sub(1);
        let t = match &mut conn.proto {
            Proto::Tcp(t) => t,
            Proto::Http(_) => {
                self.h1_event(key, tag, result);
                self.maybe_free(key);
                return;
            }
        };
        let closing = t.phase == Phase::Closing;
        match tag {
            TAG_CANCEL | TAG_CONNECT_TIMEOUT => {}
            TAG_C_RECV | TAG_S_RECV => {
                let dir = if tag == TAG_C_RECV { Dir::C2s } else { Dir::S2c };
                if closing {
                    t.on_cancelled(dir, false);
                } else {
                    match t.on_recv(dir, result, now) {
                        Ok(p) => {
                            if let Some(l) = conn.tcp_log.as_mut() {
                                l.bytes_in += p.from_client;
                                l.bytes_out += p.from_server;
                            }
                            if p.from_client > 0 {
                                conn.fe_conn.add(Counter::BytesIn, p.from_client);
                                CounterSet::add(&self.counters.global.bytes_in, p.from_client);
                                if let Some(slot) = &conn.slot {
                                    slot.add(Counter::BytesIn, p.from_client);
                                }
                            }
                            if p.from_server > 0 {
                                conn.fe_conn.add(Counter::BytesOut, p.from_server);
                                CounterSet::add(&self.counters.global.bytes_out, p.from_server);
                                if let Some(slot) = &conn.slot {
                                    slot.add(Counter::BytesOut, p.from_server);
                                }
                            }
                            self.pump(key);
                        }
                        Err(a) => self.abort(key, a),
                    }
                }
            }
            TAG_C_SEND | TAG_S_SEND => {
                let dir = if tag == TAG_S_SEND { Dir::C2s } else { Dir::S2c };
                if closing {
                    t.on_cancelled(dir, true);
                } else {
                    match t.on_send(dir, result, now) {
                        Ok(()) => self.pump(key),
                        Err(a) => self.abort(key, a),
                    }
                }
            }
            TAG_CONNECT => {
                if !closing {
                    if result == 0 {
                        t.phase = Phase::Established;
                        t.server_active = now;
                        if let Some(l) = conn.tcp_log.as_mut() {
                            l.connected = Some(now);
                        }
                        self.pump(key);
                    } else {
                        self.connect_failed(key, result);
                    }
                }
            }
            _ => debug_assert!(false, "unknown tag {tag}"),
        }
        self.maybe_free(key);
    }

    /// A connect failed: retry, redispatch or give up, as HAProxy's
    /// `back_handle_st_cer` does. With `option redispatch` the retry goes to another
    /// server when the current one is not usable, on the last retry, or on every retry
    /// when the algorithm is not a hash (`source`) and more than one server is active.
    /// A connection error (not a timeout) waits min(`timeout connect`, 1s) before
    /// retrying, except when redispatching with such a non-hash algorithm.
    pub(crate) fn connect_failed(&mut self, key: usize, result: i32) {
        self.count(|s| CounterSet::add(&s.connect_errors, 1));
        self.count_server(key, Counter::ConnErrors, 1);
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        // The connect has completed: nothing else is in flight on the server socket
        // (server-side recv/send start only once established).
        if let Proto::Tcp(t) = &conn.proto {
            debug_assert!(
                !t.s2c.busy() && !t.c2s.send_pending,
                "server socket busy after failed connect"
            );
        }
        debug_assert!(
            conn.proto.phase() == Phase::Connecting,
            "connect failure outside connecting"
        );
        conn.proto.drop_server();
        let Some(backend) = conn.backend.clone() else {
            self.give_up(key);
            return;
        };
        if conn.retries_left == 0 {
            self.give_up(key);
            return;
        }
        conn.retries_left -= 1;
        let last = conn.retries_left == 0;
        let current_usable = conn.slot.as_ref().is_some_and(|s| s.server().usable());
        let non_hash = backend.balance != Balance::Source;
        let active = backend.servers.iter().filter(|s| !s.backup && s.usable()).count();
        let redispatch = backend.settings.redispatch && (!current_usable || last || (non_hash && active > 1));
        let timed_out = result == -libc::ECANCELED || result == -libc::ETIMEDOUT;
        // No turn-around after a timeout (it already took long enough), nor when the
        // redispatch goes to another of several active servers at once.
        let immediate_redispatch = redispatch && non_hash && active > 1;
        let wait = !(timed_out || immediate_redispatch);
        if redispatch {
            // `Backend::pick` counts the redispatch on the backend and the old server.
            CounterSet::add(&self.counters.global.redispatches, 1);
        } else {
            CounterSet::add(&self.counters.global.retries, 1);
            if let Some(slot) = &conn.slot {
                slot.add(Counter::Retries, 1);
            }
        }
        conn.redispatch_pending = redispatch;
        if wait {
            let delay = backend
                .settings
                .timeout_connect
                .unwrap_or(RETRY_DELAY_MAX)
                .min(RETRY_DELAY_MAX);
            *conn.proto.phase_mut() = Phase::WaitRetry(self.now + delay);
            self.arm_timer(key);
        } else {
            self.retry(key);
        }
    }

    /// Reconnects after a failure: to another server when a redispatch is pending.
    fn retry(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if std::mem::take(&mut conn.redispatch_pending) {
            self.route(key, true);
        } else {
            self.start_connect(key);
        }
    }

    fn deadline(&self, key: usize) -> Option<Instant> {
        let conn = self.conns.get(key)?;
        let fe = self.shared.plan.frontends.get(conn.frontend)?;
        let be = conn.backend.as_ref().map(|b| &b.settings);
        let t = match &conn.proto {
            Proto::Tcp(t) => t,
            Proto::Http(h) => return h.deadline(fe, be),
        };
        t.deadline(
            fe.timeout_client,
            be.and_then(|b| b.timeout_server),
            be.and_then(|b| b.timeout_tunnel),
        )
    }

    pub(crate) fn arm_timer(&mut self, key: usize) {
        let Some(d) = self.deadline(key) else { return };
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if conn.timer_at.is_none_or(|at| d < at) {
            conn.timer_at = Some(d);
            self.timers.push(Reverse((d, key, conn.id)));
        }
    }

    fn fire_timers(&mut self) {
        while let Some(Reverse((at, key, id))) = self.timers.peek().copied() {
            if at > self.now {
                break;
            }
            self.timers.pop();
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            if conn.id != id || conn.timer_at != Some(at) {
                continue; // stale entry
            }
            conn.timer_at = None;
            if let Phase::WaitRetry(retry_at) = conn.proto.phase() {
                if retry_at <= self.now {
                    if conn.queue.is_some() {
                        self.route(key, false);
                    } else {
                        self.retry(key);
                    }
                    if matches!(self.conns.get(key).map(|c| &c.proto), Some(Proto::Http(_))) {
                        self.h1_pump(key);
                        self.maybe_free(key);
                    }
                    self.arm_timer(key);
                    continue;
                }
            }
            match self.deadline(key) {
                Some(d) if d > self.now => self.arm_timer(key),
                Some(_) => {
                    self.count(|s| CounterSet::add(&s.timeouts, 1));
                    if matches!(self.conns.get(key).map(|c| &c.proto), Some(Proto::Http(_))) {
                        self.h1_timeout(key);
                        self.maybe_free(key);
                    } else {
                        if let Some(l) = self.conns.get_mut(key).and_then(|c| c.tcp_log.as_mut()) {
                            l.term(if l.connected.is_some() { b"cD" } else { b"sC" });
                        }
                        self.close(key);
                    }
                }
                None => {}
            }
        }
    }

    /// Starts closing: cancels operations in flight; the connection is freed once all
    /// completions have arrived (buffers and fds stay owned until then).
    pub(crate) fn close(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if conn.proto.phase() == Phase::Closing {
            return;
        }
        if matches!(conn.proto, Proto::Http(_)) {
            self.h1_log(key);
        } else {
            self.tcp_log_line(key);
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        *conn.proto.phase_mut() = Phase::Closing;
        if conn.inflight > 0 {
            for fd in conn.proto.fds().into_iter().flatten() {
                if self.ring.cancel_fd(fd.as_raw_fd(), ud(key, TAG_CANCEL)).is_ok() {
                    conn.inflight += 1;
                } else {
                    // No room to cancel: a shutdown still ends pending recvs and sends.
                    let _ = sys::shutdown_both(fd);
                }
            }
            // A linked connect timeout is cancelled along with its connect.
        }
        debug_assert!(conn.proto.phase() == Phase::Closing);
        self.maybe_free(key);
    }

    /// Writes a TCP connection's log line (`option tcplog`), once, as it closes.
    fn tcp_log_line(&mut self, key: usize) {
        let now = self.now;
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let Some(l) = conn.tcp_log.take() else {
            return;
        };
        let Some(logger) = self
            .shared
            .plan
            .frontends
            .get(conn.frontend)
            .and_then(|f| f.logger.as_ref().map(|lg| (f, lg)))
        else {
            return;
        };
        let (fe, logger) = logger;
        let ms = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => {
                i64::try_from(b.saturating_duration_since(a).as_millis()).unwrap_or(i64::MAX)
            }
            _ => crate::log::TIME_ABSENT,
        };
        let backend = conn.backend.as_ref();
        let slot = conn.slot.as_ref();
        let mut rec = crate::log::LogRecord::new(&fe.name, l.peer, l.accepted_sys);
        rec.frontend_addr = l.local;
        rec.server_addr = slot.map(|s| s.addr());
        rec.backend = backend.map(|b| &*b.name).unwrap_or(&fe.name);
        rec.server = slot.map(|s| &*s.server().name).unwrap_or(crate::log::NOSRV);
        rec.t_handshake = 0;
        rec.t_idle = 0;
        rec.t_req = 0;
        rec.t_wait = ms(Some(l.accepted), l.connect_start);
        rec.t_connect = ms(l.connect_start, l.connected);
        rec.t_total = ms(Some(l.accepted), Some(now));
        rec.t_active = rec.t_total;
        rec.bytes_read = l.bytes_out;
        rec.bytes_uploaded = l.bytes_in;
        rec.termination_state = l.term;
        rec.feconn = u32::try_from(conn.fe_conn.counters().conns.cur()).unwrap_or(u32::MAX);
        rec.beconn = backend
            .map(|b| b.conns().cur())
            .unwrap_or(0)
            .try_into()
            .unwrap_or(u32::MAX);
        rec.srv_conn = slot
            .map(|s| s.server().cur_conns())
            .unwrap_or(0)
            .try_into()
            .unwrap_or(u32::MAX);
        rec.actconn =
            u32::try_from(self.counters.global.conns_cur.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
        rec.retries = backend
            .map(|b| {
                b.settings
                    .retries
                    .min(RETRIES_MAX)
                    .saturating_sub(conn.retries_left)
            })
            .unwrap_or(0);
        logger.0.log(&rec);
    }

    pub(crate) fn maybe_free(&mut self, key: usize) {
        let Some(conn) = self.conns.get(key) else {
            return;
        };
        let phase = conn.proto.phase();
        if phase != Phase::Closing || conn.inflight > 0 {
            if phase != Phase::Closing {
                self.arm_timer(key);
            }
            return;
        }
        let conn = self.conns.remove(key);
        debug_assert!(
            conn.inflight == 0,
            "freeing a connection with operations in flight"
        );
        CounterSet::sub(&self.counters.global.conns_cur, 1);
        self.shared.release(conn.frontend);
        // Dropping the fds closes them: no operation refers to them any more.
        let mut bufs = std::mem::take(&mut self.scratch_bufs);
        conn.proto.into_bufs(&mut bufs);
        for b in bufs.drain(..) {
            self.give_buf(b);
        }
        self.scratch_bufs = bufs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_is_shareable_with_the_control_thread() {
        fn check<T: Send + Sync>() {}
        check::<EngineHandle>();
        check::<Listener>();
    }

    #[test]
    fn user_data_round_trips() {
        for (key, tag) in [(0usize, TAG_ACCEPT), (9_999, TAG_CONNECT), (123, TAG_CANCEL)] {
            let u = ud(key, tag);
            assert_eq!((u >> 8) as usize, key);
            assert_eq!(u & 0xff, tag);
        }
    }

    #[test]
    fn reservation_respects_global_and_frontend_maxconn() {
        let a: SocketAddr = "127.0.0.1:0".parse().expect("literal");
        let mut plan = Plan::simple_tcp(a, &[a]);
        plan.maxconn = 3;
        plan.frontends[0].maxconn = 2;
        let shared = Shared {
            tables: Arc::new(Tables::new(Snapshot::new(1))),
            fe_counters: Vec::new(),
            frontend_slots: vec![AtomicUsize::new(0)],
            plan,
            stop: AtomicU8::new(RUNNING),
            hard_deadline: Mutex::new(None),
            global_slots: AtomicUsize::new(0),
            wake: Vec::new(),
            counters: Vec::new(),
        };
        assert!(shared.reserve(0));
        assert!(shared.reserve(0));
        assert!(!shared.reserve(0), "frontend maxconn 2");
        assert_eq!(
            shared.global_slots.load(Ordering::Relaxed),
            2,
            "failed reserve rolls back"
        );
        assert!(!shared.reserve(7), "unknown frontend");
        shared.release(0);
        assert!(shared.reserve(0));
    }
}
