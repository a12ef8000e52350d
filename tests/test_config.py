"""Config validation: one line naming the key, the value and what is allowed."""
import copy
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from cichlid_track.settings import ConfigError, check_against_schema, load_settings

SCHEMAS = REPO / "workflow" / "schemas"


@pytest.fixture
def config(demo_data):
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["project"] = str(demo_data["config"])
    cfg["samples"] = str(demo_data["samples"])
    return cfg


def error_of(cfg):
    with pytest.raises(ConfigError) as err:
        load_settings(copy.deepcopy(cfg), SCHEMAS)
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_repository_config_is_valid_and_defaults_are_filled(config):
    del config["training"]["max_snapshots"]
    del config["video"]
    s = load_settings(config, SCHEMAS)
    assert config["training"]["max_snapshots"] == 5  # nested default
    assert config["video"]["trailpoints"] == 10
    assert s.scorer == "DLC_Resnet50_tankNov22shuffle1_snapshot_60"
    assert list(s.samples) == ["tank1 clip", "tank2 clip"]


def test_unknown_key(config):
    config["training"]["epoch"] = 3
    msg = error_of(config)
    assert "'epoch' was unexpected" in msg and "'training'" in msg and "epochs" in msg


def test_wrong_type(config):
    config["reid"]["epochs"] = "many"
    msg = error_of(config)
    assert "reid.epochs" in msg and "'many'" in msg and "integer" in msg


def test_negative_epochs(config):
    config["training"]["epochs"] = -5
    msg = error_of(config)
    assert "training.epochs" in msg and "-5" in msg and "minimum of 1" in msg


def test_missing_project_key(config):
    del config["project"]
    assert "'project' is a required property" in error_of(config)


def test_project_file_missing(config, tmp_path):
    from cichlid_track.project import ProjectError

    config["project"] = str(tmp_path / "nowhere" / "config.yaml")
    with pytest.raises(ProjectError, match=r"nowhere/config.yaml' does not exist; set 'project'"):
        load_settings(config, SCHEMAS)


def test_snapshot_epoch_after_training_end(config):
    config["training"]["snapshot_epoch"] = 500
    assert "training.snapshot_epoch" in error_of(config)


def test_sample_sheet_rows_are_checked_against_samples_schema(config, tmp_path):
    """A row that the sheet reader accepts but samples.schema.yaml does not (an empty path): the schema's
    one line, naming the sheet, the row and the column."""
    sheet = tmp_path / "s.tsv"
    sheet.write_text("id\tpath\tgroup\nx\t\tg\n")
    config["samples"] = str(sheet)
    msg = error_of(config)
    assert f"{sheet} row 2" in msg and "'path'" in msg and "should be non-empty" in msg, msg


def test_relative_video_paths_resolve_against_the_sample_sheet(config, demo_data, tmp_path):
    """A sheet travels with its videos: 'videos/x.mp4' in /data/sheet.tsv is /data/videos/x.mp4, wherever
    snakemake runs."""
    video = Path(demo_data["videos"][0])
    sheet = video.parent.parent / "relative sheet.tsv"
    sheet.write_text(f"id\tpath\nclip\t{video.parent.name}/{video.name}\n")
    config["samples"] = str(sheet)
    s = load_settings(config, SCHEMAS, workdir=tmp_path)
    assert s.samples["clip"].path == str(video)


@pytest.mark.parametrize("milestones, values", [([90, 120], None), (None, [1e-4]), ([90, 120], [1e-4])])
def test_learning_rate_milestones_need_one_rate_each(config, milestones, values):
    config["training"].update(lr_milestones=milestones, lr_values=values)
    msg = error_of(config)
    assert "training.lr_milestones" in msg and "training.lr_values" in msg and "one learning rate per milestone" in msg


def test_net_types_the_one_pass_analysis_cannot_run_stop_at_parse_time(config):
    for net in ("top_down_resnet_50", "ctd_coam_w32", "dekr_w32", "rtmpose_s"):
        config["training"]["net_type"] = net
        msg = error_of(config)
        assert "training.net_type" in msg and net in msg and "resnet_50" in msg and "top-down" in msg, msg
    config["training"]["net_type"] = "resnet_101"
    assert load_settings(config, SCHEMAS).scorer.startswith("DLC_Resnet101_")


def test_old_spelling_of_a_renamed_key_is_named(config):
    config["exclude_labeled_data"] = []
    assert "'exclude_labeled_data' is now called 'exclude_labelled_data'" in error_of(config)


def test_ground_truth_null_and_dlc_h5_ground_truth(config, demo_data, tmp_path):
    """ground_truth may be null (like the other optional keys), a folder of the demo's <id>.csv, or of
    DeepLabCut .h5 files (as DLC's refine GUI saves tracks); both read the same."""
    import pandas as pd

    from cichlid_track.metrics import mot_metrics, read_truth

    config["ground_truth"] = None
    assert load_settings(copy.deepcopy(config), SCHEMAS).ground_truth("tank1 clip") == ""
    csv = Path(demo_data["ground_truth"]) / "tank1 clip.csv"
    truth = read_truth(csv)
    dlc = pd.concat({"DLC_Resnet50_tankNov22shuffle1_snapshot_60": truth}, axis=1, names=["scorer"])
    dlc.to_hdf(tmp_path / "tank1 clipDLC_Resnet50_tankNov22shuffle1_snapshot_60_el.h5", key="tracks")
    config["ground_truth"] = str(tmp_path)
    s = load_settings(config, SCHEMAS)
    found = s.ground_truth("tank1 clip")
    assert found.endswith("_el.h5")
    assert mot_metrics(read_truth(found), truth) == mot_metrics(truth, truth)
    assert s.ground_truth("tank2 clip") == ""  # no file for that video: no metrics, no error


def test_schema_one_liner_for_nested_enum():
    with pytest.raises(ConfigError, match=r"analysis.features_dtype.*'float8'.*float16"):
        check_against_schema({"project": "p", "analysis": {"features_dtype": "float8"}},
                             SCHEMAS / "config.schema.yaml")


def test_reid_group_shares_one_model(config, demo_data, tmp_path):
    """Videos of the same fish (sample sheet 'group') get one re-ID model in results/groups/<group>/."""
    import subprocess
    import sys

    from conftest import write_config

    sheet = tmp_path / "s.tsv"
    sheet.write_text("id\tpath\tgroup\n" + "".join(f"{v.stem}\t{v}\ttankA\n" for v in demo_data["videos"]))
    cfg = write_config(tmp_path / "c.yaml", project=str(demo_data["config"]), samples=str(sheet),
                       results=str(tmp_path / "results"))
    s = load_settings(yaml.safe_load(cfg.read_text()), SCHEMAS)
    assert {s.reid_model(v) for v in s.samples} == {str(tmp_path / "results/groups/tankA/dlc_transreid_30.pth")}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--snakefile",
                           str(REPO / "workflow" / "Snakefile"), "--directory", str(tmp_path), "--configfile",
                           str(cfg), "--cores", "1"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "reid_group          1" in proc.stdout or "reid_group 1" in " ".join(proc.stdout.split())
    assert "reid_video" not in proc.stdout


def test_fish_per_video_from_the_sample_sheet(config, demo_data, tmp_path):
    """Tanks hold different numbers of fish: the sheet's optional 'n_fish' sets one video's track count
    (stitching and QC); empty means tracking.n_tracks. More than the project's individuals, or not a
    number: one line naming the video or row and the fix."""
    a, b = demo_data["videos"]
    sheet = tmp_path / "s.tsv"
    sheet.write_text(f"id\tpath\tn_fish\nthree\t{a}\t3\nall\t{b}\t\n")
    config["samples"] = str(sheet)
    s = load_settings(copy.deepcopy(config), SCHEMAS)
    assert s.n_tracks_of("three") == 3 and s.n_tracks_of("all") == s.n_tracks == len(s.individuals)
    assert s.stitch_inputs("three")[4] == 3

    sheet.write_text(f"id\tpath\tn_fish\nmany\t{a}\t{len(s.individuals) + 1}\n")
    msg = error_of(config)
    assert "'many' has n_fish 5" in msg and "individuals" in msg, msg
    sheet.write_text(f"id\tpath\tn_fish\nodd\t{a}\tfour\n")
    from cichlid_track.samples import SampleSheetError

    with pytest.raises(SampleSheetError, match=r"s.tsv row 2: 'n_fish' is 'four'; give the number of fish"):
        load_settings(copy.deepcopy(config), SCHEMAS)


@pytest.mark.parametrize("crop, size", [(128, (128, 128)), ([256, 192], (256, 192))])
def test_training_crop_is_a_square_or_width_and_height(config, crop, size):
    from cichlid_track.training import pytorch_config_updates

    config["training"]["crop_size"] = crop
    load_settings(config, SCHEMAS)
    updates = pytorch_config_updates(config["training"])
    assert (updates["data.train.crop_sampling.width"], updates["data.train.crop_sampling.height"]) == size


@pytest.mark.parametrize("crop", [[256], [256, 192, 3], "256", [256, 16]])
def test_a_wrong_training_crop_is_named(config, crop):
    config["training"]["crop_size"] = crop
    msg = error_of(config)
    assert "training.crop_size" in msg, msg
