"""vworld's MuJoCo goal-reaching environments (Gymnasium API), registered on import.

``import envs`` registers ``vworld/Reach-v0``, ``vworld/PointMaze-v0`` and ``vworld/Push-v0``
(200 steps per episode); ``gymnasium.make("vworld/Reach-v0", render_size=64)`` then works.
``envs.make(env_id, render_size=...)`` makes any of them, or an ``swm/...`` task of
stable-worldmodel through ``envs.swm`` (the ``swm`` extra, imported only then).
Rendering is offscreen: ``MUJOCO_GL`` defaults to ``egl`` (set before mujoco is imported).
This package never imports ``vworld``.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
from gymnasium.envs.registration import register, registry

from envs.adapter import GoalImageAdapter
from envs.base import GoalEnv
from envs.pointmaze import PointMazeEnv
from envs.policies import (
    RandomPolicy,
    ScriptedPolicy,
    SmoothPolicy,
    make_policy,
)
from envs.push import PushEnv
from envs.reach import ReachEnv

ENV_IDS = ("vworld/Reach-v0", "vworld/PointMaze-v0", "vworld/Push-v0")
_ENTRY_POINTS = {
    "vworld/Reach-v0": "envs.reach:ReachEnv",
    "vworld/PointMaze-v0": "envs.pointmaze:PointMazeEnv",
    "vworld/Push-v0": "envs.push:PushEnv",
}

for _env_id, _entry in _ENTRY_POINTS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point=_entry, max_episode_steps=200)


def make(env_id: str, render_size: int = 64, **kwargs: Any) -> gym.Env:
    """A goal env by id: ``vworld/...`` through ``gymnasium.make``, ``swm/...`` through
    :func:`envs.swm.make_swm`.

    Args:
        env_id: the Gymnasium id.
        render_size: frame height and width in pixels.
        **kwargs: passed on (``max_episode_steps``, ``frame_skip``, env arguments).
    """
    if env_id.startswith("swm/"):
        from envs.swm import make_swm

        return make_swm(env_id, render_size=render_size, **kwargs)
    return gym.make(env_id, render_size=render_size, **kwargs)


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
    "make",
    "make_policy",
]
