//! The typed Runtime API commands and their canonical text form.
//!
//! Pure: no I/O and no `engine`. Every value type here checks itself when it is built
//! (`Name::new`, `Word::new`, `Weight::parse` ...), so a `Command` that exists is a command
//! the socket could have received. `Display` prints the canonical form, and
//! `parse(cmd.to_string().as_bytes()) == Ok(cmd)` holds for every command (asserted by the
//! property test and the fuzz target).

use std::fmt;

/// Longest backend, server, frontend or defaults name accepted, in bytes. HAProxy has no
/// limit of its own; names longer than this are typing accidents and would bloat `show stat`.
pub const NAME_BYTES_MAX: usize = 255;

/// Longest single word (map key, value, file name, address) accepted, in bytes. A word
/// always fits in one request, so the request limit bounds it as HAProxy's buffer does.
pub const WORD_BYTES_MAX: usize = crate::split::REQUEST_BYTES_MAX;

/// Longest payload value line of `add map ... <<`, in bytes (same bound as a word).
pub const LINE_BYTES_MAX: usize = crate::split::REQUEST_BYTES_MAX;

/// Largest absolute server weight (HAProxy's `SRV_UWGHT_MAX`).
pub const WEIGHT_ABSOLUTE_MAX: u16 = 256;

/// Largest relative weight in percent; HAProxy clamps larger values to this to avoid an
/// integer overflow when it scales the initial weight.
pub const WEIGHT_PERCENT_MAX: u32 = 25_600;

/// Largest delay or timeout accepted, in milliseconds: HAProxy's ticks are 31-bit
/// (`2147483647 ms or ~24.8 days`).
pub const DELAY_MS_MAX: u32 = i32::MAX as u32;

/// Largest `maxconn` accepted for a server or frontend (HAProxy stores it in an `int`).
pub const MAXCONN_MAX: u32 = i32::MAX as u32;

/// Longest custom payload terminator after `<<` (HAProxy's `cli_payload_pat` is 8 bytes
/// with the trailing NUL).
pub const PAYLOAD_PATTERN_BYTES_MAX: usize = 7;

/// Privilege level of a CLI session, ordered: `User < Operator < Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Only non-sensitive stats can be read, nothing can be changed.
    User,
    /// All data can be read, non-sensitive changes are allowed (the socket default).
    Operator,
    /// Everything is permitted.
    Admin,
}

impl Level {
    /// The keyword used by `level` on `stats socket` and printed by `show cli level`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::User => "user",
            Level::Operator => "operator",
            Level::Admin => "admin",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Extra mode a command needs on top of its level (`experimental-mode on`, `expert-mode on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// No extra mode needed.
    Normal,
    /// Needs `experimental-mode on` in the session.
    Experimental,
    /// Needs `expert-mode on` in the session.
    Expert,
}

/// Why a value type refused its input. The parser maps these to HAProxy's texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The value was empty.
    #[error("empty value")]
    Empty,
    /// The value was longer than its limit.
    #[error("value too long ({len} bytes, max {max})")]
    TooLong {
        /// Length seen, in bytes.
        len: usize,
        /// Limit, in bytes.
        max: usize,
    },
    /// The value holds a byte it may not hold.
    #[error("invalid byte 0x{byte:02x} at {offset}")]
    InvalidByte {
        /// The byte.
        byte: u8,
        /// Its offset in the value.
        offset: usize,
    },
}

/// A proxy (backend, frontend, defaults) or server name: 1 to [`NAME_BYTES_MAX`] bytes of
/// `[A-Za-z0-9_.:-]`, HAProxy's rule for identifiers (`invalid_char()`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    /// Checks `s` against HAProxy's identifier rule.
    pub fn new(s: &[u8]) -> Result<Name, ValueError> {
        if s.is_empty() {
            return Err(ValueError::Empty);
        }
        if s.len() > NAME_BYTES_MAX {
            return Err(ValueError::TooLong {
                len: s.len(),
                max: NAME_BYTES_MAX,
            });
        }
        for (offset, &byte) in s.iter().enumerate() {
            let ok = byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b':' | b'-');
            if !ok {
                return Err(ValueError::InvalidByte { byte, offset });
            }
        }
        // Every byte is ASCII, checked above.
        let text = String::from_utf8_lossy(s).into_owned();
        Ok(Name(text))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One free-form argument (map key or value, file name, address, environment variable):
/// 1 to [`WORD_BYTES_MAX`] bytes, anything but NUL, CR and LF (the protocol cannot carry
/// them inside a word). Printed with backslash escapes so it survives re-parsing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Word(Vec<u8>);

impl Word {
    /// Checks `s`.
    pub fn new(s: &[u8]) -> Result<Word, ValueError> {
        if s.is_empty() {
            return Err(ValueError::Empty);
        }
        if s.len() > WORD_BYTES_MAX {
            return Err(ValueError::TooLong {
                len: s.len(),
                max: WORD_BYTES_MAX,
            });
        }
        if let Some(offset) = s.iter().position(|&b| matches!(b, 0 | b'\r' | b'\n')) {
            return Err(ValueError::InvalidByte {
                byte: s[offset],
                offset,
            });
        }
        Ok(Word(s.to_vec()))
    }

    /// The raw bytes, unescaped.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, &self.0)
    }
}

/// Appends `bytes` as one CLI word: space, tab, `;`, `\` and `<` get a backslash. `<` is
/// escaped so that no printed word can look like the `<<` payload marker, which HAProxy
/// looks for after the last raw space of a line, escapes not considered.
fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        if matches!(b, b' ' | b'\t' | b';' | b'\\' | b'<') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

fn write_escaped(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    let mut out = Vec::with_capacity(bytes.len() + 4);
    push_escaped(&mut out, bytes);
    write_bytes(f, &out)
}

/// Writes raw bytes through a `Formatter`: valid UTF-8 runs as `str`, other bytes as
/// U+FFFD would lose data, so commands only print non-UTF-8 through `Command::to_bytes`.
fn write_bytes(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    match std::str::from_utf8(bytes) {
        Ok(s) => f.write_str(s),
        Err(_) => f.write_str(&String::from_utf8_lossy(bytes)),
    }
}

/// One value line of an `add map` payload: the value part after the key, 1 to
/// [`LINE_BYTES_MAX`] bytes without NUL, CR or LF and without leading spaces or tabs (HAProxy
/// skips them). Printed as is: payload lines take no escapes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PayloadValue(Vec<u8>);

impl PayloadValue {
    /// Checks `s`.
    pub fn new(s: &[u8]) -> Result<PayloadValue, ValueError> {
        if s.is_empty() {
            return Err(ValueError::Empty);
        }
        if s.len() > LINE_BYTES_MAX {
            return Err(ValueError::TooLong {
                len: s.len(),
                max: LINE_BYTES_MAX,
            });
        }
        if let Some(offset) = s.iter().position(|&b| matches!(b, 0 | b'\r' | b'\n')) {
            return Err(ValueError::InvalidByte {
                byte: s[offset],
                offset,
            });
        }
        if let Some(&byte) = s.first().filter(|b| matches!(b, b' ' | b'\t')) {
            return Err(ValueError::InvalidByte { byte, offset: 0 });
        }
        Ok(PayloadValue(s.to_vec()))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// One key of an `add map` payload line: a [`Word`] without space or tab (they end the key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PayloadKey(Vec<u8>);

impl PayloadKey {
    /// Checks `s`.
    pub fn new(s: &[u8]) -> Result<PayloadKey, ValueError> {
        let word = Word::new(s)?;
        if let Some(offset) = s.iter().position(|&b| matches!(b, b' ' | b'\t')) {
            return Err(ValueError::InvalidByte {
                byte: s[offset],
                offset,
            });
        }
        Ok(PayloadKey(word.0))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// `<backend>/<server>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerRef {
    /// The backend.
    pub backend: Name,
    /// The server in it.
    pub server: Name,
}

impl fmt::Display for ServerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.backend, self.server)
    }
}

/// A server weight as `set server ... weight` and `set weight` take it: absolute (`N`, 0 to
/// [`WEIGHT_ABSOLUTE_MAX`]) or relative to the initial weight (`N%`, 0 to
/// [`WEIGHT_PERCENT_MAX`]). Only built through its checked constructors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Weight {
    value: u32,
    relative: bool,
}

impl Weight {
    /// An absolute weight, if at most [`WEIGHT_ABSOLUTE_MAX`].
    pub fn absolute(w: u16) -> Option<Weight> {
        (w <= WEIGHT_ABSOLUTE_MAX).then_some(Weight {
            value: u32::from(w),
            relative: false,
        })
    }

    /// A relative weight in percent, clamped like HAProxy to [`WEIGHT_PERCENT_MAX`].
    pub fn relative(pct: u32) -> Weight {
        Weight {
            value: pct.min(WEIGHT_PERCENT_MAX),
            relative: true,
        }
    }

    /// Whether the weight is a percentage of the initial weight.
    pub fn is_relative(self) -> bool {
        self.relative
    }

    /// The number: the weight itself, or the percentage.
    pub fn value(self) -> u32 {
        self.value
    }

    /// The weight to apply to a server whose initial weight is `initial`: HAProxy's
    /// `iweight * pct / 100` capped at [`WEIGHT_ABSOLUTE_MAX`] for a relative weight.
    pub fn resolve(self, initial: u16) -> u16 {
        if !self.relative {
            return u16::try_from(self.value).unwrap_or(WEIGHT_ABSOLUTE_MAX);
        }
        let w = u64::from(initial) * u64::from(self.value) / 100;
        u16::try_from(w.min(u64::from(WEIGHT_ABSOLUTE_MAX))).unwrap_or(WEIGHT_ABSOLUTE_MAX)
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.relative {
            write!(f, "{}%", self.value)
        } else {
            write!(f, "{}", self.value)
        }
    }
}

/// A delay in milliseconds, 1 to [`DELAY_MS_MAX`]; printed as `<N>ms` or `<N>s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Delay(u32);

impl Delay {
    /// A delay of `ms` milliseconds, if in 1..=[`DELAY_MS_MAX`].
    pub fn from_ms(ms: u32) -> Option<Delay> {
        (1..=DELAY_MS_MAX).contains(&ms).then_some(Delay(ms))
    }

    /// The delay in milliseconds.
    pub fn as_ms(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) {
            write!(f, "{}s", self.0 / 1000)
        } else {
            write!(f, "{}ms", self.0)
        }
    }
}

/// A map version, `@<ver>` (HAProxy's generation counter, 32 bits).
pub type MapVersion = u32;

/// `set server ... state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminState {
    /// `ready`: leave maintenance and drain.
    Ready,
    /// `drain`: no new traffic but persistent sessions.
    Drain,
    /// `maint`: maintenance.
    Maint,
}

impl AdminState {
    fn as_str(self) -> &'static str {
        match self {
            AdminState::Ready => "ready",
            AdminState::Drain => "drain",
            AdminState::Maint => "maint",
        }
    }
}

/// `set server ... health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// `up`.
    Up,
    /// `stopping`.
    Stopping,
    /// `down`.
    Down,
}

impl Health {
    fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Stopping => "stopping",
            Health::Down => "down",
        }
    }
}

/// `set server ... agent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentState {
    /// `up`.
    Up,
    /// `down`.
    Down,
}

/// Output format of `show info` / `show stat`; the last of `typed`/`json` wins as in HAProxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StatFormat {
    /// The default: `Key: value` lines (`show info`) or CSV (`show stat`).
    #[default]
    Default,
    /// `typed`.
    Typed,
    /// `json`.
    Json,
}

/// `show info` options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InfoOptions {
    /// `typed` or `json`.
    pub format: StatFormat,
    /// `desc`: add field descriptions.
    pub desc: bool,
    /// `float`: print some fields as floats.
    pub float: bool,
}

/// `show stat <iid> <type> <sid>`: which proxy and which object types to dump.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatScope {
    /// Proxy name or numeric id (the executor resolves it; `-1` means all and is
    /// normalised to no scope by the parser).
    pub proxy: Word,
    /// Object type mask (1 frontends, 2 backends, 4 servers, -1 all), as `atoi` reads it.
    pub types: i32,
    /// Server id, -1 for all, as `atoi` reads it.
    pub sid: i32,
}

/// `show stat` options.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct StatOptions {
    /// Restrict to one proxy and some object types.
    pub scope: Option<StatScope>,
    /// `typed` or `json`.
    pub format: StatFormat,
    /// `desc`.
    pub desc: bool,
    /// `no-maint`: skip servers in maintenance.
    pub no_maint: bool,
    /// `up`: only servers that are up.
    pub up: bool,
}

/// `show errors ... request|response`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorDirection {
    /// `request`.
    Request,
    /// `response`.
    Response,
}

/// One argument of `prompt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PromptArg {
    /// `help`: describe the modes.
    Help,
    /// `n`: non-interactive mode.
    NonInteractive,
    /// `i`: interactive mode without prompt.
    Interactive,
    /// `p`: interactive mode with prompt.
    Prompt,
    /// `timed`: show the uptime in the prompt.
    Timed,
}

impl PromptArg {
    fn as_str(self) -> &'static str {
        match self {
            PromptArg::Help => "help",
            PromptArg::NonInteractive => "n",
            PromptArg::Interactive => "i",
            PromptArg::Prompt => "p",
            PromptArg::Timed => "timed",
        }
    }
}

/// `add backend ... mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyMode {
    /// `tcp`.
    Tcp,
    /// `http`.
    Http,
}

impl ProxyMode {
    fn as_str(self) -> &'static str {
        match self {
            ProxyMode::Tcp => "tcp",
            ProxyMode::Http => "http",
        }
    }
}

/// `wait <delay> <condition>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WaitCondition {
    /// `srv-removable <b>/<s>`: the server can be deleted.
    SrvRemovable(ServerRef),
    /// `be-removable <b>`: the backend can be deleted.
    BeRemovable(Name),
}

/// One keyword of `add server` after the address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerParam {
    /// `check`: enable health checks (they start disabled on a dynamic server).
    Check,
    /// `no-check`.
    NoCheck,
    /// `backup`.
    Backup,
    /// `no-backup`.
    NoBackup,
    /// `disabled`: start in maintenance.
    Disabled,
    /// `enabled`.
    Enabled,
    /// `agent-check`.
    AgentCheck,
    /// `port <N>`: health-check port.
    Port(u16),
    /// `addr <ip>`: health-check address.
    Addr(Word),
    /// `weight <N>`: 0 to 256.
    Weight(u16),
    /// `maxconn <N>`.
    Maxconn(u32),
    /// `minconn <N>`.
    Minconn(u32),
    /// `maxqueue <N>`.
    Maxqueue(u32),
    /// `inter <delay>`.
    Inter(Delay),
    /// `fastinter <delay>`.
    Fastinter(Delay),
    /// `downinter <delay>`.
    Downinter(Delay),
    /// `rise <N>`, at least 1.
    Rise(u32),
    /// `fall <N>`, at least 1.
    Fall(u32),
    /// `id <N>`.
    Id(u32),
    /// `cookie <value>`.
    Cookie(Word),
    /// `track [<b>/]<s>`.
    Track(Word),
    /// `init-state fully-up|up|down|fully-down`.
    InitState(Word),
    /// `send-proxy`.
    SendProxy,
    /// `send-proxy-v2`.
    SendProxyV2,
}

/// The keywords taking no value, in table form (keyword, value).
pub(crate) const SERVER_FLAGS: &[(&str, ServerParam)] = &[
    ("check", ServerParam::Check),
    ("no-check", ServerParam::NoCheck),
    ("backup", ServerParam::Backup),
    ("no-backup", ServerParam::NoBackup),
    ("disabled", ServerParam::Disabled),
    ("enabled", ServerParam::Enabled),
    ("agent-check", ServerParam::AgentCheck),
    ("send-proxy", ServerParam::SendProxy),
    ("send-proxy-v2", ServerParam::SendProxyV2),
];

impl fmt::Display for ServerParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((kw, _)) = SERVER_FLAGS.iter().find(|(_, p)| p == self) {
            return f.write_str(kw);
        }
        match self {
            ServerParam::Port(v) => write!(f, "port {v}"),
            ServerParam::Addr(v) => write!(f, "addr {v}"),
            ServerParam::Weight(v) => write!(f, "weight {v}"),
            ServerParam::Maxconn(v) => write!(f, "maxconn {v}"),
            ServerParam::Minconn(v) => write!(f, "minconn {v}"),
            ServerParam::Maxqueue(v) => write!(f, "maxqueue {v}"),
            ServerParam::Inter(v) => write!(f, "inter {v}"),
            ServerParam::Fastinter(v) => write!(f, "fastinter {v}"),
            ServerParam::Downinter(v) => write!(f, "downinter {v}"),
            ServerParam::Rise(v) => write!(f, "rise {v}"),
            ServerParam::Fall(v) => write!(f, "fall {v}"),
            ServerParam::Id(v) => write!(f, "id {v}"),
            ServerParam::Cookie(v) => write!(f, "cookie {v}"),
            ServerParam::Track(v) => write!(f, "track {v}"),
            ServerParam::InitState(v) => write!(f, "init-state {v}"),
            // Flags were printed from the table above.
            _ => Ok(()),
        }
    }
}

/// `add map`: one entry on the line, or many in a payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MapEntries {
    /// `add map <map> <key> <value>`.
    One {
        /// The key.
        key: Word,
        /// The value.
        value: Word,
    },
    /// `add map <map> <<` then `key value` lines, ended by an empty line.
    Payload(Vec<(PayloadKey, PayloadValue)>),
}

/// One Runtime API command, typed. Built by [`crate::parse()`]; printed canonically by
/// `Display`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    // ---- session ----
    /// `help [<words>...]`.
    Help {
        /// The words to filter the list with.
        words: Vec<Word>,
    },
    /// `prompt [help|n|i|p|timed]*`.
    Prompt {
        /// The arguments, in order.
        args: Vec<PromptArg>,
    },
    /// `quit`.
    Quit,
    /// `echo <text>`: the words joined by single spaces.
    Echo {
        /// The words.
        words: Vec<Word>,
    },
    /// `operator`: lower the session to operator.
    Operator,
    /// `user`: lower the session to user.
    User,
    /// `experimental-mode [on|off]`; `None` shows the state.
    ExperimentalMode {
        /// `Some(true)` for `on`, `Some(false)` for anything else.
        on: Option<bool>,
    },
    /// `expert-mode [on|off]`; `None` shows the state.
    ExpertMode {
        /// `Some(true)` for `on`, `Some(false)` for anything else.
        on: Option<bool>,
    },
    /// `set timeout cli <delay>` (seconds by default).
    SetTimeoutCli {
        /// The new idle timeout, in seconds (at least 1).
        seconds: u32,
    },
    /// `wait -h`.
    WaitHelp,
    /// `wait <delay> [condition]`.
    Wait {
        /// The longest wait.
        delay: Delay,
        /// What to wait for; `None` sleeps.
        condition: Option<WaitCondition>,
    },

    // ---- process ----
    /// `show info [desc|json|typed|float]*`.
    ShowInfo(InfoOptions),
    /// `show stat [<iid> <type> <sid>] [desc|json|no-maint|typed|up]*`.
    ShowStat(StatOptions),
    /// `show cli sockets`.
    ShowCliSockets,
    /// `show cli level`.
    ShowCliLevel,
    /// `show version`.
    ShowVersion,
    /// `show env [<var>]`.
    ShowEnv {
        /// One variable, or all.
        var: Option<Word>,
    },
    /// `show errors [<px>] [request|response]`.
    ShowErrors {
        /// One proxy (name or id), or all.
        proxy: Option<Word>,
        /// Only one direction.
        direction: Option<ErrorDirection>,
    },
    /// `clear counters [all]`.
    ClearCounters {
        /// `all`: every counter, not only the max ones (admin).
        all: bool,
    },

    // ---- frontends ----
    /// `disable frontend <f>`.
    DisableFrontend(Name),
    /// `enable frontend <f>`.
    EnableFrontend(Name),
    /// `shutdown frontend <f>`.
    ShutdownFrontend(Name),
    /// `set maxconn frontend <f> <N>`.
    SetMaxconnFrontend {
        /// The frontend.
        frontend: Name,
        /// The new maxconn.
        maxconn: u32,
    },

    // ---- backends ----
    /// `add backend <name> from <defaults> [mode tcp|http]`.
    AddBackend {
        /// The new backend.
        name: Name,
        /// The defaults section it inherits from.
        from: Name,
        /// Its mode, if not the defaults'.
        mode: Option<ProxyMode>,
    },
    /// `publish backend <b>`.
    PublishBackend(Name),
    /// `unpublish backend <b>`.
    UnpublishBackend(Name),
    /// `del backend <b>`.
    DelBackend(Name),
    /// `show backend`.
    ShowBackend,

    // ---- servers ----
    /// `add server <b>/<s> <addr>[:<port>] [params]`.
    AddServer {
        /// Where.
        server: ServerRef,
        /// The address, `<ip>[:<port>]` or a host name, resolved by the executor.
        addr: Word,
        /// The keywords after the address, in order.
        params: Vec<ServerParam>,
    },
    /// `del server <b>/<s>`.
    DelServer(ServerRef),
    /// `enable server <b>/<s>`.
    EnableServer(ServerRef),
    /// `disable server <b>/<s>`.
    DisableServer(ServerRef),
    /// `enable health <b>/<s>`.
    EnableHealth(ServerRef),
    /// `disable health <b>/<s>`.
    DisableHealth(ServerRef),
    /// `enable agent <b>/<s>`.
    EnableAgent(ServerRef),
    /// `disable agent <b>/<s>`.
    DisableAgent(ServerRef),
    /// `set server <b>/<s> state ready|drain|maint`.
    SetServerState {
        /// The server.
        server: ServerRef,
        /// The new admin state.
        state: AdminState,
    },
    /// `set server <b>/<s> weight <w>[%]`.
    SetServerWeight {
        /// The server.
        server: ServerRef,
        /// The new weight.
        weight: Weight,
    },
    /// `set server <b>/<s> health up|stopping|down`.
    SetServerHealth {
        /// The server.
        server: ServerRef,
        /// The forced health.
        health: Health,
    },
    /// `set server <b>/<s> agent up|down`.
    SetServerAgent {
        /// The server.
        server: ServerRef,
        /// The forced agent state.
        agent: AgentState,
    },
    /// `set server <b>/<s> addr <ip> [port <p>]`.
    SetServerAddr {
        /// The server.
        server: ServerRef,
        /// The new address.
        addr: Word,
        /// The new port, as given (HAProxy accepts `+N`/`-N` offsets for mapped ports).
        port: Option<Word>,
    },
    /// `get weight <b>/<s>`.
    GetWeight(ServerRef),
    /// `set weight <b>/<s> <w>[%]` (deprecated form of `set server ... weight`).
    SetWeight {
        /// The server.
        server: ServerRef,
        /// The new weight.
        weight: Weight,
    },
    /// `set maxconn server <b>/<s> <N>`.
    SetMaxconnServer {
        /// The server.
        server: ServerRef,
        /// The new maxconn.
        maxconn: u32,
    },
    /// `shutdown sessions server <b>/<s>`.
    ShutdownSessionsServer(ServerRef),
    /// `show servers state [<b>]`.
    ShowServersState {
        /// One backend, or all.
        backend: Option<Name>,
    },
    /// `show servers conn [<b>]`.
    ShowServersConn {
        /// One backend, or all.
        backend: Option<Name>,
    },

    // ---- maps ----
    /// `show map [@<ver>] [<map>]`.
    ShowMap {
        /// A version of the map (needs `map`).
        version: Option<MapVersion>,
        /// One map, or the list of maps.
        map: Option<Word>,
    },
    /// `get map <map> <value>`.
    GetMap {
        /// The map.
        map: Word,
        /// The sample to look up.
        value: Word,
    },
    /// `add map [@<ver>] <map> <key> <value>` or with a payload.
    AddMap {
        /// A prepared version to fill instead of the current one.
        version: Option<MapVersion>,
        /// The map.
        map: Word,
        /// The entries.
        entries: MapEntries,
    },
    /// `set map <map> [<key>|#<ref>] <value>`.
    SetMap {
        /// The map.
        map: Word,
        /// The key, or `#<ref>`.
        key: Word,
        /// The new value.
        value: Word,
    },
    /// `del map <map> [<key>|#<ref>]`.
    DelMap {
        /// The map.
        map: Word,
        /// The key, or `#<ref>`.
        key: Word,
    },
    /// `clear map [@<ver>] <map>`.
    ClearMap {
        /// A prepared version to clear instead of the current one.
        version: Option<MapVersion>,
        /// The map.
        map: Word,
    },
    /// `prepare map <map>`.
    PrepareMap {
        /// The map.
        map: Word,
    },
    /// `commit map @<ver> <map>`.
    CommitMap {
        /// The prepared version that replaces the map.
        version: MapVersion,
        /// The map.
        map: Word,
    },
}

impl Command {
    /// The level a session needs to run this command, as in HAProxy 3.4 (each command's
    /// `cli_has_level()` call; commands without one are `User`).
    pub fn level(&self) -> Level {
        use Command::*;
        match self {
            Help { .. } | Prompt { .. } | Quit | Echo { .. } | User | SetTimeoutCli { .. } => Level::User,
            ShowInfo(_) | ShowStat(_) | ShowCliSockets | ShowCliLevel | ShowVersion => Level::User,
            ShowBackend | ShowServersState { .. } | ShowServersConn { .. } | GetWeight(_) => Level::User,
            Operator | ShowEnv { .. } | ShowErrors { .. } => Level::Operator,
            ClearCounters { all } => {
                if *all {
                    Level::Admin
                } else {
                    Level::Operator
                }
            }
            ShowMap { .. } | GetMap { .. } => Level::Operator,
            ExperimentalMode { .. } | ExpertMode { .. } | WaitHelp | Wait { .. } => Level::Admin,
            DisableFrontend(_) | EnableFrontend(_) | ShutdownFrontend(_) => Level::Admin,
            SetMaxconnFrontend { .. } => Level::Admin,
            AddBackend { .. } | PublishBackend(_) | UnpublishBackend(_) | DelBackend(_) => Level::Admin,
            AddServer { .. } | DelServer(_) | EnableServer(_) | DisableServer(_) => Level::Admin,
            EnableHealth(_) | DisableHealth(_) | EnableAgent(_) | DisableAgent(_) => Level::Admin,
            SetServerState { .. }
            | SetServerWeight { .. }
            | SetServerHealth { .. }
            | SetServerAgent { .. }
            | SetServerAddr { .. } => Level::Admin,
            SetWeight { .. } | SetMaxconnServer { .. } | ShutdownSessionsServer(_) => Level::Admin,
            AddMap { .. }
            | SetMap { .. }
            | DelMap { .. }
            | ClearMap { .. }
            | PrepareMap { .. }
            | CommitMap { .. } => Level::Admin,
        }
    }

    /// The extra mode this command needs. None of the supported commands is restricted to
    /// experimental or expert mode in HAProxy 3.4 (`add backend` works with or without
    /// `experimental-mode on`).
    pub fn mode(&self) -> Mode {
        Mode::Normal
    }

    /// Whether this command takes a payload (`add map ... <<`).
    pub fn has_payload(&self) -> bool {
        matches!(
            self,
            Command::AddMap {
                entries: MapEntries::Payload(_),
                ..
            }
        )
    }

    /// The canonical text as bytes, lossless for non-UTF-8 words (`Display` replaces
    /// invalid UTF-8 with U+FFFD). Includes the payload and its terminating empty line.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = ByteWriter { out: &mut out };
        // Writing into a Vec cannot fail.
        let _ = self.write_to(&mut w);
        out
    }

    fn write_to(&self, w: &mut ByteWriter<'_>) -> fmt::Result {
        use Command::*;
        match self {
            Help { words } => {
                w.str("help")?;
                for x in words {
                    w.str(" ")?;
                    w.word(x)?;
                }
                Ok(())
            }
            Prompt { args } => {
                w.str("prompt")?;
                for a in args {
                    w.str(" ")?;
                    w.str(a.as_str())?;
                }
                Ok(())
            }
            Quit => w.str("quit"),
            Echo { words } => {
                w.str("echo")?;
                for x in words {
                    w.str(" ")?;
                    w.word(x)?;
                }
                Ok(())
            }
            Operator => w.str("operator"),
            User => w.str("user"),
            ExperimentalMode { on } => {
                w.str("experimental-mode")?;
                w.on_off(*on)
            }
            ExpertMode { on } => {
                w.str("expert-mode")?;
                w.on_off(*on)
            }
            SetTimeoutCli { seconds } => w.fmt(format_args!("set timeout cli {seconds}")),
            WaitHelp => w.str("wait -h"),
            Wait { delay, condition } => {
                w.fmt(format_args!("wait {delay}"))?;
                match condition {
                    None => Ok(()),
                    Some(WaitCondition::SrvRemovable(s)) => w.fmt(format_args!(" srv-removable {s}")),
                    Some(WaitCondition::BeRemovable(b)) => w.fmt(format_args!(" be-removable {b}")),
                }
            }
            ShowInfo(o) => {
                w.str("show info")?;
                match o.format {
                    StatFormat::Default => {}
                    StatFormat::Typed => w.str(" typed")?,
                    StatFormat::Json => w.str(" json")?,
                }
                if o.desc {
                    w.str(" desc")?;
                }
                if o.float {
                    w.str(" float")?;
                }
                Ok(())
            }
            ShowStat(o) => write_show_stat(w, o),
            ShowCliSockets => w.str("show cli sockets"),
            ShowCliLevel => w.str("show cli level"),
            ShowVersion => w.str("show version"),
            ShowEnv { var } => {
                w.str("show env")?;
                if let Some(v) = var {
                    w.str(" ")?;
                    w.word(v)?;
                }
                Ok(())
            }
            ShowErrors { proxy, direction } => {
                w.str("show errors")?;
                match (proxy, direction) {
                    (None, None) => return Ok(()),
                    (Some(p), _) => {
                        w.str(" ")?;
                        w.word(p)?;
                    }
                    // HAProxy reads the first argument as the proxy: `-1` means all.
                    (None, Some(_)) => w.str(" -1")?,
                }
                match direction {
                    None => Ok(()),
                    Some(ErrorDirection::Request) => w.str(" request"),
                    Some(ErrorDirection::Response) => w.str(" response"),
                }
            }
            ClearCounters { all } => w.str(if *all {
                "clear counters all"
            } else {
                "clear counters"
            }),
            DisableFrontend(n) => w.fmt(format_args!("disable frontend {n}")),
            EnableFrontend(n) => w.fmt(format_args!("enable frontend {n}")),
            ShutdownFrontend(n) => w.fmt(format_args!("shutdown frontend {n}")),
            SetMaxconnFrontend { frontend, maxconn } => {
                w.fmt(format_args!("set maxconn frontend {frontend} {maxconn}"))
            }
            AddBackend { name, from, mode } => {
                w.fmt(format_args!("add backend {name} from {from}"))?;
                if let Some(m) = mode {
                    w.fmt(format_args!(" mode {}", m.as_str()))?;
                }
                Ok(())
            }
            PublishBackend(n) => w.fmt(format_args!("publish backend {n}")),
            UnpublishBackend(n) => w.fmt(format_args!("unpublish backend {n}")),
            DelBackend(n) => w.fmt(format_args!("del backend {n}")),
            ShowBackend => w.str("show backend"),
            AddServer { server, addr, params } => {
                w.fmt(format_args!("add server {server} "))?;
                w.word(addr)?;
                for p in params {
                    w.str(" ")?;
                    write_server_param(w, p)?;
                }
                Ok(())
            }
            DelServer(s) => w.fmt(format_args!("del server {s}")),
            EnableServer(s) => w.fmt(format_args!("enable server {s}")),
            DisableServer(s) => w.fmt(format_args!("disable server {s}")),
            EnableHealth(s) => w.fmt(format_args!("enable health {s}")),
            DisableHealth(s) => w.fmt(format_args!("disable health {s}")),
            EnableAgent(s) => w.fmt(format_args!("enable agent {s}")),
            DisableAgent(s) => w.fmt(format_args!("disable agent {s}")),
            SetServerState { server, state } => {
                w.fmt(format_args!("set server {server} state {}", state.as_str()))
            }
            SetServerWeight { server, weight } => w.fmt(format_args!("set server {server} weight {weight}")),
            SetServerHealth { server, health } => {
                w.fmt(format_args!("set server {server} health {}", health.as_str()))
            }
            SetServerAgent { server, agent } => {
                let a = match agent {
                    AgentState::Up => "up",
                    AgentState::Down => "down",
                };
                w.fmt(format_args!("set server {server} agent {a}"))
            }
            SetServerAddr { server, addr, port } => {
                w.fmt(format_args!("set server {server} addr "))?;
                w.word(addr)?;
                if let Some(p) = port {
                    w.str(" port ")?;
                    w.word(p)?;
                }
                Ok(())
            }
            GetWeight(s) => w.fmt(format_args!("get weight {s}")),
            SetWeight { server, weight } => w.fmt(format_args!("set weight {server} {weight}")),
            SetMaxconnServer { server, maxconn } => {
                w.fmt(format_args!("set maxconn server {server} {maxconn}"))
            }
            ShutdownSessionsServer(s) => w.fmt(format_args!("shutdown sessions server {s}")),
            ShowServersState { backend } => {
                w.str("show servers state")?;
                if let Some(b) = backend {
                    w.fmt(format_args!(" {b}"))?;
                }
                Ok(())
            }
            ShowServersConn { backend } => {
                w.str("show servers conn")?;
                if let Some(b) = backend {
                    w.fmt(format_args!(" {b}"))?;
                }
                Ok(())
            }
            ShowMap { version, map } => {
                w.str("show map")?;
                if let Some(v) = version {
                    w.fmt(format_args!(" @{v}"))?;
                }
                if let Some(m) = map {
                    w.str(" ")?;
                    w.word(m)?;
                }
                Ok(())
            }
            GetMap { map, value } => {
                w.str("get map ")?;
                w.word(map)?;
                w.str(" ")?;
                w.word(value)
            }
            AddMap {
                version,
                map,
                entries,
            } => {
                w.str("add map ")?;
                if let Some(v) = version {
                    w.fmt(format_args!("@{v} "))?;
                }
                w.word(map)?;
                match entries {
                    MapEntries::One { key, value } => {
                        w.str(" ")?;
                        w.word(key)?;
                        w.str(" ")?;
                        w.word(value)
                    }
                    MapEntries::Payload(lines) => {
                        w.str(" <<\n")?;
                        for (k, v) in lines {
                            w.raw(k.as_bytes());
                            w.str(" ")?;
                            w.raw(v.as_bytes());
                            w.str("\n")?;
                        }
                        w.str("\n")
                    }
                }
            }
            SetMap { map, key, value } => {
                w.str("set map ")?;
                w.word(map)?;
                w.str(" ")?;
                w.word(key)?;
                w.str(" ")?;
                w.word(value)
            }
            DelMap { map, key } => {
                w.str("del map ")?;
                w.word(map)?;
                w.str(" ")?;
                w.word(key)
            }
            ClearMap { version, map } => {
                w.str("clear map ")?;
                if let Some(v) = version {
                    w.fmt(format_args!("@{v} "))?;
                }
                w.word(map)
            }
            PrepareMap { map } => {
                w.str("prepare map ")?;
                w.word(map)
            }
            CommitMap { version, map } => {
                w.fmt(format_args!("commit map @{version} "))?;
                w.word(map)
            }
        }
    }
}

fn write_show_stat(w: &mut ByteWriter<'_>, o: &StatOptions) -> fmt::Result {
    w.str("show stat")?;
    let mut flags: Vec<&str> = Vec::new();
    match o.format {
        StatFormat::Default => {}
        StatFormat::Typed => flags.push("typed"),
        StatFormat::Json => flags.push("json"),
    }
    if o.desc {
        flags.push("desc");
    }
    if o.no_maint {
        flags.push("no-maint");
    }
    if o.up {
        flags.push("up");
    }
    match &o.scope {
        Some(s) => {
            w.str(" ")?;
            w.word(&s.proxy)?;
            w.fmt(format_args!(" {} {}", s.types, s.sid))?;
        }
        // HAProxy reads two or more arguments as `<iid> <type> <sid>`: spell "all" out.
        None if flags.len() >= 2 => w.str(" -1 -1 -1")?,
        None => {}
    }
    for f in flags {
        w.str(" ")?;
        w.str(f)?;
    }
    Ok(())
}

fn write_server_param(w: &mut ByteWriter<'_>, p: &ServerParam) -> fmt::Result {
    match p {
        ServerParam::Addr(v) => {
            w.str("addr ")?;
            w.word(v)
        }
        ServerParam::Cookie(v) => {
            w.str("cookie ")?;
            w.word(v)
        }
        ServerParam::Track(v) => {
            w.str("track ")?;
            w.word(v)
        }
        ServerParam::InitState(v) => {
            w.str("init-state ")?;
            w.word(v)
        }
        other => w.fmt(format_args!("{other}")),
    }
}

/// Appends text and escaped words to a byte vector.
struct ByteWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl ByteWriter<'_> {
    fn str(&mut self, s: &str) -> fmt::Result {
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    fn raw(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }

    fn fmt(&mut self, args: fmt::Arguments<'_>) -> fmt::Result {
        self.str(&args.to_string())
    }

    fn word(&mut self, word: &Word) -> fmt::Result {
        push_escaped(self.out, word.as_bytes());
        Ok(())
    }

    fn on_off(&mut self, on: Option<bool>) -> fmt::Result {
        match on {
            None => Ok(()),
            Some(true) => self.str(" on"),
            Some(false) => self.str(" off"),
        }
    }
}

impl fmt::Display for Command {
    /// The canonical text; non-UTF-8 bytes in words are replaced (use
    /// [`Command::to_bytes`] for the lossless form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_bytes(f, &self.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_accepts_haproxy_identifier_chars_only() {
        for ok in [&b"web"[..], b"a.b-c_d:e", b"0", &[b'x'; NAME_BYTES_MAX]] {
            assert!(Name::new(ok).is_ok(), "{ok:?}");
        }
        let long = [b'x'; NAME_BYTES_MAX + 1];
        assert_eq!(
            Name::new(&long),
            Err(ValueError::TooLong {
                len: NAME_BYTES_MAX + 1,
                max: NAME_BYTES_MAX
            })
        );
        assert_eq!(Name::new(b""), Err(ValueError::Empty));
        for bad in [&b"a/b"[..], b"a b", b"a;b", b"\xff", b"a\\b"] {
            assert!(Name::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn word_rejects_line_breaks_and_nul() {
        assert!(Word::new(b"a b;c\\d").is_ok());
        for bad in [&b"a\nb"[..], b"a\rb", b"a\0b", b""] {
            assert!(Word::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn word_prints_escapes() {
        let w = Word::new(b"a b;c\\d\te").expect("valid word");
        assert_eq!(w.to_string(), "a\\ b\\;c\\\\d\\\te");
        let p = Word::new(b"<<x").expect("valid word");
        assert_eq!(p.to_string(), "\\<\\<x");
    }

    #[test]
    fn weight_bounds() {
        assert_eq!(Weight::absolute(256).map(Weight::value), Some(256));
        assert_eq!(Weight::absolute(257), None);
        assert_eq!(Weight::relative(99_999).value(), WEIGHT_PERCENT_MAX);
        assert_eq!(Weight::relative(50).to_string(), "50%");
        assert_eq!(Weight::relative(50).resolve(10), 5);
        assert_eq!(Weight::relative(25_600).resolve(100), 256);
        assert_eq!(Weight::absolute(7).map(|w| w.resolve(100)), Some(7));
    }

    #[test]
    fn delay_prints_seconds_when_whole() {
        assert_eq!(Delay::from_ms(2000).map(|d| d.to_string()), Some("2s".into()));
        assert_eq!(Delay::from_ms(1500).map(|d| d.to_string()), Some("1500ms".into()));
        assert_eq!(Delay::from_ms(0), None);
    }

    #[test]
    fn levels_follow_haproxy() {
        assert_eq!(Command::ShowInfo(InfoOptions::default()).level(), Level::User);
        assert_eq!(Command::ClearCounters { all: false }.level(), Level::Operator);
        assert_eq!(Command::ClearCounters { all: true }.level(), Level::Admin);
        let m = Word::new(b"virt@x.map").expect("valid word");
        assert_eq!(Command::PrepareMap { map: m }.level(), Level::Admin);
        assert!(Level::User < Level::Operator && Level::Operator < Level::Admin);
    }
}
