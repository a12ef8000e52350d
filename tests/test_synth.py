"""The scene generator's options (bench/scenes.yaml varies them): each does what it says, seeded."""
import numpy as np
import pandas as pd

from cichlid_track.synth import DemoSpec, background, fish_looks, make_scene, simulate


def contacts_per_fish_frame(spec: DemoSpec) -> float:
    rng = np.random.default_rng(spec.seed)
    pos = np.array([[p for p, _ in frame] for frame in simulate(spec, fish_looks(spec.n_fish, "easy", rng), rng)])
    d = np.linalg.norm(pos[:, :, None] - pos[:, None], axis=3)
    upper = np.triu_indices(spec.n_fish, 1)
    return float((d[:, upper[0], upper[1]] < 30).sum() / (len(pos) * spec.n_fish))


def test_schooling_brings_more_contacts_without_one_blob():
    calm = contacts_per_fish_frame(DemoSpec(n_fish=10, width=384, height=288, n_frames=600, seed=3))
    school = contacts_per_fish_frame(DemoSpec(n_fish=10, width=384, height=288, n_frames=600, seed=3,
                                              schooling=0.006))
    assert school > 2 * calm and school < 1.0  # not every fish touching every other


def test_background_brightness_and_grain():
    dark = background(DemoSpec(sand=(60, 70, 80), texture=0), np.random.default_rng(0))
    assert (dark == (60, 70, 80)).all()
    smooth = background(DemoSpec(texture=15, texture_cell=8), np.random.default_rng(0)).astype(float)
    gravel = background(DemoSpec(texture=15, texture_cell=2), np.random.default_rng(0)).astype(float)
    # fine grain: neighbouring pixels differ more
    assert np.abs(np.diff(gravel, axis=1)).mean() > 2 * np.abs(np.diff(smooth, axis=1)).mean()


def test_a_scene_video_and_its_truth_are_seeded_and_sized(tmp_path):
    import cv2

    spec = DemoSpec(n_fish=3, width=160, height=120, n_frames=12, seed=4, fish_scale=1.5)
    make_scene(tmp_path / "a.mp4", tmp_path / "a.csv", spec)
    make_scene(tmp_path / "b.mp4", tmp_path / "b.csv", spec)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()
    truth = pd.read_csv(tmp_path / "a.csv", header=[0, 1, 2])
    assert len(truth) == 12 and truth.columns.get_level_values(0).nunique() == 3
    cap = cv2.VideoCapture(str(tmp_path / "a.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 160
    xy = truth.to_numpy(float).reshape(12, 3, 9, 2)
    length = np.linalg.norm(xy[:, :, 0] - xy[:, :, 6], axis=2)  # snout to tail base: 49 px at scale 1
    assert np.allclose(length / 49 / 1.5, 1.0, atol=0.12)  # the looks' own +-10 % aside
