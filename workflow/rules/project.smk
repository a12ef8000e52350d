rule check_labels:
    """Checks every labelled-data folder (labels readable, images present, points inside)."""
    input:
        project=SETTINGS.project_config,
        labels=labelled_data_inputs,
    output:
        LABEL_REPORT,
    params:
        fingerprint=labelled_data_fingerprint(),
    log:
        f"{LOGS}/check_labels.log",
    benchmark:
        f"{BENCH}/check_labels.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/check_labels.py"


rule project_copy:
    """Working copy of the user's DLC project (the original is never written)."""
    input:
        project=SETTINGS.project_config,
        labels=labelled_data_inputs,
        report=LABEL_REPORT,
    output:
        PROJECT_CONFIG,
    params:
        exclude=config["exclude_labelled_data"],
        on_bad=config["on_bad_labelled_data"],
    log:
        f"{LOGS}/project_copy.log",
    benchmark:
        f"{BENCH}/project_copy.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/project_copy.py"
