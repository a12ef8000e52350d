rule stitch:
    """Tracklets to tracks: motion + re-ID appearance (_el.h5), motion only beside it."""
    input:
        tracklets=per_video("_el.pickle"),
        features=per_video("_bpt_features.h5"),
        meta=per_video("_meta.pickle"),
        reid=reid_model_of,
    output:
        tracks=per_video("_el.h5"),
        motion=per_video("_el_motion.h5"),
        summary=per_video("_tracking.json"),
    params:
        n_tracks=S.n_tracks,
        individuals=S.individuals,
        min_length=config["tracking"]["min_length"],
        appearance_weight=config["reid"]["appearance_weight"],
        method=config["reid"]["method"],
        contact=config["reid"]["contact"],
        feature_parts=config["reid"]["feature_parts"],
        body_colour=config["reid"]["body_colour"],
        max_gap=config["tracking"]["max_gap"],
        stray_keypoints=config["tracking"]["stray_keypoints"],
        device=config["reid"]["device"],
        scorer=SCORER,
    log:
        f"{LOGS}/stitch/{{vid}}.log",
    benchmark:
        f"{BENCH}/stitch/{{vid}}.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/stitch.py"


rule labelled_video:
    """create_labeled_video: keypoints coloured by individual, with trails."""
    input:
        video=video_path,
        project=PROJECT_CONFIG,
        snapshot=SNAPSHOT,
        tracks=per_video("_el.h5"),
        meta=per_video("_meta.pickle"),
    output:
        per_video(LABELLED_SUFFIX),
    params:
        shuffle=config["shuffle"],
        trainingset_index=config["trainingset_index"],
        trailpoints=config["video"]["trailpoints"],
        pcutoff=S.pcutoff,
        scorer=SCORER,
    log:
        f"{LOGS}/labelled_video/{{vid}}.log",
    benchmark:
        f"{BENCH}/labelled_video/{{vid}}.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/labelled_video.py"
