"""stable-worldmodel's evaluation protocol: start and goal from held-out recorded episodes.

The protocol under which stable-worldmodel re-runs LeWM, PLDM and DINO-WM (its
``scripts/plan/eval_wm.py`` with ``config/eval/pusht.yaml``): from a held-out dataset, draw
``num`` start rows uniformly among those with ``goal_offset`` more steps in their episode (without
replacement, in dataset order); episode ``i`` starts at the recorded state of its row ``t``, its
goal is the recorded state at ``t + goal_offset`` (25), and the agent has a budget of 50 env
steps. The env is put in the start and given the goal with swm's ``_set_state`` and
``_set_goal_state`` (``SWM_CALLABLES``), success is the env's own ``terminated`` after an
executed step.

The dataset is one written by ``vworld collect`` (LeRobot v3.0 with ``observation.sim_state``,
which holds swm's state on ``swm/...`` envs); collect it with a seed that no training data
used, so that its episodes are held out. The same draw serves both harnesses:

- vworld's (``vworld plan goal_source=dataset goal_dataset=<path>``): ``dataset_goal`` resets
  episode ``i`` at its start with its goal; the goal image is the env rendered at the goal
  state (``goal_pixels``), the goal's proprioception the recorded one.
- swm's ``World.evaluate``: ``world_evaluate_kwargs`` gives its ``dataset`` (a
  :class:`RecordedDataset` view of the same folder), ``episodes_idx``, ``start_steps``,
  ``goal_offset``, ``eval_budget`` and ``callables`` (see ``vworld/eval/swm_policy.py``).

Any env with the goal-env interface works with ``dataset_goal`` (vworld's own too); the World
side needs an ``swm/...`` env.
"""

from __future__ import annotations

import copy
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vworld.data.episodes import RobotLog, RobotLogError
from vworld.data.logs import open_robot_log
from vworld.eval.mpc import goal_api

__all__ = [
    "SWM_CALLABLES",
    "ProtocolEpisode",
    "RecordedDataset",
    "dataset_goal",
    "protocol_episodes",
    "select_starts",
    "world_evaluate_kwargs",
]

SIM_STATE = "observation.sim_state"

#: swm's reset hooks for an episode from a dataset (its ``config/eval/pusht.yaml``): the env's
#: state and goal state from the dataset's ``state`` column at the start and goal rows.
SWM_CALLABLES: list[dict[str, Any]] = [
    {"method": "_set_state", "args": {"state": {"value": "state"}}},
    {"method": "_set_goal_state", "args": {"goal_state": {"value": "goal_state"}}},
]


def select_starts(
    lengths: list[int], num: int, goal_offset: int, seed: int
) -> list[tuple[int, int]]:
    """Draw ``num`` ``(episode, start)`` rows whose goal ``start + goal_offset`` is recorded.

    Uniform over all such rows of all episodes, without replacement, returned in dataset order
    (as swm's ``eval_wm.py`` draws them).

    Args:
        lengths: frames per episode.
        num: rows to draw.
        goal_offset: steps from a start to its goal.
        seed: seeds the draw.
    Raises:
        ValueError: fewer than ``num`` rows have a goal ``goal_offset`` steps later.
    """
    valid = [(e, t) for e, n in enumerate(lengths) for t in range(max(int(n) - goal_offset, 0))]
    if len(valid) < num:
        raise ValueError(
            f"{len(valid)} start rows have a goal {goal_offset} steps later "
            f"(episode lengths {min(lengths, default=0)}..{max(lengths, default=0)}), "
            f"{num} are needed"
        )
    idx = np.sort(np.random.default_rng(seed).choice(len(valid), size=num, replace=False))
    return [valid[i] for i in idx]


@dataclass(frozen=True)
class ProtocolEpisode:
    """One evaluation episode of the protocol.

    Attributes:
        episode: the dataset episode.
        start: the start row in that episode (the goal row is ``start + goal_offset``).
        start_state: the recorded sim state at the start.
        goal_state: the recorded sim state at the goal.
        goal_proprio: the recorded proprioception at the goal.
        actions: the recorded actions from the start to the goal ``(goal_offset, A)``: a
            sequence that reaches the goal (from the start state it was recorded in).
    """

    episode: int
    start: int
    start_state: np.ndarray
    goal_state: np.ndarray
    goal_proprio: np.ndarray
    actions: np.ndarray


def _open(path: str | os.PathLike, env_id: str | None) -> RobotLog:
    log = open_robot_log(path)
    if not log.sim_state_dim:
        raise RobotLogError(
            path, SIM_STATE, "missing: the protocol restores recorded states (vworld collect)"
        )
    from vworld.data.lerobot_read import LeRobotLog

    recorded = log.info.get("robot_type") if isinstance(log, LeRobotLog) else None  # HDF5: none
    if env_id is not None and recorded is not None and recorded != env_id:
        raise RobotLogError(path, "robot_type", f"recorded on {recorded!r}, not on {env_id!r}")
    return log


@functools.lru_cache(maxsize=8)
def _episodes(
    path: str, num: int, goal_offset: int, seed: int, env_id: str | None
) -> tuple[ProtocolEpisode, ...]:
    log = _open(path, env_id)
    try:
        try:
            rows = select_starts(log.episode_lengths, num, goal_offset, seed)
        except ValueError as e:
            raise RobotLogError(path, "length", str(e)) from None
        out = []
        cache: dict[int, Any] = {}
        for ep, t in rows:
            if ep not in cache:
                cache = {ep: log.load_episode(ep, frames=False)}  # rows come in episode order
            rec = cache[ep]
            g = t + goal_offset
            out.append(
                ProtocolEpisode(
                    ep,
                    t,
                    rec.sim_states[t].copy(),
                    rec.sim_states[g].copy(),
                    rec.states[g].copy(),
                    np.asarray(rec.actions[t:g], dtype=np.float32).copy(),
                )
            )
    finally:
        log.close()
    return tuple(out)


def protocol_episodes(
    path: str | os.PathLike,
    num: int,
    goal_offset: int = 25,
    seed: int = 0,
    env_id: str | None = None,
) -> list[ProtocolEpisode]:
    """The protocol's ``num`` episodes drawn from a recorded dataset (read once per argument set).

    Args:
        path: the held-out dataset folder written by ``vworld collect``.
        num: episodes to draw.
        goal_offset: steps from a start to its goal.
        seed: seeds the draw.
        env_id: when given, the dataset must have been recorded on this env.
    Raises:
        RobotLogError: no such dataset, no ``observation.sim_state``, another env, or too few
            rows with a goal ``goal_offset`` steps later.
    """
    resolved = str(Path(path).resolve())
    return list(_episodes(resolved, int(num), int(goal_offset), int(seed), env_id))


def dataset_goal(
    env: Any, index: int, cfg: Any
) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, np.ndarray], np.ndarray]:
    """Reset episode ``index`` of the protocol at its start, with its goal (``make_goal``'s job).

    Args:
        env: a goal env (``envs.make``): ``reset(seed, options={"state", "goal"})`` and
            ``goal_pixels`` on its goal-env layer.
        index: the episode, ``0 <= index < cfg.episodes``.
        cfg: the ``PlanConfig``: ``goal_dataset``, ``episodes``, ``goal_offset_steps``,
            ``seed`` and ``env`` are read.
    Returns:
        ``(obs, info, goal_obs, goal_state)`` as ``vworld.eval.harness.make_goal``.
    """
    if not cfg.goal_dataset:
        raise ValueError("PlanConfig.goal_dataset: required with goal_source=dataset")
    if not Path(cfg.goal_dataset).exists():
        raise ValueError(
            f"PlanConfig.goal_dataset: {cfg.goal_dataset}: no such dataset; collect a held-out "
            f"one with `vworld collect env={cfg.env} policy=... seed=<unused> out_dir=...`"
        )
    episodes = protocol_episodes(
        cfg.goal_dataset, cfg.episodes, cfg.goal_offset_steps, cfg.seed, cfg.env
    )
    ep = episodes[index]
    u = goal_api(env)
    dim = len(u.get_state())
    if len(ep.start_state) != dim:
        raise RobotLogError(
            cfg.goal_dataset, SIM_STATE, f"{len(ep.start_state)} dims, {cfg.env} has {dim}"
        )
    options = {"state": ep.start_state, "goal": ep.goal_state}
    obs, info = env.reset(seed=cfg.seed + index, options=options)
    goal_obs = {"pixels": u.goal_pixels(), "state": ep.goal_proprio.copy()}
    return obs, info, goal_obs, ep.goal_state.copy()


class RecordedDataset:
    """A dataset written by ``vworld collect``, as the ``dataset`` of swm's ``World.evaluate``.

    Columns as swm's own datasets name them: ``pixels`` (``(T, 3, H, W)`` uint8 tensor, the
    recorded frames), ``state`` (the sim state: swm's state on ``swm/...`` envs), ``proprio``
    and ``action``. ``World.evaluate`` turns the goal row's into ``goal``, ``goal_state``...

    Args:
        path: the dataset folder.
    """

    column_names = ("pixels", "state", "proprio", "action")

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.log = _open(path, None)

    def load_chunk(self, episodes_idx: Any, start: Any, end: Any) -> list[dict[str, Any]]:
        """Rows ``start[k]:end[k]`` of episode ``episodes_idx[k]``, for every ``k``."""
        import torch

        out = []
        for e, s, t in zip(episodes_idx, start, end):
            ep = self.log.load_episode(int(e))
            s, t = int(s), int(t)
            if not 0 <= s < t <= len(ep):
                raise RobotLogError(
                    self.path, "length", f"rows {s}:{t} outside the episode's {len(ep)}", int(e)
                )
            out.append(
                {
                    "pixels": torch.from_numpy(ep.frames[s:t]).permute(0, 3, 1, 2),  # (T, 3, H, W)
                    "state": ep.sim_states[s:t],
                    "proprio": ep.states[s:t],
                    "action": ep.actions[s:t],
                }
            )
        return out


def world_evaluate_kwargs(
    path: str | os.PathLike,
    num: int,
    goal_offset: int = 25,
    eval_budget: int = 50,
    seed: int = 0,
    env_id: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments of swm's ``World.evaluate`` for the protocol's episodes.

    The world must have ``num_envs == num``; episode ``i`` runs in env ``i``.

    Args:
        path: the held-out dataset folder.
        num: episodes (as :func:`protocol_episodes`).
        goal_offset: steps from a start to its goal.
        eval_budget: env steps per episode.
        seed: seeds the draw.
        env_id: when given, the dataset must have been recorded on this env.
    """
    episodes = protocol_episodes(path, num, goal_offset, seed, env_id)
    return {
        "dataset": RecordedDataset(path),
        "episodes_idx": [e.episode for e in episodes],
        "start_steps": [e.start for e in episodes],
        "goal_offset": int(goal_offset),
        "eval_budget": int(eval_budget),
        "callables": copy.deepcopy(SWM_CALLABLES),
    }
