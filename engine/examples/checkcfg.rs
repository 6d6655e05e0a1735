//! Checks configuration files like `haproxy -c`: prints every diagnostic, then
//! "Configuration file is valid" and exits 0, or exits 1.
//!
//! `cargo run -p engine --example checkcfg -- -f FILE|DIR [-f ...] [-q]`

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut paths = Vec::new();
    let mut quiet = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-f" => match args.next() {
                Some(p) => paths.push(PathBuf::from(p)),
                None => {
                    eprintln!("usage: checkcfg -f <file|dir> [-f ...] [-q]");
                    return ExitCode::from(1);
                }
            },
            "-q" => quiet = true,
            "-c" => {}
            other => paths.push(PathBuf::from(other)),
        }
    }
    if paths.is_empty() {
        eprintln!("usage: checkcfg -f <file|dir> [-f ...] [-q]");
        return ExitCode::from(1);
    }
    match engine::config::load(&paths) {
        Ok(l) => {
            if !quiet {
                for w in &l.warnings {
                    eprintln!("{w}");
                }
                println!("Configuration file is valid");
            }
            ExitCode::SUCCESS
        }
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!("[ALERT] config : Fatal errors found in configuration.");
            ExitCode::from(1)
        }
    }
}
