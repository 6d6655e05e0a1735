//! The layer-7 decision engine: ACLs, conditions, sample expressions and HTTP rules
//! compiled once per proxy, evaluated against one request (or response) at a time.
//! Pure: no I/O on the request path (pattern files, `return file` bodies and map files
//! are read by [`ProxyRules::compile`], at config load).
//!
//! Driving it for one request (the h1 state machine does this):
//!
//! ```
//! use engine::rules::{EvalScratch, ProxyRules, RequestVerdict, RequestView};
//! use engine::http::{Limits, RequestHead, Status};
//!
//! let cfg = engine::config::parse_text("t.cfg", "
//! frontend fe
//!     mode http
//!     bind :8080
//!     acl is_api path_beg /api
//!     http-request set-header X-Api yes if is_api
//!     use_backend api if is_api
//!     default_backend web
//! backend api
//!     mode http
//! backend web
//!     mode http
//! ", &|_| None).unwrap().config;
//! let maps = std::sync::Arc::new(engine::map::Maps::default());
//! let fe = ProxyRules::compile(cfg.frontend("fe").unwrap(), &maps).unwrap();
//! let mut scratch = EvalScratch::default(); // one per connection (or per core), reused
//!
//! let raw = b"GET /api/v1 HTTP/1.1\r\nHost: a\r\n\r\n";
//! let mut head = RequestHead::default();
//! assert!(matches!(head.parse(raw, &Limits::default()), Ok(Status::Complete(_))));
//! let req = RequestView::new(raw, &head, "192.0.2.1:5000".parse().unwrap(), "127.0.0.1:8080".parse().unwrap());
//!
//! scratch.start_request(); // forget the previous request's edits
//! assert!(matches!(fe.http_request(&req, &mut scratch), RequestVerdict::Continue));
//! let backend = fe.route(&req, &|name| name == "api" || name == "web", &mut scratch);
//! assert_eq!(backend, Some("api"));
//! // then the backend's own rules: be.http_request(&req, &mut scratch), engine::rules::forwarded_for(..)
//! let mut out = Vec::new();
//! scratch.write_request_head(raw, &head, &mut out).unwrap();
//! assert_eq!(out, b"GET /api/v1 HTTP/1.1\r\nHost: a\r\nX-Api: yes\r\n\r\n");
//! ```
//!
//! Semantics follow HAProxy: named ACLs declared several times are OR'ed; a condition is
//! an OR of AND-groups; `hdr()` in an ACL tries every comma-separated value and in a
//! sample takes the last one; rules see the edits of the rules before them (a header set
//! by `http-request set-header` is visible to later ACLs and to `use_backend`); the
//! `redirect` keyword's rules run after the `http-request` rules.
//!
//! Per request, in order: [`EvalScratch::start_request`], the frontend's
//! [`ProxyRules::http_request`], [`ProxyRules::route`], the backend's
//! [`ProxyRules::http_request`], [`forwarded_for`], then
//! [`EvalScratch::write_request_head`] (or [`EvalScratch::with_edits`] to add the
//! caller's own edits). Per response: [`EvalScratch::start_response`] (with
//! [`EvalScratch::restore_vars`] when the scratch is shared by a core's connections), the
//! backend's then the frontend's [`ProxyRules::http_response`], then
//! [`EvalScratch::write_response_head`].
//!
//! Fetches: `path`, `url`, `query`, `base`, `method`, `req.ver`, `hdr`/`req.hdr`/`fhdr`,
//! `hdr_cnt`, `res.hdr`/`shdr`, `status`, `src`, `dst`, `src_port`, `dst_port`,
//! `urlp`/`url_param`, `cook`, `var`, `nbsrv` (through [`RequestView::with_nbsrv`]),
//! `http_auth` (`insecure-password` users), `ssl_fc` (always false: no TLS), `str`, `int`,
//! `bool`, `env`, `always_true`/`always_false`; ACL suffixes `_beg _end _sub _reg _dir _dom
//! _len _ip _val _str _found`. Converters: `lower`, `upper`, `map`/`map_str`/`map_beg`/
//! `map_dom`/`map_end`/`map_reg` (engine::map), `field`, `word`, `regsub`, `ltrim`, `rtrim`,
//! `url_dec`, `bytes`, `length`, `concat`. Actions: `allow`, `deny`, `tarpit`, `auth`,
//! `redirect`, `return`, `set-header`, `add-header`, `del-header`, `replace-header`,
//! `replace-value`, `set-path`, `replace-path`, `set-var`, `set-var-fmt`, `unset-var`.
//!
//! Not here: stick tables (`track-sc*`, `sc_*` fetches), Lua, TLS fetches, `set-uri`,
//! `set-query`, `set-method`, `set-status`, encrypted userlist passwords, `-M` map-file
//! ACLs. Unsupported fetches, converters and actions are listed by
//! [`ProxyRules::warnings`] and evaluate as "no sample" (an ACL on them never matches; an
//! action using them is skipped).

#![warn(missing_docs)]

mod acl;
mod action;
mod pattern;
mod sample;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::model::{BackendRef, ForwardFor, Proxy, ProxyKind, Userlist};
use crate::http::write::{self, HeaderEdit, WriteError};
use crate::http::{RequestHead, ResponseHead};
use crate::map::{MapSet, Maps};

use acl::{AclTable, Cond};
use action::{Action, Redirect};
use sample::{Ctx, Fmt, Phase};

/// Most bytes the edits of one message may hold (header names and values, new path,
/// dynamic backend name): `tune.bufsize`, the most a head can be. A rewrite beyond it
/// fails the request with a 500, as HAProxy does when `tune.maxrewrite` is exhausted.
pub const EDIT_BYTES_MAX: usize = 16_384;

/// Most header edits one message may carry. Bounds the work of header lookups that see
/// the edits, and lets [`EvalScratch::with_edits`] build the edit list on the stack.
pub const EDITS_MAX: usize = 64;

/// Edits that fit the small stack array of [`EvalScratch::with_edits`].
const EDITS_FEW: usize = 8;
const _: () = assert!(EDITS_FEW <= EDITS_MAX);

/// Most bytes the variables (`set-var`) of one transaction may hold, names included.
/// A `set-var` beyond it is skipped, as HAProxy does when a variable would pass its
/// memory limits.
pub const VAR_BYTES_MAX: usize = 16_384;

/// Largest body read for `return file`/`errorfile`, in bytes: HAProxy refuses bodies
/// larger than `tune.bufsize` too.
pub const RETURN_BODY_BYTES_MAX: usize = 16_384;

/// Answers `nbsrv(<backend>)`: the usable servers of a backend, `None` if unknown.
pub type NbsrvFn<'a> = &'a dyn Fn(&str) -> Option<u32>;

/// One request as the rules see it: slices into the receive buffer plus the addresses.
#[derive(Clone, Copy)]
pub struct RequestView<'a> {
    /// The buffer the head was parsed from.
    pub buf: &'a [u8],
    /// The parsed head (spans into `buf`).
    pub head: &'a RequestHead,
    /// Method token.
    pub method: &'a [u8],
    /// Request-target as sent (`url`).
    pub url: &'a [u8],
    /// Path without the query (`path`).
    pub path: &'a [u8],
    /// Query string after `?`, if any (`query`).
    pub query: Option<&'a [u8]>,
    /// Client address (`src`, `src_port`).
    pub src: SocketAddr,
    /// Local address the connection arrived on (`dst`, `dst_port`).
    pub dst: SocketAddr,
    /// Usable servers of a backend, for `nbsrv(<backend>)`; `None` answers no sample.
    pub nbsrv: Option<NbsrvFn<'a>>,
}

impl<'a> RequestView<'a> {
    /// A view of the request `head` parsed from `buf`, on a connection from `src` to `dst`.
    pub fn new(buf: &'a [u8], head: &'a RequestHead, src: SocketAddr, dst: SocketAddr) -> RequestView<'a> {
        let pq = head.path_query.get(buf);
        let (path, query) = match memchr::memchr(b'?', pq) {
            Some(q) => (&pq[..q], pq.get(q + 1..)),
            None => (pq, None),
        };
        RequestView {
            buf,
            head,
            method: head.method.get(buf),
            url: head.target.get(buf),
            path,
            query,
            src,
            dst,
            nbsrv: None,
        }
    }

    /// The same view answering `nbsrv(<backend>)` with `f`.
    pub fn with_nbsrv(mut self, f: NbsrvFn<'a>) -> RequestView<'a> {
        self.nbsrv = Some(f);
        self
    }
}

impl std::fmt::Debug for RequestView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestView")
            .field("method", &String::from_utf8_lossy(self.method))
            .field("url", &String::from_utf8_lossy(self.url))
            .field("src", &self.src)
            .field("dst", &self.dst)
            .finish()
    }
}

/// One response as `http-response` rules see it.
#[derive(Debug, Clone, Copy)]
pub struct ResponseView<'a> {
    /// The buffer the head was parsed from.
    pub buf: &'a [u8],
    /// The parsed head (spans into `buf`).
    pub head: &'a ResponseHead,
}

impl<'a> ResponseView<'a> {
    /// A view of the response `head` parsed from `buf`.
    pub fn new(buf: &'a [u8], head: &'a ResponseHead) -> ResponseView<'a> {
        ResponseView { buf, head }
    }
}

/// What the `http-request` rules (and `redirect` rules) decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestVerdict<'s> {
    /// Go on: route, then write the head with [`EvalScratch::write_request_head`].
    Continue,
    /// `deny`: answer `status` with the proxy's error page for it (errorfile or
    /// [`crate::http::errors::default_response`]); the request never reaches a server.
    /// Also a failed rewrite (500), as HAProxy's strict mode.
    Deny {
        /// HTTP status (403 unless `deny_status`).
        status: u16,
    },
    /// `tarpit`: hold the connection for `timeout tarpit`, then answer `status` as `Deny`.
    Tarpit {
        /// HTTP status (500 unless `deny_status`).
        status: u16,
    },
    /// `return`, `redirect` or `auth`: send `response` (a whole HTTP/1.1 response, head
    /// and body) to the client instead of forwarding; the connection may stay open.
    Reply {
        /// HTTP status of `response`, for the log.
        status: u16,
        /// The bytes to send.
        response: &'s [u8],
    },
}

/// What the `http-response` rules decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseVerdict {
    /// Forward the response with [`EvalScratch::write_response_head`].
    Continue,
    /// `http-response deny`: drop the server's response and answer `status` (502 by
    /// default in HAProxy) with the error page; also a failed rewrite (500).
    Deny {
        /// HTTP status.
        status: u16,
    },
}

/// Kind of one recorded edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EditKind {
    Set,
    Add,
    Del,
}

/// One header edit, its bytes in [`EvalScratch`]'s arena.
#[derive(Debug, Clone, Copy)]
struct EditRec {
    kind: EditKind,
    name: (u32, u32),
    value: (u32, u32),
}

/// The edits of the message being processed: header edits and the new path, bytes in
/// one arena reused from message to message; and the transaction's variables
/// (`set-var`), kept from the request to its response.
#[derive(Debug, Default)]
struct MsgEdits {
    edits: Vec<EditRec>,
    arena: Vec<u8>,
    new_path: Option<(u32, u32)>,
    /// (name, value) ranges in `var_arena`; a later `set-var` of a name replaces it.
    vars: Vec<((u32, u32), (u32, u32))>,
    var_arena: Vec<u8>,
}

impl MsgEdits {
    /// Forgets the edits (a new message starts).
    fn clear(&mut self) {
        self.edits.clear();
        self.arena.clear();
        self.new_path = None;
    }

    /// Forgets the variables too (a new transaction starts).
    fn clear_all(&mut self) {
        self.clear();
        self.vars.clear();
        self.var_arena.clear();
    }

    fn var_bytes(&self, r: (u32, u32)) -> &[u8] {
        self.var_arena.get(r.0 as usize..r.1 as usize).unwrap_or(&[])
    }

    /// The value of variable `name` (`txn.x`), if set.
    fn var(&self, name: &[u8]) -> Option<&[u8]> {
        self.vars
            .iter()
            .find(|(n, _)| self.var_bytes(*n) == name)
            .map(|(_, v)| self.var_bytes(*v))
    }

    /// Sets variable `name`; false when [`VAR_BYTES_MAX`] would be passed.
    fn set_var(&mut self, name: &[u8], value: &[u8]) -> bool {
        if self.var_arena.len() + name.len() + value.len() > VAR_BYTES_MAX {
            return false;
        }
        let start = self.var_arena.len() as u32;
        self.var_arena.extend_from_slice(value);
        let v = (start, self.var_arena.len() as u32);
        let existing = self.vars.iter().position(|(n, _)| self.var_bytes(*n) == name);
        match existing.and_then(|i| self.vars.get_mut(i)) {
            Some(slot) => slot.1 = v,
            None => {
                let ns = self.var_arena.len() as u32;
                self.var_arena.extend_from_slice(name);
                self.vars.push(((ns, self.var_arena.len() as u32), v));
            }
        }
        true
    }

    /// Removes variable `name`.
    fn unset_var(&mut self, name: &[u8]) {
        let arena = &self.var_arena;
        self.vars
            .retain(|(n, _)| arena.get(n.0 as usize..n.1 as usize) != Some(name));
    }

    fn bytes(&self, r: (u32, u32)) -> &[u8] {
        self.arena.get(r.0 as usize..r.1 as usize).unwrap_or(&[])
    }

    /// Copies `b` into the arena; `None` when the arena would pass [`EDIT_BYTES_MAX`].
    fn store(&mut self, b: &[u8]) -> Option<(u32, u32)> {
        let start = self.arena.len();
        if start + b.len() > EDIT_BYTES_MAX {
            return None;
        }
        self.arena.extend_from_slice(b);
        Some((start as u32, self.arena.len() as u32))
    }

    /// Records an edit; false when a limit is reached or the value holds a control
    /// byte that would split the message (the rewrite failed).
    fn push(&mut self, kind: EditKind, name: &[u8], value: &[u8]) -> bool {
        if self.edits.len() >= EDITS_MAX || !value.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)) {
            return false;
        }
        let (Some(name), Some(value)) = (self.store(name), self.store(value)) else {
            return false;
        };
        self.edits.push(EditRec { kind, name, value });
        debug_assert!(self.edits.len() <= EDITS_MAX && self.arena.len() <= EDIT_BYTES_MAX);
        true
    }

    fn set_path(&mut self, p: &[u8]) -> bool {
        match self.store(p) {
            Some(r) => {
                self.new_path = Some(r);
                true
            }
            None => false,
        }
    }

    fn path(&self) -> Option<&[u8]> {
        self.new_path.map(|r| self.bytes(r))
    }

    fn edit(&self, e: &EditRec) -> HeaderEdit<'_> {
        let name = self.bytes(e.name);
        match e.kind {
            EditKind::Set => HeaderEdit::Set {
                name,
                value: self.bytes(e.value),
            },
            EditKind::Add => HeaderEdit::Add {
                name,
                value: self.bytes(e.value),
            },
            EditKind::Del => HeaderEdit::Del { name },
        }
    }
}

/// Per-request working memory of the rules: the edits decided so far and the buffers
/// samples and converters write into. Keep one per connection (or per core) and call
/// [`EvalScratch::start_request`] before each request: after the first requests nothing
/// allocates.
#[derive(Debug, Default)]
pub struct EvalScratch {
    msg: MsgEdits,
    bufs: sample::Bufs,
    /// A format string's output before it is stored as an edit.
    fmt: Vec<u8>,
    /// A reply built by `return`/`redirect`/`auth`.
    reply: Vec<u8>,
    /// A dynamic backend name.
    backend: String,
}

impl EvalScratch {
    /// Forgets the edits of the previous message: call before the frontend's
    /// `http_request` for each request.
    pub fn start_request(&mut self) {
        self.msg.clear_all();
    }

    /// Forgets the request's edits (variables stay): call once the request head is
    /// written, before the `http_response` rules of the backend then the frontend.
    pub fn start_response(&mut self) {
        self.msg.clear();
    }

    /// Moves the transaction's variables (`set-var`) out, to keep them with the
    /// connection until its response when this scratch serves other connections in
    /// between (one scratch per core). Empty, and free, when no rule set a variable.
    pub fn take_vars(&mut self) -> TxnVars {
        TxnVars {
            vars: std::mem::take(&mut self.msg.vars),
            arena: std::mem::take(&mut self.msg.var_arena),
        }
    }

    /// Puts back variables taken with [`EvalScratch::take_vars`] (after
    /// [`EvalScratch::start_response`], before the `http_response` rules).
    pub fn restore_vars(&mut self, v: TxnVars) {
        self.msg.vars = v.vars;
        self.msg.var_arena = v.arena;
    }

    /// The path set by `set-path`/`replace-path`, if any (the query is kept as sent).
    pub fn new_path(&self) -> Option<&[u8]> {
        self.msg.path()
    }

    /// Number of header edits recorded for the current message.
    pub fn edit_count(&self) -> usize {
        self.msg.edits.len()
    }

    /// Calls `f` with the header edits (in rule order) and the new path.
    pub fn with_edits<R>(&self, f: impl FnOnce(&[HeaderEdit<'_>], Option<&[u8]>) -> R) -> R {
        let n = self.msg.edits.len().min(EDITS_MAX);
        debug_assert_eq!(n, self.msg.edits.len(), "push() keeps at most EDITS_MAX edits");
        if n == 0 {
            return f(&[], self.msg.path());
        }
        // The common few edits fill a small array; more take the full one.
        if n <= EDITS_FEW {
            let mut arr = [HeaderEdit::Del { name: b"" }; EDITS_FEW];
            for (slot, e) in arr.iter_mut().zip(&self.msg.edits) {
                *slot = self.msg.edit(e);
            }
            return f(arr.get(..n).unwrap_or_default(), self.msg.path());
        }
        let mut arr = [HeaderEdit::Del { name: b"" }; EDITS_MAX];
        for (slot, e) in arr.iter_mut().zip(&self.msg.edits) {
            *slot = self.msg.edit(e);
        }
        f(arr.get(..n).unwrap_or_default(), self.msg.path())
    }

    /// Writes the request head parsed from `buf` with the recorded edits applied
    /// (see [`write::write_request_head`]).
    pub fn write_request_head(
        &self,
        buf: &[u8],
        head: &RequestHead,
        out: &mut Vec<u8>,
    ) -> Result<(), WriteError> {
        self.with_edits(|edits, path| write::write_request_head(buf, head, path, edits, out))
    }

    /// Writes the response head parsed from `buf` with the recorded edits applied.
    pub fn write_response_head(
        &self,
        buf: &[u8],
        head: &ResponseHead,
        out: &mut Vec<u8>,
    ) -> Result<(), WriteError> {
        self.with_edits(|edits, _| write::write_response_head(buf, head, edits, out))
    }
}

/// The variables of one transaction, moved out of an [`EvalScratch`].
#[derive(Debug, Default)]
pub struct TxnVars {
    vars: Vec<((u32, u32), (u32, u32))>,
    arena: Vec<u8>,
}

impl TxnVars {
    /// True when no variable is set (nothing to keep).
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }
}

/// A `use_backend` rule, compiled.
#[derive(Debug)]
enum Target {
    Name(String),
    Dynamic(Fmt),
}

#[derive(Debug)]
struct Switch {
    target: Target,
    cond: Option<Cond>,
}

/// `option forwardfor`, compiled.
#[derive(Debug, Clone)]
struct ForwardForRule {
    header: Vec<u8>,
    except: Option<pattern::IpNet>,
    if_none: bool,
}

/// The compiled rules of one proxy: its ACLs, `http-request`/`http-response` rules,
/// `redirect` rules, `use_backend` rules and `default_backend`. A frontend and each
/// backend get their own (a backend's `http-request` rules run after routing).
#[derive(Debug)]
pub struct ProxyRules {
    name: String,
    acls: AclTable,
    http_request: Vec<(Action, Option<Cond>)>,
    redirects: Vec<(Redirect, Option<Cond>)>,
    http_response: Vec<(Action, Option<Cond>)>,
    switches: Vec<Switch>,
    default_backend: Option<String>,
    /// A `listen` section is its own backend when no rule picks another.
    own_backend: Option<String>,
    forwardfor: Option<ForwardForRule>,
    maps: Option<Arc<Maps>>,
    warnings: Vec<String>,
}

// Rules are shared by every core through an `Arc`.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<ProxyRules>();
};

/// The name the docs and the h1 helper use for a frontend's rules.
pub type FrontendRules = ProxyRules;

/// Why rules could not be compiled (the config parser already reported syntax errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// A regex does not compile.
    #[error("proxy '{proxy}': invalid regex '{regex}': {reason}")]
    Regex {
        /// Proxy name.
        proxy: String,
        /// The pattern.
        regex: String,
        /// What the regex crate said.
        reason: String,
    },
    /// A pattern, map or body file could not be read.
    #[error("proxy '{proxy}': cannot read '{path}': {reason}")]
    File {
        /// Proxy name.
        proxy: String,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Anything else found invalid while compiling.
    #[error("proxy '{proxy}': {message}")]
    Invalid {
        /// Proxy name.
        proxy: String,
        /// What is wrong.
        message: String,
    },
}

/// Collects what compiling a proxy learns: the map registry and warnings.
pub(crate) struct Compiler<'m> {
    proxy: String,
    maps: &'m Arc<Maps>,
    userlists: &'m [Userlist],
    uses_maps: bool,
    warnings: Vec<String>,
}

impl Compiler<'_> {
    fn warn(&mut self, w: String) {
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    fn invalid(&self, message: String) -> RulesError {
        RulesError::Invalid {
            proxy: self.proxy.clone(),
            message,
        }
    }

    fn regex(&self, re: &str, ignore_case: bool) -> Result<regex::bytes::Regex, RulesError> {
        regex::bytes::RegexBuilder::new(re)
            .case_insensitive(ignore_case)
            .size_limit(crate::map::REGEX_SIZE_MAX)
            .build()
            .map_err(|e| RulesError::Regex {
                proxy: self.proxy.clone(),
                regex: re.to_string(),
                reason: e.to_string(),
            })
    }

    fn read_file(&self, path: &str, max: usize) -> Result<Vec<u8>, RulesError> {
        let err = |reason: String| RulesError::File {
            proxy: self.proxy.clone(),
            path: path.to_string(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if meta.len() > max as u64 {
            return Err(err(format!("file too large ({} bytes, max {max})", meta.len())));
        }
        std::fs::read(path).map_err(|e| err(e.to_string()))
    }
}

impl ProxyRules {
    /// Compiles the rules of `proxy`. Map converters register their maps in `maps`
    /// (map files are loaded from disk here, once). Fails only on what the config
    /// parser does not check: a bad regex, an unreadable pattern or body file.
    pub fn compile(proxy: &Proxy, maps: &Arc<Maps>) -> Result<ProxyRules, RulesError> {
        ProxyRules::compile_with_userlists(proxy, maps, &[])
    }

    /// [`ProxyRules::compile`] with the config's `userlist` sections, which
    /// `http_auth(<userlist>)` checks `Authorization: Basic` credentials against
    /// (`insecure-password` users only: encrypted passwords never match).
    pub fn compile_with_userlists(
        proxy: &Proxy,
        maps: &Arc<Maps>,
        userlists: &[Userlist],
    ) -> Result<ProxyRules, RulesError> {
        let mut c = Compiler {
            proxy: proxy.name.clone(),
            maps,
            userlists,
            uses_maps: false,
            warnings: Vec::new(),
        };
        let mut acls = AclTable::compile(&proxy.acls, &mut c)?;
        let mut http_request = Vec::with_capacity(proxy.http_request.len());
        for r in &proxy.http_request {
            let cond = acls.cond(r.cond.as_ref(), &mut c)?;
            http_request.push((Action::compile(&r.action, Phase::Request, &mut c)?, cond));
        }
        let mut http_response = Vec::with_capacity(proxy.http_response.len());
        for r in &proxy.http_response {
            let cond = acls.cond(r.cond.as_ref(), &mut c)?;
            http_response.push((Action::compile(&r.action, Phase::Response, &mut c)?, cond));
        }
        let mut redirects = Vec::with_capacity(proxy.redirects.len());
        for (r, cond) in &proxy.redirects {
            let cond = acls.cond(cond.as_ref(), &mut c)?;
            redirects.push((Redirect::compile(r, &mut c)?, cond));
        }
        let mut switches = Vec::with_capacity(proxy.use_backends.len());
        for u in &proxy.use_backends {
            let target = match &u.target {
                BackendRef::Name(n) => Target::Name(n.clone()),
                BackendRef::Dynamic(parts) => Target::Dynamic(Fmt::compile(parts, Phase::Request, &mut c)?),
            };
            switches.push(Switch {
                target,
                cond: acls.cond(u.cond.as_ref(), &mut c)?,
            });
        }
        let forwardfor = match &proxy.options.forwardfor {
            Some(f) => Some(compile_forwardfor(f, &mut c)?),
            None => None,
        };
        Ok(ProxyRules {
            name: proxy.name.clone(),
            acls,
            http_request,
            redirects,
            http_response,
            switches,
            default_backend: proxy.default_backend.clone(),
            own_backend: (proxy.kind == ProxyKind::Listen).then(|| proxy.name.clone()),
            forwardfor,
            maps: c.uses_maps.then(|| Arc::clone(maps)),
            warnings: c.warnings,
        })
    }

    /// The proxy these rules belong to.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What ringlb accepted but does not evaluate (unknown fetches, converters,
    /// actions): the caller logs them once at start-up.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// True when the proxy has `http-request` or `redirect` rules.
    pub fn has_request_rules(&self) -> bool {
        !self.http_request.is_empty() || !self.redirects.is_empty()
    }

    /// True when the proxy has `http-response` rules.
    pub fn has_response_rules(&self) -> bool {
        !self.http_response.is_empty()
    }

    fn map_guard(&self) -> Option<arc_swap::Guard<Arc<MapSet>>> {
        self.maps.as_ref().map(|m| m.load())
    }

    /// Runs the `http-request` rules in order, then the `redirect` rules. Header and
    /// path edits accumulate in `scratch` (apply them with
    /// [`EvalScratch::write_request_head`]); a final action returns its verdict.
    pub fn http_request<'s>(
        &self,
        req: &RequestView<'_>,
        scratch: &'s mut EvalScratch,
    ) -> RequestVerdict<'s> {
        if !self.has_request_rules() {
            return RequestVerdict::Continue;
        }
        let guard = self.map_guard();
        let maps = guard.as_deref().map(|a| &**a);
        let mut stop = None;
        for (act, cond) in &self.http_request {
            if !self.holds(cond.as_ref(), Some(req), None, Phase::Request, maps, scratch) {
                continue;
            }
            match act.run_request(self, req, maps, scratch) {
                action::Flow::Next => {}
                action::Flow::Stop => break,
                action::Flow::Final(v) => {
                    stop = Some(v);
                    break;
                }
            }
        }
        if stop.is_none() {
            for (r, cond) in &self.redirects {
                if self.holds(cond.as_ref(), Some(req), None, Phase::Request, maps, scratch)
                    && !r.skips(req, maps, scratch)
                {
                    stop = Some(r.run(req, maps, scratch));
                    break;
                }
            }
        }
        debug_assert!(scratch.msg.edits.len() <= EDITS_MAX, "edit count bounded");
        debug_assert!(scratch.msg.arena.len() <= EDIT_BYTES_MAX, "edit bytes bounded");
        match stop {
            None => RequestVerdict::Continue,
            Some(action::Final::Deny(status)) => RequestVerdict::Deny { status },
            Some(action::Final::Tarpit(status)) => RequestVerdict::Tarpit { status },
            Some(action::Final::Reply(status)) => RequestVerdict::Reply {
                status,
                response: &scratch.reply,
            },
        }
    }

    /// Chooses the backend: the first `use_backend` whose condition holds and whose
    /// target `usable` accepts, else `default_backend` if usable (a `listen` without
    /// one is its own backend). As HAProxy: a static
    /// target that is not usable (missing or unpublished) is skipped; a dynamic
    /// (`%[...]`) name that is not usable ends the search at `default_backend`.
    /// `None`: no backend (HAProxy answers 503).
    pub fn route<'s>(
        &'s self,
        req: &RequestView<'_>,
        usable: &dyn Fn(&str) -> bool,
        scratch: &'s mut EvalScratch,
    ) -> Option<&'s str> {
        let guard = self.map_guard();
        let maps = guard.as_deref().map(|a| &**a);
        let mut dynamic = false;
        for sw in &self.switches {
            if !self.holds(sw.cond.as_ref(), Some(req), None, Phase::Request, maps, scratch) {
                continue;
            }
            match &sw.target {
                Target::Name(n) => {
                    if usable(n) {
                        return Some(n);
                    }
                }
                Target::Dynamic(fmt) => {
                    let EvalScratch {
                        msg,
                        bufs,
                        fmt: out,
                        backend,
                        ..
                    } = &mut *scratch;
                    out.clear();
                    let ctx = Ctx::new(Some(req), None, Phase::Request, msg, maps);
                    fmt.eval(&ctx, bufs, out);
                    backend.clear();
                    if let Ok(s) = std::str::from_utf8(out) {
                        backend.push_str(s);
                    }
                    if !backend.is_empty() && usable(backend) {
                        dynamic = true;
                    }
                    break;
                }
            }
        }
        if dynamic {
            debug_assert!(!scratch.backend.is_empty() && usable(&scratch.backend));
            return Some(&scratch.backend);
        }
        match &self.default_backend {
            Some(d) => Some(d.as_str()).filter(|n| usable(n)),
            None => self.own_backend.as_deref().filter(|n| usable(n)),
        }
    }

    /// Runs the `http-response` rules in order (call the backend's, then the
    /// frontend's). `req` gives request fetches (`path`, `src`...) when the request
    /// bytes are still at hand; without it they answer no sample.
    pub fn http_response(
        &self,
        resp: &ResponseView<'_>,
        req: Option<&RequestView<'_>>,
        scratch: &mut EvalScratch,
    ) -> ResponseVerdict {
        if self.http_response.is_empty() {
            return ResponseVerdict::Continue;
        }
        let guard = self.map_guard();
        let maps = guard.as_deref().map(|a| &**a);
        for (act, cond) in &self.http_response {
            if !self.holds(cond.as_ref(), req, Some(resp), Phase::Response, maps, scratch) {
                continue;
            }
            match act.run_response(req, resp, maps, scratch) {
                action::Flow::Next => {}
                action::Flow::Stop => break,
                action::Flow::Final(action::Final::Deny(status) | action::Final::Tarpit(status)) => {
                    return ResponseVerdict::Deny { status }
                }
                action::Flow::Final(action::Final::Reply(status)) => return ResponseVerdict::Deny { status },
            }
        }
        ResponseVerdict::Continue
    }

    /// Evaluates a named ACL of this proxy (or a predefined one) against `req`, with
    /// the edits recorded in `scratch`. `None` when no ACL has this name. For tests and
    /// diagnostics.
    pub fn acl(&self, name: &str, req: &RequestView<'_>, scratch: &mut EvalScratch) -> Option<bool> {
        let guard = self.map_guard();
        let maps = guard.as_deref().map(|a| &**a);
        let EvalScratch { msg, bufs, .. } = scratch;
        let ctx = Ctx::new(Some(req), None, Phase::Request, msg, maps);
        self.acls.eval_named(name, &ctx, bufs)
    }

    fn holds(
        &self,
        cond: Option<&Cond>,
        req: Option<&RequestView<'_>>,
        resp: Option<&ResponseView<'_>>,
        phase: Phase,
        maps: Option<&MapSet>,
        scratch: &mut EvalScratch,
    ) -> bool {
        let Some(cond) = cond else {
            return true;
        };
        let EvalScratch { msg, bufs, .. } = scratch;
        let ctx = Ctx::new(req, resp, phase, msg, maps);
        self.acls.eval_cond(cond, &ctx, bufs)
    }
}

fn compile_forwardfor(f: &ForwardFor, c: &mut Compiler<'_>) -> Result<ForwardForRule, RulesError> {
    let except = match &f.except {
        Some(net) => Some(
            pattern::IpNet::parse(net)
                .ok_or_else(|| c.invalid(format!("invalid 'except' network '{net}'")))?,
        ),
        None => None,
    };
    Ok(ForwardForRule {
        header: f.header.as_bytes().to_vec(),
        except,
        if_none: f.if_none,
    })
}

/// `option forwardfor` as HAProxy applies it after the backend's rules: when the
/// frontend or the backend enables it, adds `X-Forwarded-For: <src>` (the backend's
/// header name first, then the frontend's), unless the client address is in an `except`
/// network or `if-none` is set and the header is present. Returns true when added.
pub fn forwarded_for(
    fe: &ProxyRules,
    be: Option<&ProxyRules>,
    req: &RequestView<'_>,
    scratch: &mut EvalScratch,
) -> bool {
    let fe_f = fe.forwardfor.as_ref();
    let be_f = be.and_then(|b| b.forwardfor.as_ref());
    let Some(rule) = be_f.or(fe_f) else {
        return false;
    };
    let src = req.src.ip();
    if [fe_f, be_f]
        .iter()
        .flatten()
        .any(|f| f.except.as_ref().is_some_and(|n| n.contains(src)))
    {
        return false;
    }
    if rule.if_none {
        let present = {
            let ctx = Ctx::new(Some(req), None, Phase::Request, &scratch.msg, None);
            ctx.fields(sample::Which::Req, &rule.header, &mut |_| true)
        };
        if present {
            return false;
        }
    }
    let mut ip = [0u8; 64];
    let value = write::forwarded_for_value(sample::unmap_v4(src), &mut ip);
    scratch.msg.push(EditKind::Add, &rule.header, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_limits() {
        let mut m = MsgEdits::default();
        assert!(m.push(EditKind::Add, b"X", b"tab\tok \x80"));
        for bad in [&b"a\r\nb"[..], b"\0", b"\x7f", b"\n"] {
            assert!(!m.push(EditKind::Add, b"X", bad), "{bad:?}");
        }
        let big = vec![b'a'; EDIT_BYTES_MAX];
        assert!(!m.push(EditKind::Set, b"X", &big), "arena bound");
        while m.edits.len() < EDITS_MAX {
            assert!(m.push(EditKind::Del, b"Y", b""));
        }
        assert!(!m.push(EditKind::Del, b"Y", b""), "count bound");
        assert!(m.set_path(b"/p"));
        assert_eq!(m.path(), Some(&b"/p"[..]));
        m.clear();
        assert!(m.edits.is_empty() && m.path().is_none());
    }

    #[test]
    fn variables() {
        let mut m = MsgEdits::default();
        assert!(m.set_var(b"txn.a", b"1"));
        assert!(m.set_var(b"txn.b", b"2"));
        assert!(m.set_var(b"txn.a", b"3"));
        assert_eq!(m.var(b"txn.a"), Some(&b"3"[..]));
        assert_eq!(m.vars.len(), 2);
        m.unset_var(b"txn.a");
        assert_eq!(m.var(b"txn.a"), None);
        m.clear();
        assert_eq!(
            m.var(b"txn.b"),
            Some(&b"2"[..]),
            "a new message keeps the variables"
        );
        m.clear_all();
        assert_eq!(m.var(b"txn.b"), None);
        assert!(!m.set_var(b"txn.big", &vec![b'x'; VAR_BYTES_MAX]));
    }
}
