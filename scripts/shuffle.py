"""Rule shuffle: DLC training dataset and pytorch_config.yaml with our overrides."""
from cichlid_track import rule_io
from cichlid_track.training import create_shuffle


def main(smk):
    from cichlid_track.atomic import copy_file

    create_shuffle(smk.input[0], smk.params.shuffle, smk.params.trainingset_index, dict(smk.params.training),
                   smk.params.dlc_pytorch_config)
    # DLC rewrites its own copy during training; ours is the stable, declared artifact
    copy_file(smk.params.dlc_pytorch_config, smk.output[0])


rule_io.run(snakemake, main)  # noqa: F821
