"""Tiny synthetic videos of bouncing coloured shapes, for first runs and tests.

Each video shows a few discs and squares of different colours and sizes moving at
constant, different velocities and bouncing off the frame edges over a textured
background, so the next frames are predictable from the past (a toy version of the
"moving MNIST" kind of data used to sanity-check video prediction models). The files are
real mp4s written with PyAV, decoded by the same path as real data.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = ["make_synthetic_frames", "make_synthetic_videos", "write_video"]

_ENCODERS = {
    "h264": ("libx264", {"preset": "ultrafast", "crf": "18", "tune": "zerolatency"}),
    "mpeg4": ("mpeg4", {"qscale": "2"}),
    "av1": ("libsvtav1", {"preset": "12"}),
    "av1-aom": ("libaom-av1", {"cpu-used": "8", "crf": "30"}),
}


def make_synthetic_frames(
    frames: int = 32,
    size: int = 64,
    num_objects: int = 3,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Frames ``(T, H, W, 3)`` uint8 of shapes bouncing at constant speed.

    Args:
        frames: number of frames.
        size: frame side in pixels.
        num_objects: number of shapes.
        rng: the source of randomness (colours, sizes, positions, velocities).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    # A fixed, smooth background texture so the encoder has something static to see.
    bg_color = rng.integers(20, 90, size=3)
    shade = 0.75 + 0.25 * np.sin(xx / size * 2 * np.pi * rng.uniform(1, 3))[..., None]
    background = (bg_color * shade).astype(np.uint8)  # (H, W, 3)

    radius = rng.uniform(0.08, 0.18, num_objects) * size
    pos = rng.uniform(radius[:, None], size - radius[:, None], (num_objects, 2))
    speed = rng.uniform(0.02, 0.06, num_objects) * size  # pixels per frame
    angle = rng.uniform(0, 2 * np.pi, num_objects)
    vel = np.stack([np.cos(angle), np.sin(angle)], axis=1) * speed[:, None]
    colors = rng.integers(120, 256, size=(num_objects, 3)).astype(np.uint8)
    is_disc = rng.random(num_objects) < 0.5

    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    for t in range(frames):
        img = background.copy()
        for k in range(num_objects):
            dy, dx = yy - pos[k, 0], xx - pos[k, 1]
            if is_disc[k]:
                inside = dy * dy + dx * dx <= radius[k] ** 2
            else:
                inside = (np.abs(dy) <= radius[k]) & (np.abs(dx) <= radius[k])
            img[inside] = colors[k]
        out[t] = img
        pos += vel
        for d in range(2):  # bounce off the edges
            low, high = pos[:, d] < radius, pos[:, d] > size - radius
            vel[low | high, d] *= -1
            pos[low, d] = 2 * radius[low] - pos[low, d]
            pos[high, d] = 2 * (size - radius[high]) - pos[high, d]
    return out


def write_video(
    path: str | os.PathLike, frames: np.ndarray, fps: float = 10, codec: str = "h264"
) -> Path:
    """Write ``(T, H, W, 3)`` uint8 RGB frames to a video file with PyAV.

    Args:
        path: output file (``.mp4`` for h264/mpeg4/av1).
        frames: the frames; height and width must be even.
        fps: frame rate.
        codec: ``"h264"`` (libx264), ``"mpeg4"``, ``"av1"`` (libsvtav1) or ``"av1-aom"``.
    """
    import av

    if codec.startswith("av1"):
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner otherwise
    if codec not in _ENCODERS:
        raise ValueError(f"write_video.codec: unknown '{codec}', expected one of {list(_ENCODERS)}")
    name, options = _ENCODERS[codec]
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"write_video.frames: expected (T, H, W, 3) uint8, got {frames.shape}")
    path = Path(path)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(name, rate=rate, options=options)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_synthetic_videos(
    out_dir: str | os.PathLike,
    num_videos: int = 8,
    frames: int = 32,
    size: int = 64,
    fps: float = 10,
    seed: int = 0,
    codec: str = "h264",
) -> list[Path]:
    """Write ``num_videos`` mp4s of bouncing shapes to ``out_dir``; returns their paths.

    Args:
        out_dir: folder to write into (created if missing).
        num_videos: number of videos.
        frames: frames per video.
        size: frame side in pixels (even).
        fps: frame rate.
        seed: the videos are a function of this seed.
        codec: see ``write_video``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ss = np.random.SeedSequence(seed).spawn(num_videos)
    paths = []
    for i in range(num_videos):
        rng = np.random.default_rng(ss[i])
        clip = make_synthetic_frames(frames, size, int(rng.integers(2, 5)), rng)
        paths.append(write_video(out / f"synthetic_{i:04d}.mp4", clip, fps=fps, codec=codec))
    return paths
