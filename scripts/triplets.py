"""Rule triplets: feature triplets for re-ID training, mined from one video's tracklets."""
from cichlid_track import rule_io
from cichlid_track.features import FeatureStore
from cichlid_track.reid import mine_triplets
from cichlid_track.tracking import load_tracklets


def main(smk):
    import numpy as np

    from cichlid_track.atomic import atomic_path

    with FeatureStore(smk.input.features, parts=smk.params.feature_parts) as store:
        result = mine_triplets(load_tracklets(smk.input.tracklets), store, smk.params.n_triplets,
                               seed=smk.params.seed)
    print(f"{len(result.triplets)} triplets from {result.n_tracklets} tracklets "
          f"({result.skipped_incomplete} incomplete and {result.skipped_unmatched} unmatched detections skipped)")
    with atomic_path(smk.output[0]) as tmp, open(tmp, "wb") as fh:
        np.save(fh, result.triplets)


rule_io.run(snakemake, main)  # noqa: F821
