"""The ICE profile planned without SLURM (dry runs, seconds): GPUs only for GPU stages, runtimes sized to
each video, grouped re-ID, and one clear line when the account or a partition is unset."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO

GPU_RULES = {"train", "evaluate", "analyze", "reid_video", "reid_group"}
CPU_RULES = {"shuffle", "tracklets", "triplets", "identity", "stitch", "labelled_video", "video_qc"}
LOCAL_RULES = {"check_labels", "project_copy", "training_qc", "batch_table"}
CLUSTER_ENV = {"CICHLID_ACCOUNT": "lab", "CICHLID_PARTITION": "cpu-small", "CICHLID_GPU_PARTITION": "gpu-h100"}


def ice_profile(folder: Path) -> Path:
    """profiles/ice without its conda lines (this machine has no conda); everything else as shipped."""
    prof = yaml.safe_load((REPO / "profiles" / "ice" / "config.yaml").read_text())
    prof.pop("software-deployment-method")
    prof.pop("conda-frontend")
    (folder / "ice").mkdir()
    (folder / "ice" / "config.yaml").write_text(yaml.safe_dump(prof, sort_keys=False))
    return folder / "ice"


def write_video(path: Path, n_frames: int) -> Path:
    import cv2
    import numpy as np

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (16, 16))
    frame = np.zeros((16, 16, 3), np.uint8)
    for _ in range(n_frames):
        w.write(frame)
    w.release()
    return path


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """.test's project with a short clip and a long video in one group, and a third video on its own."""
    root = tmp_path_factory.mktemp("ice plan")
    videos = {"short": write_video(root / "short clip.mp4", 150), "long": write_video(root / "long.mp4", 30000),
              "alone": write_video(root / "alone.mp4", 300)}
    return root, videos


def plan(root: Path, sheet_rows: list[str], env: dict, *args) -> subprocess.CompletedProcess:
    sheet = root / f"samples-{len(list(root.glob('samples-*')))}.tsv"
    sheet.write_text("id\tpath\tgroup\n" + "".join(f"{row}\n" for row in sheet_rows))
    cfg = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())
    cfg.update(project=str(REPO / ".test" / "project" / "config.yaml"), samples=str(sheet),
               results=str(root / "results"))
    (root / "c.yaml").write_text(yaml.safe_dump(cfg))
    profile = root / "ice" if (root / "ice").exists() else ice_profile(root)
    cmd = [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "workflow" / "Snakefile"),
           "--directory", str(root), "--configfile", str(root / "c.yaml"), "--profile", str(profile), *args]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CICHLID_")}
    return subprocess.run(cmd, capture_output=True, text=True, env={**clean, **env}, timeout=300)


def planned_jobs(text: str) -> list[dict]:
    """Each planned job of a dry run: rule, wildcards, resources and the group job it runs in (None: alone)."""
    jobs, current, group = [], None, None
    for line in text.splitlines():
        g = re.search(r"Group job (\w+) ", line)
        if g:
            group = g.group(1)
        m = re.match(r"^(\s*)(?:local)?rule (\w+):$", line)
        if m:
            current = {"rule": m.group(2), "wildcards": "", "resources": {}, "group": group if m.group(1) else None}
            jobs.append(current)
        elif current and line.strip().startswith("wildcards:"):
            current["wildcards"] = line.split(":", 1)[1].strip()
        elif current and line.strip().startswith("resources:"):
            for item in line.split(":", 1)[1].split(", "):
                k, _, v = item.strip().partition("=")
                current["resources"][k] = v
    return jobs


@pytest.mark.parametrize("grouped", [False, True], ids=["one re-ID model per video", "grouped re-ID"])
def test_ice_plan_gives_gpus_only_to_gpu_stages_and_runtimes_that_grow_with_the_video(batch, grouped):
    root, v = batch
    group = "tankA" if grouped else ""
    proc = plan(root, [f"short clip\t{v['short']}\t{group}", f"long\t{v['long']}\t{group}", f"alone\t{v['alone']}\t"],
                CLUSTER_ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    jobs = planned_jobs(out)
    rules = {j["rule"] for j in jobs}
    assert ("reid_group" in rules) == grouped and "reid_video" in rules  # 'alone' keeps its own model
    for j in jobs:
        r = j["resources"]
        if j["rule"] in LOCAL_RULES or j["rule"] == "all":
            continue  # run by snakemake itself (localrules): test_slurm finds no sbatch job for them
        if j["rule"] in GPU_RULES:
            assert (r.get("gpu"), r.get("gpu_model"), r.get("slurm_partition")) == ("1", "H100", "gpu-h100"), j
        else:
            assert j["rule"] in CPU_RULES, j
            assert "gpu" not in r and "gpu_model" not in r and r["slurm_partition"] == "cpu-small", j
        assert r["slurm_account"] == "lab", j
    per_video = {(j["rule"], j["wildcards"]): int(j["resources"]["runtime"]) for j in jobs if "vid=" in j["wildcards"]}
    for rule in ("analyze", "tracklets", "stitch", "labelled_video"):
        short, long = per_video[(rule, "vid=short clip")], per_video[(rule, "vid=long")]
        assert short == 10 and long > short, (rule, short, long)  # the floor for 150 frames; 30,000 frames ask more
    assert per_video[("analyze", "vid=long")] == 50  # 30,000 frames x 0.1 s (the default per-frame cost)
    # CPU stages around re-ID run as two CPU group jobs per video; a GPU stage is a job of its own
    groups = {j["rule"]: j["group"] for j in jobs}
    assert {r: groups[r] for r in GPU_RULES & rules} == {r: None for r in GPU_RULES & rules}
    assert groups["tracklets"] == groups["triplets"] == "prep"
    # the identity network (a small CNN, 2 CPUs) runs first in the finish job: beside triplets in the prep job
    # the two would ask for 3 CPUs at once
    assert groups["identity"] == groups["stitch"] == groups["labelled_video"] == groups["video_qc"] == "finish"


def test_retries_ask_for_more_time():
    from cichlid_track.settings import Settings

    s = Settings.__new__(Settings)
    s.config = {"runtime": {"floor_minutes": 10, "retry_factor": 2, "seconds_per_frame": {"analyze": 0.1}}}
    s._frames = {"clip": 150, "hour": 108_000}
    assert [s.runtime_minutes("analyze", ["clip"], a) for a in (1, 2, 3)] == [10, 20, 40]
    assert [s.runtime_minutes("analyze", ["hour"], a) for a in (1, 2)] == [180, 360]  # one hour at 30 fps
    assert s.runtime_minutes("analyze", ["clip", "hour"], 1) == 181  # a group's videos add up


@pytest.mark.parametrize("unset", ["CICHLID_ACCOUNT", "CICHLID_GPU_PARTITION"])
def test_unset_account_or_partition_stops_before_anything_is_submitted(batch, unset):
    root, v = batch
    env = {k: val for k, val in CLUSTER_ENV.items() if k != unset}
    if unset == "CICHLID_GPU_PARTITION":
        env[unset] = "  "  # set but empty counts as unset
    proc = plan(root, [f"alone\t{v['alone']}\t"], env)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    errors = [line for line in out.splitlines() if unset in line]
    assert len(errors) == 1, out[-3000:]
    assert f"export {unset}=" in errors[0] and "~/.bashrc" in errors[0] and "nothing was submitted" in errors[0]
    assert "Traceback" not in out
    assert not (root / ".snakemake" / "slurm_logs").exists()


def test_frame_counts_come_from_the_header_without_decoding(batch, tmp_path):
    import cv2
    import numpy as np

    from cichlid_track.video_header import frame_count

    root, v = batch
    assert (frame_count(v["short"]), frame_count(v["long"])) == (150, 30000)
    avi = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 30, (16, 16))
    for _ in range(37):
        w.write(np.zeros((16, 16, 3), np.uint8))
    w.release()
    assert frame_count(avi) == 37
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 100)
    assert frame_count(tmp_path / "junk.mp4") is None  # the size then stands in (runtime.bytes_per_frame)


def test_test_config_plans_lints_and_draws_the_rule_graph_on_a_fresh_clone(tmp_path):
    """.test/ (the catalog's convention) needs no generated data: CI checks -n, --lint and --rulegraph."""
    clone = tmp_path / "clone"  # what a clone of this working tree holds: no results/, no demo data
    for f in subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, text=True, check=True).stdout.split("\0"):
        if f and (REPO / f).is_file():
            (clone / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, clone / f)
    base = [sys.executable, "-m", "snakemake", "--configfile", ".test/config/config.yaml", "--cores", "1"]
    dry = subprocess.run([*base, "-n"], cwd=clone, capture_output=True, text=True)
    assert dry.returncode == 0 and "reid_group" in dry.stdout, dry.stderr[-2000:]
    lint = subprocess.run([*base, "--lint"], cwd=clone, capture_output=True, text=True)
    assert lint.returncode == 0 and "Lints for" not in lint.stdout + lint.stderr, (lint.stdout + lint.stderr)[-3000:]
    graph = subprocess.run([*base, "--rulegraph"], cwd=clone, capture_output=True, text=True)
    assert graph.returncode == 0 and graph.stdout.lstrip().startswith("digraph"), graph.stderr[-2000:]
