"""Synthetic multi-animal DeepLabCut project: cartoon fish in a sandy tank.

Writes a complete DLC 3 multi-animal project (config.yaml, labeled-data with
CollectedData_<scorer>.h5/.csv and PNG frames) plus test videos encoded with
OpenCV and their ground-truth tracks. Two looks:

- ``easy``: each fish has its own colour and stripe count;
- ``hard``: one species, same colour, only small differences in pattern and size.

Everything is seeded, so the same arguments always give the same bytes of labels
and the same video frames.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

BODYPARTS = [
    "snout",
    "head",
    "dorsal_fin",
    "pectoral_fin",
    "mid_body",
    "pelvic_fin",
    "tail_base",
    "tail_top",
    "tail_bottom",
]
# keypoints in fish coordinates (x forward, y to the fish's right), length ~60 px
_KPTS_LOCAL = np.array(
    [
        [30, 0],
        [17, 0],
        [4, -10],
        [9, 8],
        [-1, 0],
        [-8, 9],
        [-19, 0],
        [-32, -9],
        [-32, 9],
    ],
    dtype=float,
)
SKELETON = [["snout", "head"], ["head", "mid_body"], ["mid_body", "tail_base"],
            ["tail_base", "tail_top"], ["tail_base", "tail_bottom"]]


@dataclass
class FishLook:
    colour: tuple[int, int, int]  # BGR
    stripes: int
    scale: float
    fin_colour: tuple[int, int, int]


@dataclass
class DemoSpec:
    n_fish: int = 4
    look: str = "easy"  # or "hard"
    width: int = 256
    height: int = 192
    n_labelled: int = 64
    n_videos: int = 2
    n_frames: int = 150
    fps: int = 30
    speed: float = 2.2
    seed: int = 0
    # scene options (the bench's scene suite varies them; the defaults are the demo's)
    fish_scale: float = 1.0  # body length x this (the fish are ~60 px long at 1.0)
    sand: tuple[int, int, int] = (150, 190, 205)  # background colour, BGR: brightness and tint
    texture: float = 10.0  # background noise (grey levels)
    texture_cell: int = 8  # noise grain (px): 8 smooth sand, 2-3 gravel
    schooling: float = 0.0  # pull towards the others' middle (0.006: 2-3x the contacts of 0; 0.02+: one blob)
    task: str = "tank"
    scorer: str = "demo"
    date: str = "Nov22"
    video_names: list[str] = field(default_factory=list)


def fish_looks(n: int, look: str, rng: np.random.Generator) -> list[FishLook]:
    looks = []
    for i in range(n):
        if look == "easy":
            h = i / n
            r, g, b = colorsys.hsv_to_rgb(h, 0.85, 0.95)
            colour = (int(b * 255), int(g * 255), int(r * 255))
            fin = tuple(int(c * 0.6) for c in colour)
            looks.append(FishLook(colour, stripes=1 + i % 4, scale=1.0, fin_colour=fin))
        else:
            base = np.array([60, 120, 200]) + rng.integers(-12, 13, size=3)
            colour = tuple(int(c) for c in np.clip(base, 0, 255))
            fin = tuple(int(c * 0.6) for c in colour)
            looks.append(FishLook(colour, stripes=1 + i % 3, scale=float(rng.uniform(0.9, 1.1)),
                                  fin_colour=fin))
    return looks


def scaled(looks: list[FishLook], factor: float) -> list[FishLook]:
    return looks if factor == 1.0 else [FishLook(lk.colour, lk.stripes, lk.scale * factor, lk.fin_colour)
                                        for lk in looks]


def keypoints(pos: np.ndarray, heading: float, scale: float) -> np.ndarray:
    c, s = np.cos(heading), np.sin(heading)
    rot = np.array([[c, -s], [s, c]])
    return pos + (scale * _KPTS_LOCAL) @ rot.T


def background(spec: DemoSpec, rng: np.random.Generator) -> np.ndarray:
    import cv2

    bg = np.zeros((spec.height, spec.width, 3), np.uint8)
    bg[:] = spec.sand
    cell = spec.texture_cell
    noise = rng.normal(0, spec.texture, size=(spec.height // cell + 1, spec.width // cell + 1)).astype(np.float32)
    noise = cv2.resize(noise, (spec.width, spec.height), interpolation=cv2.INTER_CUBIC)
    return np.clip(bg.astype(np.float32) + noise[..., None], 0, 255).astype(np.uint8)


def draw_fish(img: np.ndarray, kp: np.ndarray, heading: float, look: FishLook) -> None:
    import cv2

    def pt(p):
        return (int(round(p[0] * 4)), int(round(p[1] * 4)))  # shift=2 sub-pixel

    sn, hd, dors, pec, mid, pel, tb, tt, tbot = kp
    # tail and fins first, body on top
    cv2.fillPoly(img, [np.array([pt(tb), pt(tt), pt(tbot)])], look.fin_colour, cv2.LINE_AA, shift=2)
    cv2.fillPoly(img, [np.array([pt(mid), pt(dors), pt((hd + mid) / 2)])], look.fin_colour, cv2.LINE_AA, shift=2)
    cv2.fillPoly(img, [np.array([pt(hd), pt(pec), pt(mid)])], look.fin_colour, cv2.LINE_AA, shift=2)
    cv2.fillPoly(img, [np.array([pt(mid), pt(pel), pt(tb)])], look.fin_colour, cv2.LINE_AA, shift=2)
    centre = (sn + tb) / 2
    length = np.linalg.norm(sn - tb)
    axes = (int(length / 2 * 4), int(length / 5 * 4))
    cv2.ellipse(img, pt(centre), axes, np.degrees(heading), 0, 360, look.colour, -1, cv2.LINE_AA, shift=2)
    # stripes across the body
    direction = (sn - tb) / max(length, 1e-6)
    normal = np.array([-direction[1], direction[0]])
    for k in range(look.stripes):
        f = (k + 1) / (look.stripes + 1)
        c = tb + direction * length * (0.15 + 0.6 * f)
        a, b = c + normal * length * 0.17, c - normal * length * 0.17
        cv2.line(img, pt(a), pt(b), (30, 30, 30), 2, cv2.LINE_AA, shift=2)
    cv2.circle(img, pt(hd + (sn - hd) * 0.35 + normal * 2), 8, (255, 255, 255), -1, cv2.LINE_AA, shift=2)
    cv2.circle(img, pt(sn), 6, (40, 40, 160), -1, cv2.LINE_AA, shift=2)
    cv2.circle(img, pt(tt), 5, (240, 240, 240), -1, cv2.LINE_AA, shift=2)
    cv2.circle(img, pt(tbot), 5, (20, 20, 20), -1, cv2.LINE_AA, shift=2)


def render(bg: np.ndarray, states: list[tuple[np.ndarray, float]], looks: list[FishLook]) -> tuple[np.ndarray, np.ndarray]:
    """Draw fish in index order (later fish occlude earlier ones); return image and keypoints."""
    img = bg.copy()
    kps = []
    for (pos, heading), look in zip(states, looks):
        kp = keypoints(pos, heading, look.scale)
        draw_fish(img, kp, heading, look)
        kps.append(kp)
    return img, np.stack(kps)


def simulate(spec: DemoSpec, looks: list[FishLook], rng: np.random.Generator) -> list[list[tuple[np.ndarray, float]]]:
    """Smooth random swimming with soft walls: crossings happen by themselves."""
    margin = 30.0
    pos = np.column_stack([rng.uniform(margin, spec.width - margin, spec.n_fish),
                           rng.uniform(margin, spec.height - margin, spec.n_fish)])
    heading = rng.uniform(-np.pi, np.pi, spec.n_fish)
    turn = np.zeros(spec.n_fish)
    frames = []
    centre = np.array([spec.width / 2, spec.height / 2])
    for _ in range(spec.n_frames):
        frames.append([(pos[i].copy(), float(heading[i])) for i in range(spec.n_fish)])
        turn = 0.85 * turn + rng.normal(0, 0.05, spec.n_fish)
        for i in range(spec.n_fish):
            x, y = pos[i]
            if x < margin or x > spec.width - margin or y < margin or y > spec.height - margin:
                to_c = centre - pos[i]
                want = np.arctan2(to_c[1], to_c[0])
                d = (want - heading[i] + np.pi) % (2 * np.pi) - np.pi
                turn[i] += 0.08 * np.sign(d)
        if spec.schooling:
            for i in range(spec.n_fish):
                others = (pos.sum(axis=0) - pos[i]) / max(1, spec.n_fish - 1)
                want = np.arctan2(others[1] - pos[i][1], others[0] - pos[i][0])
                turn[i] += spec.schooling * np.sign((want - heading[i] + np.pi) % (2 * np.pi) - np.pi)
        heading = heading + turn
        pos = pos + spec.speed * np.column_stack([np.cos(heading), np.sin(heading)])
        pos[:, 0] = np.clip(pos[:, 0], 8, spec.width - 8)
        pos[:, 1] = np.clip(pos[:, 1], 8, spec.height - 8)
    return frames


def _random_state(spec: DemoSpec, rng: np.random.Generator) -> list[tuple[np.ndarray, float]]:
    margin = 28.0
    return [(np.array([rng.uniform(margin, spec.width - margin), rng.uniform(margin, spec.height - margin)]),
             float(rng.uniform(-np.pi, np.pi))) for _ in range(spec.n_fish)]


def individuals(n: int) -> list[str]:
    return [f"fish{i + 1}" for i in range(n)]


def _dlc_config(spec: DemoSpec, project: Path, labelled_folders: list[str]) -> dict:
    return {
        "Task": spec.task,
        "scorer": spec.scorer,
        "date": spec.date,
        "multianimalproject": True,
        "identity": False,
        "project_path": str(project),
        "engine": "pytorch",
        "video_sets": {str(project / "videos" / f"{name}.mp4"): {"crop": f"0, {spec.width}, 0, {spec.height}"}
                       for name in labelled_folders},
        "individuals": individuals(spec.n_fish),
        "uniquebodyparts": [],
        "multianimalbodyparts": list(BODYPARTS),
        "bodyparts": "MULTI!",
        "start": 0,
        "stop": 1,
        "numframes2pick": spec.n_labelled,
        "skeleton": SKELETON,
        "skeleton_color": "black",
        "pcutoff": 0.6,
        "dotsize": 4,
        "alphavalue": 0.7,
        "colormap": "rainbow",
        "TrainingFraction": [0.9],
        "iteration": 0,
        "default_net_type": "resnet_50",
        "default_augmenter": "default",
        "default_track_method": "ellipse",
        "snapshotindex": -1,
        "detector_snapshotindex": -1,
        "batch_size": 8,
        "detector_batch_size": 1,
        "cropping": False,
        "x1": 0, "x2": spec.width, "y1": 0, "y2": spec.height,
        "corner2move2": [50, 50],
        "move2corner": True,
        "SuperAnimalConversionTables": None,
    }


def labels_frame(scorer: str, folder: str, images: list[str], kps: np.ndarray, n_fish: int):
    """DLC's CollectedData layout: rows (labeled-data, folder, image), columns scorer/individuals/bodyparts/coords."""
    import pandas as pd

    cols = pd.MultiIndex.from_product([[scorer], individuals(n_fish), BODYPARTS, ["x", "y"]],
                                      names=["scorer", "individuals", "bodyparts", "coords"])
    index = pd.MultiIndex.from_tuples([("labeled-data", folder, im) for im in images])
    return pd.DataFrame(kps.reshape(len(images), -1), index=index, columns=cols)


def write_video(path: Path, frames, fps: int) -> None:
    """Encode ``frames`` (any iterable of BGR images: a long video is rendered as it is written, never held
    in memory) to ``path``, under a temporary name until complete."""
    import cv2

    frames = iter(frames)
    first = next(frames)
    h, w = first.shape[:2]
    tmp = path.with_name(path.stem + ".partial" + path.suffix)
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {tmp}")
    writer.write(first)
    for f in frames:
        writer.write(f)
    writer.release()
    tmp.replace(path)


def ground_truth_frame(kps: np.ndarray, n_fish: int):
    """Ground truth tracks: rows = frames, columns individuals/bodyparts/(x, y)."""
    import pandas as pd

    cols = pd.MultiIndex.from_product([individuals(n_fish), BODYPARTS, ["x", "y"]],
                                      names=["individuals", "bodyparts", "coords"])
    return pd.DataFrame(kps.reshape(len(kps), -1), columns=cols)


def make_demo(out: Path, spec: DemoSpec) -> dict:
    """Write project, videos and ground truth under ``out``; return a summary dict."""
    import cv2

    out = Path(out).resolve()
    rng = np.random.default_rng(spec.seed)
    project = out / f"{spec.task}-{spec.scorer}-2026-11-22"
    videos_dir = out / "videos"
    truth_dir = out / "ground_truth"
    for d in (project / "labeled-data", project / "videos", videos_dir, truth_dir):
        d.mkdir(parents=True, exist_ok=True)
    looks = scaled(fish_looks(spec.n_fish, spec.look, rng), spec.fish_scale)
    names = spec.video_names or [f"tank{i + 1} clip" for i in range(spec.n_videos)]

    # labelled frames: two labelled-data folders, each from its own random layouts
    folders = ["session1", "session2"]
    per_folder = [spec.n_labelled // 2, spec.n_labelled - spec.n_labelled // 2]
    for folder, n in zip(folders, per_folder):
        bg = background(spec, rng)
        fdir = project / "labeled-data" / folder
        fdir.mkdir(exist_ok=True)
        images, kps = [], []
        for j in range(n):
            img, kp = render(bg, _random_state(spec, rng), looks)
            name = f"img{j:04d}.png"
            cv2.imwrite(str(fdir / name), img)
            kp = kp.copy()
            outside = (kp[..., 0] < 0) | (kp[..., 0] >= spec.width) | (kp[..., 1] < 0) | (kp[..., 1] >= spec.height)
            kp[outside] = np.nan
            images.append(name)
            kps.append(kp)
        df = labels_frame(spec.scorer, folder, images, np.stack(kps), spec.n_fish)
        df.to_hdf(fdir / f"CollectedData_{spec.scorer}.h5", key="df_with_missing", mode="w")
        df.to_csv(fdir / f"CollectedData_{spec.scorer}.csv")

    cfg = _dlc_config(spec, project, folders)
    with open(project / "config.yaml", "w") as fh:
        yaml.safe_dump(cfg, fh, sort_keys=False)

    video_paths = [write_scene_video(videos_dir / f"{name}.mp4", truth_dir / f"{name}.csv", spec, looks, rng)
                   for name in names]
    return {"project": project, "config": project / "config.yaml", "videos": video_paths, "ground_truth": truth_dir}


def write_scene_video(video: Path, truth_csv: Path, spec: DemoSpec, looks: list[FishLook],
                      rng: np.random.Generator) -> Path:
    """One video of ``spec`` (its background, swimming, ``spec.n_frames`` frames) and its ground truth."""
    bg = background(spec, rng)
    traj = simulate(spec, looks, rng)
    kps = []

    def frames():  # rendered while encoding: a 10-minute video never sits in memory
        for states in traj:
            img, kp = render(bg, states, looks)
            kps.append(kp)
            yield img

    write_video(video, frames(), spec.fps)
    ground_truth_frame(np.stack(kps), spec.n_fish).to_csv(truth_csv, index=False)
    return video


def make_scene(video: Path, truth_csv: Path, spec: DemoSpec) -> Path:
    """A test video alone (no project): its own fish (``spec.n_fish``, ``spec.look``, ``spec.fish_scale``),
    background and swimming, all from ``spec.seed``."""
    rng = np.random.default_rng(spec.seed)
    looks = scaled(fish_looks(spec.n_fish, spec.look, rng), spec.fish_scale)
    Path(video).parent.mkdir(parents=True, exist_ok=True)
    Path(truth_csv).parent.mkdir(parents=True, exist_ok=True)
    return write_scene_video(Path(video), Path(truth_csv), spec, looks, rng)
