//! Apache Cassandra from Maven Central's `org.apache.cassandra:cassandra-all` jars on the
//! machine's Java, one JVM per node.
//!
//! Every node listens on its own loopback address and is known to the others by a second
//! one, its broadcast address, where the latency proxy forwards to it: inter-node traffic
//! crosses the proxy, which reads the caller from the internode handshake and delays by the
//! pair of datacenters. Clients (CQL) connect to the node directly.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::LabError;
use crate::process::{self, Proc};

/// The version the README's set-up fetches, and the cache it lands in.
pub const VERSION: &str = "5.0.8";

/// JVM flags Cassandra 5.0 needs on Java 17: the module exports and opens of its
/// `conf/jvm17-server.options` (apache/cassandra, cassandra-5.0 branch), plus a small heap and
/// the start-up shortcuts its own test clusters use (no ring delay, no gossip settle wait).
const JVM17_FLAGS: &[&str] = &[
    "-XX:+UseG1GC",
    "-XX:+ParallelRefProcEnabled",
    "-XX:TieredStopAtLevel=1",
    "-Djdk.attach.allowAttachSelf=true",
    "--add-exports",
    "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports",
    "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports",
    "java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports",
    "java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports",
    "java.sql/java.sql=ALL-UNNAMED",
    "--add-exports",
    "java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports",
    "jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports",
    "jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports",
    "jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens",
    "jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens",
    "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.io=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens",
    "jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.lang=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.util=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dcassandra.ring_delay_ms=1000",
    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
    "-Dcassandra.superuser_setup_delay_ms=0",
    "-Dcassandra.consistent.rangemovement=false",
];

/// Where the jars are: `SOVEREIGN_CASSANDRA_LIB`, else the cache scripts/test fills.
pub fn lib_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SOVEREIGN_CASSANDRA_LIB").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    cache
        .join("sovereign")
        .join(format!("cassandra-{VERSION}"))
        .join("lib")
}

/// Java 17 or later and the server jars, or what is missing and how to get it.
pub fn prerequisites() -> Result<(PathBuf, PathBuf), LabError> {
    let java = process::which("java").ok_or_else(|| LabError::Missing {
        what: "Java (17 or later, for Apache Cassandra)".into(),
        install: "apt-get install openjdk-17-jre-headless".into(),
    })?;
    let out = Command::new(&java)
        .arg("-version")
        .output()
        .map_err(|e| LabError::io("cannot run java -version", e))?;
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    let major = text
        .split('"')
        .nth(1)
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    if major < 17 {
        return Err(LabError::Missing {
            what: format!(
                "Java 17 or later (found: {})",
                text.lines().next().unwrap_or("?")
            ),
            install: "apt-get install openjdk-17-jre-headless".into(),
        });
    }
    let lib = lib_dir();
    let jar = lib.join(format!("cassandra-all-{VERSION}.jar"));
    if !jar.exists() {
        return Err(LabError::Missing {
            what: format!("Apache Cassandra {VERSION} ({} not found)", jar.display()),
            install: "scripts/fetch-cassandra (scripts/test runs it: Maven fetches org.apache.cassandra:cassandra-all and its dependencies)".into(),
        });
    }
    Ok((java, lib))
}

/// Where one node lives and how it is reached.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeSpec {
    pub name: String,
    pub dc: String,
    pub rack: String,
    /// The address the node listens on (storage and CQL).
    pub listen: IpAddr,
    /// The address the other nodes know it by: the latency proxy in front of it.
    pub broadcast: IpAddr,
    pub storage_port: u16,
    pub native_port: u16,
    pub jmx_port: u16,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Node {
    pub spec: NodeSpec,
    pub dir: PathBuf,
    pub proc: Proc,
}

impl Node {
    pub fn stop(&self) {
        process::stop(&self.proc, Duration::from_secs(20));
    }
}

fn yaml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Writes the node's configuration and starts its JVM; returns once the process runs (the
/// node joins in the background: [`wait_ready`]). `cluster_size` is the number of nodes of the
/// whole cluster: every node keeps a full copy of the auth tables from the first start, so a
/// coordinator in any datacenter finds the roles locally (a one-replica `system_auth` that is
/// later given per-datacenter replicas leaves the new replicas empty until a repair, and DDL
/// then fails with "does not have sufficient privileges").
pub fn start(
    dir: &Path,
    cluster: &str,
    node: &NodeSpec,
    seeds: &[(IpAddr, u16)],
    cluster_size: usize,
    heap_mb: u32,
) -> Result<Node, LabError> {
    // `prerequisites` (run once, by `up`'s preflight) checked Java's version and the jars; a
    // node start only needs to find them.
    let java = process::which("java").ok_or_else(|| LabError::Missing {
        what: "Java (17 or later, for Apache Cassandra)".into(),
        install: "apt-get install openjdk-17-jre-headless".into(),
    })?;
    let lib = lib_dir();
    let home = dir.join(&node.name);
    for sub in ["data", "commitlog", "saved_caches", "hints", "cdc_raw"] {
        std::fs::create_dir_all(home.join(sub))
            .map_err(|e| LabError::io(format!("cannot create {}", home.display()), e))?;
    }
    let seeds = seeds
        .iter()
        .map(|(ip, port)| format!("{ip}:{port}"))
        .collect::<Vec<_>>()
        .join(",");
    let yaml = format!(
        "# Sovereign lab: one node of {cluster}, datacenter {dc}.\n\
         cluster_name: {cluster_q}\n\
         num_tokens: 8\n\
         partitioner: org.apache.cassandra.dht.Murmur3Partitioner\n\
         auto_bootstrap: false\n\
         data_file_directories: [{data}]\n\
         commitlog_directory: {commitlog}\n\
         saved_caches_directory: {caches}\n\
         hints_directory: {hints}\n\
         cdc_raw_directory: {cdc}\n\
         commitlog_sync: periodic\n\
         commitlog_sync_period: 10000ms\n\
         seed_provider:\n  - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n    parameters:\n      - seeds: {seeds_q}\n\
         listen_address: {listen}\n\
         broadcast_address: {broadcast}\n\
         rpc_address: {listen}\n\
         storage_port: {storage}\n\
         native_transport_port: {native}\n\
         start_native_transport: true\n\
         endpoint_snitch: GossipingPropertyFileSnitch\n\
         authenticator: PasswordAuthenticator\n\
         authorizer: CassandraAuthorizer\n\
         role_manager: CassandraRoleManager\n\
         read_request_timeout: 5000ms\n\
         write_request_timeout: 2000ms\n\
         request_timeout: 10000ms\n\
         concurrent_compactors: 1\n\
         memtable_heap_space: 64MiB\n\
         memtable_offheap_space: 64MiB\n",
        dc = node.dc,
        cluster_q = yaml_str(cluster),
        data = yaml_str(&home.join("data").display().to_string()),
        commitlog = yaml_str(&home.join("commitlog").display().to_string()),
        caches = yaml_str(&home.join("saved_caches").display().to_string()),
        hints = yaml_str(&home.join("hints").display().to_string()),
        cdc = yaml_str(&home.join("cdc_raw").display().to_string()),
        seeds_q = yaml_str(&seeds),
        listen = node.listen,
        broadcast = node.broadcast,
        storage = node.storage_port,
        native = node.native_port,
    );
    let write = |name: &str, text: &str| {
        std::fs::write(home.join(name), text)
            .map_err(|e| LabError::io(format!("cannot write {name}"), e))
    };
    write("cassandra.yaml", &yaml)?;
    write(
        "cassandra-rackdc.properties",
        &format!("dc={}\nrack={}\n", node.dc, node.rack),
    )?;
    write(
        "logback.xml",
        "<configuration>\n  <appender name=\"OUT\" class=\"ch.qos.logback.core.ConsoleAppender\">\n    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level [%thread] %logger{30} %msg%n</pattern></encoder>\n  </appender>\n  <root level=\"INFO\"><appender-ref ref=\"OUT\"/></root>\n</configuration>\n",
    )?;
    let mut c = Command::new(java);
    c.current_dir(&home)
        .arg(format!("-Xms{heap_mb}m"))
        .arg(format!("-Xmx{heap_mb}m"))
        .args(JVM17_FLAGS)
        .arg(format!(
            "-Dcassandra.config=file://{}",
            home.join("cassandra.yaml").display()
        ))
        .arg(format!(
            "-Dcassandra-rackdc.properties=file://{}",
            home.join("cassandra-rackdc.properties").display()
        ))
        .arg(format!("-Dcassandra.storagedir={}", home.display()))
        .arg(format!(
            "-Dlogback.configurationFile={}",
            home.join("logback.xml").display()
        ))
        .arg(format!("-Dcassandra.jmx.local.port={}", node.jmx_port))
        .arg(format!(
            "-Dcassandra.system_auth.default_rf={}",
            cluster_size.max(1)
        ))
        .arg("-Dcassandra-foreground=yes")
        .arg("-cp")
        .arg(format!("{}/*", lib.display()))
        .arg("org.apache.cassandra.service.CassandraDaemon");
    let log = home.join("cassandra.log");
    let proc = process::spawn(
        &format!("cassandra {}", node.name),
        c,
        &log,
        vec![node.storage_port, node.native_port, node.jmx_port],
    )?;
    Ok(Node {
        spec: node.clone(),
        dir: home,
        proc,
    })
}

/// Waits until the node accepts CQL (it has joined the ring by then), or says why not.
pub fn wait_ready(node: &Node, timeout: Duration) -> Result<(), LabError> {
    let start = std::time::Instant::now();
    let log = node.proc.log.clone();
    while start.elapsed() < timeout {
        if process::port_open(&node.spec.listen.to_string(), node.spec.native_port) {
            return Ok(());
        }
        if !node.proc.is_running() {
            return Err(LabError::Start {
                what: format!("Cassandra {}", node.spec.name),
                detail: "the JVM exited".into(),
                log: process::tail(&log, 25),
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(LabError::Start {
        what: format!("Cassandra {}", node.spec.name),
        detail: format!(
            "no CQL on {}:{} after {} s",
            node.spec.listen,
            node.spec.native_port,
            timeout.as_secs()
        ),
        log: process::tail(&log, 25),
    })
}

/// Runs async CQL work on a private runtime (the lab is synchronous).
pub fn block_on<T>(f: impl std::future::Future<Output = T>) -> Result<T, LabError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LabError::io("cannot start an async runtime", e))?;
    Ok(rt.block_on(f))
}

/// A CQL session to `node` as `user`, retried while the node finishes setting up auth.
pub async fn session(
    node: &NodeSpec,
    user: &str,
    password: &str,
    timeout: Duration,
) -> Result<scylla::client::session::Session, LabError> {
    let start = std::time::Instant::now();
    loop {
        let r = scylla::client::session_builder::SessionBuilder::new()
            .known_node(format!("{}:{}", node.listen, node.native_port))
            .user(user, password)
            // Coordinators in the node's own datacenter, as an application there would use:
            // a coordinator elsewhere answers LOCAL_* reads of the auth tables from its own
            // datacenter, which may hold no replica yet.
            .prefer_datacenter(node.dc.clone())
            .connection_timeout(Duration::from_secs(5))
            .build()
            .await;
        match r {
            Ok(s) => return Ok(s),
            Err(e) if start.elapsed() > timeout => {
                return Err(LabError::client(
                    format!("cannot open a CQL session to {} as {user}", node.name),
                    e,
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// NetworkTopologyStrategy replication map in CQL.
pub fn replication(rf: &std::collections::BTreeMap<String, u32>) -> String {
    let dcs: Vec<String> = rf
        .iter()
        .map(|(dc, n)| format!("'{}': {n}", dc.replace('\'', "''")))
        .collect();
    format!("{{'class': 'NetworkTopologyStrategy', {}}}", dcs.join(", "))
}

/// The lab's schema: auth data replicated to every datacenter, a superuser role for the lab,
/// and the application keyspace with the lab's replication factors.
pub fn bootstrap_schema(
    nodes: &[Node],
    keyspace: &str,
    rf: &std::collections::BTreeMap<String, u32>,
    user: &str,
    password: &str,
) -> Result<(), LabError> {
    let first = nodes
        .first()
        .ok_or_else(|| LabError::NotInLab("no Cassandra node".into()))?;
    block_on(async {
        let s = session(
            &first.spec,
            "cassandra",
            "cassandra",
            Duration::from_secs(90),
        )
        .await?;
        // DDL naming a datacenter the coordinator has not heard of yet is refused: wait until
        // gossip shows every node of the lab as NORMAL.
        let start = std::time::Instant::now();
        loop {
            let normal = match s
                .query_unpaged("SELECT status_with_port FROM system_views.gossip_info", ())
                .await
            {
                Ok(r) => r
                    .into_rows_result()
                    .ok()
                    .and_then(|rows| {
                        rows.rows::<(Option<String>,)>().ok().map(|it| {
                            it.filter_map(|r| r.ok())
                                .filter(|(st,)| {
                                    st.as_deref().is_some_and(|x| x.starts_with("NORMAL"))
                                })
                                .count()
                        })
                    })
                    .unwrap_or(0),
                Err(_) => 0,
            };
            if normal >= nodes.len() {
                break;
            }
            if start.elapsed() > Duration::from_secs(180) {
                return Err(LabError::Failed(format!(
                    "gossip shows {normal} of {} Cassandra nodes NORMAL after 180 s",
                    nodes.len()
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // Whichever node coordinates must know every datacenter: gossip reaches them one by
        // one, so a refusal that names a datacenter is retried for a while.
        let run = |q: String| {
            let s = &s;
            async move {
                let start = std::time::Instant::now();
                loop {
                    match s.query_unpaged(q.clone(), ()).await {
                        Ok(_) => return Ok(()),
                        Err(e)
                            if e.to_string().contains("Unrecognized strategy option")
                                && start.elapsed() < Duration::from_secs(120) =>
                        {
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                        Err(e) => {
                            return Err(LabError::client(format!("Cassandra refused `{q}`"), e));
                        }
                    }
                }
            }
        };
        let auth_rf: std::collections::BTreeMap<String, u32> = rf
            .keys()
            .map(|dc| {
                (
                    dc.clone(),
                    nodes.iter().filter(|n| &n.spec.dc == dc).count().min(3) as u32,
                )
            })
            .collect();
        run(format!(
            "ALTER KEYSPACE system_auth WITH replication = {}",
            replication(&auth_rf)
        ))
        .await?;
        run(format!(
            "CREATE ROLE IF NOT EXISTS \"{}\" WITH PASSWORD = '{}' AND SUPERUSER = true AND LOGIN = true",
            user.replace('"', ""),
            password.replace('\'', "''")
        ))
        .await?;
        run(format!(
            "CREATE KEYSPACE IF NOT EXISTS \"{}\" WITH replication = {}",
            keyspace.replace('"', ""),
            replication(rf)
        ))
        .await?;
        Ok(())
    })?
}
