//! `cargo bench -p sovereign-cli --bench report`
//!
//! The report of the default topology and of a generated 200-site one: how long writing the
//! page takes, as a ratio to what `plan` computes for the same topology (the analyses the page
//! shows), and how long headless Chromium takes to load and lay it out, as a ratio to the same
//! Chromium loading a one-line page in the same run (the browser's own start-up). Chromium's
//! extra time over that baseline is the page's render cost. Without Chromium the browser rows
//! are left out with a message.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sovereign_catalog::{Catalog, Date};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time(iters: usize, mut f: impl FnMut()) -> Duration {
    f();
    median(
        (0..iters)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|n| {
            Command::new(n)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// Headless Chromium loading a page and laying it out (a screenshot of the whole width).
fn render(chromium: &str, page: &Path, profile: &Path) {
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--window-size=1200,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!(
            "--screenshot={}",
            profile.with_extension("png").display()
        ))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let catalog = Catalog::builtin();
    let today = Date::new(2026, 11, 26);
    let dir = tempfile::tempdir().unwrap();
    let browser = chromium();
    if browser.is_none() {
        println!("chromium is not installed: the browser figures are left out\n");
    }
    let blank = dir.path().join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><title>blank</title><p>blank</p>\n").unwrap();
    let profile = dir.path().join("profile");
    let browser_iters = if quick { 1 } else { 5 };
    let baseline = browser.map(|b| time(browser_iters, || render(b, &blank, &profile)));
    if let Some(b) = baseline {
        println!(
            "chromium on a one-line page (baseline): {:.0} ms\n",
            b.as_secs_f64() * 1e3
        );
    }
    println!(
        "{:<20} {:>6} {:>7} {:>9} {:>10} {:>10} {:>12} {:>10} {:>12}",
        "topology",
        "sites",
        "links",
        "page KiB",
        "plan (ms)",
        "page (ms)",
        "page × plan",
        "browser ms",
        "× baseline"
    );
    for (name, text, iters) in [
        (
            "default",
            sovereign_spec::Template::GlobalSovereign.text().to_string(),
            50,
        ),
        (
            "generated 200 sites",
            sovereign_spec::synthetic::topology(200),
            5,
        ),
    ] {
        let iters = if quick { 1 } else { iters };
        let report = sovereign_check::check_text(&text, catalog, today);
        let t = report.validated.as_ref().expect("a valid topology");
        let planned = sovereign_cli::commands::plan::analyse(t, catalog).unwrap();
        let input = sovereign_cli::report::Input {
            topology: t,
            catalog,
            planned: &planned,
            file: name,
            verify: None,
            lab: None,
        };
        let plan = time(iters, || {
            black_box(sovereign_cli::commands::plan::analyse(black_box(t), catalog).ok());
        });
        let page_time = time(iters, || {
            black_box(sovereign_cli::report::html(black_box(&input)));
        });
        let page = sovereign_cli::report::html(&input);
        let path = dir.path().join("report.html");
        std::fs::write(&path, &page).unwrap();
        let (browser_ms, ratio) = match (browser, baseline) {
            (Some(b), Some(base)) => {
                let r = time(browser_iters, || render(b, &path, &profile));
                (
                    format!("{:.0}", r.as_secs_f64() * 1e3),
                    format!("{:.2}", r.as_secs_f64() / base.as_secs_f64()),
                )
            }
            _ => ("-".into(), "-".into()),
        };
        println!(
            "{name:<20} {:>6} {:>7} {:>9} {:>10.2} {:>10.2} {:>12.3} {browser_ms:>10} {ratio:>12}",
            t.sites.len(),
            planned.links.len(),
            page.len() / 1024,
            plan.as_secs_f64() * 1e3,
            page_time.as_secs_f64() * 1e3,
            page_time.as_secs_f64() / plan.as_secs_f64(),
        );
    }
}
