//! Any bytes through the whole front end: parse, every rule, both renderers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sovereign_catalog::{Catalog, Date};
use sovereign_cli::diagnostics::{json_report, render_human};
use sovereign_spec::Source;

fuzz_target!(|data: &[u8]| {
    let (text, parsed) = sovereign_spec::parse_bytes(data);
    let report = sovereign_check::check_parsed(parsed, Catalog::builtin(), Date::new(2026, 11, 26));
    let source = Source::new("fuzz.toml", text);
    let _ = render_human(&source, &report.diagnostics, false);
    let _ = json_report(&source, &report.diagnostics);
    if let Some(v) = &report.validated {
        let _ = sovereign_check::analysis::inventory::inventory(v);
    }
});
