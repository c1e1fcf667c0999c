//! One named test per fixture of the corpus (`tests/corpus/invalid/*.toml`): the corpus test
//! includes the generated list, so `cargo test` names each fixture that fails, and a new file is
//! a new test without editing any code.

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let dir = manifest.join("../../tests/corpus/invalid");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut stems: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    stems.sort();
    let mut code = String::new();
    for stem in &stems {
        // Fixture names are rule names: lower-case words joined by `_`, valid identifiers.
        assert!(
            stem.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "tests/corpus/invalid/{stem}.toml: name a fixture after its rule (a-z, 0-9, _)"
        );
        let _ = writeln!(
            code,
            "#[test]\nfn invalid_{stem}() {{\n    check_fixture({stem:?});\n}}\n"
        );
    }
    let _ = writeln!(code, "const FIXTURES: &[&str] = &{stems:?};");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("corpus_tests.rs");
    std::fs::write(out, code).unwrap();
}
