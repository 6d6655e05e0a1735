//! Feeds arbitrary bytes to the config parser: it must never panic, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = |name: &str| (name == "FUZZ_VAR").then(|| "127.0.0.1:80".to_string());
    let _ = engine::config::parse_text("fuzz.cfg", &text, &env);
});
