"""Shared fixtures. The demo model is trained once per test session (fixture ``demo_run``)
and every test that needs a trained model or workflow outputs shares it."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # any weight download fails fast
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def tree_hashes(*roots: Path) -> dict[str, str]:
    """sha256 of every file below ``roots`` (symlinks read through), for byte-identity checks."""
    out = {}
    for root in roots:
        root = Path(root)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in files:
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_snakemake(workdir: Path, configfiles: list[Path], *args: str, check: bool = True,
                  timeout: int = 3600) -> subprocess.CompletedProcess:
    cmd = [*SNAKEMAKE, "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory", str(workdir),
           "--configfile", *map(str, configfiles), "--cores", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def write_config(path: Path, **overrides) -> Path:
    """The repository's config.yaml with ``overrides`` (nested dicts are merged)."""
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> dict:
    """The bundled synthetic demo (project, 2 videos with spaces in their names, ground truth)."""
    from cichlid_track.synth import DemoSpec, make_demo

    out = tmp_path_factory.mktemp("demo data")  # a space in the folder name on purpose
    r = make_demo(out, DemoSpec())
    sheet = out / "samples.tsv"
    sheet.write_text("id\tpath\n" + "".join(f"{v.stem}\t{v}\n" for v in r["videos"]))
    r["samples"] = sheet
    r["root"] = out
    return r


@pytest.fixture(scope="session")
def demo_run(demo_data, tmp_path_factory) -> dict:
    """The demo workflow run end to end once, with the demo's own training schedule.

    The hashes of the user's project and videos are taken before the run and kept in the work folder
    (``hashes_before.json``). For quick iterations on later tests, CICHLID_TEST_REUSE_WORK=<a previous
    session's work0> reuses that run and its recorded hashes (its demo data must still exist); CI never sets it."""
    import json

    reuse = os.environ.get("CICHLID_TEST_REUSE_WORK")
    if reuse:
        work = Path(reuse)
        return {"work": work, "config": work / "config.yaml", "results": work / "results", "log": "",
                "hashes_before": json.loads((work / "hashes_before.json").read_text())}
    work = tmp_path_factory.mktemp("work")
    before = tree_hashes(demo_data["project"], *demo_data["videos"])
    (work / "hashes_before.json").write_text(json.dumps(before))
    cfg = write_config(work / "config.yaml", project=str(demo_data["config"]), samples=str(demo_data["samples"]),
                       results=str(work / "results"), ground_truth=str(demo_data["ground_truth"]))
    proc = run_snakemake(work, [cfg])
    return {"work": work, "config": cfg, "results": work / "results", "hashes_before": before, "log": proc.stderr}


@pytest.fixture(scope="session")
def settings(demo_run):
    from cichlid_track.settings import load_settings

    cfg = yaml.safe_load(demo_run["config"].read_text())
    return load_settings(cfg, REPO / "workflow" / "schemas", workdir=demo_run["work"])


@pytest.fixture
def copy_of_demo_project(demo_data, tmp_path) -> Path:
    dest = tmp_path / "project copy"
    shutil.copytree(demo_data["project"], dest)
    return dest / "config.yaml"
