//! Two Cassandra datacenters of one node each, talking through the latency proxy.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use sovereign_lab::engines::cassandra::{self, NodeSpec};
use sovereign_lab::process::{self, free_port};
use sovereign_lab::proxy::{ProxyConfig, Route, Sniff};

#[tokio::test(flavor = "multi_thread")]
async fn two_datacenters_through_the_proxy() {
    if !sovereign_lab::needs::present_or_skip(
        "two_datacenters_through_the_proxy",
        &[sovereign_lab::needs::Need::Cassandra],
    ) {
        return;
    }
    // Java 17 and the jars (scripts/fetch-cassandra), or a clear message.
    cassandra::prerequisites().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ips = |d: u8| -> (IpAddr, IpAddr) {
        (
            format!("127.77.{d}.1").parse().unwrap(),
            format!("127.78.{d}.1").parse().unwrap(),
        )
    };
    // One storage and one CQL port for every node (on its own address): drivers assume the
    // contact point's CQL port for all peers.
    let storage = free_port("127.77.0.1").unwrap();
    let native = free_port("127.77.0.1").unwrap();
    let mut specs = Vec::new();
    for (d, dc) in ["ams", "syd"].iter().enumerate() {
        let (listen, broadcast) = ips(d as u8);
        specs.push(NodeSpec {
            name: format!("{dc}-1"),
            dc: dc.to_string(),
            rack: "rack1".into(),
            listen,
            broadcast,
            storage_port: storage,
            native_port: native,
            jmx_port: free_port("127.0.0.1").unwrap(),
        });
    }
    // 40 ms one way between the two, nothing within one.
    let routes = specs
        .iter()
        .map(|s| Route {
            name: format!("cassandra →{}", s.name),
            listen: SocketAddr::new(s.broadcast, storage),
            target: SocketAddr::new(s.listen, storage),
            delay_ms: 0.0,
            by_source: specs
                .iter()
                .filter(|o| o.dc != s.dc)
                .map(|o| (o.broadcast, 40.0))
                .collect::<BTreeMap<_, _>>(),
            sniff: Sniff::CassandraInternode,
            link: None,
            source_sites: BTreeMap::new(),
        })
        .collect();
    tokio::spawn(sovereign_lab::proxy::serve(ProxyConfig {
        routes,
        edges: vec![],
        partition_file: None,
    }));
    let seeds: Vec<(IpAddr, u16)> = specs.iter().map(|s| (s.broadcast, storage)).collect();
    let start = Instant::now();
    let nodes: Vec<_> = specs
        .iter()
        .map(|s| cassandra::start(dir.path(), "lab", s, &seeds, specs.len(), 256).unwrap())
        .collect();
    struct Stop(Vec<cassandra::Node>);
    impl Drop for Stop {
        fn drop(&mut self) {
            for n in &self.0 {
                n.stop();
            }
        }
    }
    let _stop = Stop(nodes.clone());
    for n in &nodes {
        cassandra::wait_ready(n, Duration::from_secs(240)).unwrap();
    }
    eprintln!("two nodes ready in {:?}", start.elapsed());
    // Retried: the default superuser logs in at QUORUM, which needs both nodes to have met.
    let session = cassandra::session(&specs[0], "cassandra", "cassandra", Duration::from_secs(90))
        .await
        .unwrap();
    // Both datacenters in gossip, NORMAL.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = session
            .query_unpaged(
                "SELECT address, dc, status_with_port FROM system_views.gossip_info",
                (),
            )
            .await
            .unwrap();
        let rows: Vec<(IpAddr, Option<String>, Option<String>)> = r
            .into_rows_result()
            .unwrap()
            .rows()
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let normal = rows
            .iter()
            .filter(|(_, _, s)| s.as_deref().is_some_and(|s| s.starts_with("NORMAL")))
            .count();
        if normal == 2 {
            let dcs: Vec<_> = rows.iter().filter_map(|r| r.1.clone()).collect();
            assert!(
                dcs.contains(&"ams".to_string()) && dcs.contains(&"syd".to_string()),
                "{rows:?}"
            );
            let addrs: Vec<IpAddr> = rows.iter().map(|r| r.0).collect();
            assert!(
                addrs.contains(&specs[1].broadcast),
                "peers know each other by the proxy address: {rows:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "gossip never settled: {rows:?}\n{}",
            nodes
                .iter()
                .map(|n| format!(
                    "--- {} ---\n{}",
                    n.spec.name,
                    process::tail(&n.proc.log, 30)
                ))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Auth data in both datacenters first, as the lab does: CREATE KEYSPACE grants the creator
    // permissions at EACH_QUORUM, which a one-replica SimpleStrategy system_auth only meets
    // when its token range happens to fall in the coordinator's datacenter.
    session
        .query_unpaged("ALTER KEYSPACE system_auth WITH replication = {'class': 'NetworkTopologyStrategy', 'ams': 1, 'syd': 1}", ())
        .await
        .unwrap();
    // A write at EACH_QUORUM crosses the proxy: it takes at least one round trip (80 ms).
    session
        .query_unpaged("CREATE KEYSPACE IF NOT EXISTS k WITH replication = {'class': 'NetworkTopologyStrategy', 'ams': 1, 'syd': 1}", ())
        .await
        .unwrap();
    session
        .query_unpaged(
            "CREATE TABLE IF NOT EXISTS k.t (id int PRIMARY KEY, v text)",
            (),
        )
        .await
        .unwrap();
    let mut stmt = scylla::statement::Statement::new("INSERT INTO k.t (id, v) VALUES (1, 'x')");
    stmt.set_consistency(scylla::statement::Consistency::EachQuorum);
    let t = Instant::now();
    session.query_unpaged(stmt.clone(), ()).await.unwrap();
    let each = t.elapsed();
    stmt.set_consistency(scylla::statement::Consistency::LocalOne);
    let t = Instant::now();
    session.query_unpaged(stmt, ()).await.unwrap();
    let local = t.elapsed();
    eprintln!("EACH_QUORUM {each:?}, LOCAL_ONE {local:?}");
    assert!(each >= Duration::from_millis(80), "{each:?}");
    assert!(local < each, "{local:?} vs {each:?}");
    let pids: Vec<u32> = nodes.iter().map(|n| n.proc.pid).collect();
    drop(_stop);
    for p in pids {
        assert!(!process::alive(p));
    }
}
