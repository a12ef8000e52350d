"""The labelled video stays legible at any frame size: dots and trails sized from the fish's body length."""
import numpy as np
import pandas as pd
import pytest

from cichlid_track.labelled_video import body_length_px, dot_size


def tracks_of_fish(length_px: float, n_frames: int = 20) -> pd.DataFrame:
    """One fish, 9 keypoints along a horizontal line ``length_px`` long, swimming right."""
    cols = pd.MultiIndex.from_product([["s"], ["fish1"], [f"b{i}" for i in range(9)], ["x", "y", "likelihood"]],
                                      names=["scorer", "individuals", "bodyparts", "coords"])
    frames = np.arange(n_frames)[:, None]
    x = 10 + frames + np.arange(9)[None] * length_px / 8
    values = np.stack([x, np.full_like(x, 50.0), np.full_like(x, 0.9)], axis=-1).reshape(n_frames, -1)
    return pd.DataFrame(values, index=range(n_frames), columns=cols)


@pytest.mark.parametrize("length, dots", [(45, 2), (90, 3), (300, 10)])
def test_dots_scale_with_the_fish(length, dots):
    assert body_length_px(tracks_of_fish(length)) == pytest.approx(length)
    assert dot_size(body_length_px(tracks_of_fish(length))) == dots


def test_no_tracked_fish_falls_back_to_dlcs_default():
    empty = tracks_of_fish(45).map(lambda v: np.nan)
    assert np.isnan(body_length_px(empty)) and dot_size(body_length_px(empty)) == 12


def test_a_fish_stays_visible_under_its_markers(tmp_path):
    """Drawn by DLC's renderer: at 320x240 with a 45 px fish, markers (dots and 10-frame trails) cover well under
    half of the fish's body; with DLC's default 12 px dots they cover it all."""
    import cv2
    from deeplabcut.utils.make_labeled_video import create_video

    n = 20
    video = tmp_path / "v.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    for f in range(n):
        frame = np.full((240, 320, 3), 255, np.uint8)
        cv2.rectangle(frame, (10 + f, 44), (10 + f + 45, 56), (0, 0, 0), -1)  # the fish: 45 x 12 px, black
        w.write(frame)
    w.release()
    tracks = tracks_of_fish(45, n)
    h5 = tmp_path / "v_el.h5"
    tracks.to_hdf(h5, key="tracks")

    def covered(dots):
        out = tmp_path / f"out{dots}.mp4"
        create_video(str(video), str(h5), color_by="individual", dotsize=dots, trailpoints=10, output_path=str(out))
        cap = cv2.VideoCapture(str(out))
        for _ in range(n):
            ok, last = cap.read()
        body = last[46:55, 10 + n - 1 + 2:10 + n - 1 + 44]  # inside the fish in the last frame
        return float((body.max(axis=2) > 80).mean())  # anything not black: a marker over the fish

    ours, dlc_default = covered(dot_size(body_length_px(tracks))), covered(12)
    print(f"fish body under markers: ours {ours:.2f}, DLC's default dots {dlc_default:.2f}")
    assert ours < 0.5 and dlc_default > 0.9


def test_labelled_video_is_reencoded_as_h264_with_every_frame(tmp_path):
    """video.crf: DLC's renderer writes MPEG-4 Part 2 (mp4v); the stage re-encodes it as H.264 with ffmpeg, every
    frame kept and the picture the same to the eye, in a fraction of the bytes."""
    import cv2

    from cichlid_track.labelled_video import to_h264

    n, rng = 60, np.random.default_rng(0)
    src = tmp_path / "mp4v.mp4"
    w = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    sand = (rng.normal(170, 12, (240, 320, 3))).clip(0, 255).astype(np.uint8)
    frames = []
    for f in range(n):
        frame = sand.copy()
        cv2.ellipse(frame, (60 + 3 * f, 120), (25, 8), 0, 0, 360, (40, 90, 200), -1)
        w.write(frame)
        frames.append(frame)
    w.release()
    dst = tmp_path / "h264.mp4"
    assert to_h264(src, dst, 28)  # the default video.crf
    cap = cv2.VideoCapture(str(dst))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == n
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode().lower()
    assert fourcc in ("h264", "avc1"), fourcc
    got = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        got.append(img)
    assert len(got) == n
    fish = np.abs(got[30][112:128, 140:190].astype(int) - frames[30][112:128, 140:190]).mean()
    print(f"bytes: mp4v {src.stat().st_size:,}, H.264 {dst.stat().st_size:,}; fish pixels off by {fish:.1f}")
    assert fish < 12
    assert dst.stat().st_size < 0.6 * src.stat().st_size
