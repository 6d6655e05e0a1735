//! Runs parsed [`Command`]s against the engine: tables (backends, servers), maps, frontends
//! and process information, answering HAProxy's texts byte for byte where they are known.
//!
//! - Every change goes through one of the engine's atomic change functions
//!   ([`engine::table::Tables::update`], [`engine::map::Maps::update`]): it is validated
//!   whole and applies fully or not at all; engine threads see it on their next load.
//! - The level is checked here, when the command runs (`Permission denied`): a session
//!   can lower its level (`operator`, `user`) between two commands of one line.
//! - `wait` never blocks: [`execute`] returns a [`Pending`] that the caller polls with
//!   [`poll_wait`] (the socket server keeps serving other sessions meanwhile). As in
//!   HAProxy 3.4, a client that closes its side (`echo ... | socat`) stops the wait after
//!   one last check ([`interrupt_wait`]: `Done.`, `Failed. <why>` or `Interrupted. <why>`).
//!
//! Answers are the text before the empty line that ends every answer; the socket server
//! adds that line.
//!
//! Compatibility notes (where ringlb answers differently from HAProxy 3.4, or could not
//! check the text):
//! - texts are HAProxy's (source, or observed on 3.4.3 where marked "observed") except
//!   `No defaults section named '<d>'.`, `could not resolve address '<a>'.` and the
//!   messages of ringlb-only limits (table and map sizes), which are ringlb's;
//! - `del backend` answers `Backend deleted.` alone (3.4 also prints log lines about the
//!   backend's former servers before it);
//! - `enable|disable health|agent`, `set server ... agent` and `shutdown sessions server`
//!   check that the server exists and answer like HAProxy, but have no effect until the
//!   engine exposes health checks and per-core session kills;
//! - `add server` takes an IP literal (`<ip>[:<port>]`, `ipv4@`, `ipv6@`), not a host name;
//!   of its keywords only `weight`, `maxconn`, `backup`/`no-backup` and `id` shape the
//!   server, the others are accepted and ignored;
//! - `show servers state` prints check fields as "no check" servers have them;
//! - `show stat` rows: servers then BACKEND for each backend after every FRONTEND row
//!   (HAProxy interleaves by proxy declaration order); `status` is UP/DOWN/MAINT/DRAIN/NOLB
//!   (no "no check"); `typed` tags are simplified (`KNS` for names, `MGP` otherwise);
//! - a change is recorded through [`Context::on_change`] and can be replayed into the next
//!   worker ([`keep_on_reload`], [`replay`]): HAProxy forgets runtime changes on reload.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use engine::counters::FrontendCounters;
use engine::map::{MapError, Maps, MatchKind};
use engine::table::{self, BackendConfig, ServerConfig, TableError, Tables, WeightChange};

use crate::command::*;
use crate::info::{LiveInfo, ProcessInfo};
use crate::messages::{self as msg, Visibility};
use crate::parse::{parse_request, PROMPT_USAGE};
use crate::split::Request;

/// Default idle timeout of a CLI session (`stats timeout`, HAProxy's default 10s).
pub const SESSION_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

/// How often a pending `wait` re-checks its condition. Short enough that `wait 2s
/// srv-removable` answers within a few milliseconds of the server becoming removable.
pub const WAIT_POLL_INTERVAL: Duration = Duration::from_millis(10);

// ---- answers not in `messages` (executor-only texts) ----

/// `add server` with a name already used in the backend.
pub const SERVER_EXISTS: &str = "Already exists a server with the same name in backend.";
/// `del server` on a server not in maintenance (server.c `srv_check_for_deletion`).
pub const SERVER_NOT_IN_MAINT: &str = "Only servers in maintenance mode can be deleted.";
/// `del server` on a server still used by connections.
pub const SERVER_HAS_CONNS: &str = "Server still has connections attached to it, cannot remove it.";
/// `del backend` on a published backend (3.4, observed).
pub const BACKEND_IS_PUBLISHED: &str = "Backend must be unpublished prior to its deletion.";
/// `del backend` on a backend with servers (3.4, observed).
pub const BACKEND_HAS_SERVERS: &str = "Only a backend without server can be deleted.";
/// `del backend` on a backend still in use (3.4 text unverified).
pub const BACKEND_HAS_STREAMS: &str = "Backend still has streams attached to it, cannot remove it.";
/// `add backend` with a name already used by a backend or frontend (3.4, observed), e.g.
/// `Error during backend creation : name is already used by other proxy 'backend b1'.`
pub fn backend_exists(kind: &str, name: &str) -> String {
    format!("Error during backend creation : name is already used by other proxy '{kind} {name}'.")
}
/// `wait` interrupted because the client closed its side (3.4, observed); HAProxy prints
/// `(null)` when there is no reason.
pub const WAIT_INTERRUPTED: &str = "Interrupted.";
/// `add server` into a backend whose algorithm cannot take servers at run time (3.4,
/// observed; 3.0-3.3 answered `messages::SERVER_NEEDS_DYNAMIC_LB`).
pub fn server_needs_dynamic_lb(backend: &str) -> String {
    format!("Backend does not support dynamic servers : backend '{backend}' uses a non dynamic load balancing method.")
}
/// `add server` with a keyword dynamic servers refuse (observed: `enabled`, `no-check`).
pub fn server_option_refused(kw: &str) -> String {
    format!("'{kw}' option is not accepted for dynamic server")
}
/// `wait` whose delay ran out.
pub const WAIT_EXPIRED: &str = "Wait delay expired.";
/// `wait` whose condition can never be met.
pub const WAIT_FAILED: &str = "Failed.";
/// `set map` on a key that is not in the map (`pat_ref_set`'s error plus `.`).
pub const MAP_KEY_NOT_FOUND: &str = "entry not found.";
/// `del map` on a key that is not in the map.
pub const MAP_DEL_NOT_FOUND: &str = "Key not found.";
/// `commit map` outside the prepared versions.
pub const MAP_VERSION_OUT_OF_RANGE: &str = "Version number out of range.";
/// `add map @<ver>` beyond the last prepared version.
pub const MAP_VERSION_FUTURE: &str = "Version number in the future, please use 'prepare map' before.";
/// `#0x<ref>` that is not hexadecimal.
pub const MAP_MALFORMED_ID: &str = "Malformed identifier. Please use #<id> or <file>.";

/// Why a frontend command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontendError {
    /// No frontend by this name (`No such frontend.`).
    #[error("no such frontend")]
    NoSuchFrontend,
    /// Refused, with HAProxy's answer text (e.g. `Frontend is already disabled.`).
    #[error("{0}")]
    Refused(String),
}

/// One frontend as `show stat` shows it.
#[derive(Debug, Clone)]
pub struct FrontendInfo {
    /// Name.
    pub name: String,
    /// Numeric id (`iid`).
    pub id: u32,
    /// `tcp` or `http`.
    pub mode: &'static str,
    /// `OPEN`, `STOP` or `PAUSED`.
    pub status: &'static str,
    /// `maxconn` (`slim`).
    pub maxconn: u32,
    /// Its counters, if it has started.
    pub counters: Option<Arc<FrontendCounters>>,
}

/// The frontends' side of the Runtime API, implemented by the engine's listeners.
pub trait FrontendControl: Send + Sync {
    /// `disable frontend`: stop accepting (listeners paused).
    fn disable(&self, name: &str) -> Result<(), FrontendError>;
    /// `enable frontend`: accept again.
    fn enable(&self, name: &str) -> Result<(), FrontendError>;
    /// `shutdown frontend`: close the listeners for good.
    fn shutdown(&self, name: &str) -> Result<(), FrontendError>;
    /// `set maxconn frontend`.
    fn set_maxconn(&self, name: &str, maxconn: u32) -> Result<(), FrontendError>;
    /// Every frontend, in configuration order.
    fn list(&self) -> Vec<FrontendInfo>;
}

/// A [`FrontendControl`] for processes without frontends (tests, control-only use).
#[derive(Debug, Default)]
pub struct NoFrontends;

impl FrontendControl for NoFrontends {
    fn disable(&self, _: &str) -> Result<(), FrontendError> {
        Err(FrontendError::NoSuchFrontend)
    }
    fn enable(&self, _: &str) -> Result<(), FrontendError> {
        Err(FrontendError::NoSuchFrontend)
    }
    fn shutdown(&self, _: &str) -> Result<(), FrontendError> {
        Err(FrontendError::NoSuchFrontend)
    }
    fn set_maxconn(&self, _: &str, _: u32) -> Result<(), FrontendError> {
        Err(FrontendError::NoSuchFrontend)
    }
    fn list(&self) -> Vec<FrontendInfo> {
        Vec::new()
    }
}

/// One stats socket as `show cli sockets` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketInfo {
    /// `127.0.0.1:9999`, `[::1]:9999` or the unix path.
    pub addr: String,
    /// Its level.
    pub level: Level,
}

/// Looks up a `defaults` section by name and returns the backend template it defines
/// (mode, balance, settings; name and servers are replaced by `add backend`).
pub type DefaultsLookup = Box<dyn Fn(&str) -> Option<BackendConfig> + Send + Sync>;

/// A change applied through the API, reported to whoever keeps changes across reloads
/// (the worker hands them to the master): the canonical command text.
pub type ChangeSink = Box<dyn Fn(&Command) + Send + Sync>;

/// Everything commands act on. Built once per worker; shared by the socket server and the
/// master link.
pub struct Context {
    /// The backend tables.
    pub tables: Arc<Tables>,
    /// The maps.
    pub maps: Arc<Maps>,
    /// Process facts for `show info` / `show version`.
    pub info: ProcessInfo,
    /// `defaults` sections by name, for `add backend ... from`.
    pub defaults: DefaultsLookup,
    /// The frontends.
    pub frontends: Arc<dyn FrontendControl>,
    /// The stats sockets, for `show cli sockets`.
    pub sockets: Vec<SocketInfo>,
    /// Called after every applied change (to keep runtime changes across reloads).
    pub on_change: Option<ChangeSink>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("info", &self.info)
            .field("sockets", &self.sockets)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context over these tables and maps, with no frontends, no defaults sections, no
    /// sockets and this process's facts.
    pub fn new(tables: Arc<Tables>, maps: Arc<Maps>) -> Context {
        Context {
            tables,
            maps,
            info: ProcessInfo::default(),
            defaults: Box::new(|_| None),
            frontends: Arc::new(NoFrontends),
            sockets: Vec::new(),
            on_change: None,
        }
    }

    /// A lookup of `defaults` sections from a name -> template map.
    pub fn defaults_from(map: HashMap<String, BackendConfig>) -> DefaultsLookup {
        Box::new(move |name| map.get(name).cloned())
    }

    fn changed(&self, cmd: &Command) {
        if let Some(f) = &self.on_change {
            f(cmd);
        }
    }
}

/// Interactive mode of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptMode {
    /// Run the line, answer, close (the default).
    NonInteractive,
    /// Keep the connection, no prompt.
    Interactive,
    /// Keep the connection, print `> ` before each command.
    Prompt,
}

/// One CLI session's state.
#[derive(Debug, Clone)]
pub struct Session {
    /// Current level (starts at the socket's).
    pub level: Level,
    /// Interactive mode.
    pub mode: PromptMode,
    /// `prompt timed`: the prompt shows the uptime.
    pub timed: bool,
    /// `experimental-mode on`.
    pub experimental: bool,
    /// `expert-mode on`.
    pub expert: bool,
    /// Idle timeout (`stats timeout`, `set timeout cli`).
    pub timeout: Duration,
}

impl Session {
    /// A new session at `level` with idle `timeout`.
    pub fn new(level: Level, timeout: Duration) -> Session {
        Session {
            level,
            mode: PromptMode::NonInteractive,
            timed: false,
            experimental: false,
            expert: false,
            timeout,
        }
    }

    /// Whether the session is interactive.
    pub fn interactive(&self) -> bool {
        self.mode != PromptMode::NonInteractive
    }

    fn vis(&self) -> Visibility {
        Visibility {
            experimental: self.experimental,
            expert: self.expert,
        }
    }

    /// The prompt to print before the next command (empty when not in prompt mode).
    pub fn prompt(&self, info: &ProcessInfo, in_payload: bool) -> String {
        if self.mode != PromptMode::Prompt {
            return String::new();
        }
        if in_payload {
            return "+ ".to_string();
        }
        if self.timed {
            let up = SystemTime::now()
                .duration_since(info.start)
                .unwrap_or_default()
                .as_secs();
            return format!(
                "[{}:{:02}:{:02}:{:02}]> ",
                up / 86_400,
                (up / 3600) % 24,
                (up / 60) % 60,
                up % 60
            );
        }
        "> ".to_string()
    }
}

/// A `wait` still running: poll it with [`poll_wait`].
#[derive(Debug, Clone)]
pub struct Pending {
    deadline: Instant,
    condition: Option<WaitCondition>,
}

/// What running one request produced.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// The answer text (each line ends with LF; empty for silent commands), without the
    /// empty line that ends every answer.
    pub text: String,
    /// `quit`: close the session after this answer.
    pub close: bool,
    /// A `wait` in progress: its answer comes from [`poll_wait`].
    pub pending: Option<Pending>,
}

impl Reply {
    fn text(s: impl Into<String>) -> Reply {
        let mut text: String = s.into();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        Reply {
            text,
            ..Reply::default()
        }
    }

    fn empty() -> Reply {
        Reply::default()
    }
}

/// Parses and runs one request of `session`.
pub fn execute(ctx: &Context, session: &mut Session, req: &Request) -> Reply {
    match parse_request(req) {
        Ok(cmd) => run(ctx, session, &cmd),
        Err(e) => Reply::text(e.reply_at(session.level, session.vis())),
    }
}

/// Runs one parsed command in `session`.
pub fn run(ctx: &Context, session: &mut Session, cmd: &Command) -> Reply {
    if session.level < cmd.level() {
        return Reply::text(msg::PERMISSION_DENIED);
    }
    match cmd.mode() {
        Mode::Experimental if !session.experimental => return Reply::text(msg::EXPERIMENTAL_ONLY),
        Mode::Expert if !session.expert => return Reply::text(msg::EXPERT_ONLY),
        _ => {}
    }
    let reply = dispatch(ctx, session, cmd);
    debug_assert!(reply.text.is_empty() || reply.text.ends_with('\n'));
    reply
}

/// One check of a `wait` condition: `Ok(true)` met, `Ok(false)` not yet (or no
/// condition), `Err((permanent, reason))` not met, for good or for now.
fn check_wait(ctx: &Context, p: &Pending) -> Result<bool, (bool, String)> {
    match &p.condition {
        None => Ok(false),
        Some(WaitCondition::SrvRemovable(s)) => {
            match ctx
                .tables
                .load()
                .check_server_removable(s.backend.as_str(), s.server.as_str())
            {
                Ok(()) => Ok(true),
                Err(TableError::ServerBusy { .. }) => Err((false, SERVER_HAS_CONNS.to_string())),
                Err(e) => Err((true, table_error_text(&e))),
            }
        }
        Some(WaitCondition::BeRemovable(b)) => match ctx.tables.load().check_backend_removable(b.as_str()) {
            Ok(()) => Ok(true),
            Err(e @ TableError::BackendBusy { .. }) => Err((false, table_error_text(&e))),
            Err(e) => Err((true, table_error_text(&e))),
        },
    }
}

/// Checks a pending `wait`: `Some(answer)` when it is over (condition met, failed, or the
/// delay ran out), `None` to poll again later (every [`WAIT_POLL_INTERVAL`]).
pub fn poll_wait(ctx: &Context, p: &Pending, now: Instant) -> Option<String> {
    match check_wait(ctx, p) {
        Ok(true) => Some(format!("{}\n", msg::WAIT_DONE)),
        Err((true, why)) => Some(format!("{WAIT_FAILED} {why}\n")),
        Ok(false) | Err((false, _)) if now < p.deadline => None,
        Ok(false) => {
            if p.condition.is_none() {
                Some(format!("{}\n", msg::WAIT_DONE))
            } else {
                Some(format!("{WAIT_EXPIRED}\n"))
            }
        }
        Err((false, why)) => Some(format!("{WAIT_EXPIRED} {why}\n")),
    }
}

/// The answer of a pending `wait` whose client closed its side: HAProxy stops waiting,
/// checks once more and answers `Interrupted. <reason>` (`Interrupted. (null)` for a bare
/// delay) unless the condition is met or failed for good.
pub fn interrupt_wait(ctx: &Context, p: &Pending) -> String {
    match check_wait(ctx, p) {
        Ok(true) => format!("{}\n", msg::WAIT_DONE),
        Err((true, why)) => format!("{WAIT_FAILED} {why}\n"),
        Ok(false) => format!("{WAIT_INTERRUPTED} (null)\n"),
        Err((false, why)) => format!("{WAIT_INTERRUPTED} {why}\n"),
    }
}

/// Runs a pending `wait` to its end on this thread (for callers without an event loop,
/// like the master link); sleeps [`WAIT_POLL_INTERVAL`] between checks.
pub fn finish_wait(ctx: &Context, p: &Pending) -> String {
    loop {
        if let Some(answer) = poll_wait(ctx, p, Instant::now()) {
            return answer;
        }
        std::thread::sleep(WAIT_POLL_INTERVAL);
    }
}

/// The answer to one whole line given at `level` (the master CLI forwards `@1 <cmd>` lines
/// here): every command of the line runs in one fresh non-interactive session, answers
/// are concatenated, each followed by its empty line. `wait` checks once and does not
/// block (see [`interrupt_wait`]), as HAProxy's `@1 wait ...` does.
pub fn answer(ctx: &Context, line: &str, level: Level) -> String {
    let mut session = Session::new(level, SESSION_TIMEOUT_DEFAULT);
    let mut splitter = crate::split::Splitter::new();
    let mut input = line.as_bytes().to_vec();
    if !input.ends_with(b"\n") {
        input.push(b'\n');
    }
    let mut out = String::new();
    let mut rest: &[u8] = &input;
    loop {
        let (used, feed) = splitter.feed(rest);
        rest = rest.get(used..).unwrap_or_default();
        match feed {
            crate::split::Feed::NeedMore => {
                if let Some(req) = splitter.finish() {
                    let r = execute(ctx, &mut session, &req);
                    out.push_str(&r.text);
                    out.push('\n');
                }
                break;
            }
            crate::split::Feed::Error(_) => {
                out.push_str(msg::COMMAND_TOO_BIG);
                out.push_str("\n\n");
                break;
            }
            crate::split::Feed::Request(req) => {
                let r = execute(ctx, &mut session, &req);
                if r.close && r.text.is_empty() {
                    break;
                }
                out.push_str(&r.text);
                // A forwarded command has no open client side: `wait` does not wait
                // (HAProxy's `@1 wait ...` answers at once, `Interrupted.` if unmet).
                if let Some(p) = &r.pending {
                    out.push_str(&interrupt_wait(ctx, p));
                }
                out.push('\n');
                if r.close {
                    break;
                }
            }
        }
    }
    out
}

/// Whether a recorded change survives a reload, by ringlb's rule: **the config file wins
/// for the objects it defines**. `defined(backend, server)` says whether the new config
/// defines that backend (`server: None`) or that server of it.
///
/// - Backends and servers created at runtime keep every change made to them (and are
///   dropped if the new config now defines an object of the same name).
/// - Changes to config-defined backends and servers (weights, states, addresses) are not
///   replayed: the config's values apply (`show servers state` / a state file carry
///   operational state across restarts, as in HAProxy).
/// - `virt@` maps keep their runtime content; file maps are re-read from their files.
pub fn keep_on_reload(cmd: &Command, defined: &dyn Fn(&str, Option<&str>) -> bool) -> bool {
    use Command as C;
    let server = |s: &ServerRef| !defined(s.backend.as_str(), Some(s.server.as_str()));
    let map = |m: &Word| m.as_bytes().starts_with(b"virt@");
    match cmd {
        C::AddBackend { name, .. } => !defined(name.as_str(), None),
        C::PublishBackend(b) | C::UnpublishBackend(b) | C::DelBackend(b) => !defined(b.as_str(), None),
        C::AddServer { server: s, .. }
        | C::SetServerState { server: s, .. }
        | C::SetServerWeight { server: s, .. }
        | C::SetServerHealth { server: s, .. }
        | C::SetServerAddr { server: s, .. }
        | C::SetWeight { server: s, .. }
        | C::SetMaxconnServer { server: s, .. } => server(s),
        C::DelServer(s) | C::EnableServer(s) | C::DisableServer(s) => server(s),
        C::AddMap { map: m, .. }
        | C::SetMap { map: m, .. }
        | C::DelMap { map: m, .. }
        | C::ClearMap { map: m, .. }
        | C::PrepareMap { map: m }
        | C::CommitMap { map: m, .. } => map(m),
        _ => false,
    }
}

/// Replays recorded changes (canonical command texts, see [`Context::on_change`]) into a
/// new worker's context at admin level, in order. Returns the changes that failed, with
/// their answers (a change whose object is gone answers an error and is skipped).
pub fn replay(ctx: &Context, changes: &[Vec<u8>]) -> Vec<(String, String)> {
    let mut failed = Vec::new();
    for change in changes {
        let mut session = Session::new(Level::Admin, SESSION_TIMEOUT_DEFAULT);
        session.experimental = true;
        let text = String::from_utf8_lossy(change).into_owned();
        let reply = match crate::parse(change) {
            Ok(cmd) => run(ctx, &mut session, &cmd),
            Err(e) => Reply::text(e.reply(session.vis())),
        };
        let ok = reply.text.is_empty()
            || [
                msg::NEW_BACKEND_REGISTERED,
                msg::NEW_SERVER_REGISTERED,
                msg::BACKEND_PUBLISHED,
                msg::BACKEND_UNPUBLISHED,
                msg::BACKEND_DELETED,
                msg::SERVER_DELETED,
            ]
            .iter()
            .any(|m| reply.text.trim_end() == *m)
            || reply.text.starts_with("New version created: ")
            || reply.text.starts_with("IP changed from ")
            || reply.text.starts_with("no need to change the addr");
        if !ok {
            failed.push((text, reply.text));
        }
    }
    failed
}

fn table_error_text(e: &TableError) -> String {
    match e {
        TableError::NoSuchBackend { .. } => msg::NO_SUCH_BACKEND.to_string(),
        TableError::NoSuchServer { .. } => msg::NO_SUCH_SERVER.to_string(),
        TableError::ServerExists { .. } => SERVER_EXISTS.to_string(),
        TableError::BackendExists { name } => backend_exists("backend", name),
        TableError::ServerNotInMaint { .. } => SERVER_NOT_IN_MAINT.to_string(),
        TableError::ServerBusy { .. } => SERVER_HAS_CONNS.to_string(),
        TableError::BackendPublished { .. } => BACKEND_IS_PUBLISHED.to_string(),
        TableError::BackendHasServers { .. } => BACKEND_HAS_SERVERS.to_string(),
        TableError::BackendBusy { .. } => BACKEND_HAS_STREAMS.to_string(),
        TableError::StaticWeight { .. } => msg::WEIGHT_STATIC_LB.trim_end().to_string(),
        TableError::WeightOutOfRange { .. } => msg::WEIGHT_ABSOLUTE_RANGE.to_string(),
        other => {
            // Names, ids and limits: HAProxy has no text of its own; say what happened.
            let mut s = other.to_string();
            if let Some(first) = s.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            s.push('.');
            s
        }
    }
}

fn map_error_text(e: &MapError) -> String {
    match e {
        MapError::NoSuchMap { .. } => msg::UNKNOWN_MAP.to_string(),
        MapError::VersionOutOfRange { .. } | MapError::NoSuchVersion { .. } => {
            MAP_VERSION_OUT_OF_RANGE.to_string()
        }
        MapError::FutureVersion { .. } => MAP_VERSION_FUTURE.to_string(),
        MapError::MalformedRef { .. } => MAP_MALFORMED_ID.to_string(),
        other => {
            let mut s = other.to_string();
            if let Some(first) = s.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            s.push('.');
            s
        }
    }
}

fn word_str(w: &Word) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(w.as_bytes())
}

fn frontend_result(r: Result<(), FrontendError>) -> Reply {
    match r {
        Ok(()) => Reply::empty(),
        Err(FrontendError::NoSuchFrontend) => Reply::text(msg::NO_SUCH_FRONTEND),
        Err(FrontendError::Refused(t)) => Reply::text(t),
    }
}

fn dispatch(ctx: &Context, session: &mut Session, cmd: &Command) -> Reply {
    use Command as C;
    match cmd {
        // ---- session ----
        C::Help { words } => {
            let w: Vec<&[u8]> = words.iter().map(Word::as_bytes).collect();
            Reply::text(msg::usage_message(&w, true, session.vis()))
        }
        C::Prompt { args } => prompt(session, args),
        C::Quit => Reply {
            close: true,
            ..Reply::default()
        },
        C::Echo { words } => {
            let w: Vec<String> = words.iter().map(|w| word_str(w).into_owned()).collect();
            Reply::text(format!("{}\n", w.join(" ")))
        }
        C::Operator => {
            session.level = session.level.min(Level::Operator);
            Reply::empty()
        }
        C::User => {
            session.level = Level::User;
            Reply::empty()
        }
        C::ExperimentalMode { on } => match on {
            None => Reply::text(msg::mode_state("experimental-mode", session.experimental)),
            Some(on) => {
                session.experimental = *on;
                Reply::empty()
            }
        },
        C::ExpertMode { on } => match on {
            None => Reply::text(msg::mode_state("expert-mode", session.expert)),
            Some(on) => {
                session.expert = *on;
                Reply::empty()
            }
        },
        C::SetTimeoutCli { seconds } => {
            session.timeout = Duration::from_secs(u64::from(*seconds));
            Reply::empty()
        }
        C::WaitHelp => Reply::text(msg::WAIT_USAGE),
        C::Wait { delay, condition } => {
            if let Some(WaitCondition::SrvRemovable(s)) = condition {
                if let Err(e) = ctx.tables.load().server(s.backend.as_str(), s.server.as_str()) {
                    return Reply::text(table_error_text(&e));
                }
            }
            if let Some(WaitCondition::BeRemovable(b)) = condition {
                if ctx.tables.load().backend(b.as_str()).is_none() {
                    return Reply::text(msg::NO_SUCH_BACKEND);
                }
            }
            Reply {
                pending: Some(Pending {
                    // At most ~24.8 days (`DELAY_MS_MAX`): always representable.
                    deadline: Instant::now()
                        .checked_add(Duration::from_millis(u64::from(delay.as_ms())))
                        .unwrap_or_else(Instant::now),
                    condition: condition.clone(),
                }),
                ..Reply::default()
            }
        }

        // ---- process ----
        C::ShowInfo(opts) => {
            let live = live_info(ctx);
            Reply::text(crate::info::render(&ctx.info, &live, opts, SystemTime::now()))
        }
        C::ShowStat(opts) => {
            let snap = ctx.tables.load();
            let fronts = ctx.frontends.list();
            if !crate::stat::scope_exists(opts, &snap, &fronts) {
                return Reply::text(msg::NO_SUCH_PROXY);
            }
            Reply::text(crate::stat::render(
                opts,
                &snap,
                &fronts,
                session.level >= Level::Operator,
            ))
        }
        C::ShowCliSockets => {
            let mut out = String::from("# socket lvl processes\n");
            for s in &ctx.sockets {
                let _ = writeln!(out, "{} {} all", s.addr, s.level);
            }
            Reply::text(out)
        }
        C::ShowCliLevel => Reply::text(format!("{}\n", session.level)),
        C::ShowVersion => Reply::text(format!("{}\n", ctx.info.version)),
        C::ShowEnv { var } => match var {
            Some(v) => {
                let name = word_str(v);
                match std::env::var_os(&*name) {
                    Some(val) => Reply::text(format!("{name}={}\n", val.to_string_lossy())),
                    None => Reply::text(msg::VARIABLE_NOT_FOUND),
                }
            }
            None => {
                let mut out = String::new();
                for (k, v) in std::env::vars_os() {
                    let _ = writeln!(out, "{}={}", k.to_string_lossy(), v.to_string_lossy());
                }
                Reply::text(out)
            }
        },
        C::ShowErrors { proxy, .. } => {
            if let Some(px) = proxy {
                let name = word_str(px);
                let snap = ctx.tables.load();
                let id = name.parse::<u32>().ok();
                let known = snap
                    .backends()
                    .iter()
                    .any(|b| *b.name == *name || Some(b.id) == id)
                    || ctx
                        .frontends
                        .list()
                        .iter()
                        .any(|f| f.name == name || Some(f.id) == id);
                if !known {
                    return Reply::text(msg::NO_SUCH_PROXY);
                }
            }
            Reply::text(format!(
                "Total events captured on [{}] : 0\n",
                haproxy_date(SystemTime::now())
            ))
        }
        C::ClearCounters { all } => {
            ctx.tables.load().clear_counters(*all);
            for f in ctx.frontends.list() {
                if let Some(c) = f.counters {
                    c.conns.clear_max();
                    if *all {
                        c.totals.clear();
                    }
                }
            }
            Reply::empty()
        }

        // ---- frontends ----
        C::DisableFrontend(f) => frontend_result(ctx.frontends.disable(f.as_str())),
        C::EnableFrontend(f) => frontend_result(ctx.frontends.enable(f.as_str())),
        C::ShutdownFrontend(f) => frontend_result(ctx.frontends.shutdown(f.as_str())),
        C::SetMaxconnFrontend { frontend, maxconn } => {
            frontend_result(ctx.frontends.set_maxconn(frontend.as_str(), *maxconn))
        }

        // ---- backends ----
        C::AddBackend { name, from, mode } => {
            if ctx.frontends.list().iter().any(|f| f.name == name.as_str()) {
                return Reply::text(backend_exists("frontend", name.as_str()));
            }
            let Some(mut cfg) = (ctx.defaults)(from.as_str()) else {
                return Reply::text(format!("No defaults section named '{from}'.\n"));
            };
            cfg.name = name.as_str().to_string();
            cfg.id = None;
            cfg.published = false;
            cfg.servers.clear();
            if let Some(m) = mode {
                cfg.mode = match m {
                    ProxyMode::Tcp => table::Mode::Tcp,
                    ProxyMode::Http => table::Mode::Http,
                };
            }
            changed(
                ctx,
                cmd,
                ctx.tables.add_backend(&cfg).map(|_| ()),
                msg::NEW_BACKEND_REGISTERED,
            )
        }
        C::PublishBackend(b) => changed(
            ctx,
            cmd,
            ctx.tables.publish(b.as_str()).map(|_| ()),
            msg::BACKEND_PUBLISHED,
        ),
        C::UnpublishBackend(b) => changed(
            ctx,
            cmd,
            ctx.tables.unpublish(b.as_str()).map(|_| ()),
            msg::BACKEND_UNPUBLISHED,
        ),
        C::DelBackend(b) => changed(
            ctx,
            cmd,
            ctx.tables.del_backend(b.as_str()).map(|_| ()),
            msg::BACKEND_DELETED,
        ),
        C::ShowBackend => {
            let mut out = String::from("# name\n");
            for b in ctx.tables.load().backends() {
                out.push_str(&b.name);
                out.push('\n');
            }
            Reply::text(out)
        }

        // ---- servers ----
        C::AddServer { server, addr, params } => add_server(ctx, cmd, server, addr, params),
        C::DelServer(s) => changed(
            ctx,
            cmd,
            ctx.tables
                .del_server(s.backend.as_str(), s.server.as_str())
                .map(|_| ()),
            msg::SERVER_DELETED,
        ),
        C::EnableServer(s) => set_admin(ctx, cmd, s, table::AdminState::Ready),
        C::DisableServer(s) => set_admin(ctx, cmd, s, table::AdminState::Maint),
        C::EnableHealth(s) | C::DisableHealth(s) | C::EnableAgent(s) | C::DisableAgent(s) => {
            // Checks are run by the engine's checker; until it exposes a switch the
            // server must at least exist, as in HAProxy.
            match ctx.tables.load().server(s.backend.as_str(), s.server.as_str()) {
                Ok(_) => Reply::empty(),
                Err(e) => Reply::text(table_error_text(&e)),
            }
        }
        C::SetServerState { server, state } => {
            let st = match state {
                AdminState::Ready => table::AdminState::Ready,
                AdminState::Drain => table::AdminState::Drain,
                AdminState::Maint => table::AdminState::Maint,
            };
            set_admin(ctx, cmd, server, st)
        }
        C::SetServerWeight { server, weight } | C::SetWeight { server, weight } => {
            let change = if weight.is_relative() {
                WeightChange::Percent(weight.value())
            } else {
                WeightChange::Absolute(weight.value())
            };
            changed(
                ctx,
                cmd,
                ctx.tables
                    .set_weight(server.backend.as_str(), server.server.as_str(), change)
                    .map(|_| ()),
                "",
            )
        }
        C::SetServerHealth { server, health } => {
            let st = match health {
                Health::Up => table::OperState::Up,
                Health::Stopping => table::OperState::Stopping,
                Health::Down => table::OperState::Down,
            };
            changed(
                ctx,
                cmd,
                ctx.tables
                    .set_oper(server.backend.as_str(), server.server.as_str(), st),
                "",
            )
        }
        C::SetServerAgent { server, .. } => match ctx
            .tables
            .load()
            .server(server.backend.as_str(), server.server.as_str())
        {
            Ok(_) => Reply::empty(),
            Err(e) => Reply::text(table_error_text(&e)),
        },
        C::SetServerAddr { server, addr, port } => set_addr(ctx, cmd, server, addr, port.as_ref()),
        C::GetWeight(s) => match ctx.tables.load().server(s.backend.as_str(), s.server.as_str()) {
            Ok(sv) => Reply::text(format!("{} (initial {})\n", sv.weight(), sv.initial_weight)),
            Err(e) => Reply::text(table_error_text(&e)),
        },
        C::SetMaxconnServer { server, maxconn } => changed(
            ctx,
            cmd,
            ctx.tables
                .set_maxconn(server.backend.as_str(), server.server.as_str(), *maxconn),
            "",
        ),
        C::ShutdownSessionsServer(s) => match ctx.tables.load().server(s.backend.as_str(), s.server.as_str())
        {
            // Killing streams is the engine's (per-core queues); the command is accepted.
            Ok(_) => Reply::empty(),
            Err(e) => Reply::text(table_error_text(&e)),
        },
        C::ShowServersState { backend } => servers_state(ctx, backend.as_ref()),
        C::ShowServersConn { backend } => servers_conn(ctx, backend.as_ref()),

        // ---- maps ----
        C::ShowMap { version, map } => show_map(ctx, *version, map.as_ref()),
        C::GetMap { map, value } => get_map(ctx, map, value),
        C::AddMap {
            version,
            map,
            entries,
        } => {
            let owned: Vec<(String, String)> = match entries {
                MapEntries::One { key, value } => {
                    vec![(word_str(key).into_owned(), word_str(value).into_owned())]
                }
                MapEntries::Payload(lines) => lines
                    .iter()
                    .map(|(k, v)| {
                        (
                            String::from_utf8_lossy(k.as_bytes()).into_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
            };
            let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            map_changed(ctx, cmd, ctx.maps.add(&word_str(map), *version, &pairs), "")
        }
        C::SetMap { map, key, value } => match ctx.maps.set(&word_str(map), &word_str(key), &word_str(value))
        {
            Err(MapError::NoSuchEntry { .. }) => Reply::text(MAP_KEY_NOT_FOUND),
            r => map_changed(ctx, cmd, r, ""),
        },
        C::DelMap { map, key } => match ctx.maps.del(&word_str(map), &word_str(key)) {
            Err(MapError::NoSuchEntry { .. }) => Reply::text(MAP_DEL_NOT_FOUND),
            r => map_changed(ctx, cmd, r, ""),
        },
        C::ClearMap { version, map } => map_changed(ctx, cmd, ctx.maps.clear(&word_str(map), *version), ""),
        C::PrepareMap { map } => match ctx.maps.prepare(&word_str(map)) {
            Ok(v) => {
                ctx.changed(cmd);
                Reply::text(format!("New version created: {v}\n"))
            }
            Err(e) => Reply::text(map_error_text(&e)),
        },
        C::CommitMap { version, map } => map_changed(ctx, cmd, ctx.maps.commit(&word_str(map), *version), ""),
        #[allow(unreachable_patterns)]
        _ => Reply::text(msg::usage_message(&[], false, session.vis())),
    }
}

fn changed(ctx: &Context, cmd: &Command, r: Result<(), TableError>, ok: &str) -> Reply {
    match r {
        Ok(()) => {
            ctx.changed(cmd);
            Reply::text(ok)
        }
        Err(e) => Reply::text(table_error_text(&e)),
    }
}

fn map_changed(ctx: &Context, cmd: &Command, r: Result<(), MapError>, ok: &str) -> Reply {
    match r {
        Ok(()) => {
            ctx.changed(cmd);
            Reply::text(ok)
        }
        Err(e) => Reply::text(map_error_text(&e)),
    }
}

fn set_admin(ctx: &Context, cmd: &Command, s: &ServerRef, st: table::AdminState) -> Reply {
    changed(
        ctx,
        cmd,
        ctx.tables.set_admin(s.backend.as_str(), s.server.as_str(), st),
        "",
    )
}

fn prompt(session: &mut Session, args: &[PromptArg]) -> Reply {
    if args.is_empty() {
        session.mode = if session.interactive() {
            PromptMode::NonInteractive
        } else {
            PromptMode::Prompt
        };
        return Reply::empty();
    }
    for a in args {
        match a {
            PromptArg::Help => {
                return Reply::text(format!(
                    "{PROMPT_USAGE}\n  help  : this message\n  n     : non-interactive mode (one command per line)\n  i     : interactive mode without prompt\n  p     : interactive mode with prompt\n  timed : add the process' uptime to the prompt\n"
                ))
            }
            PromptArg::NonInteractive => session.mode = PromptMode::NonInteractive,
            PromptArg::Interactive => session.mode = PromptMode::Interactive,
            PromptArg::Prompt => session.mode = PromptMode::Prompt,
            PromptArg::Timed => {
                session.mode = PromptMode::Prompt;
                session.timed = !session.timed;
            }
        }
    }
    Reply::empty()
}

fn parse_server_addr(addr: &str) -> Option<SocketAddr> {
    if let Ok(sa) = addr.parse::<SocketAddr>() {
        return Some(sa);
    }
    // `<ip>` without port, or `ipv4@`/`ipv6@` prefixes.
    let a = addr
        .strip_prefix("ipv4@")
        .or_else(|| addr.strip_prefix("ipv6@"))
        .unwrap_or(addr);
    if let Ok(sa) = a.parse::<SocketAddr>() {
        return Some(sa);
    }
    let bare = a.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0))
}

fn add_server(
    ctx: &Context,
    cmd: &Command,
    server: &ServerRef,
    addr: &Word,
    params: &[ServerParam],
) -> Reply {
    let snap = ctx.tables.load();
    let Some(b) = snap.backend(server.backend.as_str()) else {
        return Reply::text(msg::NO_SUCH_BACKEND);
    };
    if b.balance.is_static() {
        return Reply::text(server_needs_dynamic_lb(&b.name));
    }
    for (p, kw) in [
        (ServerParam::Enabled, "enabled"),
        (ServerParam::NoCheck, "no-check"),
    ] {
        if params.contains(&p) {
            return Reply::text(server_option_refused(kw));
        }
    }
    let a = word_str(addr);
    let Some(sa) = parse_server_addr(&a) else {
        return Reply::text(format!("could not resolve address '{a}'.\n"));
    };
    let mut cfg = ServerConfig::new(server.server.as_str(), sa);
    // Dynamic servers start in maintenance, as in HAProxy.
    cfg.disabled = true;
    for p in params {
        match p {
            ServerParam::Weight(w) => cfg.weight = u32::from(*w),
            ServerParam::Maxconn(m) => cfg.maxconn = *m,
            ServerParam::Backup => cfg.backup = true,
            ServerParam::NoBackup => cfg.backup = false,
            ServerParam::Id(id) => cfg.id = Some(*id),
            _ => {}
        }
    }
    drop(snap);
    changed(
        ctx,
        cmd,
        ctx.tables.add_server(server.backend.as_str(), &cfg).map(|_| ()),
        msg::NEW_SERVER_REGISTERED,
    )
}

fn set_addr(ctx: &Context, cmd: &Command, server: &ServerRef, addr: &Word, port: Option<&Word>) -> Reply {
    let snap = ctx.tables.load();
    let old = match snap.server(server.backend.as_str(), server.server.as_str()) {
        Ok(s) => s.addr,
        Err(e) => return Reply::text(table_error_text(&e)),
    };
    drop(snap);
    let a = word_str(addr);
    let Ok(ip) = a.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() else {
        return Reply::text(msg::SET_SERVER_ADDR_REQUIRES);
    };
    let new_port = match port {
        None => None,
        Some(p) => {
            let p = word_str(p);
            let parsed = if let Some(off) = p.strip_prefix('+') {
                off.parse::<u16>().ok().and_then(|o| old.port().checked_add(o))
            } else if let Some(off) = p.strip_prefix('-') {
                off.parse::<u16>().ok().and_then(|o| old.port().checked_sub(o))
            } else {
                p.parse::<u16>().ok()
            };
            match parsed {
                Some(v) => Some(v),
                None => return Reply::text(format!("Invalid port '{p}'.\n")),
            }
        }
    };
    if let Err(e) = ctx
        .tables
        .set_addr(server.backend.as_str(), server.server.as_str(), ip, new_port)
    {
        return Reply::text(table_error_text(&e));
    }
    ctx.changed(cmd);
    let mut out = String::new();
    if ip != old.ip() {
        let _ = write!(out, "IP changed from '{}' to '{}'", old.ip(), ip);
    } else {
        out.push_str("no need to change the addr");
    }
    match new_port {
        Some(p) if p != old.port() => {
            let _ = write!(out, ", port changed from '{}' to '{}'", old.port(), p);
        }
        _ => out.push_str(", no need to change the port"),
    }
    out.push_str(" by 'stats socket command'\n");
    Reply::text(out)
}

/// HAProxy's `SRV_ADMF_*` bits as `show servers state` prints them.
fn admin_bits(s: table::AdminState) -> u8 {
    match s {
        table::AdminState::Ready => 0,
        table::AdminState::Maint => 0x01,
        table::AdminState::Drain => 0x08,
    }
}

/// HAProxy's `SRV_ST_*`: 0 stopped, 2 running, 3 stopping. A server in maintenance is
/// stopped (observed: a fresh dynamic server shows `op_state=0 admin_state=1`).
fn oper_num(admin: table::AdminState, s: table::OperState) -> u8 {
    match (admin, s) {
        (table::AdminState::Maint, _) | (_, table::OperState::Down) => 0,
        (_, table::OperState::Up) => 2,
        (_, table::OperState::Stopping) => 3,
    }
}

fn servers_state(ctx: &Context, backend: Option<&Name>) -> Reply {
    let snap = ctx.tables.load();
    let backends: Vec<_> = match backend {
        Some(b) => match snap.backend(b.as_str()) {
            Some(x) => vec![x.clone()],
            None => return Reply::text(msg::CANT_FIND_BACKEND),
        },
        None => snap.backends().to_vec(),
    };
    let mut out = String::from(
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n",
    );
    for b in &backends {
        for s in &b.servers {
            let _ = writeln!(
                out,
                "{} {} {} {} {} {} {} {} {} 0 1 0 0 0 0 0 0 - {} - 0 0 - - 0",
                b.id,
                b.name,
                s.id,
                s.name,
                s.addr.ip(),
                oper_num(s.admin(), s.oper()),
                admin_bits(s.admin()),
                s.weight(),
                s.initial_weight,
                s.addr.port()
            );
        }
    }
    Reply::text(out)
}

fn servers_conn(ctx: &Context, backend: Option<&Name>) -> Reply {
    let snap = ctx.tables.load();
    let backends: Vec<_> = match backend {
        Some(b) => match snap.backend(b.as_str()) {
            Some(x) => vec![x.clone()],
            None => return Reply::text(msg::CANT_FIND_BACKEND),
        },
        None => snap.backends().to_vec(),
    };
    let mut out = String::from(
        "# bkname/svname bkid/svid addr port - purge_delay used_cur used_max need_est unsafe_nb safe_nb idle_lim idle_cur idle_per_thr[]\n",
    );
    for b in &backends {
        for s in &b.servers {
            let _ = writeln!(
                out,
                "{}/{} {}/{} {} {} - 5000 {} {} 0 0 0 -1 0",
                b.name,
                s.name,
                b.id,
                s.id,
                s.addr.ip(),
                s.addr.port(),
                s.cur_conns(),
                s.conns().max()
            );
        }
    }
    Reply::text(out)
}

fn show_map(ctx: &Context, version: Option<MapVersion>, map: Option<&Word>) -> Reply {
    let set = ctx.maps.load();
    let Some(map) = map else {
        let mut out = String::from("# id (file) description\n");
        for m in set.maps() {
            let _ = writeln!(
                out,
                "{} ({}) pattern loaded from file '{}' used by map at {}. curr_ver={} next_ver={} entry_cnt={}",
                m.uid,
                m.name,
                m.name,
                m.origin,
                m.current_version(),
                m.next_version(),
                m.current().entries().len()
            );
        }
        return Reply::text(out);
    };
    let Some(m) = set.find(&word_str(map)) else {
        return Reply::text(msg::UNKNOWN_MAP);
    };
    let entries = m.entries_at(version);
    let mut out = String::new();
    for e in entries {
        let _ = writeln!(out, "0x{:x} {} {}", e.id, e.key, e.value);
    }
    Reply::text(out)
}

fn get_map(ctx: &Context, map: &Word, value: &Word) -> Reply {
    let set = ctx.maps.load();
    let Some(m) = set.find(&word_str(map)) else {
        return Reply::text(msg::UNKNOWN_MAP);
    };
    let sample = word_str(value);
    let mut out = String::new();
    let kinds: Vec<MatchKind> = {
        let k: Vec<MatchKind> = m.kinds().collect();
        if k.is_empty() {
            vec![MatchKind::Str]
        } else {
            k
        }
    };
    for kind in kinds {
        let idx = if matches!(kind, MatchKind::Str | MatchKind::Beg) {
            "tree"
        } else {
            "list"
        };
        match m.current().lookup(kind, &sample) {
            Some(e) => {
                let _ = writeln!(
                    out,
                    "type={kind}, case=sensitive, found=yes, idx={idx}, key=\"{}\", value=\"{}\", type=\"str\"",
                    e.key, e.value
                );
            }
            None => {
                let _ = writeln!(out, "type={kind}, case=sensitive, found=no");
            }
        }
    }
    Reply::text(out)
}

fn live_info(ctx: &Context) -> LiveInfo {
    let mut live = LiveInfo::default();
    for f in ctx.frontends.list() {
        live.listeners += 1;
        if let Some(c) = f.counters {
            live.curr_conns += c.conns.cur();
            let v = c.totals.read();
            live.cum_conns += v.get(engine::counters::Counter::ConnTotal);
            live.cum_req += v.get(engine::counters::Counter::Sessions);
        }
    }
    live
}

/// HAProxy's log date: `22/Nov/2026:04:49:17.000` (UTC).
pub fn haproxy_date(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mon = usize::try_from(month - 1)
        .ok()
        .and_then(|i| MONTHS.get(i))
        .unwrap_or(&"Jan");
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02}.{:03}",
        day,
        mon,
        year,
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::table::Snapshot;

    fn ctx() -> Context {
        let mut web = BackendConfig::new("web");
        web.servers = vec![ServerConfig::new("s1", SocketAddr::from(([127, 0, 0, 1], 8080)))];
        let tables = Arc::new(Tables::new(Snapshot::from_config(1, &[web]).unwrap()));
        let maps = Arc::new(Maps::default());
        maps.register("virt@paths.map", MatchKind::Beg, "file 'x.cfg' line 3")
            .unwrap();
        let mut c = Context::new(tables, maps);
        let mut d = HashMap::new();
        d.insert("mydefaults".to_string(), BackendConfig::new("template"));
        c.defaults = Context::defaults_from(d);
        c
    }

    fn run_line(c: &Context, s: &mut Session, line: &str) -> String {
        let cmd = crate::parse(line.as_bytes());
        match cmd {
            Ok(cmd) => {
                let r = run(c, s, &cmd);
                match r.pending {
                    Some(p) => r.text + &finish_wait(c, &p),
                    None => r.text,
                }
            }
            Err(e) => e.reply_at(s.level, s.vis()) + "\n",
        }
    }

    #[test]
    fn answers_per_command() {
        let c = ctx();
        let mut s = Session::new(Level::Admin, SESSION_TIMEOUT_DEFAULT);
        let cases: &[(&str, &str)] = &[
            ("add backend b1 from nodef", "No defaults section named 'nodef'.\n"),
            ("add backend b1 from mydefaults", "New backend registered.\n"),
            ("add backend b1 from mydefaults", "Error during backend creation : name is already used by other proxy 'backend b1'.\n"),
            ("add server b1/s1 127.0.0.1:9000 check weight 5", "New server registered.\n"),
            ("add server b1/s1 127.0.0.1:9000", "Already exists a server with the same name in backend.\n"),
            ("add server nob/s1 127.0.0.1:9000", "No such backend.\n"),
            ("add server b1/s2 not-an-ip:80", "could not resolve address 'not-an-ip:80'.\n"),
            ("add server b1/s2 127.0.0.1:80 enabled", "'enabled' option is not accepted for dynamic server\n"),
            ("add server b1/s2 127.0.0.1:80 check no-check", "'no-check' option is not accepted for dynamic server\n"),
            ("get weight b1/s1", "5 (initial 5)\n"),
            ("set server b1/s1 weight 50%", ""),
            ("get weight b1/s1", "2 (initial 5)\n"),
            ("get weight b1/zz", "No such server.\n"),
            ("enable server b1/s1", ""),
            ("del server b1/s1", "Only servers in maintenance mode can be deleted.\n"),
            ("publish backend b1", "Backend published.\n"),
            ("publish backend zz", "No such backend.\n"),
            ("show backend", "# name\nweb\nb1\n"),
            ("del backend b1", "Backend must be unpublished prior to its deletion.\n"),
            ("unpublish backend b1", "Backend unpublished.\n"),
            ("del backend b1", "Only a backend without server can be deleted.\n"),
            ("set server b1/s1 state maint", ""),
            ("wait 1s srv-removable b1/s1", "Done.\n"),
            ("del server b1/s1", "Server deleted.\n"),
            ("wait 1s be-removable b1", "Done.\n"),
            ("del backend b1", "Backend deleted.\n"),
            ("set server web/s1 addr 127.0.0.2 port 81", "IP changed from '127.0.0.1' to '127.0.0.2', port changed from '8080' to '81' by 'stats socket command'\n"),
            ("show servers state web", "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n1 web 1 s1 127.0.0.2 2 0 1 1 0 1 0 0 0 0 0 0 - 81 - 0 0 - - 0\n"),
            ("show servers state nob", "Can't find backend.\n"),
            ("add map virt@paths.map /test b1", ""),
            ("add map virt@none.map /test b1", "Unknown map identifier. Please use #<id> or <file>.\n"),
            ("show map virt@paths.map", "0x1 /test b1\n"),
            ("get map virt@paths.map /test/x", "type=beg, case=sensitive, found=yes, idx=tree, key=\"/test\", value=\"b1\", type=\"str\"\n"),
            ("get map virt@paths.map /nope", "type=beg, case=sensitive, found=no\n"),
            ("set map virt@paths.map /test b2", ""),
            ("set map virt@paths.map /zz b2", "entry not found.\n"),
            ("set map virt@paths.map #0xzz b2", "Malformed identifier. Please use #<id> or <file>.\n"),
            ("set map virt@paths.map #0x1 b2", ""),
            ("add map @5 virt@paths.map /f x", "Version number in the future, please use 'prepare map' before.\n"),
            ("commit map @5 virt@paths.map", "Version number out of range.\n"),
            ("del map virt@paths.map /zz", "Key not found.\n"),
            ("prepare map virt@paths.map", "New version created: 1\n"),
            ("add map @1 virt@paths.map /v1 x", ""),
            ("commit map @1 virt@paths.map", ""),
            ("show map virt@paths.map", "0x2 /v1 x\n"),
            ("clear map virt@paths.map", ""),
            ("show map virt@paths.map", ""),
            ("show map", "# id (file) description\n0 (virt@paths.map) pattern loaded from file 'virt@paths.map' used by map at file 'x.cfg' line 3. curr_ver=1 next_ver=1 entry_cnt=0\n"),
            ("echo hello   world", "hello world\n"),
            ("show cli level", "admin\n"),
            ("experimental-mode", "experimental-mode is OFF\n"),
            ("experimental-mode on", ""),
            ("experimental-mode", "experimental-mode is ON\n"),
            ("disable frontend fe", "No such frontend.\n"),
            ("show env NO_SUCH_VAR_RINGLB", "Variable not found\n"),
            ("show stat zz 1 -1", "No such proxy.\n"),
            ("wait 20ms", "Done.\n"),
            ("operator", ""),
            ("show cli level", "operator\n"),
            ("add map virt@paths.map /x y", "Permission denied\n"),
            ("show map virt@paths.map", ""),
            ("user", ""),
            ("show map virt@paths.map", "Permission denied\n"),
            ("get weight web/s1", "1 (initial 1)\n"),
            ("operator", "Permission denied\n"),
        ];
        for (line, want) in cases {
            assert_eq!(run_line(&c, &mut s, line), *want, "{line}");
        }
    }

    #[test]
    fn wait_expires_with_reason() {
        let c = ctx();
        let mut s = Session::new(Level::Admin, SESSION_TIMEOUT_DEFAULT);
        assert_eq!(
            run_line(&c, &mut s, "wait 50ms srv-removable web/s1"),
            "Failed. Only servers in maintenance mode can be deleted.\n"
        );
        assert_eq!(
            run_line(&c, &mut s, "wait 50ms srv-removable web/zz"),
            "No such server.\n"
        );
        c.tables.set_admin("web", "s1", table::AdminState::Maint).unwrap();
        assert_eq!(run_line(&c, &mut s, "wait 50ms srv-removable web/s1"), "Done.\n");
        assert_eq!(
            run_line(&c, &mut s, "wait 50ms be-removable web"),
            "Failed. Backend must be unpublished prior to its deletion.\n"
        );
    }

    #[test]
    fn changes_replay_into_a_new_worker() {
        let recorded = Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
        let mut c = ctx();
        let rec = recorded.clone();
        c.on_change = Some(Box::new(move |cmd: &Command| {
            if let Ok(mut r) = rec.lock() {
                r.push(cmd.to_bytes());
            }
        }));
        let out = answer(
            &c,
            "add backend dyn from mydefaults; add server dyn/a 127.0.0.1:9001; enable server dyn/a; publish backend dyn; add map virt@paths.map /d dyn; set server web/s1 weight 7; show backend",
            Level::Admin,
        );
        assert!(out.contains("Backend published."), "{out}");
        let changes = recorded.lock().unwrap().clone();
        assert_eq!(changes.len(), 6, "show backend is not a change");
        // The next worker: config defines web/s1 (its change is dropped by the rule).
        let defined = |b: &str, s: Option<&str>| b == "web" && s.is_none_or(|s| s == "s1");
        let kept: Vec<Vec<u8>> = changes
            .iter()
            .filter(|c| crate::parse(c).is_ok_and(|cmd| keep_on_reload(&cmd, &defined)))
            .cloned()
            .collect();
        assert_eq!(kept.len(), 5);
        let next = ctx();
        assert!(replay(&next, &kept).is_empty());
        let snap = next.tables.load();
        let b = snap.backend("dyn").expect("replayed backend");
        assert!(b.published && b.servers[0].usable());
        assert_eq!(
            next.maps.load().lookup("virt@paths.map", MatchKind::Beg, "/d/x"),
            Some("dyn")
        );
        assert_eq!(snap.server("web", "s1").unwrap().weight(), 1);
        // A change that no longer applies is reported, not fatal.
        let failed = replay(&next, &[b"del server nob/x".to_vec()]);
        assert_eq!(
            failed,
            vec![("del server nob/x".to_string(), "No such backend.\n".to_string())]
        );
    }

    #[test]
    fn wait_srv_removable_waits_for_connections() {
        let c = ctx();
        let mut s = Session::new(Level::Admin, SESSION_TIMEOUT_DEFAULT);
        let snap = c.tables.load_full();
        let mut lb = engine::balance::LbState::new(0);
        let slot = match snap.backend("web").unwrap().pick(&mut lb, None, None) {
            engine::table::Pick::Server(slot) => slot,
            other => panic!("no pick: {other:?}"),
        };
        c.tables.set_admin("web", "s1", table::AdminState::Maint).unwrap();
        assert_eq!(
            run_line(&c, &mut s, "wait 30ms srv-removable web/s1"),
            "Wait delay expired. Server still has connections attached to it, cannot remove it.\n"
        );
        assert_eq!(
            run_line(&c, &mut s, "del server web/s1"),
            "Server still has connections attached to it, cannot remove it.\n"
        );
        drop(slot);
        assert_eq!(run_line(&c, &mut s, "wait 1s srv-removable web/s1"), "Done.\n");
    }

    #[test]
    fn static_backends_refuse_dynamic_servers() {
        let mut st = BackendConfig::new("st");
        st.balance = engine::balance::Balance::StaticRr;
        let c = Context::new(
            Arc::new(Tables::new(Snapshot::from_config(1, &[st]).unwrap())),
            Arc::new(Maps::default()),
        );
        assert_eq!(
            answer(&c, "add server st/x 127.0.0.1:1", Level::Admin),
            "Backend does not support dynamic servers : backend 'st' uses a non dynamic load balancing method.\n\n"
        );
    }

    #[test]
    fn answer_runs_a_whole_line() {
        let c = ctx();
        let out = answer(
            &c,
            "experimental-mode on; add backend x from mydefaults; show cli level",
            Level::Admin,
        );
        assert_eq!(out, "\nNew backend registered.\n\nadmin\n\n");
        let out = answer(&c, "user; add map virt@paths.map /x y", Level::Admin);
        assert_eq!(out, "\nPermission denied\n\n");
    }

    #[test]
    fn haproxy_dates() {
        assert_eq!(haproxy_date(UNIX_EPOCH), "01/Jan/1970:00:00:00.000");
        assert_eq!(
            haproxy_date(UNIX_EPOCH + Duration::from_millis(1_795_337_357_123)),
            "22/Nov/2026:08:49:17.123"
        );
    }
}
