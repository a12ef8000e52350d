"""Tracking quality and disk use with the keypoint features stored in full (before) and reduced (now).

    python bench/feature_storage.py --config <run>/config.yaml --workdir <run> [--workdir2 ...]

"Before" is the finished run's own features (every map at full width, every frame: what the workflow stored
until 2026-11-27) and re-ID models, re-stitched with the current code. "After" re-runs the per-video stages
(analysis to labelled video) on the run's trained model in a copy of its results folder, with the current
defaults (only the maps re-ID and stitching read, the stride-8 stage projected to ``fine_channels``). Both are
scored against the generator's ground truth with the same code. Prints one row per video and version: IDF1,
MOTA, switches (re-ID and motion-only), the features file's channels and bytes per detection.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def settings_of(cfg: dict, workdir: Path):
    from cichlid_track.settings import load_settings

    return load_settings(cfg, REPO / "workflow" / "schemas", workdir=workdir)


def rows_of(settings, label: str, restitch: bool = False) -> list[dict]:
    import h5py

    from cichlid_track.metrics import mot_metrics, read_truth
    from cichlid_track.tracking import stitch_files, stitch_options

    rows = []
    for vid in settings.samples:
        truth = read_truth(settings.ground_truth(vid))
        if restitch:
            result = stitch_files(*settings.stitch_inputs(vid), **settings.identity_inputs(vid, existing_only=True),
                         **stitch_options(settings.config))
            tracks, motion_tracks = result.reid, result.motion
        else:
            tracks = pd.read_hdf(settings.video_file(vid, "_el.h5"))
            motion_tracks = pd.read_hdf(settings.video_file(vid, "_el_motion.h5"))
        reid, motion = mot_metrics(truth, tracks), mot_metrics(truth, motion_tracks)
        path = Path(settings.video_file(vid, "_bpt_features.h5"))
        with h5py.File(path, "r") as h:
            layout, every = str(h.attrs.get("layout", "")), int(h.attrs.get("every", 1))
        assemblies = pd.read_pickle(settings.video_file(vid, "_assemblies.pickle"))
        n_det = sum(len(v) for k, v in assemblies.items() if k != "single")
        rows.append({"video": vid, "version": label, "IDF1": reid["IDF1"], "MOTA": reid["MOTA"],
                     "switches": reid["ID switches"], "motion IDF1": motion["IDF1"],
                     "motion switches": motion["ID switches"], "layout": f"{layout}, every {every}",
                     "bytes/detection": path.stat().st_size / max(n_det, 1)})
    return rows


def rerun_with_defaults(cfg_path: Path, workdir: Path, out: Path) -> Path:
    """The run's config with today's analysis defaults, in a copy of its results without per-video outputs."""
    cfg = yaml.safe_load(cfg_path.read_text())
    results = Path(cfg["results"]) if Path(cfg["results"]).is_absolute() else workdir / cfg["results"]
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(results, out / "results", symlinks=True,
                    ignore=shutil.ignore_patterns("videos", "groups", "logs", "benchmarks", "qc"))
    shutil.copytree(results / "qc", out / "results" / "qc", ignore=shutil.ignore_patterns("videos", "batch.tsv"))
    # storage keys back to their defaults (full width, float16 and raw crops are what "before" stored)
    analysis = {k: v for k, v in cfg.get("analysis", {}).items()
                if k not in ("keep_full_features", "fine_channels", "features_dtype")}
    identity = {k: v for k, v in cfg.get("identity", {}).items() if k != "crop_quality"}
    cfg.update(results=str(out / "results"), analysis=analysis, identity=identity)
    new = out / "config.yaml"
    new.write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"),
                           "--directory", str(out), "--configfile", str(new), "--cores", str(os.cpu_count())],
                          capture_output=True, text=True)
    (out / "snakemake.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode:
        sys.exit(f"re-run failed, see {out / 'snakemake.log'}:\n{proc.stderr[-3000:]}")
    return new


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, nargs="+", required=True, help="finished runs' config files")
    p.add_argument("--out", type=Path, default=Path("/tmp/feature_storage"))
    a = p.parse_args(argv)
    rows = []
    for i, cfg_path in enumerate(a.config):
        workdir = cfg_path.parent
        before = settings_of(yaml.safe_load(cfg_path.read_text()), workdir)
        run = f"run {i + 1}"
        rows += [{"run": run, **r} for r in rows_of(before, "before: all maps, every frame", restitch=True)]
        new = rerun_with_defaults(cfg_path, workdir, a.out / f"run{i + 1}")
        after = settings_of(yaml.safe_load(new.read_text()), new.parent)
        rows += [{"run": run, **r} for r in rows_of(after, "after: defaults")]
        print(f"{run}: {cfg_path}", flush=True)
    cols = ["run", "video", "version", "IDF1", "MOTA", "switches", "motion IDF1", "motion switches", "layout",
            "bytes/detection"]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{r[c]:.3f}" if isinstance(r[c], float) and c != "bytes/detection"
                                else f"{r[c]:.0f}" if c == "bytes/detection" else str(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
