"""Step 2d: who each piece is, from its pose-aligned images: a small CNN trained per video on the video itself.

As idtracker.ai does with its "global fragments", labels come from the video: a stretch of frames where
all ``n`` fish are seen apart, whole, holds ``n`` pieces that are ``n`` different fish; each becomes one class. The
network is trained on their crops (:mod:`..crops`: aligned to the body axis, so one fish gives one image
whichever way it swims), then every other such stretch is classified; a stretch whose pieces get ``n``
distinct, confident classes (one-to-one, Hungarian) joins the training set, and the network is trained on.
Identity is then a classification over the ``n`` fish of the video: one wrong piece is one local error,
not a swap that a chain of pairwise links carries to the end of the video.

Used by the ``identity`` rule (training, :func:`train_identity_file`) and by stitching
(:func:`piece_posteriors`: a probability over the fish for every piece, see :mod:`.assignment`).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ..dlc_pickles import seen_keypoints
from .appearance import sampled_detections

log = logging.getLogger(__name__)

MIN_CROPS = 2  # a piece with fewer usable crops gets no identity from the network
ACCEPT = 0.8  # a stretch joins the training set when each new piece's class is this probable
WHOLE_FISH = 0.5  # a piece names a class only if its typical detection holds this fraction of the keypoints or more
NEIGHBOURS = 0.25  # training crops shown with a neighbour alongside, as contact frames show a fish
MIN_FIRST_CROPS = 10  # per fish: a network first taught on fewer (its first stretch of all fish apart) does not
# assign pieces on its own, it is one cue of the links (lookalike-6-big-bright, session 21: 28 crops for 6 big fish
# that are never apart for long; assigned by it 0.809 IDF1, as a link cue 0.960; every other suite scene had 23+)
BATCH = 64


@dataclass
class TrainingSettings:
    steps: int = 400  # most steps of one round (64 crops each)
    epochs: float = 160  # passes over a round's crops, if fewer than ``steps`` steps (a short video trains less)
    steps_per_frame: float = 2.0  # and at most this many steps per frame the video spans: a short clip's crops are
    # a few hundred near-repeats (150-frame clips: 382-600 steps in all, not up to 1,000; 200+ frames: ``steps``).
    # 1 undertrained look-alikes (hard demo IDF1 0.912 against 0.945 over 3 seeds; bench/README)
    rounds: int = 3  # accumulation rounds after the first
    learning_rate: float = 3e-3
    seed: int = 0
    device: str = "cpu"
    max_crops_per_piece: int = 200  # crops read per piece (evenly spread over it)
    neighbours: float = NEIGHBOURS  # fraction of training crops shown with a neighbour (:func:`_neighbour_alongside`)


@dataclass
class IdentityNet:
    """The trained network with what it needs to read crops (per-channel mean and sd of this video's crops)."""
    net: object
    mean: np.ndarray
    std: np.ndarray
    n_classes: int
    summary: dict = field(default_factory=dict)


def make_net(n_classes: int):
    """A small CNN for (3, 20-32, 40-64) crops; pooling keeps 4 positions along the body (where a stripe is
    says who the fish is)."""
    import torch.nn as nn

    def block(i, o, stride):
        return [nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

    return nn.Sequential(*block(3, 16, 1), *block(16, 32, 2), *block(32, 32, 1), *block(32, 64, 2),
                         *block(64, 64, 1), nn.AdaptiveAvgPool2d((1, 4)), nn.Flatten(), nn.Dropout(0.2),
                         nn.Linear(256, n_classes))


def piece_crops(pieces: list, store, max_per_piece: int | None = None, min_crops: int = MIN_CROPS,
                any_frame: bool = False) -> dict:
    """{piece: (m, H, W, 3) uint8} usable crops of each piece with at least ``min_crops`` (from ``_crops.h5``);
    any_frame: also the crops of close fish off the regular frames (:func:`.appearance.sampled_detections`)."""
    from ..crops import usable_crops

    found = sampled_detections(pieces, store, max_per_piece or 10 ** 9, any_frame=any_frame)
    if not found:
        return {}
    owners = [t for t, *_ in found]
    images = store.rows([f for _, _, f, _ in found], [r for *_, r in found])
    stacked, start = {}, 0
    for end in [i for i in range(1, len(owners)) if owners[i] is not owners[i - 1]] + [len(owners)]:
        c = images[start:end]
        c = c[usable_crops(c)]
        if len(c) >= min_crops:
            stacked[owners[start]] = c
        start = end
    return stacked


def whole_fish(piece, fraction: float = WHOLE_FISH) -> bool:
    """Whether a piece's detections are whole fish: its median detection has at least ``fraction`` of the
    keypoints. The pose model can assemble a fast fish's tail (3 of 9 keypoints) apart from the rest of it; that
    piece beside the whole fish makes a stretch of ``n`` pieces out of ``n - 1`` fish, and taught the network that
    one fish is two classes (easy-6-fast-dark at 100 epochs: 0.765 IDF1)."""
    seen = seen_keypoints(np.asarray(piece.data))
    return float(np.median(seen.sum(axis=1))) >= fraction * seen.shape[1]


def labelling_pieces(pieces: list, crops: dict) -> list:
    """The pieces that may name a class: with crops, and whole fish (:func:`whole_fish`)."""
    return [t for t in pieces if t in crops and whole_fish(t)]


def global_fragments(pieces: list, n: int) -> list[tuple[tuple, int, int]]:
    """Stretches (pieces, first frame, last frame) where exactly ``n`` of ``pieces`` are present together,
    one per change of who is present, by a sweep over piece starts and ends."""
    starts, ends = {}, {}
    for i, t in enumerate(pieces):
        starts.setdefault(t.start, []).append(i)
        ends.setdefault(t.end + 1, []).append(i)
    events = sorted(set(starts) | set(ends))
    active: set[int] = set()  # who is present from one event to the next: linear in the video's length
    out = []
    for a, b in zip(events[:-1], events[1:]):
        active.difference_update(ends.get(a, ()))
        active.update(starts.get(a, ()))
        if len(active) == n:
            out.append((tuple(pieces[i] for i in sorted(active)), a, b - 1))
    return out


def channel_stats(crop_sets) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and sd (0-1 scale, float32) over all pixels of all crops, summed set by set."""
    total, sq, count = np.zeros(3), np.zeros(3), 0
    for c in crop_sets:
        px = c.reshape(-1, 3)
        total += px.sum(0, dtype=np.float64)
        sq += (px.astype(np.float64) ** 2).sum(0)
        count += len(px)
    mean = total / max(count, 1)
    var = np.maximum(sq / max(count, 1) - mean ** 2, 0)
    return (mean / 255).astype(np.float32), (np.sqrt(var) / 255 + 1e-3).astype(np.float32)


def _tensors(crops: np.ndarray, mean: np.ndarray, std: np.ndarray):
    import torch

    x = torch.from_numpy(crops).float().div_(255).permute(0, 3, 1, 2)
    return (x - torch.from_numpy(mean).view(1, 3, 1, 1)) / torch.from_numpy(std).view(1, 3, 1, 1)


def _augment(x, gen):
    """Small random turns, scalings and shifts (the pose is a few pixels off) and per-channel gain."""
    import torch
    import torch.nn.functional as F

    b = len(x)
    angle = (torch.rand(b, generator=gen) - 0.5) * 0.12
    scale = 1 + (torch.rand(b, generator=gen) - 0.5) * 0.12
    shift = (torch.rand(b, 2, generator=gen) - 0.5) * 0.1
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    return x * (1 + (torch.rand(b, 3, 1, 1, generator=gen) - 0.5) * 0.2)


def _neighbour_alongside(x, gen, fraction: float):
    """Each crop, with probability ``fraction``, gets another crop's middle rows (that fish's body) pasted
    30-70 % of the crop's height above or below its middle, shifted along the body: a fish touching another, as the
    crops of contact frames show it. The label stays the crop's own fish. Trained only on fish seen apart, the network
    names far fewer contact crops right (lookalike-10: 42 %, against 86 % of crops of fish apart), and contact frames
    are most of what stitching places one by one."""
    import torch

    b, _, h, w = x.shape
    if fraction <= 0 or b < 2:  # off: the random stream is left as it was
        return x
    chosen = torch.nonzero(torch.rand(b, generator=gen) < fraction).flatten().tolist()
    partner = (torch.arange(b) + torch.randint(1, b, (b,), generator=gen)) % b  # never the crop itself
    side = torch.randint(0, 2, (b,), generator=gen) * 2 - 1
    dy = torch.randint(int(0.3 * h), int(0.7 * h) + 1, (b,), generator=gen) * side
    dx = torch.randint(-(w // 2), w // 2 + 1, (b,), generator=gen)
    half = max(1, h // 4)  # the middle rows hold the fish's body
    out = x.clone()
    for i in chosen:
        lo, hi = h // 2 - half + int(dy[i]), h // 2 + half + int(dy[i])
        top, bottom = max(0, lo), min(h, hi)
        if bottom > top:
            body = torch.roll(x[partner[i]], int(dx[i]), dims=2)
            out[i, :, top:bottom] = body[:, top - int(dy[i]):bottom - int(dy[i])]
    return out


def _train(model: IdentityNet, x, y, steps: int, settings: TrainingSettings, gen) -> float:
    """``steps`` of class-balanced mini-batches of ``x`` (uint8 crops, normalised per batch: an hour-long video's
    training set stays at 1 byte per pixel); returns the last 50 steps' mean loss."""
    import torch
    import torch.nn.functional as F

    counts = torch.bincount(y, minlength=model.n_classes).float()
    weights = 1.0 / counts.clamp(min=1)[y]
    opt = torch.optim.AdamW(model.net.parameters(), lr=settings.learning_rate, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, settings.learning_rate, total_steps=max(steps, 2))
    model.net.train()
    losses = []
    for _ in range(steps):
        idx = torch.multinomial(weights, BATCH, replacement=True, generator=gen)
        xb = _augment(_tensors(x[idx.numpy()], model.mean, model.std), gen)
        xb = _neighbour_alongside(xb, gen, settings.neighbours).to(settings.device)
        loss = F.cross_entropy(model.net(xb), y[idx].to(settings.device), label_smoothing=0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    model.net.eval()
    return float(np.mean(losses[-50:])) if losses else float("nan")


def crop_probabilities(model: IdentityNet, crops: np.ndarray, device: str = "cpu") -> np.ndarray:
    """(m, n_classes) softmax of each crop."""
    import torch

    model.net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(crops), 512):
            x = _tensors(crops[i:i + 512], model.mean, model.std).to(device)
            out.append(torch.softmax(model.net(x), -1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.n_classes), np.float32)


def piece_posteriors(model: IdentityNet, crops: dict, device: str = "cpu") -> dict:
    """{piece: (probabilities over the fish (n,), per-crop probabilities (m, n))}; the piece's probability
    is the mean of its crops' (robust to a few bad crops, unlike a product of correlated frames)."""
    out, group, size = {}, [], 0

    def classify():
        probs = crop_probabilities(model, np.concatenate([crops[t] for t in group]), device)
        at = 0
        for t in group:
            p = probs[at:at + len(crops[t])]
            at += len(crops[t])
            out[t] = (p.mean(0), p)

    for t in crops:  # a few thousand crops at a time, not one copy of the whole video's
        group.append(t)
        size += len(crops[t])
        if size >= 4096:
            classify()
            group, size = [], 0
    if group:
        classify()
    return out


def train_identity(pieces: list, crops: dict, n: int, settings: TrainingSettings | None = None) -> IdentityNet | None:
    """The per-video identity network (module doc), or None with the reason logged when the video has no
    stretch where all ``n`` fish are seen apart. pieces: the video's pieces; crops: :func:`piece_crops`."""
    import torch
    from scipy.optimize import linear_sum_assignment

    settings = settings or TrainingSettings()
    start_time = time.time()
    torch.manual_seed(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    frags = global_fragments(labelling_pieces(pieces, crops), n)
    if n < 2 or not frags:
        log.warning("identity network: no stretch of the video where all %d fish are seen apart, whole", n)
        return None

    def quality(frag):  # idtracker.ai's choice: the stretch whose shortest piece is longest
        return min(len(crops[t]) for t in frag[0])

    frags.sort(key=quality, reverse=True)
    first = frags[0][0]
    labels = {t: k for k, t in enumerate(first)}
    mean, std = channel_stats(crops.values())
    model = IdentityNet(make_net(n).to(settings.device), mean, std, n)

    # round 0 on the first stretch; its pieces' last fifth is held out to say how well it learned
    held_x, held_y, train_sets = [], [], []
    for t, k in labels.items():
        c = crops[t]
        cut = max(1, int(len(c) * 0.8)) if len(c) >= 5 else len(c)
        train_sets.append((c[:cut], k))
        if cut < len(c):
            held_x.append(c[cut:])
            held_y.append(np.full(len(c) - cut, k))
    x = np.concatenate([c for c, _ in train_sets])  # uint8: normalised batch by batch
    y = torch.from_numpy(np.concatenate([np.full(len(c), k) for c, k in train_sets])).long()
    span = max(t.end for t in pieces) - min(t.start for t in pieces) + 1
    cap = max(30, min(settings.steps, int(settings.steps_per_frame * span)))

    def steps_for(n_crops):
        return int(np.clip(settings.epochs * n_crops / BATCH, 30, cap))

    steps = steps_for(len(y))
    loss = _train(model, x, y, steps, settings, gen)
    held = None
    if held_x:
        p = crop_probabilities(model, np.concatenate(held_x), settings.device)
        held = float((p.argmax(1) == np.concatenate(held_y)).mean())
    history = [{"round": 0, "pieces": len(labels), "crops": int(len(y)), "steps": steps, "loss": round(loss, 4),
                "held_out_accuracy": held}]

    for rnd in range(1, settings.rounds + 1):
        post = piece_posteriors(model, crops, settings.device)
        new: dict = {}
        for present, _, _ in frags:
            if all(t in labels for t in present):
                continue
            p = np.stack([post[t][0] for t in present])
            rows, cols = linear_sum_assignment(-np.log(p + 1e-9))
            known = {r: labels.get(present[r], new.get(present[r])) for r in rows}
            if any(k is not None and k != c for r, c in zip(rows, cols) for k in [known[r]]):
                continue  # the network contradicts what it was taught: this stretch stays out
            for r, c in zip(rows, cols):  # the pieces it is sure of join, each its own class
                if known[r] is None and p[r, c] >= ACCEPT and p[r].argmax() == c:
                    new[present[r]] = int(c)
        if not new:
            break
        labels.update(new)
        x = np.concatenate([crops[t] for t in labels])
        y = torch.from_numpy(np.concatenate([np.full(len(crops[t]), k) for t, k in labels.items()])).long()
        steps = steps_for(len(y)) // 2  # from where it stands: half as long
        loss = _train(model, x, y, steps, settings, gen)
        history.append({"round": rnd, "pieces": len(labels), "crops": int(len(y)), "steps": steps,
                        "loss": round(loss, 4)})

    covered = sum(len(crops[t]) for t in labels)
    model.summary = {"classes": n, "stretches_all_apart": len(frags), "first_stretch_frames":
                     [int(frags[0][1]), int(frags[0][2])], "labelled_pieces": len(labels),
                     "labelled_crop_fraction": round(covered / max(1, sum(len(c) for c in crops.values())), 3),
                     "held_out_accuracy": held, "rounds": history, "seconds": round(time.time() - start_time, 1)}
    log.info("identity network: %s", model.summary)
    return model


def first_lesson_crops(model: IdentityNet) -> float | None:
    """Training crops per fish of the network's first round (the first stretch where all fish are apart), from its
    summary; None where the summary does not say (a network saved before session 21, or a stand-in)."""
    rounds = model.summary.get("rounds") or [{}]
    crops = rounds[0].get("crops")
    return None if crops is None else crops / max(model.n_classes, 1)


def assigns_alone(model: IdentityNet, min_crops: float = MIN_FIRST_CROPS) -> bool:
    """Whether the network was taught enough to give pieces to fish by itself (:mod:`.assignment`): at least
    ``min_crops`` crops per fish in its first round. Fewer, and it is one more cue of the links instead."""
    crops = first_lesson_crops(model)
    return crops is None or crops >= min_crops


def save_identity(model: IdentityNet | None, path, reason: str = "") -> None:
    """The weights file the ``identity`` rule writes (written whole or not at all); None: a file that says
    why there is no network (stitching then links by motion and re-ID only)."""
    import torch

    from ..atomic import atomic_path

    payload = {"reason": reason or "no stretch where all fish are seen apart"} if model is None else {
        "state_dict": model.net.state_dict(), "mean": model.mean, "std": model.std, "n_classes": model.n_classes,
        "summary": model.summary}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_identity(path, device: str = "cpu") -> IdentityNet | None:
    """The network saved by :func:`save_identity`, or None if the file says there is none."""
    import torch

    payload = torch.load(path, map_location=device, weights_only=False)
    if "state_dict" not in payload:
        return None
    net = make_net(int(payload["n_classes"]))
    net.load_state_dict(payload["state_dict"])
    net.to(device).eval()
    return IdentityNet(net, np.asarray(payload["mean"]), np.asarray(payload["std"]), int(payload["n_classes"]),
                       dict(payload.get("summary", {})))
