//! `sovereign report` in a real browser, `plan --format mermaid|dot` snapshots, and tables at
//! 80, 100 and 200 columns.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command as Std;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;
use serde_json::Value;
use sovereign_cli::commands::cost::usd;

const TODAY: &str = "2026-11-26";

fn sovereign() -> Command {
    let mut c = Command::cargo_bin("sovereign").unwrap();
    c.env("SOVEREIGN_TODAY", TODAY).env_remove("NO_COLOR");
    c
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stdout(c: &mut Command) -> String {
    String::from_utf8(c.assert().code(0).get_output().stdout.clone()).unwrap()
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&stdout(sovereign().args(args))).unwrap()
}

fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(repo().join("tests/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

/// A valid topology whose free-text values try to break out of HTML, Mermaid and DOT, and to
/// load something from the network (a listener on `canary` counts any attempt).
fn hostile(canary: &str) -> String {
    sovereign_spec::Template::GlobalSovereign
        .text()
        .replace(
            "name = \"Amsterdam\"",
            "name = \"<script>alert(1)</script>\\\"]-->x[\\\"\"",
        )
        .replace(
            "role = \"primary, Europe\"",
            &format!("role = \"<img src='{canary}/img'>\""),
        )
        .replace(
            "role = \"US / Americas\"",
            &format!("role = \"<iframe src={canary}/frame></iframe>\""),
        )
        .replace(
            "role = \"Asia-Pacific\"",
            &format!("role = \"<link rel=stylesheet href={canary}/css>\""),
        )
        .replace(
            "name = \"Singapore\"",
            "name = \"\\\" onmouseover=x() x=\\\"\"",
        )
}

#[test]
fn mermaid_and_dot_snapshots() {
    let m = stdout(sovereign().args(["-q", "plan", "--format", "mermaid"]));
    snapshot_settings().bind(|| insta::assert_snapshot!("plan_mermaid_default", m));
    let d = stdout(sovereign().args(["-q", "plan", "--format", "dot"]));
    snapshot_settings().bind(|| insta::assert_snapshot!("plan_dot_default", d));
    // Every link of `plan --format json` is an edge, with its round trip.
    let plan = json(&["plan", "--format", "json"]);
    let links = plan["links"].as_array().unwrap();
    assert_eq!(links.len(), 18);
    let edges = m.lines().filter(|l| l.contains("|\"")).count();
    assert_eq!(edges, links.len());
    for l in links {
        if let Some(ms) = l["rtt_ms"].as_f64() {
            assert!(m.contains(&format!("{ms:.0} ms RTT")), "{l}");
        }
    }
}

#[test]
fn hostile_values_stay_text_in_diagrams() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, hostile("http://127.0.0.1:9")).unwrap();
    let m = stdout(
        sovereign()
            .args(["-q", "plan", "--format", "mermaid"])
            .arg(&path),
    );
    // Still six nodes, each one statement on one line; no raw markup or quote left.
    assert_eq!(
        m.lines()
            .filter(|l| l.starts_with("  s") && l.contains("[\""))
            .count(),
        6
    );
    assert!(
        !m.contains("<script") && !m.contains("<img") && !m.contains("\"]-->x"),
        "{m}"
    );
    assert!(m.contains("#60;script#62;"), "{m}");
    let d = stdout(
        sovereign()
            .args(["-q", "plan", "--format", "dot"])
            .arg(&path),
    );
    assert!(d.contains("<script>alert(1)</script>\\\"]-->x[\\\""), "{d}");
    assert_eq!(d.lines().filter(|l| l.contains("[label=")).count(), 6 + 18);
}

/// Table lines (a header, its rule, the rows under it) of human output.
fn table_lines(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with(" ─") {
            // The header, wrapped onto several lines when it had to be.
            let header = lines[..i]
                .iter()
                .rev()
                .take_while(|h| h.starts_with(' '))
                .count();
            out.extend(lines[i - header..i].iter().copied());
            out.push(*l);
            out.extend(
                lines[i + 1..]
                    .iter()
                    .copied()
                    .take_while(|r| r.starts_with(' ')),
            );
        }
    }
    out
}

#[test]
fn tables_fit_80_100_and_200_columns() {
    let natural = stdout(sovereign().args(["-q", "plan"]));
    let widest = table_lines(&natural)
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap();
    assert!(
        widest > 200,
        "the default plan has a table wider than 200 columns"
    );
    // Piped, nothing is fitted: the same as --wide.
    assert_eq!(natural, stdout(sovereign().args(["-q", "plan", "--wide"])));
    for width in [80usize, 100, 200] {
        for cmd in [&["plan"][..], &["cost"][..]] {
            let text = stdout(
                sovereign()
                    .args(["-q", "--width", &width.to_string()])
                    .args(cmd),
            );
            let tables = table_lines(&text);
            assert!(tables.len() > 10);
            for l in &tables {
                assert!(l.chars().count() <= width, "{cmd:?} at {width}: {l:?}");
            }
            // Wrapping loses nothing: the tables hold the same characters, spaces aside.
            let wide = stdout(sovereign().args(["-q", "--wide"]).args(cmd));
            let chars = |t: &str| {
                let mut c: Vec<char> = table_lines(t)
                    .iter()
                    .flat_map(|l| l.chars())
                    .filter(|c| !c.is_whitespace() && *c != '─')
                    .collect();
                c.sort_unstable();
                c
            };
            assert_eq!(chars(&text), chars(&wide), "{cmd:?} at {width}");
            if cmd == ["plan"] {
                snapshot_settings()
                    .bind(|| insta::assert_snapshot!(format!("plan_width_{width}"), text));
            }
        }
    }
}

/// Chromium, when this machine has it; otherwise skipped with a message (a failure under CI).
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|n| {
            Std::new(n)
                .arg("--version")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|_| PathBuf::from(n))
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed (apt-get install chromium); CI is set, so nothing may be skipped"
        );
        eprintln!("skipping: chromium is not installed (apt-get install chromium)");
    }
    found
}

/// Headless Chromium on a file: its DOM after load, and every URL its network log saw.
fn browse(
    chromium: &Path,
    page: &Path,
    dir: &Path,
    screenshot: Option<&Path>,
) -> (String, Vec<String>) {
    let netlog = dir.join("netlog.json");
    let mut c = Std::new(chromium);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=3000",
    ])
    .arg(format!("--user-data-dir={}", dir.join("profile").display()))
    .arg(format!("--log-net-log={}", netlog.display()));
    match screenshot {
        Some(s) => c
            .arg(format!("--screenshot={}", s.display()))
            .arg("--window-size=1200,1500"),
        None => c.arg("--dump-dom"),
    };
    let out = c
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(&netlog).unwrap_or_default();
    let urls = log
        .split("\"url\":\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect();
    (String::from_utf8(out.stdout).unwrap(), urls)
}

/// URLs a page could have caused: anything but the page itself and Chromium's own services
/// (update checks, time, accounts), which run whatever the page is.
fn page_requests(urls: &[String]) -> Vec<&String> {
    urls.iter()
        .filter(|u| !u.starts_with("file://") && !u.starts_with("data:"))
        .filter(|u| {
            let host = u
                .split("://")
                .nth(1)
                .and_then(|r| r.split(['/', ':', '?']).next())
                .unwrap_or("");
            !(host.ends_with(".google.com")
                || host.ends_with(".googleapis.com")
                || host.ends_with(".gstatic.com"))
        })
        .collect()
}

/// The element that carries `attr="value"`, up to its closing tag.
fn element<'a>(dom: &'a str, attr: &str, value: &str) -> &'a str {
    let key = format!("{attr}=\"{value}\"");
    let start = dom
        .find(&key)
        .unwrap_or_else(|| panic!("no element with {key}"));
    let end = dom[start..]
        .find("</tr>")
        .or_else(|| dom[start..].find("</li>"))
        .unwrap_or(dom.len() - start);
    &dom[start..start + end]
}

fn verify_report(dir: &Path) -> PathBuf {
    use sovereign_verify::{CheckResult, Status};
    let checks = vec![
        CheckResult {
            name: "postgres::replication_lag".into(),
            site: Some("iad".into()),
            status: Status::Pass,
            duration_ms: 12,
            detail: "lag 0.4 s".into(),
            data: Value::Null,
        },
        CheckResult {
            name: "redis::reachable".into(),
            site: Some("sfo".into()),
            status: Status::Fail,
            duration_ms: 10000,
            detail: "timed out <after 10 s>".into(),
            data: Value::Null,
        },
    ];
    let text = sovereign_verify::report::json(&checks, 10_012);
    let path = dir.join("verify.json");
    std::fs::write(&path, text).unwrap();
    path
}

fn lab_dir(dir: &Path) -> PathBuf {
    use sovereign_lab::load::{LoadReport, SiteLag};
    let lab = dir.join("lab");
    std::fs::create_dir_all(&lab).unwrap();
    let lag = |site: &str, p50: f64| SiteLag {
        site: site.into(),
        role: "secondary".into(),
        seen: 100,
        missing: 0,
        p50_ms: p50,
        p99_ms: p50 * 2.0,
        max_ms: p50 * 3.0,
        why_missing: None,
    };
    let r = LoadReport {
        primary: "ams".into(),
        writes: 100,
        seconds: 5.0,
        rate_asked: 20,
        rate_achieved: 20.0,
        commit_p50_ms: 1.5,
        commit_p99_ms: 3.0,
        latency_scale: 1.0,
        sites: vec![lag("iad", 41.0), lag("jnb", 97.0)],
    };
    sovereign_lab::results::save(&lab, sovereign_lab::results::Kind::Load, &r).unwrap();
    lab
}

#[test]
fn report_in_a_browser_shows_every_figure_and_loads_nothing() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let verify = verify_report(dir.path());
    let lab = lab_dir(dir.path());
    sovereign()
        .args(["-q", "report", "--out"])
        .arg(&page)
        .arg("--verify")
        .arg(&verify)
        .arg("--lab")
        .arg(&lab)
        .assert()
        .code(0);
    // Never over a file it did not write, unless told.
    sovereign()
        .args(["-q", "report", "--out"])
        .arg(&page)
        .assert()
        .code(2);
    let (dom, urls) = browse(&chromium, &page, dir.path(), None);
    assert!(dom.contains("<svg class=\"map\""), "no map");
    assert!(
        dom.contains("content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\""),
        "no CSP"
    );
    assert!(!dom.contains("<script"), "a script in the page");
    for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(!dom.contains(attr), "`{attr}` in the page");
    }
    assert!(
        page_requests(&urls).is_empty(),
        "{:?}",
        page_requests(&urls)
    );

    let plan = json(&["plan", "--format", "json"]);
    let cost = json(&["cost", "--format", "json"]);
    // Every site, with its name and role.
    for s in plan["inventory"]["sites"].as_array().unwrap() {
        let row = element(&dom, "data-site", s["id"].as_str().unwrap());
        assert!(row.contains(s["name"].as_str().unwrap()), "{row}");
        assert!(
            row.contains(&s["role"].as_str().unwrap().replace('&', "&amp;")),
            "{row}"
        );
    }
    // Every link, with its round trip, and the lab's lag where it measured one.
    for l in plan["links"].as_array().unwrap() {
        let key = format!(
            "{}:{}:{}",
            match l["kind"].as_str().unwrap() {
                "aurora_global" => "aurora global",
                "logical_replica" => "logical replica",
                "cassandra_dcs" => "cassandra",
                "redis_global" => "redis global",
                _ => "vpc peering",
            },
            l["from"].as_str().unwrap(),
            l["to"].as_str().unwrap()
        );
        let row = element(&dom, "data-link", &key);
        let rtt = format!("{:.0} ms", l["rtt_ms"].as_f64().unwrap());
        assert!(row.contains(&rtt), "{key}: {rtt} not in {row}");
    }
    let iad = element(&dom, "data-link", "aurora global:ams:iad");
    assert!(iad.contains("lag p50 41 ms, p99 82 ms"), "{iad}");
    let jnb = element(&dom, "data-link", "logical replica:ams:jnb");
    assert!(jnb.contains("lag p50 97 ms, p99 194 ms"), "{jnb}");
    // Every site's cost against its budget, the total and the spot savings: `plan` and `cost`
    // agree, and the page shows their figures.
    assert_eq!(plan["cost"], cost);
    for (site, cents) in cost["site_cents"].as_object().unwrap() {
        let row = element(&dom, "data-cost-site", site);
        assert!(row.contains(&usd(cents.as_i64().unwrap())), "{row}");
        let b = cost["budgets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["site"] == site.as_str())
            .unwrap();
        assert!(
            row.contains(&usd(b["budget_cents"].as_i64().unwrap())),
            "{row}"
        );
        assert!(
            row.contains(&usd(b["margin_cents"].as_i64().unwrap())),
            "{row}"
        );
    }
    let total = element(&dom, "data-cost-site", "(total)");
    assert!(total.contains(&usd(cost["total_cents"].as_i64().unwrap())));
    let spot = cost["spot_savings_cents"].as_i64().unwrap();
    assert!(spot > 0);
    assert!(dom.contains(&format!(
        "data-spot-savings=\"{spot}\">Spot saves <strong>{}</strong>",
        usd(spot)
    )));
    // Every component of every site: the sum of its lines.
    let mut by: std::collections::BTreeMap<(String, String), i64> = Default::default();
    for l in cost["lines"].as_array().unwrap() {
        let site = l["site"].as_str().unwrap_or("(global)").to_string();
        *by.entry((site, l["component"].as_str().unwrap().into()))
            .or_default() += l["monthly_cents"].as_i64().unwrap();
    }
    for ((site, comp), cents) in &by {
        let row = element(&dom, "data-component", &format!("{site}:{comp}"));
        assert!(row.contains(&usd(*cents)), "{row}");
    }
    // Every one-site, one-zone and two-site loss, and every cell of the matrix.
    let surv = &plan["survivability"];
    let mut scenarios = 0;
    for kind in ["sites", "zones", "pairs"] {
        for sc in surv[kind].as_array().unwrap() {
            let label = match sc["loss"]["kind"].as_str().unwrap() {
                "site" => sc["loss"]["site"].as_str().unwrap().to_string(),
                "zone" => format!(
                    "{}/{}",
                    sc["loss"]["site"].as_str().unwrap(),
                    sc["loss"]["zone"].as_str().unwrap()
                ),
                _ => sc["loss"]["sites"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("+"),
            };
            let row = element(&dom, "data-scenario", &label);
            assert_eq!(row.matches("<td class=\"").count(), 5, "{row}");
            if sc["postgres"]["status"] == "failover" {
                let to = sc["postgres"]["primary"].as_str().unwrap();
                assert!(row.contains(&format!("→ {to}, RTO")), "{row}");
            }
            if kind != "zones" {
                assert!(dom.contains(&format!("data-matrix=\"{label}\"")), "{label}");
            }
            scenarios += 1;
        }
    }
    assert_eq!(scenarios, 6 + 14 + 15);
    let sites = plan["inventory"]["sites"].as_array().unwrap().len();
    assert_eq!(dom.matches("data-matrix=").count(), sites * sites);
    // The deployment order, verify's checks, the lab's lag.
    for st in plan["deploy"].as_array().unwrap() {
        element(&dom, "data-step", st["name"].as_str().unwrap());
    }
    let pass = element(&dom, "data-check", "postgres::replication_lag@iad");
    assert!(pass.contains("class=\"pass\">pass<"), "{pass}");
    let fail = element(&dom, "data-check", "redis::reachable@sfo");
    assert!(fail.contains("class=\"fail\">fail<") && fail.contains("&lt;after 10 s&gt;"));
    assert!(element(&dom, "data-lag", "jnb").contains("194.0"));

    // A screenshot, for people (docs/report.png is this page without --verify and --lab).
    let shot = dir.path().join("report.png");
    browse(&chromium, &page, dir.path(), Some(&shot));
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 50_000,
        "{}",
        png.len()
    );
    if let Some(keep) = std::env::var_os("SOVEREIGN_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}

#[test]
fn hostile_values_stay_text_in_the_browser() {
    let Some(chromium) = chromium() else {
        return;
    };
    // Anything that reaches this listener came from the page.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let canary = format!("http://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let dir = tempfile::tempdir().unwrap();
    let topology = dir.path().join("t.toml");
    std::fs::write(&topology, hostile(&canary)).unwrap();
    let page = dir.path().join("report.html");
    sovereign()
        .args(["-q", "report", "--out"])
        .arg(&page)
        .arg(&topology)
        .assert()
        .code(0);
    let (dom, urls) = browse(&chromium, &page, dir.path(), None);
    while let Ok((mut s, _)) = listener.accept() {
        let mut buf = [0u8; 256];
        let _ = s.read(&mut buf);
        hits.fetch_add(1, Ordering::SeqCst);
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the page fetched from the canary"
    );
    assert!(
        page_requests(&urls).is_empty(),
        "{:?}",
        page_requests(&urls)
    );
    for tag in ["<script", "<img", "<iframe", "<link rel"] {
        assert!(!dom.contains(tag), "{tag} in the page");
    }
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "name not shown as text"
    );
    // Injected into an attribute, the browser would serialise `onmouseover="x()"`.
    assert!(!dom.contains("onmouseover=\""), "attribute injected");
    // As text (the DOM serialises quotes in text as they are).
    assert!(dom.contains("<td>\" onmouseover=x() x=\"</td>"));
    let row = element(&dom, "data-site", "iad");
    assert!(row.contains("&lt;iframe src="), "{row}");
}
