"""Rule project_copy: working copy of the user's DLC project under results/."""
from cichlid_track import rule_io
from cichlid_track.project import make_working_copy


def main(smk):
    from pathlib import Path

    summary = make_working_copy(smk.input.project, Path(smk.output[0]).parent, smk.params.exclude)
    print(f"labelled-data folders kept: {summary['kept']}; excluded: {summary['excluded']}")


rule_io.run(snakemake, main)  # noqa: F821
