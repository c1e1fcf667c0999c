//! The `sovereign` command line: argument parsing, printing and exit codes.
//!
//! Each subcommand is one file in [`commands`], holding its arguments and a `run` that calls
//! one library operation. Nothing below this crate prints or exits.

pub mod commands;
pub mod deploy;
pub mod diagnostics;
pub mod diagram;
pub mod exit;
pub mod input;
pub mod linediff;
pub mod output;
pub mod report;
pub mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::exit::Exit;

/// Sovereign: one topology file to a checked, costed, rehearsed multi-region deployment.
#[derive(Parser, Debug)]
#[command(
    name = "sovereign",
    version,
    about = "One topology file to a checked, rendered, costed and rehearsed multi-region deployment",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args, Debug, Clone)]
pub struct GlobalArgs {
    /// When to use colour: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print nothing but results and errors (no progress, no summaries).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Tables at their natural width, however wide (the default when output is not a terminal).
    #[arg(long, global = true, conflicts_with = "width")]
    pub wide: bool,
    /// Fit tables in N columns, wrapping long cells (default: the terminal's width when output
    /// is a terminal, else no limit).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(40..))]
    pub width: Option<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Output format of commands that report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Human,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a commented topology file to start from.
    Init(commands::init::Args),
    /// Run every rule on a topology and print the findings.
    Check(commands::check::Args),
    /// Print the documentation of a rule.
    Explain(commands::explain::Args),
    /// Show what a topology deploys, per site, with totals.
    Plan(commands::plan::Args),
    /// Estimate the monthly cost per site and component, against the budgets.
    Cost(commands::cost::Args),
    /// Write the Terraform tree, Helm charts and values, monitoring files and the Fly.io plan.
    Render(commands::render::Args),
    /// Apply the rendered tree step by step in `plan`'s order; resume after a failure.
    Deploy(commands::deploy::Args),
    /// Write one self-contained HTML page: map, links, cost, survivability, deployment order.
    Report(commands::report::Args),
    /// Check a live deployment from its outputs: PostgreSQL, Redis, Cassandra, Prometheus, HTTP, DNS.
    Verify(commands::verify::Cli),
    /// Send load to a live deployment's regional endpoints from this machine: latency per site.
    Load(commands::load::Args),
    /// Rehearse the data tier on this machine with the real engines; drill failover and restore.
    Lab(commands::lab::Args),
}

/// Parses the arguments, runs the command, returns the exit code.
/// When this process started, as near as `main` can tell: the figure a command reports as the
/// time it took (`lab up`) is measured from here, so it is the time the whole command took.
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// The moment [`main`] began (or, outside `main`, the first call).
pub fn started() -> std::time::Instant {
    *STARTED.get_or_init(std::time::Instant::now)
}

pub fn main() -> ExitCode {
    started();
    let cli = Cli::parse();
    let out = output::Output::new(&cli.global);
    table::set_width(out.width);
    let result = match cli.command {
        Command::Init(args) => commands::init::run(args, &out),
        Command::Check(args) => commands::check::run(args, &out),
        Command::Explain(args) => commands::explain::run(args, &out),
        Command::Plan(args) => commands::plan::run(args, &out),
        Command::Cost(args) => commands::cost::run(args, &out),
        Command::Render(args) => commands::render::run(args, &out),
        Command::Deploy(args) => commands::deploy::run(args, &out),
        Command::Report(args) => commands::report::run(args, &out),
        Command::Verify(cli) => commands::verify::run_cli(cli, &out),
        Command::Load(args) => commands::load::run(args, &out),
        Command::Lab(args) => commands::lab::run(args, &out),
    };
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            out.error(&e.message);
            Exit::Usage.into()
        }
    }
}
