use std::path::{Path, PathBuf};

use sovereign_lab::LabError;

use crate::Format;
use crate::diagnostics::{render_human, summary};
use crate::exit::{CliError, Exit};
use crate::output::Output;
use crate::table::table;

/// Rehearse the topology's data tier on this machine with the real engines.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(clap::Args, Debug, Clone)]
pub struct DirArg {
    /// The lab's directory [default: $SOVEREIGN_LAB_DIR, else sovereign-lab in the system's
    /// temporary directory].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl DirArg {
    pub fn path(&self) -> PathBuf {
        self.dir
            .clone()
            .or_else(|| {
                std::env::var_os("SOVEREIGN_LAB_DIR")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| std::env::temp_dir().join("sovereign-lab"))
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum LabCommand {
    /// Start every site's PostgreSQL, Redis, Prometheus and Cassandra, wired through a latency
    /// proxy, and write the outputs file verify reads.
    Up(UpArgs),
    /// What runs, from the state file and the processes themselves.
    Status(StatusArgs),
    /// Stop everything the lab started and remove its directory.
    Down(DownArgs),
    /// `sovereign verify` on the lab's outputs.
    Verify(VerifyArgs),
    /// Write on the primary, read on every replica, report replication lag per site.
    Load(crate::commands::lab_drill::LoadArgs),
    /// Failure drills: failover, restore, datacenter loss.
    Drill(crate::commands::lab_drill::DrillArgs),
    /// The latency proxy daemon `lab up` starts (not for direct use).
    #[command(hide = true)]
    Proxy(ProxyArgs),
    /// The alert receiver `lab up` starts for Alertmanager (not for direct use).
    #[command(hide = true)]
    Receiver(ReceiverArgs),
    /// The reference application `lab up` starts in each serving site (not for direct use).
    #[command(hide = true)]
    App(ProxyArgs),
    /// The routing DNS `lab up` starts (not for direct use).
    #[command(hide = true)]
    Dns(ProxyArgs),
}

#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// Topology file; without it, the embedded default.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub dir: DirArg,
    /// Multiplies the catalog's round trips between sites: 1.0 injects the real figures (half
    /// each way), 0 none.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub latency_scale: f64,
    /// Cassandra nodes per datacenter (at most the topology's count); the keyspace's
    /// replication factor is capped at it.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub cassandra_nodes: u32,
    /// Leave Apache Cassandra out (it needs Java and the jars scripts/fetch-cassandra fetches).
    #[arg(long)]
    pub without_cassandra: bool,
    /// Take ports one after another from N instead of letting the system pick free ones.
    #[arg(long, value_name = "N")]
    pub port_base: Option<u16>,
    /// Java heap per Cassandra node, MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256, hide = true)]
    pub cassandra_heap: u32,
    /// Multiplies every alert rule's `for:` (in the lab's copy of the rendered rules) and
    /// Alertmanager's timers: 1.0 runs them as rendered, 0.05 turns a minute into 3 seconds.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub alert_time_scale: f64,
    /// Multiplies the DNS record's TTL and the health check interval of the lab's routing DNS:
    /// 1.0 runs them as the topology says, 0.1 turns a 60 s TTL into 6 s.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub dns_time_scale: f64,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub dir: DirArg,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(clap::Args, Debug)]
pub struct DownArgs {
    #[command(flatten)]
    pub dir: DirArg,
    /// Keep the directory (data, logs) after stopping everything.
    #[arg(long)]
    pub keep: bool,
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub dir: DirArg,
    /// Only checks whose name matches; repeat or separate with commas.
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub only: Vec<String>,
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,
    #[arg(long, value_enum, default_value_t = crate::commands::verify::VerifyFormat::Human)]
    pub format: crate::commands::verify::VerifyFormat,
}

#[derive(clap::Args, Debug)]
pub struct ProxyArgs {
    #[arg(long)]
    pub config: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct ReceiverArgs {
    /// Address to listen on.
    #[arg(long)]
    pub listen: std::net::SocketAddr,
    /// File every notification is appended to.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn lab_error(e: LabError) -> CliError {
    CliError::usage(e.to_string())
}

pub fn run(args: Args, out: &Output) -> Result<Exit, CliError> {
    match args.command {
        LabCommand::Up(a) => up(a, out),
        LabCommand::Status(a) => status(a, out),
        LabCommand::Down(a) => down(a, out),
        LabCommand::Verify(a) => {
            let dir = a.dir.path();
            let outputs = dir.join("outputs.json");
            if !outputs.exists() {
                return Err(CliError::usage(format!(
                    "no lab outputs in {}: `sovereign lab up` starts a lab",
                    dir.display()
                )));
            }
            // The lab's servers listen on loopback without TLS: verify is told so here, on the
            // command line's behalf, never by the outputs file.
            crate::commands::verify::run_with(
                crate::commands::verify::Args {
                    outputs: Some(outputs),
                    topology: None,
                    only: a.only,
                    timeout: a.timeout,
                    resolver: vec![],
                    format: a.format,
                    list: false,
                },
                &crate::commands::verify::PgTlsArgs {
                    pg_insecure_no_tls: true,
                    ..Default::default()
                },
                out,
            )
        }
        LabCommand::Load(a) => crate::commands::lab_drill::load(a, out),
        LabCommand::Drill(a) => crate::commands::lab_drill::drill(a, out),
        LabCommand::Proxy(a) => match sovereign_lab::proxy::run_from_file(&a.config) {
            Ok(()) => Ok(Exit::Ok),
            Err(e) => Err(CliError::usage(e)),
        },
        LabCommand::App(a) => {
            sovereign_lab::app::run_from_file(&a.config).map_err(lab_error)?;
            Ok(Exit::Ok)
        }
        LabCommand::Dns(a) => {
            sovereign_lab::dns::run_from_file(&a.config).map_err(lab_error)?;
            Ok(Exit::Ok)
        }
        LabCommand::Receiver(a) => {
            sovereign_lab::receiver::run(a.listen, &a.out).map_err(lab_error)?;
            Ok(Exit::Ok)
        }
    }
}

fn up(a: UpArgs, out: &Output) -> Result<Exit, CliError> {
    let loaded = crate::input::load(a.file.as_deref())?;
    let diags = &loaded.report.diagnostics;
    let Some(t) = &loaded.report.validated else {
        out.eprint(&render_human(&loaded.source, diags, out.color_stderr));
        out.error(&format!(
            "cannot start a lab: {}",
            summary(&loaded.source, diags)
        ));
        return Ok(Exit::Findings);
    };
    let program =
        std::env::current_exe().map_err(|e| CliError::io("cannot find the sovereign binary", e))?;
    let dir = a.dir.path();
    let opts = sovereign_lab::up::UpOptions {
        dir: dir.clone(),
        latency_scale: a.latency_scale,
        cassandra_nodes: a.cassandra_nodes,
        with_cassandra: !a.without_cassandra,
        port_base: a.port_base,
        program,
        topology_source: loaded.source.name.clone(),
        topology_text: loaded.source.text.clone(),
        cassandra_heap_mb: a.cassandra_heap,
        alert_time_scale: a.alert_time_scale,
        dns_time_scale: a.dns_time_scale,
    };
    // The whole command's time, from the process's start: parsing, checking, every step and
    // whatever happens between them.
    let start = crate::started();
    out.status(&format!(
        "starting the data tier of `{}` in {}",
        t.project.name,
        dir.display()
    ));
    let reporter = out.progress("working");
    let progress = |line: &str| reporter.line(line);
    let state = sovereign_lab::up::up(t, sovereign_catalog::Catalog::builtin(), &opts, &progress)
        .map_err(lab_error)?;
    reporter.finish();
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let mut s = format!(
        "lab of `{}` up in {:.1} s: {} processes, {} PostgreSQL, {} Redis, {} Prometheus, {} Cassandra node(s)\n",
        state.project,
        start.elapsed().as_secs_f64(),
        state.procs.len() + state.pgs().count(),
        state.pgs().count(),
        state.redis.len(),
        state.prometheus.len(),
        state.cassandra.as_ref().map_or(0, |c| c.nodes.len())
    );
    if let Some(u) = &state.users {
        s.push_str(&format!(
            "users: {} → the reference application in {} ({}), DNS {} (TTL {} s, health checks every {:.2} s × {}); sovereign lab load --users\n",
            u.name,
            u.apps.len(),
            u.apps.keys().cloned().collect::<Vec<_>>().join(", "),
            u.dns,
            u.ttl_seconds,
            u.interval_seconds,
            u.threshold
        ));
    }
    if let Some(r) = state.alerting.as_ref().and_then(|a| a.routing.as_ref()) {
        s.push_str(&format!(
            "alerts: the rendered rules at {} (`for:` × {}) → Alertmanager {} at {} → {}\n",
            state.monitoring_global.as_deref().unwrap_or("-"),
            state.alerting.as_ref().map_or(1.0, |a| a.time_scale),
            r.alertmanager.build,
            r.alertmanager.url(),
            r.notifications.display()
        ));
    }
    for n in &state.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    s.push_str(&format!(
        "outputs: {}\ncredentials: {} (owner only)\nnext: sovereign lab verify{d} · sovereign lab drill failover{d} · sovereign lab down{d}\n",
        dir.join("outputs.json").display(),
        dir.join("credentials").display(),
        d = dir_flag(&a.dir)
    ));
    out.print(&s);
    Ok(Exit::Ok)
}

pub fn dir_flag(d: &DirArg) -> String {
    d.dir
        .as_ref()
        .map(|p| format!(" --dir {}", p.display()))
        .unwrap_or_default()
}

fn status(a: StatusArgs, out: &Output) -> Result<Exit, CliError> {
    let st = sovereign_lab::down::status(&a.dir.path()).map_err(lab_error)?;
    match a.format {
        Format::Json => out.print(&format!("{}\n", crate::commands::to_json(&st)?)),
        Format::Human => {
            let rows: Vec<Vec<String>> = st
                .components
                .iter()
                .map(|c| {
                    vec![
                        if c.up {
                            "up".to_string()
                        } else {
                            "DOWN".to_string()
                        },
                        c.name.clone(),
                        c.site.clone().unwrap_or_default(),
                        c.role.clone().unwrap_or_default(),
                        c.address.clone(),
                        c.pid.map(|p| p.to_string()).unwrap_or_default(),
                        c.detail.clone(),
                    ]
                })
                .collect();
            let mut s = format!(
                "lab of `{}` ({}) in {}: {:?}, latency scale {}\n\n",
                st.project, st.topology, st.dir, st.phase, st.latency_scale
            );
            s.push_str(&table(
                [
                    "state",
                    "component",
                    "site",
                    "role",
                    "address",
                    "pid",
                    "detail",
                ],
                rows,
            ));
            let down = st.components.iter().filter(|c| !c.up).count();
            s.push_str(&format!(
                "\n{} components, {} down; outputs: {}\n",
                st.components.len(),
                down,
                st.outputs
            ));
            if !st.engines.is_empty() {
                s.push_str(&format!(
                    "engines: {}\n",
                    st.engines
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if let Some(a) = &st.alerting {
                s.push_str(&format!(
                    "alerts: rules `for:` × {}; {}\n",
                    a.time_scale,
                    match (&a.alertmanager, &a.notifications) {
                        (Some(am), Some(file)) => format!(
                            "Alertmanager {am}; {} notification(s) in {file}",
                            a.notifications_recorded
                        ),
                        _ => "no Alertmanager: alerts go nowhere".to_string(),
                    }
                ));
            }
            for n in &st.notes {
                s.push_str(&format!("note: {n}\n"));
            }
            out.print(&s);
        }
    }
    Ok(if st.healthy() {
        Exit::Ok
    } else {
        Exit::Findings
    })
}

fn down(a: DownArgs, out: &Output) -> Result<Exit, CliError> {
    let dir = a.dir.path();
    let reporter = out.progress("working");
    let progress = |line: &str| reporter.line(line);
    let r = sovereign_lab::down::down(&dir, a.keep, &progress).map_err(lab_error)?;
    reporter.finish();
    out.print(&format!(
        "lab in {} stopped: {} process(es) stopped, {} killed, every port free{}\n",
        dir.display(),
        r.stopped,
        r.killed,
        if r.removed {
            ", directory removed"
        } else {
            ", directory kept"
        }
    ));
    Ok(Exit::Ok)
}

/// The lab directory for subcommands that need a running lab.
pub fn running(dir: &Path) -> Result<sovereign_lab::state::LabState, CliError> {
    match sovereign_lab::state::LabState::load(dir).map_err(lab_error)? {
        Some(s) if s.phase == sovereign_lab::state::Phase::Running => Ok(s),
        Some(_) => Err(CliError::usage(format!(
            "the lab in {} did not finish starting: `sovereign lab down`, then `up` again",
            dir.display()
        ))),
        None => Err(CliError::usage(format!(
            "no lab in {}: `sovereign lab up` starts one",
            dir.display()
        ))),
    }
}
