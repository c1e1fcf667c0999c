//! Alerts in the lab: the rendered rules on the global Prometheus (and only there, as in the
//! tree), Alertmanager with the tree's route (`modules/site/alerting.tf`), and the lab's receiver
//! ([`crate::receiver`]) in place of the SNS topic, which records every notification in
//! `alerting/notifications.jsonl`.
//!
//! Time: `lab up --alert-time-scale F` multiplies every rule's `for:` — in the lab's copy of the
//! rules, `alerting/rules/`, never in the rendered files — and Alertmanager's timers (group wait,
//! group interval, repeat interval, resolve timeout) by F, so that a rule with `for: 1m` fires
//! after 3 s at F = 0.05. The expressions, thresholds, labels and routes are the rendered ones.
//! At 1.0, the default, the global Prometheus loads the rendered files themselves.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::LabError;
use crate::engines::alertmanager::Alertmanager;
use crate::process::{self, Proc};

/// Where the rendered rules are in the lab directory (`up` writes them from render's tree).
pub const RENDERED_RULES: &str = "rendered/monitoring/rules";
/// The lab's alerting files: scaled rules, Alertmanager's configuration and data, the receiver.
pub const DIR: &str = "alerting";
/// Every notification the receiver got, one JSON object a line.
pub const NOTIFICATIONS: &str = "alerting/notifications.jsonl";

/// What the lab runs for alerts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabAlerting {
    /// What multiplies the rules' `for:` and Alertmanager's timers (1.0: as rendered).
    pub time_scale: f64,
    /// The rule files the global Prometheus loads.
    pub rule_files: Vec<PathBuf>,
    /// Alertmanager and the receiver; `None` when no Alertmanager is installed (the rules are
    /// evaluated, alerts go nowhere).
    pub routing: Option<Routing>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Routing {
    pub alertmanager: Alertmanager,
    pub receiver: Proc,
    pub receiver_url: String,
    pub notifications: PathBuf,
    /// Alertmanager's resolve timeout and group interval at this scale, seconds: how long a
    /// resolved alert can take to reach the receiver.
    pub resolve_timeout_seconds: f64,
    pub group_interval_seconds: f64,
}

/// The rule files for the global Prometheus: the rendered ones at scale 1, else copies in
/// `alerting/rules/` with every `for:` multiplied by `scale`.
pub fn rule_files(dir: &Path, scale: f64) -> Result<Vec<PathBuf>, LabError> {
    let rendered = dir.join(RENDERED_RULES);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&rendered)
        .map_err(|e| LabError::io(format!("cannot read {}", rendered.display()), e))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if scale == 1.0 {
        return Ok(files);
    }
    let out = dir.join(DIR).join("rules");
    std::fs::create_dir_all(&out)
        .map_err(|e| LabError::io(format!("cannot create {}", out.display()), e))?;
    let mut copies = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)
            .map_err(|e| LabError::io(format!("cannot read {}", f.display()), e))?;
        let name = f.file_name().unwrap_or_default();
        let copy = out.join(name);
        let header = format!(
            "# The lab's copy of {}/{}: every `for:` multiplied by {scale} (`sovereign lab up --alert-time-scale`).\n",
            RENDERED_RULES,
            name.to_string_lossy()
        );
        let scaled = scale_rules(&text, scale)
            .map_err(|e| LabError::Failed(format!("{}: {e}", f.display())))?;
        std::fs::write(&copy, format!("{header}{scaled}"))
            .map_err(|e| LabError::io(format!("cannot write {}", copy.display()), e))?;
        copies.push(copy);
    }
    Ok(copies)
}

/// A Prometheus rule file with each rule's `for:` multiplied by `scale`. A `for:` key counts
/// only at the indentation of its rule's keys (`- alert:` plus two), so text in a folded
/// annotation is never taken for one.
pub fn scale_rules(text: &str, scale: f64) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut key_indent: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let indent = body.len() - body.trim_start().len();
        let rest = body.trim_start();
        if rest.starts_with("- alert:") || rest.starts_with("- record:") {
            key_indent = Some(indent + 2);
        }
        if let Some(v) = rest.strip_prefix("for:")
            && key_indent == Some(indent)
        {
            let raw = v.trim().trim_matches(['"', '\'']);
            let d = parse_duration(raw).ok_or_else(|| format!("`for: {raw}` is not a duration"))?;
            let scaled = Duration::from_secs_f64(d.as_secs_f64() * scale);
            out.push_str(&format!(
                "{}for: {}{}",
                &body[..indent],
                format_duration(scaled),
                &line[body.len()..]
            ));
        } else {
            out.push_str(line);
        }
    }
    Ok(out)
}

/// A Prometheus duration (`90s`, `1h30m`, `1500ms`; units ms, s, m, h, d, w, y).
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s.is_empty() {
        return None;
    }
    let mut total = 0u64;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (ms, len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            let unit = match rest.chars().next()? {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                'w' => 604_800_000,
                'y' => 31_536_000_000,
                _ => return None,
            };
            (unit, 1)
        };
        total = total.checked_add(n.checked_mul(ms)?)?;
        rest = &rest[len..];
    }
    Some(Duration::from_millis(total))
}

/// A duration as Prometheus and Alertmanager read it: whole seconds as `Ns`, else milliseconds.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Starts the receiver (`sovereign lab receiver`, run by `program`) on `host:port`, recording
/// into the lab's notifications file.
pub fn start_receiver(dir: &Path, program: &Path, host: &str, port: u16) -> Result<Proc, LabError> {
    let home = dir.join(DIR);
    std::fs::create_dir_all(&home)
        .map_err(|e| LabError::io(format!("cannot create {}", home.display()), e))?;
    let mut c = Command::new(program);
    c.args(["lab", "receiver", "--listen"])
        .arg(format!("{host}:{port}"))
        .arg("--out")
        .arg(dir.join(NOTIFICATIONS));
    let p = process::spawn("alert receiver", c, &home.join("receiver.log"), vec![port])?;
    if let Err(e) = process::wait_listening(
        &p,
        host,
        port,
        Duration::from_secs(10),
        "the alert receiver",
    ) {
        process::stop(&p, Duration::from_secs(5));
        return Err(e);
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_written_as_prometheus_does() {
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        for bad in ["", "m", "5", "5x", "1.5m", "-1m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(format_duration(Duration::from_secs(6)), "6s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn only_rule_for_keys_are_scaled() {
        let text = "groups:\n- name: g\n  rules:\n  - alert: A\n    annotations:\n      description: >-\n        waits\n        for: 10m in prose\n    expr: up == 0\n    for: 2m\n    labels:\n      severity: critical\n  - alert: B\n    expr: absent(up)\n    for: 10m\n";
        let s = scale_rules(text, 0.05).unwrap();
        assert!(s.contains("    for: 6s\n"), "{s}");
        assert!(s.contains("    for: 30s\n"), "{s}");
        assert!(
            s.contains("        for: 10m in prose\n"),
            "prose untouched: {s}"
        );
        assert_eq!(s.lines().count(), text.lines().count());
        assert!(scale_rules("  - alert: A\n    for: soon\n", 0.5).is_err());
    }
}
