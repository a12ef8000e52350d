"""Generate the bundled synthetic demo: a DLC project, videos, ground truth and a sample sheet.

    python scripts/make_demo.py results/demo_data            # easy: 4 distinct fish
    python scripts/make_demo.py results/hard --look hard --fish 8
    python scripts/make_demo.py results/long --fish 10 --minutes 10 --videos 1 --width 384 --height 288
"""
import argparse
import csv
from pathlib import Path


from cichlid_track.synth import DemoSpec, make_demo


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--look", choices=["easy", "hard"], default="easy")
    p.add_argument("--fish", type=int, default=4)
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--minutes", type=float, default=None, help="video length in minutes (instead of --frames)")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--height", type=int, default=192)
    p.add_argument("--videos", type=int, default=2)
    p.add_argument("--labelled", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    n_frames = a.frames if a.minutes is None else round(a.minutes * 60 * a.fps)
    spec = DemoSpec(n_fish=a.fish, look=a.look, n_frames=n_frames, n_videos=a.videos, n_labelled=a.labelled,
                    seed=a.seed, fps=a.fps, width=a.width, height=a.height)
    r = make_demo(a.out, spec)
    sheet = a.out / "samples.tsv"
    with open(sheet, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["id", "path", "group"])
        for v in r["videos"]:
            w.writerow([v.stem, str(v), ""])
    print(f"project: {r['config']}\nvideos: {len(r['videos'])}\nsample sheet: {sheet}")


if __name__ == "__main__":
    main()
