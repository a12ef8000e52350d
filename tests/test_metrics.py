"""Tracking metrics on tracks whose faults are known: py-motmetrics' IDF1 / switches and TrackEval's HOTA."""
import numpy as np
import pandas as pd
import pytest

from cichlid_track.metrics import mot_metrics


def tracks(xy: np.ndarray) -> pd.DataFrame:
    """(frames, individuals, 2) centroids -> a one-keypoint table as the ground truth reads."""
    n_frames, n_ind, _ = xy.shape
    cols = pd.MultiIndex.from_product([[f"fish{i}" for i in range(n_ind)], ["head"], ["x", "y"]],
                                      names=["individuals", "bodyparts", "coords"])
    return pd.DataFrame(xy.reshape(n_frames, -1), columns=cols)


@pytest.fixture
def truth_xy():
    t = np.arange(200)[:, None]
    return np.stack([np.c_[10 + 2.0 * t, 100 + 0 * t], np.c_[10 + 2.0 * t, 300 + 0 * t]], axis=1)  # far apart


def test_perfect_tracks_score_one(truth_xy):
    m = mot_metrics(tracks(truth_xy), tracks(truth_xy))
    assert m["IDF1"] == m["MOTA"] == 1.0 and m["ID switches"] == 0
    assert m["HOTA"] == pytest.approx(1.0) and m["DetA"] == pytest.approx(1.0) and m["AssA"] == pytest.approx(1.0)


def test_a_swap_halfway_costs_association_not_detection(truth_xy):
    swapped = truth_xy.copy()
    swapped[100:] = swapped[100:, ::-1]
    m = mot_metrics(tracks(truth_xy), tracks(swapped))
    assert m["ID switches"] == 2 and m["IDF1"] == pytest.approx(0.5)
    assert m["DetA"] == pytest.approx(1.0)  # every fish found where it is
    assert m["AssA"] == pytest.approx(1 / 3)  # each track holds its fish half the time: 100 / (200 + 200 - 100)
    assert m["HOTA"] == pytest.approx(np.sqrt(1 / 3))


def test_hota_also_scores_where_the_track_is(truth_xy):
    off = truth_xy + [5.0, 0.0]  # 5 px off: a match for IDF1 (within 20 px); similarity 0.75 for HOTA
    m = mot_metrics(tracks(truth_xy), tracks(off))
    assert m["IDF1"] == 1.0 and m["ID switches"] == 0
    # matched at 15 of TrackEval's 19 thresholds (0.05 ... 0.75), at none of the 4 stricter ones
    assert m["DetA"] == pytest.approx(15 / 19) and m["AssA"] == pytest.approx(15 / 19)
    assert m["HOTA"] == pytest.approx(15 / 19)
