rule triplets:
    """Anchor/positive/negative feature triplets mined from one video's tracklets."""
    input:
        tracklets=per_video("_el.pickle"),
        features=per_video("_bpt_features.h5"),
    output:
        per_video("_triplet_vector.npy"),
    params:
        n_triplets=config["reid"]["n_triplets"],
        seed=config["reid"]["seed"],
        feature_parts=config["reid"]["feature_parts"],
    resources:
        runtime=runtime_of_video("triplets"),
    log:
        f"{LOGS}/triplets/{{vid}}.log",
    benchmark:
        f"{BENCH}/triplets/{{vid}}.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/triplets.py"


REID_PARAMS = dict(
    epochs=REID_EPOCHS,
    batch_size=config["reid"]["batch_size"],
    train_fraction=config["reid"]["train_fraction"],
    learning_rate=config["reid"]["learning_rate"],
    min_triplets=config["reid"]["min_triplets"],
    seed=config["reid"]["seed"],
    device=config["reid"]["device"],
)


rule reid_video:
    """DLC's transformer re-ID model for one video, in that video's folder."""
    input:
        per_video("_triplet_vector.npy"),
    output:
        model=f"{RESULTS}/videos/{{vid}}/dlc_transreid_{REID_EPOCHS}.pth",
        accuracy=f"{RESULTS}/videos/{{vid}}/reid_accuracy.csv",
    params:
        **REID_PARAMS,
    resources:
        gpu=1,
        runtime=runtime_of_video("reid"),
    log:
        f"{LOGS}/reid/{{vid}}.log",
    benchmark:
        f"{BENCH}/reid/{{vid}}.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/reid_video.py"


rule reid_group:
    """One re-ID model for a group of videos of the same animals (sample sheet 'group')."""
    input:
        triplets_of_group,
    output:
        model=f"{RESULTS}/groups/{{group}}/dlc_transreid_{REID_EPOCHS}.pth",
        accuracy=f"{RESULTS}/groups/{{group}}/reid_accuracy.csv",
    params:
        **REID_PARAMS,
    resources:
        gpu=1,
        runtime=runtime_of_group("reid"),
    log:
        f"{LOGS}/reid/group_{{group}}.log",
    benchmark:
        f"{BENCH}/reid/group_{{group}}.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/reid_group.py"
