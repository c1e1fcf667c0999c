use std::path::PathBuf;
use std::time::{Duration, Instant};

use sovereign_verify::redact::redact;
use sovereign_verify::{Options, Outputs, PgSslMode, PgTls, report};

use crate::diagnostics::{render_human, summary};
use crate::exit::{CliError, Exit};
use crate::output::Output;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifyFormat {
    Human,
    Json,
    Junit,
}

/// Check a live deployment against its outputs: databases, caches, monitoring, load
/// balancers, DNS. Credentials come from environment variables (SOVEREIGN_PG_USER and
/// SOVEREIGN_PG_PASSWORD, SOVEREIGN_REDIS_PASSWORD, SOVEREIGN_CASSANDRA_USER and
/// SOVEREIGN_CASSANDRA_PASSWORD) or from files the outputs name; never from arguments.
/// PostgreSQL sessions are encrypted unless --pg-insecure-no-tls says otherwise.
#[derive(clap::Args, Debug)]
pub struct Cli {
    #[command(flatten)]
    pub args: Args,
    #[command(flatten)]
    pub pg: PgTlsArgs,
}

/// TLS of verify's PostgreSQL sessions. The outputs file cannot turn TLS off: its
/// `postgres.sslmode` can only raise it to `verify-full`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PgTlsArgs {
    /// PostgreSQL TLS: `require` encrypts (Aurora's minimum), `verify-full` also checks the
    /// server's certificate and host name against --pg-ca-file (else the web's root CAs).
    #[arg(long, value_enum, value_name = "MODE", env = "SOVEREIGN_PG_SSLMODE", default_value_t = PgSslModeArg::Require)]
    pub pg_sslmode: PgSslModeArg,
    /// PEM bundle of the CAs that sign PostgreSQL's certificates (the RDS bundle); implies
    /// `--pg-sslmode verify-full`.
    #[arg(long, value_name = "FILE", env = "SOVEREIGN_PG_CA_FILE")]
    pub pg_ca_file: Option<PathBuf>,
    /// Connect to PostgreSQL without TLS, sending the password in clear text: for a lab on
    /// loopback only. (Outputs asking for `verify-full` still get it.)
    #[arg(long)]
    pub pg_insecure_no_tls: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PgSslModeArg {
    #[default]
    Require,
    VerifyFull,
}

impl PgTlsArgs {
    /// The library's configuration; contradictory choices are a usage error.
    pub fn resolve(&self) -> Result<PgTls, CliError> {
        if self.pg_insecure_no_tls {
            if self.pg_sslmode == PgSslModeArg::VerifyFull || self.pg_ca_file.is_some() {
                return Err(CliError::usage(
                    "--pg-insecure-no-tls contradicts --pg-sslmode verify-full and --pg-ca-file (or SOVEREIGN_PG_SSLMODE / SOVEREIGN_PG_CA_FILE): give one or the other",
                ));
            }
            return Ok(PgTls {
                mode: PgSslMode::Disable,
                ca_file: None,
            });
        }
        let mode = match (self.pg_sslmode, &self.pg_ca_file) {
            (PgSslModeArg::VerifyFull, _) | (_, Some(_)) => PgSslMode::VerifyFull,
            (PgSslModeArg::Require, None) => PgSslMode::Require,
        };
        Ok(PgTls {
            mode,
            ca_file: self.pg_ca_file.clone(),
        })
    }
}

/// The options of `sovereign verify` other than PostgreSQL's TLS (which `lab verify` shares).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What `terraform output -json` printed for the rendered tree (or `sovereign lab up` wrote).
    #[arg(long, value_name = "FILE", required_unless_present = "list")]
    pub outputs: Option<PathBuf>,
    /// The topology: expectations (replicas, RF, eviction policy, sites) come from it instead
    /// of the outputs, with a note where they disagree.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// Only checks whose name matches (`postgres::*`, `*::reachable`); repeat or separate with commas.
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Seconds each check may take before it fails (0.1 to 3600).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,
    /// A DNS resolver (`ip` or `ip:port`) for `dns::routing`; repeatable. Default: those in the
    /// outputs, else the system resolver.
    #[arg(long, value_name = "ADDR")]
    pub resolver: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = VerifyFormat::Human)]
    pub format: VerifyFormat,
    /// List the checks verify knows and exit.
    #[arg(long)]
    pub list: bool,
}

/// The shortest and longest `--timeout`, in seconds.
pub const TIMEOUT_RANGE: std::ops::RangeInclusive<f64> = 0.1..=3600.0;

/// `sovereign verify`.
pub fn run_cli(cli: Cli, out: &Output) -> Result<Exit, CliError> {
    run_with(cli.args, &cli.pg, out)
}

/// Verify with PostgreSQL's TLS at its default (`require`, no CA bundle).
pub fn run(args: Args, out: &Output) -> Result<Exit, CliError> {
    run_with(args, &PgTlsArgs::default(), out)
}

/// Verify with the given PostgreSQL TLS options (`lab verify` passes
/// `pg_insecure_no_tls: true`: the lab's servers listen on loopback without TLS).
pub fn run_with(args: Args, pg: &PgTlsArgs, out: &Output) -> Result<Exit, CliError> {
    if args.list {
        out.print(&format!("{}\n", sovereign_verify::CHECKS.join("\n")));
        return Ok(Exit::Ok);
    }
    if !TIMEOUT_RANGE.contains(&args.timeout) {
        return Err(CliError::usage(format!(
            "--timeout {}: give a number of seconds from {} to {}",
            args.timeout,
            TIMEOUT_RANGE.start(),
            TIMEOUT_RANGE.end()
        )));
    }
    let pg_tls = pg.resolve()?;
    let Some(outputs_path) = args.outputs.clone() else {
        return Err(CliError::usage("--outputs FILE is required"));
    };
    let mut outputs =
        Outputs::load(&outputs_path).map_err(|e| CliError::usage(redact(&e.to_string())))?;
    for field in &outputs.unknown {
        out.status(&format!(
            "note: `{}` is not part of the outputs contract; ignored",
            redact(field)
        ));
    }
    if let Some(path) = &args.topology {
        let loaded = crate::input::load(Some(path))?;
        let diags = &loaded.report.diagnostics;
        let Some(t) = &loaded.report.validated else {
            out.eprint(&render_human(&loaded.source, diags, out.color_stderr));
            return Err(CliError::usage(format!(
                "cannot verify against `{}`: {}",
                path.display(),
                summary(&loaded.source, diags)
            )));
        };
        for n in sovereign_verify::expect::apply(&mut outputs, t) {
            out.status(&format!("note: {}", redact(&n)));
        }
    }
    let opts = Options {
        only: args.only.clone(),
        timeout: Duration::from_secs_f64(args.timeout),
        resolvers: args.resolver.clone(),
        pg_tls,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .map_err(|e| CliError::io("cannot start the async runtime", e))?;
    out.status(&format!(
        "verifying {} site(s) from `{}` (timeout {} s per check)…",
        outputs.sites.len(),
        outputs_path.display(),
        args.timeout
    ));
    let start = Instant::now();
    let spinner = out.spinner("running checks");
    let results = rt
        .block_on(sovereign_verify::verify(&outputs, &opts))
        .map_err(|e| CliError::usage(redact(&e.to_string())))?;
    drop(spinner);
    let ms = start.elapsed().as_millis() as u64;
    // Drop the runtime without waiting for stray connection tasks of failed checks.
    rt.shutdown_timeout(Duration::from_millis(100));
    if results.is_empty() {
        return Err(CliError::usage(
            "no checks apply: the outputs name no databases, caches, monitoring, load balancers or DNS (or --only filtered them all)",
        ));
    }
    match args.format {
        VerifyFormat::Human => out.print(&report::human(&results, ms, out.color_stdout)),
        VerifyFormat::Json => out.print(&format!("{}\n", report::json(&results, ms))),
        VerifyFormat::Junit => out.print(&report::junit(&results, ms)),
    }
    Ok(if report::passed(&results) == results.len() {
        Exit::Ok
    } else {
        Exit::Findings
    })
}
