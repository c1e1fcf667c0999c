//! `cargo bench -p sovereign-render --bench render`
//!
//! Times rendering the whole tree (in memory) for the default topology and generated 200- and
//! 1000-site topologies. Each figure is the median of many runs, also given as a ratio to
//! checking the same topology (parse + rules + resolve), measured in the same run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sovereign_catalog::{Catalog, Date};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
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
    let quick = !std::env::args().any(|a| a == "--bench");
    let catalog = Catalog::builtin();
    let today = Date::new(2026, 11, 26);
    let cases = [
        (
            "default (6 sites)",
            sovereign_spec::Template::GlobalSovereign.text().to_string(),
            100,
        ),
        (
            "generated 200 sites",
            sovereign_spec::synthetic::topology(200),
            10,
        ),
        (
            "generated 1000 sites",
            sovereign_spec::synthetic::topology(1000),
            3,
        ),
    ];
    println!(
        "{:<22} {:>7} {:>11} {:>12} {:>11}",
        "topology", "files", "bytes", "render (ms)", "× check"
    );
    for (name, text, iters) in cases {
        let iters = if quick { 1 } else { iters };
        let v = sovereign_check::check_text(&text, catalog, today)
            .validated
            .expect("valid");
        let tree = sovereign_render::render(&v, catalog, "bench").expect("renders");
        let bytes: usize = tree.files().map(|(_, b)| b.len()).sum();
        let check = time(iters, || {
            black_box(sovereign_check::check_text(
                black_box(&text),
                catalog,
                today,
            ));
        });
        let render = time(iters, || {
            black_box(sovereign_render::render(black_box(&v), catalog, "bench").ok());
        });
        println!(
            "{name:<22} {:>7} {bytes:>11} {:>12.2} {:>11.1}",
            tree.len(),
            render.as_secs_f64() * 1e3,
            render.as_secs_f64() / check.as_secs_f64()
        );
    }
}
