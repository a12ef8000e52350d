"""Rule reid_group: one DLC transformer re-ID model for a group of videos of the same fish."""
from cichlid_track import rule_io
from cichlid_track.reid import train_for_rule

rule_io.run(snakemake, train_for_rule)  # noqa: F821
