"""The demo workflow end to end with real DeepLabCut (trained once per session: fixture demo_run)."""
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import run_snakemake, tree_hashes, write_config


def test_every_artifact_exists_with_content(settings, demo_run):
    import cv2

    assert (demo_run["results"] / "evaluation" / f"{settings.scorer}-results.csv").exists()
    assert any((demo_run["results"] / "evaluation" / "images").rglob("*.png"))
    for vid, sample in settings.samples.items():
        cap = cv2.VideoCapture(sample.path)
        n_frames, w, h = (int(cap.get(p)) for p in (cv2.CAP_PROP_FRAME_COUNT, cv2.CAP_PROP_FRAME_WIDTH,
                                                     cv2.CAP_PROP_FRAME_HEIGHT))
        for suffix in (".h5", "_full.pickle", "_meta.pickle", "_assemblies.pickle", "_el.pickle",
                       "_bpt_features.h5", "_triplet_vector.npy", "_el_motion.h5"):
            assert settings.video_file(vid, suffix).startswith(str(demo_run["results"]))
            assert __import__("os").path.getsize(settings.video_file(vid, suffix)) > 0, suffix

        tracks = pd.read_hdf(settings.video_file(vid, "_el.h5"))
        assert list(tracks.columns.get_level_values("individuals").unique()) == settings.individuals
        assert len(tracks) == n_frames and list(tracks.index) == list(range(n_frames))
        assert tracks.columns.get_level_values("scorer").unique().tolist() == [settings.scorer]
        assert tracks.notna().any().any()

        video = cv2.VideoCapture(settings.labelled_video(vid))
        assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == n_frames
        assert (int(video.get(cv2.CAP_PROP_FRAME_WIDTH)), int(video.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (w, h)

        from cichlid_track.reid import load_embedder

        embed = load_embedder(settings.reid_model(vid), "cpu")
        assert embed is not None
        out = embed(np.load(settings.video_file(vid, "_triplet_vector.npy"))[:4, 0])
        assert out.shape[0] == 4 and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-4)
        with open(settings.video_file(vid, "_assemblies.pickle"), "rb") as fh:
            assert len([k for k in pickle.load(fh) if k != "single"]) == n_frames

        # the final tracks come from the re-ID path: tracklets cut at contacts, linked with appearance
        summary = __import__("json").loads(Path(settings.video_file(vid, "_tracking.json")).read_text())
        assert summary["reid_used"] and summary["method"] == "pieces", summary
        assert summary["pieces_linked"] > 0, summary
        for cue in ("transformer", "body colour"):  # both appearance cues fitted, same fish more alike
            fit = summary["link_model"]["appearance"][cue]
            assert fit["same_fish_similarity"][0] > fit["other_fish_similarity"][0], summary
        errors = list(summary["link_model"]["motion_error_px"].values())
        assert len(errors) >= 2 and errors[-1] > errors[0], summary  # extrapolation error grows with the gap
        assert embed.feature_dim == 128 + 3  # the transformer reads the stride-8 stage and colour
        assert isinstance(summary["stray_keypoints_dropped"], int), summary  # tracking.stray_keypoints ran


def test_demo_model_is_good_enough_to_track(settings, demo_run):
    table = pd.read_csv(demo_run["results"] / "evaluation" / f"{settings.scorer}-results.csv")
    rmse = float(table["test rmse"].iloc[0])
    print(f"demo test RMSE {rmse:.2f} px, test mAP {float(table['test mAP'].iloc[0]):.1f}")
    assert rmse < 8.0


def test_second_run_does_nothing(demo_run):
    proc = run_snakemake(demo_run["work"], [demo_run["config"]], "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_reid_parameter_change_reruns_only_reid_and_what_follows(demo_run, tmp_path):
    cfg = yaml.safe_load(demo_run["config"].read_text())
    cfg["reid"]["seed"] = cfg["reid"]["seed"] + 1
    changed = write_config(tmp_path / "changed.yaml", **cfg)
    proc = run_snakemake(demo_run["work"], [changed], "-n", "--quiet", "rules")
    rules = set(re.findall(r"^(\w+)\s+\d+$", proc.stdout, re.M)) - {"total"}
    assert rules == {"triplets", "reid_video", "stitch", "labelled_video", "video_qc", "batch_table", "all"}, proc.stdout
    assert not rules & {"shuffle", "train", "evaluate", "analyze", "tracklets"}


def test_user_project_and_videos_are_byte_identical(demo_data, demo_run):
    assert tree_hashes(demo_data["project"], *demo_data["videos"]) == demo_run["hashes_before"]
    assert not list(demo_data["project"].glob("dlc-models*")) and not (demo_data["project"] / "training-datasets").exists()


def test_every_rule_has_log_and_benchmark(demo_run):
    bench = demo_run["results"] / "benchmarks"
    names = {p.stem if p.parent == bench else p.parent.name for p in bench.rglob("*.tsv")}
    assert {"project_copy", "shuffle", "train", "evaluate", "analyze", "tracklets", "triplets", "reid",
            "stitch", "labelled_video"} <= names
    for tsv in bench.rglob("*.tsv"):
        assert float(pd.read_csv(tsv, sep="\t")["s"].iloc[0]) >= 0
