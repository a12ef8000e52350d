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
