"""The QC report: built by Snakemake on the demo, opened in a real headless browser."""
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_snakemake


def test_qc_numbers_and_batch_table(settings, demo_run):
    table = pd.read_csv(demo_run["results"] / "qc" / "batch.tsv", sep="\t")
    assert sorted(table["video"]) == sorted(settings.samples)
    for col in ("all_fish_detected", "tracklets_before", "tracks_after", "min_coverage", "reid_test_accuracy",
                "motion IDF1", "reid IDF1", "motion HOTA", "reid HOTA", "reid AssA", "motion ID switches",
                "reid ID switches", "needs_a_look"):
        assert col in table, col
    print(table.to_string())
    for vid in settings.samples:
        s = json.loads((demo_run["results"] / "qc" / "videos" / f"{vid}.json").read_text())
        assert 0 <= s["all_fish_detected"] <= 1 and set(s["coverage"]) == set(settings.individuals)
        assert (demo_run["results"] / "qc" / "videos" / f"{vid}.png").stat().st_size > 10_000
    assert (demo_run["results"] / "qc" / "training.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def report_zip(demo_run):
    out = demo_run["work"] / "report.zip"
    run_snakemake(demo_run["work"], [demo_run["config"]], "--report", str(out))
    return out


def test_report_contains_every_figure(report_zip, settings):
    with zipfile.ZipFile(report_zip) as z:
        names = z.namelist()
    assert any(n.endswith("report.html") for n in names)
    for fig in ["training.png", "batch.tsv", *[f"{vid}.png" for vid in settings.samples]]:
        assert any(n.endswith(fig) for n in names), (fig, names[:20])


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], capture_output=True)
    return shutil.which("chromium")


def test_report_renders_in_a_headless_browser(report_zip, tmp_path):
    browser = _chromium()
    if not browser:
        pytest.skip("no chromium available")
    with zipfile.ZipFile(report_zip) as z:
        z.extractall(tmp_path)
    html = next(tmp_path.rglob("report.html"))
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900",
                    "--virtual-time-budget=8000", f"--screenshot={shot}", html.as_uri()],
                   capture_output=True, timeout=120)
    import cv2

    img = cv2.imread(str(shot))
    assert img is not None, "no screenshot"
    assert img.shape[:2] == (900, 1280)
    # non-blank: many distinct colours and real contrast, not a white page
    assert img.std() > 20 and len(np.unique(img.reshape(-1, 3), axis=0)) > 200
