"""Sample sheet and video pattern handling (parse time)."""
import pytest

from cichlid_track.samples import SampleSheetError, read_sample_sheet, samples_from_pattern, samples_from_rows


def touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_ids_default_to_stems_and_odd_names_work(tmp_path):
    a = touch(tmp_path / "ünï cödé dir" / "tank 1.v2.mp4")
    b = touch(tmp_path / "b" / "clip.AVI")
    c = touch(tmp_path / "c" / "night.mov")
    samples = samples_from_rows([{"path": str(a)}, {"path": str(b)}, {"path": str(c), "id": "n1", "group": "g"}],
                                "s.tsv", tmp_path)
    assert [s.id for s in samples] == ["tank 1.v2", "clip", "n1"]
    assert samples[2].group == "g"


def test_relative_paths_resolve_against_the_base_folder(tmp_path):
    touch(tmp_path / "v" / "a.mp4")
    (s,) = samples_from_rows([{"path": "v/a.mp4"}], "s.tsv", tmp_path)
    assert s.path == str(tmp_path / "v" / "a.mp4")


def test_duplicate_ids_name_the_row_and_the_fix(tmp_path):
    a = touch(tmp_path / "day1" / "clip.mp4")
    b = touch(tmp_path / "day2" / "clip.mp4")
    with pytest.raises(SampleSheetError) as err:
        samples_from_rows([{"path": str(a)}, {"path": str(b)}], "samples.tsv", tmp_path)
    msg = str(err.value)
    assert "samples.tsv row 3" in msg and "'clip'" in msg and "distinct id" in msg
    assert "\n" not in msg


def test_missing_video_names_the_row(tmp_path):
    with pytest.raises(SampleSheetError, match=r"samples.tsv row 2: video file .*nope.mp4.* does not exist"):
        samples_from_rows([{"path": str(tmp_path / "nope.mp4")}], "samples.tsv", tmp_path)


def test_unreadable_video_names_the_row():
    """Run as an unprivileged user (root reads anything, and CI runs as root): a video that user cannot
    read is reported with its row and the fix."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    if os.geteuid() == 0:
        user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
    elif os.access("/", os.W_OK):
        pytest.skip("cannot switch user here")
    else:
        user = []  # already unprivileged
    from pathlib import Path

    import cichlid_track

    folder = Path(tempfile.mkdtemp(prefix="cichlid-unreadable-"))
    try:
        os.chmod(folder, 0o755)
        # the module (standard library only) where that user can read it: CI's clone may sit in a private folder
        lib = folder / "lib" / "cichlid_track"
        lib.mkdir(parents=True)
        (lib / "__init__.py").write_text("")
        for name in ("samples.py", "errors.py"):
            shutil.copy(Path(cichlid_track.__file__).parent / name, lib / name)
        for d in (folder / "lib", lib):
            d.chmod(0o755)
        v = touch(folder / "locked.mp4")
        v.chmod(0o600)  # owned by root (or us): nobody else reads it
        code = ("from cichlid_track.samples import samples_from_rows, SampleSheetError\n"
                "try:\n"
                f"    samples_from_rows([{{'path': {str(v)!r}}}], 'samples.tsv', '/')\n"
                "except SampleSheetError as err:\n"
                "    print(err)\n")
        python = shutil.which("python3", path="/usr/bin:/usr/local/bin") or sys.executable
        proc = subprocess.run([*user, python, "-c", code], capture_output=True, text=True,
                              env={"PYTHONPATH": str(folder / "lib"), "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "samples.tsv row 2" in proc.stdout and "is not readable; fix its permissions" in proc.stdout, proc.stdout
    finally:
        shutil.rmtree(folder)


def test_unsupported_extension(tmp_path):
    v = touch(tmp_path / "clip.mkv")
    with pytest.raises(SampleSheetError, match=r"\.mp4, \.avi, \.mov"):
        samples_from_rows([{"path": str(v)}], "s.tsv", tmp_path)


def test_id_that_cannot_be_a_folder(tmp_path):
    v = touch(tmp_path / "a.mp4")
    with pytest.raises(SampleSheetError, match="cannot be used as a folder name"):
        samples_from_rows([{"path": str(v), "id": "a/b"}], "s.tsv", tmp_path)


def test_tsv_and_csv_sheets(tmp_path):
    (tmp_path / "s.tsv").write_text("id\tpath\tgroup\nx\tv x.mp4\t\n")
    (tmp_path / "s.csv").write_text("id,path\ny,v y.mp4\n")
    assert read_sample_sheet(tmp_path / "s.tsv") == [{"id": "x", "path": "v x.mp4", "group": ""}]
    assert read_sample_sheet(tmp_path / "s.csv") == [{"id": "y", "path": "v y.mp4"}]
    (tmp_path / "bad.tsv").write_text("video\tname\na\tb\n")
    with pytest.raises(SampleSheetError, match="no 'path' column"):
        read_sample_sheet(tmp_path / "bad.tsv")


def test_pattern_finds_videos_and_rejects_same_stems(tmp_path):
    touch(tmp_path / "d1" / "a.mp4")
    touch(tmp_path / "d1" / "notes.txt")
    touch(tmp_path / "d2" / "b.avi")
    assert [s.id for s in samples_from_pattern("**/*", tmp_path)] == ["a", "b"]
    touch(tmp_path / "d2" / "a.mov")
    with pytest.raises(SampleSheetError, match="same name; use a sample sheet"):
        samples_from_pattern("**/*", tmp_path)
    with pytest.raises(SampleSheetError, match="matches no"):
        samples_from_pattern("none/*.mp4", tmp_path)
