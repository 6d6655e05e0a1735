//! HAProxy-syntax configuration: lexer, typed model, parser. No I/O beyond reading the files.
//! (stub: being written)

use std::fmt;
use std::path::PathBuf;

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
    pub level: Level,
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lvl = match self.level {
            Level::Alert => "[ALERT]",
            Level::Warning => "[WARNING]",
        };
        write!(
            f,
            "{lvl} config : parsing [{}:{}] : {}",
            self.file, self.line, self.message
        )
    }
}

/// The whole parsed configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {}

/// A configuration that loaded, with its warnings.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Loads `-f` arguments in order (files, or directories of `*.cfg` in lexical order).
/// On failure every diagnostic of every file is returned, alerts and warnings.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, Vec<Diagnostic>> {
    let _ = paths;
    Ok(Loaded {
        config: Config::default(),
        warnings: Vec::new(),
    })
}
