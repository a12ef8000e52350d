"""One video's stitching, start to end: both outputs (motion only, re-ID) and the summary."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .. import dlc_pickles
from .appearance import piece_frame_colours, piece_frame_embeddings, sampled_detections
from .assignment import assign_identities, identity_report
from .cleanup import cleaned_tracklets
from .contacts import PIECE_MIN_LENGTH, cut_pieces
from .dlc_stitcher import make_weight_func, run_dlc_stitcher, tracklet_embeddings
from .flow import link_pieces, make_link_cost
from .identity_net import MIN_FIRST_CROPS, assigns_alone, first_lesson_crops, piece_crops, piece_posteriors
from .leftovers import place_leftovers
from .link_model import fit_link_model
from .output import empty_tracks, fill_gaps, tracks_dataframe
from .reassembly import sort_contact_keypoints
from .tracklet_io import merge


log = logging.getLogger(__name__)
CROPS_PER_PIECE = 40  # crops classified per piece (evenly spread over it)
SECOND_PASS_LLR = -4.0  # leftovers' second pass: placed unless this much likelier another fish (log-likelihood)


@dataclass
class StitchResult:
    motion: "object"  # pandas DataFrame
    reid: "object"
    summary: dict = field(default_factory=dict)


def identity_cue(posteriors: dict) -> dict:
    """{piece: (m, n) unit vectors}: the square roots of each crop's class probabilities, so that the cosine
    of two pieces' means is their Bhattacharyya overlap (1: surely the same fish, 0: surely two)."""
    return {t: np.sqrt(crop_probs) / np.maximum(np.linalg.norm(np.sqrt(crop_probs), axis=1, keepdims=True), 1e-12)
            for t, (_, crop_probs) in posteriors.items()}


def stitch_pieces(raw: dict, tracks: dict, n_tracks: int, animal_names: list[str], n_frames: int, store, embed,
                  body_len: float, contact: float, summary: dict, body_store=None, identity=None, crop_store=None,
                  assignment: bool = True, jump: float | None = None, sort_keypoints: bool = True):
    """Method ``pieces`` (module doc): the re-ID tracks as a DataFrame in DLC's layout.
    raw: the ``_el.pickle`` content; tracks: the same as :func:`load_tracklets_dict` reads it;
    body_store: features with the ``body`` colour, a second appearance cue (None: transformer only);
    identity, crop_store: the video's identity network and its crops (None: no network); assignment: with a
    network of ``n_tracks`` classes taught enough (:func:`.identity_net.assigns_alone`), pieces go to fish by it
    (:mod:`.assignment`) instead of min-cost flow links (the network is then one more appearance cue);
    sort_keypoints: contact frames' keypoints go to the fish whose body should have them there
    (:mod:`.reassembly`), not with their detection as assembled."""
    pieces = video_pieces(raw, tracks, body_len, contact, jump)
    linkable = [t for t in pieces if len(t) >= PIECE_MIN_LENGTH]
    if not linkable:
        return None
    detections = sampled_detections(pieces, store) if store is not None else []
    cues = {"transformer": piece_frame_embeddings(detections, store, embed)} if embed is not None else {}
    if body_store is not None:
        cues["body colour"] = piece_frame_colours(detections, body_store)
    posteriors = {}
    if identity is not None and crop_store is not None:
        posteriors = piece_posteriors(identity, piece_crops(pieces, crop_store, CROPS_PER_PIECE))
        cues["identity"] = identity_cue(posteriors)
    cues = {name: c for name, c in cues.items() if c}
    model = fit_link_model(pieces, cues, body_len)
    end = max(t.end for t in pieces) + 1
    given = {}
    by_network = bool(assignment and posteriors and identity.n_classes == n_tracks)
    if by_network and not assigns_alone(identity):
        by_network = False
        summary["assignment_note"] = (f"the identity network first learned from {first_lesson_crops(identity):.0f} "
                                      f"crops per fish (under {MIN_FIRST_CROPS}: the fish are seldom all apart), so "
                                      "it is a cue of the links, not the assignment")
        log.warning("%s", summary["assignment_note"])
    if by_network:
        chains, given = assign_identities(linkable, posteriors, n_tracks, end)
        summary["assignment"] = "identity network"
    else:
        chains = link_pieces(linkable, make_link_cost(model, cues), n_tracks,
                             min(t.start for t in pieces), max(t.end for t in pieces))
        summary["assignment"] = "min-cost flow links"
    if not any(chains):
        return None
    linked = {id(t) for chain in chains for t in chain}
    leftovers = [t for t in pieces if id(t) not in linked]
    # the network's word on leftovers with a crop or more (contact frames, unsure pieces), where the chains
    # are its classes; contact frames off the regular crop frames have crops too (identity.crop_near)
    leftover_identity = {}
    if given:
        leftover_identity = piece_posteriors(identity, piece_crops([t for t in leftovers if t not in posteriors],
                                                                   crop_store, CROPS_PER_PIECE, min_crops=1,
                                                                   any_frame=True))
        leftover_identity.update({t: posteriors[t] for t in leftovers if t in posteriors})
    chains, placed = place_leftovers(chains, leftovers, model, cues, end, identity=leftover_identity)
    # what no fish claims: a second pass puts each piece where it is least unlikely, unless clearly another fish
    # (every detection is some fish; left out, it is a frame lost to all of them)
    done = {id(t) for chain in chains for t in chain}
    chains, more = place_leftovers(chains, [t for t in leftovers if id(t) not in done], model, cues, end,
                                   min_llr=SECOND_PASS_LLR, identity=leftover_identity)
    placed += more
    summary.update(pieces=len(pieces), pieces_linked=len(linked), pieces_placed_after=placed,
                   pieces_left_out=len(leftovers) - placed, link_model=model.as_dict())
    if posteriors:
        summary["identity"] = {"network": identity.summary,
                               **identity_report(chains, given, animal_names, posteriors)}
    if sort_keypoints:
        chains, summary["contact_keypoints_sorted"] = sort_contact_keypoints(chains, body_len)
    chains = [c for c in chains if c]
    return tracks_dataframe([merge(sorted(chain, key=lambda t: t.start)) for chain in chains], raw, n_tracks,
                            animal_names, n_frames)


def video_pieces(raw: dict, tracks: dict, body_len: float, contact: float, jump: float | None = None) -> list:
    """The video's pieces (tracklets cut where fish touch, and where one jumps farther than ``jump`` body lengths
    in a frame): what the identity network learns and stitching links."""
    return cut_pieces(raw, tracks, contact * body_len, jump * body_len if jump else None)


def stitch_video(el_pickle, n_tracks: int, animal_names: list[str], n_frames: int, scorer: str,
                 bodyparts: list[str], min_length: int = 10, store=None, embed=None, method: str = "pieces",
                 appearance_weight: float = 1.0, contact: float = 0.5, max_gap: int = 0,
                 body_store=None, stray: float | None = 0.75, identity=None, crop_store=None,
                 assignment: bool = True, jump: float | None = None, sort_keypoints: bool = True) -> StitchResult:
    """Motion-only and re-ID stitching of one video's tracklets (``method``: see the module doc).

    ``max_gap``: gaps of at most this many frames are interpolated in both outputs; ``body_store``:
    features read as body colour, a second appearance cue of method ``pieces``; ``stray``: keypoints
    farther than this many body lengths from the middle of their fish are dropped first
    (:func:`drop_stray_keypoints`; None: kept); ``jump``: pieces also end where a tracklet moves more than this
    many body lengths in a frame (None: no such cut); ``identity``, ``crop_store``, ``assignment``: the
    video's identity network, its crops, whether pieces are assigned by it, and whether contact frames'
    keypoints are sorted between the fish (:func:`stitch_pieces`).
    """
    raw = dlc_pickles.load(el_pickle)  # float64 rows, as DLC wrote them
    summary = {"n_frames": n_frames, "reid_used": False}
    raw, tracks, body_len, summary["stray_keypoints_dropped"] = cleaned_tracklets(raw, stray)
    summary["tracklets_before"] = len(tracks)
    if not tracks or max(len(t) for t in tracks.values()) < 3:
        log.warning("%s: no tracklet to stitch (no fish detected?); writing empty tracks", el_pickle)
        empty = empty_tracks(scorer, animal_names[:n_tracks], bodyparts, n_frames)
        summary.update(tracklets_after=0, warning="no tracklets: empty tracks written")
        return StitchResult(empty, empty.copy(), summary)
    min_length = max(3, min(min_length, max(len(t) for t in tracks.values())))

    motion_df, motion_st = run_dlc_stitcher(raw, n_tracks, min_length, None, animal_names, n_frames)
    summary["tracklets_graph"] = len(motion_st.tracklets)
    summary["tracks_after"] = 0 if motion_st.tracks is None else len(motion_st.tracks)
    motion_df = fill_gaps(motion_df, max_gap)
    if (store is None or embed is None) and identity is None:
        summary["warning"] = summary.get("warning", "re-ID unavailable: motion-only tracks used")
        return StitchResult(motion_df, motion_df.copy(), summary)

    summary["method"] = method
    reid_df = None
    if method == "pieces":
        reid_df = stitch_pieces(raw, tracks, n_tracks, animal_names, n_frames, store, embed, body_len, contact,
                                summary, body_store=body_store, identity=identity, crop_store=crop_store,
                                assignment=assignment, jump=jump, sort_keypoints=sort_keypoints)
        if reid_df is None:
            log.warning("%s: no piece of %d frames between contacts; stitching whole tracklets instead",
                        el_pickle, PIECE_MIN_LENGTH)
            summary["method"] = method = "tracklets"
    if reid_df is None and embed is None:
        summary["warning"] = summary.get("warning", "re-ID unavailable: motion-only tracks used")
        return StitchResult(motion_df, motion_df.copy(), summary)
    if reid_df is None:
        def factory(stitcher):
            emb = tracklet_embeddings(stitcher, store, embed)
            summary["embedded_ends"] = len(emb)
            return make_weight_func(emb, body_len, appearance_weight)

        reid_df, _ = run_dlc_stitcher(raw, n_tracks, min_length, factory, animal_names, n_frames)
    summary["reid_used"] = True
    return StitchResult(motion_df, fill_gaps(reid_df, max_gap), summary)
