"""Parse time stays light: the Snakefile and rules never import torch, deeplabcut or cv2."""
import re
import subprocess
import sys
import time

from conftest import REPO, write_config

HEAVY = ("torch", "deeplabcut", "cv2")


def test_workflow_files_do_not_import_heavy_modules():
    files = [REPO / "workflow" / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    pattern = re.compile(rf"^\s*(import|from)\s+({'|'.join(HEAVY)})\b", re.M)
    for f in files:
        assert not pattern.search(f.read_text()), f


def test_dry_run_with_heavy_modules_made_unimportable(demo_data, tmp_path):
    """`snakemake -n` succeeds even when importing torch/deeplabcut/cv2 would fail."""
    blocker = tmp_path / "blocker"
    for mod in HEAVY:
        (blocker / mod).mkdir(parents=True)
        (blocker / mod / "__init__.py").write_text(f"raise ImportError('{mod} imported at parse time')\n")
    cfg = write_config(tmp_path / "c.yaml", project=str(demo_data["config"]), samples=str(demo_data["samples"]),
                       results=str(tmp_path / "results"))
    env = {"PYTHONPATH": str(blocker), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-q", "--snakefile",
                           str(REPO / "workflow" / "Snakefile"), "--directory", str(tmp_path),
                           "--configfile", str(cfg), "--cores", "1"], capture_output=True, text=True, env=env)
    print(f"dry run took {time.time() - start:.2f} s")
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_lint_is_clean(demo_data, tmp_path):
    cfg = write_config(tmp_path / "c.yaml", project=str(demo_data["config"]), samples=str(demo_data["samples"]),
                       results=str(tmp_path / "results"))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--snakefile",
                           str(REPO / "workflow" / "Snakefile"), "--directory", str(tmp_path),
                           "--configfile", str(cfg)], capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Lints for" not in out, out[-3000:]
