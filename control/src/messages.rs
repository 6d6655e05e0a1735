//! HAProxy's exact CLI answers, in one place so the parser and the executor print the same
//! bytes, plus the `help` listing and the "Unknown command" suggestions.
//!
//! Texts are stored without their final LF: HAProxy's `cli_output_msg()` strips trailing
//! LFs and appends exactly one, then the prompt adds the empty line. The executor does the
//! same.
//!
//! Sources: HAProxy `src/cli.c`, `src/server.c`, `src/proxy.c`, `src/map.c`, `src/stats.c`.
//! Texts marked `(3.4, unverified)` are for commands newer than the sources this was
//! written from (dynamic backends) and follow HAProxy's style; check them against a 3.4
//! binary when one is at hand.

use crate::command::Level;

// ---- protocol and levels (cli.c) ----

/// Answer to a command run at a level too low for it.
pub const PERMISSION_DENIED: &str = "Permission denied";
/// Answer to a request that does not fit HAProxy's buffer; the connection is then closed.
pub const COMMAND_TOO_BIG: &str = "The command line is too big for the buffer size. Please change 'tune.bufsize' in the configuration to use a bigger command.";
/// Answer to an expert-mode command outside expert mode.
pub const EXPERT_ONLY: &str = "This command is restricted to expert mode only.";
/// Answer to an experimental command outside experimental mode.
pub const EXPERIMENTAL_ONLY: &str = "This command is restricted to experimental mode only.";
/// ringlb only: more than [`crate::split::WORDS_MAX`] words (HAProxy drops the extra
/// words silently; ringlb refuses the command rather than run a truncated one).
pub const TOO_MANY_WORDS: &str = "Too many arguments (at most 64 words per command).";
/// Header of `help`.
pub const HELP_HEADER: &str = "The following commands are valid at this level:";
/// Always listed last by `help` and by the unknown-command answer.
pub const HELP_TRAILER: &str = "  help [<command>]                        : list matching or all commands\n  prompt [help | n | i | p | timed ]*     : toggle interactive mode with prompt\n  quit                                    : disconnect\n";

// ---- session (cli.c) ----

/// `set timeout cli` without a value.
pub const EXPECTS_INTEGER_VALUE: &str = "Expects an integer value.";
/// `set timeout cli` with a bad or null value.
pub const INVALID_TIMEOUT_VALUE: &str = "Invalid timeout value.";
/// `set timeout` other than `cli`.
pub const SET_TIMEOUT_ONLY_CLI: &str = "'set timeout' only supports 'cli'.";
/// `wait` without a delay.
pub const WAIT_EXPECTS_DURATION: &str = "Expects a duration in milliseconds.";
/// `wait` with a bad delay.
pub const WAIT_INVALID_DURATION: &str = "Invalid duration.";
/// `wait <d> srv-removable` without a server.
pub const WAIT_MISSING_SERVER: &str = "Missing server name (<backend>/<server>).";
/// `wait <d> be-removable` without a backend (3.4, unverified).
pub const WAIT_MISSING_BACKEND: &str = "Missing backend name.";
/// `wait -h` and `wait <d> <unknown condition>`.
pub const WAIT_USAGE: &str = "Usage: wait {-h|<duration>} [condition [args...]]\n  - '-h' displays this help\n  - <duration> is the maximum wait time, optionally suffixed by the unit among\n    'us', 'ms', 's', 'm', 'h', and 'd'. ; the default unit is milliseconds.\n  - <condition> indicates what to wait for, no longer than the specified\n    duration. Supported conditions are:\n    - <none> : by default, just sleep for the specified duration.\n    - srv-removable <px>/<sv> : wait for this server to become removable.\n    - be-removable <px> : wait for this backend to become removable.";
/// `wait` finished its condition.
pub const WAIT_DONE: &str = "Done.";

// ---- servers (server.c) ----

/// A `<backend>/<server>` argument without `/` or without server.
pub const REQUIRE_BACKEND_SERVER: &str = "Require 'backend/server'.";
/// Unknown backend in a `<backend>/<server>` argument.
pub const NO_SUCH_BACKEND: &str = "No such backend.";
/// Unknown server in a `<backend>/<server>` argument.
pub const NO_SUCH_SERVER: &str = "No such server.";
/// The server's proxy is stopped.
pub const PROXY_DISABLED: &str = "Proxy is disabled.";
/// `set server <s> state` with a bad state.
pub const SET_SERVER_STATE_EXPECTS: &str = "'set server <srv> state' expects 'ready', 'drain' and 'maint'.";
/// `set server <s> health` with a bad value.
pub const SET_SERVER_HEALTH_EXPECTS: &str = "'set server <srv> health' expects 'up', 'stopping', or 'down'.";
/// `set server <s> agent` with a bad value.
pub const SET_SERVER_AGENT_EXPECTS: &str = "'set server <srv> agent' expects 'up' or 'down'.";
/// `set server <s> addr` without an address.
pub const SET_SERVER_ADDR_REQUIRES: &str =
    "set server <b>/<s> addr requires an address and optionally a port.";
/// `set server <s>` with an unknown or missing setting.
pub const SET_SERVER_USAGE: &str = "usage: set server <backend>/<server> addr|agent|agent-addr|agent-port|agent-send|check-addr|check-port|fqdn|health|ssl|state|weight";
/// Weight missing.
pub const WEIGHT_REQUIRED: &str = "Require <weight> or <weight%>.";
/// Weight not starting with a number (HAProxy's text, typo included).
pub const WEIGHT_GARBAGE: &str = "Empty weight string empty or preceded by garbage";
/// Negative relative weight.
pub const WEIGHT_RELATIVE_NEGATIVE: &str = "Relative weight must be positive.";
/// Absolute weight out of 0..=256.
pub const WEIGHT_ABSOLUTE_RANGE: &str = "Absolute weight can only be between 0 and 256 inclusive.";
/// Weight followed by garbage.
pub const WEIGHT_TRAILING_GARBAGE: &str = "Trailing garbage in weight string";
/// Weight change refused by a static algorithm (executor).
pub const WEIGHT_STATIC_LB: &str =
    "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.";
/// `set maxconn server` without a value.
pub const MAXCONN_REQUIRED: &str = "Require <maxconn>.";
/// `set maxconn server` value not starting with a number.
pub const MAXCONN_GARBAGE: &str = "maxconn string empty or preceded by garbage";
/// `set maxconn server` value followed by garbage.
pub const MAXCONN_TRAILING_GARBAGE: &str = "Trailing garbage in maxconn string";
/// `health` change on a tracking server (executor).
pub const HEALTH_ON_TRACKING: &str = "cannot change health on a tracking server.";
/// `add server` without name or address.
pub const SERVER_EXPECTS_NAME_ADDR: &str = "'server' expects <name> and <addr>[:<port>] as arguments.";
/// `add server` into a backend with a static algorithm (executor).
pub const SERVER_NEEDS_DYNAMIC_LB: &str =
    "Backend must use a dynamic load balancing to support dynamic servers.";
/// `add server` done.
pub const NEW_SERVER_REGISTERED: &str = "New server registered.";
/// `del server` done.
pub const SERVER_DELETED: &str = "Server deleted.";

// ---- frontends and backends (proxy.c) ----

/// Frontend argument missing.
pub const FRONTEND_NAME_EXPECTED: &str = "A frontend name is expected.";
/// Unknown frontend.
pub const NO_SUCH_FRONTEND: &str = "No such frontend.";
/// Backend argument missing.
pub const BACKEND_NAME_EXPECTED: &str = "A backend name is expected.";
/// Unknown backend (`show servers state <b>`, backend commands).
pub const CANT_FIND_BACKEND: &str = "Can't find backend.";
/// `set maxconn frontend <f>` without a value.
pub const INTEGER_VALUE_EXPECTED: &str = "Integer value expected.";
/// Negative or too large value.
pub const VALUE_OUT_OF_RANGE: &str = "Value out of range.";
/// `add backend` syntax error (3.4, observed).
pub const ADD_BACKEND_USAGE: &str = "Usage: add backend <name> from <defproxy>.";
/// `add backend` done.
pub const NEW_BACKEND_REGISTERED: &str = "New backend registered.";
/// `publish backend` done.
pub const BACKEND_PUBLISHED: &str = "Backend published.";
/// `unpublish backend` done.
pub const BACKEND_UNPUBLISHED: &str = "Backend unpublished.";
/// `del backend` done.
pub const BACKEND_DELETED: &str = "Backend deleted.";
/// `show stat <px> ...` / `show errors <px>` with an unknown proxy.
pub const NO_SUCH_PROXY: &str = "No such proxy.";
/// `show env <var>` with an unknown variable.
pub const VARIABLE_NOT_FOUND: &str = "Variable not found";

// ---- maps (map.c) ----

/// Unknown map.
pub const UNKNOWN_MAP: &str = "Unknown map identifier. Please use #<id> or <file>.";
/// `get map` arguments missing.
pub const GET_MAP_MISSING: &str = "Missing map identifier and/or key.";
/// `set map` arguments missing.
pub const SET_MAP_EXPECTS: &str = "'set map' expects three parameters: map identifier, key and value.";
/// `add map` arguments missing.
pub const ADD_MAP_EXPECTS: &str = "'add map' expects three parameters (map identifier, key and value) or two parameters (map identifier and payload).";
/// `del map` arguments missing.
pub const DEL_MAP_EXPECTS: &str = "This command expects two parameters: map identifier and key.";
/// `clear map` / `prepare map` / `show map @<ver>` without a map.
pub const MISSING_MAP_IDENTIFIER: &str = "Missing map identifier.";
/// `commit map` without `@<ver>`.
pub const MISSING_VERSION_NUMBER: &str = "Missing version number.";
/// `@<ver>` that is not a number.
pub const INVALID_VERSION: &str = "Invalid version specified.";

// ---- formatted answers ----

/// `add map ... <<` payload line without a value (unverified text).
pub fn map_missing_value(key: &str) -> String {
    format!("Missing value for key '{key}'.")
}

/// `add server` with a keyword ringlb does not know (3.4, observed).
pub fn server_unknown_keyword(server: &str, kw: &str) -> String {
    // 3.4 answers without the server name (observed: `unknown keyword 'x'.`).
    let _ = server;
    format!("unknown keyword '{kw}'.")
}

/// `add server` keyword without its value or with a bad one (unverified text).
pub fn server_keyword_expects(kw: &str, what: &str) -> String {
    format!("'{kw}' expects {what}.")
}

/// `experimental-mode` / `expert-mode` without argument.
pub fn mode_state(mode: &str, on: bool) -> String {
    format!("{mode} is {}", if on { "ON" } else { "OFF" })
}

// ---- keyword table, help and suggestions (cli.c: cli_gen_usage_msg) ----

/// HAProxy's `CLI_PREFIX_KW_NB`: keywords have at most this many words.
pub const PREFIX_KW_MAX: usize = 5;
/// HAProxy's `CLI_MAX_MATCHES`: at most this many fuzzy suggestions.
pub const MATCHES_MAX: usize = 5;

/// One CLI keyword: its fixed words, its level, its usage line (`None`: not listed), and
/// whether it is restricted to experimental or expert mode (hidden from the lists outside
/// it).
#[derive(Debug, Clone, Copy)]
pub struct Keyword {
    /// The fixed words.
    pub words: &'static [&'static str],
    /// The level HAProxy checks before it looks at the arguments (`clear counters all`
    /// needs more, see [`crate::Command::level`]).
    pub level: Level,
    /// The `help` line, or `None` for keywords help does not list.
    pub usage: Option<&'static str>,
    /// Needs `experimental-mode on`.
    pub experimental: bool,
    /// Needs `expert-mode on`.
    pub expert: bool,
}

const fn kw(words: &'static [&'static str], level: Level, usage: &'static str) -> Keyword {
    Keyword {
        words,
        level,
        usage: Some(usage),
        experimental: false,
        expert: false,
    }
}

const fn hidden(words: &'static [&'static str], level: Level) -> Keyword {
    Keyword {
        words,
        level,
        usage: None,
        experimental: false,
        expert: false,
    }
}

/// Every keyword ringlb's socket accepts, in HAProxy's registration order as far as it
/// matters (on equal similarity the earlier keyword is suggested).
pub const KEYWORDS: &[Keyword] = &[
    // cli.c
    hidden(&["help"], Level::User),
    kw(&["echo"], Level::User, "echo <text>                             : print text to the output"),
    hidden(&["prompt"], Level::User),
    hidden(&["quit"], Level::User),
    hidden(&["expert-mode"], Level::Admin),
    hidden(&["experimental-mode"], Level::Admin),
    kw(&["set", "timeout"], Level::User, "set timeout [cli] <delay>               : change a timeout setting"),
    kw(&["show", "env"], Level::Operator, "show env [var]                          : dump environment variables known to the process"),
    kw(&["show", "cli", "sockets"], Level::User, "show cli sockets                        : dump list of cli sockets"),
    kw(&["show", "cli", "level"], Level::User, "show cli level                          : display the level of the current CLI session"),
    kw(&["show", "version"], Level::User, "show version                            : show version of the current process"),
    kw(&["operator"], Level::Operator, "operator                                : lower the level of the current CLI session to operator"),
    kw(&["user"], Level::User, "user                                    : lower the level of the current CLI session to user"),
    kw(&["wait"], Level::Admin, "wait {-h|<delay_ms>} cond [args...]     : wait the specified delay or condition (-h to see list)"),
    // proxy.c
    kw(&["disable", "frontend"], Level::Admin, "disable frontend <frontend>             : temporarily disable specific frontend"),
    kw(&["enable", "frontend"], Level::Admin, "enable frontend <frontend>              : re-enable specific frontend"),
    kw(&["set", "maxconn", "frontend"], Level::Admin, "set maxconn frontend <frontend> <value> : change a frontend's maxconn setting"),
    kw(&["show", "servers", "conn"], Level::User, "show servers conn [<backend>]           : dump server connections status (all or for a single backend)"),
    kw(&["show", "servers", "state"], Level::User, "show servers state [<backend>]          : dump volatile server information (all or for a single backend)"),
    kw(&["show", "backend"], Level::User, "show backend                            : list backends in the current running config"),
    kw(&["shutdown", "frontend"], Level::Admin, "shutdown frontend <frontend>            : stop a specific frontend"),
    kw(&["show", "errors"], Level::Operator, "show errors [<px>] [request|response]   : report last request and/or response errors for each proxy"),
    kw(&["add", "backend"], Level::Admin, "add backend <name> from <defproxy>      : add a new backend (unpublished)"),
    kw(&["del", "backend"], Level::Admin, "del backend <name>                      : remove a dynamically added backend"),
    kw(&["publish", "backend"], Level::Admin, "publish backend <name>                  : make a backend available for traffic"),
    kw(&["unpublish", "backend"], Level::Admin, "unpublish backend <name>                : stop sending new traffic to a backend"),
    // server.c
    kw(&["disable", "agent"], Level::Admin, "disable agent                           : disable agent checks"),
    kw(&["disable", "health"], Level::Admin, "disable health                          : disable health checks"),
    kw(&["disable", "server"], Level::Admin, "disable server (DEPRECATED)             : disable a server for maintenance (use 'set server' instead)"),
    kw(&["enable", "agent"], Level::Admin, "enable agent                            : enable agent checks"),
    kw(&["enable", "health"], Level::Admin, "enable health                           : enable health checks"),
    kw(&["enable", "server"], Level::Admin, "enable server  (DEPRECATED)             : enable a disabled server (use 'set server' instead)"),
    kw(&["set", "maxconn", "server"], Level::Admin, "set maxconn server <bk>/<srv>           : change a server's maxconn setting"),
    kw(&["set", "server"], Level::Admin, "set server <bk>/<srv> [opts]            : change a server's state, weight, address or ssl"),
    kw(&["get", "weight"], Level::User, "get weight <bk>/<srv>                   : report a server's current weight"),
    kw(&["set", "weight"], Level::Admin, "set weight <bk>/<srv>  (DEPRECATED)     : change a server's weight (use 'set server' instead)"),
    kw(&["add", "server"], Level::Admin, "add server <bk>/<srv>                   : create a new server"),
    kw(&["del", "server"], Level::Admin, "del server <bk>/<srv>                   : remove a dynamically added server"),
    kw(&["shutdown", "sessions", "server"], Level::Admin, "shutdown sessions server <bk>/<srv>     : kill sessions on a server"),
    // stats.c
    kw(&["clear", "counters"], Level::Operator, "clear counters [all]                    : clear max statistics counters (or all counters)"),
    kw(&["show", "info"], Level::User, "show info [desc|json|typed|float]*      : report information about the running process"),
    kw(&["show", "stat"], Level::User, "show stat [desc|json|no-maint|typed|up]*: report counters for each proxy and server"),
    // map.c
    kw(&["add", "map"], Level::Admin, "add map [@<ver>] <map> <key> <val>      : add a map entry (payload supported instead of key/val)"),
    kw(&["clear", "map"], Level::Admin, "clear map [@<ver>] <map>                : clear the contents of this map"),
    kw(&["commit", "map"], Level::Admin, "commit map @<ver> <map>                 : commit the map at this version"),
    kw(&["del", "map"], Level::Admin, "del map <map> [<key>|#<ref>]            : delete map entries matching <key>"),
    kw(&["get", "map"], Level::Operator, "get map <acl> <value>                   : report the keys and values matching a sample for a map"),
    kw(&["prepare", "map"], Level::Admin, "prepare map <acl>                       : prepare a new version for atomic map replacement"),
    kw(&["set", "map"], Level::Admin, "set map <map> [<key>|#<ref>] <value>    : modify a map entry"),
    kw(&["show", "map"], Level::Operator, "show map [@ver] [map]                   : report available maps or dump a map's contents"),
];

/// The first keyword whose words all equal the first words of `args` (HAProxy's
/// `cli_find_kw`).
pub fn find_keyword(args: &[&[u8]]) -> Option<&'static Keyword> {
    KEYWORDS
        .iter()
        .find(|k| k.words.len() <= args.len() && k.words.iter().zip(args).all(|(w, a)| w.as_bytes() == *a))
}

/// Session modes that make experimental/expert keywords visible.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Visibility {
    /// `experimental-mode on`.
    pub experimental: bool,
    /// `expert-mode on`.
    pub expert: bool,
}

impl Visibility {
    fn shows(self, k: &Keyword) -> bool {
        (!k.experimental || self.experimental) && (!k.expert || self.expert)
    }
}

/// The answer to `help <args>` (`is_help`, `args` are the words after `help`) or to an
/// unknown command whose words are `args`: HAProxy's `cli_gen_usage_msg`, including its
/// fuzzy matching. Ends with a LF.
pub fn usage_message(args: &[&[u8]], is_help: bool, vis: Visibility) -> String {
    let args: Vec<&[u8]> = args.iter().copied().take(PREFIX_KW_MAX + 1).collect();
    let arg = |i: usize| -> &[u8] { args.get(i).copied().unwrap_or_default() };
    let visible: Vec<&Keyword> = KEYWORDS.iter().filter(|k| vis.shows(k)).collect();

    // The number of leading words some visible keyword matches exactly.
    let mut length = 0usize;
    for k in &visible {
        for (idx, w) in k.words.iter().enumerate().take(PREFIX_KW_MAX) {
            let a = arg(idx);
            if a.is_empty() || w.as_bytes() != a {
                break;
            }
            length = length.max(idx + 1);
        }
    }

    let mut out = String::new();
    if is_help {
        out.push_str(HELP_HEADER);
        out.push('\n');
    } else {
        out.push_str("Unknown command: '");
        out.push_str(&String::from_utf8_lossy(arg(0)));
        out.push('\'');
        if length == 0 && arg(0).is_empty() {
            out.push_str(". Please enter one of the following commands only:\n");
        } else {
            out.push_str(", but maybe one of the following ones is a better match:\n");
        }
    }

    let prefix_matches = |k: &Keyword| -> bool { effective_prefix(k, &args, length) == length };

    // Fuzzy matching of the remaining words against the remaining keyword words.
    let mut matches: Vec<(&Keyword, u32)> = Vec::with_capacity(MATCHES_MAX);
    if !arg(length).is_empty() {
        for k in &visible {
            if k.usage.is_none() || !prefix_matches(k) {
                continue;
            }
            let mut word_sig = Fingerprint::new();
            let mut list_sig = Fingerprint::new();
            let mut totlen = 0usize;
            for i in length..PREFIX_KW_MAX {
                let a = arg(i);
                if a.is_empty() {
                    break;
                }
                word_sig.update(a);
                totlen += a.len();
            }
            for w in k.words.iter().skip(length).take(PREFIX_KW_MAX - length) {
                list_sig.update(w.as_bytes());
                totlen += w.len();
            }
            let dist = word_sig.distance(&list_sig);
            let worst = if matches.len() == MATCHES_MAX {
                matches.last().map_or(u32::MAX, |m| m.1)
            } else {
                u32::MAX
            };
            if (dist as usize) < 5 * totlen / 2 && dist < worst {
                if matches.len() == MATCHES_MAX {
                    matches.pop();
                }
                // Insert after every entry with a smaller or equal distance.
                let at = matches.iter().position(|m| m.1 > dist).unwrap_or(matches.len());
                matches.insert(at, (k, dist));
            }
        }
    }

    let mut entries: Vec<&'static str> = Vec::new();
    if let Some(best) = matches.first().map(|m| m.1) {
        for (k, dist) in &matches {
            if *dist > 5 * best / 2 {
                break;
            }
            if let Some(u) = k.usage {
                entries.push(u);
            }
        }
    } else {
        for k in &visible {
            if let Some(u) = k.usage {
                if prefix_matches(k) {
                    entries.push(u);
                }
            }
        }
    }
    debug_assert!(matches.len() <= MATCHES_MAX);
    debug_assert!(entries.len() <= KEYWORDS.len());
    entries.sort_unstable();
    for e in entries {
        out.push_str("  ");
        out.push_str(e);
        out.push('\n');
    }
    out.push_str(HELP_TRAILER);
    out
}

/// How many of the first `length` words HAProxy's per-keyword loop gets through before it
/// stops (end of keyword, end of line or mismatch), which must equal `length` for the
/// keyword to be listed.
fn effective_prefix(k: &Keyword, args: &[&[u8]], length: usize) -> usize {
    let mut idx = 0;
    while idx < length {
        let Some(w) = k.words.get(idx) else { break };
        let a = args.get(idx).copied().unwrap_or_default();
        if a.is_empty() || w.as_bytes() != a {
            break;
        }
        idx += 1;
    }
    idx
}

/// HAProxy's word fingerprint (`update_word_fingerprint` in src/tools.c): counts of
/// transitions between character classes (1..=26 letters, 27 digits, 28 anything else and
/// word boundaries) in a 32x32 table, plus a presence row.
struct Fingerprint([u8; 1024]);

impl Fingerprint {
    fn new() -> Fingerprint {
        Fingerprint([0; 1024])
    }

    fn class(b: u8) -> usize {
        match b.to_ascii_lowercase() {
            c @ b'a'..=b'z' => usize::from(c - b'a') + 1,
            b'0'..=b'9' => 27,
            _ => 28,
        }
    }

    fn bump(&mut self, idx: usize) {
        if let Some(v) = self.0.get_mut(idx) {
            *v = v.wrapping_add(1);
        }
    }

    fn update(&mut self, word: &[u8]) {
        let mut from = 28;
        for &b in word {
            let to = Self::class(b);
            if let Some(v) = self.0.get_mut(to) {
                *v = 1;
            }
            self.bump(32 * from + to);
            from = to;
        }
        self.bump(32 * from + 28);
    }

    fn distance(&self, other: &Fingerprint) -> u32 {
        self.0
            .iter()
            .zip(other.0.iter())
            .map(|(&a, &b)| u32::from(a.abs_diff(b)))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(line: &str) -> String {
        let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        usage_message(&words, false, Visibility::default())
    }

    #[test]
    fn usage_lines_put_the_colon_in_column_40() {
        for k in KEYWORDS {
            if let Some(u) = k.usage {
                assert!(u.len() > 41, "{u}");
                assert_eq!(u.as_bytes()[40], b':', "{u}");
            }
        }
    }

    #[test]
    fn keywords_are_found_by_prefix() {
        let k = find_keyword(&[b"show", b"servers", b"state", b"be"]).expect("keyword");
        assert_eq!(k.words, ["show", "servers", "state"]);
        assert!(find_keyword(&[b"show"]).is_none());
        assert!(find_keyword(&[b"shwo", b"info"]).is_none());
    }

    #[test]
    fn unknown_command_suggests_close_keywords() {
        let out = unknown("shwo info");
        assert!(
            out.starts_with(
                "Unknown command: 'shwo', but maybe one of the following ones is a better match:\n"
            ),
            "{out}"
        );
        assert!(out.contains("  show info [desc|json|typed|float]*"), "{out}");
        assert!(out.ends_with(HELP_TRAILER));
    }

    #[test]
    fn partial_match_lists_the_family() {
        let out = unknown("show");
        assert!(out.starts_with("Unknown command: 'show', but maybe"), "{out}");
        for l in out.lines().skip(1) {
            assert!(
                l.starts_with("  show ") || HELP_TRAILER.contains(l),
                "unexpected line {l}"
            );
        }
        assert!(out.contains("  show servers state"));
        // Sorted by usage text.
        let listed: Vec<&str> = out
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with("  show"))
            .collect();
        let mut sorted = listed.clone();
        sorted.sort_unstable();
        assert_eq!(listed, sorted);
    }

    #[test]
    fn partial_match_with_typo_in_second_word() {
        let out = unknown("show servers stat");
        assert!(out.contains("show servers state [<backend>]"), "{out}");
        assert!(!out.contains("show info"), "{out}");
    }

    #[test]
    fn help_lists_everything_sorted() {
        let out = usage_message(&[], true, Visibility::default());
        assert!(out.starts_with("The following commands are valid at this level:\n"));
        let n = KEYWORDS.iter().filter(|k| k.usage.is_some()).count();
        assert_eq!(out.lines().count(), 1 + n + 3);
        let out = usage_message(&[b"show", b"servers"], true, Visibility::default());
        assert_eq!(out.lines().count(), 1 + 2 + 3, "{out}");
    }

    #[test]
    fn fingerprint_distance_is_zero_for_equal_words() {
        let mut a = Fingerprint::new();
        a.update(b"state");
        let mut b = Fingerprint::new();
        b.update(b"STATE");
        assert_eq!(a.distance(&b), 0);
        let mut c = Fingerprint::new();
        c.update(b"conn");
        assert!(a.distance(&c) > 0);
    }
}
