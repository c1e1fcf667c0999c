//! `lab load`: writes on the primary at a fixed rate, watches every replica for them, and
//! reports how long each write took to become visible at each site.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_postgres::{Client, NoTls};

use crate::state::{LabState, PgMember};
use crate::{DbError, LabError};

#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub duration: Duration,
    /// Writes per second.
    pub rate: u32,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct SiteLag {
    pub site: String,
    pub role: String,
    /// Writes seen at this site.
    pub seen: usize,
    /// Writes never seen before the run ended.
    pub missing: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Why writes are missing, when some are: the reader's last error, or how far behind the
    /// primary says the site was when the watch ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_missing: Option<String>,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct LoadReport {
    pub primary: String,
    pub writes: usize,
    pub seconds: f64,
    pub rate_asked: u32,
    pub rate_achieved: f64,
    /// Commit round trip on the primary.
    pub commit_p50_ms: f64,
    pub commit_p99_ms: f64,
    pub latency_scale: f64,
    pub sites: Vec<SiteLag>,
}

pub(crate) async fn connect(m: &PgMember, db: &str) -> Result<Client, LabError> {
    let (c, conn) = tokio_postgres::connect(&m.pg.conninfo(db), NoTls)
        .await
        .map_err(|e| {
            LabError::postgres(format!("cannot connect to PostgreSQL at {}", m.site), e)
        })?;
    tokio::spawn(conn);
    Ok(c)
}

/// The `q`-quantile of sorted values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Makes sure `table` exists on the primary and is replicated to every logical replica
/// (logical replication copies rows, not DDL: the table is created there too and the
/// subscription refreshed).
pub(crate) async fn replicated_table(
    state: &LabState,
    table: &str,
    ddl: &str,
    progress: &dyn Fn(&str),
) -> Result<(), LabError> {
    let (pg, primary) = state.pg_primary()?;
    let c = connect(primary, &pg.database).await?;
    c.batch_execute(ddl)
        .await
        .map_err(|e| LabError::postgres(format!("cannot create {table} on the primary"), e))?;
    for m in pg.members.values().filter(|m| m.role == "logical_replica") {
        let r = connect(m, &pg.database).await?;
        r.batch_execute(ddl)
            .await
            .map_err(|e| LabError::postgres(format!("cannot create {table} at {}", m.site), e))?;
        let sub = format!("sovereign_{}", m.site);
        let subscribed = r
            .query_opt(
                "SELECT 1 FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid \
                 WHERE s.subname = $1 AND sr.srrelid = $2::text::regclass",
                &[&sub, &table],
            )
            .await
            .map_err(|e| LabError::postgres(format!("pg_subscription_rel at {}", m.site), e))?
            .is_some();
        if !subscribed {
            progress(&format!("subscribing {} to {table}", m.site));
            r.batch_execute(&format!(
                "ALTER SUBSCRIPTION {sub} REFRESH PUBLICATION WITH (copy_data = true)"
            ))
            .await
            .map_err(|e| {
                LabError::postgres(format!("cannot refresh the subscription at {}", m.site), e)
            })?;
        }
        // Wait until the table is synchronised ('r'eady) so rows stream to it.
        let start = Instant::now();
        loop {
            let st: Option<String> = r
                .query_opt(
                    "SELECT sr.srsubstate::text FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid \
                     WHERE s.subname = $1 AND sr.srrelid = $2::text::regclass",
                    &[&sub, &table],
                )
                .await
                .ok()
                .flatten()
                .map(|row| row.get(0));
            if st.as_deref() == Some("r") {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(LabError::Failed(format!(
                    "{table} never became ready on the subscription at {} (state {st:?})",
                    m.site
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

pub fn load(
    state: &LabState,
    opts: &LoadOptions,
    progress: &dyn Fn(&str),
) -> Result<LoadReport, LabError> {
    if opts.rate == 0 || opts.rate > 5000 {
        return Err(LabError::Invalid(format!(
            "--rate {} is not between 1 and 5000 writes a second",
            opts.rate
        )));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .map_err(|e| LabError::io("runtime", e))?;
    rt.block_on(run(state, opts, progress))
}

async fn run(
    state: &LabState,
    opts: &LoadOptions,
    progress: &dyn Fn(&str),
) -> Result<LoadReport, LabError> {
    let (pg, primary) = state.pg_primary()?;
    let primary = primary.clone();
    replicated_table(state, "public.sovereign_load", "CREATE TABLE IF NOT EXISTS public.sovereign_load (id bigint PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now())", progress).await?;
    let writer = connect(&primary, &pg.database).await?;
    let base: i64 = writer
        .query_one(
            "SELECT COALESCE(max(id), 0) FROM public.sovereign_load",
            &[],
        )
        .await
        .map_err(|e| LabError::postgres("reading the load table's last id", e))?
        .get(0);
    let total = ((opts.duration.as_secs_f64() * f64::from(opts.rate)).round() as usize).max(1);
    let last_id = base + total as i64;
    // Ack time of each write, by id - base - 1.
    let acks: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; total]));
    let replicas: Vec<PgMember> = pg
        .members
        .values()
        .filter(|m| m.site != pg.primary && m.role != "down")
        .cloned()
        .collect();
    let deadline = Instant::now() + opts.duration + Duration::from_secs(15);
    let mut readers = Vec::new();
    for m in replicas {
        let c = connect(&m, &pg.database).await?;
        let acks = acks.clone();
        readers.push(tokio::spawn(async move {
            let mut seen_up_to = base;
            let mut lags: Vec<f64> = Vec::new();
            let mut last_error: Option<String> = None;
            while seen_up_to < last_id && Instant::now() < deadline {
                let r = c
                    .query_one(
                        "SELECT COALESCE(max(id), 0) FROM public.sovereign_load",
                        &[],
                    )
                    .await;
                if let Err(e) = &r {
                    last_error = Some(format!("reading it failed: {}", DbError(e)));
                    if c.is_closed() {
                        break;
                    }
                }
                if let Ok(row) = r {
                    let v: i64 = row.get(0);
                    if v > seen_up_to {
                        let now = Instant::now();
                        let a = acks.lock().map(|a| a.clone()).unwrap_or_default();
                        for id in (seen_up_to + 1)..=v.min(last_id) {
                            let i = (id - base - 1) as usize;
                            // Seen before the writer heard its own commit: no lag to speak of.
                            let lag = a
                                .get(i)
                                .copied()
                                .flatten()
                                .map(|t| now.saturating_duration_since(t))
                                .unwrap_or_default();
                            lags.push(lag.as_secs_f64() * 1000.0);
                        }
                        seen_up_to = v;
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (m.site, m.role, lags, last_error)
        }));
    }
    progress(&format!(
        "writing {total} rows on {} at {} a second for {:.0} s…",
        pg.primary,
        opts.rate,
        opts.duration.as_secs_f64()
    ));
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / f64::from(opts.rate));
    let stmt = writer
        .prepare("INSERT INTO public.sovereign_load (id) VALUES ($1)")
        .await
        .map_err(|e| LabError::postgres("preparing the load's insert", e))?;
    let mut commits = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        let id = base + i as i64 + 1;
        let t = Instant::now();
        writer
            .execute(&stmt, &[&id])
            .await
            .map_err(|e| LabError::postgres("a write on the primary failed", e))?;
        let done = Instant::now();
        commits.push((done - t).as_secs_f64() * 1000.0);
        if let Ok(mut a) = acks.lock() {
            a[i] = Some(done);
        }
    }
    let done_writing = Instant::now();
    let seconds = start.elapsed().as_secs_f64();
    let mut sites = Vec::new();
    for r in readers {
        let (site, role, mut lags, last_error) = r
            .await
            .map_err(|e| LabError::client("a reader crashed", e))?;
        lags.sort_by(f64::total_cmp);
        let missing = total - lags.len();
        let why_missing = if missing == 0 {
            None
        } else {
            let waited = deadline.saturating_duration_since(done_writing);
            Some(match last_error {
                Some(e) => e,
                None => format!(
                    "not seen {:.0} s after the last write; the primary reports: {}",
                    waited.as_secs_f64(),
                    replication_state(&writer, &site, &role).await
                ),
            })
        };
        sites.push(SiteLag {
            site,
            role,
            seen: lags.len(),
            missing,
            p50_ms: quantile(&lags, 0.5),
            p99_ms: quantile(&lags, 0.99),
            max_ms: lags.last().copied().unwrap_or(0.0),
            why_missing,
        });
    }
    commits.sort_by(f64::total_cmp);
    sites.sort_by(|a, b| a.site.cmp(&b.site));
    Ok(LoadReport {
        primary: pg.primary.clone(),
        writes: total,
        seconds,
        rate_asked: opts.rate,
        rate_achieved: total as f64 / seconds.max(1e-9),
        commit_p50_ms: quantile(&commits, 0.5),
        commit_p99_ms: quantile(&commits, 0.99),
        latency_scale: state.latency_scale,
        sites,
    })
}

/// What the primary says of a site's replication: its streaming or logical connection's state
/// and how many bytes of WAL it has not replayed or confirmed.
async fn replication_state(primary: &Client, site: &str, role: &str) -> String {
    let q = if role == "logical_replica" {
        "SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint \
         FROM pg_replication_slots WHERE slot_type = 'logical' AND slot_name LIKE '%' || $1 || '%'"
    } else {
        "SELECT application_name, state = 'streaming', pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint \
         FROM pg_stat_replication WHERE application_name = $1"
    };
    match primary.query(q, &[&site]).await {
        Ok(rows) if rows.is_empty() => format!("no replication connection from {site}"),
        Ok(rows) => rows
            .iter()
            .map(|r| {
                let name: String = r.get(0);
                let active: Option<bool> = r.get(1);
                let behind: Option<i64> = r.get(2);
                format!(
                    "{name} {}, {} bytes behind",
                    if active == Some(true) {
                        "connected"
                    } else {
                        "not streaming"
                    },
                    behind.map_or("unknown".into(), |b| b.to_string())
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        Err(e) => format!("cannot ask: {}", DbError(&e)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(super::quantile(&v, 0.5), 51.0);
        assert_eq!(super::quantile(&v, 0.99), 99.0);
        assert_eq!(super::quantile(&[], 0.5), 0.0);
    }
}
