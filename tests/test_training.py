"""Training that survives interruptions, and transfer learning from a local weights file."""
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from conftest import REPO, run_snakemake, write_config


def _start(work, cfg, target):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"),
           "--directory", str(work), "--configfile", str(cfg), "--cores", "2", "--rerun-incomplete", target]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _wait_for(path, proc, timeout=600):
    start = time.time()
    while not path.exists():
        assert proc.poll() is None, "training ended before it could be interrupted"
        assert time.time() - start < timeout, f"{path.name} never appeared"
        time.sleep(0.5)


def test_training_resumes_after_sigterm_and_sigkill(demo_data, tmp_path):
    """Kill training after saved snapshots (SIGTERM, then SIGKILL), re-run, and check that epochs and
    loss continue where they stopped."""
    from cichlid_track.settings import load_settings
    import yaml

    epochs = 5
    results = tmp_path / "results"
    cfg = write_config(tmp_path / "c.yaml", project=str(demo_data["config"]), samples=str(demo_data["samples"]),
                       results=str(results), training={"epochs": epochs, "save_epochs": 1, "max_snapshots": 10,
                                                         "crop_size": 128})  # resuming, not quality: small crops
    s = load_settings(yaml.safe_load(cfg.read_text()), REPO / "workflow" / "schemas")
    train_dir = results / "project" / s.names.train_folder
    target = str(results / "project" / s.names.snapshot)

    proc = _start(tmp_path, cfg, target)
    _wait_for(train_dir / "snapshot-002.pt", proc)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=120)
    assert not (train_dir / "snapshot-005.pt").exists()

    proc = _start(tmp_path, cfg, target)
    _wait_for(train_dir / "snapshot-004.pt", proc)
    os.killpg(proc.pid, signal.SIGKILL)  # no clean-up at all: lock and incomplete markers stay
    proc.wait(timeout=60)

    run_snakemake(tmp_path, [cfg], "--unlock")
    run_snakemake(tmp_path, [cfg], "--rerun-incomplete", target)
    log = (results / "logs" / "train.log").read_text()
    assert "resuming from snapshot-00" in log

    snaps = {int(p.stem[-3:]): torch.load(p, weights_only=False) for p in train_dir.glob("snapshot-00?.pt")}
    assert sorted(snaps) == [1, 2, 3, 4, 5]
    assert [snaps[e]["metadata"]["epoch"] for e in sorted(snaps)] == [1, 2, 3, 4, 5]
    assert all("optimizer" in s for s in snaps.values())
    stats = pd.read_csv(train_dir / "learning_stats.csv")
    assert list(stats["step"]) == [1, 2, 3, 4, 5]  # no gap, no restart at 1
    losses = stats["losses/train.total_loss"].tolist()
    print("train loss by epoch:", [round(x, 4) for x in losses])
    assert losses[-1] < 0.75 * losses[0]  # continued from a trained model, not from scratch


def test_local_weights_file_loads_into_the_backbone(settings, demo_run, tmp_path, caplog):
    import torchvision

    from cichlid_track.training import initial_snapshot
    from cichlid_track.weights import WeightsError

    cfg = demo_run["results"] / "training" / "pytorch_config.yaml"
    tv = torchvision.models.resnet18(weights=None)
    with torch.no_grad():
        tv.conv1.weight.fill_(0.5)
    torch.save(tv.state_dict(), tmp_path / "imagenet_resnet18.pth")
    out = tmp_path / "init.pt"
    report = initial_snapshot(cfg, out, tmp_path / "imagenet_resnet18.pth")
    assert report["matched"] >= 60 and report["skipped"] == 0  # fc.* is dropped before matching
    state = torch.load(out, weights_only=False)["model"]
    assert torch.all(state["backbone.model.conv1.weight"] == 0.5)

    # a DLC snapshot works as a source too (backbone.model.* names)
    report2 = initial_snapshot(cfg, tmp_path / "init2.pt", out)
    assert report2["matched"] == report["matched"]

    torch.save(torchvision.models.resnet50(weights=None).state_dict(), tmp_path / "resnet50.pth")
    with pytest.raises(WeightsError, match=r"training.weights: .*resnet50.pth tensor '.*' has shape"):
        initial_snapshot(cfg, tmp_path / "bad.pt", tmp_path / "resnet50.pth")
    with pytest.raises(WeightsError, match="does not exist"):
        initial_snapshot(cfg, tmp_path / "bad.pt", tmp_path / "missing.pth")


def test_new_shuffle_sets_old_snapshots_aside(tmp_path):
    """Changed training settings re-create the shuffle; the old run's snapshots must not be resumed from."""
    from cichlid_track.training import latest_snapshot, set_aside_old_snapshots

    train = tmp_path / "shuffle1" / "train"
    train.mkdir(parents=True)
    for e in (10, 20):
        torch.save({"metadata": {"epoch": e}}, train / f"snapshot-{e:03d}.pt")
    (train / "learning_stats.csv").write_text("step\n10\n20\n")
    set_aside_old_snapshots(train)
    assert latest_snapshot(train, upto=100) is None
    (kept,) = (tmp_path / "shuffle1" / "superseded").iterdir()
    assert sorted(p.name for p in kept.iterdir()) == ["learning_stats.csv", "snapshot-010.pt", "snapshot-020.pt"]
