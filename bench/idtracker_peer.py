"""idtracker.ai 6.0.14 on the scene suite's videos, scored with the same code as ours (the peer rows of
``bench/results/tracking_suite.csv``).

    python bench/idtracker_peer.py --suite /tmp/suite --family lookalike [--scenes lookalike-4 ...] \
        --idtrackerai /tmp/idtvenv/bin/idtrackerai

idtracker.ai takes 10-40 minutes per short video on a 2-core CPU, so it runs once per scene and its scores are kept
in ``--csv`` (default ``bench/results/idtracker_scores.csv``; a scene already there is skipped unless ``--again``);
``tracking_suite.py`` merges them into its table. The scenes are generated deterministically by
``tracking_suite.py`` (same ``--suite`` folder): run that first, or at least its scene generation.

Install it in an environment of its own (it brings PyQt6; it needs torch and torchvision but does not install them):

    python -m venv /tmp/idtvenv
    /tmp/idtvenv/bin/pip install idtrackerai==6.0.14 torch==2.14.1 torchvision==0.29.1

Parameters are chosen per scene family from one frame, never from the ground truth (``FAMILY_PARAMS``;
../shared/notes/idtracker-6-facts.md): background subtraction (median of 50 frames), a pixel belongs to an animal
where it differs from the background by more than 7 (distinct looks: some colours are barely darker than the sand)
or 10 grey levels (look-alikes), blobs of at least 300 / 150 px (smaller ones are stripes and fins split off). On a
CPU: ``device = "cpu"`` and ``disable_contrastive = true`` (its contrastive first step makes no visible progress in
minutes there). Headless it must be started with ``--track`` (without it opens its GUI); it exits 1 even after a
successful run, so success is judged by its trajectories file.

Scores: its centroids against the ground-truth fish centroids with :func:`cichlid_track.metrics.mot_metrics`
(IDF1, MOTA, switches, HOTA, 20 px), the same call that scores our tracks; ``recall`` is its detection recall
(ground-truth fish matched by any of its trajectories within 20 px, per frame).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
PEER = "idtracker.ai 6.0.14"
FAMILY_PARAMS = {  # per look family, from one frame of a scene (see the module docstring)
    "easy": {"intensity_ths": [7.0, 255.0], "area_ths": [300.0, float("inf")]},
    "hard": {"intensity_ths": [10.0, 255.0], "area_ths": [150.0, float("inf")]},
}


def params_toml(video: Path, n_fish: int, name: str, out: Path, look: str) -> str:
    p = FAMILY_PARAMS[look]

    def num(x):
        return "inf" if x == float("inf") else f"{x:.1f}"  # a float array: [300, inf] is "not homogeneous"

    return "\n".join([
        f'video_paths = ["{video}"]',
        f"number_of_animals = {n_fish}",
        f"intensity_ths = [{', '.join(num(x) for x in p['intensity_ths'])}]",
        f"area_ths = [{', '.join(num(x) for x in p['area_ths'])}]",
        "use_bkg = true",
        'background_subtraction_stat = "median"',
        "number_of_frames_for_background = 50",
        f'name = "{name}"',
        f'output_dir = "{out}"',
        'device = "cpu"',
        "disable_contrastive = true",
        'trajectories_formats = ["npy"]',
        "",
    ])


def run_idtracker(exe: str, video: Path, n_fish: int, scene: str, out: Path, look: str, timeout: int) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    toml = out / "params.toml"
    toml.write_text(params_toml(video.resolve(), n_fish, scene, out.resolve(), look))
    log = out / "idtrackerai.log"
    with open(log, "w") as fh:
        subprocess.run([exe, "--load", str(toml), "--track"], stdout=fh, stderr=subprocess.STDOUT, timeout=timeout,
                       cwd=out, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    found = sorted(out.glob(f"session_{scene}*/trajectories/trajectories.npy"))
    if not found:
        tail = log.read_text()[-2000:]
        raise RuntimeError(f"idtracker.ai wrote no trajectories for {scene} (log {log}):\n{tail}")
    return found[-1]


def as_tracks(trajectories: np.ndarray) -> pd.DataFrame:
    """(frames, animals, 2) centroids -> the individuals/bodyparts/coords table our metrics read."""
    n = trajectories.shape[1]
    cols = pd.MultiIndex.from_tuples([(f"id{i + 1}", "centre", c) for i in range(n) for c in ("x", "y")],
                                     names=["individuals", "bodyparts", "coords"])
    return pd.DataFrame(trajectories.reshape(len(trajectories), -1), columns=cols)


def centroid_recall(truth: pd.DataFrame, tracks: pd.DataFrame, max_px: float) -> float:
    from cichlid_track.metrics import centroids

    gt = np.stack(list(centroids(truth).values()), axis=1)  # (frames, fish, 2)
    hyp = np.stack(list(centroids(tracks).values()), axis=1)[:len(gt)]
    d = np.linalg.norm(gt[:, :, None] - hyp[:, None], axis=-1)
    seen = np.isfinite(gt).all(-1)
    hit = np.nanmin(np.where(np.isfinite(d), d, np.inf), axis=2) <= max_px
    return float((hit & seen).sum() / max(1, seen.sum()))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", type=Path, required=True, help="the --out folder of tracking_suite.py")
    p.add_argument("--family", nargs="+", required=True)
    p.add_argument("--scenes", nargs="*", default=None, help="default: every scene of the families")
    p.add_argument("--scenes-file", type=Path, default=REPO / "bench" / "scenes.yaml")
    p.add_argument("--idtrackerai", default="idtrackerai", help="its command (in its own environment)")
    p.add_argument("--timeout", type=int, default=3 * 3600, help="seconds per video")
    p.add_argument("--max-px", type=float, default=20.0)
    p.add_argument("--again", action="store_true", help="re-run scenes already in --csv")
    p.add_argument("--csv", type=Path, default=REPO / "bench" / "results" / "idtracker_scores.csv")
    a = p.parse_args(argv)
    from cichlid_track.metrics import mot_metrics, read_truth

    suite = yaml.safe_load(a.scenes_file.read_text())
    done = pd.read_csv(a.csv) if a.csv.is_file() else pd.DataFrame(columns=["scene"])
    for family in a.family:
        fam = suite["families"][family]
        data = a.suite / family / "data"
        for scene, fields in fam["scenes"].items():
            if a.scenes and scene not in a.scenes:
                continue
            if scene in set(done["scene"]) and not a.again:
                print(f"{scene}: already scored in {a.csv}", flush=True)
                continue
            video, truth_csv = data / "videos" / f"{scene}.mp4", data / "ground_truth" / f"{scene}.csv"
            if not video.is_file():
                sys.exit(f"{video} is missing: generate the suite's scenes first (bench/tracking_suite.py --out "
                         f"{a.suite} --family {family})")
            start = time.time()
            npy = run_idtracker(a.idtrackerai, video, fields["n_fish"], scene, a.suite / family / "idtracker" / scene,
                                fam["look"], a.timeout)
            seconds = time.time() - start
            tracks = as_tracks(np.load(npy, allow_pickle=True).item()["trajectories"])
            truth = read_truth(truth_csv)
            m = mot_metrics(truth, tracks, a.max_px)
            row = {"family": family, "scene": scene, "method": PEER, "IDF1": m["IDF1"], "HOTA": m["HOTA"],
                   "DetA": m["DetA"], "AssA": m["AssA"], "MOTA": m["MOTA"], "switches": m["ID switches"],
                   "recall": centroid_recall(truth, tracks, a.max_px), "seconds": round(seconds)}
            print(f"{scene}: {PEER} IDF1 {row['IDF1']:.3f}, HOTA {row['HOTA']:.3f}, {row['switches']} switches, "
                  f"recall {row['recall']:.3f} ({seconds:.0f} s)", flush=True)
            done = pd.concat([done[done["scene"] != scene], pd.DataFrame([row])], ignore_index=True)
            done = done.astype({"switches": int, "seconds": int})
            a.csv.parent.mkdir(parents=True, exist_ok=True)
            done.to_csv(a.csv, index=False, float_format="%.3f")  # after each scene: a long batch keeps its rows


if __name__ == "__main__":
    main()
