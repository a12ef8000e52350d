rule analyze:
    """One pass over the video: DLC pose outputs and keypoint backbone features."""
    input:
        video=video_path,
        project=PROJECT_CONFIG,
        snapshot=SNAPSHOT,
    output:
        h5=per_video(".h5"),
        full=per_video("_full.pickle"),
        meta=per_video("_meta.pickle"),
        assemblies=per_video("_assemblies.pickle"),
        features=per_video("_bpt_features.h5"),
        **identity_crops_output(),
    params:
        shuffle=config["shuffle"],
        trainingset_index=config["trainingset_index"],
        batch_size=config["analysis"]["batch_size"],
        device=config["analysis"]["device"],
        features_dtype=config["analysis"]["features_dtype"],
        appearance_features=config["analysis"]["appearance_features"],
        stored_maps=SETTINGS.stored_feature_maps,
        fine_channels=config["analysis"]["fine_channels"],
        feature_every=config["analysis"]["feature_every"],
        crop_size=[config["identity"]["crop_width"], config["identity"]["crop_height"]],
        crop_every=config["identity"]["crop_every"],
        crop_near=config["identity"]["crop_near"],
        crop_quality=config["identity"]["crop_quality"],
        scorer=SCORER,
        prefix=video_prefix,
    threads: 4  # snakemake sets OMP_NUM_THREADS (torch's CPU threads) to this, capped at --cores
    resources:
        gpu=1,
        runtime=runtime_of_video("analyze"),
    log:
        f"{LOGS}/analyze/{{vid}}.log",
    benchmark:
        f"{BENCH}/analyze/{{vid}}.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/analyze.py"


rule tracklets:
    """Detections to tracklets (DLC's ellipse tracker): _el.pickle."""
    input:
        video=video_path,
        project=PROJECT_CONFIG,
        snapshot=SNAPSHOT,
        full=per_video("_full.pickle"),
        meta=per_video("_meta.pickle"),
        assemblies=per_video("_assemblies.pickle"),
    output:
        per_video("_el.pickle"),
    params:
        shuffle=config["shuffle"],
        trainingset_index=config["trainingset_index"],
        track_method=config["tracking"]["track_method"],
        prefix=video_prefix,
    resources:
        runtime=runtime_of_video("tracklets"),
    log:
        f"{LOGS}/tracklets/{{vid}}.log",
    benchmark:
        f"{BENCH}/tracklets/{{vid}}.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/tracklets.py"
