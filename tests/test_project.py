"""The working copy of a DLC project: never writes into the user's project."""
import os
import shutil

import pytest
import yaml

from conftest import tree_hashes
from cichlid_track.project import ProjectError, make_working_copy


def test_copy_links_labels_fixes_paths_and_leaves_user_project_identical(copy_of_demo_project, tmp_path):
    src = copy_of_demo_project.parent
    before = tree_hashes(src)
    dest = tmp_path / "work"
    summary = make_working_copy(copy_of_demo_project, dest, exclude=["session2"])
    assert summary == {"kept": ["session1"], "excluded": ["session2"]}
    cfg = yaml.safe_load((dest / "config.yaml").read_text())
    assert cfg["project_path"] == str(dest.resolve())
    assert cfg["engine"] == "pytorch"
    assert [os.path.basename(k) for k in cfg["video_sets"]] == ["session1.mp4"]
    assert all(k.startswith(str(dest.resolve())) for k in cfg["video_sets"])
    img = dest / "labeled-data" / "session1" / "img0000.png"
    assert img.is_symlink() and img.resolve() == (src / "labeled-data" / "session1" / "img0000.png").resolve()
    assert not (dest / "labeled-data" / "session2").exists()
    assert tree_hashes(src) == before


def test_moved_project_gets_its_paths_fixed(copy_of_demo_project, tmp_path):
    """A project moved from elsewhere (stale project_path and video_sets) works unedited."""
    moved = tmp_path / "moved here" / "proj"
    shutil.move(str(copy_of_demo_project.parent), moved)
    cfg = yaml.safe_load((moved / "config.yaml").read_text())
    assert cfg["project_path"] != str(moved)  # stale, as after a move
    make_working_copy(moved / "config.yaml", tmp_path / "w")
    new = yaml.safe_load((tmp_path / "w" / "config.yaml").read_text())
    assert new["project_path"] == str((tmp_path / "w").resolve())
    assert (tmp_path / "w" / "labeled-data" / "session2" / "CollectedData_demo.h5").resolve().is_file()


def test_unknown_exclusion_and_missing_folder(copy_of_demo_project, tmp_path):
    with pytest.raises(ProjectError, match=r"exclude_labelled_data names \['sesion1'\]"):
        make_working_copy(copy_of_demo_project, tmp_path / "w", exclude=["sesion1"])
    shutil.rmtree(copy_of_demo_project.parent / "labeled-data" / "session1")
    with pytest.raises(ProjectError, match="session1 does not exist but is listed in video_sets"):
        make_working_copy(copy_of_demo_project, tmp_path / "w2")


def test_not_a_multi_animal_project(copy_of_demo_project, tmp_path):
    cfg = yaml.safe_load(copy_of_demo_project.read_text())
    cfg["multianimalproject"] = False
    copy_of_demo_project.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ProjectError, match="multi-animal"):
        make_working_copy(copy_of_demo_project, tmp_path / "w")


def test_moved_results_folder_does_not_look_like_a_changed_project(copy_of_demo_project, tmp_path):
    """DLC's read_config rewrites project_path when a folder moved, and the new timestamp would make Snakemake
    train again. Rule scripts settle it first, keeping the timestamp, so DLC has nothing to rewrite."""
    from deeplabcut.utils.auxiliaryfunctions import read_config

    from cichlid_track.project import settle_project_path

    make_working_copy(copy_of_demo_project, tmp_path / "results" / "project")
    shutil.move(str(tmp_path / "results"), tmp_path / "moved results")
    config = tmp_path / "moved results" / "project" / "config.yaml"
    old = config.stat().st_mtime_ns

    (tmp_path / "b").mkdir()  # what DLC alone does to a moved copy: rewrites it, with a new timestamp
    shutil.copy2(config, tmp_path / "b" / "config.yaml")
    os.utime(tmp_path / "b" / "config.yaml", ns=(old, old))
    read_config(tmp_path / "b" / "config.yaml")
    assert (tmp_path / "b" / "config.yaml").stat().st_mtime_ns != old

    assert settle_project_path(config) is True
    assert yaml.safe_load(config.read_text())["project_path"] == str(config.parent.absolute())
    assert config.stat().st_mtime_ns == old
    read_config(config)  # DLC finds nothing to repair
    assert config.stat().st_mtime_ns == old
    assert settle_project_path(config) is False
