//! The typed configuration model. After loading, every proxy holds its *effective*
//! settings: the `defaults` section it inherits from has already been applied, so
//! consumers never re-apply defaults.

use super::cond::{Acl, Condition, FmtPart, Sample};
use super::values::{Address, Host, Port};
use std::collections::BTreeMap;
use std::time::Duration;

/// Where a directive was written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Place {
    /// File name as given.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
}

/// A directive kept as words because ringlb accepts it but does not model it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Where it was written.
    pub place: Place,
    /// All its words, keyword first.
    pub words: Vec<String>,
}

/// The whole configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The `global` section(s), merged.
    pub global: Global,
    /// Frontends, backends and listens in file order (defaults already applied).
    pub proxies: Vec<Proxy>,
    /// `defaults` sections in file order (named or not), as written, for `add backend ... from`.
    pub defaults: Vec<Proxy>,
    /// `program` sections.
    pub programs: Vec<Program>,
    /// `userlist` sections.
    pub userlists: Vec<Userlist>,
    /// Other accepted sections (`resolvers`, `peers`, `mailers`, `cache`, `ring`, `http-errors`).
    pub sections: Vec<OtherSection>,
}

impl Config {
    /// The first proxy with this name. A frontend and a backend may share a name:
    /// use [`Config::backend`] or [`Config::frontend`] when the role matters.
    pub fn proxy(&self, name: &str) -> Option<&Proxy> {
        self.proxies.iter().find(|p| p.name == name)
    }

    /// The backend (or listen) with this name: what `use_backend`/`default_backend` target.
    pub fn backend(&self, name: &str) -> Option<&Proxy> {
        self.proxies
            .iter()
            .find(|p| p.name == name && p.kind.is_backend())
    }

    /// The frontend (or listen) with this name.
    pub fn frontend(&self, name: &str) -> Option<&Proxy> {
        self.proxies
            .iter()
            .find(|p| p.name == name && p.kind.is_frontend())
    }

    /// Every proxy that can act as a backend (`backend` and `listen`).
    pub fn backends(&self) -> impl Iterator<Item = &Proxy> {
        self.proxies.iter().filter(|p| p.kind.is_backend())
    }

    /// Every proxy that accepts connections (`frontend` and `listen`).
    pub fn frontends(&self) -> impl Iterator<Item = &Proxy> {
        self.proxies.iter().filter(|p| p.kind.is_frontend())
    }

    /// Finds a defaults section by name.
    pub fn defaults_named(&self, name: &str) -> Option<&Proxy> {
        self.defaults.iter().rev().find(|d| d.name == name)
    }
}

/// `level` of a stats socket / CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CliLevel {
    /// Read-only, no sensitive data.
    User,
    /// Read plus a few non-sensitive changes.
    Operator,
    /// Everything.
    Admin,
}

/// `stats socket <addr> [params]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSocket {
    /// Where it listens.
    pub addr: Address,
    /// `level` (HAProxy's default is operator).
    pub level: CliLevel,
    /// `mode <octal>` for unix sockets.
    pub mode: Option<u32>,
    /// `user` owning a unix socket.
    pub user: Option<String>,
    /// `group` owning a unix socket.
    pub group: Option<String>,
    /// `expose-fd listeners`.
    pub expose_fd_listeners: bool,
    /// Other bind parameters, kept as words.
    pub other: Vec<String>,
    /// Where it was written.
    pub place: Place,
}

/// Log message format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `rfc3164` (HAProxy's default).
    #[default]
    Rfc3164,
    /// `rfc5424`.
    Rfc5424,
    /// `raw`: the message only.
    Raw,
    /// `short`.
    Short,
    /// `timed`.
    Timed,
    /// `iso`.
    Iso,
    /// `priority`.
    Priority,
    /// `local`.
    Local,
}

/// `log <target> [len N] [format F] [sample R:S] <facility> [level [minlevel]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    /// Address (udp host:port, unix path, stdout/stderr, `ring@name` is kept as Unix-less Other).
    pub addr: Address,
    /// `len`.
    pub max_len: Option<u32>,
    /// `format`.
    pub format: LogFormat,
    /// Facility (`local0`, `daemon`...).
    pub facility: String,
    /// Max level.
    pub level: Option<String>,
    /// Min level.
    pub min_level: Option<String>,
    /// `sample <ranges>:<size>` as written.
    pub sample: Option<String>,
}

/// `cpu-map [auto:]<thread-set> <cpu-set>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuMap {
    /// Thread set as written (`1/1`, `1/all`, `auto:1-4`...).
    pub threads: String,
    /// CPU list (expanded from ranges like `0-3`).
    pub cpus: Vec<u32>,
}

/// The `global` section.
#[derive(Debug, Clone, Default)]
pub struct Global {
    /// `daemon`.
    pub daemon: bool,
    /// `master-worker` (`no-exit-on-failure` kept in `master_worker_no_exit`).
    pub master_worker: bool,
    /// `master-worker no-exit-on-failure`.
    pub master_worker_no_exit: bool,
    /// `user`.
    pub user: Option<String>,
    /// `group`.
    pub group: Option<String>,
    /// `uid`.
    pub uid: Option<u32>,
    /// `gid`.
    pub gid: Option<u32>,
    /// `chroot`.
    pub chroot: Option<String>,
    /// `pidfile`.
    pub pidfile: Option<String>,
    /// `maxconn`.
    pub maxconn: Option<u32>,
    /// `nbthread`.
    pub nbthread: Option<u32>,
    /// `cpu-map` lines.
    pub cpu_maps: Vec<CpuMap>,
    /// `stats socket` lines.
    pub stats_sockets: Vec<StatsSocket>,
    /// `stats timeout` (default 10s).
    pub stats_timeout: Option<Duration>,
    /// `stats maxconn` (default 10).
    pub stats_maxconn: Option<u32>,
    /// `log` targets.
    pub logs: Vec<LogTarget>,
    /// `log-tag`.
    pub log_tag: Option<String>,
    /// `log-send-hostname [name]`: `Some(None)` means the system hostname.
    pub log_send_hostname: Option<Option<String>>,
    /// `hard-stop-after`.
    pub hard_stop_after: Option<Duration>,
    /// `grace`.
    pub grace: Option<Duration>,
    /// `mworker-max-reloads`.
    pub mworker_max_reloads: Option<u32>,
    /// `tune.bufsize` (bytes).
    pub tune_bufsize: Option<u64>,
    /// `tune.http.maxhdr`.
    pub tune_http_maxhdr: Option<u32>,
    /// `tune.maxrewrite`.
    pub tune_maxrewrite: Option<u64>,
    /// Other `tune.*` keywords with their words.
    pub tune_other: BTreeMap<String, Vec<String>>,
    /// `ulimit-n`.
    pub ulimit_n: Option<u64>,
    /// `ssl-default-*`, `ssl-dh-param-file`, `tune.ssl.*`... stored for when TLS exists.
    pub ssl_settings: BTreeMap<String, Vec<String>>,
    /// `ca-base`.
    pub ca_base: Option<String>,
    /// `crt-base`.
    pub crt_base: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `node`.
    pub node: Option<String>,
    /// `external-check [preserve-env]`.
    pub external_check: bool,
    /// `insecure-fork-wanted`.
    pub insecure_fork_wanted: bool,
    /// `setenv`/`presetenv`/`unsetenv`/`resetenv` applied while parsing, in order.
    pub env_changes: Vec<Directive>,
    /// Other accepted global directives, kept as words.
    pub other: Vec<Directive>,
}

/// What kind of proxy section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// `defaults`.
    Defaults,
    /// `frontend`.
    Frontend,
    /// `backend`.
    Backend,
    /// `listen` (frontend + backend).
    Listen,
}

impl ProxyKind {
    /// The section keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            ProxyKind::Defaults => "defaults",
            ProxyKind::Frontend => "frontend",
            ProxyKind::Backend => "backend",
            ProxyKind::Listen => "listen",
        }
    }

    /// Accepts connections (frontend or listen; defaults carry frontend settings too).
    pub fn is_frontend(self) -> bool {
        matches!(self, ProxyKind::Frontend | ProxyKind::Listen)
    }

    /// Has servers (backend or listen).
    pub fn is_backend(self) -> bool {
        matches!(self, ProxyKind::Backend | ProxyKind::Listen)
    }
}

/// `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `mode tcp` (HAProxy's default).
    #[default]
    Tcp,
    /// `mode http`.
    Http,
}

/// One address of a `bind` line with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// The address (a `bind a,b` line gives one `Bind` per address).
    pub addr: Address,
    /// Its parameters.
    pub params: BindParams,
    /// Where it was written.
    pub place: Place,
}

/// `bind` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindParams {
    /// `name`.
    pub name: Option<String>,
    /// `accept-proxy`.
    pub accept_proxy: bool,
    /// `v4v6`.
    pub v4v6: bool,
    /// `v6only`.
    pub v6only: bool,
    /// `transparent`.
    pub transparent: bool,
    /// `defer-accept`.
    pub defer_accept: bool,
    /// `tfo`.
    pub tfo: bool,
    /// `maxconn`.
    pub maxconn: Option<u32>,
    /// `backlog`.
    pub backlog: Option<u32>,
    /// `mode <octal>` (unix sockets).
    pub mode: Option<u32>,
    /// `user` (unix sockets).
    pub user: Option<String>,
    /// `group` (unix sockets).
    pub group: Option<String>,
    /// `interface`.
    pub interface: Option<String>,
    /// `process`/`thread` selection as written.
    pub thread: Option<String>,
    /// `level` (stats sockets).
    pub level: Option<CliLevel>,
    /// `alpn` (no effect without TLS; kept).
    pub alpn: Option<String>,
    /// `proto`.
    pub proto: Option<String>,
    /// `id`.
    pub id: Option<u32>,
    /// `nice`.
    pub nice: Option<i32>,
    /// `tcp-ut`.
    pub tcp_ut: Option<Duration>,
    /// `mss`.
    pub mss: Option<String>,
}

/// `balance` algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Balance {
    /// `roundrobin` (default).
    #[default]
    RoundRobin,
    /// `static-rr`.
    StaticRr,
    /// `leastconn`.
    LeastConn,
    /// `first`.
    First,
    /// `source`.
    Source,
    /// `random[(draws)]`.
    Random {
        /// Number of draws (power of N choices), default 2.
        draws: u32,
    },
    /// `uri [params]`.
    Uri(Vec<String>),
    /// `url_param <param> [params]`.
    UrlParam(Vec<String>),
    /// `hdr(<name>) [use_domain_only]`.
    Hdr {
        /// Header name.
        name: String,
        /// `use_domain_only`.
        domain_only: bool,
    },
    /// `rdp-cookie[(name)]`.
    RdpCookie(Option<String>),
    /// `hash <expr>`.
    Hash(Sample),
}

/// `http-reuse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpReuse {
    /// `never`.
    Never,
    /// `safe` (default).
    Safe,
    /// `aggressive`.
    Aggressive,
    /// `always`.
    Always,
}

/// HTTP connection mode options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpConnMode {
    /// `option http-keep-alive` (default).
    #[default]
    KeepAlive,
    /// `option http-server-close`.
    ServerClose,
    /// `option httpclose`.
    Close,
}

/// `option httpchk [<method> <uri> [<version> [<host>]]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpChk {
    /// Method (default OPTIONS).
    pub method: String,
    /// URI (default `/`).
    pub uri: String,
    /// Version (default HTTP/1.0).
    pub version: String,
    /// Extra after version (old-style `\r\nHost:` hacks), kept as written.
    pub extra: Option<String>,
}

/// The health check type chosen by `option ...`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CheckKind {
    /// Plain TCP connect (default).
    #[default]
    Tcp,
    /// `option httpchk`.
    Http(HttpChk),
    /// `option tcp-check` (rules in `tcp_check`).
    TcpCheck,
    /// `option ssl-hello-chk`.
    SslHello,
    /// `option mysql-check [user <u> [post-41|pre-41]]`.
    Mysql(Vec<String>),
    /// `option pgsql-check user <u>`.
    Pgsql(Vec<String>),
    /// `option redis-check`.
    Redis,
    /// `option smtpchk [<hello> <domain>]`.
    Smtp(Vec<String>),
    /// `option ldap-check`.
    Ldap,
    /// `option spop-check`.
    Spop,
    /// `option external-check`.
    External,
}

/// `option forwardfor [except <net>] [header <name>] [if-none]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardFor {
    /// `except <network>`.
    pub except: Option<String>,
    /// `header <name>` (default X-Forwarded-For).
    pub header: String,
    /// `if-none`.
    pub if_none: bool,
}

/// The `option` settings. `None` means "not set here nor in defaults".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// `option redispatch`.
    pub redispatch: Option<bool>,
    /// `option forwardfor`.
    pub forwardfor: Option<ForwardFor>,
    /// `option httplog [clf]`: `Some(true)` for clf.
    pub httplog: Option<bool>,
    /// `option tcplog`.
    pub tcplog: bool,
    /// `option dontlognull`.
    pub dontlognull: bool,
    /// HTTP connection mode.
    pub http_conn_mode: HttpConnMode,
    /// Health check type.
    pub check: CheckKind,
    /// Other recognised options: name → (enabled, extra words).
    pub other: BTreeMap<String, (bool, Vec<String>)>,
}

/// All `timeout` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts {
    /// `timeout connect`.
    pub connect: Option<Duration>,
    /// `timeout client`.
    pub client: Option<Duration>,
    /// `timeout server`.
    pub server: Option<Duration>,
    /// `timeout tunnel`.
    pub tunnel: Option<Duration>,
    /// `timeout http-request`.
    pub http_request: Option<Duration>,
    /// `timeout http-keep-alive`.
    pub http_keep_alive: Option<Duration>,
    /// `timeout queue`.
    pub queue: Option<Duration>,
    /// `timeout check`.
    pub check: Option<Duration>,
    /// `timeout client-fin`.
    pub client_fin: Option<Duration>,
    /// `timeout server-fin`.
    pub server_fin: Option<Duration>,
    /// `timeout tarpit`.
    pub tarpit: Option<Duration>,
}

/// Server (and `default-server`) parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerParams {
    /// `check` (`no-check` clears it).
    pub check: bool,
    /// `inter` (default 2s).
    pub inter: Option<Duration>,
    /// `fastinter`.
    pub fastinter: Option<Duration>,
    /// `downinter`.
    pub downinter: Option<Duration>,
    /// `rise` (default 2).
    pub rise: Option<u32>,
    /// `fall` (default 3).
    pub fall: Option<u32>,
    /// `port` for checks.
    pub check_port: Option<u16>,
    /// `addr` for checks.
    pub check_addr: Option<Host>,
    /// `weight` (default 1, 0..=256).
    pub weight: Option<u32>,
    /// `maxconn`.
    pub maxconn: Option<u32>,
    /// `maxqueue`.
    pub maxqueue: Option<u32>,
    /// `minconn`.
    pub minconn: Option<u32>,
    /// `backup`.
    pub backup: bool,
    /// `disabled` (start in maintenance).
    pub disabled: bool,
    /// `agent-check`.
    pub agent_check: bool,
    /// `agent-port`.
    pub agent_port: Option<u16>,
    /// `agent-inter`.
    pub agent_inter: Option<Duration>,
    /// `agent-addr`.
    pub agent_addr: Option<String>,
    /// `agent-send`.
    pub agent_send: Option<String>,
    /// `observe layer4|layer7`.
    pub observe: Option<String>,
    /// `error-limit`.
    pub error_limit: Option<u32>,
    /// `on-error fastinter|fail-check|sudden-death|mark-down`.
    pub on_error: Option<String>,
    /// `on-marked-down shutdown-sessions`.
    pub on_marked_down: Option<String>,
    /// `on-marked-up shutdown-backup-sessions`.
    pub on_marked_up: Option<String>,
    /// `send-proxy`.
    pub send_proxy: bool,
    /// `send-proxy-v2`.
    pub send_proxy_v2: bool,
    /// `check-send-proxy`.
    pub check_send_proxy: bool,
    /// `init-addr` methods (`last,libc,none`, or an IP).
    pub init_addr: Option<Vec<String>>,
    /// `resolvers`.
    pub resolvers: Option<String>,
    /// `resolve-prefer ipv4|ipv6`.
    pub resolve_prefer: Option<String>,
    /// `cookie`.
    pub cookie: Option<String>,
    /// `slowstart`.
    pub slowstart: Option<Duration>,
    /// `id`.
    pub id: Option<u32>,
    /// `track [<backend>/]<server>`.
    pub track: Option<String>,
    /// `ssl` (server-side TLS: not implemented; accepted with a warning).
    pub ssl: bool,
    /// `verify none|required`.
    pub verify: Option<String>,
    /// Other accepted parameters (keyword → value if it takes one).
    pub other: BTreeMap<String, Option<String>>,
}

impl ServerParams {
    /// Effective check interval (HAProxy's default 2s).
    pub fn inter(&self) -> Duration {
        self.inter.unwrap_or(Duration::from_secs(2))
    }
    /// Effective rise (default 2).
    pub fn rise(&self) -> u32 {
        self.rise.unwrap_or(2)
    }
    /// Effective fall (default 3).
    pub fn fall(&self) -> u32 {
        self.fall.unwrap_or(3)
    }
    /// Effective weight (default 1).
    pub fn weight(&self) -> u32 {
        self.weight.unwrap_or(1)
    }
}

/// A `server` line (or one server made by `server-template`), with the
/// `default-server` settings already applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Name, unique in its backend.
    pub name: String,
    /// Address as written (hostnames are not resolved).
    pub addr: Address,
    /// Effective parameters.
    pub params: ServerParams,
    /// Where it was written.
    pub place: Place,
}

impl Server {
    /// The fixed port, if any.
    pub fn port(&self) -> Option<u16> {
        match self.addr {
            Address::Inet {
                port: Port::Fixed(p), ..
            } => Some(p),
            _ => None,
        }
    }
}

/// Target of a `use_backend`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendRef {
    /// A static name, checked to exist.
    Name(String),
    /// A `%[...]` log-format expression evaluated per request.
    Dynamic(Vec<FmtPart>),
}

/// `use_backend <target> [if|unless <cond>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseBackend {
    /// Which backend.
    pub target: BackendRef,
    /// Condition (none = always).
    pub cond: Option<Condition>,
    /// Where it was written.
    pub place: Place,
}

/// `use-server <server> [if|unless <cond>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseServer {
    /// Server name.
    pub server: String,
    /// Condition.
    pub cond: Option<Condition>,
}

/// An HTTP rule action (`http-request`, `http-response`, `http-after-response`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAction {
    /// `allow`.
    Allow,
    /// `deny [deny_status N] [content-type T] [string S|file F|...]`.
    Deny {
        /// Status (default 403).
        status: u16,
    },
    /// `tarpit [deny_status N]`.
    Tarpit {
        /// Status (default 500).
        status: u16,
    },
    /// `auth [realm R]`.
    Auth {
        /// Realm.
        realm: Option<String>,
    },
    /// `redirect ...` (same syntax as the `redirect` keyword).
    Redirect(Redirect),
    /// `return [status N] [content-type T] [string S | lf-string S | file F | lf-file F | errorfile F] [hdr N V]*`.
    Return {
        /// Status (default 200).
        status: u16,
        /// Content-Type.
        content_type: Option<String>,
        /// Body.
        body: ReturnBody,
        /// Extra headers.
        headers: Vec<(String, String)>,
    },
    /// `set-header <name> <fmt>`.
    SetHeader {
        /// Header name.
        name: String,
        /// Value format.
        value: Vec<FmtPart>,
    },
    /// `add-header <name> <fmt>`.
    AddHeader {
        /// Header name.
        name: String,
        /// Value format.
        value: Vec<FmtPart>,
    },
    /// `del-header <name> [-m meth]`.
    DelHeader {
        /// Header name.
        name: String,
    },
    /// `replace-header <name> <regex> <fmt>`.
    ReplaceHeader {
        /// Header name.
        name: String,
        /// Regex.
        regex: String,
        /// Replacement.
        replace: String,
    },
    /// `replace-value <name> <regex> <fmt>`.
    ReplaceValue {
        /// Header name.
        name: String,
        /// Regex.
        regex: String,
        /// Replacement.
        replace: String,
    },
    /// `set-path <fmt>`.
    SetPath(Vec<FmtPart>),
    /// `replace-path <regex> <fmt>`.
    ReplacePath {
        /// Regex.
        regex: String,
        /// Replacement.
        replace: String,
    },
    /// `set-status <code> [reason <str>]` (responses).
    SetStatus(u16),
    /// `use-service <name>` (`prometheus-exporter`).
    UseService(String),
    /// Any other known action, kept as words after the action name.
    Other {
        /// Action name, e.g. `set-var(txn.x)`, `track-sc0`.
        action: String,
        /// Arguments before the condition.
        args: Vec<String>,
    },
}

/// Body of a `return`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReturnBody {
    /// No body.
    #[default]
    None,
    /// `string <text>`.
    String(String),
    /// `lf-string <fmt>`.
    LfString(String),
    /// `file <path>`.
    File(String),
    /// `lf-file <path>`.
    LfFile(String),
    /// `errorfile <path>`.
    ErrorFile(String),
    /// `default-errorfiles`.
    DefaultErrorFiles,
}

/// One `http-request`/`http-response`/`http-after-response` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRule {
    /// What to do.
    pub action: HttpAction,
    /// When.
    pub cond: Option<Condition>,
    /// Where it was written.
    pub place: Place,
}

/// `redirect location|prefix|scheme <to> [code N] [options...] [cond]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// `location`, `prefix` or `scheme`.
    pub kind: String,
    /// Target (log-format string).
    pub to: String,
    /// Status code (default 302).
    pub code: u16,
    /// Options (`drop-query`, `append-slash`, `set-cookie X`...), as written.
    pub options: Vec<String>,
}

/// A `tcp-request`/`tcp-response` rule, kept typed by its phase and action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpRule {
    /// `connection`, `session`, `content`, `inspect-delay`.
    pub phase: String,
    /// The action (`accept`, `reject`, `track-sc0`...) or the delay for `inspect-delay`.
    pub action: String,
    /// Arguments of the action.
    pub args: Vec<String>,
    /// `inspect-delay` value.
    pub delay: Option<Duration>,
    /// Condition.
    pub cond: Option<Condition>,
    /// Where it was written.
    pub place: Place,
}

/// The parsed `expect` of a check rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckExpect {
    /// `!` before the match.
    pub negated: bool,
    /// Match type: `status`, `rstatus`, `string`, `rstring`, `hdr`, `fhdr`, `binary`, `rbinary`, `string-lf`, `binary-lf`, `custom`.
    pub kind: String,
    /// The pattern words (one for most types; `hdr name <n> [value <v>]` keeps all).
    pub pattern: Vec<String>,
    /// Options before the match (`min-recv`, `comment`, `ok-status`, `on-error`...).
    pub options: Vec<(String, String)>,
}

/// An `http-check`/`tcp-check` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRule {
    /// `send`, `expect`, `connect`, `send-binary`, `comment`, `disable-on-404`, `set-var`...
    pub action: String,
    /// The words after the action, as written.
    pub args: Vec<String>,
    /// For `expect`: the parsed match.
    pub expect: Option<CheckExpect>,
    /// Where it was written.
    pub place: Place,
}

/// `stats` settings of a proxy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatsPage {
    /// `stats enable` (implied by uri/auth/realm/refresh...).
    pub enabled: bool,
    /// `stats uri` (default `/haproxy?stats`).
    pub uri: Option<String>,
    /// `stats refresh`.
    pub refresh: Option<Duration>,
    /// `stats auth user:pass` pairs.
    pub auth: Vec<(String, String)>,
    /// `stats realm`.
    pub realm: Option<String>,
    /// `stats hide-version`.
    pub hide_version: bool,
    /// `stats show-node [name]`: `Some(None)` = the global node name.
    pub show_node: Option<Option<String>>,
    /// `stats show-desc [desc]`.
    pub show_desc: Option<Option<String>>,
    /// `stats show-legends`.
    pub show_legends: bool,
    /// `stats admin if|unless cond`.
    pub admin: Vec<Condition>,
    /// `stats scope`.
    pub scope: Vec<String>,
    /// `stats http-request` rules.
    pub http_request: Vec<Vec<String>>,
}

/// `errorfile <code> <file>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFile {
    /// HTTP status.
    pub status: u16,
    /// Path of the raw HTTP response file.
    pub path: String,
}

/// `capture request|response header <name> len <n>` / `capture cookie <name> len <n>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// `request header`, `response header` or `cookie`.
    pub what: String,
    /// Header or cookie name.
    pub name: String,
    /// Max length.
    pub len: u32,
}

/// `stick-table type <t> [len n] size <n> [expire d] [nopurge] [peers p] [store ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickTable {
    /// Key type (`ip`, `ipv6`, `integer`, `string`, `binary`).
    pub key_type: String,
    /// Entries.
    pub size: u64,
    /// `expire`.
    pub expire: Option<Duration>,
    /// Remaining words as written (`store ...`, `peers`, `nopurge`, `len`).
    pub other: Vec<String>,
}

/// Logging settings of a proxy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProxyLog {
    /// `log global`: use the global targets.
    pub global: bool,
    /// Own targets.
    pub targets: Vec<LogTarget>,
    /// `log-format`.
    pub format: Option<String>,
    /// `error-log-format`.
    pub error_format: Option<String>,
    /// `log-tag`.
    pub tag: Option<String>,
}

/// A `defaults`, `frontend`, `backend` or `listen` section with its effective settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// Name (empty for an unnamed `defaults`).
    pub name: String,
    /// Section kind.
    pub kind: ProxyKind,
    /// The defaults section applied: `from <name>`, else the last `defaults` before this
    /// section (`Some("")` when that one is unnamed); `None` when no defaults precede.
    pub from: Option<String>,
    /// Where the section starts.
    pub place: Place,
    /// `disabled`.
    pub disabled: bool,
    /// `id`.
    pub id: Option<u32>,
    /// `mode`.
    pub mode: Mode,
    /// `description`.
    pub description: Option<String>,
    /// Listening addresses.
    pub binds: Vec<Bind>,
    /// `maxconn`.
    pub maxconn: Option<u32>,
    /// `fullconn`.
    pub fullconn: Option<u32>,
    /// `backlog`.
    pub backlog: Option<u32>,
    /// `default_backend`.
    pub default_backend: Option<String>,
    /// `use_backend` rules in order.
    pub use_backends: Vec<UseBackend>,
    /// `use-server` rules.
    pub use_servers: Vec<UseServer>,
    /// `acl` definitions in order.
    pub acls: Vec<Acl>,
    /// `balance`.
    pub balance: Balance,
    /// `hash-type` words.
    pub hash_type: Option<Vec<String>>,
    /// `hash-balance-factor`.
    pub hash_balance_factor: Option<u32>,
    /// `default-server` parameters (already applied to `servers`).
    pub default_server: ServerParams,
    /// Servers (server-templates expanded).
    pub servers: Vec<Server>,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// `retries` (default 3).
    pub retries: u32,
    /// `option` settings.
    pub options: Options,
    /// `http-request` rules.
    pub http_request: Vec<HttpRule>,
    /// `http-response` rules.
    pub http_response: Vec<HttpRule>,
    /// `http-after-response` rules.
    pub http_after_response: Vec<HttpRule>,
    /// `redirect` rules.
    pub redirects: Vec<(Redirect, Option<Condition>)>,
    /// `tcp-request` rules.
    pub tcp_request: Vec<TcpRule>,
    /// `tcp-response` rules.
    pub tcp_response: Vec<TcpRule>,
    /// `http-check` rules.
    pub http_check: Vec<CheckRule>,
    /// `tcp-check` rules.
    pub tcp_check: Vec<CheckRule>,
    /// `errorfile`s.
    pub errorfiles: Vec<ErrorFile>,
    /// `errorfiles <http-errors section>`.
    pub errorfiles_sections: Vec<String>,
    /// Logging.
    pub log: ProxyLog,
    /// Stats page.
    pub stats: StatsPage,
    /// `http-reuse`.
    pub http_reuse: Option<HttpReuse>,
    /// `cookie <name> [options]`.
    pub cookie: Option<Vec<String>>,
    /// `capture` lines.
    pub captures: Vec<Capture>,
    /// `unique-id-format`.
    pub unique_id_format: Option<String>,
    /// `unique-id-header`.
    pub unique_id_header: Option<String>,
    /// `stick-table`.
    pub stick_table: Option<StickTable>,
    /// `stick on|match|store-request|store-response` lines as words.
    pub stick_rules: Vec<Vec<String>>,
    /// `monitor-uri`.
    pub monitor_uri: Option<String>,
    /// `compression` settings (`algo`, `type`, `offload`...).
    pub compression: BTreeMap<String, Vec<String>>,
    /// Other accepted directives, kept as words.
    pub other: Vec<Directive>,
}

impl Proxy {
    /// An empty proxy with HAProxy's built-in defaults.
    pub fn new(kind: ProxyKind, name: &str, place: Place) -> Proxy {
        Proxy {
            name: name.to_string(),
            kind,
            from: None,
            place,
            disabled: false,
            id: None,
            mode: Mode::Tcp,
            description: None,
            binds: Vec::new(),
            maxconn: None,
            fullconn: None,
            backlog: None,
            default_backend: None,
            use_backends: Vec::new(),
            use_servers: Vec::new(),
            acls: Vec::new(),
            balance: Balance::RoundRobin,
            hash_type: None,
            hash_balance_factor: None,
            default_server: ServerParams::default(),
            servers: Vec::new(),
            timeouts: Timeouts::default(),
            retries: 3,
            options: Options::default(),
            http_request: Vec::new(),
            http_response: Vec::new(),
            http_after_response: Vec::new(),
            redirects: Vec::new(),
            tcp_request: Vec::new(),
            tcp_response: Vec::new(),
            http_check: Vec::new(),
            tcp_check: Vec::new(),
            errorfiles: Vec::new(),
            errorfiles_sections: Vec::new(),
            log: ProxyLog::default(),
            stats: StatsPage::default(),
            http_reuse: None,
            cookie: None,
            captures: Vec::new(),
            unique_id_format: None,
            unique_id_header: None,
            stick_table: None,
            stick_rules: Vec::new(),
            monitor_uri: None,
            compression: BTreeMap::new(),
            other: Vec::new(),
        }
    }

    /// Builds a proxy inheriting everything a `defaults` section carries.
    pub fn inherit(kind: ProxyKind, name: &str, place: Place, defaults: &Proxy) -> Proxy {
        debug_assert_eq!(
            defaults.kind,
            ProxyKind::Defaults,
            "inherit from a defaults section only"
        );
        let mut p = defaults.clone();
        p.name = name.to_string();
        p.kind = kind;
        p.from = Some(defaults.name.clone());
        p.place = place;
        // A defaults section cannot hold binds, servers or use_backend (the parser rejects
        // them there); clear them anyway so the invariant does not depend on the parser.
        p.binds.clear();
        p.servers.clear();
        p.use_backends.clear();
        p.disabled = false;
        p.id = None;
        debug_assert!(p.servers.is_empty() && p.binds.is_empty());
        p
    }

    /// Finds a server by name.
    pub fn server(&self, name: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.name == name)
    }
}

/// A `program` section: an external command run by the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Name.
    pub name: String,
    /// `command` words (argv).
    pub command: Vec<String>,
    /// `user`.
    pub user: Option<String>,
    /// `group`.
    pub group: Option<String>,
    /// `option start-on-reload` (default true); `no option start-on-reload` keeps it across reloads.
    pub start_on_reload: bool,
    /// Where the section starts.
    pub place: Place,
}

/// A `userlist` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Userlist {
    /// Name.
    pub name: String,
    /// `user <name> password|insecure-password <pw> [groups g1,g2]`: (name, password, insecure, groups).
    pub users: Vec<(String, String, bool, Vec<String>)>,
    /// `group <name> [users u1,u2]`.
    pub groups: Vec<(String, Vec<String>)>,
}

/// Sections ringlb accepts and stores without modelling them further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherSection {
    /// Section keyword (`resolvers`, `peers`, `mailers`, `cache`, `ring`, `http-errors`).
    pub kind: String,
    /// Name.
    pub name: String,
    /// Where it starts.
    pub place: Place,
    /// Its directives.
    pub directives: Vec<Directive>,
}
