"""Rules reid_video / reid_group: DLC's transformer re-ID model, saved where we say."""
from cichlid_track import rule_io
from cichlid_track.reid import save_skipped, too_few_message, train_reid


def main(smk):
    import logging

    import numpy as np

    files = list(smk.input)
    counts = {f: len(np.load(f, mmap_mode="r")) for f in files}
    total = sum(counts.values())
    if total < smk.params.min_triplets:
        reason = too_few_message(", ".join(files), total, smk.params.min_triplets)
        logging.warning(reason)
        save_skipped(smk.output.model, smk.output.accuracy, reason)
        return
    stats = train_reid([f for f in files if counts[f]], smk.output.model, smk.output.accuracy, smk.params.epochs,
                       batch_size=smk.params.batch_size, train_fraction=smk.params.train_fraction,
                       seed=smk.params.seed, device=smk.params.device, learning_rate=smk.params.learning_rate)
    print("re-ID:", stats)


rule_io.run(snakemake, main)  # noqa: F821
