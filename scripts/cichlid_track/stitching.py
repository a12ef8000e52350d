"""Tracks from tracklets, with motion and re-ID appearance.

DLC's ellipse tracker makes tracklets that are right most of the time, but where two fish
touch it can swap them *inside* a tracklet, and no choice of which tracklet follows which can
undo that. Two methods (``reid.method``):

Both first drop keypoints farther than ``tracking.stray_keypoints`` body lengths from the middle of
their fish (:func:`drop_stray_keypoints`: DLC's assembly took them from a neighbour).

``pieces`` (default)
    1. Cut every tracklet where it starts or stops touching another fish (centroids closer than
       ``contact`` body lengths, or another fish vanishing into or appearing out of it) and make
       each contact frame its own piece: between contacts a piece is one fish.
    2. Fit, for this video, how likely a link is between pieces of the same fish rather than of
       two fish (:class:`LinkModel`). Appearance, one ratio per cue: the cosine similarity of the
       pieces' mean re-ID embeddings (DLC's transformer) and of their body colour (colour at points
       inside the fish, :func:`piece_frame_colours`); same fish = two halves of one piece, other
       fish = two pieces seen in the same frame. Motion: each piece carried on at its own velocity
       to where the two should meet (:func:`extrapolation_error`), against the error that
       extrapolation makes inside this video's pieces at that gap, versus a body length.
    3. Link the pieces into at most ``n_tracks`` chains by min-cost flow (:func:`link_pieces`),
       link cost = minus the summed log-likelihood ratios, each frame a chain holds a reward.
       Pieces may stay out (DLC's own stitcher must use every tracklet, which becomes
       infeasible once tracklets are cut); the short ones left out are then added where they
       are likelier the same fish than not, judged on the curve between the chain's pieces
       around them (:func:`place_leftovers`).
    A video where appearance does not tell the fish apart gets ratios near zero: motion decides.

``tracklets``
    DLC's ``TrackletStitcher`` over DLC's tracklets, with the cost of linking i to j
    ``distance / body_length + appearance_weight * (1 - cos(tail_i, head_j)) / 2``.

Both write the motion-only stitch (DLC's default cost) beside the re-ID one. DLC 3.0.2's own
transformer stitching uses appearance alone, runs the model once per candidate pair in float64
on the CPU, and looks features up with its buggy nearest-detection search.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .reid import frame_index, load_tracklets_dict, nearest_assembly

log = logging.getLogger(__name__)

END_FRAMES = 3  # tracklets method: detections averaged at each tracklet end
PIECE_MIN_LENGTH = 3  # DLC's minimum tracklet length; shorter pieces are placed after the flow
COVER_REWARD = 2.0  # log-likelihood units per frame a track holds
ENTRY_COST = 6.0  # for a track that starts after the first or ends before the last piece
MAX_LINK_GAP = 60  # frames: pieces farther apart in time are not linked directly
EMBEDDED_FRAMES = 30  # frames per piece whose embeddings are averaged
VELOCITY_FRAMES = 5  # frames at a piece's end whose displacement gives its speed and heading
PREDICTION_GAPS = (1, 2, 4, 8, 16, 32)  # gaps at which the motion model measures its own error
VANISH = 1.5  # contact distances within which a fish that vanishes has merged into another
STRAY_MIN_KEYPOINTS = 3  # a detection with fewer keypoints has no reliable middle to judge them by


@dataclass
class StitchResult:
    motion: "object"  # pandas DataFrame
    reid: "object"
    summary: dict = field(default_factory=dict)


def empty_tracks(scorer: str, individuals: list[str], bodyparts: list[str], n_frames: int):
    import pandas as pd

    cols = pd.MultiIndex.from_product([[scorer], individuals, bodyparts, ["x", "y", "likelihood"]],
                                      names=["scorer", "individuals", "bodyparts", "coords"])
    return pd.DataFrame(np.nan, index=range(n_frames), columns=cols)


def body_length(tracks: dict) -> float:
    """Median extent (bounding-box diagonal) of the detected keypoints, every fifth detection of each
    tracklet of ``{id: {frame: (K, 3)}}``: the natural unit of distances."""
    spans = []
    for frames in tracks.values():
        for kps in list(frames.values())[::5]:
            xy = kps[:, :2]
            if np.isfinite(xy[:, 0]).sum() >= 2:
                spans.append(float(np.linalg.norm(np.nanmax(xy, axis=0) - np.nanmin(xy, axis=0))))
    spans = [s for s in spans if s > 0]
    return float(np.median(spans)) if spans else 50.0


def drop_stray_keypoints(raw: dict, limit_px: float) -> tuple[dict, int]:
    """A copy of ``_el.pickle`` content in which each keypoint farther than ``limit_px`` from the median of
    its detection's keypoints is missing (x, y NaN, likelihood 0, as DLC marks one), and how many were.

    Where fish touch, DLC's part-affinity assembly now and then gives a fish a keypoint of its
    neighbour: one point a body length away pulls the fish's centre off by a tenth of that, makes
    it look in contact, and draws a line across the tank in the labelled video.
    """
    out, dropped = {}, 0
    for key, frames in raw.items():
        if key in ("header", "single") or not isinstance(frames, dict):
            out[key] = frames
            continue
        clean = {}
        for fkey, flat in frames.items():
            kps = np.array(flat, dtype=np.float64)  # a copy: (K, 4) as DLC 3 stores it, or flat x, y, likelihood
            kps = kps if kps.ndim == 2 else kps.reshape(-1, 3)
            xy = kps[:, :2]
            seen = np.isfinite(xy).all(axis=1)
            if seen.sum() >= STRAY_MIN_KEYPOINTS:
                stray = seen & (np.linalg.norm(xy - np.median(xy[seen], axis=0), axis=1) > limit_px)
                if stray.any() and (seen & ~stray).sum() >= STRAY_MIN_KEYPOINTS:
                    kps[stray, :2] = np.nan
                    kps[stray, 2] = 0.0
                    dropped += int(stray.sum())
            clean[fkey] = kps.reshape(np.shape(flat))
        out[key] = clean
    return out, dropped


def cleaned_tracklets(raw: dict, stray: float | None) -> tuple[dict, dict, float, int]:
    """The tracklets as both stitchers see them: ``(raw, tracks, body length, dropped)`` with stray
    keypoints (farther than ``stray`` body lengths from their fish's middle; None: none) dropped.
    The body length is measured before: the contact distance was set in its unit."""
    tracks = load_tracklets_dict(raw)
    body_len = body_length(tracks)
    if not stray or not tracks:
        return raw, tracks, body_len, 0
    raw, dropped = drop_stray_keypoints(raw, stray * body_len)
    return raw, load_tracklets_dict(raw), body_len, dropped


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def detection_features(tracklet, i: int, store, max_px: float = 3.0):
    """Stored features of the detection a tracklet holds at its i-th frame, or None if none matches."""
    frame = int(tracklet.inds[i])
    j, _ = nearest_assembly(tracklet.data[i][:, :3], store.keypoints(frame), max_distance=max_px)
    return np.asarray(store.features(frame)[j], dtype=np.float32) if j >= 0 else None


# --- method "tracklets": DLC's stitcher with an appearance term ---------------------------


def end_features(tracklet, store, head: bool, max_px: float = 3.0):
    """Mean keypoint features of up to END_FRAMES detections at one end of a tracklet."""
    order = range(len(tracklet)) if head else range(len(tracklet) - 1, -1, -1)
    feats = []
    for i in order:
        f = detection_features(tracklet, i, store, max_px)
        if f is not None:
            feats.append(f)
        if len(feats) >= END_FRAMES:
            break
    return np.mean(feats, axis=0) if feats else None


def tracklet_embeddings(stitcher, store, embed) -> dict:
    """{(tracklet, 'head'|'tail'): unit embedding}, computed in one batch."""
    keys, batch = [], []
    for t in stitcher.tracklets:
        for end in ("head", "tail"):
            f = end_features(t, store, head=(end == "head"))
            if f is not None:
                keys.append((t, end))
                batch.append(f)
    if not batch:
        return {}
    emb = embed(np.stack(batch))
    return dict(zip(keys, emb))


def make_weight_func(embeddings: dict, scale: float, appearance_weight: float):
    def weight(t1, t2):
        first, second = (t1, t2) if t1 < t2 else (t2, t1)
        cost = first.distance_to(second) / scale
        a, b = embeddings.get((first, "tail")), embeddings.get((second, "head"))
        if a is not None and b is not None:
            cost += appearance_weight * (1.0 - float(np.dot(a, b))) / 2.0
        else:
            cost += appearance_weight * 0.5  # unknown appearance: neutral
        return cost

    return weight


def _run(raw: dict, n_tracks, min_length, weight_func_factory, animal_names, n_frames):
    from deeplabcut.refine_training_dataset.stitch import TrackletStitcher

    stitcher = TrackletStitcher.from_dict_of_dict(dict(raw), n_tracks, min_length=min_length)
    weight = weight_func_factory(stitcher) if weight_func_factory else None
    stitcher.build_graph(weight_func=weight)
    stitcher.stitch()
    df = stitcher.format_df(animal_names)
    # DLC indexes up to the last tracked frame: we want one row per video frame
    return df.reindex(range(n_frames)), stitcher


# --- method "pieces": cut at contacts, calibrated links, min-cost flow ----------------------


def _centroid(kps: np.ndarray) -> np.ndarray:
    xy = np.asarray(kps, dtype=np.float64)[:, :2]
    xy = xy[np.all(np.isfinite(xy) & (xy >= 0), axis=1)]
    return xy.mean(axis=0) if len(xy) else np.full(2, np.nan)


def contact_frames(tracks: dict, limit_px: float) -> dict:
    """{tracklet id: frames where another tracklet's centroid is closer than ``limit_px``}."""
    by_frame: dict[int, list] = {}
    for tid, track in tracks.items():
        for f, kps in track.items():
            by_frame.setdefault(f, []).append((tid, _centroid(kps)))
    out = {tid: set() for tid in tracks}
    for f, items in by_frame.items():
        for a in range(len(items)):
            for b in range(a + 1, len(items)):
                if np.linalg.norm(items[a][1] - items[b][1]) < limit_px:
                    out[items[a][0]].add(f)
                    out[items[b][0]].add(f)
    # a fish that vanishes (or appears) next to another has merged into (or come out of) its
    # detection, and the tracker may go on with either: that frame is a contact too
    where = {f: dict(items) for f, items in by_frame.items()}
    for tid, track in tracks.items():
        for f, step in ((min(track), -1), (max(track), 1)):
            here = where[f][tid]
            for other in where.get(f + step, {}):
                if other != tid and other in where[f] and np.linalg.norm(where[f][other] - here) < VANISH * limit_px:
                    out[other].add(f + step)
    return out


def split_at_contacts(raw: dict, contacts: dict) -> dict:
    """DLC's tracklet dict (``_el.pickle`` content) cut into pieces: runs of frames without contact,
    and each contact frame alone. Keys are ``(original tracklet id, piece number)``."""
    out = {k: v for k, v in raw.items() if k in ("header", "single")}
    n = 0
    for tid, frames in raw.items():
        if tid in ("header", "single") or not isinstance(frames, dict):
            continue
        touching = contacts.get(tid, set())
        piece, prev = None, None
        for key in sorted(frames, key=frame_index):
            alone = frame_index(key) in touching
            if piece is None or alone or prev:
                piece = out.setdefault((tid, n), {})
                n += 1
            piece[key] = frames[key]
            prev = alone
    return out


def sampled_detections(pieces: list, store, max_frames: int = EMBEDDED_FRAMES) -> list[tuple]:
    """(piece, i, frame, row): up to ``max_frames`` detections of each piece, spread over it, with the row
    of the stored detection it holds (one lookup each, shared by every appearance cue)."""
    out = []
    for t in pieces:
        for i in np.unique(np.linspace(0, len(t) - 1, min(len(t), max_frames)).round().astype(int)):
            frame = int(t.inds[i])
            j, _ = nearest_assembly(t.data[i][:, :3], store.keypoints(frame), max_distance=3.0)
            if j >= 0:
                out.append((t, int(i), frame, j))
    return out


def _by_piece(owners: list, vectors) -> dict:
    out: dict = {}
    for t, v in zip(owners, vectors):
        out.setdefault(t, []).append(v)
    return {t: np.stack(v) for t, v in out.items()}


def piece_frame_embeddings(detections: list, store, embed) -> dict:
    """{piece: (m, D) re-ID embeddings of its sampled detections, in time order}; every piece of the
    video in one batched call."""
    if not detections:
        return {}
    batch = np.stack([np.asarray(store.features(frame)[j], dtype=np.float32) for _, _, frame, j in detections])
    return _by_piece([t for t, *_ in detections], embed(batch))


def piece_frame_colours(detections: list, store) -> dict:
    """{piece: (m, D) body-colour descriptors of its sampled detections}: the colour at each keypoint's
    body point (``body`` features), standardised over the video and scaled to unit length, so that a
    cosine compares colour patterns, not brightness of the whole tank."""
    rows, owners = [], []
    for t, i, frame, j in detections:
        present = np.isfinite(t.data[i][:, :2]).all(1)
        if present.sum() < 2:
            continue
        f = np.asarray(store.features(frame)[j], dtype=np.float32)
        rows.append(np.where(present[:, None], f, f[present].mean(0)).reshape(-1))  # missing: the fish's mean
        owners.append(t)
    if len(rows) < 2:
        return {}
    x = np.stack(rows)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
    return _by_piece(owners, x)


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


def piece_means(cues: dict) -> dict:
    """{cue: {piece: unit mean of its frame vectors}}."""
    return {name: {t: _unit(e.mean(0)) for t, e in per_piece.items()} for name, per_piece in cues.items()}


def similarities(means: dict, a, b) -> dict:
    """{cue: cosine of a's and b's means} for the cues both pieces have; b may be a vector per cue."""
    out = {}
    for name, m in means.items():
        vb = b.get(name) if isinstance(b, dict) else m.get(b)
        if a in m and vb is not None:
            out[name] = float(m[a] @ vb)
    return out


def fit_link_model(pieces: list, cues: dict, body_len: float, max_pairs: int = 2000,
                   seed: int = 0) -> LinkModel:
    """cues: {name: {piece: (m, D) unit vectors of its frames}}, e.g. ``{"transformer": ...}``."""
    rng = np.random.default_rng(seed)

    def fit(x):  # too few examples: a flat, uninformative distribution
        return (float(np.mean(x)), max(float(np.std(x)), 0.02)) if len(x) >= 3 else (0.0, 1.0)

    fits = {}
    for name, per_piece in cues.items():
        same = [float(_unit(e[:len(e) // 2].mean(0)) @ _unit(e[len(e) // 2:].mean(0)))
                for e in per_piece.values() if len(e) >= 6]
        means = {t: _unit(e.mean(0)) for t, e in per_piece.items()}
        other = [float(means[a] @ means[b]) for a, b in overlapping_pairs([t for t in pieces if t in means])]
        if len(other) > max_pairs:
            other = list(rng.choice(other, max_pairs, replace=False))
        fits[name] = (fit(same), fit(other))
    return LinkModel(cues=fits, motion_error=fit_motion_error(pieces, body_len, rng), body_len=body_len)


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


def make_link_cost(model: LinkModel, cues: dict):
    means = piece_means(cues)

    def cost(first, second):
        gap = int(second.start - first.end)
        llr = model.motion(extrapolation_error(*end_state(first, tail=True), *end_state(second, tail=False), gap), gap)
        llr += model.appearance(similarities(means, first, second), min(len(first), len(second)))
        return -llr

    return cost


def link_pieces(pieces: list, cost, n_tracks: int, first: int, last: int, max_gap: int = MAX_LINK_GAP,
                cover_reward: float = COVER_REWARD, entry_cost: float = ENTRY_COST) -> list[list]:
    """Up to ``n_tracks`` chains of pieces (each in time order) by min-cost flow; pieces may stay out.

    A chain holding a piece gains ``cover_reward`` per frame; a chain starting after ``first`` or
    ending before ``last`` pays ``entry_cost``; linking i to j costs ``cost(i, j)``.
    """
    import networkx as nx

    scale = 100  # network simplex wants integer costs
    G = nx.DiGraph()
    G.add_node("source", demand=-n_tracks)
    G.add_node("sink", demand=n_tracks)
    G.add_edge("source", "sink", capacity=n_tracks, weight=0)  # fewer tracks than fish
    for i, t in enumerate(pieces):
        G.add_edge(("in", i), ("out", i), capacity=1, weight=-round(scale * cover_reward * len(t)))
        G.add_edge("source", ("in", i), capacity=1, weight=round(scale * entry_cost * (t.start > first)))
        G.add_edge(("out", i), "sink", capacity=1, weight=round(scale * entry_cost * (t.end < last)))
    order = sorted(range(len(pieces)), key=lambda i: pieces[i].start)
    for a, i in enumerate(order):
        for j in order[a + 1:]:
            gap = pieces[j].start - pieces[i].end
            if pieces[j].start > pieces[i].end + max_gap:
                break
            if gap > 0:
                G.add_edge(("out", i), ("in", j), capacity=1, weight=round(scale * cost(pieces[i], pieces[j])))
    flow = nx.network_simplex(G)[1]
    chains = []
    for start, f in flow["source"].items():
        if start == "sink" or not f:
            continue
        chain, node = [], start
        while node != "sink":
            chain.append(pieces[node[1]])
            node = next(n for n, f in flow[("out", node[1])].items() if f)
        chains.append(chain)
    return chains


def as_tracklet(frames: dict):
    """One DLC ``Tracklet`` from {frame key: keypoint rows} (as DLC's ``from_dict_of_dict``)."""
    from deeplabcut.refine_training_dataset.stitch import Tracklet

    data = np.asarray(list(frames.values()), dtype=np.float64)
    if data.ndim == 2:  # flat rows
        data = data.reshape(len(data), -1, 3)
    return Tracklet(data, np.array([frame_index(k) for k in frames]))


def tracklet_objects(raw: dict) -> list:
    """DLC ``Tracklet`` objects of a tracklet dict, as DLC's stitcher makes them (rows without any
    keypoint dropped, split where frames are missing), without its all-pairs overlap table."""
    from deeplabcut.refine_training_dataset.stitch import TrackletStitcher

    out = []
    for key, frames in raw.items():
        if key in ("header", "single") or not isinstance(frames, dict) or not frames:
            continue
        t = TrackletStitcher.purify_tracklet(as_tracklet(frames))
        if t is None:
            continue
        breaks = np.flatnonzero(np.diff(t.inds) != 1) + 1
        out.extend(TrackletStitcher.split_tracklet(t, t.inds[breaks]) if len(breaks) else [t])
    return out


def cut_pieces(raw: dict, tracks: dict, limit_px: float) -> list:
    """DLC ``Tracklet`` pieces of a video's tracklets cut where fish come closer than ``limit_px``."""
    return tracklet_objects(split_at_contacts(raw, contact_frames(tracks, limit_px)))


def merge(pieces: list):
    """One DLC ``Tracklet`` from pieces that do not overlap in time (built once: ``+`` re-checks the
    order of every frame each time, which is quadratic over a long video)."""
    from deeplabcut.refine_training_dataset.stitch import Tracklet

    return Tracklet(np.concatenate([t.data for t in pieces]), np.concatenate([t.inds for t in pieces]))


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


def anchored_motion(model: LinkModel, anchor: np.ndarray, piece, max_gap: int) -> float | None:
    """Motion log-likelihood ratio of ``piece`` belonging to the fish whose anchor centroids (frames x 2,
    NaN where none) are given: on the :func:`bridge` between the anchors around it, else carried on
    from the one within ``max_gap`` frames; None when no anchor is that close."""
    n_frames = len(anchor)
    seen = np.isfinite(anchor[:, 0])
    before = np.flatnonzero(seen[max(0, piece.start - max_gap):piece.start])
    after = np.flatnonzero(seen[piece.end + 1:piece.end + 1 + max_gap])
    if len(before):
        fb = max(0, piece.start - max_gap) + before[-1]
        near = np.arange(max(0, fb - VELOCITY_FRAMES + 1), fb + 1)
        pb, vb = track_end(anchor[near], near, tail=True)
    if len(after):
        fa = piece.end + 1 + after[0]
        near = np.arange(fa, min(n_frames, fa + VELOCITY_FRAMES))
        pa, va = track_end(anchor[near], near, tail=False)
    if len(before) and len(after):
        where = bridge(pb, vb, pa, va, int(fa - fb), piece.inds - fb)
        ok = np.isfinite(piece.centroid).all(axis=1)
        if not ok.any():
            return None
        err = float(np.mean(np.linalg.norm(piece.centroid[ok] - where[ok], axis=1)))
        return model.motion(err, int(min(piece.start - fb, fa - piece.end)))
    if len(before):
        gap = int(piece.start - fb)
        return model.motion(extrapolation_error(pb, vb, *end_state(piece, tail=False), gap), gap)
    if len(after):
        gap = int(fa - piece.end)
        return model.motion(extrapolation_error(*end_state(piece, tail=True), pa, va, gap), gap)
    return None


def place_leftovers(chains: list[list], leftovers: list, model: LinkModel, cues: dict, n_frames: int,
                    max_gap: int = MAX_LINK_GAP) -> tuple[list[list], int]:
    """Add each leftover piece (longest first) to the chain where it is likelier the same fish than
    not: appearance against the chain's mean; motion against where the chain's fish should be.

    That is judged from the chain's *anchors*, its pieces of PIECE_MIN_LENGTH frames or more (single
    contact frames are noisy: two fish's keypoints mix): between two anchors, on the curve that
    joins them (:func:`bridge`), else carried on from the one within ``max_gap`` frames. DLC's own
    add-back drops single frames and can pick the wrong track (it indexes the list of fitting tracks
    with a position in the list of all tracks)."""
    means = piece_means(cues)
    chains = [list(c) for c in chains]
    protos = []
    occupied = np.zeros((len(chains), n_frames), bool)
    anchor = np.full((len(chains), n_frames, 2), np.nan)
    for n, chain in enumerate(chains):
        proto = {}
        for name, m in means.items():
            v = [m[t] * len(t) for t in chain if t in m]
            if v:
                proto[name] = _unit(np.sum(v, axis=0))
        protos.append(proto)
        for t in chain:
            occupied[n, t.inds] = True
            anchor[n, t.inds] = t.centroid
    placed = 0
    for piece in sorted(leftovers, key=len, reverse=True):
        best, best_llr = None, 0.0
        for n in range(len(chains)):
            if occupied[n, piece.inds].any():  # that fish is already elsewhere then
                continue
            llr = anchored_motion(model, anchor[n], piece, max_gap)
            if llr is None:
                continue
            llr += model.appearance(similarities(means, piece, protos[n]), len(piece))
            if llr > best_llr:
                best, best_llr = n, llr
        if best is not None:
            chains[best].append(piece)
            occupied[best, piece.inds] = True
            if len(piece) >= PIECE_MIN_LENGTH:
                anchor[best, piece.inds] = piece.centroid
            placed += 1
    return chains, placed


def stitch_pieces(raw: dict, tracks: dict, n_tracks: int, animal_names: list[str], n_frames: int, store, embed,
                  body_len: float, contact: float, summary: dict, body_store=None):
    """Method ``pieces`` (module doc): the re-ID tracks as a DataFrame in DLC's layout.
    raw: the ``_el.pickle`` content; tracks: the same as :func:`load_tracklets_dict` reads it;
    body_store: features with the ``body`` colour, a second appearance cue (None: transformer only)."""
    pieces = cut_pieces(raw, tracks, contact * body_len)
    linkable = [t for t in pieces if len(t) >= PIECE_MIN_LENGTH]
    if not linkable:
        return None
    detections = sampled_detections(pieces, store)
    cues = {"transformer": piece_frame_embeddings(detections, store, embed)}
    if body_store is not None:
        cues["body colour"] = piece_frame_colours(detections, body_store)
    cues = {name: c for name, c in cues.items() if c}
    model = fit_link_model(pieces, cues, body_len)
    chains = link_pieces(linkable, make_link_cost(model, cues), n_tracks,
                         min(t.start for t in pieces), max(t.end for t in pieces))
    if not chains:
        return None
    linked = {id(t) for chain in chains for t in chain}
    leftovers = [t for t in pieces if id(t) not in linked]
    chains, placed = place_leftovers(chains, leftovers, model, cues, max(t.end for t in pieces) + 1)
    summary.update(pieces=len(pieces), pieces_linked=len(linked), pieces_placed_after=placed,
                   pieces_left_out=len(leftovers) - placed, link_model=model.as_dict())
    return tracks_dataframe([merge(chain) for chain in chains], raw, n_tracks, animal_names, n_frames)


def tracks_dataframe(tracks: list, raw: dict, n_tracks: int, animal_names: list[str], n_frames: int):
    """Tracks (DLC ``Tracklet`` objects, the longest at least 3 frames) in DLC's ``_el.h5`` layout, one row
    per frame. DLC's stitcher does the writing; it is built on one track only, since its constructor
    compares every pair of tracklets (slow for thousands of pieces)."""
    from deeplabcut.refine_training_dataset.stitch import TrackletStitcher

    st = TrackletStitcher([max(tracks, key=len)], n_tracks, min_length=PIECE_MIN_LENGTH, prestitch_residuals=False)
    st.header = raw.get("header")
    if isinstance(raw.get("single"), dict) and raw["single"]:
        st.single = as_tracklet(raw["single"])
    st.tracks = np.asarray(tracks, dtype=object)
    return st.format_df(animal_names).reindex(range(n_frames))


# --- both -----------------------------------------------------------------------------------


def fill_gaps(df, max_gap: int):
    """Linearly interpolate every column over runs of at most ``max_gap`` missing frames between two
    tracked frames (a fish hidden for a moment); longer gaps, and the ends, stay empty."""
    if max_gap <= 0:
        return df
    values = df.to_numpy(float)
    filled = df.interpolate(method="linear", limit_area="inside", axis=0).to_numpy(float)
    out = values.copy()
    for col in np.flatnonzero(np.isnan(values).any(axis=0)):
        edges = np.flatnonzero(np.diff(np.r_[0, np.isnan(values[:, col]).astype(int), 0]))
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a <= max_gap:
                out[a:b, col] = filled[a:b, col]
    return df.__class__(out, index=df.index, columns=df.columns)


def stitch_video(el_pickle, n_tracks: int, animal_names: list[str], n_frames: int, scorer: str,
                 bodyparts: list[str], min_length: int = 10, store=None, embed=None, method: str = "pieces",
                 appearance_weight: float = 1.0, contact: float = 0.5, max_gap: int = 0,
                 body_store=None, stray: float | None = 0.75) -> StitchResult:
    """Motion-only and re-ID stitching of one video's tracklets (``method``: see the module doc).

    ``max_gap``: gaps of at most this many frames are interpolated in both outputs; ``body_store``:
    features read as body colour, a second appearance cue of method ``pieces``; ``stray``: keypoints
    farther than this many body lengths from the middle of their fish are dropped first
    (:func:`drop_stray_keypoints`; None: kept).
    """
    import pickle

    with open(el_pickle, "rb") as fh:
        raw = pickle.load(fh)
    summary = {"n_frames": n_frames, "reid_used": False}
    raw, tracks, body_len, summary["stray_keypoints_dropped"] = cleaned_tracklets(raw, stray)
    summary["tracklets_before"] = len(tracks)
    if not tracks or max(len(t) for t in tracks.values()) < 3:
        log.warning("%s: no tracklet to stitch (no fish detected?); writing empty tracks", el_pickle)
        empty = empty_tracks(scorer, animal_names[:n_tracks], bodyparts, n_frames)
        summary.update(tracklets_after=0, warning="no tracklets: empty tracks written")
        return StitchResult(empty, empty.copy(), summary)
    min_length = max(3, min(min_length, max(len(t) for t in tracks.values())))

    motion_df, motion_st = _run(raw, n_tracks, min_length, None, animal_names, n_frames)
    summary["tracklets_graph"] = len(motion_st.tracklets)
    summary["tracks_after"] = 0 if motion_st.tracks is None else len(motion_st.tracks)
    motion_df = fill_gaps(motion_df, max_gap)
    if store is None or embed is None:
        summary["warning"] = summary.get("warning", "re-ID unavailable: motion-only tracks used")
        return StitchResult(motion_df, motion_df.copy(), summary)

    summary["method"] = method
    reid_df = None
    if method == "pieces":
        reid_df = stitch_pieces(raw, tracks, n_tracks, animal_names, n_frames, store, embed, body_len, contact,
                                summary, body_store=body_store)
        if reid_df is None:
            log.warning("%s: no piece of %d frames between contacts; stitching whole tracklets instead",
                        el_pickle, PIECE_MIN_LENGTH)
            summary["method"] = method = "tracklets"
    if reid_df is None:
        def factory(stitcher):
            emb = tracklet_embeddings(stitcher, store, embed)
            summary["embedded_ends"] = len(emb)
            return make_weight_func(emb, body_len, appearance_weight)

        reid_df, _ = _run(raw, n_tracks, min_length, factory, animal_names, n_frames)
    summary["reid_used"] = True
    return StitchResult(motion_df, fill_gaps(reid_df, max_gap), summary)
