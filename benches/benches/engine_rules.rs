//! The per-request cost of the layer-7 decision engine (`engine::rules`), measured on
//! what a real frontend does for each request: routing through 20 named ACLs (the
//! request matching the last rule, so every condition is evaluated), `http-request`
//! header rules, and a dynamic `use_backend %[path,map_beg(virt@paths.map)]` over a map
//! of 100,000 prefixes. Compared against each other and over time: routing must stay
//! far below the ~12 us of CPU nginx spends per keep-alive request.

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use engine::http::{Limits, RequestHead, Status};
use engine::map::Maps;
use engine::rules::{EvalScratch, ProxyRules, RequestVerdict, RequestView};

const DEFAULTS: &str =
    "defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 5s\n";

fn compile(text: &str, maps: &Arc<Maps>) -> ProxyRules {
    let text = format!("{DEFAULTS}{text}");
    let cfg = engine::config::parse_text("bench.cfg", &text, &|_| None)
        .expect("bench config is valid")
        .config;
    ProxyRules::compile(cfg.frontend("fe").expect("frontend fe"), maps).expect("bench rules compile")
}

fn head(raw: &[u8]) -> RequestHead {
    let mut h = RequestHead::default();
    assert!(matches!(
        h.parse(raw, &Limits::default()),
        Ok(Status::Complete(_))
    ));
    h
}

const RAW: &[u8] = b"GET /shop/p77777/items/42?color=red HTTP/1.1\r\nHost: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n\
Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\nCookie: SID=abc123; theme=dark\r\nConnection: keep-alive\r\n\r\n";

fn twenty_acls() -> String {
    let mut t = String::from("frontend fe\n    bind :80\n");
    for i in 0..19 {
        let _ = writeln!(t, "    acl a{i} path_beg /app{i}/ /svc{i}/");
        let _ = writeln!(t, "    acl h{i} hdr(host) -i app{i}.example.com");
        let _ = writeln!(t, "    use_backend be{i} if a{i} || h{i}");
    }
    t.push_str("    acl shop path_beg /shop/\n    acl www hdr_dom(host) -i example.com\n");
    t.push_str("    use_backend be_shop if shop www !{ src 10.0.0.0/8 }\n    default_backend be_default\n");
    t.push_str("backend be_shop\nbackend be_default\n");
    for i in 0..19 {
        let _ = writeln!(t, "backend be{i}");
    }
    t
}

fn rules(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine/rules");
    let h = head(RAW);
    let req = RequestView::new(
        RAW,
        &h,
        "192.0.2.1:40000".parse().unwrap(),
        "127.0.0.1:80".parse().unwrap(),
    );
    let mut s = EvalScratch::default();
    let usable = |_: &str| true;

    let maps = Arc::new(Maps::default());
    let fe = compile(&twenty_acls(), &maps);
    g.bench_function(BenchmarkId::new("route", "20-acls-last-rule"), |b| {
        b.iter(|| {
            s.start_request();
            let be = fe.route(black_box(&req), &usable, &mut s);
            assert_eq!(be, Some("be_shop"));
        })
    });

    let fe = compile(
        "frontend fe\n    bind :80\n    use_backend %[path,map_beg(virt@paths.map,be_default)]\nbackend be_default\n",
        &maps,
    );
    let keys: Vec<String> = (0..100_000).map(|i| format!("/shop/p{i}/")).collect();
    let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "be_shop")).collect();
    maps.add("virt@paths.map", None, &pairs).expect("valid bench map");
    g.bench_function(BenchmarkId::new("route", "map_beg-100k"), |b| {
        b.iter(|| {
            s.start_request();
            let be = fe.route(black_box(&req), &usable, &mut s);
            assert_eq!(be, Some("be_shop"));
        })
    });

    let fe = compile(
        "frontend fe\n    bind :80\n    http-request set-header X-Forwarded-Proto http\n    \
         http-request set-header X-Client %[src]\n    http-request del-header Cookie if { path_beg /static }\n    \
         http-request add-header X-Host %[req.hdr(host),lower] if { hdr_dom(host) -i example.com }\n    \
         default_backend be\nbackend be\n",
        &maps,
    );
    let mut out = Vec::with_capacity(1024);
    g.bench_function(BenchmarkId::new("http-request", "4-rules+write-head"), |b| {
        b.iter(|| {
            s.start_request();
            assert!(matches!(
                fe.http_request(black_box(&req), &mut s),
                RequestVerdict::Continue
            ));
            out.clear();
            s.write_request_head(RAW, &h, &mut out).expect("valid edits");
            black_box(&out);
        })
    });
    g.finish();
}

criterion_group!(benches, rules);
criterion_main!(benches);
