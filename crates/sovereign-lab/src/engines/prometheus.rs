//! Prometheus from Debian's package; the exporters at the versions the rendered tree deploys when
//! `scripts/fetch-tools` has built them, else Debian's (see [`crate::tools`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::LabError;
use crate::process::which;
use crate::process::{self, Proc};
use crate::tools::{self, Tool};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Prometheus {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub dir: PathBuf,
    pub proc: Proc,
}

/// What one Prometheus scrapes and where it sends.
#[derive(Clone, Debug, Default)]
pub struct PromConfig {
    /// External labels naming the site.
    pub labels: Vec<(String, String)>,
    /// (job, targets)
    pub scrape: Vec<(String, Vec<String>)>,
    /// Target labels of some jobs besides `site`: (job, [(label, value)]).
    pub job_labels: Vec<(String, Vec<(String, String)>)>,
    /// Remote-write URLs.
    pub remote_write: Vec<String>,
    /// Rule files to load.
    pub rule_files: Vec<PathBuf>,
    /// Accept remote writes (the global Prometheus).
    pub receiver: bool,
    /// Alertmanagers (`host:port`) the rules' alerts go to.
    pub alertmanagers: Vec<String>,
}

impl PromConfig {
    pub fn yaml(&self) -> String {
        let mut y = String::from("global:\n  scrape_interval: 2s\n  evaluation_interval: 2s\n");
        if !self.labels.is_empty() {
            y.push_str("  external_labels:\n");
            for (k, v) in &self.labels {
                y.push_str(&format!("    {k}: {v:?}\n"));
            }
        }
        if !self.rule_files.is_empty() {
            y.push_str("rule_files:\n");
            for r in &self.rule_files {
                y.push_str(&format!("  - {:?}\n", r.display().to_string()));
            }
        }
        y.push_str("scrape_configs:\n");
        for (job, targets) in &self.scrape {
            y.push_str(&format!(
                "  - job_name: {job:?}\n    static_configs:\n      - targets: [{}]\n",
                targets
                    .iter()
                    .map(|t| format!("{t:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            let labels: Vec<&(String, String)> = self
                .labels
                .iter()
                .filter(|(k, _)| k == "site")
                .chain(
                    self.job_labels
                        .iter()
                        .filter(|(j, _)| j == job)
                        .flat_map(|(_, l)| l.iter()),
                )
                .collect();
            if !labels.is_empty() {
                y.push_str("        labels:\n");
                for (k, v) in labels {
                    y.push_str(&format!("          {k}: {v:?}\n"));
                }
            }
        }
        if !self.alertmanagers.is_empty() {
            y.push_str(&format!(
                "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [{}]\n",
                self.alertmanagers
                    .iter()
                    .map(|t| format!("{t:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.remote_write.is_empty() {
            y.push_str("remote_write:\n");
            for u in &self.remote_write {
                y.push_str(&format!(
                    "  - url: {u:?}\n    queue_config:\n      batch_send_deadline: 1s\n"
                ));
            }
        }
        y
    }
}

impl Prometheus {
    pub fn start(
        dir: &Path,
        name: &str,
        host: &str,
        port: u16,
        cfg: &PromConfig,
    ) -> Result<Prometheus, LabError> {
        let home = dir.join(name);
        std::fs::create_dir_all(home.join("data"))
            .map_err(|e| LabError::io(format!("cannot create {}", home.display()), e))?;
        let conf = home.join("prometheus.yml");
        std::fs::write(&conf, cfg.yaml())
            .map_err(|e| LabError::io("cannot write prometheus.yml", e))?;
        let bin = which("prometheus").ok_or_else(|| LabError::Missing {
            what: "prometheus".into(),
            install: "apt-get install prometheus".into(),
        })?;
        let mut c = Command::new(bin);
        c.arg(format!("--config.file={}", conf.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                home.join("data").display()
            ))
            .arg(format!("--web.listen-address={host}:{port}"))
            .arg("--storage.tsdb.retention.time=1d");
        if cfg.receiver {
            c.arg("--web.enable-remote-write-receiver");
        }
        let log = home.join("prometheus.log");
        let proc = process::spawn(&format!("prometheus {name}"), c, &log, vec![port])?;
        process::wait_listening(
            &proc,
            host,
            port,
            Duration::from_secs(30),
            &format!("Prometheus {name}"),
        )?;
        Ok(Prometheus {
            name: name.into(),
            host: host.into(),
            port,
            dir: home,
            proc,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    pub fn stop(&self) {
        process::stop(&self.proc, Duration::from_secs(10));
    }
}

/// An exporter's program: the pinned build, else Debian's.
fn exporter(tool: Tool) -> Result<PathBuf, LabError> {
    tools::find(tool)
        .map(|e| e.path)
        .ok_or_else(|| LabError::Missing {
            what: tool.built_name().into(),
            install: tool.install_hint(),
        })
}

/// postgres_exporter for one PostgreSQL (its flags are the same in Debian's 0.11 and in 0.19).
pub fn postgres_exporter(
    dir: &Path,
    name: &str,
    host: &str,
    port: u16,
    dsn: &str,
) -> Result<Proc, LabError> {
    let mut c = Command::new(exporter(Tool::PostgresExporter)?);
    c.env("DATA_SOURCE_NAME", dsn)
        .arg(format!("--web.listen-address={host}:{port}"));
    std::fs::create_dir_all(dir)
        .map_err(|e| LabError::io(format!("cannot create {}", dir.display()), e))?;
    let log = dir.join(format!("{name}.log"));
    let p = process::spawn(name, c, &log, vec![port])?;
    process::wait_listening(&p, host, port, Duration::from_secs(20), name)?;
    Ok(p)
}

/// redis_exporter for one Redis (`redis://host:port`), with its AUTH token in a password file of
/// the exporter's format (a JSON map from address to password), owner-only; the flags are the
/// same in Debian's 1.45 and in 1.88.
pub fn redis_exporter(
    dir: &Path,
    name: &str,
    host: &str,
    port: u16,
    redis: &str,
    token: &str,
) -> Result<Proc, LabError> {
    let bin = exporter(Tool::RedisExporter)?;
    crate::trust::private_dir(dir)?;
    let password_file = dir.join(format!("{name}.passwords.json"));
    crate::trust::write_private(
        &password_file,
        serde_json::json!({ redis: token }).to_string().as_bytes(),
    )?;
    let mut c = Command::new(bin);
    c.arg("-redis.addr")
        .arg(redis)
        .arg("-redis.password-file")
        .arg(&password_file)
        .arg("-web.listen-address")
        .arg(format!("{host}:{port}"));
    let log = dir.join(format!("{name}.log"));
    let p = process::spawn(name, c, &log, vec![port])?;
    process::wait_listening(&p, host, port, Duration::from_secs(20), name)?;
    Ok(p)
}
