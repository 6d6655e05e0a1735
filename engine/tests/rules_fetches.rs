//! Every fetch and match flag an ACL accepts, as a table: `acl t <expr>` against one
//! request gives true or false, as in HAProxy.

mod rules_util;

use engine::rules::EvalScratch;
use rules_util::{Req, Rules};

const REQ: &str = "GET /Static/img/Logo.PNG?lang=fr&id=42&empty= HTTP/1.1
Host: WWW.Example.com:8080
User-Agent: Mozilla/5.0 (X11) Firefox/120
Accept: text/html, application/json;q=0.9
X-Num: 17
X-Dup: a
X-Dup: b, c
X-Ip: 10.1.2.3
Cookie: theme=dark; SID=abc123
Content-Length: 0";

fn eval(expr: &str, req: &Req, s: &mut EvalScratch) -> bool {
    let r = Rules::new(&format!("frontend fe\n    bind :80\n    acl t {expr}\n"));
    let fe = r.fe("fe");
    s.start_request();
    fe.acl("t", &req.view(), s).expect("acl t exists")
}

#[test]
fn fetch_and_match_table() {
    let req = Req::from_addr(REQ, "10.20.30.40:51000", "127.0.0.1:8443");
    let mut s = EvalScratch::default();
    let table: &[(&str, bool)] = &[
        // path and its derived matches
        ("path /Static/img/Logo.PNG", true),
        ("path /static/img/logo.png", false),
        ("path -i /static/img/logo.png", true),
        ("path_beg /Static /x", true),
        ("path_beg /static", false),
        ("path_beg -i /static", true),
        ("path_end .PNG", true),
        ("path_end -i .png .jpg", true),
        ("path_end .png", false),
        ("path_reg ^/Static/.*\\.PNG$", true),
        ("path_reg -i ^/static/", true),
        ("path_reg ^/static/", false),
        ("path_dir img", true),
        ("path_dir im", false),
        ("path_dir -i static/IMG", true),
        ("path_sub img/Lo", true),
        ("path_sub -i IMG/LO", true),
        ("path_sub nope", false),
        ("path_len 20", true),
        ("path_len gt 30", false),
        ("path_dom img", true),
        // url
        ("url /Static/img/Logo.PNG?lang=fr&id=42&empty=", true),
        ("url_beg /Static/img", true),
        ("url_end empty=", true),
        ("url_sub id=42", true),
        ("url_reg lang=(fr|de)", true),
        ("url_beg /x", false),
        // query and url parameters
        ("query lang=fr&id=42&empty=", true),
        ("query -m sub id=42", true),
        ("urlp(lang) fr", true),
        ("urlp(lang) -i FR", true),
        ("urlp(id) -m int 40:50", true),
        ("urlp_val(id) gt 41", true),
        ("urlp_val(id) lt 42", false),
        ("urlp(empty) -m found", true),
        ("urlp(empty) -m len 0", true),
        ("urlp(missing) -m found", false),
        ("url_param(lang) -m beg f", true),
        // headers
        ("hdr(host) -i www.example.com:8080", true),
        ("hdr(Host) www.example.com:8080", false),
        ("hdr_beg(host) -i www.", true),
        ("hdr_end(host) :8080", true),
        ("hdr_dom(host) -i example.com", true),
        ("hdr_dom(host) -i ample.com", false),
        ("hdr_reg(user-agent) Firefox/[0-9]+", true),
        ("hdr_sub(user-agent) -i firefox", true),
        ("hdr_sub(user-agent) chrome", false),
        ("hdr(accept) application/json;q=0.9", true),
        ("hdr(x-dup) c", true),
        ("hdr(x-dup,1) a", true),
        ("hdr(x-dup,1) c", false),
        ("hdr(x-dup,-1) c", true),
        ("hdr(x-dup,2) b", true),
        ("fhdr(x-dup) \"b, c\"", true),
        ("req.fhdr(x-dup) b", false),
        ("req.hdr(x-dup) b", true),
        ("hdr_cnt(x-dup) 3", true),
        ("req.hdr_cnt(x-dup) eq 3", true),
        ("req.fhdr_cnt(x-dup) 2", true),
        ("hdr_cnt(x-none) 0", true),
        ("hdr_cnt(x-none) gt 0", false),
        ("hdr_val(x-num) 10:20", true),
        ("hdr_val(x-num) ge 18", false),
        ("hdr_ip(x-ip) 10.0.0.0/8", true),
        ("hdr_ip(x-ip) 192.168.0.0/16", false),
        ("hdr_len(x-num) 2", true),
        ("hdr(x-none) -m found", false),
        ("hdr(user-agent) -m found", true),
        ("req.hdr(host),lower www.example.com:8080", true),
        ("req.hdr(host),lower,field(1,:) www.example.com", true),
        ("req.hdr(host),field(2,:) -m int 8080", true),
        ("req.hdr(host),lower,word(2,.) example", true),
        ("req.hdr(host),regsub(:[0-9]+$,) -i www.example.com", true),
        ("req.hdr(host),length 20", true),
        ("str(a),concat(-,,-z) a--z", true),
        ("str(a),upper,concat(,txn.none,) A", true),
        ("path,bytes(1,6) Static", true),
        ("path,bytes(99) -m found", false),
        ("str(%2Fa+b),url_dec \"/a b\"", true),
        ("str(__x__),ltrim(_),rtrim(_) x", true),
        ("path,map_str(virt@empty) -m found", false),
        ("path,map_str(virt@empty,dflt) dflt", true),
        ("path,no_such_converter -m found", false),
        // base = host + path
        ("base -i www.example.com:8080/static/img/logo.png", true),
        ("base_beg WWW.Example.com:8080/Static", true),
        ("base_sub img", true),
        // method and version
        ("method GET", true),
        ("method get", false),
        ("method -i get", true),
        ("method POST PUT", false),
        ("req.ver 1.1", true),
        ("req_ver 1.0", false),
        // addresses and ports
        ("src 10.20.30.40", true),
        ("src 10.0.0.0/8", true),
        ("src 10.20.0.0/255.255.0.0", true),
        ("src 192.168.0.0/16 ::1", false),
        ("src -n 10.20.30.0/24", true),
        ("src -m ip 10.20.30.40/32", true),
        ("src -m str 10.20.30.40", true),
        ("dst 127.0.0.1", true),
        ("dst_port 8443", true),
        ("dst_port 1:1024", false),
        ("dst_port 8000:9000", true),
        ("dst_port ge 8443", true),
        ("dst_port lt 8443", false),
        ("src_port 51000", true),
        // cookies
        ("cook(SID) abc123", true),
        ("req.cook(theme) -i DARK", true),
        ("cook(none) -m found", false),
        ("cook_beg(SID) abc", true),
        // booleans and constants
        ("ssl_fc", false),
        ("always_true", true),
        ("always_false", false),
        ("str(abc) abc", true),
        ("int(5) 5", true),
        ("req.proto_http", true),
        // explicit match methods
        ("path -m beg /Static", true),
        ("path -m end PNG", true),
        ("path -m sub img", true),
        ("path -m reg img/L", true),
        ("path -m dir img", true),
        ("path -m dom Logo", true),
        ("path -m dom Log", false),
        ("path -m len 20", true),
        ("path -m found", true),
        ("path -m str -i /STATIC/IMG/LOGO.PNG", true),
        ("path -i -m beg /STATIC", true),
        ("hdr(x-num) -m int 17", true),
        ("hdr(x-num) -m bool", true),
        ("str(0) -m bool", false),
        ("str(0a1b) -m bin 0a1b", false),
        // several patterns: any of them
        ("path_beg /a /b /c /Static", true),
        ("path_end .gif .jpg .webp", false),
        ("hdr(host) -i a b c d e f g h i j k www.example.com:8080", true),
        ("hdr(host) a b c d e f g h i j k www.example.com:8080", false),
        ("path_beg -i /a /b /c /d /e /f /g /h /i /STATIC", true),
        ("path_end -i .a .b .c .d .e .f .g .h .i .png", true),
        ("path_end .a .b .c .d .e .f .g .h .i .png", false),
        // `--` ends the flags
        ("path -- -i", false),
    ];
    let wrong: Vec<String> = table
        .iter()
        .filter(|(expr, want)| eval(expr, &req, &mut s) != *want)
        .map(|(expr, want)| format!("acl t {expr} should be {want}"))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn pattern_files() {
    let dir = std::env::temp_dir().join(format!("ringlb-rules-pat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hosts = dir.join("hosts.lst");
    let mut text = String::from("# blocked hosts\n\n");
    for i in 0..2000 {
        text.push_str(&format!("host{i}.example.com\n"));
    }
    text.push_str("  Evil.Example.com  \n");
    std::fs::write(&hosts, text).unwrap();
    let nets = dir.join("nets.lst");
    std::fs::write(&nets, "10.0.0.0/8\n2001:db8::/32\n").unwrap();
    let h = hosts.display();
    let n = nets.display();
    let mut s = EvalScratch::default();
    let cases: &[(String, &str, &str, bool)] = &[
        (
            format!("hdr(host) -f {h}"),
            "host1999.example.com",
            "1.1.1.1:1",
            true,
        ),
        (
            format!("hdr(host) -f {h}"),
            "host2000.example.com",
            "1.1.1.1:1",
            false,
        ),
        (
            format!("hdr(host) -f {h}"),
            "evil.example.com",
            "1.1.1.1:1",
            false,
        ),
        (
            format!("hdr(host) -i -f {h}"),
            "EVIL.example.COM",
            "1.1.1.1:1",
            true,
        ),
        (
            format!("hdr(host) -f {h} extra.com"),
            "extra.com",
            "1.1.1.1:1",
            true,
        ),
        (
            format!("hdr_end(host) -f {h}"),
            "x.host7.example.com",
            "1.1.1.1:1",
            true,
        ),
        (
            format!("hdr_dom(host) -i -f {h}"),
            "www.HOST42.example.com:80",
            "1.1.1.1:1",
            true,
        ),
        (
            format!("hdr_dom(host) -f {h}"),
            "myhost42.example.com",
            "1.1.1.1:1",
            false,
        ),
        (
            format!("hdr_dom(host) -f {h}"),
            "a.host42.example.com.",
            "1.1.1.1:1",
            true,
        ),
        (format!("src -f {n}"), "h", "10.9.9.9:1", true),
        (format!("src -f {n}"), "h", "[2001:db8::5]:1", true),
        (format!("src -f {n}"), "h", "11.0.0.1:1", false),
    ];
    for (expr, host, src, want) in cases {
        let req = Req::from_addr(&format!("GET / HTTP/1.1\nHost: {host}"), src, "127.0.0.1:80");
        assert_eq!(eval(expr, &req, &mut s), *want, "acl t {expr} / {host} / {src}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn absolute_form_and_http10_requests() {
    let mut s = EvalScratch::default();
    let req = Req::new("GET http://h.example/a/b?x=1 HTTP/1.1\nHost: h.example");
    assert!(eval("path /a/b", &req, &mut s));
    assert!(eval("url_beg http://", &req, &mut s));
    assert!(eval("query x=1", &req, &mut s));
    let req = Req::new("GET /only HTTP/1.0");
    assert!(!eval("hdr(host) -m found", &req, &mut s));
    assert!(eval("base /only", &req, &mut s));
    assert!(!eval("query -m found", &req, &mut s));
    assert!(eval("req.ver 1.0", &req, &mut s));
    let req = Req::new("OPTIONS * HTTP/1.1\nHost: h");
    assert!(eval("url *", &req, &mut s));
    assert!(eval("path -m len 0", &req, &mut s));
}

#[test]
fn nbsrv_uses_the_callers_table() {
    let r = Rules::new("frontend fe\n    bind :80\n    acl dead nbsrv(app) lt 1\n");
    let fe = r.fe("fe");
    let req = Req::new("GET / HTTP/1.1\nHost: h");
    let mut s = EvalScratch::default();
    let none = |_: &str| Some(0u32);
    let two = |b: &str| (b == "app").then_some(2u32);
    assert_eq!(fe.acl("dead", &req.view().with_nbsrv(&none), &mut s), Some(true));
    assert_eq!(fe.acl("dead", &req.view().with_nbsrv(&two), &mut s), Some(false));
    // Without a table the fetch has no sample: the ACL is false.
    assert_eq!(fe.acl("dead", &req.view(), &mut s), Some(false));
    assert_eq!(fe.acl("nope", &req.view(), &mut s), None);
}
