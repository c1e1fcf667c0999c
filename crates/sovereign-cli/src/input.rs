//! Loading the topology: a file, standard input (`-`), or the embedded default.

use std::path::{Path, PathBuf};

use sovereign_catalog::{Catalog, Date};
use sovereign_check::Report;
use sovereign_spec::Source;

use crate::exit::CliError;

/// The largest topology file read, to keep a stray argument from eating memory.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// A loaded and checked topology.
pub struct Loaded {
    pub source: Source,
    pub report: Report,
}

/// Reads `path` (or the embedded default when `None`) and runs every rule.
pub fn load(path: Option<&Path>) -> Result<Loaded, CliError> {
    let (name, bytes) = match path {
        None => {
            let s = Source::default_topology();
            (s.name, s.text.into_bytes())
        }
        Some(p) if p == Path::new("-") => {
            let mut buf = Vec::new();
            use std::io::Read;
            std::io::stdin()
                .take(MAX_BYTES + 1)
                .read_to_end(&mut buf)
                .map_err(|e| CliError::io("cannot read standard input", e))?;
            ("<stdin>".to_string(), buf)
        }
        Some(p) => (p.display().to_string(), read_file(p)?),
    };
    if bytes.len() as u64 > MAX_BYTES {
        return Err(CliError::usage(format!(
            "`{name}` is larger than {} MiB; that is not a topology file",
            MAX_BYTES / 1024 / 1024
        )));
    }
    let (text, parsed) = sovereign_spec::parse_bytes(&bytes);
    let report = sovereign_check::check_parsed(parsed, Catalog::builtin(), Date::today());
    Ok(Loaded {
        source: Source::new(name, text),
        report,
    })
}

fn read_file(p: &Path) -> Result<Vec<u8>, CliError> {
    let meta = std::fs::metadata(p)
        .map_err(|e| CliError::io(format!("cannot read `{}`", p.display()), e))?;
    if meta.is_dir() {
        return Err(CliError::usage(format!(
            "`{}` is a directory; give a topology file such as `{}`",
            p.display(),
            PathBuf::from(p).join("sovereign.toml").display()
        )));
    }
    if meta.len() > MAX_BYTES {
        return Err(CliError::usage(format!(
            "`{}` is larger than {} MiB; that is not a topology file",
            p.display(),
            MAX_BYTES / 1024 / 1024
        )));
    }
    std::fs::read(p).map_err(|e| CliError::io(format!("cannot read `{}`", p.display()), e))
}
