rule shuffle:
    """Training dataset (create_multianimaltraining_dataset) and pytorch_config.yaml."""
    input:
        PROJECT_CONFIG,
    output:
        TRAINING_CONFIG,
    params:
        dlc_pytorch_config=PYTORCH_CONFIG,
        shuffle=config["shuffle"],
        trainingset_index=config["trainingset_index"],
        training=canonical(config["training"]),
    log:
        f"{LOGS}/shuffle.log",
    benchmark:
        f"{BENCH}/shuffle.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/shuffle.py"


rule train:
    """Pose model training; resumes from the newest snapshot after an interruption."""
    input:
        project=PROJECT_CONFIG,
        pytorch_config=TRAINING_CONFIG,
    output:
        SNAPSHOT,
    params:
        dlc_pytorch_config=PYTORCH_CONFIG,
        shuffle=config["shuffle"],
        trainingset_index=config["trainingset_index"],
        snapshot_epoch=SETTINGS.names.snapshot_epoch,
        weights=config["training"]["weights"],
        device=config["training"]["device"],
    threads: 4  # snakemake sets OMP_NUM_THREADS (torch's CPU threads) to this, capped at --cores
    resources:
        gpu=1,
    log:
        f"{LOGS}/train.log",
    benchmark:
        f"{BENCH}/train.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/train.py"


rule evaluate:
    """evaluate_network on the chosen snapshot: RMSE/mAP table and labelled test images."""
    input:
        project=PROJECT_CONFIG,
        snapshot=SNAPSHOT,
    output:
        table=EVAL_TABLE,
        images=directory(EVAL_IMAGES),
    params:
        shuffle=config["shuffle"],
        trainingset_index=config["trainingset_index"],
        evaluation_folder=SETTINGS.in_project(SETTINGS.names.evaluation_folder),
        scorer=SCORER,
    resources:
        gpu=1,
    log:
        f"{LOGS}/evaluate.log",
    benchmark:
        f"{BENCH}/evaluate.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/evaluate.py"
