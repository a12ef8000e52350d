"""Outputs are written atomically: a full disk or a read-only folder leaves no half-written file."""
import errno
import os
import subprocess

import pytest

from cichlid_track.atomic import atomic_path, write_text
from cichlid_track.rule_io import explain

from conftest import REPO

REPO_SCRIPTS = REPO / "scripts"


@pytest.fixture
def tiny_fs(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    yield mnt
    import gc

    gc.collect()  # a failed torch.save may still hold its file open
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_disk_full_leaves_no_file_with_the_final_name(tiny_fs):
    final = tiny_fs / "tracks.h5"
    with pytest.raises(OSError) as err:
        with atomic_path(final) as tmp, open(tmp, "wb") as fh:
            fh.write(b"x" * 200_000)
            fh.flush()
            os.fsync(fh.fileno())
    assert err.value.errno == errno.ENOSPC
    assert os.listdir(tiny_fs) == []
    assert "disk full while writing" in explain(err.value)


def test_read_only_results_folder_is_explained(tiny_fs):
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    with pytest.raises(OSError) as err:
        write_text(tiny_fs / "a" / "b.txt", "hello")
    line = explain(err.value)
    assert "read-only" in line and "results" in line and "\n" not in line


def test_interrupted_write_keeps_the_previous_complete_file(tmp_path):
    final = tmp_path / "out.csv"
    final.write_text("complete old version")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(final) as tmp:
            tmp.write_text("half of the new")
            raise KeyboardInterrupt
    assert final.read_text() == "complete old version"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_model_file_on_a_full_disk_is_explained(tiny_fs):
    """torch.save reports a full disk as 'enforce fail at inline_container.cc ... unexpected pos'."""
    import types

    import torch

    with pytest.raises(RuntimeError) as err:
        torch.save({"w": torch.zeros(100_000)}, tiny_fs / "snapshot-001.pt")
    smk = types.SimpleNamespace(output=[str(tiny_fs / "train" / "snapshot-002.pt")], log=["logs/train.log"])
    line = explain(err.value, smk)
    print(line)
    assert "disk is probably full" in line and f"free in {tiny_fs}" in line and "\n" not in line, line


def test_what_a_killed_job_left_is_removed_by_the_next_job_of_the_same_output(tmp_path, caplog):
    """SIGKILL (or a wall-time limit past its grace period) runs no clean-up: the half-written staging folder or
    partial file stays. The next job writing the same stage's outputs, or the same file, removes it; other
    stages' folders, which may belong to jobs still running, stay."""
    import signal
    import sys
    import textwrap

    from cichlid_track.atomic import staging_dir

    folder = tmp_path / "videos" / "tank 1"
    child = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(REPO_SCRIPTS)!r})
        from cichlid_track.atomic import atomic_path, staging_dir
        with staging_dir({str(folder)!r}, "analyze") as tmp, atomic_path({str(folder / "t.csv")!r}) as part:
            (tmp / "features.h5").write_bytes(b"x" * 100_000)
            part.write_text("half")
            print("ready", flush=True)
            time.sleep(60)
        """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    other = folder / ".staging-tracklets-abc123"
    other.mkdir()
    left = sorted(p.name for p in folder.iterdir())
    assert any(n.startswith(".staging-analyze-") for n in left) and any(n.endswith(".partial") for n in left)

    with caplog.at_level("WARNING"), staging_dir(folder, "analyze") as tmp:
        assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".staging-")) == sorted(
            [tmp.name, other.name])
    assert "left by an interrupted job (0.1 MB)" in caplog.text
    write_text(folder / "t.csv", "complete")
    assert sorted(p.name for p in folder.iterdir()) == [other.name, "t.csv"]
