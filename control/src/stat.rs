//! `show stat`: HAProxy's CSV (same header, same column order, so CSV clients index columns
//! unchanged), `typed` and `json`, filled with the values ringlb keeps: frontend rows from
//! the frontends' counters, server and backend rows from the tables' runtime state.
//!
//! Columns ringlb has no value for stay empty (as HAProxy leaves a column that does not
//! apply to an object). HAProxy's extra per-module columns (SSL, HTTP/2...) that follow
//! `proto` are not printed.

use std::fmt::Write as _;

use engine::counters::{Counter, CounterValues};
use engine::table::{AdminState, Backend, OperState, Server, Snapshot};

use crate::command::{StatFormat, StatOptions};
use crate::exec::FrontendInfo;

/// HAProxy 3.4's proxy stat columns (`stat_cols_px[]`), in order.
pub const COLUMNS: &[&str] = &[
    "pxname",
    "svname",
    "qcur",
    "qmax",
    "scur",
    "smax",
    "slim",
    "stot",
    "bin",
    "bout",
    "dreq",
    "dresp",
    "ereq",
    "econ",
    "eresp",
    "wretr",
    "wredis",
    "status",
    "weight",
    "act",
    "bck",
    "chkfail",
    "chkdown",
    "lastchg",
    "downtime",
    "qlimit",
    "pid",
    "iid",
    "sid",
    "throttle",
    "lbtot",
    "tracked",
    "type",
    "rate",
    "rate_lim",
    "rate_max",
    "check_status",
    "check_code",
    "check_duration",
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
    "hanafail",
    "req_rate",
    "req_rate_max",
    "req_tot",
    "cli_abrt",
    "srv_abrt",
    "comp_in",
    "comp_out",
    "comp_byp",
    "comp_rsp",
    "lastsess",
    "last_chk",
    "last_agt",
    "qtime",
    "ctime",
    "rtime",
    "ttime",
    "agent_status",
    "agent_code",
    "agent_duration",
    "check_desc",
    "agent_desc",
    "check_rise",
    "check_fall",
    "check_health",
    "agent_rise",
    "agent_fall",
    "agent_health",
    "addr",
    "cookie",
    "mode",
    "algo",
    "conn_rate",
    "conn_rate_max",
    "conn_tot",
    "intercepted",
    "dcon",
    "dses",
    "wrew",
    "connect",
    "reuse",
    "cache_lookups",
    "cache_hits",
    "srv_icur",
    "src_ilim",
    "qtime_max",
    "ctime_max",
    "rtime_max",
    "ttime_max",
    "eint",
    "idle_conn_cur",
    "safe_conn_cur",
    "used_conn_cur",
    "need_conn_est",
    "uweight",
    "agg_server_status",
    "agg_server_check_status",
    "agg_check_status",
    "srid",
    "sess_other",
    "h1sess",
    "h2sess",
    "h3sess",
    "req_other",
    "h1req",
    "h2req",
    "h3req",
    "proto",
];

/// `show stat` object type numbers (the `type` column).
const TYPE_FE: u8 = 0;
const TYPE_BE: u8 = 1;
const TYPE_SV: u8 = 2;

fn col(name: &str) -> Option<usize> {
    COLUMNS.iter().position(|c| *c == name)
}

/// One output line under construction.
struct Row {
    kind: u8,
    iid: u32,
    sid: u32,
    fields: Vec<String>,
}

impl Row {
    fn new(kind: u8, iid: u32, sid: u32) -> Row {
        Row {
            kind,
            iid,
            sid,
            fields: vec![String::new(); COLUMNS.len()],
        }
    }

    fn set(&mut self, name: &str, v: impl ToString) {
        if let Some(f) = col(name).and_then(|i| self.fields.get_mut(i)) {
            *f = v.to_string();
        }
        debug_assert!(col(name).is_some(), "unknown stat column {name}");
    }

    fn counters(&mut self, c: &CounterValues, which: &[Counter]) {
        for &k in which {
            self.set(k.stat_name(), c.get(k));
        }
    }
}

const FE_COUNTERS: &[Counter] = &[
    Counter::Sessions,
    Counter::BytesIn,
    Counter::BytesOut,
    Counter::DeniedReq,
    Counter::DeniedResp,
    Counter::ReqErrors,
    Counter::ConnTotal,
];

const BE_COUNTERS: &[Counter] = &[
    Counter::Sessions,
    Counter::BytesIn,
    Counter::BytesOut,
    Counter::DeniedReq,
    Counter::DeniedResp,
    Counter::ConnErrors,
    Counter::RespErrors,
    Counter::Retries,
    Counter::Redispatches,
    Counter::Selected,
    Counter::ClientAborts,
    Counter::ServerAborts,
];

fn frontend_row(f: &FrontendInfo) -> Row {
    let mut r = Row::new(TYPE_FE, f.id, 0);
    r.set("pxname", &f.name);
    r.set("svname", "FRONTEND");
    match &f.counters {
        Some(c) => {
            r.set("scur", c.conns.cur());
            r.set("smax", c.conns.max());
            r.counters(&c.totals.read(), FE_COUNTERS);
        }
        None => {
            r.set("scur", 0);
            r.set("smax", 0);
            for k in FE_COUNTERS {
                r.set(k.stat_name(), 0);
            }
        }
    }
    r.set("slim", f.maxconn);
    r.set("status", f.status);
    r.set("pid", 1);
    r.set("iid", f.id);
    r.set("sid", 0);
    r.set("type", TYPE_FE);
    for c in [
        "rate",
        "rate_lim",
        "rate_max",
        "wrew",
        "eint",
        "intercepted",
        "dcon",
        "dses",
    ] {
        r.set(c, 0);
    }
    r.set("mode", f.mode);
    r.set("conn_rate", 0);
    r.set("conn_rate_max", 0);
    r.set("proto", "");
    r
}

fn server_status(s: &Server) -> &'static str {
    match (s.admin(), s.oper()) {
        (AdminState::Maint, _) => "MAINT",
        (AdminState::Drain, _) => "DRAIN",
        (_, OperState::Down) => "DOWN",
        (_, OperState::Stopping) => "NOLB",
        (_, OperState::Up) => "UP",
    }
}

fn server_row(b: &Backend, s: &Server, show_addr: bool) -> Row {
    let mut r = Row::new(TYPE_SV, b.id, s.id);
    r.set("pxname", &b.name);
    r.set("svname", &s.name);
    r.set("qcur", 0);
    r.set("qmax", 0);
    r.set("scur", s.conns().cur());
    r.set("smax", s.conns().max());
    if s.maxconn() > 0 {
        r.set("slim", s.maxconn());
    }
    r.counters(&s.counters().read(), BE_COUNTERS);
    r.set("status", server_status(s));
    r.set("weight", s.weight());
    r.set("act", u8::from(!s.backup));
    r.set("bck", u8::from(s.backup));
    r.set("lastchg", 0);
    r.set("downtime", 0);
    r.set("pid", 1);
    r.set("iid", b.id);
    r.set("sid", s.id);
    r.set("type", TYPE_SV);
    r.set("rate", 0);
    r.set("rate_max", 0);
    for c in [
        "qtime",
        "ctime",
        "rtime",
        "ttime",
        "qtime_max",
        "ctime_max",
        "rtime_max",
        "ttime_max",
    ] {
        r.set(c, 0);
    }
    for c in [
        "wrew",
        "connect",
        "reuse",
        "eint",
        "idle_conn_cur",
        "safe_conn_cur",
        "used_conn_cur",
        "need_conn_est",
        "srv_icur",
    ] {
        r.set(c, 0);
    }
    r.set("used_conn_cur", s.cur_conns());
    if show_addr {
        r.set("addr", s.addr);
    }
    r.set("mode", b.mode);
    r.set("uweight", s.weight());
    r.set("srid", 1);
    r
}

fn backend_row(b: &Backend, show_addr: bool) -> Row {
    let mut r = Row::new(TYPE_BE, b.id, 0);
    r.set("pxname", &b.name);
    r.set("svname", "BACKEND");
    r.set("qcur", b.queued().cur());
    r.set("qmax", b.queued().max());
    r.set("scur", b.conns().cur());
    r.set("smax", b.conns().max());
    r.set("slim", 0);
    r.counters(&b.counters().read(), BE_COUNTERS);
    let usable: Vec<_> = b.servers.iter().filter(|s| s.usable()).collect();
    let weight: u32 = usable.iter().filter(|s| !s.backup).map(|s| s.weight()).sum();
    let act = usable.iter().filter(|s| !s.backup).count();
    let bck = usable.iter().filter(|s| s.backup).count();
    let status = if usable.is_empty() { "DOWN" } else { "UP" };
    // 3.4 marks unpublished backends (observed: `status=UP (UNPUB)`).
    if b.published {
        r.set("status", status);
    } else {
        r.set("status", format!("{status} (UNPUB)"));
    }
    r.set("weight", weight);
    r.set("act", act);
    r.set("bck", bck);
    r.set("chkdown", 0);
    r.set("lastchg", 0);
    r.set("downtime", 0);
    r.set("pid", 1);
    r.set("iid", b.id);
    r.set("sid", 0);
    r.set("type", TYPE_BE);
    r.set("rate", 0);
    r.set("rate_max", 0);
    for c in [
        "qtime",
        "ctime",
        "rtime",
        "ttime",
        "qtime_max",
        "ctime_max",
        "rtime_max",
        "ttime_max",
    ] {
        r.set(c, 0);
    }
    for c in ["wrew", "connect", "reuse", "eint"] {
        r.set(c, 0);
    }
    r.set("mode", b.mode);
    if show_addr {
        r.set("algo", b.balance);
    }
    r.set("uweight", weight);
    r.set("agg_server_status", 0);
    r.set("agg_server_check_status", 0);
    r.set("agg_check_status", 0);
    r
}

/// Which proxies a `show stat <iid> <type> <sid>` scope selects.
fn in_scope(opts: &StatOptions, name: &str, id: u32, kind: u8, sid: u32) -> bool {
    let Some(scope) = &opts.scope else {
        return true;
    };
    let px = String::from_utf8_lossy(scope.proxy.as_bytes());
    let px_ok = px == name || px.parse::<u32>().ok() == Some(id);
    let type_ok = scope.types == -1 || (scope.types & (1 << kind)) != 0;
    let sid_ok = kind != TYPE_SV || scope.sid == -1 || u32::try_from(scope.sid).ok() == Some(sid);
    px_ok && type_ok && sid_ok
}

/// Whether `show stat <px>` names an existing proxy (HAProxy answers `No such proxy.`).
pub fn scope_exists(opts: &StatOptions, snap: &Snapshot, fronts: &[FrontendInfo]) -> bool {
    let Some(scope) = &opts.scope else {
        return true;
    };
    let px = String::from_utf8_lossy(scope.proxy.as_bytes());
    let id = px.parse::<u32>().ok();
    snap.backends().iter().any(|b| *b.name == *px || Some(b.id) == id)
        || fronts.iter().any(|f| f.name == px || Some(f.id) == id)
}

/// The `show stat` answer, ending with a LF. `show_addr`: the session is operator or admin
/// (HAProxy shows `addr` and `algo` only then).
pub fn render(opts: &StatOptions, snap: &Snapshot, fronts: &[FrontendInfo], show_addr: bool) -> String {
    let mut rows = Vec::new();
    for f in fronts {
        if in_scope(opts, &f.name, f.id, TYPE_FE, 0) {
            rows.push(frontend_row(f));
        }
    }
    for b in snap.backends() {
        for s in &b.servers {
            if opts.no_maint && s.admin() == AdminState::Maint {
                continue;
            }
            if opts.up && !(s.oper() == OperState::Up && s.admin() != AdminState::Maint) {
                continue;
            }
            if in_scope(opts, &b.name, b.id, TYPE_SV, s.id) {
                rows.push(server_row(b, s, show_addr));
            }
        }
        if in_scope(opts, &b.name, b.id, TYPE_BE, 0) {
            rows.push(backend_row(b, show_addr));
        }
    }
    let mut out = String::new();
    match opts.format {
        StatFormat::Default => {
            out.push_str("# ");
            for c in COLUMNS {
                out.push_str(c);
                out.push(',');
            }
            out.push('\n');
            for r in &rows {
                for f in &r.fields {
                    csv_field(&mut out, f);
                    out.push(',');
                }
                out.push('\n');
            }
        }
        StatFormat::Typed => {
            for r in &rows {
                let obj = ['F', 'B', 'S'].get(usize::from(r.kind)).copied().unwrap_or('?');
                for (i, f) in r.fields.iter().enumerate() {
                    if f.is_empty() {
                        continue;
                    }
                    let (tags, ty) = field_type(i, f);
                    let _ = writeln!(
                        out,
                        "{obj}.{}.{}.{i}.{}.1:{tags}:{ty}:{f}",
                        r.iid,
                        r.sid,
                        COLUMNS.get(i).unwrap_or(&"")
                    );
                }
            }
        }
        StatFormat::Json => {
            out.push('[');
            for (n, r) in rows.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push('[');
                let obj = ["Frontend", "Backend", "Server"]
                    .get(usize::from(r.kind))
                    .copied()
                    .unwrap_or("");
                let mut first = true;
                for (i, f) in r.fields.iter().enumerate() {
                    if f.is_empty() {
                        continue;
                    }
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    let (_, ty) = field_type(i, f);
                    let _ = write!(
                        out,
                        "{{\"objType\":\"{obj}\",\"proxyId\":{},\"id\":{},\"field\":{{\"pos\":{i},\"name\":\"{}\"}},\"processNum\":1,\"tags\":{{\"origin\":\"Metric\",\"nature\":\"Gauge\",\"scope\":\"Process\"}},\"value\":{{\"type\":\"{ty}\",\"value\":",
                        r.iid,
                        r.sid,
                        COLUMNS.get(i).unwrap_or(&"")
                    );
                    if ty == "str" {
                        crate::info::push_json_str(&mut out, f);
                    } else {
                        out.push_str(f);
                    }
                    out.push_str("}}");
                }
                out.push(']');
            }
            out.push_str("]\n");
        }
    }
    out
}

/// Typed tags and value type of a column: names are keys, numbers metrics.
fn field_type(i: usize, v: &str) -> (&'static str, &'static str) {
    if i < 2 {
        ("KNS", "str")
    } else if v.parse::<u64>().is_ok() {
        ("MGP", "u64")
    } else {
        ("MGP", "str")
    }
}

/// HAProxy's `csv_enc`: fields holding a comma, quote or line break are quoted.
fn csv_field(out: &mut String, f: &str) {
    if f.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&f.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::table::{BackendConfig, ServerConfig};
    use std::net::SocketAddr;

    fn snap() -> Snapshot {
        let mut b = BackendConfig::new("web");
        b.servers = vec![ServerConfig::new("s1", SocketAddr::from(([127, 0, 0, 1], 8080)))];
        Snapshot::from_config(1, &[b]).unwrap()
    }

    #[test]
    fn csv_header_is_haproxys() {
        let out = render(&StatOptions::default(), &snap(), &[], true);
        let header = out.lines().next().unwrap();
        assert!(header.starts_with("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,"));
        assert!(header.ends_with(",proto,"));
        let rows: Vec<Vec<&str>> = out
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').collect())
            .collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][..2], &["web", "s1"]);
        assert_eq!(rows[0][col("status").unwrap()], "UP");
        assert_eq!(rows[0][col("addr").unwrap()], "127.0.0.1:8080");
        assert_eq!(&rows[1][..2], &["web", "BACKEND"]);
        assert_eq!(rows[1].len(), COLUMNS.len() + 1);
        // No empty line inside an answer: clients split answers on it.
        assert!(!out.contains("\n\n"));
    }

    #[test]
    fn unpublished_backends_are_marked() {
        let mut b = BackendConfig::new("dyn");
        b.published = false;
        let snap = Snapshot::from_config(1, &[b]).unwrap();
        let out = render(&StatOptions::default(), &snap, &[], true);
        let row: Vec<&str> = out.lines().nth(1).unwrap().split(',').collect();
        assert_eq!(row[col("status").unwrap()], "DOWN (UNPUB)");
    }

    #[test]
    fn typed_and_json() {
        let typed = render(
            &StatOptions {
                format: StatFormat::Typed,
                ..Default::default()
            },
            &snap(),
            &[],
            false,
        );
        assert!(typed.starts_with("S.1.1.0.pxname.1:KNS:str:web\n"), "{typed}");
        assert!(!typed.contains("addr"));
        assert!(!typed.contains("\n\n"));
        let json = render(
            &StatOptions {
                format: StatFormat::Json,
                ..Default::default()
            },
            &snap(),
            &[],
            false,
        );
        assert!(json.starts_with("[[{\"objType\":\"Server\""), "{json}");
    }
}
