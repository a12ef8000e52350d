"""Step 3 with an identity network: pieces assigned to the ``n`` fish over the whole video, not linked in pairs.

Each piece with a confident identity (:mod:`.identity_net`) goes to that fish, most certain pieces first;
two pieces seen in the same frame can never be the same fish, so a piece whose fish is already taken
then goes to its next class if that is still confident, else stays out. What stays out (pieces without
crops, unsure ones, ones of too few crops, contact frames) is placed afterwards by motion and appearance
(:mod:`.leftovers`, with the network's word among them), as in the linking without a network.
"""
from __future__ import annotations

import numpy as np

MIN_CONFIDENCE = 0.5  # a piece's class probability below this leaves it to motion
MIN_EVIDENCE = 3.0  # nor does the network alone place a piece with less (:func:`evidence`; 4 crops at margin 0.75):
# a 1-2-crop piece in a contact shows a neighbour too, and a wrong one anchors the placement of the frames around it
# (the leftover placement weighs motion and the network's word together; bench/README, session 19)
CONFIDENT = 0.8  # the report flags track stretches not held by pieces at least this certain


def evidence(probs: np.ndarray, n_crops: int) -> float:
    """How sure a piece's identity is: the margin of its best class over the next, more crops more sure."""
    top = np.sort(probs)[::-1]
    return float((top[0] - (top[1] if len(top) > 1 else 0.0)) * min(n_crops, 10))


def assign_identities(pieces: list, posteriors: dict, n: int, n_frames: int, min_confidence: float = MIN_CONFIDENCE,
                      min_evidence: float = MIN_EVIDENCE) -> tuple[list[list], dict]:
    """n chains (one per class, possibly empty) of the pieces a class can be given without two pieces of one
    class sharing a frame; and {piece: (class, probability)} of those. posteriors: {piece: (probs, crops)}."""
    chains: list[list] = [[] for _ in range(n)]
    occupied = np.zeros((n, n_frames), bool)
    given = {}
    sure = {t: evidence(posteriors[t][0], len(posteriors[t][1])) for t in pieces if t in posteriors}
    order = sorted((t for t in sure if sure[t] >= min_evidence), key=lambda t: (sure[t], len(t)), reverse=True)
    for t in order:
        probs = posteriors[t][0]
        for c in np.argsort(probs)[::-1]:
            if probs[c] < min_confidence:
                break
            if not occupied[c, t.inds].any():
                chains[c].append(t)
                occupied[c, t.inds] = True
                given[t] = (int(c), float(probs[c]))
                break
    return [sorted(c, key=lambda t: t.start) for c in chains], given


def identity_report(chains: list[list], given: dict, names: list[str], posteriors: dict,
                    confident: float = CONFIDENT, min_stretch: int = 30) -> dict:
    """What ``_tracking.json`` says about identities: per piece its fish, probability and what placed it
    (``network`` or ``motion``); the fraction of track frames held by confident network pieces; and the
    stretches of at least ``min_stretch`` frames of a track that no confident piece holds (the report flags them)."""
    pieces, frames, sure, stretches = [], 0, 0, []
    for k, chain in enumerate(chains):
        name = names[k] if k < len(names) else f"track{k}"
        run = None
        for t in sorted(chain, key=lambda t: t.start):
            cls, prob = given.get(t, (None, None))
            if cls is None and t in posteriors:
                prob = float(posteriors[t][0].max())
            by = "network" if cls is not None else "motion"
            pieces.append({"track": name, "start": int(t.start), "end": int(t.end), "by": by,
                           "probability": None if prob is None else round(float(prob), 3)})
            frames += len(t)
            ok = by == "network" and prob >= confident
            sure += len(t) * ok
            if ok:
                if run and run[2] - run[1] + 1 >= min_stretch:
                    stretches.append(run)
                run = None
            else:
                run = [name, int(t.start), int(t.end)] if run is None else [name, run[1], int(t.end)]
        if run and run[2] - run[1] + 1 >= min_stretch:
            stretches.append(run)
    return {"confident_frame_fraction": round(sure / max(frames, 1), 3),
            "low_confidence_stretches": [{"track": a, "start": b, "end": c} for a, b, c in stretches],
            "pieces": pieces}
