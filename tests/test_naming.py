"""Target names computed at parse time agree with DeepLabCut's own functions."""
from pathlib import Path

from cichlid_track.naming import DLCNames, labelled_video_suffix, net_display_name, snapshot_filename


def test_names_without_deeplabcut():
    n = DLCNames(task="tank", date="Nov22", iteration=0, train_fraction=0.95, shuffle=1, net_type="resnet_50",
                 snapshot_epoch=60)
    assert n.scorer == "DLC_Resnet50_tankNov22shuffle1_snapshot_60"
    assert n.model_folder == "dlc-models-pytorch/iteration-0/tankNov22-trainset95shuffle1"
    assert n.snapshot.endswith("train/snapshot-060.pt")
    assert net_display_name("dlcrnet_stride16_ms5") == "DlcrnetStride16Ms5"
    assert snapshot_filename(7) == "snapshot-007.pt"
    assert labelled_video_suffix(0.6) == "_el_id_p60_labeled.mp4"


def test_scorer_and_folders_equal_deeplabcuts(settings, demo_run):
    """On the demo's trained project: our parse-time names == DLC's get_scorer_name / get_model_folder."""
    from deeplabcut.pose_estimation_pytorch.apis.utils import get_scorer_name
    from deeplabcut.utils import auxiliaryfunctions
    from deeplabcut.core.engine import Engine

    from cichlid_track.dlc_calls import dlc_snapshot_index

    project_cfg = Path(settings.in_project("config.yaml"))
    cfg = auxiliaryfunctions.read_config(project_cfg)
    snapshot = Path(settings.in_project(settings.names.snapshot))
    assert snapshot.exists()
    idx = dlc_snapshot_index(snapshot.parent, snapshot)
    assert get_scorer_name(cfg, 1, cfg["TrainingFraction"][0], snapshot_index=idx) == settings.scorer
    folder = auxiliaryfunctions.get_model_folder(cfg["TrainingFraction"][0], 1, cfg, engine=Engine.PYTORCH)
    assert str(folder) == settings.names.model_folder
