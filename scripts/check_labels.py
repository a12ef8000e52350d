"""Rule check_labels: one row per labelled-data folder with its problems (the project is only read)."""
from cichlid_track import rule_io
from cichlid_track.labelcheck import check_project, write_report
from cichlid_track.project import read_dlc_config


def main(smk):
    from pathlib import Path

    rows = check_project(read_dlc_config(smk.input.project), Path(smk.input.project).parent)
    write_report(rows, smk.output[0])
    for r in rows:
        print(f"{r['folder']}: {'ok' if r['ok'] else '; '.join(r['problems'])}")


rule_io.run(snakemake, main)  # noqa: F821
