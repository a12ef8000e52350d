"""Rule reid_video: DLC's transformer re-ID model for one video, in that video's folder."""
from cichlid_track import rule_io
from cichlid_track.reid import train_for_rule

rule_io.run(snakemake, train_for_rule)  # noqa: F821
