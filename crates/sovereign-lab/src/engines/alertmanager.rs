//! Alertmanager: the version kube-prometheus-stack deploys, built by `scripts/fetch-tools`, else
//! Debian's `prometheus-alertmanager`. One instance, no cluster peers, on loopback.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::LabError;
use crate::process::{self, Proc};
use crate::tools::{self, Tool};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Alertmanager {
    pub host: String,
    pub port: u16,
    pub dir: PathBuf,
    /// Which build runs (`v0.34.0 (scripts/fetch-tools)`).
    pub build: String,
    pub proc: Proc,
}

/// Where Alertmanager sends and how it batches: the rendered tree's route
/// (`modules/site/alerting.tf`: grouped by alert and site, 30 s / 5 m / 4 h) with the lab's
/// receiver in place of the SNS topic, each timer multiplied by the lab's alert time scale.
#[derive(Clone, Debug)]
pub struct AmConfig {
    /// The webhook every notification goes to.
    pub webhook: String,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    /// How long an alert without an end time stays active after its last update.
    pub resolve_timeout: Duration,
}

impl AmConfig {
    /// The tree's timers (Alertmanager's default resolve timeout, 5 m), times `scale`. Intervals
    /// stay at one second at least: Alertmanager refuses zero.
    pub fn scaled(webhook: String, scale: f64) -> AmConfig {
        let s = |secs: f64, min: f64| Duration::from_secs_f64((secs * scale).max(min));
        AmConfig {
            webhook,
            group_wait: s(30.0, 0.0),
            group_interval: s(300.0, 1.0),
            repeat_interval: s(4.0 * 3600.0, 1.0),
            resolve_timeout: s(300.0, 1.0),
        }
    }

    pub fn yaml(&self) -> String {
        let d = crate::alerting::format_duration;
        format!(
            "global:\n  resolve_timeout: {}\nroute:\n  receiver: lab\n  group_by: [\"alertname\", \"site\"]\n  group_wait: {}\n  group_interval: {}\n  repeat_interval: {}\nreceivers:\n  - name: lab\n    webhook_configs:\n      - url: {:?}\n        send_resolved: true\n",
            d(self.resolve_timeout),
            d(self.group_wait),
            d(self.group_interval),
            d(self.repeat_interval),
            self.webhook
        )
    }
}

impl Alertmanager {
    /// Starts Alertmanager in `dir` on `host:port` and waits until it says it is ready.
    pub fn start(dir: &Path, host: &str, port: u16, cfg: &AmConfig) -> Result<Self, LabError> {
        let engine = tools::find(Tool::Alertmanager).ok_or_else(|| LabError::Missing {
            what: "Alertmanager".into(),
            install: Tool::Alertmanager.install_hint(),
        })?;
        std::fs::create_dir_all(dir.join("data"))
            .map_err(|e| LabError::io(format!("cannot create {}", dir.display()), e))?;
        let conf = dir.join("alertmanager.yml");
        std::fs::write(&conf, cfg.yaml())
            .map_err(|e| LabError::io(format!("cannot write {}", conf.display()), e))?;
        let mut c = Command::new(&engine.path);
        c.arg(format!("--config.file={}", conf.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={host}:{port}"))
            // No gossip with peers: an empty address turns clustering off (it would listen on
            // every interface otherwise).
            .arg("--cluster.listen-address=");
        let log = dir.join("alertmanager.log");
        let proc = process::spawn("alertmanager", c, &log, vec![port])?;
        let ready =
            process::wait_listening(&proc, host, port, Duration::from_secs(30), "Alertmanager")
                .and_then(|()| wait_ready(&proc, host, port));
        if let Err(e) = ready {
            process::stop(&proc, Duration::from_secs(5));
            return Err(e);
        }
        Ok(Alertmanager {
            host: host.into(),
            port,
            dir: dir.to_path_buf(),
            build: engine.describe(Tool::Alertmanager),
            proc,
        })
    }

    /// `host:port`, as Prometheus's `alertmanagers` targets name it.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }
}

/// Alertmanager answers `/-/ready` once its configuration is loaded.
fn wait_ready(p: &Proc, host: &str, port: u16) -> Result<(), LabError> {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if crate::up::http_get(host, port, "/-/ready").is_some() {
            return Ok(());
        }
        if !p.is_running() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(LabError::Start {
        what: "Alertmanager".into(),
        detail: format!("http://{host}:{port}/-/ready does not answer 200"),
        log: process::tail(&p.log, 15),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trees_route_scaled() {
        let c = AmConfig::scaled("http://127.0.0.1:9/".into(), 0.05);
        assert_eq!(c.group_wait, Duration::from_millis(1500));
        assert_eq!(c.group_interval, Duration::from_secs(15));
        assert_eq!(c.repeat_interval, Duration::from_secs(720));
        let y = c.yaml();
        assert!(y.contains("group_wait: 1500ms\n"), "{y}");
        assert!(y.contains("resolve_timeout: 15s\n"), "{y}");
        assert!(y.contains("send_resolved: true"), "{y}");
        // Never zero, which Alertmanager refuses.
        let z = AmConfig::scaled("http://127.0.0.1:9/".into(), 0.0);
        assert_eq!(z.group_interval, Duration::from_secs(1));
        assert_eq!(z.group_wait, Duration::ZERO);
    }
}
