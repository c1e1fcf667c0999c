#!/usr/bin/env python3
"""Regenerates the catalog's instance data (crates/sovereign-catalog/data/ec2.toml, aurora.toml,
cache.toml) from its sources and prints what changed.

Sources (each one's version and date is written into the file it feeds):

  botocore wheel (PyPI, pinned)   EC2: every instance type name (the EC2 service model's
                                  `InstanceType` enum). ElastiCache: the node types its API
                                  documentation lists, current or previous generation.
  moto wheel (PyPI, pinned)       AWS API answers moto records every month: DescribeInstanceTypes
                                  (vCPU, memory, architecture, processor, burstable, local storage,
                                  Spot), DescribeInstanceTypeOfferings per region, and
                                  DescribeOrderableDBInstanceOptions for aurora-postgresql (whether
                                  a class accepts global databases).
  --karpenter DIR                 a git directory of aws/karpenter-provider-aws: the us-east-1
                                  on-demand Linux prices Karpenter generates from the AWS Price
                                  List API (pkg/providers/pricing/zz_generated.pricing_aws.go).
  --aurora-guide DIR              a git directory of awsdocs/amazon-aurora-user-guide (archived
                                  2023-06): Aurora DB instance classes, the Aurora PostgreSQL
                                  versions each supports, their vCPU and memory.
  --elasticache-guide DIR         a git directory of awsdocs/amazon-elasticache-docs (archived
                                  2023-06): the supported node types and each one's `maxmemory`.

A git source that is not given keeps what the current data files recorded from it (and says so).
The script only reads its inputs and writes the three data files; it never runs their code.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    tomllib = None

DATA = Path(__file__).resolve().parents[2] / "crates/sovereign-catalog/data"

KARPENTER_PRICES = "pkg/providers/pricing/zz_generated.pricing_aws.go"
AURORA_CLASSES = "doc_source/Concepts.DBInstanceClass.md"
ELASTICACHE_TYPES = "doc_source/redis/CacheNodes.SupportedTypes.md"
ELASTICACHE_PARAMS = "doc_source/redis/ParameterGroups.Redis.md"

# When moto last re-recorded its aurora-postgresql orderable options (the wheel does not say):
# getmoto/moto moto/rds/resources/cluster_options/aurora-postgresql.json, last changed by
# commit bab61089a on 2023-04-08 (moto's history as of 2026-08). Update both when it changes.
MOTO_AURORA_RECORDED = ("2023-04-08", "bab61089a")

# Aurora classes the archived guide predates, listed in the current AWS support table as read in
# catalog-sources.md section 1 (db.r8g, Graviton4). Only the sizes the catalog carried before the refresh.
AURORA_FROM_FACTS = ["db.r8g.large", "db.r8g.xlarge", "db.r8g.2xlarge"]


def fail(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


# --- reading the sources -------------------------------------------------------------------------


@dataclass
class Wheel:
    name: str
    version: str
    built: str  # newest file date in the archive, YYYY-MM-DD
    zf: zipfile.ZipFile

    def json(self, path: str):
        raw = self.zf.read(path)
        if path.endswith(".gz"):
            raw = gzip.decompress(raw)
        return json.loads(raw)

    def names(self, prefix: str) -> list[str]:
        return sorted(n for n in self.zf.namelist() if n.startswith(prefix))


def open_wheel(path: Path) -> Wheel:
    zf = zipfile.ZipFile(path)
    m = re.match(r"([A-Za-z0-9_]+)-([^-]+)-", path.name)
    if not m:
        fail(f"not a wheel name: {path.name}")
    built = max(i.date_time for i in zf.infolist())
    return Wheel(m.group(1), m.group(2), "%04d-%02d-%02d" % built[:3], zf)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={repo}", *args], check=True, capture_output=True, text=True
    ).stdout


def git_dir(path: Path) -> Path:
    """A work tree, a bare repository or a mirror's git directory."""
    for cand in (path / ".git", path):
        if (cand / "HEAD").exists() and (cand / "objects").exists():
            return cand
    fail(f"{path} is not a git directory")
    raise AssertionError


def last_content(repo: Path, path: str) -> tuple[str, str, str]:
    """(text, commit, date) of the newest commit that still has `path` (the awsdocs guides were
    archived by deleting their content: read the commit before that)."""
    commit = git(repo, "rev-list", "-1", "HEAD", "--", path).strip()
    if not commit:
        fail(f"{path} was never in {repo}")
    try:
        text = git(repo, "show", f"{commit}:{path}")
    except subprocess.CalledProcessError:
        commit = git(repo, "rev-parse", f"{commit}^").strip()
        commit = git(repo, "rev-list", "-1", commit, "--", path).strip()
        text = git(repo, "show", f"{commit}:{path}")
    date = git(repo, "log", "-1", "--format=%cs", commit).strip()
    return text, commit, date


def unescape_md(s: str) -> str:
    return s.replace("\\", "").strip()


def md_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("|") and not line.startswith("| ---"):
            rows.append([unescape_md(c) for c in line.strip("|").split("|")])
    return rows


# --- EC2 ---------------------------------------------------------------------------------------


def ec2_names(botocore: Wheel) -> list[str]:
    model = botocore.json("botocore/data/ec2/2016-11-15/service-2.json.gz")
    return list(model["shapes"]["InstanceType"]["enum"])


def moto_shapes(moto: Wheel) -> dict[str, dict]:
    return moto.json("moto/ec2/resources/instance_types.json.gz")


def moto_offerings(moto: Wheel) -> dict[str, set[str]]:
    prefix = "moto/ec2/resources/instance_type_offerings/region/"
    out = {}
    for n in moto.names(prefix):
        region = n[len(prefix) :].split(".json")[0]
        out[region] = {o["InstanceType"] for o in moto.json(n)}
    return out


def karpenter_prices(repo: Path) -> tuple[dict[str, float], str, str, str]:
    commit = git(repo, "rev-list", "-1", "HEAD", "--", KARPENTER_PRICES).strip()
    text = git(repo, "show", f"{commit}:{KARPENTER_PRICES}")
    m = re.search(r"// generated at (\S+) for us-east-1", text)
    if not m:
        fail(f"{KARPENTER_PRICES}: no 'generated at ... for us-east-1' line")
    generated = m.group(1)[:10]
    block = text.split('"us-east-1": {', 1)[1].split("\n\t},", 1)[0]
    prices = {k: float(v) for k, v in re.findall(r'"([a-z0-9.-]+)": ([0-9.]+)', block)}
    return prices, commit, generated, git(repo, "log", "-1", "--format=%cs", commit).strip()


def ec2_rows(names, shapes, offerings, regions, prices):
    rows = []
    for name in names:
        s = shapes.get(name)
        mask = 0
        for i, r in enumerate(regions):
            if name in offerings[r]:
                mask |= 1 << i
        usd = prices.get(name)
        price = "-" if usd is None else f"{usd:g}"
        if s is None:
            # Not described by the API moto recorded: neither shape nor offerings are known.
            rows.append([name, "-", "-", "-", "-", "-", "-", "-", "-", price])
            continue
        archs = s["ProcessorInfo"]["SupportedArchitectures"]
        arch = next((a for a in ("arm64", "x86_64", "arm64_mac", "x86_64_mac") if a in archs), archs[0])
        cpu = s["ProcessorInfo"].get("Manufacturer", "-").lower() or "-"
        storage = (s.get("InstanceStorageInfo") or {}).get("TotalSizeInGB", 0)
        rows.append(
            [
                name,
                str(s["VCpuInfo"]["DefaultVCpus"]),
                str(s["MemoryInfo"]["SizeInMiB"]),
                arch,
                cpu,
                "y" if s.get("BurstablePerformanceSupported") else "n",
                str(storage),
                "y" if "spot" in s.get("SupportedUsageClasses", []) else "n",
                f"{mask:x}",
                price,
            ]
        )
    return rows


# --- Aurora -------------------------------------------------------------------------------------


def apg_versions(cell: str) -> str:
    """`15.2 and higher, 11.9, ...` -> `15.2+,11.9`; `All currently available versions` -> `all`;
    `No` -> `-`."""
    cell = cell.strip()
    if cell.lower().startswith("no"):
        return "-"
    if "all currently available" in cell.lower():
        return "all"
    parts = []
    for p in cell.split(","):
        p = p.strip()
        m = re.fullmatch(r"(\d+\.\d+)( and higher)?", p)
        if not m:
            fail(f"Aurora guide: cannot read version `{p}`")
        parts.append(m.group(1) + ("+" if m.group(2) else ""))
    return ",".join(parts)


def aurora_guide(repo: Path):
    text, commit, date = last_content(repo, AURORA_CLASSES)
    support: dict[str, str] = {}
    shape: dict[str, tuple[int, float]] = {}
    for row in md_rows(text):
        if len(row) >= 3 and re.fullmatch(r"db\.[a-z0-9]+\.[a-z0-9]+\*?", row[0]):
            name = row[0].rstrip("*")
            if len(row) >= 6 and re.fullmatch(r"\d+", row[1]):
                shape[name] = (int(row[1]), float(row[3].replace(",", "")))
            elif name not in support:
                support[name] = apg_versions(row[2])
    newest = max(
        int(v.split(".")[0])
        for vs in support.values()
        if vs not in ("all", "-")
        for v in vs.rstrip("+").split(",")
    )
    return support, shape, commit, date, newest


def moto_aurora_global(moto: Wheel) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for o in moto.json("moto/rds/resources/cluster_options/aurora-postgresql.json.gz"):
        out[o["DBIC"]] = out.get(o["DBIC"], False) or bool(o.get("SGD"))
    return out


def aurora_rows(support, shape, moto_global, ec2_shape):
    rows = []
    for name in sorted(set(support) | set(AURORA_FROM_FACTS), key=size_key):
        apg = support.get(name, "?")
        if apg == "-":
            continue  # not an Aurora PostgreSQL class
        if name in shape:
            vcpu, mem, src = shape[name][0], shape[name][1], "guide"
        else:
            ec2 = ec2_shape.get(name[3:])
            if ec2 is None:
                continue
            vcpu, mem, src = ec2[0], ec2[1], "ec2"
        if name in moto_global:
            glob, gsrc = ("yes" if moto_global[name] else "no"), "moto"
        else:
            memory_optimized = name.split(".")[1][0] in "rx"
            glob, gsrc = ("yes" if memory_optimized else "no"), "rule"
        listed = "guide" if name in support else "facts"
        rows.append([name, str(vcpu), f"{mem:g}", src, listed, apg, glob, gsrc])
    return rows


# --- ElastiCache --------------------------------------------------------------------------------


def elasticache_api_types(botocore: Wheel) -> dict[str, str]:
    """Node types the ElastiCache API documentation lists, with `current` or `previous`."""
    model = botocore.json("botocore/data/elasticache/2015-02-02/service-2.json.gz")
    doc = ""
    for shape in model["shapes"].values():
        for member, spec in shape.get("members", {}).items():
            d = spec.get("documentation", "")
            if member == "CacheNodeType" and "Previous generation" in d and len(d) > len(doc):
                doc = d
    text = re.sub(r"<[^>]+>", " ", html.unescape(doc))
    out: dict[str, str] = {}
    # Each "Current generation:" / "Previous generation:" heading governs the names after it.
    gen = None
    for token in re.split(r"(Current generation|Previous generation|cache\.[a-z0-9]+\.[a-z0-9]+)", text):
        if token == "Current generation":
            gen = "current"
        elif token == "Previous generation":
            gen = "previous"
        elif token.startswith("cache.") and gen:
            out.setdefault(token, gen)
    return out


def elasticache_guide(repo: Path):
    types_text, c1, d1 = last_content(repo, ELASTICACHE_TYPES)
    listed = set(re.findall(r"cache\.[a-z0-9]+\.[a-z0-9]+", types_text.replace("\\", "")))
    params_text, c2, d2 = last_content(repo, ELASTICACHE_PARAMS)
    maxmemory = {}
    for row in md_rows(params_text):
        if len(row) >= 2 and row[0].startswith("cache.") and re.fullmatch(r"\d+", row[1]):
            maxmemory[row[0]] = int(row[1])
    commit, date = max((d1, c1), (d2, c2))[1], max(d1, d2)
    return listed, maxmemory, commit, date


def cache_rows(api: dict[str, str], listed: set[str], maxmemory: dict[str, int], ec2_shape):
    rows = []
    for name in sorted(set(api) | listed, key=size_key):
        gen = api.get(name, "current")
        if name in maxmemory:
            mem, msrc = maxmemory[name], "guide"
        else:
            # A Graviton3 node has the memory of its Graviton2 sibling of the same size.
            fam, size = name.split(".")[1:]
            sib = f"cache.{fam.replace('7g', '6g')}.{size}"
            if "7g" not in fam or sib not in maxmemory:
                continue
            mem, msrc = maxmemory[sib], "sibling"
        ec2 = ec2_shape.get(name[len("cache.") :])
        vcpu = "-" if ec2 is None else str(ec2[0])
        arch = "-" if ec2 is None else ec2[2]
        lsrc = "api" if name in api else "guide"
        rows.append([name, vcpu, arch, str(mem), msrc, gen, lsrc])
    return rows


# --- writing --------------------------------------------------------------------------------------

SIZES = ["nano", "micro", "small", "medium", "large", "xlarge"]


def size_key(name: str):
    fam, _, size = name.rpartition(".")
    if size in SIZES:
        n = SIZES.index(size) / 10
    else:
        m = re.match(r"(\d+)xlarge", size)
        n = int(m.group(1)) if m else 10_000
    return (fam, n, size)


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        " ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows
    )


def source(key: str, status: str, text: str, as_of: str) -> str:
    return (
        f"[sources.{key}]\nstatus = {json.dumps(status)}\nsource = {json.dumps(text)}\n"
        f"as_of = {json.dumps(as_of)}\n"
    )


def old_rows(path: Path) -> dict[str, list[str]]:
    if not path.exists() or tomllib is None:
        return {}
    data = tomllib.loads(path.read_text())
    return {
        line.split()[0]: line.split()
        for line in data.get("rows", "").splitlines()
        if line.strip() and not line.startswith("#")
    }


def old_sources(path: Path) -> dict:
    if not path.exists() or tomllib is None:
        return {}
    return tomllib.loads(path.read_text())


def report(what: str, old: dict[str, list[str]], new: list[list[str]], price_col: int | None):
    newd = {r[0]: r for r in new}
    added = sorted(set(newd) - set(old), key=size_key)
    removed = sorted(set(old) - set(newd), key=size_key)
    changed = [n for n in newd if n in old and old[n] != newd[n]]
    repriced = []
    if price_col is not None:
        repriced = [
            (n, old[n][price_col], newd[n][price_col])
            for n in changed
            if len(old[n]) > price_col and old[n][price_col] != newd[n][price_col]
        ]
    print(f"{what}: {len(newd)} entries ({len(old)} before)")
    for label, items in (("added", added), ("removed", removed)):
        if items:
            shown = ", ".join(items[:40]) + (f", … ({len(items)} in all)" if len(items) > 40 else "")
            print(f"  {label}: {shown}")
    for n, a, b in repriced:
        print(f"  repriced: {n} {a} -> {b}")
    other = len(changed) - len(repriced)
    if other:
        print(f"  changed (shape, regions or support): {other}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheels", type=Path, required=True, help="directory with the pinned wheels")
    ap.add_argument("--karpenter", type=Path)
    ap.add_argument("--aurora-guide", type=Path)
    ap.add_argument("--elasticache-guide", type=Path)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    a = ap.parse_args()

    wheels = {w.name: w for w in (open_wheel(p) for p in sorted(a.wheels.glob("*.whl")))}
    for needed in ("botocore", "moto"):
        if needed not in wheels:
            fail(f"no {needed} wheel in {a.wheels}")
    botocore, moto = wheels["botocore"], wheels["moto"]

    ec2_path, aurora_path, cache_path = a.data / "ec2.toml", a.data / "aurora.toml", a.data / "cache.toml"
    old_ec2, old_aurora, old_cache = old_rows(ec2_path), old_rows(aurora_path), old_rows(cache_path)
    prev_ec2, prev_aurora, prev_cache = old_sources(ec2_path), old_sources(aurora_path), old_sources(cache_path)

    # EC2.
    names = ec2_names(botocore)
    shapes = moto_shapes(moto)
    offerings = moto_offerings(moto)
    regions = sorted(offerings)
    if a.karpenter:
        prices, kcommit, kgenerated, kdate = karpenter_prices(git_dir(a.karpenter))
        price_source = (
            "AWS Price List API (on-demand, Linux, shared tenancy, us-east-1) as generated into "
            f"aws/karpenter-provider-aws {KARPENTER_PRICES} at commit {kcommit} "
            f"(generated {kgenerated}, committed {kdate})"
        )
        price_src = source("price", "verified", price_source, kgenerated)
    else:
        print("kept: us-east-1 EC2 prices from the current ec2.toml (no --karpenter given)")
        prices = {n: float(r[9]) for n, r in old_ec2.items() if len(r) > 9 and r[9] != "-"}
        p = prev_ec2.get("sources", {}).get("price")
        if not p:
            fail("ec2.toml has no price source to keep: give --karpenter")
        price_src = source("price", p["status"], p["source"], p["as_of"])
    rows = ec2_rows(names, shapes, offerings, regions, prices)
    ec2_shape = {
        r[0]: (int(r[1]), int(r[2]) / 1024, r[3]) for r in rows if r[1] != "-"
    }
    moto_src = f"moto {moto.version} (PyPI, built {moto.built})"
    ec2_text = (
        "# EC2 instance types: every name the EC2 API accepts, its shape, the regions that offer it and\n"
        "# its us-east-1 on-demand Linux price where a source gives one. Generated by\n"
        "# scripts/refresh-catalog from the sources at the end; do not edit by hand (hand-curated regional\n"
        "# prices live in instances.toml). crates/sovereign-catalog/README.md documents the columns.\n\n"
        + "# Bit i of a row's `offered` mask (hex) stands for regions[i]; a region not listed is unknown.\n"
        + f"regions = {json.dumps(regions)}\n\n"
        + "# name vcpu memory_mib arch cpu burstable local_gb spot offered usd_us_east_1 (`-`: unknown)\n"
        + 'rows = """\n'
        + table(rows)
        + '\n"""\n\n'
        + source(
            "names", "verified",
            f"botocore {botocore.version} (PyPI, built {botocore.built}): data/ec2/2016-11-15/service-2.json, "
            "shape InstanceType (the names the EC2 API accepts)", botocore.built)
        + "\n"
        + source(
            "shape", "verified",
            f"AWS DescribeInstanceTypes answers as recorded by {moto_src}: moto/ec2/resources/"
            "instance_types.json (moto re-records them monthly from the AWS API)", moto.built)
        + "\n"
        + source(
            "offered", "verified",
            f"AWS DescribeInstanceTypeOfferings (location type region) answers as recorded by {moto_src}: "
            "moto/ec2/resources/instance_type_offerings/region/<region>.json", moto.built)
        + "\n"
        + price_src
    )

    # Aurora.
    if a.aurora_guide:
        support, shape, acommit, adate, newest = aurora_guide(git_dir(a.aurora_guide))
        guide_src = source(
            "guide", "verified",
            "Amazon Aurora User Guide, awsdocs/amazon-aurora-user-guide "
            f"{AURORA_CLASSES} at commit {acommit} (the guide's last content before it was archived): "
            "supported DB engines for DB instance classes, and their hardware specifications", adate)
    else:
        print("kept: Aurora classes from the current aurora.toml (no --aurora-guide given)")
        g = prev_aurora.get("sources", {}).get("guide")
        if not g:
            fail("aurora.toml has no guide source to keep: give --aurora-guide")
        guide_src = source("guide", g["status"], g["source"], g["as_of"])
        newest = prev_aurora["apg_newest_major"]
        support = {n: r[5] for n, r in old_aurora.items() if r[4] == "guide"}
        shape = {n: (int(r[1]), float(r[2])) for n, r in old_aurora.items() if r[3] == "guide"}
    arows = aurora_rows(support, shape, moto_aurora_global(moto), ec2_shape)
    aurora_text = (
        "# Aurora PostgreSQL DB instance classes: shape, the Aurora PostgreSQL versions each supports\n"
        "# and whether global databases accept it. Generated by scripts/refresh-catalog from the sources\n"
        "# at the end; do not edit by hand. Prices are hand-curated in instances.toml.\n\n"
        + "# The newest Aurora PostgreSQL major the guide covers; support for newer majors is unknown.\n"
        + f"apg_newest_major = {newest}\n\n"
        + "# name vcpu memory_gib shape listed apg_versions global global_source\n"
        + "# apg_versions: comma-separated `M.m+` (that minor and later of major M) or `M.m` (that minor),\n"
        + "# `all` (every version of the majors covered), `?` (listed, versions unknown)\n"
        + 'rows = """\n' + table(arows) + '\n"""\n\n'
        + guide_src + "\n"
        + source("facts", "verified",
                 "db.r8g (Graviton4) listed in the current Aurora instance-class support table: "
                 "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.DBInstanceClass.SupportAurora.html "
                 "(catalog-sources.md section 1); sizes as the catalog carried them", "2026-11-26") + "\n"
        + source("ec2", "derived",
                 "the vCPU and memory of the EC2 instance type of the same name (ec2.toml), as the guide's "
                 "hardware table shows for every class it lists", moto.built) + "\n"
        + source("moto", "verified",
                 f"AWS DescribeOrderableDBInstanceOptions (aurora-postgresql, us-east-1) as recorded by moto "
                 f"(getmoto/moto commit {MOTO_AURORA_RECORDED[1]}) and shipped in {moto_src}: "
                 "moto/rds/resources/cluster_options/aurora-postgresql.json, SupportsGlobalDatabases",
                 MOTO_AURORA_RECORDED[0]) + "\n"
        + source("rule", "derived",
                 "global databases require memory-optimized classes (db.r*, db.x*): "
                 "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database.configuration.requirements.html "
                 "(catalog-sources.md section 1)", "2026-11-26")
    )

    # ElastiCache.
    api = elasticache_api_types(botocore)
    if a.elasticache_guide:
        listed, maxmemory, ecommit, edate = elasticache_guide(git_dir(a.elasticache_guide))
        eguide_src = source(
            "guide", "verified",
            "Amazon ElastiCache for Redis User Guide, awsdocs/amazon-elasticache-docs "
            f"{ELASTICACHE_TYPES} and {ELASTICACHE_PARAMS} (maxmemory per node type) at commit {ecommit} "
            "(the guide's last content before it was archived)", edate)
    else:
        print("kept: ElastiCache memory from the current cache.toml (no --elasticache-guide given)")
        g = prev_cache.get("sources", {}).get("guide")
        if not g:
            fail("cache.toml has no guide source to keep: give --elasticache-guide")
        eguide_src = source("guide", g["status"], g["source"], g["as_of"])
        listed = {n for n, r in old_cache.items() if r[6] == "guide"}
        maxmemory = {n: int(r[3]) for n, r in old_cache.items() if r[4] == "guide"}
    crows = cache_rows(api, listed, maxmemory, ec2_shape)
    cache_text = (
        "# ElastiCache (Redis OSS / Valkey) node types: vCPU, architecture, memory available to the\n"
        "# engine (maxmemory, bytes) and generation. Generated by scripts/refresh-catalog from the sources\n"
        "# at the end; do not edit by hand. Prices are hand-curated in instances.toml; global datastore\n"
        "# support follows limits.toml.\n\n"
        + "# name vcpu arch maxmemory_bytes memory_source generation listed\n"
        + 'rows = """\n' + table(crows) + '\n"""\n\n'
        + source("api", "verified",
                 f"botocore {botocore.version} (PyPI, built {botocore.built}): data/elasticache/2015-02-02/"
                 "service-2.json, the CacheNodeType documentation (current and previous generation node types; "
                 "previous generation: creating new clusters is not supported)", botocore.built) + "\n"
        + eguide_src + "\n"
        + source("sibling", "derived",
                 "a Graviton3 node (cache.m7g, cache.r7g) has the maxmemory of the Graviton2 node of the same "
                 "size (cache.m6g, cache.r6g): the guide gives one size the same maxmemory across generations "
                 "(m5 = m6g, r5 = r6g = r6gd)",
                 edate if a.elasticache_guide else g["as_of"]) + "\n"
        + source("ec2", "derived", "vCPU and architecture of the EC2 instance type of the same name (ec2.toml)",
                 moto.built)
    )

    report("EC2 instance types", old_ec2, rows, 9)
    report("Aurora PostgreSQL classes", old_aurora, arows, None)
    report("ElastiCache node types", old_cache, crows, None)
    shaped = sum(1 for r in rows if r[1] != "-")
    print(f"EC2: {len(rows)} names, {shaped} with a recorded shape, {sum(1 for r in rows if r[9] != '-')} priced in us-east-1")

    changed = False
    for path, text in ((ec2_path, ec2_text), (aurora_path, aurora_text), (cache_path, cache_text)):
        if not path.exists() or path.read_text() != text:
            changed = True
            if not a.check:
                path.write_text(text)
                print(f"wrote {path}")
    if a.check and changed:
        print("the data files are out of date")
        sys.exit(1)


if __name__ == "__main__":
    main()
