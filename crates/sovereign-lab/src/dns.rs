//! The lab's routing DNS: answers the API name as Route 53 answers latency records with health
//! checks, per client region.
//!
//! A client's region is told by its source address on loopback (each user region of the lab
//! sends from its own `127.20.<n>.1`). The answer is the healthy site with the lowest round
//! trip from that region, from the catalog's matrix, with the record's TTL. Every site's
//! application is probed at the health check interval; a site is withdrawn after `threshold`
//! consecutive failed probes and comes back after as many consecutive passes (Route 53's
//! failure threshold works both ways). When no site is healthy every site is answered as if it
//! were, as Route 53 does. A client the lab does not know gets every healthy site.
//!
//! The wire format is hickory-proto's; the server speaks DNS over UDP on its own address.
//! Health transitions are appended to an events file (JSON lines) for the drills' reports.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::LabError;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DnsSite {
    pub site: String,
    /// The address answered for this site (its front on the latency proxy).
    pub answer: Ipv4Addr,
    /// Where the health check connects (the site's application) and the path it asks for.
    pub health: SocketAddr,
    pub health_path: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DnsRegion {
    pub region: String,
    /// The source address clients of this region send from.
    pub source: IpAddr,
    /// Round trip from this region to each site, milliseconds (the catalog's figures).
    pub rtt_ms: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DnsConfig {
    pub listen: SocketAddr,
    /// The API name, e.g. `api.global-sovereign.example.com`.
    pub name: String,
    pub zone: String,
    pub ttl_seconds: u32,
    pub interval_ms: u64,
    pub threshold: u32,
    pub sites: Vec<DnsSite>,
    pub regions: Vec<DnsRegion>,
    /// Health transitions, one JSON object a line.
    pub events: Option<PathBuf>,
}

/// One health transition, as written to the events file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HealthEvent {
    pub unix_ms: u64,
    pub site: String,
    pub healthy: bool,
    pub detail: String,
}

#[derive(Clone, Debug)]
struct Health {
    healthy: bool,
    /// Consecutive probes disagreeing with `healthy`.
    streak: u32,
}

/// The sites to answer for a client: its region's lowest-latency healthy site, or every
/// healthy site for a client of no known region; every site when none is healthy.
pub fn choose(cfg: &DnsConfig, healthy: &BTreeMap<String, bool>, source: IpAddr) -> Vec<usize> {
    let ok = |i: &usize| healthy.get(&cfg.sites[*i].site).copied().unwrap_or(true);
    let all: Vec<usize> = (0..cfg.sites.len()).collect();
    let pool: Vec<usize> = if all.iter().any(ok) {
        all.iter().copied().filter(ok).collect()
    } else {
        all
    };
    match cfg.regions.iter().find(|r| r.source == source) {
        Some(r) => pool
            .iter()
            .copied()
            .min_by(|a, b| {
                let rtt = |i: &usize| {
                    r.rtt_ms
                        .get(&cfg.sites[*i].site)
                        .copied()
                        .unwrap_or(f64::INFINITY)
                };
                rtt(a).total_cmp(&rtt(b)).then(a.cmp(b))
            })
            .into_iter()
            .collect(),
        None => pool,
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One health probe: an HTTP GET of the health path, passed on a 2xx or 3xx within the timeout.
async fn probe(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(), String> {
    let work = async {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nhost: {addr}\r\n\r\n").as_bytes())
            .await
            .map_err(|e| format!("send: {e}"))?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head)
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = String::from_utf8_lossy(&head[9..12]).to_string();
        if status.starts_with('2') || status.starts_with('3') {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer in {} ms", timeout.as_millis())),
    }
}

fn log_event(path: Option<&Path>, e: &HealthEvent) {
    if let Some(p) = path
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
    {
        let _ = std::io::Write::write_all(
            &mut f,
            format!("{}\n", serde_json::to_string(e).unwrap_or_default()).as_bytes(),
        );
    }
}

/// Reads the events file a server wrote.
pub fn read_events(path: &Path) -> Vec<HealthEvent> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

async fn checker(cfg: Arc<DnsConfig>, i: usize, state: Arc<Mutex<BTreeMap<String, Health>>>) {
    let site = &cfg.sites[i];
    let interval = Duration::from_millis(cfg.interval_ms.max(1));
    let timeout = interval.min(Duration::from_secs(2));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let r = probe(site.health, &site.health_path, timeout).await;
        let passed = r.is_ok();
        let Ok(mut st) = state.lock() else { return };
        let h = st.entry(site.site.clone()).or_insert(Health {
            healthy: true,
            streak: 0,
        });
        if passed == h.healthy {
            h.streak = 0;
            continue;
        }
        h.streak += 1;
        if h.streak >= cfg.threshold.max(1) {
            h.healthy = passed;
            h.streak = 0;
            log_event(
                cfg.events.as_deref(),
                &HealthEvent {
                    unix_ms: unix_ms(),
                    site: site.site.clone(),
                    healthy: passed,
                    detail: match r {
                        Ok(()) => format!("{} consecutive probes passed", cfg.threshold),
                        Err(e) => format!("{} consecutive probes failed: {e}", cfg.threshold),
                    },
                },
            );
        }
    }
}

fn answer(
    cfg: &DnsConfig,
    healthy: &BTreeMap<String, bool>,
    req: &Message,
    from: IpAddr,
) -> Message {
    let mut resp = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    let Some(q) = req.queries.first().cloned() else {
        resp.metadata.response_code = ResponseCode::FormErr;
        return resp;
    };
    resp.add_query(q.clone());
    if req.metadata.op_code != OpCode::Query || req.queries.len() != 1 {
        resp.metadata.response_code = ResponseCode::NotImp;
        return resp;
    }
    let asked = q
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let zone = cfg.zone.trim_end_matches('.').to_ascii_lowercase();
    if asked != zone && !asked.ends_with(&format!(".{zone}")) {
        resp.metadata.response_code = ResponseCode::Refused;
        return resp;
    }
    resp.metadata.authoritative = true;
    if asked != cfg.name.trim_end_matches('.').to_ascii_lowercase() {
        resp.metadata.response_code = ResponseCode::NXDomain;
        return resp;
    }
    if matches!(q.query_type(), RecordType::A | RecordType::ANY) {
        for i in choose(cfg, healthy, from) {
            resp.add_answer(Record::from_rdata(
                q.name().clone(),
                cfg.ttl_seconds,
                RData::A(A(cfg.sites[i].answer)),
            ));
        }
    }
    resp
}

/// Binds the UDP socket, starts the health checks, answers until the process ends.
pub async fn serve(cfg: DnsConfig) -> Result<(), LabError> {
    let sock = UdpSocket::bind(cfg.listen)
        .await
        .map_err(|e| LabError::io(format!("the lab DNS cannot listen on {}", cfg.listen), e))?;
    let cfg = Arc::new(cfg);
    let state: Arc<Mutex<BTreeMap<String, Health>>> = Arc::new(Mutex::new(BTreeMap::new()));
    for i in 0..cfg.sites.len() {
        tokio::spawn(checker(cfg.clone(), i, state.clone()));
    }
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(req) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        if req.metadata.message_type != MessageType::Query {
            continue;
        }
        let healthy: BTreeMap<String, bool> = state
            .lock()
            .map(|s| s.iter().map(|(k, h)| (k.clone(), h.healthy)).collect())
            .unwrap_or_default();
        let resp = answer(&cfg, &healthy, &req, from.ip());
        if let Ok(bytes) = resp.to_vec() {
            let _ = sock.send_to(&bytes, from).await;
        }
    }
}

/// Runs the server in this process (the hidden `sovereign lab dns` command).
pub fn run_from_file(path: &Path) -> Result<(), LabError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LabError::io(format!("cannot read {}", path.display()), e))?;
    let cfg: DnsConfig = serde_json::from_str(&text).map_err(|e| {
        LabError::json(
            format!("{} is not a lab DNS configuration", path.display()),
            e,
        )
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LabError::io("cannot start the runtime", e))?;
    rt.block_on(serve(cfg))
}

/// An A query for `name` to `server`, sent from `source`: the addresses and the TTL answered.
pub async fn resolve(
    server: SocketAddr,
    source: IpAddr,
    name: &str,
    timeout: Duration,
) -> Result<(Vec<Ipv4Addr>, u32), String> {
    let sock = UdpSocket::bind(SocketAddr::new(source, 0))
        .await
        .map_err(|e| format!("cannot send from {source}: {e}"))?;
    let qname = Name::from_ascii(name).map_err(|e| format!("`{name}`: {e}"))?;
    let mut m = Message::query();
    m.metadata.recursion_desired = false;
    m.add_query(Query::query(qname, RecordType::A));
    let id = m.metadata.id;
    let bytes = m.to_vec().map_err(|e| e.to_string())?;
    sock.send_to(&bytes, server)
        .await
        .map_err(|e| format!("cannot reach the DNS at {server}: {e}"))?;
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let (n, _) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf))
            .await
            .map_err(|_| format!("no answer from {server} in {} ms", timeout.as_millis()))?
            .map_err(|e| e.to_string())?;
        let Ok(r) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        if r.metadata.id != id {
            continue;
        }
        if r.metadata.response_code != ResponseCode::NoError {
            return Err(format!("{name}: {}", r.metadata.response_code));
        }
        let mut ips = Vec::new();
        let mut ttl = u32::MAX;
        for rec in &r.answers {
            if let RData::A(a) = &rec.data {
                ips.push(a.0);
                ttl = ttl.min(rec.ttl);
            }
        }
        if ips.is_empty() {
            return Err(format!("{name}: no address"));
        }
        return Ok((ips, ttl));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(health: Vec<SocketAddr>) -> DnsConfig {
        let sites = ["ams", "iad", "syd"];
        DnsConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            name: "api.example.com".into(),
            zone: "example.com".into(),
            ttl_seconds: 7,
            interval_ms: 100,
            threshold: 3,
            sites: sites
                .iter()
                .enumerate()
                .map(|(i, s)| DnsSite {
                    site: s.to_string(),
                    answer: Ipv4Addr::new(127, 14, i as u8 + 1, 1),
                    health: health[i],
                    health_path: "/healthz".into(),
                })
                .collect(),
            regions: vec![
                DnsRegion {
                    region: "ams".into(),
                    source: "127.20.1.1".parse().unwrap(),
                    rtt_ms: [("ams", 1.0), ("iad", 75.0), ("syd", 280.0)]
                        .iter()
                        .map(|(k, v)| (k.to_string(), *v))
                        .collect(),
                },
                DnsRegion {
                    region: "syd".into(),
                    source: "127.20.3.1".parse().unwrap(),
                    rtt_ms: [("ams", 280.0), ("iad", 200.0), ("syd", 1.0)]
                        .iter()
                        .map(|(k, v)| (k.to_string(), *v))
                        .collect(),
                },
            ],
            events: None,
        }
    }

    #[test]
    fn lowest_latency_healthy_site_per_region() {
        let c = cfg(vec!["127.0.0.1:1".parse().unwrap(); 3]);
        let mut h = BTreeMap::new();
        let ams: IpAddr = "127.20.1.1".parse().unwrap();
        let syd: IpAddr = "127.20.3.1".parse().unwrap();
        assert_eq!(choose(&c, &h, ams), vec![0]);
        assert_eq!(choose(&c, &h, syd), vec![2]);
        h.insert("syd".to_string(), false);
        assert_eq!(choose(&c, &h, syd), vec![1], "iad is next closest to syd");
        h.insert("ams".to_string(), false);
        h.insert("iad".to_string(), false);
        assert_eq!(choose(&c, &h, syd), vec![2], "none healthy: all answered");
        // An unknown client gets every healthy site.
        h.insert("iad".to_string(), true);
        assert_eq!(choose(&c, &h, "127.0.0.1".parse().unwrap()), vec![1]);
    }

    /// A health endpoint whose answer the test flips.
    async fn flippable() -> (SocketAddr, Arc<std::sync::atomic::AtomicBool>) {
        let ok = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let flag = ok.clone();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                let up = flag.load(std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 512];
                    let _ = s.read(&mut buf).await;
                    let status = if up { "200 OK" } else { "503 Down" };
                    let _ = s
                        .write_all(format!("HTTP/1.0 {status}\r\n\r\n").as_bytes())
                        .await;
                });
            }
        });
        (addr, ok)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn withdraws_after_threshold_and_answers_with_ttl() {
        let mut health = Vec::new();
        let mut flags = Vec::new();
        for _ in 0..3 {
            let (a, f) = flippable().await;
            health.push(a);
            flags.push(f);
        }
        let mut c = cfg(health);
        let port = crate::process::free_port("127.9.0.3").unwrap();
        c.listen = format!("127.9.0.3:{port}").parse().unwrap();
        let events = tempfile::NamedTempFile::new().unwrap();
        c.events = Some(events.path().to_path_buf());
        let server = c.listen;
        tokio::spawn(serve(c));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let ams: IpAddr = "127.20.1.1".parse().unwrap();
        let t = Duration::from_secs(1);
        let (ips, ttl) = resolve(server, ams, "api.example.com", t).await.unwrap();
        assert_eq!(ips, vec![Ipv4Addr::new(127, 14, 1, 1)]);
        assert_eq!(ttl, 7, "the record's TTL");
        // Other names in the zone do not exist; names outside it are refused.
        let e = resolve(server, ams, "www.example.com", t)
            .await
            .unwrap_err();
        assert!(e.contains("NXDomain") || e.contains("Non-Existent"), "{e}");
        assert!(resolve(server, ams, "api.other.org", t).await.is_err());
        // ams fails its probes: withdrawn after three failures at 100 ms, not before.
        flags[0].store(false, std::sync::atomic::Ordering::SeqCst);
        let failed_at = std::time::Instant::now();
        let moved = loop {
            let (ips, _) = resolve(server, ams, "api.example.com", t).await.unwrap();
            if ips != vec![Ipv4Addr::new(127, 14, 1, 1)] {
                assert_eq!(ips, vec![Ipv4Addr::new(127, 14, 2, 1)], "iad is next");
                break failed_at.elapsed();
            }
            assert!(failed_at.elapsed() < Duration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        // Three probes at 100 ms: more than two intervals, at most about four.
        assert!(
            moved >= Duration::from_millis(200) && moved < Duration::from_millis(600),
            "{moved:?}"
        );
        let ev = read_events(events.path());
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert!(!ev[0].healthy && ev[0].site == "ams" && ev[0].detail.contains("HTTP 503"));
        // Back after three passes.
        flags[0].store(true, std::sync::atomic::Ordering::SeqCst);
        let start = std::time::Instant::now();
        loop {
            let (ips, _) = resolve(server, ams, "api.example.com", t).await.unwrap();
            if ips == vec![Ipv4Addr::new(127, 14, 1, 1)] {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(start.elapsed() >= Duration::from_millis(200));
    }
}
