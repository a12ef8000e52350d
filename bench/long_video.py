"""What one long video of many fish costs, stage by stage: wall time, peak memory and bytes written.

Generates one scene of ``--fish`` fish (the demo generator, same look options) as long as the longest of
``--minutes``, cuts the shorter lengths from its start (same fish, same swimming), trains the demo's pose
model on the scene's project (``--epochs``), and runs the real workflow (snakemake, every stage) on all
lengths. Each rule's Snakemake ``benchmark:`` file gives its wall time and peak RSS (``s``, ``max_rss``);
the files each rule writes give its bytes. Identity over minutes: IDF1 / switches of ``_el.h5`` and
``_el_motion.h5`` against the generator's ground truth.

Projection to one hour of the same fish (``projected_hour_*``):
- seconds: the longest run's seconds per frame x one hour's frames (linear; the ``time_ratio`` column, longest
  / shortest time over the frame ratio, says whether a stage is linear: 1.0 = linear);
- peak RSS: the longest run's, plus its growth per frame between the two lengths, over the remaining frames;
- bytes: per-frame files x one hour's frames / the run's frames; the triplet file and the re-ID model do not
  grow with length. The keypoint features are scaled to ResNet-50's channel counts (backbone 2048, stride-8
  stage 512 before ``analysis.fine_channels``, colour 3 + 3) from the run's layout (the demo uses resnet18).

Usage (hours on 2 CPU cores; a GPU takes minutes):
    python bench/long_video.py --out /tmp/long --fish 10 --minutes 1 10 --epochs 60 --width 384 --height 288
Writes bench/results/long_video.csv (``--csv``) and prints a markdown table.
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
HOUR_MINUTES = 60
RESNET50_CHANNELS = {"features": 2048, "fine": 512, "colour": 3, "body": 3}
FIXED_SIZE = ("_triplet_vector.npy", "dlc_transreid_", "reid_accuracy.csv", "identity_net")  # do not grow


def make_scene(out: Path, fish: int, minutes: list[float], fps: int, width: int, height: int, look: str,
               seed: int) -> dict:
    """The project and the longest video from the demo generator; shorter videos cut from its start."""
    import cv2

    from cichlid_track.synth import DemoSpec, make_demo, write_video

    longest = max(minutes)
    name = f"long {longest:g} min"
    spec = DemoSpec(n_fish=fish, look=look, n_frames=round(longest * 60 * fps), n_videos=1, fps=fps, width=width,
                    height=height, seed=seed, video_names=[name])
    done = out / "scene.yaml"
    if done.is_file():
        return yaml.safe_load(done.read_text())
    r = make_demo(out, spec)
    videos = {longest: str(r["videos"][0])}
    truth = pd.read_csv(Path(r["ground_truth"]) / f"{name}.csv", header=[0, 1, 2])
    for m in sorted(minutes)[:-1]:
        n = round(m * 60 * fps)
        short = f"long {m:g} min"
        cap = cv2.VideoCapture(videos[longest])

        def frames(cap=cap, n=n):
            for _ in range(n):
                ok, img = cap.read()
                if not ok:
                    return
                yield img

        write_video(out / "videos" / f"{short}.mp4", frames(), fps)
        cap.release()
        truth.iloc[:n].to_csv(Path(r["ground_truth"]) / f"{short}.csv", index=False)
        videos[m] = str(out / "videos" / f"{short}.mp4")
    scene = {"config": str(r["config"]), "ground_truth": str(r["ground_truth"]),
             "videos": {float(m): v for m, v in videos.items()}, "fps": fps}
    done.write_text(yaml.safe_dump(scene))
    return scene


def run_workflow(out: Path, scene: dict, epochs: int, cores: int) -> Path:
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    sheet = out / "samples.tsv"
    sheet.write_text("id\tpath\n" + "".join(f"{Path(v).stem}\t{v}\n" for v in scene["videos"].values()))
    base.update(project=scene["config"], samples=str(sheet), results=str(out / "results"),
                ground_truth=scene["ground_truth"])
    base["training"]["epochs"] = epochs
    base["training"]["crop_size"] = 256  # as measured; the demo config crops to its own 256x192 frames
    cfg = out / "config.yaml"
    cfg.write_text(yaml.safe_dump(base, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory",
           str(out), "--configfile", str(cfg), "--cores", str(cores), "--keep-going"]
    start = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    (out / "snakemake.log").write_text(proc.stdout + proc.stderr)
    print(f"workflow: exit {proc.returncode} after {time.time() - start:.0f} s (log: {out / 'snakemake.log'})",
          flush=True)
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    return cfg


def stage_files(settings, vid: str) -> dict[str, list[Path]]:
    """What each per-video rule writes (its benchmark file is results/benchmarks/<stage>/<vid>.tsv)."""
    f = settings.video_file
    qc = Path(settings.results) / "qc" / "videos"
    return {
        "analyze": [Path(f(vid, s)) for s in (".h5", "_full.pickle", "_meta.pickle", "_assemblies.pickle",
                                              "_crops.h5", "_bpt_features.h5")],  # features last: feature_scale
        "tracklets": [Path(f(vid, "_el.pickle"))],
        "identity": [Path(settings.identity_model(vid))],
        "triplets": [Path(f(vid, "_triplet_vector.npy"))],
        "reid": [Path(settings.reid_model(vid)), Path(settings.reid_folder(vid)) / "reid_accuracy.csv"],
        "stitch": [Path(f(vid, s)) for s in ("_el.h5", "_el_motion.h5", "_tracking.json")],
        "labelled_video": [Path(settings.labelled_video(vid))],
        "video_qc": [qc / f"{vid}.json", qc / f"{vid}.png"],
    }


def feature_scale(features_h5: Path, fine_channels) -> float:
    """ResNet-50 bytes / this run's bytes for the keypoint features file, from its channel layout."""
    import h5py

    with h5py.File(features_h5, "r") as h:
        layout = str(h.attrs["layout"])
    ours = resnet50 = 0
    for item in layout.split(","):
        name, n = item.split(":")
        ours += int(n)
        full = RESNET50_CHANNELS[name]
        resnet50 += min(full, fine_channels) if (name == "fine" and fine_channels) else full
    return resnet50 / ours


def measure(cfg: Path, scene: dict) -> list[dict]:
    from cichlid_track.metrics import mot_metrics, read_truth
    from cichlid_track.settings import load_settings

    settings = load_settings(yaml.safe_load(cfg.read_text()), REPO / "workflow" / "schemas", workdir=cfg.parent)
    fine = settings.config["analysis"]["fine_channels"]
    bench = Path(settings.results) / "benchmarks"
    rows = []
    for minutes, video in sorted(scene["videos"].items()):
        vid = Path(video).stem
        frames = round(minutes * 60 * scene["fps"])
        for stage, files in stage_files(settings, vid).items():
            b = pd.read_csv(bench / stage / f"{vid}.tsv", sep="\t").iloc[-1]
            sizes = {p.name: p.stat().st_size for p in files}
            rows.append({"stage": stage, "minutes": minutes, "frames": frames, "seconds": float(b["s"]),
                         "max_rss_mb": float(b["max_rss"]), "bytes": sum(sizes.values()), "files": sizes,
                         "features_scale": feature_scale(files[-1], fine) if stage == "analyze" else 1.0})
        truth = read_truth(Path(scene["ground_truth"]) / f"{vid}.csv")
        for name, suffix in (("re-ID", "_el.h5"), ("motion only", "_el_motion.h5")):
            m = mot_metrics(truth, pd.read_hdf(settings.video_file(vid, suffix)))
            print(f"{vid}: {name} IDF1 {m['IDF1']:.3f}, HOTA {m['HOTA']:.3f}, MOTA {m['MOTA']:.3f}, "
                  f"{m['ID switches']} switches", flush=True)
    return rows


def project(rows: list[dict], fps: int) -> list[dict]:
    hour = HOUR_MINUTES * 60 * fps
    for stage in dict.fromkeys(r["stage"] for r in rows):
        mine = sorted((r for r in rows if r["stage"] == stage), key=lambda r: r["frames"])
        short, long_ = mine[0], mine[-1]
        grow = (long_["max_rss_mb"] - short["max_rss_mb"]) / max(1, long_["frames"] - short["frames"])
        for r in mine:
            r["time_ratio"] = (long_["seconds"] / short["seconds"]) / (long_["frames"] / short["frames"])
            r["projected_hour_seconds"] = long_["seconds"] / long_["frames"] * hour
            r["projected_hour_max_rss_mb"] = long_["max_rss_mb"] + max(0.0, grow) * (hour - long_["frames"])
            total = 0.0
            for name, size in long_["files"].items():
                fixed = any(tag in name for tag in FIXED_SIZE)
                scale = long_["features_scale"] if name.endswith("_bpt_features.h5") else 1.0
                total += size * scale * (1 if fixed else hour / long_["frames"])
            r["projected_hour_bytes"] = total
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--fish", type=int, default=10)
    p.add_argument("--minutes", type=float, nargs="+", default=[1, 10])
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--width", type=int, default=384)
    p.add_argument("--height", type=int, default=288)
    p.add_argument("--look", choices=["easy", "hard"], default="easy")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--cores", type=int, default=os.cpu_count())
    p.add_argument("--csv", type=Path, default=REPO / "bench" / "results" / "long_video.csv")
    a = p.parse_args(argv)
    if len(a.minutes) < 2:
        p.error("--minutes needs two lengths at least (the time ratio compares them)")
    a.out.mkdir(parents=True, exist_ok=True)
    scene = make_scene(a.out, a.fish, a.minutes, a.fps, a.width, a.height, a.look, a.seed)
    cfg = run_workflow(a.out, scene, a.epochs, a.cores)
    rows = project(measure(cfg, scene), a.fps)
    cols = ["stage", "minutes", "seconds", "max_rss_mb", "bytes", "projected_hour_seconds",
            "projected_hour_max_rss_mb", "projected_hour_bytes", "time_ratio"]
    a.csv.parent.mkdir(parents=True, exist_ok=True)
    with open(a.csv, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()})
    print(f"\n{a.fish} fish, {a.width}x{a.height}, {a.fps} fps; projected to one hour with ResNet-50 channels\n")
    print("| stage | minutes | s | max RSS (MB) | bytes | time ratio | 1 h: s | 1 h: max RSS (MB) | 1 h: GB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['stage']} | {r['minutes']:g} | {r['seconds']:.0f} | {r['max_rss_mb']:.0f} | {r['bytes']:,} | "
              f"{r['time_ratio']:.2f} | {r['projected_hour_seconds']:.0f} | {r['projected_hour_max_rss_mb']:.0f} | "
              f"{r['projected_hour_bytes'] / 1e9:.2f} |")
    longest = max(r["minutes"] for r in rows)
    total = sum(r["projected_hour_bytes"] for r in rows if r["minutes"] == longest)
    video = sum(r["projected_hour_bytes"] for r in rows if r["minutes"] == longest and r["stage"] == "labelled_video")
    print(f"\none hour, all outputs: {total / 1e9:.2f} GB ({(total - video) / 1e9:.2f} GB without the labelled video)")


if __name__ == "__main__":
    main()
