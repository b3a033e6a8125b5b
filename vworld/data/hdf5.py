"""Read robomimic-layout HDF5 demonstrations (Mandlekar et al., robomimic, 2021) as a RobotLog.

Layout::

    data/                 attrs: env_args (JSON, optional), total (optional)
      demo_0/             attrs: num_samples (optional)
        actions           (L, A)
        obs/<key>         (L, ...) per observation key, images (L, H, W, 3) uint8
        states            (L, K) flat simulator states (optional)
      demo_1/ ...

Demos are ordered by their number (``demo_2`` before ``demo_10``). The state is the
concatenation of ``state_keys`` (each flattened per frame). h5py is optional: opening a file
without it raises an ImportError that says how to install it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from vworld.data.episodes import (
    Episode,
    RobotLog,
    RobotLogError,
    check_finite,
    feature_stats,
)

__all__ = ["Hdf5Log", "open_hdf5"]


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "reading HDF5 robot logs needs h5py: pip install h5py (or pip install vworld[hdf5])"
        ) from None
    return h5py


class Hdf5Log(RobotLog):
    """Robomimic-layout HDF5 episodes.

    Args:
        path: the ``.hdf5`` file.
        image_key: the image observation (``data/demo_N/obs/<image_key>``).
        state_keys: observation keys concatenated into the state, in this order.
        fps: frames per second; taken from ``env_args`` (``control_freq``) when None, else 20.
        task: the task text; the env name in ``env_args`` when None.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        image_key: str = "agentview_image",
        state_keys: list[str] | tuple[str, ...] = ("robot0_eef_pos", "robot0_eef_quat"),
        fps: float | None = None,
        task: str | None = None,
    ):
        h5py = _h5py()
        self.path = Path(path)
        if not self.path.is_file():
            raise RobotLogError(self.path, "path", "no such file")
        self.image_key, self.state_keys = image_key, list(state_keys)
        if not self.state_keys:
            raise ValueError(f"{self.path}: state_keys must name at least one observation")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as e:
            raise RobotLogError(self.path, "file", f"not a readable HDF5 file ({e})") from None
        self._pid = os.getpid()
        if "data" not in self._file:
            raise RobotLogError(self.path, "data", "no 'data' group (robomimic layout)")
        data = self._file["data"]
        names = [n for n in data if re.fullmatch(r"demo_\d+", n)]
        if not names:
            raise RobotLogError(self.path, "data", "no demo_N groups")
        self._demos = sorted(names, key=lambda n: int(n.split("_")[1]))
        env_args = {}
        if "env_args" in data.attrs:
            try:
                env_args = json.loads(data.attrs["env_args"])
            except (TypeError, json.JSONDecodeError):
                env_args = {}
        kwargs = env_args.get("env_kwargs", {}) if isinstance(env_args, dict) else {}
        self.fps = float(fps or kwargs.get("control_freq", 20))
        env_name = env_args.get("env_name", "") if isinstance(env_args, dict) else ""
        self._task = task if task is not None else str(env_name)

        self.episode_lengths, acts, states = [], [], []
        for i, name in enumerate(self._demos):
            g = data[name]
            field = f"data/{name}/actions"
            if "actions" not in g:
                raise RobotLogError(self.path, field, "missing", i)
            if "obs" not in g or image_key not in g["obs"]:
                raise RobotLogError(self.path, f"data/{name}/obs/{image_key}", "missing", i)
            a = np.asarray(g["actions"][()], dtype=np.float32)
            if a.ndim == 1:
                a = a[:, None]
            s = self._read_state(g, name, i)
            L = a.shape[0]
            img = g["obs"][image_key]
            if s.shape[0] != L or img.shape[0] != L:
                raise RobotLogError(
                    self.path,
                    f"data/{name}",
                    f"{L} actions, {s.shape[0]} states, {img.shape[0]} images: lengths differ",
                    i,
                )
            if img.ndim != 4 or img.shape[-1] != 3:
                raise RobotLogError(
                    self.path,
                    f"data/{name}/obs/{image_key}",
                    f"shape {img.shape}, expected (L, H, W, 3)",
                    i,
                )
            if acts and a.shape[1] != acts[0].shape[1]:
                raise RobotLogError(
                    self.path, field, f"width {a.shape[1]}, earlier demos {acts[0].shape[1]}", i
                )
            check_finite(a, self.path, field, i)
            check_finite(s, self.path, f"data/{name}/obs ({', '.join(self.state_keys)})", i)
            self.episode_lengths.append(L)
            acts.append(a)
            states.append(s)
        self._actions, self._states = acts, states
        self.action_dim = acts[0].shape[1]
        self.state_dim = states[0].shape[1]
        first = data[self._demos[0]]
        self.sim_state_dim = int(np.prod(first["states"].shape[1:])) if "states" in first else 0
        self.tasks = [self._task] * len(self._demos)
        self.stats = {
            "action": feature_stats(np.concatenate(acts)),
            "observation.state": feature_stats(np.concatenate(states)),
        }

    def _read_state(self, g, name: str, i: int) -> np.ndarray:
        parts = []
        for key in self.state_keys:
            if key not in g["obs"]:
                raise RobotLogError(self.path, f"data/{name}/obs/{key}", "missing", i)
            v = np.asarray(g["obs"][key][()], dtype=np.float32)
            parts.append(v.reshape(v.shape[0], -1))  # (L, d_key)
        if len({p.shape[0] for p in parts}) != 1:
            raise RobotLogError(self.path, f"data/{name}/obs", "state keys differ in length", i)
        return np.concatenate(parts, axis=1)

    def _group(self, i: int):
        if self._pid != os.getpid():  # an HDF5 handle must not be shared across a fork
            self._file = _h5py().File(self.path, "r")
            self._pid = os.getpid()
        return self._file["data"][self._demos[i]]

    def load_episode(self, i: int, frames: bool = True) -> Episode:
        """Episode ``i`` (the ``i``-th demo in numeric order)."""
        i = self._check_index(i)
        g = self._group(i)
        imgs = np.asarray(g["obs"][self.image_key][()], dtype=np.uint8) if frames else None
        sim = None
        if self.sim_state_dim and "states" in g:
            sim = np.asarray(g["states"][()], dtype=np.float64).reshape(len(g["states"]), -1)
        return Episode(imgs, self._actions[i].copy(), self._states[i].copy(), sim, self.tasks[i], i)

    def close(self) -> None:
        self._file.close()


def open_hdf5(
    path: str | os.PathLike,
    image_key: str = "agentview_image",
    state_keys: list[str] | tuple[str, ...] = ("robot0_eef_pos", "robot0_eef_quat"),
    fps: float | None = None,
    task: str | None = None,
) -> Hdf5Log:
    """Open a robomimic-layout HDF5 file.

    Args:
        path: the ``.hdf5`` file.
        image_key: the image observation key.
        state_keys: observation keys concatenated (in order) into the state.
        fps: frames per second (from ``env_args`` ``control_freq`` when None, else 20).
        task: the task text (the env name from ``env_args`` when None).
    Raises:
        ImportError: h5py is not installed.
        RobotLogError: a group or key is missing, lengths differ, values are not finite.
    """
    return Hdf5Log(path, image_key, state_keys, fps, task)
