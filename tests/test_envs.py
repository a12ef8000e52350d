"""What the cluster gets is what CI tests: versions pinned in envs/ agree with what is installed here."""
import re
from importlib.metadata import version

import yaml

from conftest import REPO


def pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)$", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def test_job_env_pins_every_pip_package_and_agrees_with_ci():
    env = yaml.safe_load((REPO / "envs" / "dlc.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_deps = [d for d in env["dependencies"] if isinstance(d, str)]
    assert all(re.match(r"^[\w\-]+=[\d.]+", d) for d in conda_deps), conda_deps  # no unpinned conda package
    cluster = pins(pip_section)
    assert len(cluster) == len([l for l in pip_section if l.split("#")[0].strip()]), "unpinned pip package"
    ci = pins((REPO / "envs" / "requirements.txt").read_text().splitlines())
    ci.update(pins((REPO / "envs" / "requirements-workflow.txt").read_text().splitlines()))
    for name, v in cluster.items():
        assert ci.get(name) == v, f"{name}: envs/dlc.yaml pins {v}, CI installs {ci.get(name)}"
        assert version(name).split("+")[0] == v, f"{name}: installed {version(name)}, pinned {v}"


def test_workflow_env_agrees_with_ci():
    env = yaml.safe_load((REPO / "envs" / "workflow.yaml").read_text())
    conda = dict(d.split("=", 1) for d in env["dependencies"] if isinstance(d, str) and not d.startswith("python"))
    for name in ("snakemake", "snakemake-executor-plugin-slurm"):
        assert version(name) == conda[name], name


def test_both_envs_install_our_library():
    """The launching env reads cichlid_track at parse time, the job env in every rule script: both install the
    repository itself (pyproject.toml), editable, so they always run the checked-out code."""
    env = yaml.safe_load((REPO / "envs" / "workflow.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e .." in pip_section  # relative to envs/, where conda runs pip
    post_deploy = (REPO / "envs" / "dlc.post-deploy.sh").read_text()  # snakemake runs it after building dlc.yaml
    assert "pip install --no-deps -e" in post_deploy
    assert "pip install --no-deps -r \"$repo/envs/requirements-nodeps.txt\"" in post_deploy
    assert 'name = "cichlid-track"' in (REPO / "pyproject.toml").read_text()
    assert version("cichlid-track")  # and CI's .venv has it installed (.ci/setup)


def test_trackeval_without_the_gui_opencv_that_would_overwrite_dlcs():
    """TrackEval asks for opencv-python; beside DeepLabCut's opencv-python-headless the two overwrite one cv2, and
    the GUI build needs libGL. Both environments install it with --no-deps from one pinned file."""
    from importlib.metadata import PackageNotFoundError

    nodeps = pins((REPO / "envs" / "requirements-nodeps.txt").read_text().splitlines())
    assert nodeps == {"trackeval": version("trackeval")}
    assert "--no-deps -r envs/requirements-nodeps.txt" in (REPO / ".ci" / "setup").read_text()
    try:
        version("opencv-python")
        gui = True
    except PackageNotFoundError:
        gui = False
    assert not gui, "opencv-python is installed beside opencv-python-headless"
    from trackeval.metrics import HOTA  # and it works without it

    assert HOTA
