"""Wall time of each stage of a finished run, read from Snakemake's benchmark files.

    python bench/stage_times.py results/benchmarks
"""
import sys
from pathlib import Path

import pandas as pd


def main(folder="results/benchmarks"):
    rows = []
    for tsv in sorted(Path(folder).rglob("*.tsv")):
        rule = tsv.stem if tsv.parent == Path(folder) else tsv.parent.name
        job = "" if tsv.parent == Path(folder) else tsv.stem
        s = pd.read_csv(tsv, sep="\t")
        rows.append({"rule": rule, "job": job, "seconds": float(s["s"].iloc[0]), "max_rss_mb": s["max_rss"].iloc[0]})
    df = pd.DataFrame(rows)
    per_rule = df.groupby("rule", sort=False)["seconds"].agg(["count", "sum", "max"]).round(1)
    print(per_rule.to_markdown() if hasattr(per_rule, "to_markdown") else per_rule.to_string())
    print(f"\nsum of all jobs: {df['seconds'].sum():.0f} s")


if __name__ == "__main__":
    main(*sys.argv[1:])
