"""Rule labelled_video: the final tracks drawn on the video, dots sized to the fish."""
from cichlid_track import rule_io
from cichlid_track.labelled_video import labelled_video


def main(smk):
    dots = labelled_video(smk.input.video, smk.input.tracks, smk.output[0], trailpoints=smk.params.trailpoints,
                          pcutoff=smk.params.pcutoff, colormap=smk.params.colormap, crf=smk.params.crf)
    print(f"labelled video written, dots of {dots} px")


rule_io.run(snakemake, main)  # noqa: F821
