"""Rule tracklets: DLC's tracker turns per-frame detections into tracklets (_el.pickle)."""
from cichlid_track import rule_io
from cichlid_track.tracklets import make_tracklets


def main(smk):
    n = make_tracklets(smk.input.project, smk.params.shuffle, smk.params.trainingset_index, smk.input.snapshot,
                       smk.input.video, smk.wildcards.vid, smk.params.prefix, smk.input.full, smk.input.assemblies,
                       smk.input.meta, smk.output[0], track_method=smk.params.track_method)
    print(f"{n} tracklets")


rule_io.run(snakemake, main)  # noqa: F821
