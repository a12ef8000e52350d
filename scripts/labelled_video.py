"""Rule labelled_video: DLC's labelled video of the final tracks."""
from cichlid_track import rule_io
from cichlid_track.dlc_steps import labelled_video


def main(smk):
    vid = smk.wildcards.vid
    labelled_video(smk.input.project, smk.params.shuffle, smk.params.trainingset_index, smk.input.snapshot,
                   smk.input.video, vid, f"{vid}{smk.params.scorer}", smk.input.tracks, smk.input.meta, smk.output[0],
                   trailpoints=smk.params.trailpoints, pcutoff=smk.params.pcutoff)


rule_io.run(snakemake, main)  # noqa: F821
