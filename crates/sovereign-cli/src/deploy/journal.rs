//! The deployment journal: one JSON file beside the tree recording each step's state, so that
//! running `sovereign deploy` again continues where the last run stopped.
//!
//! The file is replaced whole through a temporary sibling and a rename on every change: a
//! reader (or a run after a crash) sees the previous state or the next one, never half of one.
//! A step found `running` was interrupted (the process was killed): it runs again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sovereign_render::deploy::Step;

use super::plan_summary::PlanSummary;

/// The journal format this version writes and reads.
pub const FORMAT: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Journal {
    pub format: u32,
    /// The tree the steps ran in.
    pub tree: String,
    /// The engine of the last run (`terraform`, `tofu`).
    pub engine: String,
    /// Unix seconds.
    pub created: u64,
    pub updated: u64,
    pub steps: Vec<StepRecord>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Not run yet.
    Pending,
    /// Started and not finished; found so by a later run, it was interrupted.
    Running,
    /// Finished: applied, run, or (for a manual step) checked or confirmed.
    Done,
    /// Its command failed or its plan was refused; the record says why.
    Failed,
    /// Not run because a step it needs did not finish.
    Skipped,
    /// A manual step a person has not done yet (or that could not be checked).
    Waiting,
    /// The person answered no when asked to apply.
    Declined,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Done => "done",
            StepState::Failed => "failed",
            StepState::Skipped => "skipped",
            StepState::Waiting => "waiting",
            StepState::Declined => "declined",
        }
    }
}

/// A failed command: what ran, how it ended, the end of its output and where the rest is.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Failure {
    pub command: String,
    /// Exit status; none when the program could not start or was killed by a signal.
    pub exit_code: Option<i32>,
    pub last_lines: Vec<String>,
    pub log: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StepRecord {
    pub name: String,
    pub state: StepState,
    /// Unix seconds of the last start and finish.
    pub started: Option<u64>,
    pub finished: Option<u64>,
    /// How many runs have started this step.
    pub attempts: u32,
    /// Why it was skipped, what it waits for, what was refused, or how a manual step was done.
    pub detail: Option<String>,
    /// The plan summary of the last apply (root steps).
    pub plan: Option<PlanSummary>,
    pub failure: Option<Failure>,
    /// The step's full log.
    pub log: Option<String>,
}

impl StepRecord {
    pub fn new(name: &str) -> Self {
        StepRecord {
            name: name.to_string(),
            state: StepState::Pending,
            started: None,
            finished: None,
            attempts: 0,
            detail: None,
            plan: None,
            failure: None,
            log: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot read the journal `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the journal `{path}` is not a deployment journal: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "the journal `{path}` has format {found}; this sovereign reads format {FORMAT} (start a new one with --fresh)"
    )]
    Format { path: PathBuf, found: u32 },
    #[error("cannot write the journal `{path}`: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Where the journal of `tree` lives: `<parent>/<tree name>.deploy.json`.
pub fn path_for(tree: &Path) -> PathBuf {
    sibling(tree, ".deploy.json")
}

/// The directory of a tree's deployment logs, plan files and outputs: `<parent>/<tree name>.deploy`.
pub fn artefacts_for(tree: &Path) -> PathBuf {
    sibling(tree, ".deploy")
}

fn sibling(tree: &Path, suffix: &str) -> PathBuf {
    let abs = std::path::absolute(tree).unwrap_or_else(|_| tree.to_path_buf());
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tree".into());
    let parent = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    parent.join(format!("{name}{suffix}"))
}

impl Journal {
    pub fn new(tree: &Path, engine: &str) -> Self {
        let t = now();
        Journal {
            format: FORMAT,
            tree: tree.display().to_string(),
            engine: engine.to_string(),
            created: t,
            updated: t,
            steps: Vec::new(),
        }
    }

    /// The journal at `path`, or none when there is no file.
    pub fn load(path: &Path) -> Result<Option<Journal>, JournalError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(JournalError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let format = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("format").and_then(|f| f.as_u64()));
        if let Some(f) = format
            && f != u64::from(FORMAT)
        {
            return Err(JournalError::Format {
                path: path.to_path_buf(),
                found: u32::try_from(f).unwrap_or(u32::MAX),
            });
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| JournalError::Parse {
                path: path.to_path_buf(),
                source,
            })
    }

    /// Writes the whole journal through a temporary sibling and a rename.
    pub fn save(&mut self, path: &Path) -> Result<(), JournalError> {
        self.updated = now();
        let err = |source| JournalError::Write {
            path: path.to_path_buf(),
            source,
        };
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| err(std::io::Error::other(e.to_string())))?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "journal".into());
        let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
        std::fs::write(&tmp, format!("{text}\n")).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })
    }

    /// Lines the journal up with the current step list: a record per step, in the steps'
    /// order, keeping what the journal knew of steps with the same name. Records of steps the
    /// list no longer has are dropped.
    pub fn align(&mut self, steps: &[Step]) {
        let mut old = std::mem::take(&mut self.steps);
        for s in steps {
            match old.iter().position(|r| r.name == s.name) {
                Some(i) => self.steps.push(old.swap_remove(i)),
                None => self.steps.push(StepRecord::new(&s.name)),
            }
        }
    }

    pub fn record(&self, name: &str) -> Option<&StepRecord> {
        self.steps.iter().find(|r| r.name == name)
    }

    pub fn record_mut(&mut self, name: &str) -> Option<&mut StepRecord> {
        self.steps.iter_mut().find(|r| r.name == name)
    }

    pub fn state(&self, name: &str) -> StepState {
        self.record(name)
            .map(|r| r.state)
            .unwrap_or(StepState::Pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sovereign_render::deploy::{Action, Step};

    fn step(name: &str) -> Step {
        Step {
            name: name.into(),
            why: String::new(),
            commands: Vec::new(),
            action: Action::Manual { check: None },
            after: Vec::new(),
            sites: Vec::new(),
        }
    }

    #[test]
    fn align_keeps_known_steps_and_follows_the_new_order() {
        let mut j = Journal::new(Path::new("t"), "terraform");
        j.align(&[step("a"), step("b"), step("c")]);
        j.record_mut("b").unwrap().state = StepState::Done;
        j.record_mut("c").unwrap().state = StepState::Failed;
        j.align(&[step("c"), step("b"), step("d")]);
        let names: Vec<&str> = j.steps.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["c", "b", "d"]);
        assert_eq!(j.state("b"), StepState::Done);
        assert_eq!(j.state("c"), StepState::Failed);
        assert_eq!(j.state("d"), StepState::Pending);
        assert_eq!(j.state("a"), StepState::Pending, "dropped");
    }

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("terraform"));
        assert_eq!(path, dir.path().join("terraform.deploy.json"));
        assert!(Journal::load(&path).unwrap().is_none());
        let mut j = Journal::new(&dir.path().join("terraform"), "tofu");
        j.align(&[step("bootstrap")]);
        j.record_mut("bootstrap").unwrap().state = StepState::Running;
        j.save(&path).unwrap();
        let back = Journal::load(&path).unwrap().unwrap();
        assert_eq!(back.steps, j.steps);
        assert_eq!(back.engine, "tofu");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["terraform.deploy.json"]);
    }

    #[test]
    fn a_foreign_or_newer_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.json");
        std::fs::write(&p, "{\"format\": 9, \"steps\": []}").unwrap();
        assert!(matches!(
            Journal::load(&p),
            Err(JournalError::Format { found: 9, .. })
        ));
        std::fs::write(&p, "not json").unwrap();
        assert!(matches!(Journal::load(&p), Err(JournalError::Parse { .. })));
    }
}
