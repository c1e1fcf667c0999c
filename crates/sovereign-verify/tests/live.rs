//! Every check against real servers started here on free loopback ports: passing, then
//! failing for the reasons the checks exist to catch.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use sovereign_lab::engines::dnsmasq;
use sovereign_lab::engines::pgbackrest::Stanza;
use sovereign_lab::engines::postgres::{self as pglab, Pg};
use sovereign_lab::engines::prometheus::{PromConfig, Prometheus};
use sovereign_lab::engines::redis::Redis;
use sovereign_lab::process::{self, free_port};
use sovereign_verify::{CheckResult, Options, Outputs, PgSslMode, PgTls, Status, verify};

const PW: &str = "lab-secret-9f3";

fn tempdir() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("sovereign-verify-")
        .tempdir()
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    d
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn outputs(dir: &Path, v: serde_json::Value) -> Outputs {
    let path = dir.join("outputs.json");
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    Outputs::load(&path).unwrap()
}

/// The lab's servers listen on loopback without TLS: the caller turns it off (the outputs
/// cannot).
fn no_tls() -> PgTls {
    PgTls {
        mode: PgSslMode::Disable,
        ca_file: None,
    }
}

async fn run(o: &Outputs, only: &[&str], timeout: f64) -> Vec<CheckResult> {
    run_tls(o, only, timeout, no_tls()).await
}

async fn run_tls(o: &Outputs, only: &[&str], timeout: f64, pg_tls: PgTls) -> Vec<CheckResult> {
    let opts = Options {
        only: only.iter().map(|s| s.to_string()).collect(),
        timeout: Duration::from_secs_f64(timeout),
        resolvers: vec![],
        pg_tls,
    };
    verify(o, &opts).await.unwrap()
}

fn find<'a>(r: &'a [CheckResult], name: &str, site: &str) -> &'a CheckResult {
    r.iter()
        .find(|c| c.name == name && c.site.as_deref() == Some(site))
        .unwrap_or_else(|| panic!("no {name} for {site} in {r:#?}"))
}

fn assert_pass(r: &[CheckResult], name: &str, site: &str) {
    let c = find(r, name, site);
    assert_eq!(c.status, Status::Pass, "{name} at {site}: {}", c.detail);
}

fn assert_fail(r: &[CheckResult], name: &str, site: &str, reason: &str) {
    let c = find(r, name, site);
    assert_eq!(
        c.status,
        Status::Fail,
        "{name} at {site} should fail: {}",
        c.detail
    );
    assert!(
        c.detail.contains(reason),
        "{name} at {site}: expected `{reason}` in `{}`",
        c.detail
    );
}

/// Retries a run until `ok` holds (replication and scrapes take a moment to settle).
async fn settle(
    o: &Outputs,
    only: &[&str],
    ok: impl Fn(&[CheckResult]) -> bool,
) -> Vec<CheckResult> {
    let start = Instant::now();
    loop {
        let r = run(o, only, 10.0).await;
        if ok(&r) || start.elapsed() > Duration::from_secs(60) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn all_pass(r: &[CheckResult]) -> bool {
    r.iter().all(|c| c.status == Status::Pass)
}

/// Stops the servers even when an assertion fails.
struct Cleanup(Vec<Box<dyn FnMut()>>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        for f in self.0.iter_mut().rev() {
            f();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_checks() {
    if !sovereign_lab::needs::present_or_skip(
        "postgres_checks",
        &[
            sovereign_lab::needs::Need::Postgres,
            sovereign_lab::needs::Need::PgBackRest,
        ],
    ) {
        return;
    }
    let dir = tempdir();
    let mut cleanup = Cleanup(Vec::new());
    let ip = "127.0.0.1";
    let (p1, p2, p3) = (
        free_port(ip).unwrap(),
        free_port(ip).unwrap(),
        free_port(ip).unwrap(),
    );
    let primary = Pg::init(dir.path(), "ams", ip, p1, PW).unwrap();
    let stanza = Stanza::configure(&primary, dir.path(), "ams").unwrap();
    primary.start().unwrap();
    cleanup.0.push(Box::new({
        let p = primary.clone();
        move || p.stop()
    }));
    primary.create_database("app").unwrap();
    stanza.create().unwrap();
    stanza.backup("full").unwrap();
    let standby = Pg::standby(&primary, dir.path(), "iad", ip, p2, (ip, p1)).unwrap();
    standby.start().unwrap();
    cleanup.0.push(Box::new({
        let p = standby.clone();
        move || p.stop()
    }));
    let sub = Pg::init(dir.path(), "jnb", ip, p3, PW).unwrap();
    sub.start().unwrap();
    cleanup.0.push(Box::new({
        let p = sub.clone();
        move || p.stop()
    }));
    // The publication and the replication role as the rendered roles Job creates them, then
    // the subscription as the rendered Fly.io plan makes it.
    pglab::create_roles(
        &primary,
        "app",
        &repo().join("crates/sovereign-render/assets/charts/postgres-roles/files/roles.sql"),
        "monitor-pw",
        Some("repl-pw"),
    )
    .unwrap();
    pglab::logical_replica(
        &sub,
        "app",
        &repo().join("terraform/fly/postgres-jnb/subscription.sql"),
        "repl-pw",
        (ip, p1),
    )
    .unwrap();
    // A table another role creates after the roles script ran (the application's own role,
    // typically) is published too (FOR ALL TABLES), and its first copy reads it as the
    // replicator: the roles script lets that role read every table, whoever owns it.
    primary
        .psql(
            "app",
            &[],
            None,
            Some(
                "CREATE ROLE app_owner; GRANT CREATE ON SCHEMA public TO app_owner; SET ROLE app_owner; \
                 CREATE TABLE public.orders (id int PRIMARY KEY, item text); \
                 INSERT INTO public.orders VALUES (1, 'a'), (2, 'b')",
            ),
        )
        .unwrap();
    sub.psql(
        "app",
        &[],
        None,
        Some("CREATE TABLE public.orders (id int PRIMARY KEY, item text)"),
    )
    .unwrap();
    // Run again, the rendered subscription picks up the new table (REFRESH PUBLICATION).
    let conninfo = format!(
        "host={ip} port={p1} dbname=app user=sovereign_replicator sslmode=disable password=repl-pw"
    );
    sub.psql(
        "app",
        &[("conninfo", &conninfo)],
        Some(&sub.socket_dir().join("subscription.sql")),
        None,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = sub
            .psql("app", &[], None, Some("SELECT count(*) FROM public.orders"))
            .unwrap();
        if n.trim() == "2" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the table app_owner created was not copied to the logical replica ({} rows)",
            n.trim()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    std::fs::write(
        dir.path().join("pg.json"),
        json!({"username": "postgres", "password": PW}).to_string(),
    )
    .unwrap();
    let closed = free_port(ip).unwrap();
    let mut v = json!({
        "sites": {
            "ams": {"region": "eu-west-1", "postgres": {"role": "primary", "writer_endpoint": ip, "port": p1, "database": "app"}},
            "iad": {"region": "us-east-1", "postgres": {"role": "secondary", "reader_endpoint": ip, "port": p2, "database": "app"}},
            "jnb": {"postgres": {"role": "logical_replica", "host": ip, "port": p3, "database": "app"}}
        },
        "postgres": {
            "primary_site": "ams", "database": "app", "expected_replicas": ["iad", "jnb"], "max_lag_seconds": 5.0,
            "credentials_file": "pg.json", "sslmode": "disable",
            "pgbackrest": {"stanza": "ams", "config": stanza.config, "user": stanza.user}
        }
    });
    let o = outputs(dir.path(), v.clone());
    let r = settle(&o, &["postgres::*"], all_pass).await;
    for site in ["ams", "iad", "jnb"] {
        assert_pass(&r, "postgres::reachable", site);
    }
    for site in ["iad", "jnb"] {
        assert_pass(&r, "postgres::replication", site);
        assert_pass(&r, "postgres::lag", site);
        assert_pass(&r, "postgres::write_propagation", site);
        let ms = find(&r, "postgres::write_propagation", site).data["propagation_ms"]
            .as_f64()
            .unwrap();
        assert!((0.0..10_000.0).contains(&ms), "{ms}");
    }
    assert_pass(&r, "postgres::backups", "ams");
    assert!(find(&r, "postgres::backups", "ams").detail.contains("full"));
    // The password is never in a report.
    let text = sovereign_verify::report::json(&r, 0)
        + &sovereign_verify::report::human(&r, 0, false)
        + &sovereign_verify::report::junit(&r, 0);
    assert!(!text.contains(PW));

    // The outputs say `sslmode: disable`, but only the caller can turn TLS off: by default
    // verify asks for TLS, which these servers do not offer, and says what to do.
    let r = run_tls(&o, &["postgres::reachable"], 3.0, PgTls::default()).await;
    for site in ["ams", "iad", "jnb"] {
        assert_fail(&r, "postgres::reachable", site, "does not support TLS");
        assert_fail(&r, "postgres::reachable", site, "--pg-insecure-no-tls");
    }

    // A stuck standby: replay paused while the primary writes.
    let (c, conn) = tokio_postgres::connect(&standby.conninfo("app"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c.batch_execute("SELECT pg_wal_replay_pause()")
        .await
        .unwrap();
    let (pc, pconn) = tokio_postgres::connect(&primary.conninfo("app"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(pconn);
    // (Into a table the logical replica has: a table it lacks would stop its apply worker.)
    pc.batch_execute("INSERT INTO sovereign_probe (id, site) VALUES ('busy', 'ams')")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    v["postgres"]["max_lag_seconds"] = json!(1.0);
    let o = outputs(dir.path(), v.clone());
    let r = run(&o, &["postgres::lag", "postgres::write_propagation"], 3.0).await;
    assert_fail(&r, "postgres::lag", "iad", "exceeds 1 s");
    assert_fail(&r, "postgres::write_propagation", "iad", "never arrived");
    assert_pass(&r, "postgres::write_propagation", "jnb");
    c.batch_execute("SELECT pg_wal_replay_resume()")
        .await
        .unwrap();
    v["postgres"]["max_lag_seconds"] = json!(5.0);

    // A stopped standby and a site whose port nothing listens on.
    standby.stop();
    v["sites"]["syd"] =
        json!({"postgres": {"role": "secondary", "reader_endpoint": ip, "port": closed}});
    let o = outputs(dir.path(), v.clone());
    let start = Instant::now();
    let r = run(&o, &["postgres::*"], 3.0).await;
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "took {:?}",
        start.elapsed()
    );
    assert_fail(&r, "postgres::reachable", "iad", "cannot connect");
    assert_fail(&r, "postgres::reachable", "syd", "cannot connect");
    assert_fail(&r, "postgres::replication", "iad", "no standby named `iad`");
    assert_pass(&r, "postgres::replication", "jnb");
    assert_fail(&r, "postgres::write_propagation", "iad", "cannot connect");

    // A subscription that is switched off.
    let (sc, sconn) = tokio_postgres::connect(&sub.conninfo("app"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(sconn);
    sc.batch_execute("ALTER SUBSCRIPTION sovereign_jnb DISABLE")
        .await
        .unwrap();
    let r = run(&o, &["postgres::replication"], 3.0).await;
    assert_fail(&r, "postgres::replication", "jnb", "`disabled`");

    // Backups: a stanza pgBackRest does not know, and wrong credentials.
    v["postgres"]["pgbackrest"]["stanza"] = json!("nope");
    let o = outputs(dir.path(), v.clone());
    let r = run(&o, &["postgres::backups"], 10.0).await;
    assert_fail(&r, "postgres::backups", "ams", "pgbackrest check failed");
    std::fs::write(
        dir.path().join("pg.json"),
        json!({"username": "postgres", "password": "wrong"}).to_string(),
    )
    .unwrap();
    let r = run(&o, &["postgres::reachable"], 3.0).await;
    assert_fail(
        &r,
        "postgres::reachable",
        "ams",
        "password authentication failed",
    );
    drop(cleanup);
    assert!(process::port_free(ip, p1) && process::port_free(ip, p3));
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_checks() {
    if !sovereign_lab::needs::present_or_skip("redis_checks", &[sovereign_lab::needs::Need::Redis])
    {
        return;
    }
    let dir = tempdir();
    let ip = "127.0.0.1";
    let (p1, p2) = (free_port(ip).unwrap(), free_port(ip).unwrap());
    let primary = Redis::start(dir.path(), "ams", ip, p1, PW, "allkeys-lru").unwrap();
    let replica = Redis::start(dir.path(), "iad", ip, p2, PW, "volatile-lru").unwrap();
    let _cleanup = Cleanup(vec![
        Box::new({
            let r = primary.clone();
            move || r.stop()
        }),
        Box::new({
            let r = replica.clone();
            move || r.stop()
        }),
    ]);
    replica.replicate_from(ip, p1).unwrap();
    std::fs::write(dir.path().join("redis.token"), PW).unwrap();
    let closed = free_port(ip).unwrap();
    let v = json!({
        "sites": {
            "ams": {"redis": {"primary_endpoint": ip, "port": p1}},
            "iad": {"redis": {"primary_endpoint": ip, "port": p2}}
        },
        "redis": {"mode": "global", "primary_site": "ams", "maxmemory_policy": "allkeys-lru", "credentials_file": "redis.token"}
    });
    let o = outputs(dir.path(), v.clone());
    let r = settle(&o, &["redis::*"], |r| {
        find(r, "redis::role", "iad").status == Status::Pass
    })
    .await;
    assert_pass(&r, "redis::reachable", "ams");
    assert_pass(&r, "redis::reachable", "iad");
    assert_pass(&r, "redis::role", "ams");
    assert_pass(&r, "redis::role", "iad");
    assert!(find(&r, "redis::role", "iad").detail.contains("link up"));
    assert_pass(&r, "redis::memory_policy", "ams");
    assert_fail(&r, "redis::memory_policy", "iad", "`volatile-lru`");

    // Regional mode: every site should be its own primary.
    let mut w = v.clone();
    w["redis"]["mode"] = json!("regional");
    w["sites"]["syd"] = json!({"redis": {"primary_endpoint": ip, "port": closed}});
    let o = outputs(dir.path(), w);
    let r = run(&o, &["redis::*"], 3.0).await;
    assert_fail(
        &r,
        "redis::role",
        "iad",
        "INFO reports role `slave`, the topology expects `master`",
    );
    assert_fail(&r, "redis::reachable", "syd", "cannot connect");

    // The primary goes away: the replica's link is down.
    primary.stop();
    let o = outputs(dir.path(), v);
    let r = settle(&o, &["redis::role"], |r| {
        find(r, "redis::role", "iad").status == Status::Fail
    })
    .await;
    assert_fail(&r, "redis::role", "iad", "link to it is `down`");
    assert_fail(&r, "redis::role", "ams", "cannot connect");
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_http_and_dns_checks() {
    if !sovereign_lab::needs::present_or_skip(
        "prometheus_http_and_dns_checks",
        &[
            sovereign_lab::needs::Need::Prometheus,
            sovereign_lab::needs::Need::Dnsmasq,
        ],
    ) {
        return;
    }
    let dir = tempdir();
    let ip = "127.0.0.1";
    let rules = repo().join("terraform/monitoring/rules/sovereign.rules.yml");
    let (gp, sp, dp) = (
        free_port(ip).unwrap(),
        free_port(ip).unwrap(),
        free_port(ip).unwrap(),
    );
    let dead = free_port(ip).unwrap();
    let global = Prometheus::start(
        dir.path(),
        "ams",
        ip,
        gp,
        &PromConfig {
            labels: vec![("site".into(), "ams".into())],
            scrape: vec![("prometheus".into(), vec![format!("{ip}:{gp}")])],
            rule_files: vec![rules],
            receiver: true,
            ..Default::default()
        },
    )
    .unwrap();
    let site = Prometheus::start(
        dir.path(),
        "iad",
        ip,
        sp,
        &PromConfig {
            labels: vec![("site".into(), "iad".into())],
            scrape: vec![
                ("prometheus".into(), vec![format!("{ip}:{sp}")]),
                ("app".into(), vec![format!("{ip}:{dead}")]),
            ],
            remote_write: vec![format!("http://{ip}:{gp}/api/v1/write")],
            ..Default::default()
        },
    )
    .unwrap();
    let zone = "lab.test";
    let dns = dnsmasq::start(
        &dir.path().join("dns"),
        ip,
        dp,
        zone,
        &[
            ("api.lab.test".into(), ip.into()),
            ("stray.lab.test".into(), "127.0.0.9".into()),
        ],
    )
    .unwrap();
    let _cleanup = Cleanup(vec![
        Box::new({
            let p = global.clone();
            move || p.stop()
        }),
        Box::new({
            let p = site.clone();
            move || p.stop()
        }),
        Box::new(move || process::stop(&dns, Duration::from_secs(5))),
    ]);
    let v = json!({
        "sites": {
            "ams": {"load_balancer": {"url": global.url(), "health_path": "/-/healthy"}},
            "iad": {"load_balancer": {"url": site.url(), "health_path": "/-/ready"}}
        },
        "monitoring": {"global_site": "ams", "prometheus_url": global.url(), "sites": ["ams", "iad"]},
        "dns": {"api_name": "api.lab.test", "sites": ["ams", "iad"], "resolvers": [format!("{ip}:{dp}")]}
    });
    let o = outputs(dir.path(), v.clone());
    let r = settle(&o, &["prometheus::*", "http::*", "dns::*"], |r| {
        r.iter().all(|c| {
            c.status == Status::Pass
                || (c.name == "prometheus::targets_up" && c.detail.contains("down"))
        }) && find(r, "prometheus::targets_up", "iad")
            .detail
            .contains("down")
    })
    .await;
    assert_pass(&r, "prometheus::targets_up", "ams");
    assert_fail(
        &r,
        "prometheus::targets_up",
        "iad",
        &format!("app {ip}:{dead}"),
    );
    assert_pass(&r, "prometheus::rules_loaded", "ams");
    assert!(
        find(&r, "prometheus::rules_loaded", "ams")
            .detail
            .contains("rule(s), all evaluating")
    );
    assert_pass(&r, "prometheus::remote_write", "ams");
    assert_pass(&r, "prometheus::remote_write", "iad");
    assert_pass(&r, "http::load_balancer", "ams");
    assert_pass(&r, "http::load_balancer", "iad");
    let resolver = format!("{ip}:{dp}");
    assert_pass(&r, "dns::routing", &resolver);

    // A site that never writes, rules that are not loaded (the site Prometheus has none),
    // a health path that is not there, a name that does not exist, an answer no site owns.
    let mut w = v.clone();
    w["monitoring"]["sites"] = json!(["ams", "iad", "syd"]);
    w["sites"]["iad"]["load_balancer"]["health_path"] = json!("/nope");
    let o = outputs(dir.path(), w.clone());
    let r = run(&o, &["prometheus::remote_write", "http::*"], 5.0).await;
    assert_fail(
        &r,
        "prometheus::remote_write",
        "syd",
        "no series from this site",
    );
    assert_fail(&r, "http::load_balancer", "iad", "404");
    w["monitoring"]["prometheus_url"] = json!(site.url());
    w["dns"]["api_name"] = json!("missing.lab.test");
    let o = outputs(dir.path(), w.clone());
    let r = run(&o, &["prometheus::rules_loaded", "dns::*"], 5.0).await;
    assert_fail(
        &r,
        "prometheus::rules_loaded",
        "ams",
        "no `sovereign.*` rule group",
    );
    assert_fail(&r, "dns::routing", &resolver, "NXDOMAIN");
    w["dns"]["api_name"] = json!("stray.lab.test");
    let o = outputs(dir.path(), w.clone());
    let r = run(&o, &["dns::*"], 5.0).await;
    assert_fail(
        &r,
        "dns::routing",
        &resolver,
        "127.0.0.9 which belong(s) to no serving site",
    );

    // Dead endpoints fail within the timeout, not later.
    let closed = free_port(ip).unwrap();
    w["monitoring"]["prometheus_url"] = json!(format!("http://{ip}:{closed}"));
    w["sites"]["ams"]["load_balancer"]["url"] = json!(format!("http://{ip}:{closed}"));
    w["dns"]["resolvers"] = json!([format!("{ip}:{closed}")]);
    let o = outputs(dir.path(), w);
    let start = Instant::now();
    let r = run(&o, &["prometheus::*", "http::*", "dns::*"], 2.0).await;
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "took {:?}",
        start.elapsed()
    );
    assert_fail(&r, "prometheus::targets_up", "ams", "cannot reach");
    assert_fail(&r, "http::load_balancer", "ams", "failed");
    assert_eq!(
        find(&r, "dns::routing", &format!("{ip}:{closed}")).status,
        Status::Fail
    );
}

/// A server that accepts connections and never answers: checks give up at the timeout.
#[tokio::test(flavor = "multi_thread")]
async fn silent_servers_time_out() {
    let dir = tempdir();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::fs::write(
        dir.path().join("pg.json"),
        json!({"username": "u", "password": "p"}).to_string(),
    )
    .unwrap();
    let v = json!({
        "sites": {"ams": {
            "postgres": {"role": "primary", "writer_endpoint": "127.0.0.1", "port": port},
            "redis": {"primary_endpoint": "127.0.0.1", "port": port},
            "load_balancer": {"url": format!("http://127.0.0.1:{port}"), "health_path": "/"}
        }},
        "postgres": {"primary_site": "ams", "credentials_file": "pg.json", "sslmode": "disable", "backup_retention_days": 7},
        "redis": {"maxmemory_policy": "allkeys-lru"}
    });
    let o = outputs(dir.path(), v);
    let start = Instant::now();
    let r = run(&o, &["*::reachable", "http::*"], 1.5).await;
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(r.len() >= 3);
    for c in &r {
        assert_eq!(c.status, Status::Fail, "{c:?}");
    }
    drop(listener);
}

/// A CA, and a certificate it signs for 127.0.0.1, made with the openssl command line.
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &str| {
        let out = std::process::Command::new("openssl")
            .args(args.split_whitespace())
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
         -subj /CN=sovereign-test-CA -addext basicConstraints=critical,CA:TRUE \
         -addext keyUsage=critical,keyCertSign",
    );
    openssl("req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1");
    openssl(
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
         -days 2 -extfile server.ext",
    );
    (
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
    )
}

/// Finding 8 of issue 10: an outputs file saying `sslmode: disable` made verify send the
/// password in clear text. TLS is the caller's choice; the outputs can only make it stricter.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_tls_is_the_callers_choice() {
    if !sovereign_lab::needs::present_or_skip(
        "postgres_tls_is_the_callers_choice",
        &[sovereign_lab::needs::Need::Postgres],
    ) {
        return;
    }
    let dir = tempdir();
    let ip = "127.0.0.1";
    let port = free_port(ip).unwrap();
    let pg = Pg::init(dir.path(), "ams", ip, port, PW).unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let (ca, crt, key) = certificates(&certs);
    // The server reads its key as its own user, from a file only that user can read.
    for (from, name) in [(&crt, "server.crt"), (&key, "server.key")] {
        let to = pg.data.join(name);
        std::fs::copy(from, &to).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let owner = std::fs::metadata(&pg.data).unwrap();
            std::os::unix::fs::chown(&to, Some(owner.uid()), Some(owner.gid())).unwrap();
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    pg.write_conf(&[
        ("ssl", "on"),
        ("ssl_cert_file", "'server.crt'"),
        ("ssl_key_file", "'server.key'"),
    ])
    .unwrap();
    // TCP sessions must be encrypted: a plain one is refused by pg_hba.conf.
    std::fs::write(
        pg.data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.0/8 scram-sha-256\n",
    )
    .unwrap();
    pg.start().unwrap();
    let _cleanup = Cleanup(vec![Box::new({
        let p = pg.clone();
        move || p.stop()
    })]);
    std::fs::write(
        dir.path().join("pg.json"),
        json!({"username": "postgres", "password": PW}).to_string(),
    )
    .unwrap();
    let mut v = json!({
        "sites": {"ams": {"postgres": {"role": "primary", "writer_endpoint": ip, "port": port}}},
        "postgres": {"primary_site": "ams", "credentials_file": "pg.json", "sslmode": "disable", "backup_retention_days": 7}
    });
    let only = ["postgres::reachable"];
    let with_ca = |mode| PgTls {
        mode,
        ca_file: Some(ca.clone()),
    };

    // The outputs' `disable` is ignored: the default encrypts, and the server lets it in.
    let o = outputs(dir.path(), v.clone());
    let r = run_tls(&o, &only, 5.0, PgTls::default()).await;
    assert_pass(&r, "postgres::reachable", "ams");
    // Turned off by the caller: a plain session, which this server refuses.
    let r = run_tls(&o, &only, 5.0, no_tls()).await;
    assert_fail(&r, "postgres::reachable", "ams", "no encryption");
    // verify-full against the CA that signed the certificate, and against the web's roots.
    let r = run_tls(&o, &only, 5.0, with_ca(PgSslMode::VerifyFull)).await;
    assert_pass(&r, "postgres::reachable", "ams");
    let verify_full_web = PgTls {
        mode: PgSslMode::VerifyFull,
        ca_file: None,
    };
    let r = run_tls(&o, &only, 5.0, verify_full_web).await;
    assert_fail(&r, "postgres::reachable", "ams", "UnknownIssuer");

    // The outputs can raise the caller's choice to verify-full, even from "no TLS".
    v["postgres"]["sslmode"] = json!("verify-full");
    let o = outputs(dir.path(), v.clone());
    for caller in [PgTls::default(), no_tls()] {
        let r = run_tls(&o, &only, 5.0, caller).await;
        assert_fail(&r, "postgres::reachable", "ams", "UnknownIssuer");
    }
    let r = run_tls(&o, &only, 5.0, with_ca(PgSslMode::Require)).await;
    assert_pass(&r, "postgres::reachable", "ams");

    // An sslmode the outputs cannot mean fails the checks rather than being guessed at.
    v["postgres"]["sslmode"] = json!("off");
    let o = outputs(dir.path(), v);
    let r = run_tls(&o, &only, 5.0, PgTls::default()).await;
    assert_fail(&r, "postgres::reachable", "ams", "`off` is not one of");
}

/// Finding 9 of issue 10: an engine whose own output is missing was skipped without a word.
/// Without a topology, per-site endpoints of an engine whose output is missing (or, for
/// Cassandra, names no datacenter) are a failed `<engine>::outputs_present`.
#[tokio::test(flavor = "multi_thread")]
async fn missing_sections_are_failed_checks() {
    let dir = tempdir();
    let mut v = json!({"sites": {
        "ams": {
            "postgres": {"role": "primary", "writer_endpoint": "127.0.0.1", "port": 1},
            "redis": {"primary_endpoint": "127.0.0.1", "port": 1},
            "cassandra": {"datacenter": "ams", "contact_points": ["127.0.0.1"]}
        },
        "iad": {"postgres": {"role": "secondary", "reader_endpoint": "127.0.0.1", "port": 1}}
    }});
    let o = outputs(dir.path(), v.clone());
    let r = run(&o, &["*::outputs_present"], 2.0).await;
    assert_eq!(r.len(), 3, "{r:#?}");
    for (engine, what) in [
        (
            "postgres",
            "PostgreSQL endpoints at ams, iad but no `postgres` output",
        ),
        ("redis", "caches at ams but no `redis` output"),
        (
            "cassandra",
            "Cassandra contact points at ams but no `cassandra` output",
        ),
    ] {
        let c = r
            .iter()
            .find(|c| c.name == format!("{engine}::outputs_present"))
            .unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains(what), "{}", c.detail);
    }
    v["cassandra"] = json!({"keyspace": "k", "datacenters": {}});
    let o = outputs(dir.path(), v.clone());
    let r = run(&o, &["cassandra::*"], 2.0).await;
    assert_fail_anywhere(
        &r,
        "cassandra::outputs_present",
        "no `cassandra.datacenters`",
    );
    // With each engine's output present there is nothing to report.
    v["postgres"] = json!({"primary_site": "ams"});
    v["redis"] = json!({});
    v["cassandra"]["datacenters"] = json!({"ams": {"nodes": 1, "replication_factor": 1}});
    let o = outputs(dir.path(), v);
    assert!(run(&o, &["*::outputs_present"], 2.0).await.is_empty());
}

fn assert_fail_anywhere(r: &[CheckResult], name: &str, reason: &str) {
    let c = r
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} in {r:#?}"));
    assert_eq!(c.status, Status::Fail, "{}", c.detail);
    assert!(c.detail.contains(reason), "{}", c.detail);
}
