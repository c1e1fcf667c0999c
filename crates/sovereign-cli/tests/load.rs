//! `sovereign load` against HTTP servers the test starts on loopback: the rate held, latency
//! measured against a known delay, errors counted by kind, bounds and bad input refused.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};

fn sovereign() -> Command {
    let mut c = Command::cargo_bin("sovereign").unwrap();
    c.env("NO_COLOR", "1");
    c
}

/// A small HTTP/1.1 server: `/healthz` answers 200, `/slow` 200 after 50 ms, `/fail` 503,
/// anything else 404. One thread per connection; every answer closes the connection.
struct Server {
    port: u16,
    hits: Arc<AtomicUsize>,
}

fn serve(mut s: TcpStream, hits: &AtomicUsize) {
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    hits.fetch_add(1, Ordering::Relaxed);
    let (status, text) = match path.as_str() {
        "/healthz" => ("200 OK", "ok"),
        "/slow" => {
            std::thread::sleep(Duration::from_millis(50));
            ("200 OK", "slow")
        }
        "/fail" => ("503 Service Unavailable", "down"),
        _ => ("404 Not Found", "no"),
    };
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

fn server() -> Server {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let h = h.clone();
            std::thread::spawn(move || serve(s, &h));
        }
    });
    Server { port, hits }
}

fn outputs(dir: &Path, sites: &[(&str, u16)]) -> PathBuf {
    let mut map = serde_json::Map::new();
    for (id, port) in sites {
        map.insert(
            id.to_string(),
            json!({"load_balancer": {"url": format!("http://127.0.0.1:{port}"), "health_path": "/healthz"}}),
        );
    }
    let p = dir.join("outputs.json");
    std::fs::write(&p, serde_json::to_string(&json!({ "sites": map })).unwrap()).unwrap();
    p
}

fn run_json(args: &[&str], outputs: &Path, code: i32) -> Value {
    let out = sovereign()
        .arg("load")
        .arg("--outputs")
        .arg(outputs)
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn holds_the_rate_at_every_site() {
    let (a, b) = (server(), server());
    let dir = tempfile::tempdir().unwrap();
    let o = outputs(dir.path(), &[("ams", a.port), ("iad", b.port)]);
    let r = run_json(&["--rate", "20", "--duration", "2"], &o, 0);
    assert_eq!(r["sent"], 80, "{r:#}");
    for s in r["sites"].as_array().unwrap() {
        // 20 a second for 2 seconds: 40, each answered.
        assert_eq!(s["sent"], 40, "{s:#}");
        assert_eq!(s["ok"], 40, "{s:#}");
        assert_eq!(s["requests"][0]["request"], "health");
    }
    assert_eq!(a.hits.load(Ordering::Relaxed), 40);
    assert_eq!(b.hits.load(Ordering::Relaxed), 40);
    // The schedule's last request is due at 1.95 s; the run ends when it is answered.
    let secs = r["seconds"].as_f64().unwrap();
    assert!((1.9..4.0).contains(&secs), "{secs}");
    assert!(r["source"].as_str().unwrap().starts_with("this machine"));
    assert_eq!(r["stopped_at_max_requests"], false);
}

#[test]
fn measures_a_known_delay_and_counts_errors_by_kind() {
    let a = server();
    let dir = tempfile::tempdir().unwrap();
    let o = outputs(dir.path(), &[("syd", a.port)]);
    let reqs = dir.path().join("requests.toml");
    std::fs::write(
        &reqs,
        "[[request]]\nname = \"slow\"\npath = \"/slow\"\n\n[[request]]\nname = \"fail\"\nmethod = \"POST\"\npath = \"/fail\"\nbody = \"{}\"\ncontent_type = \"application/json\"\n",
    )
    .unwrap();
    let r = run_json(
        &[
            "--rate",
            "10",
            "--duration",
            "2",
            "--requests",
            reqs.to_str().unwrap(),
        ],
        &o,
        1,
    );
    let s = &r["sites"][0];
    assert_eq!(s["sent"], 20, "{s:#}");
    let slow = &s["requests"][0];
    let fail = &s["requests"][1];
    assert_eq!(slow["request"], "slow");
    assert_eq!(slow["sent"], 10);
    assert_eq!(slow["ok"], 10);
    let p50 = slow["p50_ms"].as_f64().unwrap();
    assert!(
        (50.0..1000.0).contains(&p50),
        "p50 of a 50 ms answer: {p50}"
    );
    assert_eq!(fail["sent"], 10);
    assert_eq!(fail["ok"], 0);
    assert_eq!(fail["errors"], json!({"http_503": 10}));
    assert_eq!(s["errors"], json!({"http_503": 10}));
}

#[test]
fn stops_at_max_requests_and_names_connection_failures() {
    let a = server();
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let o = outputs(dir.path(), &[("ams", a.port), ("sin", closed)]);
    let r = run_json(
        &[
            "--rate",
            "20",
            "--duration",
            "2",
            "--max-requests",
            "10",
            "--timeout",
            "2",
        ],
        &o,
        1,
    );
    assert_eq!(r["sent"], 10, "{r:#}");
    assert_eq!(r["stopped_at_max_requests"], true);
    let sin = r["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["site"] == "sin")
        .unwrap();
    assert_eq!(sin["ok"], 0);
    let sent = sin["sent"].as_u64().unwrap();
    assert_eq!(sin["errors"], json!({"connect": sent}), "{sin:#}");
    // Human output: one row per site and where the load came from.
    let out = sovereign()
        .args([
            "load",
            "--rate",
            "5",
            "--duration",
            "1",
            "--sites",
            "ams",
            "--outputs",
        ])
        .arg(&o)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("load from this machine"), "{text}");
    assert!(text.contains("ams") && !text.contains("sin"), "{text}");
}

#[test]
fn bad_input_is_refused_before_any_request() {
    let a = server();
    let dir = tempfile::tempdir().unwrap();
    let o = outputs(dir.path(), &[("ams", a.port)]);
    let bad_reqs = dir.path().join("bad.toml");
    std::fs::write(&bad_reqs, "[[request]]\nname = \"x\"\npath = \"nope\"\n").unwrap();
    let none = dir.path().join("none.json");
    std::fs::write(&none, r#"{"sites": {"ams": {"region": "eu-west-1"}}}"#).unwrap();
    for (args, says) in [
        (
            vec!["--rate", "0"],
            "--rate 0: give a number from 0.1 to 500",
        ),
        (vec!["--rate=-3"], "--rate -3"),
        (vec!["--rate", "NaN"], "--rate NaN"),
        (
            vec!["--duration", "5000"],
            "--duration 5000: give a number from 1 to 3600",
        ),
        (vec!["--max-requests", "0"], "--max-requests 0"),
        (vec!["--timeout", "0"], "--timeout 0"),
        (
            vec!["--sites", "zzz"],
            "`zzz` is not a site with a regional endpoint",
        ),
        (
            vec!["--requests", bad_reqs.to_str().unwrap()],
            "is not a requests file: request 1 (`x`): path `nope` must start with `/`",
        ),
    ] {
        sovereign()
            .arg("load")
            .arg("--outputs")
            .arg(&o)
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
    sovereign()
        .args(["load", "--outputs"])
        .arg(&none)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to load"));
    assert_eq!(a.hits.load(Ordering::Relaxed), 0);
}
