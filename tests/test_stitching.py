"""Stitching with motion and appearance on a crossing that motion alone gets wrong."""
import json
import pickle

import numpy as np
import pytest

from cichlid_track.tracking import fill_gaps, split_at_contacts, stitch_video
from cichlid_track.tracking.motion import extrapolation_error

K = 3


class FakeStore:
    """Feature store stand-in: fish A's features point along e0, fish B's along e1."""

    def __init__(self, detections):
        self.detections = detections  # frame -> list of (kps (K,3), feature (K,C))

    n_keypoints, n_features = K, 4

    def keypoints(self, frame):
        d = self.detections.get(frame, [])
        return np.stack([k for k, _ in d]) if d else np.zeros((0, K, 3))

    def features(self, frame):
        return np.stack([f for _, f in self.detections[frame]])


def pose(x, y):
    return np.array([[x, y, 0.9], [x + 8, y, 0.9], [x + 16, y, 0.9]])


def crossing(tmp_path):
    """A swims right along y=50, B left along y=64. Both vanish for frames 10-11 while crossing;
    afterwards A reappears lower (y=70) and B higher (y=46): nearest-centroid motion swaps them."""
    tracks, dets = {}, {}
    feat = {"A": np.tile([1.0, 0, 0, 0], (K, 1)), "B": np.tile([0, 1.0, 0, 0], (K, 1))}

    def add(tid, fish, frames, xy):
        tracks[tid] = {}
        for f in frames:
            x, y = xy(f)
            p = pose(x, y)
            tracks[tid][f"frame{f:03d}"] = np.c_[p, -np.ones(K)]
            dets.setdefault(f, []).append((p, feat[fish]))

    add(0, "A", range(0, 10), lambda f: (40 + 3 * f, 50))
    add(1, "B", range(0, 10), lambda f: (110 - 3 * f, 64))
    add(2, "A", range(12, 30), lambda f: (40 + 3 * f, 70))
    add(3, "B", range(12, 30), lambda f: (110 - 3 * f, 46))
    tracks["header"] = None
    path = tmp_path / "x_el.pickle"
    with open(path, "wb") as fh:
        pickle.dump(tracks, fh)
    return path, FakeStore(dets)


def identity_of(df, ind):
    """Which fish (by its y lane at the end) the track of individual `ind` follows after the crossing."""
    y_end = df.xs(ind, level="individuals", axis=1).xs("y", level="coords", axis=1).iloc[25].mean()
    y_start = df.xs(ind, level="individuals", axis=1).xs("y", level="coords", axis=1).iloc[5].mean()
    return y_start, y_end


def embed(x):
    v = x.mean(axis=1)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("method", ["pieces", "tracklets"])
def test_appearance_fixes_the_swap_that_motion_makes(tmp_path, method):
    el, store = crossing(tmp_path)
    r = stitch_video(el, 2, ["fish1", "fish2"], 30, "s", ["a", "b", "c"], min_length=3, store=store, embed=embed,
                     method=method, appearance_weight=4.0)
    assert r.summary["reid_used"] and r.summary["method"] == method
    if method == "tracklets":
        assert r.summary["embedded_ends"] == 8
    else:  # no contact here (lanes 14 px apart): the pieces are DLC's four tracklets
        assert r.summary["pieces"] == 4 and r.summary["pieces_linked"] == 4
    assert len(r.reid) == 30 and len(r.motion) == 30
    lanes_reid = sorted(identity_of(r.reid, i) for i in ("fish1", "fish2"))
    lanes_motion = sorted(identity_of(r.motion, i) for i in ("fish1", "fish2"))
    assert lanes_reid == [(50, 70), (64, 46)]  # A stays A, B stays B
    assert lanes_motion == [(50, 46), (64, 70)]  # motion alone swaps them


def no_appearance(x):
    """A re-ID model that sees no difference between fish."""
    return np.ones((len(x), 2)) / np.sqrt(2)


def test_body_colour_tells_fish_apart_where_the_transformer_cannot(tmp_path):
    el, store = crossing(tmp_path)  # the store's features differ by fish, as body colour would
    kw = dict(min_length=3, store=store, embed=no_appearance, method="pieces")
    blind = stitch_video(el, 2, ["fish1", "fish2"], 30, "s", ["a", "b", "c"], **kw)
    seeing = stitch_video(el, 2, ["fish1", "fish2"], 30, "s", ["a", "b", "c"], body_store=store, **kw)
    assert set(seeing.summary["link_model"]["appearance"]) == {"transformer", "body colour"}
    assert set(blind.summary["link_model"]["appearance"]) == {"transformer"}
    assert sorted(identity_of(seeing.reid, i) for i in ("fish1", "fish2")) == [(50, 70), (64, 46)]
    assert sorted(identity_of(blind.reid, i) for i in ("fish1", "fish2")) == [(50, 46), (64, 70)]  # motion's swap


def test_extrapolation_carries_a_fish_on_at_its_own_speed():
    v = np.array([3.0, 0.0])
    # straight on for 12 hidden frames: where it should be, whether one or both ends know their velocity
    assert extrapolation_error(np.array([67.0, 50]), v, np.array([103.0, 50]), v, 12) == 0
    assert extrapolation_error(np.array([67.0, 50]), v, np.array([103.0, 50]), None, 12) == 0
    assert extrapolation_error(np.array([67.0, 50]), None, np.array([103.0, 50]), v, 12) == 0
    assert extrapolation_error(np.array([67.0, 50]), None, np.array([67.0, 58]), None, 12) == 8  # plain distance


def test_a_fish_out_of_sight_is_found_where_it_swam_not_where_it_was_last_seen(tmp_path):
    """A swims right at 3 px/frame and is hidden for frames 10-21; at frame 22 it is 36 px further on,
    while another fish B, drifting down slowly, turns up 8 px from where A was last seen. Appearance says
    nothing. A diffusing-fish model gives A's track to B; carried on at its speed, A is where it swam."""
    tracks, dets = {"header": None}, {}
    feat = np.tile([1.0, 0, 0, 0], (K, 1))

    def add(tid, frames, xy):
        tracks[tid] = {}
        for f in frames:
            p = pose(*xy(f))
            tracks[tid][f"frame{f:03d}"] = np.c_[p, -np.ones(K)]
            dets.setdefault(f, []).append((p, feat))

    add(0, range(0, 10), lambda f: (40 + 3 * f, 50))
    add(1, range(22, 40), lambda f: (40 + 3 * f, 50))
    add(2, range(22, 40), lambda f: (67, 58 + 0.5 * (f - 22)))
    el = tmp_path / "h_el.pickle"
    with open(el, "wb") as fh:
        pickle.dump(tracks, fh)
    r = stitch_video(el, 2, ["fish1", "fish2"], 40, "s", ["a", "b", "c"], min_length=3, store=FakeStore(dets),
                     embed=no_appearance)
    y = {n: r.reid.xs(n, level="individuals", axis=1).xs("y", level="coords", axis=1).to_numpy()[:, 0]
         for n in ("fish1", "fish2")}
    a = next(n for n in y if np.isfinite(y[n][0]))
    assert np.isfinite(y[a][30]) and y[a][30] == 50  # A's track goes on with A, not with B


def test_without_reid_model_motion_only_is_used(tmp_path):
    el, store = crossing(tmp_path)
    r = stitch_video(el, 2, ["fish1", "fish2"], 30, "s", ["a", "b", "c"], min_length=3, store=store, embed=None)
    assert not r.summary["reid_used"] and "motion-only" in r.summary["warning"]
    assert r.reid.equals(r.motion)


def bounce(tmp_path):
    """A swims right on y=50, B left on y=56; they touch at frames 16-17 and DLC's tracker bounces:
    tracklet 0 is A until frame 16, then B; tracklet 1 the reverse. The swap is inside the tracklets."""
    feat = {"A": np.tile([1.0, 0, 0, 0], (K, 1)), "B": np.tile([0, 1.0, 0, 0], (K, 1))}
    tracks, dets = {0: {}, 1: {}, "header": None}, {}
    for f in range(40):
        a, b = pose(20 + 3 * f, 50), pose(120 - 3 * f, 56)
        dets[f] = [(a, feat["A"]), (b, feat["B"])]
        first, second = (a, b) if f <= 16 else (b, a)
        tracks[0][f"frame{f:03d}"] = np.c_[first, -np.ones(K)]
        tracks[1][f"frame{f:03d}"] = np.c_[second, -np.ones(K)]
    path = tmp_path / "b_el.pickle"
    with open(path, "wb") as fh:
        pickle.dump(tracks, fh)
    return path, FakeStore(dets)


def lanes(df, ind):
    """The y values (lanes) the first keypoint of an individual's track visits."""
    y = df.xs(ind, level="individuals", axis=1).xs("y", level="coords", axis=1).to_numpy()[:, 0]
    return set(y[np.isfinite(y)].tolist())


def test_pieces_undo_a_swap_inside_dlcs_tracklets(tmp_path):
    el, store = bounce(tmp_path)
    with open(el, "rb") as fh:
        raw = pickle.load(fh)
    cut = split_at_contacts(raw, {0: {16, 17}, 1: {16, 17}})
    assert sorted((k[0], len(v)) for k, v in cut.items() if k != "header") == [(0, 1), (0, 1), (0, 16), (0, 22),
                                                                            (1, 1), (1, 1), (1, 16), (1, 22)]
    names = ["fish1", "fish2"]
    pieces = stitch_video(el, 2, names, 40, "s", ["a", "b", "c"], min_length=3, store=store, embed=embed)
    tracklets = stitch_video(el, 2, names, 40, "s", ["a", "b", "c"], min_length=3, store=store, embed=embed,
                             method="tracklets")
    assert pieces.summary["pieces"] == 8
    assert sorted(lanes(pieces.reid, n) for n in names) == [{50}, {56}]  # each fish keeps its lane
    for swapped in (pieces.motion, tracklets.reid):  # stitching whole tracklets cannot undo it
        assert sorted(lanes(swapped, n) for n in names) == [{50, 56}, {50, 56}]
    assert pieces.reid.notna().all().all()  # the contact frames are placed too


def test_a_tracklet_that_jumps_to_another_fish_is_cut_there(tmp_path):
    """Far from any contact, DLC's tracker can still trade two fish (an assembly error in one frame): here A swims
    on y=50 and B on y=90, 40 px (2.5 body lengths) apart, and at frame 20 both tracklets jump lanes. No contact
    cuts them, so without the jump cut each track holds both fish; with it, each fish keeps its lane."""
    feat = {"A": np.tile([1.0, 0, 0, 0], (K, 1)), "B": np.tile([0, 1.0, 0, 0], (K, 1))}
    tracks, dets = {0: {}, 1: {}, "header": None}, {}
    for f in range(40):
        a, b = pose(20 + 3 * f, 50), pose(20 + 3 * f, 90)
        dets[f] = [(a, feat["A"]), (b, feat["B"])]
        first, second = (a, b) if f < 20 else (b, a)
        tracks[0][f"frame{f:03d}"] = np.c_[first, -np.ones(K)]
        tracks[1][f"frame{f:03d}"] = np.c_[second, -np.ones(K)]
    el = tmp_path / "j_el.pickle"
    with open(el, "wb") as fh:
        pickle.dump(tracks, fh)
    store, names = FakeStore(dets), ["fish1", "fish2"]
    cut = stitch_video(el, 2, names, 40, "s", ["a", "b", "c"], min_length=3, store=store, embed=embed, jump=0.5)
    kept = stitch_video(el, 2, names, 40, "s", ["a", "b", "c"], min_length=3, store=store, embed=embed, jump=None)
    assert cut.summary["pieces"] == 4 and kept.summary["pieces"] == 2
    assert sorted(lanes(cut.reid, n) for n in names) == [{50}, {90}]
    assert sorted(lanes(kept.reid, n) for n in names) == [{50, 90}, {50, 90}]


def test_fill_gaps_interpolates_short_gaps_only():
    import pandas as pd

    x = np.arange(30, dtype=float)
    x[[0, 1]] = np.nan  # leading: stays empty
    x[5:8] = np.nan  # 3 frames: filled
    x[12:24] = np.nan  # 12 frames: stays empty
    out = fill_gaps(pd.DataFrame({"x": x}), max_gap=10)["x"].to_numpy()
    np.testing.assert_allclose(out[5:8], [5, 6, 7])
    assert np.isnan(out[[0, 1]]).all() and np.isnan(out[12:24]).all()
    assert fill_gaps(pd.DataFrame({"x": x}), 0)["x"].isna().sum() == 17


def test_fish_always_touching_fall_back_to_whole_tracklets(tmp_path):
    feat = {"A": np.tile([1.0, 0, 0, 0], (K, 1)), "B": np.tile([0, 1.0, 0, 0], (K, 1))}
    tracks, dets = {0: {}, 1: {}, "header": None}, {}
    for f in range(12):  # two fish side by side, 3 px apart, the whole video: every frame is a contact
        a, b = pose(20 + 2 * f, 50), pose(20 + 2 * f, 53)
        dets[f] = [(a, feat["A"]), (b, feat["B"])]
        tracks[0][f"frame{f:03d}"] = np.c_[a, -np.ones(K)]
        tracks[1][f"frame{f:03d}"] = np.c_[b, -np.ones(K)]
    el = tmp_path / "t_el.pickle"
    with open(el, "wb") as fh:
        pickle.dump(tracks, fh)
    r = stitch_video(el, 2, ["fish1", "fish2"], 12, "s", ["a", "b", "c"], min_length=3, store=FakeStore(dets),
                     embed=embed)
    assert r.summary["reid_used"] and r.summary["method"] == "tracklets"
    assert sorted(lanes(r.reid, n) for n in ("fish1", "fish2")) == [{50}, {53}]


def test_motion_error_is_measured_inside_the_pieces_and_never_shrinks_with_the_gap():
    from cichlid_track.tracking.motion import PREDICTION_GAPS, fit_motion_error
    from cichlid_track.tracking.tracklet_io import as_tracklet

    rng = np.random.default_rng(0)
    pieces = []
    for k in range(6):  # six fish swimming straight at 2 px/frame, centroids jittered by 1 px
        frames = {f"frame{f:03d}": np.c_[pose(10 + 2.0 * f + rng.normal(0, 1), 20 + 15 * k + rng.normal(0, 1)),
                                         -np.ones(K)] for f in range(60)}
        pieces.append(as_tracklet(frames))
    gaps, sigma = zip(*fit_motion_error(pieces, 70.0, np.random.default_rng(0)))
    assert gaps == PREDICTION_GAPS
    assert list(sigma) == sorted(sigma)
    assert 0.5 <= sigma[0] < 3  # about the jitter: straight swimming is predicted, not taken for noise


# --- stray keypoints, fish vanishing beside another, leftovers placed between anchors -----------


def fish_pose(x, y, n=9, length=48.0):
    """n keypoints evenly along a fish lying along +x, from (x, y) to (x + length, y)."""
    return np.c_[np.linspace(x, x + length, n), np.full(n, y), np.full(n, 0.9), -np.ones(n)]


def test_a_keypoint_taken_from_a_neighbour_is_dropped_and_the_fish_keeps_its_place():
    from cichlid_track.tracking import body_length, drop_stray_keypoints
    from cichlid_track.tracking.contacts import centroid

    good = fish_pose(100, 100)
    bad = good.copy()
    bad[8, :2] = (210, 160)  # DLC's assembly gave this fish its neighbour's tail tip
    three = fish_pose(300, 300, n=3)
    three[2, :2] = (400, 400)  # three keypoints: no middle to judge by, kept as they are
    raw = {"header": None, 0: {"frame000": good, "frame001": bad}, 1: {"frame000": three}}
    tracks = {0: {0: good[:, :3], 1: bad[:, :3]}}
    body = body_length(tracks)
    assert body == pytest.approx(48.0)
    assert np.linalg.norm(centroid(bad) - centroid(good)) > 9  # the fish seems to jump by a fifth of itself

    clean, dropped = drop_stray_keypoints(raw, 0.75 * body)
    assert dropped == 1
    fixed = clean[0]["frame001"]
    assert np.isnan(fixed[8, :2]).all() and fixed[8, 2] == 0  # as DLC marks a missing keypoint
    np.testing.assert_array_equal(fixed[:8], bad[:8])
    np.testing.assert_array_equal(clean[0]["frame000"], good)
    np.testing.assert_array_equal(clean[1]["frame000"], three)
    assert np.linalg.norm(centroid(fixed) - centroid(good)) < 4
    assert bad[8, 0] == 210  # the input is not changed in place


def test_a_fish_vanishing_beside_another_cuts_that_ones_tracklet():
    from cichlid_track.tracking import contact_frames

    def track(frames, y, dx=3.0):
        return {f: fish_pose(20 + dx * f, y, n=3)[:, :3] for f in frames}

    limit = 25.0
    # B swims beside A (30 px apart: not touching) and vanishes after frame 9; C appears at frame 15
    tracks = {"A": track(range(20), 100), "B": track(range(10), 130), "C": track(range(15, 20), 70)}
    hit = contact_frames(tracks, limit)
    assert hit["A"] == {10, 14}  # where B merged into A's detection and where C came out of it
    assert hit["B"] == set() and hit["C"] == set()
    far = {"A": track(range(20), 100), "B": track(range(10), 140)}  # 40 px: B left elsewhere
    assert contact_frames(far, limit)["A"] == set()


def test_bridge_joins_two_ends_with_their_velocities():
    from cichlid_track.tracking.motion import bridge

    p1, p2 = np.array([0.0, 0.0]), np.array([20.0, 0.0])
    line = bridge(p1, np.array([2.0, 0.0]), p2, np.array([2.0, 0.0]), 10, np.arange(11))
    np.testing.assert_allclose(line, np.c_[np.arange(11) * 2.0, np.zeros(11)], atol=1e-9)
    # a fish turning: leaves heading +y, arrives heading -y; the curve bulges to +y, ends fixed
    turn = bridge(p1, np.array([2.0, 2.0]), p2, np.array([2.0, -2.0]), 10, np.arange(11))
    np.testing.assert_allclose(turn[[0, -1]], [p1, p2], atol=1e-9)
    assert turn[5, 1] > 4
    np.testing.assert_allclose(bridge(p1, None, p2, None, 10, np.array([5])), [[10.0, 0.0]])


def test_contact_frames_far_from_the_chain_ends_go_to_the_fish_on_their_curve():
    """Two fish side by side (25 px apart) through frames 10-39, each frame its own piece; the
    chains hold each fish before and after. Frames 15 or more from either end are judged on the curve
    joining the two ends, and each frame goes to its own fish."""
    from cichlid_track.tracking.leftovers import place_leftovers
    from cichlid_track.tracking.link_model import LinkModel
    from cichlid_track.tracking.tracklet_io import as_tracklet

    def path(fish, f):
        return 20 + 3 * f, 100 + 25 * fish + 0.04 * (f - 25) ** 2  # both dip and rise again

    def piece(fish, frames, noise=0.0, rng=np.random.default_rng(0)):
        rows = {}
        for f in frames:
            x, y = path(fish, f)
            rows[f"frame{f:03d}"] = fish_pose(x + rng.normal(0, noise), y + rng.normal(0, noise), n=3)[:, :3]
        return as_tracklet(rows)

    chains = [[piece(k, range(0, 10)), piece(k, range(40, 50))] for k in (0, 1)]
    singles = [(k, piece(k, [f], noise=3.0)) for f in range(10, 40) for k in (1, 0)]
    model = LinkModel(cues={}, motion_error=[(1, 2.0), (2, 3.0), (4, 5.0), (8, 8.0), (16, 14.0), (32, 25.0)],
                      body_len=50.0)
    out, placed = place_leftovers(chains, [t for _, t in singles], model, {}, 50)
    assert placed == len(singles)
    for k, t in singles:
        assert any(t is p for p in out[k]), (k, t.start)


def _still_fish_chains(ys, xs=None, frames_before=range(0, 10), frames_after=range(20, 30)):
    """Chains of fish lying still along +x from (xs, ys) (xs: 100), seen before and after a contact (frames
    10-19); and ``piece(y, frames, kps, x)`` that makes more detections (only keypoints ``kps``)."""
    from cichlid_track.tracking.tracklet_io import as_tracklet

    xs = xs or [100.0] * len(ys)

    def piece(y, frames, kps=slice(None), x=100.0):
        rows = {}
        for f in frames:
            p = fish_pose(x, y)[:, :3].copy()
            mask = np.ones(len(p), bool)
            mask[kps] = False
            p[mask] = np.nan
            rows[f"frame{f:03d}"] = p
        return as_tracklet(rows)

    return piece, [[piece(y, frames_before, x=x), piece(y, frames_after, x=x)] for x, y in zip(xs, ys)]


def _model(body_len=48.0):
    from cichlid_track.tracking.link_model import LinkModel

    return LinkModel(cues={}, motion_error=[(1, 2.0), (2, 3.0), (4, 4.0), (8, 6.0), (16, 10.0)], body_len=body_len)


def test_a_head_only_contact_detection_is_judged_by_where_its_whole_fish_is():
    """Two fish lie still along +x (48 px long), fish 1 10 px beside fish 0 and 15 px ahead. In the contact, fish 0
    is detected by its front half only: that half's own centroid is 15 px ahead of its fish's centre and 10 px from
    fish 1's. Laid on the anchors' body shape, it points to its own fish's centre."""
    from cichlid_track.tracking.leftovers import anchored_motion, place_leftovers, shape_corrected_centroid

    piece, chains = _still_fish_chains([100.0, 110.0], xs=[100.0, 115.0])  # centres (124, 100) and (139, 110)
    head = piece(100.0, [15], kps=slice(5, 9))  # keypoints 5-8: x 130-148, y 100
    np.testing.assert_allclose(head.centroid, [[139.0, 100.0]])  # the plain centroid
    anchor = chains[0][0]
    np.testing.assert_allclose(shape_corrected_centroid(head, anchor.xy[-1], anchor.centroid[-1]), [[124.0, 100.0]],
                               atol=1e-6)
    model = _model()
    n_frames = 30
    anchors = np.full((2, n_frames, 2), np.nan)
    kps = np.full((2, n_frames, 9, 2), np.nan)
    for k, chain in enumerate(chains):
        for t in chain:
            anchors[k, t.inds], kps[k, t.inds] = t.centroid, t.xy
    plain = [anchored_motion(model, anchors[k], head, 60) for k in (0, 1)]
    shaped = [anchored_motion(model, anchors[k], head, 60, kps[k]) for k in (0, 1)]
    assert plain[1] > plain[0]  # by its plain centroid, the other fish's
    assert shaped[0] > shaped[1] + 4 and shaped[0] > plain[0]
    # with the back half of fish 1 in the same frame: each contact detection goes to its own fish
    tail = piece(110.0, [15], kps=slice(0, 4), x=115.0)
    out, placed = place_leftovers(chains, [head, tail], model, {}, n_frames)
    assert placed == 2 and any(t is head for t in out[0]) and any(t is tail for t in out[1])


def test_a_contact_detection_made_of_several_fishs_parts_is_left_out_and_the_fish_filled_in_from_around_it(
        monkeypatch):
    """Fish 0 lies still at y=100, fish 1 at y=160 and fish 2 at y=40 (48 px long, along +x). In contact frame 15
    DLC assembled fish 0's middle keypoint with fish 1's tail and fish 2's head (where three fish touch): a
    detection no one fish could make (keypoints 0.7+ body lengths from their mean), whose mean is yet right on fish 0.
    Placed by motion, it gave fish 0 two keypoints 60 px off, lines across the tank in the labelled video; it is
    left out, and fish 0's frame is filled from its own frames around it."""
    from cichlid_track.tracking import leftovers
    from cichlid_track.tracking.cleanup import keypoint_spread, one_fish
    from cichlid_track.tracking.leftovers import place_leftovers
    from cichlid_track.tracking.output import fill_gaps, tracks_dataframe
    from cichlid_track.tracking.tracklet_io import as_tracklet, merge

    piece, chains = _still_fish_chains([100.0, 160.0, 40.0], frames_before=range(0, 15), frames_after=range(16, 30))
    whole = piece(100.0, [15])
    mixed_kps = np.full((9, 3), np.nan)
    mixed_kps[[0, 4, 8]] = [[100.0, 160.0, 0.9], [124.0, 100.0, 0.9], [148.0, 40.0, 0.9]]
    mixed = as_tracklet({"frame015": mixed_kps})
    body = 48.0
    np.testing.assert_allclose(mixed.centroid, [[124.0, 100.0]])  # fish 0's centre
    assert keypoint_spread(whole.xy)[0] < 0.4 * body < 0.7 * body < keypoint_spread(mixed.xy)[0]
    assert one_fish(whole, body) and not one_fish(mixed, body)
    with monkeypatch.context() as m:  # as it was: a detection that fits a fish's motion is placed
        m.setattr(leftovers, "one_fish", lambda *a: True)
        out, placed = place_leftovers(chains, [mixed], _model(body), {}, 30)
        assert placed == 1 and any(t is mixed for t in out[0])

    out, placed = place_leftovers(chains, [mixed], _model(body), {}, 30)
    assert placed == 0 and all(t is not mixed for chain in out for t in chain)
    df = fill_gaps(tracks_dataframe([merge(sorted(c, key=lambda t: t.start)) for c in out], {"header": None}, 3,
                                    ["fish0", "fish1", "fish2"], 30), 10)
    frame = df.xs("fish0", level="individuals", axis=1).iloc[15]
    np.testing.assert_allclose(frame.xs("x", level="coords").to_numpy(float), fish_pose(100.0, 100.0)[:, 0], atol=1e-3)
    np.testing.assert_allclose(frame.xs("y", level="coords").to_numpy(float), 100.0, atol=1e-3)
    # a whole fish in that frame is placed as before
    out, placed = place_leftovers(chains, [whole], _model(body), {}, 30)
    assert placed == 1 and any(t is whole for t in out[0])


def test_detections_of_one_contact_frame_are_given_to_fish_together_not_first_come_first_served():
    """Fish 0 at y=100 and fish 1 at y=108. In a contact frame, the detections lie at y=104.5 and y=111: the first
    alone fits fish 1 best (3.5 px against 4.5), which would leave the second (3 px from fish 1, 11 px from fish 0)
    out or with the wrong fish; given together, each goes to its own."""
    from cichlid_track.tracking.leftovers import place_leftovers

    piece, chains = _still_fish_chains([100.0, 108.0])
    first, second = piece(104.5, [15]), piece(111.0, [15])
    out, placed = place_leftovers(chains, [first, second], _model(), {}, 30)
    assert placed == 2 and any(t is first for t in out[0]) and any(t is second for t in out[1])


def test_the_identity_networks_word_on_a_contact_frame_tips_what_motion_cannot_tell():
    """A contact detection halfway between two still fish: motion says nothing either way; one crop that the
    identity network gives to fish 1 (p 0.9) puts it there, and one it gives to fish 0 puts it there."""
    from cichlid_track.tracking.leftovers import identity_llr, place_leftovers

    piece, chains = _still_fish_chains([100.0, 110.0])
    for fish in (0, 1):
        middle = piece(105.0, [15])
        probs = np.full(2, 0.1)
        probs[fish] = 0.9
        assert identity_llr(probs, fish) > 2 > -2 > identity_llr(probs, 1 - fish)
        out, placed = place_leftovers(chains, [middle], _model(), {}, 30, identity={middle: (probs, None)})
        assert placed == 1 and any(t is middle for t in out[fish])


def random_tracklets(n_fish=6, n_frames=900, seed=3):
    """DLC-like tracklets: fish that the tracker loses now and then (a new tracklet starts), some
    detections missing, some short residuals."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(50, 450, (n_fish, 2))
    current, raw, next_id = list(range(n_fish)), {"header": None}, n_fish
    for tid in current:
        raw[tid] = {}
    for f in range(n_frames):
        pos += rng.normal(0, 3, pos.shape)
        for i in range(n_fish):
            if rng.random() < 0.02:
                current[i], next_id = next_id, next_id + 1
                raw[current[i]] = {}
            if rng.random() < 0.05:
                continue  # not detected in this frame
            x, y = pos[i]
            raw[current[i]][f"frame{f:06d}"] = np.c_[pose(x, y), -np.ones(K)]
    return raw


def test_dlc_stitcher_without_all_pairs_gives_dlcs_results():
    """DLC 3.0.2's TrackletStitcher compares every pair of tracklets twice (quadratic in video length). Built
    through our sweep, its overlap table, its max_gap and the stitched tracks are DLC's own."""
    from deeplabcut.refine_training_dataset.stitch import TrackletStitcher

    from cichlid_track.tracking.dlc_stitcher import dlc_max_gap, overlap_table_by_sweep, run_dlc_stitcher

    raw = random_tracklets()
    theirs = TrackletStitcher.from_dict_of_dict(dict(raw), 6, min_length=5)
    with overlap_table_by_sweep():
        ours = TrackletStitcher.from_dict_of_dict(dict(raw), 6, min_length=5)
    assert len(ours.tracklets) == len(theirs.tracklets) > 50
    table = {(t.start, t.end): sorted((o.start, o.end) for o in v) for t, v in theirs._lu_overlap.items()}
    assert {(t.start, t.end): sorted((o.start, o.end) for o in v) for t, v in ours._lu_overlap.items()} == table
    assert dlc_max_gap(theirs.tracklets) == TrackletStitcher.compute_max_gap(sorted(theirs.tracklets,
                                                                                   key=lambda t: t.start)) > 0
    names = [f"fish{i}" for i in range(6)]
    theirs.build_graph()
    theirs.stitch()
    expected = theirs.format_df(names).reindex(range(900))
    got, _ = run_dlc_stitcher(raw, 6, 5, None, names, 900)
    assert got.equals(expected)


def test_tracks_joined_at_once_equal_dlcs_chain_of_additions():
    """DLC's stitch joins a track's tracklets with ``sum(path)``: one copy of the whole track per tracklet
    (quadratic). One concatenation gives the same rows in the same order, duplicate frames included."""
    from deeplabcut.refine_training_dataset.stitch import Tracklet

    from cichlid_track.tracking.dlc_stitcher import tracklet_sum

    rng = np.random.default_rng(0)
    pieces = []
    for start in rng.permutation(np.arange(0, 400, 20)):  # out of time order, as a path may be
        inds = np.arange(start, start + rng.integers(5, 30))  # up to 10 frames shared with the next piece
        pieces.append(Tracklet(rng.normal(size=(len(inds), K, 3)), inds))
    chain, once = sum(pieces), tracklet_sum(pieces)
    assert len(np.unique(chain.inds)) < len(chain.inds)  # duplicate frames: the stable order matters
    np.testing.assert_array_equal(once.inds, chain.inds)
    np.testing.assert_array_equal(once.data, chain.data)
    assert tracklet_sum(pieces[:1]) is pieces[0] and tracklet_sum([1, 2]) == 3


def test_stray_keypoints_and_contacts_per_tracklet_equal_frame_by_frame():
    """Both passes read every detection of a video: done per tracklet as arrays, they give exactly what the
    frame-by-frame definition gives (the median of a detection's seen keypoints; centroid distances)."""
    from cichlid_track.tracking import contact_frames, drop_stray_keypoints
    from cichlid_track.tracking.contacts import centroid
    from cichlid_track.tracking.tracklet_io import load_tracklets_dict

    raw = random_tracklets(n_fish=8, n_frames=300, seed=5)
    rng = np.random.default_rng(1)
    nine = 9
    for tid, frames in raw.items():
        if tid == "header":
            continue
        for key, three in frames.items():  # 9 keypoints, as our fish have
            kps = np.tile(three, (3, 1)) + np.c_[rng.normal(0, 5, (nine, 2)), np.zeros((nine, 2))]
            kps[rng.integers(nine), :2] += rng.choice([0, 0, 80])  # some keypoints taken from a neighbour
            kps[rng.choice(nine, rng.integers(0, nine), replace=False), :2] = np.nan  # some missing
            frames[key] = kps
    limit = 40.0
    clean, dropped = drop_stray_keypoints(raw, limit)
    n = 0
    for tid, frames in raw.items():
        for key, kps in ({} if tid == "header" else frames).items():
            seen = np.isfinite(kps[:, :2]).all(axis=1)
            want = kps.copy()
            if seen.sum() >= 3:
                stray = seen & (np.linalg.norm(kps[:, :2] - np.median(kps[seen, :2], axis=0), axis=1) > limit)
                if (seen & ~stray).sum() >= 3:
                    want[stray, :2], want[stray, 2] = np.nan, 0.0
                    n += int(stray.sum())
            np.testing.assert_array_equal(clean[tid][key], want)
    assert dropped == n > 50

    tracks = load_tracklets_dict(raw)
    want = {tid: set() for tid in tracks}
    every = [(tid, f, centroid(kps)) for tid, t in tracks.items() for f, kps in t.items()]
    for i, (a, f, ca) in enumerate(every):
        for b, g, cb in every[i + 1:]:
            if f == g and np.linalg.norm(ca - cb) < limit:
                want[a].add(f)
                want[b].add(f)
    got = contact_frames(tracks, limit)
    assert sum(map(len, want.values())) > 20
    assert all(want[t] <= got[t] for t in tracks)  # plus frames where a fish vanished beside another


def test_tracking_json_keeps_one_line_per_piece_and_reads_back_the_same():
    from cichlid_track.tracking.output import summary_json

    summary = {"n_frames": 9, "empty": {}, "none": [], "link_model": {"motion": [0.5, 2.0]},
               "identity": {"pieces": [{"track": "fish1", "start": 0, "end": 4, "by": "network", "probability": 0.9},
                                       {"track": "fish2", "start": 5, "end": 5, "by": "motion", "probability": None}]}}
    text = summary_json(summary)
    assert json.loads(text) == summary
    lines = text.splitlines()
    assert sum('"track": "fish' in line for line in lines) == 2  # each piece on its own line
    assert len(text) < len(json.dumps(summary, indent=2))


def test_tracks_are_stored_as_float32_exactly_where_dlc_predicted_them(tmp_path):
    """_el.h5 holds float32: DLC's predictions are float32 (its tables float64 copies of them), so a detected
    keypoint reads back exactly; an interpolated one within 1e-4 px."""
    import pandas as pd

    from cichlid_track.tracking.output import empty_tracks, write_tracks

    tracks = empty_tracks("s", ["fish1"], ["a", "b"], 3)
    predicted = np.float32([[101.37, 55.21, 0.93], [102.11, 56.02, 0.88]]).astype(np.float64)
    tracks.iloc[0, :3], tracks.iloc[2, :3] = predicted
    tracks.iloc[1, :3] = (predicted[0] + predicted[1]) / 2  # a gap filled between them
    write_tracks(tracks, tmp_path / "x_el.h5")
    back = pd.read_hdf(tmp_path / "x_el.h5")
    assert (back.dtypes == np.float32).all() and back.columns.equals(tracks.columns)
    assert np.array_equal(back.iloc[[0, 2], :3].to_numpy(np.float64), tracks.iloc[[0, 2], :3].to_numpy())
    np.testing.assert_allclose(back.to_numpy(np.float64), tracks.to_numpy(), atol=1e-4, equal_nan=True)


def test_keypoints_of_a_mixed_contact_detection_are_sorted_to_the_fish_whose_body_they_are_on():
    """Two fish swim side by side along +x, 16 px apart (48 px long). In the contact (frames 10-19), DLC's assembly
    mixed them in frame 12 (each detection: its own front half, the other fish's back half) and merged them in frame
    15 (one detection, fish 1's back half on fish 0's front half); frame 17 is right. Placed whole, each detection
    keeps the other fish's half; sorted by where each body should be, every keypoint goes to its own fish: frame 17
    is left as it was, and fish 1 gets its back half in frame 15 although it had no detection there."""
    from cichlid_track.tracking.reassembly import sort_contact_keypoints
    from cichlid_track.tracking.tracklet_io import as_tracklet

    def body(fish, f):
        return fish_pose(100.0 + 2 * f, 100.0 + 16 * fish)[:, :3]

    def detection(f, front, back):
        p = body(front, f)
        if back is not None:
            p[:5] = body(back, f)[:5]  # keypoints 0-4 lie along the back half
        else:
            p[:5] = [np.nan, np.nan, 0.0]
        return as_tracklet({f"frame{f:03d}": p})

    chains = [[as_tracklet({f"frame{f:03d}": body(fish, f) for f in frames}) for frames in (range(10), range(20, 30))]
              for fish in (0, 1)]
    chains[0] += [detection(12, front=0, back=1), detection(15, front=0, back=1), detection(17, front=0, back=0)]
    chains[1] += [detection(12, front=1, back=0), detection(17, front=1, back=1)]
    out, moved = sort_contact_keypoints(chains, body_len=48.0)
    assert moved == 15  # 5 each way in frame 12, fish 1's back half in frame 15
    for fish in (0, 1):
        rows = {int(f): t.data[i] for t in out[fish] for i, f in enumerate(t.inds)}
        np.testing.assert_allclose(rows[12][:, :2], body(fish, 12)[:, :2])
        np.testing.assert_allclose(rows[17][:, :2], body(fish, 17)[:, :2])
    frame15 = [t for t in out[1] if list(t.inds) == [15]]
    assert len(frame15) == 1
    np.testing.assert_allclose(frame15[0].data[0, :5, :2], body(1, 15)[:5, :2])
    assert np.isnan(frame15[0].data[0, 5:, :2]).all()
    zero_front = [t for t in out[0] if list(t.inds) == [15]][0].data[0]
    assert np.isnan(zero_front[:5, :2]).all() and np.isfinite(zero_front[5:, :2]).all()
    assert [t for t in out[0] if list(t.inds) == [17]][0] is chains[0][4]  # a right contact frame is not touched
    # the input chains are not changed
    np.testing.assert_allclose(chains[0][2].data[0, :5, 1], 116.0)


def test_a_contacts_frames_are_placed_along_time_so_a_brief_wrong_word_does_not_swap_the_fish_and_back():
    """Two fish lie still 14 px apart through a contact (frames 10-19, each frame its own piece, at the true
    positions). In frames 15 and 16 the identity network names each detection the other fish (p 0.99), enough to
    outweigh motion frame by frame: placed frame by frame, the fish are swapped there and back (an excursion,
    two switches). Placed along time, swapping in and out costs what the fish's paths would jump, and they stay."""
    from cichlid_track.tracking.contact_paths import continuity_llr
    from cichlid_track.tracking.leftovers import place_leftovers

    model = _model()
    llr = continuity_llr(model, np.array([0.0, 5.0, 10.0, 20.0, 400.0]), np.ones(5))
    assert np.all(np.diff(llr) < 0) and llr[0] > 2 and llr[-1] == pytest.approx(np.log(0.3), abs=1e-3)  # bounded
    piece, chains = _still_fish_chains([100.0, 114.0])
    singles = {(f, fish): piece(100.0 + 14 * fish, [f]) for f in range(10, 20) for fish in (0, 1)}
    wrong = {t: (np.array([0.01, 0.99]) if fish == 0 else np.array([0.99, 0.01]), None)
             for (f, fish), t in singles.items() if 15 <= f <= 16}

    def owners(continuity):
        out, placed = place_leftovers(chains, list(singles.values()), model, {}, 30, identity=wrong,
                                      continuity=continuity)
        assert placed == len(singles)
        return {key: next(n for n in (0, 1) if any(t is p for p in out[n])) for key, t in singles.items()}

    by_frame = owners(0.0)
    assert [f for (f, fish), n in sorted(by_frame.items()) if n != fish] == [15, 15, 16, 16]
    along_time = owners(1.0)
    assert all(n == fish for (f, fish), n in along_time.items())
