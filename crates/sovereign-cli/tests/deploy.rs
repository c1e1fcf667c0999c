//! `sovereign deploy` end to end, offline, with the real engines.
//!
//! What is real: Terraform (and OpenTofu) run `init`, `plan`, `show -json`, `apply` and
//! `output -json` on every root of a rendered tree, in the order deploy chooses, with the
//! provider plugins of `tools/schema-provider` (the published schemas of hashicorp/aws, helm
//! and kubernetes; plausible values instead of a cloud). `scripts/engines.py --prepare-deploy`
//! installs them through a filesystem mirror in a CLI configuration (`TF_CLI_CONFIG_FILE`) and
//! writes an `*_override.tf` per root that keeps state in local files instead of S3, so the
//! roots' `terraform_remote_state` reads of one another work. The tree's `fly/deploy.sh` runs
//! for real too.
//!
//! What is simulated: Fly.io, AWS's CLI and kubectl are recording stand-ins
//! (`tests/data/deploy-standins`, put first on PATH); the tests check their calls and order,
//! which proves the order and the arguments, not that Fly.io or AWS accept them. The injected
//! failures come from a stand-in engine wrapper (an `apply` refused in one root) and from the
//! provider plugin (`SOVEREIGN_FAKE_FAIL`). Verify runs at the end against outputs that name
//! nothing reachable: its checks fail to connect, which is expected here.
//!
//! Runtime (measured on the 2-core machine, each test alone): the default tree takes about
//! 100 s under Terraform 1.11 and 47 s under OpenTofu 1.12 (the global root's apply is most of
//! it); the minimal example's tree under OpenTofu takes the fault, kill, plan-only, `--only` and
//! replacement runs in about 60 s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sovereign() -> Command {
    let mut c = Command::cargo_bin("sovereign").unwrap();
    c.current_dir(repo())
        .env_remove("TF_PLUGIN_CACHE_DIR")
        .env_remove("SOVEREIGN_FAKE_FAIL")
        .env_remove("TF_VAR_operator_cidrs")
        .timeout(Duration::from_secs(900));
    c
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn expect(o: &Output, code: i32, what: &str) -> (String, String) {
    let (out, err) = text(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}: exit {:?}\n--- stdout ---\n{out}\n--- stderr ---\n{err}",
        o.status.code()
    );
    (out, err)
}

/// Part of a test needs what this machine lacks: skipped with a message, a failure under CI.
fn requires(ok: bool, what: &str) -> bool {
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{what}; CI is set, so nothing may be skipped"
        );
        eprintln!("skipping: {what}");
    }
    ok
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn tools_bin() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
        });
    cache.join("sovereign/tools/bin")
}

/// A rendered tree readied for an offline deploy, with the stand-ins on PATH.
struct Rehearsal {
    _dir: tempfile::TempDir,
    tree: PathBuf,
    standin: PathBuf,
    state: PathBuf,
    example: String,
    engine: &'static str,
    env: Vec<(String, String)>,
}

fn rehearsal(example: &str, engine: &'static str) -> Option<Rehearsal> {
    let real = match engine {
        "tofu" => Some(tools_bin().join("tofu")).filter(|p| p.is_file()),
        _ => on_path("terraform"),
    };
    let provider = std::env::var_os("SOVEREIGN_SCHEMA_PROVIDER")
        .map(PathBuf::from)
        .unwrap_or_else(|| tools_bin().join("schema-provider"));
    if !requires(
        real.is_some(),
        &format!("{engine} is not installed (scripts/fetch-tools builds OpenTofu)"),
    ) || !requires(
        provider.is_file(),
        "the schema provider is not built (scripts/fetch-tools)",
    ) || !requires(
        on_path("python3").is_some() && on_path("jq").is_some() && on_path("bash").is_some(),
        "python3, jq and bash are needed",
    ) {
        return None;
    }
    let real = real.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let file = format!("examples/{example}.toml");
    let o = sovereign()
        .args(["-q", "render", &file, "--out"])
        .arg(&tree)
        .output()
        .unwrap();
    expect(&o, 0, "render");
    let work = dir.path().join("work");
    let o = std::process::Command::new("python3")
        .arg(repo().join("scripts/engines.py"))
        .arg("--prepare-deploy")
        .arg(&work)
        .arg(&tree)
        .env("SOVEREIGN_SCHEMA_PROVIDER", &provider)
        .output()
        .unwrap();
    let (out, _) = expect(&o, 0, "engines.py --prepare-deploy");
    let prepared: BTreeMap<String, String> = serde_json::from_str(&out).unwrap();
    let bin = dir.path().join("bin");
    let standin = dir.path().join("standin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&standin).unwrap();
    let src = repo().join("crates/sovereign-cli/tests/data/deploy-standins");
    for (from, to) in [
        ("fly", "fly"),
        ("fly", "flyctl"),
        ("aws", "aws"),
        ("kubectl", "kubectl"),
        ("engine", engine),
    ] {
        std::fs::copy(src.join(from), bin.join(to)).unwrap();
    }
    let path = std::env::join_paths(
        std::iter::once(bin.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let mut env: Vec<(String, String)> = prepared.into_iter().collect();
    env.extend([
        ("PATH".to_string(), path.to_string_lossy().into_owned()),
        ("STANDIN_DIR".into(), standin.display().to_string()),
        ("STANDIN_REAL_ENGINE".into(), real.display().to_string()),
        (
            "TF_VAR_operator_cidrs".into(),
            "[\"198.51.100.7/32\"]".into(),
        ),
        ("FLY_ORG".into(), "standin-org".into()),
        ("CHECKPOINT_DISABLE".into(), "1".into()),
    ]);
    Some(Rehearsal {
        state: work.join("state"),
        _dir: dir,
        tree,
        standin,
        example: file,
        engine,
        env,
    })
}

impl Rehearsal {
    fn command(&self, extra: &[&str]) -> Command {
        let mut c = sovereign();
        c.args(["deploy", &self.example, "--engine", self.engine, "--tree"])
            .arg(&self.tree)
            .args(extra);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn deploy(&self, extra: &[&str]) -> Output {
        self.command(extra).output().unwrap()
    }

    fn journal_path(&self) -> PathBuf {
        self.tree.with_file_name("tree.deploy.json")
    }

    fn journal(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.journal_path()).unwrap()).unwrap()
    }

    fn states(&self) -> BTreeMap<String, String> {
        self.journal()["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_string(),
                    s["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn step(&self, name: &str) -> Value {
        self.journal()["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no step `{name}` in the journal"))
    }

    /// The stand-ins' calls since the last `take_calls`.
    fn take_calls(&self) -> Vec<String> {
        let p = self.standin.join("calls.log");
        let t = std::fs::read_to_string(&p).unwrap_or_default();
        let _ = std::fs::remove_file(&p);
        t.lines().map(str::to_string).collect()
    }

    /// `<engine> <root> <subcommand>` as the stand-in engine logs it (`.` for the global root).
    fn engine_call(&self, root: &str, sub: &str) -> String {
        let dir = if root == "." {
            self.tree.clone()
        } else {
            self.tree.join(root)
        };
        format!("{} {} {sub}", self.engine, dir.display())
    }

    /// Every file of the local state, with its bytes.
    fn state_files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.state.clone(), self.tree.join("bootstrap")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    if p.starts_with(&self.state) {
                        stack.push(p);
                    }
                } else if p.to_string_lossy().contains(".tfstate") {
                    out.insert(p.clone(), std::fs::read(&p).unwrap());
                }
            }
        }
        out
    }
}

fn position(calls: &[String], what: &str) -> usize {
    calls
        .iter()
        .position(|c| c == what || c.starts_with(&format!("{what} ")))
        .unwrap_or_else(|| panic!("no call `{what}` in:\n{}", calls.join("\n")))
}

/// `wanted` appear in `calls` in this order (other calls may come between).
fn in_order(calls: &[String], wanted: &[String]) {
    let mut at = 0;
    for w in wanted {
        match calls[at..].iter().position(|c| c.starts_with(w.as_str())) {
            Some(i) => at += i + 1,
            None => panic!(
                "`{w}` does not follow the calls before it in this order:\n{}",
                calls.join("\n")
            ),
        }
    }
}

#[test]
fn the_default_tree_deploys_with_terraform_resumes_after_a_failed_site_and_verifies() {
    default_tree("terraform");
}

#[test]
fn the_default_tree_deploys_with_opentofu_resumes_after_a_failed_site_and_verifies() {
    default_tree("tofu");
}

fn default_tree(engine: &'static str) {
    let Some(r) = rehearsal("global-sovereign", engine) else {
        return;
    };
    eprintln!(
        "Fly.io, the AWS CLI and kubectl are simulated here by recording stand-ins; {engine} and deploy.sh are real"
    );
    let started = Instant::now();
    // Run 1: syd's apply fails (stand-in engine); the cost tags are not active yet.
    std::fs::write(r.standin.join("fail-apply-in"), "sites/syd").unwrap();
    let o = r.deploy(&[
        "--yes",
        "--done",
        "delegate the zone",
        "--verify-timeout",
        "1",
    ]);
    let (out, err) = expect(&o, 1, "first run: one site fails");
    let first = started.elapsed();
    let states = r.states();
    let want: BTreeMap<String, String> = [
        ("bootstrap", "done"),
        ("dns", "done"),
        ("delegate the zone", "done"),
        ("fly apps", "done"),
        ("global", "done"),
        ("activate the cost tags", "waiting"),
        ("site ams", "done"),
        ("site iad", "done"),
        ("site syd", "failed"),
        ("site sin", "done"),
        ("site sfo", "done"),
        ("cassandra access", "skipped"),
        ("wait for the k8ssandra operator", "skipped"),
        ("cassandra", "skipped"),
        ("fly machines", "done"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(states, want, "{out}\n{err}");

    // One source of truth: the journal's steps are plan's deployment steps, in plan's order.
    let plan = sovereign()
        .args(["plan", "--format", "json"])
        .output()
        .unwrap();
    let (plan_out, _) = expect(&plan, 0, "plan");
    let plan: Value = serde_json::from_str(&plan_out).unwrap();
    let plan_names: Vec<&str> = plan["deploy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let journal = r.journal();
    let journal_names: Vec<&str> = journal["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(journal_names, plan_names);

    // The failure: the root, the command, the end of its output, the log.
    let syd = r.step("site syd");
    let f = &syd["failure"];
    assert!(
        f["command"].as_str().unwrap().contains("sites/syd apply"),
        "{f}"
    );
    let tail = f["last_lines"].to_string();
    assert!(tail.contains("injected failure"), "{tail}");
    let log = std::fs::read_to_string(f["log"].as_str().unwrap()).unwrap();
    assert!(log.contains("injected failure") && log.contains("plan -input=false"));
    assert!(out.contains("Failed (1):\n  site syd:"), "{out}");
    assert!(
        out.contains("injected failure") && out.contains("full log: "),
        "{out}"
    );
    assert!(
        out.contains("cassandra (`wait for the k8ssandra operator` did not run)")
            || out.contains("cassandra access (`site syd` failed)"),
        "{out}"
    );
    assert_eq!(
        r.step("cassandra access")["detail"],
        "`site syd` failed",
        "a failed site skips what needs it"
    );
    assert!(out.contains("Waiting for a person (1):\n  activate the cost tags:"));
    assert!(out.contains("aws ce update-cost-allocation-tags-status"));

    // The order, from the stand-ins' calls (Fly.io, AWS CLI and kubectl are simulated).
    let calls = r.take_calls();
    let global_apply = position(&calls, &r.engine_call(".", "apply"));
    assert!(
        position(&calls, &r.engine_call("bootstrap", "apply"))
            < position(&calls, &r.engine_call("dns", "apply"))
    );
    assert!(position(&calls, &r.engine_call("dns", "apply")) < global_apply);
    assert!(position(&calls, "fly apps create global-sovereign-phoenix-api") < global_apply);
    for s in ["ams", "iad", "syd", "sin", "sfo"] {
        assert!(position(&calls, &r.engine_call(&format!("sites/{s}"), "init")) > global_apply);
    }
    let ams_apply = position(&calls, &r.engine_call("sites/ams", "apply"));
    in_order(
        &calls,
        &[
            "fly apps list --org standin-org --json".into(),
            "fly apps create global-sovereign-phoenix-api --org standin-org".into(),
            "fly ips list -a global-sovereign-phoenix-api --json".into(),
            "fly certs add api.global-sovereign.example.com -a global-sovereign-phoenix-api".into(),
            "fly certs add jnb.api.global-sovereign.example.com".into(),
            "fly apps create global-sovereign-pg-jnb".into(),
            r.engine_call(".", "apply"),
            "fly deploy --config".into(),
            "fly scale count 2 --region ams".into(),
            "fly scale count 2 --region jnb".into(),
            "fly certs show api.global-sovereign.example.com".into(),
            "aws secretsmanager get-secret-value --region eu-west-1 --secret-id global-sovereign/postgres/replicator".into(),
            "fly volumes create pgdata --region jnb".into(),
            "fly secrets import -a global-sovereign-pg-jnb --stage".into(),
            "fly deploy --config".into(),
            "fly wireguard create standin-org jnb global-sovereign-jnb-link-a".into(),
            "fly wireguard create standin-org jnb global-sovereign-jnb-link-b".into(),
            "fly ssh console -a global-sovereign-pg-jnb".into(),
        ],
    );
    assert!(
        position(
            &calls,
            "aws secretsmanager get-secret-value --region eu-west-1 --secret-id global-sovereign/postgres/replicator"
        ) > ams_apply,
        "the logical replica subscribes after the primary's site root created the role"
    );
    // deploy.sh apps wrote the addresses the global root's DNS records use.
    let global_state =
        std::fs::read_to_string(r.state.join("global-sovereign/production/global.tfstate"))
            .unwrap();
    assert!(
        global_state.contains("203.0.113.10"),
        "the Fly.io address reached DNS"
    );
    // The outputs verify reads, and verify's checklist (nothing answers here).
    let outputs: Value = serde_json::from_str(
        &std::fs::read_to_string(r.tree.with_file_name("tree.deploy/outputs.json")).unwrap(),
    )
    .unwrap();
    assert!(outputs.get("sites").is_some() || outputs.as_object().is_some_and(|o| !o.is_empty()));
    assert!(out.contains("Verify (the deployment checklist"), "{out}");
    assert!(out.contains("postgres::outputs_present"), "{out}");

    // Run 2: the failure is gone and the tags are active: only what did not finish runs.
    std::fs::remove_file(r.standin.join("fail-apply-in")).unwrap();
    std::fs::write(r.standin.join("cost-tags-active"), "").unwrap();
    let o = r.deploy(&["--yes", "--verify-timeout", "1"]);
    let (out, err) = text(&o);
    assert!(
        r.states().values().all(|s| s == "done"),
        "{:?}\n{out}\n{err}",
        r.states()
    );
    // Verify's checks cannot connect to anything here: the run ends with findings.
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(!out.contains("Failed ("), "{out}");
    assert!(out.contains("FAIL  http::load_balancer"), "{out}");
    let calls = r.take_calls();
    let roots_run: Vec<String> = calls
        .iter()
        .filter_map(|c| {
            let w: Vec<&str> = c.split_whitespace().collect();
            (w.first() == Some(&r.engine)).then(|| w.get(1).unwrap_or(&"").to_string())
        })
        .collect();
    for done_before in [".", "bootstrap", "dns", "sites/ams", "sites/iad"] {
        let dir = r.engine_call(done_before, "");
        let dir = dir.split_whitespace().nth(1).unwrap();
        assert!(
            !roots_run.iter().any(|d| d == dir),
            "`{done_before}` ran again:\n{}",
            calls.join("\n")
        );
    }
    in_order(
        &calls,
        &[
            r.engine_call("sites/syd", "apply"),
            r.engine_call("cassandra-access", "apply"),
            "aws eks update-kubeconfig --region ap-southeast-1 --name global-sovereign-sin".into(),
            "kubectl --context global-sovereign-sin -n k8ssandra rollout status deployment/k8ssandra-operator".into(),
            r.engine_call("cassandra", "apply"),
        ],
    );
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("aws ce list-cost-allocation-tags"))
    );
    assert_eq!(r.step("site syd")["attempts"], 2);
    assert_eq!(r.step("global")["attempts"], 1);

    // --status reads the journal.
    let o = r
        .command(&["--status", "--format", "json"])
        .output()
        .unwrap();
    let (out, _) = expect(&o, 0, "status");
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["engine"], engine);
    let o = r.command(&["--status"]).output().unwrap();
    let (out, _) = expect(&o, 0, "status");
    assert!(out.contains("site syd") && out.contains("done"), "{out}");
    eprintln!(
        "default tree with {engine}: first run {:.0} s, resume {:.0} s",
        first.as_secs_f64(),
        (started.elapsed() - first).as_secs_f64()
    );
}

#[test]
fn a_smaller_tree_deploys_with_opentofu_after_a_kill_and_a_provider_failure() {
    let Some(r) = rehearsal("minimal", "tofu") else {
        return;
    };
    let started = Instant::now();
    // Run A: killed while the global root applies (the provider would also refuse helm releases).
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("sovereign"));
    c.current_dir(repo())
        .args([
            "deploy",
            &r.example,
            "--engine",
            "tofu",
            "--yes",
            "--done",
            "delegate the zone",
            "--tree",
        ])
        .arg(&r.tree)
        .env_remove("TF_PLUGIN_CACHE_DIR")
        .env("SOVEREIGN_FAKE_FAIL", "helm_release")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in &r.env {
        c.env(k, v);
    }
    {
        use std::os::unix::process::CommandExt;
        c.process_group(0);
    }
    let mut child = c.spawn().unwrap();
    let global_apply = r.engine_call(".", "apply");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let calls = std::fs::read_to_string(r.standin.join("calls.log")).unwrap_or_default();
        if calls.lines().any(|l| l == global_apply) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "deploy ended before the global root's apply:\n{calls}"
        );
        assert!(Instant::now() < deadline, "no global apply:\n{calls}");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let pgid = child.id();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = child.wait();
    assert_eq!(
        r.states()["global"],
        "running",
        "killed during the global apply"
    );
    assert_eq!(r.states()["bootstrap"], "done");
    let o = r.command(&["--status"]).output().unwrap();
    let (out, _) = expect(&o, 1, "status after a kill");
    assert!(out.contains("interrupted"), "{out}");
    r.take_calls();

    // Run B: resume; the global root runs again, the site roots fail in the provider.
    let o = r
        .command(&["--yes", "--verify-timeout", "1"])
        .env("SOVEREIGN_FAKE_FAIL", "helm_release")
        .output()
        .unwrap();
    let (out, err) = expect(&o, 1, "resume with the provider refusing helm releases");
    let states = r.states();
    assert_eq!(states["global"], "done", "{out}\n{err}");
    assert_eq!(states["site dub"], "failed");
    assert_eq!(states["site iad"], "failed");
    assert_eq!(r.step("global")["attempts"], 2);
    assert_eq!(r.step("bootstrap")["attempts"], 1);
    let tail = r.step("site dub")["failure"]["last_lines"].to_string();
    assert!(tail.contains("helm_release"), "{tail}");
    let calls = r.take_calls();
    assert!(
        !calls.iter().any(|c| c.contains("/bootstrap ")),
        "{calls:?}"
    );

    // Run C: the provider accepts everything; the cost tags are active.
    std::fs::write(r.standin.join("cost-tags-active"), "").unwrap();
    let o = r.deploy(&["--yes", "--verify-timeout", "1"]);
    let (out, err) = text(&o);
    assert!(
        r.states().values().all(|s| s == "done"),
        "{:?}\n{out}\n{err}",
        r.states()
    );
    assert!(out.contains("Verify (the deployment checklist"), "{out}");
    r.take_calls();

    // Run D: --plan-only plans every root, finds nothing to change and changes no state.
    let before = r.state_files();
    assert!(before.len() >= 5, "{:?}", before.keys());
    let journal_before = std::fs::read(r.journal_path()).unwrap();
    let o = r.deploy(&["--plan-only"]);
    let (out, err) = expect(&o, 0, "plan-only");
    for root in ["bootstrap", "dns", "global", "site dub", "site iad"] {
        assert!(
            out.contains(&format!(
                "  {root} (planned: 0 to add, 0 to change, 0 to destroy)"
            )),
            "{root}:\n{out}\n{err}"
        );
    }
    assert_eq!(r.state_files(), before, "plan-only changed a state file");
    assert_eq!(std::fs::read(r.journal_path()).unwrap(), journal_before);
    let calls = r.take_calls();
    assert!(!calls.iter().any(|c| c.ends_with(" apply")), "{calls:?}");

    // Run E: --only one site applies that site's root and nothing else.
    let attempts_before = r.step("site iad")["attempts"].as_u64().unwrap();
    let o = r.deploy(&["--yes", "--only", "iad"]);
    expect(&o, 0, "--only iad");
    let calls = r.take_calls();
    let iad = r.tree.join("sites/iad").display().to_string();
    assert!(!calls.is_empty());
    for c in &calls {
        assert!(c.starts_with(&format!("tofu {iad} ")), "{c}");
    }
    assert_eq!(
        r.step("site iad")["attempts"].as_u64().unwrap(),
        attempts_before + 1
    );
    assert_eq!(r.step("site dub")["attempts"], 2);
    // Run F: a VPC marked for replacement (`taint`): the plan replaces a stateful resource,
    // so deploy refuses it and changes nothing, until --allow-destroy.
    let real = r
        .env
        .iter()
        .find(|(k, _)| k == "STANDIN_REAL_ENGINE")
        .map(|(_, v)| v.clone())
        .unwrap();
    let engine = |args: &[&str]| {
        let mut c = std::process::Command::new(&real);
        c.current_dir(&r.tree).args(args);
        for (k, v) in &r.env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let list = engine(&["state", "list"]);
    let (list, _) = expect(&list, 0, "state list");
    let vpc = list
        .lines()
        .find(|l| l.ends_with("aws_vpc.this"))
        .unwrap_or_else(|| panic!("no VPC in the global state:\n{list}"))
        .to_string();
    expect(&engine(&["taint", &vpc]), 0, "taint");
    r.take_calls();
    let before = r.state_files();
    let o = r.deploy(&["--yes", "--phase", "global"]);
    let (out, err) = expect(&o, 1, "a plan that replaces a VPC");
    let detail = r.step("global")["detail"].as_str().unwrap().to_string();
    assert!(
        detail.starts_with("refused: the plan destroys or replaces stateful resources")
            && detail.contains(&format!("{vpc} (aws_vpc)")),
        "{detail}\n{out}\n{err}"
    );
    assert!(err.contains(&format!("REPLACES {vpc} (aws_vpc)")), "{err}");
    assert_eq!(r.state_files(), before, "a refused plan changed state");
    assert!(!r.take_calls().iter().any(|c| c.ends_with(" apply")));
    let o = r.deploy(&["--yes", "--phase", "global", "--allow-destroy"]);
    expect(&o, 0, "--allow-destroy");
    assert_eq!(r.states()["global"], "done");
    assert!(
        r.step("global")["detail"]
            .as_str()
            .unwrap()
            .contains(" replaced)")
    );

    eprintln!(
        "minimal tree with OpenTofu, seven runs: {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

fn bare_tree(example: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let o = sovereign()
        .args(["-q", "render", &format!("examples/{example}.toml"), "--out"])
        .arg(&tree)
        .output()
        .unwrap();
    expect(&o, 0, "render");
    (dir, tree)
}

#[test]
fn a_tree_that_is_not_what_the_topology_renders_is_refused() {
    let (_d, tree) = bare_tree("minimal");
    let o = sovereign()
        .args([
            "deploy",
            "examples/global-sovereign.toml",
            "--yes",
            "--tree",
        ])
        .arg(&tree)
        .output()
        .unwrap();
    let (_, err) = expect(&o, 2, "wrong tree");
    assert!(
        err.contains("is not what examples/global-sovereign.toml renders"),
        "{err}"
    );
    std::fs::write(tree.join("main.tf"), "# edited\n").unwrap();
    let o = sovereign()
        .args(["deploy", "examples/minimal.toml", "--yes", "--tree"])
        .arg(&tree)
        .output()
        .unwrap();
    let (_, err) = expect(&o, 2, "edited tree");
    assert!(err.contains("main.tf"), "{err}");
    assert!(!tree.with_file_name("tree.deploy.json").exists());
}

#[test]
fn deploy_says_what_it_needs_before_it_starts() {
    let (_d, tree) = bare_tree("minimal");
    let base = |extra: &[&str]| {
        let mut c = sovereign();
        c.args(["deploy", "examples/minimal.toml", "--tree"])
            .arg(&tree)
            .args(extra);
        c
    };
    // No terminal to ask on and no --yes.
    let o = base(&[]).output().unwrap();
    let (_, err) = expect(&o, 2, "no --yes");
    assert!(err.contains("pass --yes"), "{err}");
    // The global root's operator ranges.
    let o = base(&["--yes", "--engine", "terraform"])
        .env("PATH", std::env::var("PATH").unwrap())
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert!(
        err.contains("TF_VAR_operator_cidrs") || err.contains("`terraform` is not on PATH"),
        "{err}"
    );
    // Unknown sites and steps name the valid ones.
    let o = base(&["--yes", "--only", "xyz"]).output().unwrap();
    let (_, err) = expect(&o, 2, "--only xyz");
    assert!(err.contains("no site `xyz`; sites: dub, iad"), "{err}");
    let o = base(&["--yes", "--phase", "nope"]).output().unwrap();
    let (_, err) = expect(&o, 2, "--phase nope");
    assert!(
        err.contains("no step `nope`; steps: bootstrap, dns"),
        "{err}"
    );
    // An engine that is not there.
    let o = base(&["--yes", "--engine", "tofu"])
        .env("PATH", "/nonexistent")
        .env("TF_VAR_operator_cidrs", "[\"198.51.100.7/32\"]")
        .output()
        .unwrap();
    let (_, err) = expect(&o, 2, "no tofu");
    assert!(err.contains("`tofu` is not on PATH"), "{err}");
    // Another deploy of the same tree holds the lock.
    let bin = tree.with_file_name("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("terraform"), "#!/bin/sh\nexit 0\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            bin.join("terraform"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    let artefacts = tree.with_file_name("tree.deploy");
    std::fs::create_dir_all(&artefacts).unwrap();
    let held = std::fs::File::create(artefacts.join("lock")).unwrap();
    held.lock().unwrap();
    let o = base(&["--yes"])
        .env("PATH", &bin)
        .env("TF_VAR_operator_cidrs", "[\"198.51.100.7/32\"]")
        .output()
        .unwrap();
    let (_, err) = expect(&o, 2, "locked");
    assert!(
        err.contains("another `sovereign deploy` is running"),
        "{err}"
    );
    drop(held);
    // --status before any deployment.
    let o = base(&["--status"]).output().unwrap();
    let (_, err) = expect(&o, 2, "no journal");
    assert!(err.contains("no deployment journal"), "{err}");
}
