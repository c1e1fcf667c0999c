//! `postgres::*`: reachability, replication, lag, write propagation and backups.
//!
//! Connections use TLS the way libpq's `sslmode` does: `require` (the default, as Aurora
//! refuses plain connections) encrypts without checking the certificate, `verify-full` checks
//! it against the caller's CA bundle ([`crate::PgTls::ca_file`], the RDS bundle) or the web
//! roots and checks the host name, `disable` sends plain text (a lab on loopback, and only when
//! the caller asks: the outputs cannot).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_postgres::{Client, NoTls};

use crate::credentials::UserPassword;
use crate::outputs::{Outputs, PgBackRest, PostgresRole};
use crate::{Outcome, PgSslMode};

/// Where and how to connect to one site's copy.
#[derive(Clone, Debug)]
pub struct Target {
    pub site: String,
    /// `primary`, `secondary` or `logical_replica`.
    pub role: PostgresRole,
    pub host: String,
    pub port: u16,
    pub database: String,
}

/// The name a logical replica's subscription has (the rendered `subscribe.sql`).
pub fn subscription_name(site: &str) -> String {
    format!("sovereign_{site}")
}

pub fn targets(o: &Outputs) -> Vec<Result<Target, (String, String)>> {
    let db_default = o
        .postgres
        .as_ref()
        .and_then(|p| p.database.clone())
        .unwrap_or_else(|| "postgres".into());
    o.sites
        .iter()
        .filter_map(|(id, s)| s.postgres.as_ref().map(|p| (id, p)))
        .map(|(id, p)| match p.endpoint() {
            Some((host, port)) => Ok(Target {
                site: id.clone(),
                role: p.role,
                host,
                port,
                database: p.database.clone().unwrap_or_else(|| db_default.clone()),
            }),
            None => Err((
                id.clone(),
                format!("the outputs give no endpoint for the {} at {id}", p.role),
            )),
        })
        .collect()
}

/// The TLS a run uses: the caller's, raised by the outputs' `sslmode` where it is stricter.
#[derive(Clone, Debug)]
pub struct Tls {
    pub mode: PgSslMode,
    pub ca_file: Option<PathBuf>,
}

impl Tls {
    /// The caller's choice, made stricter (never looser) by what the outputs ask for:
    /// `verify-full` (or `verify-ca`) raises it; `require`, `prefer`, `allow` and `disable`
    /// change nothing. Anything else is an error in the outputs.
    pub fn resolve(caller: &crate::PgTls, outputs: Option<&str>) -> Result<Tls, String> {
        let asked = match outputs {
            None | Some("disable" | "allow" | "prefer" | "require") => PgSslMode::Disable,
            Some("verify-full" | "verify-ca") => PgSslMode::VerifyFull,
            Some(other) => {
                return Err(format!(
                    "the outputs' postgres.sslmode `{}` is not one of disable, allow, prefer, require, verify-ca, verify-full",
                    other.escape_debug()
                ));
            }
        };
        Ok(Tls {
            mode: caller.mode.max(asked),
            ca_file: caller.ca_file.clone(),
        })
    }
}

fn rustls_config(verify: bool, ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS setup: {e}"))?;
    if !verify {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(
                rustls::crypto::aws_lc_rs::default_provider(),
            )))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            let shown = path.display();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("cannot read the CA bundle `{shown}`: {e}"))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("the CA bundle `{shown}` is not PEM: {e}"))?;
            if certs.is_empty() {
                return Err(format!("the CA bundle `{shown}` holds no certificate"));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("a certificate in `{shown}` is unusable: {e}"))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// libpq's `sslmode=require`: encryption without authentication of the server.
#[derive(Debug)]
struct NoVerify(rustls::crypto::CryptoProvider);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Connects, with the server's own message on failure.
pub async fn connect(
    t: &Target,
    creds: &UserPassword,
    tls: &Tls,
    timeout: Duration,
) -> Result<Client, String> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&t.host)
        .port(t.port)
        .user(&creds.username)
        .password(&creds.password)
        .dbname(&t.database)
        .application_name("sovereign-verify")
        .connect_timeout(timeout);
    let err = |e: tokio_postgres::Error| {
        format!(
            "cannot connect to {}:{}: {}",
            t.host,
            t.port,
            db_message(&e)
        )
    };
    match tls.mode {
        PgSslMode::Disable => {
            cfg.ssl_mode(tokio_postgres::config::SslMode::Disable);
            let (client, conn) = cfg.connect(NoTls).await.map_err(err)?;
            tokio::spawn(conn);
            Ok(client)
        }
        mode => {
            cfg.ssl_mode(tokio_postgres::config::SslMode::Require);
            let verify = mode == PgSslMode::VerifyFull;
            let config = rustls_config(verify, tls.ca_file.as_deref())?;
            let connector = tokio_postgres_rustls::MakeRustlsConnect::new(config);
            let (client, conn) = cfg.connect(connector).await.map_err(|e| {
                let mut m = err(e);
                if m.contains("does not support TLS") {
                    m.push_str(&format!(
                        " (verify requires TLS, sslmode {}: `--pg-insecure-no-tls` turns it off for a lab on loopback; the outputs cannot)",
                        mode.as_str()
                    ));
                }
                m
            })?;
            tokio::spawn(conn);
            Ok(client)
        }
    }
}

pub fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s = format!("{s}: {inner}");
                src = inner.source();
            }
            s
        }
    }
}

/// `postgres::reachable` for one site: a session, the version, whether it is read-only.
pub async fn reachable(t: Target, creds: UserPassword, tls: Tls, timeout: Duration) -> Outcome {
    let start = Instant::now();
    let c = match connect(&t, &creds, &tls, timeout).await {
        Ok(c) => c,
        Err(e) => return Outcome::fail(e),
    };
    let ms = start.elapsed().as_millis() as u64;
    match c
        .query_one(
            "SELECT current_setting('server_version'), pg_is_in_recovery()",
            &[],
        )
        .await
    {
        Ok(row) => {
            let version: String = row.get(0);
            let recovery: bool = row.get(1);
            let expect_recovery = t.role == PostgresRole::Secondary;
            if t.role == PostgresRole::Primary && recovery {
                return Outcome::fail(format!(
                    "PostgreSQL {version} at {}:{} is in recovery (read-only), but this site is the primary",
                    t.host, t.port
                ));
            }
            let state = if recovery {
                "in recovery"
            } else {
                "read-write"
            };
            let o = Outcome::pass(format!(
                "PostgreSQL {version}, {} ({state}), connected in {ms} ms",
                t.role
            ));
            if expect_recovery != recovery && t.role == PostgresRole::Secondary {
                return Outcome::fail(format!(
                    "PostgreSQL {version} at {}:{} accepts writes, but this site is a secondary: was it promoted?",
                    t.host, t.port
                ));
            }
            o.with(json!({"server_version": version, "in_recovery": recovery, "connect_ms": ms}))
        }
        Err(e) => Outcome::fail(format!("connected, but a query failed: {}", db_message(&e))),
    }
}

/// One replica as the primary (or the replica itself) reports it.
#[derive(Clone, Debug)]
struct Seen {
    state: String,
    lag_seconds: Option<f64>,
    lag_bytes: Option<i64>,
}

async fn has_aurora_status(c: &Client) -> bool {
    c.query_opt(
        "SELECT 1 FROM pg_proc WHERE proname = 'aurora_global_db_status'",
        &[],
    )
    .await
    .map(|r| r.is_some())
    .unwrap_or(false)
}

/// What the primary knows of its physical standbys and logical walsenders, by application name.
async fn walsenders(c: &Client) -> Result<Vec<(String, Seen)>, String> {
    let rows = c
        .query(
            "SELECT application_name, state, \
                    EXTRACT(EPOCH FROM COALESCE(replay_lag, interval '0'))::float8, \
                    (pg_current_wal_lsn() - COALESCE(replay_lsn, '0/0'))::bigint \
             FROM pg_stat_replication",
            &[],
        )
        .await
        .map_err(|e| format!("cannot read pg_stat_replication: {}", db_message(&e)))?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get::<_, Option<String>>(0).unwrap_or_default(),
                Seen {
                    state: r.get::<_, Option<String>>(1).unwrap_or_default(),
                    lag_seconds: r.get(2),
                    lag_bytes: r.get(3),
                },
            )
        })
        .collect())
}

/// Aurora global database: secondary regions and their lag (`aurora_global_db_status()`).
async fn aurora(c: &Client) -> Result<Vec<(String, Seen)>, String> {
    let rows = c
        .query(
            // One row per region, the primary's included (its lag is not meaningful); the
            // caller matches rows to the secondaries' regions.
            "SELECT aws_region::text, durability_lag_in_msec::float8 / 1000.0 FROM aurora_global_db_status()",
            &[],
        )
        .await
        .map_err(|e| format!("aurora_global_db_status(): {}", db_message(&e)))?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                Seen {
                    state: "replicating".into(),
                    lag_seconds: r.get::<_, Option<f64>>(2),
                    lag_bytes: None,
                },
            )
        })
        .collect())
}

/// What a logical subscriber reports of its subscription.
async fn subscription(
    t: &Target,
    creds: &UserPassword,
    tls: &Tls,
    timeout: Duration,
) -> Result<Seen, String> {
    let c = connect(t, creds, tls, timeout).await?;
    let name = subscription_name(&t.site);
    let row = c
        .query_opt(
            "SELECT s.subenabled, st.pid IS NOT NULL, \
                    EXTRACT(EPOCH FROM (now() - st.last_msg_receipt_time))::float8 \
             FROM pg_subscription s LEFT JOIN pg_stat_subscription st \
               ON st.subid = s.oid AND st.relid IS NULL \
             WHERE s.subname = $1",
            &[&name],
        )
        .await
        .map_err(|e| {
            format!(
                "cannot read pg_stat_subscription at {}: {}",
                t.site,
                db_message(&e)
            )
        })?;
    match row {
        None => Err(format!(
            "no subscription `{name}` at {}: run its subscribe.sql",
            t.site
        )),
        Some(r) => {
            let enabled: bool = r.get(0);
            let worker: bool = r.get(1);
            let state = match (enabled, worker) {
                (false, _) => "disabled",
                (true, false) => "no apply worker",
                (true, true) => "subscribed",
            };
            Ok(Seen {
                state: state.into(),
                lag_seconds: None,
                lag_bytes: None,
            })
        }
    }
}

/// Replicas the outputs expect, with their role.
fn expected(o: &Outputs) -> Vec<(String, PostgresRole)> {
    let Some(pg) = &o.postgres else {
        return Vec::new();
    };
    pg.expected_replicas
        .iter()
        .map(|s| {
            let role = o
                .sites
                .get(s)
                .and_then(|x| x.postgres.as_ref())
                .map(|p| p.role)
                .unwrap_or(PostgresRole::Secondary);
            (s.clone(), role)
        })
        .collect()
}

/// Per replica: how the primary (or Aurora, or the subscriber) sees it.
async fn observe(
    o: &Outputs,
    primary: &Target,
    all: &[Target],
    creds: &UserPassword,
    tls: &Tls,
    timeout: Duration,
) -> Result<Vec<(String, PostgresRole, Result<Seen, String>)>, String> {
    let c = connect(primary, creds, tls, timeout).await?;
    let senders = walsenders(&c).await?;
    let aurora = if has_aurora_status(&c).await {
        Some(aurora(&c).await?)
    } else {
        None
    };
    let mut out = Vec::new();
    for (site, role) in expected(o) {
        let region = o.sites.get(&site).and_then(|s| s.region.clone());
        let seen = if role == PostgresRole::LogicalReplica {
            let sub = subscription_name(&site);
            match all.iter().find(|t| t.site == site) {
                None => Err(format!(
                    "the outputs give no endpoint for the logical replica at {site}"
                )),
                Some(t) => match subscription(t, creds, tls, timeout).await {
                    Err(e) => Err(e),
                    Ok(mut s) => {
                        if let Some((_, w)) = senders.iter().find(|(n, _)| *n == sub) {
                            s.lag_seconds = w.lag_seconds;
                            s.lag_bytes = w.lag_bytes;
                            if s.state == "subscribed" && w.state != "streaming" {
                                s.state = format!("walsender {}", w.state);
                            }
                        } else if s.state == "subscribed" {
                            s.state = "no walsender on the primary".into();
                        }
                        Ok(s)
                    }
                },
            }
        } else if let Some(list) = &aurora {
            match list.iter().find(|(r, _)| Some(r) == region.as_ref()) {
                Some((_, s)) => Ok(s.clone()),
                None => Err(format!(
                    "aurora_global_db_status() lists no secondary in {}",
                    region.as_deref().unwrap_or("its region")
                )),
            }
        } else {
            match senders.iter().find(|(n, _)| *n == site) {
                Some((_, s)) => {
                    let mut s = s.clone();
                    // The primary's replay_lag stands still while a standby is stuck (it is
                    // only updated by the standby's replies); when WAL waits to be replayed,
                    // the standby knows how old its last replayed commit is. (Only then: an
                    // idle standby's receive and replay positions differ after a WAL switch.)
                    if s.lag_bytes.unwrap_or(0) > 0
                        && let Some(t) = all.iter().find(|t| t.site == site)
                        && let Ok(d) = standby_delay(t, creds, tls, timeout).await
                    {
                        s.lag_seconds = Some(s.lag_seconds.unwrap_or(0.0).max(d));
                    }
                    Ok(s)
                }
                None => Err(format!(
                    "pg_stat_replication on the primary has no standby named `{site}` (standbys seen: {})",
                    if senders.is_empty() {
                        "none".to_string()
                    } else {
                        senders
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                )),
            }
        };
        out.push((site, role, seen));
    }
    Ok(out)
}

/// Seconds since the standby replayed its last commit, when WAL it has received waits to be
/// replayed; zero when it is caught up.
async fn standby_delay(
    t: &Target,
    creds: &UserPassword,
    tls: &Tls,
    timeout: Duration,
) -> Result<f64, String> {
    let c = connect(t, creds, tls, timeout).await?;
    let row = c
        .query_one(
            "SELECT CASE WHEN pg_last_wal_receive_lsn() IS NULL                           OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0                      ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8",
            &[],
        )
        .await
        .map_err(|e| db_message(&e))?;
    Ok(row.get(0))
}

fn healthy(role: PostgresRole, state: &str) -> bool {
    if role == PostgresRole::LogicalReplica {
        state == "subscribed"
    } else {
        state == "streaming" || state == "replicating"
    }
}

fn expected_fail(o: &Outputs, reason: &str) -> Vec<(Option<String>, Outcome)> {
    let list = expected(o);
    if list.is_empty() {
        return vec![(None, Outcome::fail(reason.to_string()))];
    }
    list.into_iter()
        .map(|(s, _)| (Some(s), Outcome::fail(reason.to_string())))
        .collect()
}

/// `postgres::replication`: every expected replica is streaming or subscribed.
pub async fn replication(
    o: Arc<Outputs>,
    primary: Target,
    all: Vec<Target>,
    creds: UserPassword,
    tls: Tls,
    timeout: Duration,
) -> Vec<(Option<String>, Outcome)> {
    if expected(&o).is_empty() {
        return vec![(
            Some(primary.site.clone()),
            Outcome::pass("no replicas expected"),
        )];
    }
    match observe(&o, &primary, &all, &creds, &tls, timeout).await {
        Err(e) => expected_fail(&o, &e),
        Ok(list) => list
            .into_iter()
            .map(|(site, role, seen)| {
                let how = if role == PostgresRole::LogicalReplica {
                    "logical subscription"
                } else {
                    "physical standby"
                };
                let outcome = match seen {
                    Err(e) => Outcome::fail(e),
                    Ok(s) if healthy(role, &s.state) => {
                        Outcome::pass(format!("{how} of {}: {}", primary.site, s.state))
                            .with(json!({"state": s.state}))
                    }
                    Ok(s) => Outcome::fail(format!(
                        "{how} of {} is `{}`, not {}",
                        primary.site,
                        s.state,
                        if role == PostgresRole::LogicalReplica {
                            "subscribed"
                        } else {
                            "streaming"
                        }
                    ))
                    .with(json!({"state": s.state})),
                };
                (Some(site), outcome)
            })
            .collect(),
    }
}

/// `postgres::lag`: per replica, replay lag against the threshold.
pub async fn lag(
    o: Arc<Outputs>,
    primary: Target,
    all: Vec<Target>,
    creds: UserPassword,
    tls: Tls,
    timeout: Duration,
) -> Vec<(Option<String>, Outcome)> {
    let max = o
        .postgres
        .as_ref()
        .and_then(|p| p.max_lag_seconds)
        .unwrap_or(5.0);
    if expected(&o).is_empty() {
        return vec![(
            Some(primary.site.clone()),
            Outcome::pass("no replicas expected"),
        )];
    }
    match observe(&o, &primary, &all, &creds, &tls, timeout).await {
        Err(e) => expected_fail(&o, &e),
        Ok(list) => list
            .into_iter()
            .map(|(site, role, seen)| {
                let outcome = match seen {
                    Err(e) => Outcome::fail(e),
                    Ok(s) if !healthy(role, &s.state) => Outcome::fail(format!("no lag to measure: the replica is `{}`", s.state)),
                    Ok(s) => {
                        let secs = s.lag_seconds.unwrap_or(0.0);
                        let bytes = s.lag_bytes.map(|b| format!(", {b} bytes behind")).unwrap_or_default();
                        let data = json!({"lag_seconds": secs, "lag_bytes": s.lag_bytes, "max_lag_seconds": max});
                        if secs > max {
                            Outcome::fail(format!("replay lag {secs:.3} s exceeds {max} s{bytes}")).with(data)
                        } else {
                            Outcome::pass(format!("replay lag {secs:.3} s (limit {max} s){bytes}")).with(data)
                        }
                    }
                };
                (Some(site), outcome)
            })
            .collect(),
    }
}

/// The same statement the rendered publication.sql and subscription.sql run.
const PROBE_DDL: &str = "CREATE TABLE IF NOT EXISTS public.sovereign_probe (id text PRIMARY KEY, site text NOT NULL, written_at timestamptz NOT NULL DEFAULT now());";

/// `postgres::write_propagation`: a probe row written on the primary, watched for on every
/// replica; milliseconds until each one sees it.
pub async fn write_propagation(
    o: Arc<Outputs>,
    primary: Target,
    all: Vec<Target>,
    creds: UserPassword,
    tls: Tls,
    timeout: Duration,
) -> Vec<(Option<String>, Outcome)> {
    // The wait for the row ends `timeout` after the check began, not after the write: the
    // connections before it count, so every replica gets its own answer before the check's
    // own deadline cuts the whole check short with a bare "no answer".
    let began = Instant::now();
    let replicas: Vec<(String, PostgresRole)> = expected(&o);
    if replicas.is_empty() {
        return vec![(
            Some(primary.site.clone()),
            Outcome::pass("no replicas expected"),
        )];
    }
    let c = match connect(&primary, &creds, &tls, timeout).await {
        Ok(c) => c,
        Err(e) => return expected_fail(&o, &e),
    };
    if let Err(e) = c.batch_execute(PROBE_DDL).await {
        return expected_fail(
            &o,
            &format!(
                "cannot create the probe table on the primary: {}",
                db_message(&e)
            ),
        );
    }
    // Connect to every replica before writing, so connection time is not counted.
    let mut readers = Vec::new();
    for (site, role) in &replicas {
        let r = match all.iter().find(|t| &t.site == site) {
            None => Err(format!("the outputs give no endpoint for {site}")),
            Some(t) => connect(t, &creds, &tls, timeout).await,
        };
        readers.push((site.clone(), *role, r));
    }
    let id = format!(
        "verify-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    if let Err(e) = c
        .execute(
            "INSERT INTO public.sovereign_probe (id, site) VALUES ($1, $2)",
            &[&id, &primary.site],
        )
        .await
    {
        return expected_fail(
            &o,
            &format!(
                "cannot write the probe row on the primary: {}",
                db_message(&e)
            ),
        );
    }
    let written = Instant::now();
    let waits = readers.into_iter().map(|(site, role, r)| {
        let id = id.clone();
        async move {
            let client = match r {
                Ok(c) => c,
                Err(e) => return (Some(site), Outcome::fail(e)),
            };
            loop {
                match client.query_opt("SELECT 1 FROM public.sovereign_probe WHERE id = $1", &[&id]).await {
                    Ok(Some(_)) => {
                        let ms = written.elapsed().as_secs_f64() * 1000.0;
                        return (Some(site), Outcome::pass(format!("probe row seen after {ms:.0} ms")).with(json!({"propagation_ms": ms})));
                    }
                    Ok(None) => {}
                    Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
                        let hint = if role == PostgresRole::LogicalReplica {
                            " (logical replication does not copy DDL: the rendered subscribe.sql creates it)"
                        } else {
                            ""
                        };
                        return (Some(site), Outcome::fail(format!("the probe table public.sovereign_probe is missing{hint}")));
                    }
                    Err(e) => return (Some(site), Outcome::fail(format!("reading the probe failed: {}", db_message(&e)))),
                }
                if began.elapsed() > timeout {
                    return (Some(site), Outcome::fail("the probe row never arrived"));
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let mut results = Vec::new();
    let handles: Vec<_> = waits.map(tokio::spawn).collect();
    for h in handles {
        match h.await {
            Ok(r) => results.push(r),
            Err(e) => results.push((None, Outcome::fail(format!("a waiter crashed: {e}")))),
        }
    }
    let _ = c.execute("DELETE FROM public.sovereign_probe WHERE id = $1 OR written_at < now() - interval '1 day'", &[&id]).await;
    results
}

/// `postgres::backups`: pgBackRest's own `check` and `info` where the outputs name a stanza,
/// else the backup retention Aurora was given.
pub async fn backups(
    o: Arc<Outputs>,
    primary: String,
    timeout: Duration,
) -> Vec<(Option<String>, Outcome)> {
    let pg = o.postgres.clone().unwrap_or_default();
    if let Some(b) = pg.pgbackrest.clone() {
        let config = o.resolve(&b.config);
        return vec![(Some(primary), pgbackrest(b, config, timeout).await)];
    }
    // Aurora: continuous backup is on while retention is at least one day. SQL cannot see it;
    // the figure comes from the outputs (what Terraform applied).
    match pg.backup_retention_days {
        Some(d) if d >= 1 => vec![(
            Some(primary),
            Outcome::pass(format!(
                "Aurora keeps continuous backups for {d} days (from the outputs; confirm with `aws rds describe-global-clusters`)"
            ))
            .with(json!({"retention_days": d})),
        )],
        Some(d) => vec![(Some(primary), Outcome::fail(format!("backup retention is {d} days: point-in-time recovery is off")))],
        None => vec![(Some(primary), Outcome::fail("neither a pgBackRest stanza nor a backup retention in the outputs"))],
    }
}

async fn pgbackrest(b: PgBackRest, config: std::path::PathBuf, timeout: Duration) -> Outcome {
    let run = |cmd: &'static str| {
        let b = b.clone();
        let config = config.clone();
        async move {
            let mut c = match &b.user {
                Some(u) if is_root() => {
                    let mut c = tokio::process::Command::new("runuser");
                    c.arg("-u").arg(u).arg("--").arg("pgbackrest");
                    c
                }
                _ => tokio::process::Command::new("pgbackrest"),
            };
            c.arg(format!("--config={}", config.display()))
                .arg(format!("--stanza={}", b.stanza));
            if cmd == "info" {
                c.arg("--output=json");
            }
            c.arg(cmd).kill_on_drop(true);
            let out = tokio::time::timeout(timeout, c.output())
                .await
                .map_err(|_| format!("pgbackrest {cmd} did not finish"))?
                .map_err(|e| format!("cannot run pgbackrest: {e} (apt-get install pgbackrest)"))?;
            if out.status.success() {
                Ok(String::from_utf8_lossy(&out.stdout).to_string())
            } else {
                let msg = pgbackrest_error(
                    &String::from_utf8_lossy(&out.stderr),
                    &String::from_utf8_lossy(&out.stdout),
                );
                Err(format!("pgbackrest {cmd} failed: {msg}"))
            }
        }
    };
    if let Err(e) = run("check").await {
        return Outcome::fail(e);
    }
    let info = match run("info").await {
        Ok(t) => t,
        Err(e) => return Outcome::fail(e),
    };
    let v: serde_json::Value = match serde_json::from_str(&info) {
        Ok(v) => v,
        Err(e) => return Outcome::fail(format!("pgbackrest info printed no JSON: {e}")),
    };
    let stanza = v
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == b.stanza.as_str()));
    let Some(stanza) = stanza else {
        return Outcome::fail(format!("pgbackrest info knows no stanza `{}`", b.stanza));
    };
    let backups = stanza["backup"].as_array().cloned().unwrap_or_default();
    let Some(last) = backups.last() else {
        return Outcome::fail(format!(
            "stanza `{}` has no backup yet: run `pgbackrest --stanza={} backup`",
            b.stanza, b.stanza
        ));
    };
    let stop = last["timestamp"]["stop"].as_i64().unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let age_h = (now - stop) as f64 / 3600.0;
    let kind = last["type"].as_str().unwrap_or("?");
    let wal = &stanza["archive"][0];
    let detail = format!(
        "{} backup(s), last {kind} {:.1} h ago; WAL archive {}..{}; check passed",
        backups.len(),
        age_h,
        wal["min"].as_str().unwrap_or("-"),
        wal["max"].as_str().unwrap_or("-")
    );
    let data = json!({"backups": backups.len(), "last_type": kind, "last_age_hours": age_h});
    if age_h > 26.0 {
        Outcome::fail(format!(
            "the last backup is {age_h:.1} h old (more than a day): {detail}"
        ))
        .with(data)
    } else {
        Outcome::pass(detail).with(data)
    }
}

/// pgBackRest's error, without the text of the configuration file it may quote. The outputs
/// choose that file, and can point it at one holding a password: a parse error ends with the
/// offending line (`key/value found outside of section at line 1: <the line>`), a bad value
/// is quoted (`'<value>' is not valid for '<option>' option`). Those parts are left out.
pub(crate) fn pgbackrest_error(stderr: &str, stdout: &str) -> String {
    let line = stderr
        .lines()
        .chain(stdout.lines())
        .find(|l| l.contains("ERROR"))
        .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("no message")
        .trim();
    let mut msg = line.to_string();
    if let Some(i) = msg.find(" at line ") {
        let rest = &msg[i + " at line ".len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest[digits..].starts_with(':') {
            let end = i + " at line ".len() + digits;
            msg = format!(
                "{} of the configuration file (its text is not shown)",
                &msg[..end]
            );
        }
    }
    if let Some(i) = msg.find("' is not valid for '")
        && let Some(open) = msg[..i].rfind('\'')
    {
        msg = format!("{}a value{}", &msg[..open], &msg[i + 1..]);
    }
    // One line, and not a long one.
    if msg.chars().count() > 300 {
        msg = msg.chars().take(300).collect::<String>() + "…";
    }
    msg
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::pgbackrest_error;

    #[test]
    fn pgbackrest_errors_do_not_quote_the_configuration() {
        let e = pgbackrest_error(
            "ERROR: [029]: key/value found outside of section at line 1: primary_conninfo = 'host=10.0.0.1 password=hunter2'\n",
            "",
        );
        assert_eq!(
            e,
            "ERROR: [029]: key/value found outside of section at line 1 of the configuration file (its text is not shown)"
        );
        let e = pgbackrest_error(
            "WARN: something\nERROR: [032]: 'hunter2' is not valid for 'pg1-port' option\n",
            "",
        );
        assert_eq!(
            e,
            "ERROR: [032]: a value is not valid for 'pg1-port' option"
        );
        let e = pgbackrest_error("", "P00  ERROR: [055]: unable to load info file\n");
        assert_eq!(e, "P00  ERROR: [055]: unable to load info file");
        assert_eq!(pgbackrest_error("", ""), "no message");
        assert!(pgbackrest_error(&"x".repeat(5000), "").chars().count() <= 301);
    }
}
