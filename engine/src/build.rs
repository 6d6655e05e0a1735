//! Turns the parsed configuration into the engine's [`Plan`]: frontends with their bind
//! addresses, backends with their servers (hostnames resolved here, at start, never at `-c`),
//! timeouts, balance, retries. Everything a start needs is checked before anything starts, and
//! every problem is reported with the file and line of the directive that causes it.
//!
//! Keywords the parser accepts but the engine does not act on yet are reported as warnings
//! naming them, so a config never silently means less than it says.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use crate::balance::{Balance, RANDOM_DRAWS_MAX};
use crate::config::model::{self, Config, Place, Proxy};
use crate::config::values::{Address, Family, Host, Port};
use crate::config::{Diagnostic, Level};
use crate::http::{Limits, TUNE_BUFSIZE_DEFAULT, TUNE_HTTP_MAXHDR_DEFAULT, TUNE_MAXREWRITE_DEFAULT};
use crate::map::Maps;
use crate::plan::{
    ConnMode, ForwardFor, FrontendPlan, HttpLimits, HttpPlan, LoggerRef, Mode, Plan, Reuse, RulesRef,
    FDS_RESERVED,
};
use crate::rules::ProxyRules;
use crate::table::{BackendConfig, BackendSettings, ServerConfig, Snapshot};
use crate::tcp::BUF_SMALL_BYTES;
use std::collections::HashMap;
use std::sync::Arc;

/// `maxconn` when the config sets none: HAProxy derives it from the open-file limit; so do
/// we, capped here. Why the cap: each connection costs two fds and buffers; 100,000 is far
/// above what the 20,000-fd limit of this platform allows anyway.
pub const MAXCONN_DEFAULT_CAP: u64 = 100_000;

/// Most addresses one `bind` port range may expand to (`bind :8000-8999`).
/// Why: each address is one listening socket (per thread); 1,024 is above real use.
pub const BIND_RANGE_PORTS_MAX: u32 = 1024;

/// The plan and the warnings about what the engine does not do yet.
#[derive(Debug)]
pub struct Built {
    /// What to start.
    pub plan: Plan,
    /// Accepted settings the engine does not act on yet, and similar notes.
    pub warnings: Vec<Diagnostic>,
}

struct Ctx {
    alerts: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Ctx {
    fn alert(&mut self, place: &Place, message: String) {
        self.alerts.push(Diagnostic {
            level: Level::Alert,
            file: place.file.clone(),
            line: place.line,
            message,
        });
    }

    fn warn(&mut self, place: &Place, message: String) {
        self.warnings.push(Diagnostic {
            level: Level::Warning,
            file: place.file.clone(),
            line: place.line,
            message,
        });
    }
}

/// Builds the plan. `fd_limit` is the open-file limit, from which the default `maxconn` is
/// derived as HAProxy does.
pub fn plan(cfg: &Config, fd_limit: u64) -> Result<Built, Vec<Diagnostic>> {
    let mut ctx = Ctx {
        alerts: Vec::new(),
        warnings: Vec::new(),
    };
    let g = &cfg.global;
    let default_maxconn = (fd_limit.saturating_sub(FDS_RESERVED) / 2).clamp(1, MAXCONN_DEFAULT_CAP);
    let maxconn = g.maxconn.map(u64::from).unwrap_or(default_maxconn);
    let maxconn = usize::try_from(maxconn).unwrap_or(usize::MAX);
    let threads = g.nbthread.map(|n| n as usize).unwrap_or(0);
    let cpu_map = cpu_map(g);

    let maps = Arc::new(Maps::default());
    let mut backends = Vec::new();
    let mut backend_rules = HashMap::new();
    let mut backend_errorfiles = HashMap::new();
    for p in cfg.backends().filter(|p| !p.disabled) {
        if let Some(b) = backend(&mut ctx, p) {
            backends.push(b);
        }
        if p.mode == model::Mode::Http && !p.errorfiles.is_empty() {
            let mut files = Vec::new();
            for e in &p.errorfiles {
                match read_small_file(&e.path) {
                    Ok(data) => files.push((e.status, data.into())),
                    Err(why) => ctx.alert(
                        &p.place,
                        format!("backend '{}': errorfile {}: {why}", p.name, e.status),
                    ),
                }
            }
            backend_errorfiles.insert(p.name.clone(), files);
        }
        if p.mode == model::Mode::Http {
            match ProxyRules::compile(p, &maps) {
                Ok(r) => {
                    backend_rules.insert(p.name.clone(), Arc::new(r));
                }
                Err(e) => ctx.alert(&p.place, e.to_string()),
            }
        }
    }
    let mut frontends = Vec::new();
    for p in cfg.frontends().filter(|p| !p.disabled) {
        if let Some(f) = frontend(&mut ctx, p, maxconn, g, &maps) {
            frontends.push(f);
        }
    }
    for p in cfg.proxies.iter().filter(|p| !p.disabled) {
        unsupported(&mut ctx, p);
    }
    unsupported_global(&mut ctx, g);
    if !ctx.alerts.is_empty() {
        ctx.alerts.extend(ctx.warnings);
        return Err(ctx.alerts);
    }
    let mut plan = Plan {
        threads,
        cpu_map,
        pin: true,
        maxconn,
        listener_per_thread: false,
        hard_stop_after: g.hard_stop_after,
        frontends,
        snapshot: Snapshot::new(1),
        maps,
        backend_rules,
        backend_errorfiles,
    };
    match Snapshot::from_config(plan.thread_count(), &backends) {
        Ok(s) => plan.snapshot = s,
        Err(e) => {
            return Err(vec![Diagnostic {
                level: Level::Alert,
                file: String::new(),
                line: 0,
                message: format!("backends: {e}"),
            }])
        }
    }
    Ok(Built {
        plan,
        warnings: ctx.warnings,
    })
}

/// `cpu-map 1/1 0` style lines: thread N (1-based) to the first CPU of its set. Thread sets
/// that name several threads map them in order onto the CPU set.
fn cpu_map(g: &model::Global) -> Vec<usize> {
    let mut map: Vec<usize> = Vec::new();
    for cm in &g.cpu_maps {
        let set = cm.threads.trim_start_matches("auto:");
        let set = set.rsplit('/').next().unwrap_or(set);
        let (lo, hi) = match set.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().ok(), b.parse::<usize>().ok()),
            None if set == "all" => (Some(1), Some(crate::plan::THREADS_MAX)),
            None => (set.parse::<usize>().ok(), set.parse::<usize>().ok()),
        };
        let (Some(lo), Some(hi)) = (lo, hi) else { continue };
        if lo == 0 || hi < lo || hi > crate::plan::THREADS_MAX || cm.cpus.is_empty() {
            continue;
        }
        for (i, t) in (lo..=hi).enumerate() {
            let cpu = cm.cpus[i % cm.cpus.len()] as usize;
            if map.len() < t {
                map.resize(t, usize::MAX);
            }
            map[t - 1] = cpu;
        }
    }
    // Threads without a line keep the default pinning (index modulo CPUs).
    let fallback = crate::sys::available_cpus().max(1);
    map.iter()
        .enumerate()
        .map(|(i, &c)| if c == usize::MAX { i % fallback } else { c })
        .collect()
}

fn mode(m: model::Mode) -> Mode {
    match m {
        model::Mode::Tcp => Mode::Tcp,
        model::Mode::Http => Mode::Http,
    }
}

/// Largest errorfile or `return file` accepted: HAProxy requires them to fit in one buffer.
pub const ERRORFILE_BYTES_MAX: usize = BUF_SMALL_BYTES;

fn read_small_file(path: &str) -> Result<Vec<u8>, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read '{path}': {e}"))?;
    if data.len() > ERRORFILE_BYTES_MAX {
        return Err(format!(
            "'{path}' is {} bytes, larger than the buffer size ({ERRORFILE_BYTES_MAX})",
            data.len()
        ));
    }
    Ok(data)
}

/// `a.b.c.d[/n]` or an IPv6 network.
fn network(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = match s.split_once('/') {
        Some((ip, b)) => (ip, Some(b)),
        None => (s, None),
    };
    let ip: IpAddr = ip.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => match b.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => {
                // A dotted mask (255.255.0.0).
                let m: Ipv4Addr = b.parse().ok()?;
                u32::from(m).count_ones() as u8
            }
        },
        None => max,
    };
    Some((ip, bits))
}

fn http_plan(ctx: &mut Ctx, p: &Proxy, g: &model::Global, maps: &Arc<Maps>) -> HttpPlan {
    let bufsize = g.tune_bufsize.map(|b| b as usize).unwrap_or(TUNE_BUFSIZE_DEFAULT);
    let maxrewrite = g
        .tune_maxrewrite
        .map(|b| b as usize)
        .unwrap_or(TUNE_MAXREWRITE_DEFAULT);
    let maxhdr = g
        .tune_http_maxhdr
        .map(|b| b as usize)
        .unwrap_or(TUNE_HTTP_MAXHDR_DEFAULT);
    let mut limits = Limits::from_tune(bufsize, maxrewrite, maxhdr);
    // A head must fit in one receive buffer with room for the rewrites.
    limits.head_bytes_max = limits
        .head_bytes_max
        .min(BUF_SMALL_BYTES - TUNE_MAXREWRITE_DEFAULT);
    let forwardfor = p.options.forwardfor.as_ref().map(|f| ForwardFor {
        header: f.header.clone(),
        if_none: f.if_none,
        except: f.except.as_deref().and_then(network),
    });
    let mut errorfiles = Vec::new();
    for e in &p.errorfiles {
        match read_small_file(&e.path) {
            Ok(data) => errorfiles.push((e.status, data.into())),
            Err(why) => ctx.alert(
                &p.place,
                format!("{} '{}': errorfile {}: {why}", p.kind.keyword(), p.name, e.status),
            ),
        }
    }
    HttpPlan {
        conn_mode: match p.options.http_conn_mode {
            model::HttpConnMode::KeepAlive => ConnMode::KeepAlive,
            model::HttpConnMode::ServerClose => ConnMode::ServerClose,
            model::HttpConnMode::Close => ConnMode::Close,
        },
        reuse: match p.http_reuse {
            None | Some(model::HttpReuse::Safe) => Reuse::Safe,
            Some(model::HttpReuse::Never) => Reuse::Never,
            Some(model::HttpReuse::Aggressive | model::HttpReuse::Always) => Reuse::Always,
        },
        forwardfor,
        timeout_http_request: p.timeouts.http_request,
        timeout_http_keep_alive: p.timeouts.http_keep_alive,
        errorfiles,
        limits: HttpLimits(limits),
        rules: match ProxyRules::compile(p, maps) {
            Ok(r) => {
                for w in r.warnings() {
                    ctx.warn(&p.place, format!("{} '{}': {w}", p.kind.keyword(), p.name));
                }
                Some(RulesRef(Arc::new(r)))
            }
            Err(e) => {
                ctx.alert(&p.place, e.to_string());
                None
            }
        },
    }
}

fn frontend(
    ctx: &mut Ctx,
    p: &Proxy,
    global_maxconn: usize,
    g: &model::Global,
    maps: &Arc<Maps>,
) -> Option<FrontendPlan> {
    let mut binds = Vec::new();
    for b in &p.binds {
        match bind_addrs(&b.addr) {
            Ok(addrs) => binds.extend(addrs),
            Err(why) => ctx.alert(&b.place, format!("'bind {}' : {why}", b.addr)),
        }
    }
    if binds.is_empty() {
        // HAProxy warns and starts without it; so do we (the parser already warned).
        return None;
    }
    // A listen section is its own default backend.
    let default_backend = match p.kind {
        model::ProxyKind::Listen if p.default_backend.is_none() && !p.servers.is_empty() => {
            Some(p.name.clone())
        }
        _ => p.default_backend.clone(),
    };
    Some(FrontendPlan {
        name: p.name.clone(),
        binds,
        maxconn: p
            .maxconn
            .map(|m| m as usize)
            .unwrap_or(global_maxconn)
            .min(global_maxconn),
        mode: mode(p.mode),
        default_backend,
        timeout_client: p.timeouts.client,
        http: if p.mode == model::Mode::Http {
            http_plan(ctx, p, g, maps)
        } else {
            HttpPlan::default()
        },
        logger: logger(ctx, p, g),
    })
}

/// The frontend's access logger, when it has log targets (the log writer thread starts
/// only then).
fn logger(ctx: &mut Ctx, p: &Proxy, g: &model::Global) -> Option<LoggerRef> {
    let has_targets = !p.log.targets.is_empty() || (p.log.global && !g.logs.is_empty());
    if !has_targets {
        return None;
    }
    match crate::log::logger_for(g, p) {
        Ok(l) => l.map(|l| LoggerRef(Arc::new(l))),
        Err(e) => {
            ctx.alert(&p.place, format!("{} '{}': {e}", p.kind.keyword(), p.name));
            None
        }
    }
}

/// The addresses of one `bind` entry (port ranges expanded).
fn bind_addrs(a: &Address) -> Result<Vec<SocketAddr>, String> {
    let Address::Inet { family, host, port } = a else {
        return Err("only IPv4/IPv6 addresses can be bound by ringlb yet".into());
    };
    let ip = match host {
        Host::Any => match family {
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        },
        Host::Ip(ip) => *ip,
        Host::Name(n) => resolve(n, *family)?,
    };
    match *port {
        Port::Fixed(p) => Ok(vec![SocketAddr::new(ip, p)]),
        Port::Range(lo, hi) if hi >= lo && u32::from(hi - lo) < BIND_RANGE_PORTS_MAX => {
            Ok((lo..=hi).map(|p| SocketAddr::new(ip, p)).collect())
        }
        Port::Range(lo, hi) => Err(format!(
            "port range {lo}-{hi} is larger than {BIND_RANGE_PORTS_MAX} ports"
        )),
        Port::None | Port::Offset(_) => Err("missing port".into()),
    }
}

/// Resolves a hostname at start (HAProxy's `init-addr libc`): first address of the family.
fn resolve(name: &str, family: Family) -> Result<IpAddr, String> {
    let addrs = (name, 0u16)
        .to_socket_addrs()
        .map_err(|e| format!("could not resolve address '{name}': {e}"))?;
    addrs
        .map(|sa| sa.ip())
        .find(|ip| match family {
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
            Family::Any => true,
        })
        .ok_or_else(|| format!("could not resolve address '{name}'"))
}

fn balance(ctx: &mut Ctx, p: &Proxy) -> Balance {
    match &p.balance {
        model::Balance::RoundRobin => Balance::RoundRobin,
        model::Balance::StaticRr => Balance::StaticRr,
        model::Balance::LeastConn => Balance::LeastConn,
        model::Balance::First => Balance::First,
        model::Balance::Source => Balance::Source,
        model::Balance::Random { draws } => Balance::Random {
            draws: u8::try_from((*draws).clamp(1, RANDOM_DRAWS_MAX)).unwrap_or(2),
        },
        other => {
            ctx.warn(
                &p.place,
                format!(
                    "backend '{}': 'balance {}' is not implemented by ringlb yet; using roundrobin",
                    p.name,
                    balance_word(other)
                ),
            );
            Balance::RoundRobin
        }
    }
}

fn balance_word(b: &model::Balance) -> &'static str {
    match b {
        model::Balance::Uri(_) => "uri",
        model::Balance::UrlParam(_) => "url_param",
        model::Balance::Hdr { .. } => "hdr",
        model::Balance::RdpCookie(_) => "rdp-cookie",
        model::Balance::Hash(_) => "hash",
        _ => "?",
    }
}

fn backend(ctx: &mut Ctx, p: &Proxy) -> Option<BackendConfig> {
    let mut servers = Vec::new();
    for s in &p.servers {
        let Address::Inet { family, host, port } = &s.addr else {
            ctx.alert(
                &s.place,
                format!(
                    "server '{}/{}' : only IPv4/IPv6 servers are supported by ringlb yet",
                    p.name, s.name
                ),
            );
            continue;
        };
        let ip = match host {
            Host::Ip(ip) => *ip,
            Host::Name(n) => match resolve(n, *family) {
                Ok(ip) => ip,
                Err(why) => {
                    ctx.alert(&s.place, format!("'server {}/{}' : {why}", p.name, s.name));
                    continue;
                }
            },
            Host::Any => {
                ctx.alert(
                    &s.place,
                    format!(
                        "'server {}/{}' : no address (transparent mode is not supported)",
                        p.name, s.name
                    ),
                );
                continue;
            }
        };
        let Port::Fixed(port) = port else {
            ctx.alert(
                &s.place,
                format!("'server {}/{}' : a fixed port is required (ringlb does not map the client's destination port yet)", p.name, s.name),
            );
            continue;
        };
        servers.push(ServerConfig {
            name: s.name.clone(),
            id: s.params.id,
            addr: SocketAddr::new(ip, *port),
            weight: s.params.weight(),
            backup: s.params.backup,
            maxconn: s.params.maxconn.unwrap_or(0),
            disabled: s.params.disabled,
        });
    }
    let settings = BackendSettings {
        retries: p.retries,
        redispatch: p.options.redispatch.unwrap_or(false),
        allbackups: p.options.other.get("allbackups").is_some_and(|(on, _)| *on),
        timeout_connect: p.timeouts.connect,
        timeout_server: p.timeouts.server,
        timeout_tunnel: p.timeouts.tunnel,
        timeout_queue: p.timeouts.queue,
    };
    Some(BackendConfig {
        name: p.name.clone(),
        id: p.id,
        mode: mode(p.mode),
        balance: balance(ctx, p),
        settings,
        published: true,
        servers,
    })
}

/// Warnings for `global` settings ringlb accepts and does not act on yet. `user`, `group`
/// and `chroot` matter for security: say plainly that the process keeps its privileges.
fn unsupported_global(ctx: &mut Ctx, g: &model::Global) {
    let nowhere = Place::default();
    let mut note = |what: &str, why: &str| {
        ctx.warn(
            &nowhere,
            format!("global '{what}' is accepted but not active in ringlb yet: {why}"),
        );
    };
    if g.daemon {
        note("daemon", "ringlb stays in the foreground (use -D to daemonize)");
    }
    if g.user.is_some() || g.uid.is_some() || g.group.is_some() || g.gid.is_some() {
        note(
            "user/group",
            "the process keeps the user and group it was started with",
        );
    }
    if g.chroot.is_some() {
        note("chroot", "the process does not change its root directory");
    }
    if g.pidfile.is_some() {
        note("pidfile", "use -p <pidfile>");
    }
    if g.ulimit_n.is_some() {
        note("ulimit-n", "the open-file limit is left as it is");
    }
}

/// Warnings for settings the parser accepts and the engine does not act on yet.
fn unsupported(ctx: &mut Ctx, p: &Proxy) {
    let what = format!("{} '{}'", p.kind.keyword(), p.name);
    let mut note = |place: &Place, thing: &str| {
        ctx.warn(
            place,
            format!("{what}: {thing} is accepted but not active in ringlb yet"),
        );
    };
    for s in &p.servers {
        if s.params.check {
            note(
                &s.place,
                &format!("'check' on server '{}' (health checks)", s.name),
            );
        }
        if s.params.send_proxy || s.params.send_proxy_v2 {
            note(&s.place, &format!("'send-proxy' on server '{}'", s.name));
        }
    }
    if p.mode == model::Mode::Tcp && !p.tcp_request.is_empty() {
        note(&p.place, "'tcp-request'");
    }
    if p.stick_table.is_some() || !p.stick_rules.is_empty() {
        note(&p.place, "'stick-table'/'stick'");
    }
}

/// Every address the config's frontends listen on, without building the rest of the plan
/// (no name resolution of servers, no log thread): what a master binds once for its
/// workers. Errors name the `bind` line.
pub fn listen_addrs(cfg: &Config) -> Result<Vec<SocketAddr>, Vec<Diagnostic>> {
    let mut ctx = Ctx {
        alerts: Vec::new(),
        warnings: Vec::new(),
    };
    let mut out: Vec<SocketAddr> = Vec::new();
    for p in cfg.frontends().filter(|p| !p.disabled) {
        for b in &p.binds {
            match bind_addrs(&b.addr) {
                Ok(addrs) => {
                    for a in addrs {
                        if !out.contains(&a) {
                            out.push(a);
                        }
                    }
                }
                Err(why) => ctx.alert(&b.place, format!("'bind {}' : {why}", b.addr)),
            }
        }
    }
    if ctx.alerts.is_empty() {
        Ok(out)
    } else {
        Err(ctx.alerts)
    }
}

/// The backend a `backend`/`listen`/`defaults` section describes (a `defaults` section gives
/// the template `add backend <name> from <defaults>` starts from), with the warnings about
/// what ringlb does not do yet. Servers that cannot be resolved are left out and reported.
pub fn backend_config(p: &Proxy) -> (Option<BackendConfig>, Vec<Diagnostic>) {
    let mut ctx = Ctx {
        alerts: Vec::new(),
        warnings: Vec::new(),
    };
    let b = backend(&mut ctx, p);
    ctx.alerts.extend(ctx.warnings);
    (b, ctx.alerts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_text;
    use std::time::Duration;

    fn build(text: &str) -> Result<Built, Vec<Diagnostic>> {
        let loaded = parse_text("t.cfg", text, &|_| None).expect("test config parses");
        plan(&loaded.config, 20_000)
    }

    const BASE: &str = "\
defaults
    mode tcp
    timeout connect 1s
    timeout client 2s
    timeout server 3s
    retries 2
    option redispatch
frontend fe
    bind 127.0.0.1:7000
    bind :7001-7002
    default_backend be
backend be
    balance leastconn
    server a 127.0.0.1:8001 weight 5 maxconn 10
    server b localhost:8002 backup
";

    #[test]
    fn frontends_and_backends_become_the_plan() {
        let b = build(BASE).expect("valid");
        let p = &b.plan;
        assert_eq!(p.frontends.len(), 1);
        let fe = &p.frontends[0];
        assert_eq!(fe.binds.len(), 3);
        assert_eq!(fe.binds[0], "127.0.0.1:7000".parse().expect("literal"));
        assert_eq!(fe.binds[2], "0.0.0.0:7002".parse().expect("literal"));
        assert_eq!(fe.default_backend.as_deref(), Some("be"));
        assert_eq!(fe.timeout_client, Some(Duration::from_secs(2)));
        assert_eq!(p.maxconn, (20_000 - FDS_RESERVED as usize) / 2);
        let be = p.snapshot.backend("be").expect("backend");
        assert_eq!(be.balance, Balance::LeastConn);
        assert_eq!(be.settings.retries, 2);
        assert!(be.settings.redispatch);
        assert_eq!(be.settings.timeout_server, Some(Duration::from_secs(3)));
        let a = be.server("a").expect("server a");
        assert_eq!(a.weight(), 5);
        assert_eq!(a.maxconn(), 10);
        let s = be.server("b").expect("server b");
        assert!(s.backup);
        assert!(
            s.addr.ip().is_loopback(),
            "localhost resolved at start: {}",
            s.addr
        );
    }

    #[test]
    fn listen_sections_route_to_themselves() {
        let b = build("listen l\n    mode tcp\n    bind 127.0.0.1:7000\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\n    server s 127.0.0.1:1\n")
            .expect("valid");
        assert_eq!(b.plan.frontends[0].default_backend.as_deref(), Some("l"));
        assert!(b.plan.snapshot.backend("l").is_some());
    }

    #[test]
    fn start_time_errors_name_file_and_line() {
        let cfg = BASE.replace("localhost:8002", "no-such-host.invalid:8002");
        let errs = build(&cfg).expect_err("unresolvable server");
        assert!(
            errs.iter()
                .any(|d| d.line == 15 && d.message.contains("no-such-host.invalid")),
            "{errs:?}"
        );
        let cfg = BASE.replace("127.0.0.1:8001", "127.0.0.1");
        let errs = build(&cfg).expect_err("server without port");
        assert!(
            errs.iter().any(|d| d.line == 14 && d.message.contains("port")),
            "{errs:?}"
        );
        let cfg = BASE.replace(":7001-7002", ":1-2000");
        let errs = build(&cfg).expect_err("huge range");
        assert!(errs.iter().any(|d| d.line == 10), "{errs:?}");
    }

    #[test]
    fn inactive_keywords_are_named_in_warnings() {
        let cfg = BASE.replace("maxconn 10", "maxconn 10 check") + "    balance uri\n";
        let b = build(&cfg).expect("valid");
        let text: Vec<String> = b.warnings.iter().map(|d| d.to_string()).collect();
        assert!(
            text.iter().any(|t| t.contains("'check' on server 'a'")),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.contains("'balance uri'")), "{text:?}");
    }

    #[test]
    fn global_settings() {
        let b = build(&format!(
            "global\n    maxconn 500\n    nbthread 2\n    cpu-map 1/1-2 0-1\n    hard-stop-after 5s\n{BASE}"
        ))
        .expect("valid");
        assert_eq!(b.plan.maxconn, 500);
        assert_eq!(b.plan.threads, 2);
        assert_eq!(b.plan.cpu_map, vec![0, 1]);
        assert_eq!(b.plan.hard_stop_after, Some(Duration::from_secs(5)));
        assert_eq!(b.plan.frontends[0].maxconn, 500);
    }
}
