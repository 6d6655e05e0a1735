//! The walkthrough of the reference page 004 (dynamic backend, server and map entry, then
//! their removal), over real sockets, answer by answer.

mod common;

use common::*;
use engine::map::MatchKind;

#[test]
fn walkthrough_004_answers() {
    let lb = start();
    let a = lb.tcp;
    assert_eq!(
        cli(a, "experimental-mode on; add backend mybackend1 from mydefaults"),
        "\nNew backend registered.\n\n"
    );
    assert_eq!(
        cli(a, "add server mybackend1/web1 127.0.0.1:18081 check port 18081"),
        "New server registered.\n\n"
    );
    assert_eq!(cli(a, "enable server mybackend1/web1"), "\n");
    assert_eq!(cli(a, "enable health mybackend1/web1"), "\n");
    assert_eq!(cli(a, "publish backend mybackend1"), "Backend published.\n\n");
    assert_eq!(cli(a, "add map virt@paths.map /test mybackend1"), "\n");
    {
        let maps = lb.ctx.maps.load();
        assert_eq!(
            maps.lookup("virt@paths.map", MatchKind::Beg, "/test/deeper"),
            Some("mybackend1")
        );
        let snap = lb.ctx.tables.load();
        let b = snap.backend("mybackend1").expect("backend");
        assert!(b.published);
        assert!(b.servers[0].usable());
    }
    assert_eq!(cli(a, "show backend"), "# name\nwebservers\nmybackend1\n\n");
    // The delete half.
    assert_eq!(cli(a, "set server mybackend1/web1 state maint"), "\n");
    assert_eq!(
        cli(
            a,
            "wait 2s srv-removable mybackend1/web1; del server mybackend1/web1"
        ),
        "Done.\n\nServer deleted.\n\n"
    );
    assert_eq!(cli(a, "unpublish backend mybackend1"), "Backend unpublished.\n\n");
    assert_eq!(
        cli(
            a,
            "experimental-mode on; wait 2s be-removable mybackend1; del backend mybackend1"
        ),
        "\nDone.\n\nBackend deleted.\n\n"
    );
    assert_eq!(cli(a, "del map virt@paths.map /test"), "\n");
    assert_eq!(
        lb.ctx
            .maps
            .load()
            .lookup("virt@paths.map", MatchKind::Beg, "/test"),
        None
    );
    assert_eq!(cli(a, "show backend"), "# name\nwebservers\n\n");
    // The same over the unix socket, whose file got the configured mode.
    assert_eq!(cli_unix(&lb.unix, "show cli level"), "admin\n\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&lb.unix)
        .expect("socket file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        cli_unix(&lb.unix, "show cli sockets"),
        format!("# socket lvl processes\n{} admin all\n\n", lb.unix.display())
    );
}

#[test]
fn unpublished_backend_rule_and_user_level() {
    let lb = start();
    let a = lb.tcp;
    assert_eq!(
        cli(a, "add backend staging from mydefaults"),
        "New backend registered.\n\n"
    );
    assert!(!lb.ctx.tables.load().backend("staging").expect("added").published);
    assert_eq!(
        cli(a, "add server staging/s 127.0.0.1:18082"),
        "New server registered.\n\n"
    );
    // Dynamic servers start in maintenance.
    assert_eq!(
        lb.ctx
            .tables
            .load()
            .server("staging", "s")
            .expect("server")
            .admin(),
        engine::table::AdminState::Maint
    );
    assert_eq!(
        cli(a, "user; add map virt@paths.map /x mybackend1"),
        "\nPermission denied\n\n"
    );
    assert_eq!(
        cli(lb.tcp_user, "add map virt@paths.map /x staging"),
        "Permission denied\n\n"
    );
    assert_eq!(cli(lb.tcp_user, "show cli level"), "user\n\n");
    assert_eq!(cli(lb.tcp_user, "operator"), "Permission denied\n\n");
    assert_eq!(
        cli(a, "del backend staging"),
        "Only a backend without server can be deleted.\n\n"
    );
    assert_eq!(cli(a, "prompt n"), "\n");
}
