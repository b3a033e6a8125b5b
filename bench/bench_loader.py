"""Decoded clips per second for one data worker, decord vs PyAV side by side.

Two recipes: the tiny one used by tests and the README (64px crops, 8 frames, frame
step 2, from 64px videos) and the V-JEPA 2 pretraining one (256px crops, 16 frames, frame
step 4, from 320px videos). Each item is a full ``VideoClipDataset`` item: open, seek,
decode, random-resized crop, resize, flip, normalise. One thread, as in a DataLoader worker.
Backends are interleaved over rounds and the best round is reported, so a busy machine
biases both columns alike.

    python bench/bench_loader.py [--items 40] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from vworld.data.decode import available_backends
from vworld.data.synthetic import make_synthetic_videos
from vworld.data.video import VideoClipDataset, VideoDataConfig

RECIPES = {
    "tiny: 64px 8f step2 (src 64px)": dict(
        src=dict(size=64, frames=32), cfg=dict(frames_per_clip=8, frame_step=2, crop_size=64)
    ),
    "vjepa2: 256px 16f step4 (src 320px)": dict(
        src=dict(size=320, frames=96), cfg=dict(frames_per_clip=16, frame_step=4, crop_size=256)
    ),
}


def clips_per_second(ds: VideoClipDataset, items: int, epoch: int) -> float:
    t0 = time.perf_counter()
    for k in range(items):
        out = ds[(epoch, k % len(ds))]
        assert "clip" in out, out
    return items / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=40, help="clips per round and backend")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    backends = available_backends()
    print(f"torch threads 1, backends {backends}, {args.items} clips x {args.rounds} rounds")
    print(f"{'recipe':38s} " + " ".join(f"{b + ' clips/s':>15s}" for b in backends), end="")
    print("   decord/pyav" if len(backends) == 2 else "")
    with tempfile.TemporaryDirectory() as tmp:
        for name, r in RECIPES.items():
            folder = Path(tmp) / name.split(":")[0]
            make_synthetic_videos(folder, num_videos=8, fps=30, **r["src"])
            sets = {
                b: VideoClipDataset(
                    VideoDataConfig(path=str(folder), backend=b, num_workers=0, **r["cfg"])
                )
                for b in backends
            }
            best = dict.fromkeys(backends, 0.0)
            for rnd in range(args.rounds + 1):  # round 0 warms up
                for b, ds in sets.items():
                    rate = clips_per_second(ds, args.items if rnd else 4, epoch=rnd)
                    if rnd:
                        best[b] = max(best[b], rate)
            row = " ".join(f"{best[b]:15.1f}" for b in backends)
            ratio = f"   {best['decord'] / best['pyav']:.2f}x" if len(backends) == 2 else ""
            print(f"{name:38s} {row}{ratio}", flush=True)


if __name__ == "__main__":
    main()
