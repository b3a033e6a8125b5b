"""Common types for robot logs: one episode, a log of episodes, and the error for bad logs.

A robot log is what the action-conditioned predictor of V-JEPA 2-AC (Assran et al., 2025)
trains on: per episode, the camera frames, the action taken at each frame and the robot
state at each frame. Every on-disk layout (LeRobot v3.0 and v2.1, robomimic HDF5) is read
into the same :class:`RobotLog` interface, so training code never branches on the format.

Convention: ``actions[t]`` is the action taken at frame ``t`` (it leads from frame ``t`` to
frame ``t + 1``), as in LeRobot, so an episode of ``L`` frames has ``L`` actions.
"""

from __future__ import annotations

import abc
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "Episode",
    "RobotLog",
    "RobotLogError",
    "aggregate_stats",
    "check_finite",
    "feature_stats",
]

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
_QKEYS = tuple(f"q{round(q * 100):02d}" for q in QUANTILES)


class RobotLogError(ValueError):
    """A robot log that cannot be read as it is: names the file, the episode and the field.

    Args:
        path: the file (or dataset folder) at fault.
        field: the field at fault (``"action"``, ``"observation.state"``, ``"codebase_version"``).
        reason: what is wrong and what was expected.
        episode: the episode index, where one is at fault.
    """

    def __init__(
        self, path: str | os.PathLike, field: str, reason: str, episode: int | None = None
    ):
        self.path = str(path)
        self.field = field
        self.episode = episode
        self.reason = reason
        where = f"{path}" + (f", episode {episode}" if episode is not None else "")
        super().__init__(f"{where}, field '{field}': {reason}")


@dataclass
class Episode:
    """One recorded episode.

    Attributes:
        frames: ``(L, H, W, 3)`` uint8 RGB, or None when loaded with ``frames=False``.
        actions: ``(L, A)`` float32; ``actions[t]`` is taken at frame ``t``.
        states: ``(L, S)`` float32 robot (proprioceptive) state at each frame.
        sim_states: ``(L, K)`` float64 full simulator state (enough to restore the scene and
            replay a goal), or None when the log has none.
        task: the natural-language task of the episode.
        index: the episode index in its log.
    """

    frames: np.ndarray | None
    actions: np.ndarray
    states: np.ndarray
    sim_states: np.ndarray | None
    task: str
    index: int

    def __len__(self) -> int:
        return int(self.actions.shape[0])


class RobotLog(abc.ABC):
    """A read-only collection of episodes with one camera, actions and states.

    Subclasses set ``path``, ``fps``, ``episode_lengths``, ``action_dim``, ``state_dim``,
    ``sim_state_dim`` (0 when absent), ``stats`` and ``tasks`` (one per episode) and implement
    :meth:`load_episode`.

    ``stats`` maps a feature (``"action"``, ``"observation.state"``, ...) to a dict of numpy
    arrays ``mean``, ``std``, ``min``, ``max`` (and ``count``, quantiles where known).
    """

    path: Path
    fps: float
    episode_lengths: list[int]
    action_dim: int
    state_dim: int
    sim_state_dim: int
    stats: dict[str, dict[str, np.ndarray]]
    tasks: list[str]  # the task of each episode
    action_key: str = "action"
    state_key: str = "observation.state"

    @property
    def num_episodes(self) -> int:
        return len(self.episode_lengths)

    @property
    def num_frames(self) -> int:
        return int(sum(self.episode_lengths))

    @abc.abstractmethod
    def load_episode(self, i: int, frames: bool = True) -> Episode:
        """Episode ``i``; its frames are decoded in one pass over its span when asked for."""

    def close(self) -> None:  # noqa: B027 - optional hook, most logs hold nothing open
        """Release open files (video readers, HDF5 handles)."""

    def recording_codec(self) -> dict | None:
        """``{"codec", "pix_fmt", "crf"}`` of the log's videos when it records them (logs
        written by ``vworld collect``), else None (raw frames, or unknown settings)."""
        return None

    def _check_index(self, i: int) -> int:
        if not 0 <= int(i) < self.num_episodes:
            raise IndexError(f"{self.path}: episode {i} out of range [0, {self.num_episodes})")
        return int(i)

    def __len__(self) -> int:
        return self.num_episodes

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(path='{self.path}', episodes={self.num_episodes}, "
            f"frames={self.num_frames}, fps={self.fps}, action_dim={self.action_dim}, "
            f"state_dim={self.state_dim})"
        )


def check_finite(
    values: np.ndarray, path: str | os.PathLike, field: str, episode: int | None = None
) -> None:
    """Raise :class:`RobotLogError` if ``values`` holds a NaN or an infinity."""
    if values.size and not np.isfinite(values).all():
        bad = np.argwhere(~np.isfinite(values))[0]
        raise RobotLogError(
            path, field, f"non-finite value {values[tuple(bad)]} at frame {bad[0]}", episode
        )


def feature_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per-dimension stats of ``(N, D)`` values, as LeRobot keeps them in ``stats.json``."""
    v = np.asarray(values, dtype=np.float64).reshape(values.shape[0], -1)  # (N, D)
    out = {
        "min": v.min(0),
        "max": v.max(0),
        "mean": v.mean(0),
        "std": v.std(0),
        "count": np.array([v.shape[0]]),
    }
    for key, q in zip(_QKEYS, np.quantile(v, QUANTILES, axis=0)):
        out[key] = q
    return out


def aggregate_stats(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Combine per-episode stats: exact count, mean, std, min and max; quantiles are the
    count-weighted mean of the episodes' quantiles (what LeRobot does too)."""
    counts = np.array([float(p["count"].reshape(-1)[0]) for p in parts])
    w = counts / counts.sum()
    shape = np.asarray(parts[0]["mean"]).shape
    means = np.stack([np.asarray(p["mean"], np.float64) for p in parts])  # (E, *shape)
    stds = np.stack([np.asarray(p["std"], np.float64) for p in parts])
    wb = w.reshape(-1, *([1] * len(shape)))
    mean = (wb * means).sum(0)
    var = (wb * (stds**2 + (means - mean) ** 2)).sum(0)
    out = {
        "min": np.min(np.stack([p["min"] for p in parts]), 0),
        "max": np.max(np.stack([p["max"] for p in parts]), 0),
        "mean": mean,
        "std": np.sqrt(np.maximum(var, 0.0)),
        "count": np.array([int(counts.sum())]),
    }
    for key in _QKEYS:
        if all(key in p for p in parts):
            out[key] = (wb * np.stack([np.asarray(p[key], np.float64) for p in parts])).sum(0)
    return out
