"""Rule stitch: tracks from tracklets, with motion + re-ID appearance and with motion only."""
from cichlid_track import rule_io


def main(smk):
    import json
    import pickle

    from cichlid_track.atomic import atomic_path, write_text
    from cichlid_track.features import FeatureStore
    from cichlid_track.reid import load_embedder
    from cichlid_track.tracking import stitch_video

    with open(smk.input.meta, "rb") as fh:
        meta = pickle.load(fh)["data"]
    embed = load_embedder(smk.input.reid, "cpu")  # a CPU job: a few thousand embeddings, no GPU held for them
    with FeatureStore(smk.input.features, parts=smk.params.feature_parts) as store:
        if embed is not None and embed.feature_dim != store.n_features:
            raise ValueError(f"{smk.input.reid} reads {embed.feature_dim} feature channels but {smk.input.features} "
                             f"gives {store.n_features} (reid.feature_parts {smk.params.feature_parts}); delete the "
                             f"re-ID model so that it is trained again")
        body_store = store.select(["body"]) if smk.params.body_colour else None
        if smk.params.body_colour and body_store is None:
            print(f"warning: {smk.input.features} has no body colour (analysed with appearance_features: false or "
                  f"by an older version): linking uses the re-ID transformer only; to add it, re-run the analysis "
                  f"(snakemake --forcerun analyze)")
        result = stitch_video(smk.input.tracklets, smk.params.n_tracks, list(smk.params.individuals),
                              int(meta["nframes"]), smk.params.scorer, list(meta["bodyparts"]),
                              min_length=smk.params.min_length, store=store, embed=embed,
                              method=smk.params.method, appearance_weight=smk.params.appearance_weight,
                              contact=smk.params.contact, max_gap=smk.params.max_gap,
                              body_store=body_store, stray=smk.params.stray_keypoints)
    if embed is None:
        import torch

        result.summary["warning"] = torch.load(smk.input.reid, weights_only=False).get("reason", "re-ID skipped")
    for df, out in ((result.reid, smk.output.tracks), (result.motion, smk.output.motion)):
        with atomic_path(out) as tmp:
            df.to_hdf(tmp, key="tracks", format="table", mode="w")
    write_text(smk.output.summary, json.dumps(result.summary, indent=2))
    print("stitching:", result.summary)


rule_io.run(snakemake, main)  # noqa: F821
