"""Training windows of encoded robot-log episodes, for the action-conditioned predictor.

A window is T frames ``frame_stride`` env steps apart inside one episode (never crossing
episodes), the actions between them and the frames' states. The actions of one model step
(``frame_stride`` env steps) are given to the model in one of three ways
(:data:`ACTION_MODES`): summed, as the state difference, or concatenated (LeWM's frameskip
encoder). Actions and states are z-scored with the training windows' statistics
(:func:`norm_stats`); angle dims stay in radians.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from vworld.data.episodes import RobotLog

if TYPE_CHECKING:  # the encoded episodes come from vworld.train.features
    from vworld.train.features import EncodedEpisode

__all__ = [
    "ACTION_MODES",
    "ACWindows",
    "Normalizer",
    "ProbeFrames",
    "append_sim_state",
    "norm_stats",
    "split_episodes",
]

ACTION_MODES = ("sum", "state_diff", "concat")


class ACWindows:
    """All windows of T frames at a stride inside each episode.

    The episodes are concatenated once (tokens, states, action prefix sums), so a batch of
    windows is a few gathers rather than a Python loop over rows.
    """

    def __init__(self, episodes: list[EncodedEpisode], num_frames: int, stride: int, mode: str):
        if mode not in ACTION_MODES:
            raise ValueError(f"data.action_mode: {mode!r}, expected one of {ACTION_MODES}")
        self.num_frames, self.stride, self.mode = num_frames, stride, mode
        span = (num_frames - 1) * stride
        lengths = [len(ep.actions) for ep in episodes]
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        starts = [off + np.arange(max(n - span, 0)) for off, n in zip(offsets, lengths)]
        self.starts = torch.from_numpy(np.concatenate(starts)) if starts else torch.zeros(0)
        if len(self.starts) == 0:
            raise ValueError(
                f"no window of {num_frames} frames at stride {stride} fits in any episode "
                f"(longest has {max(lengths, default=0)} frames)"
            )
        self.z = torch.cat([ep.z for ep in episodes])  # (sum L, Np, D) float16, or uint8 frames
        self.actions = torch.from_numpy(np.concatenate([ep.actions for ep in episodes])).float()
        self.states = torch.from_numpy(np.concatenate([ep.states for ep in episodes])).float()
        # Prefix sums of actions: actions between frames i < j of one episode are csum[j] -
        # csum[i]; an episode's sums restart at 0, so windows never mix episodes.
        csum = [np.cumsum(ep.actions, 0, dtype=np.float64) - ep.actions for ep in episodes]
        self.csum = torch.from_numpy(np.concatenate(csum))
        self.offsets = torch.arange(num_frames) * stride

    def __len__(self) -> int:
        return len(self.starts)

    def get(self, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Windows ``rows`` as ``z (B, T, Np, D)`` (or uint8 frames ``(B, T, H, W, 3)``),
        ``actions (B, T-1, A)`` (``(B, T-1, stride * A)`` concatenated) and ``states (B, T, S)``."""
        frames = self.starts[rows][:, None] + self.offsets  # (B, T)
        states = self.states[frames]
        if self.mode == "state_diff":
            actions = states[:, 1:] - states[:, :-1]
        elif self.mode == "concat":
            steps = frames[:, :-1, None] + torch.arange(self.stride)  # (B, T-1, stride)
            actions = self.actions[steps].flatten(2)  # (B, T-1, stride * A)
        else:
            c = self.csum[frames]  # (B, T, A): sum of the episode's actions before each frame
            actions = (c[:, 1:] - c[:, :-1]).float()
        z = self.z[frames]
        return (z if z.dtype == torch.uint8 else z.float()), actions, states


class ProbeFrames:
    """The state probe's training pairs: the tokens ``encode_log`` kept at the probe's grid
    (every ``every``-th frame of each episode) and those frames' states."""

    def __init__(self, episodes: list[EncodedEpisode], every: int):
        if any(ep.z_probe is None for ep in episodes):
            raise ValueError("ProbeFrames: episodes were encoded without probe tokens")
        self.z = torch.cat([ep.z_probe for ep in episodes])  # (N, Np, D) float16
        states = [ep.states[::every] for ep in episodes]
        self.states = torch.from_numpy(np.concatenate(states)).float()  # (N, S)

    def __len__(self) -> int:
        return len(self.z)

    def get(self, rows: Tensor) -> tuple[Tensor, Tensor]:
        return self.z[rows].float(), self.states[rows]


def norm_stats(windows: ACWindows, angle_dims: list[int]) -> dict[str, list[float]]:
    """Mean and std of the windows' actions and states; angle dims keep mean 0 and std 1."""
    n = min(len(windows), 20000)
    rows = torch.linspace(0, len(windows) - 1, n).long()
    _, a, s = windows.get(rows)
    a, s = a.reshape(-1, a.shape[-1]), s.reshape(-1, s.shape[-1])
    s_mean, s_std = s.mean(0), s.std(0).clamp_min(1e-6)
    s_mean[angle_dims], s_std[angle_dims] = 0.0, 1.0
    return {
        "action_mean": a.mean(0).tolist(),
        "action_std": a.std(0).clamp_min(1e-6).tolist(),
        "state_mean": s_mean.tolist(),
        "state_std": s_std.tolist(),
    }


class Normalizer(nn.Module):
    """z-scores actions and states with the training windows' mean and std."""

    KEYS = ("action_mean", "action_std", "state_mean", "state_std")

    def __init__(self, stats: dict[str, list[float]]):
        super().__init__()
        self.stats = {k: [float(x) for x in stats[k]] for k in self.KEYS}
        for k, v in self.stats.items():
            self.register_buffer(k, torch.tensor(v, dtype=torch.float32), persistent=False)

    def actions(self, a: Tensor) -> Tensor:
        return (a - self.action_mean) / self.action_std

    def states(self, s: Tensor) -> Tensor:
        return (s - self.state_mean) / self.state_std

    def unstates(self, s: Tensor) -> Tensor:
        return s * self.state_std + self.state_mean


def split_episodes(num_episodes: int, val_fraction: float) -> tuple[list[int], list[int]]:
    """Training and held-out episode indices: the last ``val_fraction`` are held out."""
    if num_episodes < 2 or val_fraction <= 0:
        return list(range(num_episodes)), []
    n_val = max(1, round(num_episodes * val_fraction))
    return list(range(num_episodes - n_val)), list(range(num_episodes - n_val, num_episodes))


def append_sim_state(
    robot_log: RobotLog, episodes: list[EncodedEpisode], dims: list[int]
) -> list[EncodedEpisode]:
    """The episodes with columns ``dims`` of each frame's sim state appended to its state."""
    field = "data.sim_state_dims"
    if robot_log.sim_state_dim == 0:
        raise ValueError(
            f"{robot_log.path}: {field} is set but the log has no observation.sim_state"
        )
    bad = [d for d in dims if not 0 <= d < robot_log.sim_state_dim]
    if bad:
        raise ValueError(
            f"{robot_log.path}: {field} {bad} out of range for observation.sim_state of width "
            f"{robot_log.sim_state_dim}"
        )
    out = []
    for ep in episodes:
        sim = robot_log.load_episode(ep.index, frames=False).sim_states[:, dims]
        states = np.concatenate([ep.states, sim.astype(np.float32)], 1)
        out.append(dataclasses.replace(ep, states=states))
    return out
