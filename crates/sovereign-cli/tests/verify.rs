//! `sovereign verify` end to end against a real Redis: exit codes, formats, credentials kept
//! out of the output, usage errors.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};
use sovereign_lab::engines::redis::Redis;
use sovereign_lab::process::free_port;

const TOKEN: &str = "tok-5d1c0e";

fn sovereign() -> Command {
    let mut c = Command::cargo_bin("sovereign").unwrap();
    for v in [
        "SOVEREIGN_REDIS_PASSWORD",
        "SOVEREIGN_PG_USER",
        "SOVEREIGN_PG_PASSWORD",
        "SOVEREIGN_PG_CREDENTIALS_FILE",
        "SOVEREIGN_PG_SSLMODE",
        "SOVEREIGN_PG_CA_FILE",
    ] {
        c.env_remove(v);
    }
    c
}

fn write(dir: &Path, v: &Value) -> std::path::PathBuf {
    let p = dir.join("outputs.json");
    std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
    p
}

struct Stop(Redis);
impl Drop for Stop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

#[test]
fn verify_against_a_real_redis() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.1").unwrap();
    let _redis =
        Stop(Redis::start(dir.path(), "cache", "127.0.0.1", port, TOKEN, "allkeys-lru").unwrap());
    std::fs::write(dir.path().join("token"), TOKEN).unwrap();
    let mut v = json!({
        "sites": {"ams": {"redis": {"primary_endpoint": "127.0.0.1", "port": port}}},
        "redis": {"mode": "regional", "maxmemory_policy": "allkeys-lru", "credentials_file": "token"}
    });
    let outputs = write(dir.path(), &v);

    // Healthy: exit 0, one line per check, a summary.
    sovereign()
        .args(["verify", "--outputs"])
        .arg(&outputs)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("PASS  redis::reachable"))
        .stdout(predicate::str::contains("3 checks: 3 passed, 0 failed"))
        .stdout(predicate::str::contains(TOKEN).not());

    // The token from the environment instead of the file; a wrong one fails, and is not shown.
    let out = sovereign()
        .args(["verify", "--format", "json", "--outputs"])
        .arg(&outputs)
        .env("SOVEREIGN_REDIS_PASSWORD", "not-the-token")
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("not-the-token"));
    let j: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(j["failed"], 3);
    assert!(
        j["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("Password authentication failed"),
        "{j}"
    );

    // A policy mismatch: exit 1, JUnit with one failure.
    v["redis"]["maxmemory_policy"] = json!("noeviction");
    let outputs = write(dir.path(), &v);
    let out = sovereign()
        .args(["verify", "--format", "junit", "--outputs"])
        .arg(&outputs)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let xml = String::from_utf8(out).unwrap();
    assert!(xml.starts_with("<?xml"));
    assert!(
        xml.contains(r#"<testsuite name="redis" tests="3" failures="1">"#),
        "{xml}"
    );
    assert!(xml.contains("maxmemory-policy is `allkeys-lru`, the topology asks for `noeviction`"));

    // A global datastore without a named primary: the role cannot be judged, and says why.
    let mut g = v.clone();
    g["redis"]["mode"] = json!("global");
    let gp = dir.path().join("global.json");
    std::fs::write(&gp, serde_json::to_string(&g).unwrap()).unwrap();
    sovereign()
        .args(["verify", "--only", "redis::role", "--outputs"])
        .arg(&gp)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "outputs name no `redis.primary_site`",
        ));
    g["redis"]["primary_site"] = json!("ams");
    std::fs::write(&gp, serde_json::to_string(&g).unwrap()).unwrap();
    sovereign()
        .args(["verify", "--only", "redis::role", "--outputs"])
        .arg(&gp)
        .assert()
        .code(0);

    // --only narrows the run.
    sovereign()
        .args(["verify", "--only", "redis::reachable", "--outputs"])
        .arg(&outputs)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("1 checks: 1 passed"));
}

#[test]
fn verify_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    sovereign()
        .args(["verify", "--outputs", "/nonexistent/outputs.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read"));
    std::fs::write(dir.path().join("x.json"), "{not json").unwrap();
    sovereign()
        .args(["verify", "--outputs"])
        .arg(dir.path().join("x.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not JSON"));
    std::fs::write(dir.path().join("y.json"), r#"{"vpc_ids": {"value": {}}}"#).unwrap();
    sovereign()
        .args(["verify", "--outputs"])
        .arg(dir.path().join("y.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no `sites` output"));
    let ok = write(
        dir.path(),
        &json!({"sites": {"ams": {"redis": {"primary_endpoint": "127.0.0.1", "port": 1}}}}),
    );
    sovereign()
        .args(["verify", "--only", "nosuch::*", "--outputs"])
        .arg(&ok)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("matches no check"));
    sovereign()
        .args(["verify", "--timeout", "0", "--outputs"])
        .arg(&ok)
        .assert()
        .code(2);
    sovereign().args(["verify"]).assert().code(2);
    sovereign()
        .args(["verify", "--list"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("dns::routing"));
    // terraform's wrapped form ({"sensitive", "type", "value"}) is read the same as bare values.
    let wrapped = json!({"sites": {"sensitive": false, "type": ["object", {}], "value": {"ams": {"redis": {"primary_endpoint": "127.0.0.1", "port": 1}}}}});
    let p = write(dir.path(), &wrapped);
    sovereign()
        .args(["verify", "--timeout", "1", "--outputs"])
        .arg(&p)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAIL  redis::reachable"));
}

#[test]
fn verify_takes_expectations_from_the_topology() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        &json!({"sites": {"dub": {"redis": {"primary_endpoint": "127.0.0.1", "port": 1}}}, "redis": {"maxmemory_policy": "noeviction"}}),
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/minimal.toml");
    sovereign()
        .args([
            "verify",
            "--timeout",
            "1",
            "--only",
            "postgres::reachable,redis::*",
            "--outputs",
        ])
        .arg(&p)
        .arg("--topology")
        .arg(&root)
        .env("SOVEREIGN_PG_USER", "u")
        .env("SOVEREIGN_PG_PASSWORD", "p")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "redis maxmemory policy: the outputs say \"noeviction\", the topology \"allkeys-lru\"",
        ))
        .stdout(predicate::str::contains(
            "PostgreSQL is expected at dub, but the outputs give no endpoint there",
        ));
}

/// `--topology` expects the sites behind the API name in the order render writes them (EKS
/// sites, then Fly.io ones), so outputs straight from render raise no note even when a Fly.io
/// site comes first in the topology.
#[test]
fn verify_topology_expectations_match_render() {
    let dir = tempfile::tempdir().unwrap();
    let minimal = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/minimal.toml"),
    )
    .unwrap();
    let at = minimal.find("[[sites]]\nid = \"iad\"").unwrap();
    let topo = format!(
        "{}[[sites]]\nid = \"jnb\"\nname = \"Johannesburg\"\nfly_region = \"jnb\"\n\n{}",
        &minimal[..at],
        &minimal[at..]
    );
    let topo_path = dir.path().join("sovereign.toml");
    std::fs::write(&topo_path, topo).unwrap();
    let tree = dir.path().join("tree");
    sovereign()
        .args(["-q", "render"])
        .arg(&topo_path)
        .arg("--out")
        .arg(&tree)
        .assert()
        .code(0);
    let outputs_tf = std::fs::read_to_string(tree.join("outputs.tf")).unwrap();
    let line = outputs_tf
        .lines()
        .skip_while(|l| !l.contains("api_name"))
        .nth(1)
        .unwrap();
    let list = line.split_once('=').unwrap().1.trim();
    let sites: Vec<String> = serde_json::from_str(list).unwrap();
    assert_eq!(
        sites,
        ["dub", "iad", "jnb"],
        "render puts Fly.io sites last"
    );
    let closed = free_port("127.0.0.1").unwrap();
    let p = write(
        dir.path(),
        &json!({"sites": {}, "dns": {"api_name": "api.acme.example.com", "sites": sites}}),
    );
    let out = sovereign()
        .args([
            "verify",
            "--timeout",
            "1",
            "--only",
            "dns::*",
            "--resolver",
            &format!("127.0.0.1:{closed}"),
            "--outputs",
        ])
        .arg(&p)
        .arg("--topology")
        .arg(&topo_path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("sites behind the API name"), "{err}");
    assert!(!err.contains("API name:"), "{err}");
}

fn minimal() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/minimal.toml")
}

fn stdout_and_stderr(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Finding 7 of issue 10: an outputs file pointing `postgres.pgbackrest.config` at a file
/// holding a password made verify quote it, in every format. Nothing that looks like a
/// credential reaches the output: not from a file the outputs name, not from a URL in them,
/// not in a note, not in a usage error.
#[test]
fn verify_never_prints_credentials_the_outputs_lead_to() {
    const SECRET: &str = "hunter2";
    let dir = tempfile::tempdir().unwrap();
    let closed = free_port("127.0.0.1").unwrap();
    std::fs::write(
        dir.path().join("standby.conf"),
        format!(
            "primary_conninfo = 'host=10.0.0.1 user=rep password={SECRET}'\nrequirepass {SECRET}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pg.json"),
        r#"{"username": "u", "password": "pw-7f1"}"#,
    )
    .unwrap();
    let p = write(
        dir.path(),
        &json!({
            "sites": {
                "dub": {
                    "postgres": {"role": "primary", "writer_endpoint": "127.0.0.1", "port": closed},
                    "load_balancer": {"url": format!("http://admin:{SECRET}@127.0.0.1:{closed}"), "health_path": "/"}
                }
            },
            "postgres": {
                "primary_site": "dub", "credentials_file": "pg.json",
                "pgbackrest": {"stanza": "main", "config": "standby.conf"}
            },
            "redis": {"maxmemory_policy": format!("requirepass {SECRET}")}
        }),
    );
    for format in ["human", "json", "junit"] {
        let o = sovereign()
            .args([
                "verify",
                "--timeout",
                "5",
                "--only",
                "postgres::backups,http::*",
                "--format",
                format,
                "--outputs",
            ])
            .arg(&p)
            .arg("--topology")
            .arg(minimal())
            .output()
            .unwrap();
        let (out, err) = stdout_and_stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{format}: {out}{err}");
        assert!(
            !out.contains(SECRET) && !err.contains(SECRET),
            "{format}:\n{out}\n{err}"
        );
        assert!(
            !out.contains("pw-7f1") && !err.contains("pw-7f1"),
            "{format}: {out}"
        );
        // The checks ran and say why they failed, without the file's text.
        assert!(out.contains("pgbackrest check failed"), "{format}: {out}");
        assert!(
            out.contains("at line 1 of the configuration file (its text is not shown)"),
            "{format}: {out}"
        );
        assert!(out.contains("admin:****@127.0.0.1"), "{format}: {out}");
        // The note quoting the outputs' eviction policy is masked too.
        assert!(err.contains("requirepass ****"), "{format}: {err}");
        if format == "json" {
            let j: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(j["failed"], 3, "{j}");
        }
        if format == "junit" {
            assert!(out.contains("<failure message="), "{out}");
        }
    }
    // A usage error quoting a value of the outputs file.
    let bad = write(
        dir.path(),
        &json!({"sites": {"dub": {"redis": {"primary_endpoint": "127.0.0.1", "port": format!("password={SECRET}")}}}}),
    );
    let o = sovereign()
        .args(["verify", "--outputs"])
        .arg(&bad)
        .output()
        .unwrap();
    let (out, err) = stdout_and_stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(err.contains("unexpected shape"), "{err}");
    assert!(!err.contains(SECRET) && !out.contains(SECRET), "{err}");
}

/// Finding 9 of issue 10: outputs without a `postgres` section skipped every PostgreSQL check
/// and exited 0. A component the outputs lack is a failed `<engine>::outputs_present` check.
#[test]
fn verify_fails_components_the_outputs_lack() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.1").unwrap();
    let _redis =
        Stop(Redis::start(dir.path(), "cache", "127.0.0.1", port, TOKEN, "allkeys-lru").unwrap());
    std::fs::write(dir.path().join("token"), TOKEN).unwrap();
    let redis = json!({"primary_endpoint": "127.0.0.1", "port": port});
    let redis_section =
        json!({"mode": "regional", "maxmemory_policy": "allkeys-lru", "credentials_file": "token"});

    // Without a topology: PostgreSQL endpoints but no `postgres` output (the cache is fine).
    let p = write(
        dir.path(),
        &json!({
            "sites": {"dub": {"redis": redis, "postgres": {"role": "primary", "writer_endpoint": "127.0.0.1", "port": 5432}}},
            "redis": redis_section
        }),
    );
    sovereign()
        .args(["verify", "--outputs"])
        .arg(&p)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("PASS  redis::reachable"))
        .stdout(predicate::str::contains(
            "FAIL  postgres::outputs_present  -",
        ))
        .stdout(predicate::str::contains(
            "the outputs give PostgreSQL endpoints at dub but no `postgres` output",
        ));

    // With the topology: every component it declares and the outputs lack fails, and says
    // what is missing; what is there passes.
    let p = write(
        dir.path(),
        &json!({
            "sites": {"dub": {"redis": redis}, "iad": {"redis": redis}},
            "redis": redis_section
        }),
    );
    let o = sovereign()
        .args([
            "verify",
            "--only",
            "*::outputs_present",
            "--format",
            "json",
            "--outputs",
        ])
        .arg(&p)
        .arg("--topology")
        .arg(minimal())
        .output()
        .unwrap();
    let (out, err) = stdout_and_stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    let check = |name: &str| {
        j["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {j}"))
            .clone()
    };
    let pg = check("postgres::outputs_present");
    assert_eq!(pg["status"], "fail");
    assert_eq!(
        pg["data"]["absent"],
        json!([
            "the `postgres` output",
            "`sites.dub.postgres`",
            "`sites.iad.postgres`"
        ])
    );
    assert!(
        pg["detail"]
            .as_str()
            .unwrap()
            .starts_with("the topology declares PostgreSQL (primary dub; replicas iad), but the outputs lack the `postgres` output"),
        "{pg}"
    );
    assert_eq!(check("redis::outputs_present")["status"], "pass");
    for name in [
        "prometheus::outputs_present",
        "http::outputs_present",
        "dns::outputs_present",
    ] {
        assert_eq!(check(name)["status"], "fail", "{name}");
    }
    assert_eq!(
        check("http::outputs_present")["data"]["absent"],
        json!(["`sites.dub.load_balancer`", "`sites.iad.load_balancer`"])
    );
}

/// Finding 12 of issue 10: `--timeout 0` was refused as "not between 0 and 3600".
#[test]
fn verify_timeout_range_is_stated_truly() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        &json!({"sites": {"ams": {"redis": {"primary_endpoint": "127.0.0.1", "port": 1}}}, "redis": {}}),
    );
    for bad in ["0", "0.05", "3600.5", "NaN", "-1", "inf"] {
        sovereign()
            .args(["verify", "--outputs"])
            .arg(&p)
            .arg(format!("--timeout={bad}"))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "give a number of seconds from 0.1 to 3600",
            ));
    }
    // Both ends are accepted: the run goes ahead (and fails its check, exit 1).
    for good in ["0.1", "3600"] {
        sovereign()
            .args(["verify", "--only", "redis::reachable", "--outputs"])
            .arg(&p)
            .arg(format!("--timeout={good}"))
            .assert()
            .code(1);
    }
}

/// Finding 8 of issue 10: TLS is turned off on the command line only (`--pg-insecure-no-tls`);
/// the environment can choose `require` or `verify-full` and a CA bundle, not plain text.
#[test]
fn verify_pg_tls_options() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        &json!({"sites": {"ams": {"redis": {"primary_endpoint": "127.0.0.1", "port": 1}}}, "redis": {}}),
    );
    sovereign()
        .args(["verify", "--help"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("--pg-insecure-no-tls"))
        .stdout(predicate::str::contains("--pg-ca-file"))
        .stdout(predicate::str::contains("--pg-sslmode"));
    sovereign()
        .args([
            "verify",
            "--pg-insecure-no-tls",
            "--pg-sslmode",
            "verify-full",
            "--outputs",
        ])
        .arg(&p)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--pg-insecure-no-tls contradicts"));
    sovereign()
        .args(["verify", "--pg-insecure-no-tls", "--outputs"])
        .arg(&p)
        .env("SOVEREIGN_PG_CA_FILE", "/etc/ssl/certs/ca-certificates.crt")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--pg-insecure-no-tls contradicts"));
    for mode in ["disable", "allow", "prefer"] {
        sovereign()
            .args(["verify", "--outputs"])
            .arg(&p)
            .env("SOVEREIGN_PG_SSLMODE", mode)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("invalid value"));
        sovereign()
            .args(["verify", "--pg-sslmode", mode, "--outputs"])
            .arg(&p)
            .assert()
            .code(2);
    }
    for ok in [
        vec!["--pg-sslmode", "verify-full"],
        vec!["--pg-insecure-no-tls"],
        vec![],
    ] {
        sovereign()
            .args([
                "verify",
                "--timeout",
                "1",
                "--only",
                "redis::reachable",
                "--outputs",
            ])
            .arg(&p)
            .args(ok)
            .assert()
            .code(1);
    }
}
