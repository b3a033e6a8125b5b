"""Windows of robot-log episodes for training an action-conditioned predictor (V-JEPA 2-AC).

V-JEPA 2-AC (Assran et al., 2025) trains on short clips of a robot log: ``T`` frames taken
every ``frame_stride`` recorded frames, the state at each of those frames, and between two
consecutive sampled frames one action. On DROID the action is the change of end-effector
state between the two frames (``action_mode="state_diff"``); for logs whose actions are
deltas we can instead sum the recorded actions over the stride (``action_mode="sum"``).
A window never crosses an episode boundary.

Normalisation (``normalize=True``) uses the log's stats (``meta/stats.json``): states are
z-scored, ``(s - mean) / std``; actions are only divided by the std of the per-step quantity
(the action's for ``"sum"``, the state's for ``"state_diff"``), not shifted, so that a zero
action still means "no motion" - a planner searching around zero relies on that.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vworld.data.episodes import Episode, RobotLog

__all__ = ["EpisodeWindows"]

_EPS = 1e-6


class EpisodeWindows(Dataset):
    """A map-style dataset of fixed-length windows over a :class:`RobotLog`.

    Item ``k`` is a dict with ``frames`` ``(T, C, H, W)`` uint8, ``actions`` ``(T-1, A)``
    float32, ``states`` ``(T, S)`` float32, ``episode_index`` and ``start`` (the first frame of
    the window in its episode); plus ``sim_states`` ``(T, K)`` float64 when the log has them.

    Args:
        log: the robot log.
        num_frames: ``T``, frames per window (at least 2).
        frame_stride: recorded frames between two sampled frames.
        target_fps: if given, the stride is ``log.fps / target_fps`` (must be a whole number);
            overrides ``frame_stride``.
        action_mode: ``"sum"`` (sum of the actions over each stride) or ``"state_diff"``
            (state at the next sampled frame minus state at this one; width = state width).
        normalize: normalise states and actions with the log's stats (see module docstring).
        episodes: the episodes to draw from (all when None), e.g. a train split.
        window_step: frames between the starts of two windows of one episode.
        cache_episodes: decoded episodes kept in memory (LRU, per worker process).
    """

    def __init__(
        self,
        log: RobotLog,
        num_frames: int,
        frame_stride: int = 1,
        target_fps: float | None = None,
        action_mode: str = "sum",
        normalize: bool = False,
        episodes: Sequence[int] | None = None,
        window_step: int = 1,
        cache_episodes: int = 32,
    ):
        if num_frames < 2:
            raise ValueError(f"num_frames: need at least 2 frames per window, got {num_frames}")
        if action_mode not in ("sum", "state_diff"):
            raise ValueError(f"action_mode: expected 'sum' or 'state_diff', got '{action_mode}'")
        if target_fps is not None:
            ratio = log.fps / target_fps
            if target_fps <= 0 or abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
                raise ValueError(
                    f"target_fps {target_fps}: the log's {log.fps} fps is not a whole multiple"
                )
            frame_stride = round(ratio)
        if frame_stride < 1 or window_step < 1:
            raise ValueError(f"frame_stride {frame_stride} and window_step {window_step}: >= 1")
        self.log = log
        self.num_frames, self.frame_stride = int(num_frames), int(frame_stride)
        self.action_mode, self.normalize = action_mode, normalize
        self.cache_episodes = int(cache_episodes)
        self.episodes = list(range(log.num_episodes)) if episodes is None else list(episodes)
        for e in self.episodes:
            if not 0 <= e < log.num_episodes:
                raise IndexError(f"{log.path}: episode {e} out of range [0, {log.num_episodes})")
        span = (self.num_frames - 1) * self.frame_stride  # frames from first to last sample
        starts, eps = [], []
        for e in self.episodes:
            n = log.episode_lengths[e] - span
            if n > 0:
                s = np.arange(0, n, window_step)
                starts.append(s)
                eps.append(np.full(len(s), e))
        self._starts = np.concatenate(starts) if starts else np.zeros(0, np.int64)
        self._eps = np.concatenate(eps) if eps else np.zeros(0, np.int64)
        if len(self._starts) == 0:
            raise ValueError(
                f"{log.path}: no episode is long enough for {num_frames} frames at stride "
                f"{frame_stride} ({span + 1} frames)"
            )
        self.action_dim = log.state_dim if action_mode == "state_diff" else log.action_dim
        self._cache: OrderedDict[int, Episode] = OrderedDict()
        self._setup_norm()

    def _setup_norm(self) -> None:
        st = self.log.stats
        s = st.get(self.log.state_key, {})
        if self.normalize and not {"mean", "std"} <= s.keys():
            raise ValueError(
                f"{self.log.path}: normalize=True but the stats have no state mean/std"
            )
        self._s_mean = np.asarray(s.get("mean", 0.0), np.float32)
        self._s_std = np.maximum(np.asarray(s.get("std", 1.0), np.float32), _EPS)
        if self.action_mode == "state_diff":
            self._a_scale = self._s_std
        else:
            a = st.get(self.log.action_key, {})
            if self.normalize and "std" not in a:
                raise ValueError(
                    f"{self.log.path}: normalize=True but the stats have no action std"
                )
            self._a_scale = np.maximum(np.asarray(a.get("std", 1.0), np.float32), _EPS)

    def __len__(self) -> int:
        return len(self._starts)

    def _episode(self, e: int) -> Episode:
        if e in self._cache:
            self._cache.move_to_end(e)
            return self._cache[e]
        ep = self.log.load_episode(e, frames=True)
        if self.cache_episodes > 0:
            self._cache[e] = ep
            while len(self._cache) > self.cache_episodes:
                self._cache.popitem(last=False)
        return ep

    def window_frames(self, k: int) -> tuple[int, np.ndarray]:
        """Episode index and the recorded frame indices of window ``k``."""
        s = int(self._starts[k])
        return int(self._eps[k]), s + self.frame_stride * np.arange(self.num_frames)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor | int]:
        if not -len(self) <= k < len(self):
            raise IndexError(f"window {k} out of range [0, {len(self)})")
        k = k % len(self)
        e, idx = self.window_frames(k)
        ep = self._episode(e)
        states = ep.states[idx]  # (T, S)
        if self.action_mode == "sum":
            # action t acts from frame t to t+1: sum each stride's actions
            a = ep.actions[idx[0] : idx[-1]]  # ((T-1)*stride, A)
            actions = a.reshape(self.num_frames - 1, self.frame_stride, -1).sum(1)  # (T-1, A)
        else:
            actions = states[1:] - states[:-1]  # (T-1, S)
        if self.normalize:
            states = (states - self._s_mean) / self._s_std
            actions = actions / self._a_scale
        frames = np.ascontiguousarray(ep.frames[idx].transpose(0, 3, 1, 2))  # (T, C, H, W)
        out: dict[str, torch.Tensor | int] = {
            "frames": torch.from_numpy(frames),
            "actions": torch.from_numpy(np.asarray(actions, np.float32)),
            "states": torch.from_numpy(np.asarray(states, np.float32)),
            "episode_index": e,
            "start": int(idx[0]),
        }
        if ep.sim_states is not None:
            out["sim_states"] = torch.from_numpy(ep.sim_states[idx])
        return out
