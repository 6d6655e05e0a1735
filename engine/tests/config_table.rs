//! Table of accepted and rejected configurations: every keyword family and every
//! error path of the config parser, checked through the public `parse_text` API.

use engine::config::{
    cond::AclRef, parse_files, parse_text, values::Address, values::Host, values::Port, BackendRef, Balance,
    CheckKind, CliLevel, Diagnostic, HttpAction, HttpConnMode, Level, Loaded, Mode, ProxyKind, ReturnBody,
};
use std::time::Duration;

fn env(name: &str) -> Option<String> {
    match name {
        "PORT" => Some("8080".into()),
        "HOST" => Some("10.0.0.7".into()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    parse_text("t.cfg", text, &env)
}

fn ok(text: &str) -> Loaded {
    match parse(text) {
        Ok(l) => l,
        Err(d) => panic!(
            "rejected:\n{text}\n{}",
            d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
        ),
    }
}

/// Minimal wrappers so each table row only shows what it tests.
fn fe(body: &str) -> String {
    format!("frontend fe\n  bind :8080\n{body}\n  default_backend be\nbackend be\n  server s1 127.0.0.1:80\n")
}
fn be(body: &str) -> String {
    format!("backend be\n{body}\n")
}
fn gl(body: &str) -> String {
    format!("global\n{body}\n")
}
fn df(body: &str) -> String {
    format!("defaults\n{body}\n")
}

#[test]
fn accepted_configs() {
    let table: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("comments only", "# hello\n   # indented\n\n".into()),
        ("global basics", gl("  daemon\n  user haproxy\n  group haproxy\n  chroot /var/lib/haproxy\n  pidfile /run/h.pid\n  maxconn 4096\n  nbthread 2")),
        ("cpu-map", gl("  cpu-map 1/1 0\n  cpu-map auto:1/1-2 0-1")),
        ("stats socket unix", gl("  stats socket /run/h.sock mode 660 level admin expose-fd listeners\n  stats timeout 30s\n  stats maxconn 5")),
        ("stats socket tcp", gl("  stats socket ipv4@127.0.0.1:9999 level admin\n  stats socket ipv4@*:9998 level user")),
        ("global log", gl("  log /dev/log local0\n  log 127.0.0.1:514 local1 notice\n  log stdout format raw local0 info\n  log stderr len 1024 format rfc5424 daemon err warning")),
        ("master-worker", gl("  master-worker\n  mworker-max-reloads 3\n  hard-stop-after 30s")),
        ("tune", gl("  tune.bufsize 32768\n  tune.http.maxhdr 200\n  tune.maxrewrite 1024\n  tune.ssl.default-dh-param 2048\n  ulimit-n 65536")),
        ("ssl defaults stored", gl("  ssl-default-bind-ciphers ECDHE\n  ssl-default-bind-options ssl-min-ver TLSv1.2\n  ssl-default-server-options no-sslv3\n  ca-base /etc/ssl/certs\n  crt-base /etc/ssl/private")),
        ("description and node", gl("  description my lb\n  node lb1")),
        ("setenv then use", "global\n  setenv MYPORT 9000\nfrontend fe\n  bind \":${MYPORT}\"\n".into()),
        ("unsetenv", gl("  unsetenv PORT")),
        ("external-check", gl("  external-check\n  insecure-fork-wanted")),
        ("defaults", df("  mode http\n  log global\n  option httplog\n  option dontlognull\n  timeout connect 5s\n  timeout client 50s\n  timeout server 50000\n  retries 3\n  option redispatch\n  maxconn 100")),
        ("named defaults + from", "defaults base\n  mode http\nbackend be from base\n  server s 127.0.0.1:80\n".into()),
        ("defaults from defaults", "defaults a\n  mode http\ndefaults b from a\n  timeout connect 1s\nbackend be from b\n".into()),
        ("bind forms", fe("  bind *:8081\n  bind 0.0.0.0:8082\n  bind 127.0.0.1:8083\n  bind [::1]:8084\n  bind ipv4@:8085\n  bind ipv6@:8086\n  bind :9000-9005\n  bind /run/x.sock mode 600 user root\n  bind unix@/run/y.sock\n  bind :8087,:8088 name two")),
        ("bind params", fe("  bind :8090 accept-proxy maxconn 10 backlog 100 v4v6 defer-accept transparent tfo name x id 7 process 1/all")),
        ("bind env quoted", fe("  bind \"127.0.0.1:${PORT}\"")),
        ("bind alpn warns", fe("  bind :8091 alpn h2,http/1.1")),
        ("acl + use_backend", fe("  acl is_api path_beg /api\n  acl h hdr(host) -i example.com\n  use_backend be if is_api h || !h\n  use_backend be if { path_end .jpg .png }\n  use_backend be unless is_api or TRUE")),
        ("acl flags", fe("  acl a path -m beg /x\n  acl b hdr_dom(host) -i -m dom x.com\n  acl c src -f /etc/ips.lst\n  acl d method GET HEAD")),
        ("dynamic use_backend", fe("  use_backend %[req.hdr(host),lower,map_dom(/etc/h.map,be)]\n  use_backend be_%[path,map_beg(virt@paths.map)] if TRUE")),
        ("balance algos", "backend a\n  balance roundrobin\nbackend b\n  balance static-rr\nbackend c\n  balance leastconn\nbackend d\n  balance first\nbackend e\n  balance source\nbackend f\n  balance random\nbackend g\n  balance random(3)\nbackend h\n  balance uri\nbackend i\n  balance url_param id\nbackend j\n  balance hdr(host)\nbackend k\n  balance hash req.cookie(x)\nbackend l\n  balance rdp-cookie\n".into()),
        ("server params", be("  server s1 127.0.0.1:80 check inter 2s fastinter 1s downinter 5s rise 2 fall 3 port 81 addr 127.0.0.2 weight 10 maxconn 100 backup\n  server s2 127.0.0.1:81 disabled agent-check agent-port 9 agent-inter 3s observe layer7 error-limit 5 on-error mark-down on-marked-down shutdown-sessions\n  server s3 127.0.0.1:82 send-proxy-v2 init-addr last,libc,none cookie c3 slowstart 10s id 9 maxqueue 10 send-proxy check-send-proxy")),
        ("server addresses", be("  server a db.internal:5432\n  server b web_1\n  server c [::1]:80\n  server d ipv6@::1:80\n  server e /run/app.sock\n  server f 10.0.0.1:+100\n  server g ${HOST}:80\n  server h ${NOPE}:25")),
        ("server-side ssl warns", be("  server s 127.0.0.1:443 ssl verify none sni str(x)")),
        ("default-server", be("  default-server inter 3s fall 5 check\n  server s1 127.0.0.1:80\n  server s2 127.0.0.1:81 no-check")),
        ("server-template", be("  server-template web 3 app.local:80 check")),
        ("resolvers", "resolvers dns\n  nameserver d1 127.0.0.11:53\n  accepted_payload_size 8192\n  hold valid 10s\n  resolve_retries 3\n  timeout resolve 1s\nbackend be\n  server s a.local:80 resolvers dns resolve-prefer ipv4\n".into()),
        ("timeouts", df("  timeout connect 5s\n  timeout client 1m\n  timeout server 1h\n  timeout tunnel 1d\n  timeout http-request 10s\n  timeout http-keep-alive 500ms\n  timeout queue 30s\n  timeout check 2s\n  timeout client-fin 1s\n  timeout server-fin 1s\n  timeout tarpit 1s\n  timeout connect 100us")),
        ("options", df("  option redispatch\n  option forwardfor except 127.0.0.0/8 header X-Real-IP if-none\n  option httplog clf\n  option http-keep-alive\n  option http-server-close\n  option httpclose\n  no option httpclose\n  option abortonclose\n  option log-health-checks\n  option tcpka\n  option allbackups\n  option splice-auto\n  option http-buffer-request\n  option originalto\n  option tcp-smart-accept")),
        ("check options", "backend a\n  option httpchk\nbackend b\n  option httpchk /health\nbackend c\n  option httpchk GET /health HTTP/1.1\nbackend d\n  option tcp-check\n  tcp-check connect port 6379\n  tcp-check send PING\\r\\n\n  tcp-check expect string +PONG\nbackend e\n  option ssl-hello-chk\nbackend f\n  option mysql-check user haproxy\nbackend g\n  option pgsql-check user pg\nbackend h\n  option redis-check\nbackend i\n  option smtpchk\nbackend j\n  option ldap-check\n".into()),
        ("http-check", be("  option httpchk\n  http-check send meth GET uri /health ver HTTP/1.1 hdr Host x\n  http-check expect status 200\n  http-check expect ! rstring error\n  http-check disable-on-404")),
        ("http-request actions", fe("  acl a path /x\n  http-request set-header X-A %[src]\n  http-request add-header X-B b\n  http-request del-header X-C\n  http-request set-path /new\n  http-request replace-path /old(.*) /new\\1\n  http-request redirect scheme https code 301 if !a\n  http-request deny deny_status 429 if a\n  http-request deny\n  http-request return status 200 content-type text/plain string ok if { path /ping }\n  http-request return status 503 content-type text/html file /etc/x.html\n  http-request allow\n  http-request auth realm x\n  http-request set-var(txn.x) str(y)\n  http-request track-sc0 src\n  http-request capture req.hdr(host) len 20\n  http-request replace-header H (.*) \\1\n  http-request use-service prometheus-exporter if { path /metrics }\n  http-request tarpit")),
        ("http-response", fe("  http-response set-header X-Frame-Options DENY\n  http-response del-header Server\n  http-response set-status 200\n  http-after-response add-header X-Y y")),
        ("tcp-request", fe("  tcp-request inspect-delay 5s\n  tcp-request content accept if { req.ssl_hello_type 1 }\n  tcp-request content reject\n  tcp-request connection track-sc0 src\n  tcp-request content set-var(sess.x) req.len")),
        ("stats page", "listen stats\n  bind :8404\n  mode http\n  stats enable\n  stats uri /stats\n  stats refresh 10s\n  stats auth admin:pw\n  stats realm Haproxy\\ Stats\n  stats hide-version\n  stats show-node\n  stats show-legends\n  stats admin if TRUE\n".into()),
        ("errorfile", df("  errorfile 400 /etc/haproxy/errors/400.http\n  errorfile 503 /etc/haproxy/errors/503.http")),
        ("log settings", df("  log global\n  no log\n  log 127.0.0.1:514 local0\n  log-format \"%ci:%cp [%t] %ft\"\n  log-tag web")),
        ("misc proxy", "frontend fe\n  bind :1\n  description front end\n  maxconn 100\n  capture request header Host len 32\n  capture cookie sid len 10\n  unique-id-format %{+X}o\\ %ci\n  unique-id-header X-Id\n  monitor-uri /up\n  redirect prefix https://x.com code 301 if { hdr(host) -i y.com }\n  stick-table type ip size 100k expire 30s store http_req_rate(10s)\n  compression algo gzip\n  compression type text/html\n  default_backend be\nbackend be\n  http-reuse safe\n  hash-type consistent\n  cookie SRV insert indirect nocache\n  fullconn 100\n  stick on src\n  server s 127.0.0.1:80\n".into()),
        ("listen", "listen l\n  bind :3306\n  mode tcp\n  balance leastconn\n  server db 127.0.0.1:3306 check\n".into()),
        ("program", "global\n  master-worker\nprogram echo\n  command echo \"Hello, World!\"\n  user nobody\n  group nogroup\n  no option start-on-reload\n".into()),
        ("userlist", "userlist u\n  group admins users a\n  user a password $5$x\n  user b insecure-password pw groups admins\n".into()),
        ("other sections", "peers p\n  peer lb1 127.0.0.1:1024\nmailers m\n  mailer smtp1 127.0.0.1:25\ncache c\n  total-max-size 4\n  max-age 60\nring r\n  size 32764\nhttp-errors e\n  errorfile 503 /x.http\n".into()),
        ("if blocks", ".if defined(PORT)\nfrontend fe\n  bind :1\n.else\n  this is skipped\n.endif\n.if version_atleast(2.4)\n.endif\n.if streq(a,b)\n  skipped\n.elif 1\n.endif\n".into()),
        ("frontend and backend same name", "frontend x\n  bind :1\n  default_backend x\nbackend x\n".into()),
        ("section spans only its file", "backend be\n  server s 127.0.0.1:1\n".into()),
        ("quoted args", fe("  http-request set-header X-A \"a b # c\"\n  http-request set-header X-B 'x \"y\"'\n  http-request set-header X-C a\\ b")),
        ("missing final newline warns", "backend be\n  server s 127.0.0.1:1".into()),
        ("undefined quoted var warns", "frontend fe\n  bind :1\n  acl a path_beg \"$NOPE\"/x\n".into()),
        ("weight with junk warns", be("  server s 127.0.0.1:1 weight 20.2%")),
        ("timer with junk after unit warns", df("  timeout client 15min")),
        ("tcp frontend to http backend", "frontend fe\n  bind :1\n  default_backend be\nbackend be\n  mode http\n".into()),
        ("check addr ipv6", be("  server s [::1]:80 check addr ::1 port 81")),
        ("log ring", gl("  log ring@buf local0")),
        ("errorfiles section", "http-errors site\n  errorfile 503 /x.http\ndefaults\n  errorfiles site\n".into()),
        ("fetch with plus", fe("  acl a base32+src -m found")),
        ("expect forms", be("  http-check expect ! string error\n  http-check expect status 200-399\n  http-check expect min-recv 10 comment x rstring ^ok\n  tcp-check expect binary 0d0a")),
    ];
    for (name, text) in &table {
        if let Err(d) = parse(text) {
            panic!(
                "{name}: rejected\n{text}\n{}",
                d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
            );
        }
    }
}

#[test]
fn rejected_configs() {
    // (case, config, expected line, expected substring of an alert)
    let table: Vec<(&str, String, usize, &str)> = vec![
        (
            "unknown keyword",
            "frontend fe\n  bind :1\n  bogus 12\n".into(),
            3,
            "unknown keyword 'bogus' in 'frontend' section",
        ),
        (
            "unknown global keyword",
            "global\n  bogus\n".into(),
            2,
            "unknown keyword 'bogus' in 'global' section",
        ),
        (
            "out of section",
            "bind :80\n".into(),
            1,
            "unknown keyword 'bind' out of section",
        ),
        (
            "unknown section",
            "crt-store x\n".into(),
            1,
            "'crt-store' section is not supported",
        ),
        (
            "unmatched quote",
            "global\n  user \"x\n".into(),
            2,
            "unmatched quote",
        ),
        ("bad hex", "global\n  user \\xZZ\n".into(), 2, "hexadecimal"),
        ("missing proxy name", "frontend\n".into(), 1, "expects <name>"),
        (
            "bad proxy name",
            "backend a/b\n".into(),
            1,
            "character '/' is not permitted",
        ),
        (
            "address on section line",
            "listen l 0.0.0.0:80\n".into(),
            1,
            "please use the 'bind' keyword",
        ),
        (
            "unknown from",
            "backend b from nope\n".into(),
            1,
            "defaults section 'nope' not found",
        ),
        (
            "from unnamed defaults",
            "defaults\nbackend b from x\n".into(),
            2,
            "not found",
        ),
        (
            "duplicate proxy",
            "backend b\nbackend b\n".into(),
            2,
            "has the same name as backend 'b'",
        ),
        (
            "listen clashes",
            "frontend b\n  bind :1\nlisten b\n  bind :2\n".into(),
            3,
            "has the same name",
        ),
        (
            "duplicate server",
            be("  server s 127.0.0.1:1\n  server s 127.0.0.1:2"),
            3,
            "two servers named 's'",
        ),
        (
            "missing default_backend",
            "frontend fe\n  bind :1\n  default_backend nope\n".into(),
            1,
            "unable to find required default_backend: 'nope'",
        ),
        (
            "missing use_backend",
            "frontend fe\n  bind :1\n  use_backend nope if TRUE\n".into(),
            3,
            "unable to find required use_backend: 'nope'",
        ),
        (
            "undefined acl",
            fe("  use_backend be if nope"),
            3,
            "no such ACL : 'nope'",
        ),
        (
            "acl used before defined",
            fe("  http-request deny if a\n  acl a path /"),
            3,
            "no such ACL : 'a'",
        ),
        (
            "bad condition",
            fe("  use_backend be if { path"),
            3,
            "missing closing '}'",
        ),
        (
            "bind in defaults",
            df("  bind :80"),
            2,
            "'bind' not allowed in 'defaults' section",
        ),
        (
            "server in defaults",
            df("  server s 127.0.0.1:1"),
            2,
            "'server' not allowed in 'defaults' section",
        ),
        (
            "bind missing port",
            fe("  bind 127.0.0.1"),
            3,
            "missing port number",
        ),
        ("bind bad port", fe("  bind :70000"), 3, "invalid port"),
        (
            "bind ssl",
            fe("  bind :443 ssl crt /x.pem"),
            3,
            "'ssl' is not supported by ringlb (no TLS yet)",
        ),
        (
            "bind crt",
            fe("  bind :443 crt /x.pem"),
            3,
            "'crt' is not supported by ringlb",
        ),
        (
            "bind unknown param",
            fe("  bind :1 bogus"),
            3,
            "unknown keyword 'bogus'",
        ),
        (
            "errorfiles unknown section",
            be("  errorfiles nope"),
            1,
            "unknown http-errors section 'nope'",
        ),
        (
            "timeout bad unit",
            df("  timeout client 15x"),
            2,
            "unexpected character 'x'",
        ),
        (
            "http frontend to tcp backend",
            "frontend fe\n  mode http\n  bind :1\n  use_backend be if TRUE\nbackend be\n  mode tcp\n".into(),
            4,
            "wrong mode, required: http, has: tcp",
        ),
        (
            "http-check expect unknown match",
            be("  http-check expect bogus 200"),
            2,
            "unknown match type 'bogus'",
        ),
        (
            "http-check expect no pattern",
            be("  http-check expect status"),
            2,
            "'status' expects a pattern",
        ),
        (
            "expect option missing value",
            be("  tcp-check expect min-recv"),
            2,
            "'min-recv' expects an argument",
        ),
        (
            "timeout not number",
            df("  timeout client abc"),
            2,
            "timeout client",
        ),
        (
            "timeout missing",
            df("  timeout client"),
            2,
            "expects an integer value",
        ),
        (
            "timeout unknown",
            df("  timeout bogus 1s"),
            2,
            "'timeout' supports",
        ),
        (
            "timeout overflow",
            df("  timeout client 30d"),
            2,
            "timer overflow",
        ),
        (
            "maxconn not int",
            gl("  maxconn lots"),
            2,
            "'maxconn' expects an integer argument",
        ),
        (
            "maxconn empty env",
            gl("  maxconn \"${NOPE}\""),
            2,
            "'maxconn' expects an integer argument",
        ),
        ("nbproc", gl("  nbproc 2"), 2, "nbproc is not supported any more"),
        (
            "lua",
            gl("  lua-load /x.lua"),
            2,
            "'lua-load' is not supported by ringlb (no Lua)",
        ),
        (
            "stats socket bad level",
            gl("  stats socket /x level root"),
            2,
            "'level' only supports",
        ),
        (
            "stats socket bad addr",
            gl("  stats socket ipv4@1.2.3.4"),
            2,
            "missing port number",
        ),
        (
            "log bad facility",
            gl("  log 127.0.0.1:514 nofac"),
            2,
            "unknown log facility",
        ),
        (
            "log missing facility",
            gl("  log 127.0.0.1:514"),
            2,
            "expects <address> and <facility>",
        ),
        ("tune.bufsize small", gl("  tune.bufsize 10"), 2, "between 1024"),
        (
            "tune.http.maxhdr big",
            gl("  tune.http.maxhdr 100000"),
            2,
            "between 1 and 32767",
        ),
        (
            "unknown option",
            df("  option bogus"),
            2,
            "unknown option 'bogus'",
        ),
        (
            "http-use-htx",
            df("  option http-use-htx"),
            2,
            "unknown option 'http-use-htx'",
        ),
        (
            "obsolete reqrep",
            be("  reqrep ^x y"),
            2,
            "'reqrep' directive is not supported anymore since HAProxy 2.1",
        ),
        ("bad mode", df("  mode udp"), 2, "unknown proxy mode 'udp'"),
        (
            "mode health",
            df("  mode health"),
            2,
            "'mode health' doesn't exist anymore",
        ),
        (
            "bad balance",
            be("  balance fastest"),
            2,
            "'balance' only supports",
        ),
        ("server no addr", be("  server s"), 2, "expects <name> and <addr>"),
        (
            "server bad addr",
            be("  server s bad!host:80"),
            2,
            "invalid address",
        ),
        (
            "server unknown param",
            be("  server s 127.0.0.1:1 bogus"),
            2,
            "unknown keyword 'bogus'",
        ),
        (
            "server bad inter",
            be("  server s 127.0.0.1:1 inter x"),
            2,
            "'inter'",
        ),
        (
            "server zero rise",
            be("  server s 127.0.0.1:1 rise 0"),
            2,
            "'rise' has to be > 0",
        ),
        (
            "server bad weight",
            be("  server s 127.0.0.1:1 weight 300"),
            2,
            "weight of server must be between 0 and 256",
        ),
        (
            "server bad observe",
            be("  server s 127.0.0.1:1 observe layer9"),
            2,
            "'observe' expects",
        ),
        (
            "server bad on-error",
            be("  server s 127.0.0.1:1 on-error explode"),
            2,
            "'on-error' expects",
        ),
        (
            "server bad port",
            be("  server s 127.0.0.1:1 port 0"),
            2,
            "valid port",
        ),
        (
            "server missing value",
            be("  server s 127.0.0.1:1 inter"),
            2,
            "'inter' expects an argument",
        ),
        (
            "server empty env address",
            be("  server s $NOPE"),
            2,
            "empty address",
        ),
        (
            "server unknown resolvers",
            be("  server s a.local:80 resolvers nope"),
            2,
            "unable to find required resolvers 'nope'",
        ),
        (
            "server-template bad range",
            be("  server-template w 0 a:80"),
            2,
            "invalid range",
        ),
        (
            "http-request unknown action",
            fe("  http-request explode"),
            3,
            "unknown action 'explode'",
        ),
        ("http-request lua", fe("  http-request lua.x"), 3, "no Lua"),
        (
            "http-request spoe",
            fe("  http-request send-spoe-group a b"),
            3,
            "no SPOE",
        ),
        (
            "http-request bad status",
            fe("  http-request deny deny_status 99"),
            3,
            "invalid status code",
        ),
        (
            "return without content-type",
            fe("  http-request return status 200 string ok"),
            3,
            "content-type",
        ),
        (
            "set-header arity",
            fe("  http-request set-header X"),
            3,
            "expects exactly 2 arguments",
        ),
        (
            "redirect bad code",
            fe("  http-request redirect location /x code 999"),
            3,
            "'code' expects",
        ),
        (
            "tcp-request bad phase",
            fe("  tcp-request bogus accept"),
            3,
            "'tcp-request' expects",
        ),
        (
            "tcp-request bad action",
            fe("  tcp-request content lua.pick"),
            3,
            "not supported by ringlb",
        ),
        (
            "http-check unknown",
            be("  http-check bogus"),
            2,
            "unknown keyword 'bogus'",
        ),
        (
            "http-check expect no pattern",
            be("  http-check expect"),
            2,
            "expects a match type",
        ),
        (
            "stats unknown",
            "listen l\n  bind :1\n  stats bogus\n".into(),
            3,
            "'stats' expects",
        ),
        (
            "stats auth no colon",
            "listen l\n  bind :1\n  stats auth admin\n".into(),
            3,
            "<user>:<password>",
        ),
        (
            "stats socket in proxy",
            "listen l\n  bind :1\n  stats socket /x\n".into(),
            3,
            "only allowed in 'global'",
        ),
        (
            "program without command",
            "program p\n  user nobody\n".into(),
            1,
            "has no 'command'",
        ),
        (
            "program unknown",
            "program p\n  command x\n  bogus\n".into(),
            3,
            "unknown keyword 'bogus' in 'program' section",
        ),
        (
            "program bad option",
            "program p\n  command x\n  option bogus\n".into(),
            3,
            "unknown option 'bogus'",
        ),
        (
            "userlist bad user",
            "userlist u\n  user a\n".into(),
            2,
            "'password' or 'insecure-password'",
        ),
        (
            "resolvers bad keyword",
            "resolvers r\n  bogus 1\n".into(),
            2,
            "unknown keyword 'bogus' in 'resolvers' section",
        ),
        (
            "external-check without global",
            be("  option external-check"),
            1,
            "unable to find required 'global.external-check'",
        ),
        (
            "filter spoe",
            fe("  filter spoe engine x config /x.conf"),
            3,
            "'filter spoe' is not supported",
        ),
        ("endif without if", ".endif\n".into(), 1, "'.endif' without '.if'"),
        ("unterminated if", ".if 1\n".into(), 1, "missing '.endif'"),
        (
            "bad if",
            ".if nonsense\n.endif\n".into(),
            1,
            "unparsable conditional",
        ),
        (".alert", ".alert stop here\n".into(), 1, "stop here"),
        (
            "too many words",
            format!("global\n  description {}\n", "w ".repeat(70)),
            2,
            "too many words",
        ),
        (
            "acl bad method",
            fe("  acl a path -m nope /x"),
            3,
            "unknown matching method",
        ),
        (
            "acl bad name",
            fe("  acl a/b path /x"),
            3,
            "not permitted in acl name",
        ),
        (
            "use_backend bad sample",
            fe("  use_backend %[path,lower("),
            3,
            "missing closing",
        ),
        (
            "capture bad",
            fe("  capture request header Host"),
            3,
            "'capture request header' expects",
        ),
        (
            "stick-table no size",
            fe("  stick-table type ip"),
            3,
            "missing size",
        ),
        ("errorfile arity", df("  errorfile 503"), 2, "'errorfile' expects"),
        (
            "log-format two args",
            df("  log-format a b"),
            2,
            "only one argument",
        ),
        (
            "http-reuse bad",
            be("  http-reuse sometimes"),
            2,
            "'http-reuse' expects",
        ),
        (
            "master-worker bad",
            gl("  master-worker whatever"),
            2,
            "'master-worker' only supports",
        ),
        ("cpu-map bad", gl("  cpu-map 1 x"), 2, "cpu-map"),
    ];
    for (name, text, line, want) in &table {
        let diags = match parse(text) {
            Ok(_) => panic!("{name}: accepted but should be rejected:\n{text}"),
            Err(d) => d,
        };
        let hit = diags
            .iter()
            .find(|d| d.level == Level::Alert && d.message.contains(want));
        match hit {
            Some(d) => {
                assert_eq!(d.line, *line, "{name}: wrong line in {d}");
                assert_eq!(d.file, "t.cfg", "{name}");
                let s = d.to_string();
                assert!(
                    s.starts_with("[ALERT] config : parsing [t.cfg:"),
                    "{name}: bad shape {s}"
                );
            }
            None => panic!(
                "{name}: no alert containing {want:?}; got:\n{}",
                diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
            ),
        }
    }
}

#[test]
fn all_errors_of_all_files_are_reported() {
    let files = vec![
        (
            "a.cfg".to_string(),
            "frontend fe\n  bind :1\n  bogus1\n  bogus2\n".to_string(),
        ),
        ("b.cfg".to_string(), "backend be\n  bogus3\n".to_string()),
    ];
    let d = parse_files(&files, &env).expect_err("rejected");
    let alerts: Vec<String> = d
        .iter()
        .filter(|d| d.level == Level::Alert)
        .map(|d| format!("{}:{}", d.file, d.line))
        .collect();
    assert_eq!(alerts, vec!["a.cfg:3", "a.cfg:4", "b.cfg:2"]);
}

#[test]
fn file_level_diagnostic_has_no_line() {
    let d = engine::config::load(&[std::path::PathBuf::from("/nonexistent/ringlb.cfg")])
        .expect_err("missing file");
    let s = d[0].to_string();
    assert!(
        s.starts_with("[ALERT] config : Could not open configuration file /nonexistent/ringlb.cfg"),
        "{s}"
    );
}

#[test]
fn check_expect_is_typed() {
    let l = ok("backend be\n  option httpchk\n  http-check expect ! rstatus ^5\n");
    let e = l.config.proxies[0].http_check[0].expect.clone().expect("expect");
    assert!(e.negated);
    assert_eq!(e.kind, "rstatus");
    assert_eq!(e.pattern, vec!["^5"]);
}

#[test]
fn each_file_starts_outside_any_section() {
    let files = vec![
        ("a.cfg".to_string(), "backend be\n".to_string()),
        ("b.cfg".to_string(), "  server s 127.0.0.1:1\n".to_string()),
    ];
    let d = parse_files(&files, &env).expect_err("rejected");
    assert!(d
        .iter()
        .any(|d| d.file == "b.cfg" && d.message.contains("out of section")));
}

#[test]
fn warnings_do_not_reject() {
    let l = ok("frontend fe\n  bind :1 alpn h2\nbackend be\n  server s 127.0.0.1:1 ssl verify none\n  server t 127.0.0.1:1");
    let msgs: Vec<&str> = l.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(msgs.iter().any(|m| m.contains("'alpn'")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("server-side TLS")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("Missing LF")), "{msgs:?}");
    assert!(l.warnings.iter().all(|w| w.level == Level::Warning));
    let l = ok("frontend fe\n  mode http\n");
    assert!(l
        .warnings
        .iter()
        .any(|w| w.message.contains("has no 'bind' directive")));
}

#[test]
fn defaults_are_applied_to_proxies() {
    let l = ok("defaults\n  mode http\n  timeout client 5s\n  timeout server 7s\n  timeout connect 5000\n  retries 5\n  option redispatch\n  default-server inter 3s\n\
                defaults tcpd\n  mode tcp\n  timeout connect 1s\n\
                frontend fe\n  bind :1\n  default_backend be\n\
                backend be\n  server s 127.0.0.1:1\n\
                backend be2 from tcpd\n  server s 127.0.0.1:1\n");
    let c = &l.config;
    let fe = c.proxy("fe").expect("fe");
    assert_eq!(fe.kind, ProxyKind::Frontend);
    // fe follows the *last* defaults section (tcpd), which reset everything.
    assert_eq!(fe.mode, Mode::Tcp);
    assert_eq!(fe.timeouts.client, None);
    let be2 = c.proxy("be2").expect("be2");
    assert_eq!(be2.from.as_deref(), Some("tcpd"));
    assert_eq!(be2.timeouts.connect, Some(Duration::from_secs(1)));
    assert_eq!(c.defaults.len(), 2);
    assert_eq!(c.defaults[0].retries, 5);
    assert_eq!(c.defaults_named("tcpd").map(|d| d.mode), Some(Mode::Tcp));

    let l = ok("defaults web\n  mode http\n  timeout client 5s\n  timeout server 7s\n  timeout connect 5000\n  retries 5\n  option redispatch\n  option httpchk GET /h\n  default-server inter 3s fall 4\n\
                backend be\n  server s 127.0.0.1:1 check\n  server t 127.0.0.1:2 inter 1s\n");
    let be = l.config.proxy("be").expect("be");
    assert_eq!(be.mode, Mode::Http);
    assert_eq!(be.timeouts.server, Some(Duration::from_secs(7)));
    assert_eq!(be.timeouts.connect, Some(Duration::from_millis(5000)));
    assert_eq!(be.retries, 5);
    assert_eq!(be.options.redispatch, Some(true));
    assert!(matches!(&be.options.check, CheckKind::Http(h) if h.method == "GET" && h.uri == "/h"));
    let s = be.server("s").expect("s");
    assert!(s.params.check);
    assert_eq!(s.params.inter(), Duration::from_secs(3));
    assert_eq!(s.params.fall(), 4);
    assert_eq!(s.params.rise(), 2);
    assert_eq!(be.server("t").expect("t").params.inter(), Duration::from_secs(1));
}

#[test]
fn typed_values_are_stored() {
    let l = ok("global\n  stats socket ipv4@127.0.0.1:9999 level admin\n  hard-stop-after 1m\n  tune.bufsize 16k\n  nbthread 4\n  cpu-map 1/all 0-3\n\
                frontend fe\n  bind 127.0.0.1:8080\n  bind [::1]:8081\n  mode http\n  option http-server-close\n  acl api path_beg -i /api\n\
                  use_backend be if api\n  use_backend %[req.hdr(host),lower]\n  default_backend be\n\
                  http-request deny deny_status 429 if { src 10.0.0.1 }\n  http-request return status 200 content-type text/plain string pong\n\
                backend be\n  mode http\n  balance random(3)\n  server s1 127.0.0.1:80 weight 10 maxconn 5\n  server s2 app.local check port 9000\n  server-template t 2 x.local:81\n\
                program p\n  command /bin/echo hi \"a b\"\n  no option start-on-reload\n");
    let c = &l.config;
    assert_eq!(c.global.stats_sockets[0].level, CliLevel::Admin);
    assert_eq!(c.global.stats_sockets[0].addr.to_string(), "ipv4@127.0.0.1:9999");
    assert_eq!(c.global.hard_stop_after, Some(Duration::from_secs(60)));
    assert_eq!(c.global.tune_bufsize, Some(16384));
    assert_eq!(c.global.nbthread, Some(4));
    assert_eq!(c.global.cpu_maps[0].cpus, vec![0, 1, 2, 3]);
    let fe = c.proxy("fe").expect("fe");
    assert_eq!(fe.binds.len(), 2);
    assert!(
        matches!(&fe.binds[1].addr, Address::Inet { host: Host::Ip(ip), port: Port::Fixed(8081), .. } if ip.is_loopback())
    );
    assert_eq!(fe.options.http_conn_mode, HttpConnMode::ServerClose);
    assert_eq!(fe.acls[0].expr.patterns, vec!["/api"]);
    assert!(fe.acls[0].expr.flags.ignore_case);
    assert_eq!(fe.use_backends.len(), 2);
    assert!(matches!(&fe.use_backends[0].target, BackendRef::Name(n) if n == "be"));
    assert!(
        matches!(&fe.use_backends[0].cond, Some(c) if !c.unless && matches!(&c.any_of[0][0].acl, AclRef::Named(n) if n == "api"))
    );
    assert!(matches!(&fe.use_backends[1].target, BackendRef::Dynamic(_)));
    assert!(matches!(
        fe.http_request[0].action,
        HttpAction::Deny { status: 429 }
    ));
    assert!(
        matches!(&fe.http_request[1].action, HttpAction::Return { status: 200, body: ReturnBody::String(s), .. } if s == "pong")
    );
    let be = c.proxy("be").expect("be");
    assert_eq!(be.balance, Balance::Random { draws: 3 });
    assert_eq!(be.servers.len(), 4);
    assert_eq!(be.servers[0].params.weight(), 10);
    assert_eq!(be.servers[0].port(), Some(80));
    assert!(
        matches!(&be.servers[1].addr, Address::Inet { host: Host::Name(n), port: Port::None, .. } if n == "app.local")
    );
    assert_eq!(be.servers[1].params.check_port, Some(9000));
    assert_eq!(be.servers[3].name, "t2");
    let p = &c.programs[0];
    assert_eq!(p.command, vec!["/bin/echo", "hi", "a b"]);
    assert!(!p.start_on_reload);
}

#[test]
fn pseudo_variables_and_word_expansion() {
    let l = ok("global\n  setenv SRVS \"a b\"\nbackend be\n  description \"at $.FILE:${.LINE} in $.SECTION\"\n  hash-type \"${SRVS[*]}\" x\n");
    let be = l.config.proxy("be").expect("be");
    assert_eq!(be.description.as_deref(), Some("at t.cfg:4 in be"));
    assert_eq!(
        be.hash_type,
        Some(vec!["a".to_string(), "b".to_string(), "x".to_string()])
    );
}

#[test]
fn frontend_and_backend_lookup_by_role() {
    let l = ok("frontend x\n  bind :1\n  default_backend x\nbackend x\n  server s 127.0.0.1:1\n");
    assert_eq!(l.config.frontend("x").map(|p| p.kind), Some(ProxyKind::Frontend));
    assert_eq!(l.config.backend("x").map(|p| p.kind), Some(ProxyKind::Backend));
    assert_eq!(l.config.backends().count(), 1);
    assert_eq!(l.config.frontends().count(), 1);
    assert!(l.config.backend("nope").is_none());
}

#[test]
fn setenv_presetenv_unsetenv_apply_to_later_lines() {
    let l = ok(
        "global\n  presetenv PORT 1\n  presetenv NEWP 2\n  setenv SET 3\n  unsetenv HOST\n\
                backend be\n  description \"${PORT} ${NEWP} ${SET} ${HOST-gone}\"\n",
    );
    let be = l.config.proxy("be").expect("be");
    // presetenv keeps an existing value, setenv overrides, unsetenv removes.
    assert_eq!(be.description.as_deref(), Some("8080 2 3 gone"));
    assert_eq!(l.config.global.env_changes.len(), 4);
}
