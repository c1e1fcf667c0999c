//! The `sovereign` binary end to end: exit codes, formats, files, hostile input.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

const TODAY: &str = "2026-11-26";

fn sovereign() -> Command {
    let mut c = Command::cargo_bin("sovereign").unwrap();
    c.env("SOVEREIGN_TODAY", TODAY).env_remove("NO_COLOR");
    c
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    repo()
        .join("tests/corpus/invalid")
        .join(format!("{name}.toml"))
}

/// Output with temporary directories replaced, for snapshots.
fn normalise(text: &str, dir: &Path) -> String {
    text.replace(&dir.display().to_string(), "[TMP]")
}

#[test]
fn check_default_is_clean_with_warnings() {
    sovereign()
        .arg("check")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("warning[SOV021]"))
        .stderr(predicate::str::contains("1 warning in `<default>`"));
}

#[test]
fn check_errors_exit_1() {
    sovereign()
        .args(["check"])
        .arg(fixture("overlapping_cidrs"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error[SOV043]"))
        .stdout(predicate::str::contains("-->"));
}

#[test]
fn missing_file_exits_2() {
    sovereign()
        .args(["check", "/nonexistent/sovereign.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot read `/nonexistent/sovereign.toml`",
        ));
}

#[test]
fn directory_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    sovereign()
        .arg("check")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a directory"));
}

#[test]
fn usage_errors_exit_2() {
    sovereign().arg("frobnicate").assert().code(2);
    sovereign()
        .args(["check", "--format", "xml"])
        .assert()
        .code(2);
    sovereign().arg("--help").assert().code(0);
    sovereign().arg("--version").assert().code(0);
}

#[test]
fn check_json_shape() {
    let out = sovereign()
        .args(["check", "--format", "json"])
        .arg(fixture("rf_exceeds_nodes"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["errors"], 1);
    assert_eq!(v["warnings"], 1);
    let d = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["severity"] == "error")
        .unwrap();
    assert_eq!(d["code"], "SOV070");
    assert_eq!(d["name"], "rf_exceeds_nodes");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["primary"]["start"]["line"], 15);
    assert_eq!(d["primary"]["start"]["column"], 22);
    assert_eq!(d["secondary"][0]["message"], "2 nodes");
    assert!(d["help"][0].as_str().unwrap().contains("raise `nodes`"));
}

#[test]
fn check_reads_stdin() {
    let text = std::fs::read_to_string(fixture("cidr_host_bits")).unwrap();
    sovereign()
        .args(["check", "-"])
        .write_stdin(text)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("<stdin>:7:12"));
}

#[test]
fn colour_follows_flags() {
    let esc = predicate::str::contains("\u{1b}[");
    sovereign()
        .args(["check", "--color", "always"])
        .assert()
        .stdout(esc.clone());
    sovereign()
        .args(["check"])
        .assert()
        .stdout(esc.clone().not());
    sovereign()
        .args(["check", "--color", "auto"])
        .env("NO_COLOR", "1")
        .assert()
        .stdout(esc.not());
}

#[test]
fn explain_by_code_and_name() {
    sovereign()
        .args(["explain", "SOV043"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("# SOV043 overlapping_cidrs"));
    sovereign()
        .args(["explain", "sov071"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("LOCAL_QUORUM"));
    sovereign()
        .args(["explain", "overlaping_cidrs"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "did you mean `overlapping_cidrs`?",
        ));
    let list = sovereign()
        .arg("explain")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let list = String::from_utf8(list).unwrap();
    for rule in sovereign_check::all_rules() {
        assert!(
            list.contains(rule.code),
            "{} missing from the list",
            rule.code
        );
    }
}

/// Issue 13: common EC2 types, an Aurora Graviton class and a Graviton cache node check clean
/// and cost; a node group mixing Graviton and x86 types is an error naming both architectures.
#[test]
fn common_instance_types_check_and_cost() {
    let file = repo().join("tests/corpus/valid/common_instance_types.toml");
    sovereign()
        .arg("check")
        .arg(&file)
        .assert()
        .code(0)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("no problems"));
    let out = sovereign()
        .args(["cost", "--format", "json"])
        .arg(&file)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let cost: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(cost["missing"], Value::Array(vec![]));
    let lines = cost["lines"].as_array().unwrap();
    let line = |component: &str, what: &str| {
        lines
            .iter()
            .find(|l| {
                l["component"] == component && l["description"].as_str().unwrap().contains(what)
            })
            .unwrap_or_else(|| panic!("no {component} line for {what}"))
    };
    // EC2: the AWS price list as Karpenter generated it (us-east-1, 2026-07-20).
    let nodes = line("nodes_on_demand", "c6i.xlarge");
    assert_eq!(nodes["unit_price_usd"], 0.17);
    assert_eq!(nodes["price"]["status"], "verified");
    line("nodes_spot", "r7g.large");
    line("aurora_instances", "db.r7g.2xlarge");
    line("elasticache", "cache.r7g.large");
    let plan = sovereign()
        .arg("plan")
        .arg(&file)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let plan = String::from_utf8(plan).unwrap();
    assert!(plan.contains("x86_64 (AL2023_x86_64_STANDARD)"), "{plan}");
    assert!(plan.contains("arm64 (AL2023_ARM_64_STANDARD)"), "{plan}");
    assert!(plan.contains("m7i.2xlarge"), "{plan}");

    sovereign()
        .arg("check")
        .arg(fixture("mixed_architectures"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error[SOV103]"))
        .stdout(predicate::str::contains(
            "`m6g.large` is arm64, `m5.large` is x86_64",
        ));
}

#[test]
fn explain_instance_types() {
    sovereign()
        .args(["explain", "c6i.xlarge"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("vCPU           4"))
        .stdout(predicate::str::contains("AL2023_x86_64_STANDARD"))
        .stdout(predicate::str::contains("us-east-1 $0.17"));
    sovereign()
        .args(["explain", "db.r7g.2xlarge"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("13.10+, 14.7+, 15.2+"));
    sovereign()
        .args(["explain", "--types"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("on-demand $/hour"));
    sovereign()
        .args(["explain", "c6i.xlarg"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean `c6i.xlarge`?"));
}

#[test]
fn init_writes_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sovereign.toml");
    sovereign().arg("init").arg(&path).assert().code(0);
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written, sovereign_spec::Template::GlobalSovereign.text());
    let refused = sovereign()
        .arg("init")
        .arg(&path)
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert_eq!(
        normalise(&String::from_utf8(refused).unwrap(), dir.path()),
        "error: `[TMP]/sovereign.toml` already exists; pass --force to replace it\n"
    );
    sovereign()
        .args(["init", "--force", "--template", "minimal"])
        .arg(&path)
        .assert()
        .code(0);
    sovereign().arg("check").arg(&path).assert().code(0);
    sovereign()
        .args(["init", "--template", "minimal", "-"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("[project]"));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files are left behind");
}

#[test]
fn plan_default_and_json() {
    let out = sovereign()
        .arg("plan")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains(
            "global-sovereign (production): 6 sites in 5 AWS regions and 2 Fly.io regions"
        )
    );
    assert!(out.contains("10.5.32.0/24"));
    let json = sovereign()
        .args(["plan", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["inventory"]["totals"]["eks_clusters"], 5);
    assert_eq!(v["inventory"]["totals"]["nat_gateways"], 14);
    assert_eq!(v["warnings"][0]["code"], "SOV021");
}

#[test]
fn plan_refuses_invalid_topology() {
    sovereign()
        .arg("plan")
        .arg(fixture("rf_exceeds_nodes"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot plan: 1 error"));
}

/// Runs `check` on bytes and returns the exit code, which must never be a panic (101).
fn check_bytes(bytes: &[u8]) -> i32 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.toml");
    std::fs::write(&path, bytes).unwrap();
    let out = sovereign().arg("check").arg(&path).output().unwrap();
    let code = out.status.code().expect("killed by a signal");
    assert!(
        code == 0 || code == 1 || code == 2,
        "exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    code
}

#[test]
fn hostile_input_never_panics() {
    assert_eq!(check_bytes(b""), 1);
    assert_eq!(check_bytes(b"\xff\xfe\x00garbage\x00\x01\x02"), 1);
    let mut not_utf8 = b"[project]\nname = \"caf".to_vec();
    not_utf8.extend([0xe9, b'"', b'\n']);
    assert_eq!(check_bytes(&not_utf8), 1);
    let deep = format!("a = {}{}", "[".repeat(20_000), "]".repeat(20_000));
    assert_eq!(check_bytes(deep.as_bytes()), 1);
    let deep_tables = format!("[{}]\n", vec!["t"; 5_000].join("."));
    assert_eq!(check_bytes(deep_tables.as_bytes()), 1);
    let inline = format!("a = {}{}", "{ b = ".repeat(5_000), "}".repeat(5_000));
    assert_eq!(check_bytes(inline.as_bytes()), 1);
    let mut big = String::from(sovereign_spec::Template::GlobalSovereign.text());
    while big.len() < 10 * 1024 * 1024 {
        big.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    assert_eq!(check_bytes(big.as_bytes()), 0);
    let many_keys: String = (0..200_000).map(|i| format!("k{i} = {i}\n")).collect();
    assert_eq!(check_bytes(many_keys.as_bytes()), 1);
}

/// A file or a stream above the input limit (64 MiB) is refused before it is read or parsed,
/// with a usage error that says why.
#[test]
fn input_above_the_limit_is_refused() {
    let limit = 64 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.toml");
    // Sparse: the size is what counts, and nothing is written to the disk.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(limit + 1)
        .unwrap();
    sovereign()
        .arg("check")
        .arg(&big)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is larger than 64 MiB"));
    sovereign()
        .args(["check", "-"])
        .write_stdin(vec![b'#'; limit as usize + 1])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`<stdin>` is larger than 64 MiB"));
}

/// Nothing from the input reaches the terminal as an escape sequence, a bidirectional override
/// or an invisible character: in diagnostics' source excerpts, messages, or `explain`'s echo.
#[test]
fn terminal_control_characters_are_never_echoed() {
    let hostile = "[project]\nname = \"acme\"\n\n[[sites]]\nid = \"ams\u{202E}x\u{200B}\"\nname = \"\\u001b[31mred\"\nfly_region = \"ams\"\n";
    let o = sovereign()
        .args(["check", "-", "--color", "never"])
        .write_stdin(hostile)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    for bad in ['\u{1b}', '\u{202E}', '\u{200B}'] {
        assert!(!all.contains(bad), "{bad:?} reached the terminal:\n{all}");
    }
    assert!(all.contains("SOV011"), "{all}");
    assert!(
        all.contains("SOV016"),
        "the name with an escape sequence is refused: {all}"
    );
    let o = sovereign()
        .args(["explain", "\u{1b}]0;pwned\u{7}x"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err}");
}

/// A quoted `"NaN"` is not a number with quotes around it.
#[test]
fn nan_in_quotes_gets_no_remove_the_quotes_hint() {
    let text = "[project]\nname = \"acme\"\n\n[[sites]]\nid = \"ams\"\nfly_region = \"ams\"\n\n[budgets]\nmonthly_total_usd = \"NaN\"\nrecipients = [\"a@example.com\"]\n";
    let o = sovereign()
        .args(["check", "-", "--color", "never"])
        .write_stdin(text)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("remove the quotes"), "{out}");
    let o = sovereign()
        .args(["check", "-", "--color", "never"])
        .write_stdin(text.replace("\"NaN\"", "\"5000\""))
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&o.stdout).contains("remove the quotes: `5000`"));
}

#[test]
fn non_utf8_is_reported_at_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.toml");
    std::fs::write(&path, b"[project]\nname = \"caf\xe9\"\n").unwrap();
    sovereign()
        .arg("check")
        .arg(&path)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "error[SOV001]: the file is not valid UTF-8 (byte 21)",
        ))
        .stdout(predicate::str::contains("latin1.toml:2:12"));
}

#[test]
fn committed_terraform_tree_is_current() {
    sovereign()
        .args(["render", "--check", "--out"])
        .arg(repo().join("terraform"))
        .assert()
        .code(0)
        .stderr(predicate::str::contains("matches the rendered tree"));
}

#[test]
fn render_writes_checks_and_keeps_user_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tf");
    let minimal = repo().join("examples/minimal.toml");
    sovereign()
        .args(["-q", "render"])
        .arg(&minimal)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    assert!(out.join("main.tf").is_file());
    assert!(out.join("modules/region/main.tf").is_file());
    sovereign()
        .args(["render", "--check"])
        .arg(&minimal)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);

    // The user's files next to the rendered ones: local state, provider cache, variables.
    std::fs::write(out.join("bootstrap/terraform.tfstate"), "{\"version\": 4}").unwrap();
    std::fs::create_dir_all(out.join(".terraform/providers")).unwrap();
    std::fs::write(out.join(".terraform/providers/x"), "cache").unwrap();
    std::fs::write(out.join("fly.auto.tfvars.json"), "{}").unwrap();
    // A generated file changed by hand, and one the next render no longer produces.
    std::fs::write(out.join("vpc.tf"), "# edited\n").unwrap();
    let manifest = std::fs::read_to_string(out.join(".sovereign-render")).unwrap();
    std::fs::write(out.join("stale.tf"), "# old\n").unwrap();
    std::fs::write(
        out.join(".sovereign-render"),
        format!("{manifest}stale.tf\n"),
    )
    .unwrap();

    let check = sovereign()
        .args(["render", "--check", "--format", "json"])
        .arg(&minimal)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&check).unwrap();
    assert_eq!(v["changed"], serde_json::json!(["vpc.tf"]));
    assert_eq!(v["removed"], serde_json::json!(["stale.tf"]));
    assert_eq!(v["manifest"], serde_json::json!(true));

    sovereign()
        .args(["-q", "render"])
        .arg(&minimal)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    sovereign()
        .args(["render", "--check"])
        .arg(&minimal)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    assert!(!out.join("stale.tf").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("bootstrap/terraform.tfstate")).unwrap(),
        "{\"version\": 4}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join(".terraform/providers/x")).unwrap(),
        "cache"
    );
    assert!(out.join("fly.auto.tfvars.json").exists());
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        leftovers,
        vec!["tf".to_string()],
        "no temporary directories are left"
    );
}

/// Files a render into an existing directory must never touch: a home directory, a git
/// repository, an override file.
fn plant_user_files(dir: &Path) {
    std::fs::create_dir_all(dir.join(".ssh")).unwrap();
    std::fs::write(dir.join(".ssh/id_ed25519"), "key").unwrap();
    std::fs::create_dir_all(dir.join(".git/refs")).unwrap();
    std::fs::write(dir.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::create_dir_all(dir.join("projects/x")).unwrap();
    std::fs::write(dir.join("projects/x/notes.md"), "notes").unwrap();
    std::fs::write(dir.join("backend_override.tf"), "# mine\n").unwrap();
}

fn assert_user_files(dir: &Path) {
    assert_eq!(
        std::fs::read_to_string(dir.join(".ssh/id_ed25519")).unwrap(),
        "key"
    );
    assert!(dir.join(".git/refs").is_dir());
    assert_eq!(
        std::fs::read_to_string(dir.join("projects/x/notes.md")).unwrap(),
        "notes"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("backend_override.tf")).unwrap(),
        "# mine\n"
    );
}

#[test]
fn render_refuses_a_non_empty_directory_it_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    plant_user_files(&home);
    sovereign()
        .args(["render", "--out"])
        .arg(&home)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "is not empty and was not written by `sovereign render`",
        ))
        .stderr(predicate::str::contains("`.ssh/`"))
        .stderr(predicate::str::contains("--force"));
    assert_user_files(&home);
    assert!(!home.join("main.tf").exists());

    // With --force the tree goes in beside them; later renders still leave them alone.
    sovereign()
        .args(["render", "--force", "--out"])
        .arg(&home)
        .assert()
        .code(0);
    assert!(home.join("main.tf").is_file());
    assert_user_files(&home);
    sovereign()
        .args(["-q", "render"])
        .arg(repo().join("examples/minimal.toml"))
        .arg("--out")
        .arg(&home)
        .assert()
        .code(0);
    assert_user_files(&home);
    assert!(
        !home.join("sites/syd").exists(),
        "files no longer rendered are removed"
    );
}

#[test]
fn render_will_not_replace_a_file_it_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tf");
    let minimal = repo().join("examples/minimal.toml");
    sovereign()
        .args(["-q", "render"])
        .arg(&minimal)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    // The default topology renders `sites/ams/`, which the minimal one does not: a file the
    // user put there first is not ours to replace.
    std::fs::create_dir_all(out.join("sites/ams")).unwrap();
    std::fs::write(out.join("sites/ams/main.tf"), "# mine\n").unwrap();
    sovereign()
        .args(["render", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("sites/ams/main.tf"));
    assert_eq!(
        std::fs::read_to_string(out.join("sites/ams/main.tf")).unwrap(),
        "# mine\n"
    );
}

#[cfg(unix)]
#[test]
fn render_into_a_read_only_directory_fails_cleanly() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    // root writes through any mode bit: as root, run the render as `nobody`.
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"])
            .arg(assert_cmd::cargo::cargo_bin!("sovereign"));
        c
    } else {
        sovereign()
    };
    cmd.args(["render", "--out"])
        .arg(&ro)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot create"));
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn render_refuses_invalid_topology_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tf");
    sovereign()
        .arg("render")
        .arg(fixture("overlapping_cidrs"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot render"));
    assert!(!out.exists());
}

#[cfg(unix)]
#[test]
fn render_marks_scripts_executable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tf");
    sovereign()
        .args(["-q", "render", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    let mode = std::fs::metadata(out.join("fly/deploy.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111);
}

fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(repo().join("tests/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

#[test]
fn plan_human_output() {
    let out = sovereign()
        .args(["-q", "plan"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    snapshot_settings()
        .bind(|| insta::assert_snapshot!("plan_default", String::from_utf8(out).unwrap()));
    let lose = sovereign()
        .args(["plan", "--lose", "ams,iad"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    snapshot_settings()
        .bind(|| insta::assert_snapshot!("plan_lose_ams_iad", String::from_utf8(lose).unwrap()));
    sovereign()
        .args(["plan", "--lose", "nowhere"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--lose: no site `nowhere`"));
}

#[test]
fn cost_human_output_and_exit_codes() {
    let out = sovereign()
        .args(["-q", "cost"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    snapshot_settings()
        .bind(|| insta::assert_snapshot!("cost_default", String::from_utf8(out).unwrap()));
    // A budget below the estimate: exit 1, or 0 with --budget-warn-only.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    let text = sovereign_spec::Template::Minimal
        .text()
        .replace("monthly_total_usd = 6000", "monthly_total_usd = 100");
    std::fs::write(&path, text).unwrap();
    sovereign()
        .arg("cost")
        .arg(&path)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("total budget exceeded"));
    sovereign()
        .args(["cost", "--budget-warn-only"])
        .arg(&path)
        .assert()
        .code(0);
    // An instance class without a price: exit 1, naming it.
    let text = sovereign_spec::Template::Minimal
        .text()
        .replace("db.r6g.large", "db.r8g.large");
    std::fs::write(&path, text).unwrap();
    sovereign()
        .arg("cost")
        .arg(&path)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "no price for aurora_instances `db.r8g.large` in eu-west-1",
        ));
}

/// The documented JSON shape of `plan --format json` (docs/commands.md, `sovereign plan`).
#[test]
fn plan_json_shape() {
    let json = sovereign()
        .args(["plan", "--format", "json", "--lose", "ams"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&json).unwrap();
    for key in [
        "file",
        "project",
        "warnings",
        "inventory",
        "cost",
        "latency",
        "survivability",
        "scenario",
        "deploy",
    ] {
        assert!(v.get(key).is_some(), "missing `{key}`");
    }
    assert_eq!(v["cost"]["currency"], "USD");
    let lines: i64 = v["cost"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["monthly_cents"].as_i64().unwrap())
        .sum();
    assert_eq!(lines, v["cost"]["total_cents"].as_i64().unwrap());
    assert_eq!(
        v["scenario"]["loss"],
        serde_json::json!({"kind": "site", "site": "ams"})
    );
    assert_eq!(v["scenario"]["postgres"]["status"], "failover");
    assert_eq!(v["scenario"]["postgres"]["primary"], "iad");
    assert_eq!(v["survivability"]["sites"].as_array().unwrap().len(), 6);
    assert_eq!(v["survivability"]["pairs"].as_array().unwrap().len(), 15);
    assert_eq!(v["survivability"]["zones"].as_array().unwrap().len(), 14);
    assert_eq!(v["deploy"][0]["name"], "bootstrap");
    assert_eq!(v["latency"][0]["site"], "ams");
}
