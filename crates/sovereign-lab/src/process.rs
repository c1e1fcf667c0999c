//! Processes the lab starts: spawned detached (own session, so a terminal's Ctrl-C does not
//! reach them), tracked by PID, stopped by PID.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::LabError;

/// A process the lab started.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Proc {
    pub name: String,
    pub pid: u32,
    /// Ports it listens on; `down` waits until they are free.
    pub ports: Vec<u16>,
    pub log: PathBuf,
    /// The site it serves and the address it listens on, for `lab status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// When it started, in clock ticks since boot (`/proc/<pid>/stat`): with the PID, what
    /// tells the process apart from a later one that reuses the PID.
    #[serde(default)]
    pub started: Option<u64>,
}

impl Proc {
    /// Whether the process the lab started is still running: the PID is alive and started at
    /// the recorded moment. A process that reuses the PID is not ours and is never signalled.
    pub fn is_running(&self) -> bool {
        self.started
            .is_some_and(|t| alive(self.pid) && start_ticks(self.pid) == Some(t))
    }
}

/// When a process started, in clock ticks since boot (field 22 of `/proc/<pid>/stat`).
pub fn start_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = s.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// When a process started, in seconds since the epoch (from its start ticks and the boot time;
/// Linux reports ticks at 100 a second to user space).
pub fn start_epoch(pid: u32) -> Option<u64> {
    let ticks = start_ticks(pid)?;
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let btime: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(btime + ticks / 100)
}

/// The command name of a process (`/proc/<pid>/comm`).
pub fn command_name(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// A free TCP port on a loopback address: bound, read, released.
pub fn free_port(ip: &str) -> Result<u16, LabError> {
    let l =
        TcpListener::bind((ip, 0)).map_err(|e| LabError::io(format!("no free port on {ip}"), e))?;
    let port = l
        .local_addr()
        .map_err(|e| LabError::io("no local address", e))?
        .port();
    Ok(port)
}

/// Whether something accepts connections on the address.
pub fn port_open(ip: &str, port: u16) -> bool {
    let addr: SocketAddr = match format!("{ip}:{port}").parse() {
        Ok(a) => a,
        Err(_) => return false,
    };
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Whether a port can be bound (nobody listens on it).
pub fn port_free(ip: &str, port: u16) -> bool {
    TcpListener::bind((ip, port)).is_ok()
}

pub fn wait_for_port(
    ip: &str,
    port: u16,
    timeout: Duration,
    what: &str,
    log: &Path,
) -> Result<(), LabError> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if port_open(ip, port) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(LabError::Start {
        what: what.to_string(),
        detail: format!(
            "nothing listens on {ip}:{port} after {} s",
            timeout.as_secs()
        ),
        log: tail(log, 15),
    })
}

/// Waits until the process listens on `ip:port`; fails at once when it exits first.
pub fn wait_listening(
    p: &Proc,
    ip: &str,
    port: u16,
    timeout: Duration,
    what: &str,
) -> Result<(), LabError> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if port_open(ip, port) {
            return Ok(());
        }
        if !alive(p.pid) {
            return Err(LabError::Start {
                what: what.to_string(),
                detail: "it exited".into(),
                log: tail(&p.log, 15),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(LabError::Start {
        what: what.to_string(),
        detail: format!(
            "nothing listens on {ip}:{port} after {} s",
            timeout.as_secs()
        ),
        log: tail(&p.log, 15),
    })
}

/// The last lines of a log file, for error messages.
pub fn tail(log: &Path, lines: usize) -> String {
    match std::fs::read_to_string(log) {
        Ok(t) => {
            let v: Vec<&str> = t.lines().collect();
            v[v.len().saturating_sub(lines)..].join("\n")
        }
        Err(_) => String::new(),
    }
}

pub fn is_root() -> bool {
    // SAFETY-free: the effective uid is in /proc/self/status.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A command that runs as `user` when we are root (PostgreSQL refuses to run as root).
pub fn command_as(user: Option<&str>, program: &Path) -> Command {
    match user {
        Some(u) if is_root() => {
            let mut c = Command::new("runuser");
            c.arg("-u").arg(u).arg("--").arg(program);
            c
        }
        _ => Command::new(program),
    }
}

/// Spawns a long-running program detached, with stdout and stderr to `log`.
pub fn spawn(name: &str, mut cmd: Command, log: &Path, ports: Vec<u16>) -> Result<Proc, LabError> {
    let out = std::fs::File::create(log)
        .map_err(|e| LabError::io(format!("cannot create {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| LabError::io("cannot clone log handle", e))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let child = cmd.spawn().map_err(|e| LabError::Start {
        what: name.to_string(),
        detail: format!("cannot run {:?}: {e}", cmd.get_program()),
        log: String::new(),
    })?;
    let pid = child.id();
    // Tracked by PID from here on: `stop` and `lab down` end it; when this process exits first,
    // init adopts it. (A child that dies before we exit stays a zombie until then; `alive`
    // treats zombies as dead.)
    std::mem::forget(child);
    Ok(Proc {
        name: name.to_string(),
        pid,
        ports,
        log: log.to_path_buf(),
        site: None,
        host: None,
        started: start_ticks(pid),
    })
}

/// Runs a command to completion; an error carries its output.
pub fn run(what: &str, cmd: Command) -> Result<String, LabError> {
    let (stdout, stderr) = run_both(what, cmd)?;
    Ok(format!("{stdout}{stderr}"))
}

/// Runs a command to completion and returns its standard output alone.
pub fn run_stdout(what: &str, cmd: Command) -> Result<String, LabError> {
    run_both(what, cmd).map(|(stdout, _)| stdout)
}

/// Standard output and error of a command that succeeded; otherwise an error with the last
/// lines it printed.
fn run_both(what: &str, mut cmd: Command) -> Result<(String, String), LabError> {
    let out = cmd.output().map_err(|e| LabError::Start {
        what: what.to_string(),
        detail: format!("cannot run {:?}: {e}", cmd.get_program()),
        log: String::new(),
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        let both = format!("{stdout}{stderr}");
        let lines: Vec<&str> = both.lines().collect();
        return Err(LabError::Start {
            what: what.to_string(),
            detail: format!("{:?} exited with {}", cmd.get_program(), out.status),
            log: lines[lines.len().saturating_sub(15)..].join("\n"),
        });
    }
    Ok((stdout, stderr))
}

pub fn alive(pid: u32) -> bool {
    // A zombie still has /proc/<pid>; its state is Z.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            s.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next())
                != Some("Z")
        }
        Err(_) => false,
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Stops a process the lab started: SIGTERM, then SIGKILL after `grace`. Nothing is sent when
/// the PID is no longer that process.
pub fn stop(p: &Proc, grace: Duration) {
    if p.is_running() {
        stop_pid(p.pid, grace);
    }
}

/// SIGKILL to a process the lab started, when it is still that process.
pub fn kill9(p: &Proc) {
    if p.is_running() {
        kill9_pid(p.pid);
    }
}

/// Stops a PID the caller has verified: SIGTERM, then SIGKILL after `grace`.
pub(crate) fn stop_pid(pid: u32, grace: Duration) {
    if !alive(pid) {
        return;
    }
    signal(pid, "TERM");
    let start = Instant::now();
    while start.elapsed() < grace {
        if !alive(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(pid, "KILL");
    let start = Instant::now();
    while alive(pid) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGKILL to a PID the caller has verified, no grace: what a crash looks like.
pub(crate) fn kill9_pid(pid: u32) {
    signal(pid, "KILL");
    let start = Instant::now();
    while alive(pid) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a closure when dropped: tests stop their servers with it even when an assertion fails.
pub struct OnDrop<F: FnMut()>(pub F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// A program on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}
