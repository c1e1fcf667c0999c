//! `lab up`: every site's data tier on loopback addresses, wired through the latency proxy.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sovereign_catalog::Catalog;
use sovereign_check::SiteId;
use sovereign_check::ValidatedTopology;
use sovereign_check::analysis::survivability;

use crate::LabError;
use crate::engines::cassandra::{self, NodeSpec};
use crate::engines::dnsmasq;
use crate::engines::pgbackrest::Stanza;
use crate::engines::postgres::{self as pglab, Pg};
use crate::engines::prometheus::{self, PromConfig, Prometheus};
use crate::engines::redis::Redis;
use crate::outputs;
use crate::process::which;
use crate::process::{self, Proc};
use crate::proxy::{Edge, ProxyConfig, Route, Sniff};
use crate::state::*;
use crate::tools::Tool;

/// How `up` runs.
#[derive(Clone, Debug)]
pub struct UpOptions {
    pub dir: PathBuf,
    /// Multiplies the catalog's one-way delays (1.0: the real figures).
    pub latency_scale: f64,
    /// Cassandra nodes per datacenter (at most the topology's count).
    pub cassandra_nodes: u32,
    pub with_cassandra: bool,
    /// Take ports one after another from here instead of letting the system choose.
    pub port_base: Option<u16>,
    /// The `sovereign` binary, which runs the latency proxy (`sovereign lab proxy`).
    pub program: PathBuf,
    /// Where the topology came from, and its text (kept as `topology.toml`).
    pub topology_source: String,
    pub topology_text: String,
    /// Java heap per Cassandra node, MiB.
    pub cassandra_heap_mb: u32,
    /// Multiplies the rules' `for:` and Alertmanager's timers in the lab (1.0: as rendered; see
    /// [`crate::alerting`]).
    pub alert_time_scale: f64,
    /// Multiplies the DNS record's TTL and the health check interval for the lab's routing DNS
    /// (1.0: as the topology says).
    pub dns_time_scale: f64,
}

/// Hands out ports: free ones from the system, or consecutive ones from a base, each checked.
struct Ports {
    next: Option<u32>,
}

impl Ports {
    fn take(&mut self, ip: &str, what: &str) -> Result<u16, LabError> {
        match &mut self.next {
            None => process::free_port(ip),
            Some(n) => {
                if *n > 65535 {
                    return Err(LabError::Invalid(
                        "--port-base leaves too few ports below 65536".into(),
                    ));
                }
                let p = *n as u16;
                *n += 1;
                if !process::port_free(ip, p) {
                    return Err(LabError::Invalid(format!(
                        "port {ip}:{p} (for {what}) is taken by another program: stop it, or choose another --port-base (or leave it out to let the system pick free ports)"
                    )));
                }
                Ok(p)
            }
        }
    }
}

/// A password of 24 hex digits from the system's random source.
pub fn password() -> Result<String, LabError> {
    let mut buf = [0u8; 12];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| LabError::io("cannot read /dev/urandom", e))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn write_private(path: &Path, text: &str) -> Result<(), LabError> {
    crate::trust::write_private(path, text.as_bytes())
}

/// What the lab needs from the machine, checked before anything starts.
pub fn preflight(t: &ValidatedTopology, opts: &UpOptions) -> Result<(), LabError> {
    let mut missing: Vec<(String, String)> = Vec::new();
    let mut need = |ok: bool, what: &str, pkg: &str| {
        if !ok {
            missing.push((what.to_string(), pkg.to_string()));
        }
    };
    if t.postgres.is_some() {
        need(pglab::bin_dir().is_ok(), "PostgreSQL server", "postgresql");
        need(which("pgbackrest").is_some(), "pgbackrest", "pgbackrest");
        need(
            crate::tools::find(Tool::PostgresExporter).is_some(),
            "postgres_exporter",
            "prometheus-postgres-exporter",
        );
    }
    if t.redis.is_some() {
        need(
            which("redis-server").is_some(),
            "redis-server",
            "redis-server",
        );
        need(
            crate::tools::find(Tool::RedisExporter).is_some(),
            "redis_exporter",
            "prometheus-redis-exporter",
        );
    }
    need(which("prometheus").is_some(), "prometheus", "prometheus");
    if t.dns.is_some() {
        need(which("dnsmasq").is_some(), "dnsmasq", "dnsmasq-base");
    }
    if !missing.is_empty() {
        return Err(LabError::Missing {
            what: missing
                .iter()
                .map(|(w, _)| w.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            install: format!(
                "apt-get install {}",
                missing
                    .iter()
                    .map(|(_, p)| p.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        });
    }
    if t.cassandra.is_some() && opts.with_cassandra {
        cassandra::prerequisites().map_err(|e| match e {
            LabError::Missing { what, install } => LabError::Missing {
                what,
                install: format!("{install}; or run `lab up --without-cassandra`"),
            },
            other => other,
        })?;
    }
    if !(opts.latency_scale.is_finite() && opts.latency_scale >= 0.0) {
        return Err(LabError::Invalid(format!(
            "--latency-scale {} is not a non-negative number",
            opts.latency_scale
        )));
    }
    if !(opts.alert_time_scale.is_finite() && opts.alert_time_scale > 0.0) {
        return Err(LabError::Invalid(format!(
            "--alert-time-scale {} is not a positive number",
            opts.alert_time_scale
        )));
    }
    if !(opts.dns_time_scale.is_finite() && opts.dns_time_scale > 0.0 && opts.dns_time_scale <= 1.0)
    {
        return Err(LabError::Invalid(format!(
            "--dns-time-scale {} is not above 0 and at most 1",
            opts.dns_time_scale
        )));
    }
    // PostgreSQL runs as the `postgres` user when we are root: it must be able to reach the lab
    // directory. The lab directory itself is made passable; what is above it is the user's.
    if t.postgres.is_some() && process::is_root() {
        let above = opts
            .dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Some(blocked) = crate::trust::unreachable_for(pglab::OWNER, above) {
            return Err(LabError::Invalid(format!(
                "PostgreSQL runs as the `{}` user, which cannot enter {}: choose a --dir it can reach (under /tmp or /var/tmp), or let it pass with `chmod o+x {}`",
                pglab::OWNER,
                blocked.display(),
                blocked.display()
            )));
        }
    }
    Ok(())
}

/// `up` in progress: the state so far, saved after each step, and how to report.
struct Up<'a> {
    dir: PathBuf,
    state: LabState,
    ports: Ports,
    progress: &'a dyn Fn(&str),
    step: usize,
    steps: usize,
}

impl Up<'_> {
    fn save(&self) -> Result<(), LabError> {
        self.state.save(&self.dir)
    }

    fn track(&mut self, p: Proc) -> Result<(), LabError> {
        self.state.procs.push(p);
        self.save()
    }

    /// Tracks a process that serves one site on one address.
    fn track_at(&mut self, mut p: Proc, site: &str, host: &str) -> Result<(), LabError> {
        p.site = Some(site.to_string());
        p.host = Some(host.to_string());
        self.track(p)
    }

    /// Runs one step with a progress line and its duration.
    fn step<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut Self) -> Result<T, LabError>,
    ) -> Result<T, LabError> {
        self.step += 1;
        let start = Instant::now();
        (self.progress)(&format!("[{:>2}/{}] {what}…", self.step, self.steps));
        let r = f(self)?;
        (self.progress)(&format!(
            "        done in {:.1} s",
            start.elapsed().as_secs_f64()
        ));
        Ok(r)
    }
}

/// The one-way delay from `a` to `b`, milliseconds, scaled; `None` when the catalog has no
/// figure for the pair.
fn one_way(t: &ValidatedTopology, catalog: &Catalog, a: &str, b: &str, scale: f64) -> Option<f64> {
    let (sa, sb) = (t.find_site(a)?, t.find_site(b)?);
    survivability::rtt(catalog, sa, sb).map(|(rtt, _)| rtt / 2.0 * scale)
}

/// Starts the lab. On failure everything started so far is stopped and the directory removed
/// before the error is returned.
pub fn up(
    t: &ValidatedTopology,
    catalog: &Catalog,
    opts: &UpOptions,
    progress: &dyn Fn(&str),
) -> Result<LabState, LabError> {
    let dir = opts.dir.clone();
    let lock = if dir.join(STATE_FILE).exists() {
        Some(LabLock::acquire(&dir, "lab up")?)
    } else {
        None
    };
    if let Some(existing) = LabState::load(&dir)? {
        let alive = existing.alive();
        if !alive.is_empty() {
            return Err(LabError::Invalid(format!(
                "a lab of `{}` is already running in {} ({} processes): `sovereign lab status` shows it, `sovereign lab down` stops it",
                existing.project,
                dir.display(),
                alive.len()
            )));
        }
        progress(&format!(
            "a stopped lab was left in {}: removing it first",
            dir.display()
        ));
        drop(lock);
        crate::down::down(&dir, false, progress)?;
    } else if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    {
        return Err(LabError::Invalid(format!(
            "{} exists and is not a lab (no {STATE_FILE}): choose another --dir, or remove it",
            dir.display()
        )));
    }
    preflight(t, opts)?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| LabError::io(format!("cannot create {}", dir.display()), e))?;
    // Ours alone before anything is written into it (see crate::trust).
    crate::trust::check_dir(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Others may pass through (PostgreSQL runs as its own user and must reach its
        // directories) but not list or change it.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))
            .map_err(|e| LabError::io(format!("cannot set the mode of {}", dir.display()), e))?;
    }
    let dir = dir
        .canonicalize()
        .map_err(|e| LabError::io(format!("cannot resolve {}", dir.display()), e))?;
    let lock = LabLock::acquire(&dir, "lab up")?;
    let state = LabState {
        format: FORMAT,
        phase: Phase::Starting,
        project: t.project.name.clone(),
        topology_source: opts.topology_source.clone(),
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        latency_scale: opts.latency_scale,
        sites: t
            .sites
            .iter()
            .enumerate()
            .map(|(i, s)| LabSite {
                id: s.id.to_string(),
                ip: format!("127.10.{}.1", i + 1),
                region: s.aws.as_ref().map(|a| a.region.clone()),
                fly_region: s.fly_region().map(str::to_string),
            })
            .collect(),
        postgres: None,
        redis: BTreeMap::new(),
        redis_mode: None,
        redis_policy: None,
        prometheus: BTreeMap::new(),
        monitoring_global: None,
        cassandra: None,
        dns: None,
        proxy_config: ProxyConfig::default(),
        routes: BTreeMap::new(),
        edges: BTreeMap::new(),
        health_path: t.application.as_ref().map(|a| a.health_path.clone()),
        procs: Vec::new(),
        notes: Vec::new(),
        alerting: None,
        engines: BTreeMap::new(),
        users: None,
    };
    let mut u = Up {
        dir: dir.clone(),
        state,
        ports: Ports {
            next: opts.port_base.map(u32::from),
        },
        progress,
        step: 0,
        steps: 0,
    };
    u.save()?;
    match build(&mut u, t, catalog, opts) {
        Ok(()) => Ok(u.state),
        Err(e) => {
            progress("failed: stopping everything this `up` started");
            let _ = u.save();
            drop(lock);
            if let Err(d) = crate::down::down(&dir, false, progress) {
                progress(&format!(
                    "warning: cleaning up after the failure also failed: {d}"
                ));
            }
            Err(e)
        }
    }
}

/// Where the lab's ports come from: the system (or `--port-base`) while it starts, a counter in
/// tests of [`plan`].
pub(crate) trait PortSource {
    /// A port for `what` on `ip`, free when taken.
    fn take(&mut self, ip: &str, what: &str) -> Result<u16, LabError>;
    /// Whether nothing listens on `ip:port` (a port shared by several addresses).
    fn free(&self, ip: &str, port: u16) -> bool;
}

impl PortSource for Ports {
    fn take(&mut self, ip: &str, what: &str) -> Result<u16, LabError> {
        Ports::take(self, ip, what)
    }

    fn free(&self, ip: &str, port: u16) -> bool {
        process::port_free(ip, port)
    }
}

/// Everything `up` decides before it starts a process: each server's port, the proxy's routes
/// and their delays, the edges, the application tier. It reads the topology, the catalog and the
/// sites' addresses only, and takes ports from `ports`: [`build`] starts what it says.
struct Plan {
    /// PostgreSQL members, (site, role), the primary first.
    pg_sites: Vec<(String, String)>,
    pg_ports: BTreeMap<String, u16>,
    redis_ports: BTreeMap<String, u16>,
    prom_sites: Vec<String>,
    prom_ports: BTreeMap<String, u16>,
    /// The site of the global Prometheus.
    global: Option<String>,
    cass_specs: Vec<NodeSpec>,
    /// Per datacenter: nodes in the lab, replication factor in the lab, in the topology.
    cass_dcs: BTreeMap<String, (u32, u32, u32)>,
    routes: Vec<Route>,
    /// Every route's listening address by name (the lab state's `routes`).
    route_addrs: BTreeMap<String, SocketAddr>,
    edges: Vec<Edge>,
    /// Every edge's URL by site (the lab state's `edges`).
    edge_urls: BTreeMap<String, String>,
    tier: Option<Tier>,
    /// What differs from the topology, for `lab status`.
    notes: Vec<String>,
}

/// PostgreSQL's part of a plan: members (site, role), their ports, the physical members.
type PgPlan = (Vec<(String, String)>, BTreeMap<String, u16>, Vec<String>);
/// Prometheus's part: the sites that run one, their ports, the global one's site.
type PromPlan = (Vec<String>, BTreeMap<String, u16>, Option<String>);
/// Cassandra's part: the nodes, and per datacenter (lab nodes, lab factor, topology factor).
type CassandraPlan = (Vec<NodeSpec>, BTreeMap<String, (u32, u32, u32)>);

/// What every component's plan reads (topology, catalog, options, the sites' addresses) and adds
/// to (ports, proxy routes, notes).
struct Planner<'a> {
    t: &'a ValidatedTopology,
    catalog: &'a Catalog,
    opts: &'a UpOptions,
    sites: &'a [LabSite],
    ports: &'a mut dyn PortSource,
    routes: Vec<Route>,
    route_addrs: BTreeMap<String, SocketAddr>,
    notes: Vec<String>,
    /// Site pairs without a round-trip figure in the catalog (no delay there).
    unknown_pairs: Vec<String>,
}

impl Planner<'_> {
    fn site_ip(&self, id: &str) -> String {
        self.sites
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.ip.clone())
            .unwrap_or_else(|| "127.0.0.1".into())
    }

    /// A site's place in the topology, from 1: the third byte of its loopback addresses.
    fn site_index(&self, id: &str) -> usize {
        self.t.sites.iter().position(|s| s.id == id).unwrap_or(0) + 1
    }

    /// The one-way delay from `a` to `b` in milliseconds, scaled; 0 (and a note) without a figure.
    fn delay(&mut self, a: &str, b: &str) -> f64 {
        match one_way(self.t, self.catalog, a, b, self.opts.latency_scale) {
            Some(d) => d,
            None => {
                self.unknown_pairs.push(format!("{a}–{b}"));
                0.0
            }
        }
    }

    /// A delayed route `kind from→to` on the proxy, on an address of its own.
    fn route(
        &mut self,
        kind: &str,
        from: &str,
        to: &str,
        target: SocketAddr,
        ms: f64,
    ) -> Result<SocketAddr, LabError> {
        let ip = format!("127.13.{}.{}", self.site_index(from), self.site_index(to));
        let port = self
            .ports
            .take(&ip, &format!("the {kind} route {from}→{to}"))?;
        let listen: SocketAddr = crate::parse_addr(format!("{ip}:{port}"))?;
        let name = format!("{kind} {from}→{to}");
        self.routes.push(Route {
            name: name.clone(),
            listen,
            target,
            delay_ms: ms,
            by_source: BTreeMap::new(),
            sniff: Sniff::None,
            link: Some((from.to_string(), to.to_string())),
            source_sites: BTreeMap::new(),
        });
        self.route_addrs.insert(name, listen);
        Ok(listen)
    }

    /// PostgreSQL: a port per member, and routes from every member to every physical member
    /// (not the logical replicas), so a failover can repoint anyone to anyone.
    fn postgres(&mut self) -> Result<PgPlan, LabError> {
        let t = self.t;
        let pg_sites: Vec<(String, String)> = match &t.postgres {
            Some(pg) => std::iter::once((pg.primary.to_string(), "primary".to_string()))
                .chain(
                    pg.secondaries
                        .iter()
                        .map(|s| (s.to_string(), "secondary".to_string())),
                )
                .chain(
                    pg.logical_replicas
                        .iter()
                        .map(|r| (r.site.to_string(), "logical_replica".to_string())),
                )
                .collect(),
            None => Vec::new(),
        };
        let mut pg_ports = BTreeMap::new();
        for (site, _) in &pg_sites {
            let ip = self.site_ip(site);
            pg_ports.insert(
                site.clone(),
                self.ports.take(&ip, &format!("PostgreSQL at {site}"))?,
            );
        }
        // PostgreSQL: from every member to every physical member, so a failover can repoint
        // anyone to anyone.
        let physical: Vec<String> = pg_sites
            .iter()
            .filter(|(_, r)| r != "logical_replica")
            .map(|(s, _)| s.clone())
            .collect();
        for (from, _) in &pg_sites {
            for to in &physical {
                if from != to {
                    let target: SocketAddr =
                        crate::parse_addr(format!("{}:{}", self.site_ip(to), pg_ports[to]))?;
                    let ms = self.delay(from, to);
                    self.route("pg", from, to, target, ms)?;
                }
            }
        }
        Ok((pg_sites, pg_ports, physical))
    }

    /// Redis: a port per site; in global mode, routes from the secondaries to the primary.
    fn redis(&mut self) -> Result<BTreeMap<String, u16>, LabError> {
        let t = self.t;
        let mut redis_ports = BTreeMap::new();
        if let Some(r) = &t.redis {
            for site in &r.sites {
                let ip = self.site_ip(site);
                redis_ports.insert(
                    site.to_string(),
                    self.ports.take(&ip, &format!("Redis at {site}"))?,
                );
            }
            if r.mode == sovereign_spec::RedisMode::Global
                && let Some(p) = &r.primary
            {
                for site in r.sites.iter().filter(|s| *s != p) {
                    let target: SocketAddr = crate::parse_addr(format!(
                        "{}:{}",
                        self.site_ip(p),
                        redis_ports[p.as_str()]
                    ))?;
                    let ms = self.delay(site, p);
                    self.route("redis", site, p, target, ms)?;
                }
            }
        }
        Ok(redis_ports)
    }

    /// Prometheus: one per site with something to scrape, and the global one, which receives
    /// every other's remote write through a route.
    fn prometheus(
        &mut self,
        pg_sites: &[(String, String)],
        redis_ports: &BTreeMap<String, u16>,
    ) -> Result<PromPlan, LabError> {
        let t = self.t;
        let mut prom_sites: Vec<String> = t
            .sites
            .iter()
            .filter(|s| {
                pg_sites.iter().any(|(p, _)| *p == s.id) || redis_ports.contains_key(s.id.as_str())
            })
            .map(|s| s.id.to_string())
            .collect();
        let global = t
            .monitoring
            .global_site
            .as_ref()
            .map(|g| g.to_string())
            .or_else(|| prom_sites.first().cloned());
        if let Some(g) = &global
            && !prom_sites.contains(g)
        {
            prom_sites.push(g.clone());
        }
        let mut prom_ports = BTreeMap::new();
        for site in &prom_sites {
            let ip = self.site_ip(site);
            prom_ports.insert(
                site.clone(),
                self.ports.take(&ip, &format!("Prometheus at {site}"))?,
            );
        }
        if let Some(g) = &global {
            for site in prom_sites.iter().filter(|s| *s != g) {
                let target: SocketAddr =
                    crate::parse_addr(format!("{}:{}", self.site_ip(g), prom_ports[g]))?;
                let ms = self.delay(site, g);
                self.route("prom", site, g, target, ms)?;
            }
        }
        Ok((prom_sites, prom_ports, global))
    }

    /// Cassandra: every node behind a proxy address, the delay set by the calling node's
    /// datacenter; fewer nodes than the topology's when asked, and a note saying so.
    fn cassandra(&mut self) -> Result<CassandraPlan, LabError> {
        let t = self.t;
        let mut cass_specs: Vec<NodeSpec> = Vec::new();
        let mut cass_dcs: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
        if let (Some(c), true) = (&t.cassandra, self.opts.with_cassandra) {
            let first_ip = format!("127.11.{}.1", self.site_index(&c.datacenters[0].site));
            let storage = self.ports.take(&first_ip, "Cassandra storage")?;
            let native = self.ports.take(&first_ip, "Cassandra CQL")?;
            for dc in &c.datacenters {
                let n = self.opts.cassandra_nodes.clamp(1, dc.nodes.max(1));
                let rf = dc.replication_factor.min(n);
                if rf < dc.replication_factor {
                    self.notes.push(format!(
                        "Cassandra `{}`: replication factor {} in the topology, {rf} in the lab ({n} node(s); --cassandra-nodes {} runs the real factor)",
                        dc.site, dc.replication_factor, dc.replication_factor
                    ));
                }
                cass_dcs.insert(dc.site.to_string(), (n, rf, dc.replication_factor));
                for i in 0..n {
                    let listen: IpAddr = crate::parse_addr(format!(
                        "127.11.{}.{}",
                        self.site_index(&dc.site),
                        i + 1
                    ))?;
                    let broadcast: IpAddr = crate::parse_addr(format!(
                        "127.12.{}.{}",
                        self.site_index(&dc.site),
                        i + 1
                    ))?;
                    for (ip, port, what) in [
                        (listen, storage, "storage"),
                        (listen, native, "CQL"),
                        (broadcast, storage, "proxy"),
                    ] {
                        if !self.ports.free(&ip.to_string(), port) {
                            return Err(LabError::Invalid(format!(
                                "port {ip}:{port} (Cassandra {what}) is taken by another program"
                            )));
                        }
                    }
                    cass_specs.push(NodeSpec {
                        name: format!("{}-{}", dc.site, i + 1),
                        dc: dc.site.to_string(),
                        rack: format!("rack{}", i + 1),
                        listen,
                        broadcast,
                        storage_port: storage,
                        native_port: native,
                        jmx_port: self.ports.take("127.0.0.1", "Cassandra JMX")?,
                    });
                }
            }
            for node in &cass_specs {
                let mut by_source = BTreeMap::new();
                for other in &cass_specs {
                    if other.dc != node.dc {
                        by_source.insert(other.broadcast, self.delay(&other.dc, &node.dc));
                    }
                }
                let in_dc = self.delay(&node.dc, &node.dc);
                self.routes.push(Route {
                    name: format!("cassandra →{}", node.name),
                    listen: SocketAddr::new(node.broadcast, node.storage_port),
                    target: SocketAddr::new(node.listen, node.storage_port),
                    delay_ms: in_dc,
                    by_source,
                    sniff: Sniff::CassandraInternode,
                    link: Some((node.dc.clone(), node.dc.clone())),
                    source_sites: cass_specs
                        .iter()
                        .map(|o| (o.broadcast, o.dc.clone()))
                        .collect(),
                });
            }
        } else if t.cassandra.is_some() {
            self.notes
                .push("Cassandra left out (--without-cassandra)".into());
        }
        Ok((cass_specs, cass_dcs))
    }

    /// Edges: each serving site's stand-in load balancer, healthy while its data tier answers.
    fn edges(
        &mut self,
        pg_ports: &BTreeMap<String, u16>,
        redis_ports: &BTreeMap<String, u16>,
    ) -> Result<(Vec<Edge>, BTreeMap<String, String>), LabError> {
        let t = self.t;
        let mut edge_urls = BTreeMap::new();
        let mut edges = Vec::new();
        if let Some(app) = &t.application {
            for s in t.sites.iter().filter(|s| s.serves()) {
                let ip = self.site_ip(&s.id);
                let mut needs = Vec::new();
                if let Some(p) = pg_ports.get(s.id.as_str()) {
                    needs.push((
                        "postgres".to_string(),
                        crate::parse_addr(format!("{ip}:{p}"))?,
                    ));
                }
                if let Some(p) = redis_ports.get(s.id.as_str()) {
                    needs.push(("redis".to_string(), crate::parse_addr(format!("{ip}:{p}"))?));
                }
                if needs.is_empty() {
                    continue;
                }
                let port = self.ports.take(&ip, &format!("the edge of {}", s.id))?;
                let listen: SocketAddr = crate::parse_addr(format!("{ip}:{port}"))?;
                edge_urls.insert(s.id.to_string(), format!("http://{listen}"));
                edges.push(Edge {
                    site: s.id.to_string(),
                    listen,
                    health_path: app.health_path.clone(),
                    needs,
                });
            }
        }
        Ok((edges, edge_urls))
    }

    /// The application tier: the reference application in every serving site with a copy of
    /// the database, its front on the proxy (delayed by the calling region), the routing DNS and
    /// the users' regions.
    fn tier(
        &mut self,
        dir: &Path,
        (pg_ports, redis_ports): (&BTreeMap<String, u16>, &BTreeMap<String, u16>),
        physical: &[String],
        cass_specs: &[NodeSpec],
    ) -> Result<Option<Tier>, LabError> {
        let (t, catalog, opts) = (self.t, self.catalog, self.opts);
        let scale = opts.latency_scale;
        let mut tier: Option<Tier> = None;
        if let (Some(app), Some(d)) = (&t.application, &t.dns) {
            let serving: Vec<String> = t
                .sites
                .iter()
                .filter(|s| s.serves() && pg_ports.contains_key(s.id.as_str()))
                .map(|s| s.id.to_string())
                .collect();
            if !serving.is_empty() {
                // Users in every site's region, then in the topology's other user regions
                // (`[usage] user_regions`, AWS region codes), each from a loopback address of its own.
                let regions: Vec<LabUserRegion> =
                    t.sites
                        .iter()
                        .map(|s| LabUserRegion {
                            region: s.id.to_string(),
                            source: IpAddr::V4(std::net::Ipv4Addr::new(
                                127,
                                20,
                                self.site_index(&s.id) as u8,
                                1,
                            )),
                        })
                        .chain(t.usage.user_regions.iter().enumerate().map(|(i, r)| {
                            LabUserRegion {
                                region: r.clone(),
                                source: IpAddr::V4(std::net::Ipv4Addr::new(
                                    127,
                                    21,
                                    i as u8 + 1,
                                    1,
                                )),
                            }
                        }))
                        .collect();
                // The round trip from a user region (a site's, or an AWS region) to a site.
                let region_rtt = |region: &str, site: &str| -> Option<f64> {
                    let to = t.find_site(site)?;
                    match t.find_site(region) {
                        Some(from) => survivability::rtt(catalog, from, to).map(|x| x.0),
                        None => catalog
                            .rtt(
                                &sovereign_catalog::Location::Aws(region.to_string()),
                                &to.location,
                            )
                            .map(|x| x.0),
                    }
                };
                let fronts: BTreeMap<String, std::net::Ipv4Addr> = serving
                    .iter()
                    .map(|s| {
                        (
                            s.clone(),
                            std::net::Ipv4Addr::new(127, 14, self.site_index(s) as u8, 1),
                        )
                    })
                    .collect();
                let first = fronts
                    .values()
                    .next()
                    .copied()
                    .unwrap_or(std::net::Ipv4Addr::LOCALHOST);
                let port = self
                    .ports
                    .take(&first.to_string(), "the application fronts")?;
                for ip in fronts.values() {
                    if !self.ports.free(&ip.to_string(), port) {
                        return Err(LabError::Invalid(format!(
                            "port {ip}:{port} (an application front) is taken by another program"
                        )));
                    }
                }
                let mut apps = Vec::new();
                let mut app_addrs = BTreeMap::new();
                for site in &serving {
                    let ip = self.site_ip(site);
                    let aport = self
                        .ports
                        .take(&ip, &format!("the application at {site}"))?;
                    let listen: SocketAddr = crate::parse_addr(format!("{ip}:{aport}"))?;
                    app_addrs.insert(site.clone(), listen);
                    let mut by_source = BTreeMap::new();
                    for r in &regions {
                        let ms = if &r.region == site {
                            one_way(t, catalog, site, site, scale).unwrap_or(0.0)
                        } else if t.find_site(&r.region).is_some() {
                            self.delay(&r.region, site)
                        } else {
                            // A user region that is no site: the catalog's round trip from there.
                            region_rtt(&r.region, site).map_or(0.0, |rtt| rtt / 2.0 * scale)
                        };
                        by_source.insert(r.source, ms);
                    }
                    let front = SocketAddr::new(IpAddr::V4(fronts[site]), port);
                    self.routes.push(Route {
                        name: format!("app →{site}"),
                        listen: front,
                        target: listen,
                        delay_ms: 0.0,
                        by_source,
                        sniff: Sniff::None,
                        // Users reach their site whatever happens between sites.
                        link: None,
                        source_sites: BTreeMap::new(),
                    });
                    self.route_addrs.insert(format!("app →{site}"), front);
                    // Writes: every physical member as this site reaches it, nearest first.
                    let mut hosts: Vec<(f64, SocketAddr)> = Vec::new();
                    for y in physical {
                        if y == site {
                            let a: SocketAddr =
                                crate::parse_addr(format!("{ip}:{}", pg_ports[site]))?;
                            hosts.push((-1.0, a));
                        } else if let Some(r) = self.route_addrs.get(&format!("pg {site}→{y}")) {
                            hosts.push((one_way(t, catalog, site, y, 1.0).unwrap_or(1e9), *r));
                        }
                    }
                    hosts.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let addr = |p: Option<&u16>| -> Option<SocketAddr> {
                        p.and_then(|p| format!("{ip}:{p}").parse().ok())
                    };
                    let pg_read = addr(pg_ports.get(site));
                    let redis = addr(redis_ports.get(site));
                    let cassandra = cass_specs.iter().find(|n| &n.dc == site).and_then(|n| {
                        t.cassandra.as_ref().map(|c| crate::app::CassandraTarget {
                            node: SocketAddr::new(n.listen, n.native_port),
                            dc: n.dc.clone(),
                            keyspace: c.keyspace.clone(),
                        })
                    });
                    let mut needs = Vec::new();
                    needs.extend(pg_read.map(|a| ("postgres".to_string(), a)));
                    needs.extend(redis.map(|a| ("redis".to_string(), a)));
                    needs.extend(
                        cassandra
                            .as_ref()
                            .map(|c| ("cassandra".to_string(), c.node)),
                    );
                    apps.push(crate::app::AppConfig {
                        site: site.clone(),
                        listen,
                        health_path: app.health_path.clone(),
                        database: t
                            .postgres
                            .as_ref()
                            .map(|p| p.database_name.clone())
                            .unwrap_or_default(),
                        pg_user: "postgres".into(),
                        pg_read,
                        pg_write: hosts.into_iter().map(|(_, a)| a).collect(),
                        redis,
                        cassandra,
                        needs,
                        cache_ttl_seconds: 10,
                        lab_dir: dir.to_path_buf(),
                    });
                }
                let ts = opts.dns_time_scale;
                let ttl = ((f64::from(d.ttl_seconds) * ts).round() as u32).max(1);
                let interval = f64::from(d.health_check_interval_seconds) * ts;
                let dns_ip = "127.9.0.2";
                let dns_port = self.ports.take(dns_ip, "the routing DNS")?;
                let dns_addr: SocketAddr = crate::parse_addr(format!("{dns_ip}:{dns_port}"))?;
                let events = dir.join("dns").join("events.jsonl");
                let dns_cfg = crate::dns::DnsConfig {
                    listen: dns_addr,
                    name: d.api_fqdn(),
                    zone: d.zone.trim_end_matches('.').to_string(),
                    ttl_seconds: ttl,
                    interval_ms: ((interval * 1000.0).round() as u64).max(50),
                    threshold: d.health_check_failure_threshold.max(1),
                    sites: apps
                        .iter()
                        .map(|a| crate::dns::DnsSite {
                            site: a.site.clone(),
                            answer: fronts[&a.site],
                            health: a.listen,
                            health_path: a.health_path.clone(),
                        })
                        .collect(),
                    regions: regions
                        .iter()
                        .map(|r| crate::dns::DnsRegion {
                            region: r.region.clone(),
                            source: r.source,
                            rtt_ms: serving
                                .iter()
                                .filter_map(|s| {
                                    region_rtt(&r.region, s)
                                        .or((&r.region == s).then_some(0.0))
                                        .map(|ms| (s.clone(), ms))
                                })
                                .collect(),
                        })
                        .collect(),
                    events: Some(events.clone()),
                };
                let users = LabUsers {
                    dns: dns_addr,
                    name: d.api_fqdn(),
                    port,
                    fronts,
                    apps: app_addrs,
                    regions,
                    ttl_seconds: ttl,
                    interval_seconds: interval,
                    threshold: d.health_check_failure_threshold.max(1),
                    time_scale: ts,
                    events,
                };
                tier = Some(Tier {
                    apps,
                    dns: dns_cfg,
                    users,
                });
            }
        }
        Ok(tier)
    }
}

fn plan(
    t: &ValidatedTopology,
    catalog: &Catalog,
    opts: &UpOptions,
    dir: &Path,
    sites: &[LabSite],
    ports: &mut dyn PortSource,
) -> Result<Plan, LabError> {
    let mut p = Planner {
        t,
        catalog,
        opts,
        sites,
        ports,
        routes: Vec::new(),
        route_addrs: BTreeMap::new(),
        notes: Vec::new(),
        unknown_pairs: Vec::new(),
    };
    let (pg_sites, pg_ports, physical) = p.postgres()?;
    let redis_ports = p.redis()?;
    let (prom_sites, prom_ports, global) = p.prometheus(&pg_sites, &redis_ports)?;
    let (cass_specs, cass_dcs) = p.cassandra()?;
    let (edges, edge_urls) = p.edges(&pg_ports, &redis_ports)?;
    let tier = p.tier(dir, (&pg_ports, &redis_ports), &physical, &cass_specs)?;
    if !p.unknown_pairs.is_empty() {
        p.unknown_pairs.sort();
        p.unknown_pairs.dedup();
        p.notes.push(format!(
            "no round-trip figure in the catalog for {}: no delay injected there",
            p.unknown_pairs.join(", ")
        ));
    }
    Ok(Plan {
        pg_sites,
        pg_ports,
        redis_ports,
        prom_sites,
        prom_ports,
        global,
        cass_specs,
        cass_dcs,
        routes: p.routes,
        route_addrs: p.route_addrs,
        edges,
        edge_urls,
        tier,
        notes: p.notes,
    })
}

fn build(
    u: &mut Up,
    t: &ValidatedTopology,
    catalog: &Catalog,
    opts: &UpOptions,
) -> Result<(), LabError> {
    let dir = u.dir.clone();
    std::fs::write(dir.join("topology.toml"), &opts.topology_text)
        .map_err(|e| LabError::io("cannot write topology.toml", e))?;
    crate::trust::private_dir(&dir.join("credentials"))?;
    // What render produces for this topology: the alert rules, the roles script of the
    // primary's site root and the subscription SQL of the logical replicas, which the lab runs
    // for real.
    let tree = sovereign_render::render(t, catalog, &opts.topology_source)
        .map_err(|e| LabError::client("render", e))?;
    let rendered = dir.join("rendered");
    for (path, bytes) in tree.files() {
        if path.starts_with("monitoring/rules/")
            || (path.starts_with("fly/") && path.ends_with(".sql"))
            || path == ROLES_SQL
        {
            let p = rendered.join(path);
            std::fs::create_dir_all(p.parent().unwrap_or(&rendered))
                .map_err(|e| LabError::io("cannot write rendered files", e))?;
            std::fs::write(&p, bytes)
                .map_err(|e| LabError::io(format!("cannot write {}", p.display()), e))?;
        }
    }
    let (engines, notes) = crate::tools::in_use(
        &[
            t.postgres.as_ref().map(|_| Tool::PostgresExporter),
            t.redis.as_ref().map(|_| Tool::RedisExporter),
            Some(Tool::Alertmanager),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>(),
    );
    u.state.engines = engines;
    u.state.notes.extend(notes);
    let Plan {
        pg_sites,
        pg_ports,
        redis_ports,
        prom_sites,
        prom_ports,
        global,
        cass_specs,
        cass_dcs,
        routes,
        route_addrs,
        edges,
        edge_urls,
        tier,
        notes,
    } = plan(t, catalog, opts, &dir, &u.state.sites, &mut u.ports)?;
    let scale = opts.latency_scale;
    u.state.notes.extend(notes);
    u.state.routes.extend(route_addrs);
    u.state.edges.extend(edge_urls);
    u.state.proxy_config = ProxyConfig {
        routes,
        edges,
        partition_file: Some(dir.join(crate::drill::PARTITION_FILE)),
    };
    u.steps = 1
        + usize::from(!pg_sites.is_empty()) * (pg_sites.len() + 1)
        + usize::from(!redis_ports.is_empty())
        + usize::from(!cass_specs.is_empty())
        + prom_sites.len()
        + usize::from(global.is_some())
        + usize::from(t.dns.is_some())
        + 1
        + if tier.is_some() { 2 } else { 0 };
    u.save()?;

    // --- Start. ---
    let cfg_path = dir.join("proxy.json");
    u.step(
        &format!(
            "latency proxy: {} routes, {} edges, scale {scale}",
            u.state.proxy_config.routes.len(),
            u.state.proxy_config.edges.len()
        ),
        |u| {
            let text = serde_json::to_string_pretty(&u.state.proxy_config)
                .map_err(|e| LabError::json("the proxy's configuration", e))?;
            std::fs::write(&cfg_path, text)
                .map_err(|e| LabError::io("cannot write proxy.json", e))?;
            let mut c = std::process::Command::new(&opts.program);
            c.arg("lab").arg("proxy").arg("--config").arg(&cfg_path);
            let p = process::spawn("latency proxy", c, &dir.join("proxy.log"), vec![])?;
            u.track(p.clone())?;
            let listens: Vec<SocketAddr> = u
                .state
                .proxy_config
                .routes
                .iter()
                .map(|r| r.listen)
                .chain(u.state.proxy_config.edges.iter().map(|e| e.listen))
                .collect();
            let start = Instant::now();
            for l in listens {
                while !process::port_open(&l.ip().to_string(), l.port()) {
                    if !p.is_running() || start.elapsed() > Duration::from_secs(15) {
                        return Err(LabError::Start {
                            what: "latency proxy".into(),
                            detail: format!("not listening on {l}"),
                            log: process::tail(&dir.join("proxy.log"), 10),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            Ok(())
        },
    )?;

    if let Some(pg) = &t.postgres {
        start_postgres(u, pg, &pg_sites, &pg_ports)?;
    }
    if let Some(r) = &t.redis {
        start_redis(u, r, &redis_ports)?;
    }
    if !cass_specs.is_empty()
        && let Some(c) = &t.cassandra
    {
        start_cassandra(u, c, &cass_specs, &cass_dcs, opts.cassandra_heap_mb)?;
    }
    if let Some(g) = &global {
        start_alerting(u, g, opts)?;
        start_prometheus(u, g, &prom_sites, &prom_ports)?;
    }
    if let Some(d) = &t.dns {
        let api = d.api_fqdn();
        let zone = d.zone.trim_end_matches('.').to_string();
        u.step(
            &format!("DNS: {api} → {} site(s)", u.state.edges.len()),
            |u| {
                let ip = "127.9.0.1";
                let port = u.ports.take(ip, "DNS")?;
                let records: Vec<(String, String)> = u
                    .state
                    .proxy_config
                    .edges
                    .iter()
                    .map(|e| (api.clone(), e.listen.ip().to_string()))
                    .collect();
                let p = dnsmasq::start(&dir.join("dns"), ip, port, &zone, &records)?;
                u.track_at(p, "-", ip)?;
                u.state.dns = Some(LabDns {
                    addr: crate::parse_addr(format!("{ip}:{port}"))?,
                    zone,
                    api_name: api.clone(),
                });
                Ok(())
            },
        )?;
    }
    u.step(
        "settling: replicas streaming, first samples at the global Prometheus",
        |u| settle(u, Duration::from_secs(90)),
    )?;
    if let Some(tier) = tier {
        start_tier(u, opts, tier)?;
    }
    u.state.phase = Phase::Running;
    write_outputs(&dir, &u.state)?;
    u.save()
}

/// What `up` plans for the application tier before anything starts.
struct Tier {
    apps: Vec<crate::app::AppConfig>,
    dns: crate::dns::DnsConfig,
    users: LabUsers,
}

/// The application tier: its tables, one application process per serving site, then the
/// routing DNS probing them.
fn start_tier(u: &mut Up, opts: &UpOptions, tier: Tier) -> Result<(), LabError> {
    let dir = u.dir.clone();
    u.step(
        &format!(
            "reference application at {} site(s): its tables, one process each",
            tier.apps.len()
        ),
        |u| {
            let progress = u.progress;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| LabError::io("runtime", e))?;
            rt.block_on(crate::load::replicated_table(
                &u.state,
                crate::app::PG_TABLE,
                crate::app::PG_DDL,
                progress,
            ))?;
            if let Some(c) = &u.state.cassandra
                && let Some(node) = c.nodes.first()
            {
                let creds: serde_json::Value = std::fs::read_to_string(
                    dir.join(outputs::CASSANDRA_CREDENTIALS),
                )
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
                let (user, pw) = (
                    creds["username"].as_str().unwrap_or_default().to_string(),
                    creds["password"].as_str().unwrap_or_default().to_string(),
                );
                let ks = c.keyspace.replace('"', "\"\"");
                cassandra::block_on(async {
                    let s = cassandra::session(&node.spec, &user, &pw, Duration::from_secs(60)).await?;
                    s.query_unpaged(
                        format!(
                            "CREATE TABLE IF NOT EXISTS \"{ks}\".{} (id bigint PRIMARY KEY, body text, site text)",
                            crate::app::CQL_TABLE
                        ),
                        (),
                    )
                    .await
                    .map_err(|e| LabError::client("cannot create the application's Cassandra table", e))?;
                    Ok::<_, LabError>(())
                })??;
            }
            let apps_dir = dir.join("apps");
            std::fs::create_dir_all(&apps_dir)
                .map_err(|e| LabError::io(format!("cannot create {}", apps_dir.display()), e))?;
            for a in &tier.apps {
                let path = apps_dir.join(format!("{}.json", a.site));
                let text = serde_json::to_string_pretty(a)
                    .map_err(|e| LabError::json(format!("the application at {}", a.site), e))?;
                write_private(&path, &text)?;
                let mut c = std::process::Command::new(&opts.program);
                c.arg("lab").arg("app").arg("--config").arg(&path);
                let p = process::spawn(
                    &format!("application {}", a.site),
                    c,
                    &apps_dir.join(format!("{}.log", a.site)),
                    vec![a.listen.port()],
                )?;
                u.track_at(p.clone(), &a.site, &a.listen.ip().to_string())?;
                process::wait_listening(
                    &p,
                    &a.listen.ip().to_string(),
                    a.listen.port(),
                    Duration::from_secs(15),
                    &format!("the application at {}", a.site),
                )?;
            }
            Ok(())
        },
    )?;
    let users = tier.users;
    u.step(
        &format!(
            "routing DNS: {} by latency from {} region(s), TTL {} s, health checks every {:.2} s, withdrawn after {} failures",
            users.name,
            users.regions.len(),
            users.ttl_seconds,
            users.interval_seconds,
            users.threshold
        ),
        |u| {
            let dns_dir = dir.join("dns");
            std::fs::create_dir_all(&dns_dir)
                .map_err(|e| LabError::io(format!("cannot create {}", dns_dir.display()), e))?;
            let path = dns_dir.join("routing.json");
            let text = serde_json::to_string_pretty(&tier.dns)
                .map_err(|e| LabError::json("the routing DNS's configuration", e))?;
            write_private(&path, &text)?;
            let mut c = std::process::Command::new(&opts.program);
            c.arg("lab").arg("dns").arg("--config").arg(&path);
            let log = dns_dir.join("routing.log");
            let p = process::spawn("routing DNS", c, &log, vec![])?;
            u.track_at(p.clone(), "-", &users.dns.ip().to_string())?;
            // Answering: a query from a known region gets a site.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| LabError::io("runtime", e))?;
            let source = users
                .regions
                .first()
                .map(|r| r.source)
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
            let start = Instant::now();
            loop {
                let r = rt.block_on(crate::dns::resolve(
                    users.dns,
                    source,
                    &users.name,
                    Duration::from_millis(300),
                ));
                match r {
                    Ok(_) => break,
                    Err(e) if !p.is_running() || start.elapsed() > Duration::from_secs(10) => {
                        return Err(LabError::Start {
                            what: "routing DNS".into(),
                            detail: e,
                            log: process::tail(&log, 10),
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
            u.state.users = Some(users.clone());
            u.save()
        },
    )
}

/// Writes `outputs.json` (terraform's shape) for the current state.
pub fn write_outputs(dir: &Path, s: &LabState) -> Result<(), LabError> {
    let v = outputs::outputs(s);
    let text = serde_json::to_string_pretty(&v).map_err(|e| LabError::json("outputs.json", e))?;
    std::fs::write(dir.join("outputs.json"), text)
        .map_err(|e| LabError::io("cannot write outputs.json", e))
}

/// The script the `postgres-roles` Job of the primary's site root runs on the Aurora writer
/// (the monitoring and replication roles, the publication), where the rendered tree has it.
const ROLES_SQL: &str = "charts/postgres-roles/files/roles.sql";

fn start_postgres(
    u: &mut Up,
    pg: &sovereign_check::PostgresV,
    pg_sites: &[(String, String)],
    ports: &BTreeMap<String, u16>,
) -> Result<(), LabError> {
    let dir = u.dir.clone();
    let pw = password()?;
    let replicator = password()?;
    // The exporters log in as the monitoring role, as in the tree; only `up` needs its password.
    let monitor = password()?;
    let publish = !pg.logical_replicas.is_empty();
    write_private(
        &dir.join(outputs::PG_CREDENTIALS),
        &serde_json::json!({"username": "postgres", "password": pw}).to_string(),
    )?;
    write_private(&dir.join(REPLICATOR_CREDENTIALS), &replicator)?;
    u.state.postgres = Some(LabPostgres {
        primary: pg.primary.to_string(),
        database: pg.database_name.clone(),
        replicator_password: replicator.clone(),
        members: BTreeMap::new(),
        stanza: None,
        max_lag_seconds: pg.max_lag_seconds,
        backup_retention_days: pg.backup_retention_days,
    });
    let ip = |u: &Up, s: &str| u.state.site(s).map(|x| x.ip.clone()).unwrap_or_default();
    let primary_site = pg.primary.clone();
    let db = pg.database_name.clone();
    let primary = u.step(
        &format!("PostgreSQL primary at {primary_site}, pgBackRest stanza and first full backup"),
        |u| {
            let host = ip(u, &primary_site);
            let p = Pg::init(
                &dir.join("pg"),
                &primary_site,
                &host,
                ports[primary_site.as_str()],
                &pw,
            )?;
            maybe_break(&p)?;
            let stanza = Stanza::configure(&p, &dir.join("pg"), &primary_site)?;
            register(u, &primary_site, "primary", &p)?;
            p.start()?;
            p.create_database(&db)?;
            // Before the standbys copy it: the roles reach them with the rest of the cluster.
            pglab::create_roles(
                &p,
                &db,
                &dir.join("rendered").join(ROLES_SQL),
                &monitor,
                publish.then_some(replicator.as_str()),
            )?;
            stanza.create()?;
            stanza.backup("full")?;
            if let Some(pgs) = u.state.postgres.as_mut() {
                pgs.stanza = Some(stanza);
            }
            u.save()?;
            Ok(p)
        },
    )?;
    for (site, role) in pg_sites.iter().filter(|(_, r)| r != "primary") {
        let route = u
            .state
            .routes
            .get(&format!("pg {site}→{primary_site}"))
            .copied();
        let Some(route) = route else {
            return Err(LabError::NotInLab(format!(
                "no proxy route from {site} to {primary_site}"
            )));
        };
        let up_host = route.ip().to_string();
        if role == "secondary" {
            u.step(
                &format!(
                    "PostgreSQL standby at {site}, streaming from {primary_site} through the proxy"
                ),
                |u| {
                    let host = ip(u, site);
                    let s = Pg::standby(
                        &primary,
                        &dir.join("pg"),
                        site,
                        &host,
                        ports[site],
                        (&up_host, route.port()),
                    )?;
                    maybe_break(&s)?;
                    register(u, site, "secondary", &s)?;
                    s.start()
                },
            )?;
        } else {
            u.step(
                &format!("PostgreSQL logical replica at {site}, subscribed with the rendered SQL"),
                |u| {
                    let host = ip(u, site);
                    let r = Pg::init(&dir.join("pg"), site, &host, ports[site], &pw)?;
                    maybe_break(&r)?;
                    register(u, site, "logical_replica", &r)?;
                    r.start()?;
                    let sql = dir.join("rendered/fly").join(format!("postgres-{site}"));
                    pglab::logical_replica(
                        &r,
                        &db,
                        &sql.join("subscription.sql"),
                        &replicator,
                        (&up_host, route.port()),
                    )
                },
            )?;
        }
    }
    u.step("PostgreSQL exporters", |u| {
        let members: Vec<PgMember> = u.state.pgs().cloned().collect();
        for m in members {
            let host = m.pg.host.clone();
            let port = u
                .ports
                .take(&host, &format!("the PostgreSQL exporter at {}", m.site))?;
            // The monitoring role where the primary's roles reach (the primary and its physical
            // standbys); a logical replica has none of the primary's roles, and the tree runs
            // no exporter there, so the lab's reads it as its superuser.
            let (user, pass) = if m.role == "logical_replica" {
                ("postgres", m.pg.password.as_str())
            } else {
                ("sovereign_monitor", monitor.as_str())
            };
            let dsn = format!(
                "postgresql://{user}:{pass}@{}:{}/postgres?sslmode=disable",
                m.pg.host, m.pg.port
            );
            let p = prometheus::postgres_exporter(
                &dir.join("exporters"),
                &format!("postgres-exporter-{}", m.site),
                &host,
                port,
                &dsn,
            )?;
            u.track_at(p.clone(), &m.site, &host)?;
            if let Some(pgs) = u.state.postgres.as_mut()
                && let Some(x) = pgs.members.get_mut(&m.site)
            {
                x.exporter = Some(p);
            }
        }
        u.save()
    })
}

/// Records a PostgreSQL before it starts, so a failed start is still stopped by `down`.
fn register(u: &mut Up, site: &str, role: &str, pg: &Pg) -> Result<(), LabError> {
    if let Some(p) = u.state.postgres.as_mut() {
        p.members.insert(
            site.to_string(),
            PgMember {
                site: site.to_string(),
                role: role.to_string(),
                pg: pg.clone(),
                exporter: None,
            },
        );
    }
    u.save()
}

/// Fault injection for the failure tests: `SOVEREIGN_LAB_BREAK=postgres:<site>` writes a
/// setting PostgreSQL refuses into that site's configuration, so its server fails to start
/// for real and `up` has to clean up after it.
fn maybe_break(pg: &Pg) -> Result<(), LabError> {
    if std::env::var("SOVEREIGN_LAB_BREAK").ok().as_deref()
        == Some(&format!("postgres:{}", pg.name))
    {
        pg.write_conf(&[("shared_buffers", "'not-a-size'")])?;
    }
    Ok(())
}

fn start_redis(
    u: &mut Up,
    r: &sovereign_check::RedisV,
    ports: &BTreeMap<String, u16>,
) -> Result<(), LabError> {
    let dir = u.dir.clone();
    let token = password()?;
    write_private(&dir.join(outputs::REDIS_CREDENTIALS), &token)?;
    u.state.redis_mode = Some(match r.mode {
        sovereign_spec::RedisMode::Regional => "regional".into(),
        sovereign_spec::RedisMode::Global => "global".into(),
    });
    u.state.redis_policy = Some(r.maxmemory_policy.clone());
    let global = (r.mode == sovereign_spec::RedisMode::Global)
        .then(|| r.primary.clone())
        .flatten();
    u.step(
        &format!(
            "Redis at {} site(s) ({}) and exporters",
            r.sites.len(),
            u.state.redis_mode.clone().unwrap_or_default()
        ),
        |u| {
            // The primary first, so replicas find it.
            let mut order: Vec<&SiteId> = r.sites.iter().collect();
            order.sort_by_key(|s| Some(*s) != global.as_ref());
            for site in order {
                let ip = u.state.site(site).map(|x| x.ip.clone()).unwrap_or_default();
                let redis = Redis::start(
                    &dir.join("redis"),
                    site,
                    &ip,
                    ports[site.as_str()],
                    &token,
                    &r.maxmemory_policy,
                )?;
                u.track_at(redis.proc.clone(), site, &ip)?;
                let role = match &global {
                    Some(p) if p != site => {
                        let route = u
                            .state
                            .routes
                            .get(&format!("redis {site}→{p}"))
                            .copied()
                            .ok_or_else(|| {
                                LabError::NotInLab(format!("no route redis {site}→{p}"))
                            })?;
                        redis.replicate_from(&route.ip().to_string(), route.port())?;
                        "slave"
                    }
                    _ => "master",
                };
                let eport = u
                    .ports
                    .take(&ip, &format!("the Redis exporter at {site}"))?;
                let exporter = prometheus::redis_exporter(
                    &dir.join("exporters"),
                    &format!("redis-exporter-{site}"),
                    &ip,
                    eport,
                    &format!("redis://{ip}:{}", redis.port),
                    &token,
                )?;
                u.track_at(exporter.clone(), site, &ip)?;
                u.state.redis.insert(
                    site.to_string(),
                    LabRedis {
                        site: site.to_string(),
                        role: role.into(),
                        redis,
                        exporter: Some(exporter),
                    },
                );
                u.save()?;
            }
            Ok(())
        },
    )
}

fn start_cassandra(
    u: &mut Up,
    c: &sovereign_check::CassandraV,
    specs: &[NodeSpec],
    dcs: &BTreeMap<String, (u32, u32, u32)>,
    heap_mb: u32,
) -> Result<(), LabError> {
    let dir = u.dir.clone();
    let cluster = c.keyspace.clone();
    u.step(
        &format!(
            "Apache Cassandra {}: {} datacenter(s), {} node(s), through the proxy",
            cassandra::VERSION,
            dcs.len(),
            specs.len()
        ),
        |u| {
            // The first node of every datacenter is a seed.
            let seeds: Vec<(IpAddr, u16)> = dcs
                .keys()
                .filter_map(|dc| specs.iter().find(|s| &s.dc == dc))
                .map(|s| (s.broadcast, s.storage_port))
                .collect();
            // Seeds first: a node that finds no seed to gossip with gives up at start-up. The
            // others then join together.
            let is_seed = |s: &NodeSpec| seeds.contains(&(s.broadcast, s.storage_port));
            let mut nodes = Vec::new();
            for wave in [true, false] {
                let mut started = Vec::new();
                for s in specs.iter().filter(|s| is_seed(s) == wave) {
                    let n = cassandra::start(
                        &dir.join("cassandra"),
                        &cluster,
                        s,
                        &seeds,
                        specs.len(),
                        heap_mb,
                    )?;
                    u.track_at(n.proc.clone(), &s.dc, &s.listen.to_string())?;
                    started.push(n);
                }
                nodes.extend(started.iter().cloned());
                u.state.cassandra = Some(LabCassandra {
                    cluster: cluster.clone(),
                    keyspace: c.keyspace.clone(),
                    nodes: nodes.clone(),
                    datacenters: dcs.clone(),
                });
                u.save()?;
                for n in &started {
                    cassandra::wait_ready(n, Duration::from_secs(300))?;
                }
            }
            // The lab lists nodes in the topology's order.
            nodes.sort_by_key(|n| specs.iter().position(|s| s.name == n.spec.name));
            if let Some(c) = u.state.cassandra.as_mut() {
                c.nodes = nodes.clone();
            }
            u.save()?;
            let pw = password()?;
            write_private(
                &dir.join(outputs::CASSANDRA_CREDENTIALS),
                &serde_json::json!({"username": "sovereign", "password": pw}).to_string(),
            )?;
            let rf: BTreeMap<String, u32> = dcs
                .iter()
                .map(|(dc, (_, rf, _))| (dc.clone(), *rf))
                .collect();
            cassandra::bootstrap_schema(&nodes, &c.keyspace, &rf, "sovereign", &pw)
        },
    )
}

fn start_prometheus(
    u: &mut Up,
    global: &str,
    sites: &[String],
    ports: &BTreeMap<String, u16>,
) -> Result<(), LabError> {
    let dir = u.dir.clone();
    // The rules run on the global Prometheus alone, as in the tree, and alert Alertmanager there.
    let rules: Vec<PathBuf> = u
        .state
        .alerting
        .as_ref()
        .map(|a| a.rule_files.clone())
        .unwrap_or_default();
    let alertmanagers: Vec<String> = u
        .state
        .alerting
        .as_ref()
        .and_then(|a| a.routing.as_ref())
        .map(|r| vec![r.alertmanager.addr()])
        .unwrap_or_default();
    // The global one first: the others write to it.
    let mut order: Vec<&String> = sites.iter().collect();
    order.sort_by_key(|s| s.as_str() != global);
    for site in order {
        let what = if site == global {
            format!("Prometheus at {site} (global: receives remote writes)")
        } else {
            format!("Prometheus at {site}, remote-writing to {global}")
        };
        u.step(&what, |u| {
            let ip = u.state.site(site).map(|x| x.ip.clone()).unwrap_or_default();
            let mut scrape = vec![(
                "prometheus".to_string(),
                vec![format!("{ip}:{}", ports[site])],
            )];
            let mut job_labels = Vec::new();
            if let Some((m, e)) = u
                .state
                .postgres
                .as_ref()
                .and_then(|p| p.members.get(site))
                .and_then(|m| m.exporter.as_ref().map(|e| (m, e)))
            {
                scrape.push((
                    "postgres".into(),
                    vec![format!("{ip}:{}", e.ports.first().copied().unwrap_or(0))],
                ));
                // As modules/site labels its exporters: the writer's (the primary's here; the
                // replication slots are there) and the readers'.
                let endpoint = if m.role == "primary" {
                    "writer"
                } else {
                    "reader"
                };
                job_labels.push((
                    "postgres".to_string(),
                    vec![("pg_endpoint".to_string(), endpoint.to_string())],
                ));
            }
            if let Some(e) = u.state.redis.get(site).and_then(|r| r.exporter.as_ref()) {
                scrape.push((
                    "redis".into(),
                    vec![format!("{ip}:{}", e.ports.first().copied().unwrap_or(0))],
                ));
            }
            let remote_write = if site == global {
                vec![]
            } else {
                let r = u
                    .state
                    .routes
                    .get(&format!("prom {site}→{global}"))
                    .copied()
                    .ok_or_else(|| LabError::NotInLab(format!("no route prom {site}→{global}")))?;
                vec![format!("http://{r}/api/v1/write")]
            };
            let cfg = PromConfig {
                labels: vec![("site".into(), site.clone())],
                scrape,
                job_labels,
                remote_write,
                rule_files: if site == global {
                    rules.clone()
                } else {
                    vec![]
                },
                receiver: site == global,
                alertmanagers: if site == global {
                    alertmanagers.clone()
                } else {
                    vec![]
                },
            };
            let p = Prometheus::start(&dir.join("prometheus"), site, &ip, ports[site], &cfg)?;
            u.track_at(p.proc.clone(), site, &ip)?;
            u.state.prometheus.insert(site.clone(), p);
            u.save()
        })?;
    }
    u.state.monitoring_global = Some(global.to_string());
    u.save()
}

/// Alerting beside the global Prometheus: the rules it will load (scaled by
/// `--alert-time-scale`), the lab's receiver, and Alertmanager routing to it as the tree routes
/// to its SNS topic. Without Alertmanager the rules still run, and a note says alerts go nowhere.
fn start_alerting(u: &mut Up, global: &str, opts: &UpOptions) -> Result<(), LabError> {
    use crate::alerting::{self, LabAlerting, Routing};
    use crate::engines::alertmanager::{Alertmanager, AmConfig};
    let dir = u.dir.clone();
    let scale = opts.alert_time_scale;
    u.step(
        &format!("alerting at {global}: the rendered rules (`for:` × {scale}), Alertmanager, the lab's receiver"),
        |u| {
            let mut a = LabAlerting {
                time_scale: scale,
                rule_files: alerting::rule_files(&dir, scale)?,
                routing: None,
            };
            if crate::tools::find(Tool::Alertmanager).is_none() {
                u.state.notes.push(format!(
                    "no Alertmanager: the global Prometheus evaluates the rules, but alerts go nowhere ({})",
                    Tool::Alertmanager.install_hint()
                ));
                u.state.alerting = Some(a);
                return u.save();
            }
            let ip = u.state.site(global).map(|x| x.ip.clone()).unwrap_or_default();
            let port = u.ports.take(&ip, "the alert receiver")?;
            let receiver = alerting::start_receiver(&dir, &opts.program, &ip, port)?;
            u.track_at(receiver.clone(), global, &ip)?;
            let cfg = AmConfig::scaled(format!("http://{ip}:{port}/"), scale);
            let port = u.ports.take(&ip, "Alertmanager")?;
            let am = Alertmanager::start(&dir.join(alerting::DIR).join("alertmanager"), &ip, port, &cfg)?;
            u.track_at(am.proc.clone(), global, &ip)?;
            a.routing = Some(Routing {
                alertmanager: am,
                receiver_url: cfg.webhook.clone(),
                receiver,
                notifications: dir.join(alerting::NOTIFICATIONS),
                resolve_timeout_seconds: cfg.resolve_timeout.as_secs_f64(),
                group_interval_seconds: cfg.group_interval.as_secs_f64(),
            });
            u.state.alerting = Some(a);
            u.save()
        },
    )
}

/// Waits until standbys stream, subscriptions run, replicas link, and the global Prometheus
/// has heard from every site: what `lab verify` checks right after.
fn settle(u: &mut Up, timeout: Duration) -> Result<(), LabError> {
    let start = Instant::now();
    let mut waiting: Vec<String>;
    loop {
        waiting = Vec::new();
        if let Some(p) = &u.state.postgres
            && let Some(primary) = p.members.get(&p.primary)
        {
            let expected: Vec<&String> = p
                .members
                .values()
                .filter(|m| m.role == "secondary")
                .map(|m| &m.site)
                .collect();
            let streaming = primary
                .pg
                .psql("postgres", &[], None, Some("SELECT string_agg(application_name, ',') FROM pg_stat_replication WHERE state = 'streaming'"))
                .unwrap_or_default();
            let names: Vec<&str> = streaming.trim().split(',').collect();
            for e in expected {
                if !names.contains(&e.as_str()) {
                    waiting.push(format!("standby {e}"));
                }
            }
            for m in p.members.values().filter(|m| m.role == "logical_replica") {
                let ok = m
                    .pg
                    .psql(&p.database, &[], None, Some(&format!("SELECT count(*) FROM pg_stat_subscription WHERE subname = 'sovereign_{}' AND pid IS NOT NULL AND relid IS NULL", m.site)))
                    .map(|o| o.trim() == "1")
                    .unwrap_or(false);
                if !ok {
                    waiting.push(format!("subscription at {}", m.site));
                }
            }
        }
        for r in u.state.redis.values().filter(|r| r.role == "slave") {
            if !r.redis.link_up() {
                waiting.push(format!("Redis replica {}", r.site));
            }
        }
        if let Some(g) = &u.state.monitoring_global
            && let Some(p) = u.state.prometheus.get(g)
        {
            let body = http_get(
                &p.host,
                p.port,
                "/api/v1/query?query=count%20by%20(site)%20(up)",
            )
            .unwrap_or_default();
            for site in u.state.prometheus.keys() {
                if !body.contains(&format!("\"site\":\"{site}\"")) {
                    waiting.push(format!("samples from {site} at the global Prometheus"));
                }
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(LabError::Failed(format!(
                "after {} s still waiting for: {}",
                timeout.as_secs(),
                waiting.join(", ")
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A plain HTTP GET on loopback; the body on 200.
pub fn http_get(host: &str, port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect((host, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    // HTTP/1.0: no chunked encoding to undo.
    s.write_all(format!("GET {path} HTTP/1.0\r\nhost: {host}\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    if out.split_whitespace().nth(1) != Some("200") {
        return None;
    }
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use sovereign_catalog::Date;

    use super::*;

    /// Ports from a counter: the plan is checked without asking the machine anything.
    struct Counter(u16);

    impl PortSource for Counter {
        fn take(&mut self, _ip: &str, _what: &str) -> Result<u16, LabError> {
            self.0 += 1;
            Ok(self.0)
        }

        fn free(&self, _ip: &str, _port: u16) -> bool {
            true
        }
    }

    fn topology(name: &str) -> ValidatedTopology {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/{name}.toml"));
        let text = std::fs::read_to_string(path).unwrap();
        sovereign_check::check_text(&text, Catalog::builtin(), Date::new(2026, 11, 26))
            .validated
            .unwrap()
    }

    fn options(scale: f64, with_cassandra: bool) -> UpOptions {
        UpOptions {
            dir: PathBuf::from("/nonexistent/lab"),
            latency_scale: scale,
            cassandra_nodes: 1,
            with_cassandra,
            port_base: None,
            program: PathBuf::from("sovereign"),
            topology_source: "examples/global-sovereign.toml".into(),
            topology_text: String::new(),
            cassandra_heap_mb: 512,
            alert_time_scale: 1.0,
            dns_time_scale: 1.0,
        }
    }

    fn sites(t: &ValidatedTopology) -> Vec<LabSite> {
        t.sites
            .iter()
            .enumerate()
            .map(|(i, s)| LabSite {
                id: s.id.to_string(),
                ip: format!("127.10.{}.1", i + 1),
                region: s.aws.as_ref().map(|a| a.region.clone()),
                fly_region: s.fly_region().map(str::to_string),
            })
            .collect()
    }

    fn planned(scale: f64, with_cassandra: bool) -> (ValidatedTopology, Plan) {
        let t = topology("global-sovereign");
        let opts = options(scale, with_cassandra);
        let p = plan(
            &t,
            Catalog::builtin(),
            &opts,
            Path::new("/nonexistent/lab"),
            &sites(&t),
            &mut Counter(20000),
        )
        .unwrap();
        (t, p)
    }

    #[test]
    fn every_member_reaches_every_physical_member_through_the_proxy() {
        let (t, p) = planned(1.0, false);
        let pg = t.postgres.as_ref().unwrap();
        let physical: Vec<String> = pg.members().map(|s| s.to_string()).collect();
        assert_eq!(p.pg_sites.len(), physical.len() + pg.logical_replicas.len());
        for (from, _) in &p.pg_sites {
            for to in physical.iter().filter(|to| *to != from) {
                let name = format!("pg {from}→{to}");
                let r = p.routes.iter().find(|r| r.name == name);
                let r = r.unwrap_or_else(|| panic!("no route {name}"));
                assert_eq!(r.target.port(), p.pg_ports[to]);
                assert_eq!(p.route_addrs[&name], r.listen);
            }
        }
        // A logical replica is a source, never a target: nobody fails over to it.
        for r in &pg.logical_replicas {
            let into = format!("→{}", r.site);
            assert!(
                !p.routes
                    .iter()
                    .any(|x| x.name.starts_with("pg ") && x.name.ends_with(&into))
            );
        }
    }

    #[test]
    fn no_two_listeners_share_an_address() {
        let (_, p) = planned(1.0, true);
        let mut seen = BTreeSet::new();
        for r in &p.routes {
            assert!(
                seen.insert(r.listen),
                "{} listens where another does",
                r.name
            );
        }
        for e in &p.edges {
            assert!(
                seen.insert(e.listen),
                "the edge of {} listens where another does",
                e.site
            );
        }
    }

    #[test]
    fn delays_follow_the_catalog_and_the_scale() {
        let (_, full) = planned(1.0, false);
        let (_, half) = planned(0.5, false);
        let mut cross = 0;
        for r in &full.routes {
            let h = half.routes.iter().find(|x| x.name == r.name).unwrap();
            assert!((h.delay_ms - r.delay_ms / 2.0).abs() < 1e-9, "{}", r.name);
            if r.name.starts_with("pg ") {
                assert!(r.delay_ms > 0.0, "{} has no delay", r.name);
                cross += 1;
            }
        }
        assert!(cross > 0);
        // Between Amsterdam and Sydney the catalog's round trip is far above 100 ms.
        let ams_syd = full.routes.iter().find(|r| r.name == "pg ams→syd").unwrap();
        assert!(ams_syd.delay_ms > 50.0, "{}", ams_syd.delay_ms);
    }

    #[test]
    fn the_tier_writes_nearest_member_first() {
        let (t, p) = planned(1.0, false);
        let tier = p
            .tier
            .expect("the default topology has an application tier");
        assert!(!tier.apps.is_empty());
        for app in &tier.apps {
            let own = p.pg_ports.get(&app.site);
            let physical = t
                .postgres
                .as_ref()
                .unwrap()
                .members()
                .any(|m| m.as_str() == app.site);
            if physical {
                assert_eq!(app.pg_write[0].port(), *own.unwrap(), "{}", app.site);
            }
            assert!(app.pg_write.len() > 1, "{} has one way to write", app.site);
        }
        assert_eq!(
            tier.users.regions.len(),
            t.sites.len() + t.usage.user_regions.len()
        );
    }

    #[test]
    fn cassandra_can_be_left_out_and_says_so() {
        let (_, without) = planned(1.0, false);
        assert!(without.cass_specs.is_empty());
        assert!(
            without
                .notes
                .iter()
                .any(|n| n.contains("--without-cassandra"))
        );
        let (t, with) = planned(1.0, true);
        let dcs = t.cassandra.as_ref().unwrap().datacenters.len();
        assert_eq!(
            with.cass_specs.len(),
            dcs,
            "one node per datacenter with --cassandra-nodes 1"
        );
        assert!(
            with.routes
                .iter()
                .any(|r| r.name.starts_with("cassandra →"))
        );
    }

    #[test]
    fn planning_touches_nothing_on_disk() {
        let _ = planned(1.0, true);
        assert!(!Path::new("/nonexistent/lab").exists());
    }
}
