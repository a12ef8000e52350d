rule project_copy:
    """Working copy of the user's DLC project (the original is never written)."""
    input:
        project=S.project_config,
        labels=labelled_data_inputs,
    output:
        PROJECT_CONFIG,
    params:
        exclude=config["exclude_labeled_data"],
    log:
        f"{LOGS}/project_copy.log",
    benchmark:
        f"{BENCH}/project_copy.tsv"
    conda:
        DLC_ENV
    script:
        "../../scripts/project_copy.py"
