"""Bad videos: clear one-line errors, the other videos complete, nothing half-written, nothing lost."""
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cichlid_track.settings import load_settings
from conftest import REPO, run_snakemake, tree_hashes, write_config


@pytest.fixture(scope="module")
def bad_batch(settings, demo_run, tmp_path_factory):
    """Awkward videos, run with --keep-going on the demo run's trained model (its own project, so that the
    trained model is up to date). The demo's own videos are not re-run here (test_e2e and test_slurm do)."""
    from cichlid_track.synth import DemoSpec, background, write_video

    src = tmp_path_factory.mktemp("vidéos ü.x")
    demo_videos = [Path(s.path) for s in settings.samples.values()]
    project = Path(settings.project_config)
    good = demo_videos[0]
    data = good.read_bytes()
    (src / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (src / "random bytes.mp4").write_bytes(np.random.default_rng(0).bytes(20000))
    spec = DemoSpec()
    rng = np.random.default_rng(1)
    write_video(src / "empty tank.mp4", [background(spec, rng)] * 20, 30)
    from cichlid_track.synth import fish_looks, simulate, render

    looks = fish_looks(4, "easy", rng)
    short = DemoSpec(n_frames=3)
    bg = background(short, rng)
    write_video(src / "tänk.v2 ñ short.mp4", [render(bg, s, looks)[0] for s in simulate(short, looks, rng)], 30)
    # fish only in the second half: the first frames show an empty tank
    gaps = DemoSpec(n_frames=60)
    bg2 = background(gaps, rng)
    frames = [bg2] * 30 + [render(bg2, s, looks)[0] for s in simulate(gaps, looks, rng)][30:]
    write_video(src / "late fish.mp4", frames, 30)
    videos = sorted(src.glob("*.mp4"))
    sheet = src / "samples.tsv"
    sheet.write_text("id\tpath\n" + "".join(f"{v.stem}\t{v}\n" for v in videos))
    before = tree_hashes(project.parent, *videos)
    # a results folder of its own, with the demo's trained model (file times kept, so nothing retrains): the
    # session's demo run stays as it was for the other tests
    work = tmp_path_factory.mktemp("bad batch")
    shutil.copytree(demo_run["results"], work / "results",
                    ignore=shutil.ignore_patterns("videos", "groups", "logs", "benchmarks"))
    # a relative results folder on purpose (DLC functions change the working directory)
    # re-ID and the identity network trained briefly: what is checked here is what each awkward video does, not
    # the tracks' quality. The 3-frame video must be too short for re-ID whatever this session's training detects:
    # each of its T tracklets gives at most 3 x 2 x (T - 1) distinct triplets, 72 for 4 fish, and one training
    # gave 54, above the default minimum of 50; 400 holds up to 8 tracklets (4 fish and 4 stray detections).
    cfg = write_config(work / "bad.yaml", project=str(project), samples=str(sheet), results="results",
                       reid={"epochs": 5, "min_triplets": 400}, identity={"rounds": 1, "epochs": 10})
    proc = run_snakemake(work, [cfg], "--keep-going", check=False)
    # the same names, read from here: results as an absolute path
    settings = load_settings({**yaml.safe_load(cfg.read_text()), "results": str(work / "results")},
                             REPO / "workflow" / "schemas", workdir=work)
    return {"proc": proc, "cfg": cfg, "videos": videos, "before": before, "results": work / "results",
            "settings": settings, "work": work}


def errors(bad_batch):
    out = bad_batch["proc"].stdout + bad_batch["proc"].stderr
    return [line for line in out.splitlines() if line.startswith("ERROR in rule")]


def outputs_of(results, vid):
    return sorted(p.name for p in (Path(results) / "videos" / vid).glob("*") if not p.name.startswith("."))


@pytest.mark.parametrize("vid", ["truncated", "random bytes"])
def test_corrupt_video_fails_with_one_clear_line_and_no_partial_outputs(bad_batch, vid):
    assert bad_batch["proc"].returncode != 0
    mine = [e for e in errors(bad_batch) if f"vid={vid})" in e]
    assert mine, errors(bad_batch)
    assert "no frame can be decoded" in mine[0] and f"{vid}.mp4" in mine[0] and "re-encode" in mine[0]
    assert outputs_of(bad_batch["results"], vid) == []
    assert not list((Path(bad_batch["results"]) / "videos" / vid).glob(".staging-*"))


def test_other_videos_complete(bad_batch):
    for vid in ["empty tank", "tänk.v2 ñ short", "late fish"]:
        names = outputs_of(bad_batch["results"], vid)
        assert any(n.endswith("_el.h5") for n in names) and any(n.endswith("_labeled.mp4") for n in names), (vid, names)


def test_fish_free_video_gives_empty_tracks_and_a_warning(bad_batch):
    settings = bad_batch["settings"]
    vid = "empty tank"
    tracks = pd.read_hdf(settings.video_file(vid, "_el.h5"))
    assert len(tracks) == 20 and tracks.isna().all().all()
    summary = json.loads(Path(settings.video_file(vid, "_tracking.json")).read_text())
    assert "warning" in summary


def test_frames_without_fish_are_empty_rows_not_a_crash(bad_batch):
    settings = bad_batch["settings"]
    tracks = pd.read_hdf(settings.video_file("late fish", "_el.h5"))
    assert len(tracks) == 60
    assert tracks.iloc[:25].isna().all().all() and tracks.iloc[35:].notna().any().any()


def test_too_short_video_skips_reid_and_says_so(bad_batch):
    settings = bad_batch["settings"]
    vid = "tänk.v2 ñ short"
    summary = json.loads(Path(settings.video_file(vid, "_tracking.json")).read_text())
    assert summary["reid_used"] is False
    assert "re-ID skipped" in summary["warning"] or "no tracklets" in summary["warning"]
    tracks = pd.read_hdf(settings.video_file(vid, "_el.h5"))
    assert len(tracks) == 3


def test_inputs_byte_identical_after_a_failed_run(bad_batch):
    assert tree_hashes(*bad_batch["videos"]) == {k: v for k, v in bad_batch["before"].items()
                                                 if any(k == str(p) for p in bad_batch["videos"])}
