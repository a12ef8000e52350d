"""The workflow on a real one-node SLURM (sbatch/squeue/sacct, no mocks), through a profile
derived from profiles/ice: same rules, resources and groups; only account, partitions, polling
and the software deployment (no conda channels here) changed."""
import json
import shutil
import subprocess
from pathlib import Path
import sys
import time

import pytest
import yaml

from conftest import REPO, write_config
from slurm_cluster import ACCOUNT, CPU_PARTITION, GPU_PARTITION, Cluster, SlurmUnavailable

REID_EPOCHS = 5  # the batch test's re-ID training (the demo's 30 would add minutes of serial GPU-partition time)


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


def slurm_profile(tmp_path, **changes):
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


def snakemake(work, profile, cfg, *args, timeout=1800):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"),
           "--directory", str(work), "--configfile", str(cfg), "--profile", str(profile), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def batch_with_trained_model(demo_run, tmp_path, rows):
    """A work folder holding the session demo run's trained model (only per-video stages run) and a config
    for a sample sheet of ``rows`` (id, path, group). Re-ID and the identity network train briefly: this test
    is about jobs, partitions and failures, not about the tracks' quality (test_e2e)."""
    work = tmp_path / "work"
    shutil.copytree(demo_run["results"], work / "results",
                    ignore=shutil.ignore_patterns("videos", "groups", "logs", "benchmarks"))
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("id\tpath\tgroup\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    run_cfg = yaml.safe_load(demo_run["config"].read_text())
    cfg = write_config(tmp_path / "c.yaml", project=run_cfg["project"], samples=str(sheet),
                       results=str(work / "results"), ground_truth="",  # no truth for cut clips
                       reid={"epochs": REID_EPOCHS}, identity={"rounds": 1, "epochs": 10})
    return work, cfg


def demo_videos(demo_run):
    run_cfg = yaml.safe_load(demo_run["config"].read_text())
    return [Path(line.split("\t")[1]) for line in Path(run_cfg["samples"]).read_text().splitlines()[1:]]


CLIP_FRAMES = 90


def first_frames(src: Path, dst: Path, n: int) -> Path:
    """The first ``n`` frames of video ``src``, encoded to ``dst`` (a real, shorter video)."""
    import cv2
    from cichlid_track.synth import write_video

    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert len(frames) == n, f"{src} has fewer than {n} frames"
    write_video(dst, frames, round(fps))
    return dst


def job_table(jobs) -> str:
    """The sacct table the README and the closing note quote: job, partition, GPU, elapsed, state."""
    lines = ["| job (rule or group) | partition | GPU | elapsed | state |", "|---|---|---|---|---|"]
    for j in jobs:
        lines.append(f"| {j['comment']} | {j['partition']} | {'1' if 'gres/gpu=1' in j['tres'] else '-'} | "
                     f"{j.get('elapsed', '')} | {j['state']} |")
    return "\n".join(lines)


def kind(job) -> str:
    """What a job ran, from the comment the plugin gives it: ``rule_<rule>_wildcards_...`` for a rule's job,
    ``rule_<group>_<its rules>`` for a group job."""
    comment = job["comment"].split("_wildcards")[0]
    return next((f"rule_{g}" for g in ("prep", "finish") if comment.startswith(f"rule_{g}_")), comment)


def check_gpu_only_where_it_works(jobs):
    """GPU stages (analysis, re-ID training) hold one GPU on the GPU partition; CPU stages none, on the CPU one."""
    for j in jobs:
        gpu_stage = j["comment"].startswith(("rule_analyze", "rule_reid_video", "rule_reid_group", "rule_train",
                                             "rule_evaluate"))
        assert ("gres/gpu=1" in j["tres"]) == gpu_stage, j
        assert j["partition"] == (GPU_PARTITION if gpu_stage else CPU_PARTITION), j
        assert j["account"] == ACCOUNT, j


def test_batch_runs_grouped_and_single_videos_with_gpus_only_for_gpu_stages_and_survives_a_broken_one(
        cluster, demo_run, tmp_path):
    """One batch under the ICE profile: two videos of the same fish (sample sheet group "tank A": one re-ID
    model trained in one GPU job), a video of its own (its own re-ID job) and a broken video, whose failure
    does not stop the others. GPU stages hold one GPU on the GPU partition, CPU stages none."""
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 5000)
    # the demo's videos cut to their first 90 frames: enough for re-ID's triplets and the identity network,
    # and every per-video stage takes less (this test is about jobs, not tracks)
    (tmp_path / "clips").mkdir()
    grouped = [first_frames(v, tmp_path / "clips" / v.name, CLIP_FRAMES) for v in demo_videos(demo_run)]
    single = first_frames(grouped[0], tmp_path / "tank1 alone.mp4", CLIP_FRAMES)
    rows = [(v.stem, v, "tank A") for v in grouped] + [(single.stem, single, ""), (bad.stem, bad, "")]
    work, cfg = batch_with_trained_model(demo_run, tmp_path, rows)
    profile = slurm_profile(tmp_path, retries=1)  # ICE's 2 retries would only add one more failing try
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    start = time.time()
    proc = snakemake(work, profile, cfg)
    print(f"SLURM batch wall time: {time.time() - start:.0f} s")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0  # the broken video failed ...
    jobs = cluster.jobs(since)
    print("4-video batch (2 grouped, 1 alone, 1 broken), sacct:\n" + job_table(jobs))
    retries = yaml.safe_load((profile / "config.yaml").read_text())["retries"]
    kinds = sorted(kind(j) for j in jobs)
    # per good video: analysis (GPU), tracklets + triplets (CPU), stitch + video + QC (CPU); re-ID (GPU) once
    # for the group and once for the single video; the broken video's analysis is tried 1 + retries times;
    # nothing else (the model is trained)
    assert kinds == sorted(["rule_analyze"] * (3 + 1 + retries) + ["rule_prep"] * 3 + ["rule_reid_group"]
                           + ["rule_reid_video"] + ["rule_finish"] * 3), jobs
    assert sorted(j["state"] for j in jobs if "broken" in j["comment"]) == ["FAILED"] * (1 + retries), jobs
    assert all(j["state"] == "COMPLETED" for j in jobs if "broken" not in j["comment"]), jobs
    check_gpu_only_where_it_works(jobs)
    assert "no frame can be decoded" in out and "broken.mp4" in out
    assert ".snakemake/slurm_logs/" in out  # the failure names its SLURM log
    # ... and the others completed: the group's videos with the group's model, the single one with its own
    model = work / "results" / "groups" / "tank A" / f"dlc_transreid_{REID_EPOCHS}.pth"
    assert model.is_file()
    assert [p.parent.name for p in (work / "results" / "videos").glob("*/dlc_transreid_*.pth")] == [single.stem]
    for v in [*grouped, single]:
        folder = work / "results" / "videos" / v.stem
        assert list(folder.glob("*_labeled.mp4")), v
        summary = json.loads(next(folder.glob("*_tracking.json")).read_text())
        assert summary["reid_used"], summary
    # slurm-efficiency-report: what each job used of what it asked for, read from sacct by the plugin
    import pandas as pd

    (report,) = work.glob("efficiency_report_*.csv")
    usage = pd.read_csv(report)
    assert {"rule_reid_group_wildcards_tank A", "rule_analyze_wildcards_tank1 clip"} <= set(usage["RuleName"])
    assert (usage["MaxRSS_MB"] > 0).any() and (usage["CPU Efficiency (%)"] > 0).any(), usage.to_string()


def epochs_lasting(seconds: float, demo_run) -> int:
    """Epochs of the demo's training that take about ``seconds`` on this machine, from the session demo run's
    own training benchmark (the same data and crop): a test that needs training to outlast a time limit then
    holds on a fast machine without taking minutes more on a slow one."""
    import pandas as pd

    bench = Path(demo_run["results"]) / "benchmarks" / "train.tsv"
    epochs = yaml.safe_load(Path(demo_run["config"]).read_text())["training"]["epochs"]
    if not bench.is_file():
        return 10
    per_epoch = float(pd.read_csv(bench, sep="\t")["s"].iloc[-1]) / epochs  # start-up included: errs short
    return int(min(200, max(4, round(seconds / per_epoch))))


def test_walltime_kill_then_retry_resumes_training(cluster, demo_data, demo_run, tmp_path):
    """Training longer than its SLURM runtime is killed (TIMEOUT); the retry resumes from the last snapshot."""
    # SLURM's smallest limit is 1 minute and it enforces it 0-30 s late, after ~15 s of start-up: ~3 minutes of
    # training (at the demo run's speed) is killed on the first try even if the machine is now up to 3x faster
    # than when the demo trained (120 s failed once: the demo had trained beside another CPU-heavy process)
    epochs = epochs_lasting(180, demo_run)
    cfg = write_config(tmp_path / "c.yaml", project=str(demo_data["config"]), samples=str(demo_data["samples"]),
                       results=str(tmp_path / "results"),
                       training={"epochs": epochs, "save_epochs": 1, "max_snapshots": 200})
    profile = slurm_profile(tmp_path, retries=1)
    prof = yaml.safe_load((profile / "config.yaml").read_text())
    prof["set-resources"]["train"]["runtime"] = "1 if attempt == 1 else 20"  # minutes
    (profile / "config.yaml").write_text(yaml.safe_dump(prof, sort_keys=False))
    from cichlid_track.settings import load_settings

    s = load_settings(yaml.safe_load(cfg.read_text()), REPO / "workflow" / "schemas")
    target = str(tmp_path / "results" / "project" / s.names.snapshot)
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    proc = snakemake(tmp_path, profile, cfg, target)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    jobs = cluster.jobs(since)
    print("training run, sacct:\n" + job_table(jobs))
    # seconds-long rules ran in snakemake itself (localrules); shuffle is a CPU job, training a GPU one
    assert sorted({j["comment"] for j in jobs}) == ["rule_shuffle", "rule_train"], jobs
    check_gpu_only_where_it_works(jobs)
    train_jobs = [j for j in jobs if j["comment"] == "rule_train"]
    print("train jobs:", [(j["id"], j["state"]) for j in train_jobs])
    assert [j["state"] for j in train_jobs] == ["TIMEOUT", "COMPLETED"]
    log = (tmp_path / "results" / "logs" / "train.log").read_text()
    assert "resuming from snapshot-0" in log
    import torch

    final = torch.load(target, weights_only=False)
    assert final["metadata"]["epoch"] == epochs
