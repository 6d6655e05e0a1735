//! Lock-free, swappable backend tables: the engine's public API for routing state.
//!
//! ```text
//! control thread                          engine thread (every new connection)
//!   tables.update(|s| s.with_server(..))    snap = tables.load_full()     (no lock)
//!     validates the whole change,           backend = snap.backend(name)
//!     builds the next Snapshot,             Pick::Server(slot) = backend.pick(lb, ip, None)
//!     publishes it with one CAS             connect(slot.addr())
//! ```
//!
//! - **Topology** (backends, their servers, server addresses, the published flag, balance
//!   and settings) is immutable inside a [`Snapshot`]; a change builds the next snapshot
//!   (sharing every unchanged `Arc`) and publishes it whole with one atomic pointer swap
//!   ([`arc_swap::ArcSwap`]). A change is validated completely first: it applies fully or
//!   not at all, and readers see the old snapshot or the new one, never a mix.
//! - **Runtime state** (admin state, operational state, current weight, `maxconn`, current
//!   connections, counters) lives in atomics inside a runtime object that every version of
//!   a server (or backend) shares, so changing it needs no swap and is seen at once by
//!   every snapshot.
//! - A connection keeps the snapshot (or at least the [`Server`]) it was routed with; old
//!   snapshots are freed when their last reader drops them.
//!
//! Nothing here does I/O. Balancing lives in [`crate::balance`], counters in
//! [`crate::counters`].

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::balance::Balance;
use crate::counters::{Counter, Counters, Gauge};

/// Most backends one snapshot holds. Bounds the control-path work of a change (each change
/// copies the backend list) and the per-thread balancer state.
pub const BACKENDS_MAX: usize = 4096;

/// Most servers in one backend. HAProxy's `roundrobin` is limited to 4095 active servers;
/// our balancers scan the list (O(n) per pick), so the same limit bounds a pick's work.
pub const SERVERS_PER_BACKEND_MAX: usize = 4095;

/// Largest server weight, as in HAProxy (`weight` accepts 0..=256).
pub const WEIGHT_MAX: u32 = 256;

/// Longest backend or server name, in bytes. HAProxy sets no limit; names this long are
/// already unreadable in `show stat`.
pub const NAME_BYTES_MAX: usize = 127;

/// How many times [`Tables::update`] rebuilds a change when another writer published in
/// between. Writers are the single control thread in practice, so one retry is rare.
pub const UPDATE_ATTEMPTS_MAX: usize = 64;

/// Proxy mode of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Layer 4 forwarding (`mode tcp`).
    #[default]
    Tcp,
    /// HTTP/1.1 proxying (`mode http`).
    Http,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Tcp => "tcp",
            Mode::Http => "http",
        })
    }
}

/// Administrative state of a server, set by the operator (`set server ... state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AdminState {
    /// Takes new connections (if also up and weight > 0).
    Ready = 0,
    /// No new connections; existing ones continue.
    Drain = 1,
    /// Maintenance: no new connections, health checks stopped; existing ones continue.
    Maint = 2,
}

impl AdminState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => AdminState::Ready,
            1 => AdminState::Drain,
            _ => AdminState::Maint,
        }
    }
}

impl fmt::Display for AdminState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AdminState::Ready => "ready",
            AdminState::Drain => "drain",
            AdminState::Maint => "maint",
        })
    }
}

/// Operational state of a server, set by health checks or `set server ... health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OperState {
    /// Working: takes new connections.
    Up = 0,
    /// Going away (`health stopping`, HAProxy's NOLB): no new connections.
    Stopping = 1,
    /// Failed: no new connections.
    Down = 2,
}

impl OperState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => OperState::Up,
            1 => OperState::Stopping,
            _ => OperState::Down,
        }
    }
}

impl fmt::Display for OperState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OperState::Up => "up",
            OperState::Stopping => "stopping",
            OperState::Down => "down",
        })
    }
}

/// A weight change request (`set weight <b>/<s> 10` or `50%`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightChange {
    /// An absolute weight, 0..=256.
    Absolute(u32),
    /// A percentage of the server's initial (configured) weight; the result is capped at 256.
    Percent(u32),
}

/// Everything that can go wrong changing the tables. The Runtime API maps these to
/// HAProxy's reply strings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The named backend is not in the current snapshot.
    #[error("no such backend '{name}'")]
    NoSuchBackend { name: String },
    /// The named server is not in the backend.
    #[error("no such server '{backend}/{server}'")]
    NoSuchServer { backend: String, server: String },
    /// A backend with this name already exists.
    #[error("backend '{name}' already exists")]
    BackendExists { name: String },
    /// A server with this name already exists in the backend.
    #[error("server '{backend}/{server}' already exists")]
    ServerExists { backend: String, server: String },
    /// The requested backend id is taken.
    #[error("backend id {id} already used by backend '{other}'")]
    BackendIdInUse { id: u32, other: String },
    /// The requested server id is taken in this backend.
    #[error("server id {id} already used by server '{backend}/{other}'")]
    ServerIdInUse { id: u32, backend: String, other: String },
    /// Id 0 is reserved (HAProxy ids start at 1).
    #[error("id 0 is reserved (ids start at 1)")]
    IdZero,
    /// The snapshot holds `BACKENDS_MAX` backends.
    #[error("backend table full (max {max})")]
    TooManyBackends { max: usize },
    /// The backend holds `SERVERS_PER_BACKEND_MAX` servers.
    #[error("backend '{backend}' full (max {max} servers)")]
    TooManyServers { backend: String, max: usize },
    /// An empty name.
    #[error("empty name")]
    NameEmpty,
    /// A name longer than `NAME_BYTES_MAX`.
    #[error("name of {len} bytes too long (max {max})")]
    NameTooLong { len: usize, max: usize },
    /// A name with a character HAProxy does not allow (only letters, digits, '-', '_', '.', ':').
    #[error("character '{ch}' at offset {offset} is not permitted in name '{name}'")]
    NameChar { name: String, ch: char, offset: usize },
    /// An absolute weight above `WEIGHT_MAX`.
    #[error("weight {weight} out of range (max {max})")]
    WeightOutOfRange { weight: u32, max: u32 },
    /// `static-rr` weights can only be switched between 0 and the initial weight.
    #[error("backend '{backend}' uses a static balance algorithm and only accepts weights 0% and 100% (asked {weight}, initial {initial})")]
    StaticWeight {
        backend: String,
        weight: u32,
        initial: u32,
    },
    /// `del server` on a server not in maintenance.
    #[error("server '{backend}/{server}' is not in maintenance mode")]
    ServerNotInMaint { backend: String, server: String },
    /// `del server` while connections still use the server.
    #[error("server '{backend}/{server}' still has {conns} connections")]
    ServerBusy {
        backend: String,
        server: String,
        conns: u64,
    },
    /// `del backend` on a published backend.
    #[error("backend '{name}' is published (unpublish it first)")]
    BackendPublished { name: String },
    /// `del backend` while it still has servers.
    #[error("backend '{name}' still has {servers} servers")]
    BackendHasServers { name: String, servers: usize },
    /// `del backend` while connections use it or wait in its queue.
    #[error("backend '{name}' still has {conns} connections and {queued} queued")]
    BackendBusy { name: String, conns: u64, queued: u64 },
    /// An unknown `balance` algorithm name.
    #[error("unknown balance algorithm '{name}'")]
    UnknownBalance { name: String },
    /// `random(<draws>)` outside 1..=`RANDOM_DRAWS_MAX`.
    #[error("random draws {draws} out of range (1..={max})")]
    RandomDraws { draws: u64, max: u32 },
    /// [`Tables::update`] kept losing the race against other writers.
    #[error("update lost the race against other writers {attempts} times")]
    Contended { attempts: usize },
}

/// Checks a backend or server name: 1..=`NAME_BYTES_MAX` bytes of letters, digits,
/// '-', '_', '.', ':' (HAProxy's `invalid_char`).
pub fn check_name(name: &str) -> Result<(), TableError> {
    if name.is_empty() {
        return Err(TableError::NameEmpty);
    }
    if name.len() > NAME_BYTES_MAX {
        return Err(TableError::NameTooLong {
            len: name.len(),
            max: NAME_BYTES_MAX,
        });
    }
    if let Some((offset, ch)) = name
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        return Err(TableError::NameChar {
            name: name.to_owned(),
            ch,
            offset,
        });
    }
    Ok(())
}

/// Per-backend connection behaviour (`retries`, `option redispatch`, timeouts...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendSettings {
    /// Connection attempts after the first one fails (`retries`, default 3).
    pub retries: u32,
    /// `option redispatch`: the last retry goes to another server.
    pub redispatch: bool,
    /// `option allbackups`: use every usable backup server, not only the first.
    pub allbackups: bool,
    /// `timeout connect`.
    pub timeout_connect: Option<Duration>,
    /// `timeout server` (inactivity on the server side).
    pub timeout_server: Option<Duration>,
    /// `timeout tunnel` (inactivity once both sides stream, e.g. tcp mode).
    pub timeout_tunnel: Option<Duration>,
    /// `timeout queue`: longest wait for a free server slot (default: `timeout connect`).
    pub timeout_queue: Option<Duration>,
}

impl Default for BackendSettings {
    fn default() -> Self {
        BackendSettings {
            retries: 3,
            redispatch: false,
            allbackups: false,
            timeout_connect: None,
            timeout_server: None,
            timeout_tunnel: None,
            timeout_queue: None,
        }
    }
}

/// What a server is made from: a `server` line or `add server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Name, unique in the backend.
    pub name: String,
    /// `id`; `None` takes the first free id from 1.
    pub id: Option<u32>,
    /// Address and port.
    pub addr: SocketAddr,
    /// `weight` (0..=256, default 1).
    pub weight: u32,
    /// `backup`.
    pub backup: bool,
    /// `maxconn` (0: unlimited).
    pub maxconn: u32,
    /// `disabled`: start in maintenance. HAProxy's `add server` always starts in
    /// maintenance, so the Runtime API sets this.
    pub disabled: bool,
}

impl ServerConfig {
    /// A server with HAProxy's defaults (weight 1, no maxconn, active, enabled).
    pub fn new(name: impl Into<String>, addr: SocketAddr) -> Self {
        ServerConfig {
            name: name.into(),
            id: None,
            addr,
            weight: 1,
            backup: false,
            maxconn: 0,
            disabled: false,
        }
    }
}

/// What a backend is made from: a `backend` section or `add backend`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendConfig {
    /// Name, unique among backends.
    pub name: String,
    /// `id`; `None` takes the first free id from 1.
    pub id: Option<u32>,
    /// `mode`.
    pub mode: Mode,
    /// `balance`.
    pub balance: Balance,
    /// Retries, redispatch, timeouts.
    pub settings: BackendSettings,
    /// Whether frontends may route to it (`publish backend` / `unpublish backend`).
    pub published: bool,
    /// Its servers, in declaration order.
    pub servers: Vec<ServerConfig>,
}

impl BackendConfig {
    /// An empty, published `mode tcp`, `balance roundrobin` backend.
    pub fn new(name: impl Into<String>) -> Self {
        BackendConfig {
            name: name.into(),
            id: None,
            mode: Mode::Tcp,
            balance: Balance::RoundRobin,
            settings: BackendSettings::default(),
            published: true,
            servers: Vec::new(),
        }
    }
}

/// Runtime state of a server, shared by every version of it across snapshots.
#[derive(Debug)]
pub(crate) struct ServerRuntime {
    admin: AtomicU8,
    oper: AtomicU8,
    weight: AtomicU32,
    maxconn: AtomicU32,
    pub(crate) conns: Gauge,
    pub(crate) counters: Counters,
}

/// One server of a backend, as of one snapshot. Identity and address are immutable here
/// (an address change publishes a new snapshot); runtime state is in shared atomics.
#[derive(Debug)]
pub struct Server {
    /// Numeric id (`puid`), unique in the backend.
    pub id: u32,
    /// Name, unique in the backend.
    pub name: Box<str>,
    /// Address to connect to, as of this snapshot.
    pub addr: SocketAddr,
    /// `backup`: used only when no active server is usable.
    pub backup: bool,
    /// Configured weight (HAProxy's `iweight`), the base of `set weight N%`.
    pub initial_weight: u32,
    pub(crate) rt: Arc<ServerRuntime>,
}

impl Server {
    fn build(cfg: &ServerConfig, id: u32, threads: usize) -> Result<Server, TableError> {
        check_name(&cfg.name)?;
        if cfg.weight > WEIGHT_MAX {
            return Err(TableError::WeightOutOfRange {
                weight: cfg.weight,
                max: WEIGHT_MAX,
            });
        }
        let admin = if cfg.disabled {
            AdminState::Maint
        } else {
            AdminState::Ready
        };
        Ok(Server {
            id,
            name: cfg.name.as_str().into(),
            addr: cfg.addr,
            backup: cfg.backup,
            initial_weight: cfg.weight,
            rt: Arc::new(ServerRuntime {
                admin: AtomicU8::new(admin as u8),
                oper: AtomicU8::new(OperState::Up as u8),
                weight: AtomicU32::new(cfg.weight),
                maxconn: AtomicU32::new(cfg.maxconn),
                conns: Gauge::new(),
                counters: Counters::new(threads),
            }),
        })
    }

    /// Administrative state.
    #[inline]
    pub fn admin(&self) -> AdminState {
        AdminState::from_u8(self.rt.admin.load(Ordering::Relaxed))
    }

    /// Operational state.
    #[inline]
    pub fn oper(&self) -> OperState {
        OperState::from_u8(self.rt.oper.load(Ordering::Relaxed))
    }

    /// Current effective weight (0..=256).
    #[inline]
    pub fn weight(&self) -> u32 {
        self.rt.weight.load(Ordering::Relaxed)
    }

    /// Current `maxconn` (0: unlimited).
    #[inline]
    pub fn maxconn(&self) -> u32 {
        self.rt.maxconn.load(Ordering::Relaxed)
    }

    /// Connections currently routed to this server.
    #[inline]
    pub fn cur_conns(&self) -> u64 {
        self.rt.conns.cur()
    }

    /// Current and maximum connections (`scur`/`smax`).
    pub fn conns(&self) -> &Gauge {
        &self.rt.conns
    }

    /// Totals (`stot`, `bin`, `bout`, `econ`, `wretr`, `wredis`, `lbtot`...).
    pub fn counters(&self) -> &Counters {
        &self.rt.counters
    }

    /// Whether the balancer may give it new connections: ready, up and weight > 0
    /// (whether it is full is checked separately).
    #[inline]
    pub fn usable(&self) -> bool {
        self.admin() == AdminState::Ready && self.oper() == OperState::Up && self.weight() > 0
    }

    /// Whether it is at its `maxconn`.
    #[inline]
    pub fn is_full(&self) -> bool {
        let max = self.maxconn();
        max != 0 && self.cur_conns() >= u64::from(max)
    }

    /// Whether `other` is a version of this same server (from any snapshot).
    #[inline]
    pub fn same_as(&self, other: &Server) -> bool {
        Arc::ptr_eq(&self.rt, &other.rt)
    }

    /// Sets the administrative state (seen at once by every snapshot); returns the previous
    /// one, so the caller can log and count real transitions.
    pub fn set_admin(&self, s: AdminState) -> AdminState {
        AdminState::from_u8(self.rt.admin.swap(s as u8, Ordering::Relaxed))
    }

    /// Sets the operational state (health checks, `set server ... health`); returns the
    /// previous one.
    pub fn set_oper(&self, s: OperState) -> OperState {
        OperState::from_u8(self.rt.oper.swap(s as u8, Ordering::Relaxed))
    }

    /// Sets `maxconn` (0: unlimited). Connections above a lowered limit continue.
    pub fn set_maxconn(&self, maxconn: u32) {
        self.rt.maxconn.store(maxconn, Ordering::Relaxed);
    }

    /// Sets the current weight, unchecked against the backend's algorithm; see
    /// [`Tables::set_weight`] for the checked form.
    pub fn set_weight_raw(&self, w: u32) -> Result<(), TableError> {
        if w > WEIGHT_MAX {
            return Err(TableError::WeightOutOfRange {
                weight: w,
                max: WEIGHT_MAX,
            });
        }
        self.rt.weight.store(w, Ordering::Relaxed);
        Ok(())
    }

    /// Takes a connection place if below `maxconn`; the caller wraps it in a `ConnSlot`.
    #[inline]
    pub(crate) fn try_acquire(&self) -> bool {
        let max = self.maxconn();
        if max == 0 {
            self.rt.conns.incr();
            true
        } else {
            self.rt.conns.incr_below(u64::from(max))
        }
    }

    /// The same server with another address, sharing the runtime state.
    fn with_addr(&self, addr: SocketAddr) -> Server {
        Server {
            id: self.id,
            name: self.name.clone(),
            addr,
            backup: self.backup,
            initial_weight: self.initial_weight,
            rt: self.rt.clone(),
        }
    }
}

/// Runtime state of a backend, shared by every version of it across snapshots.
#[derive(Debug)]
pub(crate) struct BackendRuntime {
    pub(crate) conns: Gauge,
    pub(crate) queued: Gauge,
    pub(crate) counters: Counters,
    /// Shared round-robin cursor for equal-weight backends: consecutive connections
    /// alternate between servers whatever thread accepts them, as HAProxy's single
    /// round-robin tree does (`curl` twice shows both servers). One relaxed add per pick.
    pub(crate) rr_cursor: AtomicU64,
}

/// Source of [`Backend::stamp`]: unique per built backend object, so per-thread balancer
/// state can tell that the server list it indexes has changed.
static BACKEND_STAMP: AtomicU64 = AtomicU64::new(1);

/// One backend, as of one snapshot.
#[derive(Debug)]
pub struct Backend {
    /// Numeric id (`iid`/`uuid`), unique among backends.
    pub id: u32,
    /// Name, unique among backends.
    pub name: Box<str>,
    /// `mode tcp` or `mode http`.
    pub mode: Mode,
    /// Whether frontends may route to it. Routing code must skip unpublished backends.
    pub published: bool,
    /// Balance algorithm.
    pub balance: Balance,
    /// Retries, redispatch, timeouts.
    pub settings: BackendSettings,
    /// Servers in declaration order (active and backup).
    pub servers: Vec<Arc<Server>>,
    /// Generation of the snapshot this backend object was built for: 0 from
    /// [`Snapshot::from_config`], else the generation [`Tables::update`] publishes the change
    /// under (a change that rebuilds several backends gives them all the same one).
    pub generation: u64,
    pub(crate) stamp: u64,
    pub(crate) rt: Arc<BackendRuntime>,
}

impl Backend {
    fn build(cfg: &BackendConfig, id: u32, threads: usize, generation: u64) -> Result<Backend, TableError> {
        check_name(&cfg.name)?;
        cfg.balance.check()?;
        if cfg.servers.len() > SERVERS_PER_BACKEND_MAX {
            return Err(TableError::TooManyServers {
                backend: cfg.name.clone(),
                max: SERVERS_PER_BACKEND_MAX,
            });
        }
        let mut b = Backend {
            id,
            name: cfg.name.as_str().into(),
            mode: cfg.mode,
            published: cfg.published,
            balance: cfg.balance,
            settings: cfg.settings.clone(),
            servers: Vec::with_capacity(cfg.servers.len()),
            generation,
            stamp: BACKEND_STAMP.fetch_add(1, Ordering::Relaxed),
            rt: Arc::new(BackendRuntime {
                conns: Gauge::new(),
                queued: Gauge::new(),
                counters: Counters::new(threads),
                rr_cursor: AtomicU64::new(0),
            }),
        };
        for s in &cfg.servers {
            let server = b.new_server(s, threads)?;
            b.servers.push(Arc::new(server));
        }
        debug_assert!(b.servers.len() == cfg.servers.len());
        Ok(b)
    }

    /// Validates `cfg` as a new server of this backend and builds it.
    fn new_server(&self, cfg: &ServerConfig, threads: usize) -> Result<Server, TableError> {
        if self.servers.len() >= SERVERS_PER_BACKEND_MAX {
            return Err(TableError::TooManyServers {
                backend: self.name.to_string(),
                max: SERVERS_PER_BACKEND_MAX,
            });
        }
        if self.server(&cfg.name).is_some() {
            return Err(TableError::ServerExists {
                backend: self.name.to_string(),
                server: cfg.name.clone(),
            });
        }
        let id = match cfg.id {
            Some(0) => return Err(TableError::IdZero),
            Some(id) => {
                if let Some(other) = self.servers.iter().find(|s| s.id == id) {
                    return Err(TableError::ServerIdInUse {
                        id,
                        backend: self.name.to_string(),
                        other: other.name.to_string(),
                    });
                }
                id
            }
            None => first_free_id(self.servers.iter().map(|s| s.id)),
        };
        Server::build(cfg, id, threads)
    }

    /// A new version of this backend with another server list (same runtime state).
    fn rebuilt(&self, servers: Vec<Arc<Server>>, published: bool, generation: u64) -> Backend {
        Backend {
            id: self.id,
            name: self.name.clone(),
            mode: self.mode,
            published,
            balance: self.balance,
            settings: self.settings.clone(),
            servers,
            generation,
            stamp: BACKEND_STAMP.fetch_add(1, Ordering::Relaxed),
            rt: self.rt.clone(),
        }
    }

    /// The server with this name.
    pub fn server(&self, name: &str) -> Option<&Arc<Server>> {
        self.servers.iter().find(|s| &*s.name == name)
    }

    /// The server with this id.
    pub fn server_by_id(&self, id: u32) -> Option<&Arc<Server>> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// Connections currently routed through this backend (`scur`/`smax`).
    pub fn conns(&self) -> &Gauge {
        &self.rt.conns
    }

    /// Connections waiting for a free server slot (`qcur`/`qmax`).
    pub fn queued(&self) -> &Gauge {
        &self.rt.queued
    }

    /// Totals (`stot`, `bin`, `bout`, `econ`, `wretr`, `wredis`...).
    pub fn counters(&self) -> &Counters {
        &self.rt.counters
    }

    /// Whether `other` is a version of this same backend (from any snapshot).
    pub fn same_as(&self, other: &Backend) -> bool {
        Arc::ptr_eq(&self.rt, &other.rt)
    }

    /// Registers a connection waiting for a server slot after [`Pick::Queue`]: it counts in
    /// `qcur` while the ticket lives.
    pub fn enqueue(&self) -> QueueTicket {
        self.rt.queued.incr();
        QueueTicket {
            backend: self.rt.clone(),
        }
    }

    /// Wraps a place taken on `server` (see [`Server::try_acquire`]).
    pub(crate) fn slot(&self, server: &Arc<Server>, thread: usize, new_session: bool) -> ConnSlot {
        self.rt.conns.incr();
        server.rt.counters.incr(thread, Counter::Sessions);
        server.rt.counters.incr(thread, Counter::Selected);
        if new_session {
            self.rt.counters.incr(thread, Counter::Sessions);
        }
        ConnSlot {
            server: server.clone(),
            backend: self.rt.clone(),
            thread,
        }
    }
}

/// The smallest id >= 1 not in `used`.
fn first_free_id(used: impl Iterator<Item = u32>) -> u32 {
    let mut ids: Vec<u32> = used.collect();
    ids.sort_unstable();
    let mut next = 1u32;
    for id in ids {
        if id == next {
            next = next.saturating_add(1);
        } else if id > next {
            break;
        }
    }
    next
}

/// A connection's place on a server (RAII): while it lives the connection counts in the
/// server's and the backend's current connections (`maxconn`, `leastconn`, `del server`
/// all see it); dropping it gives the place back. It keeps the [`Server`] version it was
/// routed with, so its address never changes under it.
#[derive(Debug)]
pub struct ConnSlot {
    server: Arc<Server>,
    backend: Arc<BackendRuntime>,
    thread: usize,
}

impl ConnSlot {
    /// The chosen server.
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The engine thread index this slot counts on.
    pub fn thread(&self) -> usize {
        self.thread
    }

    /// Adds to a total of both the server and its backend (bytes, errors, retries...).
    #[inline]
    pub fn add(&self, c: Counter, n: u64) {
        self.server.rt.counters.add(self.thread, c, n);
        self.backend.counters.add(self.thread, c, n);
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.server.rt.conns.decr();
        self.backend.conns.decr();
    }
}

/// A connection's place in a backend's queue (RAII): counts in `qcur` while it lives.
#[derive(Debug)]
pub struct QueueTicket {
    backend: Arc<BackendRuntime>,
}

impl Drop for QueueTicket {
    fn drop(&mut self) {
        self.backend.queued.decr();
    }
}

/// The result of [`Backend::pick`].
#[derive(Debug)]
pub enum Pick {
    /// A server was chosen and a connection place taken on it.
    Server(ConnSlot),
    /// Usable servers exist but all are at `maxconn`: wait (see [`Backend::enqueue`]) and
    /// pick again when a place frees up, until `timeout queue`.
    Queue,
    /// No server is usable (all down, in maintenance, draining or at weight 0).
    NoServer,
}

/// One immutable version of all backends. Cheap to clone (`Arc`s); a change shares every
/// backend it does not touch.
#[derive(Debug, Clone)]
pub struct Snapshot {
    generation: u64,
    threads: usize,
    backends: Vec<Arc<Backend>>,
    by_name: HashMap<Box<str>, usize>,
    by_id: HashMap<u32, usize>,
}

impl Snapshot {
    /// An empty snapshot whose counters keep `threads` per-thread shards.
    pub fn new(threads: usize) -> Self {
        Snapshot {
            generation: 0,
            threads: threads.max(1),
            backends: Vec::new(),
            by_name: HashMap::new(),
            by_id: HashMap::new(),
        }
    }

    /// A snapshot of these backends, validated as a whole.
    pub fn from_config(threads: usize, backends: &[BackendConfig]) -> Result<Self, TableError> {
        let mut s = Snapshot::new(threads);
        for b in backends {
            s.push_backend(b, 0)?;
        }
        Ok(s)
    }

    /// Monotonic version number, raised by every publish.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of per-thread counter shards.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// All backends, in declaration order.
    pub fn backends(&self) -> &[Arc<Backend>] {
        &self.backends
    }

    /// The backend with this name.
    pub fn backend(&self, name: &str) -> Option<&Arc<Backend>> {
        self.by_name.get(name).and_then(|&i| self.backends.get(i))
    }

    /// The backend with this id.
    pub fn backend_by_id(&self, id: u32) -> Option<&Arc<Backend>> {
        self.by_id.get(&id).and_then(|&i| self.backends.get(i))
    }

    fn must_backend(&self, name: &str) -> Result<&Arc<Backend>, TableError> {
        self.backend(name).ok_or_else(|| TableError::NoSuchBackend {
            name: name.to_owned(),
        })
    }

    /// `clear counters`: resets the maxima (`smax`, `qmax`) of every backend and server to
    /// their current values; with `all` (`clear counters all`) also zeroes every total.
    /// Frontend counters are the listeners' and are cleared there.
    pub fn clear_counters(&self, all: bool) {
        for b in &self.backends {
            b.rt.conns.clear_max();
            b.rt.queued.clear_max();
            if all {
                b.rt.counters.clear();
            }
            for s in &b.servers {
                s.rt.conns.clear_max();
                if all {
                    s.rt.counters.clear();
                }
            }
        }
    }

    /// The named server of the named backend.
    pub fn server(&self, backend: &str, server: &str) -> Result<&Arc<Server>, TableError> {
        self.must_backend(backend)?
            .server(server)
            .ok_or_else(|| TableError::NoSuchServer {
                backend: backend.to_owned(),
                server: server.to_owned(),
            })
    }

    fn push_backend(&mut self, cfg: &BackendConfig, generation: u64) -> Result<(), TableError> {
        if self.backends.len() >= BACKENDS_MAX {
            return Err(TableError::TooManyBackends { max: BACKENDS_MAX });
        }
        if self.by_name.contains_key(cfg.name.as_str()) {
            return Err(TableError::BackendExists {
                name: cfg.name.clone(),
            });
        }
        let id = match cfg.id {
            Some(0) => return Err(TableError::IdZero),
            Some(id) => {
                if let Some(other) = self.backend_by_id(id) {
                    return Err(TableError::BackendIdInUse {
                        id,
                        other: other.name.to_string(),
                    });
                }
                id
            }
            None => first_free_id(self.backends.iter().map(|b| b.id)),
        };
        let b = Backend::build(cfg, id, self.threads, generation)?;
        self.by_name.insert(b.name.clone(), self.backends.len());
        self.by_id.insert(id, self.backends.len());
        self.backends.push(Arc::new(b));
        debug_assert_eq!(self.by_name.len(), self.backends.len());
        debug_assert_eq!(self.by_id.len(), self.backends.len());
        Ok(())
    }

    /// Replaces the backend at the same position (same name and id).
    fn replace_backend(&self, b: Backend) -> Snapshot {
        let mut next = self.clone();
        if let Some(&i) = self.by_name.get(&*b.name) {
            if let Some(slot) = next.backends.get_mut(i) {
                *slot = Arc::new(b);
            }
        }
        next
    }

    /// This snapshot plus a new backend (`add backend`).
    pub fn with_backend(&self, cfg: &BackendConfig) -> Result<Snapshot, TableError> {
        let mut next = self.clone();
        next.push_backend(cfg, self.generation + 1)?;
        Ok(next)
    }

    /// Whether `del backend` would be accepted now (`wait be-removable`): the backend exists,
    /// is unpublished, has no server left, and has no connection and no queued connection.
    pub fn check_backend_removable(&self, name: &str) -> Result<(), TableError> {
        let b = self.must_backend(name)?;
        if b.published {
            return Err(TableError::BackendPublished {
                name: name.to_owned(),
            });
        }
        if !b.servers.is_empty() {
            return Err(TableError::BackendHasServers {
                name: name.to_owned(),
                servers: b.servers.len(),
            });
        }
        let (conns, queued) = (b.conns().cur(), b.queued().cur());
        if conns > 0 || queued > 0 {
            return Err(TableError::BackendBusy {
                name: name.to_owned(),
                conns,
                queued,
            });
        }
        Ok(())
    }

    /// This snapshot without the named backend (`del backend`): refused while it is
    /// published, has servers, or still has connections or queued connections.
    pub fn without_backend(&self, name: &str) -> Result<Snapshot, TableError> {
        self.check_backend_removable(name)?;
        let mut next = Snapshot::new(self.threads);
        next.generation = self.generation;
        for b in self.backends.iter().filter(|b| &*b.name != name) {
            next.by_name.insert(b.name.clone(), next.backends.len());
            next.by_id.insert(b.id, next.backends.len());
            next.backends.push(b.clone());
        }
        debug_assert_eq!(next.backends.len() + 1, self.backends.len());
        Ok(next)
    }

    /// This snapshot with the named backend published or not.
    pub fn with_published(&self, name: &str, published: bool) -> Result<Snapshot, TableError> {
        let b = self.must_backend(name)?;
        Ok(self.replace_backend(b.rebuilt(b.servers.clone(), published, self.generation + 1)))
    }

    /// This snapshot with a new server in the named backend (`add server`).
    pub fn with_server(&self, backend: &str, cfg: &ServerConfig) -> Result<Snapshot, TableError> {
        let b = self.must_backend(backend)?;
        let server = b.new_server(cfg, self.threads)?;
        let mut servers = b.servers.clone();
        servers.push(Arc::new(server));
        Ok(self.replace_backend(b.rebuilt(servers, b.published, self.generation + 1)))
    }

    /// Whether `del server` would be accepted now (`wait srv-removable`): the server exists,
    /// is in maintenance, and no connection uses it.
    pub fn check_server_removable(&self, backend: &str, server: &str) -> Result<(), TableError> {
        let s = self.server(backend, server)?;
        if s.admin() != AdminState::Maint {
            return Err(TableError::ServerNotInMaint {
                backend: backend.to_owned(),
                server: server.to_owned(),
            });
        }
        let conns = s.cur_conns();
        if conns > 0 {
            return Err(TableError::ServerBusy {
                backend: backend.to_owned(),
                server: server.to_owned(),
                conns,
            });
        }
        Ok(())
    }

    /// This snapshot without the named server (`del server`): refused unless the server is
    /// in maintenance and has no connection left.
    pub fn without_server(&self, backend: &str, server: &str) -> Result<Snapshot, TableError> {
        self.check_server_removable(backend, server)?;
        let b = self.must_backend(backend)?;
        let s = self.server(backend, server)?;
        let servers: Vec<_> = b.servers.iter().filter(|x| !x.same_as(s)).cloned().collect();
        debug_assert_eq!(servers.len() + 1, b.servers.len());
        Ok(self.replace_backend(b.rebuilt(servers, b.published, self.generation + 1)))
    }

    /// This snapshot with the named server at a new address (`set server ... addr`);
    /// `port: None` keeps the current port. Connections already routed keep the old one.
    pub fn with_server_addr(
        &self,
        backend: &str,
        server: &str,
        ip: IpAddr,
        port: Option<u16>,
    ) -> Result<Snapshot, TableError> {
        let b = self.must_backend(backend)?;
        let s = self.server(backend, server)?;
        let addr = SocketAddr::new(ip, port.unwrap_or(s.addr.port()));
        let servers = b
            .servers
            .iter()
            .map(|x| {
                if x.same_as(s) {
                    Arc::new(x.with_addr(addr))
                } else {
                    x.clone()
                }
            })
            .collect();
        Ok(self.replace_backend(b.rebuilt(servers, b.published, self.generation + 1)))
    }
}

/// The published snapshot behind one atomic pointer. Readers never lock; writers build the
/// next snapshot and swap it in whole.
#[derive(Debug)]
pub struct Tables {
    cur: ArcSwap<Snapshot>,
}

impl Tables {
    /// Tables publishing `s` (its generation is kept).
    pub fn new(s: Snapshot) -> Self {
        Tables {
            cur: ArcSwap::from_pointee(s),
        }
    }

    /// The current snapshot, lock-free and without touching the reference count on the
    /// fast path. Hold the guard only briefly (a few are cheap per thread); to keep the
    /// snapshot for a connection's lifetime use [`Tables::load_full`].
    #[inline]
    pub fn load(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.cur.load()
    }

    /// The current snapshot as an owned `Arc` (one reference-count increment), for a
    /// connection to keep.
    #[inline]
    pub fn load_full(&self) -> Arc<Snapshot> {
        self.cur.load_full()
    }

    /// Publishes `s` whole, replacing whatever is current; its generation becomes the
    /// current one plus one. Returns the new generation.
    pub fn store(&self, mut s: Snapshot) -> u64 {
        let mut generation = 0;
        self.cur.rcu(|cur| {
            s.generation = cur.generation + 1;
            generation = s.generation;
            s.clone()
        });
        generation
    }

    /// Applies a change atomically: `f` builds the next snapshot from the current one (or
    /// refuses it), and the result is published with one compare-and-swap. If another
    /// writer published in between, `f` runs again on the newer snapshot (so it must be
    /// pure). Returns the published generation.
    pub fn update(&self, f: impl Fn(&Snapshot) -> Result<Snapshot, TableError>) -> Result<u64, TableError> {
        for _ in 0..UPDATE_ATTEMPTS_MAX {
            let cur = self.cur.load_full();
            let mut next = f(&cur)?;
            debug_assert_eq!(next.threads, cur.threads, "a change keeps the shard count");
            next.generation = cur.generation + 1;
            let generation = next.generation;
            let prev = self.cur.compare_and_swap(&cur, Arc::new(next));
            if Arc::ptr_eq(&prev, &cur) {
                return Ok(generation);
            }
        }
        Err(TableError::Contended {
            attempts: UPDATE_ATTEMPTS_MAX,
        })
    }

    /// `add backend`.
    pub fn add_backend(&self, cfg: &BackendConfig) -> Result<u64, TableError> {
        self.update(|s| s.with_backend(cfg))
    }

    /// `del backend`: refused while published, with servers, or still in use.
    pub fn del_backend(&self, name: &str) -> Result<u64, TableError> {
        self.update(|s| s.without_backend(name))
    }

    /// `publish backend`.
    pub fn publish(&self, name: &str) -> Result<u64, TableError> {
        self.update(|s| s.with_published(name, true))
    }

    /// `unpublish backend`.
    pub fn unpublish(&self, name: &str) -> Result<u64, TableError> {
        self.update(|s| s.with_published(name, false))
    }

    /// `add server`.
    pub fn add_server(&self, backend: &str, cfg: &ServerConfig) -> Result<u64, TableError> {
        self.update(|s| s.with_server(backend, cfg))
    }

    /// `del server`: refused unless in maintenance with no connection.
    pub fn del_server(&self, backend: &str, server: &str) -> Result<u64, TableError> {
        self.update(|s| s.without_server(backend, server))
    }

    /// `set server <b>/<s> addr <ip> [port <port>]`.
    pub fn set_addr(
        &self,
        backend: &str,
        server: &str,
        ip: IpAddr,
        port: Option<u16>,
    ) -> Result<u64, TableError> {
        self.update(|s| s.with_server_addr(backend, server, ip, port))
    }

    /// `set server <b>/<s> state ready|drain|maint` (no swap: a shared atomic).
    pub fn set_admin(&self, backend: &str, server: &str, state: AdminState) -> Result<(), TableError> {
        self.load().server(backend, server)?.set_admin(state);
        Ok(())
    }

    /// `set server <b>/<s> health up|stopping|down` (no swap: a shared atomic).
    pub fn set_oper(&self, backend: &str, server: &str, state: OperState) -> Result<(), TableError> {
        self.load().server(backend, server)?.set_oper(state);
        Ok(())
    }

    /// `set maxconn server <b>/<s> <n>` (0: unlimited; no swap).
    pub fn set_maxconn(&self, backend: &str, server: &str, maxconn: u32) -> Result<(), TableError> {
        self.load().server(backend, server)?.set_maxconn(maxconn);
        Ok(())
    }

    /// `set weight <b>/<s> <w>|<p>%`: absolute 0..=256, or a percentage of the initial
    /// weight capped at 256. `static-rr` backends only accept 0 and the initial weight.
    /// Returns the weight set.
    pub fn set_weight(&self, backend: &str, server: &str, change: WeightChange) -> Result<u32, TableError> {
        let snap = self.load();
        let b = snap.must_backend(backend)?;
        let s = snap.server(backend, server)?;
        let w = match change {
            WeightChange::Absolute(w) if w > WEIGHT_MAX => {
                return Err(TableError::WeightOutOfRange {
                    weight: w,
                    max: WEIGHT_MAX,
                })
            }
            WeightChange::Absolute(w) => w,
            WeightChange::Percent(p) => {
                let w = u64::from(s.initial_weight) * u64::from(p) / 100;
                u32::try_from(w.min(u64::from(WEIGHT_MAX))).unwrap_or(WEIGHT_MAX)
            }
        };
        if b.balance.is_static() && w != 0 && w != s.initial_weight {
            return Err(TableError::StaticWeight {
                backend: backend.to_owned(),
                weight: w,
                initial: s.initial_weight,
            });
        }
        s.set_weight_raw(w)?;
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn tables() -> Tables {
        let mut b = BackendConfig::new("app");
        b.servers = vec![
            ServerConfig::new("s1", addr(8001)),
            ServerConfig::new("s2", addr(8002)),
        ];
        Tables::new(Snapshot::from_config(2, &[b]).expect("valid"))
    }

    #[test]
    fn names_accepted_and_rejected() {
        for ok in ["a", "app-1", "be_x.y:z", &"n".repeat(NAME_BYTES_MAX)] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        let long = "n".repeat(NAME_BYTES_MAX + 1);
        let cases: [(&str, TableError); 4] = [
            ("", TableError::NameEmpty),
            (
                &long,
                TableError::NameTooLong {
                    len: NAME_BYTES_MAX + 1,
                    max: NAME_BYTES_MAX,
                },
            ),
            (
                "a b",
                TableError::NameChar {
                    name: "a b".into(),
                    ch: ' ',
                    offset: 1,
                },
            ),
            (
                "é",
                TableError::NameChar {
                    name: "é".into(),
                    ch: 'é',
                    offset: 0,
                },
            ),
        ];
        for (name, want) in cases {
            assert_eq!(check_name(name), Err(want), "{name:?}");
        }
    }

    #[test]
    fn first_free_id_fills_gaps() {
        for (used, want) in [
            (vec![], 1),
            (vec![1, 2, 3], 4),
            (vec![2, 3], 1),
            (vec![1, 3], 2),
            (vec![3, 1, 2, 5], 4),
        ] {
            assert_eq!(first_free_id(used.clone().into_iter()), want, "{used:?}");
        }
    }

    #[test]
    fn config_errors_reject_whole_snapshot() {
        let mut dup = BackendConfig::new("a");
        dup.servers = vec![ServerConfig::new("s", addr(1)), ServerConfig::new("s", addr(2))];
        let mut heavy = BackendConfig::new("b");
        heavy.servers = vec![ServerConfig {
            weight: 257,
            ..ServerConfig::new("s", addr(1))
        }];
        let mut dup_id = BackendConfig::new("c");
        dup_id.servers = vec![
            ServerConfig {
                id: Some(4),
                ..ServerConfig::new("x", addr(1))
            },
            ServerConfig {
                id: Some(4),
                ..ServerConfig::new("y", addr(1))
            },
        ];
        let cases = [
            (
                vec![dup],
                TableError::ServerExists {
                    backend: "a".into(),
                    server: "s".into(),
                },
            ),
            (
                vec![heavy],
                TableError::WeightOutOfRange {
                    weight: 257,
                    max: 256,
                },
            ),
            (
                vec![BackendConfig::new("x"), BackendConfig::new("x")],
                TableError::BackendExists { name: "x".into() },
            ),
            (
                vec![BackendConfig {
                    id: Some(0),
                    ..BackendConfig::new("z")
                }],
                TableError::IdZero,
            ),
            (
                vec![dup_id],
                TableError::ServerIdInUse {
                    id: 4,
                    backend: "c".into(),
                    other: "x".into(),
                },
            ),
            (
                vec![
                    BackendConfig {
                        id: Some(7),
                        ..BackendConfig::new("p")
                    },
                    BackendConfig {
                        id: Some(7),
                        ..BackendConfig::new("q")
                    },
                ],
                TableError::BackendIdInUse {
                    id: 7,
                    other: "p".into(),
                },
            ),
        ];
        for (cfg, want) in cases {
            assert_eq!(Snapshot::from_config(1, &cfg).map(|_| ()), Err(want));
        }
    }

    #[test]
    fn ids_are_assigned_from_one() {
        let t = tables();
        let s = t.load();
        let b = s.backend("app").expect("app");
        assert_eq!(b.id, 1);
        assert_eq!(s.backend_by_id(1).map(|b| &*b.name), Some("app"));
        assert_eq!(b.servers.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(s.generation(), 0);
    }

    #[test]
    fn add_and_del_server() {
        let t = tables();
        let cfg = ServerConfig {
            disabled: true,
            ..ServerConfig::new("s3", addr(8003))
        };
        assert_eq!(t.add_server("app", &cfg), Ok(1));
        assert_eq!(
            t.add_server("app", &cfg),
            Err(TableError::ServerExists {
                backend: "app".into(),
                server: "s3".into()
            })
        );
        assert_eq!(
            t.add_server("nope", &cfg),
            Err(TableError::NoSuchBackend { name: "nope".into() })
        );
        let snap = t.load_full();
        let s3 = snap.server("app", "s3").expect("s3").clone();
        assert_eq!((s3.id, s3.admin()), (3, AdminState::Maint));

        // Not in maint: refused.
        assert_eq!(
            t.del_server("app", "s1"),
            Err(TableError::ServerNotInMaint {
                backend: "app".into(),
                server: "s1".into()
            })
        );
        // In maint with a connection: refused; once it is gone: accepted.
        let slot = {
            let b = snap.backend("app").expect("app");
            assert!(s3.try_acquire());
            b.slot(&s3, 0, true)
        };
        assert_eq!(
            t.del_server("app", "s3"),
            Err(TableError::ServerBusy {
                backend: "app".into(),
                server: "s3".into(),
                conns: 1
            })
        );
        drop(slot);
        assert_eq!(t.del_server("app", "s3"), Ok(2));
        assert!(t.load().server("app", "s3").is_err());
        assert_eq!(
            t.del_server("app", "s3"),
            Err(TableError::NoSuchServer {
                backend: "app".into(),
                server: "s3".into()
            })
        );
        // The old snapshot still has it: a connection keeps what it was routed with.
        assert!(snap.server("app", "s3").is_ok());
        assert_eq!(t.load().generation(), 2);
    }

    #[test]
    fn add_del_publish_backend() {
        let t = tables();
        let cfg = BackendConfig {
            published: false,
            ..BackendConfig::new("new")
        };
        assert_eq!(t.add_backend(&cfg), Ok(1));
        assert_eq!(
            t.add_backend(&cfg),
            Err(TableError::BackendExists { name: "new".into() })
        );
        assert_eq!(
            t.load().backend("new").map(|b| (b.id, b.published)),
            Some((2, false))
        );
        assert_eq!(t.publish("new"), Ok(2));
        assert!(t.load().backend("new").is_some_and(|b| b.published));
        assert_eq!(
            t.del_backend("new"),
            Err(TableError::BackendPublished { name: "new".into() })
        );
        assert_eq!(t.unpublish("new"), Ok(3));
        // Refused while it has a server.
        let srv = ServerConfig {
            disabled: true,
            ..ServerConfig::new("x", addr(1))
        };
        let g = t.add_server("new", &srv).expect("add");
        assert_eq!(
            t.del_backend("new"),
            Err(TableError::BackendHasServers {
                name: "new".into(),
                servers: 1
            })
        );
        assert_eq!(t.del_server("new", "x"), Ok(g + 1));
        let t_gen = g + 1;
        // Busy while a queued connection waits.
        let ticket = t.load().backend("new").expect("new").enqueue();
        assert_eq!(
            t.del_backend("new"),
            Err(TableError::BackendBusy {
                name: "new".into(),
                conns: 0,
                queued: 1
            })
        );
        drop(ticket);
        assert_eq!(t.del_backend("new"), Ok(t_gen + 1));
        let s = t.load();
        assert!(s.backend("new").is_none() && s.backend_by_id(2).is_none());
        assert_eq!(s.backend_by_id(1).map(|b| &*b.name), Some("app"));
        assert_eq!(
            t.publish("new"),
            Err(TableError::NoSuchBackend { name: "new".into() })
        );
    }

    #[test]
    fn runtime_state_is_shared_across_snapshots() {
        let t = tables();
        let old = t.load_full();
        t.add_server("app", &ServerConfig::new("s3", addr(8003)))
            .expect("add");
        t.set_admin("app", "s1", AdminState::Drain).expect("admin");
        t.set_oper("app", "s2", OperState::Down).expect("oper");
        let s2 = old.server("app", "s2").expect("s2");
        assert_eq!(s2.set_oper(OperState::Down), OperState::Down, "no transition");
        assert_eq!(s2.set_admin(AdminState::Maint), AdminState::Ready);
        assert_eq!(s2.set_admin(AdminState::Ready), AdminState::Maint);
        t.set_maxconn("app", "s1", 7).expect("maxconn");
        let s1 = old.server("app", "s1").expect("s1");
        assert_eq!((s1.admin(), s1.maxconn()), (AdminState::Drain, 7));
        assert_eq!(old.server("app", "s2").expect("s2").oper(), OperState::Down);
        assert!(t
            .load()
            .backend("app")
            .expect("app")
            .same_as(old.backend("app").expect("app")));
        assert_eq!(
            t.set_admin("app", "zz", AdminState::Maint),
            Err(TableError::NoSuchServer {
                backend: "app".into(),
                server: "zz".into()
            })
        );
    }

    #[test]
    fn set_weight_table() {
        let t = tables();
        t.add_server(
            "app",
            &ServerConfig {
                weight: 10,
                ..ServerConfig::new("w10", addr(9))
            },
        )
        .expect("add");
        let cases = [
            (WeightChange::Absolute(0), Ok(0)),
            (WeightChange::Absolute(256), Ok(256)),
            (
                WeightChange::Absolute(257),
                Err(TableError::WeightOutOfRange {
                    weight: 257,
                    max: 256,
                }),
            ),
            (WeightChange::Percent(50), Ok(5)),
            (WeightChange::Percent(100), Ok(10)),
            (WeightChange::Percent(10_000), Ok(256)),
            (WeightChange::Percent(u32::MAX), Ok(256)),
            (WeightChange::Percent(0), Ok(0)),
        ];
        for (change, want) in cases {
            assert_eq!(t.set_weight("app", "w10", change), want, "{change:?}");
            if let Ok(w) = want {
                assert_eq!(t.load().server("app", "w10").expect("w10").weight(), w);
            }
        }
    }

    #[test]
    fn static_rr_accepts_only_zero_and_initial() {
        let mut b = BackendConfig::new("st");
        b.balance = Balance::StaticRr;
        b.servers = vec![ServerConfig {
            weight: 4,
            ..ServerConfig::new("s", addr(1))
        }];
        let t = Tables::new(Snapshot::from_config(1, &[b]).expect("valid"));
        assert_eq!(t.set_weight("st", "s", WeightChange::Percent(0)), Ok(0));
        assert_eq!(t.set_weight("st", "s", WeightChange::Percent(100)), Ok(4));
        assert_eq!(t.set_weight("st", "s", WeightChange::Absolute(4)), Ok(4));
        assert_eq!(
            t.set_weight("st", "s", WeightChange::Absolute(3)),
            Err(TableError::StaticWeight {
                backend: "st".into(),
                weight: 3,
                initial: 4
            })
        );
        assert_eq!(
            t.load().server("st", "s").expect("s").weight(),
            4,
            "refused change left the weight"
        );
    }

    #[test]
    fn set_addr_swaps_and_keeps_runtime() {
        let t = tables();
        let old = t.load_full();
        t.set_admin("app", "s1", AdminState::Maint).expect("admin");
        assert_eq!(t.set_addr("app", "s1", IpAddr::from([10, 0, 0, 1]), None), Ok(1));
        assert_eq!(
            t.set_addr("app", "s1", IpAddr::from([10, 0, 0, 2]), Some(9000)),
            Ok(2)
        );
        let new = t.load();
        let (a, b) = (
            old.server("app", "s1").expect("old"),
            new.server("app", "s1").expect("new"),
        );
        assert_eq!(a.addr, addr(8001), "the old snapshot keeps the old address");
        assert_eq!(b.addr, SocketAddr::from(([10, 0, 0, 2], 9000)));
        assert!(a.same_as(b));
        assert_eq!(b.admin(), AdminState::Maint);
        assert_eq!(
            t.set_addr("app", "x", IpAddr::from([1, 1, 1, 1]), None),
            Err(TableError::NoSuchServer {
                backend: "app".into(),
                server: "x".into()
            })
        );
    }

    #[test]
    fn update_is_all_or_nothing() {
        let t = tables();
        let before = t.load_full();
        // The first change is valid, the second is not: nothing is published.
        let r = t.update(|s| {
            s.with_server("app", &ServerConfig::new("s9", addr(9)))?
                .with_server("nope", &ServerConfig::new("s9", addr(9)))
        });
        assert_eq!(r, Err(TableError::NoSuchBackend { name: "nope".into() }));
        let after = t.load_full();
        assert!(Arc::ptr_eq(&before, &after));
        assert!(after.server("app", "s9").is_err());
    }

    #[test]
    fn clear_counters_resets_max_then_totals() {
        let t = tables();
        let snap = t.load_full();
        let b = snap.backend("app").expect("app");
        let mut lb = crate::balance::LbState::with_seed(0, 1);
        let held: Vec<_> = (0..3).map(|_| b.pick(&mut lb, None, None)).collect();
        drop(held);
        let s1 = snap.server("app", "s1").expect("s1");
        assert_eq!((b.conns().max(), s1.conns().max()), (3, 2));
        snap.clear_counters(false);
        assert_eq!((b.conns().max(), s1.conns().max()), (0, 0));
        assert_eq!(b.counters().get(Counter::Sessions), 3, "totals kept");
        snap.clear_counters(true);
        assert_eq!(b.counters().get(Counter::Sessions), 0);
        assert_eq!(s1.counters().get(Counter::Selected), 0);
    }

    #[test]
    fn store_raises_generation() {
        let t = tables();
        assert_eq!(t.store(Snapshot::new(1)), 1);
        assert_eq!(t.load().generation(), 1);
        assert!(t.load().backends().is_empty());
    }

    #[test]
    fn too_many_backends_refused() {
        let cfgs: Vec<_> = (0..BACKENDS_MAX)
            .map(|i| BackendConfig::new(format!("b{i}")))
            .collect();
        let s = Snapshot::from_config(1, &cfgs).expect("at the limit");
        assert_eq!(
            s.with_backend(&BackendConfig::new("one-more")).map(|_| ()),
            Err(TableError::TooManyBackends { max: BACKENDS_MAX })
        );
    }
}
