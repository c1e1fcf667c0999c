//! `lab down` and `lab status`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::LabError;
use crate::process;
use crate::state::{LabLock, LabState, Phase, STATE_FILE};

/// What `down` did.
#[derive(Debug, Serialize)]
pub struct DownReport {
    pub stopped: usize,
    pub killed: usize,
    pub ports_freed: usize,
    pub removed: bool,
}

/// Stops every process of the lab in `dir` (reverse start order; PostgreSQL with pg_ctl,
/// everything else by PID, SIGKILL after a grace period), waits for its ports to be free, and
/// removes the directory unless `keep`.
pub fn down(dir: &Path, keep: bool, progress: &dyn Fn(&str)) -> Result<DownReport, LabError> {
    let Some(state) = LabState::load(dir)? else {
        return Err(LabError::NotInLab(format!(
            "no lab in {} (no {STATE_FILE})",
            dir.display()
        )));
    };
    let _lock = LabLock::acquire(dir, "lab down")?;
    let mut stopped = 0;
    let mut killed = 0;
    // Stops one process (its own way first, SIGKILL if it lingers) and counts how.
    let mut halt = |what: &str,
                    pid: u32,
                    graceful: &dyn Fn(),
                    still_ours: &dyn Fn() -> bool,
                    crash: &dyn Fn()| {
        progress(&format!("stopping {what} (pid {pid})"));
        graceful();
        if still_ours() {
            crash();
            killed += 1;
        } else {
            stopped += 1;
        }
    };
    // Ports are checked afterwards on the addresses the lab used (and on 127.0.0.1, where
    // Cassandra's JMX listens).
    let mut addrs: Vec<(String, u16)> = Vec::new();
    // PostgreSQL first: its clients (exporters, the proxy) may hold connections.
    for m in state.pgs() {
        addrs.push((m.pg.host.clone(), m.pg.port));
        if let Some(pid) = m.pg.pid() {
            halt(
                &format!("PostgreSQL {}", m.site),
                pid,
                &|| m.pg.stop(),
                &|| m.pg.pid().is_some(),
                &|| {
                    m.pg.kill9();
                },
            );
        }
    }
    for p in state.procs.iter().rev() {
        for port in &p.ports {
            let host = p.host.clone().unwrap_or_else(|| "127.0.0.1".into());
            if host != "127.0.0.1" {
                addrs.push(("127.0.0.1".into(), *port));
            }
            addrs.push((host, *port));
        }
        if p.is_running() {
            halt(
                &p.name,
                p.pid,
                &|| process::stop(p, Duration::from_secs(15)),
                &|| p.is_running(),
                &|| process::kill9(p),
            );
        }
    }
    for r in state
        .proxy_config
        .routes
        .iter()
        .map(|r| r.listen)
        .chain(state.proxy_config.edges.iter().map(|e| e.listen))
    {
        addrs.push((r.ip().to_string(), r.port()));
    }
    let start = Instant::now();
    let busy = loop {
        let busy: Vec<String> = addrs
            .iter()
            .filter(|(h, p)| *p != 0 && !process::port_free(h, *p))
            .map(|(h, p)| format!("{h}:{p}"))
            .collect();
        if busy.is_empty() || start.elapsed() > Duration::from_secs(10) {
            break busy;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if !busy.is_empty() {
        return Err(LabError::Failed(format!(
            "stopped every process of the lab, but these ports are still in use: {} (another program?)",
            busy.join(", ")
        )));
    }
    let removed = !keep;
    if removed {
        std::fs::remove_dir_all(dir)
            .map_err(|e| LabError::io(format!("cannot remove {}", dir.display()), e))?;
    }
    Ok(DownReport {
        stopped,
        killed,
        ports_freed: addrs.len(),
        removed,
    })
}

/// One line of `lab status`.
#[derive(Debug, Serialize)]
pub struct Component {
    pub name: String,
    pub site: Option<String>,
    pub role: Option<String>,
    pub address: String,
    pub pid: Option<u32>,
    pub up: bool,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub dir: String,
    pub project: String,
    pub topology: String,
    pub phase: Phase,
    pub latency_scale: f64,
    pub outputs: String,
    pub components: Vec<Component>,
    /// Which build of each exporter and of Alertmanager runs.
    pub engines: BTreeMap<String, String>,
    pub alerting: Option<AlertingStatus>,
    pub notes: Vec<String>,
}

/// Where alerts go in the lab and what the receiver has recorded.
#[derive(Debug, Serialize)]
pub struct AlertingStatus {
    pub time_scale: f64,
    pub rule_files: Vec<String>,
    pub alertmanager: Option<String>,
    pub receiver: Option<String>,
    /// The receiver's file: one notification a line.
    pub notifications: Option<String>,
    pub notifications_recorded: usize,
    /// Alertmanager's resolve timeout and group interval at the lab's scale, seconds.
    pub resolve_timeout_seconds: Option<f64>,
    pub group_interval_seconds: Option<f64>,
}

impl Status {
    pub fn healthy(&self) -> bool {
        self.phase == Phase::Running && self.components.iter().all(|c| c.up)
    }
}

/// What runs, from the state file and the processes themselves.
pub fn status(dir: &Path) -> Result<Status, LabError> {
    let Some(s) = LabState::load(dir)? else {
        return Err(LabError::NotInLab(format!(
            "no lab in {}: `sovereign lab up` starts one",
            dir.display()
        )));
    };
    let mut components = Vec::new();
    for m in s.pgs() {
        let pid = m.pg.pid();
        let alive = pid.is_some();
        let listening = process::port_open(&m.pg.host, m.pg.port);
        components.push(Component {
            name: "postgres".into(),
            site: Some(m.site.clone()),
            role: Some(m.role.clone()),
            address: format!("{}:{}", m.pg.host, m.pg.port),
            pid,
            up: (alive && listening) || m.role == "down",
            detail: match (m.role.as_str(), alive, listening) {
                ("down", _, _) => "killed by a drill".into(),
                (_, true, true) => "accepting connections".into(),
                (_, true, false) => "running, not listening".into(),
                _ => format!("not running (log: {})", m.pg.log.display()),
            },
        });
    }
    for p in &s.procs {
        let alive = p.is_running();
        let listening = match (&p.host, p.ports.first()) {
            (Some(h), Some(port)) if alive => process::port_open(h, *port),
            _ => alive,
        };
        components.push(Component {
            name: p.name.clone(),
            site: p.site.clone().filter(|s| s != "-"),
            role: None,
            address: match (&p.host, p.ports.first()) {
                (Some(h), Some(port)) => format!("{h}:{port}"),
                (None, Some(port)) => format!(":{port}"),
                _ => String::new(),
            },
            pid: Some(p.pid),
            up: alive && listening,
            detail: match (alive, listening) {
                (true, true) => match alerting_role(&s, p) {
                    Some(role) => format!("running: {role}"),
                    None => "running".into(),
                },
                (true, false) => "running, not listening".into(),
                _ => format!("not running (log: {})", p.log.display()),
            },
        });
    }
    let alerting = s.alerting.as_ref().map(|a| {
        let r = a.routing.as_ref();
        AlertingStatus {
            time_scale: a.time_scale,
            rule_files: a
                .rule_files
                .iter()
                .map(|f| f.display().to_string())
                .collect(),
            alertmanager: r.map(|r| r.alertmanager.url()),
            receiver: r.map(|r| r.receiver_url.clone()),
            notifications: r.map(|r| r.notifications.display().to_string()),
            notifications_recorded: r
                .and_then(|r| crate::receiver::read(&r.notifications).ok())
                .map_or(0, |n| n.len()),
            resolve_timeout_seconds: r.map(|r| r.resolve_timeout_seconds),
            group_interval_seconds: r.map(|r| r.group_interval_seconds),
        }
    });
    Ok(Status {
        dir: dir.display().to_string(),
        project: s.project.clone(),
        topology: s.topology_source.clone(),
        phase: s.phase,
        latency_scale: s.latency_scale,
        outputs: dir.join("outputs.json").display().to_string(),
        components,
        engines: s.engines.clone(),
        alerting,
        notes: s.notes.clone(),
    })
}

/// What Alertmanager and the receiver are to the lab, for their status line.
fn alerting_role(s: &LabState, p: &process::Proc) -> Option<String> {
    let r = s.alerting.as_ref()?.routing.as_ref()?;
    if p.pid == r.alertmanager.proc.pid {
        Some(format!(
            "Alertmanager {}, routes every alert to {}",
            r.alertmanager.build, r.receiver_url
        ))
    } else if p.pid == r.receiver.pid {
        let n = crate::receiver::read(&r.notifications).map_or(0, |n| n.len());
        Some(format!(
            "{n} notification(s) recorded in {}",
            r.notifications.display()
        ))
    } else {
        None
    }
}
