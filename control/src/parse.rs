//! Words to typed [`Command`]s, with HAProxy's answers for every parse-level error.
//!
//! Pure: no I/O, no `engine`, bounded work (one pass over at most
//! [`REQUEST_BYTES_MAX`] bytes), never panics. Lookups that need the running state
//! ("No such backend." for a well-formed but unknown name) are the executor's.
//!
//! Like HAProxy: keywords are matched on their leading words (`cli_find_kw`), extra
//! arguments a command does not use are ignored, numbers are read as `atoi`/`strtol`/
//! `parse_time_err` read them, and the level of the keyword is checked before its
//! arguments (see [`ParseError::reply_at`]).
//!
//! Where ringlb differs, on purpose:
//! - more than [`WORDS_MAX`] words is refused (HAProxy silently drops the extra words);
//! - names that cannot exist (bad characters, empty) are refused here with the answer the
//!   lookup would give (`No such backend.`, `No such server.`, `No such frontend.`,
//!   `Can't find backend.`);
//! - a word holding NUL, CR or LF is refused with [`INVALID_BYTE`] (HAProxy would cut it);
//! - `set server` supports `state`, `weight`, `health`, `agent` and `addr [port]`; its
//!   other settings (`fqdn`, `check-addr`, `check-port`, `agent-*`, `ssl`) answer HAProxy's
//!   usage text; `add server` knows the keywords of [`ServerParam`];
//! - the trailing `-` (no final LF) accepted by `operator`/`user`/`*-mode` is ignored.

use crate::command::*;
use crate::messages::{self as msg, Visibility};
use crate::split::{self, Feed, Request, Splitter, WordSpan, REQUEST_BYTES_MAX, WORDS_MAX};

/// Why a line is not a command, and where (byte offset of the offending word in the line).
///
/// When the keyword was recognised, `level` is the level HAProxy checks before it looks at
/// the arguments: a session below it must get [`msg::PERMISSION_DENIED`] rather than the
/// argument error, as HAProxy answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (at byte {offset})")]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Byte offset in the command line.
    pub offset: usize,
    /// The level of the recognised keyword, if any.
    pub level: Option<Level>,
}

/// The kinds of [`ParseError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Nothing but blanks: HAProxy answers with the empty line alone.
    #[error("empty command")]
    Empty,
    /// The request is larger than HAProxy's buffer.
    #[error("line too long ({len} bytes, max {max})")]
    LineTooLong {
        /// Bytes seen.
        len: usize,
        /// The limit ([`REQUEST_BYTES_MAX`]).
        max: usize,
    },
    /// More words than [`WORDS_MAX`].
    #[error("too many words (max {max})")]
    TooManyWords {
        /// The limit.
        max: usize,
    },
    /// [`parse`] got more than one command.
    #[error("more than one command in the input")]
    TrailingInput,
    /// No keyword matches the first words.
    #[error("unknown command '{}'", String::from_utf8_lossy(.words.first().map_or(&[][..], |w| &w[..])))]
    UnknownCommand {
        /// The first words of the line (at most the keyword depth plus one), for the
        /// suggestions.
        words: Vec<Vec<u8>>,
    },
    /// A known command with bad arguments; the text is HAProxy's answer.
    #[error("invalid arguments: {0}")]
    Invalid(&'static str),
    /// Same, with a formatted answer.
    #[error("invalid arguments: {0}")]
    InvalidText(String),
}

impl ParseError {
    fn new(kind: ParseErrorKind, offset: usize) -> ParseError {
        ParseError {
            kind,
            offset,
            level: None,
        }
    }

    /// The text to send back to a session at `session` level: [`msg::PERMISSION_DENIED`]
    /// if the recognised keyword needs more, else [`ParseError::reply`].
    pub fn reply_at(&self, session: Level, vis: Visibility) -> String {
        match self.level {
            Some(needed) if session < needed => msg::PERMISSION_DENIED.to_string(),
            _ => self.reply(vis),
        }
    }

    /// The text to send back on the socket, without the final LF (the executor adds it and
    /// then the empty line). Empty for [`ParseErrorKind::Empty`].
    pub fn reply(&self, vis: Visibility) -> String {
        match &self.kind {
            ParseErrorKind::Empty => String::new(),
            ParseErrorKind::LineTooLong { .. } => msg::COMMAND_TOO_BIG.to_string(),
            ParseErrorKind::TooManyWords { .. } => msg::TOO_MANY_WORDS.to_string(),
            ParseErrorKind::TrailingInput => "Only one command expected.".to_string(),
            ParseErrorKind::UnknownCommand { words } => {
                let w: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
                msg::usage_message(&w, false, vis)
                    .trim_end_matches('\n')
                    .to_string()
            }
            ParseErrorKind::Invalid(t) => t.trim_end_matches('\n').to_string(),
            ParseErrorKind::InvalidText(t) => t.trim_end_matches('\n').to_string(),
        }
    }
}

/// Parses one command given as text: a command line, optionally ended by LF or `;`, and
/// for `<<` commands the payload lines and the terminating empty line (which may be
/// missing at the end of the input). This is the inverse of `Command`'s `Display` /
/// [`Command::to_bytes`].
pub fn parse(input: &[u8]) -> Result<Command, ParseError> {
    let mut sp = Splitter::new();
    let (used, feed) = sp.feed(input);
    let req = match feed {
        Feed::Request(r) => {
            let rest = input.get(used..).unwrap_or_default();
            if let Some(i) = rest.iter().position(|b| !b.is_ascii_whitespace()) {
                return Err(ParseError::new(ParseErrorKind::TrailingInput, used + i));
            }
            r
        }
        Feed::Error(_) => {
            return Err(ParseError::new(
                ParseErrorKind::LineTooLong {
                    len: input.len(),
                    max: REQUEST_BYTES_MAX,
                },
                REQUEST_BYTES_MAX,
            ))
        }
        Feed::NeedMore => match sp.finish() {
            Some(r) => r,
            None => return Err(ParseError::new(ParseErrorKind::Empty, 0)),
        },
    };
    parse_request(&req)
}

/// Parses a request produced by the [`Splitter`].
pub fn parse_request(req: &Request) -> Result<Command, ParseError> {
    parse_parts(&req.line, req.payload.as_deref(), &req.pattern)
}

/// Parses a command line (escapes in place, no delimiter) with its payload, if any, and the
/// payload's custom terminator (empty for plain `<<`).
pub fn parse_parts(line: &[u8], payload: Option<&[u8]>, pattern: &[u8]) -> Result<Command, ParseError> {
    let len = line.len() + payload.map_or(0, <[u8]>::len);
    if len > REQUEST_BYTES_MAX {
        return Err(ParseError::new(
            ParseErrorKind::LineTooLong {
                len,
                max: REQUEST_BYTES_MAX,
            },
            0,
        ));
    }
    let words = split::split_words(line, payload.map(|_| pattern))
        .map_err(|e| ParseError::new(ParseErrorKind::TooManyWords { max: WORDS_MAX }, e.offset))?;
    if words.is_empty() {
        return Err(ParseError::new(ParseErrorKind::Empty, 0));
    }
    let args = Args {
        words: &words,
        end: line.len(),
    };
    let cmd = dispatch(&args, payload)?;
    debug_assert!(!words.is_empty() && words.len() <= WORDS_MAX);
    debug_assert!(
        payload.is_some() || !cmd.has_payload(),
        "payload commands need a payload"
    );
    Ok(cmd)
}

/// The words of one line with offsets; missing words read as empty, like HAProxy's
/// `args[]` padded with empty strings.
struct Args<'a> {
    words: &'a [WordSpan],
    end: usize,
}

impl Args<'_> {
    fn get(&self, i: usize) -> &[u8] {
        self.words.get(i).map_or(&[][..], |w| &w.bytes[..])
    }

    fn has(&self, i: usize) -> bool {
        !self.get(i).is_empty()
    }

    fn off(&self, i: usize) -> usize {
        self.words.get(i).map_or(self.end, |w| w.offset)
    }

    fn fail(&self, i: usize, text: &'static str) -> ParseError {
        ParseError::new(ParseErrorKind::Invalid(text), self.off(i))
    }

    fn fail_text(&self, i: usize, text: String) -> ParseError {
        ParseError::new(ParseErrorKind::InvalidText(text), self.off(i))
    }

    fn word(&self, i: usize, missing: &'static str) -> Result<Word, ParseError> {
        Word::new(self.get(i)).map_err(|_| self.fail(i, missing))
    }

    fn opt_word(&self, i: usize) -> Result<Option<Word>, ParseError> {
        if !self.has(i) {
            return Ok(None);
        }
        Word::new(self.get(i))
            .map(Some)
            .map_err(|_| self.fail(i, INVALID_BYTE))
    }

    fn words_from(&self, i: usize) -> Result<Vec<Word>, ParseError> {
        (i..self.words.len())
            .map(|j| Word::new(self.get(j)).map_err(|_| self.fail(j, INVALID_BYTE)))
            .collect()
    }

    fn name(&self, i: usize, missing: &'static str, bad: &'static str) -> Result<Name, ParseError> {
        if !self.has(i) {
            return Err(self.fail(i, missing));
        }
        Name::new(self.get(i)).map_err(|_| self.fail(i, bad))
    }

    /// `<backend>/<server>` as HAProxy's `cli_find_server` reads it.
    fn server(&self, i: usize) -> Result<ServerRef, ParseError> {
        let arg = self.get(i);
        let Some(slash) = arg.iter().position(|&b| b == b'/') else {
            return Err(self.fail(i, msg::REQUIRE_BACKEND_SERVER));
        };
        let (be, sv) = (&arg[..slash], &arg[slash + 1..]);
        if sv.is_empty() {
            return Err(self.fail(i, msg::REQUIRE_BACKEND_SERVER));
        }
        let backend = Name::new(be).map_err(|_| self.fail(i, msg::NO_SUCH_BACKEND))?;
        let server = Name::new(sv).map_err(|_| self.fail(i, msg::NO_SUCH_SERVER))?;
        Ok(ServerRef { backend, server })
    }
}

/// ringlb only: a word holds a NUL, CR or LF (HAProxy would cut the word there).
pub const INVALID_BYTE: &str = "Invalid character in argument.";

/// ringlb only: `prompt` with an unknown mode (3.4 text unverified).
pub const PROMPT_USAGE: &str = "Usage: prompt [help | n | i | p | timed ]*";

fn dispatch(a: &Args<'_>, payload: Option<&[u8]>) -> Result<Command, ParseError> {
    let first: Vec<&[u8]> = (0..a.words.len().min(msg::PREFIX_KW_MAX))
        .map(|i| a.get(i))
        .collect();
    let Some(kw) = msg::find_keyword(&first) else {
        let words = (0..a.words.len().min(msg::PREFIX_KW_MAX + 1))
            .map(|i| a.get(i).to_vec())
            .collect();
        return Err(ParseError::new(ParseErrorKind::UnknownCommand { words }, 0));
    };
    dispatch_keyword(a, kw.words, payload).map_err(|mut e| {
        e.level = Some(kw.level);
        e
    })
}

fn dispatch_keyword(a: &Args<'_>, words: &[&str], payload: Option<&[u8]>) -> Result<Command, ParseError> {
    use Command as C;
    let cmd = match words {
        ["help"] => C::Help {
            words: a.words_from(1)?,
        },
        ["prompt"] => prompt(a)?,
        ["quit"] => C::Quit,
        ["echo"] => C::Echo {
            words: a.words_from(1)?,
        },
        ["operator"] => C::Operator,
        ["user"] => C::User,
        ["experimental-mode"] => C::ExperimentalMode { on: on_off(a) },
        ["expert-mode"] => C::ExpertMode { on: on_off(a) },
        ["set", "timeout"] => set_timeout(a)?,
        ["wait"] => wait(a)?,
        ["show", "info"] => C::ShowInfo(info_options(a)),
        ["show", "stat"] => C::ShowStat(stat_options(a)?),
        ["show", "cli", "sockets"] => C::ShowCliSockets,
        ["show", "cli", "level"] => C::ShowCliLevel,
        ["show", "version"] => C::ShowVersion,
        ["show", "env"] => C::ShowEnv { var: a.opt_word(2)? },
        ["show", "errors"] => show_errors(a)?,
        ["clear", "counters"] => C::ClearCounters {
            all: a.get(2) == b"all",
        },
        ["disable", "frontend"] => C::DisableFrontend(frontend(a, 2)?),
        ["enable", "frontend"] => C::EnableFrontend(frontend(a, 2)?),
        ["shutdown", "frontend"] => C::ShutdownFrontend(frontend(a, 2)?),
        ["set", "maxconn", "frontend"] => C::SetMaxconnFrontend {
            frontend: frontend(a, 3)?,
            maxconn: frontend_maxconn(a, 4)?,
        },
        ["add", "backend"] => add_backend(a)?,
        ["publish", "backend"] => C::PublishBackend(backend(a, 2)?),
        ["unpublish", "backend"] => C::UnpublishBackend(backend(a, 2)?),
        ["del", "backend"] => C::DelBackend(backend(a, 2)?),
        ["show", "backend"] => C::ShowBackend,
        ["add", "server"] => add_server(a)?,
        ["del", "server"] => C::DelServer(a.server(2)?),
        ["enable", "server"] => C::EnableServer(a.server(2)?),
        ["disable", "server"] => C::DisableServer(a.server(2)?),
        ["enable", "health"] => C::EnableHealth(a.server(2)?),
        ["disable", "health"] => C::DisableHealth(a.server(2)?),
        ["enable", "agent"] => C::EnableAgent(a.server(2)?),
        ["disable", "agent"] => C::DisableAgent(a.server(2)?),
        ["set", "server"] => set_server(a)?,
        ["get", "weight"] => C::GetWeight(a.server(2)?),
        ["set", "weight"] => C::SetWeight {
            server: a.server(2)?,
            weight: weight(a, 3)?,
        },
        ["set", "maxconn", "server"] => C::SetMaxconnServer {
            server: a.server(3)?,
            maxconn: server_maxconn(a, 4)?,
        },
        ["shutdown", "sessions", "server"] => C::ShutdownSessionsServer(a.server(3)?),
        ["show", "servers", "state"] => C::ShowServersState {
            backend: opt_backend(a, 3)?,
        },
        ["show", "servers", "conn"] => C::ShowServersConn {
            backend: opt_backend(a, 3)?,
        },
        ["show", "map"] => show_map(a)?,
        ["get", "map"] => {
            if !a.has(2) || !a.has(3) {
                return Err(a.fail(2, msg::GET_MAP_MISSING));
            }
            C::GetMap {
                map: a.word(2, INVALID_BYTE)?,
                value: a.word(3, INVALID_BYTE)?,
            }
        }
        ["add", "map"] => add_map(a, payload)?,
        ["set", "map"] => {
            if !a.has(2) || !a.has(3) || !a.has(4) {
                return Err(a.fail(2, msg::SET_MAP_EXPECTS));
            }
            C::SetMap {
                map: a.word(2, INVALID_BYTE)?,
                key: a.word(3, INVALID_BYTE)?,
                value: a.word(4, INVALID_BYTE)?,
            }
        }
        ["del", "map"] => {
            if !a.has(2) || !a.has(3) {
                return Err(a.fail(2, msg::DEL_MAP_EXPECTS));
            }
            C::DelMap {
                map: a.word(2, INVALID_BYTE)?,
                key: a.word(3, INVALID_BYTE)?,
            }
        }
        ["clear", "map"] => {
            let (version, i) = opt_version(a, 2)?;
            if !a.has(i) {
                return Err(a.fail(i, msg::MISSING_MAP_IDENTIFIER));
            }
            C::ClearMap {
                version,
                map: a.word(i, INVALID_BYTE)?,
            }
        }
        ["prepare", "map"] => {
            if !a.has(2) {
                return Err(a.fail(2, msg::MISSING_MAP_IDENTIFIER));
            }
            C::PrepareMap {
                map: a.word(2, INVALID_BYTE)?,
            }
        }
        ["commit", "map"] => {
            if !a.has(3) || !a.get(2).starts_with(b"@") {
                return Err(a.fail(2, msg::MISSING_VERSION_NUMBER));
            }
            let (Some(version), _) = opt_version(a, 2)? else {
                return Err(a.fail(2, msg::MISSING_VERSION_NUMBER));
            };
            C::CommitMap {
                version,
                map: a.word(3, INVALID_BYTE)?,
            }
        }
        // A keyword in the table without a parser here: a bug caught by the tests.
        _ => {
            return Err(ParseError::new(
                ParseErrorKind::UnknownCommand {
                    words: words.iter().map(|w| w.as_bytes().to_vec()).collect(),
                },
                0,
            ))
        }
    };
    Ok(cmd)
}

fn on_off(a: &Args<'_>) -> Option<bool> {
    a.has(1).then(|| a.get(1) == b"on")
}

fn prompt(a: &Args<'_>) -> Result<Command, ParseError> {
    let mut args = Vec::new();
    for i in 1..a.words.len() {
        let arg = match a.get(i) {
            b"help" => PromptArg::Help,
            b"n" => PromptArg::NonInteractive,
            b"i" => PromptArg::Interactive,
            b"p" => PromptArg::Prompt,
            b"timed" => PromptArg::Timed,
            _ => return Err(a.fail(i, PROMPT_USAGE)),
        };
        args.push(arg);
    }
    Ok(Command::Prompt { args })
}

fn set_timeout(a: &Args<'_>) -> Result<Command, ParseError> {
    if a.get(2) != b"cli" {
        return Err(a.fail(2, msg::SET_TIMEOUT_ONLY_CLI));
    }
    if !a.has(3) {
        return Err(a.fail(3, msg::EXPECTS_INTEGER_VALUE));
    }
    match parse_time(a.get(3), TimeUnit::Seconds) {
        Ok(s) if (1..=DELAY_MS_MAX / 1000).contains(&s) => Ok(Command::SetTimeoutCli { seconds: s }),
        _ => Err(a.fail(3, msg::INVALID_TIMEOUT_VALUE)),
    }
}

fn wait(a: &Args<'_>) -> Result<Command, ParseError> {
    if !a.has(1) {
        return Err(a.fail(1, msg::WAIT_EXPECTS_DURATION));
    }
    let delay = match parse_time(a.get(1), TimeUnit::Millis) {
        Ok(ms) => Delay::from_ms(ms),
        Err(_) => None,
    };
    let Some(delay) = delay else {
        if a.get(1) == b"-h" {
            return Ok(Command::WaitHelp);
        }
        return Err(a.fail(1, msg::WAIT_INVALID_DURATION));
    };
    let condition = match a.get(2) {
        b"" => None,
        b"srv-removable" => {
            if !a.has(3) {
                return Err(a.fail(3, msg::WAIT_MISSING_SERVER));
            }
            Some(WaitCondition::SrvRemovable(a.server(3)?))
        }
        b"be-removable" => Some(WaitCondition::BeRemovable(a.name(
            3,
            msg::WAIT_MISSING_BACKEND,
            msg::CANT_FIND_BACKEND,
        )?)),
        b"-h" => return Ok(Command::WaitHelp),
        _ => return Err(a.fail(2, msg::WAIT_USAGE)),
    };
    Ok(Command::Wait { delay, condition })
}

fn info_options(a: &Args<'_>) -> InfoOptions {
    let mut o = InfoOptions::default();
    for i in 2..a.words.len() {
        match a.get(i) {
            b"typed" => o.format = StatFormat::Typed,
            b"json" => o.format = StatFormat::Json,
            b"desc" => o.desc = true,
            b"float" => o.float = true,
            _ => {}
        }
    }
    o
}

fn stat_options(a: &Args<'_>) -> Result<StatOptions, ParseError> {
    let mut o = StatOptions::default();
    let mut first_flag = 2;
    // Like HAProxy: two or more arguments start with `<iid> <type> <sid>`.
    if a.has(2) && a.has(3) {
        let proxy = a.word(2, INVALID_BYTE)?;
        let types = atoi(a.get(3));
        let sid = atoi(a.get(4));
        let all = proxy.as_bytes() == b"-1" && types == -1 && sid == -1;
        if !all {
            o.scope = Some(StatScope { proxy, types, sid });
        }
        first_flag = 5;
    }
    for i in first_flag..a.words.len() {
        match a.get(i) {
            b"typed" => o.format = StatFormat::Typed,
            b"json" => o.format = StatFormat::Json,
            b"desc" => o.desc = true,
            b"no-maint" => o.no_maint = true,
            b"up" => o.up = true,
            _ => {}
        }
    }
    Ok(o)
}

fn show_errors(a: &Args<'_>) -> Result<Command, ParseError> {
    let proxy = a.opt_word(2)?.filter(|p| p.as_bytes() != b"-1");
    let direction = match a.get(3) {
        b"request" => Some(ErrorDirection::Request),
        b"response" => Some(ErrorDirection::Response),
        _ => None,
    };
    Ok(Command::ShowErrors { proxy, direction })
}

fn frontend(a: &Args<'_>, i: usize) -> Result<Name, ParseError> {
    a.name(i, msg::FRONTEND_NAME_EXPECTED, msg::NO_SUCH_FRONTEND)
}

fn backend(a: &Args<'_>, i: usize) -> Result<Name, ParseError> {
    a.name(i, msg::BACKEND_NAME_EXPECTED, msg::CANT_FIND_BACKEND)
}

fn opt_backend(a: &Args<'_>, i: usize) -> Result<Option<Name>, ParseError> {
    if !a.has(i) {
        return Ok(None);
    }
    backend(a, i).map(Some)
}

fn frontend_maxconn(a: &Args<'_>, i: usize) -> Result<u32, ParseError> {
    if !a.has(i) {
        return Err(a.fail(i, msg::INTEGER_VALUE_EXPECTED));
    }
    let v = atoi(a.get(i));
    u32::try_from(v).map_err(|_| a.fail(i, msg::VALUE_OUT_OF_RANGE))
}

fn server_maxconn(a: &Args<'_>, i: usize) -> Result<u32, ParseError> {
    if !a.has(i) {
        return Err(a.fail(i, msg::MAXCONN_REQUIRED));
    }
    let s = strtol(a.get(i));
    if !s.digits {
        return Err(a.fail(i, msg::MAXCONN_GARBAGE));
    }
    if s.end != a.get(i).len() {
        return Err(a.fail(i, msg::MAXCONN_TRAILING_GARBAGE));
    }
    u32::try_from(s.value)
        .ok()
        .filter(|v| *v <= MAXCONN_MAX)
        .ok_or_else(|| a.fail(i, msg::VALUE_OUT_OF_RANGE))
}

/// HAProxy's `server_parse_weight_change_request`, syntax part, in its order of checks.
fn weight(a: &Args<'_>, i: usize) -> Result<Weight, ParseError> {
    let text = a.get(i);
    if text.is_empty() {
        return Err(a.fail(i, msg::WEIGHT_REQUIRED));
    }
    let s = strtol(text);
    if !s.digits {
        return Err(a.fail(i, msg::WEIGHT_GARBAGE));
    }
    let rest = text.get(s.end..).unwrap_or_default();
    if rest == b"%" {
        if s.value < 0 {
            return Err(a.fail(i, msg::WEIGHT_RELATIVE_NEGATIVE));
        }
        let pct = u32::try_from(s.value.min(i64::from(WEIGHT_PERCENT_MAX))).unwrap_or(0);
        return Ok(Weight::relative(pct));
    }
    if !(0..=i64::from(WEIGHT_ABSOLUTE_MAX)).contains(&s.value) {
        return Err(a.fail(i, msg::WEIGHT_ABSOLUTE_RANGE));
    }
    if !rest.is_empty() {
        return Err(a.fail(i, msg::WEIGHT_TRAILING_GARBAGE));
    }
    u16::try_from(s.value)
        .ok()
        .and_then(Weight::absolute)
        .ok_or_else(|| a.fail(i, msg::WEIGHT_ABSOLUTE_RANGE))
}

fn set_server(a: &Args<'_>) -> Result<Command, ParseError> {
    let server = a.server(2)?;
    let cmd = match a.get(3) {
        b"state" => {
            let state = match a.get(4) {
                b"ready" => AdminState::Ready,
                b"drain" => AdminState::Drain,
                b"maint" => AdminState::Maint,
                _ => return Err(a.fail(4, msg::SET_SERVER_STATE_EXPECTS)),
            };
            Command::SetServerState { server, state }
        }
        b"weight" => Command::SetServerWeight {
            server,
            weight: weight(a, 4)?,
        },
        b"health" => {
            let health = match a.get(4) {
                b"up" => Health::Up,
                b"stopping" => Health::Stopping,
                b"down" => Health::Down,
                _ => return Err(a.fail(4, msg::SET_SERVER_HEALTH_EXPECTS)),
            };
            Command::SetServerHealth { server, health }
        }
        b"agent" => {
            let agent = match a.get(4) {
                b"up" => AgentState::Up,
                b"down" => AgentState::Down,
                _ => return Err(a.fail(4, msg::SET_SERVER_AGENT_EXPECTS)),
            };
            Command::SetServerAgent { server, agent }
        }
        b"addr" => {
            let addr = a.word(4, msg::SET_SERVER_ADDR_REQUIRES)?;
            let port = if a.get(5) == b"port" {
                Some(a.word(6, msg::SET_SERVER_ADDR_REQUIRES)?)
            } else {
                None
            };
            Command::SetServerAddr { server, addr, port }
        }
        _ => return Err(a.fail(3, msg::SET_SERVER_USAGE)),
    };
    Ok(cmd)
}

fn add_backend(a: &Args<'_>) -> Result<Command, ParseError> {
    let usage = msg::ADD_BACKEND_USAGE;
    let name = a.name(2, msg::BACKEND_NAME_EXPECTED, usage)?;
    if a.get(3) != b"from" {
        return Err(a.fail(3, usage));
    }
    let from = a.name(4, usage, usage)?;
    let mut mode = None;
    let mut i = 5;
    while a.has(i) {
        match a.get(i) {
            b"mode" => {
                mode = Some(match a.get(i + 1) {
                    b"tcp" => ProxyMode::Tcp,
                    b"http" => ProxyMode::Http,
                    _ => return Err(a.fail(i + 1, usage)),
                });
                i += 2;
            }
            _ => return Err(a.fail(i, usage)),
        }
    }
    Ok(Command::AddBackend { name, from, mode })
}

fn add_server(a: &Args<'_>) -> Result<Command, ParseError> {
    let server = a.server(2)?;
    let addr = a.word(3, msg::SERVER_EXPECTS_NAME_ADDR)?;
    let mut params = Vec::new();
    let mut i = 4;
    while a.has(i) {
        let kw = a.get(i);
        if let Some((_, p)) = SERVER_FLAGS.iter().find(|(k, _)| k.as_bytes() == kw) {
            params.push(p.clone());
            i += 1;
            continue;
        }
        let kw_text = String::from_utf8_lossy(kw).into_owned();
        let v = i + 1;
        let value = a.get(v);
        let int = |what: &str| a.fail_text(v, msg::server_keyword_expects(&kw_text, what));
        let param = match kw {
            b"port" => ServerParam::Port(
                exact_u32(value)
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| int("a valid port number"))?,
            ),
            b"addr" => ServerParam::Addr(Word::new(value).map_err(|_| int("an address"))?),
            b"weight" => ServerParam::Weight(
                exact_u32(value)
                    .and_then(|w| u16::try_from(w).ok())
                    .filter(|w| *w <= WEIGHT_ABSOLUTE_MAX)
                    .ok_or_else(|| int("an integer between 0 and 256"))?,
            ),
            b"maxconn" => ServerParam::Maxconn(bounded(value).ok_or_else(|| int("an integer argument"))?),
            b"minconn" => ServerParam::Minconn(bounded(value).ok_or_else(|| int("an integer argument"))?),
            b"maxqueue" => ServerParam::Maxqueue(bounded(value).ok_or_else(|| int("an integer argument"))?),
            b"inter" | b"fastinter" | b"downinter" => {
                let d = parse_time(value, TimeUnit::Millis)
                    .ok()
                    .and_then(Delay::from_ms)
                    .ok_or_else(|| int("a positive delay in milliseconds"))?;
                match kw {
                    b"inter" => ServerParam::Inter(d),
                    b"fastinter" => ServerParam::Fastinter(d),
                    _ => ServerParam::Downinter(d),
                }
            }
            b"rise" | b"fall" => {
                let n = bounded(value)
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| int("an integer argument greater than 0"))?;
                if kw == b"rise" {
                    ServerParam::Rise(n)
                } else {
                    ServerParam::Fall(n)
                }
            }
            b"id" => ServerParam::Id(
                bounded(value)
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| int("a positive integer"))?,
            ),
            b"cookie" => ServerParam::Cookie(Word::new(value).map_err(|_| int("a value"))?),
            b"track" => ServerParam::Track(Word::new(value).map_err(|_| int("a server name"))?),
            b"init-state" => {
                if !matches!(value, b"fully-up" | b"up" | b"down" | b"fully-down") {
                    return Err(int("one of 'fully-up', 'up', 'down' or 'fully-down'"));
                }
                ServerParam::InitState(Word::new(value).map_err(|_| int("a state"))?)
            }
            _ => return Err(a.fail_text(i, msg::server_unknown_keyword(&server.to_string(), &kw_text))),
        };
        params.push(param);
        i += 2;
    }
    Ok(Command::AddServer { server, addr, params })
}

fn show_map(a: &Args<'_>) -> Result<Command, ParseError> {
    let (version, i) = opt_version(a, 2)?;
    let map = a.opt_word(i)?;
    if version.is_some() && map.is_none() {
        return Err(a.fail(i, msg::MISSING_MAP_IDENTIFIER));
    }
    Ok(Command::ShowMap { version, map })
}

fn add_map(a: &Args<'_>, payload: Option<&[u8]>) -> Result<Command, ParseError> {
    let (version, i) = opt_version(a, 2)?;
    if !a.has(i) {
        return Err(a.fail(i, msg::ADD_MAP_EXPECTS));
    }
    let map = a.word(i, INVALID_BYTE)?;
    let entries = match payload {
        Some(p) => MapEntries::Payload(map_payload(a, p)?),
        None => {
            if !a.has(i + 1) || !a.has(i + 2) {
                return Err(a.fail(i + 1, msg::ADD_MAP_EXPECTS));
            }
            MapEntries::One {
                key: a.word(i + 1, INVALID_BYTE)?,
                value: a.word(i + 2, INVALID_BYTE)?,
            }
        }
    };
    Ok(Command::AddMap {
        version,
        map,
        entries,
    })
}

/// `key value` lines: the key ends at the first space or tab, the value is the rest of the
/// line after the blanks (it may hold spaces). Blank lines are skipped.
fn map_payload(a: &Args<'_>, payload: &[u8]) -> Result<Vec<(PayloadKey, PayloadValue)>, ParseError> {
    let mut out = Vec::new();
    for line in payload.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let start = line
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t'))
            .unwrap_or(line.len());
        let line = line.get(start..).unwrap_or_default();
        if line.is_empty() {
            continue;
        }
        let key_end = line
            .iter()
            .position(|b| matches!(b, b' ' | b'\t'))
            .unwrap_or(line.len());
        let (key, rest) = line.split_at(key_end);
        let vstart = rest
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t'))
            .unwrap_or(rest.len());
        let value = rest.get(vstart..).unwrap_or_default();
        let key_text = String::from_utf8_lossy(key).into_owned();
        let k = PayloadKey::new(key).map_err(|_| a.fail(a.words.len(), INVALID_BYTE))?;
        let v = PayloadValue::new(value)
            .map_err(|_| a.fail_text(a.words.len(), msg::map_missing_value(&key_text)))?;
        out.push((k, v));
    }
    debug_assert!(out.len() <= payload.len() / 2 + 1, "a line is at least `k v`");
    Ok(out)
}

/// An optional `@<ver>` at `i`; returns it and the index of the next argument.
fn opt_version(a: &Args<'_>, i: usize) -> Result<(Option<MapVersion>, usize), ParseError> {
    let Some(digits) = a.get(i).strip_prefix(b"@") else {
        return Ok((None, i));
    };
    let v = exact_u32(digits).ok_or_else(|| a.fail(i, msg::INVALID_VERSION))?;
    Ok((Some(v), i + 1))
}

/// A plain decimal `u32` (digits only, no sign, no overflow).
fn exact_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in s {
        v = v * 10 + u64::from(d - b'0');
    }
    u32::try_from(v).ok()
}

/// A plain decimal up to [`MAXCONN_MAX`].
fn bounded(s: &[u8]) -> Option<u32> {
    exact_u32(s).filter(|v| *v <= MAXCONN_MAX)
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What C's `strtol(s, &end, 10)` reads: value (saturated), where it stopped, and whether
/// it saw a digit (if not, `end` is 0 as in C).
struct Strtol {
    value: i64,
    end: usize,
    digits: bool,
}

fn strtol(s: &[u8]) -> Strtol {
    let mut i = 0;
    while s.get(i).copied().is_some_and(is_c_space) {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let start = i;
    let mut v: i64 = 0;
    while let Some(d) = s.get(i).filter(|b| b.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(i64::from(d - b'0'));
        i += 1;
    }
    if i == start {
        return Strtol {
            value: 0,
            end: 0,
            digits: false,
        };
    }
    Strtol {
        value: if neg { -v } else { v },
        end: i,
        digits: true,
    }
}

/// C's `atoi`, saturated to `i32`.
fn atoi(s: &[u8]) -> i32 {
    let v = strtol(s).value;
    i32::try_from(v.clamp(i64::from(i32::MIN), i64::from(i32::MAX))).unwrap_or(0)
}

#[derive(Clone, Copy)]
enum TimeUnit {
    Millis,
    Seconds,
}

#[derive(Debug, PartialEq, Eq)]
enum TimeError {
    Syntax,
    Overflow,
    Underflow,
}

/// HAProxy's `parse_time_err`: digits then an optional unit among `us`, `ms`, `s`, `m`,
/// `h`, `d`, converted to `unit` rounding up. Characters after the unit are tolerated
/// (HAProxy only warns).
fn parse_time(text: &[u8], unit: TimeUnit) -> Result<u32, TimeError> {
    if !text.first().is_some_and(u8::is_ascii_digit) {
        return Err(TimeError::Syntax);
    }
    let (mut omult, mut odiv): (u64, u64) = match unit {
        TimeUnit::Millis => (1000, 1),
        TimeUnit::Seconds => (1, 1),
    };
    let mut value: u64 = 0;
    let mut i = 0;
    while let Some(d) = text.get(i).filter(|b| b.is_ascii_digit()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(TimeError::Overflow)?;
        i += 1;
    }
    let (mut imult, mut idiv): (u64, u64) = (1, 1);
    match text.get(i) {
        None => {
            imult = 1;
            omult = 1;
            idiv = 1;
            odiv = 1;
        }
        Some(b's') => {}
        Some(b'u') if text.get(i + 1) == Some(&b's') => idiv = 1_000_000,
        Some(b'm') if text.get(i + 1) == Some(&b's') => idiv = 1000,
        Some(b'm') => imult = 60,
        Some(b'h') => imult = 3600,
        Some(b'd') => imult = 86_400,
        Some(_) => return Err(TimeError::Syntax),
    }
    if omult % idiv == 0 {
        omult /= idiv;
        idiv = 1;
    }
    if idiv % omult == 0 {
        idiv /= omult;
        omult = 1;
    }
    if imult % odiv == 0 {
        imult /= odiv;
        odiv = 1;
    }
    if odiv % imult == 0 {
        odiv /= imult;
        imult = 1;
    }
    let div = idiv * odiv;
    let result = value
        .checked_mul(imult * omult)
        .and_then(|v| v.checked_add(div - 1))
        .map(|v| v / div)
        .ok_or(TimeError::Overflow)?;
    let result = u32::try_from(result).map_err(|_| TimeError::Overflow)?;
    if result == 0 && value != 0 {
        return Err(TimeError::Underflow);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_time_follows_haproxy() {
        use TimeUnit::*;
        assert_eq!(parse_time(b"10", Millis), Ok(10));
        assert_eq!(parse_time(b"2s", Millis), Ok(2000));
        assert_eq!(parse_time(b"1m", Millis), Ok(60_000));
        assert_eq!(parse_time(b"1500us", Millis), Ok(2));
        assert_eq!(parse_time(b"500ms", Seconds), Ok(1));
        assert_eq!(parse_time(b"10", Seconds), Ok(10));
        assert_eq!(parse_time(b"1h", Seconds), Ok(3600));
        assert_eq!(parse_time(b"2sx", Millis), Ok(2000));
        assert_eq!(parse_time(b"x", Millis), Err(TimeError::Syntax));
        assert_eq!(parse_time(b"5q", Millis), Err(TimeError::Syntax));
        assert_eq!(parse_time(b"99999999999", Millis), Err(TimeError::Overflow));
        assert_eq!(
            parse_time(b"99999999999999999999999", Millis),
            Err(TimeError::Overflow)
        );
        assert_eq!(parse_time(b"0", Millis), Ok(0));
    }

    #[test]
    fn strtol_and_atoi_like_c() {
        assert_eq!(atoi(b" -12x"), -12);
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b"99999999999"), i32::MAX);
        let s = strtol(b"10%");
        assert!(s.digits && s.value == 10 && s.end == 2);
        assert!(!strtol(b"-").digits);
    }

    #[test]
    fn reply_trims_final_newlines() {
        let e = ParseError::new(ParseErrorKind::Invalid("Abc.\n"), 0);
        assert_eq!(e.reply(Visibility::default()), "Abc.");
        let e = ParseError::new(ParseErrorKind::Empty, 0);
        assert_eq!(e.reply(Visibility::default()), "");
    }
}
