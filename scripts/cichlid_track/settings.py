"""Parse-time settings: config validation, the sample list and every target's name.

Imported by workflow/rules/common.smk: standard library, PyYAML and jsonschema only.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from .naming import DLCNames, labelled_video_suffix, names_from_config, video_prefix
from .project import read_dlc_config
from .samples import Sample, read_sample_sheet, samples_from_pattern, samples_from_rows


class ConfigError(ValueError):
    pass


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


@dataclass
class Settings:
    config: dict
    results: str
    project_config: str  # the user's DLC config.yaml
    dlc: dict  # its content
    names: DLCNames
    samples: dict[str, Sample]

    @property
    def scorer(self) -> str:
        return self.names.scorer

    @property
    def individuals(self) -> list[str]:
        return list(self.dlc["individuals"])

    @property
    def n_tracks(self) -> int:
        return int(self.config["tracking"].get("n_tracks") or len(self.individuals))

    @property
    def pcutoff(self) -> float:
        value = self.config["video"].get("pcutoff")
        return float(value if value is not None else self.dlc.get("pcutoff", 0.6))

    @property
    def reid_epochs(self) -> int:
        return int(self.config["reid"]["epochs"])

    # --- paths -----------------------------------------------------------------------
    @property
    def project_dir(self) -> str:
        return f"{self.results}/project"

    def in_project(self, rel: str) -> str:
        return f"{self.project_dir}/{rel}"

    def video_dir(self, vid: str) -> str:
        return f"{self.results}/videos/{vid}"

    def video_file(self, vid: str, suffix: str) -> str:
        return f"{self.video_dir(vid)}/{video_prefix(vid, self.scorer)}{suffix}"

    def labelled_video(self, vid: str) -> str:
        return self.video_file(vid, labelled_video_suffix(self.pcutoff))

    def reid_model(self, vid: str) -> str:
        group = self.samples[vid].group
        folder = f"{self.results}/groups/{group}" if group else self.video_dir(vid)
        return f"{folder}/dlc_transreid_{self.reid_epochs}.pth"

    def group_members(self, group: str) -> list[str]:
        return [s.id for s in self.samples.values() if s.group == group]


def load_settings(config: dict, schema_dir: str | Path, workdir: str | Path = ".") -> Settings:
    """Validate ``config`` (defaults filled in place) and resolve samples and names."""
    schema_dir = Path(schema_dir)
    check_against_schema(config, schema_dir / "config.schema.yaml")
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
            try:
                check_against_schema(row, schema_dir / "samples.schema.yaml", what=f"{config['samples']} row {i}")
            except ConfigError as err:
                raise ConfigError(str(err)) from None
        samples = samples_from_rows(rows, config["samples"], workdir)
    elif config.get("videos"):
        samples = samples_from_pattern(config["videos"], workdir)
    else:
        raise ConfigError("config: neither 'samples' (a sample sheet) nor 'videos' (a folder pattern) is set; "
                          "set one of them")
    return Settings(config=config, results=str(config["results"]).rstrip("/"), project_config=config["project"],
                    dlc=dlc, names=names, samples={s.id: s for s in samples})

