//! Every command checked against its level when it runs: at each session level, a command
//! above it answers `Permission denied` and changes nothing; at or above it, it runs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use control::exec::{answer, Context};
use control::Level;
use engine::map::{Maps, MatchKind};
use engine::table::{BackendConfig, ServerConfig, Snapshot, Tables};

fn ctx() -> Context {
    let mut web = BackendConfig::new("web");
    web.servers = vec![ServerConfig::new("s1", SocketAddr::from(([127, 0, 0, 1], 8080)))];
    let tables = Arc::new(Tables::new(Snapshot::from_config(1, &[web]).expect("valid")));
    let maps = Arc::new(Maps::default());
    maps.register("virt@m.map", MatchKind::Str, "test")
        .expect("register");
    maps.add("virt@m.map", None, &[("k", "v")]).expect("add");
    let mut c = Context::new(tables, maps);
    let mut d = HashMap::new();
    d.insert("defs".to_string(), BackendConfig::new("t"));
    c.defaults = Context::defaults_from(d);
    c
}

/// (command, level it needs).
const COMMANDS: &[(&str, Level)] = &[
    ("help", Level::User),
    ("echo x", Level::User),
    ("show info", Level::User),
    ("show stat", Level::User),
    ("show cli level", Level::User),
    ("show cli sockets", Level::User),
    ("show version", Level::User),
    ("show backend", Level::User),
    ("show servers state", Level::User),
    ("show servers conn", Level::User),
    ("get weight web/s1", Level::User),
    ("set timeout cli 5", Level::User),
    ("show env PATH", Level::Operator),
    ("show errors", Level::Operator),
    ("clear counters", Level::Operator),
    ("show map", Level::Operator),
    ("show map virt@m.map", Level::Operator),
    ("get map virt@m.map k", Level::Operator),
    ("clear counters all", Level::Admin),
    ("experimental-mode on", Level::Admin),
    ("expert-mode on", Level::Admin),
    ("wait 1ms", Level::Admin),
    ("add backend nb from defs", Level::Admin),
    ("publish backend web", Level::Admin),
    ("unpublish backend web", Level::Admin),
    ("add server web/s9 127.0.0.1:9", Level::Admin),
    ("enable server web/s1", Level::Admin),
    ("disable server web/s1", Level::Admin),
    ("enable health web/s1", Level::Admin),
    ("disable health web/s1", Level::Admin),
    ("enable agent web/s1", Level::Admin),
    ("disable agent web/s1", Level::Admin),
    ("set server web/s1 state drain", Level::Admin),
    ("set server web/s1 weight 3", Level::Admin),
    ("set server web/s1 health down", Level::Admin),
    ("set server web/s1 addr 127.0.0.3", Level::Admin),
    ("set weight web/s1 2", Level::Admin),
    ("set maxconn server web/s1 10", Level::Admin),
    ("shutdown sessions server web/s1", Level::Admin),
    ("disable frontend fe", Level::Admin),
    ("enable frontend fe", Level::Admin),
    ("shutdown frontend fe", Level::Admin),
    ("set maxconn frontend fe 10", Level::Admin),
    ("add map virt@m.map k2 v2", Level::Admin),
    ("set map virt@m.map k v3", Level::Admin),
    ("del map virt@m.map k", Level::Admin),
    ("clear map virt@m.map", Level::Admin),
    ("prepare map virt@m.map", Level::Admin),
    ("commit map @1 virt@m.map", Level::Admin),
    ("del server web/s1", Level::Admin),
    ("del backend web", Level::Admin),
];

#[test]
fn each_command_at_each_level() {
    for (line, needs) in COMMANDS {
        for level in [Level::User, Level::Operator, Level::Admin] {
            let c = ctx();
            let before_gen = c.tables.load().generation();
            let before_maps = c.maps.load().generation();
            let out = answer(&c, line, level);
            assert!(out.ends_with('\n'), "{line} at {level}: {out:?}");
            if level < *needs {
                assert_eq!(out, "Permission denied\n\n", "{line} at {level}");
                assert_eq!(
                    c.tables.load().generation(),
                    before_gen,
                    "{line} at {level} changed tables"
                );
                assert_eq!(
                    c.maps.load().generation(),
                    before_maps,
                    "{line} at {level} changed maps"
                );
            } else {
                assert!(!out.contains("Permission denied"), "{line} at {level}: {out:?}");
            }
        }
    }
}

#[test]
fn lowering_the_level_applies_to_the_next_command() {
    let c = ctx();
    assert_eq!(
        answer(&c, "operator; show cli level; user; show cli level", Level::Admin),
        "\noperator\n\n\nuser\n\n"
    );
    assert_eq!(
        answer(&c, "user; operator", Level::Admin),
        "\nPermission denied\n\n"
    );
    assert_eq!(
        answer(&c, "operator; set map virt@m.map k x", Level::Admin),
        "\nPermission denied\n\n"
    );
    assert_eq!(c.maps.load().lookup("virt@m.map", MatchKind::Str, "k"), Some("v"));
}
