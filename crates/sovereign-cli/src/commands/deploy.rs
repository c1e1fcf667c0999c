//! `sovereign deploy`: runs the deployment steps `sovereign plan` prints, against the rendered
//! tree, and ends with `verify`'s checklist. The engine is [`crate::deploy`]; this file holds
//! the arguments, the progress display, the prompts and the summary.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use sovereign_check::ValidatedTopology;
use sovereign_render::deploy::{Action, Step};

use crate::Format;
use crate::deploy::journal::{self, Journal, StepState};
use crate::deploy::plan_summary::PlanSummary;
use crate::deploy::{self as engine, Config, Event, Selection, Ui};
use crate::diagnostics::{render_human, summary};
use crate::exit::{CliError, Exit};
use crate::output::Output;
use crate::table::table;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineChoice {
    Terraform,
    Tofu,
}

impl EngineChoice {
    fn program(self) -> &'static str {
        match self {
            EngineChoice::Terraform => "terraform",
            EngineChoice::Tofu => "tofu",
        }
    }
}

/// Apply the rendered tree step by step, in the order `sovereign plan` prints, and resume
/// after a failure. Without --yes it shows each root's plan and asks before applying.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Topology file; `-` reads standard input; without it, the embedded default.
    pub file: Option<PathBuf>,
    /// The rendered tree (`sovereign render --out`); it must be what FILE renders.
    #[arg(long, value_name = "DIR", default_value = "terraform")]
    pub tree: PathBuf,
    /// The engine, found on PATH. The CLI configuration it reads (TF_CLI_CONFIG_FILE, provider
    /// mirrors) and `*_override.tf` files in the roots are honoured as the engine honours them.
    #[arg(long, value_enum, default_value_t = EngineChoice::Terraform)]
    pub engine: EngineChoice,
    /// Only the steps that belong to these sites (site roots; Fly.io steps when every Fly.io
    /// site is named); steps they need must be deployed already.
    #[arg(
        long,
        value_name = "SITE[,SITE]",
        value_delimiter = ',',
        conflicts_with = "phase"
    )]
    pub only: Vec<String>,
    /// Only these steps, by the names `sovereign plan` prints (`global`, `site ams`).
    #[arg(long, value_name = "NAME[,NAME]", value_delimiter = ',')]
    pub phase: Vec<String>,
    /// Plan every root whose prerequisites are applied and show the summaries; apply nothing,
    /// run no Fly.io step, record nothing in the journal.
    #[arg(long)]
    pub plan_only: bool,
    /// Apply without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Apply plans that destroy or replace databases, clusters, networks, buckets or keys.
    #[arg(long)]
    pub allow_destroy: bool,
    /// Steps running side by side (independent site roots), 1 to 16. Without --yes, 1.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub parallel: usize,
    /// Print the journal of the tree's deployment and exit.
    #[arg(long)]
    pub status: bool,
    /// Forget the journal and start from the first step (done steps are applied again).
    #[arg(long)]
    pub fresh: bool,
    /// A manual step that a person has done (`delegate the zone`), when its check cannot see it.
    #[arg(long, value_name = "STEP")]
    pub done: Vec<String>,
    /// `-backend-config` for `init` of every root that declares a backend; repeatable.
    #[arg(long, value_name = "KEY=VALUE|FILE")]
    pub backend_config: Vec<String>,
    /// DNS resolver (`ip` or `ip:port`) for the delegation check; repeatable.
    #[arg(long, value_name = "ADDR")]
    pub resolver: Vec<String>,
    /// Do not run `verify` at the end.
    #[arg(long)]
    pub no_verify: bool,
    /// Seconds each verify check may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub verify_timeout: f64,
    /// Output format: `json` prints one JSON event per line.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: Args, out: &Output) -> Result<Exit, CliError> {
    let tree = std::path::absolute(&args.tree)
        .map_err(|e| CliError::io(format!("cannot resolve `{}`", args.tree.display()), e))?;
    let journal_path = journal::path_for(&tree);
    if args.status {
        return status(&journal_path, args.format, out);
    }
    if !(1..=16).contains(&args.parallel) {
        return Err(CliError::usage(format!(
            "--parallel {}: give 1 to 16",
            args.parallel
        )));
    }
    if !super::verify::TIMEOUT_RANGE.contains(&args.verify_timeout) {
        return Err(CliError::usage(format!(
            "--verify-timeout {}: give a number of seconds from 0.1 to 3600",
            args.verify_timeout
        )));
    }
    let loaded = crate::input::load(args.file.as_deref())?;
    let diags = &loaded.report.diagnostics;
    let Some(topology) = &loaded.report.validated else {
        out.eprint(&render_human(&loaded.source, diags, out.color_stderr));
        out.error(&format!(
            "cannot deploy: {}",
            summary(&loaded.source, diags)
        ));
        return Ok(Exit::Findings);
    };
    check_tree(topology, &loaded.source.name, &tree, &args)?;
    let steps = sovereign_render::deploy::steps(topology, &args.tree.display().to_string());
    let selected = select(&steps, topology, &args)?;
    let resolvers = args
        .resolver
        .iter()
        .map(|r| sovereign_verify::parse_resolver(r).map_err(CliError::usage))
        .collect::<Result<Vec<_>, _>>()?;
    let tty_in = std::io::stdin().is_terminal();
    if !args.yes && !args.plan_only && !tty_in {
        return Err(CliError::usage(
            "standard input is not a terminal, so nobody can confirm the applies: pass --yes to apply without asking, or --plan-only",
        ));
    }
    let engine_program = args.engine.program();
    if find_on_path(engine_program).is_none() {
        return Err(CliError::usage(format!(
            "`{engine_program}` is not on PATH: install it, or choose the other engine with --engine"
        )));
    }
    let mut journal = if args.fresh {
        None
    } else {
        Journal::load(&journal_path).map_err(|e| CliError::usage(e.to_string()))?
    }
    .unwrap_or_else(|| Journal::new(&tree, engine_program));
    journal.align(&steps);
    if journal.engine != engine_program && journal.steps.iter().any(|r| r.attempts > 0) {
        out.status(&format!(
            "note: the journal was written by a `{}` run; this run uses `{engine_program}`",
            journal.engine
        ));
    }
    journal.engine = engine_program.to_string();
    needs_operator_cidrs(&steps, &selected, &journal, &args)?;
    let artefacts = journal::artefacts_for(&tree);
    create_private_dir(&artefacts)?;
    // One deploy per tree at a time: the lock goes with the process, however it ends.
    let lock_path = artefacts.join("lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| CliError::io(format!("cannot open `{}`", lock_path.display()), e))?;
    if let Err(e) = lock.try_lock() {
        return Err(match e {
            std::fs::TryLockError::WouldBlock => CliError::usage(format!(
                "another `sovereign deploy` is running on `{}` (it holds `{}`): wait for it, or stop it",
                args.tree.display(),
                lock_path.display()
            )),
            std::fs::TryLockError::Error(e) => {
                CliError::io(format!("cannot lock `{}`", lock_path.display()), e)
            }
        });
    }
    let explicit = !args.only.is_empty() || !args.phase.is_empty();
    let cfg = Config {
        tree: tree.clone(),
        engine: engine_program.to_string(),
        parallel: if args.yes || args.plan_only {
            args.parallel
        } else {
            1
        },
        yes: args.yes,
        plan_only: args.plan_only,
        allow_destroy: args.allow_destroy,
        backend_config: args.backend_config.clone(),
        done: args.done.clone(),
        resolvers,
        artefacts,
        rerun_done: explicit || args.plan_only,
    };
    let progress = Progress::new(out, args.format, tty_in);
    progress.line(&format!(
        "deploying `{}` from {} with {engine_program}{}; journal `{}`",
        args.tree.display(),
        loaded.source.name,
        if args.plan_only { " (plan only)" } else { "" },
        journal_path.display()
    ));
    let selection = Selection { selected };
    let result = engine::run(
        &steps,
        &selection,
        &mut journal,
        (!args.plan_only).then_some(journal_path.as_path()),
        &cfg,
        &progress,
    )
    .map_err(|e| CliError::usage(e.to_string()))?;
    progress.finish();
    let mut exit = report(&steps, &result.finished, &journal_path, &args, out);
    let full = !explicit && !args.plan_only;
    if full && !args.no_verify && cfg.outputs_file().exists() {
        let verified = verify(&cfg.outputs_file(), topology, &args, out)?;
        if verified != Exit::Ok {
            exit = Exit::Findings;
        }
    }
    Ok(exit)
}

/// Refuses a tree that is not what the topology renders: deploying a stale tree applies
/// something nobody reviewed.
fn check_tree(
    t: &ValidatedTopology,
    source: &str,
    tree: &Path,
    args: &Args,
) -> Result<(), CliError> {
    if !tree.is_dir() {
        return Err(CliError::usage(format!(
            "no tree at `{}`: render it first (`sovereign render{} --out {}`)",
            args.tree.display(),
            file_arg(args),
            args.tree.display()
        )));
    }
    // Generated files name their source in their first line; the same file given by another
    // path (`./sovereign.toml`, an absolute path) renders the same tree under that name.
    let mut names = vec![source.to_string()];
    if let Some(n) = std::fs::read_to_string(tree.join("main.tf"))
        .ok()
        .and_then(|t| rendered_from(&t))
        && n != source
    {
        names.push(n);
    }
    let mut diff = None;
    for name in &names {
        let rendered = sovereign_render::render(t, sovereign_catalog::Catalog::builtin(), name)
            .map_err(|e| CliError::usage(format!("cannot render `{source}`: {e}")))?;
        let on_disk = sovereign_render::write::read(tree, &rendered)
            .map_err(|e| CliError::usage(e.to_string()))?;
        let d = rendered.diff(&on_disk);
        if d.added.is_empty() && d.changed.is_empty() {
            return Ok(());
        }
        diff.get_or_insert(d);
    }
    if let Some(diff) = diff {
        let mut paths: Vec<&String> = diff.added.iter().chain(&diff.changed).collect();
        paths.sort();
        let n = paths.len();
        let shown: Vec<&str> = paths.iter().take(5).map(|p| p.as_str()).collect();
        return Err(CliError::usage(format!(
            "`{}` is not what {source} renders ({n} file(s) missing or different: {}{}): render it again (`sovereign render{} --out {}`) and review the change before deploying",
            args.tree.display(),
            shown.join(", "),
            if n > 5 { ", …" } else { "" },
            file_arg(args),
            args.tree.display()
        )));
    }
    Ok(())
}

/// The source a generated file names in its header: `# Generated by `sovereign render` from X; …`.
fn rendered_from(text: &str) -> Option<String> {
    let first = text.lines().next()?;
    let rest = first.split_once("` from ")?.1;
    Some(rest.split_once("; ")?.0.to_string())
}

fn file_arg(args: &Args) -> String {
    args.file
        .as_ref()
        .map(|f| format!(" {}", f.display()))
        .unwrap_or_default()
}

/// Which steps this run takes on.
fn select(steps: &[Step], t: &ValidatedTopology, args: &Args) -> Result<Vec<bool>, CliError> {
    if !args.only.is_empty() {
        for s in &args.only {
            if t.find_site(s).is_none() {
                let ids: Vec<&str> = t.sites.iter().map(|s| s.id.as_str()).collect();
                return Err(CliError::usage(format!(
                    "--only: no site `{s}`; sites: {}",
                    ids.join(", ")
                )));
            }
        }
        let sel: Vec<bool> = steps
            .iter()
            .map(|st| !st.sites.is_empty() && st.sites.iter().all(|s| args.only.contains(s)))
            .collect();
        if !sel.contains(&true) {
            return Err(CliError::usage(format!(
                "--only {}: no step belongs to these sites alone (a site without a cluster has no root of its own; Fly.io steps need every Fly.io site named)",
                args.only.join(",")
            )));
        }
        return Ok(sel);
    }
    if !args.phase.is_empty() {
        for p in &args.phase {
            if !steps.iter().any(|s| s.name.eq_ignore_ascii_case(p)) {
                let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
                return Err(CliError::usage(format!(
                    "--phase: no step `{p}`; steps: {}",
                    names.join(", ")
                )));
            }
        }
        return Ok(steps
            .iter()
            .map(|s| args.phase.iter().any(|p| p.eq_ignore_ascii_case(&s.name)))
            .collect());
    }
    Ok(vec![true; steps.len()])
}

/// The global root needs the applying machine's public ranges; say so before anything runs.
fn needs_operator_cidrs(
    steps: &[Step],
    selected: &[bool],
    journal: &Journal,
    args: &Args,
) -> Result<(), CliError> {
    let explicit = !args.only.is_empty() || !args.phase.is_empty();
    let needed = steps.iter().zip(selected).any(|(s, sel)| {
        *sel && matches!(
            s.action,
            Action::Root {
                operator_cidrs: true,
                ..
            }
        ) && (explicit || args.plan_only || journal.state(&s.name) != StepState::Done)
    });
    if needed && std::env::var_os("TF_VAR_operator_cidrs").is_none_or(|v| v.is_empty()) {
        return Err(CliError::usage(
            "the global root needs the public ranges of this machine (the clusters' API endpoints answer no one else): export TF_VAR_operator_cidrs='[\"203.0.113.7/32\"]' with your address",
        ));
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<(), CliError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| CliError::io(format!("cannot create `{}`", dir.display()), e))
}

/// The first executable named `program` on PATH (or `program` itself when it is a path).
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Path::new(program).is_file().then(|| PathBuf::from(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                p.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            }
            #[cfg(not(unix))]
            {
                p.is_file()
            }
        })
}

enum Mode {
    /// One spinner per running step (a terminal).
    Bars {
        multi: MultiProgress,
        bars: Mutex<HashMap<String, ProgressBar>>,
    },
    /// Plain lines on standard error (piped).
    Lines,
    /// JSON events on standard output.
    Json,
    /// `--quiet`.
    Quiet,
}

struct Progress<'a> {
    out: &'a Output,
    mode: Mode,
    tty_in: bool,
    prompt: Mutex<()>,
    start: Instant,
}

impl<'a> Progress<'a> {
    fn new(out: &'a Output, format: Format, tty_in: bool) -> Self {
        let mode = if format == Format::Json {
            Mode::Json
        } else if out.quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::new(HashMap::new()),
            }
        } else {
            Mode::Lines
        };
        Progress {
            out,
            mode,
            tty_in,
            prompt: Mutex::new(()),
            start: Instant::now(),
        }
    }

    /// A status line (human modes only).
    fn line(&self, text: &str) {
        match &self.mode {
            Mode::Bars { multi, .. } => {
                let _ = multi.println(text);
            }
            Mode::Lines => self.out.status(text),
            Mode::Json | Mode::Quiet => {}
        }
    }

    fn json(&self, v: serde_json::Value) {
        if let Mode::Json = self.mode {
            let mut v = v;
            v["elapsed_seconds"] = json!(self.start.elapsed().as_secs());
            self.out.print(&format!("{v}\n"));
        }
    }

    fn finish(&self) {
        if let Mode::Bars { multi, .. } = &self.mode {
            let _ = multi.clear();
        }
    }

    fn ask(&self, question: &str) -> bool {
        if !self.tty_in {
            return false;
        }
        let _guard = self.prompt.lock().unwrap_or_else(|e| e.into_inner());
        let read = || {
            self.out.eprint(question);
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
        };
        match &self.mode {
            Mode::Bars { multi, .. } => multi.suspend(read),
            _ => read(),
        }
    }
}

fn short_command(command: &str) -> String {
    // `terraform -chdir=/long/path apply -input=false …` → `terraform apply`
    let words: Vec<&str> = command.split_whitespace().collect();
    let mut keep: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !w.starts_with('-') && !w.contains('='))
        .take(2)
        .collect();
    if let Some(last) = keep.last_mut() {
        *last = last.rsplit('/').next().unwrap_or(last);
    }
    keep.join(" ")
}

impl Ui for Progress<'_> {
    fn event(&self, e: Event<'_>) {
        match e {
            Event::Started { step, attempt } => {
                self.json(json!({"event": "started", "step": step, "attempt": attempt}));
                match &self.mode {
                    Mode::Bars { multi, bars } => {
                        let bar = multi.add(ProgressBar::new_spinner());
                        bar.set_style(
                            ProgressStyle::with_template(
                                "{spinner} [{elapsed:>4}] {prefix}: {msg}",
                            )
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        );
                        bar.set_prefix(step.to_string());
                        bar.enable_steady_tick(Duration::from_millis(200));
                        if let Ok(mut b) = bars.lock() {
                            b.insert(step.to_string(), bar);
                        }
                    }
                    Mode::Lines => self.out.status(&format!(
                        "→ {step}{}",
                        if attempt > 1 {
                            format!(" (attempt {attempt})")
                        } else {
                            String::new()
                        }
                    )),
                    _ => {}
                }
            }
            Event::Command { step, command } => {
                self.json(json!({"event": "command", "step": step, "command": command}));
                match &self.mode {
                    Mode::Bars { bars, .. } => {
                        if let Some(b) = bars.lock().ok().and_then(|b| b.get(step).cloned()) {
                            b.set_message(short_command(command));
                        }
                    }
                    Mode::Lines => self.out.status(&format!("  {step}: {command}")),
                    _ => {}
                }
            }
            Event::Planned { step, summary } => {
                self.json(json!({"event": "planned", "step": step, "plan": summary}));
                self.line(&format!("  {step}: plan: {}", summary.line()));
            }
            Event::OutputsWritten { path } => {
                self.json(json!({"event": "outputs", "path": path.display().to_string()}));
                self.line(&format!(
                    "  wrote the outputs `verify` reads: {}",
                    path.display()
                ));
            }
            Event::Finished {
                step,
                record,
                seconds,
            } => {
                self.json(json!({"event": "finished", "step": step, "state": record.state, "detail": record.detail, "failure": record.failure, "seconds": seconds}));
                if let Mode::Bars { bars, .. } = &self.mode
                    && let Some(b) = bars.lock().ok().and_then(|mut b| b.remove(step))
                {
                    b.finish_and_clear();
                }
                let mark = match record.state {
                    StepState::Done => "✓",
                    StepState::Failed => "✗",
                    StepState::Waiting => "…",
                    StepState::Pending => "·",
                    _ => "-",
                };
                let state = if record.state == StepState::Pending {
                    "planned"
                } else {
                    record.state.as_str()
                };
                let detail = record
                    .detail
                    .as_deref()
                    .and_then(|d| d.lines().next())
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default();
                self.line(&format!("{mark} {step} {state} ({seconds} s){detail}"));
            }
        }
    }

    fn confirm_apply(&self, step: &str, summary: &PlanSummary) -> bool {
        self.ask(&format!("apply `{step}`: {}? [y/N] ", summary.line()))
    }

    fn confirm_manual(&self, step: &str, instructions: &str) -> bool {
        self.ask(&format!(
            "\n{step} (by hand):\n{instructions}has this been done? [y/N] "
        ))
    }
}

/// Prints what the run did and returns its exit code.
fn report(
    steps: &[Step],
    finished: &[Option<journal::StepRecord>],
    journal_path: &Path,
    args: &Args,
    out: &Output,
) -> Exit {
    let mut by: HashMap<&'static str, Vec<String>> = HashMap::new();
    let mut failures = String::new();
    let mut waits = String::new();
    let mut ok = true;
    for (s, f) in steps.iter().zip(finished) {
        let Some(rec) = f else {
            continue;
        };
        let state = &rec.state;
        let rec = Some(rec);
        let detail = rec.and_then(|r| r.detail.clone()).unwrap_or_default();
        let key = match state {
            StepState::Done => "deployed",
            StepState::Pending if args.plan_only => "planned",
            StepState::Failed => "failed",
            StepState::Waiting => "waiting",
            StepState::Declined => "declined",
            _ => "skipped",
        };
        if !matches!(key, "deployed" | "planned") {
            ok = false;
        }
        match key {
            "failed" => {
                failures.push_str(&format!("  {}: {detail}\n", s.name));
                if let Some(fl) = rec.and_then(|r| r.failure.as_ref()) {
                    failures.push_str(&format!("    command: {}\n", fl.command));
                    for l in &fl.last_lines {
                        failures.push_str(&format!("    | {l}\n"));
                    }
                    failures.push_str(&format!("    full log: {}\n", fl.log));
                }
            }
            "waiting" => {
                waits.push_str(&format!("  {}:\n", s.name));
                for l in detail.lines() {
                    waits.push_str(&format!("    {l}\n"));
                }
            }
            _ => {}
        }
        let label = match key {
            "skipped" | "declined" | "planned" if !detail.is_empty() => {
                format!("{} ({})", s.name, detail.lines().next().unwrap_or_default())
            }
            _ => s.name.clone(),
        };
        by.entry(key).or_default().push(label);
    }
    if args.format == Format::Json {
        let v = json!({
            "event": "summary",
            "journal": journal_path.display().to_string(),
            "deployed": by.get("deployed").cloned().unwrap_or_default(),
            "planned": by.get("planned").cloned().unwrap_or_default(),
            "failed": by.get("failed").cloned().unwrap_or_default(),
            "skipped": by.get("skipped").cloned().unwrap_or_default(),
            "waiting": by.get("waiting").cloned().unwrap_or_default(),
            "declined": by.get("declined").cloned().unwrap_or_default(),
        });
        out.print(&format!("{v}\n"));
    } else {
        let mut s = String::new();
        for (key, title) in [
            ("deployed", "Deployed"),
            ("planned", "Planned (nothing applied)"),
            ("failed", "Failed"),
            ("waiting", "Waiting for a person"),
            ("declined", "Not applied (declined)"),
            ("skipped", "Skipped"),
        ] {
            let Some(list) = by.get(key) else {
                continue;
            };
            s.push_str(&format!("{title} ({}):\n", list.len()));
            match key {
                "failed" => s.push_str(&failures),
                "waiting" => s.push_str(&waits),
                _ => {
                    for l in list {
                        s.push_str(&format!("  {l}\n"));
                    }
                }
            }
        }
        if s.is_empty() {
            s.push_str("nothing to do: every step is done (`--status` shows the journal; `--phase NAME` runs a step again)\n");
        }
        if !args.plan_only {
            s.push_str(&format!("journal: {}\n", journal_path.display()));
            if !ok {
                s.push_str(
                    "run the same command again to continue with the steps that did not finish\n",
                );
            }
        }
        out.print(&s);
    }
    if ok { Exit::Ok } else { Exit::Findings }
}

fn verify(
    outputs_path: &Path,
    t: &ValidatedTopology,
    args: &Args,
    out: &Output,
) -> Result<Exit, CliError> {
    use sovereign_verify::{Options, Outputs, report};
    let mut outputs = Outputs::load(outputs_path)
        .map_err(|e| CliError::usage(sovereign_verify::redact::redact(&e.to_string())))?;
    for n in sovereign_verify::expect::apply(&mut outputs, t) {
        out.status(&format!("note: {}", sovereign_verify::redact::redact(&n)));
    }
    let opts = Options {
        only: Vec::new(),
        timeout: Duration::from_secs_f64(args.verify_timeout),
        resolvers: args.resolver.clone(),
        pg_tls: super::verify::PgTlsArgs::default().resolve()?,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .map_err(|e| CliError::io("cannot start the async runtime", e))?;
    if args.format == Format::Human {
        out.status(&format!(
            "verifying the deployment from `{}` (timeout {} s per check)…",
            outputs_path.display(),
            args.verify_timeout
        ));
    }
    let start = Instant::now();
    let results = rt
        .block_on(sovereign_verify::verify(&outputs, &opts))
        .map_err(|e| CliError::usage(sovereign_verify::redact::redact(&e.to_string())))?;
    let ms = start.elapsed().as_millis() as u64;
    rt.shutdown_timeout(Duration::from_millis(100));
    match args.format {
        Format::Json => {
            let r: serde_json::Value =
                serde_json::from_str(&report::json(&results, ms)).unwrap_or_default();
            out.print(&format!("{}\n", json!({"event": "verify", "report": r})));
        }
        Format::Human => {
            out.print("\nVerify (the deployment checklist, from the outputs)\n");
            out.print(&report::human(&results, ms, out.color_stdout));
        }
    }
    Ok(if report::passed(&results) == results.len() {
        Exit::Ok
    } else {
        Exit::Findings
    })
}

/// `--status`: the journal as a table, or as JSON.
fn status(path: &Path, format: Format, out: &Output) -> Result<Exit, CliError> {
    let Some(j) = Journal::load(path).map_err(|e| CliError::usage(e.to_string()))? else {
        return Err(CliError::usage(format!(
            "no deployment journal at `{}`: nothing has been deployed from this tree",
            path.display()
        )));
    };
    if format == Format::Json {
        out.print(&format!("{}\n", super::to_json(&j)?));
        return Ok(Exit::Ok);
    }
    let mut s = format!(
        "deployment of `{}` with {} (journal `{}`)\n",
        j.tree,
        j.engine,
        path.display()
    );
    s.push_str(&table(
        ["#", "step", "state", "attempts", "detail"],
        j.steps.iter().enumerate().map(|(i, r)| {
            let state = match r.state {
                StepState::Running => "interrupted".to_string(),
                other => other.as_str().to_string(),
            };
            vec![
                (i + 1).to_string(),
                r.name.clone(),
                state,
                r.attempts.to_string(),
                r.detail
                    .as_deref()
                    .and_then(|d| d.lines().next())
                    .unwrap_or("")
                    .to_string(),
            ]
        }),
    ));
    for r in &j.steps {
        if let Some(f) = &r.failure {
            s.push_str(&format!(
                "\n{} failed: {}\n  log: {}\n",
                r.name, f.command, f.log
            ));
            for l in &f.last_lines {
                s.push_str(&format!("  | {l}\n"));
            }
        }
    }
    out.print(&s);
    let all_done = j.steps.iter().all(|r| r.state == StepState::Done);
    Ok(if all_done { Exit::Ok } else { Exit::Findings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_is_read_from_the_header() {
        assert_eq!(
            rendered_from("# Generated by `sovereign render` from examples/minimal.toml; do not edit, change the topology and render again.\n").as_deref(),
            Some("examples/minimal.toml")
        );
        assert_eq!(rendered_from("terraform {}"), None);
    }

    #[test]
    fn short_commands_drop_paths_and_flags() {
        assert_eq!(
            short_command("terraform -chdir=/a/b apply -input=false /x/p.tfplan"),
            "terraform apply"
        );
        assert_eq!(
            short_command("TERRAFORM=tofu bash /t/fly/deploy.sh apps"),
            "bash deploy.sh"
        );
    }
}
