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
    /// Seconds of writes.
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    pub duration: f64,
    /// Writes a second on the primary.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub rate: u32,
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
    let reporter = out.progress("working");
    let progress = |l: &str| reporter.line(l);
    let r = load::load(
        &state,
        &load::LoadOptions {
            duration: Duration::from_secs_f64(a.duration),
            rate: a.rate,
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

pub fn drill(a: DrillArgs, out: &Output) -> Result<Exit, CliError> {
    match a.drill {
        Drill::Failover(f) => failover(f, out),
        Drill::Restore(r) => restore(r, out),
        Drill::DcLoss(d) => dc_loss(d, out),
    }
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
    };
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
    let reporter = out.progress("working");
    let progress = |l: &str| reporter.line(l);
    let r = drill::dc_loss(
        &mut state,
        &dir,
        &t,
        sovereign_catalog::Catalog::builtin(),
        &a.site,
        a.keep_down,
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
            s.push_str(if r.restarted {
                "the datacenter was started again\n"
            } else {
                "the datacenter is left stopped (--keep-down)\n"
            });
            out.print(&s);
        }
    }
    Ok(if r.disagreements.is_empty() {
        Exit::Ok
    } else {
        Exit::Findings
    })
}
