//! The lab's reference application: a small HTTP service started in every serving site, standing
//! in for the user's API so the lab can rehearse what users see. It is not a product and not the
//! user's image (Sovereign never builds that); its routes are the lab's contract with its own
//! load generator ([`crate::users`]):
//!
//! - `GET <health_path>`: 200 while every data-tier server of its own site accepts connections
//!   (PostgreSQL, Redis, the site's Cassandra node), 503 naming what is down otherwise. The lab
//!   DNS ([`crate::dns`]) probes it as Route 53 probes the load balancer.
//! - `GET /v1/items/<id>`: Redis first (cache-aside); on a miss the site's own PostgreSQL copy,
//!   then the value is cached; and the row at `LOCAL_QUORUM` from the site's Cassandra
//!   datacenter when the site has one. 404 when PostgreSQL has no such row.
//! - `POST /v1/items` (the body is the item's text): inserted on the PostgreSQL primary wherever
//!   it is (every physical member is tried, through the latency proxy, and the one that accepts
//!   writes is kept, as libpq's `target_session_attrs=read-write` does), then into Cassandra at
//!   `LOCAL_QUORUM`; 201 with the new id only when both acknowledged it.
//!
//! Every statement is prepared with bound parameters; a failed dependency answers 503 with
//! `{"error": <kind>, "detail": ...}` and the connection is opened again on the next request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio_postgres::NoTls;

use crate::LabError;

/// The PostgreSQL table the application reads and writes (created by `lab up`).
pub const PG_TABLE: &str = "public.sovereign_app_items";
pub const PG_DDL: &str = "CREATE TABLE IF NOT EXISTS public.sovereign_app_items (id bigserial PRIMARY KEY, body text NOT NULL, site text NOT NULL, written_at timestamptz NOT NULL DEFAULT now())";
/// The Cassandra table, in the lab's keyspace.
pub const CQL_TABLE: &str = "sovereign_app_items";
/// Item bodies longer than this are refused (413).
pub const MAX_BODY: usize = 4096;

/// The application's Cassandra: its own datacenter's node.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CassandraTarget {
    pub node: SocketAddr,
    pub dc: String,
    pub keyspace: String,
}

/// Everything one site's application needs. Secrets stay in the lab's `credentials/` files,
/// read at start from `lab_dir`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppConfig {
    pub site: String,
    pub listen: SocketAddr,
    pub health_path: String,
    pub database: String,
    pub pg_user: String,
    /// The site's own PostgreSQL copy, for reads.
    pub pg_read: Option<SocketAddr>,
    /// Every physical PostgreSQL as reached from this site (its own directly, the others
    /// through the latency proxy), nearest first: writes go to the one that accepts them.
    pub pg_write: Vec<SocketAddr>,
    pub redis: Option<SocketAddr>,
    pub cassandra: Option<CassandraTarget>,
    /// What the health path checks: (what, address).
    pub needs: Vec<(String, SocketAddr)>,
    /// Seconds a cached item lives in Redis.
    pub cache_ttl_seconds: u32,
    /// The lab directory, whose `credentials/` hold the passwords.
    pub lab_dir: PathBuf,
}

#[derive(Default)]
struct Secrets {
    pg: String,
    redis: String,
    cassandra: Option<(String, String)>,
}

fn read_secrets(dir: &Path) -> Result<Secrets, LabError> {
    let read = |rel: &str| -> Result<Option<String>, LabError> {
        let p = dir.join(rel);
        match std::fs::read_to_string(&p) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LabError::io(format!("cannot read {}", p.display()), e)),
        }
    };
    let json = |t: Option<String>| -> serde_json::Value {
        t.and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    };
    let pg = json(read(crate::outputs::PG_CREDENTIALS)?);
    let cass = json(read(crate::outputs::CASSANDRA_CREDENTIALS)?);
    Ok(Secrets {
        pg: pg["password"].as_str().unwrap_or_default().to_string(),
        redis: read(crate::outputs::REDIS_CREDENTIALS)?
            .unwrap_or_default()
            .trim()
            .to_string(),
        cassandra: match (cass["username"].as_str(), cass["password"].as_str()) {
            (Some(u), Some(p)) => Some((u.to_string(), p.to_string())),
            _ => None,
        },
    })
}

/// A PostgreSQL client opened on first use and again after it breaks.
struct PgConn {
    cfg: tokio_postgres::Config,
    client: Mutex<Option<Arc<tokio_postgres::Client>>>,
}

impl PgConn {
    fn new(
        hosts: &[SocketAddr],
        c: &AppConfig,
        password: &str,
        writer: bool,
        connect_timeout: Duration,
    ) -> PgConn {
        let mut cfg = tokio_postgres::Config::new();
        for h in hosts {
            cfg.host(h.ip().to_string()).port(h.port());
        }
        cfg.user(&c.pg_user)
            .password(password)
            .dbname(&c.database)
            .application_name(format!("sovereign-app-{}", c.site))
            .connect_timeout(connect_timeout);
        if writer {
            cfg.target_session_attrs(tokio_postgres::config::TargetSessionAttrs::ReadWrite);
        }
        PgConn {
            cfg,
            client: Mutex::new(None),
        }
    }

    async fn get(&self) -> Result<Arc<tokio_postgres::Client>, String> {
        let mut g = self.client.lock().await;
        if let Some(c) = g.as_ref()
            && !c.is_closed()
        {
            return Ok(c.clone());
        }
        *g = None;
        let (c, conn) = self
            .cfg
            .connect(NoTls)
            .await
            .map_err(|e| crate::DbError(&e).to_string())?;
        tokio::spawn(conn);
        let c = Arc::new(c);
        *g = Some(c.clone());
        Ok(c)
    }

    /// Forgets a client that failed, so the next request connects again.
    async fn drop_client(&self, failed: &Arc<tokio_postgres::Client>) {
        let mut g = self.client.lock().await;
        if g.as_ref().is_some_and(|c| Arc::ptr_eq(c, failed)) {
            *g = None;
        }
    }
}

struct RedisConn {
    client: redis::Client,
    conn: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl RedisConn {
    async fn get(&self) -> Result<redis::aio::MultiplexedConnection, String> {
        let mut g = self.conn.lock().await;
        if let Some(c) = g.as_ref() {
            return Ok(c.clone());
        }
        let cfg = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
            .map_err(|e| e.to_string())?;
        *g = Some(c.clone());
        Ok(c)
    }

    async fn reset(&self) {
        *self.conn.lock().await = None;
    }
}

type Cql = scylla::client::session::Session;

struct App {
    cfg: AppConfig,
    read: Option<PgConn>,
    write: Option<PgConn>,
    redis: Option<RedisConn>,
    cql: Mutex<Option<Arc<Cql>>>,
    cql_creds: Option<(String, String)>,
    op_timeout: Duration,
}

/// An answer with a JSON body.
fn json(status: StatusCode, v: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string() + "\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// A failed dependency: 503 with its kind.
fn unavailable(kind: &str, detail: impl std::fmt::Display) -> Response<Full<Bytes>> {
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        serde_json::json!({"error": kind, "detail": detail.to_string()}),
    )
}

impl App {
    async fn cql(&self) -> Result<Arc<Cql>, String> {
        let Some(t) = &self.cfg.cassandra else {
            return Err("no Cassandra in this site".into());
        };
        let mut g = self.cql.lock().await;
        if let Some(s) = g.as_ref() {
            return Ok(s.clone());
        }
        use scylla::policies::load_balancing::DefaultPolicy;
        // Coordinators in this site's datacenter only, as LOCAL_QUORUM means.
        let policy = DefaultPolicy::builder()
            .prefer_datacenter(t.dc.clone())
            .permit_dc_failover(false)
            .build();
        let profile = scylla::client::execution_profile::ExecutionProfile::builder()
            .load_balancing_policy(policy)
            .consistency(scylla::statement::Consistency::LocalQuorum)
            .request_timeout(Some(self.op_timeout))
            .build();
        let mut b = scylla::client::session_builder::SessionBuilder::new()
            .known_node(t.node.to_string())
            .connection_timeout(Duration::from_secs(2))
            .default_execution_profile_handle(profile.into_handle());
        if let Some((u, p)) = &self.cql_creds {
            b = b.user(u, p);
        }
        let s = Arc::new(b.build().await.map_err(|e| e.to_string())?);
        *g = Some(s.clone());
        Ok(s)
    }

    async fn health(&self) -> Response<Full<Bytes>> {
        let mut down = Vec::new();
        for (what, addr) in &self.cfg.needs {
            match tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr)).await {
                Ok(Ok(_)) => {}
                _ => down.push(format!("{what} {addr}")),
            }
        }
        if down.is_empty() {
            json(
                StatusCode::OK,
                serde_json::json!({"site": self.cfg.site, "status": "ok"}),
            )
        } else {
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"site": self.cfg.site, "status": "down", "down": down}),
            )
        }
    }

    async fn read(&self, id: i64) -> Response<Full<Bytes>> {
        let key = format!("sovereign:item:{id}");
        let mut cache = "miss";
        let mut body: Option<String> = None;
        if let Some(r) = &self.redis {
            match r.get().await {
                Ok(mut c) => {
                    match tokio::time::timeout(
                        self.op_timeout,
                        redis::cmd("GET")
                            .arg(&key)
                            .query_async::<Option<String>>(&mut c),
                    )
                    .await
                    {
                        Ok(Ok(Some(v))) => {
                            cache = "hit";
                            body = Some(v);
                        }
                        Ok(Ok(None)) => {}
                        _ => {
                            cache = "error";
                            r.reset().await;
                        }
                    }
                }
                Err(_) => cache = "error",
            }
        }
        if body.is_none() {
            let conn = match self.read.as_ref().or(self.write.as_ref()) {
                Some(c) => c,
                None => return unavailable("postgres_read", "no PostgreSQL for this site"),
            };
            let client = match conn.get().await {
                Ok(c) => c,
                Err(e) => return unavailable("postgres_read", e),
            };
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
            let q = client.query_opt(
                "SELECT body FROM public.sovereign_app_items WHERE id = $1",
                &params,
            );
            match tokio::time::timeout(self.op_timeout, q).await {
                Ok(Ok(Some(row))) => body = Some(row.get(0)),
                Ok(Ok(None)) => {
                    return json(
                        StatusCode::NOT_FOUND,
                        serde_json::json!({"error": "not_found", "id": id}),
                    );
                }
                Ok(Err(e)) => {
                    conn.drop_client(&client).await;
                    return unavailable("postgres_read", crate::DbError(&e));
                }
                Err(_) => {
                    conn.drop_client(&client).await;
                    return unavailable("postgres_read", "timed out");
                }
            }
            if cache == "miss"
                && let (Some(r), Some(v)) = (&self.redis, &body)
                && let Ok(mut c) = r.get().await
            {
                let mut cmd = redis::cmd("SET");
                cmd.arg(&key)
                    .arg(v)
                    .arg("EX")
                    .arg(self.cfg.cache_ttl_seconds.max(1));
                let set = cmd.query_async::<()>(&mut c);
                if !matches!(tokio::time::timeout(self.op_timeout, set).await, Ok(Ok(()))) {
                    r.reset().await;
                }
            }
        }
        let mut cassandra = serde_json::Value::Null;
        if let Some(t) = &self.cfg.cassandra {
            let s = match self.cql().await {
                Ok(s) => s,
                Err(e) => return unavailable("cassandra_read", e),
            };
            let q = format!(
                "SELECT body FROM \"{}\".{CQL_TABLE} WHERE id = ?",
                t.keyspace.replace('"', "\"\"")
            );
            match s.query_unpaged(q, (id,)).await {
                Ok(r) => {
                    let found = r
                        .into_rows_result()
                        .map(|rows| rows.rows_num() > 0)
                        .unwrap_or(false);
                    cassandra = serde_json::Value::Bool(found);
                }
                Err(e) => return unavailable("cassandra_read", e),
            }
        }
        json(
            StatusCode::OK,
            serde_json::json!({"id": id, "body": body, "site": self.cfg.site, "cache": cache, "cassandra_found": cassandra}),
        )
    }

    async fn write(&self, body: String) -> Response<Full<Bytes>> {
        let Some(conn) = &self.write else {
            return unavailable("postgres_write", "no path to the PostgreSQL primary");
        };
        let client = match conn.get().await {
            Ok(c) => c,
            Err(e) => return unavailable("postgres_write", e),
        };
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&body, &self.cfg.site];
        let q = client.query_one(
            "INSERT INTO public.sovereign_app_items (body, site) VALUES ($1, $2) RETURNING id",
            &params,
        );
        let id: i64 = match tokio::time::timeout(self.op_timeout, q).await {
            Ok(Ok(row)) => row.get(0),
            Ok(Err(e)) => {
                conn.drop_client(&client).await;
                return unavailable("postgres_write", crate::DbError(&e));
            }
            Err(_) => {
                conn.drop_client(&client).await;
                return unavailable("postgres_write", "timed out");
            }
        };
        if let Some(t) = &self.cfg.cassandra {
            let s = match self.cql().await {
                Ok(s) => s,
                Err(e) => return unavailable("cassandra_write", e),
            };
            let q = format!(
                "INSERT INTO \"{}\".{CQL_TABLE} (id, body, site) VALUES (?, ?, ?)",
                t.keyspace.replace('"', "\"\"")
            );
            if let Err(e) = s.query_unpaged(q, (id, &body, &self.cfg.site)).await {
                return unavailable("cassandra_write", e);
            }
        }
        json(
            StatusCode::CREATED,
            serde_json::json!({"id": id, "site": self.cfg.site}),
        )
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        if path == self.cfg.health_path {
            return match method {
                Method::GET | Method::HEAD => self.health().await,
                _ => json(
                    StatusCode::METHOD_NOT_ALLOWED,
                    serde_json::json!({"error": "method"}),
                ),
            };
        }
        if path == "/v1/items" {
            if method != Method::POST {
                return json(
                    StatusCode::METHOD_NOT_ALLOWED,
                    serde_json::json!({"error": "method", "detail": "POST /v1/items"}),
                );
            }
            let bytes = match Limited::new(req.into_body(), MAX_BODY).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    return json(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        serde_json::json!({"error": "too_large", "limit": MAX_BODY}),
                    );
                }
            };
            let Ok(text) = String::from_utf8(bytes.to_vec()) else {
                return json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": "bad_request", "detail": "the body is not UTF-8"}),
                );
            };
            return self.write(text).await;
        }
        if let Some(id) = path.strip_prefix("/v1/items/") {
            if method != Method::GET {
                return json(
                    StatusCode::METHOD_NOT_ALLOWED,
                    serde_json::json!({"error": "method", "detail": "GET /v1/items/<id>"}),
                );
            }
            return match id.parse::<i64>() {
                Ok(id) => self.read(id).await,
                Err(_) => json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": "bad_request", "detail": "the id is not an integer"}),
                ),
            };
        }
        json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "not_found", "routes": [self.cfg.health_path.clone(), "/v1/items".to_string(), "/v1/items/<id>".to_string()]}),
        )
    }
}

/// Serves the application until the process ends. The listener is bound before the first
/// await returns, so a taken port is an error.
pub async fn serve(cfg: AppConfig, op_timeout: Duration) -> Result<(), LabError> {
    let secrets = read_secrets(&cfg.lab_dir)?;
    let listener = TcpListener::bind(cfg.listen).await.map_err(|e| {
        LabError::io(
            format!(
                "the application of {} cannot listen on {}",
                cfg.site, cfg.listen
            ),
            e,
        )
    })?;
    let read = cfg
        .pg_read
        .map(|a| PgConn::new(&[a], &cfg, &secrets.pg, false, op_timeout));
    let write = (!cfg.pg_write.is_empty())
        .then(|| PgConn::new(&cfg.pg_write, &cfg, &secrets.pg, true, op_timeout));
    let redis = match cfg.redis {
        Some(a) => {
            let url = format!("redis://{}:{}/", a.ip(), a.port());
            let info = redis::IntoConnectionInfo::into_connection_info(url.as_str())
                .map_err(|e| LabError::client(format!("Redis address {a}"), e))?;
            let settings = info.redis_settings().clone().set_password(&secrets.redis);
            let client = redis::Client::open(info.set_redis_settings(settings))
                .map_err(|e| LabError::client(format!("Redis at {a}"), e))?;
            Some(RedisConn {
                client,
                conn: Mutex::new(None),
            })
        }
        None => None,
    };
    let app = Arc::new(App {
        cql_creds: secrets.cassandra.clone(),
        cfg,
        read,
        write,
        redis,
        cql: Mutex::new(None),
        op_timeout,
    });
    // Connections are opened now, in the background, so the first users do not pay for them;
    // a dependency that is down is tried again on the next request.
    {
        let app = app.clone();
        tokio::spawn(async move {
            for c in [app.read.as_ref(), app.write.as_ref()]
                .into_iter()
                .flatten()
            {
                let _ = c.get().await;
            }
            if let Some(r) = &app.redis {
                let _ = r.get().await;
            }
            if app.cfg.cassandra.is_some() {
                let _ = app.cql().await;
            }
        });
    }
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(app.handle(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Runs the application in this process (the hidden `sovereign lab app` command).
pub fn run_from_file(path: &Path) -> Result<(), LabError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LabError::io(format!("cannot read {}", path.display()), e))?;
    let cfg: AppConfig = serde_json::from_str(&text).map_err(|e| {
        LabError::json(
            format!("{} is not an application configuration", path.display()),
            e,
        )
    })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| LabError::io("cannot start the runtime", e))?;
    rt.block_on(serve(cfg, Duration::from_secs(5)))
}
