"""Tracks from tracklets: one identity-stable track per fish, with motion and re-ID appearance.

DLC's ellipse tracker (rule ``tracklets``) makes tracklets that are right most of the time, but where
two fish touch it can swap them *inside* a tracklet, and no choice of which tracklet follows which can
undo that. The ``stitch`` rule calls :func:`stitch_files` (:mod:`.files`: reads the features, the metadata and
the re-ID model), which runs :func:`stitch_video` (:mod:`.stitch`) from ``_el.pickle`` to ``_el.h5``:

0. :mod:`.cleanup` drops keypoints farther than ``tracking.stray_keypoints`` body lengths from the
   middle of their fish (DLC's assembly took them from a neighbour) and measures the body length, the
   unit of every distance below. :mod:`.tracklet_io` reads the tracklet file.
1. :mod:`.contacts` cuts every tracklet where it starts or stops touching another fish (centroids
   closer than ``reid.contact`` body lengths, or a fish vanishing into or appearing out of another);
   each contact frame is its own piece; and where a tracklet moves more than ``reid.jump`` body lengths in a
   frame (the tracker jumped to another fish without a contact). Between cuts a piece is one fish.
2. :mod:`.link_model` fits, for this video, how likely a link is between pieces of the same fish
   rather than of two fish, as log-likelihood ratios. Appearance (:mod:`.appearance`), one ratio per
   cue: the cosine similarity of the pieces' mean re-ID embeddings (DLC's transformer) and of their
   body colour; same fish = two halves of one piece, other fish = two pieces seen in the same frame.
   Motion (:mod:`.motion`): each piece carried on at its own velocity to where the two should meet,
   against the error that extrapolation makes inside this video's pieces at that gap. A cue that does
   not tell these fish apart fits the same distribution twice and gets no say.
   With an identity network (rule ``identity``, :mod:`.identity_net`: a small CNN trained on the video's own
   pose-aligned crops), its class probabilities are one more cue, and
   :mod:`.assignment` gives each piece it names confidently to that fish over the whole video, replacing step 3.
3. :mod:`.flow` links the pieces into at most ``n_tracks`` chains by min-cost flow; link cost = minus
   the summed log-likelihood ratios, each frame a chain holds a reward. Pieces may stay out (DLC's own
   stitcher must use every tracklet, which becomes infeasible once tracklets are cut).
4. :mod:`.leftovers` adds the short pieces left out (contact frames) where they are likelier the same
   fish than not, judged on the curve between the chain's pieces around them (a partial detection by where its
   whole fish would be, laid on the chain's body shape), with the identity network's word where the piece has a
   crop; the detections of one contact frame are given to fish together (Hungarian); a second, looser pass places
   what no fish claimed unless it is clearly another fish.
5. :mod:`.reassembly` sorts the keypoints of each contact frame's detections between the fish of that contact
   (``tracking.sort_contact_keypoints``): DLC's assembly now and then builds one detection from two touching
   fish, and placed whole, a fish would get its neighbour's half. Each fish's pose is carried over the contact
   from its pieces on either side, and each body part goes to the fish whose body should have it there.
6. :mod:`.output` writes the chains in DLC's ``_el.h5`` layout and fills gaps of at most
   ``tracking.max_gap`` frames.

Beside it, :mod:`.dlc_stitcher` runs DLC's own ``TrackletStitcher``: the motion-only stitch written to
``_el_motion.h5`` for comparison, and ``reid.method: tracklets`` (whole tracklets, an appearance term
added to DLC's cost), also the fallback when fish touch in nearly every frame.
"""
from .cleanup import body_length, cleaned_tracklets, drop_stray_keypoints
from .contacts import contact_frames, cut_pieces, split_at_contacts
from .files import stitch_files, stitch_options
from .output import fill_gaps, tracks_dataframe
from .stitch import StitchResult, stitch_video
from .tracklet_io import load_tracklets, merge

__all__ = ["StitchResult", "body_length", "cleaned_tracklets", "contact_frames", "cut_pieces", "drop_stray_keypoints",
           "fill_gaps", "load_tracklets", "merge", "split_at_contacts", "stitch_files", "stitch_options", "stitch_video",
           "tracks_dataframe"]
