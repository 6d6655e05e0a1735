//! Property tests: any format string either compiles or is rejected (never a panic), and a
//! compiled format renders any record (arbitrary bytes in every slice, extreme numbers)
//! within `RENDER_BYTES_MAX`; framing any message never exceeds the target's `len`.

use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use engine::log::format::RENDER_BYTES_MAX;
use engine::log::{frame, Dest, Header, LogFormat, LogRecord, Target};
use proptest::prelude::*;

/// Format strings built from the pieces that matter to the parser.
fn format_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("%".to_string()),
        Just("%%".to_string()),
        Just(" ".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("%{+Q}".to_string()),
        Just("%{-Q,+E,+X}".to_string()),
        Just("%[src,lower]".to_string()),
        Just("%{+Q}o".to_string()),
        prop::sample::select(
            engine::log::format::VARIABLES
                .iter()
                .map(|(n, _)| format!("%{n}"))
                .collect::<Vec<_>>()
        ),
        "[a-zA-Z0-9:/\"\\\\é]{0,4}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn compile_and_render_never_panic(
        fmt in format_string(),
        line in prop::collection::vec(any::<u8>(), 0..300),
        hdr in prop::collection::vec(any::<u8>(), 0..40),
        cookie in prop::collection::vec(any::<u8>(), 0..20),
        secs in any::<u64>(),
        t in any::<i64>(),
        n in any::<u32>(),
        big in any::<u64>(),
        status in any::<Option<u16>>(),
        v6 in any::<bool>(),
    ) {
        let Ok(f) = LogFormat::compile(&fmt) else { return Ok(()) };
        let client: SocketAddr = if v6 { "[2001:db8::1]:65535".parse().unwrap() } else { "1.2.3.4:0".parse().unwrap() };
        // Keep the time representable: SystemTime + Duration panics on overflow.
        let accept = UNIX_EPOCH + Duration::from_secs(secs % (1u64 << 40));
        let hdrs: [&[u8]; 2] = [&hdr, b""];
        let rec = LogRecord {
            t_handshake: t, t_idle: t, t_req: t, t_wait: t, t_connect: t, t_resp: t, t_active: t, t_total: t,
            status,
            bytes_read: big,
            bytes_uploaded: big,
            req_cookie: &cookie,
            resp_cookie: &cookie,
            termination_state: [cookie.first().copied().unwrap_or(b'-'); 4],
            actconn: n, feconn: n, beconn: n, srv_conn: n, retries: n, srv_queue: n, backend_queue: n,
            request_line: &line,
            req_headers: &hdrs,
            resp_headers: &hdrs,
            unique_id: &cookie,
            log_counter: big,
            request_counter: big,
            server_addr: Some(client),
            ..LogRecord::new("fe", Some(client), accept)
        };
        let mut out = b"x".to_vec();
        f.render(&rec, &mut out);
        prop_assert!(out.len() <= 1 + RENDER_BYTES_MAX);
        prop_assert!(out.starts_with(b"x"));
    }

    #[test]
    fn framing_respects_len(
        msg in prop::collection::vec(any::<u8>(), 0..2000),
        len in prop_oneof![80usize..=130, 80usize..=2048],
        fmt_idx in 0usize..8,
        tag in "[a-z]{0,48}",
    ) {
        use engine::config::LogFormat as F;
        let formats = [F::Rfc3164, F::Rfc5424, F::Raw, F::Short, F::Timed, F::Iso, F::Priority, F::Local];
        let t = Target { dest: Dest::Stdout, format: formats[fmt_idx], facility: 23, max_level: 7, min_level: 0, max_len: len };
        let mut out = Vec::new();
        let h = Header { hostname: Some("host"), tag: &tag, pid: u32::MAX };
        frame(&t, 7, UNIX_EPOCH + Duration::from_secs(4_102_444_800), &h, &msg, &mut out);
        prop_assert!(out.len() <= len);
        prop_assert_eq!(out.last(), Some(&b'\n'));
    }
}
