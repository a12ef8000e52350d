"""Corrupted labelled-data folders: reported, and stopped on or excluded as the config says."""
import pandas as pd
import yaml

from conftest import REPO, run_snakemake, tree_hashes, write_config
from cichlid_track.labelcheck import check_project


def corrupt(project_config):
    """session1: a missing image and a keypoint outside the image; session2: unreadable labels."""
    root = project_config.parent / "labeled-data"
    (root / "session1" / "img0003.png").unlink()
    h5 = root / "session1" / "CollectedData_demo.h5"
    df = pd.read_hdf(h5)
    df.iloc[0, 0] = 5000.0
    df.to_hdf(h5, key="df_with_missing", mode="w")
    (root / "session2" / "CollectedData_demo.h5").write_bytes(b"not hdf5")
    (root / "session2" / "CollectedData_demo.csv").write_text("garbage")


def test_report_lists_each_folder_problem(copy_of_demo_project):
    rows = {r["folder"]: r for r in check_project(yaml.safe_load(copy_of_demo_project.read_text()),
                                                  copy_of_demo_project.parent)}
    assert all(r["ok"] for r in rows.values()) and rows["session1"]["images"] == 32
    corrupt(copy_of_demo_project)
    rows = {r["folder"]: r for r in check_project(yaml.safe_load(copy_of_demo_project.read_text()),
                                                  copy_of_demo_project.parent)}
    p1 = "; ".join(rows["session1"]["problems"])
    assert "images missing: 1 (img0003.png)" in p1 and "keypoints outside the image in: 1 (img0000.png)" in p1
    assert "CollectedData_demo.h5 unreadable" in "; ".join(rows["session2"]["problems"])


def test_mismatched_bodyparts_and_duplicate_frames(copy_of_demo_project):
    h5 = copy_of_demo_project.parent / "labeled-data" / "session1" / "CollectedData_demo.h5"
    df = pd.read_hdf(h5)
    df = pd.concat([df, df.iloc[:1]])
    df.columns = df.columns.set_levels([b.replace("snout", "nose") for b in df.columns.levels[2]], level=2)
    df.to_hdf(h5, key="df_with_missing", mode="w")
    (row,) = [r for r in check_project(yaml.safe_load(copy_of_demo_project.read_text()), copy_of_demo_project.parent)
              if r["folder"] == "session1"]
    text = "; ".join(row["problems"])
    assert "body parts not in the project config: ['nose']" in text and "duplicate frames" in text


def test_workflow_stops_naming_bad_folders_or_excludes_them(copy_of_demo_project, demo_data, tmp_path):
    corrupt(copy_of_demo_project)
    before = tree_hashes(copy_of_demo_project.parent)
    results = tmp_path / "results"
    cfg = write_config(tmp_path / "c.yaml", project=str(copy_of_demo_project), samples=str(demo_data["samples"]),
                       results=str(results))
    target = str(results / "project" / "config.yaml")
    proc = run_snakemake(tmp_path, [cfg], target, check=False)
    assert proc.returncode != 0
    lines = [l for l in (proc.stdout + proc.stderr).splitlines() if l.startswith("ERROR in rule project_copy")]
    assert lines and "session1, session2" in lines[0] and "exclude_labelled_data" in lines[0], proc.stderr[-3000:]
    report = pd.read_csv(results / "qc" / "labelled_data.tsv", sep="\t")
    assert list(report["ok"]) == [False, False]

    assert tree_hashes(copy_of_demo_project.parent) == before

    # session1 repaired; session2 still broken: with on_bad_labelled_data: exclude it is left out
    import shutil

    shutil.rmtree(copy_of_demo_project.parent / "labeled-data" / "session1")
    shutil.copytree(demo_data["project"] / "labeled-data" / "session1",
                    copy_of_demo_project.parent / "labeled-data" / "session1")
    cfg2 = write_config(tmp_path / "c2.yaml", project=str(copy_of_demo_project), samples=str(demo_data["samples"]),
                        results=str(results), on_bad_labelled_data="exclude")
    run_snakemake(tmp_path, [cfg2], target)
    work = yaml.safe_load((results / "project" / "config.yaml").read_text())
    assert [k.rsplit("/", 1)[-1] for k in work["video_sets"]] == ["session1.mp4"]
    assert "leaving out labelled-data folders with problems: ['session2']" in (results / "logs" / "project_copy.log").read_text()
