"""Tracking quality on the scene suite (bench/scenes.yaml): many generated scenes, not the demo.

For each family (a look: distinct or look-alike fish) it makes a DLC project of that look, trains the pose
model once (``--epochs``), generates every scene's test video and ground truth (their own seeds, fish counts,
sizes, speeds, crowding, backgrounds, frame sizes and lengths; never used for training), runs the whole
workflow on them (one sample sheet, ``n_fish`` per video) and scores per scene:

- ``ours``: ``_el.h5`` (re-ID stitching, the config's ``reid.method``; with the identity network, pieces assigned
  to fish by it);
- the ablation, re-stitched from the run's own files: ``ours, network as a link cue (assignment off)``, ``ours,
  no identity network (crops off)`` (the transformer, body colour and motion only, as before the network),
  ``ours, no jump cut (reid.jump: null)`` and ``ours, contact keypoints not sorted`` (detections placed whole);
- ``motion only``: ``_el_motion.h5`` (DLC's own stitcher, its default cost);
- ``ceiling``: our pieces (tracklets cut at contacts and jumps) linked by the ground truth itself, the best any linking
  of these detections could do; below the goal it says the cap is detection or assembly, not linking;
- ``idtracker.ai 6.0.14``: read from ``--peer`` (bench/results/idtracker_scores.csv) where a row for the scene
  exists (idtracker.ai takes 10-40 min per video on a CPU, so it is run once per scene, not here).

Metrics: IDF1, MOTA, identity switches (py-motmetrics), HOTA / DetA / AssA (TrackEval), all on centroids within
``--max-px``; ``recall``: the fraction of ground-truth fish-frames with an assembled detection (median keypoint) within
``--max-px``.

Usage (hours on 2 CPU cores; every stage resumes where it stopped):
    python bench/tracking_suite.py --out /tmp/suite [--family easy] [--epochs 60] [--set training.KEY=VALUE ...]
Writes bench/results/tracking_suite.csv (``--csv``; the rows of each scene scored replace its old rows) and prints
a markdown table with the mean per family.
"""
from __future__ import annotations

import argparse
import csv
import os
import pickle
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
COLUMNS = ["family", "scene", "tuning", "n_fish", "frames", "method", "IDF1", "HOTA", "DetA", "AssA", "MOTA",
           "switches", "recall"]


def scene_spec(suite: dict, family: dict, fields: dict):
    from cichlid_track.synth import DemoSpec

    base = {k: family[k] for k in ("look", "width", "height") if k in family}
    f = {k: v for k, v in fields.items() if k != "tuning"}
    if "sand" in f:
        f["sand"] = tuple(f["sand"])
    return DemoSpec(**{**base, "fps": suite.get("fps", 30), "n_videos": 0, **f})


def make_family(out: Path, suite: dict, name: str) -> dict:
    """The family's project (labelled frames) and every scene's video and ground truth; idempotent."""
    from cichlid_track.synth import DemoSpec, make_demo, make_scene

    family = suite["families"][name]
    data = out / "data"
    if not (data / "project.done").is_file():
        r = make_demo(data, DemoSpec(n_fish=family["n_fish"], look=family["look"], width=family["width"],
                                     height=family["height"], seed=family["seed"], n_videos=0,
                                     fps=suite.get("fps", 30)))
        (data / "project.done").write_text(str(r["config"]))
    rows = []
    for scene, fields in family["scenes"].items():
        video, truth = data / "videos" / f"{scene}.mp4", data / "ground_truth" / f"{scene}.csv"
        if not (video.is_file() and truth.is_file()):
            print(f"{name}: generating {scene}", flush=True)
            make_scene(video, truth, scene_spec(suite, family, fields))
        rows.append({"id": scene, "path": str(video), "n_fish": str(fields["n_fish"])})
    sheet = data / "samples.tsv"
    pd.DataFrame(rows).to_csv(sheet, sep="\t", index=False)
    return {"project": (data / "project.done").read_text(), "samples": str(sheet),
            "ground_truth": str(data / "ground_truth")}


def config_override(text: str) -> tuple[list[str], object]:
    """``training.lr_milestones=[48, 57]`` -> (["training", "lr_milestones"], [48, 57]); the value is YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--set {text!r}: give KEY=VALUE, e.g. training.lr_milestones=[48,57]")
    return key.strip().split("."), yaml.safe_load(value)


def run_workflow(out: Path, data: dict, epochs: int, cores: int, overrides=()) -> Path:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg.update(project=data["project"], samples=data["samples"], ground_truth=data["ground_truth"],
               results=str(out / "results"))
    cfg["training"]["epochs"] = epochs
    cfg["training"]["crop_size"] = 256  # as measured; the demo config crops to its own 256x192 frames
    for keys, value in overrides:
        section = cfg
        for k in keys[:-1]:
            section = section.setdefault(k, {})
        section[keys[-1]] = value
    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory",
           str(out), "--configfile", str(path), "--cores", str(cores), "--keep-going", "--rerun-incomplete"]
    start = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    (out / "snakemake.log").write_text(proc.stdout + proc.stderr)
    print(f"workflow: exit {proc.returncode} after {time.time() - start:.0f} s (log: {out / 'snakemake.log'})",
          flush=True)
    return path


def detection_recall(assemblies_pickle: Path, truth: pd.DataFrame, max_px: float) -> float:
    """Ground-truth fish-frames with an assembled detection (DLC's ``_assemblies.pickle``; its keypoints' median)
    within ``max_px`` of the fish's centroid, one detection per fish."""
    from scipy.optimize import linear_sum_assignment

    from cichlid_track.dlc_pickles import seen_keypoints
    from cichlid_track.metrics import centroids

    gt = np.stack(list(centroids(truth).values()), axis=1)  # (frames, fish, 2)
    with open(assemblies_pickle, "rb") as fh:
        assemblies = pickle.load(fh)
    found = total = 0
    for f in range(len(gt)):
        g = gt[f][np.isfinite(gt[f]).all(axis=1)]
        total += len(g)
        det = np.asarray(assemblies.get(f, np.zeros((0, 1, 4))), dtype=float)
        if not len(g) or not len(det):
            continue
        xy = det[..., :2].copy()
        xy[~seen_keypoints(xy)] = np.nan
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            c = np.nanmedian(xy, axis=1)  # a keypoint taken from a neighbour does not move it
        c = c[np.isfinite(c).all(axis=1)]
        if not len(c):
            continue
        d = np.linalg.norm(g[:, None] - c[None], axis=2)
        r, k = linear_sum_assignment(np.where(d < max_px, d, 1e6))
        found += int((d[r, k] < max_px).sum())
    return found / max(total, 1)


def ablation(s, scene: str) -> dict:
    """The run's own files re-stitched without parts of the identity work: the network as one more link cue
    (``identity.assignment: false``), no network at all (as without crops), and no cut where a tracklet jumps
    (``reid.jump: null``; the network is the run's own, trained on the pieces with those cuts), and contact frames'
    detections placed whole, their keypoints not sorted between the fish (``tracking.sort_contact_keypoints: false``)."""
    from cichlid_track.tracking import stitch_files, stitch_options

    ident = s.identity_inputs(scene, existing_only=True)
    if len(ident) < 2:
        return {}
    opts = stitch_options(s.config)
    return {ABLATION_CUE: stitch_files(*s.stitch_inputs(scene), **ident, **{**opts, "assignment": False}).reid,
            ABLATION_NONE: stitch_files(*s.stitch_inputs(scene), **opts).reid,
            ABLATION_JUMP: stitch_files(*s.stitch_inputs(scene), **ident, **{**opts, "jump": None}).reid,
            ABLATION_SORT: stitch_files(*s.stitch_inputs(scene), **ident, **{**opts, "sort_keypoints": False}).reid}


ABLATION_CUE = "ours, network as a link cue (assignment off)"
ABLATION_NONE = "ours, no identity network (crops off)"
ABLATION_JUMP = "ours, no jump cut (reid.jump: null)"
ABLATION_SORT = "ours, contact keypoints not sorted (tracking.sort_contact_keypoints: false)"


def score_family(name: str, cfg: Path, suite: dict, max_px: float, peer: pd.DataFrame) -> list[dict]:
    from tracking_quality import ground_truth_linking

    from cichlid_track.metrics import mot_metrics, read_truth
    from cichlid_track.settings import load_settings

    os.chdir(cfg.parent)
    s = load_settings(yaml.safe_load(cfg.read_text()), REPO / "workflow" / "schemas")
    rows = []
    for scene, fields in suite["families"][name]["scenes"].items():
        truth = read_truth(Path(s.config["ground_truth"]) / f"{scene}.csv")
        base = {"family": name, "scene": scene, "tuning": bool(fields.get("tuning")), "n_fish": fields["n_fish"],
                "frames": len(truth)}
        if not Path(s.video_file(scene, "_el.h5")).is_file():
            print(f"{scene}: no tracks (the workflow failed for it; see its logs)", flush=True)
            continue
        recall = detection_recall(Path(s.video_file(scene, "_assemblies.pickle")), truth, max_px)
        methods = {"ours": pd.read_hdf(s.video_file(scene, "_el.h5")), **ablation(s, scene),
                   "motion only": pd.read_hdf(s.video_file(scene, "_el_motion.h5")),
                   "ceiling": ground_truth_linking(s, scene, truth, max_px)}
        for method, df in methods.items():
            m = mot_metrics(truth, df, max_px)
            rows.append({**base, "method": method, "IDF1": m["IDF1"], "HOTA": m["HOTA"], "DetA": m["DetA"],
                         "AssA": m["AssA"], "MOTA": m["MOTA"], "switches": m["ID switches"], "recall": recall})
        for _, p in peer[peer["scene"] == scene].iterrows() if len(peer) else []:
            rows.append({**base, **{k: p[k] for k in COLUMNS if k in p and k not in base}})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--scenes", type=Path, default=REPO / "bench" / "scenes.yaml")
    p.add_argument("--family", nargs="+", default=None, help="families to run (default: all)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--set", dest="overrides", type=config_override, action="append", default=[],
                   metavar="KEY=VALUE", help="a config setting for the family runs, e.g. "
                   "training.lr_milestones=[48,57] (repeat for more; the workflow validates them)")
    p.add_argument("--cores", type=int, default=os.cpu_count())
    p.add_argument("--max-px", type=float, default=20.0)
    p.add_argument("--peer", type=Path, default=REPO / "bench" / "results" / "idtracker_scores.csv")
    p.add_argument("--csv", type=Path, default=REPO / "bench" / "results" / "tracking_suite.csv")
    a = p.parse_args(argv)
    suite = yaml.safe_load(a.scenes.read_text())
    families = a.family or list(suite["families"])
    peer = pd.read_csv(a.peer) if a.peer.is_file() else pd.DataFrame()
    rows = []
    for name in families:
        out = (a.out / name).resolve()
        data = make_family(out, suite, name)
        cfg = run_workflow(out, data, a.epochs, a.cores, a.overrides)
        rows += score_family(name, cfg, suite, a.max_px, peer)
    new = pd.DataFrame(rows, columns=COLUMNS)
    if a.csv.is_file():  # keep every scene's old rows unless this run scored it (a failed run loses nothing)
        old = pd.read_csv(a.csv)
        kept = old[~old.set_index(["family", "scene"]).index.isin(new.set_index(["family", "scene"]).index)]
        new = pd.concat([df for df in (kept, new) if len(df)], ignore_index=True)
    a.csv.parent.mkdir(parents=True, exist_ok=True)
    new.to_csv(a.csv, index=False, float_format="%.3f", quoting=csv.QUOTE_MINIMAL)
    print("| family | scene | tuned on | fish | frames | method | IDF1 | HOTA | AssA | switches | recall |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in new.itertuples():
        print(f"| {r.family} | {r.scene} | {'yes' if r.tuning else 'no'} | {r.n_fish} | {r.frames} | {r.method} | "
              f"{r.IDF1:.3f} | {r.HOTA:.3f} | {r.AssA:.3f} | {r.switches} | {r.recall:.3f} |")
    print("\nmean per family and method:")
    print(new.groupby(["family", "method"])[["IDF1", "HOTA", "AssA", "switches", "recall"]].mean().round(3)
          .to_string())


if __name__ == "__main__":
    main()
