"""Stage ``tracklets``: DLC's tracker turns per-frame detections into tracklets (``_el.pickle``)."""
from __future__ import annotations

import logging
import pickle
from pathlib import Path

from . import dlc_pickles
from .atomic import publish, staging_dir
from .dlc_calls import dlc_snapshot_index, link_inputs, link_video
from .project import settle_project_path

log = logging.getLogger(__name__)


def count_detections(assemblies_pickle: str | Path) -> int:
    with open(assemblies_pickle, "rb") as fh:
        data = pickle.load(fh)
    return sum(len(v) for k, v in data.items() if k != "single" and v is not None)


def make_tracklets(project_config, shuffle, trainingset_index, snapshot, video, video_id, prefix,
                   full_pickle, assemblies_pickle, meta_pickle, out_el_pickle, track_method="ellipse") -> int:
    """``convert_detections2tracklets`` -> ``_el.pickle``. Returns the number of tracklets.

    DLC 3.0.2 fails on a video with no detection at all; such a video gets an empty
    tracklet file (with DLC's header) and a warning instead.
    """
    settle_project_path(project_config)  # a moved results folder must not look like a changed project
    out_el_pickle = Path(out_el_pickle).absolute()
    n_det = count_detections(assemblies_pickle)
    with staging_dir(out_el_pickle.parent, "tracklets") as tmp:
        if n_det == 0:
            log.warning("%s: no fish detected in any frame; writing empty tracklets", video)
            with open(tmp / "el.pickle", "wb") as fh:
                pickle.dump({"header": None}, fh, pickle.HIGHEST_PROTOCOL)
            publish(tmp / "el.pickle", out_el_pickle)
            return 0
        import deeplabcut.pose_estimation_pytorch.apis as dlc_api

        link_inputs(tmp, {f"{prefix}_full.pickle": full_pickle, f"{prefix}_meta.pickle": meta_pickle})
        # stored narrowed (float32); DLC's tracker gets DLC's own float64 rows, so its tracklets do not change
        dlc_pickles.write_widened(assemblies_pickle, tmp / f"{prefix}_assemblies.pickle")
        link = link_video(video, tmp, video_id)
        dlc_api.convert_detections2tracklets(
            str(project_config), videos=[str(link)], shuffle=shuffle, trainingsetindex=trainingset_index,
            destfolder=str(tmp), track_method=track_method,
            snapshot_index=dlc_snapshot_index(Path(snapshot).parent, snapshot), overwrite=True)
        produced = tmp / f"{prefix}_el.pickle"
        with open(produced, "rb") as fh:
            n = sum(1 for k in pickle.load(fh) if k not in ("header", "single"))
        dlc_pickles.shrink(produced)
        publish(produced, out_el_pickle)
    return n
