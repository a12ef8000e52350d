"""DeepLabCut 3.0.2 traps on our path: each test shows the trap and that we avoid it."""
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO


def relocated_project(settings, tmp_path) -> Path:
    """A throw-away copy of the demo's working project (DLC writes into whatever it is given)."""
    dest = tmp_path / "project"
    shutil.copytree(settings.project_dir, dest, symlinks=True)
    cfg = yaml.safe_load((dest / "config.yaml").read_text())
    cfg["project_path"] = str(dest)
    (dest / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dest / "config.yaml"


def test_train_network_ignores_pretrained_false_but_our_start_snapshot_downloads_nothing(settings, demo_run,
                                                                                         tmp_path, monkeypatch):
    import deeplabcut

    from cichlid_track.training import initial_snapshot

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = relocated_project(settings, tmp_path)
    pytorch_config = config.parent / settings.names.pytorch_config
    cfg = yaml.safe_load(pytorch_config.read_text())
    cfg["model"]["backbone"]["pretrained"] = False
    pytorch_config.write_text(yaml.safe_dump(cfg))
    for snap in pytorch_config.parent.glob("snapshot-*.pt"):
        snap.unlink()
    with pytest.raises(Exception) as err:  # DLC goes to the Hugging Face hub anyway
        deeplabcut.train_network(str(config), shuffle=1, epochs=1)
    assert "offline" in str(err.value).lower() or "hub" in repr(err.value).lower() or "hf" in repr(err.value).lower()

    start = tmp_path / "init.pt"
    assert initial_snapshot(pytorch_config, start) == {"matched": 0, "skipped": 0, "missing": 0}
    import torch

    assert "model" in torch.load(start, weights_only=False)


def test_filterpy_pinned_to_a_version_whose_ellipse_tracker_keeps_tracks():
    """filterpy 2.0.0 builds a wrong Kalman measurement matrix: every track dies within 2 frames."""
    import filterpy
    from deeplabcut.core.trackingutils import SORTEllipse

    assert filterpy.__version__ == "1.4.5"
    for f in ("envs/requirements.txt", "envs/dlc.yaml"):
        assert "filterpy==1.4.5" in (REPO / f).read_text(), f

    tracker = SORTEllipse(max_age=1, min_hits=1, iou_threshold=0.6)
    ids = []
    base = np.array([[10, 10], [20, 12], [30, 10], [40, 14], [50, 10]], dtype=float)
    for frame in range(12):
        pose = (base + [2 * frame, 0])[None]  # (animals, keypoints, xy)
        out = tracker.track(pose)
        ids.append(set(out[:, -2].astype(int)) if len(out) else set())
    alive = [i for i in ids[2:] if i]
    assert len(alive) == 10 and len(set.union(*alive)) == 1, ids


def test_reid_checkpoint_at_any_epoch_count_in_its_own_folder(tmp_path):
    """DLC saves dlc_transreid_<epoch>.pth only every `checkpoint_period` (10) epochs, in the shared
    model folder; ours saves exactly the requested epoch where the rule says."""
    from deeplabcut.pose_tracking_pytorch.config import cfg as dlc_reid_cfg

    from cichlid_track.reid import load_embedder, train_reid

    assert dlc_reid_cfg["checkpoint_period"] == 10
    rng = np.random.default_rng(0)
    triplets = rng.normal(size=(40, 3, 9, 16)).astype(np.float32)
    np.save(tmp_path / "t.npy", triplets)
    out = tmp_path / "video A" / "dlc_transreid_3.pth"
    stats = train_reid([tmp_path / "t.npy"], out, tmp_path / "video A" / "acc.csv", epochs=3, batch_size=8,
                       device="cpu")
    assert out.exists() and stats["final"]["epoch"] == 3
    assert len((tmp_path / "video A" / "acc.csv").read_text().splitlines()) == 4
    assert load_embedder(out, "cpu")(triplets[:2, 0]).shape[0] == 2


def test_no_detection_at_all_gives_empty_tracks_not_a_crash(settings, demo_run, tmp_path):
    """DLC's tracklet conversion fails on a video with zero detections; ours writes empty tracks."""
    from cichlid_track.tracklets import make_tracklets
    from cichlid_track.tracking import stitch_video

    n_frames = 12
    assemblies = tmp_path / "a.pickle"
    with open(assemblies, "wb") as fh:
        pickle.dump({"single": {}, **{i: np.zeros((0, 9, 4)) for i in range(n_frames)}}, fh)
    el = tmp_path / "x_el.pickle"
    n = make_tracklets(settings.in_project("config.yaml"), 1, 0, settings.in_project(settings.names.snapshot),
                       "unused.mp4", "x", "x" + settings.scorer, tmp_path / "f", assemblies, tmp_path / "m", el)
    assert n == 0 and el.exists()
    result = stitch_video(el, 4, settings.individuals, n_frames, settings.scorer, ["a", "b"])
    assert result.reid.shape == (n_frames, 4 * 2 * 3) and result.reid.isna().all().all()
    assert "empty tracks" in result.summary["warning"]
