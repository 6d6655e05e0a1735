//! HAProxy-syntax configuration: lexer, typed model, parser. No I/O beyond reading the files.
//!
//! [`parse_text`] is the pure entry point (no I/O, injectable environment, used by the
//! fuzz target and the property tests); [`load`] reads `-f` files and directories and uses
//! the process environment. The result is a [`Config`] whose proxies already carry their
//! effective settings (the `defaults` they inherit are applied).
//!
//! Sections: `global`, `defaults [name] [from <name>]`, `frontend|backend|listen <name>
//! [from <defaults>]`, `program`, `userlist`, and, stored as directives, `resolvers`,
//! `peers`, `mailers`, `cache`, `ring`, `http-errors`, `log-forward`. Conditional blocks
//! `.if/.elif/.else/.endif` (`defined()`, `streq()`, `strneq()`, `version_atleast()`,
//! `version_before()`, `feature()`, integers, `!`) and `.warning/.alert/.notice/.diag`.
//! A new `defaults` section starts from HAProxy's built-in settings (or its `from`); each
//! proxy copies the last `defaults` before it (or its `from`), so its fields are effective.
//! Each file starts outside any section, as in HAProxy; defaults carry across files.
//!
//! What is rejected: unknown keywords and sections, malformed values, and keywords HAProxy
//! has but ringlb does not implement where ignoring them would be dangerous (TLS on `bind`,
//! Lua, SPOE, `crt-store`). Harmless ones (`alpn` without TLS, server-side `ssl`, `debug`)
//! only warn, as do the things HAProxy 2.6 only warns about (`15min` timers, missing
//! timeouts, a frontend without `bind`, HTTP rules in a TCP proxy). Deliberate difference:
//! a missing newline at the end of a file is a warning (HAProxy 2.6 rejects it; 12% of real
//! configs lack one). Files named by `errorfile`, ACL `-f`, maps and `crt` are not opened.

pub mod cond;
pub mod lexer;
pub mod model;
mod parser;
pub mod values;

pub use model::*;

use std::fmt;
use std::path::{Path, PathBuf};

/// Bound on one configuration file's size: real configs are kilobytes, a 64 MiB file is a mistake.
pub const CONFIG_FILE_BYTES_MAX: u64 = 64 << 20;
/// Bound on the `*.cfg` files read from one `-f` directory.
pub const CONFIG_DIR_FILES_MAX: usize = 10_000;

/// Severity of a diagnostic, as HAProxy prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The configuration is rejected.
    Alert,
    /// Accepted, but something deserves a look.
    Warning,
}

/// One message about the configuration, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Alert (fatal) or warning.
    pub level: Level,
    /// File name as given on the command line (or to [`parse_text`]).
    pub file: String,
    /// 1-based line number (0 when the message is about the file as a whole).
    pub line: usize,
    /// HAProxy-style message, e.g. `unknown keyword 'bogus' in 'frontend' section`.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lvl = match self.level {
            Level::Alert => "[ALERT]",
            Level::Warning => "[WARNING]",
        };
        if self.line == 0 {
            // About a file as a whole (cannot open it...): no line to point at.
            write!(f, "{lvl} config : {}", self.message)
        } else {
            write!(
                f,
                "{lvl} config : parsing [{}:{}] : {}",
                self.file, self.line, self.message
            )
        }
    }
}

/// A configuration that loaded, with its warnings.
#[derive(Debug)]
pub struct Loaded {
    /// The typed configuration.
    pub config: Config,
    /// Warnings (never alerts).
    pub warnings: Vec<Diagnostic>,
}

fn conclude(cfg: Config, diags: Vec<Diagnostic>) -> Result<Loaded, Vec<Diagnostic>> {
    if diags.iter().any(|d| d.level == Level::Alert) {
        Err(diags)
    } else {
        Ok(Loaded {
            config: cfg,
            warnings: diags,
        })
    }
}

/// Parses one configuration text. Pure: no I/O; `env` looks up environment variables.
/// On failure every diagnostic (alerts and warnings) is returned, in order.
pub fn parse_text(
    file: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, Vec<Diagnostic>> {
    parse_files(&[(file.to_string(), text.to_string())], env)
}

/// Parses several files in order, as `-f a -f b` does (each file starts outside any section).
pub fn parse_files(
    files: &[(String, String)],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, Vec<Diagnostic>> {
    let mut p = parser::Parser::new(env);
    for (name, text) in files {
        p.file(name, text);
    }
    let (cfg, diags) = p.finish();
    conclude(cfg, diags)
}

fn file_diag(file: &Path, message: String) -> Diagnostic {
    Diagnostic {
        level: Level::Alert,
        file: file.display().to_string(),
        line: 0,
        message,
    }
}

fn read_one(path: &Path, out: &mut Vec<(String, String)>, errs: &mut Vec<Diagnostic>) {
    match std::fs::metadata(path) {
        Ok(m) if m.len() > CONFIG_FILE_BYTES_MAX => {
            errs.push(file_diag(
                path,
                format!("file too large: {} bytes (max {CONFIG_FILE_BYTES_MAX})", m.len()),
            ));
            return;
        }
        Ok(_) => {}
        Err(e) => {
            errs.push(file_diag(
                path,
                format!("Could not open configuration file {} : {e}", path.display()),
            ));
            return;
        }
    }
    match std::fs::read(path) {
        Ok(bytes) => out.push((
            path.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        )),
        Err(e) => errs.push(file_diag(
            path,
            format!("Could not open configuration file {} : {e}", path.display()),
        )),
    }
}

/// Loads `-f` arguments in order (files, or directories of `*.cfg` in lexical order).
/// On failure every diagnostic of every file is returned, alerts and warnings.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, Vec<Diagnostic>> {
    let mut files = Vec::new();
    let mut errs = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = match std::fs::read_dir(path) {
                Ok(e) => e,
                Err(e) => {
                    errs.push(file_diag(
                        path,
                        format!("Cannot open configuration directory {} : {e}", path.display()),
                    ));
                    continue;
                }
            };
            let mut names: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "cfg") && !p.is_dir())
                .take(CONFIG_DIR_FILES_MAX)
                .collect();
            names.sort();
            for n in names {
                read_one(&n, &mut files, &mut errs);
            }
        } else {
            read_one(path, &mut files, &mut errs);
        }
    }
    let env = |name: &str| std::env::var(name).ok();
    match parse_files(&files, &env) {
        Ok(l) if errs.is_empty() => Ok(l),
        Ok(l) => {
            errs.extend(l.warnings);
            Err(errs)
        }
        Err(d) => {
            errs.extend(d);
            Err(errs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_shape() {
        let d = Diagnostic {
            level: Level::Alert,
            file: "site.cfg".into(),
            line: 9,
            message: "unknown keyword 'bogus' in 'frontend' section".into(),
        };
        assert_eq!(
            d.to_string(),
            "[ALERT] config : parsing [site.cfg:9] : unknown keyword 'bogus' in 'frontend' section"
        );
        let w = Diagnostic {
            level: Level::Warning,
            file: "x".into(),
            line: 0,
            message: "m".into(),
        };
        assert_eq!(w.to_string(), "[WARNING] config : m");
    }

    #[test]
    fn alerts_reject_warnings_do_not() {
        let env = |_: &str| None;
        assert!(parse_text("a.cfg", "frontend fe\n", &env).is_ok());
        let d = parse_text("a.cfg", "frontend fe\n  bogus\n", &env).expect_err("rejected");
        assert!(
            d.iter().any(|d| d.level == Level::Warning),
            "warnings are returned with alerts"
        );
        assert!(d.iter().any(|d| d.level == Level::Alert));
    }

    #[test]
    fn directory_is_read_in_lexical_order() {
        let dir = std::env::temp_dir().join(format!("ringlb-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("20-b.cfg"), "backend b\n  server s 127.0.0.1:1\n").expect("write");
        std::fs::write(
            dir.join("10-a.cfg"),
            "frontend a\n  bind :1\n  default_backend b\n",
        )
        .expect("write");
        std::fs::write(dir.join("30-ignored.txt"), "bogus\n").expect("write");
        let l = load(std::slice::from_ref(&dir));
        let _ = std::fs::remove_dir_all(&dir);
        let l = l.expect("loads");
        let names: Vec<&str> = l.config.proxies.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["a", "b"]);
    }
}
