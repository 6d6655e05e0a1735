//! The command line, parsed the way `haproxy` parses its own: single-dash flags, some with a
//! value in the next word. Pure: no I/O, so every flag and error is unit-tested.

use std::fmt;
use std::path::PathBuf;

/// How many `-f` arguments one command line may carry.
/// Why: each names a file or directory that is read whole; 256 is far above real use.
pub const CONFIG_ARGS_MAX: usize = 256;

/// What the process was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `-v`: one line with the version.
    Version,
    /// `-vv`: version and build facts.
    BuildInfo,
    /// `-c`: check the configuration and exit.
    Check,
    /// Run the load balancer.
    Run,
}

/// The privilege level of a CLI session, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CliLevel {
    User,
    Operator,
    Admin,
}

impl CliLevel {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "operator" => Some(Self::Operator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// The word HAProxy prints for this level.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

/// Where the Master CLI (`-S`) listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliAddr {
    /// A unix socket path.
    Unix(PathBuf),
    /// `ipv4@host:port` or `ipv6@[host]:port`.
    Tcp(std::net::SocketAddr),
}

/// One `-S` argument: `<path|ipv4@host:port>[,level,<lvl>][,mode,<octal>][,user,<u>][,group,<g>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterCliSpec {
    pub addr: CliAddr,
    /// Default `admin`, as HAProxy's master CLI.
    pub level: CliLevel,
    /// Permission bits of a unix socket file.
    pub mode: Option<u32>,
    pub user: Option<String>,
    pub group: Option<String>,
}

/// Everything the command line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub action: Action,
    /// `-f` arguments in order: files or directories.
    pub configs: Vec<PathBuf>,
    /// `-W` (or `-Ws`): master-worker mode.
    pub master_worker: bool,
    /// `-Ws`: send systemd notifications.
    pub systemd: bool,
    /// `-S`: Master CLI listeners.
    pub master_cli: Vec<MasterCliSpec>,
    /// `-p`: pid file.
    pub pidfile: Option<PathBuf>,
    /// `-q`: quiet.
    pub quiet: bool,
    /// `-D`: daemonize (never unless asked).
    pub daemon: bool,
    /// `-d` / `-db` / `-Ws`: stay in the foreground even if the config says `daemon`.
    pub foreground: bool,
    /// `-V`: verbose.
    pub verbose: bool,
}

/// A command line that cannot be obeyed. Printed before the usage text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// A flag ringlb does not know.
    UnknownFlag(String),
    /// A flag that needs a value came last.
    MissingValue(&'static str),
    /// A word that is not a flag.
    UnexpectedArgument(String),
    /// A `-S` argument that does not parse.
    BadMasterCli { arg: String, why: String },
    /// More than [`CONFIG_ARGS_MAX`] `-f` arguments.
    TooManyConfigs { max: usize },
    /// Nothing to load.
    NoConfig,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownFlag(flag) => write!(f, "unknown option '{flag}'"),
            Self::MissingValue(flag) => write!(f, "option '{flag}' requires an argument"),
            Self::UnexpectedArgument(a) => write!(f, "unexpected argument '{a}'"),
            Self::BadMasterCli { arg, why } => write!(f, "-S '{arg}': {why}"),
            Self::TooManyConfigs { max } => write!(f, "too many -f arguments (max {max})"),
            Self::NoConfig => write!(f, "no configuration file given (-f)"),
        }
    }
}

/// The usage text, printed with any command line error.
pub const USAGE: &str = "\
Usage : ringlb [-f <cfgfile|cfgdir>]* [ -vdV -D ] [ -p <pidfile> ] [ -c ] [ -q ]
        [ -W ] [ -Ws ] [ -S <master-socket>[,<bind options>...] ]
        -v displays version ; -vv shows known build options.
        -d enters debug mode ; -db only disables background mode.
        -V enters verbose mode (disables quiet mode)
        -D goes daemon ; -C changes to <dir> before loading files.
        -W master-worker mode.
        -Ws master-worker mode with systemd notify support.
        -S <bind>[,<bind options>...] new master CLI
        -p writes pids of all children to this file
        -c check mode : only check config files and exit
        -q quiet mode : don't display messages
";

/// Parses `args` (without the program name).
pub fn parse<I, S>(args: I) -> Result<Options, CliError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut o = Options {
        action: Action::Run,
        configs: Vec::new(),
        master_worker: false,
        systemd: false,
        master_cli: Vec::new(),
        pidfile: None,
        quiet: false,
        daemon: false,
        foreground: false,
        verbose: false,
    };
    let mut it = args.into_iter().map(Into::into);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-v" => o.action = Action::Version,
            "-vv" => o.action = Action::BuildInfo,
            "-c" => o.action = Action::Check,
            "-W" => o.master_worker = true,
            "-Ws" => {
                o.master_worker = true;
                o.systemd = true;
                o.foreground = true;
            }
            "-q" => o.quiet = true,
            "-V" => o.verbose = true,
            "-D" => o.daemon = true,
            "-d" | "-db" => o.foreground = true,
            "-f" => {
                let v = it.next().ok_or(CliError::MissingValue("-f"))?;
                if o.configs.len() == CONFIG_ARGS_MAX {
                    return Err(CliError::TooManyConfigs { max: CONFIG_ARGS_MAX });
                }
                o.configs.push(PathBuf::from(v));
            }
            "-p" => o.pidfile = Some(PathBuf::from(it.next().ok_or(CliError::MissingValue("-p"))?)),
            "-S" => {
                let v = it.next().ok_or(CliError::MissingValue("-S"))?;
                o.master_cli.push(parse_master_cli(&v)?);
            }
            // `--` ends the flags; what follows are config files, as in haproxy.
            "--" => {
                for v in it.by_ref() {
                    o.configs.push(PathBuf::from(v));
                }
            }
            a if a.starts_with('-') => return Err(CliError::UnknownFlag(arg)),
            _ => return Err(CliError::UnexpectedArgument(arg)),
        }
    }
    if o.configs.is_empty() && matches!(o.action, Action::Check | Action::Run) {
        return Err(CliError::NoConfig);
    }
    Ok(o)
}

/// Parses one `-S` argument.
pub fn parse_master_cli(arg: &str) -> Result<MasterCliSpec, CliError> {
    let bad = |why: &str| CliError::BadMasterCli {
        arg: arg.to_string(),
        why: why.to_string(),
    };
    let mut parts = arg.split(',');
    let addr = parts.next().unwrap_or_default();
    let addr = if let Some(rest) = addr.strip_prefix("ipv4@").or_else(|| addr.strip_prefix("ipv6@")) {
        let rest = rest.trim_start_matches('[');
        let sa = rest
            .replacen("]:", ":", 1)
            .parse::<std::net::SocketAddr>()
            .or_else(|_| format!("[{}", rest).parse())
            .map_err(|_| bad("invalid address, expected ipv4@<ip>:<port> or ipv6@[<ip>]:<port>"))?;
        CliAddr::Tcp(sa)
    } else if let Some(path) = addr.strip_prefix("unix@") {
        CliAddr::Unix(PathBuf::from(path))
    } else if addr.is_empty() {
        return Err(bad("missing address"));
    } else {
        CliAddr::Unix(PathBuf::from(addr))
    };
    let mut spec = MasterCliSpec {
        addr,
        level: CliLevel::Admin,
        mode: None,
        user: None,
        group: None,
    };
    while let Some(key) = parts.next() {
        let value = parts
            .next()
            .ok_or_else(|| bad(&format!("'{key}' needs a value")))?;
        match key {
            "level" => {
                spec.level = CliLevel::parse(value)
                    .ok_or_else(|| bad("'level' only supports 'user', 'operator', and 'admin'"))?
            }
            "mode" => {
                spec.mode = Some(
                    u32::from_str_radix(value, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| bad("'mode' expects an octal value"))?,
                )
            }
            "user" => spec.user = Some(value.to_string()),
            "group" => spec.group = Some(value.to_string()),
            other => return Err(bad(&format!("unknown bind option '{other}'"))),
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(args: &[&str]) -> Options {
        parse(args.iter().copied()).expect("test command line parses")
    }

    #[test]
    fn flags_accepted() {
        let o = ok(&["-c", "-f", "a.cfg", "-f", "dir"]);
        assert_eq!(o.action, Action::Check);
        assert_eq!(o.configs, vec![PathBuf::from("a.cfg"), PathBuf::from("dir")]);
        let o = ok(&["-W", "-S", "/run/m.sock", "-f", "x", "-p", "/run/p", "-q", "-db"]);
        assert!(o.master_worker && o.quiet && o.foreground && !o.daemon);
        assert_eq!(o.pidfile, Some(PathBuf::from("/run/p")));
        assert_eq!(o.master_cli[0].addr, CliAddr::Unix(PathBuf::from("/run/m.sock")));
        assert_eq!(o.master_cli[0].level, CliLevel::Admin);
        assert_eq!(ok(&["-v"]).action, Action::Version);
        assert_eq!(ok(&["-vv"]).action, Action::BuildInfo);
        let o = ok(&["-Ws", "-f", "x"]);
        assert!(o.master_worker && o.systemd);
        assert_eq!(ok(&["--", "a", "b"]).configs.len(), 2);
    }

    #[test]
    fn flags_rejected() {
        let cases: &[(&[&str], CliError)] = &[
            (&["-x"], CliError::UnknownFlag("-x".into())),
            (&["--help"], CliError::UnknownFlag("--help".into())),
            (&["-f"], CliError::MissingValue("-f")),
            (&["-f", "a", "-S"], CliError::MissingValue("-S")),
            (&["-f", "a", "-p"], CliError::MissingValue("-p")),
            (&["a.cfg"], CliError::UnexpectedArgument("a.cfg".into())),
            (&["-c"], CliError::NoConfig),
            (&[], CliError::NoConfig),
        ];
        for (args, want) in cases {
            assert_eq!(parse(args.iter().copied()).as_ref(), Err(want), "{args:?}");
        }
        let many: Vec<String> = (0..=CONFIG_ARGS_MAX)
            .flat_map(|i| ["-f".to_string(), i.to_string()])
            .collect();
        assert_eq!(
            parse(many),
            Err(CliError::TooManyConfigs { max: CONFIG_ARGS_MAX })
        );
    }

    #[test]
    fn master_cli_specs() {
        let s = parse_master_cli("ipv4@127.0.0.1:9999,level,operator").expect("valid");
        assert_eq!(s.addr, CliAddr::Tcp("127.0.0.1:9999".parse().expect("literal")));
        assert_eq!(s.level, CliLevel::Operator);
        let s = parse_master_cli("ipv6@[::1]:9999").expect("valid");
        assert_eq!(s.addr, CliAddr::Tcp("[::1]:9999".parse().expect("literal")));
        let s = parse_master_cli("/tmp/m.sock,mode,600,user,nobody,group,nogroup,level,user").expect("valid");
        assert_eq!(s.mode, Some(0o600));
        assert_eq!(s.user.as_deref(), Some("nobody"));
        assert_eq!(s.group.as_deref(), Some("nogroup"));
        assert_eq!(s.level, CliLevel::User);
        for bad in [
            "",
            "ipv4@nothing",
            "/x,level",
            "/x,level,root",
            "/x,mode,9",
            "/x,bogus,1",
            "ipv4@1.2.3.4",
        ] {
            assert!(
                matches!(parse_master_cli(bad), Err(CliError::BadMasterCli { .. })),
                "{bad}"
            );
        }
    }
}
