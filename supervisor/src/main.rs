//! `ringlb`: the one binary. Parses the command line like `haproxy`, checks or loads the
//! configuration, and runs the load balancer (single worker, or master-worker with `-W`).

// The master-worker half (issue 6) reads the rest of the options.
#[allow(dead_code)]
mod cli;
mod control_plane;
// The worker side of the link is used once the lead wires worker mode.
#[allow(dead_code)]
mod link;
mod master;
mod mcli;
mod program;
#[allow(dead_code)]
mod sys;
mod worker;

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
            Ok(env) => run(&opts, env),
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

/// The master's view of the configuration: programs, the addresses it binds once for every
/// worker, and its stop and reload limits.
fn master_config(opts: &cli::Options) -> Result<master::MasterConfig, Vec<String>> {
    // The master stays single-threaded and does no name resolution: it reads the config
    // and its listening addresses only; the worker builds (and checks) the rest.
    let strings = |diags: Vec<Diagnostic>| diags.iter().map(|d| d.to_string()).collect::<Vec<_>>();
    let loaded = config::load(&opts.configs).map_err(strings)?;
    let listeners = engine::build::listen_addrs(&loaded.config).map_err(strings)?;
    let g = &loaded.config.global;
    Ok(master::MasterConfig {
        programs: loaded
            .config
            .programs
            .iter()
            .map(|p| program::ProgramSpec {
                name: p.name.clone(),
                command: p.command.clone(),
                user: p.user.clone(),
                group: p.group.clone(),
                start_on_reload: p.start_on_reload,
            })
            .collect(),
        listeners,
        hard_stop_after: g.hard_stop_after,
        max_reloads: g.mworker_max_reloads,
        startup_warnings: loaded.warnings.iter().map(|d| d.to_string()).collect(),
    })
}

/// Runs the load balancer: the master when `-W` or `master-worker` asks for it, else a
/// worker (alone, or under a master that passed it `env`).
fn run(opts: &cli::Options, env: Option<link::WorkerEnv>) -> ExitCode {
    let Some(loaded) = load(opts) else {
        return ExitCode::from(1);
    };
    if env.is_none() && (opts.master_worker || loaded.config.global.master_worker) {
        return master::run(opts, &|| master_config(opts));
    }
    let plan = match worker::plan(&loaded.config, opts.quiet) {
        Ok(p) => p,
        Err(code) => return code,
    };
    worker::run(&loaded.config, plan, env)
}
