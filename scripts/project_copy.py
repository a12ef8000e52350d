"""Rule project_copy: working copy of the user's DLC project under results/."""
from cichlid_track import rule_io
from cichlid_track.errors import CichlidError
from cichlid_track.labelcheck import bad_folders_message, read_report
from cichlid_track.project import make_working_copy


def main(smk):
    import logging
    from pathlib import Path

    exclude = list(smk.params.exclude)
    bad = [r["folder"] for r in read_report(smk.input.report) if not r["ok"] and r["folder"] not in exclude]
    if bad and smk.params.on_bad == "stop":
        raise CichlidError(bad_folders_message(bad, smk.input.report))
    if bad:
        logging.warning("leaving out labelled-data folders with problems: %s (see %s)", bad, smk.input.report)
        exclude += bad
    summary = make_working_copy(smk.input.project, Path(smk.output[0]).parent, exclude)
    print(f"labelled-data folders kept: {summary['kept']}; excluded: {summary['excluded']}")


rule_io.run(snakemake, main)  # noqa: F821
