//! The reference application against a real PostgreSQL and Redis: health follows the data
//! tier, reads go through the cache, writes find the primary among the hosts it is given, and
//! input is bound, never spliced into SQL.

use std::net::SocketAddr;
use std::time::Duration;

use sovereign_lab::app::{self, AppConfig};
use sovereign_lab::engines::postgres::Pg;
use sovereign_lab::engines::redis::Redis;
use sovereign_lab::process::{self, free_port};

fn tempdir() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("sovereign-app-")
        .tempdir()
        .unwrap();
    // PostgreSQL runs as the postgres user: it must be able to enter the directory.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    d
}

async fn call(
    addr: SocketAddr,
    method: reqwest::Method,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .request(method, format!("http://{addr}{path}"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_writes_and_health_on_the_real_engines() {
    if !sovereign_lab::needs::present_or_skip(
        "reads_writes_and_health_on_the_real_engines",
        &[
            sovereign_lab::needs::Need::Postgres,
            sovereign_lab::needs::Need::Redis,
        ],
    ) {
        return;
    }
    let dir = tempdir();
    let lab = dir.path().join("lab");
    std::fs::create_dir_all(lab.join("credentials")).unwrap();
    let pg_port = free_port("127.0.0.1").unwrap();
    let pg = Pg::init(dir.path(), "pg", "127.0.0.1", pg_port, "app-test-pw").unwrap();
    pg.start().unwrap();
    let _stop_pg = process::OnDrop({
        let p = pg.clone();
        move || p.stop()
    });
    let redis_port = free_port("127.0.0.1").unwrap();
    let redis = Redis::start(
        &dir.path().join("redis"),
        "r",
        "127.0.0.1",
        redis_port,
        "redis-token",
        "allkeys-lru",
    )
    .unwrap();
    let _stop_redis = process::OnDrop({
        let r = redis.clone();
        move || r.stop()
    });
    std::fs::write(
        lab.join("credentials/postgres.json"),
        r#"{"username": "postgres", "password": "app-test-pw"}"#,
    )
    .unwrap();
    std::fs::write(lab.join("credentials/redis.token"), "redis-token\n").unwrap();
    let (c, conn) = tokio_postgres::connect(&pg.conninfo("postgres"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c.batch_execute(app::PG_DDL).await.unwrap();

    let pg_addr: SocketAddr = format!("127.0.0.1:{pg_port}").parse().unwrap();
    let redis_addr: SocketAddr = format!("127.0.0.1:{redis_port}").parse().unwrap();
    // A host that refuses first: writes must move on to the one that accepts them.
    let dead: SocketAddr = format!("127.0.0.1:{}", free_port("127.0.0.1").unwrap())
        .parse()
        .unwrap();
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port("127.0.0.1").unwrap())
        .parse()
        .unwrap();
    let cfg = AppConfig {
        site: "ams".into(),
        listen,
        health_path: "/healthz".into(),
        database: "postgres".into(),
        pg_user: "postgres".into(),
        pg_read: Some(pg_addr),
        pg_write: vec![dead, pg_addr],
        redis: Some(redis_addr),
        cassandra: None,
        needs: vec![("postgres".into(), pg_addr), ("redis".into(), redis_addr)],
        cache_ttl_seconds: 30,
        lab_dir: lab.clone(),
    };
    tokio::spawn(app::serve(cfg, Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (s, v) = call(listen, reqwest::Method::GET, "/healthz", "").await;
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")), "{v}");

    // A write with a body that would be SQL if it were spliced in.
    let evil = "x'); DROP TABLE public.sovereign_app_items; --";
    let (s, v) = call(listen, reqwest::Method::POST, "/v1/items", evil).await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    assert_eq!(v["site"], "ams");
    // Read: a miss filled from PostgreSQL, then a hit from Redis, the same text both times.
    let (s, v) = call(listen, reqwest::Method::GET, &format!("/v1/items/{id}"), "").await;
    assert_eq!(
        (s, v["cache"].as_str(), v["body"].as_str()),
        (200, Some("miss"), Some(evil))
    );
    let (s, v) = call(listen, reqwest::Method::GET, &format!("/v1/items/{id}"), "").await;
    assert_eq!(
        (s, v["cache"].as_str(), v["body"].as_str()),
        (200, Some("hit"), Some(evil))
    );
    let n: i64 = c
        .query_one("SELECT count(*) FROM public.sovereign_app_items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the table is still there, with the one row");
    // Bad requests are answered as such.
    assert_eq!(
        call(listen, reqwest::Method::GET, "/v1/items/999999", "")
            .await
            .0,
        404
    );
    assert_eq!(
        call(listen, reqwest::Method::GET, "/v1/items/1%3B", "")
            .await
            .0,
        400
    );
    assert_eq!(
        call(listen, reqwest::Method::DELETE, "/v1/items", "")
            .await
            .0,
        405
    );
    let big = "x".repeat(app::MAX_BODY + 1);
    assert_eq!(
        call(listen, reqwest::Method::POST, "/v1/items", &big)
            .await
            .0,
        413
    );
    assert_eq!(
        call(listen, reqwest::Method::GET, "/nothing", "").await.0,
        404
    );

    // Redis stops: the site is unhealthy (naming it), reads still come from PostgreSQL.
    redis.stop();
    let (s, v) = call(listen, reqwest::Method::GET, "/healthz", "").await;
    assert_eq!(s, 503, "{v}");
    assert!(v["down"][0].as_str().unwrap().starts_with("redis "), "{v}");
    let (s, v) = call(listen, reqwest::Method::GET, &format!("/v1/items/{id}"), "").await;
    assert_eq!((s, v["cache"].as_str()), (200, Some("error")), "{v}");

    // PostgreSQL stops: writes fail with their kind, and come back when it does.
    pg.stop();
    let (s, v) = call(listen, reqwest::Method::POST, "/v1/items", "after").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (503, Some("postgres_write")),
        "{v}"
    );
    pg.start().unwrap();
    let (s, v) = call(listen, reqwest::Method::POST, "/v1/items", "after").await;
    assert_eq!(s, 201, "{v}");
}
