//! Rendered lines compared byte for byte with log lines HAProxy wrote: the examples of its
//! configuration manual (sections 8.2.2 and 8.2.3) and lines seen in the wild, each rebuilt
//! from its fields. Each row is (HAProxy's line, the record the engine would fill).

use std::time::{Duration, UNIX_EPOCH};

use engine::log::{LogFormat, LogRecord, CLF_HTTP_LOG_FORMAT, HTTP_LOG_FORMAT, TCP_LOG_FORMAT};

fn at(ms: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn render(fmt: &str, r: &LogRecord<'_>) -> String {
    let f = LogFormat::compile(fmt).expect("format compiles");
    let mut out = Vec::new();
    f.render(r, &mut out);
    String::from_utf8(out).expect("utf-8")
}

#[allow(clippy::too_many_arguments)]
fn http<'a>(
    client: &str,
    ms: u64,
    fe: &'a str,
    be: &'a str,
    srv: &'a str,
    times: [i64; 5],
    status: u16,
    bytes: u64,
    state: &[u8; 4],
    conns: [u32; 5],
    queues: [u32; 2],
    req: &'a [u8],
) -> LogRecord<'a> {
    LogRecord {
        backend: be,
        server: srv,
        t_req: times[0],
        t_wait: times[1],
        t_connect: times[2],
        t_resp: times[3],
        t_active: times[4],
        t_total: times[4],
        status: Some(status),
        bytes_read: bytes,
        termination_state: *state,
        actconn: conns[0],
        feconn: conns[1],
        beconn: conns[2],
        srv_conn: conns[3],
        retries: conns[4],
        srv_queue: queues[0],
        backend_queue: queues[1],
        request_line: req,
        ..LogRecord::new(fe, Some(client.parse().expect("client addr")), at(ms))
    }
}

#[test]
fn haproxy_manual_httplog_example() {
    // configuration.txt 8.2.3, "haproxy[14389]: " prefix removed.
    let want = "10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - \
                ---- 1/1/1/1/0 0/0 {1wt.eu} {} \"GET /index.html HTTP/1.1\"";
    let r = LogRecord {
        req_headers: &[b"1wt.eu"],
        resp_headers: &[b""],
        ..http(
            "10.0.1.2:33317",
            1_233_922_454_655,
            "http-in",
            "static",
            "srv1",
            [10, 0, 30, 69, 109],
            200,
            2750,
            b"----",
            [1, 1, 1, 1, 0],
            [0, 0],
            b"GET /index.html HTTP/1.1",
        )
    };
    assert_eq!(render(HTTP_LOG_FORMAT, &r), want);
}

#[test]
fn haproxy_manual_tcplog_example() {
    // configuration.txt 8.2.2.
    let want = "10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt bck/srv1 0/0/5007 212 -- 0/0/0/0/3 0/0";
    let r = LogRecord {
        backend: "bck",
        server: "srv1",
        t_wait: 0,
        t_connect: 0,
        t_total: 5007,
        bytes_read: 212,
        retries: 3,
        ..LogRecord::new(
            "fnt",
            Some("10.0.1.2:33313".parse().expect("addr")),
            at(1_233_922_371_443),
        )
    };
    assert_eq!(render(TCP_LOG_FORMAT, &r), want);
}

#[test]
fn lines_from_production_logs() {
    let cases: Vec<(&str, LogRecord<'_>)> = vec![
        (
            "115.236.160.82:55729 [24/Jun/2016:13:04:49.530] http~ appserver_3000/webhost01_8001 8/0/0/6/14 \
             200 154 - - ---- 0/0/0/0/0 0/0 \"GET /admin/api/menu HTTP/1.1\"",
            LogRecord {
                frontend_ssl: true,
                ..http(
                    "115.236.160.82:55729",
                    1_466_773_489_530,
                    "http",
                    "appserver_3000",
                    "webhost01_8001",
                    [8, 0, 0, 6, 14],
                    200,
                    154,
                    b"----",
                    [0; 5],
                    [0, 0],
                    b"GET /admin/api/menu HTTP/1.1",
                )
            },
        ),
        (
            "115.236.160.82:55730 [24/Jun/2016:13:04:49.530] www www/<NOSRV> 116/-1/-1/-1/116 302 116 - - \
             LR-- 0/0/0/0/0 0/0 \"HEAD / HTTP/1.1\"",
            http(
                "115.236.160.82:55730",
                1_466_773_489_530,
                "www",
                "www",
                "<NOSRV>",
                [116, -1, -1, -1, 116],
                302,
                116,
                b"LR--",
                [0; 5],
                [0, 0],
                b"HEAD / HTTP/1.1",
            ),
        ),
        (
            "8.6.7.10:55480 [27/Jun/2019:21:42:38.916] public_ssl~ be_http/srva 0/0/0/-1/63387 504 194 - - \
             sH-- 15/13/10/0/0 0/0 \"PATCH /api/upload/4ddad61736a6 HTTP/1.1\"",
            LogRecord {
                frontend_ssl: true,
                ..http(
                    "8.6.7.10:55480",
                    1_561_671_758_916,
                    "public_ssl",
                    "be_http",
                    "srva",
                    [0, 0, 0, -1, 63387],
                    504,
                    194,
                    b"sH--",
                    [15, 13, 10, 0, 0],
                    [0, 0],
                    b"PATCH /api/upload/4ddad61736a6 HTTP/1.1",
                )
            },
        ),
        (
            // haproxy-log-analysis' own example line (one request capture).
            "127.0.0.1:39759 [09/Dec/2013:12:59:46.633] loadbalancer default/instance8 \
             0/51536/1/48082/99627 200 83285 - - ---- 87/87/87/1/0 0/67 {77.24.148.74} \
             \"GET /path/to/image HTTP/1.1\"",
            LogRecord {
                req_headers: &[b"77.24.148.74"],
                ..http(
                    "127.0.0.1:39759",
                    1_386_593_986_633,
                    "loadbalancer",
                    "default",
                    "instance8",
                    [0, 51536, 1, 48082, 99627],
                    200,
                    83285,
                    b"----",
                    [87, 87, 87, 1, 0],
                    [0, 67],
                    b"GET /path/to/image HTTP/1.1",
                )
            },
        ),
        (
            // An IPv6 client is logged without brackets; a redispatch prefixes retries with '+'.
            "::1:4567 [09/Dec/2013:12:59:46.633] fe be/s1 1/0/0/2/3 404 10 - - ---- 1/1/0/0/+1 0/0 \
             \"GET /missing HTTP/1.0\"",
            LogRecord {
                redispatched: true,
                ..http(
                    "[::1]:4567",
                    1_386_593_986_633,
                    "fe",
                    "be",
                    "s1",
                    [1, 0, 0, 2, 3],
                    404,
                    10,
                    b"----",
                    [1, 1, 0, 0, 1],
                    [0, 0],
                    b"GET /missing HTTP/1.0",
                )
            },
        ),
    ];
    for (want, rec) in &cases {
        assert_eq!(render(HTTP_LOG_FORMAT, rec), *want);
    }
}

#[test]
fn clf_example() {
    // HAProxy's CLF layout of the manual's request (captures configured but empty).
    let want = "10.0.1.2 - - [06/Feb/2009:12:14:14 +0000] \"GET /index.html HTTP/1.1\" 200 2750 \"\" \"\" \
                33317 655 \"http-in\" \"static\" \"srv1\" 10 0 30 69 109 \"----\" 1 1 1 1 0 0 0 \"\" \"\" \
                \"1wt.eu\" \"\"";
    let r = LogRecord {
        req_headers: &[b"1wt.eu"],
        resp_headers: &[b""],
        ..http(
            "10.0.1.2:33317",
            1_233_922_454_655,
            "http-in",
            "static",
            "srv1",
            [10, 0, 30, 69, 109],
            200,
            2750,
            b"----",
            [1, 1, 1, 1, 0],
            [0, 0],
            b"GET /index.html HTTP/1.1",
        )
    };
    assert_eq!(render(CLF_HTTP_LOG_FORMAT, &r), want);
}

#[test]
fn custom_log_format_from_haproxy_blog() {
    // log-format "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc
    // %sq/%bq %hr %hs %{+Q}r" is httplog; this one adds the query and the unique id.
    let r = LogRecord {
        unique_id: b"7F000001:9C8B_0A000102:1F90_5C5342A0_0001:1",
        ..http(
            "10.0.1.2:33317",
            1_233_922_454_655,
            "http-in",
            "static",
            "srv1",
            [10, 0, 30, 69, 109],
            200,
            2750,
            b"----",
            [1, 1, 1, 1, 0],
            [0, 0],
            b"GET /search?q=[x] HTTP/1.1",
        )
    };
    assert_eq!(
        render("%{+Q}HQ %{+E,+Q}HQ %ID %HM %HV", &r),
        "\"?q=[x]\" \"?q=[x\\]\" 7F000001:9C8B_0A000102:1F90_5C5342A0_0001:1 GET HTTP/1.1"
    );
}
