"""What the benches that re-work a finished run share: its ``--config`` and ``--videos`` arguments, and its settings
read the way the workflow reads them (relative paths from the run's folder)."""
from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser with the run's ``--config`` (with ``ground_truth``) and ``--videos``."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, required=True, help="the run's config (with ground_truth)")
    ap.add_argument("--videos", nargs="*", help="default: every video of the run")
    return ap


def load_run(config: Path):
    """The run's validated settings; the working directory becomes the run's folder, as under Snakemake."""
    import os

    import yaml

    from cichlid_track.settings import load_settings

    os.chdir(config.parent)
    return load_settings(yaml.safe_load(config.read_text()), REPO / "workflow" / "schemas")
