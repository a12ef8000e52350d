"""Do the SLURM plugin's array jobs (``--slurm-array-jobs``) work on the tests' one-node SLURM?

Starts the tests' cluster (tests/slurm_cluster.py: root, Debian's slurm-wlm), runs a toy workflow of three
jobs of one rule (the third fails) with ``--slurm-array-jobs`` and one retry, and prints what sacct saw.

    python bench/slurm_array_jobs.py

Measured here (README, "Large batches"): plugin 2.8.0 with SLURM 22.05 submitted the three jobs as one array
and then each of the two that completed once more as a single job: work done twice.
"""
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SNAKEFILE = """
rule all:
    input: expand("out/{i}.txt", i=range(3))
rule a:
    output: "out/{i}.txt"
    resources: gpu=1, runtime=5
    shell: "sleep 2; test {wildcards.i} != 2 && echo {wildcards.i} > {output}"
"""


def main():
    import importlib.util

    helper = Path(__file__).resolve().parents[1] / "tests" / "slurm_cluster.py"  # the tests' own cluster
    spec = importlib.util.spec_from_file_location("slurm_cluster", helper)
    slurm_cluster = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(slurm_cluster)
    Cluster = slurm_cluster.Cluster

    work = Path(tempfile.mkdtemp(prefix="array-jobs-"))
    (work / "Snakefile").write_text(SNAKEFILE)
    cluster = Cluster(work / "cluster")
    cluster.start()
    try:
        since = time.strftime("%Y-%m-%dT%H:%M:%S")
        proc = subprocess.run([sys.executable, "-m", "snakemake", "--executor", "slurm", "--jobs", "5",
                               "--default-resources", "slurm_account=lab", "slurm_partition=cpu",
                               "--set-resources", "a:slurm_partition=gpu", "a:gpu_model=H100",
                               "--slurm-array-jobs", "a", "--retries", "1", "--keep-going",
                               "--slurm-init-seconds-before-status-checks", "2"],
                              capture_output=True, text=True, cwd=work, timeout=600)
        jobs = cluster.jobs(since)
    finally:
        cluster.stop()
    print(f"snakemake exit status {proc.returncode} (one job fails on purpose)")
    print("| SLURM job | wildcards (comment) | state |\n|---|---|---|")
    for j in jobs:
        print(f"| {j['id']} | {j['comment']} | {j['state']} |")
    print(f"sbatch jobs and array tasks: {len(jobs)} for 3 jobs of the workflow (+1 retry of the failing one)")


if __name__ == "__main__":
    main()
