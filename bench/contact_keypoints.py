"""Contact frames' keypoints sorted between the fish, off and on, on the videos of a finished suite run.

    python bench/contact_keypoints.py --config /tmp/suite60/easy/config.yaml [--videos easy-8-schooling-gravel ...]

For every video: the run's own tracklets, features, re-ID model and identity network stitched twice, with
``tracking.sort_contact_keypoints`` false (contact-frame detections placed whole, as assembled) and true (each keypoint
to the fish whose body should have it there; :mod:`cichlid_track.tracking.reassembly`), and both scored against the
generator's ground truth with the suite's metrics (``metrics.mot_metrics``, centroids within 20 px). Prints a markdown
table and appends the rows to ``--csv`` (default bench/results/contact_keypoints.csv; rows of the same family, scene
and setting are replaced).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
COLUMNS = ["family", "scene", "sort_contact_keypoints", "IDF1", "HOTA", "AssA", "switches", "keypoints_moved"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, required=True, help="a suite run's config.yaml (tracking_suite.py --out)")
    p.add_argument("--videos", nargs="*", help="default: every video of the run")
    p.add_argument("--max-px", type=float, default=20.0)
    p.add_argument("--csv", type=Path, default=REPO / "bench" / "results" / "contact_keypoints.csv")
    a = p.parse_args(argv)

    from cichlid_track.metrics import mot_metrics, read_truth
    from cichlid_track.settings import load_settings
    from cichlid_track.tracking import stitch_files, stitch_options

    cfg = a.config.resolve()
    os.chdir(cfg.parent)
    s = load_settings(yaml.safe_load(cfg.read_text()), REPO / "workflow" / "schemas")
    family = cfg.parent.name
    rows = []
    print("| scene | off: IDF1 / HOTA / switches | on: IDF1 / HOTA / switches | keypoints moved |")
    print("|---|---|---|---|")
    for vid in a.videos or list(s.samples):
        truth = read_truth(Path(s.config["ground_truth"]) / f"{vid}.csv")
        cells = []
        for on in (False, True):
            result = stitch_files(*s.stitch_inputs(vid), **s.identity_inputs(vid, existing_only=True),
                                  **{**stitch_options(s.config), "sort_keypoints": on})
            m = mot_metrics(truth, result.reid, a.max_px)
            rows.append({"family": family, "scene": vid, "sort_contact_keypoints": on, "IDF1": round(m["IDF1"], 4),
                         "HOTA": round(m["HOTA"], 4), "AssA": round(m["AssA"], 4), "switches": m["ID switches"],
                         "keypoints_moved": result.summary.get("contact_keypoints_sorted", 0)})
            cells.append(f"{m['IDF1']:.3f} / {m['HOTA']:.3f} / {m['ID switches']}")
        print(f"| {vid} | {cells[0]} | {cells[1]} | {rows[-1]['keypoints_moved']} |", flush=True)
    new = pd.DataFrame(rows, columns=COLUMNS)
    if a.csv.is_file():
        old = pd.read_csv(a.csv)
        keys = ["family", "scene", "sort_contact_keypoints"]
        old = old[~old.set_index(keys).index.isin(new.set_index(keys).index)]
        new = pd.concat([old, new], ignore_index=True)
    a.csv.parent.mkdir(parents=True, exist_ok=True)
    new.to_csv(a.csv, index=False)
    means = new[new["family"] == family].groupby("sort_contact_keypoints")[["IDF1", "HOTA", "switches"]].mean()
    print(f"\n{family}, mean over the scenes in {a.csv.name}:\n{means.round(3).to_string()}")


if __name__ == "__main__":
    main()
