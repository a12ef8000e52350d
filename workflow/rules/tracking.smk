rule identity:
    """The video's identity network, trained on its pose-aligned crops (labels from stretches where all fish are apart)."""
    input:
        tracklets=per_video("_el.pickle"),
        crops=per_video("_crops.h5"),
    output:
        f"{RESULTS}/videos/{{vid}}/identity_net.pth",
    params:
        n_fish=lambda wc: SETTINGS.n_tracks_of(wc.vid),
        contact=config["reid"]["contact"],
        jump=config["reid"]["jump"],
        stray_keypoints=config["tracking"]["stray_keypoints"],
        steps=config["identity"]["steps"],
        epochs=config["identity"]["epochs"],
        steps_per_frame=config["identity"]["steps_per_frame"],
        rounds=config["identity"]["rounds"],
        neighbours=config["identity"]["neighbours"],
        seed=config["identity"]["seed"],
        device=config["identity"]["device"],
    threads: 2  # a small CNN on small crops: CPUs are enough (a GPU job would wait in the queue longer)
    resources:
        runtime=runtime_of_video("identity"),
    log:
        f"{LOGS}/identity/{{vid}}.log",
    benchmark:
        f"{BENCH}/identity/{{vid}}.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/identity.py"


rule stitch:
    """Tracklets to tracks: motion + re-ID appearance (_el.h5), motion only beside it."""
    input:
        unpack(identity_inputs_of),
        tracklets=per_video("_el.pickle"),
        features=per_video("_bpt_features.h5"),
        meta=per_video("_meta.pickle"),
        reid=reid_model_of,
    output:
        tracks=per_video("_el.h5"),
        motion=per_video("_el_motion.h5"),
        summary=per_video("_tracking.json"),
    params:
        n_tracks=lambda wc: SETTINGS.n_tracks_of(wc.vid),
        individuals=SETTINGS.individuals,
        min_length=config["tracking"]["min_length"],
        appearance_weight=config["reid"]["appearance_weight"],
        method=config["reid"]["method"],
        contact=config["reid"]["contact"],
        jump=config["reid"]["jump"],
        feature_parts=config["reid"]["feature_parts"],
        body_colour=config["reid"]["body_colour"],
        max_gap=config["tracking"]["max_gap"],
        stray_keypoints=config["tracking"]["stray_keypoints"],
        sort_keypoints=config["tracking"]["sort_contact_keypoints"],
        assignment=config["identity"]["assignment"],
        scorer=SCORER,
    resources:
        runtime=runtime_of_video("stitch"),
    log:
        f"{LOGS}/stitch/{{vid}}.log",
    benchmark:
        f"{BENCH}/stitch/{{vid}}.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/stitch.py"


rule labelled_video:
    """The final tracks drawn on the video (DLC's renderer), coloured by individual, with trails."""
    input:
        video=video_path,
        tracks=per_video("_el.h5"),
    output:
        per_video(SETTINGS.labelled_video_suffix),
    params:
        trailpoints=config["video"]["trailpoints"],
        pcutoff=SETTINGS.pcutoff,
        colormap=SETTINGS.dlc.get("colormap", "rainbow"),
        crf=config["video"]["crf"],
    resources:
        runtime=runtime_of_video("labelled_video"),
    log:
        f"{LOGS}/labelled_video/{{vid}}.log",
    benchmark:
        f"{BENCH}/labelled_video/{{vid}}.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/labelled_video.py"
