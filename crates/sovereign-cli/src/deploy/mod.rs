//! `sovereign deploy`'s engine: runs the steps of [`sovereign_render::deploy::steps`] (the list
//! `sovereign plan` prints) against a rendered tree, with Terraform or OpenTofu.
//!
//! - A root step is `init`, `plan -out`, `show -json` (summarised: adds, changes, destroys, the
//!   stateful resources it would lose), a confirmation (unless `--yes`), `apply` of that plan,
//!   and for the global root `output -json` into the outputs file `verify` reads.
//! - A Fly.io step runs the tree's `fly/deploy.sh` functions; a run step its programs.
//! - A manual step is checked where a check exists (the zone's NS records, the cost allocation
//!   tags), else confirmed by the person (a prompt, or `--done NAME`), else left waiting.
//! - Steps start when every step they need has succeeded, up to `parallel` at a time; a step
//!   whose prerequisite failed, waits or was declined is skipped, and nothing else is held back.
//! - Every change of state is written to the [`journal`] before the run goes on, so a later run
//!   continues with the steps that did not finish.
//!
//! Printing and prompting go through [`Ui`]: the CLI front end draws progress, tests record.

pub mod journal;
pub mod plan_summary;

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use sovereign_render::deploy::{Action, ManualCheck, Step};

use journal::{Failure, Journal, JournalError, StepRecord, StepState};
use plan_summary::PlanSummary;

/// How many lines of a failed command's output the summary quotes.
pub const TAIL_LINES: usize = 15;

/// Everything a run needs besides the steps and the journal.
#[derive(Clone, Debug)]
pub struct Config {
    /// The rendered tree (absolute).
    pub tree: PathBuf,
    /// The engine program: `terraform`, `tofu`, or a path.
    pub engine: String,
    /// Steps running at once (at least 1).
    pub parallel: usize,
    /// Apply without asking.
    pub yes: bool,
    /// Plan root steps; apply, run and change nothing.
    pub plan_only: bool,
    /// Apply plans that destroy or replace stateful resources.
    pub allow_destroy: bool,
    /// `-backend-config` values for the roots that declare a backend.
    pub backend_config: Vec<String>,
    /// Manual steps the person says are done.
    pub done: Vec<String>,
    /// Resolvers for the delegation check (default: the system's).
    pub resolvers: Vec<SocketAddr>,
    /// Logs, plan files and the outputs file.
    pub artefacts: PathBuf,
    /// Rerun steps the journal records as done (an explicit `--only` or `--phase`).
    pub rerun_done: bool,
}

impl Config {
    pub fn logs(&self) -> PathBuf {
        self.artefacts.join("logs")
    }
    pub fn outputs_file(&self) -> PathBuf {
        self.artefacts.join("outputs.json")
    }
}

/// What the engine reports while it works.
#[derive(Debug)]
pub enum Event<'a> {
    Started {
        step: &'a str,
        attempt: u32,
    },
    /// A command of a step starts.
    Command {
        step: &'a str,
        command: &'a str,
    },
    /// A root's plan, before it is applied.
    Planned {
        step: &'a str,
        summary: &'a PlanSummary,
    },
    /// A step ended (done, failed, waiting, declined, skipped, or planned in plan-only runs).
    Finished {
        step: &'a str,
        record: &'a StepRecord,
        seconds: u64,
    },
    OutputsWritten {
        path: &'a Path,
    },
}

/// The front end: progress and questions.
pub trait Ui: Sync {
    fn event(&self, e: Event<'_>);
    /// Whether to apply a root's plan (asked only without `--yes`).
    fn confirm_apply(&self, step: &str, summary: &PlanSummary) -> bool;
    /// Shows a manual step's instructions; true when the person says it is done.
    fn confirm_manual(&self, step: &str, instructions: &str) -> bool;
}

/// How a step ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub state: StepState,
    pub detail: Option<String>,
    pub plan: Option<PlanSummary>,
    pub failure: Option<Failure>,
    pub log: Option<PathBuf>,
}

impl Outcome {
    fn new(state: StepState, detail: impl Into<Option<String>>) -> Self {
        Outcome {
            state,
            detail: detail.into(),
            plan: None,
            failure: None,
            log: None,
        }
    }
    fn failed(f: Failure, log: &Path) -> Self {
        Outcome {
            state: StepState::Failed,
            detail: Some(format!(
                "`{}` {}",
                f.command,
                match f.exit_code {
                    Some(c) => format!("exited with {c}"),
                    None => "did not run to its end".into(),
                }
            )),
            plan: None,
            failure: Some(f),
            log: Some(log.to_path_buf()),
        }
    }
}

/// Which steps a run takes on: `selected[i]` for `steps[i]`.
pub struct Selection {
    pub selected: Vec<bool>,
}

/// The result of a run: per step, what this run did with it (none: not taken on). In a
/// plan-only run the state of a planned root is `Pending`, its detail the plan.
pub struct RunResult {
    pub finished: Vec<Option<StepRecord>>,
}

/// A file name for a step: `site ams` → `site-ams`.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Runs the selected steps. The journal is saved after every change when `journal_path` is
/// given (plan-only runs pass none: they change no recorded state).
pub fn run(
    steps: &[Step],
    selection: &Selection,
    journal: &mut Journal,
    journal_path: Option<&Path>,
    cfg: &Config,
    ui: &dyn Ui,
) -> Result<RunResult, JournalError> {
    journal.align(steps);
    let n = steps.len();
    // Done steps run again only when asked for by name (or planned again by a plan-only
    // run); a manual step once done stays done.
    let todo: Vec<bool> = (0..n)
        .map(|i| {
            let manual = matches!(steps[i].action, Action::Manual { .. });
            selection.selected[i]
                && ((cfg.rerun_done && !manual) || journal.state(&steps[i].name) != StepState::Done)
        })
        .collect();
    let mut shown: Vec<Option<StepRecord>> = vec![None; n];
    let mut finished: Vec<Option<StepState>> = vec![None; n];
    let mut started = vec![false; n];
    let mut started_at = vec![std::time::Instant::now(); n];
    let save = |j: &mut Journal| -> Result<(), JournalError> {
        match journal_path {
            Some(p) => j.save(p),
            None => Ok(()),
        }
    };
    let index = |name: &str| steps.iter().position(|s| s.name == name);
    std::thread::scope(|scope| -> Result<(), JournalError> {
        let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
        let mut running = 0usize;
        loop {
            let mut ready = Vec::new();
            for i in 0..n {
                if !todo[i] || started[i] {
                    continue;
                }
                match readiness(steps, i, &finished, &todo, journal, cfg, &index) {
                    Readiness::Ready => ready.push(i),
                    Readiness::Wait => {}
                    Readiness::Skip(reason) => {
                        started[i] = true;
                        finished[i] = Some(StepState::Skipped);
                        if journal_path.is_some()
                            && let Some(r) = journal.record_mut(&steps[i].name)
                        {
                            r.state = StepState::Skipped;
                            r.detail = Some(reason.clone());
                            r.failure = None;
                        }
                        let mut rec = journal
                            .record(&steps[i].name)
                            .cloned()
                            .unwrap_or_else(|| StepRecord::new(&steps[i].name));
                        rec.state = StepState::Skipped;
                        rec.detail = Some(reason);
                        save(journal)?;
                        ui.event(Event::Finished {
                            step: &steps[i].name,
                            record: &rec,
                            seconds: 0,
                        });
                        shown[i] = Some(rec);
                    }
                }
            }
            for i in ready {
                if running >= cfg.parallel.max(1) {
                    break;
                }
                started[i] = true;
                started_at[i] = std::time::Instant::now();
                running += 1;
                let attempt = {
                    let r = journal
                        .record_mut(&steps[i].name)
                        .expect("aligned with the steps");
                    if journal_path.is_some() {
                        r.state = StepState::Running;
                        r.started = Some(journal::now());
                        r.finished = None;
                        r.attempts += 1;
                        r.attempts
                    } else {
                        r.attempts + 1
                    }
                };
                save(journal)?;
                ui.event(Event::Started {
                    step: &steps[i].name,
                    attempt,
                });
                let tx = tx.clone();
                let step = &steps[i];
                scope.spawn(move || {
                    let outcome = run_step(step, cfg, ui);
                    let _ = tx.send((i, outcome));
                });
            }
            if running == 0 {
                break;
            }
            let Ok((i, outcome)) = rx.recv() else {
                break;
            };
            running -= 1;
            finished[i] = Some(outcome.state);
            let mut rec = journal
                .record(&steps[i].name)
                .cloned()
                .unwrap_or_else(|| StepRecord::new(&steps[i].name));
            // A plan-only run records nothing; a planned root stays what it was.
            if journal_path.is_some() {
                rec.state = outcome.state;
                rec.finished = Some(journal::now());
            }
            rec.detail = outcome.detail.clone();
            rec.failure = outcome.failure.clone();
            if outcome.plan.is_some() {
                rec.plan = outcome.plan.clone();
            }
            if let Some(l) = &outcome.log {
                rec.log = Some(l.display().to_string());
            }
            if journal_path.is_some()
                && let Some(r) = journal.record_mut(&steps[i].name)
            {
                *r = rec.clone();
            }
            save(journal)?;
            let mut this_run = rec.clone();
            this_run.state = outcome.state;
            ui.event(Event::Finished {
                step: &steps[i].name,
                record: &this_run,
                seconds: started_at[i].elapsed().as_secs(),
            });
            shown[i] = Some(this_run);
        }
        Ok(())
    })?;
    Ok(RunResult { finished: shown })
}

enum Readiness {
    Ready,
    Wait,
    Skip(String),
}

/// Whether step `i` can start now, must wait for a running or pending step, or cannot run.
fn readiness(
    steps: &[Step],
    i: usize,
    finished: &[Option<StepState>],
    todo: &[bool],
    journal: &Journal,
    cfg: &Config,
    index: &dyn Fn(&str) -> Option<usize>,
) -> Readiness {
    let mut wait = false;
    for dep in &steps[i].after {
        let Some(d) = index(dep) else {
            continue;
        };
        let state = match finished[d] {
            // Planned again by a plan-only run, and applied before it.
            Some(StepState::Pending) if cfg.plan_only && journal.state(dep) == StepState::Done => {
                StepState::Done
            }
            Some(s) => s,
            None => journal.state(dep),
        };
        match (finished[d], state) {
            (_, StepState::Done) => {}
            (Some(_), StepState::Failed) => return Readiness::Skip(format!("`{dep}` failed")),
            (Some(_), StepState::Waiting) => {
                return Readiness::Skip(format!("waits for `{dep}` (a manual step)"));
            }
            (Some(_), StepState::Declined) => {
                return Readiness::Skip(format!("`{dep}` was not applied (declined)"));
            }
            (Some(_), StepState::Skipped) => {
                return Readiness::Skip(format!("`{dep}` did not run"));
            }
            (Some(_), _) if cfg.plan_only => {
                return Readiness::Skip(format!(
                    "not planned: needs `{dep}` applied first (plan-only run)"
                ));
            }
            (Some(_), s) => {
                return Readiness::Skip(format!("`{dep}` ended {}", s.as_str()));
            }
            (None, _) if todo[d] => wait = true,
            (None, s) => {
                return Readiness::Skip(if cfg.plan_only {
                    format!(
                        "not planned: needs `{dep}` applied first (it is {})",
                        s.as_str()
                    )
                } else {
                    format!(
                        "needs `{dep}`, which is {} (deploy it first, or run without --only/--phase)",
                        s.as_str()
                    )
                });
            }
        }
    }
    if wait {
        Readiness::Wait
    } else {
        Readiness::Ready
    }
}

/// Runs one step to its end.
pub fn run_step(step: &Step, cfg: &Config, ui: &dyn Ui) -> Outcome {
    let log = cfg.logs().join(format!("{}.log", slug(&step.name)));
    if let Err(e) = std::fs::create_dir_all(cfg.logs()) {
        return Outcome::new(
            StepState::Failed,
            format!("cannot create `{}`: {e}", cfg.logs().display()),
        );
    }
    let mut runner = match Runner::new(&step.name, &log, ui) {
        Ok(r) => r,
        Err(e) => return Outcome::new(StepState::Failed, e),
    };
    let mut out = match &step.action {
        Action::Root {
            root,
            verify_outputs,
            ..
        } => root_step(step, root, *verify_outputs, cfg, &mut runner, ui),
        Action::Fly { script, functions } => fly_step(script, functions, cfg, &mut runner),
        Action::Run { argv } => run_programs(argv, cfg, &mut runner),
        Action::Manual { check } => manual_step(step, check.as_ref(), cfg, &mut runner, ui),
    };
    if out.log.is_none() {
        out.log = Some(log);
    }
    out
}

/// Runs commands of one step, their output appended to the step's log.
struct Runner<'a> {
    step: &'a str,
    log: PathBuf,
    file: File,
    ui: &'a dyn Ui,
}

impl<'a> Runner<'a> {
    fn new(step: &'a str, log: &Path, ui: &'a dyn Ui) -> Result<Self, String> {
        let file = open_private(log, false)
            .map_err(|e| format!("cannot write the log `{}`: {e}", log.display()))?;
        Ok(Runner {
            step,
            log: log.to_path_buf(),
            file,
            ui,
        })
    }

    fn note(&mut self, text: &str) {
        let _ = writeln!(self.file, "{text}");
    }

    /// Runs `program args` in `cwd`; standard output goes to the log, or is returned when
    /// `capture` (it may hold secrets: never logged).
    fn exec(
        &mut self,
        shown: &str,
        cwd: &Path,
        program: &str,
        args: &[String],
        env: &[(&str, String)],
        capture: bool,
    ) -> Result<String, Failure> {
        self.ui.event(Event::Command {
            step: self.step,
            command: shown,
        });
        self.note(&format!("$ {shown}"));
        let start = self.file.metadata().map(|m| m.len()).unwrap_or(0);
        let err_file = self.file.try_clone();
        let out_file = self.file.try_clone();
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0");
        for (k, v) in env {
            cmd.env(k, v);
        }
        match (capture, out_file) {
            (true, _) => {
                cmd.stdout(Stdio::piped());
            }
            (false, Ok(f)) => {
                cmd.stdout(f);
            }
            (false, Err(_)) => {
                cmd.stdout(Stdio::null());
            }
        }
        match err_file {
            Ok(f) => cmd.stderr(f),
            Err(_) => cmd.stderr(Stdio::null()),
        };
        let result = cmd.output();
        match result {
            Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
            Ok(o) => {
                self.note(&format!("# exit status: {}", o.status));
                Err(Failure {
                    command: shown.to_string(),
                    exit_code: o.status.code(),
                    last_lines: tail(&self.log, start, TAIL_LINES),
                    log: self.log.display().to_string(),
                })
            }
            Err(e) => {
                self.note(&format!("# cannot run `{program}`: {e}"));
                Err(Failure {
                    command: shown.to_string(),
                    exit_code: None,
                    last_lines: vec![format!("cannot run `{program}`: {e}")],
                    log: self.log.display().to_string(),
                })
            }
        }
    }
}

/// Opens a file only its owner can read (logs and outputs can hold secrets).
fn open_private(path: &Path, truncate_only: bool) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).write(true);
    if truncate_only {
        o.truncate(true);
    } else {
        o.append(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// The last `n` lines written to `log` after byte `from`.
fn tail(log: &Path, from: u64, n: usize) -> Vec<String> {
    use std::io::{Seek, SeekFrom};
    let Ok(mut f) = File::open(log) else {
        return Vec::new();
    };
    if f.seek(SeekFrom::Start(from)).is_err() {
        return Vec::new();
    }
    let lines: Vec<String> = BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// True when a root's configuration declares a backend (`-backend-config` applies to it).
fn declares_backend(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let p = e.path();
        p.extension().is_some_and(|x| x == "tf")
            && !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with("_override.tf"))
            && std::fs::read_to_string(&p)
                .is_ok_and(|t| t.lines().any(|l| l.trim_start().starts_with("backend \"")))
    })
}

fn engine_name(cfg: &Config) -> String {
    Path::new(&cfg.engine)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| cfg.engine.clone())
}

fn root_step(
    step: &Step,
    root: &str,
    verify_outputs: bool,
    cfg: &Config,
    r: &mut Runner<'_>,
    ui: &dyn Ui,
) -> Outcome {
    let dir = if root == "." {
        cfg.tree.clone()
    } else {
        cfg.tree.join(root)
    };
    let e = engine_name(cfg);
    let chdir = format!("-chdir={}", dir.display());
    let plan_dir = cfg.artefacts.join("plans");
    if let Err(err) = std::fs::create_dir_all(&plan_dir) {
        return Outcome::new(
            StepState::Failed,
            format!("cannot create `{}`: {err}", plan_dir.display()),
        );
    }
    let plan_file = plan_dir.join(format!("{}.tfplan", slug(&step.name)));
    let env: Vec<(&str, String)> = Vec::new();
    let args = |a: &[&str]| -> Vec<String> { a.iter().map(|s| s.to_string()).collect() };

    let mut init = args(&["init", "-input=false", "-no-color"]);
    if declares_backend(&dir) {
        init.extend(
            cfg.backend_config
                .iter()
                .map(|b| format!("-backend-config={b}")),
        );
    }
    let shown = format!("{e} {chdir} {}", init.join(" "));
    if let Err(f) = r.exec(&shown, &dir, &cfg.engine, &init, &env, false) {
        return Outcome::failed(f, &r.log);
    }
    let plan = vec![
        "plan".to_string(),
        "-input=false".into(),
        "-no-color".into(),
        format!("-out={}", plan_file.display()),
    ];
    let shown = format!("{e} {chdir} {}", plan.join(" "));
    if let Err(f) = r.exec(&shown, &dir, &cfg.engine, &plan, &env, false) {
        return Outcome::failed(f, &r.log);
    }
    let show = vec![
        "show".to_string(),
        "-json".into(),
        "-no-color".into(),
        plan_file.display().to_string(),
    ];
    let shown = format!("{e} {chdir} {}", show.join(" "));
    let summary = match r.exec(&shown, &dir, &cfg.engine, &show, &env, true) {
        Ok(json) => match PlanSummary::from_show_json(&json) {
            Ok(s) => s,
            Err(msg) => {
                return Outcome::new(
                    StepState::Failed,
                    format!("cannot read the plan of `{}`: {msg}", step.name),
                );
            }
        },
        Err(f) => return Outcome::failed(f, &r.log),
    };
    r.note(&format!("# plan: {}", summary.line()));
    ui.event(Event::Planned {
        step: &step.name,
        summary: &summary,
    });
    let with_plan = |mut o: Outcome| {
        o.plan = Some(summary.clone());
        o
    };
    if summary.loses_state() && !cfg.allow_destroy {
        let _ = std::fs::remove_file(&plan_file);
        return with_plan(Outcome::new(
            StepState::Failed,
            format!(
                "refused: the plan destroys or replaces stateful resources ({}); review `{e} {chdir} plan`, then run again with --allow-destroy if that is intended",
                summary
                    .stateful_replaced
                    .iter()
                    .chain(&summary.stateful_destroyed)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if cfg.plan_only {
        let _ = std::fs::remove_file(&plan_file);
        return with_plan(Outcome::new(
            StepState::Pending,
            format!("planned: {}", summary.line()),
        ));
    }
    if !summary.is_empty() {
        if !cfg.yes && !ui.confirm_apply(&step.name, &summary) {
            let _ = std::fs::remove_file(&plan_file);
            return with_plan(Outcome::new(
                StepState::Declined,
                format!("not applied: {}", summary.line()),
            ));
        }
        let apply = vec![
            "apply".to_string(),
            "-input=false".into(),
            "-no-color".into(),
            plan_file.display().to_string(),
        ];
        let shown = format!("{e} {chdir} {}", apply.join(" "));
        let applied = r.exec(&shown, &dir, &cfg.engine, &apply, &env, false);
        let _ = std::fs::remove_file(&plan_file);
        if let Err(f) = applied {
            return with_plan(Outcome::failed(f, &r.log));
        }
    } else {
        let _ = std::fs::remove_file(&plan_file);
    }
    if verify_outputs {
        let output = args(&["output", "-json", "-no-color"]);
        let shown = format!("{e} {chdir} output -json");
        match r.exec(&shown, &dir, &cfg.engine, &output, &env, true) {
            Ok(json) => {
                let path = cfg.outputs_file();
                let written =
                    open_private(&path, true).and_then(|mut f| f.write_all(json.as_bytes()));
                if let Err(err) = written {
                    return with_plan(Outcome::new(
                        StepState::Failed,
                        format!("cannot write `{}`: {err}", path.display()),
                    ));
                }
                ui.event(Event::OutputsWritten { path: &path });
            }
            Err(f) => return with_plan(Outcome::failed(f, &r.log)),
        }
    }
    with_plan(Outcome::new(
        StepState::Done,
        if summary.is_empty() {
            "no changes".to_string()
        } else {
            format!("applied: {}", summary.line())
        },
    ))
}

fn fly_step(script: &str, functions: &[String], cfg: &Config, r: &mut Runner<'_>) -> Outcome {
    if cfg.plan_only {
        return Outcome::new(StepState::Pending, "not run: plan-only".to_string());
    }
    let path = cfg.tree.join(script);
    let env = vec![("TERRAFORM", cfg.engine.clone())];
    for f in functions {
        let args = vec![path.display().to_string(), f.clone()];
        let shown = format!("TERRAFORM={} bash {} {f}", engine_name(cfg), path.display());
        if let Err(fail) = r.exec(&shown, &cfg.tree, "bash", &args, &env, false) {
            return Outcome::failed(fail, &r.log);
        }
    }
    Outcome::new(StepState::Done, format!("ran {}", functions.join(", ")))
}

fn run_programs(argv: &[Vec<String>], cfg: &Config, r: &mut Runner<'_>) -> Outcome {
    if cfg.plan_only {
        return Outcome::new(StepState::Pending, "not run: plan-only".to_string());
    }
    for a in argv {
        let Some((program, args)) = a.split_first() else {
            continue;
        };
        if let Err(f) = r.exec(&a.join(" "), &cfg.tree, program, args, &[], false) {
            return Outcome::failed(f, &r.log);
        }
    }
    Outcome::new(StepState::Done, None)
}

/// What a manual step's check found.
enum Checked {
    Yes(String),
    No(String),
}

fn manual_step(
    step: &Step,
    check: Option<&ManualCheck>,
    cfg: &Config,
    r: &mut Runner<'_>,
    ui: &dyn Ui,
) -> Outcome {
    let (checked, extra) = match check {
        Some(ManualCheck::Delegation { zone, root, output }) => {
            check_delegation(zone, root, output, cfg, r)
        }
        Some(ManualCheck::CostTags { keys }) => (check_cost_tags(keys, cfg, r), String::new()),
        None => (
            Checked::No("no check exists for this step".into()),
            String::new(),
        ),
    };
    let found = match checked {
        Checked::Yes(how) => {
            r.note(&format!("# checked: {how}"));
            return Outcome::new(StepState::Done, format!("checked: {how}"));
        }
        Checked::No(why) => why,
    };
    r.note(&format!("# not confirmed by a check: {found}"));
    let mut instructions = format!("{}\n", step.why);
    for c in &step.commands {
        instructions.push_str(&format!("    {c}\n"));
    }
    instructions.push_str(&extra);
    instructions.push_str(&format!("check: {found}\n"));
    if cfg.done.iter().any(|d| d.eq_ignore_ascii_case(&step.name)) {
        return Outcome::new(
            StepState::Done,
            format!("confirmed with --done (check: {found})"),
        );
    }
    if !cfg.plan_only && !cfg.yes && ui.confirm_manual(&step.name, &instructions) {
        return Outcome::new(
            StepState::Done,
            format!("confirmed at the prompt (check: {found})"),
        );
    }
    Outcome::new(
        StepState::Waiting,
        format!(
            "{instructions}when it is done, run `sovereign deploy` again (add `--done \"{}\"` if the check cannot see it from here)",
            step.name
        ),
    )
}

fn check_delegation(
    zone: &str,
    root: &str,
    output: &str,
    cfg: &Config,
    r: &mut Runner<'_>,
) -> (Checked, String) {
    let dir = cfg.tree.join(root);
    let args = vec![
        "output".to_string(),
        "-json".into(),
        "-no-color".into(),
        output.to_string(),
    ];
    let shown = format!(
        "{} -chdir={} output -json {output}",
        engine_name(cfg),
        dir.display()
    );
    let json = match r.exec(&shown, &dir, &cfg.engine, &args, &[], true) {
        Ok(j) => j,
        Err(f) => {
            return (
                Checked::No(format!(
                    "cannot read the `{output}` output of `{root}`: {}",
                    f.last_lines.join(" ")
                )),
                String::new(),
            );
        }
    };
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let want: std::collections::BTreeSet<String> = v
        .get("ns")
        .and_then(|n| n.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str())
                .map(sovereign_verify::normalise_host)
                .collect()
        })
        .unwrap_or_default();
    let mut extra = String::new();
    if !want.is_empty() {
        extra.push_str(&format!("records to add at the parent zone of `{zone}`:\n"));
        for ns in &want {
            extra.push_str(&format!("    {zone}. NS {ns}.\n"));
        }
    }
    if let Some(ds) = v.get("ds").and_then(|d| d.as_str()) {
        extra.push_str(&format!("    {zone}. DS {ds}\n"));
    }
    if want.is_empty() {
        return (
            Checked::No(format!(
                "the `{output}` output of `{root}` lists no name servers"
            )),
            extra,
        );
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return (Checked::No(format!("cannot start a resolver: {e}")), extra),
    };
    let resolvers: Vec<Option<SocketAddr>> = if cfg.resolvers.is_empty() {
        vec![None]
    } else {
        cfg.resolvers.iter().copied().map(Some).collect()
    };
    for res in resolvers {
        let via = res
            .map(|a| a.to_string())
            .unwrap_or_else(|| "the system resolver".into());
        let got = rt.block_on(sovereign_verify::name_servers(
            zone,
            res,
            Duration::from_secs(5),
        ));
        match got {
            Ok(got) if want.is_subset(&got) => {}
            Ok(got) => {
                return (
                    Checked::No(format!(
                        "{via}: NS {zone} answers {}, not the zone's name servers",
                        if got.is_empty() {
                            "nothing".to_string()
                        } else {
                            got.into_iter().collect::<Vec<_>>().join(", ")
                        }
                    )),
                    extra,
                );
            }
            Err(e) => return (Checked::No(format!("{via}: {e}")), extra),
        }
    }
    (
        Checked::Yes(format!(
            "NS {zone} answers the zone's {} name servers",
            want.len()
        )),
        extra,
    )
}

fn check_cost_tags(keys: &[String], cfg: &Config, r: &mut Runner<'_>) -> Checked {
    let mut args = vec![
        "ce".to_string(),
        "list-cost-allocation-tags".into(),
        "--output".into(),
        "json".into(),
        "--tag-keys".into(),
    ];
    args.extend(keys.iter().cloned());
    let shown = format!("aws {}", args.join(" "));
    let json = match r.exec(&shown, &cfg.tree, "aws", &args, &[], true) {
        Ok(j) => j,
        Err(f) => {
            return Checked::No(format!(
                "`{shown}` failed: {}",
                f.last_lines.last().cloned().unwrap_or_default()
            ));
        }
    };
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let active: Vec<&str> = v
        .get("CostAllocationTags")
        .and_then(|t| t.as_array())
        .map(|a| {
            a.iter()
                .filter(|t| t.get("Status").and_then(|s| s.as_str()) == Some("Active"))
                .filter_map(|t| t.get("TagKey").and_then(|k| k.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let missing: Vec<&str> = keys
        .iter()
        .map(String::as_str)
        .filter(|k| !active.contains(k))
        .collect();
    if missing.is_empty() {
        Checked::Yes(format!("cost allocation tags active: {}", keys.join(", ")))
    } else {
        Checked::No(format!("not active yet: {}", missing.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sovereign_render::deploy::Action;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Record(Mutex<Vec<String>>);

    impl Ui for Record {
        fn event(&self, e: Event<'_>) {
            let line = match e {
                Event::Started { step, .. } => format!("start {step}"),
                Event::Finished { step, record, .. } => {
                    format!("{} {step}", record.state.as_str())
                }
                _ => return,
            };
            self.0.lock().unwrap().push(line);
        }
        fn confirm_apply(&self, _: &str, _: &PlanSummary) -> bool {
            false
        }
        fn confirm_manual(&self, _: &str, _: &str) -> bool {
            false
        }
    }

    fn run_step_of(name: &str, after: &[&str], argv: &[&str]) -> Step {
        Step {
            name: name.into(),
            why: String::new(),
            commands: Vec::new(),
            action: Action::Run {
                argv: vec![argv.iter().map(|s| s.to_string()).collect()],
            },
            after: after.iter().map(|s| s.to_string()).collect(),
            sites: Vec::new(),
        }
    }

    fn config(dir: &Path) -> Config {
        Config {
            tree: dir.to_path_buf(),
            engine: "terraform".into(),
            parallel: 2,
            yes: true,
            plan_only: false,
            allow_destroy: false,
            backend_config: Vec::new(),
            done: Vec::new(),
            resolvers: Vec::new(),
            artefacts: dir.join("t.deploy"),
            rerun_done: false,
        }
    }

    #[test]
    fn a_failure_skips_only_the_steps_that_need_it_and_a_rerun_continues() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("fail-b");
        std::fs::write(&flag, "").unwrap();
        let fail_b = format!("test ! -e {}", flag.display());
        let steps = vec![
            run_step_of("a", &[], &["true"]),
            run_step_of("b", &["a"], &["sh", "-c", &fail_b]),
            run_step_of("c", &["a"], &["true"]),
            run_step_of("d", &["b"], &["true"]),
        ];
        let cfg = config(dir.path());
        let jp = dir.path().join("t.deploy.json");
        let mut j = Journal::new(dir.path(), "terraform");
        let sel = Selection {
            selected: vec![true; 4],
        };
        let ui = Record::default();
        run(&steps, &sel, &mut j, Some(&jp), &cfg, &ui).unwrap();
        let states: Vec<&str> = j.steps.iter().map(|r| r.state.as_str()).collect();
        assert_eq!(states, ["done", "failed", "done", "skipped"]);
        let b = j.record("b").unwrap();
        let f = b.failure.as_ref().unwrap();
        assert_eq!(f.exit_code, Some(1));
        assert!(f.command.starts_with("sh -c test"));
        assert_eq!(j.record("d").unwrap().detail.as_deref(), Some("`b` failed"));
        // The file on disk says the same.
        assert_eq!(Journal::load(&jp).unwrap().unwrap().steps, j.steps);

        std::fs::remove_file(&flag).unwrap();
        let ui = Record::default();
        let mut j = Journal::load(&jp).unwrap().unwrap();
        run(&steps, &sel, &mut j, Some(&jp), &cfg, &ui).unwrap();
        let states: Vec<&str> = j.steps.iter().map(|r| r.state.as_str()).collect();
        assert_eq!(states, ["done"; 4]);
        let events = ui.0.lock().unwrap().clone();
        assert_eq!(events, ["start b", "done b", "start d", "done d"]);
        assert_eq!(j.record("b").unwrap().attempts, 2);
        assert_eq!(j.record("a").unwrap().attempts, 1);
    }

    #[test]
    fn a_step_interrupted_while_running_runs_again() {
        let dir = tempfile::tempdir().unwrap();
        let steps = vec![run_step_of("a", &[], &["true"])];
        let mut j = Journal::new(dir.path(), "terraform");
        j.align(&steps);
        j.record_mut("a").unwrap().state = StepState::Running;
        let ui = Record::default();
        let sel = Selection {
            selected: vec![true],
        };
        run(&steps, &sel, &mut j, None, &config(dir.path()), &ui).unwrap();
        assert_eq!(*ui.0.lock().unwrap(), ["start a", "done a"]);
    }

    #[test]
    fn an_unselected_prerequisite_that_is_not_done_skips_the_step() {
        let dir = tempfile::tempdir().unwrap();
        let steps = vec![
            run_step_of("global", &[], &["true"]),
            run_step_of("site x", &["global"], &["true"]),
        ];
        let mut j = Journal::new(dir.path(), "terraform");
        let sel = Selection {
            selected: vec![false, true],
        };
        let mut cfg = config(dir.path());
        cfg.rerun_done = true;
        let r = run(&steps, &sel, &mut j, None, &cfg, &Record::default()).unwrap();
        let states: Vec<Option<StepState>> = r
            .finished
            .iter()
            .map(|f| f.as_ref().map(|r| r.state))
            .collect();
        assert_eq!(states, [None, Some(StepState::Skipped)]);
    }

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(slug("site ams"), "site-ams");
        assert_eq!(
            slug("wait for the k8ssandra operator"),
            "wait-for-the-k8ssandra-operator"
        );
        assert_eq!(slug("../x y"), "x-y");
    }

    #[test]
    fn the_tail_is_the_end_of_what_one_command_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("l.log");
        std::fs::write(&log, "old\n").unwrap();
        let from = 4;
        let mut f = open_private(&log, false).unwrap();
        for i in 0..30 {
            writeln!(f, "line {i}").unwrap();
        }
        let t = tail(&log, from, 3);
        assert_eq!(t, ["line 27", "line 28", "line 29"]);
    }
}
