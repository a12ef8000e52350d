"""One pass: our analysis writes the same pose outputs as deeplabcut.analyze_videos, plus features."""
import pickle
import shutil

import numpy as np
import pandas as pd
import yaml

from test_dlc_traps import relocated_project


def test_one_pass_pose_outputs_equal_deeplabcuts(settings, demo_run, tmp_path):
    """Same model, same video, same process: ours and deeplabcut.analyze_videos.

    Both run here, in one process, because DLC's assembly step is discrete: floating-point noise from
    a different thread count (another process) can regroup keypoints, for DLC itself as for us."""
    import deeplabcut

    from cichlid_track.analysis import analyze_video
    from cichlid_track.dlc_calls import dlc_snapshot_index, link_video
    from cichlid_track.features import FeatureStore

    vid = sorted(settings.samples)[0]
    config = relocated_project(settings, tmp_path)
    snapshot = config.parent / settings.names.snapshot
    out = tmp_path / "dlc"
    out.mkdir()
    link = link_video(settings.samples[vid].path, out, vid)
    deeplabcut.analyze_videos(str(config), [str(link)], shuffle=1, destfolder=str(out), auto_track=False,
                              save_as_df=True, batch_size=settings.config["analysis"]["batch_size"],
                              snapshot_index=dlc_snapshot_index(snapshot.parent, snapshot))
    prefix = f"{vid}{settings.scorer}"
    mine = tmp_path / "ours"
    outputs = {k: mine / f"{vid}{settings.scorer}{suffix}" for k, suffix in
               (("h5", ".h5"), ("full", "_full.pickle"), ("meta", "_meta.pickle"),
                ("assemblies", "_assemblies.pickle"), ("features", "_bpt_features.h5"))}
    analyze_video(config, 1, 0, snapshot, link, prefix, settings.scorer, outputs,
                  batch_size=settings.config["analysis"]["batch_size"])

    ours = pd.read_hdf(outputs["h5"])
    theirs = pd.read_hdf(out / f"{prefix}.h5")
    pd.testing.assert_frame_equal(ours, theirs, check_exact=False, atol=1e-4, rtol=0)

    with open(outputs["assemblies"], "rb") as a, open(out / f"{prefix}_assemblies.pickle", "rb") as b:
        ours_a, theirs_a = pickle.load(a), pickle.load(b)
    assert ours_a.keys() == theirs_a.keys()
    for k in ours_a:
        if k != "single":
            np.testing.assert_allclose(ours_a[k], theirs_a[k], atol=1e-4)

    with open(outputs["full"], "rb") as a, open(out / f"{prefix}_full.pickle", "rb") as b:
        ours_f, theirs_f = pickle.load(a), pickle.load(b)
    assert set(ours_f) == set(theirs_f)
    for key in ours_f:
        if key != "metadata":
            for x, y in zip(ours_f[key]["coordinates"][0], theirs_f[key]["coordinates"][0]):
                np.testing.assert_allclose(x, y, atol=1e-4)

    # features: one row per assembly, aligned with the assemblies file, in one HDF5 file
    with FeatureStore(outputs["features"]) as store:
        assert store.n_frames == len([k for k in ours_a if k != "single"])
        # DLC's backbone output, then appearance maps: resnet18's stride-8 stage (128), colour at the
        # keypoints (3) and inside the body (3)
        backbone = settings.config["training"]["backbone_output_channels"]
        assert store.layout == f"features:{backbone},fine:128,colour:3,body:3"
        assert store.n_features == backbone + 128 + 3 + 3
        for frame in (0, store.n_frames // 2, store.n_frames - 1):
            kps = store.keypoints(frame)
            ref = ours_a[frame][..., :2].astype(np.float64)
            both = np.isfinite(kps[..., :2]) & np.isfinite(ref)
            np.testing.assert_allclose(kps[..., :2][both], ref[both], atol=1e-4)  # same rows, same points
            assert both.sum() == np.isfinite(kps[..., :2]).sum()
            feats = np.asarray(store.features(frame), dtype=np.float32)
            present = np.isfinite(kps[..., 0])
            assert np.all(np.abs(feats[present]).sum(-1) > 0) and np.all(feats[~present] == 0)
    assert not list(out.glob("*bpt_features*"))  # DLC's analysis alone writes no features: that is its 2nd pass
