"""Rule train: train (or resume) the pose model until the chosen snapshot exists."""
from cichlid_track import rule_io
from cichlid_track.training import train


def main(smk):
    from cichlid_track.atomic import copy_file

    device = None if smk.params.device == "auto" else smk.params.device
    # DLC trains with the config in its model folder: make it exactly the declared one
    copy_file(smk.input.pytorch_config, smk.params.dlc_pytorch_config)
    train(smk.input.project, smk.params.shuffle, smk.params.trainingset_index, smk.input.pytorch_config,
          smk.params.snapshot_epoch, smk.output[0], weights=smk.params.weights or None, device=device)


rule_io.run(snakemake, main)  # noqa: F821
