"""The workflow on a real one-node SLURM (sbatch/squeue/sacct, no mocks), through a profile
derived from profiles/ice: same rules, resources and groups; only account, partitions, polling
and the software deployment (no conda channels here) changed."""
import shutil
import subprocess
from pathlib import Path
import sys
import time

import pytest
import yaml

from conftest import REPO, write_config
from slurm_cluster import ACCOUNT, CPU_PARTITION, GPU_PARTITION, Cluster, SlurmUnavailable


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        c.start()
    except (SlurmUnavailable, subprocess.CalledProcessError, OSError) as err:
        c.stop()
        pytest.skip(f"no SLURM cluster could be started here: {err}")
    yield c
    c.stop()


def test_profile(tmp_path, **changes):
    """profiles/ice with test-only settings, written to tmp_path/profile."""
    prof = yaml.safe_load((REPO / "profiles" / "ice" / "config.yaml").read_text())
    prof["default-resources"]["slurm_account"] = ACCOUNT
    prof["default-resources"]["slurm_partition"] = CPU_PARTITION
    for res in prof["set-resources"].values():
        if "slurm_partition" in res:
            res["slurm_partition"] = GPU_PARTITION
        # the test node has 2 CPUs and ~22 GB: the same requests, scaled to fit one node
        res["mem_mb"] = min(int(res.get("mem_mb", 4000)), 6000)
        res["cpus_per_task"] = min(int(res.get("cpus_per_task", 1)), 2)
    prof["slurm-init-seconds-before-status-checks"] = 2
    prof["latency-wait"] = 10
    prof.pop("software-deployment-method")  # the cluster's conda env cannot be built offline
    prof.pop("conda-frontend")
    prof.update(changes)
    out = tmp_path / "profile"
    out.mkdir()
    (out / "config.yaml").write_text(yaml.safe_dump(prof, sort_keys=False))
    return out


test_profile.__test__ = False  # a helper, not a test


def snakemake(work, profile, cfg, *args, timeout=1800):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"),
           "--directory", str(work), "--configfile", str(cfg), "--profile", str(profile), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_ice_profile_dry_run_without_slurm(demo_data, tmp_path, monkeypatch):
    """`snakemake --profile profiles/ice -n` plans the demo on a machine without SLURM (or conda: the
    only line removed from the profile is its software deployment, which needs a conda executable)."""
    prof = yaml.safe_load((REPO / "profiles" / "ice" / "config.yaml").read_text())
    prof.pop("software-deployment-method")
    prof.pop("conda-frontend")
    (tmp_path / "ice").mkdir()
    (tmp_path / "ice" / "config.yaml").write_text(yaml.safe_dump(prof, sort_keys=False))
    monkeypatch.setenv("CICHLID_ACCOUNT", "lab")
    cfg = write_config(tmp_path / "c.yaml", project=str(demo_data["config"]), samples=str(demo_data["samples"]),
                       results=str(tmp_path / "results"))
    proc = snakemake(tmp_path, tmp_path / "ice", cfg, "-n")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "labelled_video" in proc.stdout + proc.stderr


def test_batch_runs_one_gpu_job_per_video_and_a_failed_video_does_not_stop_the_others(cluster, demo_run, demo_data,
                                                                                        tmp_path):
    work = tmp_path / "work"
    # the trained model from the session's demo run: only per-video stages run here
    shutil.copytree(demo_run["results"], work / "results", ignore=shutil.ignore_patterns("videos", "groups", "logs",
                                                                                         "benchmarks"))
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 5000)
    run_cfg = yaml.safe_load(demo_run["config"].read_text())
    videos = [Path(line.split("\t")[1]) for line in Path(run_cfg["samples"]).read_text().splitlines()[1:]]
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("id\tpath\n" + "".join(f"{v.stem}\t{v}\n" for v in [*videos, bad]))
    cfg = write_config(tmp_path / "c.yaml", project=run_cfg["project"], samples=str(sheet),
                       results=str(work / "results"), ground_truth=run_cfg.get("ground_truth", ""))
    profile = test_profile(tmp_path)
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    start = time.time()
    proc = snakemake(work, profile, cfg)
    wall = time.time() - start
    out = proc.stdout + proc.stderr
    print(f"SLURM batch wall time: {wall:.0f} s")
    assert proc.returncode != 0  # the broken video failed ...
    jobs = cluster.jobs(since)
    print("sacct:", [(j["id"], j["comment"], j["state"], j["tres"]) for j in jobs])
    video_jobs = [j for j in jobs if j["comment"].startswith("rule_video")]
    # one grouped job per video (all its per-video rules as steps), not one per rule per video;
    # the broken video is tried 1 + retries times
    retries = yaml.safe_load((profile / "config.yaml").read_text())["retries"]
    assert sorted(j["state"] for j in video_jobs) == ["COMPLETED"] * 2 + ["FAILED"] * (1 + retries), jobs
    assert len(jobs) == len(video_jobs)  # nothing else: training is done, the batch table needs every video
    assert all("gres/gpu=1" in j["tres"] and j["account"] == ACCOUNT for j in video_jobs)
    for v in videos:  # ... and the others completed
        assert list((work / "results" / "videos" / v.stem).glob("*_labeled.mp4"))
    assert "no frame can be decoded" in out and "broken.mp4" in out
    assert ".snakemake/slurm_logs/" in out  # the failure names its SLURM log


def test_walltime_kill_then_retry_resumes_training(cluster, demo_data, tmp_path):
    """Training longer than its SLURM runtime is killed (TIMEOUT); the retry resumes from the last snapshot."""
    cfg = write_config(tmp_path / "c.yaml", project=str(demo_data["config"]), samples=str(demo_data["samples"]),
                       results=str(tmp_path / "results"),
                       training={"epochs": 14, "save_epochs": 1, "max_snapshots": 20})
    profile = test_profile(tmp_path, retries=1)
    prof = yaml.safe_load((profile / "config.yaml").read_text())
    prof["set-resources"]["train"]["runtime"] = "1 if attempt == 1 else 20"  # minutes
    (profile / "config.yaml").write_text(yaml.safe_dump(prof, sort_keys=False))
    from cichlid_track.settings import load_settings

    s = load_settings(yaml.safe_load(cfg.read_text()), REPO / "workflow" / "schemas")
    target = str(tmp_path / "results" / "project" / s.names.snapshot)
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    proc = snakemake(tmp_path, profile, cfg, target)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    train_jobs = [j for j in cluster.jobs(since) if j["comment"] == "rule_train"]
    print("train jobs:", [(j["id"], j["state"]) for j in train_jobs])
    assert [j["state"] for j in train_jobs] == ["TIMEOUT", "COMPLETED"]
    log = (tmp_path / "results" / "logs" / "train.log").read_text()
    assert "resuming from snapshot-0" in log
    import torch

    final = torch.load(target, weights_only=False)
    assert final["metadata"]["epoch"] == 14
