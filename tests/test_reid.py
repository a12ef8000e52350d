"""Feature lookup, storage and triplet mining (re-ID)."""
import numpy as np
import pytest

from cichlid_track.features import FeatureStore, FeatureWriter, body_points, sample_keypoint_features
from cichlid_track.features import nearest_assembly
from cichlid_track.reid import mine_triplets


def fish(x, y, k=9, spacing=6.0):
    return np.stack([np.array([x + i * spacing, y + (i % 2) * 2.0]) for i in range(k)])


def dlc_feature_dict(detections):
    """DLC's shelve entry format: {'coordinates': (n, K, 2), 'features': (n, K, C)}."""
    n = len(detections)
    feats = np.zeros((n, detections.shape[1], 2))
    feats[:, :, 0] = np.arange(n)[:, None]  # feature = which animal
    return {"frame0": {"coordinates": detections[..., :2].copy(), "features": feats}}


@pytest.mark.parametrize("offset", [(1.5, 0.0), (0.0, -2.0), (-3.0, 4.0), (5.0, 5.0)])
def test_lookup_finds_the_right_animal_where_dlc_does_not(offset):
    """Two fish side by side; the query is fish B shifted by a few pixels (tracker smoothing)."""
    from deeplabcut.pose_tracking_pytorch.tracking_utils import query_feature_by_coord_in_img_space

    a, b = fish(100, 100), fish(100, 112)
    detections = np.stack([a, b])
    query = b + np.array(offset)
    idx, dist = nearest_assembly(query, detections)
    assert idx == 1 and dist == pytest.approx(np.hypot(*offset))
    feats = dlc_feature_dict(detections)
    dlc_pick = int(query_feature_by_coord_in_img_space(feats, "frame0", query)[0, 0])
    if offset in [(0.0, -2.0), (-3.0, 4.0)]:
        # DLC discards negative differences and takes the argmin of a signed mean
        assert dlc_pick != 1, "DLC 3.0.2's lookup is expected to pick the wrong animal here"


def test_lookup_ignores_missing_keypoints_and_reports_no_overlap():
    a = fish(10, 10)
    b = fish(50, 50)
    b_partial = b.copy()
    b_partial[:5] = np.nan
    q = b.copy()
    q[5:] = -1  # DLC pads missing keypoints with -1
    idx, dist = nearest_assembly(q, np.stack([b_partial]))
    assert idx == -1 and dist == np.inf  # no keypoint present in both
    assert nearest_assembly(q, np.stack([a, b_partial]))[0] == 0  # the only detection sharing keypoints
    q2 = b.copy()
    q2[:3] = np.nan
    assert nearest_assembly(q2, np.stack([a, b_partial]))[0] == 1
    assert nearest_assembly(q2, np.zeros((0, 9, 2)))[0] == -1
    assert nearest_assembly(b + 10, np.stack([a, b]), max_distance=5)[0] == -1


def test_sample_keypoint_features_nearest_cell():
    import torch

    fmap = np.arange(2 * 4 * 5, dtype=np.float32).reshape(2, 4, 5)  # C=2, h=4, w=5, stride 8
    poses = np.array([[[0, 0, 1], [9, 17, 1], [39, 31, 1], [-1, -1, -1]],
                      [[12, 4, 1], [np.nan, np.nan, 0.5], [20, 20, -1], [44, -2, 1]]], dtype=np.float32)
    # a batch of two images, each with 2 (here: 1 and 1) animals
    out = sample_keypoint_features(torch.from_numpy(np.stack([fmap, fmap + 100])),
                                   torch.from_numpy(poses[:, None]), (40, 32)).numpy()
    assert out.shape == (2, 1, 4, 2)
    assert out[0, 0, 0].tolist() == fmap[:, 0, 0].tolist()
    assert out[0, 0, 1].tolist() == fmap[:, 2, 1].tolist()
    assert out[0, 0, 2].tolist() == fmap[:, 3, 4].tolist()  # clipped to the map
    assert out[0, 0, 3].tolist() == [0, 0]  # DLC's padding
    assert out[1, 0, 0].tolist() == (fmap[:, 0, 2] + 100).tolist()  # 12/8 = 1.5 rounds to even: 2
    assert out[1, 0, 1].tolist() == [0, 0] and out[1, 0, 2].tolist() == [0, 0]  # missing, score -1
    assert out[1, 0, 3].tolist() == (fmap[:, 0, 4] + 100).tolist()  # just outside: clipped


def test_body_points_lie_inside_the_animal_and_keep_missing_ones_missing():
    import torch

    # one fish: snout (0, 0), tail (40, 0), a fin tip (20, 12), a missing keypoint, DLC's padding
    poses = torch.tensor([[[[0, 0, 0.9], [40, 0, 0.9], [20, 12, 0.9], [np.nan, np.nan, 0.5], [-1, -1, -1]]]])
    out = body_points(poses).numpy()[0, 0]
    centre = np.array([20.0, 4.0])  # of the three real keypoints only
    np.testing.assert_allclose(out[:3], [[10, 2], [30, 2], [20, 8]])  # half way to the centre
    assert np.isnan(out[3:]).all()
    np.testing.assert_allclose(body_points(poses, pull=1.0).numpy()[0, 0, :3], np.tile(centre, (3, 1)))
    # a map (stride 8) that is 1 on the fish's body (x 8..32, y 0..8) and 0 on the tank around it:
    # the keypoints on the outline read the tank, their body points the fish
    fmap = torch.zeros(1, 1, 8, 8)
    fmap[0, 0, 0:2, 1:5] = 1
    at_keypoints = sample_keypoint_features(fmap, poses, (64, 64))[0, 0, :3, 0]
    at_body_points = sample_keypoint_features(fmap, body_points(poses), (64, 64))[0, 0, :3, 0]
    assert at_keypoints.tolist() == [0, 0, 0] and at_body_points.tolist() == [1, 1, 1]


def _store(tmp_path, frames):
    """frames: list of (n, K, 3) keypoints; features encode (frame, row) for checking."""
    w = FeatureWriter(tmp_path / "f.h5", 9, 4, dtype="float32", chunk_rows=3)
    for f, kps in enumerate(frames):
        feats = np.zeros((len(kps), 9, 4), np.float32)
        feats[..., 0] = f
        feats[..., 1] = np.arange(len(kps))[:, None]
        w.add_frame(f, kps, feats)
    w.close({"n_frames": len(frames)})
    return FeatureStore(tmp_path / "f.h5")


def test_feature_store_roundtrip_and_empty_frames(tmp_path):
    frames = [np.stack([np.c_[fish(0, 0), np.ones(9)]]), np.zeros((0, 9, 3)),
              np.stack([np.c_[fish(0, 0), np.ones(9)], np.c_[fish(50, 0), np.ones(9)]])]
    with _store(tmp_path, frames) as st:
        assert st.n_frames == 3 and st.n_features == 4
        assert st.keypoints(1).shape == (0, 9, 3)
        assert st.features(2)[1, 0].tolist() == [2, 1, 0, 0]
        assert st.keypoints(5).shape == (0, 9, 3)


def test_feature_store_reads_the_parts_asked_for(tmp_path, caplog):
    import h5py

    frames = [np.stack([np.c_[fish(0, 0), np.ones(9)], np.c_[fish(50, 0), np.ones(9)]])]
    _store(tmp_path, frames).close()  # row r of frame f: features [f, r, 0, 0]
    with FeatureStore(tmp_path / "f.h5", parts=["fine"]) as st:  # no layout recorded: all channels
        assert st.n_features == 4 and "re-ID uses all 4 channels" in caplog.text
    with h5py.File(tmp_path / "f.h5", "a") as h5:
        h5.attrs["layout"] = "features:2,fine:1,colour:1"
    with FeatureStore(tmp_path / "f.h5", parts=["fine", "colour"]) as st:
        assert st.n_features == 2 and st.features(0).shape == (2, 9, 2)
        assert st.features(0)[1, 0].tolist() == [0, 0]  # channels 2 and 3 of [0, 1, 0, 0]
    with FeatureStore(tmp_path / "f.h5", parts=["features"]) as st:
        assert st.features(0)[1, 0].tolist() == [0, 1]
    with FeatureStore(tmp_path / "f.h5") as st:
        assert st.n_features == 4


def test_mining_uses_coexisting_tracklets_is_seeded_and_skips_incomplete(tmp_path):
    n_frames = 30
    frames, tracks = [], {0: {}, 1: {}, 2: {}}
    for f in range(n_frames):
        dets = [np.c_[fish(10 + f, 10), np.ones(9)], np.c_[fish(10 + f, 80), np.ones(9)],
                np.c_[fish(10 + f, 150), np.ones(9)]]
        dets[2][:7, :2] = np.nan  # fish 3 is mostly occluded: incomplete
        frames.append(np.stack(dets))
        for t in range(3):
            tracks[t][f] = dets[t].copy()
    with _store(tmp_path, frames) as st:
        r1 = mine_triplets(tracks, st, n_triplets=50, seed=3)
        r2 = mine_triplets(tracks, st, n_triplets=50, seed=3)
    assert r1.triplets.shape == (50, 3, 9, 4)
    np.testing.assert_array_equal(r1.triplets, r2.triplets)
    anchor_row, pos_row, neg_row = r1.triplets[:, 0, 0, 1], r1.triplets[:, 1, 0, 1], r1.triplets[:, 2, 0, 1]
    assert np.all(anchor_row == pos_row) and np.all(anchor_row != neg_row)  # same fish / other fish
    assert np.all(r1.triplets[:, 0, 0, 0] == r1.triplets[:, 2, 0, 0])  # negative from the anchor's frame
    assert not np.any(anchor_row == 2) and r1.skipped_incomplete > 0


def test_mining_with_a_single_tracklet_finds_nothing(tmp_path):
    frames = [np.stack([np.c_[fish(f, 0), np.ones(9)]]) for f in range(10)]
    tracks = {0: {f: frames[f][0] for f in range(10)}}
    with _store(tmp_path, frames) as st:
        r = mine_triplets(tracks, st, n_triplets=20)
    assert len(r.triplets) == 0 and r.n_tracklets == 1


def test_fine_stage_projection_is_fixed_orthonormal_and_keeps_distances():
    """The stride-8 stage is stored reduced (analysis.fine_channels): the same matrix for every video and
    run, orthonormal columns, so feature distances shrink by one common factor, not per pair."""
    import torch

    from cichlid_track.analysis import fixed_projection

    q = fixed_projection(512, 64)
    assert q.shape == (512, 64) and torch.equal(q, fixed_projection(512, 64))
    assert torch.allclose(q.T @ q, torch.eye(64), atol=1e-5)
    x = torch.randn(200, 512, generator=torch.Generator().manual_seed(1))
    full = torch.cdist(x, x)[~torch.eye(200, dtype=torch.bool)]
    low = torch.cdist(x @ q, x @ q)[~torch.eye(200, dtype=torch.bool)]
    ratio = low / full
    # a random 64-of-512 projection: every distance is kept near sqrt(64/512) of itself
    assert abs(float(ratio.mean()) - (64 / 512) ** 0.5) < 0.03 and float(ratio.std()) < 0.06


def test_analysis_stores_only_the_maps_re_id_and_stitching_read():
    """analysis.keep_full_features: false (default) keeps the maps reid.feature_parts and reid.body_colour
    name; true keeps every map at full width."""
    from cichlid_track.settings import Settings

    def stored(analysis=None, reid=None):
        cfg = {"analysis": {"keep_full_features": False, **(analysis or {})},
               "reid": {"feature_parts": ["fine", "colour"], "body_colour": True, **(reid or {})}}
        return Settings(config=cfg, results="", project_config="", dlc={}, names=None,
                        samples={}).stored_feature_maps

    assert stored() == ["fine", "colour", "body"]
    assert stored(reid={"body_colour": False}) == ["fine", "colour"]
    assert stored(reid={"feature_parts": ["features"]}) == ["features", "body"]
    assert stored(analysis={"keep_full_features": True}) is None


def test_features_of_every_other_frame_are_what_re_id_samples(tmp_path):
    """analysis.feature_every: 2 stores the detections of even frames only (odd frames: no rows), and both
    readers, triplet mining and the stitcher's per-piece sampling, draw from those frames only."""
    from cichlid_track.analysis import StreamedFeatures
    from cichlid_track.tracking.appearance import sampled_detections
    from cichlid_track.tracking.tracklet_io import as_tracklet

    sink = StreamedFeatures(tmp_path / "f.h5", 3, "float16", every=2)
    tracks = {0: {}, 1: {}}
    for f in range(20):
        kps = np.array([[[10.0 + f, 10, 0.9]] * 3, [[80.0 - f, 40, 0.9]] * 3], np.float32)
        sink(f, kps, np.stack([np.full((3, 4), 1.0 + f), np.full((3, 4), -1.0 - f)]).astype(np.float32))
        for tid in (0, 1):
            tracks[tid][f] = kps[tid]
    sink.close({"layout": "fine:4", "every": sink.every})
    assert sink.detections == 20  # 10 even frames x 2 fish
    with FeatureStore(tmp_path / "f.h5") as store:
        assert store.every == 2 and len(store.keypoints(3)) == 0 and len(store.keypoints(4)) == 2
        mined = mine_triplets(tracks, store, n_triplets=30, seed=0)
        assert len(mined.triplets) == 30 and mined.skipped_unmatched == 0
        # each stored value is 1 + frame (fish 0): every anchor, positive and negative comes from an even frame
        assert set(np.abs(mined.triplets[..., 0, 0]).ravel().astype(int) % 2) == {1}
        piece = as_tracklet({f"frame{f:03d}": np.c_[tracks[0][f], -np.ones(3)] for f in range(5, 12)})
        frames = [frame for _, _, frame, _ in sampled_detections([piece], store)]
        assert frames == [6, 8, 10]


def test_int8_features_keep_each_map_to_0_4_percent_of_its_range_in_half_the_bytes(tmp_path):
    """analysis.features_dtype int8: backbone activations in the tens and colours in 0-1 are stored in one
    vector; a scale per keypoint and map keeps both (one scale for the vector would zero the colours)."""
    import h5py

    layout = "fine:32,colour:3,body:3"
    kps = np.repeat(np.c_[fish(0, 0), np.ones(9)][None], 5, axis=0).astype(np.float32)
    frames = []
    for kind in ("int8", "float16"):
        w = FeatureWriter(tmp_path / f"{kind}.h5", 9, 38, dtype=kind, chunk_rows=4, layout=layout)
        rng = np.random.default_rng(0)
        for f in range(40):
            x = np.concatenate([rng.normal(0, 20, (5, 9, 32)), rng.uniform(0, 1, (5, 9, 6))], axis=-1)
            x[:, 4] = 0  # a missing keypoint stays zero
            w.add_frame(f, kps, x.astype(np.float32))
            if kind == "int8":
                frames.append(x)
        w.close({"layout": layout, "n_frames": 40})
    with FeatureStore(tmp_path / "int8.h5") as st, FeatureStore(tmp_path / "int8.h5", parts=["colour"]) as colour:
        got = np.stack([st.features(f) for f in range(40)])
        assert got.dtype == np.float32 and got.shape == (40, 5, 9, 38)
        want = np.stack(frames)
        for a, b in ((0, 32), (32, 35), (35, 38)):  # error within 1/254 of the map's largest value, +float16 scale
            bound = np.abs(want[..., a:b]).max(axis=-1, keepdims=True) * (0.5 / 127 + 1e-3)
            assert np.all(np.abs(got[..., a:b] - want[..., a:b]) <= bound + 1e-7)
        assert np.all(got[:, :, 4] == 0)
        assert np.allclose(colour.features(3), want[3, ..., 32:35], atol=0.01)
        assert np.allclose(st.rows([7, 2, 7], [1, 0, 1]), want[[7, 2, 7], [1, 0, 1]], atol=0.5)
    with h5py.File(tmp_path / "int8.h5") as a:
        assert a["features"].dtype == np.int8
    sizes = {k: (tmp_path / f"{k}.h5").stat().st_size for k in ("int8", "float16")}
    assert sizes["int8"] < 0.7 * sizes["float16"], sizes  # keypoints (float32) are the same in both


def test_jpeg_crops_decode_to_the_images_in_half_the_bytes(tmp_path):
    """identity.crop_quality: crops stored as JPEG (4:4:4) read back as uint8 images close to the originals."""
    import h5py

    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:20, 0:40]
    stripes = ((np.sin(x / 1.5) > 0) * 90 + 80).astype(np.uint8)  # 2-px stripes: what tells look-alikes apart
    imgs = np.stack([np.dstack([stripes + rng.integers(0, 20, stripes.shape, dtype=np.uint8)] * 3)
                     for _ in range(300)])
    kps = np.zeros((3, 9, 3), np.float32)
    for quality in (90, None):
        w = FeatureWriter(tmp_path / f"{quality}.h5", 9, 0, dtype="uint8", name="crops", item_shape=(20, 40, 3),
                          jpeg_quality=quality, chunk_rows=50, compression=None if quality else "gzip")
        for f in range(100):
            w.add_frame(f, kps, imgs[3 * f:3 * f + 3])
        w.close({})
    with FeatureStore(tmp_path / "90.h5", name="crops") as st:
        assert st.item_shape == (20, 40, 3)
        got = st.rows([3, 0, 3], [2, 1, 2])
        assert got.dtype == np.uint8 and got.shape == (3, 20, 40, 3)
        assert np.abs(got.astype(int) - imgs[[11, 1, 11]]).mean() < 6
        assert np.array_equal(st.features(3)[2], got[0])
        assert st.rows([], []).shape == (0, 20, 40, 3)
    with h5py.File(tmp_path / "90.h5") as a:
        assert len(a["crops"].attrs["jpeg_header"]) > 500  # the tables, once per file, not once per crop
    sizes = {q: (tmp_path / f"{q}.h5").stat().st_size for q in (90, None)}
    print("300 crops 40x20, bytes:", sizes)
    assert sizes[90] < 0.6 * sizes[None]
