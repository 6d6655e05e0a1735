//! Fuzz the Runtime API parser: it never panics, and whatever it accepts prints to a
//! canonical form that parses back to the same command (ripgrep `fuzz_glob.rs` style).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = control::parse(data) {
        let printed = cmd.to_bytes();
        let back = control::parse(&printed);
        assert_eq!(
            back.as_ref(),
            Ok(&cmd),
            "round trip failed for {:?} printed as {:?}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&printed)
        );
        // The canonical form is a fixed point.
        if let Ok(again) = back {
            assert_eq!(again.to_bytes(), printed);
        }
    }
    // The incremental splitter never panics on the same bytes either.
    let mut sp = control::Splitter::new();
    let mut rest = data;
    for _ in 0..=data.len() {
        let (used, feed) = sp.feed(rest);
        rest = rest.get(used..).unwrap_or_default();
        match feed {
            control::Feed::Request(req) => {
                let _ = control::parse_request(&req);
            }
            _ => break,
        }
    }
    let _ = sp.finish();
});
