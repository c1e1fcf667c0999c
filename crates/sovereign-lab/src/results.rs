//! The latest result of each drill and load run, kept in the lab's directory as
//! `results/<kind>.json` so `sovereign report --lab DIR` can show what was measured.
//! Each file holds one [`Recorded`] report; a newer run of the same kind replaces it.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::LabError;
use crate::drill::{DcLossReport, FailoverReport, RestoreReport};
use crate::load::LoadReport;

/// The directory, inside the lab's, that holds the results.
pub const RESULTS_DIR: &str = "results";

/// What ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Load,
    Failover,
    Restore,
    DcLoss,
}

impl Kind {
    pub fn file_name(self) -> &'static str {
        match self {
            Kind::Load => "load.json",
            Kind::Failover => "failover.json",
            Kind::Restore => "restore.json",
            Kind::DcLoss => "dc-loss.json",
        }
    }
}

/// One report with the time it finished.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Recorded<T> {
    /// Seconds since the Unix epoch, UTC.
    pub finished_unix: u64,
    pub report: T,
}

/// The latest result of each kind, where one exists.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Latest {
    pub load: Option<Recorded<LoadReport>>,
    pub failover: Option<Recorded<FailoverReport>>,
    pub restore: Option<Recorded<RestoreReport>>,
    pub dc_loss: Option<Recorded<DcLossReport>>,
}

impl Latest {
    pub fn is_empty(&self) -> bool {
        self.load.is_none()
            && self.failover.is_none()
            && self.restore.is_none()
            && self.dc_loss.is_none()
    }
}

/// Keeps `report` as the latest of its kind (written beside and renamed, never half a file).
pub fn save<T: Serialize>(dir: &Path, kind: Kind, report: &T) -> Result<PathBuf, LabError> {
    let results = dir.join(RESULTS_DIR);
    std::fs::create_dir_all(&results)
        .map_err(|e| LabError::io(format!("cannot create {}", results.display()), e))?;
    let finished_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let text = serde_json::to_string_pretty(&Recorded {
        finished_unix,
        report,
    })
    .map_err(|e| LabError::json(format!("cannot serialise the {kind:?} result"), e))?;
    let path = results.join(kind.file_name());
    let tmp = results.join(format!(".{}.tmp{}", kind.file_name(), std::process::id()));
    std::fs::write(&tmp, text)
        .map_err(|e| LabError::io(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        LabError::io(format!("cannot write {}", path.display()), e)
    })?;
    Ok(path)
}

fn read<T: DeserializeOwned>(dir: &Path, kind: Kind) -> Result<Option<Recorded<T>>, LabError> {
    let path = dir.join(RESULTS_DIR).join(kind.file_name());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LabError::io(format!("cannot read {}", path.display()), e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| LabError::json(path.display().to_string(), e))
}

/// The latest results in a lab directory; a directory without any gives an empty [`Latest`].
pub fn latest(dir: &Path) -> Result<Latest, LabError> {
    Ok(Latest {
        load: read(dir, Kind::Load)?,
        failover: read(dir, Kind::Failover)?,
        restore: read(dir, Kind::Restore)?,
        dc_loss: read(dir, Kind::DcLoss)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::SiteLag;

    #[test]
    fn saves_and_reads_the_latest() {
        let dir = tempfile::tempdir().unwrap();
        assert!(latest(dir.path()).unwrap().is_empty());
        let mut r = LoadReport {
            primary: "ams".into(),
            writes: 10,
            seconds: 1.0,
            rate_asked: 10,
            rate_achieved: 10.0,
            commit_p50_ms: 1.0,
            commit_p99_ms: 2.0,
            latency_scale: 1.0,
            sites: vec![SiteLag {
                site: "iad".into(),
                role: "secondary".into(),
                seen: 10,
                missing: 0,
                p50_ms: 40.0,
                p99_ms: 80.0,
                max_ms: 90.0,
                why_missing: None,
            }],
        };
        save(dir.path(), Kind::Load, &r).unwrap();
        r.writes = 20;
        save(dir.path(), Kind::Load, &r).unwrap();
        let l = latest(dir.path()).unwrap();
        let load = l.load.unwrap().report;
        assert_eq!(load.writes, 20);
        assert_eq!(load.sites[0].p99_ms, 80.0);
        assert!(l.failover.is_none());
        std::fs::write(dir.path().join("results/restore.json"), "{").unwrap();
        let e = latest(dir.path()).unwrap_err().to_string();
        assert!(e.contains("restore.json"), "{e}");
    }
}
