//! Server choice: HAProxy's `balance` algorithms over a [`Backend`]'s servers, lock-free.
//!
//! Each engine thread owns one [`LbState`] (smooth round-robin current weights, leastconn
//! cursors, a random generator), so a pick never takes a lock and never writes shared
//! memory except the chosen server's connection gauge (one compare-and-swap that enforces
//! `maxconn`). Weights and states are read from the servers' atomics at each pick, so
//! `set weight` and `set server state` act on the next connection.
//!
//! Rules common to every algorithm, as in HAProxy:
//! - a server gets new connections only when ready (not drain/maint), up, and weight > 0;
//! - backup servers are used only when no active server is usable: the first usable backup,
//!   or all of them with `option allbackups`;
//! - a server at its `maxconn` is skipped; when every usable server is full the connection
//!   waits ([`Pick::Queue`]) instead of spilling to backups;
//! - on redispatch the failed server is avoided, unless it is the only one left.
//!
//! Each thread balances on its own: the global distribution follows the weights, while the
//! interleaving is per thread (HAProxy shares one locked tree instead).

use crate::counters::Counter;
use crate::table::{Backend, Pick, Server, TableError, BACKENDS_MAX};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::str::FromStr;

/// Most draws of `random(<draws>)`. HAProxy defaults to 2 ("power of two choices"); more
/// draws only approach leastconn at a higher cost per pick.
pub const RANDOM_DRAWS_MAX: u32 = 16;

/// Default draws of `balance random`, as in HAProxy.
pub const RANDOM_DRAWS_DEFAULT: u8 = 2;

/// A backend's `balance` algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Balance {
    /// Smooth weighted round-robin; weights may change at run time.
    #[default]
    RoundRobin,
    /// Weighted round-robin whose weights only switch between 0 and the initial weight.
    StaticRr,
    /// The server with the fewest connections relative to its weight; round-robin on ties.
    LeastConn,
    /// The first server by id with a free place (below `maxconn`).
    First,
    /// Hash of the client's IP address: the same client reaches the same server while the
    /// server set does not change, and few clients move when it does (weighted rendezvous
    /// hashing).
    Source,
    /// `random(<draws>)`: draw servers by weight, keep the least loaded.
    Random {
        /// Servers drawn per pick (1..=`RANDOM_DRAWS_MAX`).
        draws: u8,
    },
}

impl Balance {
    /// Whether weights are static (`set weight` only accepts 0% and 100%).
    pub fn is_static(self) -> bool {
        matches!(self, Balance::StaticRr)
    }

    /// Checks parameters (draws in range).
    pub fn check(self) -> Result<(), TableError> {
        match self {
            Balance::Random { draws } if draws == 0 || u32::from(draws) > RANDOM_DRAWS_MAX => {
                Err(TableError::RandomDraws {
                    draws: u64::from(draws),
                    max: RANDOM_DRAWS_MAX,
                })
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Balance::RoundRobin => f.write_str("roundrobin"),
            Balance::StaticRr => f.write_str("static-rr"),
            Balance::LeastConn => f.write_str("leastconn"),
            Balance::First => f.write_str("first"),
            Balance::Source => f.write_str("source"),
            Balance::Random { draws } if *draws == RANDOM_DRAWS_DEFAULT => f.write_str("random"),
            Balance::Random { draws } => write!(f, "random({draws})"),
        }
    }
}

impl FromStr for Balance {
    type Err = TableError;

    /// Parses HAProxy's algorithm word: `roundrobin`, `static-rr`, `leastconn`, `first`,
    /// `source`, `random`, `random(<draws>)`.
    fn from_str(s: &str) -> Result<Self, TableError> {
        let b = match s {
            "roundrobin" => Balance::RoundRobin,
            "static-rr" => Balance::StaticRr,
            "leastconn" => Balance::LeastConn,
            "first" => Balance::First,
            "source" => Balance::Source,
            "random" => Balance::Random {
                draws: RANDOM_DRAWS_DEFAULT,
            },
            _ => {
                let Some(arg) = s.strip_prefix("random(").and_then(|r| r.strip_suffix(')')) else {
                    return Err(TableError::UnknownBalance {
                        name: s.chars().take(64).collect(),
                    });
                };
                if arg.is_empty() || arg.len() > 10 || !arg.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(TableError::UnknownBalance {
                        name: s.chars().take(64).collect(),
                    });
                }
                let n: u64 = arg
                    .parse()
                    .map_err(|_| TableError::UnknownBalance { name: s.to_owned() })?;
                match u8::try_from(n) {
                    Ok(draws) if draws >= 1 && u32::from(draws) <= RANDOM_DRAWS_MAX => {
                        Balance::Random { draws }
                    }
                    _ => {
                        return Err(TableError::RandomDraws {
                            draws: n,
                            max: RANDOM_DRAWS_MAX,
                        })
                    }
                }
            }
        };
        Ok(b)
    }
}

/// A cheap hasher for `u32` backend ids (the map is per thread and its keys are ours).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix64(self.0 ^ u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = mix64(u64::from(n));
    }
}

/// One backend's per-thread balancer state.
#[derive(Debug, Default)]
struct PerBackend {
    /// `Backend::stamp` this state was built for; any other stamp means the server list
    /// changed and the state is reset.
    stamp: u64,
    /// Smooth round-robin current weights, indexed like `Backend::servers`.
    current: Vec<i64>,
    /// Index in `Backend::servers` of the last leastconn choice (ties rotate after it).
    last: usize,
    /// Set on reset; the first round-robin pick then skips ahead by the thread index, so
    /// threads do not all start with the same server.
    fresh: bool,
}

/// A thread's mutable balancer state. One per engine thread, never shared.
#[derive(Debug)]
pub struct LbState {
    thread: usize,
    rng: u64,
    backends: HashMap<u32, PerBackend, BuildHasherDefault<IdHasher>>,
    /// Candidate server indexes, reused to keep picks allocation-free.
    scratch: Vec<usize>,
}

impl LbState {
    /// State for engine thread `thread` (the index used for counter shards), with a random
    /// seed.
    pub fn new(thread: usize) -> Self {
        use std::hash::BuildHasher;
        let seed = std::collections::hash_map::RandomState::new().hash_one(thread);
        Self::with_seed(thread, seed)
    }

    /// State with a fixed random seed (tests, benchmarks).
    pub fn with_seed(thread: usize, seed: u64) -> Self {
        LbState {
            thread,
            rng: seed,
            backends: HashMap::default(),
            scratch: Vec::new(),
        }
    }

    /// The engine thread index.
    pub fn thread(&self) -> usize {
        self.thread
    }

    /// wyrand: fast, good enough to spread picks.
    fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.rng).wrapping_mul(u128::from(self.rng ^ 0xe703_7ed1_a0b4_28db));
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// A uniform number below `n` (n > 0), by multiply-shift.
    fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    fn per_backend(&mut self, b: &Backend) -> &mut PerBackend {
        if self.backends.len() > 2 * BACKENDS_MAX && !self.backends.contains_key(&b.id) {
            // Backends come and go with their ids; drop stale state rather than grow.
            self.backends.clear();
        }
        let st = self.backends.entry(b.id).or_default();
        if st.stamp != b.stamp {
            st.stamp = b.stamp;
            st.current.clear();
            st.current.resize(b.servers.len(), 0);
            st.last = usize::MAX;
            st.fresh = true;
        }
        debug_assert_eq!(st.current.len(), b.servers.len());
        st
    }
}

/// splitmix64's finaliser.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash of an IP address (IPv4-mapped IPv6 hashes like its IPv4 form).
fn hash_ip(ip: IpAddr) -> u64 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => mix64(u64::from(u32::from(v4)) ^ 0x0004),
        IpAddr::V6(v6) => {
            let n = u128::from(v6);
            mix64(mix64(n as u64 ^ 0x0006) ^ (n >> 64) as u64)
        }
    }
}

/// Load of a server for leastconn/random: compares `(cur+1)/weight` without division.
/// Returns whether `a` is strictly less loaded than `b`.
#[inline]
fn less_loaded(a: &Server, b: &Server) -> bool {
    let (ca, wa) = (u128::from(a.cur_conns()) + 1, u128::from(a.weight()));
    let (cb, wb) = (u128::from(b.cur_conns()) + 1, u128::from(b.weight()));
    ca * wb < cb * wa
}

impl Backend {
    /// Chooses a server for a new connection and takes a place on it, lock-free.
    ///
    /// `lb` is the calling thread's state; `client` is the client address (`source`
    /// hashes it; without one `source` falls back to round-robin); `exclude` is the server
    /// that just failed, when redispatching (it is avoided unless it is the only candidate,
    /// and its and the backend's redispatch counters are raised).
    ///
    /// A pick without `exclude` that succeeds counts a new session on the backend.
    pub fn pick(&self, lb: &mut LbState, client: Option<IpAddr>, exclude: Option<&Server>) -> Pick {
        let thread = lb.thread;
        if let Some(x) = exclude {
            x.counters().incr(thread, Counter::Redispatches);
            self.counters().incr(thread, Counter::Redispatches);
        }
        let mut scratch = std::mem::take(&mut lb.scratch);
        self.candidates(&mut scratch);
        if let Some(x) = exclude {
            // A soft avoidance within the chosen tier, as HAProxy's: the failed server is
            // used again only when it is the only candidate (backups do not step in for it).
            if scratch.len() > 1 {
                scratch.retain(|&i| self.servers.get(i).is_some_and(|s| !s.same_as(x)));
            }
        }
        let pick = self.pick_among(lb, &mut scratch, client, exclude.is_none());
        lb.scratch = scratch;
        pick
    }

    /// Fills `out` with the indexes of usable servers: active ones, else backups.
    fn candidates(&self, out: &mut Vec<usize>) {
        out.clear();
        let ok = |s: &Server| s.usable();
        out.extend(
            self.servers
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.backup && ok(s))
                .map(|(i, _)| i),
        );
        if out.is_empty() {
            let backups = self
                .servers
                .iter()
                .enumerate()
                .filter(|(_, s)| s.backup && ok(s))
                .map(|(i, _)| i);
            if self.settings.allbackups {
                out.extend(backups);
            } else {
                out.extend(backups.take(1));
            }
        }
        debug_assert!(out.len() <= self.servers.len());
    }

    fn pick_among(
        &self,
        lb: &mut LbState,
        cands: &mut Vec<usize>,
        client: Option<IpAddr>,
        new_session: bool,
    ) -> Pick {
        if cands.is_empty() {
            return Pick::NoServer;
        }
        debug_assert!(
            cands.iter().all(|&i| i < self.servers.len()),
            "candidate out of range"
        );
        debug_assert!(
            cands.windows(2).all(|w| w[0] < w[1]),
            "candidates sorted and unique"
        );
        cands.retain(|&i| self.servers.get(i).is_some_and(|s| !s.is_full()));
        // Each failed acquisition removes one candidate, so this ends within len+1 turns.
        for _ in 0..=self.servers.len() {
            if cands.is_empty() {
                break;
            }
            let Some(i) = self.choose(lb, cands, client) else {
                break;
            };
            let Some(server) = self.servers.get(i) else {
                break;
            };
            debug_assert!(cands.contains(&i), "the algorithm chose outside the candidates");
            if server.try_acquire() {
                debug_assert!(server.cur_conns() >= 1);
                return Pick::Server(self.slot(server, lb.thread, new_session));
            }
            // Another thread took its last place since the `is_full` check.
            cands.retain(|&j| j != i);
        }
        Pick::Queue
    }

    /// Runs the algorithm over non-empty `cands`; returns an index into `self.servers`.
    fn choose(&self, lb: &mut LbState, cands: &[usize], client: Option<IpAddr>) -> Option<usize> {
        debug_assert!(!cands.is_empty());
        match self.balance {
            Balance::RoundRobin | Balance::StaticRr => self.smooth_rr(lb, cands),
            Balance::Source => match client {
                Some(ip) => self.rendezvous(hash_ip(ip), cands),
                None => self.smooth_rr(lb, cands),
            },
            Balance::LeastConn => self.least_conn(lb, cands),
            Balance::First => cands
                .iter()
                .copied()
                .min_by_key(|&i| self.servers.get(i).map_or(u32::MAX, |s| s.id)),
            Balance::Random { draws } => self.random(lb, cands, draws),
        }
    }

    /// Smooth weighted round-robin (nginx): each candidate gains its weight, the highest
    /// wins and loses the total. Spreads a 5:1:1 backend as a a b a c a a, never a a a a a b c.
    fn smooth_rr(&self, lb: &mut LbState, cands: &[usize]) -> Option<usize> {
        // Equal weights: one cursor shared by every thread gives strict alternation across
        // threads (smooth WRR would only alternate within each thread).
        if let Some(first) = cands.first().and_then(|&i| self.servers.get(i)) {
            let w = first.weight();
            if cands
                .iter()
                .all(|&i| self.servers.get(i).is_some_and(|s| s.weight() == w))
            {
                let n = self
                    .rt
                    .rr_cursor
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let k = usize::try_from(n % cands.len() as u64).unwrap_or(0);
                return cands.get(k).copied();
            }
        }
        let thread = lb.thread;
        let st = lb.per_backend(self);
        if st.fresh {
            st.fresh = false;
            for _ in 0..thread % cands.len() {
                self.smooth_rr_round(st, cands)?;
            }
        }
        self.smooth_rr_round(st, cands)
    }

    fn smooth_rr_round(&self, st: &mut PerBackend, cands: &[usize]) -> Option<usize> {
        let mut total: i64 = 0;
        let mut best: Option<(usize, i64)> = None;
        for &i in cands {
            let w = i64::from(self.servers.get(i)?.weight());
            let cur = st.current.get_mut(i)?;
            *cur += w;
            total += w;
            if best.is_none_or(|(_, b)| *cur > b) {
                best = Some((i, *cur));
            }
        }
        let (i, _) = best?;
        *st.current.get_mut(i)? -= total;
        Some(i)
    }

    /// Fewest connections per weight; among equals, the next after the last choice.
    fn least_conn(&self, lb: &mut LbState, cands: &[usize]) -> Option<usize> {
        let st = lb.per_backend(self);
        let start = cands
            .iter()
            .position(|&i| st.last != usize::MAX && i > st.last)
            .unwrap_or(0);
        let mut best: Option<usize> = None;
        for k in 0..cands.len() {
            let i = *cands.get((start + k) % cands.len())?;
            let s = self.servers.get(i)?;
            match best {
                Some(b) if !less_loaded(s, self.servers.get(b)?) => {}
                _ => best = Some(i),
            }
        }
        st.last = best?;
        best
    }

    /// Weighted rendezvous hashing: every candidate scores `weight / -ln(u)` with `u` a
    /// hash of (client, server id) in (0,1); the best score wins. The same client keeps its
    /// server while that server stays usable, and removing a server moves only its own
    /// clients.
    fn rendezvous(&self, key: u64, cands: &[usize]) -> Option<usize> {
        let hash = |s: &Server| mix64(key ^ mix64(u64::from(s.id).wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        let first_weight = self.servers.get(*cands.first()?)?.weight();
        if cands
            .iter()
            .all(|&i| self.servers.get(i).is_some_and(|s| s.weight() == first_weight))
        {
            // Equal weights: the score is increasing in the hash, so skip the logarithms
            // (the common case, and the same choice the weighted formula makes).
            return cands
                .iter()
                .copied()
                .max_by_key(|&i| self.servers.get(i).map_or(0, |s| hash(s) >> 11));
        }
        let mut best: Option<(usize, f64)> = None;
        for &i in cands {
            let s = self.servers.get(i)?;
            let u = ((hash(s) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            let score = f64::from(s.weight()) / -u.ln();
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((i, score));
            }
        }
        best.map(|(i, _)| i)
    }

    /// `random(draws)`: draws servers with probability proportional to weight and keeps the
    /// least loaded.
    fn random(&self, lb: &mut LbState, cands: &[usize], draws: u8) -> Option<usize> {
        let total: u64 = cands
            .iter()
            .filter_map(|&i| self.servers.get(i))
            .map(|s| u64::from(s.weight()))
            .sum();
        if total == 0 {
            return cands.first().copied();
        }
        let mut best: Option<usize> = None;
        for _ in 0..draws.max(1) {
            let mut r = lb.below(total);
            let mut drawn = *cands.last()?;
            for &i in cands {
                let w = u64::from(self.servers.get(i)?.weight());
                if r < w {
                    drawn = i;
                    break;
                }
                r -= w;
            }
            match best {
                Some(b) if !less_loaded(self.servers.get(drawn)?, self.servers.get(b)?) => {}
                _ => best = Some(drawn),
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{AdminState, BackendConfig, OperState, ServerConfig, Snapshot};
    use std::net::SocketAddr;
    use std::sync::Arc;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn backend(balance: Balance, servers: &[(&str, u32)]) -> Arc<Backend> {
        let mut b = BackendConfig::new("b");
        b.balance = balance;
        b.servers = servers
            .iter()
            .enumerate()
            .map(|(i, (n, w))| ServerConfig {
                weight: *w,
                ..ServerConfig::new(*n, addr(9000 + i as u16))
            })
            .collect();
        Snapshot::from_config(1, &[b])
            .expect("valid")
            .backend("b")
            .expect("b")
            .clone()
    }

    fn name(p: &Pick) -> Option<&str> {
        match p {
            Pick::Server(slot) => Some(&slot.server().name),
            _ => None,
        }
    }

    /// Picks `n` times, dropping each slot at once; returns counts per server name.
    fn tally(b: &Backend, lb: &mut LbState, n: usize, client: Option<IpAddr>) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for _ in 0..n {
            let p = b.pick(lb, client, None);
            let k = name(&p).expect("a server").to_owned();
            *m.entry(k).or_insert(0) += 1;
        }
        m
    }

    fn assert_ratio(m: &HashMap<String, usize>, want: &[(&str, f64)], tol: f64) {
        let total: usize = m.values().sum();
        for (n, share) in want {
            let got = *m.get(*n).unwrap_or(&0) as f64 / total as f64;
            assert!(
                (got - share).abs() <= tol,
                "{n}: got {got:.3}, want {share:.3} ±{tol} ({m:?})"
            );
        }
    }

    #[test]
    fn threads_start_round_robin_at_different_servers() {
        let b = backend(Balance::RoundRobin, &[("a", 1), ("b", 1)]);
        let firsts: Vec<_> = (0..2)
            .map(|t| name(&b.pick(&mut LbState::with_seed(t, 1), None, None)).map(str::to_owned))
            .collect();
        assert_eq!(firsts, [Some("a".to_owned()), Some("b".to_owned())]);
    }

    #[test]
    fn equal_weights_alternate_across_threads() {
        // Connections accepted by any thread, in any order, still alternate a b a b: the
        // cursor is shared, as HAProxy's one round-robin tree is.
        let b = backend(Balance::RoundRobin, &[("a", 1), ("b", 1)]);
        let mut lbs = [LbState::with_seed(0, 1), LbState::with_seed(1, 2)];
        let order = [0, 0, 1, 0, 1, 1, 1, 0];
        let got: Vec<String> = order
            .iter()
            .map(|&t| name(&b.pick(&mut lbs[t], None, None)).unwrap_or("-").to_owned())
            .collect();
        assert_eq!(got, ["a", "b", "a", "b", "a", "b", "a", "b"]);
    }

    #[test]
    fn balance_words_accepted_and_rejected() {
        let ok = [
            ("roundrobin", Balance::RoundRobin),
            ("static-rr", Balance::StaticRr),
            ("leastconn", Balance::LeastConn),
            ("first", Balance::First),
            ("source", Balance::Source),
            ("random", Balance::Random { draws: 2 }),
            ("random(1)", Balance::Random { draws: 1 }),
            ("random(16)", Balance::Random { draws: 16 }),
        ];
        for (w, b) in ok {
            assert_eq!(w.parse::<Balance>(), Ok(b), "{w}");
            if w != "random(2)" {
                assert_eq!(b.to_string().parse::<Balance>(), Ok(b));
            }
        }
        let bad = [
            ("rr", TableError::UnknownBalance { name: "rr".into() }),
            ("", TableError::UnknownBalance { name: "".into() }),
            (
                "random()",
                TableError::UnknownBalance {
                    name: "random()".into(),
                },
            ),
            (
                "random(x)",
                TableError::UnknownBalance {
                    name: "random(x)".into(),
                },
            ),
            (
                "random(-1)",
                TableError::UnknownBalance {
                    name: "random(-1)".into(),
                },
            ),
            ("random(0)", TableError::RandomDraws { draws: 0, max: 16 }),
            ("random(17)", TableError::RandomDraws { draws: 17, max: 16 }),
            (
                "random(99999999999)",
                TableError::UnknownBalance {
                    name: "random(99999999999)".into(),
                },
            ),
        ];
        for (w, e) in bad {
            assert_eq!(w.parse::<Balance>(), Err(e), "{w}");
        }
        assert!(Balance::Random { draws: 0 }.check().is_err());
    }

    #[test]
    fn roundrobin_weights_1_2_3() {
        let b = backend(Balance::RoundRobin, &[("a", 1), ("b", 2), ("c", 3)]);
        let mut lb = LbState::with_seed(0, 1);
        let m = tally(&b, &mut lb, 600, None);
        assert_eq!(
            (m["a"], m["b"], m["c"]),
            (100, 200, 300),
            "smooth rr is exact over full cycles"
        );
    }

    #[test]
    fn roundrobin_is_smooth() {
        let b = backend(Balance::RoundRobin, &[("a", 5), ("b", 1), ("c", 1)]);
        let mut lb = LbState::with_seed(0, 1);
        let seq: Vec<String> = (0..7)
            .map(|_| name(&b.pick(&mut lb, None, None)).expect("server").to_owned())
            .collect();
        assert_eq!(seq, ["a", "a", "b", "a", "c", "a", "a"]);
    }

    #[test]
    fn roundrobin_follows_weight_changes() {
        let b = backend(Balance::RoundRobin, &[("a", 1), ("b", 1)]);
        let mut lb = LbState::with_seed(0, 1);
        assert_ratio(&tally(&b, &mut lb, 100, None), &[("a", 0.5), ("b", 0.5)], 0.01);
        b.server("a").expect("a").set_weight_raw(3).expect("weight");
        assert_ratio(&tally(&b, &mut lb, 400, None), &[("a", 0.75), ("b", 0.25)], 0.01);
        b.server("a").expect("a").set_weight_raw(0).expect("weight");
        assert_ratio(&tally(&b, &mut lb, 50, None), &[("b", 1.0)], 0.0);
    }

    #[test]
    fn static_rr_weights_1_2_3() {
        let b = backend(Balance::StaticRr, &[("a", 1), ("b", 2), ("c", 3)]);
        let mut lb = LbState::with_seed(0, 1);
        assert_ratio(
            &tally(&b, &mut lb, 600, None),
            &[("a", 1.0 / 6.0), ("b", 2.0 / 6.0), ("c", 0.5)],
            0.0,
        );
    }

    #[test]
    fn random_weights_1_2_3() {
        let b = backend(Balance::Random { draws: 1 }, &[("a", 1), ("b", 2), ("c", 3)]);
        let mut lb = LbState::with_seed(0, 42);
        assert_ratio(
            &tally(&b, &mut lb, 6000, None),
            &[("a", 1.0 / 6.0), ("b", 2.0 / 6.0), ("c", 0.5)],
            0.03,
        );
    }

    #[test]
    fn random_two_choices_prefers_less_loaded() {
        let b = backend(Balance::Random { draws: 2 }, &[("a", 1), ("b", 1)]);
        let mut lb = LbState::with_seed(0, 7);
        // Hold 10 connections on a: with two draws b wins whenever it is drawn.
        let held: Vec<_> = (0..10)
            .map(|_| {
                assert!(b.server("a").expect("a").try_acquire());
                b.slot(b.server("a").expect("a"), 0, true)
            })
            .collect();
        let m = tally(&b, &mut lb, 1000, None);
        assert_ratio(&m, &[("b", 0.75)], 0.05);
        drop(held);
    }

    #[test]
    fn source_weights_1_2_3_and_sticky() {
        let b = backend(Balance::Source, &[("a", 1), ("b", 2), ("c", 3)]);
        let mut lb = LbState::with_seed(0, 1);
        let mut m: HashMap<String, usize> = HashMap::new();
        for i in 0..6000u32 {
            let ip = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            let first = name(&b.pick(&mut lb, Some(ip), None)).expect("server").to_owned();
            let again = name(&b.pick(&mut lb, Some(ip), None)).expect("server").to_owned();
            assert_eq!(first, again, "client {ip} moved");
            *m.entry(first).or_insert(0) += 1;
        }
        assert_ratio(&m, &[("a", 1.0 / 6.0), ("b", 2.0 / 6.0), ("c", 0.5)], 0.03);
    }

    #[test]
    fn source_equal_weight_shortcut_agrees_with_formula() {
        // Equal weights take the no-logarithm path; scaling all weights must not move anyone,
        // and one slightly heavier server takes the formula path, which may only move a few
        // clients to that server.
        let b = backend(Balance::Source, &[("a", 1), ("b", 1), ("c", 1)]);
        let mut lb = LbState::with_seed(0, 1);
        let ips: Vec<IpAddr> = (0..500u32)
            .map(|i| IpAddr::from((0xac10_0000 + i).to_be_bytes()))
            .collect();
        let pick_all = |lb: &mut LbState| -> Vec<String> {
            ips.iter()
                .map(|ip| name(&b.pick(lb, Some(*ip), None)).expect("s").to_owned())
                .collect()
        };
        let equal = pick_all(&mut lb);
        // 100:100:100 is still equal: nobody moves. 100:100:101 uses the formula.
        for s in &b.servers {
            s.set_weight_raw(100).expect("w");
        }
        assert_eq!(pick_all(&mut lb), equal);
        b.server("c").expect("c").set_weight_raw(101).expect("w");
        let formula = pick_all(&mut lb);
        let moved = equal.iter().zip(&formula).filter(|(x, y)| x != y).count();
        assert!(
            formula.iter().zip(&equal).all(|(f, e)| f == e || f == "c"),
            "only moves to c"
        );
        assert!(moved < 20, "a 1% weight change moved {moved} of 500 clients");
    }

    #[test]
    fn source_moves_only_clients_of_removed_server() {
        let b = backend(Balance::Source, &[("a", 1), ("b", 1), ("c", 1), ("d", 1)]);
        let mut lb = LbState::with_seed(0, 1);
        let ips: Vec<IpAddr> = (0..2000u32)
            .map(|i| IpAddr::from((0xc0a8_0000 + i).to_be_bytes()))
            .collect();
        let before: Vec<String> = ips
            .iter()
            .map(|ip| name(&b.pick(&mut lb, Some(*ip), None)).expect("s").to_owned())
            .collect();
        b.server("c").expect("c").set_admin(AdminState::Maint);
        for (ip, was) in ips.iter().zip(&before) {
            let now = name(&b.pick(&mut lb, Some(*ip), None)).expect("s").to_owned();
            if was != "c" {
                assert_eq!(&now, was, "client {ip} of a remaining server moved");
            } else {
                assert_ne!(now, "c");
            }
        }
        // IPv4-mapped IPv6 is the same client.
        let v4 = IpAddr::from([10, 1, 2, 3]);
        let v6: IpAddr = "::ffff:10.1.2.3".parse().expect("ip");
        assert_eq!(
            name(&b.pick(&mut lb, Some(v4), None)).map(str::to_owned),
            name(&b.pick(&mut lb, Some(v6), None)).map(str::to_owned)
        );
    }

    #[test]
    fn leastconn_picks_least_loaded_and_rotates_ties() {
        let b = backend(Balance::LeastConn, &[("a", 1), ("b", 1), ("c", 2)]);
        let mut lb = LbState::with_seed(0, 1);
        // Keep every slot: loads become a=1/1, b=1/1, c=2/2 ... in proportion to weight.
        let mut held = Vec::new();
        for _ in 0..40 {
            let p = b.pick(&mut lb, None, None);
            assert!(matches!(p, Pick::Server(_)));
            held.push(p);
        }
        let conns: Vec<u64> = b.servers.iter().map(|s| s.cur_conns()).collect();
        assert_eq!(conns, [10, 10, 20]);
        // Free b's places: the next ten go to b, then the loads are equal again.
        held.retain(|p| name(p) != Some("b"));
        assert_eq!(b.server("b").expect("b").cur_conns(), 0);
        for _ in 0..10 {
            let p = b.pick(&mut lb, None, None);
            assert_eq!(name(&p), Some("b"));
            held.push(p);
        }
        drop(held);
        // With equal loads and weights, choices rotate.
        let eq = backend(Balance::LeastConn, &[("a", 1), ("b", 1), ("c", 1)]);
        let seq: Vec<String> = (0..6)
            .map(|_| name(&eq.pick(&mut lb, None, None)).expect("s").to_owned())
            .collect();
        assert_eq!(seq, ["a", "b", "c", "a", "b", "c"], "ties rotate");
    }

    #[test]
    fn first_fills_by_id_up_to_maxconn() {
        let mut cfg = BackendConfig::new("f");
        cfg.balance = Balance::First;
        cfg.servers = vec![
            ServerConfig {
                id: Some(2),
                maxconn: 2,
                ..ServerConfig::new("second", addr(2))
            },
            ServerConfig {
                id: Some(1),
                maxconn: 3,
                ..ServerConfig::new("first", addr(1))
            },
        ];
        let snap = Snapshot::from_config(1, &[cfg]).expect("valid");
        let b = snap.backend("f").expect("f");
        let mut lb = LbState::with_seed(0, 1);
        let picks: Vec<Pick> = (0..5).map(|_| b.pick(&mut lb, None, None)).collect();
        let names: Vec<_> = picks.iter().map(name).collect();
        assert_eq!(
            names,
            [
                Some("first"),
                Some("first"),
                Some("first"),
                Some("second"),
                Some("second")
            ]
        );
        assert!(
            matches!(b.pick(&mut lb, None, None), Pick::Queue),
            "all full: queue"
        );
        drop(picks);
        assert_eq!(name(&b.pick(&mut lb, None, None)), Some("first"));
    }

    #[test]
    fn maxconn_queues_and_never_exceeds() {
        let b = backend(Balance::RoundRobin, &[("a", 1), ("b", 1)]);
        for s in &b.servers {
            s.set_maxconn(2);
        }
        let mut lb = LbState::with_seed(0, 1);
        let held: Vec<Pick> = (0..4).map(|_| b.pick(&mut lb, None, None)).collect();
        assert!(held.iter().all(|p| matches!(p, Pick::Server(_))));
        assert!(matches!(b.pick(&mut lb, None, None), Pick::Queue));
        assert_eq!(b.conns().cur(), 4);
        assert!(b
            .servers
            .iter()
            .all(|s| s.cur_conns() == 2 && s.conns().max() == 2));
        drop(held);
        assert_eq!(b.conns().cur(), 0);
        assert!(matches!(b.pick(&mut lb, None, None), Pick::Server(_)));
    }

    #[test]
    fn backups_only_as_fallback() {
        let mut cfg = BackendConfig::new("bk");
        cfg.servers = vec![
            ServerConfig::new("act", addr(1)),
            ServerConfig {
                backup: true,
                ..ServerConfig::new("bk1", addr(2))
            },
            ServerConfig {
                backup: true,
                ..ServerConfig::new("bk2", addr(3))
            },
        ];
        let snap = Snapshot::from_config(1, &[cfg.clone()]).expect("valid");
        let b = snap.backend("bk").expect("bk");
        let mut lb = LbState::with_seed(0, 1);
        assert_eq!(tally(b, &mut lb, 20, None).keys().collect::<Vec<_>>(), ["act"]);
        b.server("act").expect("act").set_oper(OperState::Down);
        assert_eq!(
            tally(b, &mut lb, 20, None).keys().collect::<Vec<_>>(),
            ["bk1"],
            "only the first backup"
        );
        b.server("bk1").expect("bk1").set_admin(AdminState::Maint);
        assert_eq!(tally(b, &mut lb, 20, None).keys().collect::<Vec<_>>(), ["bk2"]);

        cfg.settings.allbackups = true;
        let snap = Snapshot::from_config(1, &[cfg]).expect("valid");
        let b = snap.backend("bk").expect("bk");
        b.server("act").expect("act").set_oper(OperState::Down);
        assert_ratio(&tally(b, &mut lb, 20, None), &[("bk1", 0.5), ("bk2", 0.5)], 0.0);
        b.server("act").expect("act").set_oper(OperState::Up);
        assert_eq!(
            tally(b, &mut lb, 20, None).keys().collect::<Vec<_>>(),
            ["act"],
            "active is back"
        );
    }

    #[test]
    fn full_active_queues_instead_of_using_backup() {
        let mut cfg = BackendConfig::new("q");
        cfg.servers = vec![
            ServerConfig {
                maxconn: 1,
                ..ServerConfig::new("act", addr(1))
            },
            ServerConfig {
                backup: true,
                ..ServerConfig::new("bk", addr(2))
            },
        ];
        let snap = Snapshot::from_config(1, &[cfg]).expect("valid");
        let b = snap.backend("q").expect("q");
        let mut lb = LbState::with_seed(0, 1);
        let _held = b.pick(&mut lb, None, None);
        assert!(matches!(b.pick(&mut lb, None, None), Pick::Queue));
    }

    #[test]
    fn drain_maint_down_and_weight_zero_get_nothing() {
        for algo in [
            Balance::RoundRobin,
            Balance::StaticRr,
            Balance::LeastConn,
            Balance::First,
            Balance::Source,
            Balance::Random { draws: 2 },
        ] {
            let b = backend(
                algo,
                &[
                    ("drain", 1),
                    ("maint", 1),
                    ("down", 1),
                    ("zero", 1),
                    ("stop", 1),
                    ("ok", 1),
                ],
            );
            b.server("drain").expect("s").set_admin(AdminState::Drain);
            b.server("maint").expect("s").set_admin(AdminState::Maint);
            b.server("down").expect("s").set_oper(OperState::Down);
            b.server("stop").expect("s").set_oper(OperState::Stopping);
            b.server("zero").expect("s").set_weight_raw(0).expect("w");
            let mut lb = LbState::with_seed(0, 3);
            let m = tally(&b, &mut lb, 50, Some(IpAddr::from([1, 2, 3, 4])));
            assert_eq!(m.keys().collect::<Vec<_>>(), ["ok"], "{algo}");
            b.server("ok").expect("s").set_admin(AdminState::Maint);
            assert!(matches!(b.pick(&mut lb, None, None), Pick::NoServer), "{algo}");
        }
    }

    #[test]
    fn redispatch_avoids_failed_server_and_counts() {
        let b = backend(Balance::RoundRobin, &[("a", 1), ("b", 1)]);
        let mut lb = LbState::with_seed(0, 1);
        let a = b.server("a").expect("a").clone();
        for _ in 0..10 {
            assert_eq!(name(&b.pick(&mut lb, None, Some(&a))), Some("b"));
        }
        assert_eq!(a.counters().get(Counter::Redispatches), 10);
        assert_eq!(b.counters().get(Counter::Redispatches), 10);
        assert_eq!(
            b.counters().get(Counter::Sessions),
            0,
            "redispatch is not a new session"
        );
        // The failed server is the only one left: use it anyway.
        b.server("b").expect("b").set_admin(AdminState::Maint);
        assert_eq!(name(&b.pick(&mut lb, None, Some(&a))), Some("a"));
    }

    #[test]
    fn redispatch_does_not_fall_to_backup_while_active_is_usable() {
        let mut cfg = BackendConfig::new("r");
        cfg.servers = vec![
            ServerConfig::new("act", addr(1)),
            ServerConfig {
                backup: true,
                ..ServerConfig::new("bk", addr(2))
            },
        ];
        let snap = Snapshot::from_config(1, &[cfg]).expect("valid");
        let b = snap.backend("r").expect("r");
        let mut lb = LbState::with_seed(0, 1);
        let act = b.server("act").expect("act").clone();
        assert_eq!(name(&b.pick(&mut lb, None, Some(&act))), Some("act"));
        act.set_oper(OperState::Down);
        assert_eq!(name(&b.pick(&mut lb, None, Some(&act))), Some("bk"));
    }

    #[test]
    fn slot_counts_and_releases() {
        let b = backend(Balance::RoundRobin, &[("a", 1)]);
        let mut lb = LbState::with_seed(3, 1);
        let Pick::Server(slot) = b.pick(&mut lb, None, None) else {
            panic!("expected a server")
        };
        assert_eq!(slot.thread(), 3);
        assert_eq!(slot.addr(), addr(9000));
        slot.add(Counter::BytesIn, 5);
        let a = b.server("a").expect("a");
        assert_eq!((a.cur_conns(), b.conns().cur()), (1, 1));
        drop(slot);
        assert_eq!((a.cur_conns(), b.conns().cur()), (0, 0));
        for c in [Counter::Sessions, Counter::Selected] {
            assert_eq!(a.counters().get(c), 1, "{c:?}");
        }
        assert_eq!(b.counters().get(Counter::Sessions), 1);
        assert_eq!(
            (
                a.counters().get(Counter::BytesIn),
                b.counters().get(Counter::BytesIn)
            ),
            (5, 5)
        );
    }

    #[test]
    fn per_thread_state_resets_when_server_list_changes() {
        let t = crate::table::Tables::new(
            Snapshot::from_config(
                1,
                &[BackendConfig {
                    servers: vec![ServerConfig::new("a", addr(1)), ServerConfig::new("b", addr(2))],
                    ..BackendConfig::new("x")
                }],
            )
            .expect("valid"),
        );
        let mut lb = LbState::with_seed(0, 1);
        let _ = t.load().backend("x").expect("x").pick(&mut lb, None, None);
        t.add_server(
            "x",
            &ServerConfig {
                weight: 2,
                ..ServerConfig::new("c", addr(3))
            },
        )
        .expect("add");
        let snap = t.load_full();
        let b = snap.backend("x").expect("x");
        assert_ratio(
            &tally(b, &mut lb, 400, None),
            &[("a", 0.25), ("b", 0.25), ("c", 0.5)],
            0.01,
        );
    }
}
