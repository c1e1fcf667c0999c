//! Drills on a running lab: PostgreSQL failover (RTO and RPO measured), point-in-time
//! restore with pgBackRest (compared exactly), and the loss of a Cassandra datacenter
//! (compared with what `plan --lose` predicts).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use sovereign_catalog::Catalog;
use sovereign_check::ValidatedTopology;
use sovereign_check::analysis::survivability::{self, Loss};
use tokio_postgres::NoTls;

use crate::engines::cassandra;
use crate::engines::postgres::{Pg, chown};
use crate::load::{connect, replicated_table};
use crate::state::{LabState, PgMember};
use crate::{LabError, process};

fn rt() -> Result<tokio::runtime::Runtime, LabError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .map_err(|e| LabError::io("runtime", e))
}

/// The site of the lab's PostgreSQL primary (empty without PostgreSQL).
fn primary_site(state: &LabState) -> String {
    state
        .postgres
        .as_ref()
        .map(|p| p.primary.clone())
        .unwrap_or_default()
}

/// Starts users in every region for a drill and lets them settle for three seconds.
fn users_started(
    state: &LabState,
    users: &crate::users::UsersOptions,
    progress: &dyn Fn(&str),
) -> Result<crate::users::Background, LabError> {
    progress(&format!(
        "users in every region at {} requests a second each…",
        users.rate
    ));
    let bg = rt()?.block_on(crate::users::Background::start(state, users))?;
    std::thread::sleep(Duration::from_secs(3));
    Ok(bg)
}

fn err(what: &str, e: tokio_postgres::Error) -> LabError {
    LabError::postgres(what, e)
}

// ---------------------------------------------------------------------------------------------
// Failover

#[derive(Clone, Debug)]
pub struct FailoverOptions {
    pub to: Option<String>,
    /// Writes a second the writer attempts.
    pub rate: u32,
    /// Seconds of writes before the primary is killed.
    pub lead_seconds: f64,
    /// Users in every region during the drill (the lab's application tier).
    pub users: Option<crate::users::UsersOptions>,
}

/// What one region's users saw during a drill, next to what the plan predicts.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct RegionOutage {
    pub region: String,
    /// Sites that answered this region before the kill, and in the last seconds of the run.
    pub sites_before: Vec<String>,
    pub sites_after: Vec<String>,
    /// Last success before the first failure → first success after the last failure.
    pub read_outage_seconds: f64,
    pub write_outage_seconds: f64,
    /// Still failing when the users stopped (the outage figure is then a lower bound).
    pub still_failing: bool,
    pub errors: BTreeMap<String, usize>,
    pub acknowledged_writes: usize,
    pub lost_acknowledged_writes: usize,
    /// The lab's figures in the plan's formula: detection (interval × threshold) + TTL +
    /// promotion (measured; none when the primary stays).
    pub predicted_seconds: f64,
    /// Both outages within the prediction, give or take one request interval of their kind at
    /// each end (a region sees a success or a failure only when a request is due).
    pub within_prediction: bool,
}

/// Users during a drill.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct UsersDrill {
    pub rate_per_region: f64,
    pub requests: usize,
    /// The site that lost its data tier, and when the DNS withdrew it (seconds after the kill).
    pub lost_site: String,
    pub dns_withdrew_after_seconds: Option<f64>,
    pub lab_detection_seconds: f64,
    pub lab_ttl_seconds: f64,
    pub lab_promotion_seconds: f64,
    /// The plan's own figures (the topology's health checks and TTL, Aurora's promotion).
    pub plan_detection_seconds: f64,
    pub plan_ttl_seconds: f64,
    pub plan_promotion_seconds: f64,
    pub plan_rto_seconds: f64,
    pub regions: Vec<RegionOutage>,
    /// Latency per region over the whole run (the outage included).
    pub latency: Vec<crate::users::RegionReport>,
    /// Every request (region, kind, due and done in seconds from the kill, site, result), CSV
    /// in the lab directory, to reconcile the figures.
    pub requests_log: String,
}

/// Writes `drills/<name>-<time>-users.csv`: every request of a drill's users, times relative to
/// the kill.
fn write_users_log(
    dir: &Path,
    name: &str,
    run: &crate::users::UsersRun,
    regions: &[crate::users::UserRegion],
    kill: Duration,
) -> Result<std::path::PathBuf, LabError> {
    let drills = dir.join("drills");
    std::fs::create_dir_all(&drills)
        .map_err(|e| LabError::io(format!("cannot create {}", drills.display()), e))?;
    let stamp = unix_ms() / 1000;
    let path = drills.join(format!("{name}-{stamp}-users.csv"));
    let rel = |d: Duration| d.as_secs_f64() - kill.as_secs_f64();
    let mut text = String::from("region,kind,due_after_kill_s,done_after_kill_s,site,result\n");
    for o in &run.outcomes {
        text.push_str(&format!(
            "{},{},{:.4},{:.4},{},{}\n",
            regions.get(o.region).map_or("?", |r| r.region.as_str()),
            match o.kind {
                crate::users::Kind::Read => "read",
                crate::users::Kind::Write => "write",
            },
            rel(o.due),
            rel(o.done),
            o.site.as_deref().unwrap_or(""),
            match &o.result {
                Ok(_) => "ok".to_string(),
                Err(e) => e.replace(',', ";"),
            }
        ));
    }
    std::fs::write(&path, text)
        .map_err(|e| LabError::io(format!("cannot write {}", path.display()), e))?;
    Ok(path)
}

/// Runs the users' side of a drill to the end and measures it against the kill.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn users_outcome(
    state: &LabState,
    dir: &Path,
    bg: crate::users::Background,
    killed: Instant,
    killed_unix_ms: u64,
    lost_site: &str,
    new_primary: &str,
    // The measured promotion, when the drill promotes; `None` when the primary stays.
    promotion: Option<f64>,
    plan: &survivability::Assumptions,
    name: &str,
) -> Result<UsersDrill, LabError> {
    let promotion_seconds = promotion.unwrap_or(0.0);
    use crate::users::{self, Kind};
    let u = state
        .users
        .as_ref()
        .ok_or_else(|| LabError::NotInLab("the lab runs no application tier".into()))?;
    let detection = u.interval_seconds * f64::from(u.threshold);
    let ttl = f64::from(u.ttl_seconds);
    // Users keep going until a withdrawal and a whole TTL could have happened, and a little more.
    let settle =
        Duration::from_secs_f64(detection + u.interval_seconds + ttl + promotion_seconds + 3.0);
    if let Some(rest) = settle.checked_sub(killed.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let rate = bg.plan.rate;
    let read_share = 1.0 - f64::from(bg.plan.write_percent.min(100)) / 100.0;
    let plan_regions = bg.plan.regions.clone();
    let uplan = bg.plan.clone();
    let run = bg.finish()?;
    let kill = killed.saturating_duration_since(run.start);
    let predicted = detection + ttl + promotion_seconds;
    // Acknowledged writes are looked for on the new primary.
    let mut after = state.clone();
    if let Some(p) = after.postgres.as_mut() {
        p.primary = new_primary.to_string();
    }
    let latency = users::report(&after, &uplan, &run).await?.regions;
    let end = run.last_start;
    let log = write_users_log(dir, name, &run, &plan_regions, kill)?;
    let mut regions = Vec::new();
    for (i, r) in plan_regions.iter().enumerate() {
        let read = users::outage(&run, i, Some(Kind::Read), kill);
        let write = users::outage(&run, i, Some(Kind::Write), kill);
        let l = latency.iter().find(|x| x.region == r.region);
        let errors: BTreeMap<String, usize> = run
            .outcomes
            .iter()
            .filter(|o| o.region == i && o.done >= kill)
            .filter_map(|o| o.result.as_ref().err().cloned())
            .fold(BTreeMap::new(), |mut m, e| {
                *m.entry(e).or_insert(0) += 1;
                m
            });
        regions.push(RegionOutage {
            region: r.region.clone(),
            sites_before: users::sites_between(&run, i, Duration::ZERO, kill),
            sites_after: users::sites_between(
                &run,
                i,
                end.saturating_sub(Duration::from_secs(2)),
                end + Duration::from_secs(1),
            ),
            read_outage_seconds: read,
            write_outage_seconds: write,
            still_failing: users::failing_at_end(&run, i, None),
            errors,
            acknowledged_writes: l.map_or(0, |l| l.acknowledged_writes),
            lost_acknowledged_writes: l.and_then(|l| l.lost_acknowledged_writes).unwrap_or(0),
            predicted_seconds: predicted,
            // A region sees a success only when a request is due: the outage is measured to
            // within one request interval of each kind at each end.
            within_prediction: read <= predicted + 2.0 / (rate * read_share).max(1e-9)
                && write <= predicted + 2.0 / (rate * (1.0 - read_share)).max(1e-9)
                && !users::failing_at_end(&run, i, None),
        });
    }
    let withdrew = crate::dns::read_events(&u.events)
        .into_iter()
        .find(|e| e.site == lost_site && !e.healthy && e.unix_ms >= killed_unix_ms)
        .map(|e| (e.unix_ms - killed_unix_ms) as f64 / 1000.0);
    Ok(UsersDrill {
        rate_per_region: rate,
        requests: run.sent,
        lost_site: lost_site.to_string(),
        dns_withdrew_after_seconds: withdrew,
        lab_detection_seconds: detection,
        lab_ttl_seconds: ttl,
        lab_promotion_seconds: promotion_seconds,
        plan_detection_seconds: plan.detection_seconds,
        plan_ttl_seconds: plan.dns_ttl_seconds,
        plan_promotion_seconds: if promotion.is_some() {
            plan.promotion_seconds
        } else {
            0.0
        },
        plan_rto_seconds: plan.detection_seconds
            + plan.dns_ttl_seconds
            + if promotion.is_some() {
                plan.promotion_seconds
            } else {
                0.0
            },
        regions,
        latency,
        requests_log: log.display().to_string(),
    })
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Repointed {
    pub site: String,
    pub role: String,
    /// `following <site>`, `re-seeded from <site>`, `resubscribed to <site>`.
    pub how: String,
    pub seconds: f64,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct DataCheck {
    pub site: String,
    pub rows: i64,
    pub matches_primary: bool,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct FailoverReport {
    pub old_primary: String,
    pub new_primary: String,
    pub why: String,
    pub latency_scale: f64,
    /// Bytes each standby was behind just before the kill.
    pub behind_before_kill: BTreeMap<String, i64>,
    pub acknowledged_before_kill: usize,
    pub acknowledged_after: usize,
    /// Acknowledged writes the new primary does not have.
    pub lost_writes: usize,
    /// Time between the oldest lost acknowledgement and the kill: the data-loss window.
    pub rpo_seconds: f64,
    /// The most asynchronous replication can lose: writes acknowledged within this many seconds
    /// before the kill (the target's write lag at the kill, plus the one-way delay to it, plus
    /// 0.2 s for sampling). A write acknowledged earlier and lost is a bug, and fails the drill.
    pub loss_bound_seconds: f64,
    /// Lost writes acknowledged before the bound: 0 unless something is wrong.
    pub lost_beyond_bound: usize,
    /// Every acknowledgement with its time relative to the kill and whether the new primary
    /// has it (CSV, in the lab directory), to reconcile the figures.
    pub ack_log: String,
    /// Kill → the target's replication stream ended (the lab's failure detection).
    pub detection_seconds: f64,
    /// Kill → promotion finished.
    pub promotion_seconds: f64,
    /// Kill → first acknowledged write on the new primary.
    pub rto_seconds: f64,
    pub aws_promotion_seconds: f64,
    pub aws_source: String,
    pub repointed: Vec<Repointed>,
    pub data: Vec<DataCheck>,
    pub backups: String,
    pub notes: Vec<String>,
    /// What users in every region saw, when the drill ran with them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<UsersDrill>,
}

/// The site promotion goes to: `--to`, else what `plan --lose <primary>` picks (the designated
/// successor, else the surviving secondary with the lowest round trip to the others).
pub fn failover_target(
    state: &LabState,
    t: &ValidatedTopology,
    catalog: &Catalog,
    to: Option<&str>,
) -> Result<(String, String), LabError> {
    let pg = state
        .postgres
        .as_ref()
        .ok_or_else(|| LabError::NotInLab("the lab runs no PostgreSQL".into()))?;
    let standbys: Vec<&String> = pg
        .members
        .values()
        .filter(|m| m.role == "secondary")
        .map(|m| &m.site)
        .collect();
    if let Some(to) = to {
        if !standbys.iter().any(|s| *s == to) {
            return Err(LabError::Invalid(format!(
                "`{to}` is not a streaming standby of the lab; promotion candidates: {}",
                standbys
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        return Ok((to.to_string(), "chosen with --to".into()));
    }
    let a = survivability::assumptions(t, catalog);
    let sc = survivability::scenario(
        t,
        catalog,
        &a,
        Loss::Site {
            site: pg.primary.clone(),
        },
    );
    match sc.postgres.and_then(|w| w.primary.map(|p| (p, w.detail))) {
        Some((p, detail)) if standbys.contains(&&p) => Ok((
            p,
            format!("what `plan --lose {}` picks: {detail}", pg.primary),
        )),
        _ => standbys
            .first()
            .map(|s| (s.to_string(), "the first standby (plan had no pick)".into()))
            .ok_or_else(|| LabError::NotInLab("no standby to promote".into())),
    }
}

struct Ack {
    id: i64,
    at: Instant,
    site: String,
}

pub fn failover(
    state: &mut LabState,
    dir: &Path,
    t: &ValidatedTopology,
    catalog: &Catalog,
    opts: &FailoverOptions,
    progress: &dyn Fn(&str),
) -> Result<FailoverReport, LabError> {
    let (target, why) = failover_target(state, t, catalog, opts.to.as_deref())?;
    let a = survivability::assumptions(t, catalog);
    let rt = rt()?;
    rt.block_on(failover_async(state, dir, &target, why, opts, &a, progress))
}

async fn failover_async(
    state: &mut LabState,
    dir: &Path,
    target: &str,
    why: String,
    opts: &FailoverOptions,
    assumptions: &survivability::Assumptions,
    progress: &dyn Fn(&str),
) -> Result<FailoverReport, LabError> {
    let aws = (
        assumptions.promotion_seconds,
        assumptions.promotion_source.clone(),
    );
    let pg = state
        .postgres
        .clone()
        .ok_or_else(|| LabError::NotInLab("the lab runs no PostgreSQL".into()))?;
    let old = pg.primary.clone();
    let old_m = pg
        .members
        .get(&old)
        .cloned()
        .ok_or_else(|| LabError::NotInLab("no primary".into()))?;
    let new_m = pg
        .members
        .get(target)
        .cloned()
        .ok_or_else(|| LabError::NotInLab(format!("no PostgreSQL at {target}")))?;
    let db = pg.database.clone();
    replicated_table(
        state,
        "public.sovereign_drill",
        "CREATE TABLE IF NOT EXISTS public.sovereign_drill (id bigserial PRIMARY KEY, site text NOT NULL, written_at timestamptz NOT NULL DEFAULT now())",
        progress,
    )
    .await?;

    // Users in every region, through DNS and the application, for the whole drill.
    let users_bg = match &opts.users {
        Some(o) => {
            progress(&format!(
                "users in every region at {} requests a second each…",
                o.rate
            ));
            Some(crate::users::Background::start(state, o).await?)
        }
        None => None,
    };
    // The writer: commits as fast as the rate allows against whichever primary is current.
    let current: Arc<Mutex<PgMember>> = Arc::new(Mutex::new(old_m.clone()));
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(
        current.clone(),
        acks.clone(),
        stop.clone(),
        db.clone(),
        opts.rate,
    );
    progress(&format!(
        "writing on {old} at up to {} a second for {:.1} s…",
        opts.rate, opts.lead_seconds
    ));
    tokio::time::sleep(Duration::from_secs_f64(opts.lead_seconds)).await;

    // How far behind each standby is at the moment of the kill.
    let (behind, target_write_lag) = standby_positions(&old_m, &db, target).await;
    let one_way_ms = state
        .proxy_config
        .routes
        .iter()
        .find(|r| r.name == format!("pg {target}→{old}"))
        .map_or(0.0, |r| r.delay_ms);
    let loss_bound = target_write_lag.max(one_way_ms / 1000.0) + one_way_ms / 1000.0 + 0.2;
    progress(&format!(
        "kill -9 the primary at {old} (pid {})",
        old_m.pg.pid().unwrap_or(0)
    ));
    let killed = Instant::now();
    let killed_unix_ms = unix_ms();
    old_m
        .pg
        .kill9()
        .ok_or_else(|| LabError::NotInLab(format!("the primary at {old} is not running")))?;
    let acked_before = acks.lock().map(|a| a.len()).unwrap_or(0);
    if let Some(p) = state.postgres.as_mut()
        && let Some(m) = p.members.get_mut(&old)
    {
        m.role = "down".into();
    }
    state.save(dir)?;

    // Promote once the target has noticed the loss: its WAL receiver has taken in everything
    // that was on the way (through the proxy, one one-way delay) and found the stream ended.
    // Promoting earlier would throw away WAL in flight, which no operator or Aurora does.
    let (detected, c) = promote_after_detection(&new_m, &db, target, killed, progress).await?;
    let promoted = killed.elapsed();
    // The application is repointed (what DNS failover or a global writer endpoint does).
    if let Ok(mut cur) = current.lock() {
        *cur = new_m.clone();
    }
    let first_new = first_write_on(&acks, target, killed).await?;
    let rto = first_new.duration_since(killed);
    progress(&format!(
        "{target} took its first write {:.2} s after the kill",
        rto.as_secs_f64()
    ));
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::Relaxed);
    let _ = writer.await;
    let users = match users_bg {
        Some(bg) => {
            progress("waiting for the users to see the end of it…");
            Some(
                users_outcome(
                    state,
                    dir,
                    bg,
                    killed,
                    killed_unix_ms,
                    &old,
                    target,
                    Some(promoted.as_secs_f64()),
                    assumptions,
                    "failover",
                )
                .await?,
            )
        }
        None => None,
    };

    // RPO: acknowledged by the old primary, absent on the new one.
    let Losses {
        lost,
        rpo,
        acked_after,
        lost_beyond_bound,
        acked_old,
        present,
    } = losses(&acks, &c, (&old, target), killed, loss_bound).await?;
    let ack_log = write_ack_log(dir, &old, killed, &acked_old, &present)?;

    // Everyone else follows the new primary.
    let mut notes = Vec::new();
    let repointed = follow_new_primary(state, dir, &pg, (&old_m, &new_m), &db, progress).await?;
    let backups = record_promotion(state, (&old, target), &new_m, &mut notes)?;
    state.save(dir)?;
    crate::up::write_outputs(dir, state)?;

    // Every copy converges on the new primary's rows.
    progress("checking the data on every copy…");
    let data = converge(
        state,
        &db,
        "public.sovereign_drill",
        Duration::from_secs(90),
    )
    .await?;
    Ok(FailoverReport {
        old_primary: old,
        new_primary: target.to_string(),
        why,
        latency_scale: state.latency_scale,
        behind_before_kill: behind,
        acknowledged_before_kill: acked_before,
        acknowledged_after: acked_after,
        lost_writes: lost,
        rpo_seconds: rpo.as_secs_f64(),
        loss_bound_seconds: loss_bound,
        lost_beyond_bound,
        ack_log: ack_log.display().to_string(),
        detection_seconds: detected.as_secs_f64(),
        promotion_seconds: promoted.as_secs_f64(),
        rto_seconds: rto.as_secs_f64(),
        aws_promotion_seconds: aws.0,
        aws_source: aws.1,
        repointed,
        data,
        backups,
        notes,
        users,
    })
}

/// The drill's writer: commits as fast as `rate` allows against whichever primary `current`
/// names, reconnecting when it changes, and records every acknowledgement in `acks`.
fn spawn_writer(
    current: Arc<Mutex<PgMember>>,
    acks: Arc<Mutex<Vec<Ack>>>,
    stop: Arc<AtomicBool>,
    db: String,
    rate: u32,
) -> tokio::task::JoinHandle<()> {
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    tokio::spawn(async move {
        let mut client: Option<(String, tokio_postgres::Client)> = None;
        while !stop.load(Ordering::Relaxed) {
            let tick = Instant::now();
            let m = current.lock().map(|m| m.clone()).ok();
            let Some(m) = m else { break };
            if client.as_ref().map(|(s, _)| s != &m.site).unwrap_or(true) {
                client = None;
                let cfg = format!("{} connect_timeout=1", m.pg.conninfo(&db));
                if let Ok(Ok((c, conn))) = tokio::time::timeout(
                    Duration::from_secs(1),
                    tokio_postgres::connect(&cfg, NoTls),
                )
                .await
                {
                    tokio::spawn(conn);
                    client = Some((m.site.clone(), c));
                }
            }
            if let Some((site, c)) = &client {
                match tokio::time::timeout(
                    Duration::from_secs(1),
                    c.query_one(
                        "INSERT INTO public.sovereign_drill (site) VALUES ($1) RETURNING id",
                        &[site],
                    ),
                )
                .await
                {
                    Ok(Ok(row)) => {
                        let id: i64 = row.get(0);
                        if let Ok(mut a) = acks.lock() {
                            a.push(Ack {
                                id,
                                at: Instant::now(),
                                site: site.clone(),
                            });
                        }
                    }
                    _ => client = None,
                }
            } else {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if let Some(rest) = interval.checked_sub(tick.elapsed()) {
                tokio::time::sleep(rest).await;
            }
        }
    })
}

/// How far behind each standby of `old` is (bytes of WAL not replayed, by application name),
/// and the write lag of `target`, in seconds: the moment before the kill.
async fn standby_positions(old: &PgMember, db: &str, target: &str) -> (BTreeMap<String, i64>, f64) {
    let mut behind = BTreeMap::new();
    let mut target_write_lag = 0.0f64;
    if let Ok(c) = connect(old, db).await
        && let Ok(rows) = c
            .query("SELECT application_name, (pg_current_wal_lsn() - COALESCE(replay_lsn, '0/0'))::bigint, EXTRACT(epoch FROM COALESCE(write_lag, '0'::interval))::float8 FROM pg_stat_replication", &[])
            .await
    {
        for r in rows {
            let name = r.get::<_, Option<String>>(0).unwrap_or_default();
            if name == target {
                target_write_lag = r.get::<_, Option<f64>>(2).unwrap_or(0.0);
            }
            behind.insert(name, r.get::<_, Option<i64>>(1).unwrap_or(0));
        }
    }
    (behind, target_write_lag)
}

/// Promotes `new` once it has noticed the primary is gone (its WAL receiver stopped
/// streaming), and waits until it leaves recovery: how long after the kill it noticed, and a
/// connection to it.
async fn promote_after_detection(
    new_m: &PgMember,
    db: &str,
    target: &str,
    killed: Instant,
    progress: &dyn Fn(&str),
) -> Result<(Duration, tokio_postgres::Client), LabError> {
    {
        let c = connect(new_m, db).await?;
        loop {
            let streaming = c
                .query_opt("SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming' AND pid IS NOT NULL", &[])
                .await
                .map(|r| r.is_some())
                .unwrap_or(false);
            if !streaming || killed.elapsed() > Duration::from_secs(15) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let detected = killed.elapsed();
    progress(&format!(
        "{target} lost its stream {:.2} s after the kill; promoting it…",
        detected.as_secs_f64()
    ));
    new_m.pg.promote()?;
    // Writable when it leaves recovery.
    let c = connect(new_m, db).await?;
    loop {
        let r: bool = c
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map_err(|e| err("promotion", e))?
            .get(0);
        if !r {
            break;
        }
        if killed.elapsed() > Duration::from_secs(120) {
            return Err(LabError::Failed(format!(
                "{target} is still in recovery two minutes after promotion"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((detected, c))
}

/// When the writer's first write on `target` was acknowledged; an error after two minutes.
async fn first_write_on(
    acks: &Mutex<Vec<Ack>>,
    target: &str,
    killed: Instant,
) -> Result<Instant, LabError> {
    loop {
        if let Some(a) = acks
            .lock()
            .ok()
            .and_then(|a| a.iter().find(|a| a.site == target).map(|a| a.at))
        {
            return Ok(a);
        }
        if killed.elapsed() > Duration::from_secs(120) {
            return Err(LabError::Failed(format!(
                "no write succeeded on {target} within two minutes"
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What the failover lost: the writes `old` acknowledged, which of them the new primary has,
/// the lost ones, the window they span (the RPO) and how many fall outside `loss_bound`.
async fn losses(
    acks: &Mutex<Vec<Ack>>,
    c: &tokio_postgres::Client,
    (old, target): (&str, &str),
    killed: Instant,
    loss_bound: f64,
) -> Result<Losses, LabError> {
    let acked_old: Vec<(i64, Instant)> = acks
        .lock()
        .map(|a| {
            a.iter()
                .filter(|a| a.site == old)
                .map(|a| (a.id, a.at))
                .collect()
        })
        .unwrap_or_default();
    let ids: Vec<i64> = acked_old.iter().map(|(i, _)| *i).collect();
    let present: Vec<i64> = c
        .query(
            "SELECT id FROM public.sovereign_drill WHERE id = ANY($1)",
            &[&ids],
        )
        .await
        .map_err(|e| err("reading the drill table", e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let present: std::collections::HashSet<i64> = present.into_iter().collect();
    let lost: Vec<&(i64, Instant)> = acked_old
        .iter()
        .filter(|(i, _)| !present.contains(i))
        .collect();
    // The window of lost acknowledgements: from the oldest lost one to the last one the old
    // primary gave (zero when one write, or none, was lost).
    let last_old = acked_old.last().map(|(_, at)| *at);
    let rpo = match (lost.first(), last_old) {
        (Some((_, first)), Some(last)) => last.saturating_duration_since(*first),
        _ => Duration::ZERO,
    };
    let acked_after = acks
        .lock()
        .map(|a| a.iter().filter(|a| a.site == target).count())
        .unwrap_or(0);
    let lost_beyond_bound = lost
        .iter()
        .filter(|(_, at)| killed.saturating_duration_since(*at).as_secs_f64() > loss_bound)
        .count();
    Ok(Losses {
        lost: lost.len(),
        rpo,
        acked_after,
        lost_beyond_bound,
        acked_old,
        present,
    })
}

/// The writes a failover lost, as [`losses`] counts them.
struct Losses {
    lost: usize,
    rpo: Duration,
    acked_after: usize,
    lost_beyond_bound: usize,
    acked_old: Vec<(i64, Instant)>,
    present: std::collections::HashSet<i64>,
}

/// Every other member follows the new primary: standbys are repointed, the old primary's site
/// is re-seeded as a standby, logical replicas resubscribe.
async fn follow_new_primary(
    state: &mut LabState,
    dir: &Path,
    pg: &crate::state::LabPostgres,
    (old_m, new_m): (&PgMember, &PgMember),
    db: &str,
    progress: &dyn Fn(&str),
) -> Result<Vec<Repointed>, LabError> {
    let (old, target) = (&old_m.site, new_m.site.as_str());
    let mut repointed = Vec::new();
    let others: Vec<PgMember> = pg
        .members
        .values()
        .filter(|m| m.site != *old && m.site != target)
        .cloned()
        .collect();
    for m in others.iter().filter(|m| m.role == "secondary") {
        let start = Instant::now();
        progress(&format!(
            "repointing the standby at {} to {target}…",
            m.site
        ));
        let how = repoint_standby(state, m, new_m).await?;
        repointed.push(Repointed {
            site: m.site.clone(),
            role: "secondary".into(),
            how,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    // The old primary's site comes back as a standby of the new primary.
    {
        let start = Instant::now();
        progress(&format!("re-seeding {old} as a standby of {target}…"));
        reseed(state, old_m, new_m)?;
        caught_up(old_m, new_m, db, Duration::from_secs(60)).await?;
        repointed.push(Repointed {
            site: old.clone(),
            role: "secondary".into(),
            how: format!("re-seeded from {target}"),
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    for m in others.iter().filter(|m| m.role == "logical_replica") {
        let start = Instant::now();
        progress(&format!(
            "resubscribing the logical replica at {} to {target}…",
            m.site
        ));
        resubscribe(state, dir, m, target).await?;
        repointed.push(Repointed {
            site: m.site.clone(),
            role: "logical_replica".into(),
            how: format!("resubscribed to {target} (full copy: PostgreSQL 15 keeps no logical slot across a failover)"),
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    Ok(repointed)
}

/// The lab state names `target` the primary and `old` a standby; the pgBackRest stanza follows
/// the primary. What became of the backups, for the report.
fn record_promotion(
    state: &mut LabState,
    (old, target): (&str, &str),
    new_m: &PgMember,
    notes: &mut Vec<String>,
) -> Result<String, LabError> {
    if let Some(p) = state.postgres.as_mut() {
        p.primary = target.to_string();
        if let Some(m) = p.members.get_mut(target) {
            m.role = "primary".into();
        }
        if let Some(m) = p.members.get_mut(old) {
            m.role = "secondary".into();
        }
    }
    // Backups follow the primary: the stanza now points at the new one.
    let backups = match state.postgres.as_ref().and_then(|p| p.stanza.clone()) {
        Some(st) => {
            repoint_stanza(&st.config, &new_m.pg)?;
            match st.check() {
                Ok(()) => format!(
                    "pgBackRest stanza `{}` now backs up {target}; `check` passes (WAL archived on the new timeline)",
                    st.name
                ),
                Err(e) => {
                    notes.push(format!("pgBackRest check on {target} failed: {e}"));
                    format!(
                        "pgBackRest stanza `{}` repointed to {target}, but `check` failed",
                        st.name
                    )
                }
            }
        }
        None => "no pgBackRest stanza".into(),
    };
    Ok(backups)
}

/// Writes `drills/failover-<time>-acks.csv`: every write the old primary acknowledged, when
/// (seconds before the kill; negative after it), and whether the new primary has it.
fn write_ack_log(
    dir: &Path,
    old: &str,
    killed: Instant,
    acked: &[(i64, Instant)],
    present: &std::collections::HashSet<i64>,
) -> Result<std::path::PathBuf, LabError> {
    let drills = dir.join("drills");
    std::fs::create_dir_all(&drills)
        .map_err(|e| LabError::io(format!("cannot create {}", drills.display()), e))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let path = drills.join(format!("failover-{stamp}-acks.csv"));
    let mut text = String::from("id,acknowledged_by,seconds_before_kill,on_new_primary\n");
    for (id, at) in acked {
        let before = if *at <= killed {
            killed.duration_since(*at).as_secs_f64()
        } else {
            -at.duration_since(killed).as_secs_f64()
        };
        text.push_str(&format!(
            "{id},{old},{before:.4},{}\n",
            present.contains(id)
        ));
    }
    std::fs::write(&path, text)
        .map_err(|e| LabError::io(format!("cannot write {}", path.display()), e))?;
    Ok(path)
}

/// Waits until `standby` has replayed the primary's current WAL position.
async fn caught_up(
    standby: &PgMember,
    primary: &PgMember,
    db: &str,
    timeout: Duration,
) -> Result<(), LabError> {
    let p = connect(primary, db).await?;
    let lsn: String = p
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .map_err(|e| err("reading the primary's position", e))?
        .get(0);
    let start = Instant::now();
    loop {
        if let Ok(c) = connect(standby, db).await
            && let Ok(row) = c
                .query_one(
                    "SELECT COALESCE(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)",
                    &[&lsn],
                )
                .await
            && row.get::<_, bool>(0)
        {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(LabError::Failed(format!(
                "{} has not replayed {lsn} from {} after {} s",
                standby.site,
                primary.site,
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Points a standby at the new primary through the proxy route; when it cannot follow (it had
/// replayed WAL the new primary never got), takes a fresh base backup instead.
async fn repoint_standby(
    state: &LabState,
    m: &PgMember,
    new: &PgMember,
) -> Result<String, LabError> {
    let route = state
        .routes
        .get(&format!("pg {}→{}", m.site, new.site))
        .copied()
        .ok_or_else(|| LabError::NotInLab(format!("no proxy route {}→{}", m.site, new.site)))?;
    m.pg.stop();
    m.pg.follow((&route.ip().to_string(), route.port()))?;
    let db = state
        .postgres
        .as_ref()
        .map(|p| p.database.clone())
        .unwrap_or_default();
    if let Err(e) = m.pg.start() {
        // It refuses the new timeline outright (its minimum recovery point lies past the fork).
        let first = e
            .to_string()
            .lines()
            .find(|l| l.contains("FATAL"))
            .unwrap_or("")
            .trim()
            .to_string();
        reseed(state, m, new)?;
        caught_up(m, new, &db, Duration::from_secs(60)).await?;
        return Ok(format!(
            "re-seeded from {} (it would not start on the new timeline: {first})",
            new.site
        ));
    }
    // Streaming is not enough: a standby that replayed past the point where the new primary's
    // timeline forked streams the old timeline to its end and stops there. It follows only
    // if it replays what the new primary writes now.
    if caught_up(m, new, &db, Duration::from_secs(8)).await.is_ok() {
        return Ok(format!("following {}", new.site));
    }
    reseed(state, m, new)?;
    caught_up(m, new, &db, Duration::from_secs(60)).await?;
    Ok(format!(
        "re-seeded from {} (it had replayed past the fork of the new timeline)",
        new.site
    ))
}

/// Replaces a cluster's data with a fresh base backup of `new`, streaming through the route.
fn reseed(state: &LabState, m: &PgMember, new: &PgMember) -> Result<(), LabError> {
    let route = state
        .routes
        .get(&format!("pg {}→{}", m.site, new.site))
        .copied()
        .ok_or_else(|| LabError::NotInLab(format!("no proxy route {}→{}", m.site, new.site)))?;
    if m.pg.pid().is_some() {
        m.pg.stop();
    }
    m.pg.kill9();
    let home =
        m.pg.data
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| m.pg.data.clone());
    let _ = std::fs::remove_dir_all(&m.pg.data);
    let base = home.parent().map(Path::to_path_buf).unwrap_or_default();
    let fresh = Pg::standby(
        &new.pg,
        &base,
        &m.pg.name,
        &m.pg.host,
        m.pg.port,
        (&route.ip().to_string(), route.port()),
    )?;
    fresh.start()
}

/// Drops the logical subscription (its slot died with the old primary), empties the tables it
/// fed, and subscribes again to the new primary with the rendered SQL, copying everything.
async fn resubscribe(
    state: &LabState,
    dir: &Path,
    m: &PgMember,
    target: &str,
) -> Result<(), LabError> {
    let pg = state
        .postgres
        .as_ref()
        .ok_or_else(|| LabError::NotInLab("no PostgreSQL".into()))?;
    let c = connect(m, &pg.database).await?;
    let sub = format!("sovereign_{}", m.site);
    let tables: Vec<String> = c
        .query(
            "SELECT sr.srrelid::regclass::text FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid WHERE s.subname = $1",
            &[&sub],
        )
        .await
        .map_err(|e| err("pg_subscription_rel", e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let exists = c
        .query_opt("SELECT 1 FROM pg_subscription WHERE subname = $1", &[&sub])
        .await
        .map_err(|e| err("pg_subscription", e))?
        .is_some();
    if exists {
        c.batch_execute(&format!("ALTER SUBSCRIPTION {sub} DISABLE; ALTER SUBSCRIPTION {sub} SET (slot_name = NONE); DROP SUBSCRIPTION {sub}"))
            .await
            .map_err(|e| err("dropping the subscription", e))?;
    }
    if !tables.is_empty() {
        c.batch_execute(&format!("TRUNCATE {}", tables.join(", ")))
            .await
            .map_err(|e| err("emptying the subscribed tables", e))?;
    }
    let route = state
        .routes
        .get(&format!("pg {}→{target}", m.site))
        .copied()
        .ok_or_else(|| LabError::NotInLab(format!("no proxy route {}→{target}", m.site)))?;
    let sql = dir
        .join("rendered/fly")
        .join(format!("postgres-{}", m.site))
        .join("subscription.sql");
    let copy = m.pg.socket_dir().join("subscription.sql");
    std::fs::copy(&sql, &copy)
        .map_err(|e| LabError::io(format!("cannot copy {}", sql.display()), e))?;
    chown(&copy)?;
    let conninfo = format!(
        "host={} port={} dbname={} user=sovereign_replicator password={} sslmode=disable",
        route.ip(),
        route.port(),
        pg.database,
        pg.replicator_password
    );
    m.pg.psql(&pg.database, &[("conninfo", &conninfo)], Some(&copy), None)?;
    Ok(())
}

/// Rewrites a pgBackRest configuration's `pg1-*` lines for another cluster.
fn repoint_stanza(config: &Path, pg: &Pg) -> Result<(), LabError> {
    let text = std::fs::read_to_string(config)
        .map_err(|e| LabError::io(format!("cannot read {}", config.display()), e))?;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("pg1-path=") {
                format!("pg1-path={}", pg.data.display())
            } else if l.starts_with("pg1-port=") {
                format!("pg1-port={}", pg.port)
            } else if l.starts_with("pg1-socket-path=") {
                format!("pg1-socket-path={}", pg.socket_dir().display())
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(config, out.join("\n") + "\n")
        .map_err(|e| LabError::io(format!("cannot write {}", config.display()), e))
}

/// Waits until every live copy has exactly the primary's rows of `table` (count and checksum).
async fn converge(
    state: &LabState,
    db: &str,
    table: &str,
    timeout: Duration,
) -> Result<Vec<DataCheck>, LabError> {
    let pg = state
        .postgres
        .as_ref()
        .ok_or_else(|| LabError::NotInLab("no PostgreSQL".into()))?;
    let primary = pg
        .members
        .get(&pg.primary)
        .ok_or_else(|| LabError::NotInLab("no primary".into()))?;
    let q = format!(
        "SELECT count(*), COALESCE(md5(string_agg(id::text, ',' ORDER BY id)), '') FROM {table}"
    );
    let pc = connect(primary, db).await?;
    let row = pc
        .query_one(&q, &[])
        .await
        .map_err(|e| err("checksum on the primary", e))?;
    let (rows, sum): (i64, String) = (row.get(0), row.get(1));
    let mut out = vec![DataCheck {
        site: pg.primary.clone(),
        rows,
        matches_primary: true,
    }];
    for m in pg
        .members
        .values()
        .filter(|m| m.site != pg.primary && m.role != "down")
    {
        let c = connect(m, db).await?;
        let start = Instant::now();
        let (r, ok) = loop {
            let row = c
                .query_one(&q, &[])
                .await
                .map_err(|e| err(&format!("checksum at {}", m.site), e))?;
            let (r, s): (i64, String) = (row.get(0), row.get(1));
            if s == sum || start.elapsed() > timeout {
                break (r, s == sum);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        out.push(DataCheck {
            site: m.site.clone(),
            rows: r,
            matches_primary: ok,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Restore

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct RestoreReport {
    pub site: String,
    pub stanza: String,
    pub backup_seconds: f64,
    pub rows_before_target: i64,
    pub rows_after_target: i64,
    pub target_time: String,
    pub restore_seconds: f64,
    pub restored_rows: i64,
    pub checksum_primary: String,
    pub checksum_restored: String,
    pub after_target_rows_restored: i64,
    pub exact: bool,
}

pub fn restore(
    state: &LabState,
    dir: &Path,
    rows: i64,
    progress: &dyn Fn(&str),
) -> Result<RestoreReport, LabError> {
    let rt = rt()?;
    rt.block_on(restore_async(state, dir, rows, progress))
}

async fn restore_async(
    state: &LabState,
    dir: &Path,
    rows: i64,
    progress: &dyn Fn(&str),
) -> Result<RestoreReport, LabError> {
    let pg = state
        .postgres
        .as_ref()
        .ok_or_else(|| LabError::NotInLab("the lab runs no PostgreSQL".into()))?;
    let st = pg
        .stanza
        .clone()
        .ok_or_else(|| LabError::NotInLab("the lab's primary has no pgBackRest stanza".into()))?;
    let primary = pg
        .members
        .get(&pg.primary)
        .ok_or_else(|| LabError::NotInLab("no primary".into()))?
        .clone();
    let db = pg.database.clone();
    // Created on the logical replicas too: rows of a table they lack would stop their apply.
    replicated_table(
        state,
        "public.sovereign_restore",
        "CREATE TABLE IF NOT EXISTS public.sovereign_restore (id bigint PRIMARY KEY, payload text NOT NULL)",
        progress,
    )
    .await?;
    let c = connect(&primary, &db).await?;
    progress(&format!("full backup of {} with pgBackRest…", pg.primary));
    let t = Instant::now();
    st.backup("full")?;
    let backup_seconds = t.elapsed().as_secs_f64();
    let base: i64 = c
        .query_one(
            "SELECT COALESCE(max(id), 0) FROM public.sovereign_restore",
            &[],
        )
        .await
        .map_err(|e| err("max id", e))?
        .get(0);
    progress(&format!(
        "writing {rows} rows, marking the target time, writing {} more…",
        rows / 10 + 1
    ));
    let insert = |from: i64, to: i64| {
        format!(
            "INSERT INTO public.sovereign_restore SELECT g, md5(g::text || ':' || clock_timestamp()::text) FROM generate_series({from}, {to}) g"
        )
    };
    c.batch_execute(&insert(base + 1, base + rows))
        .await
        .map_err(|e| err("writing rows", e))?;
    let before_max = base + rows;
    // The target: a moment after those rows committed and before the next ones.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let target: String = c
        .query_one("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'", &[])
        .await
        .map_err(|e| err("target time", e))?
        .get(0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = rows / 10 + 1;
    c.batch_execute(&insert(before_max + 1, before_max + after))
        .await
        .map_err(|e| err("writing rows", e))?;
    let sum_q = "SELECT count(*), md5(string_agg(id::text || ':' || payload, ',' ORDER BY id)) FROM public.sovereign_restore WHERE id <= $1";
    let row = c
        .query_one(sum_q, &[&before_max])
        .await
        .map_err(|e| err("checksum", e))?;
    let (count_primary, sum_primary): (i64, String) = (row.get(0), row.get(1));
    // Push the WAL with the target and the later rows into the archive.
    st.check()?;

    let scratch_home = dir.join("pg").join("restore-scratch");
    let _ = std::fs::remove_dir_all(&scratch_home);
    std::fs::create_dir_all(scratch_home.join("data"))
        .map_err(|e| LabError::io("cannot create the scratch directory", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(
            scratch_home.join("data"),
            std::fs::Permissions::from_mode(0o700),
        );
    }
    chown(&scratch_home)?;
    let port = process::free_port(&primary.pg.host)?;
    let scratch = Pg {
        name: "restore-scratch".into(),
        data: scratch_home.join("data"),
        host: primary.pg.host.clone(),
        port,
        user: primary.pg.user.clone(),
        password: primary.pg.password.clone(),
        bin: primary.pg.bin.clone(),
        log: scratch_home.join("postgres.log"),
    };
    progress(&format!(
        "point-in-time restore to {target} into a scratch instance…"
    ));
    let t = Instant::now();
    st.restore_into(&scratch.data, &target)?;
    // The restored configuration is the primary's: give the scratch copy its own address and
    // keep it from archiving into the primary's repository.
    scratch.write_conf(&[("archive_mode", "off")])?;
    let result = async {
        scratch.start()?;
        let sc = {
            let start = Instant::now();
            loop {
                match tokio_postgres::connect(&scratch.conninfo(&db), NoTls).await {
                    Ok((c, conn)) => {
                        tokio::spawn(conn);
                        let r: bool = c
                            .query_one("SELECT pg_is_in_recovery()", &[])
                            .await
                            .map_err(|e| err("scratch", e))?
                            .get(0);
                        if !r {
                            break c;
                        }
                    }
                    Err(_) if start.elapsed() < Duration::from_secs(120) => {}
                    Err(e) => return Err(err("the restored instance", e)),
                }
                if start.elapsed() > Duration::from_secs(120) {
                    return Err(LabError::Failed(
                        "the restored instance did not finish recovery in two minutes".into(),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let restore_seconds = t.elapsed().as_secs_f64();
        let row = sc
            .query_one(sum_q, &[&before_max])
            .await
            .map_err(|e| err("checksum on the restore", e))?;
        let (count_r, sum_r): (i64, String) = (row.get(0), row.get(1));
        let after_r: i64 = sc
            .query_one(
                "SELECT count(*) FROM public.sovereign_restore WHERE id > $1",
                &[&before_max],
            )
            .await
            .map_err(|e| err("rows after", e))?
            .get(0);
        Ok::<_, LabError>((restore_seconds, count_r, sum_r, after_r))
    }
    .await;
    scratch.stop();
    let _ = std::fs::remove_dir_all(&scratch_home);
    let (restore_seconds, count_r, sum_r, after_r) = result?;
    Ok(RestoreReport {
        site: pg.primary.clone(),
        stanza: st.name.clone(),
        backup_seconds,
        rows_before_target: count_primary,
        rows_after_target: after,
        target_time: target,
        restore_seconds,
        restored_rows: count_r,
        exact: count_r == count_primary && sum_r == sum_primary && after_r == 0,
        checksum_primary: sum_primary,
        checksum_restored: sum_r,
        after_target_rows_restored: after_r,
    })
}

// ---------------------------------------------------------------------------------------------
// Region loss

#[derive(Clone, Debug, Serialize)]
pub struct RegionLossReport {
    pub site: String,
    /// What was taken away (kill -9, as a region outage looks to the processes).
    pub stopped: Vec<String>,
    pub users: UsersDrill,
}

/// Takes a whole site away — its application, PostgreSQL copy, Redis and Cassandra datacenter —
/// with users in every region, and measures what they see. The site stays down: `lab down` and
/// `lab up` bring the lab back. The primary's site is refused: `drill failover --users` takes it
/// away with a promotion.
pub fn region_loss(
    state: &mut LabState,
    dir: &Path,
    t: &ValidatedTopology,
    catalog: &Catalog,
    site: &str,
    users: &crate::users::UsersOptions,
    progress: &dyn Fn(&str),
) -> Result<RegionLossReport, LabError> {
    let u = state
        .users
        .as_ref()
        .ok_or_else(|| LabError::NotInLab("the lab runs no application tier".into()))?;
    if !u.apps.contains_key(site) {
        return Err(LabError::Invalid(format!(
            "`{site}` is not a serving site of the lab; sites: {}",
            u.apps.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let primary = primary_site(state);
    if primary == site {
        return Err(LabError::Invalid(format!(
            "`{site}` holds the PostgreSQL primary: `sovereign lab drill failover --users` takes it away with a promotion"
        )));
    }
    let a = survivability::assumptions(t, catalog);
    let bg = users_started(state, users, progress)?;
    rt()?.block_on(async {
        progress(&format!(
            "taking {site} away: application, PostgreSQL, Redis, Cassandra (kill -9)…"
        ));
        let killed = Instant::now();
        let killed_unix_ms = unix_ms();
        let mut stopped = Vec::new();
        for p in state
            .procs
            .iter()
            .filter(|p| p.name == format!("application {site}"))
        {
            process::kill9(p);
            stopped.push(format!("application (pid {})", p.pid));
        }
        if let Some(pg) = state.postgres.as_mut()
            && let Some(m) = pg.members.get_mut(site)
        {
            if let Some(pid) = m.pg.kill9() {
                stopped.push(format!("PostgreSQL {} (pid {pid})", m.role));
            }
            m.role = "down".into();
        }
        if let Some(r) = state.redis.get(site) {
            process::kill9(&r.redis.proc);
            stopped.push(format!("Redis (pid {})", r.redis.proc.pid));
        }
        if let Some(c) = &state.cassandra {
            for n in c.nodes.iter().filter(|n| n.spec.dc == site) {
                process::kill9(&n.proc);
                stopped.push(format!("Cassandra {} (pid {})", n.spec.name, n.proc.pid));
            }
        }
        state.save(dir)?;
        progress("waiting for the users to see the end of it…");
        let users = users_outcome(
            state,
            dir,
            bg,
            killed,
            killed_unix_ms,
            site,
            &primary,
            None,
            &a,
            "region-loss",
        )
        .await?;
        Ok(RegionLossReport {
            site: site.to_string(),
            stopped,
            users,
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Cassandra datacenter loss

pub const LEVELS: &[&str] = &[
    "ONE",
    "LOCAL_ONE",
    "LOCAL_QUORUM",
    "QUORUM",
    "EACH_QUORUM",
    "ALL",
];

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct LevelResult {
    pub level: String,
    pub write: bool,
    pub read: bool,
    pub error: Option<String>,
    /// What `plan --lose` predicted for this level, where it predicts one.
    pub predicted: Option<bool>,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct DcResult {
    pub dc: String,
    pub levels: Vec<LevelResult>,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct DcLossReport {
    pub lost: String,
    pub nodes_stopped: usize,
    pub replication: BTreeMap<String, u32>,
    pub datacenters: Vec<DcResult>,
    pub disagreements: Vec<String>,
    /// What the plan says with the topology's own replication factors, when the lab's differ.
    pub topology_note: Option<String>,
    pub restarted: bool,
    /// With users on: what each region saw while the datacenter was down (its site's
    /// application reports itself unhealthy, and the DNS withdraws it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<UsersDrill>,
}

fn consistency(level: &str) -> scylla::statement::Consistency {
    use scylla::statement::Consistency as C;
    match level {
        "ONE" => C::One,
        "LOCAL_ONE" => C::LocalOne,
        "LOCAL_QUORUM" => C::LocalQuorum,
        "QUORUM" => C::Quorum,
        "EACH_QUORUM" => C::EachQuorum,
        _ => C::All,
    }
}

/// What `plan --lose SITE` predicts for the lab (its node counts and replication factors).
pub fn predicted(
    t: &ValidatedTopology,
    catalog: &Catalog,
    lab: &BTreeMap<String, (u32, u32, u32)>,
    site: &str,
) -> BTreeMap<String, [bool; 3]> {
    let mut t2 = t.clone();
    if let Some(c) = t2.cassandra.as_mut() {
        for d in c.datacenters.iter_mut() {
            if let Some((n, rf, _)) = lab.get(d.site.as_str()) {
                d.nodes = *n;
                d.replication_factor = *rf;
            }
        }
    }
    predicted_topology(&t2, catalog, site)
}

/// How a datacenter-loss drill runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct DcLossOptions<'a> {
    /// Leave the datacenter stopped afterwards.
    pub keep_down: bool,
    /// Users in every region through the drill.
    pub users: Option<&'a crate::users::UsersOptions>,
}

pub fn dc_loss(
    state: &mut LabState,
    dir: &Path,
    t: &ValidatedTopology,
    catalog: &Catalog,
    site: &str,
    opts: DcLossOptions<'_>,
    progress: &dyn Fn(&str),
) -> Result<DcLossReport, LabError> {
    let DcLossOptions { keep_down, users } = opts;
    let c = state.cassandra.clone().ok_or_else(|| {
        LabError::NotInLab("the lab runs no Cassandra (started with --without-cassandra?)".into())
    })?;
    if !c.datacenters.contains_key(site) {
        return Err(LabError::Invalid(format!(
            "`{site}` is not a Cassandra datacenter of the lab; datacenters: {}",
            c.datacenters.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let creds: serde_json::Value =
        std::fs::read_to_string(dir.join(crate::outputs::CASSANDRA_CREDENTIALS))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| {
                LabError::NotInLab("cannot read the lab's Cassandra credentials".into())
            })?;
    let (user, pw) = (
        creds["username"].as_str().unwrap_or("").to_string(),
        creds["password"].as_str().unwrap_or("").to_string(),
    );
    let predicted = predicted(t, catalog, &c.datacenters, site);
    let ks = c.keyspace.clone();
    let rf: BTreeMap<String, u32> = c
        .datacenters
        .iter()
        .map(|(dc, (_, rf, _))| (dc.clone(), *rf))
        .collect();
    let first = c
        .nodes
        .iter()
        .find(|n| n.spec.dc != site)
        .ok_or_else(|| LabError::NotInLab("no datacenter would be left".into()))?
        .clone();
    cassandra::block_on(async {
        let s = cassandra::session(&first.spec, &user, &pw, Duration::from_secs(30)).await?;
        s.query_unpaged(
            format!(
                "CREATE TABLE IF NOT EXISTS \"{ks}\".sovereign_drill (id int PRIMARY KEY, v text)"
            ),
            (),
        )
        .await
        .map_err(|e| LabError::client("cannot create the drill table", e))?;
        Ok::<_, LabError>(())
    })??;
    let lost_nodes: Vec<cassandra::Node> = c
        .nodes
        .iter()
        .filter(|n| n.spec.dc == site)
        .cloned()
        .collect();
    let bg = users
        .map(|u| users_started(state, u, progress))
        .transpose()?;
    progress(&format!(
        "stopping datacenter {site} ({} node(s))…",
        lost_nodes.len()
    ));
    let killed = Instant::now();
    let killed_unix_ms = unix_ms();
    for n in &lost_nodes {
        n.stop();
    }
    // Surviving nodes learn of the shutdown through gossip; give them a moment.
    std::thread::sleep(Duration::from_secs(3));
    let mut datacenters = Vec::new();
    let mut disagreements = Vec::new();
    for dc in c.datacenters.keys().filter(|d| *d != site) {
        let node = c
            .nodes
            .iter()
            .find(|n| &n.spec.dc == dc)
            .ok_or_else(|| LabError::NotInLab(format!("no node in {dc}")))?
            .clone();
        progress(&format!("trying every consistency level from {dc}…"));
        let levels = cassandra::block_on(probe_levels(&node, dc, &ks, &user, &pw))??;
        let mut out = Vec::new();
        for (level, write, read, error) in levels {
            let p = predicted.get(dc).and_then(|p| match level.as_str() {
                "LOCAL_QUORUM" => Some(p[0]),
                "QUORUM" => Some(p[1]),
                "EACH_QUORUM" => Some(p[2]),
                _ => None,
            });
            if let Some(p) = p
                && p != (write && read)
            {
                disagreements.push(format!(
                    "{level} from {dc}: plan predicts {}, the lab {}",
                    if p { "success" } else { "failure" },
                    if write && read { "succeeded" } else { "failed" }
                ));
            }
            out.push(LevelResult {
                level,
                write,
                read,
                error,
                predicted: p,
            });
        }
        datacenters.push(DcResult {
            dc: dc.clone(),
            levels: out,
        });
    }
    // With the topology's own factors, does the plan say the same?
    let own = {
        let lab_equals_topology = c.datacenters.values().all(|(_, rf, want)| rf == want);
        if lab_equals_topology {
            None
        } else {
            let p2 = predicted_topology(t, catalog, site);
            let same = p2 == predicted;
            Some(if same {
                "with the topology's own replication factors the plan predicts the same for every level".to_string()
            } else {
                format!(
                    "with the topology's own replication factors the plan predicts differently ({}); run the lab with --cassandra-nodes {} to drill that",
                    p2.iter()
                        .map(|(dc, p)| format!(
                            "{dc}: LOCAL_QUORUM {} QUORUM {} EACH_QUORUM {}",
                            ok(p[0]),
                            ok(p[1]),
                            ok(p[2])
                        ))
                        .collect::<Vec<_>>()
                        .join("; "),
                    c.datacenters
                        .values()
                        .map(|(_, _, w)| *w)
                        .max()
                        .unwrap_or(3)
                )
            })
        }
    };
    // The users' view, while the datacenter is still down.
    let users = match bg {
        Some(bg) => {
            progress("waiting for the users to see the end of it…");
            let primary = primary_site(state);
            let a = survivability::assumptions(t, catalog);
            Some(rt()?.block_on(users_outcome(
                state,
                dir,
                bg,
                killed,
                killed_unix_ms,
                site,
                &primary,
                None,
                &a,
                "dc-loss",
            ))?)
        }
        None => None,
    };
    let mut restarted = false;
    if !keep_down {
        progress(&format!("restarting datacenter {site}…"));
        for n in &lost_nodes {
            restart_node(state, dir, n)?;
        }
        restarted = true;
    }
    Ok(DcLossReport {
        lost: site.to_string(),
        nodes_stopped: lost_nodes.len(),
        replication: rf,
        datacenters,
        disagreements,
        topology_note: own,
        restarted,
        users,
    })
}

fn ok(b: bool) -> &'static str {
    if b { "ok" } else { "fails" }
}

/// LOCAL_QUORUM, QUORUM and EACH_QUORUM per surviving datacenter, as `plan --lose SITE` says.
fn predicted_topology(
    t: &ValidatedTopology,
    catalog: &Catalog,
    site: &str,
) -> BTreeMap<String, [bool; 3]> {
    let a = survivability::assumptions(t, catalog);
    let sc = survivability::scenario(
        t,
        catalog,
        &a,
        Loss::Site {
            site: site.to_string(),
        },
    );
    sc.cassandra
        .iter()
        .map(|d| {
            (
                d.dc.clone(),
                [d.local_quorum.ok, d.quorum.ok, d.each_quorum.ok],
            )
        })
        .collect()
}

type Probe = (String, bool, bool, Option<String>);

async fn probe_levels(
    node: &cassandra::Node,
    dc: &str,
    ks: &str,
    user: &str,
    pw: &str,
) -> Result<Vec<Probe>, LabError> {
    use scylla::policies::load_balancing::DefaultPolicy;
    // The coordinator is a node of this datacenter: only its nodes are contacted.
    let policy = DefaultPolicy::builder()
        .prefer_datacenter(dc.to_string())
        .permit_dc_failover(false)
        .build();
    let profile = scylla::client::execution_profile::ExecutionProfile::builder()
        .load_balancing_policy(policy)
        .request_timeout(Some(Duration::from_secs(6)))
        .build();
    let s = scylla::client::session_builder::SessionBuilder::new()
        .known_node(format!("{}:{}", node.spec.listen, node.spec.native_port))
        .user(user, pw)
        .default_execution_profile_handle(profile.into_handle())
        .build()
        .await
        .map_err(|e| LabError::client(format!("cannot connect to Cassandra in {dc}"), e))?;
    let mut out = Vec::new();
    for (i, level) in LEVELS.iter().enumerate() {
        let mut w = scylla::statement::Statement::new(format!(
            "INSERT INTO \"{ks}\".sovereign_drill (id, v) VALUES (?, ?)"
        ));
        w.set_consistency(consistency(level));
        let id = i as i32;
        let wr = s.query_unpaged(w, (id, format!("{dc} {level}"))).await;
        let mut r = scylla::statement::Statement::new(format!(
            "SELECT v FROM \"{ks}\".sovereign_drill WHERE id = ?"
        ));
        r.set_consistency(consistency(level));
        let rr = s.query_unpaged(r, (id,)).await;
        let error = match (&wr, &rr) {
            (Err(e), _) | (_, Err(e)) => Some(short(&e.to_string())),
            _ => None,
        };
        out.push((level.to_string(), wr.is_ok(), rr.is_ok(), error));
    }
    Ok(out)
}

fn short(s: &str) -> String {
    // Cassandra's Unavailable error, in its own terms: "(consistency: X, required: N, alive: M)".
    if let Some(i) = s.find("required: ")
        && let Some(rest) = s.get(i..)
        && let Some(end) = rest.find(')')
    {
        return format!("unavailable: {}", &rest[..end]);
    }
    let s = s.lines().next().unwrap_or(s);
    match s.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Starts a stopped node again with its configuration and data, waits for CQL, and records
/// its new PID in the lab's state.
fn restart_node(state: &mut LabState, dir: &Path, n: &cassandra::Node) -> Result<(), LabError> {
    let c = state
        .cassandra
        .as_ref()
        .ok_or_else(|| LabError::NotInLab("no Cassandra".into()))?;
    let seeds: Vec<(std::net::IpAddr, u16)> = c
        .datacenters
        .keys()
        .filter_map(|dc| c.nodes.iter().find(|x| &x.spec.dc == dc))
        .map(|x| (x.spec.broadcast, x.spec.storage_port))
        .collect();
    let base = n.dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let fresh = cassandra::start(&base, &c.cluster, &n.spec, &seeds, c.nodes.len(), 256)?;
    for p in state.procs.iter_mut().filter(|p| p.pid == n.proc.pid) {
        *p = fresh.proc.clone();
    }
    if let Some(cs) = state.cassandra.as_mut() {
        for x in cs.nodes.iter_mut().filter(|x| x.spec.name == n.spec.name) {
            x.proc = fresh.proc.clone();
        }
    }
    state.save(dir)?;
    cassandra::wait_ready(&fresh, Duration::from_secs(300))
}

// ---------------------------------------------------------------------------------------------
// Partition

/// The file the lab's proxy reads for cut links ([`crate::proxy::ProxyConfig::partition_file`]):
/// a JSON list of site pairs.
pub const PARTITION_FILE: &str = "partition.json";

/// What one region's users saw while two sites could not reach each other.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct PartitionRegion {
    pub region: String,
    /// Sites that answered this region while the link was cut.
    pub sites: Vec<String>,
    pub reads: usize,
    pub reads_failed: usize,
    pub writes: usize,
    pub writes_failed: usize,
    /// Last success before the first failure → first success after the last failure.
    pub read_outage_seconds: f64,
    pub write_outage_seconds: f64,
    pub errors: BTreeMap<String, usize>,
    /// Still failing when the users stopped, after the link was back.
    pub still_failing: bool,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct PartitionReport {
    pub sites: (String, String),
    /// How long the link was cut.
    pub seconds: f64,
    /// The PostgreSQL primary during the partition.
    pub primary: String,
    pub rate_per_region: f64,
    pub regions: Vec<PartitionRegion>,
}

/// Writes the partition file the proxy reads; an empty list heals every link.
fn set_partition(dir: &Path, cut: &[(&str, &str)]) -> Result<(), LabError> {
    let text = serde_json::to_string(cut).map_err(|e| LabError::json("the partition file", e))?;
    crate::trust::write_private(&dir.join(PARTITION_FILE), text.as_bytes())
}

/// Heals every link when dropped: a drill that fails half-way leaves no partition behind.
struct Heal<'a>(&'a Path);

impl Drop for Heal<'_> {
    fn drop(&mut self) {
        let _ = set_partition(self.0, &[]);
    }
}

/// Cuts the link between two sites in the lab's proxy (every route between them: PostgreSQL,
/// Cassandra, Redis replication, remote write) for `seconds`, with users in every region, then heals it and
/// reports what each region's users saw. Users still reach their own site: only the sites
/// cannot reach each other.
pub fn partition(
    state: &mut LabState,
    dir: &Path,
    sites: (&str, &str),
    seconds: f64,
    users: &crate::users::UsersOptions,
    progress: &dyn Fn(&str),
) -> Result<PartitionReport, LabError> {
    let (a, b) = sites;
    let known: Vec<String> = state
        .postgres
        .as_ref()
        .map(|p| p.members.keys().cloned().collect())
        .unwrap_or_default();
    for s in [a, b] {
        if !known.iter().any(|k| k == s) {
            return Err(LabError::Invalid(format!(
                "`{s}` is not a site of the lab; sites: {}",
                known.join(", ")
            )));
        }
    }
    if a == b {
        return Err(LabError::Invalid(format!(
            "a partition needs two different sites, not `{a}` twice"
        )));
    }
    if !(seconds.is_finite() && (1.0..=600.0).contains(&seconds)) {
        return Err(LabError::Invalid(format!(
            "--seconds {seconds}: give a number from 1 to 600"
        )));
    }
    let primary = primary_site(state);
    let heal = Heal(dir);
    let bg = users_started(state, users, progress)?;
    let (run, regions, cut_at, heal_at) = rt()?.block_on(async {
        progress(&format!(
            "cutting the link between {a} and {b} for {seconds} s…"
        ));
        set_partition(dir, &[(a, b)])?;
        let cut_at = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        progress("healing the link…");
        set_partition(dir, &[])?;
        let heal_at = Instant::now();
        // Long enough for connections to come back and every region to be seen recovering.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let regions: Vec<String> = bg.plan.regions.iter().map(|r| r.region.clone()).collect();
        let run = bg.finish()?;
        Ok::<_, LabError>((run, regions, cut_at, heal_at))
    })?;
    drop(heal);
    // On the users' clock, which starts when their run does.
    let cut_from = cut_at.saturating_duration_since(run.start);
    let heal_from = heal_at.saturating_duration_since(run.start);
    use crate::users::{self, Kind};
    let report = regions
        .iter()
        .enumerate()
        .map(|(i, region)| {
            let during: Vec<&users::Outcome> = run
                .outcomes
                .iter()
                .filter(|o| o.region == i && o.due >= cut_from && o.due < heal_from)
                .collect();
            let count = |k: Kind, failed: bool| {
                during
                    .iter()
                    .filter(|o| o.kind == k && (!failed || o.result.is_err()))
                    .count()
            };
            let mut errors = BTreeMap::new();
            for o in &during {
                if let Err(e) = &o.result {
                    *errors.entry(e.clone()).or_insert(0) += 1;
                }
            }
            PartitionRegion {
                region: region.clone(),
                sites: users::sites_between(&run, i, cut_from, heal_from),
                reads: count(Kind::Read, false),
                reads_failed: count(Kind::Read, true),
                writes: count(Kind::Write, false),
                writes_failed: count(Kind::Write, true),
                read_outage_seconds: users::outage(&run, i, Some(Kind::Read), cut_from),
                write_outage_seconds: users::outage(&run, i, Some(Kind::Write), cut_from),
                errors,
                still_failing: users::failing_at_end(&run, i, None),
            }
        })
        .collect();
    Ok(PartitionReport {
        sites: (a.to_string(), b.to_string()),
        seconds,
        primary,
        rate_per_region: users.rate,
        regions: report,
    })
}
