use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sovereign_verify::Outputs;
use sovereign_verify::load::{
    self, Counters, DURATION_RANGE, LoadOptions, MAX_REQUESTS, RATE_RANGE,
};
use sovereign_verify::redact::redact;

use crate::Format;
use crate::exit::{CliError, Exit};
use crate::output::Output;
use crate::table::table;

/// Send open-loop load to every site's regional endpoint of a real deployment, from this
/// machine: each site's health path, or the requests of --requests, at a fixed rate per site,
/// for a bounded time. Reports per site the requests sent and answered, p50/p95/p99 latency
/// (from when each request was due) and errors by kind. All load leaves this one machine, so
/// every latency includes the path from here to each region.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What `terraform output -json` printed for the rendered tree (or `sovereign lab up` wrote):
    /// the regional endpoints are `sites.<id>.load_balancer.url`.
    #[arg(long, value_name = "FILE")]
    pub outputs: PathBuf,
    /// Only these sites; repeat or separate with commas.
    #[arg(long, value_name = "SITE", value_delimiter = ',')]
    pub sites: Vec<String>,
    /// Requests a second sent to each site (0.1 to 500).
    #[arg(long, value_name = "N", default_value_t = 5.0)]
    pub rate: f64,
    /// Seconds the load lasts (1 to 3600).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub duration: f64,
    /// Stop after this many requests over all sites (1 to 1,000,000).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_requests: usize,
    /// Seconds each request may take (0.1 to 120).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,
    /// A TOML file of `[[request]]` tables (name, method, path, body, content_type, weight):
    /// the requests to send instead of the health path, mixed by weight.
    #[arg(long, value_name = "FILE")]
    pub requests: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

fn this_machine() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    if host.is_empty() {
        "this machine".into()
    } else {
        format!("this machine ({host})")
    }
}

fn check_range(what: &str, v: f64, r: &std::ops::RangeInclusive<f64>) -> Result<(), CliError> {
    if v.is_finite() && r.contains(&v) {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "{what} {v}: give a number from {} to {}",
            r.start(),
            r.end()
        )))
    }
}

pub fn run(args: Args, out: &Output) -> Result<Exit, CliError> {
    check_range("--rate", args.rate, &RATE_RANGE)?;
    check_range("--duration", args.duration, &DURATION_RANGE)?;
    check_range("--timeout", args.timeout, &(0.1..=120.0))?;
    if !(1..=MAX_REQUESTS).contains(&args.max_requests) {
        return Err(CliError::usage(format!(
            "--max-requests {}: give a number from 1 to {MAX_REQUESTS}",
            args.max_requests
        )));
    }
    let outputs =
        Outputs::load(&args.outputs).map_err(|e| CliError::usage(redact(&e.to_string())))?;
    let requests = match &args.requests {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::io(format!("cannot read `{}`", path.display()), e))?;
            load::parse_requests(&text).map_err(|e| {
                CliError::usage(format!("`{}` is not a requests file: {e}", path.display()))
            })?
        }
        None => Vec::new(),
    };
    let targets = load::targets(&outputs, &args.sites, &requests).map_err(CliError::usage)?;
    let source = this_machine();
    let opts = LoadOptions {
        rate: args.rate,
        duration: Duration::from_secs_f64(args.duration),
        max_requests: args.max_requests,
        timeout: Duration::from_secs_f64(args.timeout),
    };
    out.status(&format!(
        "load from {source}: {} site(s) at {} request(s)/s each for {} s (at most {} requests); every latency includes the path from here",
        targets.len(),
        args.rate,
        args.duration,
        args.max_requests
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::io("cannot start the async runtime", e))?;
    let counters = Arc::new(Counters::default());
    let spinner = out.spinner("sending");
    let report = rt.block_on(async {
        let run = load::run(&targets, &opts, &source, counters.clone());
        tokio::pin!(run);
        loop {
            tokio::select! {
                r = &mut run => break r,
                _ = tokio::time::sleep(Duration::from_millis(250)) => spinner.set_message(&format!(
                    "sent {}, answered {}, failed {}",
                    counters.sent.load(Ordering::Relaxed),
                    counters.ok.load(Ordering::Relaxed),
                    counters.failed.load(Ordering::Relaxed)
                )),
            }
        }
    });
    drop(spinner);
    rt.shutdown_timeout(Duration::from_millis(100));
    let report = report.map_err(|e| CliError::usage(redact(&e)))?;
    match args.format {
        Format::Json => out.print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        )),
        Format::Human => out.print(&human(&report)),
    }
    let failed = report.sites.iter().any(|s| s.ok < s.sent);
    Ok(if failed { Exit::Findings } else { Exit::Ok })
}

fn human(r: &load::LoadReport) -> String {
    let mut s = format!(
        "load from {}: {} request(s) in {:.1} s, {} a second per site; late p99 {:.1} ms\n\n",
        r.source, r.sent, r.seconds, r.rate_per_site, r.late_p99_ms
    );
    let rows = r.sites.iter().map(|x| {
        vec![
            x.site.clone(),
            x.sent.to_string(),
            x.ok.to_string(),
            format!("{:.1}", x.throughput),
            format!("{:.1}", x.p50_ms),
            format!("{:.1}", x.p95_ms),
            format!("{:.1}", x.p99_ms),
            if x.errors.is_empty() {
                "-".into()
            } else {
                x.errors
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ]
    });
    s.push_str(&table(
        [
            "site", "sent", "ok", "ok/s", "p50 ms", "p95 ms", "p99 ms", "errors",
        ],
        rows,
    ));
    let kinds = r.sites.first().map_or(0, |x| x.requests.len());
    if kinds > 1 {
        s.push('\n');
        let rows = r.sites.iter().flat_map(|x| {
            x.requests.iter().map(move |k| {
                vec![
                    x.site.clone(),
                    k.request.clone(),
                    k.sent.to_string(),
                    k.ok.to_string(),
                    format!("{:.1}", k.p50_ms),
                    format!("{:.1}", k.p99_ms),
                ]
            })
        });
        s.push_str(&table(
            ["site", "request", "sent", "ok", "p50 ms", "p99 ms"],
            rows,
        ));
    }
    if r.stopped_at_max_requests {
        s.push_str("\nstopped at --max-requests before the duration ended\n");
    }
    s
}
