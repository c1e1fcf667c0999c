//! The lab on a shared machine: a directory or a state file another user could have written is
//! refused, and a PID is signalled only while it is still the process the lab started.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use sovereign_lab::process::{self, Proc};
use sovereign_lab::proxy::ProxyConfig;
use sovereign_lab::state::{FORMAT, LabState, Phase};

fn state_with(procs: Vec<Proc>) -> LabState {
    LabState {
        format: FORMAT,
        phase: Phase::Running,
        project: "t".into(),
        topology_source: "<test>".into(),
        started_unix: 0,
        latency_scale: 0.0,
        sites: Vec::new(),
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
        health_path: None,
        procs,
        notes: Vec::new(),
        alerting: None,
        engines: Default::default(),
        users: None,
    }
}

fn sleeper() -> (Child, Proc) {
    let child = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = child.id();
    let p = Proc {
        name: "sleeper".into(),
        pid,
        ports: Vec::new(),
        log: "/dev/null".into(),
        site: None,
        host: None,
        started: process::start_ticks(pid),
    };
    (child, p)
}

fn lab_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("lab");
    std::fs::create_dir(&d).unwrap();
    (t, d)
}

fn exited(child: &mut Child) -> bool {
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_reused_pid_is_never_signalled() {
    let (_t, dir) = lab_dir();
    let (mut child, mut p) = sleeper();
    // The PID of a process that started at another moment: what lab.json says after the lab's
    // process died and the system gave its PID to something else.
    p.started = p.started.map(|t| t + 1);
    state_with(vec![p]).save(&dir).unwrap();
    sovereign_lab::down::down(&dir, true, &|_| {}).unwrap();
    assert!(
        child.try_wait().unwrap().is_none(),
        "a process the lab did not start was killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn the_process_the_lab_started_is_stopped() {
    let (_t, dir) = lab_dir();
    let (mut child, p) = sleeper();
    state_with(vec![p]).save(&dir).unwrap();
    let report = sovereign_lab::down::down(&dir, false, &|_| {}).unwrap();
    assert!(exited(&mut child));
    assert_eq!(report.stopped + report.killed, 1);
    assert!(!dir.exists());
}

#[cfg(unix)]
#[test]
fn a_state_file_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let (_t, dir) = lab_dir();
    let (mut child, p) = sleeper();
    state_with(vec![p]).save(&dir).unwrap();
    let file = dir.join("lab.json");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let e = sovereign_lab::down::down(&dir, false, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("must be yours and private"), "{e}");
    assert!(child.try_wait().unwrap().is_none());
    // A directory others can write to is refused the same way.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = sovereign_lab::down::down(&dir, false, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("can be written by other users"), "{e}");
    assert!(child.try_wait().unwrap().is_none());
    child.kill().unwrap();
    child.wait().unwrap();
}

fn is_root() -> bool {
    sovereign_lab::trust::euid() == 0
}

/// Another user pre-creates the default lab directory and hands it over: root must not use it.
#[cfg(unix)]
#[test]
fn a_directory_another_user_owns_is_refused() {
    if !is_root() {
        eprintln!("skipped: needs root to give a directory to another user");
        return;
    }
    let (_t, dir) = lab_dir();
    let (mut child, p) = sleeper();
    state_with(vec![p]).save(&dir).unwrap();
    let chown = |path: &Path| {
        assert!(
            Command::new("chown")
                .args(["-R", "nobody"])
                .arg(path)
                .status()
                .unwrap()
                .success()
        );
    };
    chown(&dir);
    let e = sovereign_lab::down::down(&dir, false, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("not to you"), "{e}");
    assert!(child.try_wait().unwrap().is_none());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn secrets_stay_out_of_the_state_file() {
    let (_t, dir) = lab_dir();
    let mut s = state_with(Vec::new());
    s.postgres = Some(sovereign_lab::state::LabPostgres {
        primary: "a".into(),
        database: "app".into(),
        replicator_password: "replicator-secret".into(),
        members: BTreeMap::new(),
        stanza: None,
        max_lag_seconds: 5.0,
        backup_retention_days: 7,
    });
    s.save(&dir).unwrap();
    let text = std::fs::read_to_string(dir.join("lab.json")).unwrap();
    assert!(!text.contains("replicator-secret"), "{text}");
}
