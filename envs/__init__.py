"""vworld's MuJoCo goal-reaching environments (Gymnasium API), registered on import.

``import envs`` registers ``vworld/Reach-v0``, ``vworld/PointMaze-v0`` and ``vworld/Push-v0``
(200 steps per episode); ``gymnasium.make("vworld/Reach-v0", render_size=64)`` then works.
Rendering is offscreen: ``MUJOCO_GL`` defaults to ``egl`` (set before mujoco is imported).
This package never imports ``vworld``.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from gymnasium.envs.registration import register, registry  # noqa: E402

from envs.adapter import GoalImageAdapter  # noqa: E402
from envs.base import GoalEnv  # noqa: E402
from envs.pointmaze import PointMazeEnv  # noqa: E402
from envs.policies import (  # noqa: E402
    RandomPolicy,
    ScriptedPolicy,
    SmoothPolicy,
    make_policy,
)
from envs.push import PushEnv  # noqa: E402
from envs.reach import ReachEnv  # noqa: E402

ENV_IDS = ("vworld/Reach-v0", "vworld/PointMaze-v0", "vworld/Push-v0")
_ENTRY_POINTS = {
    "vworld/Reach-v0": "envs.reach:ReachEnv",
    "vworld/PointMaze-v0": "envs.pointmaze:PointMazeEnv",
    "vworld/Push-v0": "envs.push:PushEnv",
}

for _env_id, _entry in _ENTRY_POINTS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point=_entry, max_episode_steps=200)

__all__ = [
    "ENV_IDS",
    "GoalEnv",
    "GoalImageAdapter",
    "PointMazeEnv",
    "PushEnv",
    "RandomPolicy",
    "ReachEnv",
    "ScriptedPolicy",
    "SmoothPolicy",
    "make_policy",
]
