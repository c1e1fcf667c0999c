//! Any bytes through the whole front end and, when they pass `check`, the whole back end: parse,
//! every rule, both diagnostic renderers, the inventory, the cost estimate, survivability, and
//! the rendered tree, whose every file must parse with its own language's parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sovereign_catalog::{Catalog, Date};
use sovereign_cli::diagnostics::{json_report, render_human};
use sovereign_spec::Source;

fuzz_target!(|data: &[u8]| {
    let (text, parsed) = sovereign_spec::parse_bytes(data);
    let catalog = Catalog::builtin();
    let report = sovereign_check::check_parsed(parsed, catalog, Date::new(2026, 11, 26));
    let source = Source::new("fuzz.toml", text);
    let _ = render_human(&source, &report.diagnostics, false);
    let _ = json_report(&source, &report.diagnostics);
    let Some(v) = &report.validated else { return };
    let _ = sovereign_check::analysis::inventory::inventory(v);
    let _ = sovereign_cost::estimate(v, catalog);
    let a = sovereign_check::analysis::survivability::assumptions(v, catalog);
    for s in &v.sites {
        let _ = sovereign_check::analysis::survivability::scenario(
            v,
            catalog,
            &a,
            sovereign_check::analysis::survivability::Loss::Site { site: s.id.to_string() },
        );
    }
    // A topology that passes check renders, and every file it renders parses.
    let tree = sovereign_render::render(v, catalog, "fuzz.toml").expect("a checked topology renders");
    for (path, bytes) in tree.files() {
        let text = std::str::from_utf8(bytes).unwrap_or_else(|_| panic!("{path} is not UTF-8"));
        if path.ends_with(".tf") || path.ends_with(".tftest.hcl") {
            hcl::parse(text).unwrap_or_else(|e| panic!("{path}: {e}"));
        } else if path.ends_with(".json") {
            serde_json::from_str::<serde_json::Value>(text).unwrap_or_else(|e| panic!("{path}: {e}"));
        } else if (path.ends_with(".yaml") || path.ends_with(".yml")) && !path.contains("/templates/") {
            serde_saphyr::from_str::<serde_json::Value>(text).unwrap_or_else(|e| panic!("{path}: {e}"));
        } else if path.ends_with(".toml") {
            toml::from_str::<toml::Table>(text).unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }
});
