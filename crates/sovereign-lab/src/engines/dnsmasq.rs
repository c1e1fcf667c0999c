//! An authoritative answer for the lab's zone from dnsmasq: the API name resolves to every
//! serving site's address, each site name to its own; other names in the zone get NXDOMAIN.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::LabError;
use crate::process::which;
use crate::process::{self, Proc};

/// Starts dnsmasq on `host:port` (UDP and TCP) answering `records` (name, IPv4) in `zone`.
pub fn start(
    dir: &Path,
    host: &str,
    port: u16,
    zone: &str,
    records: &[(String, String)],
) -> Result<Proc, LabError> {
    let bin = which("dnsmasq").ok_or_else(|| LabError::Missing {
        what: "dnsmasq".into(),
        install: "apt-get install dnsmasq-base".into(),
    })?;
    std::fs::create_dir_all(dir)
        .map_err(|e| LabError::io("cannot create the dnsmasq directory", e))?;
    let mut c = Command::new(bin);
    c.arg("--keep-in-foreground")
        .arg("--no-resolv")
        .arg("--no-hosts")
        .arg("--no-poll")
        .arg("--bind-interfaces")
        .arg(format!("--listen-address={host}"))
        .arg(format!("--port={port}"))
        .arg(format!("--local=/{zone}/"))
        .arg(format!("--pid-file={}", dir.join("dnsmasq.pid").display()))
        .arg("--user=root");
    for (name, ip) in records {
        c.arg(format!("--host-record={name},{ip}"));
    }
    let log = dir.join("dnsmasq.log");
    let p = process::spawn("dnsmasq", c, &log, vec![port])?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if process::port_open(host, port) {
            return Ok(p);
        }
        if !p.is_running() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(LabError::Start {
        what: "dnsmasq".into(),
        detail: format!("not answering on {host}:{port}"),
        log: process::tail(&log, 10),
    })
}
