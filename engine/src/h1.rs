//! HTTP/1.1 mode on the engine loop: one client connection, requests handled one at a
//! time (pipelined ones wait in the receive buffer and are answered in order), each
//! routed to a backend, sent over a new or a reused server connection of this thread,
//! and its response relayed back with the framing the parser decided.
//!
//! Four buffers per connection: client receive (`crx`), client send (`ctx`: rewritten
//! response heads, local answers, small bodies), server receive (`srx`) and server send
//! (`stx`: the rewritten request head and a small body). Bodies larger than what fits
//! after a head are sent straight from the receive buffer they arrived in, validated
//! (chunked) or counted (Content-Length) on the way; nothing ambiguous is forwarded.
//!
//! Per request: the frontend's `http-request` rules, `use_backend`/`default_backend`
//! ([`crate::rules`]), the backend's `http-request` rules and `option forwardfor`, then
//! a server from the backend's balancer: an idle connection of this thread's
//! [`ServerPool`] when `http-reuse` allows (`safe`: not for a client connection's first
//! request), else a new one with the TCP mode's retry/redispatch rules. A reused
//! connection the server had closed is replayed once on a new one when the whole request
//! is still in `stx`. The response gets the backend's then the frontend's
//! `http-response` rules. `Connection` is rewritten on both sides for the connection mode
//! (`http-keep-alive`, `http-server-close`, `httpclose`) and HTTP/1.0 peers; a `101` (or a
//! 2xx to `CONNECT`) turns the connection into a [`crate::tcp::TcpConn`] tunnel. Each
//! finished request writes one access log line (`option httplog`, `log-format`) with
//! HAProxy's timers and termination state.
//!
//! Errors answer HAProxy's pages ([`crate::http::errors`]) or the frontend's `errorfile`:
//! 400 (malformed, ambiguous or too large head, bad chunk: never forwarded), 408
//! (`timeout http-request`), 502 (invalid or missing response), 503 (no usable server,
//! connect failures after retries), 504 (`timeout server`). A graceful stop closes idle
//! keep-alive connections and answers the requests in progress with `Connection: close`.
//!
//! Nothing allocates per request: heads are parsed in place, rewritten into one reused
//! scratch `Vec`, and the rules keep their own reused scratch.
//!
//! What this module does not do: TLS, HTTP/2, compression, caching, `tarpit` delays
//! (answered at once), `option abortonclose`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant, SystemTime};

use crate::counters::Counter;
use crate::http::write::{self, HeaderEdit};
use crate::http::{
    errors, BodyKind, ChunkError, ChunkedDecoder, Limits, Method, RequestHead, ResponseHead, Status, Version,
};
use crate::plan::{ConnMode, FrontendPlan, HttpPlan, Reuse, RulesRef};
use crate::rules::{self, RequestVerdict, RequestView, ResponseVerdict, ResponseView};
use crate::sys;
use crate::table::BackendSettings;
use crate::tcp::Phase;
use crate::uring::IoBuf;
use crate::worker::{
    ud, Conn, CounterSet, Proto, Worker, RETRIES_MAX, TAG_CANCEL, TAG_CONNECT, TAG_CONNECT_TIMEOUT,
    TAG_C_RECV, TAG_C_SEND, TAG_S_RECV, TAG_S_SEND,
};

/// Steps one event may drive a connection through (parse, route, submit...): a pipelined
/// burst is served over several events rather than starving the other connections.
pub const STEPS_PER_EVENT_MAX: usize = 64;

/// Idle server connections one thread keeps for reuse: beyond this a finished server
/// connection is closed (each costs one fd of the 20,000 the process may hold).
pub const IDLE_SERVERS_PER_THREAD_MAX: usize = 1024;

/// How long an idle server connection stays reusable: servers commonly close idle
/// keep-alive connections after 5 s or more; a reuse that finds one closed anyway is
/// retried on a new connection when the request can be replayed.
pub const IDLE_SERVER_TTL: Duration = Duration::from_secs(4);

/// Idle connections one thread keeps per server: enough for the bursts of one core,
/// small enough that a server does not see thousands of idle connections from us.
pub const IDLE_SERVERS_PER_SERVER_MAX: usize = 64;

const _: () = assert!(IDLE_SERVERS_PER_SERVER_MAX <= IDLE_SERVERS_PER_THREAD_MAX);

/// At a graceful stop, keep-alive connections idle for less than this may be about to
/// carry a request (the client cannot know we are closing): they get until then, and a
/// request arriving meanwhile is answered with `Connection: close`. Closing them at once
/// loses requests in flight on reloads under load.
pub const STOP_IDLE_GRACE: Duration = Duration::from_millis(200);

/// Extra headers one request gets from the proxy (Connection, forwardfor, rules).
pub const REQUEST_EDITS_MAX: usize = 8;

/// Idle server connections of one thread, by server address.
#[derive(Default)]
pub struct ServerPool {
    idle: HashMap<SocketAddr, Vec<(OwnedFd, Instant)>>,
    count: usize,
}

impl ServerPool {
    /// Keeps `fd` (connected to `addr`, nothing in flight) for reuse; false if full.
    pub fn put(&mut self, addr: SocketAddr, fd: OwnedFd, now: Instant) -> bool {
        let list = self.idle.entry(addr).or_default();
        // Oldest first: drop the expired ones, then the oldest if this server has too many.
        let expired = list
            .iter()
            .take_while(|(_, since)| now.saturating_duration_since(*since) >= IDLE_SERVER_TTL)
            .count();
        let over = (list.len() - expired + 1).saturating_sub(IDLE_SERVERS_PER_SERVER_MAX);
        let drop_n = expired + over;
        if drop_n > 0 {
            list.drain(..drop_n.min(list.len()));
            self.count -= drop_n.min(self.count);
        }
        if self.count >= IDLE_SERVERS_PER_THREAD_MAX {
            return false;
        }
        list.push((fd, now));
        self.count += 1;
        debug_assert!(list.len() <= IDLE_SERVERS_PER_SERVER_MAX);
        true
    }

    /// The most recently used idle connection to `addr` that is young enough.
    pub fn take(&mut self, addr: SocketAddr, now: Instant) -> Option<OwnedFd> {
        let list = self.idle.get_mut(&addr)?;
        while let Some((fd, since)) = list.pop() {
            self.count -= 1;
            if now.saturating_duration_since(since) < IDLE_SERVER_TTL {
                return Some(fd);
            }
            // Too old: dropped (closed) here, nothing is in flight on it.
        }
        None
    }

    /// Idle connections held.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no idle connection is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// A buffer and the bytes it holds (`start..end`).
struct Buf {
    io: IoBuf,
    start: usize,
    end: usize,
}

impl Buf {
    fn new(io: IoBuf) -> Buf {
        Buf { io, start: 0, end: 0 }
    }
    fn is_empty(&self) -> bool {
        self.start >= self.end
    }
    fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }
    fn cap(&self) -> usize {
        self.io.len()
    }
    /// Appends `data` if it fits; false otherwise (nothing written).
    fn push(&mut self, data: &[u8]) -> bool {
        let end = self.end + data.len();
        match self.io.get_mut(self.end, end) {
            Some(dst) => {
                dst.copy_from_slice(data);
                self.end = end;
                true
            }
            None => false,
        }
    }
    fn room(&self) -> usize {
        self.cap().saturating_sub(self.end)
    }
}

/// How the rest of a body is delimited.
#[derive(Debug, Clone)]
enum Framing {
    Len(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

impl Framing {
    fn of(kind: BodyKind) -> Option<Framing> {
        match kind {
            BodyKind::None => None,
            BodyKind::ContentLength(n) => Some(Framing::Len(n)),
            BodyKind::Chunked => Some(Framing::Chunked(ChunkedDecoder::new())),
            BodyKind::CloseDelimited | BodyKind::Tunnel => Some(Framing::UntilClose),
        }
    }

    /// Takes body bytes from the front of `data`: how many belong to the body, and
    /// whether the body ended there.
    fn advance(&mut self, data: &[u8]) -> Result<(usize, bool), ChunkError> {
        match self {
            Framing::Len(left) => {
                let n = usize::try_from(*left).unwrap_or(usize::MAX).min(data.len());
                *left -= n as u64;
                Ok((n, *left == 0))
            }
            Framing::Chunked(d) => {
                let (used, _) = d.validate(data)?;
                Ok((used, d.is_done()))
            }
            Framing::UntilClose => Ok((data.len(), false)),
        }
    }
}

/// Where one side of a message stands.
#[derive(Debug, Clone)]
enum Msg {
    /// No message expected (response side between transactions).
    Idle,
    /// Waiting for (the rest of) a head.
    Head,
    /// Relaying the body.
    Body(Framing),
    /// Finished.
    Done,
}

/// Which buffer a send drains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    /// The side's own send buffer (`ctx` or `stx`).
    Tx,
    /// The other side's receive buffer (`srx` or `crx`).
    Rx,
}

/// HTTP state of one client connection.
pub struct HttpConn {
    /// Accepted client socket.
    pub client: OwnedFd,
    /// Server socket of the current request, if any.
    pub server: Option<OwnedFd>,
    /// Address of the current connect (the kernel reads it at submission).
    pub server_addr: sys::RawSockAddr,
    /// Server-side phase: `Connecting` also means "no server yet"; `Closing` is the
    /// whole connection's end.
    pub phase: Phase,
    /// Last read or write on the client socket.
    pub client_active: Instant,
    /// Last read or write on the server socket (or connect start).
    pub server_active: Instant,
    crx: Buf,
    ctx: Buf,
    srx: Buf,
    stx: Buf,
    /// End of request body bytes in `crx` cleared for sending (`crx.start..cfwd`).
    cfwd: usize,
    /// End of response body bytes in `srx` cleared for sending (`srx.start..sfwd`).
    sfwd: usize,
    c_recv: bool,
    c_send: Option<Src>,
    s_recv: bool,
    s_send: Option<Src>,
    c_eof: bool,
    s_eof: bool,
    /// A connect on `server` is in flight.
    pub(crate) connect_pending: bool,
    /// A send to the server failed: the rest of the request is discarded.
    s_send_failed: bool,
    /// The server socket is being cancelled; dropped once its operations complete.
    s_dropping: bool,
    req: RequestHead,
    resp: ResponseHead,
    req_st: Msg,
    resp_st: Msg,
    method: Method,
    version: Version,
    keep_client: bool,
    keep_server: bool,
    /// Requests seen on this connection.
    requests: u64,
    /// The server connection came from the idle pool.
    reused: bool,
    /// The pool may not be used for this request (a reuse already failed).
    no_reuse: bool,
    /// A response byte arrived for this request.
    resp_seen: bool,
    /// The whole request is in `stx`: it can be replayed on a new connection.
    replayable: bool,
    /// First byte of the current request head.
    head_since: Option<Instant>,
    /// End of the previous transaction (or accept).
    idle_since: Instant,
    /// Status of the current response, 0 before one.
    status: u16,
    /// Graceful stop: close at this instant if still idle.
    stop_at: Option<Instant>,
    /// The request asked for a protocol upgrade (`Connection: upgrade` + `Upgrade`).
    wants_upgrade: bool,
    /// The server agreed (101, or 2xx to CONNECT): a tunnel follows this transaction.
    upgraded: bool,
    /// Client address (`src`).
    peer: SocketAddr,
    /// Address the client connected to (`dst`).
    local: SocketAddr,
    /// Timing and accounting of the current transaction, for the access log.
    pub(crate) txn: Txn,
    /// When the connection was accepted (wall clock), for the log's accept date.
    accepted_sys: SystemTime,
    /// When the connection was accepted.
    accepted: Instant,
    /// The request line of the current request, as logged (`%r`), truncated.
    req_line: Vec<u8>,
}

/// What the access log needs of one transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Txn {
    /// A request head was parsed and the transaction is not logged yet.
    pub(crate) open: bool,
    pub(crate) head_done: Option<Instant>,
    pub(crate) connect_start: Option<Instant>,
    pub(crate) connected: Option<Instant>,
    pub(crate) resp_head: Option<Instant>,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    /// HAProxy's termination state (`----`, `SC--`, `CD--`...).
    pub(crate) term: [u8; 4],
}

impl Txn {
    fn new() -> Txn {
        Txn {
            open: false,
            head_done: None,
            connect_start: None,
            connected: None,
            resp_head: None,
            bytes_in: 0,
            bytes_out: 0,
            term: *b"----",
        }
    }

    /// Records why the transaction ends, keeping the first reason.
    fn term(&mut self, t: &[u8; 2]) {
        if self.term == *b"----" {
            self.term = [t[0], t[1], b'-', b'-'];
        }
    }
}

/// Longest request line kept for the log: HAProxy's `tune.http.logurilen` default.
pub const LOG_URI_BYTES_MAX: usize = 1024;

fn ms(from: Option<Instant>, to: Option<Instant>) -> i64 {
    match (from, to) {
        (Some(a), Some(b)) => i64::try_from(b.saturating_duration_since(a).as_millis()).unwrap_or(i64::MAX),
        _ => crate::log::TIME_ABSENT,
    }
}

impl HttpConn {
    fn new(
        client: OwnedFd,
        addrs: (SocketAddr, SocketAddr),
        bufs: [IoBuf; 4],
        limits: &Limits,
        now: Instant,
    ) -> HttpConn {
        let [a, b, c, d] = bufs;
        HttpConn {
            client,
            server: None,
            server_addr: sys::RawSockAddr::empty(),
            phase: Phase::Connecting,
            client_active: now,
            server_active: now,
            crx: Buf::new(a),
            ctx: Buf::new(b),
            srx: Buf::new(c),
            stx: Buf::new(d),
            cfwd: 0,
            sfwd: 0,
            c_recv: false,
            c_send: None,
            s_recv: false,
            s_send: None,
            c_eof: false,
            s_eof: false,
            connect_pending: false,
            s_send_failed: false,
            s_dropping: false,
            req: RequestHead::new(limits),
            resp: ResponseHead::new(limits),
            req_st: Msg::Head,
            resp_st: Msg::Idle,
            method: Method::Get,
            version: Version::Http11,
            keep_client: true,
            keep_server: true,
            requests: 0,
            reused: false,
            no_reuse: false,
            resp_seen: false,
            replayable: false,
            head_since: None,
            idle_since: now,
            status: 0,
            stop_at: None,
            wants_upgrade: false,
            upgraded: false,
            peer: addrs.0,
            local: addrs.1,
            txn: Txn::new(),
            accepted_sys: SystemTime::now(),
            accepted: now,
            req_line: Vec::new(),
        }
    }

    /// Gives back the buffers (only when nothing is in flight).
    pub fn into_bufs(self, out: &mut Vec<IoBuf>) {
        debug_assert!(!self.c_recv && !self.s_recv && self.c_send.is_none() && self.s_send.is_none());
        out.push(self.crx.io);
        out.push(self.ctx.io);
        out.push(self.srx.io);
        out.push(self.stx.io);
    }

    /// Buffer bookkeeping that must hold between events.
    fn check(&self) {
        debug_assert!(
            self.crx.start <= self.cfwd && self.cfwd <= self.crx.end && self.crx.end <= self.crx.cap()
        );
        debug_assert!(
            self.srx.start <= self.sfwd && self.sfwd <= self.srx.end && self.srx.end <= self.srx.cap()
        );
        debug_assert!(self.ctx.start <= self.ctx.end && self.stx.start <= self.stx.end);
        debug_assert!(!(self.c_recv && self.s_send == Some(Src::Rx)), "crx lent twice");
        debug_assert!(!(self.s_recv && self.c_send == Some(Src::Rx)), "srx lent twice");
        debug_assert!(
            self.server.is_some() || !(self.s_recv || self.s_send.is_some()),
            "server ops without a server"
        );
    }

    /// Idle between requests: no transaction, no request byte received.
    fn idle(&self) -> bool {
        matches!(self.req_st, Msg::Head) && matches!(self.resp_st, Msg::Idle) && self.crx.is_empty()
    }

    /// No response byte was sent to the client for this request yet.
    fn answer_untouched(&self) -> bool {
        matches!(self.resp_st, Msg::Head | Msg::Idle) && self.ctx.is_empty() && self.c_send.is_none()
    }

    /// When the current wait times out, given the frontend's and backend's timeouts.
    pub fn deadline(&self, fe: &FrontendPlan, be: Option<&BackendSettings>) -> Option<Instant> {
        match self.phase {
            Phase::WaitRetry(at) => return Some(at),
            Phase::Closing => return None,
            _ => {}
        }
        let client = fe.timeout_client;
        let server = be.and_then(|b| b.timeout_server);
        if matches!(self.req_st, Msg::Head) && matches!(self.resp_st, Msg::Idle) {
            let hr = fe.http.timeout_http_request.or(client);
            return match self.head_since {
                None if self.requests > 0 => {
                    let ka = fe.http.timeout_http_keep_alive.or(hr);
                    let at = ka.map(|t| self.idle_since + t);
                    match (at, self.stop_at) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    }
                }
                since => {
                    let at = hr.map(|t| since.unwrap_or(self.idle_since) + t);
                    match (at, self.stop_at.filter(|_| since.is_none())) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    }
                }
            };
        }
        if self.server.is_some() && matches!(self.resp_st, Msg::Head) && matches!(self.req_st, Msg::Done) {
            return server.or(client).map(|t| self.server_active + t);
        }
        if self.server.is_none() && matches!(self.phase, Phase::Connecting) {
            // Connecting (the linked timeout bounds it) or answering locally.
            return client.map(|t| self.client_active + t);
        }
        let c = client.map(|t| self.client_active + t);
        let s = if self.server.is_some() {
            server.map(|t| self.server_active + t)
        } else {
            None
        };
        match (c, s) {
            (Some(c), Some(s)) => Some(c.min(s)),
            (c, s) => c.or(s),
        }
    }
}

/// Status line reason for local answers.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Writes a local answer (`http-request return`) into `out`.
pub fn local_response(status: u16, content_type: Option<&str>, body: &[u8], close: bool, out: &mut Vec<u8>) {
    use std::io::Write;
    out.clear();
    let _ = write!(out, "HTTP/1.1 {status} {}\r\n", reason(status));
    if let Some(ct) = content_type {
        let _ = write!(out, "content-type: {ct}\r\n");
    }
    let _ = write!(out, "content-length: {}\r\n", body.len());
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

fn status_class(status: u16) -> usize {
    match status {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        500..=599 => 4,
        _ => 5,
    }
}

fn in_network(ip: IpAddr, net: (IpAddr, u8)) -> bool {
    match (ip, net.0) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let bits = u32::from(net.1.min(32));
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let bits = u32::from(net.1.min(128));
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn http_mut(conn: &mut Conn) -> Option<&mut HttpConn> {
    match &mut conn.proto {
        Proto::Http(h) => Some(h),
        Proto::Tcp(_) => None,
    }
}

/// What the request-head step decided.
enum HeadOutcome {
    /// Route to the backend set in the connection.
    Route,
    /// Answer locally with `head_out`'s bytes (this status).
    Local(u16),
    /// Answer this error status.
    Error(u16),
    /// Nothing to do now.
    Wait,
    /// Close the connection.
    Close,
}

impl Worker {
    fn fe_http(&self, frontend: usize) -> Option<&HttpPlan> {
        self.shared.plan.frontends.get(frontend).map(|f| &f.http)
    }

    /// Accepts an HTTP client connection: waits for its first request.
    pub(crate) fn h1_new_conn(&mut self, frontend: usize, fd: OwnedFd) {
        let Some(fe_counters) = self.shared.fe_counters_for(frontend).cloned() else {
            return;
        };
        let limits = self.fe_http(frontend).map(|h| h.limits.0).unwrap_or_default();
        let unspec = SocketAddr::from(([0, 0, 0, 0], 0));
        let peer = sys::peer_addr(fd.as_fd_borrowed()).ok();
        let local = sys::local_addr(fd.as_fd_borrowed()).unwrap_or(unspec);
        let client_ip = peer.map(|a| a.ip());
        let bufs = [self.take_buf(), self.take_buf(), self.take_buf(), self.take_buf()];
        let fe_conn = fe_counters.accept(self.thread);
        let id = self.next_conn_id();
        let h = HttpConn::new(fd, (peer.unwrap_or(unspec), local), bufs, &limits, self.now);
        let conn = Box::new(Conn {
            id,
            frontend,
            fe_conn,
            backend: None,
            slot: None,
            queue: None,
            client_ip,
            redispatch_pending: false,
            retries_left: 0,
            inflight: 0,
            timer_at: None,
            tcp_log: None,
            proto: Proto::Http(Box::new(h)),
        });
        let key = self.conns.insert(conn);
        CounterSet::add(&self.counters.global.conns_cur, 1);
        CounterSet::add(&self.counters.global.conns_total, 1);
        self.h1_pump(key);
        self.arm_timer(key);
    }

    /// Applies one completion of an HTTP connection.
    pub(crate) fn h1_event(&mut self, key: usize, tag: u64, result: i32) {
        let now = self.now;
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let fe_conn = &conn.fe_conn;
        let slot = conn.slot.as_ref();
        let Proto::Http(h) = &mut conn.proto else {
            return;
        };
        let closing = h.phase == Phase::Closing;
        match tag {
            TAG_CANCEL | TAG_CONNECT_TIMEOUT => return,
            TAG_C_RECV => {
                debug_assert!(h.c_recv);
                h.c_recv = false;
                h.crx.io.complete();
                if closing {
                    return;
                }
                h.client_active = now;
                if result > 0 {
                    let n = result as usize;
                    h.crx.end = (h.crx.end + n).min(h.crx.cap());
                    if h.head_since.is_none() && matches!(h.req_st, Msg::Head) {
                        h.head_since = Some(now);
                    }
                    h.txn.bytes_in += n as u64;
                    fe_conn.add(Counter::BytesIn, n as u64);
                    CounterSet::add(&self.counters.global.bytes_in, n as u64);
                    if let Some(s) = slot {
                        s.add(Counter::BytesIn, n as u64);
                    }
                } else if result == 0 || result == -libc::ECONNRESET {
                    h.c_eof = true;
                } else {
                    self.count(|s| CounterSet::add(&s.client_aborts, 1));
                    self.close(key);
                    return;
                }
            }
            TAG_C_SEND => {
                let src = h.c_send.take();
                debug_assert!(src.is_some());
                match src {
                    Some(Src::Tx) => h.ctx.io.complete(),
                    _ => h.srx.io.complete(),
                }
                if closing {
                    return;
                }
                if result <= 0 {
                    h.txn.term(b"CD");
                    self.count(|s| CounterSet::add(&s.client_aborts, 1));
                    self.count_server(key, Counter::ClientAborts, 1);
                    self.close(key);
                    return;
                }
                h.client_active = now;
                let n = result as usize;
                h.txn.bytes_out += n as u64;
                match src {
                    Some(Src::Tx) => h.ctx.start = (h.ctx.start + n).min(h.ctx.end),
                    _ => h.srx.start = (h.srx.start + n).min(h.sfwd),
                }
                if h.ctx.is_empty() {
                    h.ctx.clear();
                }
            }
            TAG_S_RECV => {
                debug_assert!(h.s_recv);
                h.s_recv = false;
                h.srx.io.complete();
                if closing {
                    return;
                }
                if h.s_dropping {
                    self.h1_server_dropped(key);
                    self.h1_pump(key);
                    return;
                }
                h.server_active = now;
                if result > 0 {
                    let n = result as usize;
                    h.srx.end = (h.srx.end + n).min(h.srx.cap());
                    h.resp_seen = true;
                    fe_conn.add(Counter::BytesOut, n as u64);
                    CounterSet::add(&self.counters.global.bytes_out, n as u64);
                    if let Some(s) = slot {
                        s.add(Counter::BytesOut, n as u64);
                    }
                } else {
                    h.s_eof = true;
                }
            }
            TAG_S_SEND => {
                let src = h.s_send.take();
                debug_assert!(src.is_some());
                match src {
                    Some(Src::Tx) => h.stx.io.complete(),
                    _ => h.crx.io.complete(),
                }
                if closing {
                    return;
                }
                if h.s_dropping {
                    self.h1_server_dropped(key);
                    self.h1_pump(key);
                    return;
                }
                if result <= 0 {
                    // The server stopped reading: what is left of the request is dropped
                    // (its response, if any, still comes), and neither side is reused.
                    h.s_eof = true;
                    h.s_send_failed = true;
                    h.keep_client = false;
                    h.keep_server = false;
                } else {
                    h.server_active = now;
                    let n = result as usize;
                    match src {
                        Some(Src::Tx) => h.stx.start = (h.stx.start + n).min(h.stx.end),
                        _ => h.crx.start = (h.crx.start + n).min(h.cfwd),
                    }
                }
            }
            TAG_CONNECT => {
                if closing {
                    h.connect_pending = false;
                    return;
                }
                h.connect_pending = false;
                if h.s_dropping {
                    self.h1_server_dropped(key);
                    self.h1_pump(key);
                    return;
                }
                if result != 0 {
                    self.connect_failed(key, result);
                    self.h1_pump(key);
                    return;
                }
                h.phase = Phase::Established;
                h.server_active = now;
                h.txn.connected = Some(now);
            }
            _ => {
                debug_assert!(false, "unknown tag {tag}");
                return;
            }
        }
        self.h1_pump(key);
    }

    /// Finishes dropping a cancelled server socket once nothing is in flight on it.
    fn h1_server_dropped(&mut self, key: usize) {
        let Some(h) = self.conns.get_mut(key).and_then(|c| http_mut(c)) else {
            return;
        };
        if h.s_recv || h.s_send.is_some() || h.connect_pending {
            return;
        }
        h.s_dropping = false;
        h.server = None;
        h.srx.clear();
        h.stx.clear();
        h.sfwd = 0;
        if h.phase == Phase::Established {
            h.phase = Phase::Connecting;
        }
    }

    /// Lets go of the server connection: back to the pool when `reuse` allows and it is
    /// clean, else closed (cancelling what is in flight first).
    fn h1_release_server(&mut self, key: usize, reuse: bool) {
        let now = self.now;
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let addr = conn.slot.as_ref().map(|s| s.addr());
        conn.slot = None;
        let Proto::Http(h) = &mut conn.proto else {
            return;
        };
        if matches!(h.phase, Phase::WaitRetry(_)) {
            h.phase = Phase::Connecting;
        }
        if h.server.is_none() || h.s_dropping {
            return;
        }
        if h.s_recv || h.s_send.is_some() || h.connect_pending {
            if let Some(fd) = &h.server {
                if self.ring.cancel_fd(fd.as_raw_fd(), ud(key, TAG_CANCEL)).is_ok() {
                    conn.inflight += 1;
                } else {
                    let _ = sys::shutdown_both(fd.as_fd_borrowed());
                }
            }
            h.s_dropping = true;
            return;
        }
        let clean = reuse && !h.s_eof && h.srx.is_empty() && h.phase == Phase::Established;
        if let (Some(fd), true, Some(addr)) = (h.server.take(), clean, addr) {
            let _ = self.idle_servers.put(addr, fd, now);
        }
        h.server = None;
        h.srx.clear();
        h.stx.clear();
        h.sfwd = 0;
        h.phase = Phase::Connecting;
    }

    /// Before connecting: takes an idle connection to the chosen server when allowed.
    pub(crate) fn h1_try_reuse(&mut self, key: usize) -> bool {
        let now = self.now;
        let Some(conn) = self.conns.get_mut(key) else {
            return false;
        };
        let reuse = match self.shared.plan.frontends.get(conn.frontend) {
            Some(fe) => fe.http.reuse,
            None => return false,
        };
        let Some(addr) = conn.slot.as_ref().map(|s| s.addr()) else {
            return false;
        };
        let Proto::Http(h) = &mut conn.proto else {
            return false;
        };
        let allowed = match reuse {
            Reuse::Never => false,
            Reuse::Safe => h.requests > 1,
            Reuse::Always => true,
        };
        if !allowed || h.no_reuse || h.server.is_some() {
            return false;
        }
        let Some(fd) = self.idle_servers.take(addr, now) else {
            return false;
        };
        h.server = Some(fd);
        h.phase = Phase::Established;
        h.server_active = now;
        h.reused = true;
        h.txn.connect_start.get_or_insert(now);
        h.txn.connected = Some(now);
        true
    }

    /// No server can take the request (none usable, queue timeout, connect failures).
    pub(crate) fn h1_no_server(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            conn.queue = None;
            if let Some(h) = http_mut(conn) {
                if h.phase != Phase::Closing {
                    h.phase = Phase::Connecting;
                }
            }
        }
        self.h1_error(key, 503);
    }

    /// Answers `status` with HAProxy's body (or the frontend's errorfile) when no response
    /// byte went out yet, else closes.
    fn h1_error(&mut self, key: usize, status: u16) {
        let Some(conn) = self.conns.get(key) else {
            return;
        };
        let fe = conn.frontend;
        let Proto::Http(h) = &conn.proto else {
            return;
        };
        if !h.answer_untouched() {
            self.close(key);
            return;
        }
        let connected = h.txn.connected.is_some();
        let close = errors::always_closes(status) || !matches!(h.req_st, Msg::Done) || !h.keep_client;
        let be_file = conn
            .backend
            .as_ref()
            .and_then(|b| self.shared.plan.backend_errorfiles.get(&*b.name))
            .and_then(|files| files.iter().find(|(s, _)| *s == status));
        let fe_file = self
            .fe_http(fe)
            .and_then(|p| p.errorfiles.iter().find(|(s, _)| *s == status));
        let custom = be_file.or(fe_file).map(|(_, b)| b.clone());
        self.head_out.clear();
        match custom {
            Some(b) => self.head_out.extend_from_slice(&b),
            None => self
                .head_out
                .extend_from_slice(errors::default_response(status, close)),
        }
        if let Some(h) = self.conns.get_mut(key).and_then(|c| http_mut(c)) {
            let term = match status {
                408 => b"cR",
                503 if connected => b"SH",
                503 => b"SC",
                504 => b"sH",
                502 => b"PH",
                _ => b"PR",
            };
            h.txn.term(term);
        }
        self.h1_local(key, status, close);
    }

    /// Sends `head_out` as this request's whole answer; the server side is let go.
    fn h1_local(&mut self, key: usize, status: u16, close: bool) {
        self.h1_release_server(key, false);
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let Proto::Http(h) = &mut conn.proto else {
            return;
        };
        debug_assert!(h.answer_untouched(), "local answer after response bytes");
        h.ctx.clear();
        let n = self.head_out.len().min(h.ctx.cap());
        let _ = h.ctx.push(self.head_out.get(..n).unwrap_or(&[]));
        let body_left = !matches!(h.req_st, Msg::Done) || h.crx.start < h.cfwd;
        h.keep_client = h.keep_client && !close && !body_left;
        h.req_st = Msg::Done;
        h.cfwd = h.crx.start;
        h.resp_st = Msg::Done;
        h.status = status;
        h.replayable = false;
        if !h.s_dropping {
            h.stx.clear();
        }
        if let Some(c) = self.counters.global.http_responses.get(status_class(status)) {
            CounterSet::add(c, 1);
        }
    }

    /// A timeout fired on an HTTP connection.
    pub(crate) fn h1_timeout(&mut self, key: usize) {
        let Some(conn) = self.conns.get(key) else {
            return;
        };
        let Proto::Http(h) = &conn.proto else {
            return;
        };
        if matches!(h.req_st, Msg::Head) && matches!(h.resp_st, Msg::Idle) {
            let stop_due = h.stop_at.is_some_and(|t| t <= self.now);
            if h.idle() && (h.requests > 0 || stop_due) {
                self.close(key);
            } else {
                self.h1_error(key, 408);
            }
        } else if matches!(h.resp_st, Msg::Head) && h.answer_untouched() {
            self.h1_error(key, 504);
        } else {
            if let Some(h) = self.conns.get_mut(key).and_then(|c| http_mut(c)) {
                let who = if matches!(h.resp_st, Msg::Body(_)) {
                    b"sD"
                } else {
                    b"cD"
                };
                h.txn.term(who);
            }
            self.close(key);
            return;
        }
        self.h1_pump(key);
    }

    /// Graceful stop: idle keep-alive connections close now; busy ones close after
    /// their current response (which then carries `Connection: close`).
    pub(crate) fn h1_stop_idle(&mut self) {
        let now = self.now;
        let mut close = Vec::new();
        let mut later = Vec::new();
        for (k, c) in self.conns.iter_mut() {
            let Proto::Http(h) = &mut c.proto else {
                continue;
            };
            if !(h.idle() && h.c_send.is_none()) {
                continue;
            }
            if now.saturating_duration_since(h.idle_since) >= STOP_IDLE_GRACE {
                close.push(k);
            } else {
                h.stop_at = Some(h.idle_since + STOP_IDLE_GRACE);
                later.push(k);
            }
        }
        for k in close {
            self.close(k);
        }
        for k in later {
            self.arm_timer(k);
        }
        self.idle_servers = ServerPool::default();
    }

    /// Drives the connection as far as it can go, submitting what is needed next.
    pub(crate) fn h1_pump(&mut self, key: usize) {
        for _ in 0..STEPS_PER_EVENT_MAX {
            if !self.h1_step(key) {
                return;
            }
        }
        // Out of steps with work left: the next completion continues it.
    }

    /// One step; true when progress was made and another step may do more.
    fn h1_step(&mut self, key: usize) -> bool {
        let stopping = self.stopping;
        let Some(conn) = self.conns.get_mut(key) else {
            return false;
        };
        let Proto::Http(h) = &mut conn.proto else {
            return false;
        };
        if h.phase == Phase::Closing {
            return false;
        }
        h.check();
        // A new request head.
        if matches!(h.req_st, Msg::Head) && matches!(h.resp_st, Msg::Idle) {
            match self.h1_head(key, stopping) {
                HeadOutcome::Route => {
                    self.route(key, false);
                    return true;
                }
                HeadOutcome::Local(status) => {
                    if let Some(h) = self.conns.get_mut(key).and_then(|c| http_mut(c)) {
                        h.txn.term(b"LR");
                    }
                    // A request body is not read: the connection closes after.
                    self.h1_local(key, status, false);
                    return true;
                }
                HeadOutcome::Error(status) => {
                    if status == 400 {
                        self.h1_request_error(key);
                    } else {
                        if let Some(fe) = self.conns.get(key).map(|c| c.fe_conn.counters()) {
                            if status == 403 {
                                fe.totals.incr(self.thread, Counter::DeniedReq);
                            }
                        }
                        self.h1_error(key, status);
                    }
                    return true;
                }
                HeadOutcome::Wait => return false,
                HeadOutcome::Close => {
                    self.close(key);
                    return false;
                }
            }
        }
        let mut progress = false;
        // Request body: clear newly received bytes for forwarding.
        if let Msg::Body(fr) = &mut h.req_st {
            if !h.c_recv && h.cfwd < h.crx.end {
                let data = h.crx.io.get(h.cfwd, h.crx.end).unwrap_or(&[]);
                match fr.advance(data) {
                    Ok((used, done)) => {
                        h.cfwd += used;
                        if done {
                            h.req_st = Msg::Done;
                        }
                        progress = used > 0 || done;
                    }
                    Err(_) => {
                        CounterSet::add(&self.counters.global.client_aborts, 1);
                        if h.answer_untouched() {
                            self.h1_error(key, 400);
                            return true;
                        }
                        self.close(key);
                        return false;
                    }
                }
            }
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return false;
        };
        let Proto::Http(h) = &mut conn.proto else {
            return false;
        };
        // Server side: send the request (or drop it once the server stopped reading).
        if h.s_send_failed && h.s_send.is_none() && !h.c_recv {
            h.stx.start = h.stx.end;
            h.crx.start = h.crx.start.max(h.cfwd).min(h.crx.end);
            h.cfwd = h.crx.start;
        }
        if h.phase == Phase::Established && h.s_send.is_none() && !h.s_dropping && !h.s_send_failed {
            let srv = h.server.as_ref().map(|s| s.as_raw_fd()).unwrap_or(-1);
            if !h.stx.is_empty() {
                if self
                    .ring
                    .send(srv, &mut h.stx.io, h.stx.start, h.stx.end, ud(key, TAG_S_SEND))
                    .is_err()
                {
                    self.close(key);
                    return false;
                }
                h.s_send = Some(Src::Tx);
                conn.inflight += 1;
            } else if h.crx.start < h.cfwd && !h.c_recv {
                if self
                    .ring
                    .send(srv, &mut h.crx.io, h.crx.start, h.cfwd, ud(key, TAG_S_SEND))
                    .is_err()
                {
                    self.close(key);
                    return false;
                }
                h.s_send = Some(Src::Rx);
                conn.inflight += 1;
            }
        }
        // Request body: need more bytes from the client.
        if matches!(h.req_st, Msg::Body(_))
            && !h.c_recv
            && h.s_send != Some(Src::Rx)
            && h.crx.start >= h.cfwd
            && h.cfwd >= h.crx.end
        {
            if h.c_eof {
                // The client left mid-body.
                h.txn.term(b"CD");
                self.count(|s| CounterSet::add(&s.client_aborts, 1));
                self.count_server(key, Counter::ClientAborts, 1);
                self.close(key);
                return false;
            }
            h.crx.clear();
            h.cfwd = 0;
            if self
                .ring
                .recv_at(h.client.as_raw_fd(), &mut h.crx.io, 0, ud(key, TAG_C_RECV))
                .is_err()
            {
                self.close(key);
                return false;
            }
            h.c_recv = true;
            conn.inflight += 1;
        }
        // Response side.
        match &mut h.resp_st {
            Msg::Head if h.phase == Phase::Established && !h.s_recv && !h.s_dropping => {
                if h.srx.is_empty() {
                    if h.s_eof {
                        return self.h1_server_failed(key);
                    }
                    h.srx.clear();
                    h.sfwd = 0;
                    if self
                        .ring
                        .recv_at(srv_fd(h), &mut h.srx.io, 0, ud(key, TAG_S_RECV))
                        .is_err()
                    {
                        self.close(key);
                        return false;
                    }
                    h.s_recv = true;
                    conn.inflight += 1;
                } else if h.ctx.is_empty() && h.c_send.is_none() {
                    return self.h1_response_head(key, stopping) || progress;
                }
            }
            Msg::Body(fr) => {
                if !h.s_recv && h.sfwd < h.srx.end && h.c_send != Some(Src::Rx) {
                    let data = h.srx.io.get(h.sfwd, h.srx.end).unwrap_or(&[]);
                    match fr.advance(data) {
                        Ok((used, done)) => {
                            h.sfwd += used;
                            if done {
                                h.resp_st = Msg::Done;
                            }
                            progress |= used > 0 || done;
                        }
                        Err(_) => {
                            self.count_server(key, Counter::RespErrors, 1);
                            self.close(key);
                            return false;
                        }
                    }
                }
                if let Msg::Body(fr) = &h.resp_st {
                    if h.s_eof && !h.s_recv && h.sfwd >= h.srx.end {
                        if matches!(fr, Framing::UntilClose) {
                            h.resp_st = Msg::Done;
                            h.keep_client = false;
                            h.keep_server = false;
                            progress = true;
                        } else {
                            // Truncated response: the client must not take it as whole.
                            h.txn.term(b"SD");
                            self.count(|s| CounterSet::add(&s.server_aborts, 1));
                            self.count_server(key, Counter::ServerAborts, 1);
                            self.close(key);
                            return false;
                        }
                    }
                }
            }
            _ => {}
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return false;
        };
        let Proto::Http(h) = &mut conn.proto else {
            return false;
        };
        // Client side: send the response.
        if h.c_send.is_none() {
            let cli = h.client.as_raw_fd();
            if !h.ctx.is_empty() {
                if self
                    .ring
                    .send(cli, &mut h.ctx.io, h.ctx.start, h.ctx.end, ud(key, TAG_C_SEND))
                    .is_err()
                {
                    self.close(key);
                    return false;
                }
                h.c_send = Some(Src::Tx);
                conn.inflight += 1;
            } else if h.srx.start < h.sfwd && !h.s_recv {
                if self
                    .ring
                    .send(cli, &mut h.srx.io, h.srx.start, h.sfwd, ud(key, TAG_C_SEND))
                    .is_err()
                {
                    self.close(key);
                    return false;
                }
                h.c_send = Some(Src::Rx);
                conn.inflight += 1;
            }
        }
        // Response body: need more bytes from the server.
        if matches!(h.resp_st, Msg::Body(_))
            && h.server.is_some()
            && !h.s_recv
            && !h.s_eof
            && !h.s_dropping
            && h.c_send != Some(Src::Rx)
            && h.srx.start >= h.sfwd
            && h.sfwd >= h.srx.end
        {
            h.srx.clear();
            h.sfwd = 0;
            if self
                .ring
                .recv_at(srv_fd(h), &mut h.srx.io, 0, ud(key, TAG_S_RECV))
                .is_err()
            {
                self.close(key);
                return false;
            }
            h.s_recv = true;
            conn.inflight += 1;
        }
        // End of the transaction.
        if matches!(h.req_st, Msg::Done)
            && matches!(h.resp_st, Msg::Done)
            && h.ctx.is_empty()
            && h.c_send.is_none()
            && h.s_send.is_none()
            && !h.s_recv
            && !h.s_dropping
            && h.srx.start >= h.sfwd
            && h.crx.start >= h.cfwd
        {
            self.h1_end(key);
            return true;
        }
        progress
    }

    /// Parses the next request head from `crx` and prepares it; or arms a recv.
    fn h1_head(&mut self, key: usize, stopping: bool) -> HeadOutcome {
        let Some(conn) = self.conns.get_mut(key) else {
            return HeadOutcome::Wait;
        };
        let frontend = conn.frontend;
        let client_ip = conn.client_ip;
        let Some(fe) = self.shared.plan.frontends.get(frontend) else {
            return HeadOutcome::Close;
        };
        let Proto::Http(h) = &mut conn.proto else {
            return HeadOutcome::Wait;
        };
        if h.c_recv {
            return HeadOutcome::Wait;
        }
        if h.crx.is_empty() {
            h.crx.clear();
            h.cfwd = 0;
            if h.c_eof {
                return HeadOutcome::Close;
            }
            if self
                .ring
                .recv_at(h.client.as_raw_fd(), &mut h.crx.io, 0, ud(key, TAG_C_RECV))
                .is_err()
            {
                return HeadOutcome::Close;
            }
            h.c_recv = true;
            conn.inflight += 1;
            return HeadOutcome::Wait;
        }
        let limits = &fe.http.limits.0;
        let data = h.crx.io.get(h.crx.start, h.crx.end).unwrap_or(&[]);
        let n = match h.req.parse(data, limits) {
            Ok(Status::Complete(n)) => n,
            Ok(Status::Incomplete) => {
                if h.c_eof {
                    return HeadOutcome::Close;
                }
                if h.crx.start > 0 {
                    let len = h.crx.end - h.crx.start;
                    if !h.crx.io.shift_to_front(h.crx.start, h.crx.end) {
                        return HeadOutcome::Close;
                    }
                    h.crx.start = 0;
                    h.crx.end = len;
                    h.cfwd = 0;
                }
                if h.crx.room() == 0 {
                    drop_head(h);
                    return HeadOutcome::Error(400);
                }
                if self
                    .ring
                    .recv_at(
                        h.client.as_raw_fd(),
                        &mut h.crx.io,
                        h.crx.end,
                        ud(key, TAG_C_RECV),
                    )
                    .is_err()
                {
                    return HeadOutcome::Close;
                }
                h.c_recv = true;
                conn.inflight += 1;
                return HeadOutcome::Wait;
            }
            Err(_) => {
                drop_head(h);
                return HeadOutcome::Error(400);
            }
        };
        // A complete head: a new transaction.
        let now = self.now;
        h.txn = Txn {
            open: true,
            head_done: Some(now),
            bytes_in: h.txn.bytes_in,
            ..Txn::new()
        };
        h.req_line.clear();
        let line_end = memchr::memchr(b'\n', data)
            .unwrap_or(data.len())
            .min(LOG_URI_BYTES_MAX);
        let line = data.get(..line_end).unwrap_or(&[]);
        h.req_line
            .extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
        h.requests += 1;
        h.method = h.req.method_kind;
        h.version = h.req.version;
        h.wants_upgrade = h.req.wants_upgrade() || h.method == Method::Connect;
        h.upgraded = false;
        h.status = 0;
        h.resp_seen = false;
        h.reused = false;
        h.no_reuse = false;
        let mode = fe.http.conn_mode;
        h.keep_client = h.req.keep_alive() && mode != ConnMode::Close && !stopping;
        h.keep_server = mode == ConnMode::KeepAlive && fe.http.reuse != Reuse::Never;
        CounterSet::add(&self.counters.global.http_requests, 1);
        let body = Framing::of(h.req.body);
        // Rules, then routing.
        let snap = self.shared.tables.load();
        let usable = |n: &str| snap.backend(n).is_some_and(|b| b.published);
        let view = RequestView::new(data, &h.req, h.peer, h.local);
        let scratch = &mut self.rules_scratch;
        scratch.start_request();
        let mut verdict = None;
        let mut backend = None;
        let mut rules_used = false;
        if let Some(RulesRef(r)) = &fe.http.rules {
            rules_used = true;
            match r.http_request(&view, scratch) {
                RequestVerdict::Continue => {}
                RequestVerdict::Deny { status } | RequestVerdict::Tarpit { status } => {
                    verdict = Some(HeadOutcome::Error(status));
                }
                RequestVerdict::Reply { status, response } => {
                    self.head_out.clear();
                    self.head_out.extend_from_slice(response);
                    verdict = Some(HeadOutcome::Local(status));
                }
            }
            if verdict.is_none() {
                if let Some(name) = r.route(&view, &usable, scratch) {
                    backend = snap.backend(name).cloned();
                }
                let be_rules = backend
                    .as_ref()
                    .and_then(|b| self.shared.plan.backend_rules.get(&*b.name));
                if let Some(br) = be_rules {
                    match br.http_request(&view, scratch) {
                        RequestVerdict::Continue => {}
                        RequestVerdict::Deny { status } | RequestVerdict::Tarpit { status } => {
                            verdict = Some(HeadOutcome::Error(status));
                        }
                        RequestVerdict::Reply { status, response } => {
                            self.head_out.clear();
                            self.head_out.extend_from_slice(response);
                            verdict = Some(HeadOutcome::Local(status));
                        }
                    }
                }
                rules::forwarded_for(r, be_rules.map(|b| &**b), &view, scratch);
            }
        } else {
            backend = fe
                .default_backend
                .as_deref()
                .and_then(|name| snap.backend(name))
                .filter(|b| b.published)
                .cloned();
        }
        drop(snap);
        h.crx.start += n;
        h.cfwd = h.crx.start;
        h.req_st = match body {
            Some(f) => Msg::Body(f),
            None => Msg::Done,
        };
        h.resp_st = Msg::Head;
        if let Some(v) = verdict {
            return v;
        }
        // The request head as the server gets it: the rules' edits, then ours.
        let mut own = [HeaderEdit::Del { name: b"" }; REQUEST_EDITS_MAX];
        let mut ne = 0;
        if !h.req.wants_upgrade() {
            own[ne] = HeaderEdit::Del { name: b"Connection" };
            ne += 1;
            if !h.keep_server {
                own[ne] = HeaderEdit::Add {
                    name: b"Connection",
                    value: b"close",
                };
                ne += 1;
            } else if h.version == Version::Http10 {
                own[ne] = HeaderEdit::Add {
                    name: b"Connection",
                    value: b"keep-alive",
                };
                ne += 1;
            }
        }
        let mut ipbuf = [0u8; 64];
        if let (false, Some(ff), Some(ip)) = (rules_used, &fe.http.forwardfor, client_ip) {
            let skip = ff.except.is_some_and(|net| in_network(ip, net))
                || (ff.if_none && h.req.header(data, ff.header.as_bytes()).is_some());
            if !skip {
                own[ne] = HeaderEdit::Add {
                    name: ff.header.as_bytes(),
                    value: write::forwarded_for_value(ip, &mut ipbuf),
                };
                ne += 1;
            }
        }
        let head_out = &mut self.head_out;
        head_out.clear();
        let req = &h.req;
        let written = self.rules_scratch.with_edits(|edits, path| {
            let mut all = [HeaderEdit::Del { name: b"" }; rules::EDITS_MAX + REQUEST_EDITS_MAX];
            let mut k = 0;
            for e in own.iter().take(ne).chain(edits.iter()) {
                if let Some(slot) = all.get_mut(k) {
                    *slot = *e;
                    k += 1;
                }
            }
            write::write_request_head(data, req, path, all.get(..k).unwrap_or(&[]), head_out)
        });
        if written.is_err() {
            return HeadOutcome::Error(500);
        }
        h.stx.clear();
        if !h.stx.push(&self.head_out) {
            return HeadOutcome::Error(400);
        }
        // Body bytes already here: into stx after the head when they fit.
        if let Msg::Body(fr) = &mut h.req_st {
            let data = h.crx.io.get(h.crx.start, h.crx.end).unwrap_or(&[]);
            let mut probe = fr.clone();
            match probe.advance(data) {
                Ok((used, done)) if used <= h.stx.room() => {
                    let bytes = data.get(..used).unwrap_or(&[]);
                    if h.stx.push(bytes) {
                        *fr = probe;
                        h.crx.start += used;
                        h.cfwd = h.crx.start;
                        if done {
                            h.req_st = Msg::Done;
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => return HeadOutcome::Error(400),
            }
        }
        h.replayable = matches!(h.req_st, Msg::Done);
        let Some(be) = backend else {
            return HeadOutcome::Error(503);
        };
        conn.retries_left = be.settings.retries.min(RETRIES_MAX);
        conn.redispatch_pending = false;
        conn.backend = Some(be);
        HeadOutcome::Route
    }

    /// A malformed or ambiguous request: 400 and close, never forwarded.
    fn h1_request_error(&mut self, key: usize) {
        if let Some(h) = self.conns.get_mut(key).and_then(|c| http_mut(c)) {
            h.req_st = Msg::Body(Framing::UntilClose);
            h.resp_st = Msg::Head;
            h.keep_client = false;
            h.stx.clear();
        }
        if let Some(fe) = self.conns.get(key).map(|c| c.fe_conn.counters()) {
            fe.totals.incr(self.thread, Counter::ReqErrors);
        }
        self.h1_error(key, 400);
    }

    /// The server closed or failed before a complete response head.
    fn h1_server_failed(&mut self, key: usize) -> bool {
        let Some(conn) = self.conns.get_mut(key) else {
            return false;
        };
        let Proto::Http(h) = &mut conn.proto else {
            return false;
        };
        if h.reused && !h.resp_seen && h.replayable && h.s_send.is_none() && !h.s_recv {
            // A reused idle connection the server had closed: replay on a new one.
            h.server = None;
            h.phase = Phase::Connecting;
            h.s_eof = false;
            h.s_send_failed = false;
            h.srx.clear();
            h.sfwd = 0;
            h.stx.start = 0;
            h.reused = false;
            h.no_reuse = true;
            self.start_connect(key);
            return true;
        }
        h.txn.term(b"SH");
        self.count(|s| CounterSet::add(&s.server_aborts, 1));
        self.count_server(key, Counter::RespErrors, 1);
        self.h1_error(key, 502);
        true
    }

    /// Parses the response head in `srx` and prepares its relay.
    fn h1_response_head(&mut self, key: usize, stopping: bool) -> bool {
        let Some(conn) = self.conns.get_mut(key) else {
            return false;
        };
        let Some(fe) = self.shared.plan.frontends.get(conn.frontend) else {
            return false;
        };
        let Proto::Http(h) = &mut conn.proto else {
            return false;
        };
        let limits = &fe.http.limits.0;
        let data = h.srx.io.get(h.srx.start, h.srx.end).unwrap_or(&[]);
        let n = match h.resp.parse(data, limits, h.method) {
            Ok(Status::Complete(n)) => n,
            Ok(Status::Incomplete) => {
                if h.s_eof {
                    h.resp.reset();
                    return self.h1_server_failed(key);
                }
                if h.srx.start > 0 {
                    let len = h.srx.end - h.srx.start;
                    if !h.srx.io.shift_to_front(h.srx.start, h.srx.end) {
                        self.close(key);
                        return false;
                    }
                    h.srx.start = 0;
                    h.srx.end = len;
                    h.sfwd = 0;
                }
                if h.srx.room() == 0 {
                    h.resp.reset();
                    self.count_server(key, Counter::RespErrors, 1);
                    self.h1_error(key, 502);
                    return true;
                }
                if self
                    .ring
                    .recv_at(srv_fd(h), &mut h.srx.io, h.srx.end, ud(key, TAG_S_RECV))
                    .is_err()
                {
                    self.close(key);
                    return false;
                }
                h.s_recv = true;
                conn.inflight += 1;
                return false;
            }
            Err(_) => {
                self.count_server(key, Counter::RespErrors, 1);
                self.h1_error(key, 502);
                return true;
            }
        };
        if h.resp.is_interim() {
            // 1xx: relayed as is; the final response follows.
            let head = data.get(..n).unwrap_or(&[]);
            h.ctx.clear();
            let _ = h.ctx.push(head);
            h.srx.start += n;
            h.sfwd = h.srx.start;
            if let Some(c) = self.counters.global.http_responses.first() {
                CounterSet::add(c, 1);
            }
            return true;
        }
        h.status = h.resp.status;
        h.txn.resp_head = Some(self.now);
        let tunnel = h.resp.body == BodyKind::Tunnel;
        if tunnel && (!h.wants_upgrade || !matches!(h.req_st, Msg::Done)) {
            // A switch nobody asked for (or with a request body still flowing).
            h.resp.reset();
            self.count_server(key, Counter::RespErrors, 1);
            self.h1_error(key, 502);
            return true;
        }
        let close_after = !h.keep_client || stopping || h.resp.body == BodyKind::CloseDelimited || tunnel;
        h.keep_server = h.keep_server && h.resp.keep_alive();
        let mut edits = [HeaderEdit::Del { name: b"" }; 2];
        let mut ne = 0;
        if !tunnel {
            edits[ne] = HeaderEdit::Del { name: b"Connection" };
            ne += 1;
            if close_after && h.version == Version::Http11 {
                edits[ne] = HeaderEdit::Add {
                    name: b"Connection",
                    value: b"close",
                };
                ne += 1;
            } else if !close_after && h.version == Version::Http10 {
                edits[ne] = HeaderEdit::Add {
                    name: b"Connection",
                    value: b"keep-alive",
                };
                ne += 1;
            }
        }
        // http-response rules: the backend's, then the frontend's.
        let scratch = &mut self.rules_scratch;
        scratch.start_response();
        let be_rules = conn
            .backend
            .as_ref()
            .and_then(|b| self.shared.plan.backend_rules.get(&*b.name))
            .map(|r| &**r);
        let fe_rules = fe.http.rules.as_ref().map(|r| &*r.0);
        let view = ResponseView::new(data, &h.resp);
        let mut denied = None;
        for r in [be_rules, fe_rules].into_iter().flatten() {
            if let ResponseVerdict::Deny { status } = r.http_response(&view, None, scratch) {
                denied = Some(status);
                break;
            }
        }
        if let Some(status) = denied {
            if let Some(fe) = self.conns.get(key).map(|c| c.fe_conn.counters()) {
                fe.totals.incr(self.thread, Counter::DeniedResp);
            }
            self.h1_error(key, status);
            return true;
        }
        let head_out = &mut self.head_out;
        head_out.clear();
        let resp = &h.resp;
        let written = self.rules_scratch.with_edits(|rule_edits, _| {
            let mut all = [HeaderEdit::Del { name: b"" }; rules::EDITS_MAX + 2];
            let mut k = 0;
            for e in edits.iter().take(ne).chain(rule_edits.iter()) {
                if let Some(slot) = all.get_mut(k) {
                    *slot = *e;
                    k += 1;
                }
            }
            write::write_response_head(data, resp, all.get(..k).unwrap_or(&[]), head_out)
        });
        if written.is_err() {
            self.count_server(key, Counter::RespErrors, 1);
            self.h1_error(key, 502);
            return true;
        }
        h.ctx.clear();
        if !h.ctx.push(&self.head_out) {
            self.count_server(key, Counter::RespErrors, 1);
            self.h1_error(key, 502);
            return true;
        }
        h.keep_client = !close_after;
        h.srx.start += n;
        h.sfwd = h.srx.start;
        h.resp_st = match Framing::of(h.resp.body) {
            Some(f) => Msg::Body(f),
            None => Msg::Done,
        };
        if tunnel {
            // Bytes past the head belong to the new protocol: relayed by the tunnel once
            // the head is out (see `h1_end`).
            h.resp_st = Msg::Done;
            h.upgraded = true;
        }
        // Body bytes already here: into ctx after the head when they fit.
        if let Msg::Body(fr) = &mut h.resp_st {
            let data = h.srx.io.get(h.srx.start, h.srx.end).unwrap_or(&[]);
            let mut probe = fr.clone();
            if let Ok((used, done)) = probe.advance(data) {
                if used <= h.ctx.room() && h.ctx.push(data.get(..used).unwrap_or(&[])) {
                    *fr = probe;
                    h.srx.start += used;
                    h.sfwd = h.srx.start;
                    if done {
                        h.resp_st = Msg::Done;
                    }
                }
            }
        }
        let status = h.status;
        if let Some(c) = self.counters.global.http_responses.get(status_class(status)) {
            CounterSet::add(c, 1);
        }
        true
    }

    /// Writes the access log line of the current transaction, once.
    pub(crate) fn h1_log(&mut self, key: usize) {
        let now = self.now;
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let Some(fe) = self.shared.plan.frontends.get(conn.frontend) else {
            return;
        };
        let Proto::Http(h) = &mut conn.proto else {
            return;
        };
        if !h.txn.open {
            return;
        }
        h.txn.open = false;
        let Some(logger) = &fe.logger else {
            return;
        };
        let t = h.txn;
        let start = h.head_since.or(t.head_done);
        let request_date = start
            .map(|s| h.accepted_sys + s.saturating_duration_since(h.accepted))
            .unwrap_or(h.accepted_sys);
        let idle_from = if h.requests > 1 { h.idle_since } else { h.accepted };
        let t_idle = ms(Some(idle_from), start);
        let t_active = ms(start, Some(now));
        let backend = conn.backend.as_ref();
        let slot = conn.slot.as_ref();
        let mut rec = crate::log::LogRecord::new(&fe.name, Some(h.peer), h.accepted_sys);
        rec.frontend_addr = Some(h.local);
        rec.server_addr = slot.map(|s| s.addr());
        rec.request_date = request_date;
        rec.backend = backend.map(|b| &*b.name).unwrap_or(&fe.name);
        rec.server = slot.map(|s| &*s.server().name).unwrap_or(crate::log::NOSRV);
        rec.t_handshake = 0;
        rec.t_idle = t_idle;
        rec.t_req = ms(start, t.head_done);
        rec.t_wait = ms(t.head_done, t.connect_start);
        rec.t_connect = ms(t.connect_start, t.connected);
        rec.t_resp = ms(t.connected, t.resp_head);
        rec.t_active = t_active;
        rec.t_total = if t_idle >= 0 && t_active >= 0 {
            t_idle + t_active
        } else {
            t_active
        };
        rec.status = (h.status != 0).then_some(h.status);
        rec.bytes_read = t.bytes_out;
        rec.bytes_uploaded = t.bytes_in;
        rec.termination_state = t.term;
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
        rec.actconn = u32::try_from(
            self.counters
                .global
                .conns_cur
                .load(std::sync::atomic::Ordering::Relaxed),
        )
        .unwrap_or(u32::MAX);
        rec.retries = backend
            .map(|b| {
                b.settings
                    .retries
                    .min(RETRIES_MAX)
                    .saturating_sub(conn.retries_left)
            })
            .unwrap_or(0);
        rec.request_line = &h.req_line;
        rec.request_counter = h.requests;
        logger.0.log(&rec);
    }

    /// The transaction is over: let the server go, then close or wait for the next request.
    fn h1_end(&mut self, key: usize) {
        self.h1_log(key);
        if matches!(self.conns.get(key).map(|c| &c.proto), Some(Proto::Http(h)) if h.upgraded) {
            self.h1_into_tunnel(key);
            return;
        }
        let keep_server = self
            .conns
            .get(key)
            .and_then(|c| match &c.proto {
                Proto::Http(h) => Some(h.keep_server),
                Proto::Tcp(_) => None,
            })
            .unwrap_or(false);
        self.h1_release_server(key, keep_server);
        let stopping = self.stopping;
        let now = self.now;
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        conn.backend = None;
        conn.queue = None;
        let Proto::Http(h) = &mut conn.proto else {
            return;
        };
        debug_assert!(h.c_send.is_none() && h.ctx.is_empty());
        if !h.keep_client || h.c_eof || h.s_dropping {
            self.close(key);
            return;
        }
        if stopping {
            // The response promised keep-alive (it was written before the stop was seen):
            // the client may already be sending its next request, which is answered with
            // `Connection: close`; silence for the grace period closes it.
            h.stop_at = Some(now + STOP_IDLE_GRACE);
        }
        h.req_st = Msg::Head;
        h.resp_st = Msg::Idle;
        h.ctx.clear();
        h.idle_since = now;
        h.head_since = if h.crx.is_empty() { None } else { Some(now) };
        h.replayable = false;
        h.s_eof = false;
        h.s_send_failed = false;
        h.stx.clear();
        h.txn.bytes_in = 0;
        debug_assert!(h.server.is_none() && h.c_send.is_none());
    }
}

impl Worker {
    /// After a relayed `101`: the connection becomes a TCP tunnel on the same sockets,
    /// with `timeout tunnel` (else client/server) from now on. Waits until nothing is in
    /// flight (a linked connect timeout may still complete).
    fn h1_into_tunnel(&mut self, key: usize) {
        let now = self.now;
        match self.conns.get(key) {
            Some(c) if c.inflight == 0 => {}
            _ => return,
        }
        let mut conn = *self.conns.remove(key);
        let Proto::Http(h) = conn.proto else {
            debug_assert!(false, "tunnel from a tcp connection");
            return;
        };
        let h = *h;
        let Some(server) = h.server else {
            // Cannot happen (a 101 came from it); the client socket closes on drop.
            CounterSet::sub_one(&self.counters.global.conns_cur);
            self.shared_release(conn.frontend);
            for b in [h.crx.io, h.ctx.io, h.srx.io, h.stx.io] {
                self.give_buf(b);
            }
            return;
        };
        self.give_buf(h.ctx.io);
        self.give_buf(h.stx.io);
        let t = crate::tcp::TcpConn::tunnel(
            h.client,
            server,
            (h.crx.io, h.crx.start, h.crx.end),
            (h.srx.io, h.srx.start, h.srx.end),
            now,
        );
        conn.proto = Proto::Tcp(t);
        conn.timer_at = None;
        let k = self.conns.insert(Box::new(conn));
        debug_assert_eq!(k, key, "slab reuses the freed key");
        self.tunnel_started(k);
    }
}

fn srv_fd(h: &HttpConn) -> i32 {
    h.server.as_ref().map(|s| s.as_raw_fd()).unwrap_or(-1)
}

/// Forgets a rejected head: its bytes are never looked at again.
fn drop_head(h: &mut HttpConn) {
    h.req.reset();
    h.crx.start = h.crx.end;
    h.cfwd = h.crx.end;
    h.requests += 1;
}

trait BorrowFd {
    fn as_fd_borrowed(&self) -> std::os::fd::BorrowedFd<'_>;
}

impl BorrowFd for OwnedFd {
    fn as_fd_borrowed(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_advances_by_length_and_chunks() {
        let mut f = Framing::Len(5);
        assert_eq!(f.advance(b"abc").ok(), Some((3, false)));
        assert_eq!(f.advance(b"deGET").ok(), Some((2, true)));
        let mut c = Framing::of(BodyKind::Chunked).expect("chunked");
        assert_eq!(c.advance(b"3\r\nabc\r\n0\r\n\r\nGET").ok(), Some((13, true)));
        let mut c = Framing::of(BodyKind::Chunked).expect("chunked");
        assert!(c.advance(b"zz\r\n").is_err());
        assert!(Framing::of(BodyKind::None).is_none());
    }

    #[test]
    fn networks_match_by_prefix() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("literal");
        assert!(in_network(ip("10.1.2.3"), (ip("10.0.0.0"), 8)));
        assert!(!in_network(ip("11.1.2.3"), (ip("10.0.0.0"), 8)));
        assert!(in_network(ip("1.2.3.4"), (ip("0.0.0.0"), 0)));
        assert!(in_network(ip("::1"), (ip("::1"), 128)));
        assert!(!in_network(ip("::1"), (ip("10.0.0.0"), 8)));
    }

    #[test]
    fn local_responses_carry_length_and_close() {
        let mut out = Vec::new();
        local_response(200, Some("text/plain"), b"pong", false, &mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n\r\npong"
        );
        local_response(503, None, b"", true, &mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
    }

    #[test]
    fn pool_prunes_expired_and_caps_each_server() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let a = l.local_addr().expect("addr");
        let t0 = Instant::now();
        let mut p = ServerPool::default();
        let conn = || -> OwnedFd { std::net::TcpStream::connect(a).expect("connect").into() };
        assert!(p.put(a, conn(), t0));
        assert!(
            p.put(a, conn(), t0 + IDLE_SERVER_TTL),
            "the expired one is dropped"
        );
        assert_eq!(p.len(), 1);
        for _ in 0..IDLE_SERVERS_PER_SERVER_MAX + 3 {
            assert!(p.put(a, conn(), t0 + IDLE_SERVER_TTL));
        }
        assert_eq!(p.len(), IDLE_SERVERS_PER_SERVER_MAX);
    }

    #[test]
    fn pool_keeps_young_connections_per_address() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let a = l.local_addr().expect("addr");
        let t0 = Instant::now();
        let mut p = ServerPool::default();
        let fd: OwnedFd = std::net::TcpStream::connect(a).expect("connect").into();
        assert!(p.put(a, fd, t0));
        assert_eq!(p.len(), 1);
        assert!(p.take(a, t0 + IDLE_SERVER_TTL).is_none(), "too old");
        assert!(p.is_empty());
        let fd: OwnedFd = std::net::TcpStream::connect(a).expect("connect").into();
        assert!(p.put(a, fd, t0));
        assert!(p.take(a, t0).is_some());
        assert!(p.take(a, t0).is_none());
    }
}
