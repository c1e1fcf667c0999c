//! Golden trees: the minimal and the large example render exactly to the files committed under
//! `tests/golden/<example>/` (the embedded modules and charts excepted: they are the repository's
//! own `crates/sovereign-render/assets/`). The default topology's golden tree is the
//! repository's `terraform/` itself, checked by `sovereign render --check` in the test script
//! and the CLI tests. A changed file here is a product change: review it as one.
//!
//! `SOVEREIGN_UPDATE_GOLDEN=1 cargo test -p sovereign-render --test golden` rewrites them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sovereign_catalog::{Catalog, Date};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_tree(dir: &Path, base: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            read_tree(&p, base, out);
        } else {
            let rel = p
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, std::fs::read(&p).unwrap());
        }
    }
}

fn check(example: &str) {
    let text = std::fs::read_to_string(root().join(format!("examples/{example}.toml"))).unwrap();
    let report = sovereign_check::check_text(&text, Catalog::builtin(), Date::new(2026, 11, 26));
    let v = report.validated.expect("example validates");
    let tree =
        sovereign_render::render(&v, Catalog::builtin(), &format!("examples/{example}.toml"))
            .unwrap();
    let rendered: BTreeMap<String, Vec<u8>> = tree
        .files()
        .filter(|(p, _)| !p.starts_with("modules/") && !p.starts_with("charts/"))
        .map(|(p, b)| (p.to_string(), b.to_vec()))
        .collect();
    let dir = root().join("tests/golden").join(example);
    if std::env::var_os("SOVEREIGN_UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        for (p, b) in &rendered {
            let f = dir.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, b).unwrap();
        }
        return;
    }
    let mut golden = BTreeMap::new();
    read_tree(&dir, &dir, &mut golden);
    let missing: Vec<&String> = rendered
        .keys()
        .filter(|k| !golden.contains_key(*k))
        .collect();
    let extra: Vec<&String> = golden
        .keys()
        .filter(|k| !rendered.contains_key(*k))
        .collect();
    let changed: Vec<&String> = rendered
        .iter()
        .filter(|(k, v)| golden.get(*k).is_some_and(|g| g != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && changed.is_empty(),
        "{example}: golden tree differs (SOVEREIGN_UPDATE_GOLDEN=1 to accept)\n  new: {missing:?}\n  gone: {extra:?}\n  changed: {changed:?}"
    );
}

#[test]
fn minimal_matches_golden() {
    check("minimal");
}

#[test]
fn large_matches_golden() {
    check("large");
}
