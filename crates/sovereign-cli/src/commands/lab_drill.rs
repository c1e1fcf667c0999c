use std::time::Duration;

use sovereign_lab::drill;
use sovereign_lab::load;

use crate::Format;
use crate::commands::lab::{DirArg, lab_error, running};
use crate::diagnostics::summary;
use crate::exit::{CliError, Exit};
use crate::output::Output;
use crate::table::table;

#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    #[command(flatten)]
    pub dir: DirArg,
    /// Seconds of load.
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    pub duration: f64,
    /// Writes a second on the primary [default: 200]; with --users, requests a second per user
    /// region [default: 20].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Virtual users in every region: open-loop requests through the lab DNS and the latency
    /// proxy to the reference application; latency per region from HDR histograms.
    #[arg(long)]
    pub users: bool,
    /// With --users: only these user regions (site ids); repeat or separate with commas.
    #[arg(long, value_name = "REGION", value_delimiter = ',', requires = "users")]
    pub regions: Vec<String>,
    /// With --users: percent of requests that write (the rest read).
    #[arg(long, value_name = "P", default_value_t = 20, requires = "users")]
    pub write_percent: u32,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(clap::Args, Debug)]
pub struct DrillArgs {
    #[command(subcommand)]
    pub drill: Drill,
}

#[derive(clap::Subcommand, Debug)]
pub enum Drill {
    /// Kill -9 the PostgreSQL primary under writes, promote a standby, repoint the others;
    /// measure RTO and RPO; rewrite the topology and show what render would change.
    Failover(FailoverArgs),
    /// pgBackRest: full backup, more writes, point-in-time restore into a scratch instance,
    /// rows and checksums compared.
    Restore(RestoreArgs),
    /// Stop one Cassandra datacenter and try every consistency level from the others; compare
    /// with `sovereign plan --lose SITE`.
    DcLoss(DcLossArgs),
    /// Take a whole site away (application, PostgreSQL, Redis, Cassandra) with users in every
    /// region; report the outage each region sees next to the plan's prediction. The site stays
    /// down until `lab down` and `lab up`.
    RegionLoss(RegionLossArgs),
    /// Cut the link between two sites (PostgreSQL and Cassandra between them) for a while,
    /// with users in every region; report what each region's users saw, then heal it.
    Partition(PartitionArgs),
}

#[derive(clap::Args, Debug)]
pub struct PartitionArgs {
    /// One side of the cut link.
    pub a: String,
    /// The other side.
    pub b: String,
    #[command(flatten)]
    pub dir: DirArg,
    /// Seconds the link stays cut (1 to 600).
    #[arg(
        long,
        value_name = "S",
        default_value_t = 10.0,
        allow_negative_numbers = true
    )]
    pub seconds: f64,
    /// Requests a second per user region.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10.0,
        allow_negative_numbers = true
    )]
    pub users_rate: f64,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(clap::Args, Debug)]
pub struct RegionLossArgs {
    /// The site to lose (not the PostgreSQL primary's: `drill failover --users` does that).
    pub site: String,
    #[command(flatten)]
    pub dir: DirArg,
    /// Requests a second per user region.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10.0,
        allow_negative_numbers = true
    )]
    pub users_rate: f64,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(clap::Args, Debug)]
pub struct FailoverArgs {
    #[command(flatten)]
    pub dir: DirArg,
    /// Promote this site [default: the topology's successor, else what `plan --lose` picks].
    #[arg(long, value_name = "SITE")]
    pub to: Option<String>,
    /// Writes a second the drill's writer attempts.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub rate: u32,
    /// Users in every region during the drill: the outage each region sees through DNS and the
    /// reference application, next to the plan's prediction.
    #[arg(long)]
    pub users: bool,
    /// With --users: requests a second per user region.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10.0,
        allow_negative_numbers = true,
        requires = "users"
    )]
    pub users_rate: f64,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub dir: DirArg,
    /// Rows written before the restore target.
    #[arg(long, value_name = "N", default_value_t = 10000)]
    pub rows: i64,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(clap::Args, Debug)]
pub struct DcLossArgs {
    /// The datacenter (site) to lose.
    pub site: String,
    #[command(flatten)]
    pub dir: DirArg,
    /// Leave the datacenter stopped afterwards (default: start it again).
    #[arg(long)]
    pub keep_down: bool,
    /// Users in every region during the drill: the outage each region sees while the
    /// datacenter's site is withdrawn, next to the plan's prediction.
    #[arg(long)]
    pub users: bool,
    /// With --users: requests a second per user region.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10.0,
        allow_negative_numbers = true,
        requires = "users"
    )]
    pub users_rate: f64,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn load(a: LoadArgs, out: &Output) -> Result<Exit, CliError> {
    let dir = a.dir.path();
    let state = running(&dir)?;
    let _lock = sovereign_lab::state::LabLock::acquire(&dir, "lab load").map_err(lab_error)?;
    if !(a.duration.is_finite() && a.duration > 0.0 && a.duration <= 3600.0) {
        return Err(CliError::usage(format!(
            "--duration {} is not between 0 and 3600 seconds",
            a.duration
        )));
    }
    if a.users {
        return users_load(&a, &state, out);
    }
    let rate = a.rate.unwrap_or(200.0);
    if !(rate.fract() == 0.0 && (1.0..=5000.0).contains(&rate)) {
        return Err(CliError::usage(format!(
            "--rate {rate} is not a whole number of writes a second between 1 and 5000"
        )));
    }
    let reporter = out.progress("working");
    let progress = |l: &str| reporter.line(l);
    let r = load::load(
        &state,
        &load::LoadOptions {
            duration: Duration::from_secs_f64(a.duration),
            rate: rate as u32,
        },
        &progress,
    )
    .map_err(lab_error)?;
    reporter.finish();
    sovereign_lab::results::save(&dir, sovereign_lab::results::Kind::Load, &r)
        .map_err(lab_error)?;
    match a.format {
        Format::Json => out.print(&format!("{}\n", crate::commands::to_json(&r)?)),
        Format::Human => {
            let mut s = format!(
                "{} writes on {} in {:.1} s ({:.0}/s asked {}); commit p50 {:.1} ms, p99 {:.1} ms; latency scale {}\n\n",
                r.writes,
                r.primary,
                r.seconds,
                r.rate_achieved,
                r.rate_asked,
                r.commit_p50_ms,
                r.commit_p99_ms,
                r.latency_scale
            );
            let rows: Vec<Vec<String>> = r
                .sites
                .iter()
                .map(|x| {
                    vec![
                        x.site.clone(),
                        x.role.clone(),
                        format!("{}", x.seen),
                        format!("{}", x.missing),
                        format!("{:.1}", x.p50_ms),
                        format!("{:.1}", x.p99_ms),
                        format!("{:.1}", x.max_ms),
                    ]
                })
                .collect();
            s.push_str(&table(
                [
                    "site",
                    "role",
                    "seen",
                    "missing",
                    "lag p50 ms",
                    "lag p99 ms",
                    "lag max ms",
                ],
                rows,
            ));
            s.push_str("\nlag: from the primary acknowledging a write to the write being readable at the site.\n");
            for x in r.sites.iter().filter(|x| x.missing > 0) {
                s.push_str(&format!(
                    "{}: {} of {} writes never seen: {}\n",
                    x.site,
                    x.missing,
                    r.writes,
                    x.why_missing.as_deref().unwrap_or("no reason recorded")
                ));
            }
            out.print(&s);
        }
    }
    Ok(if r.sites.iter().any(|x| x.missing > 0) {
        Exit::Findings
    } else {
        Exit::Ok
    })
}

/// A live progress line on a terminal (rewritten in place), nothing when standard error is
/// not one or with `--quiet`.
fn live_line(out: &Output) -> impl Fn(&sovereign_lab::users::Progress) + '_ {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal() && !out.quiet;
    move |p: &sovereign_lab::users::Progress| {
        if tty {
            out.eprint(&format!(
                "\r\x1b[2K{:>5.1} s  {} sent  {} ok  {} failed",
                p.elapsed, p.sent, p.ok, p.failed
            ));
        }
    }
}

fn end_live_line(out: &Output) {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() && !out.quiet {
        out.eprint("\r\x1b[2K");
    }
}

fn ms(v: f64) -> String {
    format!("{v:.1}")
}

/// The per-region table of a users run.
pub fn users_table(regions: &[sovereign_lab::users::RegionReport]) -> String {
    let rows: Vec<Vec<String>> = regions
        .iter()
        .map(|r| {
            vec![
                r.region.clone(),
                r.sites
                    .iter()
                    .map(|(s, n)| format!("{s} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                format!("{}/{}", r.reads.ok, r.reads.requests),
                ms(r.reads.p50_ms),
                ms(r.reads.p95_ms),
                ms(r.reads.p99_ms),
                format!("{}/{}", r.writes.ok, r.writes.requests),
                ms(r.writes.p50_ms),
                ms(r.writes.p95_ms),
                ms(r.writes.p99_ms),
                format!("{:.1}", r.throughput),
                r.lost_acknowledged_writes
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(
        [
            "region",
            "served by (ok)",
            "reads ok",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "writes ok",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "ok/s",
            "lost",
        ],
        rows,
    )
}

fn errors_lines(regions: &[sovereign_lab::users::RegionReport]) -> String {
    let mut s = String::new();
    for r in regions.iter().filter(|r| !r.errors.is_empty()) {
        s.push_str(&format!(
            "errors from {}: {}\n",
            r.region,
            r.errors
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s
}

fn users_load(
    a: &LoadArgs,
    state: &sovereign_lab::state::LabState,
    out: &Output,
) -> Result<Exit, CliError> {
    let opts = sovereign_lab::users::UsersOptions {
        rate: a.rate.unwrap_or(20.0),
        duration: Duration::from_secs_f64(a.duration.max(0.0)),
        regions: a.regions.clone(),
        write_percent: a.write_percent,
    };
    sovereign_lab::users::plan(state, &opts).map_err(lab_error)?;
    out.status(&format!(
        "users in {} region(s) at {} requests a second each for {:.0} s ({} % writes)…",
        if a.regions.is_empty() {
            state.users.as_ref().map_or(0, |u| u.regions.len())
        } else {
            a.regions.len()
        },
        opts.rate,
        a.duration,
        a.write_percent
    ));
    let line = live_line(out);
    let r = sovereign_lab::users::load(state, &opts, &line);
    end_live_line(out);
    let r = r.map_err(lab_error)?;
    let lost: usize = r
        .regions
        .iter()
        .filter_map(|x| x.lost_acknowledged_writes)
        .sum();
    match a.format {
        Format::Json => out.print(&format!("{}\n", crate::commands::to_json(&r)?)),
        Format::Human => {
            let mut s = format!(
                "{} requests in {:.1} s: {:.1} a second per region asked {}, sent late by {:.1} ms at p99; latency scale {}, DNS TTL {} s\n\n",
                r.sent,
                r.seconds,
                r.rate_achieved_per_region,
                r.rate_per_region,
                r.late_p99_ms,
                r.latency_scale,
                r.dns_ttl_seconds
            );
            s.push_str(&users_table(&r.regions));
            s.push_str("\nlatency: from the moment each request was due (open loop), through DNS, the round trip from the region and the application; lost: acknowledged writes the primary does not have.\n");
            s.push_str(&errors_lines(&r.regions));
            out.print(&s);
        }
    }
    Ok(if lost > 0 { Exit::Findings } else { Exit::Ok })
}

pub fn drill(a: DrillArgs, out: &Output) -> Result<Exit, CliError> {
    match a.drill {
        Drill::Failover(f) => failover(f, out),
        Drill::Restore(r) => restore(r, out),
        Drill::DcLoss(d) => dc_loss(d, out),
        Drill::RegionLoss(r) => region_loss(r, out),
        Drill::Partition(p) => partition(p, out),
    }
}

fn partition(a: PartitionArgs, out: &Output) -> Result<Exit, CliError> {
    let dir = a.dir.path();
    let mut state = running(&dir)?;
    let _lock =
        sovereign_lab::state::LabLock::acquire(&dir, "lab drill partition").map_err(lab_error)?;
    let users = sovereign_lab::users::UsersOptions::during_drill(a.users_rate);
    sovereign_lab::users::plan(&state, &users).map_err(lab_error)?;
    let progress = |l: &str| out.status(l);
    let r = drill::partition(&mut state, &dir, (&a.a, &a.b), a.seconds, &users, &progress)
        .map_err(lab_error)?;
    let stuck = r.regions.iter().any(|x| x.still_failing);
    match a.format {
        Format::Json => out.print(&format!("{}\n", crate::commands::to_json(&r)?)),
        Format::Human => {
            let mut s = format!(
                "link {}–{} cut for {} s (PostgreSQL primary: {}); users at {} requests a second per region\n\n",
                r.sites.0, r.sites.1, r.seconds, r.primary, r.rate_per_region
            );
            let rows = r.regions.iter().map(|x| {
                vec![
                    x.region.clone(),
                    x.sites.join(", "),
                    format!("{}/{}", x.reads_failed, x.reads),
                    format!("{}/{}", x.writes_failed, x.writes),
                    format!("{:.1}", x.read_outage_seconds),
                    format!("{:.1}", x.write_outage_seconds),
                    if x.still_failing {
                        "NO".into()
                    } else {
                        "yes".into()
                    },
                ]
            });
            s.push_str(&table(
                [
                    "region",
                    "served by",
                    "reads failed",
                    "writes failed",
                    "read outage s",
                    "write outage s",
                    "recovered",
                ],
                rows,
            ));
            for x in r.regions.iter().filter(|x| !x.errors.is_empty()) {
                let e: Vec<String> = x.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
                s.push_str(&format!("{}: {}\n", x.region, e.join(", ")));
            }
            out.print(&s);
        }
    }
    Ok(if stuck { Exit::Findings } else { Exit::Ok })
}

fn region_loss(a: RegionLossArgs, out: &Output) -> Result<Exit, CliError> {
    let dir = a.dir.path();
    let mut state = running(&dir)?;
    let _lock =
        sovereign_lab::state::LabLock::acquire(&dir, "lab drill region-loss").map_err(lab_error)?;
    let (t, _) = lab_topology(&dir)?;
    let users = sovereign_lab::users::UsersOptions::during_drill(a.users_rate);
    sovereign_lab::users::plan(&state, &users).map_err(lab_error)?;
    let progress = |l: &str| out.status(l);
    let r = drill::region_loss(
        &mut state,
        &dir,
        &t,
        sovereign_catalog::Catalog::builtin(),
        &a.site,
        &users,
        &progress,
    )
    .map_err(lab_error)?;
    let ok = r
        .users
        .regions
        .iter()
        .all(|x| x.within_prediction && x.lost_acknowledged_writes == 0);
    match a.format {
        Format::Json => out.print(&format!("{}\n", crate::commands::to_json(&r)?)),
        Format::Human => {
            let mut s = format!("region {} lost: {}\n", r.site, r.stopped.join(", "));
            s.push_str(&users_drill_text(&r.users));
            s.push_str(&format!(
                "\n{} stays down: `sovereign lab down{d}` then `lab up` to bring the lab back\n",
                r.site,
                d = crate::commands::lab::dir_flag(&a.dir)
            ));
            out.print(&s);
        }
    }
    Ok(if ok { Exit::Ok } else { Exit::Findings })
}

/// The lab's own copy of its topology, validated.
fn lab_topology(
    dir: &std::path::Path,
) -> Result<(sovereign_check::ValidatedTopology, String), CliError> {
    let path = dir.join("topology.toml");
    let loaded = crate::input::load(Some(&path))?;
    let text = loaded.source.text.clone();
    match loaded.report.validated {
        Some(t) => Ok((t, text)),
        None => Err(CliError::usage(format!(
            "the lab's topology no longer passes `check` ({}): was it edited?",
            summary(&loaded.source, &loaded.report.diagnostics)
        ))),
    }
}

fn failover(a: FailoverArgs, out: &Output) -> Result<Exit, CliError> {
    let dir = a.dir.path();
    let mut state = running(&dir)?;
    let _lock =
        sovereign_lab::state::LabLock::acquire(&dir, "lab drill failover").map_err(lab_error)?;
    let (t, text) = lab_topology(&dir)?;
    let catalog = sovereign_catalog::Catalog::builtin();
    let reporter = out.progress("working");
    let progress = |l: &str| reporter.line(l);
    let opts = drill::FailoverOptions {
        to: a.to.clone(),
        rate: a.rate,
        lead_seconds: 2.0,
        users: a
            .users
            .then(|| sovereign_lab::users::UsersOptions::during_drill(a.users_rate)),
    };
    if let Some(u) = &opts.users {
        sovereign_lab::users::plan(&state, u).map_err(lab_error)?;
    }
    let r = drill::failover(&mut state, &dir, &t, catalog, &opts, &progress).map_err(lab_error)?;
    reporter.finish();
    sovereign_lab::results::save(&dir, sovereign_lab::results::Kind::Failover, &r)
        .map_err(lab_error)?;
    // The topology, rewritten so the next plan matches the promoted cluster.
    let new_text = sovereign_lab::topology_edit::promote(&text, &r.new_primary, &r.old_primary)
        .map_err(lab_error)?;
    let new_path = dir.join("topology.toml");
    crate::commands::write_atomically(&new_path, new_text.as_bytes())?;
    let (rendered, check_note) = render_change(&t, &text, &new_text, &state.topology_source);
    let data_ok = r.data.iter().all(|d| d.matches_primary);
    match a.format {
        Format::Json => {
            let v = serde_json::json!({"drill": r, "topology": new_path, "render": rendered.iter().map(|(f, a, d, _)| serde_json::json!({"file": f, "added": a, "removed": d})).collect::<Vec<_>>(), "check": check_note});
            out.print(&format!("{}\n", crate::commands::to_json(&v)?));
        }
        Format::Human => {
            let mut s = format!(
                "failover: {} → {} ({})\nlatency scale {}; writer at up to {} a second\n\n",
                r.old_primary, r.new_primary, r.why, r.latency_scale, a.rate
            );
            let rows = vec![
                vec![
                    "detection (kill → the target's stream ends)".into(),
                    format!("{:.2} s", r.detection_seconds),
                    "AWS: health checks and the operator, outside the promotion".into(),
                ],
                vec![
                    "promotion (kill → writable)".into(),
                    format!("{:.2} s", r.promotion_seconds),
                    format!(
                        "AWS: under {:.0} s for Aurora Global Database",
                        r.aws_promotion_seconds
                    ),
                ],
                vec![
                    "RTO (kill → first write acknowledged)".into(),
                    format!("{:.2} s", r.rto_seconds),
                    "AWS: promotion only; DNS or app repointing comes on top".into(),
                ],
                vec![
                    "RPO (acknowledged writes lost)".into(),
                    format!(
                        "{} of {} ({:.3} s window, bound {:.2} s)",
                        r.lost_writes,
                        r.acknowledged_before_kill,
                        r.rpo_seconds,
                        r.loss_bound_seconds
                    ),
                    "AWS: typically seconds, about the replication lag".into(),
                ],
            ];
            s.push_str(&table(["measure", "lab", "published figure"], rows));
            s.push_str(&format!("source: {}\n\n", r.aws_source));
            if !r.behind_before_kill.is_empty() {
                s.push_str(&format!(
                    "bytes behind at the kill: {}\n",
                    r.behind_before_kill
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let rows: Vec<Vec<String>> = r
                .repointed
                .iter()
                .map(|x| {
                    vec![
                        x.site.clone(),
                        x.role.clone(),
                        x.how.clone(),
                        format!("{:.1} s", x.seconds),
                    ]
                })
                .collect();
            s.push_str(&table(["site", "now", "how", "took"], rows));
            let rows: Vec<Vec<String>> = r
                .data
                .iter()
                .map(|d| {
                    vec![
                        d.site.clone(),
                        d.rows.to_string(),
                        if d.matches_primary {
                            "same rows".into()
                        } else {
                            "DIFFERS".into()
                        },
                    ]
                })
                .collect();
            s.push('\n');
            s.push_str(&table(
                ["copy", "drill rows", "against the new primary"],
                rows,
            ));
            s.push_str(&format!("\nbackups: {}\n", r.backups));
            s.push_str(&format!(
                "acknowledgements: {} (every write the old primary acknowledged, when, and whether the new primary has it)\n",
                r.ack_log
            ));
            if r.lost_beyond_bound > 0 {
                s.push_str(&format!(
                    "error: {} lost write(s) were acknowledged more than {:.2} s before the kill: asynchronous replication does not lose those; the copies did not converge as the plan assumes\n",
                    r.lost_beyond_bound, r.loss_bound_seconds
                ));
            } else if r.lost_writes > 0 {
                s.push_str(&format!(
                    "the {} lost write(s) were all acknowledged within {:.2} s of the kill (the target's write lag plus the one-way delay): asynchronous replication's RPO, as the plan predicts\n",
                    r.lost_writes, r.loss_bound_seconds
                ));
            }
            for n in &r.notes {
                s.push_str(&format!("note: {n}\n"));
            }
            if let Some(u) = &r.users {
                s.push_str(&users_drill_text(u));
            }
            s.push_str(&format!(
                "\nThe lab's topology now names {} the primary: {}\n{check_note}\nWhat `sovereign render` changes for it (copy it over your topology so the next `terraform plan` matches the promoted cluster):\n",
                r.new_primary,
                new_path.display()
            ));
            if rendered.is_empty() {
                s.push_str("  nothing\n");
            }
            for (file, added, removed, excerpt) in &rendered {
                s.push_str(&format!("  {file}: +{added} −{removed}\n"));
                if !excerpt.is_empty() {
                    for l in excerpt.lines() {
                        s.push_str(&format!("      {l}\n"));
                    }
                }
            }
            out.print(&s);
        }
    }
    Ok(if data_ok && r.lost_beyond_bound == 0 {
        Exit::Ok
    } else {
        Exit::Findings
    })
}

/// The users' side of a drill: per region, the outage seen next to the prediction.
pub fn users_drill_text(u: &sovereign_lab::drill::UsersDrill) -> String {
    let mut s = format!(
        "\nusers: {} requests at {} a second per region; {} lost its data tier{}\n",
        u.requests,
        u.rate_per_region,
        u.lost_site,
        match u.dns_withdrew_after_seconds {
            Some(w) => format!(", withdrawn from DNS {w:.2} s after the kill"),
            None => ", never withdrawn from DNS while the users ran".into(),
        }
    );
    s.push_str(&format!(
        "prediction (the plan's formula): detection {:.1} s + TTL {:.0} s + promotion {:.2} s = {:.2} s in the lab; the plan says {:.0} s + {:.0} s + {:.0} s = {:.0} s on AWS\n\n",
        u.lab_detection_seconds,
        u.lab_ttl_seconds,
        u.lab_promotion_seconds,
        u.lab_detection_seconds + u.lab_ttl_seconds + u.lab_promotion_seconds,
        u.plan_detection_seconds,
        u.plan_ttl_seconds,
        u.plan_promotion_seconds,
        u.plan_rto_seconds
    ));
    let rows: Vec<Vec<String>> = u
        .regions
        .iter()
        .map(|r| {
            vec![
                r.region.clone(),
                r.sites_before.join(","),
                r.sites_after.join(","),
                format!("{:.2} s", r.read_outage_seconds),
                format!(
                    "{:.2} s{}",
                    r.write_outage_seconds,
                    if r.still_failing { "+" } else { "" }
                ),
                format!("{:.2} s", r.predicted_seconds),
                if r.within_prediction { "yes" } else { "NO" }.to_string(),
                r.errors.values().sum::<usize>().to_string(),
                format!("{}/{}", r.lost_acknowledged_writes, r.acknowledged_writes),
            ]
        })
        .collect();
    s.push_str(&table(
        [
            "region",
            "served by before",
            "after",
            "read outage",
            "write outage",
            "predicted",
            "within",
            "errors",
            "lost/acked writes",
        ],
        rows,
    ));
    s.push_str("outage: last success before the first failure → first success after the last failure, as the region's users saw it; + still failing at the end.\n");
    for r in u.regions.iter().filter(|r| !r.errors.is_empty()) {
        s.push_str(&format!(
            "errors from {}: {}\n",
            r.region,
            r.errors
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s.push_str(&format!("requests: {}\n", u.requests_log));
    s.push_str("\nlatency during the drill:\n");
    s.push_str(&users_table(&u.latency));
    s
}

/// Files `render` writes differently for the new topology: (path, added, removed, excerpt).
fn render_change(
    t: &sovereign_check::ValidatedTopology,
    _old: &str,
    new: &str,
    source: &str,
) -> (Vec<(String, usize, usize, String)>, String) {
    let catalog = sovereign_catalog::Catalog::builtin();
    let (_, parsed) = sovereign_spec::parse_bytes(new.as_bytes());
    let report = sovereign_check::check_parsed(parsed, catalog, sovereign_catalog::Date::today());
    let Some(t2) = report.validated else {
        let errors = report
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect::<Vec<_>>();
        return (
            Vec::new(),
            format!(
                "the rewritten topology does not pass `check`: {}",
                errors.join("; ")
            ),
        );
    };
    let (Ok(a), Ok(b)) = (
        sovereign_render::render(t, catalog, source),
        sovereign_render::render(&t2, catalog, source),
    ) else {
        return (
            Vec::new(),
            "render failed on one of the two topologies".into(),
        );
    };
    let mut files = Vec::new();
    let names: std::collections::BTreeSet<&str> = a
        .files()
        .map(|(p, _)| p)
        .chain(b.files().map(|(p, _)| p))
        .collect();
    for name in names {
        let (x, y) = (a.text(name).unwrap_or(""), b.text(name).unwrap_or(""));
        if x != y {
            let (added, removed, excerpt) =
                crate::linediff::diff(x, y, 1, if name.ends_with(".tf") { 14 } else { 0 });
            files.push((name.to_string(), added, removed, excerpt));
        }
    }
    let warnings = report.diagnostics.len();
    (
        files,
        format!("`sovereign check` passes on it ({warnings} warning(s))."),
    )
}

fn restore(a: RestoreArgs, out: &Output) -> Result<Exit, CliError> {
    let dir = a.dir.path();
    let state = running(&dir)?;
    let _lock =
        sovereign_lab::state::LabLock::acquire(&dir, "lab drill restore").map_err(lab_error)?;
    if a.rows < 1 || a.rows > 10_000_000 {
        return Err(CliError::usage(format!(
            "--rows {} is not between 1 and 10000000",
            a.rows
        )));
    }
    let reporter = out.progress("working");
    let progress = |l: &str| reporter.line(l);
    let r = drill::restore(&state, &dir, a.rows, &progress).map_err(lab_error)?;
    reporter.finish();
    sovereign_lab::results::save(&dir, sovereign_lab::results::Kind::Restore, &r)
        .map_err(lab_error)?;
    match a.format {
        Format::Json => out.print(&format!("{}\n", crate::commands::to_json(&r)?)),
        Format::Human => {
            let rows = vec![
                vec!["full backup".into(), format!("{:.1} s", r.backup_seconds)],
                vec!["restore target".into(), r.target_time.clone()],
                vec![
                    "restore (pgBackRest + recovery to the target)".into(),
                    format!("{:.1} s", r.restore_seconds),
                ],
                vec![
                    "rows before the target: primary / restored".into(),
                    format!("{} / {}", r.rows_before_target, r.restored_rows),
                ],
                vec![
                    "checksum: primary / restored".into(),
                    format!("{} / {}", r.checksum_primary, r.checksum_restored),
                ],
                vec![
                    "rows written after the target, restored".into(),
                    format!(
                        "{} of {}",
                        r.after_target_rows_restored, r.rows_after_target
                    ),
                ],
            ];
            let mut s = format!("restore drill on {} (stanza `{}`)\n\n", r.site, r.stanza);
            s.push_str(&table(["step", "result"], rows));
            s.push_str(if r.exact { "\nexact: the restored rows are the primary's, to the row and byte, and nothing after the target\n" } else { "\nNOT EXACT: see the figures above\n" });
            out.print(&s);
        }
    }
    Ok(if r.exact { Exit::Ok } else { Exit::Findings })
}

fn dc_loss(a: DcLossArgs, out: &Output) -> Result<Exit, CliError> {
    let dir = a.dir.path();
    let mut state = running(&dir)?;
    let _lock =
        sovereign_lab::state::LabLock::acquire(&dir, "lab drill dc-loss").map_err(lab_error)?;
    let (t, _) = lab_topology(&dir)?;
    let users = a
        .users
        .then(|| sovereign_lab::users::UsersOptions::during_drill(a.users_rate));
    if let Some(u) = &users {
        sovereign_lab::users::plan(&state, u).map_err(lab_error)?;
    }
    let reporter = out.progress("working");
    let progress = |l: &str| reporter.line(l);
    let r = drill::dc_loss(
        &mut state,
        &dir,
        &t,
        sovereign_catalog::Catalog::builtin(),
        &a.site,
        drill::DcLossOptions {
            keep_down: a.keep_down,
            users: users.as_ref(),
        },
        &progress,
    )
    .map_err(lab_error)?;
    reporter.finish();
    sovereign_lab::results::save(&dir, sovereign_lab::results::Kind::DcLoss, &r)
        .map_err(lab_error)?;
    match a.format {
        Format::Json => out.print(&format!("{}\n", crate::commands::to_json(&r)?)),
        Format::Human => {
            let mut s = format!(
                "datacenter {} lost ({} node(s) stopped); replication {}\n\n",
                r.lost,
                r.nodes_stopped,
                r.replication
                    .iter()
                    .map(|(d, n)| format!("{d}:{n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            let mut rows = Vec::new();
            for d in &r.datacenters {
                for l in &d.levels {
                    let lab = match (l.write, l.read) {
                        (true, true) => "ok".to_string(),
                        (w, r) => format!(
                            "fails (write {}, read {})",
                            if w { "ok" } else { "fails" },
                            if r { "ok" } else { "fails" }
                        ),
                    };
                    let plan = match l.predicted {
                        Some(true) => "ok",
                        Some(false) => "fails",
                        None => "-",
                    };
                    let agree = match l.predicted {
                        Some(p) if p == (l.write && l.read) => "yes",
                        Some(_) => "NO",
                        None => "",
                    };
                    rows.push(vec![
                        d.dc.clone(),
                        l.level.clone(),
                        lab,
                        plan.to_string(),
                        agree.to_string(),
                        l.error.clone().unwrap_or_default(),
                    ]);
                }
            }
            s.push_str(&table(
                ["from", "level", "lab", "plan --lose", "agree", "error"],
                rows,
            ));
            if let Some(n) = &r.topology_note {
                s.push_str(&format!("\nnote: {n}\n"));
            }
            if r.disagreements.is_empty() {
                s.push_str(&format!(
                    "\nthe lab agrees with `sovereign plan --lose {}` on every level it predicts\n",
                    r.lost
                ));
            } else {
                s.push_str(&format!(
                    "\nDISAGREEMENT with `sovereign plan --lose {}` (a bug in one of them):\n",
                    r.lost
                ));
                for d in &r.disagreements {
                    s.push_str(&format!("  {d}\n"));
                }
            }
            if let Some(u) = &r.users {
                s.push_str(&users_drill_text(u));
            }
            s.push_str(if r.restarted {
                "the datacenter was started again\n"
            } else {
                "the datacenter is left stopped (--keep-down)\n"
            });
            out.print(&s);
        }
    }
    let users_ok = r.users.as_ref().is_none_or(|u| {
        u.regions
            .iter()
            .all(|x| x.within_prediction && x.lost_acknowledged_writes == 0)
    });
    Ok(if r.disagreements.is_empty() && users_ok {
        Exit::Ok
    } else {
        Exit::Findings
    })
}
