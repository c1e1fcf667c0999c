//! One file per subcommand: its arguments and a `run` that calls one library operation.

pub mod check;
pub mod cost;
pub mod deploy;
pub mod explain;
pub mod init;
pub mod lab;
pub mod lab_drill;
pub mod load;
pub mod plan;
pub mod render;
pub mod report;
pub mod verify;

use std::path::Path;

use crate::exit::CliError;

/// Writes a file through a temporary sibling and a rename, so readers never see half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .map_err(|e| CliError::io(format!("cannot write `{}`", path.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::io(format!("cannot write `{}`", path.display()), e)
    })
}

/// Pretty JSON; serialisation of our own types cannot fail, but say so if it ever does.
pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(|e| CliError::io("cannot serialise JSON", e))
}
