//! Interactive sessions (`prompt`), payloads (`<<`), `quit`, `set timeout cli` and the
//! idle timeout, over a real TCP socket.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;
use control::listen::ServeOptions;

#[test]
fn prompt_mode_session_with_payload() {
    let lb = start();
    let mut s = connect(lb.tcp);
    s.write_all(b"prompt\n").unwrap();
    assert_eq!(read_until(&mut s, "> "), "\n> ");
    s.write_all(b"show cli level\n").unwrap();
    assert_eq!(read_until(&mut s, "> "), "admin\n\n> ");
    // Two commands on one line: two answers, one prompt after each.
    s.write_all(b"echo a; echo b\n").unwrap();
    assert_eq!(read_until(&mut s, "b\n\n> "), "a\n\n> b\n\n> ");
    // A payload, sent in pieces.
    s.write_all(b"add map virt@paths.map <<\n/a back_a\n").unwrap();
    assert_eq!(read_until(&mut s, "+ + "), "+ + ");
    s.write_all(b"/b back_b\n\n").unwrap();
    assert_eq!(read_until(&mut s, "> "), "+ \n> ");
    s.write_all(b"show map virt@paths.map\n").unwrap();
    assert_eq!(read_until(&mut s, "> "), "0x1 /a back_a\n0x2 /b back_b\n\n> ");
    // A wait in one session does not block another.
    s.write_all(b"wait 300ms\n").unwrap();
    let t = Instant::now();
    assert_eq!(cli(lb.tcp, "show cli level"), "admin\n\n");
    assert!(
        t.elapsed() < Duration::from_millis(250),
        "the wait blocked another client"
    );
    assert_eq!(read_until(&mut s, "> "), "Done.\n\n> ");
    s.write_all(b"quit\n").unwrap();
    assert_eq!(read_to_close(&mut s), "");
}

#[test]
fn interactive_without_prompt_and_back() {
    let lb = start();
    let mut s = connect(lb.tcp);
    s.write_all(b"prompt i\n").unwrap();
    assert_eq!(read_until(&mut s, "\n"), "\n");
    s.write_all(b"echo one\n").unwrap();
    assert_eq!(read_until(&mut s, "one\n\n"), "one\n\n");
    // `prompt n` returns to non-interactive: the line ends the session.
    s.write_all(b"prompt n\n").unwrap();
    assert_eq!(read_to_close(&mut s), "\n");
}

#[test]
fn idle_session_times_out() {
    let lb = start_with(ServeOptions {
        timeout: Duration::from_millis(200),
        ..ServeOptions::default()
    });
    let mut s = connect(lb.tcp);
    s.write_all(b"prompt\n").unwrap();
    assert_eq!(read_until(&mut s, "> "), "\n> ");
    let t = Instant::now();
    assert_eq!(read_to_close(&mut s), "");
    assert!(t.elapsed() >= Duration::from_millis(150));
    // `set timeout cli` changes it for the session.
    let mut s = connect(lb.tcp);
    s.write_all(b"prompt; set timeout cli 1\n").unwrap();
    assert_eq!(read_until(&mut s, "\n> \n> "), "\n> \n> ");
    std::thread::sleep(Duration::from_millis(400));
    s.write_all(b"echo alive\n").unwrap();
    assert_eq!(read_until(&mut s, "> "), "alive\n\n> ");
}

#[test]
fn help_and_unknown_commands() {
    let lb = start();
    let help = cli(lb.tcp, "help");
    assert!(
        help.starts_with("The following commands are valid at this level:\n"),
        "{help}"
    );
    assert!(help.ends_with("  quit                                    : disconnect\n\n"));
    let unknown = cli(lb.tcp, "shwo stat");
    assert!(
        unknown
            .starts_with("Unknown command: 'shwo', but maybe one of the following ones is a better match:\n"),
        "{unknown}"
    );
    assert!(unknown.ends_with("\n\n"));
    // Empty line: just the empty line.
    assert_eq!(cli(lb.tcp, ""), "\n");
}

#[test]
fn huge_cli_timeout_is_accepted() {
    let lb = start();
    let mut s = connect(lb.tcp);
    s.write_all(b"prompt; set timeout cli 2147483\n").unwrap();
    assert_eq!(read_until(&mut s, "\n> \n> "), "\n> \n> ");
    s.write_all(b"echo still\n").unwrap();
    assert_eq!(read_until(&mut s, "> "), "still\n\n> ");
    // Another client is served while this session idles.
    assert_eq!(cli(lb.tcp, "echo other"), "other\n\n");
}

#[test]
fn wait_is_interrupted_when_the_client_closes_its_side() {
    let lb = start();
    let t = Instant::now();
    // `echo 'wait 2s' | socat`: the write side closes at once, HAProxy stops waiting.
    assert_eq!(
        cli(lb.tcp, "wait 2s; echo after"),
        "Interrupted. (null)\n\nafter\n\n"
    );
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(
        cli(lb.tcp, "wait 2s srv-removable webservers/web1"),
        "Failed. Only servers in maintenance mode can be deleted.\n\n"
    );
    assert_eq!(cli(lb.tcp, "set server webservers/web1 state maint"), "\n");
    assert_eq!(
        cli(
            lb.tcp,
            "wait 2s srv-removable webservers/web1; del server webservers/web1"
        ),
        "Done.\n\nServer deleted.\n\n"
    );
}

#[test]
fn a_waiting_one_shot_session_answers_when_the_delay_ends() {
    let lb = start();
    // Non-interactive, write side kept open: the wait really waits, then the line ends.
    let mut s = connect(lb.tcp);
    s.write_all(b"wait 200ms; echo end\n").unwrap();
    let t = Instant::now();
    assert_eq!(read_to_close(&mut s), "Done.\n\nend\n\n");
    assert!(t.elapsed() >= Duration::from_millis(150), "{:?}", t.elapsed());
}
