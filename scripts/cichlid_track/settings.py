"""Parse-time settings: config validation, the sample list and the name of every target.

Imported by workflow/rules/common.smk: standard library, PyYAML and jsonschema only. Every per-video
file name is made here (:meth:`Settings.video_file`); rule scripts receive names, they do not build them.
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigError
from .naming import DLCNames, labelled_video_suffix, names_from_config
from .project import read_dlc_config
from .samples import Sample, read_sample_sheet, samples_from_pattern, samples_from_rows
from .video_header import frame_count

# keys renamed in our own spelling ("labelled"); DLC's own keys keep DLC's
RENAMED_KEYS = {"exclude_labeled_data": "exclude_labelled_data", "on_bad_labeled_data": "on_bad_labelled_data"}


def _path_of(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


@functools.lru_cache(maxsize=8)
def _validator(schema_path: str):
    import jsonschema

    return jsonschema.Draft202012Validator(yaml.safe_load(Path(schema_path).read_text()))


def check_against_schema(config: dict, schema_path: str | Path, what: str = "config") -> None:
    """Raise ConfigError with one line naming the key, the value and what is allowed."""
    import jsonschema

    validator = _validator(str(schema_path))  # parsed once: a sample sheet has a row per video
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return
    key = _path_of(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        raise ConfigError(f"{what}: {error.message} at '{key}'; allowed keys there: {', '.join(allowed)}")
    if error.validator == "required":
        raise ConfigError(f"{what}: {error.message} at '{key}'; add it (see {Path(schema_path).name})")
    allowed = error.schema.get("description", "")
    raise ConfigError(f"{what}: key '{key}' has value {error.instance!r}: {error.message}"
                      + (f" ({allowed})" if allowed else ""))


def check_renamed_keys(config: dict) -> None:
    for old, new in RENAMED_KEYS.items():
        if old in config:
            raise ConfigError(f"config: key '{old}' is now called '{new}'; rename it in your config")


def check_cross_keys(config: dict) -> None:
    """What the schema cannot say: keys that only make sense together."""
    t = config.get("training") or {}
    milestones, values = t.get("lr_milestones"), t.get("lr_values")
    if (milestones is None) != (values is None) or (milestones is not None and len(milestones) != len(values)):
        raise ConfigError(f"config: training.lr_milestones {milestones} and training.lr_values {values} go together: "
                          f"one learning rate per milestone (e.g. [90, 120] and [0.0001, 0.00001]), or both null")
    if milestones and list(milestones) != sorted(set(milestones)):
        raise ConfigError(f"config: training.lr_milestones {milestones} must be increasing epochs")


@dataclass
class Settings:
    config: dict
    results: str
    project_config: str  # the user's DLC config.yaml
    dlc: dict  # its content
    names: DLCNames
    samples: dict[str, Sample]
    _frames: dict = field(default_factory=dict, repr=False)

    @property
    def scorer(self) -> str:
        return self.names.scorer

    @property
    def individuals(self) -> list[str]:
        return list(self.dlc["individuals"])

    @property
    def n_tracks(self) -> int:
        return int(self.config["tracking"].get("n_tracks") or len(self.individuals))

    def n_tracks_of(self, vid: str) -> int:
        """Fish in one video: the sample sheet's ``n_fish`` where given, else :attr:`n_tracks`."""
        return self.samples[vid].n_fish or self.n_tracks

    @property
    def pcutoff(self) -> float:
        value = self.config["video"].get("pcutoff")
        return float(value if value is not None else self.dlc.get("pcutoff", 0.6))

    @property
    def reid_epochs(self) -> int:
        return int(self.config["reid"]["epochs"])

    @property
    def stored_feature_maps(self) -> list[str] | None:
        """The keypoint feature maps analysis writes to ``_bpt_features.h5``: only those re-ID and stitching
        read (``reid.feature_parts``, and ``body`` for ``reid.body_colour``), unless
        ``analysis.keep_full_features`` asks for all (None)."""
        if self.config["analysis"]["keep_full_features"]:
            return None
        maps = list(self.config["reid"]["feature_parts"])
        if self.config["reid"]["body_colour"] and "body" not in maps:
            maps.append("body")
        return maps

    # --- paths -----------------------------------------------------------------------
    @property
    def project_dir(self) -> str:
        return f"{self.results}/project"

    def in_project(self, rel: str) -> str:
        return f"{self.project_dir}/{rel}"

    def video_dir(self, vid: str) -> str:
        return f"{self.results}/videos/{vid}"

    def video_prefix(self, vid: str) -> str:
        """``<id><scorer>``: the prefix DLC gives every per-video output (so DLC's tools open them)."""
        return f"{vid}{self.scorer}"

    def video_file(self, vid: str, suffix: str) -> str:
        """``results/videos/<id>/<id><scorer><suffix>``; ``vid`` may be the wildcard ``{vid}``."""
        return f"{self.video_dir(vid)}/{self.video_prefix(vid)}{suffix}"

    @property
    def labelled_video_suffix(self) -> str:
        return labelled_video_suffix(self.pcutoff)

    def labelled_video(self, vid: str) -> str:
        return self.video_file(vid, self.labelled_video_suffix)

    def reid_folder(self, vid: str) -> str:
        group = self.samples[vid].group
        return f"{self.results}/groups/{group}" if group else self.video_dir(vid)

    def reid_model(self, vid: str) -> str:
        return f"{self.reid_folder(vid)}/dlc_transreid_{self.reid_epochs}.pth"

    def stitch_inputs(self, vid: str) -> tuple:
        """The positional arguments the stitch rule gives ``tracking.stitch_files`` for this video."""
        return (self.video_file(vid, "_el.pickle"), self.video_file(vid, "_bpt_features.h5"),
                self.video_file(vid, "_meta.pickle"), self.reid_model(vid), self.n_tracks_of(vid), self.individuals,
                self.scorer)

    def identity_inputs(self, vid: str, existing_only: bool = False) -> dict:
        """The stitch rule's identity keywords of ``tracking.stitch_files`` (none when identity is off);
        existing_only: only files that exist (a bench re-stitching an older run)."""
        if not self.config["identity"]["enabled"]:
            return {}
        out = {"identity_model": self.identity_model(vid), "crops_h5": self.video_file(vid, "_crops.h5")}
        return {k: v for k, v in out.items() if Path(v).exists()} if existing_only else out

    def identity_model(self, vid: str) -> str:
        return f"{self.video_dir(vid)}/identity_net.pth"

    def group_members(self, group: str) -> list[str]:
        return [s.id for s in self.samples.values() if s.group == group]

    @property
    def groups(self) -> list[str]:
        return sorted({s.group for s in self.samples.values() if s.group})

    # --- cluster runtimes --------------------------------------------------------------
    def frames(self, vid: str) -> int:
        """The video's frame count from its header (or its size / ``runtime.bytes_per_frame``)."""
        if vid not in self._frames:
            path = self.samples[vid].path
            n = frame_count(path)
            self._frames[vid] = n if n else max(1, os.path.getsize(path) // self.config["runtime"]["bytes_per_frame"])
        return self._frames[vid]

    def runtime_minutes(self, stage: str, vids: list[str], attempt: int) -> int:
        """Minutes a cluster job of ``stage`` asks for over these videos: their frames times the stage's
        per-frame cost, at least ``runtime.floor_minutes``, times ``retry_factor`` per earlier attempt."""
        r = self.config["runtime"]
        minutes = sum(self.frames(v) for v in vids) * r["seconds_per_frame"][stage] / 60
        return int(math.ceil(max(r["floor_minutes"], minutes) * r["retry_factor"] ** (attempt - 1)))

    def ground_truth(self, vid: str) -> str:
        """The video's ground-truth tracks in the ``ground_truth`` folder, '' if none: ``<id>.csv`` (the demo's)
        or ``<id>.h5`` / ``<id>DLC_..._el.h5`` (DeepLabCut's layout, as its refine GUI saves tracks)."""
        folder = self.config.get("ground_truth")
        if not folder:
            return ""
        folder = Path(folder)
        for name in (f"{vid}.csv", f"{vid}.h5"):
            if (folder / name).is_file():
                return str(folder / name)
        dlc = sorted(p for p in folder.glob(f"{vid}DLC*.h5") if p.is_file())
        return str(dlc[0]) if dlc else ""


def load_settings(config: dict, schema_dir: str | Path, workdir: str | Path = ".") -> Settings:
    """Validate ``config`` (defaults filled in place) and resolve samples and names."""
    schema_dir = Path(schema_dir)
    check_renamed_keys(config)
    check_against_schema(config, schema_dir / "config.schema.yaml")
    check_cross_keys(config)
    from snakemake.utils import validate

    # fills defaults recursively (the nested sections too)
    validate(config, str((schema_dir / "config.schema.yaml").resolve()), set_default=True)

    dlc = read_dlc_config(config["project"])
    training = config["training"]
    epoch = training.get("snapshot_epoch") or training["epochs"]
    if epoch > training["epochs"]:
        raise ConfigError(f"config: key 'training.snapshot_epoch' has value {epoch}: larger than "
                          f"training.epochs ({training['epochs']}); lower it or leave it empty")
    names = names_from_config(dlc, config["shuffle"], config["trainingset_index"], training["net_type"], epoch)

    if config.get("samples"):
        rows = read_sample_sheet(config["samples"])
        for i, row in enumerate(rows, start=2):
            check_against_schema(row, schema_dir / "samples.schema.yaml", what=f"{config['samples']} row {i}")
        # relative video paths are relative to the sheet's own folder, so that a sheet travels with its videos
        samples = samples_from_rows(rows, config["samples"], Path(workdir) / Path(config["samples"]).parent)
    elif config.get("videos"):
        samples = samples_from_pattern(config["videos"], workdir)
    else:
        raise ConfigError("config: neither 'samples' (a sample sheet) nor 'videos' (a folder pattern) is set; "
                          "set one of them")
    n_individuals = len(dlc["individuals"])
    for s in samples:
        if (s.n_fish or 0) > n_individuals:
            raise ConfigError(f"{config.get('samples') or 'samples'}: video {s.id!r} has n_fish {s.n_fish}, more than "
                              f"the project's {n_individuals} individuals; add individuals to the DLC project's "
                              f"config.yaml (and label them) or lower n_fish")
    tracks = config["tracking"].get("n_tracks")
    if tracks and tracks > n_individuals:
        raise ConfigError(f"config: key 'tracking.n_tracks' is {tracks}, more than the project's {n_individuals} "
                          f"individuals; lower it or leave it empty")
    return Settings(config=config, results=str(config["results"]).rstrip("/"), project_config=config["project"],
                    dlc=dlc, names=names, samples={s.id: s for s in samples})
