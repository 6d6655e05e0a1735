//! `ringlb`: the one binary. Parses the command line like `haproxy`, checks or loads the
//! configuration, and runs the load balancer (single worker, or master-worker with `-W`).

// The master-worker half (issue 6) reads the rest of the options.
#[allow(dead_code)]
mod cli;
// The worker side of the link is used once the lead wires worker mode.
#[allow(dead_code)]
mod link;
mod master;
mod mcli;
mod program;
#[allow(dead_code)]
mod sys;

use std::process::ExitCode;

use engine::config::{self, Diagnostic};

fn main() -> ExitCode {
    let opts = match cli::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("[ALERT] ringlb : {e}");
            eprint!("{}", cli::USAGE);
            return ExitCode::from(1);
        }
    };
    match opts.action {
        cli::Action::Version => {
            println!("{}", version_line());
            ExitCode::SUCCESS
        }
        cli::Action::BuildInfo => {
            println!("{}", version_line());
            print!("{}", build_info());
            ExitCode::SUCCESS
        }
        cli::Action::Check => check(&opts),
        // A worker started by the master carries the same `-W` arguments: it is told apart
        // by its environment, checked first so that it never becomes a master itself.
        cli::Action::Run => match link::worker_env() {
            Ok(Some(env)) => run_worker(&opts, env),
            Ok(None) if opts.master_worker => master::run(&opts, &|| master_config(&opts)),
            Ok(None) => run(&opts),
            Err(e) => {
                eprintln!("[ALERT] ringlb : {e}");
                ExitCode::from(2)
            }
        },
    }
}

fn version_line() -> String {
    format!(
        "ringlb version {} - HAProxy-compatible load balancer",
        env!("CARGO_PKG_VERSION")
    )
}

fn build_info() -> String {
    format!(
        "Build options :\n  TARGET  = {}-{}\n  PROFILE = {}\n\nFeature list : +IO_URING +MASTER_WORKER +PROGRAMS -OPENSSL -LUA\n\nAvailable polling systems :\n    io_uring : pref=400,  test result OK\n\nAvailable multiplexer protocols :\n              h1 : mode=HTTP  side=FE|BE\n            none : mode=TCP   side=FE|BE\n",
        std::env::consts::ARCH,
        std::env::consts::OS,
        if cfg!(debug_assertions) { "debug" } else { "release" },
    )
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

/// Loads the configuration, printing every diagnostic; `None` if it has errors.
fn load(opts: &cli::Options) -> Option<config::Loaded> {
    match config::load(&opts.configs) {
        Ok(loaded) => {
            if !opts.quiet {
                print_diagnostics(&loaded.warnings);
            }
            Some(loaded)
        }
        Err(diags) => {
            print_diagnostics(&diags);
            eprintln!("[ALERT] config : Fatal errors found in configuration.");
            None
        }
    }
}

/// `-c`: exit 0 and say so when the configuration is valid, 1 with its errors otherwise.
fn check(opts: &cli::Options) -> ExitCode {
    match load(opts) {
        Some(_) => {
            if !opts.quiet {
                println!("Configuration file is valid");
            }
            ExitCode::SUCCESS
        }
        None => ExitCode::from(1),
    }
}

/// The master's view of the configuration. TODO(lead): fill programs, listeners,
/// hard-stop-after and mworker-max-reloads from `config::Loaded`.
fn master_config(opts: &cli::Options) -> Result<master::MasterConfig, Vec<String>> {
    match config::load(&opts.configs) {
        Ok(loaded) => Ok(master::MasterConfig {
            startup_warnings: loaded.warnings.iter().map(|d| d.to_string()).collect(),
            ..master::MasterConfig::default()
        }),
        Err(diags) => Err(diags.iter().map(|d| d.to_string()).collect()),
    }
}

/// A worker under the master. TODO(lead): load the config, run the engine on
/// `env.listen_fds` (already bound and listening), call `env.master.notify_ready()` once it
/// accepts, serve `env.master.serve(|line, level| ...)` with the Runtime API in a thread
/// (return when it returns: the master is gone), and soft-stop on `link::install_soft_stop()`.
fn run_worker(opts: &cli::Options, env: link::WorkerEnv) -> ExitCode {
    let _ = env;
    run(opts)
}

fn run(opts: &cli::Options) -> ExitCode {
    let Some(_loaded) = load(opts) else {
        return ExitCode::from(1);
    };
    eprintln!("[ALERT] ringlb : the data plane is not wired into the binary yet");
    ExitCode::from(2)
}
