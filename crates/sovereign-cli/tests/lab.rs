//! `sovereign lab` end to end with the real engines: the default topology up, verified,
//! loaded, drilled (restore, datacenter loss, failover), a replica killed, and torn down with
//! nothing left behind; and the failures `up` must clean up after.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

fn sovereign() -> Command {
    let mut c = Command::cargo_bin("sovereign").unwrap();
    c.env_remove("SOVEREIGN_LAB_DIR")
        .env_remove("SOVEREIGN_LAB_BREAK")
        .timeout(std::time::Duration::from_secs(900));
    c
}

fn run(args: &[&str], dir: &Path) -> Output {
    let mut c = sovereign();
    c.args(args).arg("--dir").arg(dir);
    c.output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn expect(o: &Output, code: i32, what: &str) -> (String, String) {
    let (out, err) = text(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}: exit {:?}\n--- stdout ---\n{out}\n--- stderr ---\n{err}",
        o.status.code()
    );
    (out, err)
}

/// A directory the lab can live in (PostgreSQL runs as its own user and must enter it).
fn lab_dir() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::Builder::new()
        .prefix("sovereign-lab-test-")
        .tempdir()
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let d = t.path().join("lab");
    (t, d)
}

/// Every PID a command said it stopped or that status listed.
fn pids_in(s: &str) -> Vec<u32> {
    s.match_indices("(pid ")
        .filter_map(|(i, _)| s[i + 5..].split(')').next()?.trim().parse().ok())
        .collect()
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Stops the lab if a test fails half-way.
struct Down(PathBuf);
impl Drop for Down {
    fn drop(&mut self) {
        if self.0.join("lab.json").exists() {
            let _ = sovereign()
                .args(["lab", "down", "--dir"])
                .arg(&self.0)
                .output();
        }
    }
}

fn status_json(dir: &Path) -> Value {
    let o = run(&["lab", "status", "--format", "json"], dir);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("status JSON: {e}: {}", text(&o).0))
}

/// Every file of the lab that holds a secret (a password, a token) is readable by its owner
/// alone, in a directory only its owner can enter; `lab.json` holds none.
#[cfg(unix)]
fn secrets_are_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let creds = dir.join("credentials");
    let mut secrets: Vec<String> = Vec::new();
    for f in ["postgres.json", "cassandra.json"] {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(creds.join(f)).unwrap()).unwrap();
        secrets.push(v["password"].as_str().unwrap().to_string());
    }
    for f in ["redis.token", "replicator.token"] {
        secrets.push(
            std::fs::read_to_string(creds.join(f))
                .unwrap()
                .trim()
                .to_string(),
        );
    }
    assert!(secrets.iter().all(|s| s.len() >= 16), "{secrets:?}");
    let mut stack = vec![dir.to_path_buf()];
    let mut holders = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            let p = e.path();
            if ft.is_dir() {
                stack.push(p);
                continue;
            }
            if !ft.is_file() {
                continue;
            }
            let Ok(bytes) = std::fs::read(&p) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            if !secrets.iter().any(|s| text.contains(s.as_str())) {
                continue;
            }
            holders += 1;
            assert_ne!(
                p.file_name().unwrap(),
                "lab.json",
                "lab.json holds a secret"
            );
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            let parent = std::fs::metadata(p.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(
                mode & 0o077,
                0,
                "{} holds a secret and has mode {mode:o}",
                p.display()
            );
            assert_eq!(
                parent & 0o077,
                0,
                "{} holds a secret in a directory of mode {parent:o}",
                p.display()
            );
        }
    }
    assert!(holders >= 4, "the credentials files themselves were found");
}

#[test]
fn default_topology_end_to_end() {
    let (_t, dir) = lab_dir();
    let _down = Down(dir.clone());
    // Up, at a tenth of the real round trips to keep the test short.
    let o = run(&["lab", "up", "--latency-scale", "0.1"], &dir);
    let (out, err) = expect(&o, 0, "lab up");
    assert!(
        out.contains("6 PostgreSQL, 5 Redis, 6 Prometheus, 3 Cassandra node(s)"),
        "{out}"
    );
    assert!(err.contains("[18/18] settling"), "progress is shown: {err}");
    // A second `up` says so instead of starting twice.
    let (_, err) = expect(&run(&["lab", "up"], &dir), 2, "second up");
    assert!(err.contains("already running"), "{err}");
    // Outputs in terraform's shape; credentials readable by the owner only.
    let outputs: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("outputs.json")).unwrap()).unwrap();
    assert_eq!(outputs["postgres"]["value"]["primary_site"], "ams");
    assert_eq!(outputs["sites"]["type"][0], "object");
    #[cfg(unix)]
    for f in ["postgres.json", "redis.token", "cassandra.json"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("credentials").join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }

    #[cfg(unix)]
    secrets_are_private(&dir);

    // Every check passes on a healthy lab.
    let (out, _) = expect(&run(&["lab", "verify"], &dir), 0, "lab verify");
    assert!(out.contains("63 checks: 63 passed, 0 failed"), "{out}");

    // The keyspace's replication checked against what the outputs expect: a wrong RF fails.
    let mut wrong = outputs.clone();
    wrong["cassandra"]["value"]["datacenters"]["ams"]["replication_factor"] = 2.into();
    let wrong_path = dir.join("outputs-wrong-rf.json");
    std::fs::write(&wrong_path, wrong.to_string()).unwrap();
    let o = sovereign()
        .args([
            "verify",
            "--only",
            "cassandra::keyspace_replication",
            "--outputs",
        ])
        .arg(&wrong_path)
        .output()
        .unwrap();
    let (out, _) = expect(&o, 1, "verify with a wrong RF");
    assert!(
        out.contains("`global_sovereign` has RF 1 in `ams`, the topology says 2"),
        "{out}"
    );
    assert!(
        out.contains("PASS  cassandra::keyspace_replication  iad"),
        "{out}"
    );

    // Load: every write reaches every replica.
    let (out, _) = expect(
        &run(
            &[
                "lab",
                "load",
                "--duration",
                "3",
                "--rate",
                "100",
                "--format",
                "json",
            ],
            &dir,
        ),
        0,
        "lab load",
    );
    let load: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(load["writes"], 300);
    for s in load["sites"].as_array().unwrap() {
        assert_eq!(s["missing"], 0, "{s}");
        assert!(s["p50_ms"].as_f64().unwrap() > 0.0);
    }
    // syd is further from ams than iad: its lag shows it.
    let lag = |site: &str| {
        load["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["site"] == site)
            .unwrap()["p50_ms"]
            .as_f64()
            .unwrap()
    };
    assert!(
        lag("syd") > lag("iad"),
        "syd {} vs iad {}",
        lag("syd"),
        lag("iad")
    );

    // Restore: exact.
    let (out, _) = expect(
        &run(
            &[
                "lab", "drill", "restore", "--rows", "2000", "--format", "json",
            ],
            &dir,
        ),
        0,
        "restore drill",
    );
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["exact"], true, "{r}");
    assert_eq!(r["restored_rows"], 2000);
    assert_eq!(r["after_target_rows_restored"], 0);

    // A datacenter lost: the lab agrees with plan --lose, and verify sees the missing node.
    let (out, _) = expect(
        &run(
            &[
                "lab",
                "drill",
                "dc-loss",
                "syd",
                "--keep-down",
                "--format",
                "json",
            ],
            &dir,
        ),
        0,
        "dc-loss drill",
    );
    let d: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(d["disagreements"].as_array().unwrap().len(), 0, "{d}");
    let each = d["datacenters"][0]["levels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["level"] == "EACH_QUORUM")
        .unwrap()
        .clone();
    assert_eq!(each["write"], false);
    let local = d["datacenters"][0]["levels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["level"] == "LOCAL_QUORUM")
        .unwrap()
        .clone();
    assert_eq!(local["write"], true);
    let (out, _) = expect(
        &run(
            &["lab", "verify", "--only", "cassandra::nodes_per_dc"],
            &dir,
        ),
        1,
        "verify with a datacenter down",
    );
    assert!(
        out.contains("FAIL  cassandra::nodes_per_dc  syd")
            && out.contains("0 of 1 expected node(s) Up/Normal in `syd`"),
        "{out}"
    );
    assert!(out.contains("PASS  cassandra::nodes_per_dc  ams"), "{out}");

    // Failover under writes: measured, data checked everywhere, topology rewritten.
    let (out, _) = expect(
        &run(&["lab", "drill", "failover", "--format", "json"], &dir),
        0,
        "failover drill",
    );
    let f: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(f["drill"]["old_primary"], "ams");
    assert_eq!(f["drill"]["new_primary"], "iad", "the topology's successor");
    assert!(f["drill"]["rto_seconds"].as_f64().unwrap() > 0.0);
    assert!(f["drill"]["acknowledged_after"].as_u64().unwrap() > 0);
    for c in f["drill"]["data"].as_array().unwrap() {
        assert_eq!(c["matches_primary"], true, "{c}");
    }
    assert!(
        f["render"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["file"] == "rds.tf"),
        "{f}"
    );
    let topo = std::fs::read_to_string(dir.join("topology.toml")).unwrap();
    assert!(topo.contains("primary = \"iad\""), "{topo}");
    let (out, _) = expect(
        &run(&["lab", "verify", "--only", "postgres::*"], &dir),
        0,
        "verify after failover",
    );
    assert!(out.contains("physical standby of iad: streaming"), "{out}");

    // A replica killed mid-run: status and verify say which, down still cleans up.
    let st = status_json(&dir);
    let syd = st["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "postgres" && c["site"] == "syd")
        .unwrap()
        .clone();
    let pid = syd["pid"].as_u64().unwrap() as u32;
    assert!(
        std::process::Command::new("kill")
            .arg("-9")
            .arg(pid.to_string())
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let o = run(&["lab", "status"], &dir);
    let (out, _) = expect(&o, 1, "status with a dead replica");
    assert!(out.contains("DOWN"), "{out}");
    let (out, _) = expect(
        &run(
            &[
                "lab",
                "verify",
                "--only",
                "postgres::reachable",
                "--timeout",
                "3",
            ],
            &dir,
        ),
        1,
        "verify with a dead replica",
    );
    assert!(
        out.contains("FAIL  postgres::reachable  syd") && out.contains("cannot connect"),
        "{out}"
    );

    let st = status_json(&dir);
    let pids: Vec<u32> = st["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["pid"].as_u64())
        .map(|p| p as u32)
        .collect();
    let (out, err) = expect(&run(&["lab", "down"], &dir), 0, "lab down");
    assert!(out.contains("every port free, directory removed"), "{out}");
    assert!(!dir.exists());
    for p in pids.iter().chain(pids_in(&err).iter()) {
        assert!(!alive(*p), "pid {p} still runs after down");
    }
}

fn minimal() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/minimal.toml")
}

#[test]
fn a_standby_that_cannot_start_is_cleaned_up() {
    let (_t, dir) = lab_dir();
    let _down = Down(dir.clone());
    let mut c = sovereign();
    c.args(["lab", "up"])
        .arg(minimal())
        .arg("--dir")
        .arg(&dir)
        .arg("--latency-scale")
        .arg("0")
        .env("SOVEREIGN_LAB_BREAK", "postgres:iad");
    let o = c.output().unwrap();
    let (_, err) = expect(&o, 2, "up with a broken standby");
    assert!(err.contains("cannot start PostgreSQL iad"), "{err}");
    assert!(
        err.contains("shared_buffers"),
        "PostgreSQL's own complaint is shown: {err}"
    );
    assert!(err.contains("failed: stopping everything"), "{err}");
    assert!(!dir.exists(), "the directory is removed");
    let pids = pids_in(&err);
    assert!(!pids.is_empty(), "what was started was stopped: {err}");
    for p in pids {
        assert!(!alive(p), "pid {p} survived");
    }
}

#[test]
fn a_taken_port_is_named_and_nothing_is_left() {
    let (_t, dir) = lab_dir();
    let _down = Down(dir.clone());
    // Bound on every address: the first port the lab would take is not free anywhere.
    let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let o = sovereign()
        .args(["lab", "up"])
        .arg(minimal())
        .arg("--dir")
        .arg(&dir)
        .args(["--port-base", &port.to_string()])
        .output()
        .unwrap();
    let (_, err) = expect(&o, 2, "up on a taken port");
    assert!(
        err.contains(&format!(
            "port 127.10.1.1:{port} (for PostgreSQL at dub) is taken by another program"
        )),
        "{err}"
    );
    assert!(!dir.exists());
    drop(l);
}

#[test]
fn lab_commands_without_a_lab() {
    let (_t, dir) = lab_dir();
    let (_, err) = expect(&run(&["lab", "status"], &dir), 2, "status");
    assert!(err.contains("no lab in"), "{err}");
    let (_, err) = expect(&run(&["lab", "down"], &dir), 2, "down");
    assert!(err.contains("no lab in"), "{err}");
    let (_, err) = expect(&run(&["lab", "verify"], &dir), 2, "verify");
    assert!(err.contains("no lab outputs"), "{err}");
    let (_, err) = expect(&run(&["lab", "drill", "restore"], &dir), 2, "drill");
    assert!(err.contains("no lab in"), "{err}");
    // A directory with other things in it is not taken over.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("precious.txt"), "mine").unwrap();
    let (_, err) = expect(
        &run(&["lab", "up", "--without-cassandra"], &dir),
        2,
        "up into a used directory",
    );
    assert!(err.contains("is not a lab"), "{err}");
    assert!(dir.join("precious.txt").exists());
}
