//! The latency proxy: TCP forwarding with a one-way delay per direction, in user space (the
//! kernel here has no `netem`).
//!
//! Each route listens on one loopback address and forwards every connection to its target.
//! Bytes read on either side are stamped with the time they arrived and written to the other
//! side no earlier than that time plus the route's delay, in order; bandwidth is not limited.
//! A route can give a different delay per source address (`by_source`): Cassandra nodes reach
//! one another through a proxy address, and the delay depends on which datacenter calls.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Route {
    /// What the route is for, in status output (`pg iad→ams`).
    pub name: String,
    pub listen: SocketAddr,
    pub target: SocketAddr,
    /// One-way delay in milliseconds, applied in each direction.
    pub delay_ms: f64,
    /// One-way delay by the caller's address, overriding `delay_ms`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_source: BTreeMap<IpAddr, f64>,
    /// Learn the caller from the protocol instead of the socket: Cassandra's internode
    /// handshake names the calling node, while every node's socket comes from 127.0.0.1.
    #[serde(default)]
    pub sniff: Sniff,
    /// The sites the route joins, (caller's, target's), for partitions; `None` for routes no
    /// partition cuts (users reaching a site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<(String, String)>,
    /// The caller's site by address, for a route callers of several sites share (Cassandra's):
    /// overrides the first site of `link`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_sites: BTreeMap<IpAddr, String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sniff {
    #[default]
    None,
    /// The first message on a Cassandra 4.0+ storage connection: magic (4 bytes), flags (4),
    /// then the caller's broadcast address and port: a length byte (6 or 18), the address
    /// bytes, the port (2 bytes).
    CassandraInternode,
}

/// The caller's address from the start of a Cassandra internode connection, if it is one.
pub fn cassandra_caller(first: &[u8]) -> Option<IpAddr> {
    const MAGIC: [u8; 4] = [0xCA, 0x55, 0x2D, 0xFA];
    if first.len() < 9 || first[..4] != MAGIC {
        return None;
    }
    let len = first[8] as usize;
    let bytes = first.get(9..9 + len)?;
    match len {
        6 => Some(IpAddr::from(<[u8; 4]>::try_from(&bytes[..4]).ok()?)),
        18 => Some(IpAddr::from(<[u8; 16]>::try_from(&bytes[..16]).ok()?)),
        _ => None,
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProxyConfig {
    pub routes: Vec<Route>,
    /// Health endpoints standing in for each serving site's load balancer.
    #[serde(default)]
    pub edges: Vec<Edge>,
    /// A JSON file of site pairs (`[["ams", "iad"]]`) whose links are cut: read every 100 ms;
    /// new connections between them are refused and open ones closed. Missing: nothing cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_file: Option<std::path::PathBuf>,
}

/// The site pairs whose links are cut, shared by every connection; a change wakes them.
#[derive(Clone)]
struct Cuts {
    set: std::sync::Arc<std::sync::RwLock<std::collections::BTreeSet<(String, String)>>>,
    changed: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

impl Cuts {
    fn new() -> Cuts {
        Cuts {
            set: Default::default(),
            changed: std::sync::Arc::new(tokio::sync::watch::channel(0).0),
        }
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        if a <= b {
            (a.to_string(), b.to_string())
        } else {
            (b.to_string(), a.to_string())
        }
    }

    /// Whether the link between two sites is cut (a site is never cut from itself).
    fn is_cut(&self, link: &Option<(String, String)>) -> bool {
        link.as_ref().is_some_and(|(a, b)| {
            a != b
                && self
                    .set
                    .read()
                    .map(|s| s.contains(&Cuts::pair(a, b)))
                    .unwrap_or(false)
        })
    }

    /// Reads the partition file every 100 ms and publishes what changed.
    async fn watch_file(self, path: std::path::PathBuf) {
        loop {
            let now: std::collections::BTreeSet<(String, String)> = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| serde_json::from_str::<Vec<(String, String)>>(&t).ok())
                .unwrap_or_default()
                .iter()
                .map(|(a, b)| Cuts::pair(a, b))
                .collect();
            let differs = self.set.read().map(|s| *s != now).unwrap_or(false);
            if differs {
                if let Ok(mut s) = self.set.write() {
                    *s = now;
                }
                self.changed.send_modify(|g| *g += 1);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A site's edge in the lab, which has no application tier: an HTTP server whose health path
/// answers 200 while every data-tier server of the site accepts connections, 503 (naming what
/// is down) otherwise, 404 elsewhere.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Edge {
    pub site: String,
    pub listen: SocketAddr,
    pub health_path: String,
    /// (what, address) the site needs.
    pub needs: Vec<(String, SocketAddr)>,
}

impl Route {
    /// The sites this connection joins, by its caller.
    fn link_for(&self, caller: IpAddr) -> Option<(String, String)> {
        let (from, to) = self.link.clone()?;
        Some((self.source_sites.get(&caller).cloned().unwrap_or(from), to))
    }

    fn delay_for(&self, peer: IpAddr) -> Duration {
        let ms = self.by_source.get(&peer).copied().unwrap_or(self.delay_ms);
        Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }
}

/// Binds every route, then serves until the process ends. Binding happens before this returns
/// its future's first poll completes, so a taken port is an error, not a hang.
pub async fn serve(cfg: ProxyConfig) -> std::io::Result<()> {
    let mut listeners = Vec::new();
    for r in &cfg.routes {
        let l = TcpListener::bind(r.listen).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("route {} cannot listen on {}: {e}", r.name, r.listen),
            )
        })?;
        listeners.push((l, r.clone()));
    }
    let mut edges = Vec::new();
    for e in &cfg.edges {
        let l = TcpListener::bind(e.listen).await.map_err(|err| {
            std::io::Error::new(
                err.kind(),
                format!(
                    "the edge of {} cannot listen on {}: {err}",
                    e.site, e.listen
                ),
            )
        })?;
        edges.push((l, e.clone()));
    }
    let cuts = Cuts::new();
    let mut tasks = Vec::new();
    if let Some(path) = cfg.partition_file.clone() {
        tasks.push(tokio::spawn(cuts.clone().watch_file(path)));
    }
    for (l, r) in listeners {
        tasks.push(tokio::spawn(accept_loop(l, r, cuts.clone())));
    }
    for (l, e) in edges {
        tasks.push(tokio::spawn(edge_loop(l, e)));
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

async fn accept_loop(listener: TcpListener, route: Route, cuts: Cuts) {
    loop {
        let (inbound, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let route = route.clone();
        let cuts = cuts.clone();
        tokio::spawn(async move {
            let mut inbound = inbound;
            let mut head = Vec::new();
            let caller = match route.sniff {
                Sniff::None => peer.ip(),
                Sniff::CassandraInternode => {
                    // Read until the handshake's address is complete (25 bytes at most), or
                    // the caller stops sending; a connection that is not a handshake keeps
                    // the socket's address.
                    let mut buf = [0u8; 64];
                    let deadline = Instant::now() + Duration::from_secs(5);
                    loop {
                        if head.len() >= 9 && head.len() >= 9 + head[8] as usize {
                            break;
                        }
                        match tokio::time::timeout_at(deadline, inbound.read(&mut buf)).await {
                            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                            _ => break,
                        }
                    }
                    cassandra_caller(&head).unwrap_or(peer.ip())
                }
            };
            // A partition between the caller's site and the target's: the connection closes
            // at once, as a cut link would make it fail.
            let link = route.link_for(caller);
            if cuts.is_cut(&link) {
                return;
            }
            let delay = route.delay_for(caller);
            let outbound = TcpStream::connect(route.target).await;
            let Ok(outbound) = outbound else {
                // The target is down: the caller sees the connection close, as it would.
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let (ir, iw) = inbound.into_split();
            let (or, ow) = outbound.into_split();
            let mut a = tokio::spawn(pump(ir, ow, delay, head));
            let mut b = tokio::spawn(pump(or, iw, delay, Vec::new()));
            // Open connections die with the link when a partition starts.
            let mut changed = cuts.changed.subscribe();
            let cut = async {
                loop {
                    if changed.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                    if cuts.is_cut(&link) {
                        return;
                    }
                }
            };
            tokio::select! {
                _ = async { let _ = tokio::join!(&mut a, &mut b); } => {}
                _ = cut => {
                    a.abort();
                    b.abort();
                }
            }
        });
    }
}

async fn edge_loop(listener: TcpListener, edge: Edge) {
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let edge = edge.clone();
        tokio::spawn(async move {
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            let deadline = Instant::now() + Duration::from_secs(2);
            while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 8192 {
                match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                    Ok(Ok(n)) if n > 0 => req.extend_from_slice(&buf[..n]),
                    _ => return,
                }
            }
            let line = String::from_utf8_lossy(&req);
            let mut parts = line.lines().next().unwrap_or("").split_whitespace();
            let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let path = target.split('?').next().unwrap_or("");
            let (status, body) = if method != "GET" && method != "HEAD" {
                ("405 Method Not Allowed", "GET only\n".to_string())
            } else if path != edge.health_path {
                (
                    "404 Not Found",
                    format!(
                        "the lab's edge of {} serves only {}\n",
                        edge.site, edge.health_path
                    ),
                )
            } else {
                let mut down = Vec::new();
                let mut up = Vec::new();
                for (what, addr) in &edge.needs {
                    match tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr))
                        .await
                    {
                        Ok(Ok(_)) => up.push(format!("{what} {addr}")),
                        _ => down.push(format!("{what} {addr}")),
                    }
                }
                if down.is_empty() {
                    ("200 OK", format!("{} ok: {}\n", edge.site, up.join(", ")))
                } else {
                    (
                        "503 Service Unavailable",
                        format!("{} down: {}\n", edge.site, down.join(", ")),
                    )
                }
            };
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            if method != "HEAD" {
                let _ = s.write_all(body.as_bytes()).await;
            }
            let _ = s.shutdown().await;
        });
    }
}

/// Copies `from` to `to`, each chunk released `delay` after it was read; EOF is passed on the
/// same way (a half-close after the last chunk).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    already: Vec<u8>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Option<Vec<u8>>)>();
    if !already.is_empty() {
        let _ = tx.send((Instant::now() + delay, Some(already)));
    }
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = tx.send((Instant::now() + delay, None));
                    return;
                }
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, Some(buf[..n].to_vec())))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    });
    while let Some((due, chunk)) = rx.recv().await {
        tokio::time::sleep_until(due).await;
        match chunk {
            Some(bytes) => {
                if to.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            None => {
                let _ = to.shutdown().await;
                break;
            }
        }
    }
    reader.abort();
}

/// Runs the proxy in this process (the hidden `sovereign lab proxy` command): reads the
/// configuration, binds, serves forever.
pub fn run_from_file(path: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let cfg: ProxyConfig = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a proxy configuration: {e}", path.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(serve(cfg)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(addr: SocketAddr) -> Duration {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        let start = std::time::Instant::now();
        s.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        start.elapsed()
    }

    #[tokio::test]
    async fn delays_each_direction_and_keeps_bytes_in_order() {
        let target = echo_server().await;
        let port = crate::process::free_port("127.0.0.1").unwrap();
        let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let cfg = ProxyConfig {
            routes: vec![Route {
                name: "t".into(),
                listen,
                target,
                delay_ms: 40.0,
                by_source: BTreeMap::new(),
                sniff: Sniff::None,
                link: None,
                source_sites: BTreeMap::new(),
            }],
            edges: vec![],
            partition_file: None,
        };
        tokio::spawn(serve(cfg));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let direct = round_trip(target).await;
        let proxied = round_trip(listen).await;
        // 40 ms each way: at least 80 ms, and not wildly more.
        assert!(proxied >= Duration::from_millis(80), "{proxied:?}");
        assert!(
            proxied < Duration::from_millis(80) + direct + Duration::from_millis(200),
            "{proxied:?}"
        );
        // Order and content survive many small writes.
        let mut s = TcpStream::connect(listen).await.unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let send = data.clone();
        let (mut r, mut w) = s.split();
        let writer = async {
            for chunk in send.chunks(997) {
                w.write_all(chunk).await.unwrap();
            }
        };
        let mut got = vec![0u8; data.len()];
        let reader = r.read_exact(&mut got);
        let (_, res) = tokio::join!(writer, reader);
        res.unwrap();
        assert_eq!(got, data);
    }

    /// A partition closes the open connections of a cut link and refuses new ones; healing it
    /// lets connections through again; links of other sites are untouched.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_partition_cuts_and_heals_a_link() {
        let target = echo_server().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("partition.json");
        let route = |link: (&str, &str)| {
            let port = crate::process::free_port("127.0.0.1").unwrap();
            Route {
                name: format!("pg {}→{}", link.0, link.1),
                listen: format!("127.0.0.1:{port}").parse().unwrap(),
                target,
                delay_ms: 0.0,
                by_source: BTreeMap::new(),
                sniff: Sniff::None,
                link: Some((link.0.to_string(), link.1.to_string())),
                source_sites: BTreeMap::new(),
            }
        };
        let (cut, other) = (route(("iad", "ams")), route(("syd", "ams")));
        let (cut_addr, other_addr) = (cut.listen, other.listen);
        tokio::spawn(serve(ProxyConfig {
            routes: vec![cut, other],
            edges: vec![],
            partition_file: Some(file.clone()),
        }));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let echo = |addr: SocketAddr| async move {
            let mut s = TcpStream::connect(addr).await.ok()?;
            s.write_all(b"ping").await.ok()?;
            let mut buf = [0u8; 4];
            tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf))
                .await
                .ok()?
                .ok()?;
            Some(buf)
        };
        assert_eq!(echo(cut_addr).await, Some(*b"ping"));
        // An open connection across the link, then the cut (written the other way round).
        let mut open = TcpStream::connect(cut_addr).await.unwrap();
        open.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        open.read_exact(&mut buf).await.unwrap();
        std::fs::write(&file, r#"[["ams", "iad"]]"#).unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(2), open.read_to_end(&mut rest)).await;
        assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
        assert_eq!(echo(cut_addr).await, None, "a new connection is refused");
        assert_eq!(
            echo(other_addr).await,
            Some(*b"ping"),
            "syd still reaches ams"
        );
        // Healed.
        std::fs::write(&file, "[]").unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(echo(cut_addr).await, Some(*b"ping"));
    }

    #[tokio::test]
    async fn delay_by_source_address() {
        let target = echo_server().await;
        let port = crate::process::free_port("127.0.0.1").unwrap();
        let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut by_source = BTreeMap::new();
        by_source.insert("127.0.0.1".parse().unwrap(), 0.0);
        let cfg = ProxyConfig {
            routes: vec![Route {
                name: "t".into(),
                listen,
                target,
                delay_ms: 500.0,
                by_source,
                sniff: Sniff::None,
                link: None,
                source_sites: BTreeMap::new(),
            }],
            edges: vec![],
            partition_file: None,
        };
        tokio::spawn(serve(cfg));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(round_trip(listen).await < Duration::from_millis(400));
    }

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn edges_answer_from_the_state_of_the_data_tier() {
        let up = echo_server().await;
        let down_port = crate::process::free_port("127.0.0.1").unwrap();
        let down: SocketAddr = format!("127.0.0.1:{down_port}").parse().unwrap();
        let (p1, p2) = (
            crate::process::free_port("127.0.0.1").unwrap(),
            crate::process::free_port("127.0.0.1").unwrap(),
        );
        let healthy: SocketAddr = format!("127.0.0.1:{p1}").parse().unwrap();
        let broken: SocketAddr = format!("127.0.0.1:{p2}").parse().unwrap();
        let cfg = ProxyConfig {
            routes: vec![],
            edges: vec![
                Edge {
                    site: "ams".into(),
                    listen: healthy,
                    health_path: "/healthz".into(),
                    needs: vec![("postgres".into(), up)],
                },
                Edge {
                    site: "iad".into(),
                    listen: broken,
                    health_path: "/healthz".into(),
                    needs: vec![("postgres".into(), up), ("redis".into(), down)],
                },
            ],
            partition_file: None,
        };
        tokio::spawn(serve(cfg));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ok = get(healthy, "/healthz?x=1").await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(get(healthy, "/other").await.starts_with("HTTP/1.1 404"));
        let bad = get(broken, "/healthz").await;
        assert!(
            bad.starts_with("HTTP/1.1 503") && bad.contains(&format!("redis {down}")),
            "{bad}"
        );
    }

    #[test]
    fn reads_the_caller_from_a_cassandra_handshake() {
        // As Cassandra 5.0.8 sends it (seen by this proxy): version 12, 127.78.1.1:42103.
        let mut m = vec![
            0xCA, 0x55, 0x2D, 0xFA, 0x0C, 0x0C, 0x0C, 0x11, 6, 127, 78, 1, 1, 0xA4, 0x77, 0x4C,
            0x85, 0x5F, 0x91,
        ];
        assert_eq!(cassandra_caller(&m), Some("127.78.1.1".parse().unwrap()));
        m[0] = 0;
        assert_eq!(cassandra_caller(&m), None);
        assert_eq!(
            cassandra_caller(&[0xCA, 0x55, 0x2D, 0xFA, 0, 0, 0, 0, 16, 1]),
            None
        );
    }

    #[tokio::test]
    async fn a_taken_port_is_an_error() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let listen = l.local_addr().unwrap();
        let cfg = ProxyConfig {
            routes: vec![Route {
                name: "pg iad→ams".into(),
                listen,
                target: listen,
                delay_ms: 1.0,
                by_source: BTreeMap::new(),
                sniff: Sniff::None,
                link: None,
                source_sites: BTreeMap::new(),
            }],
            edges: vec![],
            partition_file: None,
        };
        let e = serve(cfg).await.unwrap_err();
        assert!(e.to_string().contains("pg iad→ams cannot listen"), "{e}");
    }
}
