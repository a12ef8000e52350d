"""Re-stitch a finished run with the current library and compare with the tracks it wrote.

    python bench/restitch.py --config <run>/config.yaml --workdir <run>

For every video: ``stitch_files`` on the run's own tracklets, features and re-ID model, with the run's config, then
the new ``_el.h5`` and ``_el_motion.h5`` against the run's, cell by cell. A refactor of the stitcher must print
"identical" for every video (the run's re-ID models and features are reused, so only the stitching code differs).
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--workdir", type=Path, required=True)
    a = p.parse_args(argv)

    from cichlid_track.settings import load_settings
    from cichlid_track.tracking import stitch_files, stitch_options
    from cichlid_track.tracking.output import stored_tracks

    repo = Path(__file__).resolve().parents[1]
    settings = load_settings(yaml.safe_load(a.config.read_text()), repo / "workflow" / "schemas", workdir=a.workdir)
    results = Path(settings.results) if Path(settings.results).is_absolute() else a.workdir / settings.results
    settings.results = str(results)
    print("| video | output | frames | same shape and columns | cells that differ | verdict |")
    print("|---|---|---|---|---|---|")
    all_same = True
    for vid in settings.samples:
        result = stitch_files(*settings.stitch_inputs(vid), **settings.identity_inputs(vid, existing_only=True),
                         **stitch_options(settings.config))
        for name, new in (("_el.h5", result.reid), ("_el_motion.h5", result.motion)):
            old = pd.read_hdf(settings.video_file(vid, name))
            if all(old.dtypes == np.float32):  # stored as float32 since session 11
                new = stored_tracks(new)
            shape = old.shape == new.shape and old.columns.equals(new.columns) and old.index.equals(new.index)
            a_, b_ = old.to_numpy(float), new.to_numpy(float)
            differ = int((~((a_ == b_) | (np.isnan(a_) & np.isnan(b_)))).sum()) if shape else -1
            same = shape and differ == 0 and old.equals(new)
            all_same &= same
            print(f"| {vid} | {name} | {len(new)} | {shape} | {differ} | {'identical' if same else 'DIFFERENT'} |")
    raise SystemExit(0 if all_same else 1)


if __name__ == "__main__":
    main()
