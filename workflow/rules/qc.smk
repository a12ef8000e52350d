rule training_qc:
    """Figure: training loss, evaluation RMSE/mAP and a few evaluation images."""
    input:
        snapshot=SNAPSHOT,
        table=EVAL_TABLE,
        images=EVAL_IMAGES,
    output:
        report(
            f"{RESULTS}/qc/training.png",
            caption="../report/training.rst",
            category="1. Model",
        ),
    params:
        learning_stats=SETTINGS.in_project(f"{SETTINGS.names.train_folder}/learning_stats.csv"),
    log:
        f"{LOGS}/training_qc.log",
    benchmark:
        f"{BENCH}/training_qc.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/training_qc.py"


rule video_qc:
    """Per-video QC numbers and figure (coverage, re-ID accuracy, labelled frames)."""
    input:
        tracks=per_video("_el.h5"),
        motion=per_video("_el_motion.h5"),
        assemblies=per_video("_assemblies.pickle"),
        tracklets=per_video("_el.pickle"),
        summary=per_video("_tracking.json"),
        reid_accuracy=reid_accuracy_of,
        video=per_video(SETTINGS.labelled_video_suffix),
    output:
        figure=report(
            f"{RESULTS}/qc/videos/{{vid}}.png",
            caption="../report/video.rst",
            category="3. Videos",
            subcategory="{vid}",
        ),
        summary=f"{RESULTS}/qc/videos/{{vid}}.json",
    params:
        n_expected=lambda wc: SETTINGS.n_tracks_of(wc.vid),
        truth=lambda wc: SETTINGS.ground_truth(wc.vid),
    resources:
        runtime=runtime_of_video("video_qc"),
    log:
        f"{LOGS}/video_qc/{{vid}}.log",
    benchmark:
        f"{BENCH}/video_qc/{{vid}}.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/video_qc.py"


rule batch_table:
    """One row per video, with a flag for those that need a look."""
    input:
        expand(f"{RESULTS}/qc/videos/{{vid}}.json", vid=list(SETTINGS.samples)),
    output:
        report(
            f"{RESULTS}/qc/batch.tsv",
            caption="../report/batch.rst",
            category="2. Batch",
        ),
    log:
        f"{LOGS}/batch_table.log",
    benchmark:
        f"{BENCH}/batch_table.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/batch_table.py"
