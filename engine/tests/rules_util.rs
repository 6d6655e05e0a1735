//! Helpers shared by the `rules_*` tests: build real rules from a config text and
//! evaluate raw requests against them.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use engine::config::model::Config;
use engine::http::{Limits, RequestHead, ResponseHead, Status};
use engine::map::Maps;
use engine::rules::{EvalScratch, ProxyRules, RequestVerdict, RequestView};

/// Put before every test config: HTTP mode and timeouts, so the snippets stay short.
pub const DEFAULTS: &str =
    "defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 5s\n";

/// Parses [`DEFAULTS`] then a config text (panics with the diagnostics when invalid).
pub fn config(text: &str) -> Config {
    let text = format!("{DEFAULTS}{text}");
    match engine::config::parse_text("test.cfg", &text, &|_| None) {
        Ok(l) => l.config,
        Err(d) => panic!("config rejected: {d:?}"),
    }
}

/// Compiled rules of every proxy of a config, sharing one map registry.
pub struct Rules {
    pub cfg: Config,
    pub maps: Arc<Maps>,
}

impl Rules {
    pub fn new(text: &str) -> Rules {
        Rules::with_maps(text, Arc::new(Maps::default()))
    }

    pub fn with_maps(text: &str, maps: Arc<Maps>) -> Rules {
        Rules {
            cfg: config(text),
            maps,
        }
    }

    /// The rules of the frontend (or listen) `name`.
    pub fn fe(&self, name: &str) -> ProxyRules {
        let p = self
            .cfg
            .frontend(name)
            .unwrap_or_else(|| panic!("no frontend {name}"));
        ProxyRules::compile_with_userlists(p, &self.maps, &self.cfg.userlists)
            .unwrap_or_else(|e| panic!("compile {name}: {e}"))
    }

    /// The rules of the backend `name`.
    pub fn be(&self, name: &str) -> ProxyRules {
        let p = self
            .cfg
            .backend(name)
            .unwrap_or_else(|| panic!("no backend {name}"));
        ProxyRules::compile_with_userlists(p, &self.maps, &self.cfg.userlists)
            .unwrap_or_else(|e| panic!("compile {name}: {e}"))
    }

    /// Every backend name of the config.
    pub fn backend_names(&self) -> Vec<String> {
        self.cfg.backends().map(|b| b.name.clone()).collect()
    }
}

/// A parsed request: the raw bytes (CRLF added where `\n` is alone) and its head.
pub struct Req {
    pub raw: Vec<u8>,
    pub head: RequestHead,
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

impl Req {
    /// Parses `text` (lines separated by `\n`; the blank line is added).
    pub fn new(text: &str) -> Req {
        Req::from_addr(text, "192.0.2.10:40000", "127.0.0.1:8080")
    }

    pub fn from_addr(text: &str, src: &str, dst: &str) -> Req {
        let mut raw = Vec::new();
        for line in text.lines() {
            raw.extend_from_slice(line.as_bytes());
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        let mut head = RequestHead::default();
        match head.parse(&raw, &Limits::default()) {
            Ok(Status::Complete(_)) => {}
            other => panic!("request {text:?} does not parse: {other:?}"),
        }
        Req {
            raw,
            head,
            src: src.parse().expect("src address"),
            dst: dst.parse().expect("dst address"),
        }
    }

    pub fn view(&self) -> RequestView<'_> {
        RequestView::new(&self.raw, &self.head, self.src, self.dst)
    }
}

/// A parsed response.
pub struct Resp {
    pub raw: Vec<u8>,
    pub head: ResponseHead,
}

impl Resp {
    pub fn new(text: &str) -> Resp {
        let mut raw = Vec::new();
        for line in text.lines() {
            raw.extend_from_slice(line.as_bytes());
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        let mut head = ResponseHead::new(&Limits::default());
        match head.parse(&raw, &Limits::default(), engine::http::Method::Get) {
            Ok(Status::Complete(_)) => {}
            other => panic!("response {text:?} does not parse: {other:?}"),
        }
        Resp { raw, head }
    }
}

/// Frontend rules, then routing, then the chosen backend's rules, as the h1 loop does:
/// returns the verdict text and the backend.
pub fn process(r: &Rules, fe: &str, req: &Req, scratch: &mut EvalScratch) -> (String, Option<String>) {
    let names = r.backend_names();
    let usable = |n: &str| names.iter().any(|b| b == n);
    let fer = r.fe(fe);
    let view = req.view();
    scratch.start_request();
    if let Some(v) = final_text(fer.http_request(&view, scratch)) {
        return (v, None);
    }
    let Some(be) = fer.route(&view, &usable, scratch).map(str::to_string) else {
        return ("503".into(), None);
    };
    let ber = r.be(&be);
    if let Some(v) = final_text(ber.http_request(&view, scratch)) {
        return (v, Some(be));
    }
    engine::rules::forwarded_for(&fer, Some(&ber), &view, scratch);
    let mut out = Vec::new();
    match scratch.write_request_head(&req.raw, &req.head, &mut out) {
        Ok(()) => (String::from_utf8_lossy(&out).into_owned(), Some(be)),
        Err(e) => (format!("write error: {e}"), Some(be)),
    }
}

/// The text of a final verdict (`deny 403`, `tarpit 500`, the reply bytes), `None`
/// for `Continue`.
pub fn final_text(v: RequestVerdict<'_>) -> Option<String> {
    match v {
        RequestVerdict::Continue => None,
        RequestVerdict::Deny { status } => Some(format!("deny {status}")),
        RequestVerdict::Tarpit { status } => Some(format!("tarpit {status}")),
        RequestVerdict::Reply { response, .. } => Some(String::from_utf8_lossy(response).into_owned()),
        _ => Some("unknown verdict".into()),
    }
}
