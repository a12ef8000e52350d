"""Rule analyze: pose outputs and keypoint features from one pass over the video."""
from cichlid_track import rule_io
from cichlid_track.analysis import analyze_video


def main(smk):
    device = None if smk.params.device == "auto" else smk.params.device
    stats = analyze_video(
        smk.input.project, smk.params.shuffle, smk.params.trainingset_index, smk.input.snapshot, smk.input.video,
        prefix=smk.params.prefix, scorer=smk.params.scorer, outputs=dict(smk.output.items()),
        batch_size=smk.params.batch_size, device=device, features_dtype=smk.params.features_dtype,
        appearance=smk.params.appearance_features, stored_maps=smk.params.stored_maps,
        fine_channels=smk.params.fine_channels, feature_every=smk.params.feature_every,
        crop_size=tuple(smk.params.crop_size), crop_every=smk.params.crop_every,
        crop_quality=smk.params.crop_quality, crop_near=smk.params.crop_near)
    print("analysis:", stats)


rule_io.run(snakemake, main)  # noqa: F821
