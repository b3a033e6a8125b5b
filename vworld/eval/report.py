"""Outputs of the planning evaluation: Wilson interval, results.json, distance plot, video.

The success rate of ``n`` episodes is reported with its 95% Wilson score interval (Wilson
1927), which stays inside [0, 1] and is sensible for small ``n`` and rates near 0 or 1.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from vworld.files import atomic_path, atomic_write_text

__all__ = ["plot_distances", "side_by_side", "wilson_interval", "write_json", "write_video"]


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (default 95%).

    Args:
        successes: number of successes.
        n: number of trials (0 gives ``(0.0, 1.0)``).
        z: normal quantile of the confidence level.
    """
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def write_json(obj: Any, path: str | os.PathLike) -> None:
    """Write JSON atomically (temporary name, then rename)."""
    atomic_write_text(path, json.dumps(obj, indent=2))


def plot_distances(
    distances: Sequence[Sequence[float]],
    successes: Sequence[bool],
    path: str | os.PathLike,
    threshold: float | None = None,
    title: str = "",
) -> None:
    """PNG of distance-to-goal against env step, one line per episode (green: success)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for d, ok in zip(distances, successes):
        ax.plot(np.arange(len(d)), d, color="tab:green" if ok else "tab:red", alpha=0.6, lw=1)
    if threshold is not None:
        ax.axhline(threshold, color="k", ls="--", lw=1, label=f"success threshold {threshold:g}")
        ax.legend(loc="upper right")
    ax.set_xlabel("env step")
    ax.set_ylabel("distance to goal")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def side_by_side(frame: np.ndarray, goal: np.ndarray, scale: int = 1) -> np.ndarray:
    """``(H, 2W, 3)`` image: observation on the left, goal on the right, upscaled."""
    img = np.concatenate([frame, goal], axis=1)
    if scale > 1:
        img = img.repeat(scale, axis=0).repeat(scale, axis=1)
    return img


def write_video(frames: Sequence[np.ndarray], path: str | os.PathLike, fps: int = 10) -> None:
    """Encode ``(H, W, 3)`` uint8 frames as H.264 MP4 (yuv420p) with PyAV.

    Odd sizes are padded to even (yuv420p needs even dimensions).
    """
    import av

    if len(frames) == 0:
        raise ValueError(f"no frames to write to {path}")
    h, w = frames[0].shape[:2]
    ph, pw = h + h % 2, w + w % 2
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = pw, ph, "yuv420p"
        for f in frames:
            f = np.ascontiguousarray(f, dtype=np.uint8)
            if (ph, pw) != (h, w):
                f = np.pad(f, ((0, ph - h), (0, pw - w), (0, 0)))
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
