# Settings, sample sheet, target names and job resources, computed once at parse time.
# Config keys are read from `config` (validated, defaults filled); names and derived values come from
# SETTINGS (cichlid_track.settings), the one place that names every file.
from pathlib import Path

from cichlid_track.cluster import check_slurm_settings, slurm_resource_texts
from cichlid_track.errors import CichlidError
from cichlid_track.settings import load_settings

try:
    SETTINGS = load_settings(config, Path(workflow.basedir) / "schemas")
    if not workflow.remote_exec:  # jobs on the cluster get the values already expanded
        check_slurm_settings(slurm_resource_texts(getattr(workflow.resource_settings.default_resources, "args", None),
                                                  workflow.resource_settings.overwrite_resources))
except CichlidError as err:
    # one line that names the key or file and the fix, without a Python traceback
    raise WorkflowError(str(err)) from None

RESULTS = SETTINGS.results
SCORER = SETTINGS.scorer
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
PROJECT_CONFIG = SETTINGS.in_project("config.yaml")
LABEL_REPORT = f"{RESULTS}/qc/labelled_data.tsv"
PYTORCH_CONFIG = SETTINGS.in_project(SETTINGS.names.pytorch_config)  # DLC rewrites this one while training
TRAINING_CONFIG = f"{RESULTS}/training/pytorch_config.yaml"  # ours: the shuffle's declared output
SNAPSHOT = SETTINGS.in_project(SETTINGS.names.snapshot)
EVAL_TABLE = f"{RESULTS}/evaluation/{SCORER}-results.csv"
EVAL_IMAGES = f"{RESULTS}/evaluation/images"
REID_EPOCHS = SETTINGS.reid_epochs
DLC_ENV = "../../envs/dlc.yaml"


wildcard_constraints:
    vid="[^/]+",
    group="[^/]+",


# rules that take seconds run in the snakemake process itself, not as cluster jobs
localrules:
    check_labels,
    project_copy,
    training_qc,
    batch_table,


def canonical(d):
    """A dict param in key order: reordering keys in config.yaml must not look like a change."""
    return {k: canonical(v) if isinstance(v, dict) else v for k, v in sorted(d.items())}


def per_video(suffix):
    """Output pattern of a per-video file: results/videos/<id>/<id><scorer><suffix>."""
    return SETTINGS.video_file("{vid}", suffix)


def video_prefix(wildcards):
    return SETTINGS.video_prefix(wildcards.vid)


def video_path(wildcards):
    return SETTINGS.samples[wildcards.vid].path


def labelled_data_inputs(wildcards):
    """The user's label files, so editing labels makes the project copy (and training) stale."""
    root = Path(SETTINGS.project_config).parent / "labeled-data"
    return sorted(str(p) for p in root.glob("*/CollectedData_*") if p.suffix in (".h5", ".csv"))


def labelled_data_fingerprint():
    """Names, sizes and times of every labelled-data file: a restored or deleted image re-runs the checks
    even when file times alone would not tell Snakemake."""
    import hashlib
    import os

    h = hashlib.sha256()
    root = Path(SETTINGS.project_config).parent / "labeled-data"
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.is_dir():
            for e in sorted(os.scandir(folder), key=lambda e: e.name):
                st = e.stat()
                h.update(f"{folder.name}/{e.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def triplets_of_group(wildcards):
    return [SETTINGS.video_file(v, "_triplet_vector.npy") for v in SETTINGS.group_members(wildcards.group)]


def reid_model_of(wildcards):
    return SETTINGS.reid_model(wildcards.vid)


def identity_crops_output():
    """The analysis' crops file, when identity is on (unpacked into the rule's outputs)."""
    return {"crops": per_video("_crops.h5")} if config["identity"]["enabled"] else {}


def identity_inputs_of(wildcards):
    """The stitch rule's identity network and crops, when identity is on."""
    return {"identity": SETTINGS.identity_model(wildcards.vid), "crops": SETTINGS.video_file(wildcards.vid, "_crops.h5")} \
        if config["identity"]["enabled"] else {}


def reid_accuracy_of(wildcards):
    return f"{SETTINGS.reid_folder(wildcards.vid)}/reid_accuracy.csv"


def runtime_of_video(stage):
    """runtime (minutes) of a per-video job: the video's frames times the stage's per-frame cost."""
    return lambda wildcards, attempt: SETTINGS.runtime_minutes(stage, [wildcards.vid], attempt)


def runtime_of_group(stage):
    return lambda wildcards, attempt: SETTINGS.runtime_minutes(
        stage, SETTINGS.group_members(wildcards.group), attempt)


def all_targets():
    targets = [EVAL_TABLE, LABEL_REPORT, f"{RESULTS}/qc/training.png", f"{RESULTS}/qc/batch.tsv"]
    for vid in SETTINGS.samples:
        targets.append(SETTINGS.video_file(vid, "_el.h5"))
        targets.append(SETTINGS.labelled_video(vid))
    return targets
