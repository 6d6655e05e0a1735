//! `http-request`/`http-response` actions, `redirect` rules and `option forwardfor`:
//! config snippet -> request -> the exact head forwarded or the exact reply.

mod rules_util;

use engine::rules::{EvalScratch, ResponseVerdict, ResponseView};
use rules_util::{process, Req, Resp, Rules};

fn run(cfg: &str, req: &str) -> (String, Option<String>) {
    let r = Rules::new(cfg);
    let mut s = EvalScratch::default();
    process(&r, "fe", &Req::new(req), &mut s)
}

#[test]
fn header_edits_apply_in_rule_order() {
    let cfg = "
frontend fe
    bind :80
    http-request add-header X-Seen 1
    http-request set-header X-Client %[src]:%[src_port]
    http-request set-header X-Host %[req.hdr(host),lower]
    http-request del-header Cookie
    http-request add-header X-Path %[path,upper]
    http-request set-header X-Lit \"a b%%c\"
    http-request set-header X-Vars %ci-%fp-%HM
    http-request add-header X-Seen 2 if { hdr(x-seen) 1 }
    http-request set-header X-Missing %[req.hdr(x-none)]
    default_backend be
backend be
    http-request set-header X-Backend be
";
    let (out, be) = run(
        cfg,
        "GET /a/b?x=1 HTTP/1.1\nHost: WWW.A.com\nCookie: a=1\nCookie: b=2\nX-Keep: k",
    );
    assert_eq!(be.as_deref(), Some("be"));
    assert_eq!(
        out,
        "GET /a/b?x=1 HTTP/1.1\r\nHost: WWW.A.com\r\nX-Keep: k\r\nX-Seen: 1\r\nX-Client: 192.0.2.10:40000\r\n\
         X-Host: www.a.com\r\nX-Path: /A/B\r\nX-Lit: a b%c\r\nX-Vars: 192.0.2.10-8080-GET\r\n\
         X-Seen: 2\r\nX-Missing: \r\nX-Backend: be\r\n\r\n"
    );
}

#[test]
fn edits_are_visible_to_later_acls_and_routing() {
    let cfg = "
frontend fe
    bind :80
    http-request set-header X-Tier gold if { src 192.0.2.0/24 }
    http-request set-path /v2%[path] if { path_beg /api }
    http-request set-header X-Url %[url]
    http-request deny deny_status 429 if { hdr(x-tier) bronze }
    use_backend be_gold if { req.hdr(x-tier) gold } { path_beg /v2/api }
    default_backend be
backend be
backend be_gold
    http-request set-header X-Seen-Path %[path]
";
    let (out, be) = run(cfg, "GET /api/x?q HTTP/1.1\nHost: h\nX-Tier: bronze");
    assert_eq!(be.as_deref(), Some("be_gold"));
    assert_eq!(
        out,
        "GET /v2/api/x?q HTTP/1.1\r\nHost: h\r\nX-Tier: gold\r\nX-Url: /v2/api/x?q\r\nX-Seen-Path: /v2/api/x\r\n\r\n"
    );
}

#[test]
fn final_actions() {
    let cfg = "
frontend fe
    bind :80
    http-request allow if { path /allowed }
    http-request deny if { path /deny }
    http-request deny deny_status 404 if { path /deny404 }
    http-request tarpit if { path /tarpit }
    http-request auth realm \"Sec Zone\" if { path /auth }
    http-request auth if { path /auth2 }
    http-request return status 200 content-type text/plain string ok hdr X-A %[path] if { path /health }
    http-request return status 503 if { path /empty }
    http-request return status 200 content-type text/plain lf-string \"hello %[src]\" if { path /lf }
    http-request return status 403 default-errorfiles if { path /def }
    http-request deny if { path_beg /allowed }
    http-request set-header X-After rules
    default_backend be
backend be
";
    let cases: &[(&str, &str)] = &[
        ("/deny", "deny 403"),
        ("/deny404", "deny 404"),
        ("/tarpit", "tarpit 500"),
        (
            "/auth",
            "HTTP/1.1 401 Unauthorized\r\ncontent-length: 112\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\
             www-authenticate: Basic realm=\"Sec Zone\"\r\n\r\n<html><body><h1>401 Unauthorized</h1>\n\
             You need a valid user and password to access this content.\n</body></html>\n",
        ),
        ("/health", "HTTP/1.1 200 OK\r\nX-A: /health\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"),
        ("/empty", "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"),
        (
            "/lf",
            "HTTP/1.1 200 OK\r\ncontent-length: 16\r\ncontent-type: text/plain\r\n\r\nhello 192.0.2.10",
        ),
        (
            "/def",
            "HTTP/1.1 403 Forbidden\r\ncontent-length: 93\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n\
             <html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n",
        ),
        // `allow` stops the rule list: the later deny and set-header are not run.
        ("/allowed", "GET /allowed HTTP/1.1\r\nHost: h\r\n\r\n"),
        ("/other", "GET /other HTTP/1.1\r\nHost: h\r\nX-After: rules\r\n\r\n"),
    ];
    for (path, want) in cases {
        let (out, _) = run(cfg, &format!("GET {path} HTTP/1.1\nHost: h"));
        assert_eq!(out, *want, "{path}");
    }
    let r = Rules::new(cfg);
    assert!(r.fe("fe").warnings().is_empty(), "{:?}", r.fe("fe").warnings());
    let (out, _) = run(cfg, "GET /auth2 HTTP/1.1\nHost: h");
    assert!(out.contains("www-authenticate: Basic realm=\"fe\"\r\n"), "{out}");
}

#[test]
fn return_file_bodies() {
    let dir = std::env::temp_dir().join(format!("ringlb-rules-ret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let body = dir.join("body.html");
    std::fs::write(&body, "<p>maintenance</p>\n").unwrap();
    let raw = dir.join("503.http");
    std::fs::write(&raw, "HTTP/1.1 503 Down\r\ncontent-length: 0\r\n\r\n").unwrap();
    let cfg = format!(
        "
frontend fe
    bind :80
    http-request return status 503 content-type text/html file {} if {{ path /m }}
    http-request return status 503 errorfile {} if {{ path /e }}
    default_backend be
backend be
",
        body.display(),
        raw.display()
    );
    let (out, _) = run(&cfg, "GET /m HTTP/1.1\nHost: h");
    assert_eq!(
        out,
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 19\r\ncontent-type: text/html\r\n\r\n<p>maintenance</p>\n"
    );
    let (out, _) = run(&cfg, "GET /e HTTP/1.1\nHost: h");
    assert_eq!(out, "HTTP/1.1 503 Down\r\ncontent-length: 0\r\n\r\n");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn redirects() {
    let cfg = "
frontend fe
    bind :80
    redirect scheme https code 301 if { path_beg /secure }
    redirect prefix /new drop-query if { path_beg /old }
    redirect prefix / append-slash drop-query if { path /dir }
    redirect prefix https://b.example set-cookie SEEN=1 if { path_beg /pfx }
    redirect location /login clear-cookie SID if { path /logout }
    redirect location %[hdr(x-to)] ignore-empty if { path /to }
    http-request redirect location https://%[hdr(host)]%[path] code 308 if { path_beg /hr }
    default_backend be
backend be
";
    let cases: &[(&str, &str)] = &[
        (
            "/secure/a?x=1",
            "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: https://h.example/secure/a?x=1\r\n\r\n",
        ),
        (
            "/old/p?x=1",
            "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /new/old/p\r\ncache-control: no-cache\r\n\r\n",
        ),
        (
            "/dir?x",
            "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /dir/\r\ncache-control: no-cache\r\n\r\n",
        ),
        (
            "/pfx?a",
            "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: https://b.example/pfx?a\r\n\
             cache-control: no-cache\r\nset-cookie: SEEN=1; path=/\r\n\r\n",
        ),
        (
            "/logout",
            "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /login\r\ncache-control: no-cache\r\n\
             set-cookie: SID=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/\r\n\r\n",
        ),
        // ignore-empty: no X-To header, the rule is skipped.
        ("/to", "GET /to HTTP/1.1\r\nHost: h.example\r\n\r\n"),
        (
            "/hr/x",
            "HTTP/1.1 308 Permanent Redirect\r\ncontent-length: 0\r\nlocation: https://h.example/hr/x\r\n\r\n",
        ),
    ];
    for (path, want) in cases {
        let (out, _) = run(cfg, &format!("GET {path} HTTP/1.1\nHost: h.example"));
        assert_eq!(out, *want, "{path}");
    }
}

#[test]
fn path_rewrites() {
    let cfg = r"
frontend fe
    bind :80
    http-request replace-path /api/(.*) /\1 if { path_beg /api/ }
    http-request replace-path ^/img/([^/]+)/(.*)$ /images/\2?\1 if { path_beg /img/ }
    http-request set-path %[path,lower] if { path_beg /UP }
    http-request set-path /bad%[hdr(x-evil)] if { path /evil }
    default_backend be
backend be
";
    let cases: &[(&str, &str)] = &[
        ("/api/users/1?a=b", "GET /users/1?a=b HTTP/1.1\r\nHost: h\r\n\r\n"),
        ("/UP/Per", "GET /up/per HTTP/1.1\r\nHost: h\r\n\r\n"),
        // A path with `?` cannot be written: the caller gets the error.
        ("/img/big/a.png", "write error: invalid path in rewrite"),
        ("/keep", "GET /keep HTTP/1.1\r\nHost: h\r\n\r\n"),
    ];
    for (path, want) in cases {
        let (out, _) = run(cfg, &format!("GET {path} HTTP/1.1\nHost: h"));
        assert_eq!(out, *want, "{path}");
    }
}

#[test]
fn replace_header_and_value() {
    let cfg = r"
frontend fe
    bind :80
    http-request replace-header User-Agent ^Mozilla/(.*) Moz/\1
    http-request replace-value X-List ^a([0-9])$ A\1
    default_backend be
backend be
";
    let (out, _) = run(
        cfg,
        "GET / HTTP/1.1\nHost: h\nUser-Agent: Mozilla/5.0\nX-List: a1, b2,a3\nX-K: 1",
    );
    assert_eq!(
        out,
        "GET / HTTP/1.1\r\nHost: h\r\nX-K: 1\r\nUser-Agent: Moz/5.0\r\nX-List: A1, b2, A3\r\n\r\n"
    );
    // Nothing matches: the head is unchanged.
    let (out, _) = run(cfg, "GET / HTTP/1.1\nHost: h\nUser-Agent: curl/8");
    assert_eq!(out, "GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: curl/8\r\n\r\n");
}

#[test]
fn rewrites_that_would_split_the_message_fail_with_500() {
    let cfg = "
frontend fe
    bind :80
    http-request set-header X-Copy %[url,url_dec]
    default_backend be
backend be
";
    let (out, _) = run(cfg, "GET /a%0d%0aEvil:%201 HTTP/1.1\nHost: h");
    assert_eq!(out, "deny 500");
    let (out, _) = run(cfg, "GET /a%20b HTTP/1.1\nHost: h");
    assert_eq!(out, "GET /a%20b HTTP/1.1\r\nHost: h\r\nX-Copy: /a b\r\n\r\n");
    // Too many edits for one message.
    let mut many = String::from("frontend fe\n    bind :80\n    default_backend be\n");
    for i in 0..=engine::rules::EDITS_MAX {
        many.push_str(&format!("    http-request add-header X-{i} v\n"));
    }
    many.push_str("backend be\n");
    let (out, _) = run(&many, "GET / HTTP/1.1\nHost: h");
    assert_eq!(out, "deny 500");
}

#[test]
fn forwardfor() {
    let cfg = "
frontend fe
    bind :80
    option forwardfor except 127.0.0.0/8
    default_backend be
    use_backend be_hdr if { path /hdr }
    use_backend be_none if { path /none }
backend be
backend be_hdr
    option forwardfor header X-Real-IP
backend be_none
    option forwardfor if-none
";
    let r = Rules::new(cfg);
    let mut s = EvalScratch::default();
    let cases: &[(&str, &str, &str)] = &[
        (
            "192.0.2.1:5",
            "GET / HTTP/1.1\nHost: h",
            "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n",
        ),
        (
            "127.0.0.1:5",
            "GET / HTTP/1.1\nHost: h",
            "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        ),
        (
            "[2001:db8::1]:5",
            "GET /hdr HTTP/1.1\nHost: h",
            "GET /hdr HTTP/1.1\r\nHost: h\r\nX-Real-IP: 2001:db8::1\r\n\r\n",
        ),
        (
            "[::ffff:192.0.2.7]:5",
            "GET / HTTP/1.1\nHost: h\nX-Forwarded-For: 1.1.1.1",
            "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 192.0.2.7\r\n\r\n",
        ),
        (
            "192.0.2.1:5",
            "GET /none HTTP/1.1\nHost: h\nX-Forwarded-For: 1.1.1.1",
            "GET /none HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n",
        ),
        (
            "192.0.2.1:5",
            "GET /none HTTP/1.1\nHost: h",
            "GET /none HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n",
        ),
    ];
    for (src, req, want) in cases {
        let req = Req::from_addr(req, src, "127.0.0.1:80");
        let (out, _) = process(&r, "fe", &req, &mut s);
        assert_eq!(out, *want, "{src}");
    }
}

#[test]
fn response_rules() {
    let cfg = "
frontend fe
    bind :80
    http-response set-header X-Fe fe
    http-response del-header Server
    default_backend be
backend be
    http-response add-header X-Cache-Status %[res.hdr(x-cache),lower] if { res.hdr(x-cache) -m found }
    http-response set-header X-Status %[status]
    http-response deny if { status 500 } { path_beg /private }
    http-response set-header X-Was-Gzip 1 if { hdr(content-encoding) gzip }
";
    let r = Rules::new(cfg);
    let (fe, be) = (r.fe("fe"), r.be("be"));
    let req = Req::new("GET /private/x HTTP/1.1\nHost: h");
    let mut s = EvalScratch::default();
    let mut respond = |text: &str, with_req: bool| -> (ResponseVerdict, String) {
        let resp = Resp::new(text);
        let view = ResponseView::new(&resp.raw, &resp.head);
        let rv = req.view();
        let rq = with_req.then_some(&rv);
        s.start_response();
        let mut v = be.http_response(&view, rq, &mut s);
        if v == ResponseVerdict::Continue {
            v = fe.http_response(&view, rq, &mut s);
        }
        let mut out = Vec::new();
        s.write_response_head(&resp.raw, &resp.head, &mut out).unwrap();
        (v, String::from_utf8(out).unwrap())
    };
    let (v, out) = respond(
        "HTTP/1.1 200 OK\nServer: nginx\nX-Cache: HIT\nContent-Encoding: gzip\nContent-Length: 0",
        true,
    );
    assert_eq!(v, ResponseVerdict::Continue);
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\nX-Cache: HIT\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\
         X-Cache-Status: hit\r\nX-Status: 200\r\nX-Was-Gzip: 1\r\nX-Fe: fe\r\n\r\n"
    );
    let (v, _) = respond("HTTP/1.1 500 Oops\nContent-Length: 0", true);
    assert_eq!(v, ResponseVerdict::Deny { status: 403 });
    // Without the request at hand, request fetches have no sample: no deny.
    let (v, _) = respond("HTTP/1.1 500 Oops\nContent-Length: 0", false);
    assert_eq!(v, ResponseVerdict::Continue);
}

#[test]
fn variables_carry_values_between_rules_and_to_the_response() {
    let cfg = "
frontend fe
    bind :80
    http-request set-var(txn.host) req.hdr(host),lower
    http-request set-var-fmt(txn.who) \"%[src] via %[var(txn.host)]\"
    http-request set-var(txn.n) hdr_cnt(x-a)
    http-request set-var(req.gone) str(x)
    http-request unset-var(req.gone)
    http-request set-header X-Who %[var(txn.who)]
    http-request set-header X-Gone %[var(req.gone,none)]
    http-request set-header X-Cat %[str(x),concat(<,txn.host,>)]
    http-request deny deny_status 400 if { var(txn.n) -m int gt 2 }
    http-response set-header X-Host %[var(txn.host)]
    default_backend be
backend be
    http-request set-header X-Be-Host %[var(txn.host)]
";
    let (out, _) = run(cfg, "GET / HTTP/1.1\nHost: A.Example\nX-A: 1");
    assert_eq!(
        out,
        "GET / HTTP/1.1\r\nHost: A.Example\r\nX-A: 1\r\nX-Who: 192.0.2.10 via a.example\r\nX-Gone: none\r\nX-Cat: x<a.example>\r\n\
         X-Be-Host: a.example\r\n\r\n"
    );
    let (out, _) = run(cfg, "GET / HTTP/1.1\nHost: h\nX-A: 1, 2, 3");
    assert_eq!(out, "deny 400");
    // The variables outlive the request head: the response rules see them.
    let r = Rules::new(cfg);
    let (fe, mut s) = (r.fe("fe"), EvalScratch::default());
    let req = Req::new("GET / HTTP/1.1\nHost: Z.example");
    process(&r, "fe", &req, &mut s);
    // One scratch per core: another connection's request runs in between.
    let vars = s.take_vars();
    assert!(!vars.is_empty());
    process(&r, "fe", &Req::new("GET / HTTP/1.1\nHost: other"), &mut s);
    let resp = Resp::new("HTTP/1.1 200 OK\nContent-Length: 0");
    s.start_response();
    s.restore_vars(vars);
    assert_eq!(
        fe.http_response(&ResponseView::new(&resp.raw, &resp.head), None, &mut s),
        ResponseVerdict::Continue
    );
    let mut out = Vec::new();
    s.write_response_head(&resp.raw, &resp.head, &mut out).unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Host: z.example\r\n\r\n"
    );
}

#[test]
fn basic_auth_against_a_userlist() {
    let cfg = "
userlist admins
    user alice insecure-password s3cret
    user bob password $6$salt$hash
frontend fe
    bind :80
    http-request auth realm Admin unless { http_auth(admins) }
    default_backend be
backend be
";
    let r = Rules::new(cfg);
    assert!(r.fe("fe").warnings().iter().any(|w| w.contains("encrypted")));
    let cases: &[(&str, bool)] = &[
        ("", false),
        ("Authorization: Basic YWxpY2U6czNjcmV0", true), // alice:s3cret
        ("Authorization: Basic YWxpY2U6d3Jvbmc=", false), // alice:wrong
        ("Authorization: Basic Ym9iOg==", false),        // bob:
        ("Authorization: Basic !!!", false),
        ("Authorization: Bearer YWxpY2U6czNjcmV0", false),
    ];
    for (hdr, ok) in cases {
        let text = if hdr.is_empty() {
            "GET / HTTP/1.1\nHost: h".to_string()
        } else {
            format!("GET / HTTP/1.1\nHost: h\n{hdr}")
        };
        let (out, _) = run(cfg, &text);
        assert_eq!(out.starts_with("GET / "), *ok, "{hdr}: {out}");
        if !ok {
            assert!(out.contains("www-authenticate: Basic realm=\"Admin\""), "{out}");
        }
    }
}
