"""How long `snakemake -n` takes to plan 10, 100 and 1,000 videos (small real video files).

    python bench/dag_scale.py            # uses the demo project (python scripts/make_demo.py results/demo_data)

Prints the dry-run wall time per sheet size and the 1,000/10 ratio. Goal: 1,000 videos in under 10 s and at
most 20x the 10-video time. Nothing at parse time opens a video or imports heavy modules.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def tiny_video(path: Path) -> None:
    import cv2
    import numpy as np

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (64, 48))
    for i in range(5):
        w.write(np.full((48, 64, 3), i * 40, np.uint8))
    w.release()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--project", default=str(REPO / "results/demo_data/tank-demo-2026-11-22/config.yaml"))
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dag-scale-"))
    src = work / "one.mp4"
    tiny_video(src)
    vids = work / "videos"
    vids.mkdir()
    for i in range(max(a.sizes)):
        shutil.copyfile(src, vids / f"tank{i:04d}.mp4")
    times = {}
    for n in a.sizes:
        sheet = work / f"samples{n}.tsv"
        sheet.write_text("id\tpath\n" + "".join(f"tank{i:04d}\t{vids}/tank{i:04d}.mp4\n" for i in range(n)))
        cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
        cfg.update(project=a.project, samples=str(sheet), results=str(work / f"results{n}"), ground_truth="")
        (work / f"c{n}.yaml").write_text(yaml.safe_dump(cfg))
        best = float("inf")
        for _ in range(a.repeat):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-q", "--snakefile",
                                   str(REPO / "workflow" / "Snakefile"), "--directory", str(work),
                                   "--configfile", str(work / f"c{n}.yaml"), "--cores", "1"],
                                  capture_output=True, text=True)
            best = min(best, time.perf_counter() - start)
            if proc.returncode:
                sys.exit(proc.stderr[-2000:])
        times[n] = best
    print("| videos | snakemake -n (s, best of %d) |\n|---|---|" % a.repeat)
    for n, t in times.items():
        print(f"| {n} | {t:.2f} |")
    lo, hi = min(times), max(times)
    print(f"\nratio {hi}/{lo} videos: {times[hi] / times[lo]:.1f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
