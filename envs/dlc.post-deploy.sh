#!/usr/bin/env bash
# Snakemake runs this once after building envs/dlc.yaml: install our library (scripts/cichlid_track) into the
# job environment, editable, so that jobs always run the checked-out code. Snakemake copies the env file
# away from the repository, so the repository is found from the folder snakemake runs in.
set -euo pipefail
repo=${CICHLID_REPO:-$PWD}
if [ ! -f "$repo/pyproject.toml" ]; then
  echo "cichlid-track: run snakemake from the repository folder, or set CICHLID_REPO=<repository folder>" >&2
  exit 1
fi
python -m pip install --no-deps -e "$repo"
# TrackEval without its opencv-python (see the file's comment)
python -m pip install --no-deps -r "$repo/envs/requirements-nodeps.txt"
