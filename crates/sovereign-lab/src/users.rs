//! Virtual users in every region: `lab load --users` and the drills' users.
//!
//! Each user region sends requests at a fixed arrival rate (open loop: request `i` is due at
//! `start + i / rate` whether or not earlier ones have answered), from its own source address on
//! loopback. A request resolves the API name through the lab DNS, honouring the answer's TTL (one
//! query per region per TTL), reaches the chosen site's front on the latency proxy, which delays
//! it by the round trip from the region to that site, and calls the reference application
//! ([`crate::app`]): a read of a seeded item, or a write. Latency is measured from the time the
//! request was due, not from when it was sent, so a stalled client or server cannot hide its own
//! queueing (coordinated omission). Latencies go into HDR histograms per region and kind.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::LabError;
use crate::state::LabState;

/// Seeded items reads ask for: ids -1 … -SEED_ITEMS.
pub const SEED_ITEMS: i64 = 1000;
/// Arrivals a second per region, at most.
pub const MAX_RATE: f64 = 2000.0;
/// Seconds of load, at most.
pub const MAX_DURATION: f64 = 3600.0;
/// Requests allowed in flight per region before new ones fail without being sent.
const MAX_IN_FLIGHT: usize = 5000;

#[derive(Clone, Debug, Serialize)]
pub struct UserRegion {
    pub region: String,
    pub source: IpAddr,
}

/// What the users do and where: everything the generator needs, the lab's or a test's.
#[derive(Clone, Debug)]
pub struct UsersPlan {
    pub dns: SocketAddr,
    pub name: String,
    /// The port every site's front listens on.
    pub port: u16,
    /// Answer address → site.
    pub sites: BTreeMap<Ipv4Addr, String>,
    pub regions: Vec<UserRegion>,
    /// Arrivals a second, per region.
    pub rate: f64,
    pub duration: Duration,
    /// Percent of requests that write.
    pub write_percent: u32,
    /// Per-request timeout.
    pub timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Read,
    Write,
}

/// One request as the user saw it. Times are from the start of the run.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub region: usize,
    pub kind: Kind,
    pub due: Duration,
    pub done: Duration,
    pub site: Option<String>,
    /// The written id for an acknowledged write; the error's kind for a failure.
    pub result: Result<Option<i64>, String>,
}

/// A finished run: every outcome, and how many DNS queries each region sent.
pub struct UsersRun {
    pub start: Instant,
    pub outcomes: Vec<Outcome>,
    pub dns_queries: Vec<usize>,
    /// Requests actually sent: the arrival schedule, for the achieved rate.
    pub sent: usize,
    /// The last request's start, from the start of the run.
    pub last_start: Duration,
    /// How late requests were sent after they were due, p99, milliseconds.
    pub late_p99_ms: f64,
    pub seconds: f64,
}

/// Live figures for a progress line.
pub struct Progress {
    pub elapsed: f64,
    pub sent: usize,
    pub ok: usize,
    pub failed: usize,
}

struct Region {
    idx: usize,
    source: IpAddr,
    http: reqwest::Client,
    /// The cached answer and when it expires.
    cached: tokio::sync::Mutex<Option<(Vec<Ipv4Addr>, Instant)>>,
    queries: AtomicUsize,
    in_flight: AtomicUsize,
}

/// Whether request `i` writes, spreading `percent` writes evenly.
fn is_write(i: u64, percent: u32) -> bool {
    let p = u64::from(percent.min(100));
    (i * p) / 100 != ((i + 1) * p) / 100
}

async fn address(plan: &UsersPlan, r: &Region, i: u64) -> Result<Ipv4Addr, String> {
    let mut g = r.cached.lock().await;
    let now = Instant::now();
    let ips = match g.as_ref() {
        Some((ips, until)) if *until > now => ips.clone(),
        _ => {
            r.queries.fetch_add(1, Ordering::Relaxed);
            let (ips, ttl) =
                crate::dns::resolve(plan.dns, r.source, &plan.name, Duration::from_millis(1000))
                    .await
                    .map_err(|_| "dns".to_string())?;
            *g = Some((ips.clone(), now + Duration::from_secs(u64::from(ttl))));
            ips
        }
    };
    Ok(ips[(i as usize) % ips.len()])
}

/// The error kind of an answer that is not a success: `http_<status>` and the application's
/// `error` field when it gives one.
async fn failure(resp: reqwest::Response) -> String {
    let status = resp.status().as_u16();
    let kind = resp
        .json::<serde_json::Value>()
        .await
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string));
    match kind {
        Some(k) => format!("http_{status} {k}"),
        None => format!("http_{status}"),
    }
}

fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else {
        "transport".into()
    }
}

async fn one(
    plan: &UsersPlan,
    r: &Region,
    i: u64,
) -> (Option<String>, Result<Option<i64>, String>) {
    let ip = match address(plan, r, i).await {
        Ok(ip) => ip,
        Err(e) => return (None, Err(e)),
    };
    let site = plan.sites.get(&ip).cloned();
    let base = format!("http://{ip}:{}", plan.port);
    let req = if is_write(i, plan.write_percent) {
        r.http
            .post(format!("{base}/v1/items"))
            .body(format!("region {} request {i}", r.idx))
    } else {
        let id = -(1 + ((i as i64).wrapping_mul(7919)).rem_euclid(SEED_ITEMS));
        r.http.get(format!("{base}/v1/items/{id}"))
    };
    let resp = req
        .header(reqwest::header::HOST, plan.name.as_str())
        .send()
        .await;
    let result = match resp {
        Ok(resp) if resp.status().is_success() => {
            let v: serde_json::Value = match resp.json().await {
                Ok(v) => v,
                Err(e) => return (site, Err(transport(&e))),
            };
            Ok(v["id"].as_i64())
        }
        Ok(resp) => Err(failure(resp).await),
        Err(e) => Err(transport(&e)),
    };
    (site, result)
}

/// Runs the users until `duration` has passed or `stop` is set; reports progress every second.
pub async fn run(
    plan: &UsersPlan,
    stop: Arc<AtomicBool>,
    progress: &dyn Fn(&Progress),
) -> Result<UsersRun, LabError> {
    let plan = Arc::new(plan.clone());
    let mut regions = Vec::new();
    for (idx, r) in plan.regions.iter().enumerate() {
        let http = reqwest::Client::builder()
            .local_address(r.source)
            .no_proxy()
            .http1_only()
            .timeout(plan.timeout)
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| LabError::client("cannot build the HTTP client", e))?;
        regions.push(Arc::new(Region {
            idx,
            source: r.source,
            http,
            cached: tokio::sync::Mutex::new(None),
            queries: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
        }));
    }
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::new(Mutex::new(Vec::new()));
    let (sent, ok, failed) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let late: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(Vec::new()));
    let last_start = Arc::new(Mutex::new(Duration::ZERO));
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / plan.rate);
    let total = (plan.duration.as_secs_f64() * plan.rate).round() as u64;
    let mut schedulers = Vec::new();
    for r in &regions {
        let (r, plan, outcomes, stop) = (r.clone(), plan.clone(), outcomes.clone(), stop.clone());
        let (sent, ok, failed, late, last_start) = (
            sent.clone(),
            ok.clone(),
            failed.clone(),
            late.clone(),
            last_start.clone(),
        );
        schedulers.push(tokio::spawn(async move {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..total {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let due = start + interval.mul_f64(i as f64);
                tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
                let now = Instant::now();
                if let Ok(mut l) = late.lock() {
                    l.push(now.saturating_duration_since(due).as_secs_f64() * 1000.0);
                }
                if let Ok(mut l) = last_start.lock() {
                    *l = (*l).max(now - start);
                }
                sent.fetch_add(1, Ordering::Relaxed);
                let kind = if is_write(i, plan.write_percent) {
                    Kind::Write
                } else {
                    Kind::Read
                };
                if r.in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT {
                    failed.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut o) = outcomes.lock() {
                        o.push(Outcome {
                            region: r.idx,
                            kind,
                            due: due - start,
                            done: now - start,
                            site: None,
                            result: Err("client_overload".into()),
                        });
                    }
                    continue;
                }
                r.in_flight.fetch_add(1, Ordering::Relaxed);
                let (r, plan, outcomes, ok, failed) = (
                    r.clone(),
                    plan.clone(),
                    outcomes.clone(),
                    ok.clone(),
                    failed.clone(),
                );
                tasks.spawn(async move {
                    let (site, result) = one(&plan, &r, i).await;
                    let done = start.elapsed();
                    r.in_flight.fetch_sub(1, Ordering::Relaxed);
                    if result.is_ok() {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Ok(mut o) = outcomes.lock() {
                        o.push(Outcome {
                            region: r.idx,
                            kind,
                            due: due - start,
                            done,
                            site,
                            result,
                        });
                    }
                });
                while tasks.try_join_next().is_some() {}
            }
            while tasks.join_next().await.is_some() {}
        }));
    }
    let all = async {
        for s in schedulers {
            let _ = s.await;
        }
    };
    tokio::pin!(all);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = &mut all => break,
            _ = tick.tick() => progress(&Progress {
                elapsed: start.elapsed().as_secs_f64(),
                sent: sent.load(Ordering::Relaxed),
                ok: ok.load(Ordering::Relaxed),
                failed: failed.load(Ordering::Relaxed),
            }),
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut late = late.lock().map(|l| l.clone()).unwrap_or_default();
    late.sort_by(f64::total_cmp);
    let mut outcomes = outcomes.lock().map(|o| o.clone()).unwrap_or_default();
    outcomes.sort_by_key(|o| (o.region, o.due));
    Ok(UsersRun {
        start,
        outcomes,
        dns_queries: regions
            .iter()
            .map(|r| r.queries.load(Ordering::Relaxed))
            .collect(),
        sent: sent.load(Ordering::Relaxed),
        last_start: last_start.lock().map(|l| *l).unwrap_or_default(),
        late_p99_ms: crate::load::quantile(&late, 0.99),
        seconds,
    })
}

#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Latency {
    pub requests: usize,
    pub ok: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

fn latency(durations_us: impl Iterator<Item = (bool, u64)>) -> Latency {
    let mut l = Latency::default();
    // Microseconds from 1 µs to an hour at three significant figures (bounds that are valid,
    // so this cannot fail); anything longer is counted as an hour.
    let Ok(mut h) = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3) else {
        return l;
    };
    for (ok, us) in durations_us {
        l.requests += 1;
        if ok {
            l.ok += 1;
            h.saturating_record(us.max(1));
        }
    }
    if l.ok > 0 {
        let ms = |v: u64| v as f64 / 1000.0;
        l.p50_ms = ms(h.value_at_quantile(0.5));
        l.p95_ms = ms(h.value_at_quantile(0.95));
        l.p99_ms = ms(h.value_at_quantile(0.99));
        l.max_ms = ms(h.max());
    }
    l
}

/// Requests a second per region over the schedule: the first is sent at 0, the last at
/// `last_start`.
pub fn achieved_rate(run: &UsersRun, regions: usize) -> f64 {
    let per_region = run.sent as f64 / regions.max(1) as f64;
    if per_region < 2.0 {
        return per_region;
    }
    (per_region - 1.0) / run.last_start.as_secs_f64().max(1e-9)
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct RegionReport {
    pub region: String,
    /// Requests answered by each site.
    pub sites: BTreeMap<String, usize>,
    pub reads: Latency,
    pub writes: Latency,
    /// Successful requests a second.
    pub throughput: f64,
    pub errors: BTreeMap<String, usize>,
    pub dns_queries: usize,
    pub acknowledged_writes: usize,
    /// Acknowledged writes the primary does not have at the end (checked by the lab).
    pub lost_acknowledged_writes: Option<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct UsersReport {
    pub rate_per_region: f64,
    pub write_percent: u32,
    pub seconds: f64,
    pub sent: usize,
    /// Requests sent a second per region, over the schedule.
    pub rate_achieved_per_region: f64,
    pub late_p99_ms: f64,
    pub latency_scale: f64,
    pub dns_ttl_seconds: u32,
    pub regions: Vec<RegionReport>,
}

/// Per-region figures of a run.
pub fn summarise(plan: &UsersPlan, run: &UsersRun) -> Vec<RegionReport> {
    plan.regions
        .iter()
        .enumerate()
        .map(|(idx, r)| {
            let mine: Vec<&Outcome> = run.outcomes.iter().filter(|o| o.region == idx).collect();
            let lat = |k: Kind| {
                latency(mine.iter().filter(|o| o.kind == k).map(|o| {
                    (
                        o.result.is_ok(),
                        o.done.saturating_sub(o.due).as_micros() as u64,
                    )
                }))
            };
            let mut sites = BTreeMap::new();
            let mut errors = BTreeMap::new();
            for o in &mine {
                if let Some(s) = &o.site
                    && o.result.is_ok()
                {
                    *sites.entry(s.clone()).or_insert(0) += 1;
                }
                if let Err(e) = &o.result {
                    *errors.entry(e.clone()).or_insert(0) += 1;
                }
            }
            let ok = mine.iter().filter(|o| o.result.is_ok()).count();
            RegionReport {
                region: r.region.clone(),
                sites,
                reads: lat(Kind::Read),
                writes: lat(Kind::Write),
                throughput: ok as f64 / run.seconds.max(1e-9),
                errors,
                dns_queries: run.dns_queries.get(idx).copied().unwrap_or(0),
                acknowledged_writes: mine
                    .iter()
                    .filter(|o| o.kind == Kind::Write && matches!(o.result, Ok(Some(_))))
                    .count(),
                lost_acknowledged_writes: None,
            }
        })
        .collect()
}

/// The ids of every acknowledged write, by region.
pub fn acknowledged(run: &UsersRun, regions: usize) -> Vec<Vec<i64>> {
    let mut v = vec![Vec::new(); regions];
    for o in &run.outcomes {
        if o.kind == Kind::Write
            && let Ok(Some(id)) = o.result
            && let Some(r) = v.get_mut(o.region)
        {
            r.push(id);
        }
    }
    v
}

// ---------------------------------------------------------------------------------------------
// In the lab

#[derive(Clone, Debug)]
pub struct UsersOptions {
    pub rate: f64,
    pub duration: Duration,
    /// Only these user regions (site ids); all by default.
    pub regions: Vec<String>,
    pub write_percent: u32,
}

impl UsersOptions {
    /// Users during a drill: every region at `rate`, one request in five a write, running
    /// until the drill stops them.
    pub fn during_drill(rate: f64) -> UsersOptions {
        UsersOptions {
            rate,
            duration: Duration::from_secs(3600),
            regions: Vec::new(),
            write_percent: 20,
        }
    }
}

/// Checks the options against the lab and builds the plan.
pub fn plan(state: &LabState, o: &UsersOptions) -> Result<UsersPlan, LabError> {
    if !(o.rate.is_finite() && o.rate > 0.0 && o.rate <= MAX_RATE) {
        return Err(LabError::Invalid(format!(
            "--rate {} is not a number of requests a second per region above 0 and at most {MAX_RATE}",
            o.rate
        )));
    }
    let secs = o.duration.as_secs_f64();
    if !(secs > 0.0 && secs <= MAX_DURATION) {
        return Err(LabError::Invalid(format!(
            "--duration {secs} is not above 0 and at most {MAX_DURATION} seconds"
        )));
    }
    if o.write_percent > 100 {
        return Err(LabError::Invalid(format!(
            "--write-percent {} is not between 0 and 100",
            o.write_percent
        )));
    }
    let u = state.users.as_ref().ok_or_else(|| {
        LabError::NotInLab(
            "this lab runs no application tier (its topology has no [application] or no [dns]): `lab load` without --users measures replication instead".into(),
        )
    })?;
    let known: Vec<&str> = u.regions.iter().map(|r| r.region.as_str()).collect();
    for r in &o.regions {
        if !known.contains(&r.as_str()) {
            return Err(LabError::Invalid(format!(
                "`{r}` is not a user region of this lab; regions: {}",
                known.join(", ")
            )));
        }
    }
    Ok(UsersPlan {
        dns: u.dns,
        name: u.name.clone(),
        port: u.port,
        sites: u.fronts.iter().map(|(s, ip)| (*ip, s.clone())).collect(),
        regions: u
            .regions
            .iter()
            .filter(|r| o.regions.is_empty() || o.regions.contains(&r.region))
            .map(|r| UserRegion {
                region: r.region.clone(),
                source: r.source,
            })
            .collect(),
        rate: o.rate,
        duration: o.duration,
        write_percent: o.write_percent,
        timeout: Duration::from_secs(10),
    })
}

/// The seeded items reads ask for, on the primary, visible on every copy.
pub async fn seed(state: &LabState) -> Result<(), LabError> {
    let (pg, primary) = state.pg_primary()?;
    let c = crate::load::connect(primary, &pg.database).await?;
    c.execute(
        "INSERT INTO public.sovereign_app_items (id, body, site) SELECT -g, 'seeded item ' || g, 'seed' FROM generate_series(1, $1::bigint) AS g ON CONFLICT (id) DO NOTHING",
        &[&SEED_ITEMS],
    )
    .await
    .map_err(|e| LabError::postgres("cannot seed the items", e))?;
    // Every copy that runs: one a drill took down serves nobody.
    for m in pg
        .members
        .values()
        .filter(|m| m.site != pg.primary && m.role != "down" && m.pg.pid().is_some())
    {
        let start = Instant::now();
        loop {
            let n: i64 = match crate::load::connect(m, &pg.database).await {
                Ok(r) => r
                    .query_one(
                        "SELECT count(*) FROM public.sovereign_app_items WHERE id < 0",
                        &[],
                    )
                    .await
                    .map(|row| row.get(0))
                    .unwrap_or(0),
                Err(_) => 0,
            };
            if n >= SEED_ITEMS {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(LabError::Failed(format!(
                    "the seeded items did not reach {} in a minute ({n} of {SEED_ITEMS})",
                    m.site
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// How many of `ids` the current primary does not have.
pub async fn lost(state: &LabState, ids: &[i64]) -> Result<usize, LabError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let (pg, primary) = state.pg_primary()?;
    let c = crate::load::connect(primary, &pg.database).await?;
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM public.sovereign_app_items WHERE id = ANY($1)",
            &[&ids],
        )
        .await
        .map_err(|e| LabError::postgres("cannot check the writes", e))?
        .get(0);
    Ok(ids.len().saturating_sub(n as usize))
}

/// `lab load --users`: seeds, runs, and reports per region with lost writes checked.
pub fn load(
    state: &LabState,
    o: &UsersOptions,
    progress: &dyn Fn(&Progress),
) -> Result<UsersReport, LabError> {
    let plan = plan(state, o)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| LabError::io("runtime", e))?;
    rt.block_on(async {
        seed(state).await?;
        settle_dns(state, Duration::from_secs(10)).await;
        let run = run(&plan, Arc::new(AtomicBool::new(false)), progress).await?;
        report(state, &plan, &run).await
    })
}

/// The sites the routing DNS has withdrawn now, from its events file (the last transition of
/// each site).
pub fn withdrawn(state: &LabState) -> Vec<String> {
    let Some(u) = &state.users else {
        return Vec::new();
    };
    let mut last: BTreeMap<String, bool> = BTreeMap::new();
    for e in crate::dns::read_events(&u.events) {
        last.insert(e.site, e.healthy);
    }
    last.into_iter()
        .filter(|(_, healthy)| !healthy)
        .map(|(s, _)| s)
        .collect()
}

/// Waits, at most `limit`, for the DNS to answer every site again: a site withdrawn by a
/// passing hiccup (a slow probe on a busy machine) would otherwise send its region's users
/// elsewhere for the whole run. A site that stays down stays withdrawn, and the report says
/// where each region was served.
async fn settle_dns(state: &LabState, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while !withdrawn(state).is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The report of a run, with every acknowledged write checked on the primary.
pub async fn report(
    state: &LabState,
    plan: &UsersPlan,
    run: &UsersRun,
) -> Result<UsersReport, LabError> {
    let mut regions = summarise(plan, run);
    let acked = acknowledged(run, plan.regions.len());
    for (r, ids) in regions.iter_mut().zip(acked.iter()) {
        r.lost_acknowledged_writes = Some(lost(state, ids).await?);
    }
    Ok(UsersReport {
        rate_per_region: plan.rate,
        write_percent: plan.write_percent,
        seconds: run.seconds,
        sent: run.sent,
        rate_achieved_per_region: achieved_rate(run, plan.regions.len()),
        late_p99_ms: run.late_p99_ms,
        latency_scale: state.latency_scale,
        dns_ttl_seconds: state.users.as_ref().map_or(0, |u| u.ttl_seconds),
        regions,
    })
}

/// What users of one region saw around an instant (a drill's kill), in seconds: from the last
/// success before the first failure to the first success after the last failure, counting the
/// requests of `kind` (all when `None`) that finished after the instant. Zero when none failed.
pub fn outage(run: &UsersRun, region: usize, kind: Option<Kind>, from: Duration) -> f64 {
    let mine: Vec<&Outcome> = run
        .outcomes
        .iter()
        .filter(|o| o.region == region && kind.is_none_or(|k| o.kind == k))
        .collect();
    let failed: Vec<&&Outcome> = mine
        .iter()
        .filter(|o| o.result.is_err() && o.done >= from)
        .collect();
    let (Some(first), Some(last)) = (
        failed.iter().map(|o| o.due).min(),
        failed.iter().map(|o| o.due).max(),
    ) else {
        return 0.0;
    };
    let before = mine
        .iter()
        .filter(|o| o.result.is_ok() && o.due <= first)
        .map(|o| o.done)
        .max()
        .unwrap_or(first);
    let after = mine
        .iter()
        .filter(|o| o.result.is_ok() && o.due > last)
        .map(|o| o.done)
        .min()
        .unwrap_or(run.last_start.max(last));
    after.saturating_sub(before).as_secs_f64()
}

/// Whether users of a region were still failing when the run ended.
pub fn failing_at_end(run: &UsersRun, region: usize, kind: Option<Kind>) -> bool {
    run.outcomes
        .iter()
        .filter(|o| o.region == region && kind.is_none_or(|k| o.kind == k))
        .max_by_key(|o| o.due)
        .is_some_and(|o| o.result.is_err())
}

/// Sites that answered a region's requests in a window of the run.
pub fn sites_between(run: &UsersRun, region: usize, from: Duration, to: Duration) -> Vec<String> {
    let mut v: Vec<String> = run
        .outcomes
        .iter()
        .filter(|o| o.region == region && o.result.is_ok() && o.due >= from && o.due < to)
        .filter_map(|o| o.site.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Users running on their own thread and runtime while a drill works on the lab.
pub struct Background {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Result<UsersRun, LabError>>,
    pub plan: UsersPlan,
}

impl Background {
    /// Seeds the items and starts the users; they run until [`Background::finish`].
    pub async fn start(state: &LabState, o: &UsersOptions) -> Result<Background, LabError> {
        let plan = plan(state, o)?;
        seed(state).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (plan.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| LabError::io("runtime", e))?;
            rt.block_on(run(&p, s, &|_| {}))
        });
        Ok(Background { stop, handle, plan })
    }

    /// Stops the arrivals, waits for requests in flight, and hands back the run.
    pub fn finish(self) -> Result<UsersRun, LabError> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .join()
            .map_err(|_| LabError::Failed("the users' thread panicked".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{DnsConfig, DnsRegion, DnsSite};
    use crate::proxy::{ProxyConfig, Route, Sniff};

    #[test]
    fn writes_spread_evenly() {
        let w = (0..100).filter(|i| is_write(*i, 20)).count();
        assert_eq!(w, 20);
        assert!(!(0..50).any(|i| is_write(i, 0)));
        assert!((0..50).all(|i| is_write(i, 100)));
    }

    /// An HTTP server answering every request at once with `{"id": 1}`.
    async fn instant_app() -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(hyper::body::Bytes::from("{\"id\": 1}")),
                        ))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        addr
    }

    /// One site behind the proxy, 25 ms each way from the region: the generator holds its rate,
    /// its histograms show the 50 ms round trip, and it asks the DNS once per TTL.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rate_latency_and_ttl_against_a_known_delay() {
        let app = instant_app().await;
        let source: IpAddr = "127.20.42.1".parse().unwrap();
        let front_ip = "127.14.42.1";
        let port = crate::process::free_port(front_ip).unwrap();
        let front: SocketAddr = format!("{front_ip}:{port}").parse().unwrap();
        tokio::spawn(crate::proxy::serve(ProxyConfig {
            routes: vec![Route {
                name: "app →t".into(),
                listen: front,
                target: app,
                delay_ms: 0.0,
                by_source: [(source, 25.0)].into_iter().collect(),
                sniff: Sniff::None,
                link: None,
                source_sites: BTreeMap::new(),
            }],
            edges: vec![],
            partition_file: None,
        }));
        let dns_port = crate::process::free_port("127.9.0.4").unwrap();
        let dns: SocketAddr = format!("127.9.0.4:{dns_port}").parse().unwrap();
        tokio::spawn(crate::dns::serve(DnsConfig {
            listen: dns,
            name: "api.example.com".into(),
            zone: "example.com".into(),
            ttl_seconds: 1,
            interval_ms: 1000,
            threshold: 3,
            sites: vec![DnsSite {
                site: "t".into(),
                answer: "127.14.42.1".parse().unwrap(),
                health: app,
                health_path: "/healthz".into(),
            }],
            regions: vec![DnsRegion {
                region: "r".into(),
                source,
                rtt_ms: [("t".to_string(), 50.0)].into_iter().collect(),
            }],
            events: None,
        }));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let plan = UsersPlan {
            dns,
            name: "api.example.com".into(),
            port,
            sites: [("127.14.42.1".parse().unwrap(), "t".to_string())]
                .into_iter()
                .collect(),
            regions: vec![UserRegion {
                region: "r".into(),
                source,
            }],
            rate: 200.0,
            duration: Duration::from_secs_f64(2.5),
            write_percent: 20,
            timeout: Duration::from_secs(5),
        };
        let run = run(&plan, Arc::new(AtomicBool::new(false)), &|_| {})
            .await
            .unwrap();
        assert_eq!(run.sent, 500);
        let rate = achieved_rate(&run, 1);
        assert!((rate - 200.0).abs() / 200.0 < 0.03, "rate {rate}");
        let r = &summarise(&plan, &run)[0];
        assert_eq!(r.errors, BTreeMap::new());
        assert_eq!(r.reads.requests + r.writes.requests, 500);
        assert_eq!(r.writes.requests, 100);
        assert_eq!(r.sites.get("t"), Some(&500));
        assert_eq!(r.acknowledged_writes, 100);
        for l in [&r.reads, &r.writes] {
            // 25 ms each way: never under 50 ms; the middle close to it.
            assert!(l.p50_ms >= 50.0 && l.p50_ms < 65.0, "{l:?}");
            assert!(l.p50_ms <= l.p95_ms && l.p95_ms <= l.p99_ms && l.p99_ms <= l.max_ms);
        }
        // TTL 1 s over 2.5 s: one query a second, not one per request.
        assert!(
            (2..=4).contains(&r.dns_queries),
            "{} queries",
            r.dns_queries
        );
    }

    #[test]
    fn histogram_quantiles() {
        let l = latency((1..=1000).map(|ms| (true, ms * 1000)));
        assert!((l.p50_ms - 500.0).abs() < 1.0, "{l:?}");
        assert!((l.p99_ms - 990.0).abs() < 1.0, "{l:?}");
        assert!((l.max_ms - 1000.0).abs() < 1.0, "{l:?}");
        let l = latency([(false, 5), (true, 7000)].into_iter());
        assert_eq!((l.requests, l.ok), (2, 1));
        assert!((l.p50_ms - 7.0).abs() < 0.01, "{l:?}");
    }

    fn o(kind: Kind, due_ms: u64, done_ms: u64, ok: bool) -> Outcome {
        Outcome {
            region: 0,
            kind,
            due: Duration::from_millis(due_ms),
            done: Duration::from_millis(done_ms),
            site: Some("a".into()),
            result: if ok { Ok(None) } else { Err("x".into()) },
        }
    }

    #[test]
    fn outage_from_last_success_before_to_first_success_after() {
        let run = UsersRun {
            start: Instant::now(),
            outcomes: vec![
                o(Kind::Write, 0, 50, true),
                o(Kind::Write, 1000, 1060, true),
                o(Kind::Write, 2000, 3000, false),
                o(Kind::Write, 3000, 3500, false),
                o(Kind::Write, 4000, 4070, true),
                o(Kind::Read, 2000, 2010, true),
            ],
            dns_queries: vec![1],
            sent: 6,
            last_start: Duration::from_millis(4000),
            late_p99_ms: 0.0,
            seconds: 4.1,
        };
        // The kill at 1.5 s: writes fail from the one due at 2 s to the one due at 3 s; the last
        // success before finished at 1.06 s, the first after at 4.07 s.
        let w = outage(&run, 0, Some(Kind::Write), Duration::from_millis(1500));
        assert!((w - 3.01).abs() < 1e-9, "{w}");
        assert_eq!(
            outage(&run, 0, Some(Kind::Read), Duration::from_millis(1500)),
            0.0
        );
        assert!(!failing_at_end(&run, 0, Some(Kind::Write)));
        assert_eq!(
            sites_between(&run, 0, Duration::ZERO, Duration::from_millis(1500)),
            vec!["a".to_string()]
        );
    }
}
