"""Rule evaluate: RMSE/mAP of the chosen snapshot and DLC's labelled evaluation images."""
from cichlid_track import rule_io
from cichlid_track.evaluation import evaluate


def main(smk):
    metrics = evaluate(smk.input.project, smk.params.shuffle, smk.params.trainingset_index, smk.input.snapshot,
                       smk.params.evaluation_folder, smk.params.scorer, smk.output.table, smk.output.images)
    print("evaluation:", metrics)


rule_io.run(snakemake, main)  # noqa: F821
