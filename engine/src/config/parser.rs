//! The section state machine and every keyword's parser. Pure: works on text
//! already read; `load` in `mod.rs` does the file reading.

use super::cond::{self, parse_format, split_condition, Acl, Condition, FmtPart, Sample};
use super::lexer::{self, split_line};
use super::model::*;
use super::values::{
    parse_address, parse_duration, parse_duration_lenient, parse_size, parse_u32, AddrUse, Address, Port,
    TimeUnit,
};
use super::{Diagnostic, Level};
use std::collections::BTreeMap;
use std::time::Duration;

/// Bound on diagnostics kept, so a binary file does not produce millions of messages.
pub const DIAGNOSTICS_MAX: usize = 1000;
/// Bound on servers one `server-template` may create.
pub const SERVER_TEMPLATE_COUNT_MAX: u32 = 10_000;
/// Bound on nested `.if` blocks.
pub const IF_NESTING_MAX: usize = 32;
/// Bound on proxies (frontends + backends + listens + defaults) in one configuration.
pub const PROXIES_MAX: usize = 100_000;
/// Bound on servers in one backend (HAProxy has none; keeps memory bounded on fuzz input).
pub const SERVERS_PER_BACKEND_MAX: usize = 100_000;
/// Bound on model items that do not come one per line: servers (a `server-template` makes
/// many) and the rules, ACLs and settings each proxy copies from its `defaults`. Without it a
/// few kilobytes of hostile text could allocate gigabytes; at ~1 KiB per item this caps the
/// model near 500 MiB, far above any real configuration (the largest known have ~10^4 servers).
pub const CONFIG_ITEMS_MAX: usize = 500_000;
const _: () = assert!(SERVER_TEMPLATE_COUNT_MAX as usize <= SERVERS_PER_BACKEND_MAX);
const _: () = assert!(SERVERS_PER_BACKEND_MAX <= CONFIG_ITEMS_MAX);

/// Highest CPU number accepted by `cpu-map` (HAProxy's 64 bits x 64 thread groups).
pub const CPU_ID_MAX: u32 = 4095;

type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Shared state for keyword parsers: diagnostics and environment.
pub(super) struct Ctx<'a> {
    env: Env<'a>,
    /// `setenv`/`unsetenv` done by the global section: name → value (None = unset).
    overlay: BTreeMap<String, Option<String>>,
    pub(super) diags: Vec<Diagnostic>,
    place: Place,
    dropped: usize,
    /// Items charged against [`CONFIG_ITEMS_MAX`].
    items: usize,
}

impl Ctx<'_> {
    fn push(&mut self, level: Level, message: String) {
        if self.diags.len() >= DIAGNOSTICS_MAX {
            self.dropped += 1;
            return;
        }
        self.diags.push(Diagnostic {
            level,
            file: self.place.file.clone(),
            line: self.place.line,
            message,
        });
    }
    fn alert(&mut self, message: String) {
        self.push(Level::Alert, message);
    }
    fn warn(&mut self, message: String) {
        self.push(Level::Warning, message);
    }
    fn lookup(&self, name: &str) -> Option<String> {
        match self.overlay.get(name) {
            Some(v) => v.clone(),
            None => (self.env)(name),
        }
    }
    /// Parses a duration like HAProxy 2.6: characters after a valid unit only warn.
    fn duration(&mut self, what: &str, v: &str, unit: TimeUnit) -> Result<Duration, String> {
        let (d, trailing) = parse_duration_lenient(v, unit)?;
        if let Some(c) = trailing {
            self.warn(format!(
                "unexpected character '{c}' after the timer value '{v}' in '{what}', only us, ms, s, m, h and d are supported; ringlb reads {} ms.",
                d.as_millis()
            ));
        }
        Ok(d)
    }

    /// Charges `n` items against [`CONFIG_ITEMS_MAX`]; false (with an alert) when over.
    fn charge(&mut self, n: usize) -> bool {
        self.items = self.items.saturating_add(n);
        if self.items > CONFIG_ITEMS_MAX {
            self.alert(format!(
                "configuration too large: more than {CONFIG_ITEMS_MAX} servers and inherited rules"
            ));
            return false;
        }
        true
    }

    /// Expands unquoted `$VAR` in an address word.
    fn expand_addr(&mut self, word: &str) -> String {
        let mut undefined = Vec::new();
        let overlay = &self.overlay;
        let env = self.env;
        let look = |n: &str| match overlay.get(n) {
            Some(v) => v.clone(),
            None => env(n),
        };
        let out = lexer::expand_unquoted(word, &look, &mut undefined);
        for u in undefined {
            self.warn(format!(
                "environment variable '{u}' is not set; it expands to an empty string"
            ));
        }
        out
    }
}

/// The section being filled.
enum Section {
    /// Before any section header (in this file).
    None,
    Global,
    Proxy(Box<Proxy>),
    Program(Program),
    Userlist(Userlist),
    Other(OtherSection),
    /// A section header that failed: its lines are skipped silently.
    Broken,
}

/// State of one `.if` block.
#[derive(Clone, Copy)]
struct IfBlock {
    /// Lines are currently taken.
    active: bool,
    /// Some branch already matched.
    done: bool,
    /// The enclosing block was active.
    parent_active: bool,
}

/// The whole parse: feed files in order with [`Parser::file`], then [`Parser::finish`].
pub(super) struct Parser<'a> {
    pub(super) ctx: Ctx<'a>,
    config: Config,
    section: Section,
    ifs: Vec<IfBlock>,
}

fn words_from(w: &[String], i: usize) -> Vec<String> {
    w.get(i..).unwrap_or_default().to_vec()
}

fn arg(w: &[String], i: usize) -> Option<&str> {
    w.get(i).map(String::as_str)
}

/// HAProxy's allowed characters in proxy, server and ACL names.
fn invalid_char(name: &str) -> Option<char> {
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
}

const SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "program",
    "userlist",
    "resolvers",
    "peers",
    "mailers",
    "cache",
    "ring",
    "http-errors",
    "crt-store",
    "traces",
    "log-forward",
    "fcgi-app",
    "acme",
    "dynamic-update",
];

impl<'a> Parser<'a> {
    pub(super) fn new(env: Env<'a>) -> Parser<'a> {
        Parser {
            ctx: Ctx {
                env,
                overlay: BTreeMap::new(),
                diags: Vec::new(),
                place: Place::default(),
                dropped: 0,
                items: 0,
            },
            config: Config::default(),
            section: Section::None,
            ifs: Vec::new(),
        }
    }

    /// Parses one file's text. Each file starts outside any section, as in HAProxy.
    pub(super) fn file(&mut self, name: &str, text: &str) {
        let mut lines = text.split('\n').peekable();
        let mut n = 0usize;
        let missing_lf = !text.is_empty() && !text.ends_with('\n');
        while let Some(line) = lines.next() {
            n += 1;
            if lines.peek().is_none() && line.is_empty() {
                n -= 1;
                break;
            }
            self.ctx.place = Place {
                file: name.to_string(),
                line: n,
            };
            if lines.peek().is_none() && missing_lf {
                self.ctx.warn(format!(
                    "Missing LF on last line, file might have been truncated at position {}.",
                    line.chars().count() + 1
                ));
            }
            self.line(line);
        }
        self.ctx.place = Place {
            file: name.to_string(),
            line: n,
        };
        if !self.ifs.is_empty() {
            self.ctx.alert("missing '.endif' at end of file".to_string());
            self.ifs.clear();
        }
        self.close_section();
    }

    fn line(&mut self, raw: &str) {
        let ctx = &mut self.ctx;
        let overlay = &ctx.overlay;
        let env = ctx.env;
        let place = &ctx.place;
        let section = match &self.section {
            Section::None | Section::Broken => String::new(),
            Section::Global => "global".to_string(),
            Section::Proxy(p) if p.name.is_empty() => p.kind.keyword().to_string(),
            Section::Proxy(p) => p.name.clone(),
            Section::Program(p) => p.name.clone(),
            Section::Userlist(u) => u.name.clone(),
            Section::Other(o) => o.name.clone(),
        };
        // HAProxy's pseudo-variables, then `setenv` overrides, then the environment.
        let look = |n: &str| match n {
            ".LINE" => Some(place.line.to_string()),
            ".FILE" => Some(place.file.clone()),
            ".SECTION" => Some(section.clone()),
            _ => match overlay.get(n) {
                Some(v) => v.clone(),
                None => env(n),
            },
        };
        let taking = self.ifs.last().is_none_or(|b| b.active);
        let split = split_line(raw, &look);
        let line = match split {
            Ok(l) => l,
            Err(e) => {
                if taking {
                    self.ctx.alert(e.to_string());
                }
                return;
            }
        };
        let Some(kw) = line.words.first() else { return };
        if kw.starts_with('.') && self.directive(&line.words, taking) {
            return;
        }
        if !taking {
            return;
        }
        for u in &line.undefined_vars {
            self.ctx.warn(format!(
                "environment variable '{u}' is not set; it expands to an empty string"
            ));
        }
        self.words(&line.words);
    }

    /// Handles `.if/.elif/.else/.endif/.diag/.notice/.warning/.alert`. Returns true if handled.
    fn directive(&mut self, w: &[String], taking: bool) -> bool {
        let kw = w.first().map(String::as_str).unwrap_or_default();
        match kw {
            ".if" => {
                if self.ifs.len() >= IF_NESTING_MAX {
                    self.ctx
                        .alert(format!("too many nested '.if' (max {IF_NESTING_MAX})"));
                    return true;
                }
                let v = taking && self.eval_if(w);
                self.ifs.push(IfBlock {
                    active: v,
                    done: v,
                    parent_active: taking,
                });
            }
            ".elif" => match self.ifs.last().copied() {
                None => self.ctx.alert("'.elif' without '.if'".to_string()),
                Some(b) => {
                    let v = b.parent_active && !b.done && self.eval_if(w);
                    if let Some(last) = self.ifs.last_mut() {
                        last.active = v;
                        last.done |= v;
                    }
                }
            },
            ".else" => match self.ifs.last_mut() {
                None => self.ctx.alert("'.else' without '.if'".to_string()),
                Some(b) => {
                    b.active = b.parent_active && !b.done;
                    b.done = true;
                }
            },
            ".endif" => {
                if self.ifs.pop().is_none() {
                    self.ctx.alert("'.endif' without '.if'".to_string());
                }
            }
            ".diag" | ".notice" => {}
            ".warning" if taking => self.ctx.warn(w.get(1..).unwrap_or_default().join(" ")),
            ".alert" if taking => self.ctx.alert(w.get(1..).unwrap_or_default().join(" ")),
            ".warning" | ".alert" => {}
            _ => return false,
        }
        true
    }

    /// Evaluates the condition of `.if`/`.elif` (one term with optional `!`).
    fn eval_if(&mut self, w: &[String]) -> bool {
        let expr = w.get(1..).unwrap_or_default().join(" ");
        let (neg, e) = match expr.trim().strip_prefix('!') {
            Some(r) => (true, r.trim()),
            None => (false, expr.trim()),
        };
        let v = if let Ok(n) = e.parse::<i64>() {
            n != 0
        } else if let Some(inner) = e.strip_prefix("defined(").and_then(|r| r.strip_suffix(')')) {
            self.ctx.lookup(inner).is_some()
        } else if let Some(inner) = e.strip_prefix("streq(").and_then(|r| r.strip_suffix(')')) {
            inner.split_once(',').is_some_and(|(a, b)| a == b)
        } else if let Some(inner) = e.strip_prefix("strneq(").and_then(|r| r.strip_suffix(')')) {
            inner.split_once(',').is_some_and(|(a, b)| a != b)
        } else if e.starts_with("feature(") {
            false
        } else if let Some(v) = e
            .strip_prefix("version_atleast(")
            .and_then(|r| r.strip_suffix(')'))
        {
            version_cmp(v) != std::cmp::Ordering::Greater
        } else if let Some(v) = e
            .strip_prefix("version_before(")
            .and_then(|r| r.strip_suffix(')'))
        {
            version_cmp(v) == std::cmp::Ordering::Greater
        } else {
            self.ctx.alert(format!("unparsable conditional expression '{e}'"));
            false
        };
        v != neg
    }

    fn close_section(&mut self) {
        match std::mem::replace(&mut self.section, Section::None) {
            Section::Proxy(p) => self.finish_proxy(*p),
            Section::Program(p) => {
                if p.command.is_empty() {
                    self.ctx.place = p.place.clone();
                    self.ctx
                        .alert(format!("'program' section '{}' has no 'command'", p.name));
                }
                self.config.programs.push(p);
            }
            Section::Userlist(u) => self.config.userlists.push(u),
            Section::Other(o) => self.config.sections.push(o),
            Section::None | Section::Global | Section::Broken => {}
        }
    }

    fn finish_proxy(&mut self, p: Proxy) {
        if self.config.proxies.len() + self.config.defaults.len() >= PROXIES_MAX {
            self.ctx.alert(format!("too many proxies (max {PROXIES_MAX})"));
            return;
        }
        if p.kind == ProxyKind::Defaults {
            self.config.defaults.push(p);
        } else {
            self.config.proxies.push(p);
        }
    }

    fn words(&mut self, w: &[String]) {
        let kw = w.first().map(String::as_str).unwrap_or_default();
        if SECTIONS.contains(&kw) {
            self.close_section();
            self.section_header(w);
            return;
        }
        let Parser {
            ctx, section, config, ..
        } = self;
        match section {
            Section::None => ctx.alert(format!("unknown keyword '{kw}' out of section.")),
            Section::Broken => {}
            Section::Global => global_kw(ctx, &mut config.global, w),
            Section::Proxy(p) => {
                let defaults = &config.defaults;
                proxy_kw(ctx, p, w, defaults);
            }
            Section::Program(p) => program_kw(ctx, p, w),
            Section::Userlist(u) => userlist_kw(ctx, u, w),
            Section::Other(o) => other_kw(ctx, o, w),
        }
    }

    fn section_header(&mut self, w: &[String]) {
        let kw = w.first().map(String::as_str).unwrap_or_default();
        let place = self.ctx.place.clone();
        let name = arg(w, 1);
        match kw {
            "global" => {
                if w.len() > 1 {
                    self.ctx.alert(format!(
                        "'global' takes no argument (got '{}').",
                        w[1..].join(" ")
                    ));
                }
                self.section = Section::Global;
            }
            "defaults" | "frontend" | "backend" | "listen" => {
                let kind = match kw {
                    "defaults" => ProxyKind::Defaults,
                    "frontend" => ProxyKind::Frontend,
                    "backend" => ProxyKind::Backend,
                    _ => ProxyKind::Listen,
                };
                self.section = Section::Broken;
                let mut i = 1;
                let name = match name {
                    Some("from") if kind == ProxyKind::Defaults => "",
                    Some(n) => {
                        i = 2;
                        n
                    }
                    None if kind == ProxyKind::Defaults => "",
                    None => {
                        self.ctx.alert(format!("'{kw}' expects <name> as an argument."));
                        return;
                    }
                };
                if let Some(c) = invalid_char(name) {
                    if !name.is_empty() {
                        self.ctx.alert(format!(
                            "character '{c}' is not permitted in '{kw}' name '{name}'."
                        ));
                        return;
                    }
                }
                let mut from: Option<&str> = None;
                match arg(w, i) {
                    None => {}
                    Some("from") => match arg(w, i + 1) {
                        Some(f) if w.len() == i + 2 => from = Some(f),
                        _ => {
                            self.ctx
                                .alert(format!("'{kw}' expects 'from <defaults-name>' after the name."));
                            return;
                        }
                    },
                    Some(_) if kind == ProxyKind::Defaults => {
                        self.ctx.alert(format!(
                            "'defaults' expects at most a name and 'from <name>' (got '{}').",
                            w[i..].join(" ")
                        ));
                        return;
                    }
                    Some(_) => {
                        self.ctx
                            .alert("please use the 'bind' keyword for listening addresses.".to_string());
                        return;
                    }
                }
                if kind != ProxyKind::Defaults {
                    self.check_duplicate_proxy(kind, name);
                }
                let base = match from {
                    Some(f) => match self.config.defaults_named(f) {
                        Some(d) if !d.name.is_empty() => Some(d.clone()),
                        _ => {
                            self.ctx
                                .alert(format!("defaults section '{f}' not found for {kw} '{name}'."));
                            return;
                        }
                    },
                    // A new defaults section resets everything; other proxies take the last one.
                    None if kind == ProxyKind::Defaults => None,
                    None => self.config.defaults.last().cloned(),
                };
                let weight = base.as_ref().map_or(1, |d| {
                    1 + d.http_request.len()
                        + d.http_response.len()
                        + d.http_after_response.len()
                        + d.tcp_request.len()
                        + d.tcp_response.len()
                        + d.http_check.len()
                        + d.tcp_check.len()
                        + d.acls.len()
                        + d.redirects.len()
                        + d.errorfiles.len()
                        + d.log.targets.len()
                        + d.other.len()
                });
                if !self.ctx.charge(weight) {
                    return;
                }
                let p = match base {
                    Some(d) => Proxy::inherit(kind, name, place, &d),
                    None => Proxy::new(kind, name, place),
                };
                self.section = Section::Proxy(Box::new(p));
            }
            "program" => {
                let Some(n) = name else {
                    self.ctx
                        .alert("'program' expects <name> as an argument.".to_string());
                    self.section = Section::Broken;
                    return;
                };
                if self.config.programs.iter().any(|p| p.name == n) {
                    self.ctx.alert(format!(
                        "program section '{n}' has the same name as another program section."
                    ));
                }
                self.section = Section::Program(Program {
                    name: n.to_string(),
                    command: Vec::new(),
                    user: None,
                    group: None,
                    start_on_reload: true,
                    place,
                });
            }
            "userlist" => {
                let Some(n) = name else {
                    self.ctx
                        .alert("'userlist' expects <name> as an argument.".to_string());
                    self.section = Section::Broken;
                    return;
                };
                self.section = Section::Userlist(Userlist {
                    name: n.to_string(),
                    users: Vec::new(),
                    groups: Vec::new(),
                });
            }
            "resolvers" | "peers" | "mailers" | "cache" | "ring" | "http-errors" | "log-forward" => {
                let Some(n) = name else {
                    self.ctx.alert(format!("missing name for {kw} section."));
                    self.section = Section::Broken;
                    return;
                };
                self.section = Section::Other(OtherSection {
                    kind: kw.to_string(),
                    name: n.to_string(),
                    place,
                    directives: Vec::new(),
                });
            }
            _ => {
                // crt-store, traces, fcgi-app...: HAProxy sections ringlb does not implement.
                self.ctx
                    .alert(format!("'{kw}' section is not supported by ringlb."));
                self.section = Section::Broken;
            }
        }
    }

    fn check_duplicate_proxy(&mut self, kind: ProxyKind, name: &str) {
        // Frontends and backends may share a name; a listen conflicts with both.
        let clash = self.config.proxies.iter().find(|p| {
            p.name == name && (p.kind == kind || p.kind == ProxyKind::Listen || kind == ProxyKind::Listen)
        });
        if let Some(p) = clash {
            let msg = format!(
                "{} '{}' has the same name as {} '{}' declared at {}:{}.",
                kind.keyword(),
                name,
                p.kind.keyword(),
                p.name,
                p.place.file,
                p.place.line
            );
            self.ctx.alert(msg);
        }
    }

    /// Ends the parse: closes the last section and runs the cross-section checks.
    pub(super) fn finish(mut self) -> (Config, Vec<Diagnostic>) {
        self.close_section();
        debug_assert!(self.config.proxies.iter().all(|p| p.kind != ProxyKind::Defaults));
        debug_assert!(self.config.defaults.iter().all(|p| p.kind == ProxyKind::Defaults));
        post_checks(&mut self.ctx, &self.config);
        if self.ctx.dropped > 0 {
            let n = self.ctx.dropped;
            self.ctx.diags.pop();
            self.ctx.diags.push(Diagnostic {
                level: Level::Alert,
                file: self.ctx.place.file.clone(),
                line: self.ctx.place.line,
                message: format!(
                    "too many messages, {} more not shown (max {DIAGNOSTICS_MAX})",
                    n + 1
                ),
            });
        }
        (self.config, self.ctx.diags)
    }
}

/// Compares `v` with ringlb's emulated HAProxy version (2.6).
fn version_cmp(v: &str) -> std::cmp::Ordering {
    let parse = |s: &str| -> Vec<u32> { s.split(['.', '-']).map(|x| x.parse().unwrap_or(0)).collect() };
    let want = parse(v.trim());
    parse("2.6").cmp(&want).reverse()
}

fn post_checks(ctx: &mut Ctx<'_>, cfg: &Config) {
    for p in &cfg.proxies {
        ctx.place = p.place.clone();
        if p.kind.is_frontend() {
            if p.binds.is_empty() && !p.disabled {
                ctx.warn(format!(
                    "Proxy '{}' has no 'bind' directive. Please declare it as a backend if this was intended.",
                    p.name
                ));
            }
            let find_be = |n: &str| cfg.proxies.iter().any(|b| b.name == n && b.kind.is_backend());
            let mut targets: Vec<(&str, &Place)> = Vec::new();
            if let Some(db) = &p.default_backend {
                targets.push((db, &p.place));
            }
            for ub in &p.use_backends {
                if let BackendRef::Name(n) = &ub.target {
                    targets.push((n, &ub.place));
                }
            }
            for (name, place) in targets {
                let be = cfg.proxies.iter().find(|b| b.name == name && b.kind.is_backend());
                if let Some(be) = be {
                    if p.mode == Mode::Http && be.mode == Mode::Tcp {
                        ctx.place = place.clone();
                        ctx.alert(format!(
                            "Proxy '{}': unable to use proxy '{}' with wrong mode, required: http, has: tcp.",
                            p.name, be.name
                        ));
                    }
                }
            }
            ctx.place = p.place.clone();
            if let Some(db) = &p.default_backend {
                if !find_be(db) {
                    ctx.alert(format!(
                        "Proxy '{}': unable to find required default_backend: '{db}'.",
                        p.name
                    ));
                }
            }
            for ub in &p.use_backends {
                if let BackendRef::Name(n) = &ub.target {
                    if !find_be(n) {
                        ctx.place = ub.place.clone();
                        ctx.alert(format!(
                            "Proxy '{}': unable to find required use_backend: '{n}'.",
                            p.name
                        ));
                    }
                }
            }
        }
        if p.kind.is_backend() {
            for us in &p.use_servers {
                if p.server(&us.server).is_none() {
                    ctx.alert(format!(
                        "Proxy '{}': unable to find server '{}' referenced in a 'use-server' rule.",
                        p.name, us.server
                    ));
                }
            }
            let mut seen: BTreeMap<&str, &Place> = BTreeMap::new();
            for s in &p.servers {
                if let Some(first) = seen.get(s.name.as_str()) {
                    ctx.place = s.place.clone();
                    ctx.alert(format!(
                        "backend '{}' has two servers named '{}' (first declared at {}:{}).",
                        p.name, s.name, first.file, first.line
                    ));
                } else {
                    seen.insert(&s.name, &s.place);
                }
                if let Some(r) = &s.params.resolvers {
                    if !cfg.sections.iter().any(|o| o.kind == "resolvers" && &o.name == r) {
                        ctx.place = s.place.clone();
                        ctx.alert(format!(
                            "Proxy '{}', server '{}': unable to find required resolvers '{r}'.",
                            p.name, s.name
                        ));
                    }
                }
            }
        }
        let mut missing = Vec::new();
        if p.kind.is_frontend() && p.timeouts.client.is_none() {
            missing.push("client");
        }
        if p.kind.is_backend() {
            if p.timeouts.connect.is_none() {
                missing.push("connect");
            }
            if p.timeouts.server.is_none() {
                missing.push("server");
            }
        }
        if !missing.is_empty() {
            ctx.place = p.place.clone();
            ctx.warn(format!(
                "missing timeouts for {} '{}'. While not properly invalid, you will certainly encounter various problems with such a configuration. To fix this, please ensure that all following timeouts are set to a non-zero value: '{}'.",
                p.kind.keyword(),
                p.name,
                missing.join("', '")
            ));
        }
        for name in &p.errorfiles_sections {
            if !cfg
                .sections
                .iter()
                .any(|o| o.kind == "http-errors" && &o.name == name)
            {
                ctx.place = p.place.clone();
                ctx.alert(format!(
                    "proxy '{}': unknown http-errors section '{name}' (at errorfiles).",
                    p.name
                ));
            }
        }
        if p.mode == Mode::Tcp {
            let rules = [
                ("http-request", p.http_request.len()),
                ("http-response", p.http_response.len()),
                ("http-after-response", p.http_after_response.len()),
            ];
            for (kw, n) in rules {
                if n > 0 {
                    ctx.place = p.place.clone();
                    ctx.warn(format!(
                        "'{kw}' rules ignored for proxy '{}' as they require HTTP mode.",
                        p.name
                    ));
                }
            }
        }
        if let CheckKind::External = p.options.check {
            if !cfg.global.external_check {
                ctx.alert(format!(
                    "Proxy '{}' : 'option external-check' unable to find required 'global.external-check'.",
                    p.name
                ));
            }
        }
    }
}

// ---------------------------------------------------------------- global

fn need<'w>(ctx: &mut Ctx<'_>, w: &'w [String], i: usize, what: &str) -> Option<&'w str> {
    match w.get(i) {
        Some(v) => Some(v.as_str()),
        None => {
            let kw = w.get(..i).unwrap_or_default().join(" ");
            ctx.alert(format!("'{kw}' expects {what} as an argument."));
            None
        }
    }
}

fn int_arg(ctx: &mut Ctx<'_>, w: &[String], i: usize) -> Option<u32> {
    let kw = w.get(..i).unwrap_or_default().join(" ");
    match w.get(i) {
        Some(v) => match parse_u32(v) {
            Ok(n) => Some(n),
            Err(_) => {
                ctx.alert(format!("'{kw}' expects an integer argument."));
                None
            }
        },
        None => {
            ctx.alert(format!("'{kw}' expects an integer argument."));
            None
        }
    }
}

fn dur_arg(ctx: &mut Ctx<'_>, w: &[String], i: usize) -> Option<Duration> {
    let kw = w.get(..i).unwrap_or_default().join(" ");
    match w.get(i) {
        Some(v) => match ctx.duration(&kw, v, TimeUnit::Ms) {
            Ok(d) => Some(d),
            Err(e) => {
                ctx.alert(format!("'{kw}' : {e}."));
                None
            }
        },
        None => {
            ctx.alert(format!(
                "'{kw}' expects a time value as an argument (in milliseconds by default)."
            ));
            None
        }
    }
}

fn size_arg(ctx: &mut Ctx<'_>, w: &[String], i: usize) -> Option<u64> {
    let kw = w.get(..i).unwrap_or_default().join(" ");
    match w.get(i).map(|v| parse_size(v)) {
        Some(Ok(n)) => Some(n),
        Some(Err(e)) => {
            ctx.alert(format!("'{kw}' : {e}."));
            None
        }
        None => {
            ctx.alert(format!("'{kw}' expects a size as an argument."));
            None
        }
    }
}

fn too_many(ctx: &mut Ctx<'_>, w: &[String], max: usize) -> bool {
    if w.len() > max + 1 {
        let kw = w.first().map(String::as_str).unwrap_or_default();
        ctx.alert(format!(
            "'{kw}' cannot handle unexpected argument '{}'.",
            w[max + 1]
        ));
        true
    } else {
        false
    }
}

fn set_string(ctx: &mut Ctx<'_>, w: &[String], slot: &mut Option<String>) {
    if let Some(v) = need(ctx, w, 1, "a string") {
        *slot = Some(v.to_string());
    }
}

fn parse_level(s: &str) -> Option<CliLevel> {
    match s {
        "user" => Some(CliLevel::User),
        "operator" => Some(CliLevel::Operator),
        "admin" => Some(CliLevel::Admin),
        _ => None,
    }
}

/// TLS keywords of `bind` lines: rejected, ringlb has no TLS.
const BIND_TLS: &[&str] = &[
    "ssl",
    "crt",
    "crt-list",
    "ca-file",
    "verify",
    "crl-file",
    "ciphers",
    "ciphersuites",
    "ssl-min-ver",
    "ssl-max-ver",
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "force-sslv3",
    "force-tlsv10",
    "force-tlsv11",
    "force-tlsv12",
    "force-tlsv13",
    "strict-sni",
    "npn",
    "ecdhe",
    "curves",
    "sigalgs",
    "client-sigalgs",
    "ca-verify-file",
    "ca-ignore-err",
    "crt-ignore-err",
    "no-tls-tickets",
    "tls-tickets",
    "allow-0rtt",
    "generate-certificates",
    "prefer-client-ciphers",
    "ca-sign-file",
    "ca-sign-pass",
    "tls-ticket-keys",
    "no-ca-names",
    "ssl_fc",
    "quic-cc-algo",
    "quic-force-retry",
];

fn parse_log(ctx: &mut Ctx<'_>, w: &[String]) -> Option<LogTarget> {
    let target = need(ctx, w, 1, "<address> and <facility>")?;
    let t = ctx.expand_addr(target);
    let addr = if let Some(r) = t.strip_prefix("ring@") {
        Address::Ring(r.to_string())
    } else {
        match parse_address(&t, AddrUse::Other) {
            Ok(a) => a,
            Err(e) => {
                ctx.alert(format!("'log' : {e}"));
                return None;
            }
        }
    };
    let mut lt = LogTarget {
        addr,
        max_len: None,
        format: LogFormat::default(),
        facility: String::new(),
        level: None,
        min_level: None,
        sample: None,
    };
    let mut i = 2;
    loop {
        match arg(w, i) {
            Some("len") => {
                lt.max_len = int_arg(ctx, w, i + 1);
                i += 2;
            }
            Some("format") => {
                lt.format = match arg(w, i + 1) {
                    Some("rfc3164") => LogFormat::Rfc3164,
                    Some("rfc5424") => LogFormat::Rfc5424,
                    Some("raw") => LogFormat::Raw,
                    Some("short") => LogFormat::Short,
                    Some("timed") => LogFormat::Timed,
                    Some("iso") => LogFormat::Iso,
                    Some("priority") => LogFormat::Priority,
                    Some("local") => LogFormat::Local,
                    other => {
                        ctx.alert(format!(
                            "'log' : unknown log format '{}'",
                            other.unwrap_or_default()
                        ));
                        return None;
                    }
                };
                i += 2;
            }
            Some("sample") => {
                lt.sample = w.get(i + 1).cloned();
                i += 2;
            }
            _ => break,
        }
    }
    const FACILITIES: &[&str] = &[
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2", "ftp",
        "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4", "local5",
        "local6", "local7",
    ];
    const LEVELS: &[&str] = &[
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    ];
    match arg(w, i) {
        Some(f) if FACILITIES.contains(&f) => lt.facility = f.to_string(),
        Some(f) => {
            ctx.alert(format!("unknown log facility '{f}'"));
            return None;
        }
        None => {
            ctx.alert("'log' expects <address> and <facility> as arguments.".to_string());
            return None;
        }
    }
    for (j, slot) in [(i + 1, &mut lt.level), (i + 2, &mut lt.min_level)] {
        if let Some(l) = arg(w, j) {
            if !LEVELS.contains(&l) {
                ctx.alert(format!("unknown optional log level '{l}'"));
                return None;
            }
            *slot = Some(l.to_string());
        }
    }
    if w.len() > i + 3 {
        ctx.alert(format!("'log' cannot handle unexpected argument '{}'.", w[i + 3]));
        return None;
    }
    Some(lt)
}

fn parse_stats_socket(ctx: &mut Ctx<'_>, w: &[String]) -> Option<StatsSocket> {
    let a = need(ctx, w, 2, "<path|address>")?;
    let a = ctx.expand_addr(a);
    let addr = match parse_address(&a, AddrUse::Bind) {
        Ok(a) => a,
        Err(e) => {
            ctx.alert(format!("'stats socket' : {e}"));
            return None;
        }
    };
    let mut s = StatsSocket {
        addr,
        level: CliLevel::Operator,
        mode: None,
        user: None,
        group: None,
        expose_fd_listeners: false,
        other: Vec::new(),
        place: ctx.place.clone(),
    };
    let mut i = 3;
    while let Some(k) = arg(w, i) {
        let v = arg(w, i + 1);
        match k {
            "level" => match v.and_then(parse_level) {
                Some(l) => s.level = l,
                None => {
                    ctx.alert("'level' only supports 'user', 'operator', and 'admin'".to_string());
                    return None;
                }
            },
            "mode" => match v.and_then(|v| u32::from_str_radix(v, 8).ok()) {
                Some(m) => s.mode = Some(m),
                None => {
                    ctx.alert("'mode' : expects an octal value".to_string());
                    return None;
                }
            },
            "user" | "uid" => s.user = v.map(str::to_string),
            "group" | "gid" => s.group = v.map(str::to_string),
            "expose-fd" => {
                if v != Some("listeners") {
                    ctx.alert("'expose-fd' only supports 'listeners'".to_string());
                    return None;
                }
                s.expose_fd_listeners = true;
            }
            "process" | "thread" | "name" | "severity-output" | "maxconn" | "backlog" | "nice" | "id" => {
                s.other.push(k.to_string());
                if let Some(v) = v {
                    s.other.push(v.to_string());
                }
            }
            "accept-proxy" | "defer-accept" | "transparent" | "v4v6" | "v6only" => {
                s.other.push(k.to_string());
                i += 1;
                continue;
            }
            k if BIND_TLS.contains(&k) => {
                ctx.alert(format!("'{k}' is not supported by ringlb (no TLS yet)."));
                return None;
            }
            _ => {
                ctx.alert(format!("'stats socket' unknown keyword '{k}'."));
                return None;
            }
        }
        if v.is_none() {
            ctx.alert(format!("'stats socket' : missing value for '{k}'."));
            return None;
        }
        i += 2;
    }
    Some(s)
}

fn parse_cpus(s: &str) -> Result<Vec<u32>, String> {
    // A set, so repeated or overlapping ranges cost nothing.
    let mut set = vec![false; CPU_ID_MAX as usize + 1];
    for part in s.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (parse_u32(a)?, parse_u32(b)?),
            None => {
                let n = parse_u32(part)?;
                (n, n)
            }
        };
        if b < a || b > CPU_ID_MAX {
            return Err(format!("invalid cpu range '{part}' (max {CPU_ID_MAX})"));
        }
        for c in a..=b {
            if let Some(slot) = set.get_mut(c as usize) {
                *slot = true;
            }
        }
    }
    Ok((0..=CPU_ID_MAX)
        .filter(|&c| set.get(c as usize).copied().unwrap_or(false))
        .collect())
}

fn global_kw(ctx: &mut Ctx<'_>, g: &mut Global, w: &[String]) {
    let kw = w.first().map(String::as_str).unwrap_or_default();
    let place = ctx.place.clone();
    match kw {
        "daemon" => g.daemon = true,
        "master-worker" => {
            g.master_worker = true;
            match arg(w, 1) {
                None => {}
                Some("no-exit-on-failure") => g.master_worker_no_exit = true,
                Some(o) => ctx.alert(format!("'master-worker' only supports 'no-exit-on-failure' option (got '{o}').")),
            }
        }
        "user" => set_string(ctx, w, &mut g.user),
        "group" => set_string(ctx, w, &mut g.group),
        "uid" => g.uid = int_arg(ctx, w, 1),
        "gid" => g.gid = int_arg(ctx, w, 1),
        "chroot" => set_string(ctx, w, &mut g.chroot),
        "pidfile" => set_string(ctx, w, &mut g.pidfile),
        "description" => g.description = Some(w.get(1..).unwrap_or_default().join(" ")),
        "node" => set_string(ctx, w, &mut g.node),
        "ca-base" => set_string(ctx, w, &mut g.ca_base),
        "crt-base" => set_string(ctx, w, &mut g.crt_base),
        "log-tag" => set_string(ctx, w, &mut g.log_tag),
        "log-send-hostname" => g.log_send_hostname = Some(w.get(1).cloned()),
        "maxconn" => g.maxconn = int_arg(ctx, w, 1).or(g.maxconn),
        "nbthread" => {
            if let Some(n) = int_arg(ctx, w, 1) {
                /// HAProxy's MAX_THREADS on 64-bit builds.
                const NBTHREAD_MAX: u32 = 4096;
                if n == 0 || n > NBTHREAD_MAX {
                    ctx.alert(format!("'nbthread' must be between 1 and {NBTHREAD_MAX} (got {n})."));
                } else {
                    g.nbthread = Some(n);
                }
            }
        }
        "nbproc" => ctx.alert("nbproc is not supported any more since HAProxy 2.5. Threads will automatically be used on multi-processor machines if available.".to_string()),
        "cpu-map" => match (arg(w, 1), arg(w, 2)) {
            (Some(t), Some(c)) => match parse_cpus(c) {
                Ok(cpus) => g.cpu_maps.push(CpuMap { threads: t.to_string(), cpus }),
                Err(e) => ctx.alert(format!("cpu-map: {e}.")),
            },
            _ => ctx.alert("'cpu-map' expects a thread set and a cpu set as arguments.".to_string()),
        },
        "stats" => match arg(w, 1) {
            Some("socket") => {
                if let Some(s) = parse_stats_socket(ctx, w) {
                    g.stats_sockets.push(s);
                }
            }
            Some("timeout") => g.stats_timeout = dur_arg(ctx, w, 2),
            Some("maxconn") => g.stats_maxconn = int_arg(ctx, w, 2),
            Some("bind-process") => ctx.warn("'stats bind-process' is ignored (removed in HAProxy 2.5).".to_string()),
            _ => ctx.alert("'stats' only supports 'socket', 'maxconn', 'bind-process' and 'timeout' in 'global' section.".to_string()),
        },
        "log" => match arg(w, 1) {
            Some("global") => ctx.alert("'log global' is not allowed in 'global' section.".to_string()),
            _ => {
                if let Some(l) = parse_log(ctx, w) {
                    g.logs.push(l);
                }
            }
        },
        "hard-stop-after" => g.hard_stop_after = dur_arg(ctx, w, 1),
        "grace" => g.grace = dur_arg(ctx, w, 1),
        "mworker-max-reloads" => g.mworker_max_reloads = int_arg(ctx, w, 1),
        "ulimit-n" => g.ulimit_n = int_arg(ctx, w, 1).map(u64::from),
        "tune.bufsize" => {
            if let Some(n) = size_arg(ctx, w, 1) {
                /// Largest buffer HAProxy accepts (it stores sizes in an int).
                const TUNE_BUFSIZE_MAX: u64 = (i32::MAX as u64) - 16;
                if !(1024..=TUNE_BUFSIZE_MAX).contains(&n) {
                    ctx.alert(format!("'tune.bufsize' expects a positive integer between 1024 and {TUNE_BUFSIZE_MAX} (got {n})."));
                } else {
                    g.tune_bufsize = Some(n);
                }
            }
        }
        "tune.maxrewrite" => g.tune_maxrewrite = size_arg(ctx, w, 1),
        "tune.http.maxhdr" => {
            if let Some(n) = int_arg(ctx, w, 1) {
                if !(1..=32767).contains(&n) {
                    ctx.alert(format!("'tune.http.maxhdr' expects a numeric value between 1 and 32767 (got {n})."));
                } else {
                    g.tune_http_maxhdr = Some(n);
                }
            }
        }
        k if k.starts_with("tune.ssl.") || k.starts_with("ssl-") || k == "issuers-chain-path" => {
            g.ssl_settings.insert(k.to_string(), words_from(w, 1));
        }
        k if k.starts_with("tune.") => {
            if w.len() < 2 {
                ctx.alert(format!("'{k}' expects an argument."));
            } else {
                g.tune_other.insert(k.to_string(), words_from(w, 1));
            }
        }
        "setenv" | "presetenv" => match (arg(w, 1), arg(w, 2)) {
            (Some(n), Some(v)) => {
                if kw == "setenv" || ctx.lookup(n).is_none() {
                    ctx.overlay.insert(n.to_string(), Some(v.to_string()));
                }
                g.env_changes.push(Directive { place, words: w.to_vec() });
            }
            _ => ctx.alert(format!("'{kw}' expects a name and a value.")),
        },
        "unsetenv" => {
            for n in w.get(1..).unwrap_or_default() {
                ctx.overlay.insert(n.clone(), None);
            }
            g.env_changes.push(Directive { place, words: w.to_vec() });
        }
        "resetenv" => {
            // Keep only the named variables: those not listed become undefined.
            // We cannot list the injected environment, so record it for the supervisor.
            g.env_changes.push(Directive { place, words: w.to_vec() });
        }
        "external-check" => {
            g.external_check = true;
            if let Some(a) = arg(w, 1) {
                if a != "preserve-env" {
                    ctx.alert(format!("'external-check' only supports 'preserve-env' as an argument, found '{a}'."));
                }
            }
        }
        "insecure-fork-wanted" => g.insecure_fork_wanted = true,
        "lua-load" | "lua-load-per-thread" | "lua-prepend-path" => {
            ctx.alert(format!("'{kw}' is not supported by ringlb (no Lua)."));
        }
        "51degrees-data-file" | "wurfl-data-file" | "deviceatlas-json-file" | "module-load" | "module-path" => {
            ctx.alert(format!("'{kw}' is not supported by ringlb."));
        }
        "debug" | "quiet" | "zero-warning" | "noepoll" | "nokqueue" | "noevports" | "nopoll" | "nosplice"
        | "nogetaddrinfo" | "noreuseport" | "busy-polling" | "set-dumpable" | "strict-limits" | "insecure-setuid-wanted"
        | "expose-experimental-directives" | "expose-deprecated-directives" | "pp2-never-send-local" | "numa-cpu-mapping"
        | "no-memory-trimming" | "h1-case-adjust-bogus-client" | "h2-workaround-bogus-websocket-clients" | "localpeer"
        | "spread-checks" | "max-spread-checks" | "maxsslconn" | "maxconnrate" | "maxsessrate" | "maxsslrate" | "maxpipes"
        | "maxcomprate" | "maxcompcpuusage" | "maxzlibmem" | "server-state-file" | "server-state-base" | "h1-case-adjust"
        | "h1-case-adjust-file" | "unix-bind" | "fd-hard-limit" | "set-var" | "set-var-fmt" | "cluster-secret"
        | "thread-groups" | "thread-group" | "anonkey"
        | "stats-file" | "shm-stats-file" | "warn-blocked-traffic-after" | "dns-accept-family" | "limited-quic"
        | "profiling.tasks" | "profiling.memory" | "httpclient.resolvers.id" | "httpclient.resolvers.prefer"
        | "httpclient.retries" | "httpclient.timeout.connect" | "httpclient.ssl.verify" | "httpclient.ssl.ca-file"
        | "httpclient.resolvers.disabled" | "default-path" | "ocsp-update.mode"
        | "ocsp-update.maxdelay" | "ocsp-update.mindelay" | "cpu-policy" | "cpu-set" | "prealloc-fd" => {
            if matches!(kw, "debug") {
                ctx.warn("'debug' is ignored by ringlb (use -d).".to_string());
            }
            g.other.push(Directive { place, words: w.to_vec() });
        }
        _ => ctx.alert(format!("unknown keyword '{kw}' in 'global' section")),
    }
}

// ---------------------------------------------------------------- proxies

/// Capability bits for keywords.
const F: u8 = 1;
const B: u8 = 2;
/// Allowed in `defaults`.
const D: u8 = 4;

/// Every keyword [`caps_of`] knows, for "did you mean" suggestions.
const PROXY_KEYWORDS: &[&str] = &[
    "mode",
    "timeout",
    "option",
    "no",
    "log",
    "log-format",
    "log-format-sd",
    "error-log-format",
    "log-tag",
    "errorfile",
    "errorfiles",
    "errorloc",
    "errorloc302",
    "errorloc303",
    "http-error",
    "compression",
    "stats",
    "email-alert",
    "grace",
    "http-request",
    "http-response",
    "http-after-response",
    "tcp-request",
    "disabled",
    "enabled",
    "declare",
    "max-session-srv-conns",
    "bind-process",
    "monitor-uri",
    "bind",
    "use_backend",
    "capture",
    "monitor",
    "default_backend",
    "maxconn",
    "backlog",
    "unique-id-format",
    "unique-id-header",
    "rate-limit",
    "clitcpka-cnt",
    "clitcpka-idle",
    "clitcpka-intvl",
    "acl",
    "description",
    "id",
    "redirect",
    "stick-table",
    "force-persist",
    "ignore-persist",
    "filter",
    "guid",
    "balance",
    "hash-type",
    "hash-balance-factor",
    "default-server",
    "retries",
    "fullconn",
    "http-reuse",
    "cookie",
    "http-check",
    "tcp-check",
    "source",
    "persist",
    "max-keep-alive-queue",
    "external-check",
    "http-send-name-header",
    "load-server-state-from-file",
    "server-state-file-name",
    "srvtcpka-cnt",
    "srvtcpka-idle",
    "srvtcpka-intvl",
    "retry-on",
    "hash-key",
    "server",
    "server-template",
    "use-server",
    "stick",
    "tcp-response",
    "dispatch",
    "dynamic-cookie-key",
];

/// Longest word for which a suggestion is computed (edit distance is quadratic).
const SUGGEST_WORD_BYTES_MAX: usize = 64;

/// The candidate closest to `word` by edit distance, if close enough to be a typo.
fn suggest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    if word.len() > SUGGEST_WORD_BYTES_MAX {
        return None;
    }
    let w: Vec<char> = word.chars().collect();
    let max = (w.len() / 4).max(1);
    let mut best: Option<(usize, &str)> = None;
    for &c in candidates {
        let d = osa_distance(&w, &c.chars().collect::<Vec<char>>());
        if d <= max && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance counting a swap of two neighbours as one edit (optimal string alignment).
fn osa_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in 0..=a.len() {
        d[at(i, 0)] = i;
    }
    for j in 0..=b.len() {
        d[at(0, j)] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[at(i - 1, j)] + 1)
                .min(d[at(i, j - 1)] + 1)
                .min(d[at(i - 1, j - 1)] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[at(i - 2, j - 2)] + 1);
            }
            d[at(i, j)] = v;
        }
    }
    d[at(a.len(), b.len())]
}

/// `; did you mean 'x' maybe ?` when a close candidate exists, as HAProxy 2.6 prints it.
fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    match suggest(word, candidates) {
        Some(c) => format!("; did you mean '{c}' maybe ?"),
        None => String::new(),
    }
}

fn caps_of(kw: &str) -> Option<u8> {
    Some(match kw {
        "mode"
        | "timeout"
        | "option"
        | "no"
        | "log"
        | "log-format"
        | "log-format-sd"
        | "error-log-format"
        | "log-tag"
        | "errorfile"
        | "errorfiles"
        | "errorloc"
        | "errorloc302"
        | "errorloc303"
        | "http-error"
        | "compression"
        | "stats"
        | "email-alert"
        | "grace"
        | "http-request"
        | "http-response"
        | "http-after-response"
        | "tcp-request"
        | "disabled"
        | "enabled"
        | "declare"
        | "max-session-srv-conns"
        | "bind-process"
        | "monitor-uri" => F | B | D,
        "bind" | "use_backend" | "capture" | "monitor" => F,
        "default_backend" | "maxconn" | "backlog" | "unique-id-format" | "unique-id-header"
        | "rate-limit" | "clitcpka-cnt" | "clitcpka-idle" | "clitcpka-intvl" => F | D,
        "acl" | "description" | "id" | "redirect" | "stick-table" | "force-persist" | "ignore-persist"
        | "filter" | "guid" => F | B,
        "balance"
        | "hash-type"
        | "hash-balance-factor"
        | "default-server"
        | "retries"
        | "fullconn"
        | "http-reuse"
        | "cookie"
        | "http-check"
        | "tcp-check"
        | "source"
        | "persist"
        | "max-keep-alive-queue"
        | "external-check"
        | "http-send-name-header"
        | "load-server-state-from-file"
        | "server-state-file-name"
        | "srvtcpka-cnt"
        | "srvtcpka-idle"
        | "srvtcpka-intvl"
        | "retry-on"
        | "hash-key" => B | D,
        "server" | "server-template" | "use-server" | "stick" | "tcp-response" | "dispatch"
        | "dynamic-cookie-key" => B,
        _ => return None,
    })
}

const OBSOLETE_REQ: &[&str] = &[
    "reqadd",
    "reqallow",
    "reqdel",
    "reqdeny",
    "reqiallow",
    "reqidel",
    "reqideny",
    "reqipass",
    "reqirep",
    "reqitarpit",
    "reqpass",
    "reqrep",
    "reqtarpit",
    "rspadd",
    "rspdel",
    "rspdeny",
    "rspidel",
    "rspideny",
    "rspirep",
    "rsprep",
];

fn proxy_kw(ctx: &mut Ctx<'_>, p: &mut Proxy, w: &[String], defaults: &[Proxy]) {
    let kw = w.first().map(String::as_str).unwrap_or_default();
    let sect = p.kind.keyword();
    if OBSOLETE_REQ.contains(&kw) {
        let hint = if kw.starts_with("req") {
            "Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead."
        } else {
            "Use 'http-response replace-header' instead."
        };
        ctx.alert(format!(
            "The '{kw}' directive is not supported anymore since HAProxy 2.1. {hint}"
        ));
        return;
    }
    let Some(caps) = caps_of(kw) else {
        let hint = did_you_mean(kw, PROXY_KEYWORDS);
        ctx.alert(format!("unknown keyword '{kw}' in '{sect}' section{hint}"));
        return;
    };
    if p.kind == ProxyKind::Defaults && caps & D == 0 {
        ctx.alert(format!("'{kw}' not allowed in 'defaults' section."));
        return;
    }
    let has = match p.kind {
        ProxyKind::Defaults | ProxyKind::Listen => true,
        ProxyKind::Frontend => caps & F != 0,
        ProxyKind::Backend => caps & B != 0,
    };
    if !has {
        let missing = if caps & F != 0 { "frontend" } else { "backend" };
        ctx.warn(format!(
            "'{kw}' ignored because {sect} '{}' has no {missing} capability.",
            p.name
        ));
        return;
    }
    let place = ctx.place.clone();
    let acl_names: Vec<String> = p.acls.iter().map(|a| a.name.clone()).collect();
    let known = |n: &str| acl_names.iter().any(|a| a == n);
    match kw {
        "mode" => match arg(w, 1) {
            Some("http") => p.mode = Mode::Http,
            Some("tcp") => p.mode = Mode::Tcp,
            Some("health") => ctx.alert("'mode health' doesn't exist anymore. Please use 'http-request return' or 'tcp-request connection reject' instead.".to_string()),
            Some(m) => ctx.alert(format!("unknown proxy mode '{m}'.")),
            None => ctx.alert("'mode' expects one of 'http' or 'tcp'.".to_string()),
        },
        "bind" => parse_bind(ctx, p, w),
        "default_backend" => {
            if let Some(n) = need(ctx, w, 1, "a backend name") {
                if !too_many(ctx, w, 1) {
                    p.default_backend = Some(n.to_string());
                }
            }
        }
        "use_backend" => {
            let res = split_condition(w.get(1..).unwrap_or_default(), &known);
            match res {
                Ok((head, cond)) => {
                    if head.len() != 1 {
                        ctx.alert(format!("'{kw}' expects a backend name, then an optional 'if'/'unless' condition."));
                        return;
                    }
                    let name = &head[0];
                    let target = if name.contains("%[") {
                        match parse_format(name) {
                            Ok(f) => BackendRef::Dynamic(f),
                            Err(e) => {
                                ctx.alert(format!("'use_backend' : {e}"));
                                return;
                            }
                        }
                    } else {
                        BackendRef::Name(name.clone())
                    };
                    p.use_backends.push(UseBackend { target, cond, place });
                }
                Err(e) => ctx.alert(format!("error detected while parsing switching rule : {e}.")),
            }
        }
        "use-server" => match split_condition(w.get(1..).unwrap_or_default(), &known) {
            Ok((head, cond)) if head.len() == 1 => p.use_servers.push(UseServer { server: head[0].clone(), cond }),
            Ok(_) => ctx.alert("'use-server' expects a server name.".to_string()),
            Err(e) => ctx.alert(format!("error detected while parsing switching rule : {e}.")),
        },
        "acl" => {
            let Some(name) = need(ctx, w, 1, "an ACL name") else { return };
            if let Some(c) = invalid_char(name) {
                ctx.alert(format!("character '{c}' is not permitted in acl name '{name}'."));
                return;
            }
            match cond::parse_acl_expr(w.get(2..).unwrap_or_default()) {
                Ok(expr) => p.acls.push(Acl { name: name.to_string(), expr }),
                Err(e) => ctx.alert(format!("error detected while parsing ACL '{name}' : {e}.")),
            }
        }
        "balance" => parse_balance(ctx, p, w),
        "hash-type" => p.hash_type = Some(words_from(w, 1)),
        "hash-balance-factor" => p.hash_balance_factor = int_arg(ctx, w, 1),
        "default-server" => {
            let mut params = p.default_server.clone();
            if parse_server_params(ctx, &mut params, w, 1, true) {
                p.default_server = params;
            }
        }
        "server" => parse_server(ctx, p, w),
        "server-template" => parse_server_template(ctx, p, w),
        "timeout" => parse_timeout(ctx, p, w),
        "retries" => {
            if let Some(n) = int_arg(ctx, w, 1) {
                p.retries = n;
            }
        }
        "option" => parse_option(ctx, p, w, 1, true),
        "no" => {
            if arg(w, 1) == Some("option") {
                parse_option(ctx, p, w, 2, false);
            } else if arg(w, 1) == Some("log") {
                p.log.global = false;
                p.log.targets.clear();
            } else {
                ctx.alert(format!("'no' expects 'option' or 'log' (got '{}').", arg(w, 1).unwrap_or_default()));
            }
        }
        "http-request" | "http-response" | "http-after-response" => {
            if let Some(r) = parse_http_rule(ctx, w, &known) {
                match kw {
                    "http-request" => p.http_request.push(r),
                    "http-response" => p.http_response.push(r),
                    _ => p.http_after_response.push(r),
                }
            }
        }
        "redirect" => match split_condition(w.get(1..).unwrap_or_default(), &known) {
            Ok((head, cond)) => match parse_redirect(head) {
                Ok(r) => p.redirects.push((r, cond)),
                Err(e) => ctx.alert(format!("error detected in {sect} '{}' while parsing redirect rule : {e}.", p.name)),
            },
            Err(e) => ctx.alert(format!("error detected while parsing redirect rule condition : {e}.")),
        },
        "tcp-request" | "tcp-response" => {
            if let Some(r) = parse_tcp_rule(ctx, w, &known, p) {
                if kw == "tcp-request" {
                    p.tcp_request.push(r);
                } else {
                    p.tcp_response.push(r);
                }
            }
        }
        "http-check" | "tcp-check" => {
            if let Some(r) = parse_check_rule(ctx, w) {
                if kw == "http-check" {
                    p.http_check.push(r);
                } else {
                    p.tcp_check.push(r);
                }
            }
        }
        "errorfile" => match (arg(w, 1).map(parse_u32), arg(w, 2)) {
            (Some(Ok(code)), Some(path)) => {
                const CODES: &[u32] = &[200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504];
                if !CODES.contains(&code) {
                    ctx.warn(format!("status code '{code}' not handled by 'errorfile', error customization will be ignored."));
                } else {
                    p.errorfiles.retain(|e| u32::from(e.status) != code);
                    p.errorfiles.push(ErrorFile { status: code as u16, path: path.to_string() });
                }
            }
            _ => ctx.alert("'errorfile' expects <status_code> and <file> as arguments.".to_string()),
        },
        "errorfiles" => {
            if let Some(n) = need(ctx, w, 1, "<name>") {
                p.errorfiles_sections.push(n.to_string());
            }
        }
        "log" => match arg(w, 1) {
            Some("global") => p.log.global = true,
            _ => {
                if let Some(l) = parse_log(ctx, w) {
                    p.log.targets.push(l);
                }
            }
        },
        "log-format" => {
            if w.len() > 2 {
                ctx.alert("'log-format' expects only one argument, possibly quoted.".to_string());
            } else if let Some(f) = need(ctx, w, 1, "a format string") {
                p.log.format = Some(f.to_string());
            }
        }
        "error-log-format" => p.log.error_format = w.get(1).cloned(),
        "log-tag" => p.log.tag = w.get(1).cloned(),
        "stats" => parse_stats(ctx, p, w, &known),
        "maxconn" => p.maxconn = int_arg(ctx, w, 1),
        "fullconn" => p.fullconn = int_arg(ctx, w, 1),
        "backlog" => p.backlog = int_arg(ctx, w, 1),
        "description" => p.description = Some(w.get(1..).unwrap_or_default().join(" ")),
        "id" => p.id = int_arg(ctx, w, 1),
        "disabled" => p.disabled = true,
        "enabled" => p.disabled = false,
        "http-reuse" => {
            p.http_reuse = match arg(w, 1) {
                Some("never") => Some(HttpReuse::Never),
                Some("safe") => Some(HttpReuse::Safe),
                Some("aggressive") => Some(HttpReuse::Aggressive),
                Some("always") => Some(HttpReuse::Always),
                _ => {
                    ctx.alert("'http-reuse' expects 'never', 'safe', 'aggressive', 'always'.".to_string());
                    p.http_reuse
                }
            }
        }
        "cookie" => {
            if need(ctx, w, 1, "<cookie_name>").is_some() {
                p.cookie = Some(words_from(w, 1));
            }
        }
        "capture" => {
            let what = match (arg(w, 1), arg(w, 2)) {
                (Some("cookie"), _) => "cookie",
                (Some("request"), Some("header")) => "request header",
                (Some("response"), Some("header")) => "response header",
                _ => {
                    ctx.alert("'capture' expects 'cookie', 'request header' or 'response header'.".to_string());
                    return;
                }
            };
            let i = if what == "cookie" { 2 } else { 3 };
            match (arg(w, i), arg(w, i + 1), arg(w, i + 2).map(parse_u32)) {
                (Some(n), Some("len"), Some(Ok(len))) => p.captures.push(Capture { what: what.to_string(), name: n.to_string(), len }),
                _ => ctx.alert(format!("'capture {what}' expects <name> 'len' <length>.")),
            }
        }
        "unique-id-format" => p.unique_id_format = w.get(1).cloned(),
        "unique-id-header" => p.unique_id_header = w.get(1).cloned(),
        "stick-table" => parse_stick_table(ctx, p, w),
        "stick" => {
            if let Err(e) = split_condition(w, &known) {
                ctx.alert(format!("'stick' : {e}."));
            } else {
                p.stick_rules.push(words_from(w, 1));
            }
        }
        "monitor-uri" => p.monitor_uri = w.get(1).cloned(),
        "compression" => match arg(w, 1) {
            Some(k @ ("algo" | "type" | "offload" | "algo-req" | "algo-res" | "type-req" | "type-res" | "direction" | "minsize-req" | "minsize-res")) => {
                p.compression.insert(k.to_string(), words_from(w, 2));
            }
            _ => ctx.alert("'compression' expects 'algo', 'type' or 'offload'.".to_string()),
        },
        "filter" => match arg(w, 1) {
            Some("compression") => p.other.push(Directive { place, words: w.to_vec() }),
            Some(f) => ctx.alert(format!("'filter {f}' is not supported by ringlb.")),
            None => ctx.alert("'filter' expects a filter name.".to_string()),
        },
        "bind-process" => ctx.warn("'bind-process' is ignored (removed in HAProxy 2.5).".to_string()),
        "external-check" => p.other.push(Directive { place, words: w.to_vec() }),
        _ => {
            // Known, accepted, not modelled: kept as words.
            let _ = defaults;
            p.other.push(Directive { place, words: w.to_vec() });
        }
    }
}

fn parse_bind(ctx: &mut Ctx<'_>, p: &mut Proxy, w: &[String]) {
    let Some(addrs) = arg(w, 1) else {
        ctx.alert(
            "'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.".to_string(),
        );
        return;
    };
    let mut params = BindParams::default();
    let mut i = 2;
    let mut ok = true;
    while let Some(k) = arg(w, i) {
        if BIND_TLS.contains(&k) {
            ctx.alert(format!("'{k}' is not supported by ringlb (no TLS yet)."));
            ok = false;
            i += 1;
            continue;
        }
        let v = arg(w, i + 1);
        let takes_value = matches!(
            k,
            "name"
                | "maxconn"
                | "backlog"
                | "mode"
                | "user"
                | "group"
                | "uid"
                | "gid"
                | "interface"
                | "process"
                | "thread"
                | "level"
                | "severity-output"
                | "alpn"
                | "proto"
                | "id"
                | "nice"
                | "tcp-ut"
                | "mss"
                | "namespace"
                | "label"
                | "accept-netscaler-cip"
                | "expose-fd"
                | "shards"
                | "idle-ping"
        );
        if takes_value && v.is_none() {
            ctx.alert(format!("'bind {addrs}' : missing value for '{k}' option."));
            return;
        }
        let v = v.unwrap_or_default();
        let int = |ctx: &mut Ctx<'_>, v: &str| match parse_u32(v) {
            Ok(n) => Some(n),
            Err(e) => {
                ctx.alert(format!("'bind {addrs}' : '{k}' : {e}."));
                None
            }
        };
        match k {
            "accept-proxy" => params.accept_proxy = true,
            "v4v6" => params.v4v6 = true,
            "v6only" => params.v6only = true,
            "transparent" => params.transparent = true,
            "defer-accept" => params.defer_accept = true,
            "tfo" => params.tfo = true,
            "name" => params.name = Some(v.to_string()),
            "maxconn" => params.maxconn = int(ctx, v),
            "backlog" => params.backlog = int(ctx, v),
            "id" => params.id = int(ctx, v),
            "mode" => match u32::from_str_radix(v, 8) {
                Ok(m) => params.mode = Some(m),
                Err(_) => ctx.alert(format!("'bind {addrs}' : '{k}' expects an octal value.")),
            },
            "user" | "uid" => params.user = Some(v.to_string()),
            "group" | "gid" => params.group = Some(v.to_string()),
            "interface" => params.interface = Some(v.to_string()),
            "process" | "thread" | "shards" => params.thread = Some(v.to_string()),
            "level" => match parse_level(v) {
                Some(l) => params.level = Some(l),
                None => ctx.alert("'level' only supports 'user', 'operator', and 'admin'".to_string()),
            },
            "alpn" => {
                ctx.warn(format!(
                    "'alpn' on 'bind {addrs}' has no effect without TLS, which ringlb does not support yet."
                ));
                params.alpn = Some(v.to_string());
            }
            "proto" => params.proto = Some(v.to_string()),
            "nice" => params.nice = v.parse().ok(),
            "tcp-ut" => params.tcp_ut = parse_duration(v, TimeUnit::Ms).ok(),
            "mss" => params.mss = Some(v.to_string()),
            "severity-output"
            | "namespace"
            | "label"
            | "accept-netscaler-cip"
            | "expose-fd"
            | "idle-ping" => {}
            _ => {
                ctx.alert(format!("'bind {addrs}' unknown keyword '{k}'."));
                return;
            }
        }
        i += if takes_value { 2 } else { 1 };
    }
    if !ok {
        return;
    }
    for a in addrs.split(',') {
        let a = ctx.expand_addr(a);
        match parse_address(&a, AddrUse::Bind) {
            Ok(addr) => p.binds.push(Bind {
                addr,
                params: params.clone(),
                place: ctx.place.clone(),
            }),
            Err(e) => ctx.alert(format!("'bind' : {e}.")),
        }
    }
}

fn parse_balance(ctx: &mut Ctx<'_>, p: &mut Proxy, w: &[String]) {
    let Some(algo) = arg(w, 1) else {
        ctx.alert("'balance' expects an algorithm name.".to_string());
        return;
    };
    let b = match algo {
        "roundrobin" => Balance::RoundRobin,
        "static-rr" => Balance::StaticRr,
        "leastconn" => Balance::LeastConn,
        "first" => Balance::First,
        "source" => Balance::Source,
        "uri" => Balance::Uri(words_from(w, 2)),
        "url_param" => {
            if w.len() < 3 {
                ctx.alert("'balance url_param' requires an URL parameter name.".to_string());
                return;
            }
            Balance::UrlParam(words_from(w, 2))
        }
        "hash" => match arg(w, 2).map(Sample::parse) {
            Some(Ok(s)) => Balance::Hash(s),
            Some(Err(e)) => {
                ctx.alert(format!("'balance hash' : {e}."));
                return;
            }
            None => {
                ctx.alert("'balance hash' expects a sample expression.".to_string());
                return;
            }
        },
        a if a == "random" || a.starts_with("random(") => {
            let draws = match a.strip_prefix("random(").and_then(|r| r.strip_suffix(')')) {
                Some(n) => match parse_u32(n) {
                    Ok(d) if d >= 1 => d,
                    _ => {
                        ctx.alert(format!(
                            "'balance random(<draws>)' expects a positive integer (got '{n}')."
                        ));
                        return;
                    }
                },
                None => 2,
            };
            Balance::Random { draws }
        }
        a if a.starts_with("hdr(") && a.ends_with(')') => {
            let name = a.get(4..a.len() - 1).unwrap_or_default();
            if name.is_empty() {
                ctx.alert("'balance hdr' requires an http header field name.".to_string());
                return;
            }
            Balance::Hdr {
                name: name.to_string(),
                domain_only: arg(w, 2) == Some("use_domain_only"),
            }
        }
        a if a == "rdp-cookie" || a.starts_with("rdp-cookie(") => Balance::RdpCookie(
            a.strip_prefix("rdp-cookie(")
                .and_then(|r| r.strip_suffix(')'))
                .map(str::to_string),
        ),
        _ => {
            ctx.alert(format!(
                "'balance' only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hdr(name)', 'rdp-cookie(name)', 'random', 'first' and 'hash' options (got '{algo}')."
            ));
            return;
        }
    };
    p.balance = b;
}

fn parse_timeout(ctx: &mut Ctx<'_>, p: &mut Proxy, w: &[String]) {
    let Some(name) = arg(w, 1) else {
        ctx.alert("'timeout' expects 'client', 'http-keep-alive', 'http-request', 'server', 'connect', 'check', 'queue', 'tunnel', 'tarpit', 'client-fin' and 'server-fin'.".to_string());
        return;
    };
    let (slot, cap) = match name {
        "client" | "clitimeout" => (&mut p.timeouts.client, F),
        "server" | "srvtimeout" => (&mut p.timeouts.server, B),
        "connect" | "contimeout" => (&mut p.timeouts.connect, B),
        "tunnel" => (&mut p.timeouts.tunnel, B),
        "http-request" => (&mut p.timeouts.http_request, F | B),
        "http-keep-alive" => (&mut p.timeouts.http_keep_alive, F | B),
        "queue" => (&mut p.timeouts.queue, B),
        "check" => (&mut p.timeouts.check, B),
        "client-fin" => (&mut p.timeouts.client_fin, F),
        "server-fin" => (&mut p.timeouts.server_fin, B),
        "tarpit" => (&mut p.timeouts.tarpit, F | B),
        _ => {
            ctx.alert(format!("'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' (got '{name}')"));
            return;
        }
    };
    let Some(v) = arg(w, 2) else {
        ctx.alert(format!(
            "'timeout {name}' expects an integer value (in milliseconds)"
        ));
        return;
    };
    if w.len() > 3 {
        ctx.alert(format!(
            "'timeout {name}' cannot handle unexpected argument '{}'.",
            w[3]
        ));
        return;
    }
    match ctx.duration(&format!("timeout {name}"), v, TimeUnit::Ms) {
        Ok(d) => {
            let has = match p.kind {
                ProxyKind::Frontend => cap & F != 0,
                ProxyKind::Backend => cap & B != 0,
                _ => true,
            };
            if has {
                *slot = Some(d);
            } else {
                let missing = if cap & F != 0 { "frontend" } else { "backend" };
                ctx.warn(format!(
                    "'timeout {name}' ignored because {} '{}' has no {missing} capability.",
                    p.kind.keyword(),
                    p.name
                ));
            }
        }
        Err(e) => ctx.alert(format!("'timeout {name}' : {e}")),
    }
}

/// Options that are plain booleans (the `other` map), per HAProxy's `cfg_opts`/`cfg_opts2`.
const BOOL_OPTIONS: &[&str] = &[
    "abortonclose",
    "accept-invalid-http-request",
    "accept-invalid-http-response",
    "allbackups",
    "checkcache",
    "clitcpka",
    "contstats",
    "disable-h2-upgrade",
    "dontlog-normal",
    "forwarded",
    "h1-case-adjust-bogus-client",
    "h1-case-adjust-bogus-server",
    "http-buffer-request",
    "http-drop-request-trailers",
    "http-drop-response-trailers",
    "http-ignore-probes",
    "http-no-delay",
    "http-pretend-keepalive",
    "http-restrict-req-hdr-names",
    "http-use-proxy-header",
    "httpslog",
    "idle-close-on-response",
    "independent-streams",
    "log-health-checks",
    "log-separate-errors",
    "logasap",
    "nolinger",
    "originalto",
    "persist",
    "prefer-last-server",
    "socket-stats",
    "splice-auto",
    "splice-request",
    "splice-response",
    "spop-check",
    "srvtcpka",
    "tcp-smart-accept",
    "tcp-smart-connect",
    "tcpka",
    "transparent",
    "http-tunnel",
    "forceclose",
    "assume-http-backend",
];

fn parse_option(ctx: &mut Ctx<'_>, p: &mut Proxy, w: &[String], i: usize, on: bool) {
    let Some(name) = arg(w, i) else {
        ctx.alert("'option' expects an option name.".to_string());
        return;
    };
    let rest = w.get(i + 1..).unwrap_or_default();
    let o = &mut p.options;
    match name {
        "redispatch" => o.redispatch = Some(on),
        "forwardfor" => {
            if !on {
                o.forwardfor = None;
                return;
            }
            let mut ff = ForwardFor {
                except: None,
                header: "X-Forwarded-For".to_string(),
                if_none: false,
            };
            let mut j = 0;
            while let Some(k) = rest.get(j).map(String::as_str) {
                match (k, rest.get(j + 1)) {
                    ("except", Some(v)) => ff.except = Some(v.clone()),
                    ("header", Some(v)) => ff.header = v.clone(),
                    ("if-none", _) => {
                        ff.if_none = true;
                        j += 1;
                        continue;
                    }
                    _ => {
                        ctx.alert(format!("'option forwardfor' only supports optional values 'except', 'header' and 'if-none' (got '{k}')."));
                        return;
                    }
                }
                j += 2;
            }
            o.forwardfor = Some(ff);
        }
        "httplog" => {
            o.httplog = if on {
                Some(rest.first().is_some_and(|r| r == "clf"))
            } else {
                None
            };
            if on {
                o.tcplog = false;
            }
        }
        "tcplog" => {
            o.tcplog = on;
            if on {
                o.httplog = None;
            }
        }
        "dontlognull" => o.dontlognull = on,
        "http-keep-alive" => o.http_conn_mode = HttpConnMode::KeepAlive,
        "http-server-close" => {
            o.http_conn_mode = if on {
                HttpConnMode::ServerClose
            } else {
                HttpConnMode::KeepAlive
            }
        }
        "httpclose" => {
            o.http_conn_mode = if on {
                HttpConnMode::Close
            } else {
                HttpConnMode::KeepAlive
            }
        }
        "httpchk" => {
            if !on {
                o.check = CheckKind::Tcp;
                return;
            }
            let mut c = HttpChk {
                method: "OPTIONS".into(),
                uri: "/".into(),
                version: "HTTP/1.0".into(),
                extra: None,
            };
            match rest.len() {
                0 => {}
                1 => c.uri = rest[0].clone(),
                _ => {
                    c.method = rest[0].clone();
                    c.uri = rest[1].clone();
                    if let Some(v) = rest.get(2) {
                        // Old style "HTTP/1.1\r\nHost:\ x" stays in version; split it.
                        match v.split_once("\r\n") {
                            Some((ver, extra)) => {
                                c.version = ver.to_string();
                                c.extra = Some(extra.to_string());
                            }
                            None => c.version = v.clone(),
                        }
                    }
                    if let Some(h) = rest.get(3) {
                        c.extra = Some(h.clone());
                    }
                }
            }
            o.check = CheckKind::Http(c);
        }
        "tcp-check" => o.check = if on { CheckKind::TcpCheck } else { CheckKind::Tcp },
        "ssl-hello-chk" => o.check = if on { CheckKind::SslHello } else { CheckKind::Tcp },
        "mysql-check" => {
            o.check = if on {
                CheckKind::Mysql(rest.to_vec())
            } else {
                CheckKind::Tcp
            }
        }
        "pgsql-check" => {
            o.check = if on {
                CheckKind::Pgsql(rest.to_vec())
            } else {
                CheckKind::Tcp
            }
        }
        "redis-check" => o.check = if on { CheckKind::Redis } else { CheckKind::Tcp },
        "smtpchk" => {
            o.check = if on {
                CheckKind::Smtp(rest.to_vec())
            } else {
                CheckKind::Tcp
            }
        }
        "ldap-check" => o.check = if on { CheckKind::Ldap } else { CheckKind::Tcp },
        "spop-check" => o.check = if on { CheckKind::Spop } else { CheckKind::Tcp },
        "external-check" => o.check = if on { CheckKind::External } else { CheckKind::Tcp },
        "http-use-htx" => ctx.alert("unknown option 'http-use-htx'.".to_string()),
        n if BOOL_OPTIONS.contains(&n) => {
            if matches!(n, "http-tunnel" | "forceclose") {
                ctx.warn(format!("option '{n}' is deprecated and ignored."));
            }
            o.other.insert(n.to_string(), (on, rest.to_vec()));
        }
        _ => {
            const TYPED: &[&str] = &[
                "redispatch",
                "forwardfor",
                "httplog",
                "tcplog",
                "dontlognull",
                "http-keep-alive",
                "http-server-close",
                "httpclose",
                "httpchk",
                "tcp-check",
                "ssl-hello-chk",
                "mysql-check",
                "pgsql-check",
                "redis-check",
                "smtpchk",
                "ldap-check",
                "spop-check",
                "external-check",
            ];
            let hint = match suggest(name, TYPED) {
                Some(c) => format!("; did you mean '{c}' maybe ?"),
                None => did_you_mean(name, BOOL_OPTIONS),
            };
            ctx.alert(format!("unknown option '{name}'{hint}."));
        }
    }
}

/// Server parameters that take one value and are stored in `other`.
const SERVER_VALUED_OTHER: &[&str] = &[
    "redir",
    "source",
    "sni",
    "check-sni",
    "alpn",
    "check-alpn",
    "proto",
    "check-proto",
    "ca-file",
    "crt",
    "crl-file",
    "ciphers",
    "ciphersuites",
    "ssl-min-ver",
    "ssl-max-ver",
    "pool-max-conn",
    "pool-purge-delay",
    "pool-low-conn",
    "max-reuse",
    "namespace",
    "socks4",
    "proxy-v2-options",
    "ws",
    "log-proto",
    "curves",
    "sigalgs",
    "client-sigalgs",
    "verifyhost",
    "npn",
    "resolve-net",
    "resolve-opts",
    "set-proxy-v2-tlv-fmt",
    "guid",
    "hash-key",
    "tcp-ut",
    "usesrc",
    "interface",
    "shard",
    "log-bufsize",
    "pool-conn-name",
    "check-reuse-pool",
    "check-pool-conn-name",
];

/// Server parameters without a value stored in `other`.
const SERVER_FLAG_OTHER: &[&str] = &[
    "non-stick",
    "stick",
    "tfo",
    "allow-0rtt",
    "no-verifyhost",
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "ssl-reuse",
    "no-ssl-reuse",
    "tls-tickets",
    "no-tls-tickets",
    "force-sslv3",
    "force-tlsv10",
    "force-tlsv11",
    "force-tlsv12",
    "force-tlsv13",
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "check-ssl",
    "no-check-ssl",
    "check-via-socks4",
    "no-tfo",
    "no-agent-check",
    "no-backup",
    "no-send-proxy",
    "no-send-proxy-v2",
    "enabled",
    "no-check-send-proxy",
    "no-ssl",
    "no-tls-tickets",
];

/// TLS-related server parameters: accepted with a warning, server-side TLS is not implemented.
const SERVER_TLS: &[&str] = &[
    "ssl",
    "verify",
    "sni",
    "ca-file",
    "crt",
    "crl-file",
    "ciphers",
    "ciphersuites",
    "check-ssl",
    "ssl-min-ver",
    "ssl-max-ver",
];

/// Parses server parameters starting at `w[i]`. Returns false after an alert.
fn parse_server_params(
    ctx: &mut Ctx<'_>,
    sp: &mut ServerParams,
    w: &[String],
    mut i: usize,
    is_default: bool,
) -> bool {
    let mut warned_tls = false;
    while let Some(k) = arg(w, i) {
        let v = arg(w, i + 1);
        if SERVER_TLS.contains(&k) && !warned_tls {
            warned_tls = true;
            ctx.warn(format!("server-side TLS ('{k}') is not implemented by ringlb yet; connections to this server will not use TLS."));
        }
        let flag = match k {
            "check" => {
                sp.check = true;
                true
            }
            "no-check" => {
                sp.check = false;
                true
            }
            "backup" => {
                sp.backup = true;
                true
            }
            "no-backup" => {
                sp.backup = false;
                true
            }
            "disabled" => {
                sp.disabled = true;
                true
            }
            "enabled" => {
                sp.disabled = false;
                true
            }
            "agent-check" => {
                sp.agent_check = true;
                true
            }
            "no-agent-check" => {
                sp.agent_check = false;
                true
            }
            "send-proxy" => {
                sp.send_proxy = true;
                true
            }
            "no-send-proxy" => {
                sp.send_proxy = false;
                true
            }
            "send-proxy-v2" => {
                sp.send_proxy_v2 = true;
                true
            }
            "no-send-proxy-v2" => {
                sp.send_proxy_v2 = false;
                true
            }
            "check-send-proxy" => {
                sp.check_send_proxy = true;
                true
            }
            "ssl" => {
                sp.ssl = true;
                true
            }
            "no-ssl" => {
                sp.ssl = false;
                true
            }
            f if SERVER_FLAG_OTHER.contains(&f) => {
                sp.other.insert(f.to_string(), None);
                true
            }
            _ => false,
        };
        if flag {
            i += 1;
            continue;
        }
        let known_valued = matches!(
            k,
            "inter"
                | "fastinter"
                | "downinter"
                | "rise"
                | "fall"
                | "port"
                | "addr"
                | "weight"
                | "maxconn"
                | "maxqueue"
                | "minconn"
                | "agent-port"
                | "agent-inter"
                | "agent-addr"
                | "agent-send"
                | "observe"
                | "error-limit"
                | "on-error"
                | "on-marked-down"
                | "on-marked-up"
                | "init-addr"
                | "resolvers"
                | "resolve-prefer"
                | "cookie"
                | "slowstart"
                | "id"
                | "track"
                | "verify"
        ) || SERVER_VALUED_OTHER.contains(&k);
        if !known_valued {
            let what = if is_default { "default-server" } else { "server" };
            ctx.alert(format!("'{what}' unknown keyword '{k}'."));
            return false;
        }
        let Some(v) = v else {
            ctx.alert(format!("'{k}' expects an argument."));
            return false;
        };
        let dur = |ctx: &mut Ctx<'_>| match ctx.duration(k, v, TimeUnit::Ms) {
            Ok(d) if d.is_zero() => {
                ctx.alert(format!("invalid value 0 for argument '{k}'."));
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                ctx.alert(format!("'{k}' : {e}."));
                None
            }
        };
        let int = |ctx: &mut Ctx<'_>| match parse_u32(v) {
            Ok(n) => Some(n),
            Err(_) => {
                ctx.alert(format!("'{k}' expects an integer argument (got '{v}')."));
                None
            }
        };
        let port = |ctx: &mut Ctx<'_>| match parse_u32(v) {
            Ok(n) if (1..=65535).contains(&n) => Some(n as u16),
            _ => {
                ctx.alert(format!("'{k}' expects a valid port number (got '{v}')."));
                None
            }
        };
        let ok = match k {
            "inter" => dur(ctx).map(|d| sp.inter = Some(d)).is_some(),
            "fastinter" => dur(ctx).map(|d| sp.fastinter = Some(d)).is_some(),
            "downinter" => dur(ctx).map(|d| sp.downinter = Some(d)).is_some(),
            "agent-inter" => dur(ctx).map(|d| sp.agent_inter = Some(d)).is_some(),
            "slowstart" => match ctx.duration(k, v, TimeUnit::Ms) {
                Ok(d) => {
                    sp.slowstart = Some(d);
                    true
                }
                Err(e) => {
                    ctx.alert(format!("'{k}' : {e}."));
                    false
                }
            },
            "rise" | "fall" => match int(ctx) {
                Some(0) => {
                    ctx.alert(format!("'{k}' has to be > 0."));
                    false
                }
                Some(n) => {
                    if k == "rise" {
                        sp.rise = Some(n);
                    } else {
                        sp.fall = Some(n);
                    }
                    true
                }
                None => false,
            },
            "port" => port(ctx).map(|p| sp.check_port = Some(p)).is_some(),
            "agent-port" => port(ctx).map(|p| sp.agent_port = Some(p)).is_some(),
            "weight" => {
                // HAProxy reads the weight with atol(): trailing characters are ignored.
                let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
                match parse_u32(&digits) {
                    Ok(n) if n <= 256 => {
                        if digits.len() != v.len() {
                            ctx.warn(format!(
                                "'weight {v}' : trailing characters ignored, weight is {n}."
                            ));
                        }
                        sp.weight = Some(n);
                        true
                    }
                    _ => {
                        ctx.alert(format!("weight of server must be between 0 and 256 (got '{v}')."));
                        false
                    }
                }
            }
            "maxconn" => int(ctx).map(|n| sp.maxconn = Some(n)).is_some(),
            "maxqueue" => int(ctx).map(|n| sp.maxqueue = Some(n)).is_some(),
            "minconn" => int(ctx).map(|n| sp.minconn = Some(n)).is_some(),
            "error-limit" => int(ctx).map(|n| sp.error_limit = Some(n)).is_some(),
            "id" => int(ctx).map(|n| sp.id = Some(n)).is_some(),
            "addr" => {
                let a = ctx.expand_addr(v);
                let parsed = match a.parse::<std::net::IpAddr>() {
                    Ok(ip) => Ok(Address::Inet {
                        family: super::values::Family::Any,
                        host: super::values::Host::Ip(ip),
                        port: Port::None,
                    }),
                    Err(_) => parse_address(&a, AddrUse::Other),
                };
                match parsed {
                    Ok(Address::Inet {
                        host,
                        port: Port::None,
                        ..
                    }) => {
                        sp.check_addr = Some(host);
                        true
                    }
                    _ => {
                        ctx.alert(format!("'addr' : invalid address '{v}'."));
                        false
                    }
                }
            }
            "observe" => {
                if matches!(v, "layer4" | "layer7" | "none") {
                    sp.observe = Some(v.to_string());
                    true
                } else {
                    ctx.alert(format!(
                        "'observe' expects one of 'none', 'layer4', 'layer7' but got '{v}'."
                    ));
                    false
                }
            }
            "on-error" => {
                if matches!(v, "fastinter" | "fail-check" | "sudden-death" | "mark-down") {
                    sp.on_error = Some(v.to_string());
                    true
                } else {
                    ctx.alert(format!("'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down' but got '{v}'."));
                    false
                }
            }
            "on-marked-down" => {
                if v == "shutdown-sessions" {
                    sp.on_marked_down = Some(v.to_string());
                    true
                } else {
                    ctx.alert(format!(
                        "'on-marked-down' expects 'shutdown-sessions' but got '{v}'."
                    ));
                    false
                }
            }
            "on-marked-up" => {
                if v == "shutdown-backup-sessions" {
                    sp.on_marked_up = Some(v.to_string());
                    true
                } else {
                    ctx.alert(format!(
                        "'on-marked-up' expects 'shutdown-backup-sessions' but got '{v}'."
                    ));
                    false
                }
            }
            "init-addr" => {
                let methods: Vec<String> = v.split(',').map(str::to_string).collect();
                let bad = methods.iter().find(|m| {
                    !matches!(m.as_str(), "last" | "libc" | "none") && m.parse::<std::net::IpAddr>().is_err()
                });
                match bad {
                    Some(m) => {
                        ctx.alert(format!("'init-addr' : unsupported method '{m}'."));
                        false
                    }
                    None => {
                        sp.init_addr = Some(methods);
                        true
                    }
                }
            }
            "resolvers" => {
                sp.resolvers = Some(v.to_string());
                true
            }
            "resolve-prefer" => {
                if matches!(v, "ipv4" | "ipv6") {
                    sp.resolve_prefer = Some(v.to_string());
                    true
                } else {
                    ctx.alert(format!("'resolve-prefer' expects 'ipv4' or 'ipv6', got '{v}'."));
                    false
                }
            }
            "cookie" => {
                sp.cookie = Some(v.to_string());
                true
            }
            "track" => {
                sp.track = Some(v.to_string());
                true
            }
            "agent-addr" => {
                sp.agent_addr = Some(v.to_string());
                true
            }
            "agent-send" => {
                sp.agent_send = Some(v.to_string());
                true
            }
            "verify" => {
                if matches!(v, "none" | "required") {
                    sp.verify = Some(v.to_string());
                    true
                } else {
                    ctx.alert(format!("'verify' expects 'none' or 'required' (got '{v}')."));
                    false
                }
            }
            _ => {
                sp.other.insert(k.to_string(), Some(v.to_string()));
                true
            }
        };
        if !ok {
            return false;
        }
        i += 2;
    }
    true
}

fn parse_server(ctx: &mut Ctx<'_>, p: &mut Proxy, w: &[String]) {
    let (Some(name), Some(addr)) = (arg(w, 1), arg(w, 2)) else {
        ctx.alert("'server' expects <name> and <addr>[:<port>] as arguments.".to_string());
        return;
    };
    if let Some(c) = invalid_char(name) {
        ctx.alert(format!(
            "character '{c}' is not permitted in server name '{name}'."
        ));
        return;
    }
    if p.servers.len() >= SERVERS_PER_BACKEND_MAX {
        ctx.alert(format!(
            "too many servers in backend '{}' (max {SERVERS_PER_BACKEND_MAX}).",
            p.name
        ));
        return;
    }
    let expanded = ctx.expand_addr(addr);
    let addr = match parse_address(&expanded, AddrUse::Server) {
        Ok(a) => a,
        Err(e) => {
            ctx.alert(format!("'server {}/{name}' : {e}", p.name));
            return;
        }
    };
    let mut params = p.default_server.clone();
    if parse_server_params(ctx, &mut params, w, 3, false) && ctx.charge(1) {
        p.servers.push(Server {
            name: name.to_string(),
            addr,
            params,
            place: ctx.place.clone(),
        });
    }
}

fn parse_server_template(ctx: &mut Ctx<'_>, p: &mut Proxy, w: &[String]) {
    let (Some(prefix), Some(num), Some(addr)) = (arg(w, 1), arg(w, 2), arg(w, 3)) else {
        ctx.alert(
            "'server-template' expects <prefix> <nb | range> <addr>[:<port>] as arguments.".to_string(),
        );
        return;
    };
    let range = match num.split_once('-') {
        Some((a, b)) => parse_u32(a).and_then(|a| parse_u32(b).map(|b| (a, b))),
        None => parse_u32(num).map(|n| (1, n)),
    };
    let (lo, hi) = match range {
        Ok((lo, hi)) if lo >= 1 && hi >= lo && hi - lo < SERVER_TEMPLATE_COUNT_MAX => (lo, hi),
        _ => {
            ctx.alert(format!(
                "'server-template' : invalid range '{num}' (1 to {SERVER_TEMPLATE_COUNT_MAX} servers)."
            ));
            return;
        }
    };
    let expanded = ctx.expand_addr(addr);
    let addr = match parse_address(&expanded, AddrUse::Server) {
        Ok(a) => a,
        Err(e) => {
            ctx.alert(format!("'server-template {prefix}' : {e}"));
            return;
        }
    };
    let mut params = p.default_server.clone();
    if !parse_server_params(ctx, &mut params, w, 4, false) || !ctx.charge((hi - lo + 1) as usize) {
        return;
    }
    for n in lo..=hi {
        if p.servers.len() >= SERVERS_PER_BACKEND_MAX {
            ctx.alert(format!(
                "too many servers in backend '{}' (max {SERVERS_PER_BACKEND_MAX}).",
                p.name
            ));
            return;
        }
        p.servers.push(Server {
            name: format!("{prefix}{n}"),
            addr: addr.clone(),
            params: params.clone(),
            place: ctx.place.clone(),
        });
    }
}

fn parse_status(s: Option<&str>) -> Result<u16, String> {
    match s.map(parse_u32) {
        Some(Ok(n)) if (100..=599).contains(&n) => Ok(n as u16),
        _ => Err(format!("invalid status code '{}'", s.unwrap_or_default())),
    }
}

fn fmt_arg(s: &str) -> Result<Vec<FmtPart>, String> {
    parse_format(s)
}

/// Known `http-request`/`http-response` actions stored as [`HttpAction::Other`].
const HTTP_OTHER_ACTIONS: &[&str] = &[
    "add-acl",
    "del-acl",
    "set-map",
    "del-map",
    "capture",
    "set-log-level",
    "set-nice",
    "set-tos",
    "set-mark",
    "set-method",
    "set-uri",
    "set-query",
    "set-pathq",
    "replace-uri",
    "set-src",
    "set-src-port",
    "set-dst",
    "set-dst-port",
    "set-bandwidth-limit",
    "set-timeout",
    "silent-drop",
    "reject",
    "track-sc0",
    "track-sc1",
    "track-sc2",
    "sc-inc-gpc0",
    "sc-inc-gpc1",
    "sc-inc-gpc",
    "sc-set-gpt0",
    "sc-set-gpt",
    "sc-add-gpc",
    "early-hint",
    "normalize-uri",
    "strict-mode",
    "disable-l7-retry",
    "wait-for-body",
    "wait-for-handshake",
    "set-priority-class",
    "set-priority-offset",
    "do-resolve",
    "cache-use",
    "cache-store",
    "set-retries",
    "set-fc-mark",
    "set-fc-tos",
    "set-bc-mark",
    "set-bc-tos",
    "unset-var",
    "set-var",
    "set-var-fmt",
    "pause",
];

fn parse_http_rule(ctx: &mut Ctx<'_>, w: &[String], known: &dyn Fn(&str) -> bool) -> Option<HttpRule> {
    let kw = w.first().map(String::as_str).unwrap_or_default();
    let place = ctx.place.clone();
    let (head, cond) = match split_condition(w.get(1..).unwrap_or_default(), known) {
        Ok(x) => x,
        Err(e) => {
            let act = arg(w, 1).unwrap_or_default();
            ctx.alert(format!(
                "error detected while parsing an '{kw} {act}' condition : {e}."
            ));
            return None;
        }
    };
    let Some(action) = head.first().map(String::as_str) else {
        ctx.alert(format!("'{kw}' expects an action."));
        return None;
    };
    let args = head.get(1..).unwrap_or_default();
    let a = |i: usize| args.get(i).map(String::as_str);
    let res: Result<HttpAction, String> = (|| {
        Ok(match action {
            "allow" => HttpAction::Allow,
            "deny" | "tarpit" => {
                let mut status = if action == "deny" { 403 } else { 500 };
                let mut i = 0;
                while let Some(k) = a(i) {
                    match k {
                        "deny_status" | "status" => status = parse_status(a(i + 1))?,
                        "content-type" | "string" | "lf-string" | "file" | "lf-file" | "errorfile"
                        | "errorfiles" | "hdr" => {
                            if k == "hdr" {
                                i += 1;
                            }
                        }
                        "default-errorfiles" => {
                            i += 1;
                            continue;
                        }
                        _ => return Err(format!("unexpected keyword '{k}'")),
                    }
                    i += 2;
                }
                if action == "deny" {
                    HttpAction::Deny { status }
                } else {
                    HttpAction::Tarpit { status }
                }
            }
            "auth" => HttpAction::Auth {
                realm: if a(0) == Some("realm") {
                    a(1).map(str::to_string)
                } else {
                    None
                },
            },
            "redirect" => HttpAction::Redirect(parse_redirect(args)?),
            "return" => {
                let mut status = 200;
                let mut content_type = None;
                let mut body = ReturnBody::None;
                let mut headers = Vec::new();
                let mut i = 0;
                while let Some(k) = a(i) {
                    let v = a(i + 1);
                    match k {
                        "default-errorfiles" => {
                            body = ReturnBody::DefaultErrorFiles;
                            i += 1;
                            continue;
                        }
                        "hdr" => {
                            match (v, a(i + 2)) {
                                (Some(n), Some(val)) => headers.push((n.to_string(), val.to_string())),
                                _ => return Err("'hdr' expects <name> and <fmt>".to_string()),
                            }
                            i += 3;
                            continue;
                        }
                        _ => {}
                    }
                    let Some(v) = v else {
                        return Err(format!("'{k}' expects an argument"));
                    };
                    match k {
                        "status" => status = parse_status(Some(v))?,
                        "content-type" => content_type = Some(v.to_string()),
                        "string" => body = ReturnBody::String(v.to_string()),
                        "lf-string" => body = ReturnBody::LfString(v.to_string()),
                        "file" => body = ReturnBody::File(v.to_string()),
                        "lf-file" => body = ReturnBody::LfFile(v.to_string()),
                        "errorfile" => body = ReturnBody::ErrorFile(v.to_string()),
                        "errorfiles" => {}
                        _ => return Err(format!("unexpected keyword '{k}'")),
                    }
                    i += 2;
                }
                if matches!(
                    body,
                    ReturnBody::String(_)
                        | ReturnBody::LfString(_)
                        | ReturnBody::File(_)
                        | ReturnBody::LfFile(_)
                ) && content_type.is_none()
                {
                    return Err("a 'content-type' is required when a body is set".to_string());
                }
                HttpAction::Return {
                    status,
                    content_type,
                    body,
                    headers,
                }
            }
            "set-header" | "add-header" => {
                let (Some(n), Some(v)) = (a(0), a(1)) else {
                    return Err("expects exactly 2 arguments".to_string());
                };
                if args.len() > 2 {
                    return Err("expects exactly 2 arguments".to_string());
                }
                let value = fmt_arg(v)?;
                if action == "set-header" {
                    HttpAction::SetHeader {
                        name: n.to_string(),
                        value,
                    }
                } else {
                    HttpAction::AddHeader {
                        name: n.to_string(),
                        value,
                    }
                }
            }
            "del-header" => match a(0) {
                Some(n) => HttpAction::DelHeader { name: n.to_string() },
                None => return Err("expects exactly 1 argument".to_string()),
            },
            "replace-header" | "replace-value" => {
                let (Some(n), Some(r), Some(v)) = (a(0), a(1), a(2)) else {
                    return Err("expects exactly 3 arguments".to_string());
                };
                if action == "replace-header" {
                    HttpAction::ReplaceHeader {
                        name: n.into(),
                        regex: r.into(),
                        replace: v.into(),
                    }
                } else {
                    HttpAction::ReplaceValue {
                        name: n.into(),
                        regex: r.into(),
                        replace: v.into(),
                    }
                }
            }
            "set-path" => match a(0) {
                Some(v) => HttpAction::SetPath(fmt_arg(v)?),
                None => return Err("expects exactly 1 argument".to_string()),
            },
            "replace-path" => match (a(0), a(1)) {
                (Some(r), Some(v)) => HttpAction::ReplacePath {
                    regex: r.into(),
                    replace: v.into(),
                },
                _ => return Err("expects exactly 2 arguments".to_string()),
            },
            "set-status" => HttpAction::SetStatus(parse_status(a(0))?),
            "use-service" => match a(0) {
                Some("prometheus-exporter") => HttpAction::UseService("prometheus-exporter".into()),
                Some(s) => return Err(format!("'{s}' unknown service name (ringlb has no Lua)")),
                None => return Err("expects a service name".to_string()),
            },
            a0 if a0.starts_with("lua.") => {
                return Err(format!("'{a0}' is not supported by ringlb (no Lua)"))
            }
            "send-spoe-group" => {
                return Err("'send-spoe-group' is not supported by ringlb (no SPOE)".to_string())
            }
            a0 if HTTP_OTHER_ACTIONS.contains(&a0)
                || a0.starts_with("set-var(")
                || a0.starts_with("set-var-fmt(")
                || a0.starts_with("unset-var(")
                || a0.starts_with("add-acl(")
                || a0.starts_with("del-acl(")
                || a0.starts_with("set-map(")
                || a0.starts_with("del-map(")
                || a0.starts_with("sc-inc-gpc")
                || a0.starts_with("sc-set-gpt")
                || a0.starts_with("sc-add-gpc")
                || a0.starts_with("track-sc") =>
            {
                HttpAction::Other {
                    action: a0.to_string(),
                    args: args.to_vec(),
                }
            }
            _ => return Err(format!("unknown action '{action}'")),
        })
    })();
    match res {
        Ok(action) => Some(HttpRule { action, cond, place }),
        Err(e) => {
            ctx.alert(format!("'{kw} {action}' : {e}."));
            None
        }
    }
}

fn parse_redirect(w: &[String]) -> Result<Redirect, String> {
    let kind = match w.first().map(String::as_str) {
        Some(k @ ("location" | "prefix" | "scheme")) => k,
        _ => return Err("expects 'location', 'prefix' or 'scheme' followed by the destination".to_string()),
    };
    let Some(to) = w.get(1) else {
        return Err(format!("'{kind}' expects a destination"));
    };
    let mut r = Redirect {
        kind: kind.to_string(),
        to: to.clone(),
        code: 302,
        options: Vec::new(),
    };
    let mut i = 2;
    while let Some(k) = w.get(i).map(String::as_str) {
        match k {
            "code" => {
                let c = w.get(i + 1).map(|s| parse_u32(s));
                match c {
                    Some(Ok(c @ (301 | 302 | 303 | 307 | 308))) => r.code = c as u16,
                    _ => return Err("'code' expects 301, 302, 303, 307 or 308".to_string()),
                }
                i += 2;
            }
            "set-cookie" | "clear-cookie" => {
                let v = w.get(i + 1).ok_or_else(|| format!("'{k}' expects a cookie"))?;
                r.options.push(format!("{k} {v}"));
                i += 2;
            }
            "drop-query" | "append-slash" | "ignore-empty" => {
                r.options.push(k.to_string());
                i += 1;
            }
            _ => return Err(format!("expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query', 'ignore-empty' or 'append-slash' (was '{k}')")),
        }
    }
    Ok(r)
}

fn parse_tcp_rule(
    ctx: &mut Ctx<'_>,
    w: &[String],
    known: &dyn Fn(&str) -> bool,
    p: &Proxy,
) -> Option<TcpRule> {
    let kw = w.first().map(String::as_str).unwrap_or_default();
    let place = ctx.place.clone();
    let Some(phase) = arg(w, 1) else {
        ctx.alert(format!(
            "'{kw}' expects 'inspect-delay', 'connection', 'session' or 'content'."
        ));
        return None;
    };
    let phases: &[&str] = if kw == "tcp-request" {
        &["inspect-delay", "connection", "session", "content"]
    } else {
        &["inspect-delay", "content"]
    };
    if !phases.contains(&phase) {
        ctx.alert(format!(
            "'{kw}' expects 'inspect-delay', 'connection', 'session' or 'content' (got '{phase}')."
        ));
        return None;
    }
    if phase == "inspect-delay" {
        let d = dur_arg(ctx, w, 2)?;
        return Some(TcpRule {
            phase: phase.into(),
            action: String::new(),
            args: Vec::new(),
            delay: Some(d),
            cond: None,
            place,
        });
    }
    let (head, cond) = match split_condition(w.get(2..).unwrap_or_default(), known) {
        Ok(x) => x,
        Err(e) => {
            ctx.alert(format!(
                "error detected in {} '{}' while parsing '{kw} {phase}' condition : {e}.",
                p.kind.keyword(),
                p.name
            ));
            return None;
        }
    };
    let Some(action) = head.first().map(String::as_str) else {
        ctx.alert(format!("'{kw} {phase}' expects an action."));
        return None;
    };
    const ACTIONS: &[&str] = &[
        "accept",
        "reject",
        "capture",
        "expect-proxy",
        "expect-netscaler-cip",
        "set-log-level",
        "set-nice",
        "switch-mode",
        "set-src",
        "set-src-port",
        "set-dst",
        "set-dst-port",
        "set-mark",
        "set-tos",
        "silent-drop",
        "set-priority-class",
        "set-priority-offset",
        "close",
        "set-bandwidth-limit",
        "do-resolve",
        "set-fc-mark",
        "set-fc-tos",
        "attach-srv",
    ];
    let ok = ACTIONS.contains(&action)
        || action.starts_with("track-sc")
        || action.starts_with("sc-inc-gpc")
        || action.starts_with("sc-set-gpt")
        || action.starts_with("sc-add-gpc")
        || action.starts_with("set-var")
        || action.starts_with("unset-var")
        || action.starts_with("do-resolve(")
        || action == "use-service" && arg(w, 3) == Some("prometheus-exporter");
    if !ok {
        if action.starts_with("lua.") || action == "send-spoe-group" || action == "use-service" {
            ctx.alert(format!(
                "'{kw} {phase} {action}' is not supported by ringlb (no Lua/SPOE)."
            ));
        } else {
            ctx.alert(format!(
                "'{kw} {phase}' unknown action '{action}' in {} '{}'.",
                p.kind.keyword(),
                p.name
            ));
        }
        return None;
    }
    Some(TcpRule {
        phase: phase.into(),
        action: action.into(),
        args: head.get(1..).unwrap_or_default().to_vec(),
        delay: None,
        cond,
        place,
    })
}

fn parse_check_rule(ctx: &mut Ctx<'_>, w: &[String]) -> Option<CheckRule> {
    let kw = w.first().map(String::as_str).unwrap_or_default();
    let place = ctx.place.clone();
    let Some(action) = arg(w, 1) else {
        ctx.alert(format!("'{kw}' expects an action."));
        return None;
    };
    let http = kw == "http-check";
    let known = if http {
        matches!(
            action,
            "comment"
                | "connect"
                | "disable-on-404"
                | "expect"
                | "send"
                | "send-state"
                | "set-var"
                | "unset-var"
        ) || action.starts_with("set-var")
            || action.starts_with("unset-var")
    } else {
        matches!(
            action,
            "comment"
                | "connect"
                | "expect"
                | "send"
                | "send-lf"
                | "send-binary"
                | "send-binary-lf"
                | "set-var"
                | "unset-var"
        ) || action.starts_with("set-var")
            || action.starts_with("unset-var")
    };
    if !known {
        ctx.alert(format!("'{kw}' : unknown keyword '{action}'."));
        return None;
    }
    let args = words_from(w, 2);
    let mut expect = None;
    if action == "expect" {
        match parse_expect(&args) {
            Ok(e) => expect = Some(e),
            Err(e) => {
                ctx.alert(format!("'{kw} expect' : {e}."));
                return None;
            }
        }
    }
    Some(CheckRule {
        action: action.to_string(),
        args,
        expect,
        place,
    })
}

/// Parses `[!] [options...] <match> <pattern>` of `http-check expect` / `tcp-check expect`.
fn parse_expect(args: &[String]) -> Result<CheckExpect, String> {
    const OPTIONS: &[&str] = &[
        "min-recv",
        "comment",
        "ok-status",
        "error-status",
        "tout-status",
        "on-success",
        "on-error",
        "status-code",
    ];
    const MATCHES: &[&str] = &[
        "status",
        "rstatus",
        "hdr",
        "fhdr",
        "string",
        "rstring",
        "binary",
        "rbinary",
        "string-lf",
        "binary-lf",
        "custom",
    ];
    let mut e = CheckExpect {
        negated: false,
        kind: String::new(),
        pattern: Vec::new(),
        options: Vec::new(),
    };
    let mut i = 0;
    loop {
        match args.get(i).map(String::as_str) {
            Some("!") => {
                e.negated = true;
                i += 1;
            }
            Some(o) if OPTIONS.contains(&o) => {
                let v = args
                    .get(i + 1)
                    .ok_or_else(|| format!("'{o}' expects an argument"))?;
                e.options.push((o.to_string(), v.clone()));
                i += 2;
            }
            Some(m) if MATCHES.contains(&m) => {
                e.kind = m.to_string();
                e.pattern = args.get(i + 1..).unwrap_or_default().to_vec();
                if e.pattern.is_empty() {
                    return Err(format!("'{m}' expects a pattern"));
                }
                return Ok(e);
            }
            Some(m) => return Err(format!("unknown match type '{m}'")),
            None => return Err("expects a match type and a pattern".to_string()),
        }
    }
}

fn parse_stats(ctx: &mut Ctx<'_>, p: &mut Proxy, w: &[String], known: &dyn Fn(&str) -> bool) {
    let s = &mut p.stats;
    match arg(w, 1) {
        Some("enable") => s.enabled = true,
        Some("disable") => s.enabled = false,
        Some("uri") => {
            if let Some(u) = need(ctx, w, 2, "a URI prefix") {
                s.uri = Some(u.to_string());
                s.enabled = true;
            }
        }
        Some("realm") => {
            if let Some(r) = need(ctx, w, 2, "a realm") {
                s.realm = Some(r.to_string());
                s.enabled = true;
            }
        }
        Some("auth") => match arg(w, 2).and_then(|a| a.split_once(':')) {
            Some((u, pw)) => {
                s.auth.push((u.to_string(), pw.to_string()));
                s.enabled = true;
            }
            None => ctx.alert("'stats auth' expects <user>:<password> in argument.".to_string()),
        },
        Some("refresh") => {
            if let Some(v) = need(ctx, w, 2, "a time value") {
                match parse_duration(v, TimeUnit::S) {
                    Ok(d) => {
                        s.refresh = Some(d);
                        s.enabled = true;
                    }
                    Err(e) => ctx.alert(format!("'stats refresh' : {e}.")),
                }
            }
        }
        Some("hide-version") => s.hide_version = true,
        Some("show-legends") => s.show_legends = true,
        Some("show-node") => s.show_node = Some(w.get(2).cloned()),
        Some("show-desc") => s.show_desc = Some(w.get(2..).map(|x| x.join(" ")).filter(|x| !x.is_empty())),
        Some("scope") => {
            if let Some(sc) = need(ctx, w, 2, "a proxy name") {
                s.scope.push(sc.to_string());
            }
        }
        Some("admin") => match Condition::parse(w.get(2..).unwrap_or_default(), known) {
            Ok(c) => s.admin.push(c),
            Err(e) => ctx.alert(format!("'stats admin' requires either 'if' or 'unless' followed by a condition ({e}).")),
        },
        Some("http-request") => s.http_request.push(words_from(w, 2)),
        Some("socket") => ctx.alert("'stats socket' is only allowed in 'global' section.".to_string()),
        Some("bind-process") => ctx.warn("'stats bind-process' is ignored (removed in HAProxy 2.5).".to_string()),
        Some("maxconn" | "timeout") => ctx.alert(format!("'stats {}' is only allowed in 'global' section.", arg(w, 1).unwrap_or_default())),
        other => ctx.alert(format!(
            "'stats' expects 'admin', 'auth', 'enable', 'hide-version', 'http-request', 'realm', 'refresh', 'scope', 'show-desc', 'show-legends', 'show-node' or 'uri' (got '{}').",
            other.unwrap_or_default()
        )),
    }
}

fn parse_stick_table(ctx: &mut Ctx<'_>, p: &mut Proxy, w: &[String]) {
    if arg(w, 1) != Some("type") {
        ctx.alert("'stick-table' expects 'type' followed by the key type.".to_string());
        return;
    }
    let Some(t) = arg(w, 2) else {
        ctx.alert("'stick-table type' expects a key type.".to_string());
        return;
    };
    if !matches!(t, "ip" | "ipv6" | "integer" | "string" | "binary") {
        ctx.alert(format!("'stick-table' : unknown type '{t}'."));
        return;
    }
    let mut st = StickTable {
        key_type: t.to_string(),
        size: 0,
        expire: None,
        other: Vec::new(),
    };
    let mut i = 3;
    while let Some(k) = arg(w, i) {
        match k {
            "size" => match arg(w, i + 1).map(parse_size) {
                Some(Ok(n)) => st.size = n,
                _ => {
                    ctx.alert("'stick-table size' expects a size.".to_string());
                    return;
                }
            },
            "expire" => match arg(w, i + 1).map(|v| parse_duration(v, TimeUnit::Ms)) {
                Some(Ok(d)) => st.expire = Some(d),
                _ => {
                    ctx.alert("'stick-table expire' expects a time value.".to_string());
                    return;
                }
            },
            "nopurge" | "write-to" => {
                st.other.push(k.to_string());
                if k == "write-to" {
                    st.other.push(arg(w, i + 1).unwrap_or_default().to_string());
                    i += 1;
                }
                i += 1;
                continue;
            }
            "len" | "peers" | "store" | "srvkey" | "recv-only" => {
                st.other.push(k.to_string());
                if let Some(v) = arg(w, i + 1) {
                    st.other.push(v.to_string());
                }
            }
            _ => {
                ctx.alert(format!("'stick-table' : unknown argument '{k}'."));
                return;
            }
        }
        i += 2;
    }
    if st.size == 0 {
        ctx.alert("'stick-table' : missing size.".to_string());
        return;
    }
    p.stick_table = Some(st);
}

// ---------------------------------------------------------------- other sections

fn program_kw(ctx: &mut Ctx<'_>, p: &mut Program, w: &[String]) {
    let kw = w.first().map(String::as_str).unwrap_or_default();
    match kw {
        "command" => {
            if w.len() < 2 {
                ctx.alert("'command' expects at least one argument.".to_string());
            } else {
                p.command = words_from(w, 1);
            }
        }
        "user" => set_string(ctx, w, &mut p.user),
        "group" => set_string(ctx, w, &mut p.group),
        "option" | "no" => {
            let (on, i) = if kw == "no" { (false, 2) } else { (true, 1) };
            if kw == "no" && arg(w, 1) != Some("option") {
                ctx.alert(format!("unknown keyword '{kw}' in 'program' section"));
            } else if arg(w, i) == Some("start-on-reload") {
                p.start_on_reload = on;
            } else {
                ctx.alert(format!(
                    "'{}' : unknown option '{}' in 'program' section.",
                    kw,
                    arg(w, i).unwrap_or_default()
                ));
            }
        }
        _ => ctx.alert(format!("unknown keyword '{kw}' in 'program' section")),
    }
}

fn userlist_kw(ctx: &mut Ctx<'_>, u: &mut Userlist, w: &[String]) {
    match arg(w, 0) {
        Some("user") => {
            let Some(name) = need(ctx, w, 1, "<username>") else {
                return;
            };
            let (pw, insecure) = match (arg(w, 2), arg(w, 3)) {
                (Some("password"), Some(p)) => (p, false),
                (Some("insecure-password"), Some(p)) => (p, true),
                _ => {
                    ctx.alert(format!(
                        "'user {name}' expects 'password' or 'insecure-password' followed by the password."
                    ));
                    return;
                }
            };
            let groups = match (arg(w, 4), arg(w, 5)) {
                (Some("groups"), Some(g)) => g.split(',').map(str::to_string).collect(),
                _ => Vec::new(),
            };
            u.users.push((name.to_string(), pw.to_string(), insecure, groups));
        }
        Some("group") => {
            let Some(name) = need(ctx, w, 1, "<groupname>") else {
                return;
            };
            let users = match (arg(w, 2), arg(w, 3)) {
                (Some("users"), Some(l)) => l.split(',').map(str::to_string).collect(),
                _ => Vec::new(),
            };
            u.groups.push((name.to_string(), users));
        }
        Some(k) => ctx.alert(format!("unknown keyword '{k}' in 'userlist' section")),
        None => {}
    }
}

fn other_kw(ctx: &mut Ctx<'_>, o: &mut OtherSection, w: &[String]) {
    let kw = w.first().map(String::as_str).unwrap_or_default();
    let allowed: &[&str] = match o.kind.as_str() {
        "resolvers" => &[
            "nameserver",
            "parse-resolv-conf",
            "accepted_payload_size",
            "resolve_retries",
            "timeout",
            "hold",
        ],
        "peers" => &[
            "peer",
            "server",
            "bind",
            "default-server",
            "default-bind",
            "disabled",
            "enabled",
            "log",
            "shards",
            "table",
        ],
        "mailers" => &["mailer", "timeout"],
        "cache" => &[
            "total-max-size",
            "max-object-size",
            "max-age",
            "process-vary",
            "max-secondary-entries",
        ],
        "ring" => &[
            "description",
            "format",
            "maxlen",
            "size",
            "timeout",
            "server",
            "backing-file",
        ],
        "http-errors" => &["errorfile"],
        "log-forward" => &[
            "bind",
            "dgram-bind",
            "log",
            "maxconn",
            "backlog",
            "timeout",
            "option",
        ],
        _ => &[],
    };
    if !allowed.contains(&kw) {
        ctx.alert(format!("unknown keyword '{kw}' in '{}' section", o.kind));
        return;
    }
    // Addresses in these sections are checked like HAProxy does.
    let addr_at = match (o.kind.as_str(), kw) {
        ("resolvers", "nameserver") | ("peers", "peer") | ("mailers", "mailer") => Some(2),
        _ => None,
    };
    if let Some(i) = addr_at {
        match arg(w, i) {
            Some(a) => {
                let a = ctx.expand_addr(a);
                let a = a.strip_prefix("tcp@").unwrap_or(&a).to_string();
                if let Err(e) = parse_address(&a, AddrUse::Server) {
                    ctx.alert(format!("'{kw}' : {e}."));
                    return;
                }
            }
            None => {
                ctx.alert(format!("'{kw}' expects <name> and <addr>[:<port>] as arguments."));
                return;
            }
        }
    }
    if kw == "hold" || kw == "timeout" {
        if let Some(v) = arg(w, 2) {
            if let Err(e) = parse_duration(v, TimeUnit::Ms) {
                ctx.alert(format!("'{kw} {}' : {e}.", arg(w, 1).unwrap_or_default()));
                return;
            }
        }
    }
    o.directives.push(Directive {
        place: ctx.place.clone(),
        words: w.to_vec(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn names() {
        for ok in ["be", "be-1", "a_b.c:d", "X9"] {
            assert_eq!(invalid_char(ok), None, "{ok}");
        }
        for (bad, c) in [("a/b", '/'), ("a b", ' '), ("é", 'é'), ("a%", '%')] {
            assert_eq!(invalid_char(bad), Some(c), "{bad}");
        }
    }

    #[test]
    fn versions() {
        use std::cmp::Ordering::*;
        assert_eq!(version_cmp("2.4"), Less);
        assert_eq!(version_cmp("2.6"), Equal);
        assert_eq!(version_cmp("3.0"), Greater);
        assert_eq!(version_cmp("2.6.1"), Greater);
    }

    #[test]
    fn keyword_list_matches_capabilities() {
        for kw in PROXY_KEYWORDS {
            assert!(caps_of(kw).is_some(), "{kw}");
        }
        assert_eq!(caps_of("bogus"), None);
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("defualt_backend", PROXY_KEYWORDS),
            Some("default_backend")
        );
        assert_eq!(suggest("sever", PROXY_KEYWORDS), Some("server"));
        assert_eq!(suggest("bogus_keyword", PROXY_KEYWORDS), None);
        assert_eq!(suggest(&"x".repeat(1000), PROXY_KEYWORDS), None);
        assert_eq!(
            did_you_mean("mdoe", PROXY_KEYWORDS),
            "; did you mean 'mode' maybe ?"
        );
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("0-3"), Ok(vec![0, 1, 2, 3]));
        assert_eq!(parse_cpus("3,1,1-2"), Ok(vec![1, 2, 3]));
        for bad in ["", "x", "3-1", "0-4096", "1,,2"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
        // Many overlapping ranges stay bounded by the number of CPUs.
        let many = vec!["0-4095"; 1000].join(",");
        assert_eq!(parse_cpus(&many).map(|v| v.len()), Ok(4096));
    }

    #[test]
    fn redirects() {
        let r = parse_redirect(&w("scheme https code 301 drop-query set-cookie A=b")).expect("parses");
        assert_eq!((r.kind.as_str(), r.to.as_str(), r.code), ("scheme", "https", 301));
        assert_eq!(r.options, vec!["drop-query", "set-cookie A=b"]);
        for bad in [
            "",
            "location",
            "elsewhere /x",
            "location /x code 200",
            "location /x bogus",
            "prefix /x set-cookie",
        ] {
            assert!(parse_redirect(&w(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn expects() {
        let e = parse_expect(&w("! min-recv 5 string ok")).expect("parses");
        assert!(e.negated);
        assert_eq!(e.kind, "string");
        assert_eq!(e.options, vec![("min-recv".to_string(), "5".to_string())]);
        for bad in ["", "!", "status", "bogus 1", "min-recv"] {
            assert!(parse_expect(&w(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn item_budget_stops_hostile_inheritance() {
        let env = |_: &str| None;
        let mut p = Parser::new(&env);
        let mut text = String::from("defaults\n");
        for _ in 0..1000 {
            text.push_str("  http-request set-header X y\n");
        }
        for i in 0..(CONFIG_ITEMS_MAX / 1000 + 10) {
            text.push_str(&format!("backend b{i}\n"));
        }
        p.file("big.cfg", &text);
        let (cfg, diags) = p.finish();
        assert!(diags
            .iter()
            .any(|d| d.message.contains("configuration too large")));
        let rules: usize = cfg.proxies.iter().map(|p| p.http_request.len()).sum();
        assert!(rules <= CONFIG_ITEMS_MAX, "{rules}");
    }

    #[test]
    fn diagnostics_are_capped() {
        let env = |_: &str| None;
        let mut p = Parser::new(&env);
        p.file("noise.cfg", &"bogus\n".repeat(DIAGNOSTICS_MAX * 3));
        let (_, diags) = p.finish();
        assert_eq!(diags.len(), DIAGNOSTICS_MAX);
        assert!(diags.last().is_some_and(|d| d.message.contains("more not shown")));
    }
}
