//! The engines start for real on loopback ports and clean up.

use std::time::Duration;

use sovereign_lab::engines::dnsmasq;
use sovereign_lab::engines::postgres::Pg;
use sovereign_lab::engines::prometheus::{PromConfig, Prometheus};
use sovereign_lab::engines::redis::Redis;
use sovereign_lab::process::{self, free_port};

fn tempdir() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("sovereign-engines-")
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

async fn query_one(pg: &Pg, sql: &str) -> String {
    let (client, conn) = tokio_postgres::connect(&pg.conninfo("postgres"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let row = client.query_one(sql, &[]).await.unwrap();
    row.get::<_, String>(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_primary_and_standby() {
    if !sovereign_lab::needs::present_or_skip(
        "postgres_primary_and_standby",
        &[sovereign_lab::needs::Need::Postgres],
    ) {
        return;
    }
    let dir = tempdir();
    let p1 = free_port("127.0.0.1").unwrap();
    let primary = Pg::init(dir.path(), "primary", "127.0.0.1", p1, "secret-pw").unwrap();
    primary.start().unwrap();
    let _stop_primary = process::OnDrop({
        let p = primary.clone();
        move || p.stop()
    });
    let p2 = free_port("127.0.0.1").unwrap();
    let standby = Pg::standby(
        &primary,
        dir.path(),
        "standby",
        "127.0.0.1",
        p2,
        ("127.0.0.1", p1),
    )
    .unwrap();
    standby.start().unwrap();
    let _stop_standby = process::OnDrop({
        let p = standby.clone();
        move || p.stop()
    });
    let (client, conn) =
        tokio_postgres::connect(&primary.conninfo("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute("CREATE TABLE t (v text); INSERT INTO t VALUES ('hello')")
        .await
        .unwrap();
    let mut seen = false;
    for _ in 0..100 {
        let (c2, conn2) =
            tokio_postgres::connect(&standby.conninfo("postgres"), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(conn2);
        if let Ok(row) = c2.query_one("SELECT v FROM t", &[]).await {
            assert_eq!(row.get::<_, String>(0), "hello");
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the standby never saw the row");
    let state = query_one(
        &primary,
        "SELECT application_name || ':' || state FROM pg_stat_replication",
    )
    .await;
    assert_eq!(state, "standby:streaming");
    let pid = primary.pid().unwrap();
    primary.stop();
    standby.stop();
    assert!(!process::alive(pid));
    assert!(process::port_free("127.0.0.1", p1) && process::port_free("127.0.0.1", p2));
}

#[test]
fn redis_prometheus_dnsmasq() {
    if !sovereign_lab::needs::present_or_skip(
        "redis_prometheus_dnsmasq",
        &[
            sovereign_lab::needs::Need::Redis,
            sovereign_lab::needs::Need::Prometheus,
            sovereign_lab::needs::Need::Dnsmasq,
        ],
    ) {
        return;
    }
    let dir = tempdir();
    let rp = free_port("127.0.0.1").unwrap();
    let r = Redis::start(dir.path(), "cache", "127.0.0.1", rp, "pw", "allkeys-lru").unwrap();
    let _stop_redis = process::OnDrop({
        let proc = r.proc.clone();
        move || process::stop(&proc, Duration::from_secs(5))
    });
    let pp = free_port("127.0.0.1").unwrap();
    let cfg = PromConfig {
        receiver: true,
        scrape: vec![("self".into(), vec![format!("127.0.0.1:{pp}")])],
        ..Default::default()
    };
    let p = Prometheus::start(dir.path(), "prom", "127.0.0.1", pp, &cfg).unwrap();
    let _stop_prom = process::OnDrop({
        let proc = p.proc.clone();
        move || process::stop(&proc, Duration::from_secs(5))
    });
    let dp = free_port("127.0.0.1").unwrap();
    let d = dnsmasq::start(
        &dir.path().join("dns"),
        "127.0.0.1",
        dp,
        "lab.test",
        &[
            ("api.lab.test".into(), "127.0.0.2".into()),
            ("api.lab.test".into(), "127.0.0.3".into()),
        ],
    )
    .unwrap();
    let _stop_dns = process::OnDrop({
        let proc = d.clone();
        move || process::stop(&proc, Duration::from_secs(5))
    });
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", rp)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(b"AUTH pw\r\nPING\r\n").unwrap();
        let mut buf = [0u8; 64];
        let mut got = String::new();
        while !got.contains("+PONG") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0);
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
    let dig = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!("import socket,struct\nq=b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00'+b''.join(bytes([len(p)])+p.encode() for p in 'api.lab.test'.split('.'))+b'\\x00\\x00\\x01\\x00\\x01'\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(2);s.sendto(q,('127.0.0.1',{dp}));r=s.recv(512);print(struct.unpack('>H',r[6:8])[0])"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&dig.stdout).trim(),
        "2",
        "two A records: {dig:?}"
    );
    for proc in [&r.proc, &p.proc, &d] {
        process::stop(proc, Duration::from_secs(5));
        assert!(!process::alive(proc.pid));
    }
    assert!(process::port_free("127.0.0.1", rp) && process::port_free("127.0.0.1", pp));
}

#[test]
fn redis_replica_reports_its_link() {
    if !sovereign_lab::needs::present_or_skip(
        "redis_replica_reports_its_link",
        &[sovereign_lab::needs::Need::Redis],
    ) {
        return;
    }
    let dir = tempdir();
    let (p1, p2) = (
        free_port("127.0.0.1").unwrap(),
        free_port("127.0.0.1").unwrap(),
    );
    let primary =
        Redis::start(dir.path(), "primary", "127.0.0.1", p1, "pw", "allkeys-lru").unwrap();
    let _stop_primary = process::OnDrop({
        let proc = primary.proc.clone();
        move || process::stop(&proc, Duration::from_secs(5))
    });
    let replica =
        Redis::start(dir.path(), "replica", "127.0.0.1", p2, "pw", "allkeys-lru").unwrap();
    let _stop_replica = process::OnDrop({
        let proc = replica.proc.clone();
        move || process::stop(&proc, Duration::from_secs(5))
    });
    assert!(!replica.link_up(), "a primary has no link");
    assert_eq!(replica.command(&["PING"]).unwrap(), "+PONG");
    assert!(
        replica
            .command(&["INFO", "replication"])
            .unwrap()
            .contains("role:master")
    );
    replica.replicate_from("127.0.0.1", p1).unwrap();
    let start = std::time::Instant::now();
    while !replica.link_up() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the replica never linked"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    primary.stop();
    let start = std::time::Instant::now();
    while replica.link_up() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the link never went down"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        replica
            .command(&["NOSUCHCOMMAND"])
            .unwrap_err()
            .to_string()
            .contains("unknown command")
    );
}
