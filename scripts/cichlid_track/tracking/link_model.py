"""Step 2c: the per-video likelihood model of a link (same fish vs another fish), fitted on the video itself."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .appearance import unit_vector
from .motion import fit_motion_error

def _gauss_logpdf(x, mu, sd):
    return -0.5 * ((x - mu) / sd) ** 2 - np.log(sd)


def _rayleigh_logpdf(d, sigma):
    d = max(float(d), 1e-6)
    return np.log(d) - 2 * np.log(sigma) - d * d / (2 * sigma * sigma)


@dataclass
class LinkModel:
    """Log-likelihood ratios, same fish vs another fish, fitted on one video (see module doc).

    ``cues``: for each appearance cue (the re-ID transformer's embedding, body colour), the mean and sd
    of the cosine similarity of two pieces of the same fish and of two fish seen in the same frame.
    The cues' ratios add up (naive Bayes): a cue that does not tell these fish apart fits the same
    distribution twice and says nothing.
    """

    cues: dict  # name -> ((mean, sd) same fish, (mean, sd) other fish)
    motion_error: list  # [(gap, Rayleigh scale of the extrapolation error in pixels)], gaps increasing
    body_len: float
    limit: float = 8.0  # no single cue may claim more than this
    full_len: int = 5  # pieces shorter than this have proportionally less say on appearance

    def appearance(self, sims: dict, n_frames: int) -> float:
        llr = 0.0
        for name, sim in sims.items():
            same, other = self.cues[name]
            llr += float(np.clip(_gauss_logpdf(sim, *same) - _gauss_logpdf(sim, *other), -self.limit, self.limit))
        return llr * min(1.0, n_frames / self.full_len)

    def sigma(self, gap: int) -> float:
        """Expected extrapolation error after ``gap`` frames (linear beyond the longest gap measured)."""
        gaps, sig = np.array(self.motion_error, dtype=float).T
        if gap > gaps[-1]:
            return float(sig[-1] * gap / gaps[-1])
        return float(np.interp(gap, gaps, sig))

    def motion(self, dist: float, gap: int) -> float:
        """dist: between where two pieces meet when each is carried on at its own velocity
        (:func:`extrapolation_error`); same fish: Rayleigh with the measured error at that gap;
        another fish: anywhere within about a body length."""
        if not np.isfinite(dist):
            return 0.0
        sigma_same = self.sigma(max(gap, 1))
        llr = _rayleigh_logpdf(dist, sigma_same) - _rayleigh_logpdf(dist, max(self.body_len, sigma_same))
        return float(np.clip(llr, -self.limit, self.limit))

    def as_dict(self) -> dict:
        return {"appearance": {name: {"same_fish_similarity": list(same), "other_fish_similarity": list(other)}
                               for name, (same, other) in self.cues.items()},
                "motion_error_px": {int(g): round(float(e), 2) for g, e in self.motion_error},
                "body_length_px": self.body_len}


def fit_link_model(pieces: list, cues: dict, body_len: float, max_pairs: int = 2000,
                   seed: int = 0) -> LinkModel:
    """cues: {name: {piece: (m, D) unit vectors of its frames}}, e.g. ``{"transformer": ...}``."""
    rng = np.random.default_rng(seed)

    def fit(x):  # too few examples: a flat, uninformative distribution
        return (float(np.mean(x)), max(float(np.std(x)), 0.02)) if len(x) >= 3 else (0.0, 1.0)

    fits = {}
    for name, per_piece in cues.items():
        same = [float(unit_vector(e[:len(e) // 2].mean(0)) @ unit_vector(e[len(e) // 2:].mean(0)))
                for e in per_piece.values() if len(e) >= 6]
        means = {t: unit_vector(e.mean(0)) for t, e in per_piece.items()}
        other = [float(means[a] @ means[b]) for a, b in overlapping_pairs([t for t in pieces if t in means])]
        if len(other) > max_pairs:
            other = list(rng.choice(other, max_pairs, replace=False))
        fits[name] = (fit(same), fit(other))
    return LinkModel(cues=fits, motion_error=fit_motion_error(pieces, body_len, rng), body_len=body_len)


def overlapping_pairs(pieces: list) -> list[tuple]:
    """Pairs of pieces that share a frame (two fish), by a sweep over start times."""
    order = sorted(pieces, key=lambda t: t.start)
    pairs = []
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            if b.start > a.end:
                break
            if a in b:  # spans overlap; a gap inside a piece could still separate them
                pairs.append((a, b))
    return pairs
