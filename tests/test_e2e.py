"""The demo workflow end to end with real DeepLabCut (trained once per session: fixture demo_run)."""
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import run_snakemake, tree_hashes, write_config

# Floor the demo's re-ID tracks meet (IDF1 against the generator's ground truth). Training on CPU is not
# bit-reproducible across machines: on this machine ten trainings gave 0.915-0.986 (bench/README.md), the CI
# machine's training of 2026-11-27 gave 0.842 on tank1 (motion-only 0.715). The floor sits below what was seen;
# the comparisons with motion-only (not worse, not more than a few more switches) are the sharper check.
MIN_REID_IDF1 = 0.80
# A 150-frame clip's switch count moves by a few from one pose training to the next: the CI machine's training of
# 2026-11-28 gave tank2 6 switches against motion-only's 4, this machine's of 2026-11-30 tank2 6 against 3 (IDF1
# 0.971 against 0.939: the network named two 9-frame pieces of one fish wrongly at p 0.85 in the first 40 frames).
MAX_EXTRA_SWITCHES = 3


def n_frames_of(path) -> int:
    import cv2

    return int(cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_COUNT))


def test_dlc_reads_our_per_video_files_by_its_own_names(settings, demo_run):
    """DLC's own loaders find the analysis and the final tracks by the names we give them (so DLC's GUI and
    tools open them), and each file holds what DLC would write: one entry per frame of the video."""
    from deeplabcut.utils import auxiliaryfunctions

    for vid, sample in settings.samples.items():
        n = n_frames_of(sample.path)
        folder = Path(settings.video_dir(vid))
        poses, path, scorer, _ = auxiliaryfunctions.load_analyzed_data(folder, vid, settings.scorer)
        assert scorer == settings.scorer and len(poses) == n and path.endswith(f"{vid}{settings.scorer}.h5")
        tracks, path, _, _ = auxiliaryfunctions.load_analyzed_data(folder, vid, settings.scorer, track_method="ellipse")
        assert path.endswith("_el.h5") and len(tracks) == n and list(tracks.index) == list(range(n))
        assert list(tracks.columns.get_level_values("individuals").unique()) == settings.individuals
        motion = pd.read_hdf(settings.video_file(vid, "_el_motion.h5"))
        assert motion.columns.equals(tracks.columns) and len(motion) == n
        meta = auxiliaryfunctions.load_video_metadata(folder, vid, settings.scorer)
        assert meta["data"]["nframes"] == n
        full = auxiliaryfunctions.load_video_full_data(folder, vid, settings.scorer)
        assert len([k for k in full if k.startswith("frame")]) == n
        with open(settings.video_file(vid, "_assemblies.pickle"), "rb") as fh:
            assert len([k for k in pickle.load(fh) if k != "single"]) == n
        with open(settings.video_file(vid, "_el.pickle"), "rb") as fh:
            tracklets = pickle.load(fh)
        assert "header" in tracklets and len(tracklets) > 2  # header + at least one tracklet
        # stored narrowed (cichlid_track.dlc_pickles): float32 keypoint rows, which DLC's own stitcher reads
        rows = [a for k, t in tracklets.items() if k not in ("header", "single") for a in t.values()]
        assert rows and all(a.dtype == np.float32 for a in rows)
        from deeplabcut.refine_training_dataset.stitch import TrackletStitcher

        dlc_stitcher = TrackletStitcher.from_pickle(settings.video_file(vid, "_el.pickle"), settings.n_tracks_of(vid),
                                                    min_length=3)
        assert len(dlc_stitcher.tracklets) > 0
        import h5py

        with h5py.File(settings.video_file(vid, "_bpt_features.h5"), "r") as f:
            assert len(f["frame_offsets"]) == n + 1 and f["features"].shape[1] == len(meta["data"]["bodyparts"])
            # only what re-ID and stitching read (analysis.keep_full_features: false), the stride-8 stage
            # (resnet18: 128 channels) reduced to analysis.fine_channels, on every analysis.feature_every-th frame
            assert f.attrs["layout"] == "fine:32,colour:3,body:3", dict(f.attrs)
            assert f.attrs["projection"] == "fine: fixed orthonormal projection 128 -> 32"
            every = settings.config["analysis"]["feature_every"]
            assert f.attrs["every"] == every and set(f["frame"][:] % every) == {0}
        triplets = np.load(settings.video_file(vid, "_triplet_vector.npy"))
        assert triplets.ndim == 4 and triplets.shape[1] == 3 and len(triplets) >= 50  # reid.min_triplets

        assert n_frames_of(settings.labelled_video(vid)) == n
    assert any((demo_run["results"] / "evaluation" / "images").rglob("*.png"))


def test_reid_model_and_stitching_summary(settings):
    from cichlid_track import dlc_pickles
    from cichlid_track.reid import load_embedder
    from cichlid_track.tracking import cleaned_tracklets

    for vid in settings.samples:
        embed = load_embedder(settings.reid_model(vid), "cpu")
        assert embed is not None and embed.feature_dim == 32 + 3  # the stride-8 stage (projected) and colour
        out = embed(np.load(settings.video_file(vid, "_triplet_vector.npy"))[:4, 0])
        assert out.shape[0] == 4 and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-4)
        # the final tracks come from the re-ID path: tracklets cut at contacts, linked with appearance
        summary = json.loads(Path(settings.video_file(vid, "_tracking.json")).read_text())
        assert summary["reid_used"] and summary["method"] == "pieces", summary
        assert summary["pieces_linked"] > 0, summary
        for cue in ("transformer", "body colour"):  # both appearance cues fitted, same fish more alike
            fit = summary["link_model"]["appearance"][cue]
            assert fit["same_fish_similarity"][0] > fit["other_fish_similarity"][0], summary
        errors = list(summary["link_model"]["motion_error_px"].values())
        assert len(errors) >= 2 and errors[-1] > errors[0], summary  # extrapolation error grows with the gap
        # tracking.stray_keypoints ran: the recorded count is what the cleaning drops from this _el.pickle
        raw = dlc_pickles.load(settings.video_file(vid, "_el.pickle"))  # as the stitcher reads it
        _, _, _, dropped = cleaned_tracklets(raw, settings.config["tracking"]["stray_keypoints"])
        assert summary["stray_keypoints_dropped"] == dropped


def test_crops_identity_network_and_assignment(settings):
    """The analysis pass cut pose-aligned crops (identity.crop_* keys); the identity rule trained a network per video
    on stretches where all fish are apart; stitching assigned pieces to fish by it and says so per piece."""
    import h5py

    from cichlid_track.crops import close_to_another
    from cichlid_track.features import FeatureStore, nearest_assembly
    from cichlid_track.tracking.identity_net import load_identity

    ident = settings.config["identity"]
    for vid in settings.samples:
        with h5py.File(settings.video_file(vid, "_crops.h5"), "r") as f:
            every = ident["crop_every"]
            assert f["crops"].attrs["encoding"] == f"jpeg:{ident['crop_quality']}"  # identity.crop_quality
            assert f.attrs["every"] == every and f.attrs["near"] == ident["crop_near"] and len(f["crops"]) > 0
            off_grid = np.unique(f["frame"][:][f["frame"][:] % every > 0])
            frames, rows = f["frame"][:5], np.zeros(5, int)
        with FeatureStore(settings.video_file(vid, "_crops.h5"), name="crops") as crops_of, \
                FeatureStore(settings.video_file(vid, "_bpt_features.h5")) as all_of:
            if every == 1 and all_of.every == 1:  # every frame: a crop row for every detection
                assert np.array_equal(crops_of.offsets, all_of.offsets), vid
            for g in off_grid:  # off the regular frames: only fish within crop_near body lengths of another
                detections = all_of.keypoints(g)
                close = close_to_another(detections, ident["crop_near"])
                for row in crops_of.keypoints(g):
                    assert close[nearest_assembly(row, detections, max_distance=0.01)[0]], (vid, g)
        with FeatureStore(settings.video_file(vid, "_crops.h5"), name="crops") as store:
            crops = store.rows(frames, rows)  # decoded: uint8 images of the configured size
            assert crops.shape == (5, ident["crop_height"], ident["crop_width"], 3) and crops.dtype == np.uint8
            assert crops.std() > 5  # images, not blanks
        with h5py.File(settings.video_file(vid, "_bpt_features.h5"), "r") as f:
            dtype = settings.config["analysis"]["features_dtype"]  # int8 by default: a scale per keypoint and map
            assert f["features"].dtype == np.dtype(dtype) and ("features_scale" in f) == (dtype == "int8")
        model = load_identity(settings.identity_model(vid))
        assert model is not None and model.n_classes == settings.n_tracks_of(vid), vid
        held = model.summary["held_out_accuracy"]  # None when the first stretch's pieces are too short to hold out
        assert held is None or held >= 0.8, model.summary  # 1.0 on both videos of this machine's demo run
        summary = json.loads(Path(settings.video_file(vid, "_tracking.json")).read_text())
        assert summary["assignment"] == "identity network", summary["assignment"]
        report = summary["identity"]
        assert 0.3 <= report["confident_frame_fraction"] <= 1, report  # 0.60 and 0.91 on this machine's demo run
        assert {"track", "start", "end", "by", "probability"} <= set(report["pieces"][0])
        assert "identity" in summary["link_model"]["appearance"]


def test_reid_tracks_are_at_least_as_good_as_motion_only_and_above_the_floor(settings, demo_data):
    """The README's headline: against the demo's ground truth, re-ID tracks (_el.h5) have an IDF1 of at
    least MIN_REID_IDF1 and at least motion-only's (_el_motion.h5), and at most MAX_EXTRA_SWITCHES more identity
    switches."""
    from cichlid_track.metrics import mot_metrics, read_truth

    for vid in settings.samples:
        truth = read_truth(Path(demo_data["ground_truth"]) / f"{vid}.csv")
        reid = mot_metrics(truth, pd.read_hdf(settings.video_file(vid, "_el.h5")))
        motion = mot_metrics(truth, pd.read_hdf(settings.video_file(vid, "_el_motion.h5")))
        print(f"{vid}: re-ID IDF1 {reid['IDF1']:.3f}, {reid['ID switches']} switches; "
              f"motion-only IDF1 {motion['IDF1']:.3f}, {motion['ID switches']} switches")
        assert reid["IDF1"] >= MIN_REID_IDF1, (vid, reid)
        assert reid["IDF1"] >= motion["IDF1"], (vid, reid, motion)
        assert reid["ID switches"] <= motion["ID switches"] + MAX_EXTRA_SWITCHES, (vid, reid, motion)


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


def test_user_project_and_videos_are_byte_identical(settings, demo_run):
    """Hashes taken before the run (kept in the work folder) against the files now."""
    project = Path(settings.project_config).parent
    assert tree_hashes(project, *[s.path for s in settings.samples.values()]) == demo_run["hashes_before"]
    assert not list(project.glob("dlc-models*")) and not (project / "training-datasets").exists()


def test_every_rule_writes_its_log_and_a_benchmark_of_its_job(settings, demo_run):
    """Each rule that ran left its log (what it printed, ending without an error line) and Snakemake's
    benchmark of its job (wall time and peak memory)."""
    logs, bench = demo_run["results"] / "logs", demo_run["results"] / "benchmarks"
    per_video = {"analyze", "tracklets", "triplets", "reid", "identity", "stitch", "labelled_video", "video_qc"}
    once = {"check_labels", "project_copy", "shuffle", "train", "evaluate", "training_qc", "batch_table"}
    expected = [f"{r}.log" for r in once] + [f"{r}/{v}.log" for r in per_video for v in settings.samples]
    for name in expected:
        log = logs / name
        assert log.is_file(), name
        assert "ERROR in rule" not in log.read_text(errors="replace"), name
        row = pd.read_csv(bench / name.replace(".log", ".tsv"), sep="\t").iloc[0]
        assert row["s"] > 0, (name, row.to_dict())
        if name.split("/")[0].removesuffix(".log") in ("train", "analyze", "stitch"):  # long enough to be sampled
            assert float(row["max_rss"]) > 100, (name, row.to_dict())  # MB: torch alone takes more
    assert "Epoch 60/60" in (logs / "train.log").read_text()  # the training log has one line per epoch
