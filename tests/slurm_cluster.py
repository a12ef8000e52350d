"""A real one-node SLURM (slurmctld, slurmd, slurmdbd + MariaDB, munge) for the tests.

Installs Debian's packages if needed (root only), writes /etc/slurm/{slurm,gres,slurmdbd}.conf
with a fake ``gpu:H100`` GRES, starts the daemons, registers a cluster, an account and root's
association, and stops everything afterwards. Facts and pitfalls: shared/notes/slurm-one-node.md.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ["slurm-wlm", "slurmdbd", "mariadb-server", "munge"]
ACCOUNT = "lab"
CPU_PARTITION = "cpu"
GPU_PARTITION = "gpu"
MARKER = "# written by cichlid-track tests"


class SlurmUnavailable(RuntimeError):
    pass


def _run(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


def ensure_installed() -> None:
    if all(shutil.which(b) for b in ("slurmctld", "slurmd", "slurmdbd", "sbatch", "sacct", "munged", "mariadbd")):
        return
    if os.geteuid() != 0:
        raise SlurmUnavailable("SLURM is not installed and installing it needs root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-qq"], env=env)
    _run(["apt-get", "install", "-y", "-qq", *PACKAGES], env=env)


def _wait(pred, what, timeout=60):
    start = time.time()
    while time.time() - start < timeout:
        if pred():
            return
        time.sleep(0.5)
    raise SlurmUnavailable(f"timed out waiting for {what}")


def _node_line(host: str) -> str:
    out = _run(["slurmd", "-C"]).stdout.splitlines()[0]
    fields = dict(f.split("=", 1) for f in out.split() if "=" in f)
    mem = int(int(fields["RealMemory"]) * 0.95)
    keep = " ".join(f"{k}={fields[k]}" for k in ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket",
                                                  "ThreadsPerCore") if k in fields)
    return f"NodeName={host} {keep} RealMemory={mem} Gres=gpu:H100:1 State=UNKNOWN"


class Cluster:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.procs: list[subprocess.Popen] = []
        self.host = socket.gethostname()

    # -- configuration ---------------------------------------------------------------
    def write_configs(self) -> None:
        etc = Path("/etc/slurm")
        etc.mkdir(parents=True, exist_ok=True)
        conf = etc / "slurm.conf"
        if conf.exists() and MARKER not in conf.read_text():
            raise SlurmUnavailable("/etc/slurm/slurm.conf exists and is not ours: not touching a real cluster")
        for d in ("state", "spool", "log"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        conf.write_text(f"""{MARKER}
ClusterName=cichlid
SlurmctldHost={self.host}
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={self.root}/state
SlurmdSpoolDir={self.root}/spool
SlurmctldPidFile={self.root}/slurmctld.pid
SlurmdPidFile={self.root}/slurmd.pid
SlurmctldLogFile={self.root}/log/slurmctld.log
SlurmdLogFile={self.root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
AccountingStorageEnforce=associations
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
SchedulerParameters=sched_interval=2
MinJobAge=300
KillWait=5
ReturnToService=2
MpiDefault=none
{_node_line(self.host)}
PartitionName={CPU_PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName={GPU_PARTITION} Nodes=ALL MaxTime=INFINITE State=UP
""")
        (etc / "gres.conf").write_text(f"{MARKER}\nNodeName={self.host} Name=gpu Type=H100 File=/dev/null Count=1\n")
        dbd = etc / "slurmdbd.conf"
        dbd.write_text(f"""{MARKER}
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile={self.root}/slurmdbd.pid
LogFile={self.root}/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmtest
StorageLoc=slurm_acct_db
""")
        dbd.chmod(0o600)

    # -- daemons ---------------------------------------------------------------------
    def _spawn(self, cmd, name, user=None):
        log = open(self.root / "log" / f"{name}.out", "w")
        kw = {"user": user} if user else {}
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def start(self) -> None:
        ensure_installed()
        self.write_configs()
        Path("/run/munge").mkdir(exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        self._spawn(["munged", "--foreground", "--force"], "munged", user="munge")
        _wait(lambda: _run(["munge", "-n"], check=False).returncode == 0, "munge")

        Path("/run/mysqld").mkdir(exist_ok=True)
        shutil.chown("/run/mysqld", "mysql", "mysql")
        self._spawn(["mariadbd", "--user=mysql", "--skip-networking=0", "--bind-address=127.0.0.1"], "mariadbd")
        _wait(lambda: _run(["mariadb", "-e", "select 1"], check=False).returncode == 0, "mariadb")
        _run(["mariadb", "-e",
              "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmtest';"
              "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"])

        self._spawn(["slurmdbd", "-D"], "slurmdbd")
        _wait(lambda: _run(["sacctmgr", "-n", "list", "cluster"], check=False).returncode == 0, "slurmdbd")
        _run(["sacctmgr", "-i", "add", "cluster", "cichlid"], check=False)
        _run(["sacctmgr", "-i", "add", "account", ACCOUNT, "Cluster=cichlid"], check=False)
        _run(["sacctmgr", "-i", "add", "user", "root", f"Account={ACCOUNT}", f"DefaultAccount={ACCOUNT}"],
             check=False)

        self._spawn(["slurmctld", "-D", "-c", "-i"], "slurmctld")
        _wait(lambda: _run(["scontrol", "ping"], check=False).stdout.count("UP") > 0, "slurmctld")
        self._spawn(["slurmd", "-D"], "slurmd")
        _wait(lambda: "idle" in _run(["sinfo", "-h", "-o", "%T"], check=False).stdout, "an idle node", 90)

    def stop(self) -> None:
        _run(["scancel", "--user=root"], check=False)
        for p in reversed(self.procs):
            try:
                os.killpg(p.pid, 15)
            except ProcessLookupError:
                pass
        for p in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
        self.procs.clear()
        # without a controller, every `scontrol show config` (the SLURM executor plugin runs one each
        # time snakemake starts) waits 9 s to time out; without a config it fails at once
        for name in ("slurm.conf", "gres.conf", "slurmdbd.conf"):
            conf = Path("/etc/slurm") / name
            if conf.exists() and MARKER in conf.read_text():
                conf.unlink()

    # -- queries ---------------------------------------------------------------------
    def jobs(self, since: str = "now-1days") -> list[dict]:
        """Jobs (not steps) submitted since ``since`` (sacct -S): id, name, state, partition, account, TRES,
        elapsed time and comment (the plugin writes the rule or group there)."""
        out = _run(["sacct", "-X", "-n", "-P", "-a", "-S", since,
                    "--format=JobID,JobName,State,Partition,Account,AllocTRES,Elapsed,Comment"]).stdout
        rows = []
        for line in out.splitlines():
            f = line.split("|")
            rows.append(dict(zip(["id", "name", "state", "partition", "account", "tres", "elapsed", "comment"], f)))
        return rows
