//! The fixture corpus: every file in `tests/corpus/invalid/` is named after the rule it
//! triggers; its rendered findings (colour off) are a snapshot. Every rule has a file, and every
//! example topology in `examples/` checks without errors.

use std::path::{Path, PathBuf};

use sovereign_catalog::{Catalog, Date};
use sovereign_cli::diagnostics::{render_human, summary};
use sovereign_spec::Source;

const TODAY: Date = Date::new(2026, 11, 26);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn rendered(name: &str, text: &str) -> (String, sovereign_check::Report) {
    let report = sovereign_check::check_text(text, Catalog::builtin(), TODAY);
    let source = Source::new(name, text);
    let mut out = render_human(&source, &report.diagnostics, false);
    out.push_str(&summary(&source, &report.diagnostics));
    out.push('\n');
    (out, report)
}

fn settings(dir: &str) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("tests/corpus/snapshots").join(dir));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

/// One fixture: it triggers the rule it is named after, and its findings match the snapshot.
fn check_fixture(stem: &str) {
    let path = root().join(format!("tests/corpus/invalid/{stem}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let (out, report) = rendered(&format!("{stem}.toml"), &text);
    assert!(
        report.diagnostics.iter().any(|d| d.name == stem),
        "{stem}.toml does not trigger rule `{stem}`:\n{out}"
    );
    settings("invalid").bind(|| insta::assert_snapshot!(stem.to_string(), out));
}

// `invalid_<fixture>` for every file of tests/corpus/invalid/, and `FIXTURES`: written by build.rs.
include!(concat!(env!("OUT_DIR"), "/corpus_tests.rs"));

/// Every rule has a fixture, and the generated tests cover every file there now.
#[test]
fn every_rule_has_a_fixture() {
    let files = toml_files(&root().join("tests/corpus/invalid"));
    let stems: Vec<String> = files
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        stems, FIXTURES,
        "the fixture list is stale: cargo builds the tests again when the directory changes"
    );
    for rule in sovereign_check::all_rules() {
        if rule.code == "SOV999" {
            continue;
        }
        assert!(
            stems.iter().any(|s| s == rule.name),
            "rule {} `{}` has no fixture in tests/corpus/invalid/",
            rule.code,
            rule.name
        );
    }
}

#[test]
fn examples_have_no_errors() {
    for path in toml_files(&root().join("examples")) {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let (out, report) = rendered(&format!("examples/{stem}.toml"), &text);
        assert_eq!(report.errors(), 0, "{stem}:\n{out}");
        assert!(report.validated.is_some());
        settings("examples").bind(|| insta::assert_snapshot!(stem, out));
    }
}

/// The docs list every rule (docs/rules.md) and every key of the topology format
/// (docs/topology.md).
#[test]
fn docs_list_rules_and_keys() {
    let rules = std::fs::read_to_string(root().join("docs/rules.md")).unwrap();
    let reference = std::fs::read_to_string(root().join("docs/topology.md")).unwrap();
    for rule in sovereign_check::all_rules() {
        if rule.code == "SOV999" {
            continue;
        }
        assert!(
            rules.contains(&format!(
                "| {} | {} | {} |",
                rule.code,
                rule.severity.as_str(),
                rule.name
            )),
            "docs/rules.md lacks {} {}",
            rule.code,
            rule.name
        );
    }
    // Every key the parser reads: the string literals passed to the table readers.
    let parser =
        std::fs::read_to_string(root().join("crates/sovereign-spec/src/parse.rs")).unwrap();
    let mut keys = Vec::new();
    for part in parser.split("(cx, \"").skip(1) {
        if let Some(end) = part.find('"') {
            keys.push(&part[..end]);
        }
    }
    assert!(keys.len() > 60, "found only {} keys", keys.len());
    for k in keys {
        let documented = [
            format!("`{k}`"),
            format!("[{k}]"),
            format!("[[{k}]]"),
            format!(".{k}]"),
        ]
        .iter()
        .any(|form| reference.contains(form.as_str()));
        assert!(documented, "docs/topology.md lacks `{k}`");
    }
}

/// Every checkov skip in the rendered default is listed, with its reason, in terraform/README.md.
#[test]
fn checkov_skips_are_listed() {
    let tree_readme = std::fs::read_to_string(root().join("terraform/README.md")).unwrap();
    let mut found = 0;
    for dir in ["terraform/modules", "terraform"] {
        let mut stack = vec![root().join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    if dir == "terraform/modules" {
                        stack.push(p);
                    }
                    continue;
                }
                if p.extension().is_none_or(|e| e != "tf") {
                    continue;
                }
                for line in std::fs::read_to_string(&p).unwrap().lines() {
                    if let Some(rest) = line.trim().strip_prefix("# checkov:skip=") {
                        let (check, reason) = rest.split_once(':').unwrap();
                        assert!(
                            reason.trim().len() > 20,
                            "{}: {check} has no real reason",
                            p.display()
                        );
                        assert!(
                            tree_readme.contains(check),
                            "{check} is not listed in terraform/README.md"
                        );
                        found += 1;
                    }
                }
            }
        }
    }
    assert!(found > 10);
}
