"""Stage ``tracklets``: DLC's tracker turns per-frame detections into tracklets (``_el.pickle``)."""
from __future__ import annotations

import logging
from pathlib import Path

from . import dlc_pickles
from .atomic import publish, staging_dir
from .dlc_calls import dlc_snapshot_index, link_inputs, link_video
from .project import settle_project_path

log = logging.getLogger(__name__)


def count_detections(assemblies: dict) -> int:
    """Detections in ``_assemblies.pickle`` content."""
    return sum(len(v) for k, v in assemblies.items() if k != "single" and v is not None)


def make_tracklets(project_config, shuffle, trainingset_index, snapshot, video, video_id, prefix,
                   full_pickle, assemblies_pickle, meta_pickle, out_el_pickle, track_method="ellipse") -> int:
    """``convert_detections2tracklets`` -> ``_el.pickle``. Returns the number of tracklets.

    DLC 3.0.2 fails on a video with no detection at all; such a video gets an empty
    tracklet file (with DLC's header) and a warning instead.
    """
    settle_project_path(project_config)  # a moved results folder must not look like a changed project
    out_el_pickle = Path(out_el_pickle).absolute()
    assemblies = dlc_pickles.load(assemblies_pickle)  # stored as float32; DLC's own float64 rows again
    n_det = count_detections(assemblies)
    with staging_dir(out_el_pickle.parent, "tracklets") as tmp:
        if n_det == 0:
            log.warning("%s: no fish detected in any frame; writing empty tracklets", video)
            dlc_pickles.write({"header": None}, tmp / "el.pickle")
            publish(tmp / "el.pickle", out_el_pickle)
            return 0
        import deeplabcut.pose_estimation_pytorch.apis as dlc_api

        link_inputs(tmp, {f"{prefix}_full.pickle": full_pickle, f"{prefix}_meta.pickle": meta_pickle})
        # DLC's tracker gets DLC's own float64 rows, so its tracklets do not change
        dlc_pickles.write(assemblies, tmp / f"{prefix}_assemblies.pickle")
        del assemblies
        link = link_video(video, tmp, video_id)
        dlc_api.convert_detections2tracklets(
            str(project_config), videos=[str(link)], shuffle=shuffle, trainingsetindex=trainingset_index,
            destfolder=str(tmp), track_method=track_method,
            snapshot_index=dlc_snapshot_index(Path(snapshot).parent, snapshot), overwrite=True)
        produced = tmp / f"{prefix}_el.pickle"
        n = sum(1 for k in dlc_pickles.shrink(produced) if k not in ("header", "single"))
        publish(produced, out_el_pickle)
    return n
