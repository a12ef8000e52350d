"""Rule batch_table: one row per video with a flag for those that need a look."""
from cichlid_track import rule_io


def main(smk):
    import json

    from cichlid_track.atomic import atomic_path
    from cichlid_track.qc import batch_table

    table = batch_table([json.loads(open(p).read()) for p in smk.input])
    with atomic_path(smk.output[0]) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    print(table.to_string())


rule_io.run(snakemake, main)  # noqa: F821
