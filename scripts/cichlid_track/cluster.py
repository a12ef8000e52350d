"""Cluster settings checked at parse time, before any job is submitted (standard library only)."""
from __future__ import annotations

import os
import re

from .errors import CichlidError

# what each variable of profiles/ice means, for the message
MEANING = {"CICHLID_ACCOUNT": "your charge account (sbatch -A)",
           "CICHLID_PARTITION": "the CPU partition (sbatch -p)",
           "CICHLID_GPU_PARTITION": "the GPU partition (sbatch -p)"}


class ClusterSettingsError(CichlidError):
    """A SLURM setting of the profile is unset or empty."""


def slurm_resource_texts(default_args, overwrite: dict) -> dict[str, str]:
    """{where: raw text} of every slurm_* resource in the profile (default-resources, set-resources)."""
    out = {}
    for arg in default_args or []:
        name, _, raw = str(arg).partition("=")
        if name.startswith("slurm_"):
            out[f"default-resources {name}"] = raw
    for rule, resources in (overwrite or {}).items():
        for name, res in resources.items():
            if name.startswith("slurm_"):
                out[f"set-resources {rule}.{name}"] = str(getattr(res, "raw", res))
    return out


def check_slurm_settings(texts: dict[str, str], environ=os.environ) -> None:
    """One line naming every unset or empty variable (or empty value) the profile's SLURM settings use."""
    missing, empty = {}, []
    for where, raw in texts.items():
        names = re.findall(r"\$\{?([A-Za-z_]\w*)\}?", raw)
        for name in names:
            if not environ.get(name, "").strip():
                missing.setdefault(name, where)
        if not names and not raw.strip().strip("'\""):
            empty.append(where)
    if missing:
        lines = "; ".join(f"echo 'export {n}=<{MEANING.get(n, 'value')}>' >> ~/.bashrc" for n in missing)
        raise ClusterSettingsError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set or empty, and the profile uses "
            f"{'it' if len(missing) == 1 else 'them'} ({', '.join(missing.values())}); nothing was submitted. "
            f"Set {'it' if len(missing) == 1 else 'them'} once: {lines}; then open a new shell (or source ~/.bashrc)")
    if empty:
        raise ClusterSettingsError(f"the profile's {', '.join(empty)} is empty; give it a value; nothing was submitted")
