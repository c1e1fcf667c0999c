//! `cargo bench -p sovereign-check --bench check`
//!
//! Times `check` (parse + every rule + resolving the validated topology) on the default
//! topology and on generated 200- and 1000-site topologies. Each figure is the median of many
//! runs, and is also given as a ratio to parsing the same text as plain TOML, measured in the
//! same run on the same machine: the ratio says what the rules cost on top of reading the file.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sovereign_catalog::{Catalog, Date};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time(iters: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..iters.div_ceil(10) {
        f();
    }
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

fn main() {
    // `cargo test --benches` runs bench binaries with `--bench` absent; keep that fast.
    let quick = !std::env::args().any(|a| a == "--bench");
    // Parsing the embedded catalog happens once per process (`Catalog::builtin`); its cost is
    // start-up time, reported apart from the per-check figures.
    let load = time(if quick { 1 } else { 20 }, || {
        black_box(Catalog::load().ok());
    });
    println!(
        "catalog load: {:.3} ms ({} EC2 types, {} Aurora classes, {} cache node types)\n",
        load.as_secs_f64() * 1e3,
        Catalog::builtin().ec2.len() + Catalog::builtin().ec2_unshaped.len(),
        Catalog::builtin().rds.len(),
        Catalog::builtin().cache.len()
    );
    let catalog = Catalog::builtin();
    let today = Date::new(2026, 11, 26);
    let cases = [
        (
            "default (6 sites)",
            sovereign_spec::Template::GlobalSovereign.text().to_string(),
            200,
            20.0,
        ),
        (
            "generated 200 sites",
            sovereign_spec::synthetic::topology(200),
            30,
            200.0,
        ),
        (
            "generated 1000 sites",
            sovereign_spec::synthetic::topology(1000),
            5,
            f64::NAN,
        ),
    ];
    println!(
        "{:<22} {:>10} {:>12} {:>14} {:>10}",
        "topology", "bytes", "check (ms)", "× TOML parse", "aim (ms)"
    );
    for (name, text, iters, aim) in cases {
        let iters = if quick { 1 } else { iters };
        let report = sovereign_check::check_text(&text, catalog, today);
        assert_eq!(
            report.errors(),
            0,
            "{name}: {:?}",
            report.diagnostics.first()
        );
        let parse = time(iters, || {
            black_box(toml::de::DeTable::parse(black_box(&text)).ok());
        });
        let check = time(iters, || {
            black_box(sovereign_check::check_text(
                black_box(&text),
                catalog,
                today,
            ));
        });
        let ms = check.as_secs_f64() * 1e3;
        let ratio = check.as_secs_f64() / parse.as_secs_f64();
        let aim = if aim.is_nan() {
            "-".to_string()
        } else {
            format!("< {aim:.0}")
        };
        println!(
            "{name:<22} {:>10} {ms:>12.3} {ratio:>14.1} {aim:>10}",
            text.len()
        );
    }
}
