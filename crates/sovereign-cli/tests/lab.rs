//! `sovereign lab` end to end with the real engines: the default topology up, verified,
//! loaded, drilled (restore, datacenter loss, failover), a replica killed, and torn down with
//! nothing left behind; and the failures `up` must clean up after. Along the way, the rendered
//! alert rules are proven against it: every selector finds its series (or is listed with why it
//! cannot), a healthy lab fires nothing, a killed replica reaches the receiver, and nothing stays
//! firing for the old primary after a failover.

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

/// What `lab up` starts for every topology here (Cassandra, when a test needs it, is checked
/// where it is used).
const LAB: &[sovereign_lab::needs::Need] = &[
    sovereign_lab::needs::Need::Postgres,
    sovereign_lab::needs::Need::PgBackRest,
    sovereign_lab::needs::Need::Redis,
    sovereign_lab::needs::Need::Prometheus,
    sovereign_lab::needs::Need::Dnsmasq,
];

/// Part of a test needs what this machine lacks: skipped with a message, a failure under CI.
fn requires(ok: bool, what: &str) -> bool {
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{what}; CI is set, so nothing may be skipped"
        );
        eprintln!("skipping: {what}");
    }
    ok
}

/// The lab's alert time scale here: a rule's `for: 1m` becomes 3 s, Alertmanager's group
/// interval 15 s (see `sovereign_lab::alerting`).
const ALERT_TIME_SCALE: &str = "0.05";

/// The routing DNS's TTL and health check interval here: 60 s → 3 s, 10 s → 0.5 s.
const DNS_TIME_SCALE: &str = "0.05";

/// Metrics the rendered rules read that a healthy lab cannot have, and why. A selector that
/// matches nothing must be listed here; a listed metric that turns up must leave the list.
const NOT_IN_THE_LAB: &[(&str, &str)] = &[
    (
        "kube_statefulset_replicas",
        "kube-state-metrics of the k8ssandra StatefulSets: the lab runs Cassandra as processes, without Kubernetes",
    ),
    (
        "kube_statefulset_status_replicas_ready",
        "kube-state-metrics of the k8ssandra StatefulSets: the lab runs Cassandra as processes, without Kubernetes",
    ),
];

/// The vector selectors of a PromQL expression as Prometheus prints it (`/api/v1/rules`):
/// metric names with their matchers; function names, label lists of `by`/`on`/… and keywords
/// are not selectors.
fn selectors(expr: &str) -> Vec<String> {
    let b = expr.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    // The end of a bracketed group starting at `i` (`{`, `(`, `[`), strings skipped.
    let close = |mut i: usize| {
        let (open, shut) = (
            b[i],
            match b[i] {
                b'{' => b'}',
                b'(' => b')',
                _ => b']',
            },
        );
        let mut depth = 0;
        while i < b.len() {
            match b[i] {
                q @ (b'"' | b'\'' | b'`') => {
                    i += 1;
                    while i < b.len() && b[i] != q {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                }
                c if c == open => depth += 1,
                c if c == shut => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        b.len()
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'[' {
            i = close(i);
        } else if c == b'{' {
            let end = close(i);
            out.push(expr[i..end].to_string());
            i = end;
        } else if c == b'"' || c == b'\'' || c == b'`' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c.is_ascii_digit() || c == b'.' {
            while i < b.len() && (ident(b[i]) || b[i] == b'.') {
                i += 1;
            }
        } else if ident(c) {
            let start = i;
            while i < b.len() && ident(b[i]) {
                i += 1;
            }
            let word = &expr[start..i];
            let mut j = i;
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            let next = b.get(j).copied();
            match word {
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right" => {
                    if next == Some(b'(') {
                        i = close(j);
                    }
                }
                "and" | "or" | "unless" | "bool" | "offset" => {}
                // Aggregations, whose `by (…)` may come before the parenthesis.
                "sum" | "min" | "max" | "avg" | "group" | "stddev" | "stdvar" | "count"
                | "count_values" | "bottomk" | "topk" | "quantile" | "limitk" | "limit_ratio" => {}
                _ if next == Some(b'(') => {}
                _ if next == Some(b'{') => {
                    let end = close(j);
                    out.push(format!("{word}{}", &expr[j..end]));
                    i = end;
                }
                _ => out.push(word.to_string()),
            }
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn promql_selectors_are_found() {
    assert_eq!(
        selectors("max by (site) (pg_replication_lag_seconds) > 5"),
        ["pg_replication_lag_seconds"]
    );
    assert_eq!(
        selectors(
            "sum by (site, statefulset) (kube_statefulset_replicas{namespace=\"k8ssandra\"} - kube_statefulset_status_replicas_ready{namespace=\"k8ssandra\"}) > 0"
        ),
        [
            "kube_statefulset_replicas{namespace=\"k8ssandra\"}",
            "kube_statefulset_status_replicas_ready{namespace=\"k8ssandra\"}"
        ]
    );
    assert_eq!(
        selectors(
            "redis_memory_used_bytes / redis_memory_max_bytes > 0.9 and redis_memory_max_bytes > 0"
        ),
        [
            "redis_memory_used_bytes",
            "redis_memory_max_bytes",
            "redis_memory_max_bytes"
        ]
    );
    assert_eq!(selectors("absent(up{site=\"a}b\"})"), ["up{site=\"a}b\"}"]);
    assert_eq!(
        selectors("rate(x_total[5m] offset 1h) * on (a) group_left (b) y"),
        ["x_total", "y"]
    );
}

/// A GET on one of the lab's HTTP servers (`http://host:port`), the body parsed as JSON.
fn get_json(base: &str, path: &str) -> Value {
    let hp = base.trim_start_matches("http://").trim_end_matches('/');
    let (host, port) = hp.rsplit_once(':').unwrap();
    let body = sovereign_lab::up::http_get(host, port.parse().unwrap(), path)
        .unwrap_or_else(|| panic!("GET {base}{path} failed"));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {base}{path}: {e}: {body}"))
}

/// An instant query at a Prometheus: the result vector.
fn prom_query(prom: &str, q: &str) -> Vec<Value> {
    let mut enc = String::new();
    for b in q.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    let v = get_json(prom, &format!("/api/v1/query?query={enc}"));
    assert_eq!(v["status"], "success", "{q}: {v}");
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// Every rule the global Prometheus evaluates: (alert, expression as Prometheus prints it, `for`
/// in seconds).
fn loaded_rules(prom: &str) -> Vec<(String, String, f64)> {
    let v = get_json(prom, "/api/v1/rules");
    let mut out = Vec::new();
    for g in v["data"]["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            out.push((
                r["name"].as_str().unwrap().to_string(),
                r["query"].as_str().unwrap().to_string(),
                r["duration"].as_f64().unwrap_or(0.0),
            ));
        }
    }
    out
}

/// Every selector of the rendered rules finds a series at the global Prometheus, or is one of
/// [`NOT_IN_THE_LAB`] and finds none.
fn every_selector_matches(prom: &str) {
    let rules = loaded_rules(prom);
    assert!(rules.len() >= 6, "{rules:?}");
    let mut pending: Vec<(String, String)> = Vec::new();
    for (alert, expr, _) in &rules {
        for sel in selectors(expr) {
            pending.push((alert.clone(), sel));
        }
    }
    let name = |sel: &str| sel.split('{').next().unwrap_or_default().to_string();
    for (metric, _) in NOT_IN_THE_LAB {
        assert!(
            pending.iter().any(|(_, s)| name(s) == *metric),
            "{metric} is listed as impossible in the lab but no rule reads it"
        );
    }
    // Samples arrive by remote write within seconds of `up`: give the slowest a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut missing = Vec::new();
    loop {
        missing.clear();
        for (alert, sel) in &pending {
            let found = !prom_query(prom, &format!("count({sel})")).is_empty();
            let impossible = NOT_IN_THE_LAB.iter().any(|(m, _)| *m == name(sel));
            assert!(
                !(found && impossible),
                "{sel} ({alert}) is listed as impossible in the lab, yet it has series"
            );
            if !found && !impossible {
                missing.push(format!("{sel} ({alert})"));
            }
        }
        if missing.is_empty() || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    assert!(
        missing.is_empty(),
        "selectors of the rendered rules with no series in a healthy lab: {missing:?}"
    );
    for (metric, why) in NOT_IN_THE_LAB {
        eprintln!("not in the lab: {metric}: {why}");
    }
}

/// The receiver's notifications so far.
fn notifications(status: &Value) -> Vec<Value> {
    let file = status["alerting"]["notifications"].as_str().unwrap();
    sovereign_lab::receiver::read(Path::new(file)).unwrap()
}

/// (alertname, site, status) of every alert in the notifications received after `since_ms`.
fn notified(status: &Value, since_ms: u64) -> Vec<(String, String, String)> {
    notifications(status)
        .iter()
        .filter(|n| n["received_unix_ms"].as_u64().unwrap_or(0) >= since_ms)
        .flat_map(|n| {
            n["notification"]["alerts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|a| {
            (
                a["labels"]["alertname"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                a["labels"]["site"].as_str().unwrap_or_default().to_string(),
                a["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Nothing stays firing for the old primary of a failover once it is back as a standby: not in
/// Prometheus, not in Alertmanager past its resolve timeout (counted from `since`, the end of
/// the drill), and whatever reached the receiver ended with its resolution.
fn nothing_stays_firing(dir: &Path, prom: &str, old: &str, since: std::time::Instant) {
    let st = status_json(dir);
    let a = &st["alerting"];
    let am = a["alertmanager"].as_str().unwrap().to_string();
    let resolve =
        std::time::Duration::from_secs_f64(a["resolve_timeout_seconds"].as_f64().unwrap());
    let group = std::time::Duration::from_secs_f64(a["group_interval_seconds"].as_f64().unwrap());
    let outstanding = || -> Vec<String> {
        let mut v: Vec<String> = prom_query(
            prom,
            &format!("ALERTS{{alertstate=\"firing\",site=\"{old}\"}}"),
        )
        .iter()
        .map(|s| format!("Prometheus: {}", s["metric"]))
        .collect();
        for al in get_json(&am, "/api/v2/alerts").as_array().unwrap() {
            if al["labels"]["site"] == old {
                v.push(format!("Alertmanager: {}", al["labels"]));
            }
        }
        // Per alert, the last word the receiver had must be `resolved`.
        let mut last = std::collections::BTreeMap::new();
        for (name, site, state) in notified(&st, 0) {
            if site == old {
                last.insert(name, state);
            }
        }
        for (name, state) in last {
            if state != "resolved" {
                v.push(format!("receiver: {name} last {state}"));
            }
        }
        v
    };
    let deadline = resolve + 2 * group + std::time::Duration::from_secs(30);
    loop {
        let left = outstanding();
        if left.is_empty() && since.elapsed() >= resolve {
            break;
        }
        assert!(
            since.elapsed() < deadline,
            "still firing for {old} {:.0} s after the failover: {left:?}",
            since.elapsed().as_secs_f64()
        );
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    let about_old: Vec<_> = notified(&st, 0)
        .into_iter()
        .filter(|(_, site, _)| site == old)
        .collect();
    eprintln!(
        "nothing firing for {old} {:.1} s after the failover; notified about it: {about_old:?}",
        since.elapsed().as_secs_f64()
    );
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
    if !sovereign_lab::needs::present_or_skip("default_topology_end_to_end", LAB) {
        return;
    }
    let (_t, dir) = lab_dir();
    let _down = Down(dir.clone());
    // Up, at a tenth of the real round trips to keep the test short.
    let o = run(
        &[
            "lab",
            "up",
            "--latency-scale",
            "0.1",
            "--alert-time-scale",
            ALERT_TIME_SCALE,
            "--dns-time-scale",
            DNS_TIME_SCALE,
        ],
        &dir,
    );
    let up_at = std::time::Instant::now();
    let (out, err) = expect(&o, 0, "lab up");
    assert!(
        out.contains("6 PostgreSQL, 5 Redis, 6 Prometheus, 3 Cassandra node(s)"),
        "{out}"
    );
    assert!(err.contains("[19/21] settling"), "progress is shown: {err}");
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

    // Alerts: the rendered rules run on the global Prometheus, with the exporters the tree
    // deploys; Alertmanager routes to the lab's receiver. Status shows both.
    let st = status_json(&dir);
    let prom = outputs["monitoring"]["value"]["prometheus_url"]
        .as_str()
        .unwrap()
        .to_string();
    let pinned = ["postgres_exporter", "redis_exporter"].iter().all(|e| {
        st["engines"][e]
            .as_str()
            .is_some_and(|v| v.ends_with("(scripts/fetch-tools)"))
    });
    if requires(
        pinned,
        &format!(
            "the selector check needs the exporters at the tree's versions (scripts/fetch-tools); the lab runs {}",
            st["engines"]
        ),
    ) {
        every_selector_matches(&prom);
    }
    let alerting = requires(
        st["alerting"]["alertmanager"].is_string(),
        "the alert routing checks need Alertmanager (scripts/fetch-tools, or apt-get install prometheus-alertmanager)",
    );
    if alerting {
        for name in ["alertmanager", "alert receiver"] {
            assert!(
                st["components"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["name"] == name && c["up"] == true),
                "status shows {name}: {st}"
            );
        }
    }

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

    // Users in every region: each served by its own site, nothing lost, the rate held, and a
    // write from Sydney pays its round trip to the primary in Amsterdam.
    let users_at = std::time::Instant::now();
    let (out, _) = expect(
        &run(
            &[
                "lab",
                "load",
                "--users",
                "--duration",
                "3",
                "--rate",
                "10",
                "--format",
                "json",
            ],
            &dir,
        ),
        0,
        "lab load --users",
    );
    let users: Value = serde_json::from_str(&out).unwrap();
    let regions = users["regions"].as_array().unwrap();
    assert_eq!(regions.len(), 6, "{users}");
    for r in regions {
        let region = r["region"].as_str().unwrap();
        assert_eq!(r["errors"], serde_json::json!({}), "{r}");
        assert_eq!(r["sites"][region], 30, "served by its own site: {r}");
        assert_eq!(r["lost_acknowledged_writes"], 0, "{r}");
        assert!(r["dns_queries"].as_u64().unwrap() >= 1, "{r}");
    }
    let achieved = users["rate_achieved_per_region"].as_f64().unwrap();
    assert!((achieved - 10.0).abs() < 0.5, "{users}");
    let write_p50 = |region: &str| {
        regions.iter().find(|r| r["region"] == region).unwrap()["writes"]["p50_ms"]
            .as_f64()
            .unwrap()
    };
    assert!(
        write_p50("syd") > write_p50("ams"),
        "syd {} vs ams {}",
        write_p50("syd"),
        write_p50("ams")
    );
    for bad in [
        &["--rate", "0"][..],
        &["--rate", "-2"],
        &["--duration", "4000"],
        &["--regions", "mars"],
    ] {
        let mut args = vec!["lab", "load", "--users"];
        args.extend_from_slice(bad);
        let (_, err) = expect(&run(&args, &dir), 2, &format!("{bad:?}"));
        assert!(
            err.contains(bad[0]) || err.contains("`mars` is not a user region"),
            "{bad:?}: {err}"
        );
    }

    eprintln!(
        "users load and its bad-input checks took {:.1} s",
        users_at.elapsed().as_secs_f64()
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

    // A healthy lab (verified, loaded, backed up and restored) fires nothing: not now, not at
    // any moment since it started, once every rule's `for:` has run out.
    let longest_for = loaded_rules(&prom)
        .iter()
        .map(|(_, _, d)| *d)
        .fold(0.0, f64::max);
    assert!(longest_for > 0.0 && longest_for <= 60.0, "{longest_for}");
    let settled = std::time::Duration::from_secs_f64(longest_for + 6.0);
    if let Some(rest) = settled.checked_sub(up_at.elapsed()) {
        eprintln!(
            "waiting {:.1} s for the longest `for:` ({longest_for} s) to run out",
            rest.as_secs_f64()
        );
        std::thread::sleep(rest);
    }
    let window = up_at.elapsed().as_secs() + 120;
    let fired = prom_query(
        &prom,
        &format!("max_over_time(ALERTS{{alertstate=\"firing\"}}[{window}s])"),
    );
    assert!(fired.is_empty(), "a healthy lab fired: {fired:?}");
    let pending = prom_query(&prom, "ALERTS");
    if !pending.is_empty() {
        eprintln!("pending (not firing) in the healthy lab: {pending:?}");
    }
    if alerting {
        let st = status_json(&dir);
        assert_eq!(notifications(&st).len(), 0, "{:?}", notifications(&st));
        let am = st["alerting"]["alertmanager"].as_str().unwrap();
        assert_eq!(get_json(am, "/api/v2/alerts"), Value::Array(vec![]));
    }

    // A datacenter lost with users on: syd's application reports itself unhealthy, the DNS
    // withdraws syd, and its region's users move elsewhere within the plan's formula; the
    // datacenter is started again afterwards.
    let (out, _) = expect(
        &run(
            &[
                "lab",
                "drill",
                "dc-loss",
                "syd",
                "--users",
                "--users-rate",
                "10",
                "--format",
                "json",
            ],
            &dir,
        ),
        0,
        "dc-loss drill with users",
    );
    let d: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(d["restarted"], true, "{d}");
    let u = &d["users"];
    assert_eq!(u["lost_site"], "syd", "{u}");
    assert!(u["dns_withdrew_after_seconds"].as_f64().is_some(), "{u}");
    for r in u["regions"].as_array().unwrap() {
        assert_eq!(r["still_failing"], false, "{r}");
        assert_eq!(r["lost_acknowledged_writes"], 0, "{r}");
    }
    let syd = u["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "syd")
        .unwrap();
    assert_eq!(syd["sites_before"], serde_json::json!(["syd"]), "{syd}");
    let after = syd["sites_after"].as_array().unwrap();
    assert!(!after.is_empty() && !after.contains(&"syd".into()), "{syd}");
    assert_eq!(syd["within_prediction"], true, "{syd}");

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
    let failover_at = std::time::Instant::now();
    let (out, _) = expect(
        &run(
            &[
                "lab",
                "drill",
                "failover",
                "--users",
                "--users-rate",
                "10",
                "--format",
                "json",
            ],
            &dir,
        ),
        0,
        "failover drill",
    );
    let f: Value = serde_json::from_str(&out).unwrap();
    eprintln!(
        "failover drill with users took {:.1} s",
        failover_at.elapsed().as_secs_f64()
    );
    // Users: Amsterdam's are moved elsewhere once the DNS withdraws it, everyone recovers, and
    // the outage each region saw stays near the plan's formula with the lab's figures.
    let u = &f["drill"]["users"];
    let withdrew = u["dns_withdrew_after_seconds"].as_f64().unwrap();
    let detection = u["lab_detection_seconds"].as_f64().unwrap();
    assert!(withdrew <= detection + 0.5, "{u}");
    for r in u["regions"].as_array().unwrap() {
        assert_eq!(r["still_failing"], false, "{r}");
        let seen = r["read_outage_seconds"]
            .as_f64()
            .unwrap()
            .max(r["write_outage_seconds"].as_f64().unwrap());
        assert!(
            seen <= r["predicted_seconds"].as_f64().unwrap() + 1.0,
            "{r}"
        );
    }
    let ams = u["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "ams")
        .unwrap();
    assert_eq!(ams["sites_before"], serde_json::json!(["ams"]), "{ams}");
    let after = ams["sites_after"].as_array().unwrap();
    assert!(!after.is_empty() && !after.contains(&"ams".into()), "{ams}");
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

    // The old primary's alerts are checked after the replica's below, which they overlap.
    let failover_done = std::time::Instant::now();
    let old_primary = f["drill"]["old_primary"].as_str().unwrap().to_string();

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
    let killed_at = now_ms();
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
    // The replica's alert fires and the receiver gets it.
    if alerting {
        let st = status_json(&dir);
        let start = std::time::Instant::now();
        let fired = |n: &(String, String, String)| {
            n.0 == "SovereignPostgresReplicaDown" && n.1 == "syd" && n.2 == "firing"
        };
        while !notified(&st, killed_at).iter().any(fired) {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "no SovereignPostgresReplicaDown for syd at the receiver 60 s after the kill: {:?}; firing: {:?}",
                notified(&st, killed_at),
                prom_query(&prom, "ALERTS")
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        eprintln!(
            "SovereignPostgresReplicaDown for syd reached the receiver {:.1} s after the kill",
            (now_ms() - killed_at) as f64 / 1000.0
        );
        nothing_stays_firing(&dir, &prom, &old_primary, failover_done);
    }

    // A whole site lost (sfo: application, PostgreSQL, Redis): its users move to another site
    // within the prediction, nobody else notices, nothing acknowledged is lost.
    let region_at = std::time::Instant::now();
    let o = run(
        &[
            "lab",
            "drill",
            "region-loss",
            "sfo",
            "--users-rate",
            "10",
            "--format",
            "json",
        ],
        &dir,
    );
    let (out, err) = text(&o);
    let rl: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}\n{err}"));
    eprintln!(
        "region-loss drill took {:.1} s",
        region_at.elapsed().as_secs_f64()
    );
    let regions = rl["users"]["regions"].as_array().unwrap();
    let sfo = regions.iter().find(|r| r["region"] == "sfo").unwrap();
    assert_eq!(sfo["sites_before"], serde_json::json!(["sfo"]), "{sfo}");
    let after = sfo["sites_after"].as_array().unwrap();
    assert!(!after.is_empty() && !after.contains(&"sfo".into()), "{sfo}");
    assert_eq!(sfo["within_prediction"], true, "{sfo}");
    for r in regions {
        assert_eq!(r["lost_acknowledged_writes"], 0, "{r}");
        assert_eq!(r["still_failing"], false, "{r}");
        if r["region"] != "sfo" {
            assert_eq!(r["errors"], serde_json::json!({}), "{r}");
        }
    }
    let (_, err) = expect(
        &run(&["lab", "drill", "region-loss", "iad"], &dir),
        2,
        "region-loss of the primary's site",
    );
    assert!(err.contains("holds the PostgreSQL primary"), "{err}");

    // A partition between the primary's site (iad, since the failover) and ams: ams's users
    // cannot write (the primary is across the cut) but still read from ams's copy; iad's users
    // see nothing; both recover once the link is back. Last, so that what it disturbs (the
    // standby's stream, remote write, gossip) cannot reach the checks above.
    let partition_at = std::time::Instant::now();
    let (out, _) = expect(
        &run(
            &[
                "lab",
                "drill",
                "partition",
                "iad",
                "ams",
                "--seconds",
                "3",
                "--format",
                "json",
            ],
            &dir,
        ),
        0,
        "partition drill",
    );
    eprintln!(
        "partition drill took {:.1} s",
        partition_at.elapsed().as_secs_f64()
    );
    let p: Value = serde_json::from_str(&out).unwrap();
    let region = |name: &str| {
        p["regions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["region"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(p["primary"], "iad", "{p}");
    let ams = region("ams");
    assert!(ams["writes_failed"].as_u64().unwrap() > 0, "{ams}");
    assert_eq!(ams["reads_failed"], 0, "{ams}");
    assert_eq!(ams["sites"], serde_json::json!(["ams"]), "{ams}");
    assert_eq!(ams["still_failing"], false, "{ams}");
    let iad = region("iad");
    assert_eq!(iad["reads_failed"], 0, "{iad}");
    assert_eq!(iad["writes_failed"], 0, "{iad}");
    assert_eq!(iad["still_failing"], false, "{iad}");
    let healed = std::fs::read_to_string(dir.join("partition.json")).unwrap();
    assert_eq!(healed.trim(), "[]");

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

/// The time `lab up` reports is the time the command took (issue 18: on a busy machine it once
/// reported 20 s less than the wall clock): never more than this test measures around the
/// process, and short of it only by what happens before `main` and after the summary.
#[test]
fn up_reports_the_time_the_command_took() {
    if !sovereign_lab::needs::present_or_skip("up_reports_the_time_the_command_took", LAB) {
        return;
    }
    let (_t, dir) = lab_dir();
    let _down = Down(dir.clone());
    let before = std::time::Instant::now();
    let mut c = sovereign();
    c.args(["lab", "up"])
        .arg(minimal())
        .arg("--dir")
        .arg(&dir)
        .args(["--latency-scale", "0"]);
    let o = c.output().unwrap();
    let wall = before.elapsed().as_secs_f64();
    let (out, _) = expect(&o, 0, "lab up of the minimal topology");
    let reported: f64 = out
        .split("up in ")
        .nth(1)
        .and_then(|r| r.split(" s:").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `up in N s` in {out}"));
    // The summary rounds to a tenth of a second.
    assert!(
        reported <= wall + 0.05 && wall - reported < 3.0,
        "`lab up` reported {reported} s; it took {wall:.1} s"
    );
    expect(&run(&["lab", "down"], &dir), 0, "lab down");
}

#[test]
fn a_standby_that_cannot_start_is_cleaned_up() {
    if !sovereign_lab::needs::present_or_skip(
        "a_standby_that_cannot_start_is_cleaned_up",
        &[sovereign_lab::needs::Need::Postgres],
    ) {
        return;
    }
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
    if !sovereign_lab::needs::present_or_skip(
        "a_taken_port_is_named_and_nothing_is_left",
        &[sovereign_lab::needs::Need::Postgres],
    ) {
        return;
    }
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

/// `[usage] user_regions`: users in an AWS region with no site of its own, routed by the lab's
/// DNS to the site nearest them in the catalog, and paying the round trip from there.
#[test]
fn user_regions_beyond_the_sites() {
    if !sovereign_lab::needs::present_or_skip("user_regions_beyond_the_sites", LAB) {
        return;
    }
    let (_t, dir) = lab_dir();
    let _down = Down(dir.clone());
    let topology = dir.parent().unwrap().join("with-users.toml");
    let mut toml = std::fs::read_to_string(minimal()).unwrap();
    toml.push_str("\n[usage]\nuser_regions = [\"sa-east-1\"]\n");
    std::fs::write(&topology, toml).unwrap();
    let mut c = sovereign();
    c.args(["lab", "up"])
        .arg(&topology)
        .arg("--dir")
        .arg(&dir)
        .args(["--latency-scale", "0.1", "--dns-time-scale", DNS_TIME_SCALE]);
    expect(&c.output().unwrap(), 0, "lab up with a user region");
    let (out, _) = expect(
        &run(
            &[
                "lab",
                "load",
                "--users",
                "--duration",
                "2",
                "--rate",
                "10",
                "--format",
                "json",
            ],
            &dir,
        ),
        0,
        "lab load --users with a user region",
    );
    let users: Value = serde_json::from_str(&out).unwrap();
    let regions = users["regions"].as_array().unwrap();
    let names: Vec<&str> = regions
        .iter()
        .map(|r| r["region"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dub", "iad", "sa-east-1"], "{users}");
    let sa = &regions[2];
    assert_eq!(sa["errors"], serde_json::json!({}), "{sa}");
    // São Paulo is nearer N. Virginia than Ireland in the catalog: iad serves every request.
    assert_eq!(sa["sites"], serde_json::json!({"iad": 20}), "{sa}");
    let read_p50 = |r: &Value| r["reads"]["p50_ms"].as_f64().unwrap();
    assert!(
        read_p50(sa) > read_p50(&regions[1]),
        "sa-east-1 pays its round trip to iad: {} vs iad's own {}",
        read_p50(sa),
        read_p50(&regions[1])
    );
    // Check refuses what it cannot simulate.
    let bad = dir.parent().unwrap().join("bad-users.toml");
    let mut toml = std::fs::read_to_string(minimal()).unwrap();
    toml.push_str("\n[usage]\nuser_regions = [\"sa-east-1\", \"mars-1\", \"sa-east-1\"]\n");
    std::fs::write(&bad, toml).unwrap();
    let o = sovereign().arg("check").arg(&bad).output().unwrap();
    let (out, err) = text(&o);
    let err = out + &err;
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("unknown AWS region `mars-1`"), "{err}");
    assert!(
        err.contains("user region `sa-east-1` is listed twice"),
        "{err}"
    );
}
