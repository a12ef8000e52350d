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

A second table says where ours puts the short leftovers (1-2 frames; both passes of the placement): on the chain of
their own fish (the ground-truth fish nearest them; a chain's fish is the one nearest most of its long pieces), on
another fish's chain, or nowhere, either while their fish's chain is free in those frames or while another piece
holds it there.
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


def chain_owners(gt: np.ndarray, chains: list[list]) -> list[int]:
    """Each chain's ground-truth fish: the one nearest most frames of its pieces of PIECE_MIN_LENGTH or more."""
    from cichlid_track.tracking.contacts import PIECE_MIN_LENGTH

    owners = []
    for chain in chains:
        votes = np.zeros(len(gt))
        for t in chain:
            if len(t) >= PIECE_MIN_LENGTH and (g := nearest_fish(gt, t)) >= 0:
                votes[g] += len(t)
        owners.append(int(votes.argmax()) if votes.any() else -1)
    return owners


def placement_breakdown(gt: np.ndarray, leftovers: list, chains: list[list], max_len: int = 2) -> dict:
    """Where the leftovers of at most ``max_len`` frames ended up in the final ``chains`` (module doc)."""
    owners = chain_owners(gt, chains)
    n_frames = max(t.end for c in chains for t in c) + 1
    where, occupied = {}, np.zeros((len(chains), n_frames), bool)
    for n, chain in enumerate(chains):
        for t in chain:
            where[id(t)] = n
            occupied[n, t.inds] = True
    out = dict.fromkeys(("own fish", "another fish", "out, own chain free", "out, own chain held", "no fish"), 0)
    for t in leftovers:
        if len(t) > max_len:
            continue
        g = nearest_fish(gt, t)
        own = owners.index(g) if g in owners else None
        if own is None:
            out["no fish"] += 1
        elif id(t) in where:
            out["own fish" if where[id(t)] == own else "another fish"] += 1
        else:
            out["out, own chain held" if occupied[own, t.inds].any() else "out, own chain free"] += 1
    return out


@contextmanager
def recorded_placement(record: dict):
    """Within the block, the leftovers given to the placement's first pass and the chains out of its last are kept
    in ``record``."""
    from cichlid_track.tracking import stitch

    ours = stitch.place_leftovers

    def recording(chains, leftovers, *args, **kw):
        record.setdefault("leftovers", list(leftovers))
        record["chains"], placed = ours(chains, leftovers, *args, **kw)
        return record["chains"], placed

    stitch.place_leftovers = recording
    try:
        yield
    finally:
        stitch.place_leftovers = ours


@contextmanager
def leftovers_by_truth(gt: np.ndarray, max_len: int | None):
    """Within the block, leftover pieces of at most ``max_len`` frames (None: all) are placed by the ground truth."""
    from cichlid_track.tracking import stitch

    ours = stitch.place_leftovers

    def by_truth(chains, leftovers, model, cues, n_frames, **kw):
        by_us = [t for t in leftovers if max_len is not None and len(t) > max_len]
        short = [t for t in leftovers if max_len is None or len(t) <= max_len]
        chains, placed = ours(chains, by_us, model, cues, n_frames, **kw)
        fish_of_chain = chain_owners(gt, chains)
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
    breakdown = {}
    for scene in a.scenes:
        truth = read_truth(Path(s.config["ground_truth"]) / f"{scene}.csv")
        gt = np.stack(list(centroids(truth).values()))

        def scored():
            result = stitch_files(*s.stitch_inputs(scene), **s.identity_inputs(scene, existing_only=True),
                                  **stitch_options(s.config))
            m = mot_metrics(truth, result.reid, a.max_px)
            return f"{m['IDF1']:.3f} / {m['ID switches']}"

        record = {}
        with recorded_placement(record):
            ours = scored()
        breakdown[scene] = placement_breakdown(gt, record["leftovers"], record["chains"]) if record else {}
        with leftovers_by_truth(gt, 2):
            short = scored()
        with leftovers_by_truth(gt, None):
            everything = scored()
        print(f"| {scene} | {ours} | {short} | {everything} |", flush=True)
    kinds = list(next((b for b in breakdown.values() if b), {}))
    print("\nShort leftovers (1-2 frames) in ours:\n")
    print("| scene | " + " | ".join(kinds) + " |")
    print("|---" * (len(kinds) + 1) + "|")
    for scene, counts in breakdown.items():
        print(f"| {scene} | " + " | ".join(str(counts.get(k, "")) for k in kinds) + " |")


if __name__ == "__main__":
    sys.exit(main())
