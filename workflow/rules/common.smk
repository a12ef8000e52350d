# Settings, sample sheet and target names, computed once at parse time.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir).parent / "scripts"))

from cichlid_track.settings import ConfigError, load_settings  # noqa: E402
from cichlid_track.samples import SampleSheetError  # noqa: E402
from cichlid_track.project import ProjectError  # noqa: E402
from cichlid_track.naming import labelled_video_suffix  # noqa: E402

try:
    S = load_settings(config, Path(workflow.basedir) / "schemas")
except (ConfigError, SampleSheetError, ProjectError) as err:
    # one line that names the key or file and the fix, without a Python traceback
    raise WorkflowError(str(err)) from None

RESULTS = S.results
SCORER = S.scorer
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
PROJECT_CONFIG = S.in_project("config.yaml")
LABEL_REPORT = f"{RESULTS}/qc/labeled_data.tsv"
PYTORCH_CONFIG = S.in_project(S.names.pytorch_config)  # DLC rewrites this one while training
TRAINING_CONFIG = f"{RESULTS}/training/pytorch_config.yaml"  # ours: the shuffle's declared output
SNAPSHOT = S.in_project(S.names.snapshot)
EVAL_TABLE = f"{RESULTS}/evaluation/{SCORER}-results.csv"
EVAL_IMAGES = f"{RESULTS}/evaluation/images"
REID_EPOCHS = S.reid_epochs
LABELLED_SUFFIX = labelled_video_suffix(S.pcutoff)
DLC_ENV = "../../envs/dlc.yaml"


wildcard_constraints:
    vid="[^/]+",
    group="[^/]+",


def canonical(d):
    """A dict param in key order: reordering keys in config.yaml must not look like a change."""
    return {k: canonical(v) if isinstance(v, dict) else v for k, v in sorted(d.items())}


def per_video(suffix):
    """Output pattern of a per-video DLC file: results/videos/<id>/<id><scorer><suffix>."""
    return f"{RESULTS}/videos/{{vid}}/{{vid}}{SCORER}{suffix}"


def video_path(wildcards):
    return S.samples[wildcards.vid].path


def labelled_data_inputs(wildcards):
    """The user's label files, so editing labels makes the project copy (and training) stale."""
    root = Path(S.project_config).parent / "labeled-data"
    return sorted(str(p) for p in root.glob("*/CollectedData_*") if p.suffix in (".h5", ".csv"))


def labelled_data_fingerprint():
    """Names, sizes and times of every labelled-data file: a restored or deleted image re-runs the checks
    even when file times alone would not tell Snakemake."""
    import hashlib
    import os

    h = hashlib.sha256()
    root = Path(S.project_config).parent / "labeled-data"
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.is_dir():
            for e in sorted(os.scandir(folder), key=lambda e: e.name):
                st = e.stat()
                h.update(f"{folder.name}/{e.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def triplets_of_group(wildcards):
    return [
        f"{RESULTS}/videos/{v}/{v}{SCORER}_triplet_vector.npy"
        for v in S.group_members(wildcards.group)
    ]


def reid_model_of(wildcards):
    return S.reid_model(wildcards.vid)


def reid_accuracy_of(wildcards):
    return str(Path(S.reid_model(wildcards.vid)).parent / "reid_accuracy.csv")


def truth_of(vid):
    """Ground-truth CSV of a video, if config['ground_truth'] has one ('' otherwise)."""
    if not config["ground_truth"]:
        return ""
    path = Path(config["ground_truth"]) / f"{vid}.csv"
    return str(path) if path.exists() else ""


def all_targets():
    targets = [EVAL_TABLE, LABEL_REPORT, f"{RESULTS}/qc/training.png", f"{RESULTS}/qc/batch.tsv"]
    for vid in S.samples:
        targets.append(S.video_file(vid, "_el.h5"))
        targets.append(S.labelled_video(vid))
    return targets
