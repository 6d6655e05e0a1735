//! `use_backend`/`default_backend` routing: conditions, named and anonymous ACLs,
//! skipped targets, dynamic names through converters and maps (files and `virt@`).

mod rules_util;

use std::sync::Arc;

use engine::map::{Maps, MatchKind};
use engine::rules::EvalScratch;
use rules_util::{Req, Rules};

const ROUTES: &str = "
frontend fe
    mode http
    bind :8080
    acl api path_beg /api/
    acl static path_end .css .js .png
    acl static path_beg /static
    acl admin hdr(host) -i admin.example.com
    acl internal src 10.0.0.0/8 192.168.0.0/16
    acl is_post method POST
    use_backend be_admin if admin internal
    use_backend be_deny if admin !internal
    use_backend be_static if static || { hdr_beg(host) -i cdn. }
    use_backend be_write if api is_post or { path -m reg ^/v[0-9]+/write$ }
    use_backend be_api if api
    use_backend be_ua unless { hdr_sub(user-agent) -i bot } || { path / }
    default_backend be_default
backend be_admin
backend be_deny
backend be_static
backend be_write
backend be_api
backend be_ua
backend be_default
";

fn route(r: &Rules, fe: &str, req: &Req, usable: &dyn Fn(&str) -> bool) -> Option<String> {
    let rules = r.fe(fe);
    let mut s = EvalScratch::default();
    s.start_request();
    rules.route(&req.view(), usable, &mut s).map(str::to_string)
}

#[test]
fn conditions_pick_the_first_matching_rule() {
    let r = Rules::new(ROUTES);
    let names = r.backend_names();
    let usable = |n: &str| names.iter().any(|b| b == n);
    // (src, request, expected backend)
    let table: &[(&str, &str, &str)] = &[
        (
            "10.1.1.1:1",
            "GET /x HTTP/1.1\nHost: ADMIN.example.com\nUser-Agent: bot",
            "be_admin",
        ),
        (
            "203.0.113.9:1",
            "GET /x HTTP/1.1\nHost: admin.example.com",
            "be_deny",
        ),
        ("203.0.113.9:1", "GET /a/b.css HTTP/1.1\nHost: www", "be_static"),
        ("203.0.113.9:1", "GET /static/x HTTP/1.1\nHost: www", "be_static"),
        (
            "203.0.113.9:1",
            "GET /x HTTP/1.1\nHost: CDN.example.com",
            "be_static",
        ),
        (
            "203.0.113.9:1",
            "POST /api/items HTTP/1.1\nHost: www\nContent-Length: 0",
            "be_write",
        ),
        (
            "203.0.113.9:1",
            "PUT /v2/write HTTP/1.1\nHost: www\nContent-Length: 0",
            "be_write",
        ),
        (
            "203.0.113.9:1",
            "PUT /v2/writes HTTP/1.1\nHost: www\nContent-Length: 0",
            "be_ua",
        ),
        ("203.0.113.9:1", "GET /api/items HTTP/1.1\nHost: www", "be_api"),
        ("203.0.113.9:1", "GET /api HTTP/1.1\nHost: www", "be_ua"),
        (
            "203.0.113.9:1",
            "GET /other HTTP/1.1\nHost: www\nUser-Agent: Mozilla",
            "be_ua",
        ),
        (
            "203.0.113.9:1",
            "GET /missing HTTP/1.1\nHost: www\nUser-Agent: x",
            "be_ua",
        ),
        (
            "203.0.113.9:1",
            "GET /other HTTP/1.1\nHost: www\nUser-Agent: Googlebot",
            "be_default",
        ),
        ("203.0.113.9:1", "GET / HTTP/1.1\nHost: www", "be_default"),
        (
            "192.168.3.3:1",
            "GET /x?a=1 HTTP/1.1\nHost: admin.example.com",
            "be_admin",
        ),
        (
            "[::ffff:10.0.0.7]:1",
            "GET /x HTTP/1.1\nHost: admin.example.com",
            "be_admin",
        ),
    ];
    for (src, text, want) in table {
        let req = Req::from_addr(text, src, "127.0.0.1:8080");
        assert_eq!(
            route(&r, "fe", &req, &usable).as_deref(),
            Some(*want),
            "{src} {text:?}"
        );
    }
}

#[test]
fn unusable_targets_are_skipped_and_default_may_fail() {
    let r = Rules::new(ROUTES);
    let req = Req::new("GET /api/x HTTP/1.1\nHost: www");
    // be_api unpublished: skipped; be_ua's condition holds.
    let not_api = |n: &str| n != "be_api";
    assert_eq!(route(&r, "fe", &req, &not_api).as_deref(), Some("be_ua"));
    // Nothing usable at all: no backend (HAProxy answers 503).
    assert_eq!(route(&r, "fe", &req, &|_| false), None);
    let req = Req::new("GET / HTTP/1.1\nHost: www");
    assert_eq!(route(&r, "fe", &req, &|n| n != "be_default"), None);
}

#[test]
fn same_name_acls_are_ored_and_predefined_acls_work() {
    let r = Rules::new(
        "
frontend fe
    mode http
    bind :80
    acl a path /one
    acl a path /two
    acl a hdr(x-a) yes
    use_backend b_a if a
    use_backend b_local if LOCALHOST METH_GET HTTP_1.1
    use_backend b_post if METH_POST HTTP_1.0
    use_backend b_true if TRUE !FALSE HTTP HTTP_URL_SLASH
backend b_a
backend b_local
backend b_post
backend b_true
",
    );
    let all = |_: &str| true;
    let cases: &[(&str, &str, &str)] = &[
        ("1.2.3.4:1", "GET /one HTTP/1.1\nHost: h", "b_a"),
        ("1.2.3.4:1", "GET /two HTTP/1.1\nHost: h", "b_a"),
        ("1.2.3.4:1", "GET /three HTTP/1.1\nHost: h\nX-A: no, yes", "b_a"),
        ("127.0.0.1:1", "GET /x HTTP/1.1\nHost: h", "b_local"),
        ("127.9.0.1:1", "HEAD /x HTTP/1.1\nHost: h", "b_local"),
        ("[::1]:1", "GET /x HTTP/1.1\nHost: h", "b_local"),
        ("127.0.0.1:1", "GET /x HTTP/1.0", "b_true"),
        ("1.2.3.4:1", "POST /x HTTP/1.0\nContent-Length: 0", "b_post"),
        ("1.2.3.4:1", "GET /x HTTP/1.1\nHost: h", "b_true"),
    ];
    for (src, text, want) in cases {
        let req = Req::from_addr(text, src, "127.0.0.1:80");
        assert_eq!(
            route(&r, "fe", &req, &all).as_deref(),
            Some(*want),
            "{src} {text:?}"
        );
    }
    let req = Req::new("GET http://h/x HTTP/1.1\nHost: h");
    assert_eq!(
        route(&r, "fe", &req, &all),
        None,
        "absolute URL is not HTTP_URL_SLASH"
    );
}

#[test]
fn dynamic_backend_from_host_through_a_virtual_map() {
    let maps = Arc::new(Maps::default());
    let r = Rules::with_maps(
        "
frontend fe
    mode http
    bind :80
    use_backend %[req.hdr(host),lower,map_dom(virt@hosts.map,be_fallback)] if { hdr(host) -m found }
    use_backend be_nohost
    default_backend be_default
backend be_a
backend be_b
backend be_fallback
backend be_nohost
backend be_default
",
        Arc::clone(&maps),
    );
    let fe = r.fe("fe");
    // The converter registered the map; the Runtime API fills it later.
    assert!(maps.load().map("virt@hosts.map").is_some());
    maps.add(
        "virt@hosts.map",
        None,
        &[("example.com", "be_a"), ("api.example.org", "be_b")],
    )
    .unwrap();
    let names = r.backend_names();
    let usable = |n: &str| names.iter().any(|b| b == n);
    let mut s = EvalScratch::default();
    let cases: &[(&str, Option<&str>)] = &[
        ("GET / HTTP/1.1\nHost: WWW.Example.COM", Some("be_a")),
        ("GET / HTTP/1.1\nHost: example.com", Some("be_a")),
        ("GET / HTTP/1.1\nHost: v2.api.example.org", Some("be_b")),
        ("GET / HTTP/1.1\nHost: other.net", Some("be_fallback")),
        ("GET / HTTP/1.0", Some("be_nohost")),
    ];
    for (text, want) in cases {
        let req = Req::new(text);
        s.start_request();
        assert_eq!(fe.route(&req.view(), &usable, &mut s), *want, "{text:?}");
    }
    // A map value naming no backend ends the search at default_backend (HAProxy).
    maps.set("virt@hosts.map", "example.com", "be_gone").unwrap();
    let req = Req::new("GET / HTTP/1.1\nHost: example.com");
    s.start_request();
    assert_eq!(fe.route(&req.view(), &usable, &mut s), Some("be_default"));
}

#[test]
fn map_files_with_every_match_kind() {
    let dir = std::env::temp_dir().join(format!("ringlb-rules-maps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let beg = write(
        "beg.map",
        "# comment\n/api be_api\n/api/v2 be_v2\n/static be_static\n",
    );
    let end = write("end.map", ".png be_img\n.css be_static\n");
    let reg = write("reg.map", "^/u/[0-9]+$ be_user\n");
    let exact = write("str.map", "/exact be_exact\n");
    let text = format!(
        "
frontend fe
    mode http
    bind :80
    use_backend %[path,map_beg({beg})] if {{ path,map_beg({beg}) -m found }}
    use_backend %[path,map_end({end})] if {{ path,map_end({end}) -m found }}
    use_backend %[path,map_reg({reg})] if {{ path,map_reg({reg}) -m found }}
    use_backend %[path,map({exact},be_default)]
backend be_api
backend be_v2
backend be_static
backend be_img
backend be_user
backend be_exact
backend be_default
"
    );
    let r = Rules::new(&text);
    let all = |_: &str| true;
    let cases: &[(&str, &str)] = &[
        ("/api/v1/x", "be_api"),
        ("/api/v2/x", "be_v2"),
        ("/static/a.png", "be_static"),
        ("/img/a.png", "be_img"),
        ("/u/42", "be_user"),
        ("/u/42x", "be_default"),
        ("/exact", "be_exact"),
        ("/nothing", "be_default"),
    ];
    for (path, want) in cases {
        let req = Req::new(&format!("GET {path}?q=1 HTTP/1.1\nHost: h"));
        assert_eq!(route(&r, "fe", &req, &all).as_deref(), Some(*want), "{path}");
    }
    assert!(r
        .maps
        .load()
        .map(&beg)
        .is_some_and(|m| m.kinds().any(|k| k == MatchKind::Beg)));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn compile_fails_on_bad_regex_and_missing_files() {
    let bad = [
        "frontend fe\n    mode http\n    bind :80\n    use_backend b if { path_reg ([a- }\nbackend b\n",
        "frontend fe\n    mode http\n    bind :80\n    use_backend b if { path -f /nonexistent/ringlb.lst }\nbackend b\n",
        "frontend fe\n    mode http\n    bind :80\n    use_backend %[path,map_beg(/nonexistent/ringlb.map)]\nbackend b\n",
        "frontend fe\n    mode http\n    bind :80\n    http-request replace-path (x /y\n",
        "frontend fe\n    mode http\n    bind :80\n    http-request set-header \"X Y\" v\n",
        "frontend fe\n    mode http\n    bind :80\n    http-response del-header X:Y\n",
    ];
    for text in bad {
        let r = Rules::new(text);
        let p = r.cfg.frontend("fe").unwrap();
        let e = engine::rules::ProxyRules::compile(p, &r.maps);
        assert!(e.is_err(), "{text}");
        assert!(e.unwrap_err().to_string().starts_with("proxy 'fe': "));
    }
}

#[test]
fn unsupported_fetches_never_match_and_are_reported() {
    let r = Rules::new(
        "
frontend fe
    mode http
    bind :80
    use_backend b1 if { sc0_http_req_rate gt 10 }
    use_backend b2 if !{ sc0_http_req_rate gt 10 }
backend b1
backend b2
",
    );
    let fe = r.fe("fe");
    assert!(
        fe.warnings().iter().any(|w| w.contains("sc0_http_req_rate")),
        "{:?}",
        fe.warnings()
    );
    let req = Req::new("GET / HTTP/1.1\nHost: h");
    assert_eq!(route(&r, "fe", &req, &|_| true).as_deref(), Some("b2"));
}

#[test]
fn a_listen_is_its_own_backend() {
    let r = Rules::new(
        "
listen app
    bind :80
    use_backend api if { path_beg /api }
    server s1 127.0.0.1:9000
backend api
",
    );
    let all = |_: &str| true;
    let req = Req::new("GET /api/x HTTP/1.1\nHost: h");
    assert_eq!(route(&r, "app", &req, &all).as_deref(), Some("api"));
    let req = Req::new("GET /x HTTP/1.1\nHost: h");
    assert_eq!(route(&r, "app", &req, &all).as_deref(), Some("app"));
    assert_eq!(route(&r, "app", &req, &|n| n != "app"), None);
}
