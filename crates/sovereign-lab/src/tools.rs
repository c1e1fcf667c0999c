//! Which build of an engine the lab runs: the one `scripts/fetch-tools` builds from the Go module
//! proxy at the version the rendered tree deploys, else Debian's package.
//!
//! The exporters and Alertmanager the tree deploys are newer than Debian's (postgres_exporter
//! 0.11.1, redis_exporter 1.45.0, Alertmanager 0.25): metric names differ between those
//! releases, so the lab prefers the pinned builds and says so when it has to fall back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::process::which;

/// An engine the lab can run from either source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    PostgresExporter,
    RedisExporter,
    Alertmanager,
}

impl Tool {
    /// The binary `scripts/fetch-tools` writes into the cache.
    pub fn built_name(self) -> &'static str {
        match self {
            Tool::PostgresExporter => "postgres_exporter",
            Tool::RedisExporter => "redis_exporter",
            Tool::Alertmanager => "alertmanager",
        }
    }

    /// Debian's program and package.
    pub fn debian(self) -> (&'static str, &'static str) {
        match self {
            Tool::PostgresExporter => (
                "prometheus-postgres-exporter",
                "prometheus-postgres-exporter",
            ),
            Tool::RedisExporter => ("prometheus-redis-exporter", "prometheus-redis-exporter"),
            Tool::Alertmanager => ("prometheus-alertmanager", "prometheus-alertmanager"),
        }
    }

    /// What to run to get it.
    pub fn install_hint(self) -> String {
        format!(
            "scripts/fetch-tools (builds {} at the version the tree deploys), or apt-get install {}",
            self.built_name(),
            self.debian().1
        )
    }
}

/// A program the lab runs and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Engine {
    pub path: PathBuf,
    /// The version `scripts/fetch-tools` stamped, or Debian's package version.
    pub version: String,
    /// Built by `scripts/fetch-tools` at the tree's version (not Debian's package).
    pub pinned: bool,
}

impl Engine {
    /// `v0.19.1 (scripts/fetch-tools)`, or `0.11.1-3+b5 (Debian's prometheus-postgres-exporter)`.
    pub fn describe(&self, tool: Tool) -> String {
        if self.pinned {
            format!("{} (scripts/fetch-tools)", self.version)
        } else {
            format!("{} (Debian's {})", self.version, tool.debian().1)
        }
    }
}

/// Where `scripts/fetch-tools` puts what it builds: `$XDG_CACHE_HOME/sovereign/tools/bin`, else
/// `~/.cache/sovereign/tools/bin`.
pub fn cache_bin() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|c| c.join("sovereign").join("tools").join("bin"))
}

/// The pinned build in `bin` (a binary with its `.version` stamp), if there is one.
pub fn built_in(bin: &Path, tool: Tool) -> Option<Engine> {
    let path = bin.join(tool.built_name());
    let stamp = std::fs::read_to_string(bin.join(format!("{}.version", tool.built_name()))).ok()?;
    // Stamps may carry how the build was made after the version (`v0.34.0-placeholder-ui`).
    let version = stamp
        .trim()
        .split('-')
        .next()
        .unwrap_or_default()
        .to_string();
    (path.is_file() && version.starts_with('v')).then_some(Engine {
        path,
        version,
        pinned: true,
    })
}

/// The pinned build when the cache has it, else Debian's program on the PATH.
pub fn find(tool: Tool) -> Option<Engine> {
    if let Some(e) = cache_bin().and_then(|b| built_in(&b, tool)) {
        return Some(e);
    }
    let (program, package) = tool.debian();
    which(program).map(|path| Engine {
        path,
        version: debian_version(package).unwrap_or_else(|| "unknown version".into()),
        pinned: false,
    })
}

fn debian_version(package: &str) -> Option<String> {
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !v.is_empty()).then_some(v)
}

/// The builds this lab will run, by tool, and a note for each that is not the tree's version.
pub fn in_use(tools: &[Tool]) -> (BTreeMap<String, String>, Vec<String>) {
    let mut engines = BTreeMap::new();
    let mut notes = Vec::new();
    for &tool in tools {
        match find(tool) {
            Some(e) => {
                engines.insert(tool.built_name().to_string(), e.describe(tool));
                if !e.pinned {
                    notes.push(format!(
                        "{} is Debian's {} ({}), not the version the rendered tree deploys: scripts/fetch-tools builds it",
                        tool.built_name(),
                        tool.debian().1,
                        e.version
                    ));
                }
            }
            None => {
                engines.insert(tool.built_name().to_string(), "not installed".into());
            }
        }
    }
    (engines, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_counts_only_with_its_version_stamp() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(built_in(d.path(), Tool::Alertmanager), None);
        std::fs::write(d.path().join("alertmanager"), "").unwrap();
        assert_eq!(built_in(d.path(), Tool::Alertmanager), None, "no stamp");
        std::fs::write(
            d.path().join("alertmanager.version"),
            "v0.34.0-placeholder-ui\n",
        )
        .unwrap();
        let e = built_in(d.path(), Tool::Alertmanager).unwrap();
        assert_eq!(e.version, "v0.34.0");
        assert!(e.pinned);
        assert_eq!(
            e.describe(Tool::Alertmanager),
            "v0.34.0 (scripts/fetch-tools)"
        );
    }
}
