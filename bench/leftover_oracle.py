"""Where the identity switches left on a scene come from: the leftover pieces (contact frames), or the rest.

    python bench/leftover_oracle.py --config <suite>/<family>/config.yaml --scenes easy-6-fast-dark ...

Re-stitches each scene of a finished suite run (bench/tracking_suite.py) three ways and scores each:
- ``ours``: as the workflow stitches;
- ``short leftovers by the ground truth``: the same, except that the pieces of 1-2 frames left after the assignment
  (mostly contact frames) go to the chain of the fish the ground truth puts them nearest, or stay out where that
  chain is taken then;
- ``all leftovers by the ground truth``: every leftover piece so.
What ours loses against the second is what a better placement of contact frames could win; against the ceiling
(bench/tracking_suite.py), what the rest of the stitching and the pieces themselves lose. A diagnosis, not a method:
the ground truth is never used to stitch.
"""
from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def nearest_fish(gt: np.ndarray, piece) -> int:
    """The ground-truth fish (gt: fish x frames x 2) nearest the piece's centroid in most of its frames; -1: none."""
    d = np.linalg.norm(gt[:, piece.inds] - piece.centroid[None], axis=2)
    seen = np.isfinite(d).any(axis=0)
    if not seen.any():
        return -1
    return int(np.bincount(np.nanargmin(np.where(np.isfinite(d), d, np.inf)[:, seen], axis=0)).argmax())


@contextmanager
def leftovers_by_truth(gt: np.ndarray, max_len: int | None):
    """Within the block, leftover pieces of at most ``max_len`` frames (None: all) are placed by the ground truth."""
    from cichlid_track.tracking import stitch
    from cichlid_track.tracking.contacts import PIECE_MIN_LENGTH

    ours = stitch.place_leftovers

    def by_truth(chains, leftovers, model, cues, n_frames, **kw):
        by_us = [t for t in leftovers if max_len is not None and len(t) > max_len]
        short = [t for t in leftovers if max_len is None or len(t) <= max_len]
        chains, placed = ours(chains, by_us, model, cues, n_frames, **kw)
        fish_of_chain = []
        for chain in chains:
            votes = np.zeros(len(gt))
            for t in chain:
                if len(t) >= PIECE_MIN_LENGTH and (g := nearest_fish(gt, t)) >= 0:
                    votes[g] += len(t)
            fish_of_chain.append(int(votes.argmax()) if votes.any() else -1)
        occupied = np.zeros((len(chains), n_frames), bool)
        for n, chain in enumerate(chains):
            for t in chain:
                occupied[n, t.inds] = True
        for t in short:
            g = nearest_fish(gt, t)
            if g >= 0 and g in fish_of_chain:
                n = fish_of_chain.index(g)
                if not occupied[n, t.inds].any():
                    chains[n].append(t)
                    occupied[n, t.inds] = True
                    placed += 1
        return chains, placed

    stitch.place_leftovers = by_truth
    try:
        yield
    finally:
        stitch.place_leftovers = ours


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, required=True, help="a suite family's config.yaml")
    p.add_argument("--scenes", nargs="+", required=True)
    p.add_argument("--max-px", type=float, default=20.0)
    a = p.parse_args(argv)

    from cichlid_track.metrics import centroids, mot_metrics, read_truth
    from cichlid_track.settings import load_settings
    from cichlid_track.tracking import stitch_files, stitch_options

    os.chdir(a.config.parent)
    s = load_settings(yaml.safe_load(a.config.read_text()), REPO / "workflow" / "schemas")
    print("| scene | ours IDF1 / switches | short leftovers by the ground truth | all leftovers by the ground truth |")
    print("|---|---|---|---|")
    for scene in a.scenes:
        truth = read_truth(Path(s.config["ground_truth"]) / f"{scene}.csv")
        gt = np.stack(list(centroids(truth).values()))

        def scored():
            result = stitch_files(*s.stitch_inputs(scene), **s.identity_inputs(scene, existing_only=True),
                                  **stitch_options(s.config))
            m = mot_metrics(truth, result.reid, a.max_px)
            return f"{m['IDF1']:.3f} / {m['ID switches']}"

        ours = scored()
        with leftovers_by_truth(gt, 2):
            short = scored()
        with leftovers_by_truth(gt, None):
            everything = scored()
        print(f"| {scene} | {ours} | {short} | {everything} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
