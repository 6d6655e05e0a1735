//! Property tests: `parse(print(c)) == c` for generated commands, the splitter sees one
//! request in a printed command, and random bytes never panic the parser or splitter.

use control::command::*;
use control::{parse, Command, Feed, Splitter};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = Name> {
    "[A-Za-z0-9_.:-]{1,12}".prop_map(|s| Name::new(s.as_bytes()).expect("generated name"))
}

/// Words with the bytes that need escaping, and non-ASCII; never `-1` (which the parser
/// normalises away where it means "all").
fn word() -> impl Strategy<Value = Word> {
    proptest::collection::vec(
        prop_oneof![
            8 => proptest::char::range('a', 'z').prop_map(|c| c as u8),
            1 => Just(b' '),
            1 => Just(b'\t'),
            1 => Just(b';'),
            1 => Just(b'\\'),
            1 => Just(b'<'),
            1 => Just(b'#'),
            1 => Just(b'@'),
            1 => Just(0xc3u8),
            1 => Just(b'-'),
        ],
        1..10,
    )
    .prop_filter("not -1", |b| b != b"-1")
    .prop_map(|b| Word::new(&b).expect("generated word"))
}

fn server() -> impl Strategy<Value = ServerRef> {
    (name(), name()).prop_map(|(backend, server)| ServerRef { backend, server })
}

fn delay() -> impl Strategy<Value = Delay> {
    (1u32..=DELAY_MS_MAX).prop_map(|ms| Delay::from_ms(ms).expect("generated delay"))
}

fn weight() -> impl Strategy<Value = Weight> {
    prop_oneof![
        (0u16..=WEIGHT_ABSOLUTE_MAX).prop_map(|w| Weight::absolute(w).expect("generated weight")),
        (0u32..=WEIGHT_PERCENT_MAX).prop_map(Weight::relative),
    ]
}

fn format() -> impl Strategy<Value = StatFormat> {
    prop_oneof![
        Just(StatFormat::Default),
        Just(StatFormat::Typed),
        Just(StatFormat::Json)
    ]
}

fn server_param() -> impl Strategy<Value = ServerParam> {
    prop_oneof![
        Just(ServerParam::Check),
        Just(ServerParam::NoCheck),
        Just(ServerParam::Backup),
        Just(ServerParam::Disabled),
        Just(ServerParam::SendProxyV2),
        (1u16..).prop_map(ServerParam::Port),
        word().prop_map(ServerParam::Addr),
        (0u16..=256).prop_map(ServerParam::Weight),
        (0u32..=MAXCONN_MAX).prop_map(ServerParam::Maxconn),
        delay().prop_map(ServerParam::Inter),
        delay().prop_map(ServerParam::Downinter),
        (1u32..=MAXCONN_MAX).prop_map(ServerParam::Rise),
        (1u32..=MAXCONN_MAX).prop_map(ServerParam::Fall),
        (1u32..=MAXCONN_MAX).prop_map(ServerParam::Id),
        word().prop_map(ServerParam::Cookie),
        prop_oneof![Just("up"), Just("down"), Just("fully-up"), Just("fully-down")]
            .prop_map(|s| ServerParam::InitState(Word::new(s.as_bytes()).expect("state"))),
    ]
}

fn payload_entry() -> impl Strategy<Value = (PayloadKey, PayloadValue)> {
    ("[!-~]{1,8}", "[!-~][ -~]{0,8}").prop_map(|(k, v)| {
        (
            PayloadKey::new(k.as_bytes()).expect("generated key"),
            PayloadValue::new(v.as_bytes()).expect("generated value"),
        )
    })
}

fn command() -> impl Strategy<Value = Command> {
    use Command as C;
    let session = prop_oneof![
        proptest::collection::vec(word(), 0..4).prop_map(|words| C::Help { words }),
        proptest::collection::vec(
            prop_oneof![
                Just(PromptArg::Help),
                Just(PromptArg::NonInteractive),
                Just(PromptArg::Interactive),
                Just(PromptArg::Prompt),
                Just(PromptArg::Timed)
            ],
            0..4
        )
        .prop_map(|args| C::Prompt { args }),
        Just(C::Quit),
        proptest::collection::vec(word(), 0..8).prop_map(|words| C::Echo { words }),
        Just(C::Operator),
        Just(C::User),
        proptest::option::of(any::<bool>()).prop_map(|on| C::ExperimentalMode { on }),
        proptest::option::of(any::<bool>()).prop_map(|on| C::ExpertMode { on }),
        (1u32..=DELAY_MS_MAX / 1000).prop_map(|seconds| C::SetTimeoutCli { seconds }),
        Just(C::WaitHelp),
        (
            delay(),
            proptest::option::of(prop_oneof![
                server().prop_map(WaitCondition::SrvRemovable),
                name().prop_map(WaitCondition::BeRemovable)
            ])
        )
            .prop_map(|(delay, condition)| C::Wait { delay, condition }),
    ];
    let process =
        prop_oneof![
            (format(), any::<bool>(), any::<bool>())
                .prop_map(|(format, desc, float)| C::ShowInfo(InfoOptions { format, desc, float })),
            (
                proptest::option::of(
                    (word(), any::<i32>(), any::<i32>()).prop_map(|(proxy, types, sid)| StatScope {
                        proxy,
                        types,
                        sid
                    })
                ),
                format(),
                any::<bool>(),
                any::<bool>(),
                any::<bool>()
            )
                .prop_map(|(scope, format, desc, no_maint, up)| C::ShowStat(StatOptions {
                    scope,
                    format,
                    desc,
                    no_maint,
                    up
                })),
            Just(C::ShowCliSockets),
            Just(C::ShowCliLevel),
            Just(C::ShowVersion),
            proptest::option::of(word()).prop_map(|var| C::ShowEnv { var }),
            (
                proptest::option::of(word()),
                proptest::option::of(prop_oneof![
                    Just(ErrorDirection::Request),
                    Just(ErrorDirection::Response)
                ])
            )
                .prop_map(|(proxy, direction)| C::ShowErrors { proxy, direction }),
            any::<bool>().prop_map(|all| C::ClearCounters { all }),
            name().prop_map(C::DisableFrontend),
            name().prop_map(C::EnableFrontend),
            name().prop_map(C::ShutdownFrontend),
            (name(), 0u32..=MAXCONN_MAX)
                .prop_map(|(frontend, maxconn)| C::SetMaxconnFrontend { frontend, maxconn }),
            (
                name(),
                name(),
                proptest::option::of(prop_oneof![Just(ProxyMode::Tcp), Just(ProxyMode::Http)])
            )
                .prop_map(|(name, from, mode)| C::AddBackend { name, from, mode }),
            name().prop_map(C::PublishBackend),
            name().prop_map(C::UnpublishBackend),
            name().prop_map(C::DelBackend),
            Just(C::ShowBackend),
        ];
    let servers =
        prop_oneof![
            (server(), word(), proptest::collection::vec(server_param(), 0..6))
                .prop_map(|(server, addr, params)| C::AddServer { server, addr, params }),
            server().prop_map(C::DelServer),
            server().prop_map(C::EnableServer),
            server().prop_map(C::DisableServer),
            server().prop_map(C::EnableHealth),
            server().prop_map(C::DisableHealth),
            server().prop_map(C::EnableAgent),
            server().prop_map(C::DisableAgent),
            (
                server(),
                prop_oneof![
                    Just(AdminState::Ready),
                    Just(AdminState::Drain),
                    Just(AdminState::Maint)
                ]
            )
                .prop_map(|(server, state)| C::SetServerState { server, state }),
            (server(), weight()).prop_map(|(server, weight)| C::SetServerWeight { server, weight }),
            (
                server(),
                prop_oneof![Just(Health::Up), Just(Health::Stopping), Just(Health::Down)]
            )
                .prop_map(|(server, health)| C::SetServerHealth { server, health }),
            (
                server(),
                prop_oneof![Just(AgentState::Up), Just(AgentState::Down)]
            )
                .prop_map(|(server, agent)| C::SetServerAgent { server, agent }),
            (server(), word(), proptest::option::of(word()))
                .prop_map(|(server, addr, port)| C::SetServerAddr { server, addr, port }),
            server().prop_map(C::GetWeight),
            (server(), weight()).prop_map(|(server, weight)| C::SetWeight { server, weight }),
            (server(), 0u32..=MAXCONN_MAX)
                .prop_map(|(server, maxconn)| C::SetMaxconnServer { server, maxconn }),
            server().prop_map(C::ShutdownSessionsServer),
            proptest::option::of(name()).prop_map(|backend| C::ShowServersState { backend }),
            proptest::option::of(name()).prop_map(|backend| C::ShowServersConn { backend }),
        ];
    let maps = prop_oneof![
        prop_oneof![
            Just((None, None)),
            word().prop_map(|m| (None, Some(m))),
            (any::<u32>(), word()).prop_map(|(v, m)| (Some(v), Some(m))),
        ]
        .prop_map(|(version, map)| C::ShowMap { version, map }),
        (word(), word()).prop_map(|(map, value)| C::GetMap { map, value }),
        (
            proptest::option::of(any::<u32>()),
            word(),
            prop_oneof![
                (word(), word()).prop_map(|(key, value)| MapEntries::One { key, value }),
                proptest::collection::vec(payload_entry(), 0..5).prop_map(MapEntries::Payload),
            ]
        )
            .prop_map(|(version, map, entries)| C::AddMap {
                version,
                map,
                entries
            }),
        (word(), word(), word()).prop_map(|(map, key, value)| C::SetMap { map, key, value }),
        (word(), word()).prop_map(|(map, key)| C::DelMap { map, key }),
        (proptest::option::of(any::<u32>()), word()).prop_map(|(version, map)| C::ClearMap { version, map }),
        word().prop_map(|map| C::PrepareMap { map }),
        (any::<u32>(), word()).prop_map(|(version, map)| C::CommitMap { version, map }),
    ];
    prop_oneof![session, process, servers, maps]
}

/// A `@...` word would be read as a map version by `show map`/`add map`/`clear map`.
fn map_word_ok(c: &Command) -> bool {
    let at = |w: &Word| w.as_bytes().first() == Some(&b'@');
    match c {
        Command::ShowMap { map: Some(m), .. } | Command::ClearMap { map: m, .. } => !at(m),
        Command::AddMap { map, .. } => !at(map),
        _ => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parse_of_print_is_identity(c in command().prop_filter("map word", map_word_ok)) {
        let printed = c.to_bytes();
        let back = parse(&printed);
        prop_assert_eq!(back, Ok(c.clone()), "printed {:?}", String::from_utf8_lossy(&printed));
        // The printed command is exactly one request for the splitter.
        let mut sp = Splitter::new();
        let mut input = printed.clone();
        if !c.has_payload() {
            input.push(b'\n');
        }
        let (used, feed) = sp.feed(&input);
        prop_assert_eq!(used, input.len());
        prop_assert!(matches!(feed, Feed::Request(_)));
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(c) = parse(&bytes) {
            // Whatever parses prints back to the same command.
            prop_assert_eq!(parse(&c.to_bytes()), Ok(c));
        }
        let mut sp = Splitter::new();
        let mut rest = &bytes[..];
        for _ in 0..=bytes.len() {
            let (used, feed) = sp.feed(rest);
            rest = rest.get(used..).unwrap_or_default();
            if let Feed::Request(r) = feed {
                let _ = control::parse_request(&r);
            } else {
                break;
            }
        }
        let _ = sp.finish();
    }

    #[test]
    fn command_like_noise_never_panics(
        words in proptest::collection::vec(
            prop_oneof![
                Just("show"), Just("set"), Just("server"), Just("map"), Just("add"),
                Just("b/s"), Just("weight"), Just("50%"), Just("<<"), Just("@1"),
                Just("state"), Just("\\"), Just(";"), Just("stat"), Just("-1"), Just("wait"),
                Just("1s"), Just("srv-removable"), Just("backend"), Just("from"),
            ],
            0..10,
        )
    ) {
        let line = words.join(" ");
        if let Ok(c) = parse(line.as_bytes()) {
            prop_assert_eq!(parse(&c.to_bytes()), Ok(c));
        }
    }
}
