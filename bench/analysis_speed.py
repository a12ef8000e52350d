"""Analysis speed: our one-pass analysis (pose + keypoint features) vs DeepLabCut's own route.

For each batch size, on the same model and video, in one run:
  A. deeplabcut.analyze_videos (pose only, no tracking)
  B. ours: analyze_video (pose outputs + _bpt_features.h5 from the same forward pass)
  B'. ours with the identity crops as well (_crops.h5, the config's identity.crop_*; goal <= 1.15x B's time)
  C. DLC's second pass for features (create_tracking_dataset's runner: build_feature_extraction_runner)
and prints frames per second, B/A (goal <= 1.10 in time, >= 0.9 in frame rate) and (A+C)/A (DLC's route).
With --autocast, B is also run under torch.autocast (fp16 on CUDA, bf16 on CPU) and the largest pose
difference from fp32 is printed.

    python bench/analysis_speed.py --config config/config.yaml [--batch-sizes 1 8 32] [--autocast] [--device cuda]

Needs a finished training (the workflow's snapshot). Runs where only torch is preinstalled if the other
packages (deeplabcut 3.0.2, filterpy 1.4.5, h5py, ...) are installed from wheels first.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    p.add_argument("--workdir", type=Path, default=Path("."))
    p.add_argument("--video", help="sample id (default: the first)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[8])
    p.add_argument("--device", default=None)
    p.add_argument("--autocast", action="store_true")
    p.add_argument("--skip-second-pass", action="store_true")
    a = p.parse_args(argv)
    os.chdir(a.workdir)

    import deeplabcut
    import pandas as pd
    import torch
    from deeplabcut.pose_estimation_pytorch.apis import tracking_dataset as td
    from deeplabcut.pose_estimation_pytorch.apis.videos import VideoIterator
    from deeplabcut.pose_estimation_pytorch.data import DLCLoader
    from deeplabcut.pose_estimation_pytorch.runners import shelving
    from deeplabcut.utils import auxiliaryfunctions

    from cichlid_track.analysis import analyze_video
    from cichlid_track.dlc_calls import dlc_snapshot_index, link_video
    from cichlid_track.settings import load_settings

    s = load_settings(yaml.safe_load(a.config.read_text()), REPO / "workflow" / "schemas")
    vid = a.video or next(iter(s.samples))
    project = s.in_project("config.yaml")
    snapshot = Path(s.in_project(s.names.snapshot))
    idx = dlc_snapshot_index(snapshot.parent, snapshot)
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else f"CPU ({os.cpu_count()} cores)"
    work = Path(tempfile.mkdtemp(prefix="analysis-speed-"))
    link = link_video(s.samples[vid].path, work, vid)
    n_frames = VideoIterator(str(link)).get_n_frames()
    print(f"device: {gpu}; video {vid}: {n_frames} frames; model {s.names.snapshot}")
    print("| batch | DLC analyze_videos (fps) | ours, pose + features (fps) | ours/DLC time | "
          "ours + crops (fps) | with/without crops time | "
          "DLC 2nd pass for features (fps) | DLC route (analysis + 2nd pass)/DLC time |")
    print("|---|---|---|---|---|---|---|---|")
    for bs in a.batch_sizes:
        out = work / f"dlc{bs}"
        out.mkdir()
        t = time.perf_counter()
        deeplabcut.analyze_videos(project, [str(link)], shuffle=s.config["shuffle"], destfolder=str(out),
                                  auto_track=False, batch_size=bs, snapshot_index=idx, device=device,
                                  save_as_df=True)
        t_dlc = time.perf_counter() - t
        ours = work / f"ours{bs}"
        outputs = {k: ours / f"{k}.out" for k in ("h5", "full", "meta", "assemblies", "features")}
        t = time.perf_counter()
        analyze_video(project, s.config["shuffle"], s.config["trainingset_index"], snapshot, link,
                      f"{vid}{s.scorer}", s.scorer, outputs, batch_size=bs, device=device)
        t_ours = time.perf_counter() - t
        ident = s.config["identity"]
        with_crops = work / f"crops{bs}"
        outputs_crops = {k: with_crops / f"{k}.out" for k in (*outputs, "crops")}
        t = time.perf_counter()
        analyze_video(project, s.config["shuffle"], s.config["trainingset_index"], snapshot, link,
                      f"{vid}{s.scorer}", s.scorer, outputs_crops, batch_size=bs, device=device,
                      crop_size=(ident["crop_width"], ident["crop_height"]), crop_every=ident["crop_every"],
                      crop_near=ident.get("crop_near"))
        t_crops = time.perf_counter() - t
        t_second = float("nan")
        if not a.skip_second_pass:
            loader = DLCLoader(project, trainset_index=s.config["trainingset_index"], shuffle=s.config["shuffle"])
            runner = td.build_feature_extraction_runner(loader, snapshot, device, batch_size=bs)
            test_cfg = auxiliaryfunctions.read_plainconfig(loader.model_folder.parent / "test" / "pose_cfg.yaml")
            writer = shelving.FeatureShelfWriter(test_cfg, work / f"feat{bs}.pickle", num_frames=n_frames)
            t = time.perf_counter()
            td.extract_features_for_video(runner, VideoIterator(str(link)), writer)
            t_second = time.perf_counter() - t
        print(f"| {bs} | {n_frames / t_dlc:.1f} | {n_frames / t_ours:.1f} | {t_ours / t_dlc:.2f} | "
              f"{n_frames / t_crops:.1f} | {t_crops / t_ours:.2f} | "
              f"{n_frames / t_second:.1f} | {(t_dlc + t_second) / t_dlc:.2f} |")
        if a.autocast:
            # autocast: DLC's inference config switch; compare poses with fp32
            cfg_path = Path(s.in_project(s.names.pytorch_config))
            backup = cfg_path.read_text()
            cfg = yaml.safe_load(backup)
            cfg.setdefault("inference", {}).setdefault("autocast", {})["enabled"] = True
            cfg_path.write_text(yaml.safe_dump(cfg))
            try:
                amp = work / f"amp{bs}"
                outputs_amp = {k: amp / f"{k}.out" for k in outputs}
                t = time.perf_counter()
                analyze_video(project, s.config["shuffle"], s.config["trainingset_index"], snapshot, link,
                              f"{vid}{s.scorer}", s.scorer, outputs_amp, batch_size=bs, device=device)
                t_amp = time.perf_counter() - t
            finally:
                cfg_path.write_text(backup)
            ref = pd.read_hdf(outputs["h5"]).to_numpy()
            new = pd.read_hdf(outputs_amp["h5"]).to_numpy()
            xy = np.isfinite(ref) & np.isfinite(new)
            print(f"|   autocast | | {n_frames / t_amp:.1f} | {t_amp / t_dlc:.2f} | max |Δ| vs fp32: "
                  f"{np.nanmax(np.abs(ref[xy] - new[xy])):.3f} | |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
