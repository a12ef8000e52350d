"""The boundary of every rule script: logging, no downloads, and errors users can act on.

A rule script is ``rule_io.run(snakemake, main)``. Everything the job prints goes to
the rule's log file; if ``main`` fails, one line saying what went wrong and what to
do is written to the log and to the console, and the job exits non-zero (Snakemake
then removes its outputs, and with ``--keep-going`` the other videos carry on).
"""
from __future__ import annotations

import errno
import logging
import os
import sys
import traceback

from .errors import CichlidError


def _context(smk) -> str:
    wc = dict(smk.wildcards.items()) if hasattr(smk.wildcards, "items") else {}
    where = ", ".join(f"{k}={v}" for k, v in wc.items())
    return f"rule {smk.rule}" + (f" ({where})" if where else "")


def _free_space(smk) -> str:
    """' (N MB free in <folder>)' for the folder of the job's first output, or ''."""
    import shutil

    try:
        folder = os.path.dirname(os.path.abspath(smk.output[0]))
        while not os.path.isdir(folder):
            folder = os.path.dirname(folder)
        return f" ({shutil.disk_usage(folder).free // 2**20} MB free in {folder})"
    except Exception:  # noqa: BLE001 - only a hint
        return ""


def explain(err: BaseException, smk=None) -> str:
    """One line a biologist can act on, for errors DeepLabCut or the system raise."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    log_hint = f" (details in {smk.log[0]})" if smk is not None and smk.log else ""
    if isinstance(err, CichlidError):
        return text
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return f"disk full while writing {err.filename or 'outputs'}; free space in the results folder and re-run"
    if isinstance(err, RuntimeError) and ("PytorchStreamWriter" in text or "inline_container" in text):
        # torch.save's zip writer reports a short write (a full disk) as an internal assertion
        return (f"PyTorch could not finish writing a model file: the disk is probably full{_free_space(smk)}; "
                f"free space in the results folder and re-run{log_hint}")
    if isinstance(err, OSError) and err.errno == errno.EROFS:
        return f"cannot write {err.filename or 'outputs'}: the file system is read-only; set 'results' to a writable folder"
    if isinstance(err, PermissionError):
        return f"cannot write {err.filename}: permission denied; make the results folder writable or set 'results' to a writable folder"
    if "out of memory" in text.lower() and "cuda" in text.lower():
        return f"the GPU ran out of memory; lower the batch size in the config{log_hint}"
    if "Tracklets are empty" in text:
        return f"no tracklets could be built (no fish tracked); check the video and the model's evaluation{log_hint}"
    if "huggingface" in text.lower() or "hf_hub" in text.lower():
        return (f"DeepLabCut tried to download weights, but this workflow never downloads; set "
                f"training.weights to a local file or leave it empty for random initialisation{log_hint}")
    return f"{type(err).__name__}: {text}{log_hint}"


def run(smk, main) -> None:
    """Run ``main(smk)`` with output redirected to the rule's log and errors explained."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may download weights at run time
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    console = os.fdopen(os.dup(2), "w", buffering=1)
    log_file = None
    if smk.log:
        os.makedirs(os.path.dirname(os.path.abspath(smk.log[0])), exist_ok=True)
        log_file = open(smk.log[0], "w", buffering=1)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr, force=True)
    try:
        main(smk)
    except BaseException as err:  # noqa: BLE001 - the boundary: every failure becomes one line
        traceback.print_exc()
        line = f"ERROR in {_context(smk)}: {explain(err, smk)}"
        print(line, file=sys.stderr, flush=True)
        print(line, file=console, flush=True)
        sys.exit(1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
