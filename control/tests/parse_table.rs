//! Table of accepted lines (with the command they give) and rejected lines (with HAProxy's
//! answer), for every command of the Runtime API.

use control::command::*;
use control::messages::{self, Visibility};
use control::{parse, Command, ParseErrorKind};

fn name(s: &str) -> Name {
    Name::new(s.as_bytes()).expect("valid name in test table")
}

fn word(s: &str) -> Word {
    Word::new(s.as_bytes()).expect("valid word in test table")
}

fn srv(s: &str) -> ServerRef {
    let (b, v) = s.split_once('/').expect("b/s in test table");
    ServerRef {
        backend: name(b),
        server: name(v),
    }
}

fn abs(w: u16) -> Weight {
    Weight::absolute(w).expect("valid weight in test table")
}

fn ms(v: u32) -> Delay {
    Delay::from_ms(v).expect("valid delay in test table")
}

fn accepted() -> Vec<(&'static str, Command)> {
    use Command as C;
    vec![
        ("help", C::Help { words: vec![] }),
        (
            "help show servers",
            C::Help {
                words: vec![word("show"), word("servers")],
            },
        ),
        ("prompt", C::Prompt { args: vec![] }),
        (
            "prompt timed",
            C::Prompt {
                args: vec![PromptArg::Timed],
            },
        ),
        (
            "prompt i p",
            C::Prompt {
                args: vec![PromptArg::Interactive, PromptArg::Prompt],
            },
        ),
        ("quit", C::Quit),
        ("quit now", C::Quit),
        ("echo", C::Echo { words: vec![] }),
        (
            "echo  hello   world ",
            C::Echo {
                words: vec![word("hello"), word("world")],
            },
        ),
        (
            "echo a\\ b a\\;b",
            C::Echo {
                words: vec![word("a b"), word("a;b")],
            },
        ),
        ("operator", C::Operator),
        ("user", C::User),
        ("experimental-mode on", C::ExperimentalMode { on: Some(true) }),
        ("experimental-mode off", C::ExperimentalMode { on: Some(false) }),
        ("experimental-mode", C::ExperimentalMode { on: None }),
        ("expert-mode on", C::ExpertMode { on: Some(true) }),
        ("expert-mode whatever", C::ExpertMode { on: Some(false) }),
        ("set timeout cli 30", C::SetTimeoutCli { seconds: 30 }),
        ("set timeout cli 1m", C::SetTimeoutCli { seconds: 60 }),
        ("set timeout cli 500ms", C::SetTimeoutCli { seconds: 1 }),
        (
            "wait 100",
            C::Wait {
                delay: ms(100),
                condition: None,
            },
        ),
        ("wait -h", C::WaitHelp),
        ("wait 1s -h", C::WaitHelp),
        (
            "wait 2s srv-removable mybackend1/web1",
            C::Wait {
                delay: ms(2000),
                condition: Some(WaitCondition::SrvRemovable(srv("mybackend1/web1"))),
            },
        ),
        (
            "wait 2s be-removable mybackend1",
            C::Wait {
                delay: ms(2000),
                condition: Some(WaitCondition::BeRemovable(name("mybackend1"))),
            },
        ),
        ("show info", C::ShowInfo(InfoOptions::default())),
        (
            "show info typed desc",
            C::ShowInfo(InfoOptions {
                format: StatFormat::Typed,
                desc: true,
                float: false,
            }),
        ),
        (
            "show info json typed float bogus",
            C::ShowInfo(InfoOptions {
                format: StatFormat::Typed,
                desc: false,
                float: true,
            }),
        ),
        ("show stat", C::ShowStat(StatOptions::default())),
        (
            "show stat json",
            C::ShowStat(StatOptions {
                format: StatFormat::Json,
                ..StatOptions::default()
            }),
        ),
        (
            "show stat -1 -1 -1 typed up",
            C::ShowStat(StatOptions {
                format: StatFormat::Typed,
                up: true,
                ..StatOptions::default()
            }),
        ),
        (
            "show stat web 4 -1 no-maint",
            C::ShowStat(StatOptions {
                scope: Some(StatScope {
                    proxy: word("web"),
                    types: 4,
                    sid: -1,
                }),
                no_maint: true,
                ..StatOptions::default()
            }),
        ),
        // HAProxy's quirk: two arguments are `<iid> <type>`, not two flags.
        (
            "show stat typed json",
            C::ShowStat(StatOptions {
                scope: Some(StatScope {
                    proxy: word("typed"),
                    types: 0,
                    sid: 0,
                }),
                ..StatOptions::default()
            }),
        ),
        ("show cli sockets", C::ShowCliSockets),
        ("show cli level", C::ShowCliLevel),
        ("show version", C::ShowVersion),
        ("show env", C::ShowEnv { var: None }),
        (
            "show env HOME",
            C::ShowEnv {
                var: Some(word("HOME")),
            },
        ),
        (
            "show errors",
            C::ShowErrors {
                proxy: None,
                direction: None,
            },
        ),
        (
            "show errors web response",
            C::ShowErrors {
                proxy: Some(word("web")),
                direction: Some(ErrorDirection::Response),
            },
        ),
        (
            "show errors -1 request",
            C::ShowErrors {
                proxy: None,
                direction: Some(ErrorDirection::Request),
            },
        ),
        ("clear counters", C::ClearCounters { all: false }),
        ("clear counters all", C::ClearCounters { all: true }),
        ("disable frontend fe1", C::DisableFrontend(name("fe1"))),
        ("enable frontend fe1", C::EnableFrontend(name("fe1"))),
        ("shutdown frontend fe1", C::ShutdownFrontend(name("fe1"))),
        (
            "set maxconn frontend fe1 100",
            C::SetMaxconnFrontend {
                frontend: name("fe1"),
                maxconn: 100,
            },
        ),
        (
            "set maxconn frontend fe1 abc",
            C::SetMaxconnFrontend {
                frontend: name("fe1"),
                maxconn: 0,
            },
        ),
        (
            "add backend mybackend1 from mydefaults",
            C::AddBackend {
                name: name("mybackend1"),
                from: name("mydefaults"),
                mode: None,
            },
        ),
        (
            "add backend b from d mode http",
            C::AddBackend {
                name: name("b"),
                from: name("d"),
                mode: Some(ProxyMode::Http),
            },
        ),
        (
            "publish backend mybackend1",
            C::PublishBackend(name("mybackend1")),
        ),
        (
            "unpublish backend mybackend1",
            C::UnpublishBackend(name("mybackend1")),
        ),
        ("del backend mybackend1", C::DelBackend(name("mybackend1"))),
        ("show backend", C::ShowBackend),
        (
            "add server mybackend1/web1 172.16.0.12:8080 check port 8080",
            C::AddServer {
                server: srv("mybackend1/web1"),
                addr: word("172.16.0.12:8080"),
                params: vec![ServerParam::Check, ServerParam::Port(8080)],
            },
        ),
        (
            "add server b/s 10.0.0.1:80 weight 10 maxconn 50 backup disabled inter 2s rise 3 fall 2",
            C::AddServer {
                server: srv("b/s"),
                addr: word("10.0.0.1:80"),
                params: vec![
                    ServerParam::Weight(10),
                    ServerParam::Maxconn(50),
                    ServerParam::Backup,
                    ServerParam::Disabled,
                    ServerParam::Inter(ms(2000)),
                    ServerParam::Rise(3),
                    ServerParam::Fall(2),
                ],
            },
        ),
        ("del server b/s", C::DelServer(srv("b/s"))),
        (
            "enable server mybackend1/web1",
            C::EnableServer(srv("mybackend1/web1")),
        ),
        ("disable server b/s", C::DisableServer(srv("b/s"))),
        (
            "enable health mybackend1/web1",
            C::EnableHealth(srv("mybackend1/web1")),
        ),
        ("disable health b/s", C::DisableHealth(srv("b/s"))),
        ("enable agent b/s", C::EnableAgent(srv("b/s"))),
        ("disable agent b/s", C::DisableAgent(srv("b/s"))),
        (
            "set server mybackend1/web1 state maint",
            C::SetServerState {
                server: srv("mybackend1/web1"),
                state: AdminState::Maint,
            },
        ),
        (
            "set server b/s state ready",
            C::SetServerState {
                server: srv("b/s"),
                state: AdminState::Ready,
            },
        ),
        (
            "set server b/s state drain",
            C::SetServerState {
                server: srv("b/s"),
                state: AdminState::Drain,
            },
        ),
        (
            "set server b/s weight 50",
            C::SetServerWeight {
                server: srv("b/s"),
                weight: abs(50),
            },
        ),
        (
            "set server b/s weight 10%",
            C::SetServerWeight {
                server: srv("b/s"),
                weight: Weight::relative(10),
            },
        ),
        (
            "set server b/s weight 999999%",
            C::SetServerWeight {
                server: srv("b/s"),
                weight: Weight::relative(25_600),
            },
        ),
        (
            "set server b/s health stopping",
            C::SetServerHealth {
                server: srv("b/s"),
                health: Health::Stopping,
            },
        ),
        (
            "set server b/s agent down",
            C::SetServerAgent {
                server: srv("b/s"),
                agent: AgentState::Down,
            },
        ),
        (
            "set server b/s addr 10.0.0.2",
            C::SetServerAddr {
                server: srv("b/s"),
                addr: word("10.0.0.2"),
                port: None,
            },
        ),
        (
            "set server b/s addr 10.0.0.2 port 8080",
            C::SetServerAddr {
                server: srv("b/s"),
                addr: word("10.0.0.2"),
                port: Some(word("8080")),
            },
        ),
        ("get weight b/s", C::GetWeight(srv("b/s"))),
        (
            "set weight b/s 20",
            C::SetWeight {
                server: srv("b/s"),
                weight: abs(20),
            },
        ),
        (
            "set maxconn server b/s 30",
            C::SetMaxconnServer {
                server: srv("b/s"),
                maxconn: 30,
            },
        ),
        (
            "shutdown sessions server b/s",
            C::ShutdownSessionsServer(srv("b/s")),
        ),
        ("show servers state", C::ShowServersState { backend: None }),
        (
            "show servers state web",
            C::ShowServersState {
                backend: Some(name("web")),
            },
        ),
        ("show servers conn", C::ShowServersConn { backend: None }),
        (
            "show servers conn web",
            C::ShowServersConn {
                backend: Some(name("web")),
            },
        ),
        (
            "show map",
            C::ShowMap {
                version: None,
                map: None,
            },
        ),
        (
            "show map virt@paths.map",
            C::ShowMap {
                version: None,
                map: Some(word("virt@paths.map")),
            },
        ),
        (
            "show map @3 #1",
            C::ShowMap {
                version: Some(3),
                map: Some(word("#1")),
            },
        ),
        (
            "get map virt@paths.map /test",
            C::GetMap {
                map: word("virt@paths.map"),
                value: word("/test"),
            },
        ),
        (
            "add map virt@paths.map /test mybackend1",
            C::AddMap {
                version: None,
                map: word("virt@paths.map"),
                entries: MapEntries::One {
                    key: word("/test"),
                    value: word("mybackend1"),
                },
            },
        ),
        (
            "add map @2 /etc/m.map k v",
            C::AddMap {
                version: Some(2),
                map: word("/etc/m.map"),
                entries: MapEntries::One {
                    key: word("k"),
                    value: word("v"),
                },
            },
        ),
        (
            "add map virt@x.map <<\n/a be1\n  /b   be 2 \n\n",
            C::AddMap {
                version: None,
                map: word("virt@x.map"),
                entries: MapEntries::Payload(vec![
                    (
                        PayloadKey::new(b"/a").expect("key"),
                        PayloadValue::new(b"be1").expect("value"),
                    ),
                    (
                        PayloadKey::new(b"/b").expect("key"),
                        PayloadValue::new(b"be 2 ").expect("value"),
                    ),
                ]),
            },
        ),
        (
            "set map m #12 v2",
            C::SetMap {
                map: word("m"),
                key: word("#12"),
                value: word("v2"),
            },
        ),
        (
            "del map virt@paths.map /test",
            C::DelMap {
                map: word("virt@paths.map"),
                key: word("/test"),
            },
        ),
        (
            "clear map m",
            C::ClearMap {
                version: None,
                map: word("m"),
            },
        ),
        (
            "clear map @7 m",
            C::ClearMap {
                version: Some(7),
                map: word("m"),
            },
        ),
        ("prepare map m", C::PrepareMap { map: word("m") }),
        (
            "commit map @7 m",
            C::CommitMap {
                version: 7,
                map: word("m"),
            },
        ),
        // A payload cut by the end of the input ends there.
        (
            "add map m <<\nk v",
            C::AddMap {
                version: None,
                map: word("m"),
                entries: MapEntries::Payload(vec![(
                    PayloadKey::new(b"k").expect("key"),
                    PayloadValue::new(b"v").expect("value"),
                )]),
            },
        ),
        // Delimiters the parser tolerates around one command.
        ("show info\n", C::ShowInfo(InfoOptions::default())),
        ("show info;", C::ShowInfo(InfoOptions::default())),
        ("show info\r\n", C::ShowInfo(InfoOptions::default())),
        ("\t show   info", C::ShowInfo(InfoOptions::default())),
    ]
}

fn rejected() -> Vec<(&'static str, &'static str)> {
    vec![
        ("set server web state maint", messages::REQUIRE_BACKEND_SERVER),
        ("set server web/ state maint", messages::REQUIRE_BACKEND_SERVER),
        ("set server /s state maint", messages::NO_SUCH_BACKEND),
        ("set server b/s/x state maint", messages::NO_SUCH_SERVER),
        ("set server b/s state up", messages::SET_SERVER_STATE_EXPECTS),
        ("set server b/s health maybe", messages::SET_SERVER_HEALTH_EXPECTS),
        ("set server b/s agent maybe", messages::SET_SERVER_AGENT_EXPECTS),
        ("set server b/s addr", messages::SET_SERVER_ADDR_REQUIRES),
        ("set server b/s frobnicate", messages::SET_SERVER_USAGE),
        ("set server b/s", messages::SET_SERVER_USAGE),
        ("set server b/s weight", messages::WEIGHT_REQUIRED),
        ("set server b/s weight x", messages::WEIGHT_GARBAGE),
        ("set server b/s weight 300", messages::WEIGHT_ABSOLUTE_RANGE),
        ("set server b/s weight -1", messages::WEIGHT_ABSOLUTE_RANGE),
        ("set server b/s weight 300x", messages::WEIGHT_ABSOLUTE_RANGE),
        ("set server b/s weight 10x", messages::WEIGHT_TRAILING_GARBAGE),
        ("set server b/s weight 10%x", messages::WEIGHT_TRAILING_GARBAGE),
        ("set server b/s weight -5%", messages::WEIGHT_RELATIVE_NEGATIVE),
        ("set weight b 10", messages::REQUIRE_BACKEND_SERVER),
        ("set weight b/s", messages::WEIGHT_REQUIRED),
        ("get weight", messages::REQUIRE_BACKEND_SERVER),
        ("enable server b", messages::REQUIRE_BACKEND_SERVER),
        ("disable health", messages::REQUIRE_BACKEND_SERVER),
        ("del server b", messages::REQUIRE_BACKEND_SERVER),
        ("shutdown sessions server b", messages::REQUIRE_BACKEND_SERVER),
        ("set maxconn server b/s", messages::MAXCONN_REQUIRED),
        ("set maxconn server b/s x", messages::MAXCONN_GARBAGE),
        ("set maxconn server b/s 5x", messages::MAXCONN_TRAILING_GARBAGE),
        ("set maxconn frontend", messages::FRONTEND_NAME_EXPECTED),
        ("set maxconn frontend fe", messages::INTEGER_VALUE_EXPECTED),
        ("set maxconn frontend fe -3", messages::VALUE_OUT_OF_RANGE),
        ("disable frontend", messages::FRONTEND_NAME_EXPECTED),
        ("shutdown frontend bad/name", messages::NO_SUCH_FRONTEND),
        ("set timeout", messages::SET_TIMEOUT_ONLY_CLI),
        ("set timeout server 5", messages::SET_TIMEOUT_ONLY_CLI),
        ("set timeout cli", messages::EXPECTS_INTEGER_VALUE),
        ("set timeout cli 0", messages::INVALID_TIMEOUT_VALUE),
        ("set timeout cli x", messages::INVALID_TIMEOUT_VALUE),
        ("wait", messages::WAIT_EXPECTS_DURATION),
        ("wait x", messages::WAIT_INVALID_DURATION),
        ("wait 0", messages::WAIT_INVALID_DURATION),
        ("wait 1s srv-removable", messages::WAIT_MISSING_SERVER),
        ("wait 1s srv-removable b", messages::REQUIRE_BACKEND_SERVER),
        ("wait 1s be-removable", messages::WAIT_MISSING_BACKEND),
        ("wait 1s sleepy", messages::WAIT_USAGE),
        ("add server b/s", messages::SERVER_EXPECTS_NAME_ADDR),
        ("add server b 1.2.3.4:80", messages::REQUIRE_BACKEND_SERVER),
        ("publish backend", messages::BACKEND_NAME_EXPECTED),
        ("unpublish backend a/b", messages::CANT_FIND_BACKEND),
        ("del backend", messages::BACKEND_NAME_EXPECTED),
        ("add backend", messages::BACKEND_NAME_EXPECTED),
        ("add backend b", messages::ADD_BACKEND_USAGE),
        ("add backend b from", messages::ADD_BACKEND_USAGE),
        ("add backend b from d mode udp", messages::ADD_BACKEND_USAGE),
        ("show servers state a/b", messages::CANT_FIND_BACKEND),
        ("get map", messages::GET_MAP_MISSING),
        ("get map m", messages::GET_MAP_MISSING),
        ("set map m k", messages::SET_MAP_EXPECTS),
        ("add map m k", messages::ADD_MAP_EXPECTS),
        ("add map", messages::ADD_MAP_EXPECTS),
        ("del map m", messages::DEL_MAP_EXPECTS),
        ("clear map", messages::MISSING_MAP_IDENTIFIER),
        ("clear map @1", messages::MISSING_MAP_IDENTIFIER),
        ("prepare map", messages::MISSING_MAP_IDENTIFIER),
        ("commit map m", messages::MISSING_VERSION_NUMBER),
        ("commit map @1", messages::MISSING_VERSION_NUMBER),
        ("commit map @x m", messages::INVALID_VERSION),
        ("show map @x m", messages::INVALID_VERSION),
        ("show map @1", messages::MISSING_MAP_IDENTIFIER),
    ]
}

#[test]
fn accepted_lines_give_their_command() {
    for (line, want) in accepted() {
        assert_eq!(parse(line.as_bytes()), Ok(want.clone()), "line {line:?}");
        // And the canonical form of the result parses back to it.
        let printed = want.to_bytes();
        assert_eq!(
            parse(&printed),
            Ok(want),
            "canonical {:?}",
            String::from_utf8_lossy(&printed)
        );
    }
}

#[test]
fn rejected_lines_give_haproxy_texts() {
    for (line, want) in rejected() {
        let err = parse(line.as_bytes()).expect_err(line);
        assert_eq!(err.reply(Visibility::default()), want, "line {line:?}");
    }
}

#[test]
fn command_levels_match_keyword_levels() {
    for (line, cmd) in accepted() {
        let trimmed = line.trim_end_matches(|c: char| c == ';' || c.is_whitespace());
        let words: Vec<&[u8]> = trimmed.split_whitespace().map(str::as_bytes).collect();
        let kw = messages::find_keyword(&words).expect(line);
        if cmd == (Command::ClearCounters { all: true }) {
            assert_eq!(cmd.level(), Level::Admin);
            continue;
        }
        assert_eq!(cmd.level(), kw.level, "{line}");
    }
}

#[test]
fn low_level_sessions_get_permission_denied_before_argument_errors() {
    let err = parse(b"set server web state maint").expect_err("bad server");
    assert_eq!(err.level, Some(Level::Admin));
    assert_eq!(
        err.reply_at(Level::User, Visibility::default()),
        messages::PERMISSION_DENIED
    );
    assert_eq!(
        err.reply_at(Level::Admin, Visibility::default()),
        messages::REQUIRE_BACKEND_SERVER
    );
    let err = parse(b"nope").expect_err("unknown");
    assert_eq!(err.level, None);
    assert!(err
        .reply_at(Level::User, Visibility::default())
        .starts_with("Unknown command: 'nope'"));
}

#[test]
fn rejected_error_offsets_point_into_the_line() {
    for (line, _) in rejected() {
        let err = parse(line.as_bytes()).expect_err(line);
        assert!(err.offset <= line.len(), "{line:?}: offset {}", err.offset);
    }
    let err = parse(b"set server b/s weight 300").expect_err("bad weight");
    assert_eq!(err.offset, 22);
}

#[test]
fn unknown_commands_get_haproxy_suggestions() {
    let err = parse(b"shwo info").expect_err("unknown");
    assert!(matches!(err.kind, ParseErrorKind::UnknownCommand { .. }));
    let reply = err.reply(Visibility::default());
    assert!(
        reply
            .starts_with("Unknown command: 'shwo', but maybe one of the following ones is a better match:\n"),
        "{reply}"
    );
    assert!(reply.contains(
        "\n  show info [desc|json|typed|float]*      : report information about the running process\n"
    ));
    assert!(reply.ends_with("  quit                                    : disconnect"));

    let reply = parse(b"show servers")
        .expect_err("incomplete")
        .reply(Visibility::default());
    assert!(reply.contains("show servers conn [<backend>]"), "{reply}");
    assert!(reply.contains("show servers state [<backend>]"), "{reply}");
    assert!(!reply.contains("show info"), "{reply}");
}

#[test]
fn empty_and_oversized_lines() {
    assert_eq!(parse(b"").map_err(|e| e.kind), Err(ParseErrorKind::Empty));
    assert_eq!(parse(b"  \t \n").map_err(|e| e.kind), Err(ParseErrorKind::Empty));
    let big = vec![b'a'; control::split::REQUEST_BYTES_MAX + 1];
    let err = parse(&big).expect_err("too long");
    assert_eq!(
        err.kind,
        ParseErrorKind::LineTooLong {
            len: control::split::REQUEST_BYTES_MAX + 1,
            max: control::split::REQUEST_BYTES_MAX
        }
    );
    assert_eq!(err.reply(Visibility::default()), messages::COMMAND_TOO_BIG);
    let many = format!("echo{}", " w".repeat(64));
    assert!(matches!(
        parse(many.as_bytes()).map_err(|e| e.kind),
        Err(ParseErrorKind::TooManyWords { max: 64 })
    ));
    let max = format!("echo{}", " w".repeat(63));
    assert!(parse(max.as_bytes()).is_ok());
}

#[test]
fn two_commands_are_not_one() {
    assert!(matches!(
        parse(b"show info;show stat").map_err(|e| e.kind),
        Err(ParseErrorKind::TrailingInput)
    ));
}

#[test]
fn walkthrough_004_lines_parse() {
    // The Runtime API steps of reference 004, as sent by socat (one line each).
    for line in [
        "experimental-mode on; add backend mybackend1 from mydefaults",
        "add server mybackend1/web1 172.16.0.12:8080 check port 8080",
        "enable server mybackend1/web1",
        "enable health mybackend1/web1",
        "publish backend mybackend1",
        "add map virt@paths.map /test mybackend1",
        "set server mybackend1/web1 state maint",
        "wait 2s srv-removable mybackend1/web1; del server mybackend1/web1",
        "unpublish backend mybackend1",
        "experimental-mode on; wait 2s be-removable mybackend1; del backend mybackend1",
        "del map virt@paths.map /test",
    ] {
        let mut sp = control::Splitter::new();
        let input = format!("{line}\n");
        let mut rest = input.as_bytes();
        let mut n = 0;
        while let (used, control::Feed::Request(req)) = sp.feed(rest) {
            rest = rest.get(used..).unwrap_or_default();
            let cmd = control::parse_request(&req).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(cmd.level(), Level::Admin, "{line}");
            n += 1;
        }
        assert!(n >= 1, "{line}");
    }
}

#[test]
fn every_listed_keyword_has_a_parser() {
    for kw in messages::KEYWORDS {
        let mut line = kw.words.join(" ");
        // Whatever the arguments, a known keyword never answers "Unknown command".
        line.push_str(" x");
        let res = parse(line.as_bytes());
        assert!(
            !matches!(res, Err(ref e) if matches!(e.kind, ParseErrorKind::UnknownCommand { .. })),
            "{line}: {res:?}"
        );
    }
}
