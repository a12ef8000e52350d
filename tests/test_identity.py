"""Identity from pose-aligned images: crops, the per-video identity network and the whole-video assignment."""
import itertools

import numpy as np
import pytest
import torch

from cichlid_track import synth
from cichlid_track.crops import aligned_crops, usable_crops
from cichlid_track.tracking import stitch_video
from cichlid_track.tracking.assignment import assign_identities
from cichlid_track.tracking.identity_net import (IdentityNet, TrainingSettings, crop_probabilities, global_fragments,
                                                 labelling_pieces, load_identity, piece_posteriors, save_identity,
                                                 train_identity)

from test_stitching import K, crossing, identity_of, no_appearance

SAND = (150, 190, 205)


def fish_crop(look, heading, rng, size=(40, 20), jitter=0.0, scene=160, neighbour=None):
    """A fish drawn at ``heading`` in the middle of a noisy tank, cut along its keypoints (``jitter`` px of pose
    error on each). ``neighbour``: the look of a fish touching it, alongside (a fifth of a body length between their
    axes, heading up to 30 degrees apart), drawn under or over it."""
    img = np.full((scene, scene, 3), SAND, np.uint8)
    img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    pos = np.array([scene / 2, scene / 2]) + rng.uniform(-10, 10, 2)
    kp = synth.keypoints(pos, heading, look.scale)
    if neighbour is not None:
        across = np.array([-np.sin(heading), np.cos(heading)]) * rng.choice([-1, 1]) * rng.uniform(10, 16)
        along = np.array([np.cos(heading), np.sin(heading)]) * rng.uniform(-15, 15)
        turn = heading + rng.uniform(-0.5, 0.5)
        other = synth.keypoints(pos + across + along, turn, neighbour.scale), turn, neighbour
        over = rng.random() < 0.5
        if not over:
            synth.draw_fish(img, *other)
    synth.draw_fish(img, kp, heading, look)
    if neighbour is not None and over:
        synth.draw_fish(img, *other)
    kp = kp + rng.normal(0, jitter, kp.shape) if jitter else kp
    image = torch.from_numpy(img).permute(2, 0, 1)[None].float()
    poses = torch.from_numpy(np.c_[kp, np.ones(len(kp))])[None, None].float()
    return aligned_crops(image, poses, size, normalized=False)[0, 0].numpy()


def test_crops_are_aligned_whatever_way_the_fish_swims():
    rng = np.random.default_rng(0)
    look = synth.FishLook((60, 120, 200), 3, 1.0, (40, 70, 120))
    other = synth.FishLook((60, 120, 200), 1, 1.0, (40, 70, 120))
    headings = [0.0, 0.7, 1.9, 3.0, -2.2, -0.9]
    crops = [fish_crop(look, h, rng).astype(float) for h in headings]
    assert crops[0].shape == (20, 40, 3)
    for c in crops[1:]:
        assert np.corrcoef(c.ravel(), crops[0].ravel())[0, 1] > 0.98
    # head to the right: the snout's red dot is in the right tenth, the tail's fins in the left fifth
    red = (crops[0][..., 2] > 135) & (crops[0][..., 1] < 80) & (crops[0][..., 0] < 80)  # snout dot (BGR 40, 40, 160)
    assert red[:, 36:].any() and not red[:, :20].any()
    # a fish with another stripe count is less alike than the same fish turned
    turned = min(np.corrcoef(c.ravel(), crops[0].ravel())[0, 1] for c in crops[1:])
    assert np.corrcoef(fish_crop(other, 0.3, rng).astype(float).ravel(), crops[0].ravel())[0, 1] < turned


def test_too_few_keypoints_give_an_empty_crop():
    image = torch.zeros((1, 3, 50, 50))
    poses = torch.full((1, 2, 9, 3), float("nan"))
    poses[0, 0, :2] = torch.tensor([[10.0, 10, 1], [20, 10, 1]])  # two keypoints only
    poses[0, 1, :, :2] = torch.tensor([[30.0 - i, 25] for i in range(9)])
    poses[0, 1, :, 2] = 1
    crops = aligned_crops(image + 0.5, poses, (8, 4), normalized=False)
    assert crops.shape == (1, 2, 4, 8, 3)
    assert usable_crops(crops[0].numpy()).tolist() == [False, True]


class Piece:
    """The parts of a DLC Tracklet the identity code reads."""

    def __init__(self, start, end, name, keypoints_seen=9):
        self.start, self.end, self.name = start, end, name
        self.inds = np.arange(start, end + 1)
        self.data = np.full((len(self.inds), 9, 3), np.nan)  # x, y, likelihood of each keypoint
        self.data[:, :keypoints_seen] = 1.0

    def __len__(self):
        return len(self.inds)

    def __repr__(self):
        return f"{self.name}[{self.start}-{self.end}]"


def test_global_fragments_are_the_stretches_where_all_fish_are_present():
    a1, b1, a2, b2 = Piece(0, 49, "a1"), Piece(10, 59, "b1"), Piece(55, 99, "a2"), Piece(62, 99, "b2")
    frags = global_fragments([a1, b1, a2, b2], 2)
    assert [(set(p), s, e) for p, s, e in frags] == [({a1, b1}, 10, 49), ({b1, a2}, 55, 59), ({a2, b2}, 62, 99)]


def test_identity_network_tells_apart_fish_that_differ_only_in_stripe_count(tmp_path):
    """Two look-alike fish, same colour and size, one stripe or three, swimming every way, with pose error. Labels
    come only from the first stretch where both are seen; the network then names the pieces of later stretches and
    fresh crops it never saw."""
    rng = np.random.default_rng(1)
    looks = {"A": synth.FishLook((60, 120, 200), 1, 1.0, (40, 70, 120)),
             "B": synth.FishLook((60, 120, 200), 3, 1.0, (40, 70, 120))}

    def crops_of(fish, n):
        return np.stack([fish_crop(looks[fish], rng.uniform(-np.pi, np.pi), rng, jitter=1.5) for _ in range(n)])

    pieces = {name: Piece(s, e, name) for name, s, e in
              [("A1", 0, 99), ("B1", 0, 99), ("A2", 110, 199), ("B2", 110, 199), ("A3", 210, 299), ("B3", 210, 299)]}
    crops = {t: crops_of(name[0], 25) for name, t in pieces.items()}
    model = train_identity(list(pieces.values()), crops, 2, TrainingSettings(steps=120, epochs=40, rounds=0, seed=0))
    assert model is not None and model.summary["held_out_accuracy"] >= 0.8, model.summary

    save_identity(model, tmp_path / "identity_net.pth")
    model = load_identity(tmp_path / "identity_net.pth")
    post = piece_posteriors(model, crops)
    cls = {name: int(post[t][0].argmax()) for name, t in pieces.items()}
    assert cls["A1"] != cls["B1"] and {cls["A2"], cls["A3"]} == {cls["A1"]} and {cls["B2"], cls["B3"]} == {cls["B1"]}
    fresh = {f: post_crops.argmax(1) for f, post_crops in
             ((f, piece_posteriors(model, {pieces["A1"]: crops_of(f, 40)})[pieces["A1"]][1]) for f in "AB")}
    assert (fresh["A"] == cls["A1"]).mean() >= 0.85 and (fresh["B"] == cls["B1"]).mean() >= 0.85


def test_a_short_clip_trains_at_most_a_step_per_frame():
    """Every-frame crops of a 150-frame clip are a few hundred near-repeats: the epochs rule alone gave the demo's
    clips the full 400, then 200 per round (600-1,000 steps, 24-41 s on 2 CPUs; the goal is 2 minutes per 1,000
    frames). The round's steps are capped by the frames the video spans; a long video's are not."""
    rng = np.random.default_rng(3)
    looks = {"A": synth.FishLook((60, 120, 200), 1, 1.0, (40, 70, 120)),
             "B": synth.FishLook((60, 120, 200), 3, 1.0, (40, 70, 120))}
    crops_of = {f: np.stack([fish_crop(looks[f], rng.uniform(-np.pi, np.pi), rng) for _ in range(60)]) for f in "AB"}
    settings = TrainingSettings(steps=100, epochs=160, steps_per_frame=2, rounds=0, seed=0)
    for last, steps in [(29, 60), (599, 100)]:  # 30 frames: 60 steps; 600 frames: the round's 100
        pieces = [Piece(0, last, "A"), Piece(0, last, "B")]
        model = train_identity(pieces, {t: crops_of[t.name] for t in pieces}, 2, settings)
        assert model.summary["rounds"][0]["steps"] == steps, model.summary


def test_training_with_a_neighbour_alongside_names_fish_in_contact():
    """Contact frames are most of what stitching places one frame at a time, and their crops hold a second fish. A
    network trained only on fish seen apart reads the neighbour's stripes too; trained with neighbours pasted alongside
    (identity.neighbours), it names the fish in contact more often, and fish apart as well as before."""
    rng = np.random.default_rng(1)
    looks = {"A": synth.FishLook((60, 120, 200), 1, 1.0, (40, 70, 120)),
             "B": synth.FishLook((60, 120, 200), 3, 1.0, (40, 70, 120))}

    def crops_of(fish, n, touching=False):
        other = looks["B" if fish == "A" else "A"] if touching else None
        return np.stack([fish_crop(looks[fish], rng.uniform(-np.pi, np.pi), rng, jitter=1.5, neighbour=other)
                         for _ in range(n)])

    # two stretches of both fish apart: the first names the classes, the second joins in the next round
    pieces = {name: Piece(s, e, name) for name, s, e in [("A1", 0, 99), ("B1", 0, 99), ("A2", 110, 199),
                                                         ("B2", 110, 199)]}
    crops = {t: crops_of(name[0], 60) for name, t in pieces.items()}
    apart = {f: crops_of(f, 60) for f in "AB"}
    contact = {f: crops_of(f, 60, touching=True) for f in "AB"}

    def accuracy(model, sets):  # the share of fresh crops given the class of their fish's first piece
        cls = {f: np.bincount(crop_probabilities(model, crops[pieces[f + "1"]]).argmax(1)).argmax() for f in "AB"}
        return np.mean([(crop_probabilities(model, c).argmax(1) == cls[f]).mean() for f, c in sets.items()])

    # one training is noisy (its gain in contact was 0.07-0.14 over 9 rng/seed pairs, and depends on the CPU's kernels):
    # judge the mean of three training seeds
    default = TrainingSettings().neighbours
    scores = {share: [] for share in (0.0, default)}
    for share, seed in itertools.product(scores, range(3)):
        model = train_identity(list(pieces.values()), crops, 2,
                               TrainingSettings(steps=150, epochs=40, rounds=1, seed=seed, neighbours=share))
        assert model.summary["labelled_pieces"] == 4, model.summary
        scores[share].append((accuracy(model, apart), accuracy(model, contact)))
    (apart_without, contact_without), (apart_with, contact_with) = (np.mean(scores[s], axis=0) for s in scores)
    # measured on 2 CPU threads: contact 0.88 without, 0.99 with; apart 1.0 both. Errors in contact fall 5-10-fold
    assert 1 - contact_with <= 0.5 * (1 - contact_without), scores
    assert contact_with >= contact_without + 0.05, scores
    assert apart_with >= 0.85 and apart_with >= apart_without - 0.05, scores


def test_a_fish_split_in_two_detections_does_not_make_two_classes():
    """The pose model can assemble a fast fish's tail (3 of 9 keypoints) apart from the rest of it. While fish B is
    missed, A and A's tail are two pieces: a stretch of "2 fish" made of one, with more crops than any true one, so
    it was the network's first lesson (one fish, two classes). Only whole fish name classes now."""
    rng = np.random.default_rng(2)
    looks = {"A": synth.FishLook((60, 120, 200), 1, 1.0, (40, 70, 120)),
             "B": synth.FishLook((60, 120, 200), 3, 1.0, (40, 70, 120))}

    def crops_of(fish, n):
        return np.stack([fish_crop(looks[fish], rng.uniform(-np.pi, np.pi), rng, jitter=1.5) for _ in range(n)])

    a1, tail = Piece(0, 99, "A1"), Piece(0, 99, "A1 tail", keypoints_seen=3)
    a2, b2, a3, b3 = Piece(110, 199, "A2"), Piece(110, 199, "B2"), Piece(210, 299, "A3"), Piece(210, 299, "B3")
    crops = {a1: crops_of("A", 25), tail: crops_of("A", 25), a2: crops_of("A", 15), b2: crops_of("B", 15),
             a3: crops_of("A", 15), b3: crops_of("B", 15)}
    pieces = list(crops)
    assert [(s, e) for _, s, e in global_fragments(pieces, 2)] == [(0, 99), (110, 199), (210, 299)]  # as before
    assert tail not in labelling_pieces(pieces, crops)

    model = train_identity(pieces, crops, 2, TrainingSettings(steps=120, epochs=40, rounds=1, seed=0))
    assert model.summary["first_stretch_frames"] == [110, 199], model.summary
    post = piece_posteriors(model, crops)
    cls = {t.name: int(post[t][0].argmax()) for t in pieces}
    assert cls["A1"] == cls["A2"] == cls["A3"] != cls["B2"] == cls["B3"], cls


class ByColour(torch.nn.Module):
    """Stand-in identity network: class 0 = red crops, class 1 = green crops."""

    def forward(self, x):
        return 20 * x.mean((2, 3))[:, :2]


class CropStore:
    """Crop store stand-in: each detection of fish A is a red crop, of B a green one."""

    every = 1

    def __init__(self, feature_store):
        self.dets = feature_store.detections

    def keypoints(self, frame):
        d = self.dets.get(frame, [])
        return np.stack([k for k, _ in d]) if d else np.zeros((0, K, 3))

    def features(self, frame):
        colour = {0: [255, 0, 0], 1: [0, 255, 0]}
        return np.stack([np.full((4, 8, 3), colour[int(f[0, 1] > 0)], np.uint8) for _, f in self.dets[frame]])

    def rows(self, frames, rows):
        return np.stack([self.features(f)[r] for f, r in zip(frames, rows)])


@pytest.mark.parametrize("assignment", [True, False])
def test_identity_network_fixes_the_swap_that_motion_links_make(tmp_path, assignment):
    """The crossing of test_stitching, with a re-ID transformer blind to the difference: pairwise links by motion
    swap the fish. With the identity network the pieces are assigned to fish by it (or, assignment off, it is one
    more cue of the links); either way each fish keeps its identity, and _tracking.json says who each piece is."""
    el, store = crossing(tmp_path)
    net = IdentityNet(ByColour(), np.zeros(3, np.float32), np.ones(3, np.float32), 2)
    kw = dict(min_length=3, store=store, embed=no_appearance, method="pieces")
    blind = stitch_video(el, 2, ["fish1", "fish2"], 30, "s", ["a", "b", "c"], **kw)
    named = stitch_video(el, 2, ["fish1", "fish2"], 30, "s", ["a", "b", "c"], identity=net,
                         crop_store=CropStore(store), assignment=assignment, **kw)
    assert sorted(identity_of(blind.reid, i) for i in ("fish1", "fish2")) == [(50, 46), (64, 70)]  # motion's swap
    assert sorted(identity_of(named.reid, i) for i in ("fish1", "fish2")) == [(50, 70), (64, 46)]
    assert named.summary["assignment"] == ("identity network" if assignment else "min-cost flow links")
    report = named.summary["identity"]
    assert len(report["pieces"]) == 4 and all(p["probability"] > 0.99 for p in report["pieces"])
    if assignment:
        assert report["confident_frame_fraction"] == 1.0 and not report["low_confidence_stretches"]
        assert {p["by"] for p in report["pieces"]} == {"network"}


@pytest.mark.parametrize("first_crops, by", [(8, "min-cost flow links"), (20, "identity network"),
                                             (None, "identity network")])
def test_a_network_first_taught_on_a_few_crops_per_fish_is_a_cue_of_the_links_not_the_assignment(tmp_path, first_crops,
                                                                                                  by):
    """Where the fish are seldom all apart, the network's first lesson can be a handful of crops per fish (28 for 6
    big look-alikes on lookalike-6-big-bright, IDF1 0.809 assigned by it, 0.960 with it as a link cue). Under
    MIN_FIRST_CROPS per fish it does not assign on its own, and _tracking.json says why; a network whose summary does
    not say (saved before, or a stand-in) assigns as before. Either way the crossing's fish keep their identities."""
    from cichlid_track.tracking.identity_net import MIN_FIRST_CROPS, assigns_alone

    el, store = crossing(tmp_path)
    summary = {} if first_crops is None else {"rounds": [{"round": 0, "crops": first_crops}]}
    net = IdentityNet(ByColour(), np.zeros(3, np.float32), np.ones(3, np.float32), 2, summary)
    assert assigns_alone(net) == (first_crops is None or first_crops / 2 >= MIN_FIRST_CROPS)
    out = stitch_video(el, 2, ["fish1", "fish2"], 30, "s", ["a", "b", "c"], min_length=3, store=store,
                       embed=no_appearance, method="pieces", identity=net, crop_store=CropStore(store))
    assert out.summary["assignment"] == by
    assert ("assignment_note" in out.summary) == (by != "identity network")
    if by != "identity network":
        assert "4 crops per fish" in out.summary["assignment_note"]
    assert sorted(identity_of(out.reid, i) for i in ("fish1", "fish2")) == [(50, 70), (64, 46)]


def test_assignment_keeps_a_fish_across_a_gap_no_link_can_span():
    """Fish A is hidden for 200 frames (longer than any motion link reaches) while B swims on; A's two pieces are
    still one fish, and two pieces seen together never share one."""
    a1, b, a2 = Piece(0, 49, "a1"), Piece(0, 399, "b"), Piece(250, 399, "a2")
    post = {a1: (np.array([0.9, 0.1]), np.zeros((10, 2))), b: (np.array([0.3, 0.7]), np.zeros((10, 2))),
            a2: (np.array([0.8, 0.2]), np.zeros((10, 2)))}
    chains, given = assign_identities([a1, b, a2], post, 2, 400)
    assert chains == [[a1, a2], [b]] and given[b] == (1, 0.7)
    # the surer piece first; one whose fish is then taken goes to its next class only if that is likely enough
    c = Piece(300, 320, "c")
    post[c] = (np.array([0.6, 0.4]), np.zeros((10, 2)))
    chains, given = assign_identities([a1, b, a2, c], post, 2, 400)
    assert c not in given and chains == [[a1, a2], [b]]


def test_a_piece_of_one_or_two_crops_is_left_to_motion_and_the_network_together():
    """A 1-2-crop piece in a contact also shows its neighbour; named wrongly, it became an anchor that pulled the
    contact frames around it to the wrong fish (lookalike-6: a 3-frame piece at p 0.92, 6 switches). The network
    alone assigns a piece only with evidence (margin x crops) of 3 or more; the rest the leftover placement weighs with
    motion (the suite, session 19: 9 and 19 fewer switches in the two families, IDF1 +0.001 on average)."""
    a, b = Piece(0, 99, "a"), Piece(0, 399, "b")
    for n_crops, named in [(2, False), (4, True)]:  # evidence: margin 0.96 x crops, against 3
        short = Piece(120, 121, "short")
        post = {a: (np.array([0.9, 0.1]), np.zeros((10, 2))), b: (np.array([0.1, 0.9]), np.zeros((10, 2))),
                short: (np.array([0.98, 0.02]), np.zeros((n_crops, 2)))}
        chains, given = assign_identities([a, b, short], post, 2, 400)
        assert (short in given) == named and (short in chains[0]) == named, (n_crops, given)


def test_global_fragments_sweep_equals_checking_every_piece_at_every_change():
    """The sweep keeps who is present from one start or end to the next (linear in the video's length); the
    stretches are those of the direct definition: every piece present over the whole stretch, exactly n of them."""
    rng = np.random.default_rng(3)
    pieces = []
    for k in range(300):
        s = int(rng.integers(0, 3000))
        pieces.append(Piece(s, s + int(rng.integers(0, 80)), f"p{k}"))
    for n in (3, 4, 5):
        events = sorted({t.start for t in pieces} | {t.end + 1 for t in pieces})
        direct = []
        for a, b in zip(events[:-1], events[1:]):
            present = tuple(t for t in pieces if t.start <= a and t.end >= b - 1)
            if len(present) == n:
                direct.append((present, a, b - 1))
        assert global_fragments(pieces, n) == direct and direct


def test_crop_statistics_summed_piece_by_piece_equal_those_of_all_crops():
    from cichlid_track.tracking.identity_net import channel_stats

    rng = np.random.default_rng(0)
    sets = [rng.integers(0, 256, (int(rng.integers(1, 30)), 20, 40, 3), dtype=np.uint8) for _ in range(20)]
    every = np.concatenate(sets).reshape(-1, 3).astype(np.float64) / 255
    mean, sd = channel_stats(sets)
    np.testing.assert_allclose(mean, every.mean(0), rtol=1e-6)
    np.testing.assert_allclose(sd, every.std(0) + 1e-3, rtol=1e-5)


class Detections:
    """A piece as stitching sees it (``inds`` and per-frame ``data`` rows of K keypoints)."""

    def __init__(self, frames, kps):
        self.inds, self.data = np.asarray(frames), np.asarray(kps)


def test_contact_frames_off_the_regular_ones_keep_the_crops_of_the_fish_in_contact(tmp_path):
    """identity.crop_near: besides every 4th frame, the crops of fish within half a body of another are kept (the
    1-frame contact pieces stitching places one by one); the others, and unusable (blank) crops, are not. Stitching
    reads them for such pieces (any_frame) while the network's regular sample stays on the regular frames."""
    import h5py

    from cichlid_track.analysis import StreamedFeatures
    from cichlid_track.features import FeatureStore
    from cichlid_track.tracking.identity_net import piece_crops

    def fish(x, y):  # 9 keypoints along 60 px, head first
        return np.c_[x - np.arange(9) * 7.5, np.full(9, y), np.ones(9)].astype(np.float32)

    rng = np.random.default_rng(0)
    sink = StreamedFeatures(tmp_path / "f.h5", 9, "int8", crops_path=tmp_path / "c.h5", crop_every=4,
                            crop_quality=90, crop_near=0.5)
    kps_of = {}
    for frame in range(8):
        gap = 20 if frame in (5, 6) else 100  # A and B touch in frames 5 and 6 (20 px: a third of a body)
        kps = np.stack([fish(100, 50), fish(100, 50 + gap), fish(300, 250)])
        crops = rng.integers(30, 255, (3, 20, 40, 3), dtype=np.uint8)
        if frame == 6:
            crops[0] = 0  # A's pose too poor for a crop there
        if frame == 7:  # no fish at all
            kps, crops = kps[:0], crops[:0]
        kps_of[frame] = kps
        sink(frame, kps, rng.normal(size=(len(kps), 9, 4)).astype(np.float32), crops)
    sink.close({"n_frames": 8})
    with FeatureStore(tmp_path / "c.h5", name="crops") as store:
        held = {f: len(store.keypoints(f)) for f in range(8)}
        assert held == {0: 3, 1: 0, 2: 0, 3: 0, 4: 3, 5: 2, 6: 1, 7: 0}
        assert store.every == 4 and store.h5.attrs["near"] == 0.5
        contact_a = Detections([5], kps_of[5][:1])
        assert piece_crops([contact_a], store, min_crops=1) == {}  # off the regular frames: none by default
        found = piece_crops([contact_a], store, min_crops=1, any_frame=True)
        assert found[contact_a].shape == (1, 20, 40, 3)
        b = Detections(range(7), [kps_of[f][1] for f in range(7)])  # B's whole track: the regular frames only
        assert len(piece_crops([b], store)[b]) == 2 and len(piece_crops([b], store, any_frame=True)[b]) == 4
    with h5py.File(tmp_path / "f.h5", "r") as f:  # lossless compression of the features file, same rows
        assert f["keypoints"].compression == "gzip" and f["features"].compression == "gzip"
        np.testing.assert_array_equal(f["keypoints"][:], np.concatenate([kps_of[f] for f in range(8)]))


@pytest.mark.parametrize("gap, trained_at", [(25, 0.35), (10, None)])
def test_a_video_whose_fish_are_never_half_a_body_apart_still_gets_a_network(tmp_path, gap, trained_at):
    """Two fish swim side by side ``gap`` px apart (body 60 px) for the whole video. At ``reid.contact`` 0.5 every
    frame is a contact, so every piece is one frame long and no stretch has both fish with 2 crops: the network
    used to be skipped (as on the fast scene easy-6). It now learns from pieces cut only where fish come closer
    (0.35, then 0.25 body lengths); fish 10 px apart are too close even for that, and the file says so."""
    import pickle

    from cichlid_track.analysis import StreamedFeatures
    from cichlid_track.tracking.files import train_identity_file

    def fish(x, y):  # 9 keypoints along 60 px, head first
        return np.c_[x - np.arange(9) * 7.5, np.full(9, y), np.ones(9)].astype(np.float32)

    rng = np.random.default_rng(0)
    sink = StreamedFeatures(tmp_path / "f.h5", 9, "int8", crops_path=tmp_path / "c.h5", crop_every=4,
                            crop_quality=None, crop_near=0)
    tracks = {"header": None, 0: {}, 1: {}}
    for frame in range(48):
        kps = np.stack([fish(100 + 2 * frame, 100), fish(100 + 2 * frame, 100 + gap)])
        for tid in (0, 1):
            tracks[tid][f"frame{frame:03d}"] = kps[tid]
        crops = np.zeros((2, 20, 40, 3), np.uint8)
        crops[0, ..., 0], crops[1, ..., 1] = 200, 200  # fish 0 red, fish 1 green
        crops = np.clip(crops + rng.integers(0, 40, crops.shape), 0, 255).astype(np.uint8)
        sink(frame, kps, rng.normal(size=(2, 9, 4)).astype(np.float32), crops)
    sink.close({"n_frames": 48})
    with open(tmp_path / "v_el.pickle", "wb") as fh:
        pickle.dump(tracks, fh)

    summary = train_identity_file(tmp_path / "v_el.pickle", tmp_path / "c.h5", tmp_path / "identity_net.pth", 2,
                                  stray=0.75, contact=0.5, jump=0.5,
                                  settings=TrainingSettings(steps=40, epochs=5, rounds=0, seed=0))
    model = load_identity(tmp_path / "identity_net.pth")
    if trained_at is None:
        assert model is None and "within 0.25 body lengths" in summary["reason"], summary
        assert "within 0.25 body lengths" in torch.load(tmp_path / "identity_net.pth", weights_only=False)["reason"]
        return
    assert model is not None and summary["training_contact"] == trained_at, summary
    assert model.summary["training_contact"] == trained_at and model.summary["labelled_pieces"] == 2
    assert model.summary["held_out_accuracy"] == 1.0
