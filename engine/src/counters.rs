//! Lock-free traffic counters for frontends, backends and servers, HAProxy-like.
//!
//! Two kinds of numbers, stored two ways:
//!
//! - **Gauges** ([`Gauge`]: current connections and their maximum) must be global at every
//!   instant, because `maxconn`, `leastconn` and `del server` decide on them. They are one
//!   shared `AtomicU64` each, updated with relaxed read-modify-write operations.
//! - **Totals** ([`Counters`]: sessions, bytes, errors, retries, redispatches...) are only
//!   ever added to and read rarely (stats). They are kept **per engine thread** in
//!   cache-line-padded shards, so each thread writes only its own cache line (no false
//!   sharing, no contention), and a reader sums the shards. The writes are relaxed
//!   `fetch_add`s: a shard has one writer in the normal case (the thread whose index maps to
//!   it), and stays correct if two threads ever share a shard (index modulo shard count).
//!
//! Reads are not a consistent cut across counters (like HAProxy's `show stat`): each value
//! is exact for itself at some instant during the read.

use std::sync::atomic::{AtomicU64, Ordering};

/// Largest number of engine threads a counter set keeps separate shards for. HAProxy's
/// default thread limit is 64 per group; past this, threads share shards (still correct,
/// only contended). 64 shards of 128 bytes keep a server's counters at 8 KiB.
pub const THREADS_MAX: usize = 64;

/// Size of one shard's alignment: two 64-byte lines, since adjacent-line prefetchers pull
/// pairs of lines on x86 (the same choice as crossbeam's `CachePadded`).
const CACHE_LINE_BYTES: usize = 128;

/// A value on its own cache line(s), so neighbouring shards written by other threads never
/// share a line with it.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct CachePadded<T>(pub T);

const _: () = assert!(std::mem::align_of::<CachePadded<u8>>() == CACHE_LINE_BYTES);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// One summed total. The same meanings at every level (frontend, backend, server), as in
/// HAProxy's `show stat`: bytes "in" travel from the client towards the server (request
/// direction), bytes "out" from the server towards the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Counter {
    /// Sessions (connections) handled in total (`stot`).
    Sessions = 0,
    /// Bytes received from clients (`bin`).
    BytesIn,
    /// Bytes sent to clients (`bout`).
    BytesOut,
    /// Requests denied by rules (`dreq`).
    DeniedReq,
    /// Responses denied by rules (`dresp`).
    DeniedResp,
    /// Request errors: client closed early, read error, bad request (`ereq`).
    ReqErrors,
    /// Failed connection attempts to a server (`econ`).
    ConnErrors,
    /// Response errors: the server closed or failed during the response (`eresp`).
    RespErrors,
    /// Connection retries to the same server (`wretr`).
    Retries,
    /// Redispatches: a failed connection moved to another server (`wredis`).
    Redispatches,
    /// Times the server was selected by the balancer (`lbtot`).
    Selected,
    /// Sessions aborted by the client side (`cli_abrt`).
    ClientAborts,
    /// Sessions aborted by the server side (`srv_abrt`).
    ServerAborts,
    /// Connections accepted by a frontend (`conn_tot`).
    ConnTotal,
}

/// Number of [`Counter`] kinds; one slot each per shard.
pub const COUNTER_KINDS: usize = 14;

impl Counter {
    /// Every counter, in declaration order (the index order).
    pub const ALL: [Counter; COUNTER_KINDS] = [
        Counter::Sessions,
        Counter::BytesIn,
        Counter::BytesOut,
        Counter::DeniedReq,
        Counter::DeniedResp,
        Counter::ReqErrors,
        Counter::ConnErrors,
        Counter::RespErrors,
        Counter::Retries,
        Counter::Redispatches,
        Counter::Selected,
        Counter::ClientAborts,
        Counter::ServerAborts,
        Counter::ConnTotal,
    ];

    /// HAProxy's `show stat` column name for this counter.
    pub fn stat_name(self) -> &'static str {
        match self {
            Counter::Sessions => "stot",
            Counter::BytesIn => "bin",
            Counter::BytesOut => "bout",
            Counter::DeniedReq => "dreq",
            Counter::DeniedResp => "dresp",
            Counter::ReqErrors => "ereq",
            Counter::ConnErrors => "econ",
            Counter::RespErrors => "eresp",
            Counter::Retries => "wretr",
            Counter::Redispatches => "wredis",
            Counter::Selected => "lbtot",
            Counter::ClientAborts => "cli_abrt",
            Counter::ServerAborts => "srv_abrt",
            Counter::ConnTotal => "conn_tot",
        }
    }
}

/// One thread's slots.
type Shard = CachePadded<[AtomicU64; COUNTER_KINDS]>;

/// Per-thread sharded totals, summed on read. Writing is one relaxed `fetch_add` on the
/// writer's own cache line; no lock is ever taken.
#[derive(Debug)]
pub struct Counters {
    shards: Box<[Shard]>,
}

impl Counters {
    /// Counters with one shard per engine thread (`threads` is clamped to `1..=THREADS_MAX`).
    pub fn new(threads: usize) -> Self {
        let n = threads.clamp(1, THREADS_MAX);
        let shards = (0..n)
            .map(|_| CachePadded(std::array::from_fn(|_| AtomicU64::new(0))))
            .collect();
        Counters { shards }
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    fn shard(&self, thread: usize) -> &Shard {
        // `shards` is never empty (see `new`), so the modulo is in bounds.
        &self.shards[thread % self.shards.len()]
    }

    /// Adds `n` to counter `c` in thread `thread`'s shard.
    #[inline]
    pub fn add(&self, thread: usize, c: Counter, n: u64) {
        self.shard(thread).0[c as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one to counter `c` in thread `thread`'s shard.
    #[inline]
    pub fn incr(&self, thread: usize, c: Counter) {
        self.add(thread, c, 1);
    }

    /// The sum of counter `c` over all shards.
    pub fn get(&self, c: Counter) -> u64 {
        self.shards.iter().fold(0u64, |acc, s| {
            acc.wrapping_add(s.0[c as usize].load(Ordering::Relaxed))
        })
    }

    /// Every counter summed, indexed by `Counter as usize`.
    pub fn read(&self) -> CounterValues {
        let mut v = [0u64; COUNTER_KINDS];
        for s in self.shards.iter() {
            for (acc, a) in v.iter_mut().zip(s.0.iter()) {
                *acc = acc.wrapping_add(a.load(Ordering::Relaxed));
            }
        }
        CounterValues(v)
    }

    /// Sets every counter to zero (`clear counters`). Concurrent adds may survive or not.
    pub fn clear(&self) {
        for s in self.shards.iter() {
            for a in s.0.iter() {
                a.store(0, Ordering::Relaxed);
            }
        }
    }
}

/// A summed copy of all counters of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CounterValues(pub [u64; COUNTER_KINDS]);

impl CounterValues {
    /// The value of counter `c`.
    pub fn get(&self, c: Counter) -> u64 {
        self.0[c as usize]
    }
}

/// A current value and its maximum since start (or last clear): `scur`/`smax`, `qcur`/`qmax`.
/// One shared atomic each, because decisions (maxconn, leastconn) need the global value now.
#[derive(Debug, Default)]
pub struct Gauge {
    cur: AtomicU64,
    max: AtomicU64,
}

impl Gauge {
    /// A gauge at zero.
    pub const fn new() -> Self {
        Gauge {
            cur: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// The current value.
    #[inline]
    pub fn cur(&self) -> u64 {
        self.cur.load(Ordering::Relaxed)
    }

    /// The largest value seen.
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Adds one and raises the maximum if needed; returns the new value.
    #[inline]
    pub fn incr(&self) -> u64 {
        let new = self.cur.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
        self.raise_max(new);
        new
    }

    /// Adds one only while the value is below `limit`; returns whether it did.
    /// This is the `maxconn` check: two threads can never both take the last place.
    #[inline]
    pub fn incr_below(&self, limit: u64) -> bool {
        match self.cur.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |c| {
            (c < limit).then_some(c + 1)
        }) {
            Ok(prev) => {
                self.raise_max(prev + 1);
                true
            }
            Err(_) => false,
        }
    }

    /// Removes one (saturating at zero, which only a bug could reach).
    #[inline]
    pub fn decr(&self) {
        let prev = self
            .cur
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |c| Some(c.saturating_sub(1)));
        debug_assert!(prev.is_ok_and(|p| p > 0), "gauge decremented below zero");
    }

    fn raise_max(&self, v: u64) {
        if v > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(v, Ordering::Relaxed);
        }
    }

    /// Resets the maximum to the current value (`clear counters`).
    pub fn clear_max(&self) {
        self.max.store(self.cur(), Ordering::Relaxed);
    }
}

/// A frontend's counters: current/max connections (its `maxconn` is enforced on `conns`
/// by the listener pausing accepts) and the sharded totals.
#[derive(Debug)]
pub struct FrontendCounters {
    /// Current and maximum connections (`scur`/`smax`).
    pub conns: Gauge,
    /// Totals (`stot`, `bin`, `bout`, `ereq`, `dreq`, `conn_tot`...).
    pub totals: Counters,
}

impl FrontendCounters {
    /// Counters for a frontend served by `threads` engine threads.
    pub fn new(threads: usize) -> Self {
        FrontendCounters {
            conns: Gauge::new(),
            totals: Counters::new(threads),
        }
    }

    /// Counts an accepted connection and returns its guard: while it lives the connection
    /// counts in `scur`; dropping it decrements.
    pub fn accept(self: &std::sync::Arc<Self>, thread: usize) -> FrontendConn {
        self.conns.incr();
        self.totals.incr(thread, Counter::ConnTotal);
        self.totals.incr(thread, Counter::Sessions);
        FrontendConn {
            counters: self.clone(),
            thread,
        }
    }
}

/// One accepted connection's hold on its frontend's counters (RAII: drop decrements `scur`).
#[derive(Debug)]
pub struct FrontendConn {
    counters: std::sync::Arc<FrontendCounters>,
    thread: usize,
}

impl FrontendConn {
    /// Adds to one of the frontend's totals from the owning thread.
    #[inline]
    pub fn add(&self, c: Counter, n: u64) {
        self.counters.totals.add(self.thread, c, n);
    }

    /// The frontend's counters.
    pub fn counters(&self) -> &FrontendCounters {
        &self.counters
    }
}

impl Drop for FrontendConn {
    fn drop(&mut self) {
        self.counters.conns.decr();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn counter_indexes_match_all_table() {
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i, "{c:?}");
        }
    }

    #[test]
    fn shards_are_clamped_and_padded() {
        for (threads, want) in [
            (0, 1),
            (1, 1),
            (2, 2),
            (THREADS_MAX, THREADS_MAX),
            (THREADS_MAX + 5, THREADS_MAX),
        ] {
            assert_eq!(Counters::new(threads).shards(), want, "threads={threads}");
        }
        assert!(std::mem::size_of::<Shard>().is_multiple_of(CACHE_LINE_BYTES));
    }

    #[test]
    fn sums_over_shards_and_wraps_thread_index() {
        let c = Counters::new(2);
        c.add(0, Counter::BytesIn, 10);
        c.add(1, Counter::BytesIn, 5);
        c.add(7, Counter::BytesIn, 1); // index 7 maps to shard 1
        c.incr(0, Counter::Retries);
        assert_eq!(c.get(Counter::BytesIn), 16);
        assert_eq!(c.get(Counter::Retries), 1);
        assert_eq!(c.get(Counter::BytesOut), 0);
        let v = c.read();
        assert_eq!(v.get(Counter::BytesIn), 16);
        c.clear();
        assert_eq!(c.read(), CounterValues::default());
    }

    #[test]
    fn concurrent_adds_are_not_lost() {
        let c = Arc::new(Counters::new(2));
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        c.incr(t, Counter::Sessions);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().expect("thread");
        }
        assert_eq!(c.get(Counter::Sessions), 40_000);
    }

    #[test]
    fn gauge_tracks_max_and_limit() {
        let g = Gauge::new();
        assert!(g.incr_below(2));
        assert!(g.incr_below(2));
        assert!(!g.incr_below(2), "third place above limit 2");
        assert_eq!((g.cur(), g.max()), (2, 2));
        g.decr();
        assert_eq!((g.cur(), g.max()), (1, 2));
        g.clear_max();
        assert_eq!(g.max(), 1);
        assert_eq!(g.incr(), 2);
        assert!(!g.incr_below(0));
    }

    #[test]
    fn frontend_conn_guard_counts() {
        let f = Arc::new(FrontendCounters::new(2));
        let a = f.accept(0);
        let b = f.accept(1);
        a.add(Counter::BytesIn, 100);
        assert_eq!(f.conns.cur(), 2);
        drop(a);
        drop(b);
        assert_eq!((f.conns.cur(), f.conns.max()), (0, 2));
        assert_eq!(f.totals.get(Counter::ConnTotal), 2);
        assert_eq!(f.totals.get(Counter::BytesIn), 100);
    }
}
