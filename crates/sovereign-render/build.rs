//! Embeds the hand-written Terraform modules and Helm charts (`assets/modules`, `assets/charts`
//! in this crate), which are the source of truth, into the renderer. Render copies them into
//! every tree it writes, so the repository's `terraform/` holds generated files only.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let terraform = manifest.join("assets");
    let mut code = String::from("&[\n");
    for sub in ["modules", "charts"] {
        let dir = terraform.join(sub);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files = Vec::new();
        walk(&dir, &mut files);
        for f in files {
            println!("cargo:rerun-if-changed={}", f.display());
            let rel = f
                .strip_prefix(&terraform)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let _ = writeln!(
                code,
                "    ({rel:?}, include_bytes!({:?}) as &[u8]),",
                f.canonicalize().unwrap()
            );
        }
    }
    code.push_str("]\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded.rs");
    std::fs::write(out, code).unwrap();
}
