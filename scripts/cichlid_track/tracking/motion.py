"""Step 2b: motion: a piece carried on at its own velocity, and the curve between two ends."""

from __future__ import annotations

import numpy as np


VELOCITY_FRAMES = 5  # frames at a piece's end whose displacement gives its speed and heading
PREDICTION_GAPS = (1, 2, 4, 8, 16, 32)  # gaps at which the motion model measures its own error


def velocity(xy: np.ndarray, inds: np.ndarray) -> np.ndarray | None:
    """Mean velocity (pixels/frame) over the finite rows of a centroid track; None with fewer than 2."""
    ok = np.isfinite(xy).all(axis=1)
    xy, inds = xy[ok], np.asarray(inds)[ok]
    if len(xy) < 2 or inds[-1] == inds[0]:
        return None
    return (xy[-1] - xy[0]) / (inds[-1] - inds[0])


def track_end(xy: np.ndarray, inds: np.ndarray, tail: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Position and velocity (over VELOCITY_FRAMES) of a centroid track at its last (tail) or first frame."""
    sl = slice(-VELOCITY_FRAMES, None) if tail else slice(0, VELOCITY_FRAMES)
    return xy[-1 if tail else 0], velocity(xy[sl], np.asarray(inds)[sl])


def end_state(t, tail: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Position and velocity of a piece at its last (tail) or first frame."""
    return track_end(t.centroid, t.inds, tail)


def extrapolation_error(p1, v1, p2, v2, gap: int) -> float:
    """Distance between a piece ending at p1 (velocity v1) and one starting ``gap`` frames later at p2
    (velocity v2), each carried on at its own speed and heading to where they should meet: fish
    swim on (a fish 12 frames out of sight is 12 steps further), they do not diffuse."""
    if v1 is not None and v2 is not None:
        a1 = a2 = gap / 2
    else:
        a1, a2 = (gap, 0) if v1 is not None else (0, gap if v2 is not None else 0)
    q1 = p1 + (v1 if v1 is not None else 0) * a1
    q2 = p2 - (v2 if v2 is not None else 0) * a2
    return float(np.linalg.norm(q1 - q2))


def fit_motion_error(pieces: list, body_len: float, rng, per_gap: int = 300) -> list:
    """[(gap, Rayleigh scale)] of :func:`extrapolation_error` measured inside pieces (cut a piece at
    a frame, leave ``gap`` frames out, extrapolate both sides) at each of PREDICTION_GAPS."""
    out = []
    for gap in PREDICTION_GAPS:
        need = 2 * VELOCITY_FRAMES + gap
        long = [t for t in pieces if len(t) >= need and t.inds[-1] - t.inds[0] == len(t) - 1]
        if not long:
            break
        errors = []
        for _ in range(per_gap):
            t = long[rng.integers(len(long))]
            i = int(rng.integers(VELOCITY_FRAMES, len(t) - VELOCITY_FRAMES - gap + 1))
            a, b = slice(i - VELOCITY_FRAMES, i), slice(i + gap - 1, i + gap - 1 + VELOCITY_FRAMES)
            e = extrapolation_error(*track_end(t.centroid[a], t.inds[a], tail=True),
                                    *track_end(t.centroid[b], t.inds[b], tail=False), gap)
            if np.isfinite(e):
                errors.append(e)
        if len(errors) >= 10:
            out.append((gap, max(float(np.sqrt(np.mean(np.square(errors)) / 2)), 0.5)))
    if not out:
        return [(1, max(body_len / 10, 0.5))]
    # a longer gap cannot be easier to bridge: where few long pieces make the estimate noisy, keep the larger
    gaps, sig = zip(*out)
    return list(zip(gaps, np.maximum.accumulate(sig).tolist()))


def bridge(p1, v1, p2, v2, gap: int, frames: np.ndarray) -> np.ndarray:
    """Where a fish seen at p1 (velocity v1) and, ``gap`` frames later, at p2 (velocity v2) was in
    between: cubic Hermite curve through both ends with their velocities (``frames`` counted from
    the first end); a missing velocity is taken as the straight line's."""
    line = (p2 - p1) / gap
    v1 = line if v1 is None else v1
    v2 = line if v2 is None else v2
    t = (np.asarray(frames, float) / gap)[:, None]
    return ((2 * t**3 - 3 * t**2 + 1) * p1 + (t**3 - 2 * t**2 + t) * gap * v1
            + (-2 * t**3 + 3 * t**2) * p2 + (t**3 - t**2) * gap * v2)
