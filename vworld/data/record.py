"""Write episodes as they happen into a LeRobot v3.0 dataset, atomically, and join datasets.

:class:`DatasetRecorder` is what ``vworld plan record_dir=...`` writes its executed episodes
with (the planner's own rollouts, for training the world model on the states its plans
reach: data aggregation, as in DAgger or model-based RL's collect-train loop), and
:func:`merge` (``vworld merge``) joins such a dataset with the one the model was trained on.
Both write into a hidden partial folder and move it into place when complete: a run that
fails leaves no half-written dataset.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from vworld.config import MISSING
from vworld.data.episodes import RobotLogError
from vworld.data.lerobot_write import LeRobotWriter
from vworld.data.logs import open_robot_log

__all__ = ["DatasetRecorder", "MergeConfig", "merge"]


class DatasetRecorder:
    """Episodes -> a LeRobot v3.0 dataset at ``out_dir``, in place once :meth:`finish` runs.

    Args:
        out_dir: the dataset folder to create.
        fps: frames per second of the recorded steps.
        robot_type: the env's id (``info.json``'s ``robot_type``, which the swm protocol and
            readers check).
        codec: ``{"codec", "pix_fmt", "crf"}`` of the videos (default H.264 yuv420p crf 18);
            record with the training data's settings so that frames look alike.
        camera: camera name (``observation.images.<camera>``).
        overwrite: replace an existing ``out_dir``.
    Raises:
        FileExistsError: ``out_dir`` exists and ``overwrite`` is False.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        fps: int,
        robot_type: str,
        codec: dict[str, Any] | None = None,
        camera: str = "top",
        overwrite: bool = False,
    ) -> None:
        self.out = Path(out_dir)
        if self.out.exists() and not overwrite:
            raise FileExistsError(f"{self.out}: already exists (set overwrite=True)")
        self.tmp = self.out.with_name(f".{self.out.name}.partial-{os.getpid()}")
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.fps, self.robot_type, self.camera = int(fps), robot_type, camera
        self.codec = dict(codec or {"codec": "h264", "pix_fmt": "yuv420p", "crf": 18})
        self._writer: LeRobotWriter | None = None
        self.num_episodes = 0

    def add(
        self,
        frames: np.ndarray,
        actions: np.ndarray,
        states: np.ndarray,
        sim_states: np.ndarray | None,
        task: str,
    ) -> None:
        """Append one episode (``actions[t]`` taken at ``frames[t]``; see ``LeRobotWriter``)."""
        if self._writer is None:  # sizes come with the first episode
            self._writer = LeRobotWriter(
                self.tmp,
                fps=self.fps,
                action_dim=actions.shape[-1],
                state_dim=states.shape[-1],
                sim_state_dim=None if sim_states is None else sim_states.shape[-1],
                camera=self.camera,
                robot_type=self.robot_type,
                **self.codec,
            )
        self._writer.add_episode(frames, actions, states, sim_states, task)
        self.num_episodes += 1

    def finish(
        self, meta: dict[str, Any] | None = None, meta_name: str = "record_config.json"
    ) -> Path:
        """Write the metadata (and ``meta`` as ``meta/<meta_name>``), move the dataset into
        place and return its folder.

        Raises:
            ValueError: no episode was added.
        """
        if self._writer is None:
            raise ValueError(f"{self.out}: no episodes were recorded")
        self._writer.finalize()
        if meta is not None:
            text = json.dumps(meta, indent=2, default=str)
            (self.tmp / "meta" / meta_name).write_text(text)
        if self.out.exists():
            shutil.rmtree(self.out)
        os.replace(self.tmp, self.out)
        return self.out

    def abort(self) -> None:
        """Drop what was written (the partial folder)."""
        shutil.rmtree(self.tmp, ignore_errors=True)


@dataclass
class MergeConfig:
    """Config of ``vworld merge``.

    Args:
        inputs: the datasets to join (LeRobot folders or HDF5 files), in order: episode ``e``
            of the second follows the last of the first. They must agree on fps, action,
            state and sim-state sizes, frame size and (where recorded) env.
        out_dir: the LeRobot v3.0 dataset to create.
        overwrite: replace an existing ``out_dir``.
    """

    inputs: list[str] = field(default_factory=list)
    out_dir: str = MISSING
    overwrite: bool = False


def merge(cfg: MergeConfig) -> Path:
    """Join ``cfg.inputs`` into one dataset at ``cfg.out_dir``; returns its folder.

    The videos are re-encoded with the first input's recorded codec settings (H.264 yuv420p
    crf 18 where it records none).

    Raises:
        ValueError: fewer than two inputs, or no ``out_dir``.
        RobotLogError: an input disagrees with the first (the field names which).
    """
    if len(cfg.inputs) < 2:
        raise ValueError(f"MergeConfig.inputs: at least two datasets, got {cfg.inputs}")
    if cfg.out_dir in (None, "", MISSING):
        raise ValueError("MergeConfig.out_dir: required (the dataset folder to create)")
    logs = [open_robot_log(p) for p in cfg.inputs]
    try:
        first = logs[0]
        ref = _signature(first)
        for log in logs[1:]:
            for key, value in _signature(log).items():
                if value != ref[key] and not (key == "robot_type" and None in (value, ref[key])):
                    raise RobotLogError(
                        log.path, key, f"{value!r}, but {first.path} has {ref[key]!r}"
                    )
        rec = DatasetRecorder(
            cfg.out_dir,
            fps=round(first.fps),
            robot_type=ref["robot_type"] or "unknown",
            codec=first.recording_codec(),
            overwrite=cfg.overwrite,
        )
        total = sum(log.num_episodes for log in logs)
        try:
            with tqdm(total=total, desc="merge", unit="ep") as bar:
                for log in logs:
                    for e in range(log.num_episodes):
                        ep = log.load_episode(e, frames=True)
                        rec.add(ep.frames, ep.actions, ep.states, ep.sim_states, log.tasks[e])
                        bar.update(1)
            return rec.finish(asdict(cfg))
        except BaseException:
            rec.abort()
            raise
    finally:
        for log in logs:
            log.close()


def _signature(log: Any) -> dict[str, Any]:
    """What two datasets must share to be joined."""
    frame = log.load_episode(0, frames=True).frames
    info = getattr(log, "info", {}) or {}
    return {
        "fps": float(log.fps),
        "action_dim": int(log.action_dim),
        "state_dim": int(log.state_dim),
        "sim_state_dim": int(log.sim_state_dim),
        "frame_size": tuple(int(x) for x in frame.shape[1:]),
        "robot_type": info.get("robot_type"),
    }
