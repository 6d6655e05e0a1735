//! `http-request`/`http-response` actions and `redirect` rules, compiled; replies
//! (`return`, `redirect`, `auth`) are built as HAProxy writes them on the wire.

use crate::config::model::{HttpAction, Redirect as RedirectModel, ReturnBody};
use crate::http::errors;
use crate::map::MapSet;

use super::sample::{expand, write_val, CSample, Ctx, Fmt, Phase, Which};
use super::{Compiler, EditKind, EvalScratch, ProxyRules, RequestView, ResponseView, RulesError};
use super::{EDIT_BYTES_MAX, RETURN_BODY_BYTES_MAX};

/// HAProxy's reason phrase for a status (`http_get_reason`).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        210 => "Content Different",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        310 => "Too many Redirects",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Requested range unsatisfiable",
        417 => "Expectation failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable entity",
        423 => "Locked",
        424 => "Method failure",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        449 => "Retry With",
        450 => "Blocked by Windows Parental Controls",
        451 => "Unavailable For Legal Reasons",
        456 => "Unrecoverable Error",
        499 => "client has closed connection",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway or Proxy Error",
        503 => "Service Unavailable",
        504 => "Gateway Time-out",
        505 => "HTTP Version not supported",
        506 => "Variant also negociate",
        507 => "Insufficient storage",
        508 => "Loop detected",
        509 => "Bandwidth Limit Exceeded",
        510 => "Not extended",
        511 => "Network authentication required",
        520 => "Web server is returning an unknown error",
        _ => "Other",
    }
}

/// What an action tells the rule loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Evaluate the next rule.
    Next,
    /// Stop evaluating this rule list (`allow`).
    Stop,
    /// A final answer.
    Final(Final),
}

/// A final answer; a `Reply`'s bytes are in [`EvalScratch`]'s reply buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Final {
    Deny(u16),
    Tarpit(u16),
    Reply(u16),
}

/// Body of a compiled `return`.
#[derive(Debug)]
enum Body {
    /// The whole response, prebuilt (`errorfile`, `default-errorfiles`).
    Raw(Box<[u8]>),
    /// A body, static or log-format.
    Fmt(Fmt),
}

/// A compiled `return`.
#[derive(Debug)]
pub(crate) struct Return {
    status: u16,
    content_type: Option<Box<[u8]>>,
    body: Body,
    headers: Vec<(Box<[u8]>, Fmt)>,
}

/// The value a `set-var` stores.
#[derive(Debug)]
pub(crate) enum VarValue {
    Sample(CSample),
    Fmt(Fmt),
}

/// The variable name inside `set-var(txn.x[,cond])`.
fn var_name(action: &str) -> Option<&str> {
    let inner = action.split_once('(')?.1.strip_suffix(')')?;
    let name = inner.split(',').next()?.trim();
    (!name.is_empty()).then_some(name)
}

/// A compiled action.
#[derive(Debug)]
pub(crate) enum Action {
    Allow,
    Deny(u16),
    Tarpit(u16),
    Auth(Option<String>),
    Redirect(Redirect),
    Return(Box<Return>),
    SetHeader(Box<[u8]>, Fmt),
    AddHeader(Box<[u8]>, Fmt),
    DelHeader(Box<[u8]>),
    ReplaceHeader {
        name: Box<[u8]>,
        re: regex::bytes::Regex,
        fmt: Fmt,
        per_value: bool,
    },
    SetPath(Fmt),
    /// `set-var(name) <expr>` / `set-var-fmt(name) <fmt>`.
    SetVar(Box<[u8]>, VarValue),
    /// `unset-var(name)`.
    UnsetVar(Box<[u8]>),
    ReplacePath(regex::bytes::Regex, Fmt),
    /// Accepted, not evaluated (listed in the warnings).
    Ignored,
}

impl Action {
    pub(crate) fn compile(a: &HttpAction, phase: Phase, c: &mut Compiler<'_>) -> Result<Action, RulesError> {
        let bytes = |s: &str| -> Box<[u8]> { s.as_bytes().into() };
        let header = |s: &str, c: &Compiler<'_>| -> Result<Box<[u8]>, RulesError> {
            if is_token(s) {
                Ok(s.as_bytes().into())
            } else {
                Err(c.invalid(format!("invalid header name '{s}'")))
            }
        };
        Ok(match a {
            HttpAction::Allow => Action::Allow,
            HttpAction::Deny { status } => Action::Deny(*status),
            HttpAction::Tarpit { status } => Action::Tarpit(*status),
            HttpAction::Auth { realm } if phase == Phase::Request => Action::Auth(realm.clone()),
            HttpAction::Redirect(r) if phase == Phase::Request => Action::Redirect(Redirect::compile(r, c)?),
            HttpAction::Return {
                status,
                content_type,
                body,
                headers,
            } if phase == Phase::Request => {
                let read = |p: &str, c: &Compiler<'_>| c.read_file(p, RETURN_BODY_BYTES_MAX);
                let body = match body {
                    ReturnBody::None => Body::Fmt(Fmt::parse("", phase, c)?),
                    ReturnBody::String(s) => Body::Fmt(literal(s)),
                    ReturnBody::LfString(s) => Body::Fmt(Fmt::parse(s, phase, c)?),
                    ReturnBody::File(p) => Body::Fmt(Fmt::literal_bytes(&read(p, c)?)),
                    ReturnBody::LfFile(p) => {
                        let text = read(p, c)?;
                        Body::Fmt(Fmt::parse(&String::from_utf8_lossy(&text), phase, c)?)
                    }
                    ReturnBody::ErrorFile(p) => Body::Raw(read(p, c)?.into()),
                    ReturnBody::DefaultErrorFiles => {
                        Body::Raw(errors::default_response(*status, false).into())
                    }
                };
                let mut hdrs = Vec::with_capacity(headers.len());
                for (n, v) in headers {
                    hdrs.push((header(n, c)?, Fmt::parse(v, phase, c)?));
                }
                Action::Return(Box::new(Return {
                    status: *status,
                    content_type: content_type.as_deref().map(bytes),
                    body,
                    headers: hdrs,
                }))
            }
            HttpAction::SetHeader { name, value } => {
                Action::SetHeader(header(name, c)?, Fmt::compile(value, phase, c)?)
            }
            HttpAction::AddHeader { name, value } => {
                Action::AddHeader(header(name, c)?, Fmt::compile(value, phase, c)?)
            }
            HttpAction::DelHeader { name } => Action::DelHeader(header(name, c)?),
            HttpAction::ReplaceHeader { name, regex, replace }
            | HttpAction::ReplaceValue { name, regex, replace } => Action::ReplaceHeader {
                name: header(name, c)?,
                re: c.regex(regex, false)?,
                fmt: Fmt::parse(replace, phase, c)?,
                per_value: matches!(a, HttpAction::ReplaceValue { .. }),
            },
            HttpAction::SetPath(f) if phase == Phase::Request => Action::SetPath(Fmt::compile(f, phase, c)?),
            HttpAction::ReplacePath { regex, replace } if phase == Phase::Request => {
                Action::ReplacePath(c.regex(regex, false)?, Fmt::parse(replace, phase, c)?)
            }
            HttpAction::Other { action, args }
                if action.starts_with("set-var") || action.starts_with("unset-var") =>
            {
                let Some(name) = var_name(action) else {
                    return Err(c.invalid(format!("'{action}': missing variable name")));
                };
                let name: Box<[u8]> = bytes(name);
                if action.starts_with("unset-var(") {
                    Action::UnsetVar(name)
                } else {
                    let text = args.join(" ");
                    if action.starts_with("set-var-fmt(") {
                        Action::SetVar(name, VarValue::Fmt(Fmt::parse(&text, phase, c)?))
                    } else {
                        let sample = crate::config::cond::Sample::parse(&text).map_err(|e| c.invalid(e))?;
                        Action::SetVar(name, VarValue::Sample(CSample::compile(&sample, c)?.0))
                    }
                }
            }
            other => {
                let name = match other {
                    HttpAction::Other { action, .. } => action.clone(),
                    HttpAction::SetStatus(_) => "set-status".into(),
                    HttpAction::UseService(_) => "use-service".into(),
                    _ => "this action".into(),
                };
                let which = if phase == Phase::Request {
                    "http-request"
                } else {
                    "http-response"
                };
                c.warn(format!("'{which} {name}' is not supported by ringlb: ignored"));
                Action::Ignored
            }
        })
    }

    /// Runs a request action whose condition held.
    pub(crate) fn run_request(
        &self,
        rules: &ProxyRules,
        req: &RequestView<'_>,
        maps: Option<&MapSet>,
        scratch: &mut EvalScratch,
    ) -> Flow {
        match self {
            Action::Allow => Flow::Stop,
            Action::Deny(s) => Flow::Final(Final::Deny(*s)),
            Action::Tarpit(s) => Flow::Final(Final::Tarpit(*s)),
            Action::Auth(realm) => {
                auth_reply(realm.as_deref().unwrap_or(&rules.name), &mut scratch.reply);
                Flow::Final(Final::Reply(401))
            }
            Action::Redirect(r) => {
                if r.skips(req, maps, scratch) {
                    Flow::Next
                } else {
                    Flow::Final(r.run(req, maps, scratch))
                }
            }
            Action::Return(r) => {
                let EvalScratch {
                    msg,
                    bufs,
                    reply,
                    fmt,
                    ..
                } = scratch;
                let ctx = Ctx::new(Some(req), None, Phase::Request, msg, maps);
                reply.clear();
                match &r.body {
                    Body::Raw(b) => reply.extend_from_slice(b),
                    Body::Fmt(f) => {
                        reply.extend_from_slice(b"HTTP/1.1 ");
                        push_status(reply, r.status);
                        reply.extend_from_slice(b"\r\n");
                        for (n, v) in &r.headers {
                            fmt.clear();
                            v.eval(&ctx, bufs, fmt);
                            push_field(reply, n, fmt);
                        }
                        fmt.clear();
                        f.eval(&ctx, bufs, fmt);
                        reply.extend_from_slice(b"content-length: ");
                        write_val(super::sample::Val::Int(fmt.len() as i64), reply);
                        reply.extend_from_slice(b"\r\n");
                        if let (Some(ct), false) = (&r.content_type, fmt.is_empty()) {
                            push_field(reply, b"content-type", ct);
                        }
                        reply.extend_from_slice(b"\r\n");
                        reply.extend_from_slice(fmt);
                    }
                }
                Flow::Final(Final::Reply(r.status))
            }
            Action::SetPath(f) => {
                let EvalScratch { msg, bufs, fmt, .. } = scratch;
                fmt.clear();
                f.eval(&Ctx::new(Some(req), None, Phase::Request, msg, maps), bufs, fmt);
                rewrite(msg.set_path(fmt))
            }
            Action::ReplacePath(re, f) => {
                let EvalScratch {
                    msg,
                    bufs,
                    fmt,
                    reply,
                    ..
                } = scratch;
                let ctx = Ctx::new(Some(req), None, Phase::Request, msg, maps);
                let path = msg.path().unwrap_or(req.path);
                let Some(caps) = re.captures(path) else {
                    return Flow::Next;
                };
                fmt.clear();
                f.eval(&ctx, bufs, fmt);
                reply.clear();
                expand(fmt, &caps, reply);
                rewrite(msg.set_path(reply))
            }
            _ => self.run_headers(Some(req), None, Phase::Request, maps, scratch),
        }
    }

    /// Runs a response action whose condition held.
    pub(crate) fn run_response(
        &self,
        req: Option<&RequestView<'_>>,
        resp: &ResponseView<'_>,
        maps: Option<&MapSet>,
        scratch: &mut EvalScratch,
    ) -> Flow {
        match self {
            Action::Allow => Flow::Stop,
            Action::Deny(s) => Flow::Final(Final::Deny(*s)),
            Action::Tarpit(s) => Flow::Final(Final::Deny(*s)),
            _ => self.run_headers(req, Some(resp), Phase::Response, maps, scratch),
        }
    }

    /// Header edits, the same for requests and responses.
    fn run_headers(
        &self,
        req: Option<&RequestView<'_>>,
        resp: Option<&ResponseView<'_>>,
        phase: Phase,
        maps: Option<&MapSet>,
        scratch: &mut EvalScratch,
    ) -> Flow {
        let EvalScratch {
            msg,
            bufs,
            fmt,
            reply,
            ..
        } = scratch;
        match self {
            Action::SetHeader(name, f) | Action::AddHeader(name, f) => {
                fmt.clear();
                f.eval(&Ctx::new(req, resp, phase, msg, maps), bufs, fmt);
                let kind = if matches!(self, Action::SetHeader(..)) {
                    EditKind::Set
                } else {
                    EditKind::Add
                };
                rewrite(msg.push(kind, name, fmt))
            }
            Action::DelHeader(name) => rewrite(msg.push(EditKind::Del, name, b"")),
            Action::SetVar(name, value) => {
                fmt.clear();
                {
                    let ctx = Ctx::new(req, resp, phase, msg, maps);
                    match value {
                        VarValue::Fmt(f) => f.eval(&ctx, bufs, fmt),
                        VarValue::Sample(s) => match s.one(&ctx, bufs) {
                            Some(v) => write_val(v, fmt),
                            // No sample: the variable is left as it was.
                            None => return Flow::Next,
                        },
                    }
                }
                msg.set_var(name, fmt);
                Flow::Next
            }
            Action::UnsetVar(name) => {
                msg.unset_var(name);
                Flow::Next
            }
            Action::ReplaceHeader {
                name,
                re,
                fmt: f,
                per_value,
            } => {
                // New values, each as (len, bytes) runs in `reply`.
                reply.clear();
                let mut changed = false;
                {
                    let ctx = Ctx::new(req, resp, phase, msg, maps);
                    fmt.clear();
                    f.eval(&ctx, bufs, fmt);
                    let tmpl: &[u8] = fmt;
                    let mut replace = |v: &[u8], out: &mut Vec<u8>| match re.captures(v) {
                        Some(caps) => {
                            changed = true;
                            expand(tmpl, &caps, out);
                        }
                        None => out.extend_from_slice(v),
                    };
                    ctx.fields(Which::Current, name, &mut |v| {
                        let start = reply.len();
                        reply.extend_from_slice(&[0; 4]);
                        if *per_value {
                            for (i, part) in v.split(|&b| b == b',').enumerate() {
                                if i > 0 {
                                    reply.extend_from_slice(b", ");
                                }
                                replace(trim(part), reply);
                            }
                        } else {
                            replace(v, reply);
                        }
                        let len = (reply.len() - start - 4) as u32;
                        if let Some(slot) = reply.get_mut(start..start + 4) {
                            slot.copy_from_slice(&len.to_le_bytes());
                        }
                        reply.len() > EDIT_BYTES_MAX
                    });
                }
                if !changed {
                    return Flow::Next;
                }
                if !msg.push(EditKind::Del, name, b"") {
                    return rewrite(false);
                }
                let mut rest: &[u8] = reply;
                while let [a, b, c, d, tail @ ..] = rest {
                    let len = u32::from_le_bytes([*a, *b, *c, *d]) as usize;
                    let Some(v) = tail.get(..len) else { break };
                    if !msg.push(EditKind::Add, name, v) {
                        return rewrite(false);
                    }
                    rest = tail.get(len..).unwrap_or_default();
                }
                Flow::Next
            }
            Action::Ignored => Flow::Next,
            // Request-only actions never reach here in a response list (compiled as
            // Ignored), and request ones are handled by `run_request`.
            _ => Flow::Next,
        }
    }
}

/// RFC 9110 token: what a header name may be.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', r @ ..] = s {
        s = r;
    }
    while let [r @ .., b' ' | b'\t'] = s {
        s = r;
    }
    s
}

/// A failed rewrite answers 500, as HAProxy with `strict-mode on` (its default).
fn rewrite(ok: bool) -> Flow {
    if ok {
        Flow::Next
    } else {
        Flow::Final(Final::Deny(500))
    }
}

fn literal(s: &str) -> Fmt {
    Fmt::literal_bytes(s.as_bytes())
}

fn push_status(out: &mut Vec<u8>, status: u16) {
    super::sample::write_val(super::sample::Val::Int(i64::from(status)), out);
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
}

fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// HAProxy's 401 for `http-request auth`.
fn auth_reply(realm: &str, out: &mut Vec<u8>) {
    const BODY: &[u8] =
        b"<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n";
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: ");
    super::sample::write_val(super::sample::Val::Int(BODY.len() as i64), out);
    out.extend_from_slice(
        b"\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nwww-authenticate: Basic realm=\"",
    );
    out.extend(realm.bytes().filter(|&b| b != b'"' && b >= 0x20 && b != 0x7f));
    out.extend_from_slice(b"\"\r\n\r\n");
    out.extend_from_slice(BODY);
}

/// Kind of a redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RedirectKind {
    Location,
    Prefix,
    Scheme,
}

/// A compiled `redirect` (keyword or `http-request redirect`).
#[derive(Debug)]
pub(crate) struct Redirect {
    kind: RedirectKind,
    to: Fmt,
    code: u16,
    drop_query: bool,
    append_slash: bool,
    ignore_empty: bool,
    cookie: Option<Box<[u8]>>,
}

impl Redirect {
    pub(crate) fn compile(r: &RedirectModel, c: &mut Compiler<'_>) -> Result<Redirect, RulesError> {
        let kind = match r.kind.as_str() {
            "location" => RedirectKind::Location,
            "prefix" => RedirectKind::Prefix,
            "scheme" => RedirectKind::Scheme,
            k => return Err(c.invalid(format!("unknown redirect type '{k}'"))),
        };
        let mut cookie = None;
        for o in &r.options {
            if let Some(v) = o.strip_prefix("set-cookie ") {
                cookie = Some(format!("{v}; path=/").into_bytes().into());
            } else if let Some(v) = o.strip_prefix("clear-cookie ") {
                let eq = if v.contains('=') { "" } else { "=" };
                cookie = Some(
                    format!("{v}{eq}; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/")
                        .into_bytes()
                        .into(),
                );
            }
        }
        Ok(Redirect {
            kind,
            to: Fmt::parse(&r.to, Phase::Request, c)?,
            code: r.code,
            drop_query: r.options.iter().any(|o| o == "drop-query"),
            append_slash: r.options.iter().any(|o| o == "append-slash"),
            ignore_empty: r.options.iter().any(|o| o == "ignore-empty"),
            cookie,
        })
    }

    /// True when the rule does nothing for this request (`ignore-empty` and an empty
    /// location).
    pub(crate) fn skips(
        &self,
        req: &RequestView<'_>,
        maps: Option<&MapSet>,
        scratch: &mut EvalScratch,
    ) -> bool {
        if !self.ignore_empty {
            return false;
        }
        let EvalScratch { msg, bufs, fmt, .. } = scratch;
        fmt.clear();
        self.to
            .eval(&Ctx::new(Some(req), None, Phase::Request, msg, maps), bufs, fmt);
        fmt.is_empty()
    }

    /// Builds the redirect response in the scratch's reply buffer.
    pub(crate) fn run(
        &self,
        req: &RequestView<'_>,
        maps: Option<&MapSet>,
        scratch: &mut EvalScratch,
    ) -> Final {
        let EvalScratch {
            msg,
            bufs,
            fmt,
            reply,
            ..
        } = scratch;
        let ctx = Ctx::new(Some(req), None, Phase::Request, msg, maps);
        fmt.clear();
        self.to.eval(&ctx, bufs, fmt);
        reply.clear();
        reply.extend_from_slice(b"HTTP/1.1 ");
        push_status(reply, self.code);
        reply.extend_from_slice(b"\r\ncontent-length: 0\r\nlocation: ");
        let path = msg.path().unwrap_or(req.path);
        let path: &[u8] = if path.is_empty() { b"/" } else { path };
        let loc_start = reply.len();
        match self.kind {
            RedirectKind::Location => reply.extend_from_slice(fmt),
            RedirectKind::Prefix | RedirectKind::Scheme => {
                if self.kind == RedirectKind::Scheme {
                    reply.extend_from_slice(fmt);
                    reply.extend_from_slice(b"://");
                    let mut host = None;
                    ctx.fields(Which::Req, b"host", &mut |v| {
                        host = Some(v);
                        true
                    });
                    reply.extend_from_slice(host.unwrap_or_default());
                } else if &fmt[..] != b"/" {
                    reply.extend_from_slice(fmt);
                }
                reply.extend_from_slice(path);
                if let (false, Some(q)) = (self.drop_query, req.query) {
                    reply.push(b'?');
                    reply.extend_from_slice(q);
                }
                if self.append_slash && reply.len() > loc_start && reply.last() != Some(&b'/') {
                    reply.push(b'/');
                }
            }
        }
        // A location must not split the response.
        let bad = reply
            .get(loc_start..)
            .unwrap_or_default()
            .iter()
            .any(|&b| b == b'\r' || b == b'\n' || b == 0);
        if bad {
            return Final::Deny(500);
        }
        reply.extend_from_slice(b"\r\n");
        if matches!(self.code, 302 | 303 | 307) {
            reply.extend_from_slice(b"cache-control: no-cache\r\n");
        }
        if let Some(c) = &self.cookie {
            push_field(reply, b"set-cookie", c);
        }
        reply.extend_from_slice(b"\r\n");
        Final::Reply(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_variable_names() {
        for (code, text) in [
            (200, "OK"),
            (302, "Found"),
            (404, "Not Found"),
            (503, "Service Unavailable"),
            (799, "Other"),
        ] {
            assert_eq!(reason(code), text);
        }
        let table = [
            ("set-var(txn.x)", Some("txn.x")),
            ("set-var(txn.x,ifexists)", Some("txn.x")),
            ("set-var-fmt( req.y )", Some("req.y")),
            ("unset-var(sess.z)", Some("sess.z")),
            ("set-var()", None),
            ("set-var(txn.x", None),
            ("set-var", None),
        ];
        for (action, want) in table {
            assert_eq!(var_name(action), want, "{action}");
        }
    }

    #[test]
    fn header_names_are_tokens() {
        for ok in ["X-Forwarded-For", "x_a", "A!#$%&'*+.^`|~9"] {
            assert!(is_token(ok), "{ok}");
        }
        for bad in ["", "X Y", "X:Y", "X\r", "é", "X(1)"] {
            assert!(!is_token(bad), "{bad}");
        }
    }

    #[test]
    fn auth_realm_cannot_break_the_header() {
        let mut out = Vec::new();
        auth_reply("a\"b\r\nX: y", &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("www-authenticate: Basic realm=\"abX: y\"\r\n"),
            "{text}"
        );
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
    }
}
