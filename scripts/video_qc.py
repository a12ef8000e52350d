"""Rule video_qc: per-video QC summary (JSON) and figure."""
from cichlid_track import rule_io


def main(smk):
    import json

    import pandas as pd

    from cichlid_track.atomic import write_text
    from cichlid_track.qc import video_figure, video_summary

    tracks, motion = pd.read_hdf(smk.input.tracks), pd.read_hdf(smk.input.motion)
    summary = video_summary(smk.wildcards.vid, tracks, motion, smk.input.assemblies, smk.input.tracklets,
                            smk.input.summary, smk.input.reid_accuracy, smk.params.n_expected,
                            smk.params.truth or None)
    video_figure(summary, tracks, smk.input.reid_accuracy, smk.input.video, smk.output.figure)
    write_text(smk.output.summary, json.dumps(summary, indent=2))
    print(summary)


rule_io.run(snakemake, main)  # noqa: F821
