"""Rule identity: the video's identity network from its pieces and pose-aligned crops."""
from cichlid_track import rule_io
from cichlid_track.tracking.files import train_identity_file


def main(smk):
    from cichlid_track.reid import resolve_device
    from cichlid_track.tracking.identity_net import TrainingSettings

    p = smk.params
    settings = TrainingSettings(steps=p.steps, epochs=p.epochs, steps_per_frame=p.steps_per_frame, rounds=p.rounds,
                                seed=p.seed, neighbours=p.neighbours, device=resolve_device(p.device))
    summary = train_identity_file(smk.input.tracklets, smk.input.crops, smk.output[0], p.n_fish,
                                  stray=p.stray_keypoints, contact=p.contact, jump=p.jump,
                                  settings=settings)
    print("identity network:", summary)


rule_io.run(snakemake, main)  # noqa: F821
