//! Sample fetches, converters and log-format strings, compiled from the config model
//! and evaluated against one message without allocating (output goes to reused buffers).

use std::net::IpAddr;

use crate::config::cond::{Call, FmtPart, Sample};
use crate::http::{Header, Version};
use crate::map::{MapSet, MatchKind};

use super::{Compiler, EditKind, MsgEdits, RequestView, ResponseView, RulesError};

/// Which message the rules are processing: the edits recorded in the scratch belong
/// to it, and `hdr()` reads its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Request,
    Response,
}

/// Which message a header fetch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Req,
    Res,
    /// The message being processed (`hdr()`, `fhdr()`).
    Current,
}

/// A sample value. Strings borrow the message, the edits or a scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Val<'v> {
    Str(&'v [u8]),
    Int(i64),
    Bool(bool),
    Ip(IpAddr),
}

/// Scratch buffers of sample evaluation: `f` for composed fetches (`base`), `a`/`b` for
/// converter chains.
#[derive(Debug, Default)]
pub(crate) struct Bufs {
    f: Vec<u8>,
    conv: [Vec<u8>; 2],
}

/// An IPv4-mapped IPv6 address as IPv4 (sockets on `::` report IPv4 clients so).
pub(crate) fn unmap_v4(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// Everything a fetch may read.
pub(crate) struct Ctx<'r> {
    pub(crate) req: Option<&'r RequestView<'r>>,
    pub(crate) resp: Option<&'r ResponseView<'r>>,
    phase: Phase,
    msg: &'r MsgEdits,
    pub(crate) maps: Option<&'r MapSet>,
}

impl<'r> Ctx<'r> {
    pub(crate) fn new(
        req: Option<&'r RequestView<'r>>,
        resp: Option<&'r ResponseView<'r>>,
        phase: Phase,
        msg: &'r MsgEdits,
        maps: Option<&'r MapSet>,
    ) -> Ctx<'r> {
        Ctx {
            req,
            resp,
            phase,
            msg,
            maps,
        }
    }

    /// The request path, after `set-path`/`replace-path`.
    fn path(&self) -> Option<&'r [u8]> {
        if self.phase == Phase::Request {
            if let Some(p) = self.msg.path() {
                return Some(p);
            }
        }
        self.req.map(|r| r.path)
    }

    fn headers(&self, which: Which) -> Option<(&'r [u8], &'r [Header], bool)> {
        let which = match which {
            Which::Current if self.phase == Phase::Request => Which::Req,
            Which::Current => Which::Res,
            w => w,
        };
        match which {
            Which::Req => self
                .req
                .map(|r| (r.buf, &r.head.headers[..], self.phase == Phase::Request)),
            _ => self
                .resp
                .map(|r| (r.buf, &r.head.headers[..], self.phase == Phase::Response)),
        }
    }

    /// Calls `f` with the whole value of every field named `name` that the message
    /// has after the edits so far (the order `write_*_head` gives them), until `f` says
    /// true. Returns whether `f` said true.
    pub(crate) fn fields(&self, which: Which, name: &[u8], f: &mut dyn FnMut(&'r [u8]) -> bool) -> bool {
        let Some((buf, headers, edited)) = self.headers(which) else {
            return false;
        };
        // The request's Host span, when `which` reads the request.
        let host = match (which, self.phase) {
            (Which::Req, _) | (Which::Current, Phase::Request) => self.req.map(|r| r.head.host),
            _ => None,
        };
        let edits: &'r [super::EditRec] = if edited { &self.msg.edits } else { &[] };
        // The parser keeps one Host field and points at it: no scan for the most
        // common header fetch.
        if edits.is_empty() && name.len() == 4 && name.eq_ignore_ascii_case(b"host") {
            if let Some(host) = host {
                return match host {
                    Some(h) => f(h.get(buf)),
                    None => false,
                };
            }
        }
        let msg = self.msg;
        let removes =
            |e: &super::EditRec| e.kind != EditKind::Add && msg.bytes(e.name).eq_ignore_ascii_case(name);
        if !edits.iter().any(removes) {
            for h in headers {
                if h.name.len() == name.len()
                    && h.name.get(buf).eq_ignore_ascii_case(name)
                    && f(h.value.get(buf))
                {
                    return true;
                }
            }
        }
        for (i, e) in edits.iter().enumerate() {
            if e.kind == EditKind::Del || !msg.bytes(e.name).eq_ignore_ascii_case(name) {
                continue;
            }
            let later = edits.get(i + 1..).unwrap_or_default();
            if !later.iter().any(removes) && f(msg.bytes(e.value)) {
                return true;
            }
        }
        false
    }

    /// Like [`Ctx::fields`] but with every comma-separated element of the values
    /// (OWS trimmed, quoted commas kept), as HAProxy's `hdr()`.
    fn values(&self, which: Which, name: &[u8], f: &mut dyn FnMut(&'r [u8]) -> bool) -> bool {
        self.fields(which, name, &mut |v| {
            // Most values hold one element: skip the splitter.
            if memchr::memchr2(b',', b'"', v).is_none() {
                f(trim_ows(v))
            } else {
                split_list(v).any(&mut *f)
            }
        })
    }
}

/// Splits a field value on commas outside double quotes; elements OWS-trimmed (an
/// empty value gives one empty element, as HAProxy).
fn split_list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(v);
    std::iter::from_fn(move || {
        let s = rest?;
        let (mut quoted, mut escaped) = (false, false);
        let mut end = s.len();
        for (i, &b) in s.iter().enumerate() {
            if escaped {
                escaped = false;
            } else if quoted {
                match b {
                    b'\\' => escaped = true,
                    b'"' => quoted = false,
                    _ => {}
                }
            } else if b == b'"' {
                quoted = true;
            } else if b == b',' {
                end = i;
                break;
            }
        }
        rest = s.get(end + 1..).filter(|_| end < s.len());
        Some(trim_ows(s.get(..end).unwrap_or_default()))
    })
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', r @ ..] = s {
        s = r;
    }
    while let [r @ .., b' ' | b'\t'] = s {
        s = r;
    }
    s
}

/// A userlist user: name and clear-text password (`None`: encrypted, never matches).
pub(crate) type AuthUser = (Box<[u8]>, Option<Box<[u8]>>);

/// What a fetch reads.
#[derive(Debug, Clone)]
pub(crate) enum Fetch {
    Path,
    Url,
    Query,
    Base,
    Method,
    /// `req.ver`: `1.0` or `1.1`.
    ReqVer,
    /// `hdr`/`fhdr`: `occ` 0 = every value in an ACL and the last in a sample.
    Hdr {
        which: Which,
        name: Box<[u8]>,
        occ: i64,
        full: bool,
    },
    HdrCnt {
        which: Which,
        name: Box<[u8]>,
        full: bool,
    },
    Src,
    Dst,
    SrcPort,
    DstPort,
    Urlp {
        name: Box<[u8]>,
        delim: u8,
    },
    Cook {
        name: Box<[u8]>,
    },
    Status,
    Nbsrv(String),
    /// `var(<name>[,<default>])`.
    Var {
        name: Box<[u8]>,
        default: Option<Box<[u8]>>,
    },
    Const(ConstVal),
    /// `http_auth(<userlist>)`: (user, clear-text password) pairs; encrypted ones are
    /// kept with `None` and never match.
    HttpAuth(Vec<AuthUser>),
    /// Known to HAProxy but not to ringlb: never a sample.
    Unsupported,
}

/// A fetch whose value is known at compile time.
#[derive(Debug, Clone)]
pub(crate) enum ConstVal {
    Str(Box<[u8]>),
    Int(i64),
    Bool(bool),
}

/// The match method a fetch implies when an ACL names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Natural {
    Str,
    Int,
    Ip,
    Bool,
}

fn arg_bytes(c: &Call, i: usize) -> Option<Box<[u8]>> {
    c.args.get(i).map(|a| a.as_bytes().into())
}

impl Fetch {
    /// Compiles a fetch by its HAProxy name (an ACL's `_beg`-like suffix already
    /// removed by the caller). Unknown names compile to `Unsupported` with a warning.
    pub(crate) fn compile(call: &Call, name: &str, c: &mut Compiler<'_>) -> (Fetch, Natural) {
        let hdr = |which, full| -> Result<Fetch, String> {
            let n = arg_bytes(call, 0).ok_or_else(|| format!("'{name}' expects a header name"))?;
            let occ = match call.args.get(1) {
                Some(o) => o
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| format!("'{name}': bad occurrence '{o}'"))?,
                None => 0,
            };
            Ok(Fetch::Hdr {
                which,
                name: n,
                occ,
                full,
            })
        };
        let cnt = |which, full| -> Result<Fetch, String> {
            Ok(Fetch::HdrCnt {
                which,
                name: arg_bytes(call, 0).unwrap_or_default(),
                full,
            })
        };
        let r: Result<(Fetch, Natural), String> = (|| {
            Ok(match name {
                "path" => (Fetch::Path, Natural::Str),
                "url" => (Fetch::Url, Natural::Str),
                "query" => (Fetch::Query, Natural::Str),
                "base" => (Fetch::Base, Natural::Str),
                "method" => (Fetch::Method, Natural::Str),
                "req.ver" | "req_ver" => (Fetch::ReqVer, Natural::Str),
                "hdr" | "req.hdr" => (hdr(Which::Current, false)?, Natural::Str),
                "fhdr" | "req.fhdr" => (hdr(Which::Current, true)?, Natural::Str),
                "res.hdr" | "shdr" => (hdr(Which::Res, false)?, Natural::Str),
                "res.fhdr" => (hdr(Which::Res, true)?, Natural::Str),
                "hdr_cnt" | "req.hdr_cnt" => (cnt(Which::Current, false)?, Natural::Int),
                "fhdr_cnt" | "req.fhdr_cnt" => (cnt(Which::Current, true)?, Natural::Int),
                "res.hdr_cnt" | "shdr_cnt" => (cnt(Which::Res, false)?, Natural::Int),
                "res.fhdr_cnt" => (cnt(Which::Res, true)?, Natural::Int),
                "src" => (Fetch::Src, Natural::Ip),
                "dst" => (Fetch::Dst, Natural::Ip),
                "src_port" => (Fetch::SrcPort, Natural::Int),
                "dst_port" => (Fetch::DstPort, Natural::Int),
                "urlp" | "url_param" => {
                    let n = arg_bytes(call, 0).ok_or_else(|| format!("'{name}' expects a parameter name"))?;
                    let delim = call.args.get(1).and_then(|d| d.bytes().next()).unwrap_or(b'&');
                    (Fetch::Urlp { name: n, delim }, Natural::Str)
                }
                "cook" | "req.cook" => (
                    Fetch::Cook {
                        name: arg_bytes(call, 0).unwrap_or_default(),
                    },
                    Natural::Str,
                ),
                "status" => (Fetch::Status, Natural::Int),
                "http_auth" => {
                    let name = call.args.first().map(String::as_str).unwrap_or_default();
                    let Some(ul) = c.userlists.iter().find(|u| u.name == name) else {
                        return Err(format!("'http_auth': unknown userlist '{name}' (never matches)"));
                    };
                    let users = ul
                        .users
                        .iter()
                        .map(|(u, p, insecure, _)| {
                            (u.as_bytes().into(), insecure.then(|| p.as_bytes().into()))
                        })
                        .collect::<Vec<_>>();
                    if ul.users.iter().any(|u| !u.2) {
                        c.warn(format!(
                            "userlist '{name}': encrypted passwords are not supported by ringlb: those users never match"
                        ));
                    }
                    (Fetch::HttpAuth(users), Natural::Bool)
                }
                "var" => match call.args.first() {
                    Some(n) => (
                        Fetch::Var {
                            name: n.trim().as_bytes().into(),
                            default: arg_bytes(call, 1),
                        },
                        Natural::Str,
                    ),
                    None => return Err("'var' expects a variable name".into()),
                },
                "nbsrv" => match call.args.first() {
                    Some(b) => (Fetch::Nbsrv(b.clone()), Natural::Int),
                    None => return Err("'nbsrv' expects a backend name".into()),
                },
                "ssl_fc" | "ssl_bc" | "ssl_c_used" | "ssl_fc_has_sni" | "ssl_fc_has_crt" => {
                    (Fetch::Const(ConstVal::Bool(false)), Natural::Bool)
                }
                "always_true" => (Fetch::Const(ConstVal::Bool(true)), Natural::Bool),
                "always_false" => (Fetch::Const(ConstVal::Bool(false)), Natural::Bool),
                "req.proto_http" | "req_proto_http" => (Fetch::Const(ConstVal::Bool(true)), Natural::Bool),
                "str" => (
                    Fetch::Const(ConstVal::Str(arg_bytes(call, 0).unwrap_or_default())),
                    Natural::Str,
                ),
                "int" => {
                    let a = call.args.first().map(String::as_str).unwrap_or("0");
                    let v = a
                        .trim()
                        .parse()
                        .map_err(|_| format!("'int' expects an integer (was '{a}')"))?;
                    (Fetch::Const(ConstVal::Int(v)), Natural::Int)
                }
                "bool" => {
                    let a = call.args.first().map(String::as_str).unwrap_or("0");
                    (
                        Fetch::Const(ConstVal::Bool(a.trim() == "1" || a.trim() == "true")),
                        Natural::Bool,
                    )
                }
                "env" => {
                    let v = call.args.first().and_then(|n| std::env::var(n).ok());
                    match v {
                        Some(v) => (Fetch::Const(ConstVal::Str(v.into_bytes().into())), Natural::Str),
                        None => (Fetch::Unsupported, Natural::Str),
                    }
                }
                _ => {
                    c.warn(format!(
                        "fetch '{name}' is not supported by ringlb: it never matches"
                    ));
                    (Fetch::Unsupported, Natural::Str)
                }
            })
        })();
        match r {
            Ok(x) => x,
            Err(e) => {
                c.warn(e);
                (Fetch::Unsupported, Natural::Str)
            }
        }
    }

    /// Calls `f` with each value of the fetch (several only for `hdr` in an ACL), until
    /// `f` says true. `all`: an ACL (every occurrence) rather than a sample (one).
    pub(crate) fn each<'r>(
        &'r self,
        ctx: &Ctx<'r>,
        fbuf: &'r mut Vec<u8>,
        all: bool,
        f: &mut dyn FnMut(Val<'_>) -> bool,
    ) -> bool {
        if let Fetch::Hdr {
            which,
            name,
            occ,
            full,
        } = self
        {
            if all && *occ == 0 {
                return if *full {
                    ctx.fields(*which, name, &mut |v| f(Val::Str(v)))
                } else {
                    ctx.values(*which, name, &mut |v| f(Val::Str(v)))
                };
            }
        }
        match self.one(ctx, fbuf) {
            Some(v) => f(v),
            None => false,
        }
    }

    /// The single value of the fetch (the last header occurrence by default).
    pub(crate) fn one<'r>(&'r self, ctx: &Ctx<'r>, fbuf: &'r mut Vec<u8>) -> Option<Val<'r>> {
        let req = ctx.req;
        Some(match self {
            Fetch::Path => Val::Str(ctx.path()?),
            Fetch::Url => match (ctx.phase, ctx.msg.path()) {
                // After set-path/replace-path: the new path and the query as sent.
                (Phase::Request, Some(p)) => {
                    fbuf.clear();
                    fbuf.extend_from_slice(p);
                    if let Some(q) = req?.query {
                        fbuf.push(b'?');
                        fbuf.extend_from_slice(q);
                    }
                    Val::Str(fbuf)
                }
                _ => Val::Str(req?.url),
            },
            Fetch::Query => Val::Str(req?.query?),
            Fetch::Method => Val::Str(req?.method),
            Fetch::ReqVer => Val::Str(match req?.head.version {
                Version::Http10 => b"1.0",
                Version::Http11 => b"1.1",
            }),
            Fetch::Base => {
                let host = last_value(ctx, Which::Req, b"host", false);
                let path = ctx.path()?;
                fbuf.clear();
                fbuf.extend_from_slice(host.unwrap_or_default());
                fbuf.extend_from_slice(path);
                Val::Str(fbuf)
            }
            Fetch::Hdr {
                which,
                name,
                occ,
                full,
            } => {
                let v = if *occ > 0 {
                    nth_value(ctx, *which, name, *full, *occ as usize)
                } else if *occ < -1 {
                    let n = count(ctx, *which, name, *full) as i64 + *occ + 1;
                    if n < 1 {
                        return None;
                    }
                    nth_value(ctx, *which, name, *full, n as usize)
                } else {
                    last_value(ctx, *which, name, *full)
                };
                Val::Str(v?)
            }
            Fetch::HdrCnt { which, name, full } => Val::Int(count(ctx, *which, name, *full) as i64),
            Fetch::Src => Val::Ip(unmap_v4(req?.src.ip())),
            Fetch::Dst => Val::Ip(unmap_v4(req?.dst.ip())),
            Fetch::SrcPort => Val::Int(i64::from(req?.src.port())),
            Fetch::DstPort => Val::Int(i64::from(req?.dst.port())),
            Fetch::Urlp { name, delim } => Val::Str(url_param(req?.query?, name, *delim)?),
            Fetch::Cook { name } => {
                let mut found = None;
                ctx.fields(Which::Req, b"cookie", &mut |v| {
                    found = cookie_value(v, name);
                    found.is_some()
                });
                Val::Str(found?)
            }
            Fetch::Status => Val::Int(i64::from(ctx.resp?.head.status)),
            Fetch::Nbsrv(b) => Val::Int(i64::from((req?.nbsrv?)(b)?)),
            Fetch::Const(ConstVal::Str(s)) => Val::Str(s),
            Fetch::Const(ConstVal::Int(i)) => Val::Int(*i),
            Fetch::Const(ConstVal::Bool(b)) => Val::Bool(*b),
            Fetch::HttpAuth(users) => {
                let mut ok = false;
                ctx.fields(Which::Req, b"authorization", &mut |v| {
                    ok = basic_auth_matches(v, users);
                    true
                });
                Val::Bool(ok)
            }
            Fetch::Var { name, default } => Val::Str(ctx.msg.var(name).or(default.as_deref())?),
            Fetch::Unsupported => return None,
        })
    }
}

fn count(ctx: &Ctx<'_>, which: Which, name: &[u8], full: bool) -> usize {
    let mut n = 0usize;
    let mut f = |_: &[u8]| {
        n += 1;
        false
    };
    if name.is_empty() {
        // `hdr_cnt()` without a name counts every field.
        if let Some((_, headers, _)) = ctx.headers(which) {
            return headers.len();
        }
        return 0;
    }
    if full {
        ctx.fields(which, name, &mut f);
    } else {
        ctx.values(which, name, &mut f);
    }
    n
}

fn last_value<'r>(ctx: &Ctx<'r>, which: Which, name: &[u8], full: bool) -> Option<&'r [u8]> {
    let mut last = None;
    let mut f = |v: &'r [u8]| {
        last = Some(v);
        false
    };
    if full {
        ctx.fields(which, name, &mut f);
    } else {
        ctx.values(which, name, &mut f);
    }
    last
}

fn nth_value<'r>(ctx: &Ctx<'r>, which: Which, name: &[u8], full: bool, n: usize) -> Option<&'r [u8]> {
    let mut i = 0usize;
    let mut found = None;
    let mut f = |v: &'r [u8]| {
        i += 1;
        if i == n {
            found = Some(v);
        }
        i >= n
    };
    if full {
        ctx.fields(which, name, &mut f);
    } else {
        ctx.values(which, name, &mut f);
    }
    found
}

/// Longest `Authorization` credentials decoded, in bytes.
const BASIC_AUTH_BYTES_MAX: usize = 1024;

/// True when `v` is `Basic <base64(user:password)>` naming a user of `users` with that
/// clear-text password.
fn basic_auth_matches(v: &[u8], users: &[AuthUser]) -> bool {
    let Some(b64) = v
        .get(..6)
        .filter(|s| s.eq_ignore_ascii_case(b"basic "))
        .and_then(|_| v.get(6..))
    else {
        return false;
    };
    let mut buf = [0u8; BASIC_AUTH_BYTES_MAX];
    let Some(n) = base64_decode(trim_ows(b64), &mut buf) else {
        return false;
    };
    let cred = &buf[..n];
    let Some(colon) = memchr::memchr(b':', cred) else {
        return false;
    };
    let (user, pass) = (&cred[..colon], &cred[colon + 1..]);
    users
        .iter()
        .any(|(u, p)| &**u == user && p.as_deref().is_some_and(|p| p == pass))
}

/// Decodes standard base64 (with `=` padding) into `out`; `None` when invalid or too long.
fn base64_decode(s: &[u8], out: &mut [u8]) -> Option<usize> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let mut n = 0;
    for chunk in s.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut acc = 0u32;
        for &c in &chunk[..4 - pad] {
            acc = acc << 6 | val(c)?;
        }
        acc <<= 6 * pad as u32;
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        for &b in &bytes[..3 - pad] {
            *out.get_mut(n)? = b;
            n += 1;
        }
    }
    Some(n)
}

/// First value of parameter `name` in a query string (`a=1&b=2`).
pub(crate) fn url_param<'q>(query: &'q [u8], name: &[u8], delim: u8) -> Option<&'q [u8]> {
    query.split(|&b| b == delim).find_map(|kv| {
        let (k, v) = match memchr::memchr(b'=', kv) {
            Some(e) => (&kv[..e], &kv[e + 1..]),
            None => (kv, &kv[kv.len()..]),
        };
        (k == name).then_some(v)
    })
}

/// Value of cookie `name` in one `Cookie` header value (`a=1; b=2`).
fn cookie_value<'v>(v: &'v [u8], name: &[u8]) -> Option<&'v [u8]> {
    v.split(|&b| b == b';').find_map(|kv| {
        let kv = trim_ows(kv);
        let e = memchr::memchr(b'=', kv)?;
        let k = trim_ows(&kv[..e]);
        (name.is_empty() || k == name).then(|| trim_ows(&kv[e + 1..]))
    })
}

/// A converter.
#[derive(Debug)]
pub(crate) enum Conv {
    Lower,
    Upper,
    Map {
        name: Box<str>,
        kind: MatchKind,
        default: Option<Box<[u8]>>,
    },
    Field {
        index: i64,
        delims: Box<[u8]>,
        count: i64,
        words: bool,
    },
    Regsub {
        re: regex::bytes::Regex,
        subst: Box<[u8]>,
        global: bool,
    },
    Ltrim(Box<[u8]>),
    Rtrim(Box<[u8]>),
    UrlDec,
    Length,
    /// `concat([<start>],[<var>],[<end>])`.
    Concat {
        start: Box<[u8]>,
        var: Option<Box<[u8]>>,
        end: Box<[u8]>,
    },
    Bytes {
        offset: usize,
        len: Option<usize>,
    },
    Unsupported,
}

impl Conv {
    fn compile(call: &Call, c: &mut Compiler<'_>) -> Result<Conv, RulesError> {
        let arg = |i: usize| call.args.get(i).map(String::as_str);
        let int = |i: usize, dflt: i64| -> Result<i64, RulesError> {
            match arg(i) {
                None | Some("") => Ok(dflt),
                Some(s) => s
                    .trim()
                    .parse()
                    .map_err(|_| c.invalid(format!("converter '{}': '{s}' is not an integer", call.name))),
            }
        };
        Ok(match call.name.as_str() {
            "lower" => Conv::Lower,
            "upper" => Conv::Upper,
            "length" => Conv::Length,
            "concat" => Conv::Concat {
                start: arg(0).unwrap_or_default().as_bytes().into(),
                var: arg(1)
                    .filter(|v| !v.is_empty())
                    .map(|v| v.trim().as_bytes().into()),
                end: arg(2).unwrap_or_default().as_bytes().into(),
            },
            "url_dec" => Conv::UrlDec,
            "ltrim" => Conv::Ltrim(arg(0).unwrap_or(" ").as_bytes().into()),
            "rtrim" => Conv::Rtrim(arg(0).unwrap_or(" ").as_bytes().into()),
            "field" | "word" => {
                let index = int(0, 1)?;
                let delims: Box<[u8]> = arg(1).unwrap_or_default().as_bytes().into();
                if index == 0 || delims.is_empty() {
                    return Err(c.invalid(format!("converter '{}' expects <index>,<delimiters>", call.name)));
                }
                Conv::Field {
                    index,
                    delims,
                    count: int(2, 1)?,
                    words: call.name == "word",
                }
            }
            "bytes" => {
                let offset = int(0, 0)?.max(0) as usize;
                let len = match arg(1) {
                    Some(_) => Some(int(1, 0)?.max(0) as usize),
                    None => None,
                };
                Conv::Bytes { offset, len }
            }
            "regsub" => {
                let (Some(re), Some(subst)) = (arg(0), arg(1)) else {
                    return Err(c.invalid("converter 'regsub' expects <regex>,<subst>".into()));
                };
                let flags = arg(2).unwrap_or_default();
                Conv::Regsub {
                    re: c.regex(re, flags.contains('i'))?,
                    subst: subst.as_bytes().into(),
                    global: flags.contains('g'),
                }
            }
            name => match MatchKind::from_converter(name) {
                Some(kind) => {
                    let Some(map) = arg(0) else {
                        return Err(c.invalid(format!("converter '{name}' expects a map name")));
                    };
                    register_map(map, kind, c)?;
                    Conv::Map {
                        name: map.into(),
                        kind,
                        default: arg(1).map(|d| d.as_bytes().into()),
                    }
                }
                None => {
                    c.warn(format!(
                        "converter '{name}' is not supported by ringlb: its sample is empty"
                    ));
                    Conv::Unsupported
                }
            },
        })
    }

    /// Applies the converter to `cur` (string input in `a` or a scalar), writing a
    /// string output into `a` again (using `b` as room). `None`: no sample.
    fn apply(&self, cur: Cur, a: &mut Vec<u8>, b: &mut Vec<u8>, ctx: &Ctx<'_>) -> Option<Cur> {
        let cur = match (cur, self) {
            (Cur::Int(i), Conv::Length) => return Some(Cur::Int(i64::from(decimal_len(i)))),
            (Cur::Str, _) => Cur::Str,
            (scalar, _) => {
                a.clear();
                scalar.write(a);
                Cur::Str
            }
        };
        debug_assert!(cur == Cur::Str);
        match self {
            Conv::Lower => a.make_ascii_lowercase(),
            Conv::Upper => a.make_ascii_uppercase(),
            Conv::Length => return Some(Cur::Int(a.len() as i64)),
            Conv::Map { name, kind, default } => {
                let found = std::str::from_utf8(a)
                    .ok()
                    .and_then(|s| ctx.maps?.lookup(name, *kind, s))
                    .map(str::as_bytes);
                let v = found.or(default.as_deref())?;
                b.clear();
                b.extend_from_slice(v);
                std::mem::swap(a, b);
            }
            Conv::Field {
                index,
                delims,
                count,
                words,
            } => {
                let (s, e) = field(a, *index, delims, *count, *words)?;
                a.truncate(e);
                a.drain(..s);
            }
            Conv::Regsub { re, subst, global } => {
                b.clear();
                regsub(re, a, subst, *global, b);
                std::mem::swap(a, b);
            }
            Conv::Ltrim(set) => {
                let n = a.iter().take_while(|c| set.contains(c)).count();
                a.drain(..n);
            }
            Conv::Rtrim(set) => {
                let n = a.iter().rev().take_while(|c| set.contains(c)).count();
                a.truncate(a.len() - n);
            }
            Conv::Concat { start, var, end } => {
                a.extend_from_slice(start);
                if let Some(v) = var.as_deref().and_then(|n| ctx.msg.var(n)) {
                    a.extend_from_slice(v);
                }
                a.extend_from_slice(end);
            }
            Conv::UrlDec => {
                b.clear();
                url_decode(a, b);
                std::mem::swap(a, b);
            }
            Conv::Bytes { offset, len } => {
                if *offset > a.len() {
                    return None;
                }
                let end = len.map_or(a.len(), |l| (offset + l).min(a.len()));
                a.truncate(end);
                a.drain(..*offset);
            }
            Conv::Unsupported => return None,
        }
        Some(Cur::Str)
    }
}

fn register_map(map: &str, kind: MatchKind, c: &mut Compiler<'_>) -> Result<(), RulesError> {
    c.uses_maps = true;
    let origin = format!("proxy '{}'", c.proxy);
    let res = if map.starts_with("virt@") || map.starts_with("opt@") {
        c.maps.register(map, kind, &origin)
    } else {
        let known = c.maps.load().map(map).is_some();
        if known {
            c.maps.register(map, kind, &origin)
        } else {
            c.maps.load_file(std::path::Path::new(map), kind, &origin)
        }
    };
    res.map_err(|e| RulesError::File {
        proxy: c.proxy.clone(),
        path: map.to_string(),
        reason: e.to_string(),
    })
}

fn decimal_len(i: i64) -> u32 {
    let mut b = [0u8; 24];
    let mut w = &mut b[..];
    let before = w.len();
    let _ = std::io::Write::write_fmt(&mut w, format_args!("{i}"));
    (before - w.len()) as u32
}

/// The byte range of field `index` (1-based; negative from the end) and the `count`
/// fields after it. `words` skips empty fields (`word`), otherwise `field`.
fn field(s: &[u8], index: i64, delims: &[u8], count: i64, words: bool) -> Option<(usize, usize)> {
    // Field spans, walked again rather than collected (no allocation).
    let fields = || {
        s.split(|b| delims.contains(b))
            .scan(0usize, |pos, part| {
                let start = *pos;
                *pos += part.len() + 1;
                Some((start, start + part.len()))
            })
            .filter(|&(a, b)| !words || a < b)
    };
    let more = if count <= 0 {
        usize::MAX
    } else {
        usize::try_from(count - 1).unwrap_or(usize::MAX)
    };
    // 0-based positions of the first and last field returned.
    let (first, last) = if index > 0 {
        let first = usize::try_from(index - 1).ok()?;
        (first, first.saturating_add(more))
    } else {
        // From the end, `count` fields going left (HAProxy's `field`).
        let total = fields().count();
        let last = total.checked_sub(usize::try_from(index.unsigned_abs()).ok()?)?;
        (last.saturating_sub(more), last)
    };
    let mut it = fields().skip(first);
    let a = it.next()?;
    let b = it.take(last - first).last().unwrap_or(a);
    Some((a.0, b.1))
}

/// `regsub`: replaces the first (or every, `global`) match of `re` in `s` with `subst`,
/// where `\1`..`\9` insert capture groups.
fn regsub(re: &regex::bytes::Regex, s: &[u8], subst: &[u8], global: bool, out: &mut Vec<u8>) {
    let mut last = 0;
    for caps in re.captures_iter(s) {
        let Some(m) = caps.get(0) else { break };
        out.extend_from_slice(s.get(last..m.start()).unwrap_or_default());
        expand(subst, &caps, out);
        last = m.end();
        if !global {
            break;
        }
    }
    out.extend_from_slice(s.get(last..).unwrap_or_default());
}

/// Copies `tmpl` to `out` with `\N` replaced by capture `N` (HAProxy's `exp_replace`).
pub(crate) fn expand(tmpl: &[u8], caps: &regex::bytes::Captures<'_>, out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(&c) = tmpl.get(i) {
        if c == b'\\' {
            if let Some(d @ b'0'..=b'9') = tmpl.get(i + 1) {
                if let Some(m) = caps.get(usize::from(d - b'0')) {
                    out.extend_from_slice(m.as_bytes());
                }
                i += 2;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
}

fn url_decode(s: &[u8], out: &mut Vec<u8>) {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if c == b'%' {
            if let (Some(h), Some(l)) = (
                s.get(i + 1).and_then(|&b| hex(b)),
                s.get(i + 2).and_then(|&b| hex(b)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if c == b'+' { b' ' } else { c });
        i += 1;
    }
}

/// State of a converter chain: a string in the `a` buffer, or a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cur {
    Str,
    Int(i64),
    Bool(bool),
    Ip(IpAddr),
}

impl Cur {
    fn write(self, out: &mut Vec<u8>) {
        use std::io::Write;
        let _ = match self {
            Cur::Str => Ok(()),
            Cur::Int(i) => write!(out, "{i}"),
            Cur::Bool(b) => write!(out, "{}", u8::from(b)),
            Cur::Ip(ip) => write!(out, "{ip}"),
        };
    }
}

/// Writes a value as text (HAProxy's cast to string).
pub(crate) fn write_val(v: Val<'_>, out: &mut Vec<u8>) {
    match v {
        Val::Str(s) => out.extend_from_slice(s),
        Val::Int(i) => Cur::Int(i).write(out),
        Val::Bool(b) => Cur::Bool(b).write(out),
        Val::Ip(ip) => Cur::Ip(ip).write(out),
    }
}

/// A fetch and its converters, compiled.
#[derive(Debug)]
pub(crate) struct CSample {
    pub(crate) fetch: Fetch,
    pub(crate) convs: Vec<Conv>,
}

impl CSample {
    pub(crate) fn compile(s: &Sample, c: &mut Compiler<'_>) -> Result<(CSample, Natural), RulesError> {
        let (fetch, natural) = Fetch::compile(&s.fetch, &s.fetch.name, c);
        let convs = s
            .converters
            .iter()
            .map(|conv| Conv::compile(conv, c))
            .collect::<Result<Vec<_>, _>>()?;
        let natural = match convs.last() {
            None => natural,
            Some(Conv::Length) => Natural::Int,
            Some(_) => Natural::Str,
        };
        Ok((CSample { fetch, convs }, natural))
    }

    /// Calls `f` with every value (ACL context), converted, until it says true.
    pub(crate) fn each(&self, ctx: &Ctx<'_>, bufs: &mut Bufs, f: &mut dyn FnMut(Val<'_>) -> bool) -> bool {
        let Bufs { f: fbuf, conv } = bufs;
        if self.convs.is_empty() {
            return self.fetch.each(ctx, fbuf, true, f);
        }
        let [a, b] = conv;
        self.fetch.each(
            ctx,
            fbuf,
            true,
            &mut |v| match convert(&self.convs, v, a, b, ctx) {
                Some(out) => f(out),
                None => false,
            },
        )
    }

    /// The value (sample context: the last header occurrence), converted.
    pub(crate) fn one<'x>(&'x self, ctx: &Ctx<'x>, bufs: &'x mut Bufs) -> Option<Val<'x>> {
        let Bufs { f: fbuf, conv } = bufs;
        let v = self.fetch.one(ctx, fbuf)?;
        if self.convs.is_empty() {
            return Some(v);
        }
        let [a, b] = conv;
        convert(&self.convs, v, a, b, ctx)
    }
}

fn convert<'a>(
    convs: &[Conv],
    v: Val<'_>,
    a: &'a mut Vec<u8>,
    b: &mut Vec<u8>,
    ctx: &Ctx<'_>,
) -> Option<Val<'a>> {
    let mut cur = match v {
        Val::Str(s) => {
            a.clear();
            a.extend_from_slice(s);
            Cur::Str
        }
        Val::Int(i) => Cur::Int(i),
        Val::Bool(x) => Cur::Bool(x),
        Val::Ip(ip) => Cur::Ip(ip),
    };
    for c in convs {
        cur = c.apply(cur, a, b, ctx)?;
    }
    Some(match cur {
        Cur::Str => Val::Str(a),
        Cur::Int(i) => Val::Int(i),
        Cur::Bool(x) => Val::Bool(x),
        Cur::Ip(ip) => Val::Ip(ip),
    })
}

/// A log-format variable HAProxy allows in header values (`%ci`, `%fp`...).
#[derive(Debug, Clone, Copy)]
enum Var {
    ClientIp,
    ClientPort,
    FrontendIp,
    FrontendPort,
    Method,
    Uri,
    Path,
    Query,
    Version,
}

/// One piece of a compiled log-format string.
#[derive(Debug)]
enum Seg {
    Lit(Box<[u8]>),
    Sample(CSample),
    Var(Var),
}

/// A compiled log-format string (`X-%[src]`, `%[path,lower]`, `%ci:%cp`).
#[derive(Debug)]
pub(crate) struct Fmt {
    segs: Vec<Seg>,
}

impl Fmt {
    pub(crate) fn compile(parts: &[FmtPart], _phase: Phase, c: &mut Compiler<'_>) -> Result<Fmt, RulesError> {
        let mut segs = Vec::new();
        for p in parts {
            match p {
                FmtPart::Sample(s) => segs.push(Seg::Sample(CSample::compile(s, c)?.0)),
                FmtPart::Text(t) => text_segs(t, &mut segs, c),
            }
        }
        Ok(Fmt { segs })
    }

    /// Compiles a raw log-format string.
    pub(crate) fn parse(s: &str, phase: Phase, c: &mut Compiler<'_>) -> Result<Fmt, RulesError> {
        let parts = crate::config::cond::parse_format(s).map_err(|e| c.invalid(e))?;
        Fmt::compile(&parts, phase, c)
    }

    /// A format that is only `text`.
    pub(crate) fn literal_bytes(text: &[u8]) -> Fmt {
        let segs = if text.is_empty() {
            Vec::new()
        } else {
            vec![Seg::Lit(text.into())]
        };
        Fmt { segs }
    }

    /// Appends the evaluated string to `out`. A sample that fails adds nothing.
    pub(crate) fn eval(&self, ctx: &Ctx<'_>, bufs: &mut Bufs, out: &mut Vec<u8>) {
        for seg in &self.segs {
            match seg {
                Seg::Lit(l) => out.extend_from_slice(l),
                Seg::Sample(s) => {
                    if let Some(v) = s.one(ctx, bufs) {
                        write_val(v, out);
                    }
                }
                Seg::Var(var) => write_var(*var, ctx, out),
            }
        }
    }
}

fn write_var(var: Var, ctx: &Ctx<'_>, out: &mut Vec<u8>) {
    let Some(req) = ctx.req else {
        return;
    };
    match var {
        Var::ClientIp => write_val(Val::Ip(unmap_v4(req.src.ip())), out),
        Var::ClientPort => write_val(Val::Int(i64::from(req.src.port())), out),
        Var::FrontendIp => write_val(Val::Ip(unmap_v4(req.dst.ip())), out),
        Var::FrontendPort => write_val(Val::Int(i64::from(req.dst.port())), out),
        Var::Method => out.extend_from_slice(req.method),
        Var::Uri => out.extend_from_slice(req.url),
        Var::Path => out.extend_from_slice(ctx.path().unwrap_or_default()),
        Var::Query => {
            if let Some(q) = req.query {
                out.push(b'?');
                out.extend_from_slice(q);
            }
        }
        Var::Version => out.extend_from_slice(req.head.version.as_bytes()),
    }
}

/// Splits literal text on `%` variables: `%%` is a `%`, known variables become
/// [`Var`]s, unknown ones stay as text (with a warning).
fn text_segs(t: &str, segs: &mut Vec<Seg>, c: &mut Compiler<'_>) {
    const VARS: &[(&str, Var)] = &[
        ("HM", Var::Method),
        ("HU", Var::Uri),
        ("HP", Var::Path),
        ("HQ", Var::Query),
        ("HV", Var::Version),
        ("ci", Var::ClientIp),
        ("cp", Var::ClientPort),
        ("fi", Var::FrontendIp),
        ("fp", Var::FrontendPort),
    ];
    let mut lit = Vec::new();
    let mut rest = t;
    while let Some(p) = rest.find('%') {
        lit.extend_from_slice(rest.get(..p).unwrap_or_default().as_bytes());
        let after = rest.get(p + 1..).unwrap_or_default();
        if let Some(r) = after.strip_prefix('%') {
            lit.push(b'%');
            rest = r;
            continue;
        }
        match VARS.iter().find(|(n, _)| after.starts_with(n)) {
            Some((n, v)) => {
                if !lit.is_empty() {
                    segs.push(Seg::Lit(std::mem::take(&mut lit).into()));
                }
                segs.push(Seg::Var(*v));
                rest = after.get(n.len()..).unwrap_or_default();
            }
            None => {
                if !after.is_empty() {
                    c.warn(format!(
                        "log-format variable in '{t}' is not supported by ringlb: kept as text"
                    ));
                }
                lit.push(b'%');
                rest = after;
            }
        }
    }
    lit.extend_from_slice(rest.as_bytes());
    if !lit.is_empty() {
        segs.push(Seg::Lit(lit.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn lists_split_like_haproxy() {
        let v: Vec<&[u8]> = split_list(b"a, b ,\"c,d\",,e").collect();
        assert_eq!(v, vec![&b"a"[..], b"b", b"\"c,d\"", b"", b"e"]);
        assert_eq!(split_list(b"").collect::<Vec<_>>(), vec![&b""[..]]);
    }

    #[test]
    fn fields_and_words() {
        let s = b"a/b//c/d";
        let get = |i, n, w| field(s, i, b"/", n, w).map(|(a, b)| &s[a..b]);
        assert_eq!(get(1, 1, false), Some(&b"a"[..]));
        assert_eq!(get(3, 1, false), Some(&b""[..]));
        assert_eq!(get(3, 1, true), Some(&b"c"[..]));
        assert_eq!(get(-1, 1, false), Some(&b"d"[..]));
        assert_eq!(get(-1, 2, false), Some(&b"c/d"[..]));
        assert_eq!(get(-2, 0, false), Some(&b"a/b//c"[..]));
        assert_eq!(get(1, 0, false), Some(&b"a/b//c/d"[..]));
        assert_eq!(get(2, 2, true), Some(&b"b//c"[..]));
        assert_eq!(get(9, 1, false), None);
        assert_eq!(get(-9, 1, false), None);
    }

    #[test]
    fn params_cookies_decoding() {
        assert_eq!(url_param(b"a=1&b=2&b=3", b"b", b'&'), Some(&b"2"[..]));
        assert_eq!(url_param(b"a&b=2", b"a", b'&'), Some(&b""[..]));
        assert_eq!(url_param(b"a=1", b"c", b'&'), None);
        assert_eq!(cookie_value(b"x=1; SID=abc ; y=2", b"SID"), Some(&b"abc"[..]));
        let mut out = Vec::new();
        url_decode(b"a%2Fb+c%zz", &mut out);
        assert_eq!(out, b"a/b c%zz");
        let re = regex::bytes::Regex::new("([a-z]+)-([0-9]+)").unwrap();
        let mut out = Vec::new();
        regsub(&re, b"x ab-12 cd-3", br"\2:\1", true, &mut out);
        assert_eq!(out, b"x 12:ab 3:cd");
        assert_eq!(decimal_len(-120), 4);
        let mut b = [0u8; 16];
        assert_eq!(
            base64_decode(b"YWxpY2U6cHc=", &mut b).map(|n| &b[..n]),
            Some(&b"alice:pw"[..])
        );
        assert_eq!(base64_decode(b"YQ==", &mut b).map(|n| &b[..n]), Some(&b"a"[..]));
        for bad in [
            &b"YQ="[..],
            b"Y===",
            b"Y!==",
            b"YWxpY2U6cHdYWxpY2U6cHdYWxpY2U6cHd=",
        ] {
            assert_eq!(base64_decode(bad, &mut b), None, "{bad:?}");
        }
        let users = vec![
            (Box::from(&b"alice"[..]), Some(Box::from(&b"pw"[..]))),
            (Box::from(&b"bob"[..]), None),
        ];
        assert!(basic_auth_matches(b"Basic YWxpY2U6cHc=", &users));
        assert!(basic_auth_matches(b"basic  YWxpY2U6cHc=", &users));
        assert!(!basic_auth_matches(b"Bearer YWxpY2U6cHc=", &users));
        assert!(!basic_auth_matches(b"Basic Ym9iOg==", &users));
        assert_eq!(
            unmap_v4("::ffff:10.0.0.1".parse().unwrap()),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))
        );
    }
}
