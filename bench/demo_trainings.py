"""The demo workflow trained at several seeds under two or more training crops, side by side.

Why: the demo's frames are 256x192. A square crop of 256 (``training.crop_size: 256``) makes DLC pad every
training image with black to 256x256 first, so a quarter of what it trains on is padding; ``[256, 192]`` crops to
the frame. One training cannot tell a setting from the spread between trainings (CPU training is not
bit-reproducible, and its tracks' switch counts vary), so this runs each crop at several seeds.

For each crop and seed it runs the whole demo workflow (``config/config.yaml`` with ``training.crop_size`` and
``training.seed`` set) on the bundled demo data, then reads, from the run's own files: the training job's seconds
(Snakemake's benchmark), test RMSE (DLC's evaluation) and, per video, IDF1 and identity switches of the re-ID
tracks and of motion-only stitching (the QC batch table, py-motmetrics against the demo's ground truth).

Usage (about 8-10 minutes per training on 2 CPU cores; finished runs are only read again):
    python bench/demo_trainings.py --out /tmp/crops --crops 256 256x192 --seeds 1 2
Writes bench/results/demo_trainings.csv (``--csv``) and prints a markdown table.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def parse_crop(text: str):
    """``256`` -> 256 (a square), ``256x192`` -> [256, 192]."""
    parts = [int(p) for p in text.lower().split("x")]
    return parts[0] if len(parts) == 1 else parts


def demo_data(out: Path) -> dict:
    from cichlid_track.synth import DemoSpec, make_demo

    data = out / "demo data"
    done = data / "made.yaml"
    if not done.is_file():
        r = make_demo(data, DemoSpec())
        sheet = data / "samples.tsv"
        sheet.write_text("id\tpath\n" + "".join(f"{v.stem}\t{v}\n" for v in r["videos"]))
        done.write_text(yaml.safe_dump({"project": str(r["config"]), "samples": str(sheet),
                                        "ground_truth": str(r["ground_truth"])}))
    return yaml.safe_load(done.read_text())


def run_one(work: Path, data: dict, crop, seed: int, cores: int) -> None:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg.update(project=data["project"], samples=data["samples"], ground_truth=data["ground_truth"],
               results=str(work / "results"))
    cfg["training"].update(crop_size=crop, seed=seed)
    work.mkdir(parents=True, exist_ok=True)
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory",
           str(work), "--configfile", str(path), "--cores", str(cores), "--rerun-incomplete"]
    with open(work / "snakemake.log", "w") as log:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=True)


def scores(results: Path, crop, seed) -> list[dict]:
    """One row per video of a finished run: training seconds, test RMSE, re-ID and motion-only IDF1 / switches."""
    train_s = float(pd.read_csv(results / "benchmarks" / "train.tsv", sep="\t")["s"].iloc[-1])
    (evaluation,) = sorted((results / "evaluation").glob("*.csv"))
    rmse = float(pd.read_csv(evaluation)["test rmse"].iloc[-1])
    batch = pd.read_csv(results / "qc" / "batch.tsv", sep="\t")
    crop_text = "x".join(map(str, crop)) if isinstance(crop, list) else str(crop)
    return [{"crop": crop_text, "seed": seed, "train_s": round(train_s), "test_rmse": rmse, "video": r["video"],
             "reid_IDF1": r["reid IDF1"], "reid_switches": int(r["reid ID switches"]),
             "motion_IDF1": r["motion IDF1"], "motion_switches": int(r["motion ID switches"])}
            for _, r in batch.iterrows()]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--crops", nargs="+", default=["256", "256x192"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--csv", type=Path, default=REPO / "bench" / "results" / "demo_trainings.csv")
    args = ap.parse_args(argv)
    data = demo_data(args.out)
    rows = []
    for seed in args.seeds:
        for text in args.crops:
            crop = parse_crop(text)
            work = args.out / f"crop{text}-seed{seed}"
            run_one(work, data, crop, seed, args.cores)
            rows += scores(work / "results", crop, seed)
    table = pd.DataFrame(rows)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.csv, index=False)
    print(table.to_markdown(index=False))
    by_crop = table.groupby("crop").agg(train_s=("train_s", "mean"), test_rmse=("test_rmse", "mean"),
                                        reid_IDF1=("reid_IDF1", "mean"), reid_switches=("reid_switches", "sum"),
                                        motion_IDF1=("motion_IDF1", "mean"),
                                        motion_switches=("motion_switches", "sum"))
    print("\nmean over seeds and videos (switches: sums)\n" + by_crop.round(3).to_markdown())


if __name__ == "__main__":
    main()
