"""Config validation: one line naming the key, the value and what is allowed."""
import copy

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


def test_sample_sheet_rows_are_schema_checked(config, tmp_path):
    sheet = tmp_path / "s.tsv"
    sheet.write_text("id\tname\nx\ty\n")
    config["samples"] = str(sheet)
    from cichlid_track.samples import SampleSheetError

    with pytest.raises((ConfigError, SampleSheetError), match="path"):
        load_settings(config, SCHEMAS)


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
