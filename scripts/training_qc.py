"""Rule training_qc: training loss, evaluation metrics and evaluation images in one figure."""
from cichlid_track import rule_io
from cichlid_track.qc import training_figure


def main(smk):
    from pathlib import Path

    images = sorted(Path(smk.input.images).rglob("*.png"))
    print(training_figure(smk.params.learning_stats, smk.input.table, images, smk.output[0]))


rule_io.run(snakemake, main)  # noqa: F821
