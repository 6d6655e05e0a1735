//! TCP-mode forwarding state of one proxied connection: two half-duplex pumps
//! (client→server and server→client), each with its own buffer and at most one
//! operation in flight, and the half-close rules between them.
//!
//! This module decides *what* to submit; [`crate::worker`] owns the slab, the timers,
//! connect/retry policy and counters. An HTTP layer (issue 4) becomes another
//! [`crate::worker::Proto`] variant driving the same ring.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::sys;
use crate::uring::{IoBuf, Ring};

/// Bytes of the buffer each direction starts with: enough for request/response traffic
/// and small enough that 10,000 idle connections cost 320 MiB at most.
pub const BUF_SMALL_BYTES: usize = 16 * 1024;

/// Bytes of the buffer a direction is promoted to once a recv fills its small buffer:
/// bulk streams then move 256 KiB per operation pair (measured: 64 KiB buffers reached
/// ~0.8x HAProxy's single-stream throughput, 256 KiB ~1.2x; see scripts/bench-tcp).
pub const BUF_LARGE_BYTES: usize = 256 * 1024;

const _: () = assert!(BUF_SMALL_BYTES < BUF_LARGE_BYTES);

/// Bytes received into one buffer slot and not yet sent (`start == end`: empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Seg {
    /// Next byte to send.
    pub start: usize,
    /// End of received data.
    pub end: usize,
}

impl Seg {
    fn is_empty(&self) -> bool {
        self.start >= self.end
    }
}

/// One direction of a connection. A small half has one buffer: recv, then send, in turn.
/// A large half has two and keeps one recv and one send in flight at once (the next
/// chunk arrives while the previous one is sent), always sending in receive order.
pub struct Half {
    /// Buffer slot 0.
    pub buf: IoBuf,
    /// Buffer slot 1, in large mode only.
    pub spare: Option<IoBuf>,
    /// Data of each slot.
    pub seg: [Seg; 2],
    /// Slot the next recv fills.
    pub recv_slot: usize,
    /// Slot the next send drains.
    pub send_slot: usize,
    /// A recv on the source is in flight (into `recv_slot`).
    pub recv_pending: bool,
    /// A send on the destination is in flight (from `send_slot`).
    pub send_pending: bool,
    /// The source sent FIN.
    pub eof: bool,
    /// The destination's write side is shut (FIN forwarded): this half is finished.
    pub shut: bool,
    /// A recv filled the small buffer: promote to large buffers when idle.
    pub wants_large: bool,
}

impl Half {
    fn new(buf: IoBuf) -> Half {
        Half {
            buf,
            spare: None,
            seg: [Seg::default(); 2],
            recv_slot: 0,
            send_slot: 0,
            recv_pending: false,
            send_pending: false,
            eof: false,
            shut: false,
            wants_large: false,
        }
    }

    fn slots(&self) -> usize {
        if self.spare.is_some() {
            2
        } else {
            1
        }
    }

    fn slot_buf(&mut self, slot: usize) -> Option<&mut IoBuf> {
        match slot {
            0 => Some(&mut self.buf),
            1 => self.spare.as_mut(),
            _ => None,
        }
    }

    /// Whether an operation of this half owns a buffer.
    pub fn busy(&self) -> bool {
        self.recv_pending || self.send_pending
    }

    /// Whether no received byte waits to be sent.
    pub fn drained(&self) -> bool {
        self.seg.iter().all(Seg::is_empty)
    }

    /// Whether the buffers can be swapped for large ones now (idle, empty, asked for).
    pub fn can_grow(&self) -> bool {
        self.wants_large && !self.busy() && self.drained() && self.spare.is_none()
    }

    /// Swaps in two large buffers and returns the previous one (only when
    /// [`Half::can_grow`]).
    pub fn grow(&mut self, large: [IoBuf; 2]) -> IoBuf {
        debug_assert!(self.can_grow(), "growing a busy or non-empty half");
        debug_assert!(large.iter().all(|b| b.len() == BUF_LARGE_BYTES && !b.is_busy()));
        let [a, b] = large;
        self.wants_large = false;
        self.seg = [Seg::default(); 2];
        self.recv_slot = 0;
        self.send_slot = 0;
        self.spare = Some(b);
        std::mem::replace(&mut self.buf, a)
    }

    /// Submits this half's next send and recv, if any. `dst` is `None` until connected.
    fn pump(
        &mut self,
        ring: &mut Ring,
        src: RawFd,
        dst: Option<RawFd>,
        ud: (u64, u64),
        inflight: &mut u32,
    ) -> Result<(), Abort> {
        let n = self.slots();
        if !self.send_pending {
            if let Some(dst) = dst {
                let slot = self.send_slot;
                let seg = self.seg.get(slot).copied().unwrap_or_default();
                if !seg.is_empty() {
                    let buf = self.slot_buf(slot).ok_or(Abort::Internal)?;
                    ring.send(dst, buf, seg.start, seg.end, ud.1)
                        .map_err(|_| Abort::Internal)?;
                    self.send_pending = true;
                    *inflight += 1;
                }
            }
        }
        if !self.recv_pending && !self.eof && src >= 0 {
            let slot = self.recv_slot;
            let free = self.seg.get(slot).is_some_and(Seg::is_empty);
            // With one slot, the buffer is also the one being sent.
            let sending_it = self.send_pending && self.send_slot == slot;
            if free && !sending_it {
                let buf = self.slot_buf(slot).ok_or(Abort::Internal)?;
                ring.recv(src, buf, ud.0).map_err(|_| Abort::Internal)?;
                self.recv_pending = true;
                *inflight += 1;
            }
        }
        debug_assert!(self.recv_slot < n && self.send_slot < n);
        Ok(())
    }

    fn take_bufs(self, out: &mut Vec<IoBuf>) {
        out.push(self.buf);
        if let Some(b) = self.spare {
            out.push(b);
        }
    }
}

/// Why a connection ends early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abort {
    /// The client side failed (reset, error).
    Client(i32),
    /// The server side failed.
    Server(i32),
    /// An internal submission error.
    Internal,
}

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the server connect (or about to start one).
    Connecting,
    /// Waiting out the turn-around delay before retrying.
    WaitRetry(Instant),
    /// Both sides connected: forwarding.
    Established,
    /// Cancelling operations; freed when none remain.
    Closing,
}

/// TCP forwarding state of one connection.
pub struct TcpConn {
    /// Accepted client socket.
    pub client: OwnedFd,
    /// Server socket, once created.
    pub server: Option<OwnedFd>,
    /// Address of the current connect (kept here: the kernel reads it at submission).
    pub server_addr: sys::RawSockAddr,
    /// Lifecycle phase.
    pub phase: Phase,
    /// client → server.
    pub c2s: Half,
    /// server → client.
    pub s2c: Half,
    /// Last read or write on the client socket.
    pub client_active: Instant,
    /// Last read or write on the server socket (or connect start).
    pub server_active: Instant,
}

/// What one completion did, for the worker's counters and policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Bytes received from the client.
    pub from_client: u64,
    /// Bytes received from the server.
    pub from_server: u64,
    /// Both directions are finished: close normally.
    pub done: bool,
}

/// Which operation a completion belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// client → server.
    C2s,
    /// server → client.
    S2c,
}

impl TcpConn {
    /// A freshly accepted connection, not yet connected to a server.
    pub fn new(client: OwnedFd, bufs: [IoBuf; 2], now: Instant) -> TcpConn {
        let [a, b] = bufs;
        TcpConn {
            client,
            server: None,
            server_addr: sys::RawSockAddr::empty(),
            phase: Phase::Connecting,
            c2s: Half::new(a),
            s2c: Half::new(b),
            client_active: now,
            server_active: now,
        }
    }

    /// A tunnel taking over an HTTP connection after `101 Switching Protocols` (or a
    /// `CONNECT`): both sockets connected, each direction's buffer already holding the
    /// bytes received past the heads (`start..end`), sent before anything else.
    pub fn tunnel(
        client: OwnedFd,
        server: OwnedFd,
        c2s: (IoBuf, usize, usize),
        s2c: (IoBuf, usize, usize),
        now: Instant,
    ) -> TcpConn {
        debug_assert!(!c2s.0.is_busy() && !s2c.0.is_busy(), "tunnel from busy buffers");
        let mut a = Half::new(c2s.0);
        a.seg[0] = Seg {
            start: c2s.1.min(c2s.2),
            end: c2s.2,
        };
        let mut b = Half::new(s2c.0);
        b.seg[0] = Seg {
            start: s2c.1.min(s2c.2),
            end: s2c.2,
        };
        TcpConn {
            client,
            server: Some(server),
            server_addr: sys::RawSockAddr::empty(),
            phase: Phase::Established,
            c2s: a,
            s2c: b,
            client_active: now,
            server_active: now,
        }
    }

    /// Gives back the buffers (only when nothing is in flight).
    pub fn into_bufs(self, out: &mut Vec<IoBuf>) {
        debug_assert!(!self.c2s.busy() && !self.s2c.busy(), "freeing buffers in flight");
        self.c2s.take_bufs(out);
        self.s2c.take_bufs(out);
    }

    fn fds(&self, dir: Dir) -> (RawFd, Option<RawFd>) {
        let c = self.client.as_raw_fd();
        let s = if self.phase == Phase::Established {
            self.server.as_ref().map(|s| s.as_raw_fd())
        } else {
            None
        };
        match dir {
            Dir::C2s => (c, s),
            Dir::S2c => match s {
                Some(s) => (s, Some(c)),
                None => (-1, None),
            },
        }
    }

    /// Submits whatever each half can do next. Returns true when both halves are finished.
    pub fn pump(
        &mut self,
        ring: &mut Ring,
        ud_c2s: (u64, u64),
        ud_s2c: (u64, u64),
        inflight: &mut u32,
    ) -> Result<bool, Abort> {
        debug_assert!(self.phase != Phase::Closing, "pump on a closing connection");
        let established = self.phase == Phase::Established;
        for dir in [Dir::C2s, Dir::S2c] {
            let (src, dst) = self.fds(dir);
            let ud = if dir == Dir::C2s { ud_c2s } else { ud_s2c };
            let server = self.server.as_ref().map(|s| s.as_fd());
            let client = self.client.as_fd();
            let half = match dir {
                Dir::C2s => &mut self.c2s,
                Dir::S2c => &mut self.s2c,
            };
            if half.shut || (dir == Dir::S2c && !established) {
                continue;
            }
            half.pump(ring, src, dst, ud, inflight)?;
            if half.eof && established && !half.busy() && half.drained() {
                let dst_fd = match dir {
                    Dir::C2s => server,
                    Dir::S2c => Some(client),
                };
                if let Some(fd) = dst_fd {
                    // ENOTCONN after a peer reset is harmless: the other half sees it.
                    let _ = sys::shutdown_write(fd);
                }
                half.shut = true;
            }
        }
        Ok(self.c2s.shut && self.s2c.shut)
    }

    /// Applies a recv completion.
    pub fn on_recv(&mut self, dir: Dir, result: i32, now: Instant) -> Result<Progress, Abort> {
        match dir {
            Dir::C2s => self.client_active = now,
            Dir::S2c => self.server_active = now,
        }
        let half = match dir {
            Dir::C2s => &mut self.c2s,
            Dir::S2c => &mut self.s2c,
        };
        debug_assert!(half.recv_pending, "recv completion without a recv");
        half.recv_pending = false;
        let slot = half.recv_slot;
        let slots = half.slots();
        let buf = half.slot_buf(slot).ok_or(Abort::Internal)?;
        buf.complete();
        let cap = buf.len();
        let mut p = Progress::default();
        if result > 0 {
            let n = (result as usize).min(cap);
            debug_assert!(result as usize <= cap, "kernel returned more than the buffer");
            if let Some(seg) = half.seg.get_mut(slot) {
                debug_assert!(seg.is_empty(), "recv into a slot holding data");
                *seg = Seg { start: 0, end: n };
            }
            half.recv_slot = (slot + 1) % slots;
            if n >= cap && cap < BUF_LARGE_BYTES {
                half.wants_large = true;
            }
            match dir {
                Dir::C2s => p.from_client = n as u64,
                Dir::S2c => p.from_server = n as u64,
            }
            Ok(p)
        } else if result == 0 {
            half.eof = true;
            Ok(p)
        } else {
            Err(match dir {
                Dir::C2s => Abort::Client(-result),
                Dir::S2c => Abort::Server(-result),
            })
        }
    }

    /// Applies a send completion.
    pub fn on_send(&mut self, dir: Dir, result: i32, now: Instant) -> Result<(), Abort> {
        match dir {
            Dir::C2s => self.server_active = now,
            Dir::S2c => self.client_active = now,
        }
        let half = match dir {
            Dir::C2s => &mut self.c2s,
            Dir::S2c => &mut self.s2c,
        };
        debug_assert!(half.send_pending, "send completion without a send");
        half.send_pending = false;
        let slot = half.send_slot;
        let slots = half.slots();
        half.slot_buf(slot).ok_or(Abort::Internal)?.complete();
        if result > 0 {
            if let Some(seg) = half.seg.get_mut(slot) {
                seg.start = (seg.start + result as usize).min(seg.end);
                if seg.is_empty() {
                    *seg = Seg::default();
                    half.send_slot = (slot + 1) % slots;
                }
            }
            Ok(())
        } else {
            let errno = if result == 0 { libc::EPIPE } else { -result };
            Err(match dir {
                Dir::C2s => Abort::Server(errno),
                Dir::S2c => Abort::Client(errno),
            })
        }
    }

    /// Marks a completion's buffer returned while closing (result ignored).
    pub fn on_cancelled(&mut self, dir: Dir, send: bool) {
        let half = match dir {
            Dir::C2s => &mut self.c2s,
            Dir::S2c => &mut self.s2c,
        };
        let slot = if send {
            debug_assert!(half.send_pending);
            half.send_pending = false;
            half.send_slot
        } else {
            debug_assert!(half.recv_pending);
            half.recv_pending = false;
            half.recv_slot
        };
        if let Some(b) = half.slot_buf(slot) {
            b.complete();
        }
    }

    /// When the inactivity timeout expires, given client/server/tunnel timeouts.
    pub fn deadline(
        &self,
        client: Option<Duration>,
        server: Option<Duration>,
        tunnel: Option<Duration>,
    ) -> Option<Instant> {
        match self.phase {
            Phase::WaitRetry(at) => Some(at),
            Phase::Closing => None,
            Phase::Connecting => client.map(|t| self.client_active + t),
            Phase::Established => {
                if let Some(t) = tunnel {
                    return Some(self.client_active.max(self.server_active) + t);
                }
                let c = client.map(|t| self.client_active + t);
                let s = server.map(|t| self.server_active + t);
                match (c, s) {
                    (Some(c), Some(s)) => Some(c.min(s)),
                    (c, s) => c.or(s),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn conn(now: Instant) -> TcpConn {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let fd: OwnedFd = l.into();
        TcpConn::new(fd, [IoBuf::new(16), IoBuf::new(16)], now)
    }

    #[test]
    fn deadline_follows_phase_and_timeouts() {
        let t0 = Instant::now();
        let mut c = conn(t0);
        let s = Duration::from_secs;
        assert_eq!(c.deadline(None, None, None), None);
        assert_eq!(c.deadline(Some(s(5)), Some(s(1)), None), Some(t0 + s(5)));
        c.phase = Phase::Established;
        c.server_active = t0 + s(2);
        assert_eq!(c.deadline(Some(s(5)), Some(s(1)), None), Some(t0 + s(3)));
        assert_eq!(c.deadline(Some(s(5)), None, None), Some(t0 + s(5)));
        assert_eq!(c.deadline(Some(s(5)), Some(s(1)), Some(s(10))), Some(t0 + s(12)));
        c.phase = Phase::WaitRetry(t0 + s(1));
        assert_eq!(c.deadline(Some(s(5)), None, None), Some(t0 + s(1)));
        c.phase = Phase::Closing;
        assert_eq!(c.deadline(Some(s(5)), Some(s(5)), Some(s(5))), None);
    }

    #[test]
    fn recv_and_send_results_map_to_progress_or_abort() {
        let t0 = Instant::now();
        let mut c = conn(t0);
        c.c2s.recv_pending = true;
        let mut ring = Ring::new().expect("ring");
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let fd: OwnedFd = l.into();
        ring.recv(fd.as_raw_fd(), &mut c.c2s.buf, 1).expect("recv");
        ring.cancel_fd(fd.as_raw_fd(), 2).expect("cancel");
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !out.iter().any(|x: &crate::uring::Completion| x.user_data == 1) {
            assert!(Instant::now() < deadline);
            ring.wait(Some(Duration::from_millis(50)), &mut out)
                .expect("wait");
        }
        let p = c.on_recv(Dir::C2s, 7, t0).expect("data");
        assert_eq!(p.from_client, 7);
        assert_eq!(c.c2s.seg[0], Seg { start: 0, end: 7 });
        assert!(!c.c2s.buf.is_busy());
        assert!(c.c2s.buf.get(0, 7).is_some());
    }
}
