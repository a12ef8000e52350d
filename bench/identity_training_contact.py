"""The identity network trained on pieces cut at other contact distances, on the videos of a finished run.

    python bench/identity_training_contact.py --config /tmp/suite60/easy/config.yaml \
        --ladder 1,0.7,0.5 --ladder 0.5 --videos easy-6-fast-dark

Each ``--ladder`` is a list of fractions of ``reid.contact`` tried in turn for the pieces the ``identity`` rule
learns from (``train_identity_file(contacts=...)``; the default ladder is the library's ``TRAINING_CONTACTS``);
``--seeds`` trains each with several seeds. For every video and ladder: the network is trained on the run's own
tracklets and crops, the video is stitched with it (stitching still cuts at ``reid.contact``), and IDF1 / HOTA /
switches are scored against the generator's ground truth (``metrics.mot_metrics``, 20 px). ``--drop-misassembled``
first removes the detections whose keypoints lie too far apart to be one fish (the experiment of session 12, not the
default). ``--neighbours 0 0.5`` trains each video with those shares of training crops shown with a neighbour alongside
(``identity.neighbours``; 0: off), side by side; ``--steps-per-frame 1 2 1e9`` likewise with
``identity.steps_per_frame`` (each row gives the training's steps and seconds: set ``OMP_NUM_THREADS=2`` for the
workflow's threads).
``--min-evidence 0 3 5`` stitches each trained network once per value of ``assignment.MIN_EVIDENCE`` (the least
evidence, margin x crops, with which the network alone assigns a piece; 0: every piece it is confident of).
``--continuity 0 1`` likewise with the weight of a contact's paths (``contact_paths.CONTINUITY``; 0: its frames
placed frame by frame); ``--one-fish-spread 0.7 1e9`` likewise with the widest keypoint spread (body lengths) of a
contact-frame detection that is placed (``cleanup.ONE_FISH_SPREAD``; 1e9: every one, as before session 21);
``--run-network`` stitches with the run's own networks instead of training them.
``--identity-epochs`` trains with that ``identity.epochs`` instead of the run's. ``--ensemble`` also stitches each
video with the networks of all ``--seeds`` together (their probabilities averaged, one row "mean of seeds"): the
classes of every seed are the same fish, the pieces of the first stretch where all are apart, so the average is over
one set of classes. ``--crops-dir`` reads each video's crops from
``<dir>/<video>_crops.h5`` (``bench/recut_crops.py``: the same detections' crops at another density) for training and
stitching alike.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def drop_misassembled(stray: float):
    """Patch the tracklet cleanup: a detection of 3+ keypoints with fewer than 3 within ``stray`` body lengths of
    their median (keypoints of several fish, assembled as one) is removed from its tracklet."""
    from cichlid_track.dlc_pickles import seen_keypoints
    from cichlid_track.tracking import cleanup, stitch
    from cichlid_track.tracking.tracklet_io import load_tracklets_dict

    original = cleanup.cleaned_tracklets

    def cleaned(raw, stray_bl):
        raw, tracks, body_len, dropped = original(raw, stray_bl)
        if not stray_bl:
            return raw, tracks, body_len, dropped
        out = {}
        for key, frames in raw.items():
            if key in ("header", "single") or not isinstance(frames, dict):
                out[key] = frames
                continue
            kept = {}
            for fkey, row in frames.items():
                a = np.asarray(row, dtype=float)
                xy = (a.reshape(-1, 3) if a.ndim == 1 else a)[:, :2]
                ok = seen_keypoints(xy)
                if ok.sum() >= 3 and (np.linalg.norm(xy[ok] - np.median(xy[ok], 0), axis=1)
                                      <= stray_bl * body_len).sum() < 3:
                    continue
                kept[fkey] = row
            out[key] = kept
        return out, load_tracklets_dict(out), body_len, dropped

    cleanup.cleaned_tracklets = cleaned
    stitch.cleaned_tracklets = cleaned


class MeanOfNetworks:
    """Networks of one video trained with several seeds, read as one: the mean of their softmax (returned as its log,
    so that the softmax the stitcher applies gives the mean back)."""

    def __init__(self, nets):
        self.nets = nets

    def eval(self):
        for net in self.nets:
            net.eval()
        return self

    def __call__(self, x):
        import torch

        return torch.log(torch.stack([torch.softmax(net(x), -1) for net in self.nets]).mean(0) + 1e-12)


@contextlib.contextmanager
def stitch_with(name: str, **kwargs):
    """Within the block, stitching calls ``stitch.<name>`` with these keyword arguments (those given as None: the
    library's), e.g. ``stitch_with("assign_identities", min_evidence=3)``."""
    from cichlid_track.tracking import stitch

    original = getattr(stitch, name)
    bound = {k: v for k, v in kwargs.items() if v is not None}
    if bound:
        setattr(stitch, name, functools.partial(original, **bound))
    try:
        yield
    finally:
        setattr(stitch, name, original)


def stitched_with_mean_of(paths: list, stitch):
    """``stitch(model_path)`` with the identity loader answering the mean of the networks in ``paths``."""
    from cichlid_track.tracking import identity_net

    load = identity_net.load_identity
    models = [load(p) for p in paths]
    if any(m is None for m in models):
        return None
    mean = identity_net.IdentityNet(MeanOfNetworks([m.net for m in models]), models[0].mean, models[0].std,
                                    models[0].n_classes, models[0].summary)
    identity_net.load_identity = lambda path, device="cpu": mean  # what the stitch files' loader imports
    try:
        return stitch(paths[0])
    finally:
        identity_net.load_identity = load


def main() -> None:
    from finished_run import load_run, run_parser

    from cichlid_track.metrics import mot_metrics, read_truth
    from cichlid_track.tracking import files, stitch_files, stitch_options
    from cichlid_track.tracking.identity_net import TrainingSettings

    ap = run_parser(__doc__)
    ap.add_argument("--ladder", action="append", help="fractions of reid.contact, comma-separated (repeatable)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--drop-misassembled", action="store_true")
    ap.add_argument("--ensemble", action="store_true", help="also stitch with the mean of the seeds' networks")
    ap.add_argument("--identity-epochs", type=float, help="identity.epochs to train with (default: the run's config)")
    ap.add_argument("--neighbours", type=float, nargs="+",
                    help="identity.neighbours values to train with, side by side (default: the run's config)")
    ap.add_argument("--steps-per-frame", type=float, nargs="+",
                    help="identity.steps_per_frame values to train with, side by side (default: the run's config)")
    ap.add_argument("--min-evidence", type=float, nargs="+", default=[None],
                    help="stitch each network with these assignment.MIN_EVIDENCE values, side by side")
    ap.add_argument("--continuity", type=float, nargs="+", default=[None],
                    help="stitch each network with these contact_paths.CONTINUITY weights, side by side")
    ap.add_argument("--one-fish-spread", type=float, nargs="+", default=[None],
                    help="stitch each network with these cleanup.ONE_FISH_SPREAD limits, side by side")
    ap.add_argument("--run-network", action="store_true",
                    help="stitch with the run's own identity_net.pth instead of training one (one row per setting)")
    ap.add_argument("--crops-dir", type=Path, help="read <dir>/<video>_crops.h5 instead of the run's crops")
    args = ap.parse_args()
    crops_dir = args.crops_dir.resolve() if args.crops_dir else None
    settings = load_run(args.config)
    cfg, ic = settings.config, settings.config["identity"]
    if args.drop_misassembled:
        drop_misassembled(cfg["tracking"]["stray_keypoints"])
    ladders = [tuple(float(x) for x in s.split(",")) for s in args.ladder] if args.ladder else [files.TRAINING_CONTACTS]
    neighbours = args.neighbours or [ic["neighbours"]]
    steps_per_frame = args.steps_per_frame or [ic.get("steps_per_frame", TrainingSettings.steps_per_frame)]
    epochs = args.identity_epochs or ic["epochs"]
    print("| video | ladder (x reid.contact) | neighbours | steps per frame | seed | trained at (body lengths) "
          "| labelled pieces | steps | training s | min evidence | continuity | one-fish spread | IDF1 / HOTA / switches |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for vid in args.videos or list(settings.samples):
            truth = read_truth(Path(cfg["ground_truth"]) / f"{vid}.csv")
            inputs = settings.identity_inputs(vid, existing_only=True)
            if crops_dir:
                inputs["crops_h5"] = str(crops_dir / f"{vid}_crops.h5")

            def stitched(model_path):
                return stitch_files(*settings.stitch_inputs(vid), **{**inputs, "identity_model": model_path},
                                    **stitch_options(cfg))

            def scored(result):
                m = mot_metrics(truth, result.reid, 20)
                return f"{m['IDF1']:.3f} / {m['HOTA']:.3f} / {m['ID switches']}"

            for ladder, share, spf in itertools.product(ladders, neighbours, steps_per_frame):
                trained = []
                for seed in args.seeds:
                    out = Path(tmp) / f"{vid}_identity_net_{seed}.pth"
                    if args.run_network:
                        out, summary = Path(inputs["identity_model"]), {"training_contact": "the run's"}
                    else:
                        summary = files.train_identity_file(
                            settings.video_file(vid, "_el.pickle"), inputs["crops_h5"], out,
                            settings.n_tracks_of(vid), stray=cfg["tracking"]["stray_keypoints"],
                            contact=cfg["reid"]["contact"], jump=cfg["reid"]["jump"], contacts=ladder,
                            settings=TrainingSettings(steps=ic["steps"], epochs=epochs, rounds=ic["rounds"],
                                                      seed=seed, steps_per_frame=spf, neighbours=share))
                    trained.append(out)
                    steps = sum(r["steps"] for r in summary.get("rounds", []))
                    for evidence, weight, spread in itertools.product(args.min_evidence, args.continuity,
                                                                      args.one_fish_spread):
                        with stitch_with("assign_identities", min_evidence=evidence), \
                                stitch_with("place_leftovers", continuity=weight, max_spread=spread):
                            result = stitched(out)
                        shown = ["" if v is None else f"{v:g}" for v in (evidence, weight, spread)]
                        print(f"| {vid} | {', '.join(map(str, ladder))} | {share} | {spf:g} | {seed} "
                              f"| {summary.get('training_contact', 'none')} | {summary.get('labelled_pieces', '')} "
                              f"| {steps} | {summary.get('seconds', '')} | {' | '.join(shown)} | {scored(result)} |",
                              flush=True)
                    if args.run_network:
                        break
                if args.ensemble and len(trained) > 1:
                    result = stitched_with_mean_of(trained, stitched)
                    print(f"| {vid} | {', '.join(map(str, ladder))} | {share} | {spf:g} | mean of seeds | | | | | | | "
                          f"| {scored(result) if result is not None else 'no network'} |", flush=True)


if __name__ == "__main__":
    main()
