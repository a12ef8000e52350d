"""Rule stitch: tracks from tracklets, with motion + re-ID appearance and with motion only."""
from cichlid_track import rule_io
from cichlid_track.tracking import stitch_files


def main(smk):
    from cichlid_track.atomic import atomic_path, write_text
    from cichlid_track.tracking.output import summary_json, write_tracks

    p = smk.params
    result = stitch_files(smk.input.tracklets, smk.input.features, smk.input.meta, smk.input.reid, p.n_tracks,
                          p.individuals, p.scorer, feature_parts=p.feature_parts, body_colour=p.body_colour,
                          min_length=p.min_length, method=p.method, appearance_weight=p.appearance_weight,
                          contact=p.contact, jump=p.jump, max_gap=p.max_gap, stray=p.stray_keypoints,
                          identity_model=smk.input.get("identity"), crops_h5=smk.input.get("crops"),
                          assignment=p.assignment, sort_keypoints=p.sort_keypoints)
    for df, out in ((result.reid, smk.output.tracks), (result.motion, smk.output.motion)):
        with atomic_path(out) as tmp:
            write_tracks(df, tmp)
    write_text(smk.output.summary, summary_json(result.summary))
    print("stitching:", result.summary)


rule_io.run(snakemake, main)  # noqa: F821
