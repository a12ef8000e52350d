"""DLC's keypoint pickles stored narrowed (float32): exact, about half the bytes, still read by DLC."""
import pickle

import numpy as np
import pandas as pd

from cichlid_track import dlc_pickles


def dlc_like_tracklets(n_tracklets=6, n_frames=200, n_keypoints=9, seed=0) -> dict:
    """What DLC 3.0.2's tracker writes: float64 rows of float32 network outputs (x, y, likelihood) and identity -1."""
    rng = np.random.default_rng(seed)
    header = pd.MultiIndex.from_product([["s"], [f"kp{i}" for i in range(n_keypoints)], ["x", "y", "likelihood"]],
                                        names=["scorer", "bodyparts", "coords"])
    out = {"header": header}
    for t in range(n_tracklets):
        rows = {}
        for f in range(t * 10, t * 10 + n_frames):
            xy = rng.uniform(0, 400, (n_keypoints, 2)).astype(np.float32)
            p = rng.uniform(0.5, 1, (n_keypoints, 1)).astype(np.float32)
            rows[f"frame{f:04d}"] = np.c_[xy, p, -np.ones((n_keypoints, 1))].astype(np.float64)
        out[t] = rows
    return out


def test_narrowed_pickle_is_exact_and_about_half_the_size(tmp_path):
    raw = dlc_like_tracklets()
    raw[0]["frame0000"][0, 0] = 1 / 3  # not a float32 value: that array must stay float64
    path = tmp_path / "v_el.pickle"
    with open(path, "wb") as fh:
        pickle.dump(raw, fh, pickle.HIGHEST_PROTOCOL)
    before = path.stat().st_size
    dlc_pickles.shrink(path)
    assert path.stat().st_size < 0.6 * before

    with open(path, "rb") as fh:
        stored = pickle.load(fh)
    assert stored[0]["frame0000"].dtype == np.float64 and stored[0]["frame0001"].dtype == np.float32
    back = dlc_pickles.load(path)
    assert back["header"].equals(raw["header"])
    for t in range(6):
        assert back[t].keys() == raw[t].keys()
        for f, row in raw[t].items():
            assert back[t][f].dtype == np.float64 and np.array_equal(back[t][f], row)  # bit for bit


def test_dlc_stitcher_reads_the_narrowed_file_as_the_original(tmp_path):
    from deeplabcut.refine_training_dataset.stitch import TrackletStitcher

    raw = dlc_like_tracklets()
    original, narrowed = tmp_path / "a_el.pickle", tmp_path / "b_el.pickle"
    for path, obj in ((original, raw), (narrowed, dlc_pickles.narrowed(raw))):
        with open(path, "wb") as fh:
            pickle.dump(obj, fh, pickle.HIGHEST_PROTOCOL)
    a = TrackletStitcher.from_pickle(original, n_tracks=3, min_length=3)
    b = TrackletStitcher.from_pickle(narrowed, n_tracks=3, min_length=3)
    assert len(a.tracklets) == len(b.tracklets) == 6
    for x, y in zip(a.tracklets, b.tracklets):
        assert np.array_equal(x.inds, y.inds)
        np.testing.assert_array_equal(x.data.astype(np.float64), y.data.astype(np.float64))


def test_write_widened_gives_dlc_its_float64_rows(tmp_path):
    raw = dlc_like_tracklets(n_tracklets=2, n_frames=5)
    src, dst = tmp_path / "n.pickle", tmp_path / "w.pickle"
    with open(src, "wb") as fh:
        pickle.dump(dlc_pickles.narrowed(raw), fh, pickle.HIGHEST_PROTOCOL)
    dlc_pickles.write_widened(src, dst)
    with open(dst, "rb") as fh:
        widened = pickle.load(fh)
    assert all(np.array_equal(widened[t][f], raw[t][f]) and widened[t][f].dtype == np.float64
               for t in (0, 1) for f in raw[t])


def test_seen_keypoints_treats_nan_and_dlcs_minus_one_padding_as_missing():
    xy = np.array([[[10.0, 5.0], [np.nan, 3.0], [-1.0, -1.0], [0.0, 0.0]]])
    assert dlc_pickles.seen_keypoints(xy).tolist() == [[True, False, False, True]]
    rows = np.array([[10.0, 5.0, 0.9, -1.0], [-1.0, -1.0, -1.0, -1.0]])  # x, y, likelihood, identity: only x, y count
    assert dlc_pickles.seen_keypoints(rows).tolist() == [True, False]
