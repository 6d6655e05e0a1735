//! Properties of the rules over arbitrary requests: evaluation never panics, and a
//! request the rules let through is written as a head that parses again (no rewrite
//! can split or corrupt the message).

mod rules_util;

use engine::http::{Limits, RequestHead, Status};
use engine::rules::EvalScratch;
use proptest::prelude::*;
use rules_util::{process, Req, Rules};

const CFG: &str = r"
frontend fe
    bind :80
    acl api path_beg -i /api
    acl dom hdr_dom(host) -i example.com
    acl q urlp(id) -m int 1:100
    http-request set-var(txn.h) req.hdr(host),lower,field(1,:)
    http-request set-header X-H %[var(txn.h)]
    http-request set-header X-Url %[url,url_dec]
    http-request add-header X-Q %[query,regsub(&,;,g)] if { query -m found }
    http-request replace-path ^/api/(.*)$ /\1 if api
    http-request replace-header X-In ^(.*)$ <\1>
    http-request set-path %[path,lower] if { path_reg [A-Z] }
    http-request redirect prefix /r%[hdr(x-r)] if { path_beg /redir }
    http-request return status 200 content-type text/plain lf-string %[hdr(x-b)] if { path /ret }
    use_backend %[req.hdr(host),lower,map_beg(virt@m,be)] if dom
    use_backend be_api if api || q
    default_backend be
backend be
    option forwardfor
backend be_api
";

fn request() -> impl Strategy<Value = String> {
    let path = "/[a-zA-Z0-9%._~/-]{0,20}(\\?[a-z0-9=&%+]{0,16})?";
    let head = prop_oneof![
        Just("/api/".to_string()),
        Just("/redir".to_string()),
        Just("/ret".to_string()),
        Just("".to_string())
    ];
    let value = "[ -~]{0,24}";
    (head, path, value, value, value, value).prop_map(|(h, p, host, xin, xr, xb)| {
        let clean = |v: &str| v.trim().to_string();
        format!(
            "GET {h}{p} HTTP/1.1\nHost: {}\nX-In: {}\nX-R: {}\nX-B: {}",
            clean(&host),
            clean(&xin),
            clean(&xr),
            clean(&xb)
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn forwarded_heads_parse_again(text in request()) {
        let r = Rules::new(CFG);
        let mut s = EvalScratch::default();
        let mut head = RequestHead::default();
        // Only requests the parser accepts reach the rules.
        let mut raw = text.replace('\n', "\r\n").into_bytes();
        raw.extend_from_slice(b"\r\n\r\n");
        prop_assume!(matches!(head.parse(&raw, &Limits::default()), Ok(Status::Complete(_))));
        let req = Req::new(&text);
        let (out, _) = process(&r, "fe", &req, &mut s);
        if out.starts_with("GET ") {
            let mut again = RequestHead::default();
            let parsed = again.parse(out.as_bytes(), &Limits::default());
            prop_assert!(matches!(parsed, Ok(Status::Complete(n)) if n == out.len()), "{out:?}: {parsed:?}");
        } else {
            prop_assert!(out.starts_with("HTTP/1.1 ") || out.starts_with("deny ") || out.starts_with("write error"), "{out:?}");
        }
    }
}
