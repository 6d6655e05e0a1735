//! Model-based test of the runtime table API: random sequences of changes are applied both
//! to `Tables` and to a plain model; every call must succeed or fail the same way, and the
//! published snapshot must match the model after each step. Picks are checked against the
//! balancing rules (only usable servers, backups only as fallback, `NoServer` only when
//! nothing is usable, `Queue` only when every candidate is full).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use engine::balance::{Balance, LbState};
use engine::table::{
    AdminState, BackendConfig, Pick, ServerConfig, Snapshot, TableError, Tables, WeightChange,
};
use proptest::prelude::*;

const BACKEND_NAMES: [&str; 3] = ["b0", "b1", "b2"];
const SERVER_NAMES: [&str; 4] = ["s0", "s1", "s2", "s3"];
const ALGOS: [Balance; 6] = [
    Balance::RoundRobin,
    Balance::StaticRr,
    Balance::LeastConn,
    Balance::First,
    Balance::Source,
    Balance::Random { draws: 2 },
];

#[derive(Debug, Clone)]
enum Op {
    AddBackend {
        b: usize,
        published: bool,
        algo: usize,
    },
    DelBackend {
        b: usize,
    },
    Publish {
        b: usize,
        on: bool,
    },
    AddServer {
        b: usize,
        s: usize,
        weight: u32,
        backup: bool,
        disabled: bool,
    },
    DelServer {
        b: usize,
        s: usize,
    },
    SetAdmin {
        b: usize,
        s: usize,
        admin: u8,
    },
    SetWeight {
        b: usize,
        s: usize,
        w: u32,
        percent: bool,
    },
    SetAddr {
        b: usize,
        s: usize,
        last: u8,
        port: Option<u16>,
    },
    SetMaxconn {
        b: usize,
        s: usize,
        max: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let b = 0..BACKEND_NAMES.len();
    let s = 0..SERVER_NAMES.len();
    prop_oneof![
        (b.clone(), any::<bool>(), 0..ALGOS.len()).prop_map(|(b, published, algo)| Op::AddBackend {
            b,
            published,
            algo
        }),
        b.clone().prop_map(|b| Op::DelBackend { b }),
        (b.clone(), any::<bool>()).prop_map(|(b, on)| Op::Publish { b, on }),
        (b.clone(), s.clone(), 0..300u32, any::<bool>(), any::<bool>()).prop_map(
            |(b, s, weight, backup, disabled)| Op::AddServer {
                b,
                s,
                weight,
                backup,
                disabled
            }
        ),
        (b.clone(), s.clone()).prop_map(|(b, s)| Op::DelServer { b, s }),
        (b.clone(), s.clone(), 0..3u8).prop_map(|(b, s, admin)| Op::SetAdmin { b, s, admin }),
        (b.clone(), s.clone(), 0..300u32, any::<bool>()).prop_map(|(b, s, w, percent)| Op::SetWeight {
            b,
            s,
            w,
            percent
        }),
        (
            b.clone(),
            s.clone(),
            any::<u8>(),
            proptest::option::of(1..u16::MAX)
        )
            .prop_map(|(b, s, last, port)| Op::SetAddr { b, s, last, port }),
        (b, s, 0..4u32).prop_map(|(b, s, max)| Op::SetMaxconn { b, s, max }),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct MServer {
    name: &'static str,
    addr: SocketAddr,
    weight: u32,
    initial: u32,
    admin: AdminState,
    backup: bool,
    maxconn: u32,
}

#[derive(Debug, Clone, PartialEq)]
struct MBackend {
    published: bool,
    balance: Balance,
    servers: Vec<MServer>,
}

type Model = BTreeMap<&'static str, MBackend>;

fn admin_of(n: u8) -> AdminState {
    match n {
        0 => AdminState::Ready,
        1 => AdminState::Drain,
        _ => AdminState::Maint,
    }
}

/// Applies `op` to the model, returning the error the tables must return (by variant name).
fn model_apply(m: &mut Model, op: &Op) -> Result<(), &'static str> {
    let name = |b: usize| BACKEND_NAMES[b];
    let srv = |s: usize| SERVER_NAMES[s];
    match *op {
        Op::AddBackend { b, published, algo } => {
            if m.contains_key(name(b)) {
                return Err("BackendExists");
            }
            m.insert(
                name(b),
                MBackend {
                    published,
                    balance: ALGOS[algo],
                    servers: vec![],
                },
            );
        }
        Op::DelBackend { b } => {
            let be = m.get(name(b)).ok_or("NoSuchBackend")?;
            if be.published {
                return Err("BackendPublished");
            }
            if !be.servers.is_empty() {
                return Err("BackendHasServers");
            }
            m.remove(name(b));
        }
        Op::Publish { b, on } => m.get_mut(name(b)).ok_or("NoSuchBackend")?.published = on,
        Op::AddServer {
            b,
            s,
            weight,
            backup,
            disabled,
        } => {
            let be = m.get_mut(name(b)).ok_or("NoSuchBackend")?;
            if be.servers.iter().any(|x| x.name == srv(s)) {
                return Err("ServerExists");
            }
            if weight > 256 {
                return Err("WeightOutOfRange");
            }
            be.servers.push(MServer {
                name: srv(s),
                addr: SocketAddr::from(([127, 0, 0, 1], 1000 + s as u16)),
                weight,
                initial: weight,
                admin: if disabled {
                    AdminState::Maint
                } else {
                    AdminState::Ready
                },
                backup,
                maxconn: 0,
            });
        }
        Op::DelServer { b, s } => {
            let be = m.get_mut(name(b)).ok_or("NoSuchBackend")?;
            let i = be
                .servers
                .iter()
                .position(|x| x.name == srv(s))
                .ok_or("NoSuchServer")?;
            if be.servers[i].admin != AdminState::Maint {
                return Err("ServerNotInMaint");
            }
            be.servers.remove(i);
        }
        Op::SetAdmin { b, s, admin } => server_mut(m, b, s)?.admin = admin_of(admin),
        Op::SetWeight { b, s, w, percent } => {
            let balance = m.get(name(b)).ok_or("NoSuchBackend")?.balance;
            let x = server_mut(m, b, s)?;
            let w = if percent {
                (u64::from(x.initial) * u64::from(w) / 100).min(256) as u32
            } else if w > 256 {
                return Err("WeightOutOfRange");
            } else {
                w
            };
            if balance == Balance::StaticRr && w != 0 && w != x.initial {
                return Err("StaticWeight");
            }
            x.weight = w;
        }
        Op::SetAddr { b, s, last, port } => {
            let x = server_mut(m, b, s)?;
            x.addr = SocketAddr::new(IpAddr::from([10, 0, 0, last]), port.unwrap_or(x.addr.port()));
        }
        Op::SetMaxconn { b, s, max } => server_mut(m, b, s)?.maxconn = max,
    }
    Ok(())
}

fn server_mut(m: &mut Model, b: usize, s: usize) -> Result<&mut MServer, &'static str> {
    let be = m.get_mut(BACKEND_NAMES[b]).ok_or("NoSuchBackend")?;
    be.servers
        .iter_mut()
        .find(|x| x.name == SERVER_NAMES[s])
        .ok_or("NoSuchServer")
}

fn tables_apply(t: &Tables, op: &Op) -> Result<(), TableError> {
    let name = |b: usize| BACKEND_NAMES[b];
    let srv = |s: usize| SERVER_NAMES[s];
    match *op {
        Op::AddBackend { b, published, algo } => {
            let cfg = BackendConfig {
                published,
                balance: ALGOS[algo],
                ..BackendConfig::new(name(b))
            };
            t.add_backend(&cfg).map(drop)
        }
        Op::DelBackend { b } => t.del_backend(name(b)).map(drop),
        Op::Publish { b, on: true } => t.publish(name(b)).map(drop),
        Op::Publish { b, on: false } => t.unpublish(name(b)).map(drop),
        Op::AddServer {
            b,
            s,
            weight,
            backup,
            disabled,
        } => {
            let addr = SocketAddr::from(([127, 0, 0, 1], 1000 + s as u16));
            let cfg = ServerConfig {
                weight,
                backup,
                disabled,
                ..ServerConfig::new(srv(s), addr)
            };
            t.add_server(name(b), &cfg).map(drop)
        }
        Op::DelServer { b, s } => t.del_server(name(b), srv(s)).map(drop),
        Op::SetAdmin { b, s, admin } => t.set_admin(name(b), srv(s), admin_of(admin)),
        Op::SetWeight { b, s, w, percent } => {
            let change = if percent {
                WeightChange::Percent(w)
            } else {
                WeightChange::Absolute(w)
            };
            t.set_weight(name(b), srv(s), change).map(drop)
        }
        Op::SetAddr { b, s, last, port } => t
            .set_addr(name(b), srv(s), IpAddr::from([10, 0, 0, last]), port)
            .map(drop),
        Op::SetMaxconn { b, s, max } => t.set_maxconn(name(b), srv(s), max),
    }
}

/// The variant name of an error, as the model spells it.
fn kind(e: &TableError) -> &'static str {
    match e {
        TableError::NoSuchBackend { .. } => "NoSuchBackend",
        TableError::NoSuchServer { .. } => "NoSuchServer",
        TableError::BackendExists { .. } => "BackendExists",
        TableError::ServerExists { .. } => "ServerExists",
        TableError::WeightOutOfRange { .. } => "WeightOutOfRange",
        TableError::StaticWeight { .. } => "StaticWeight",
        TableError::ServerNotInMaint { .. } => "ServerNotInMaint",
        TableError::BackendPublished { .. } => "BackendPublished",
        TableError::BackendHasServers { .. } => "BackendHasServers",
        _ => "other",
    }
}

fn snapshot_model(s: &Snapshot) -> Model {
    let mut m = Model::new();
    for b in s.backends() {
        let name = *BACKEND_NAMES
            .iter()
            .find(|n| **n == &*b.name)
            .expect("known backend name");
        let servers = b
            .servers
            .iter()
            .map(|x| MServer {
                name: SERVER_NAMES
                    .iter()
                    .find(|n| **n == &*x.name)
                    .expect("known server name"),
                addr: x.addr,
                weight: x.weight(),
                initial: x.initial_weight,
                admin: x.admin(),
                backup: x.backup,
                maxconn: x.maxconn(),
            })
            .collect();
        m.insert(
            name,
            MBackend {
                published: b.published,
                balance: b.balance,
                servers,
            },
        );
    }
    m
}

/// Checks one pick against the rules, from the model's view of the backend.
fn check_pick(be: &MBackend, p: &Pick) -> Result<(), String> {
    let usable = |x: &&MServer| x.admin == AdminState::Ready && x.weight > 0;
    let active: Vec<&MServer> = be.servers.iter().filter(|x| !x.backup).filter(usable).collect();
    let cands: Vec<&MServer> = if active.is_empty() {
        be.servers
            .iter()
            .filter(|x| x.backup)
            .filter(usable)
            .take(1)
            .collect()
    } else {
        active
    };
    match p {
        Pick::NoServer if cands.is_empty() => Ok(()),
        Pick::NoServer => Err(format!("NoServer with candidates {cands:?}")),
        // No slot outlives its check and maxconn is 0 (unlimited) or >= 1, so no candidate
        // is ever full here: a Queue is always wrong.
        Pick::Queue => Err(format!("Queue with nothing held, candidates {cands:?}")),
        Pick::Server(slot) => {
            let name = &*slot.server().name;
            if cands.iter().any(|c| c.name == name) {
                Ok(())
            } else {
                Err(format!("picked {name}, candidates {cands:?}"))
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn tables_follow_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let t = Tables::new(Snapshot::new(2));
        let mut m = Model::new();
        let mut lb = LbState::with_seed(0, 9);
        for (step, op) in ops.iter().enumerate() {
            let before = t.load().generation();
            let want = model_apply(&mut m, op);
            let got = tables_apply(&t, op);
            prop_assert_eq!(got.as_ref().map(|_| ()).map_err(kind), want, "step {} {:?}: {:?}", step, op, got);
            if got.is_err() {
                prop_assert_eq!(t.load().generation(), before, "a refused change published");
            }
            let snap = t.load_full();
            prop_assert_eq!(snapshot_model(&snap), m.clone(), "step {} {:?}", step, op);
            for b in snap.backends() {
                prop_assert!(snap.backend_by_id(b.id).is_some_and(|x| x.same_as(b)));
                let mb = &m[BACKEND_NAMES.iter().find(|n| **n == &*b.name).expect("name")];
                for ip in [None, Some(IpAddr::from([192, 0, 2, step as u8]))] {
                    let p = b.pick(&mut lb, ip, None);
                    prop_assert!(check_pick(mb, &p).is_ok(), "{} {:?}: {:?}", b.name, op, check_pick(mb, &p));
                }
            }
        }
    }
}
