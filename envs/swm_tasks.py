"""How vworld reads each stable-worldmodel env family: one :class:`SwmTask` per env class.

``envs.swm.SwmGoalEnv`` is the one wrapper; what differs between swm's envs (the sim state,
the goal, the goal image, the env's own success test and distance) is a :class:`SwmTask` here,
matched by the class name of the unwrapped env.

- ``TwoRoomEnv`` and ``PushT``: swm's ``_set_state``/``_set_goal_state``; see ``envs.swm``.
- ``ReacherDMControlWrapper`` (``swm/ReacherDMControl-v0``, the ``swm-dmc`` extra: dm_control
  with MuJoCo 3.x): swm's ``qpos_match`` task, made with ``task="qpos_match"`` by
  ``envs.swm.make_swm``: the goal is a pose, success is the env's own termination (both joints
  within 0.05 rad of the goal's, ``ReacherQPosMatchTask``). The sim state is ``qpos, qvel``
  (4; what swm's ``reset(options={"state": ...})`` takes), the proprioception is the same 4
  numbers. The goal image is a private copy of the env put at the goal pose with swm's
  ``set_state`` and rendered (the target geom is not drawn, as in swm's renders).
- ``CubeEnv`` (``swm/OGBCube-v0``, ``env_type="single"``; OGBench's cube, which needs
  ``ogbench`` and dm_control, so the ``swm-dmc`` extra): a UR5e arm with a Robotiq gripper and
  one cube; actions are OGBench's 5-d end-effector deltas (x, y, z, yaw, gripper). The sim
  state is ``qpos, qvel`` (21 + 20: 14 arm and gripper joints, the cube's free joint), set with
  the env's ``set_state`` then its ``pre_step``/``post_step``, as swm's
  ``reset(options={"state": ...})`` does; the proprioception is the 6 arm joints and the
  gripper's driver joint. The goal is a sim state: its cube pose becomes the env's target (swm's
  ``set_target_pos(0, ...)``, the call swm's cube evaluation makes) and the goal image is a
  private copy put in that state and rendered. Success is the env's own termination: the cube
  within 4 cm of the target (``CubeEnv._compute_successes``). The env is made in OGBench's
  ``data_collection`` mode, which swm's expert needs; with one cube its success test is the
  ``task`` mode's. Collection makes it with ``terminate_at_goal=False`` (``COLLECT_KWARGS``), as
  OGBench records its datasets, so the expert goes on to its next target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["COLLECT_KWARGS", "ENV_KWARGS", "TASKS", "SwmTask", "task_for"]


def _two_room_state(base: Any) -> np.ndarray:
    return base.agent_position.detach().cpu().numpy().astype(np.float64)


def _two_room_goal(base: Any) -> np.ndarray:
    return base.target_position.detach().cpu().numpy().astype(np.float64)


def _two_room_goal_frame(base: Any, goal: np.ndarray, scratch: Callable[[], Any]) -> np.ndarray:
    if not np.array_equal(_two_room_goal(base), goal):
        base._set_goal_state(goal)
    return base._target_img.cpu().numpy().transpose(1, 2, 0)  # (3, H, W) -> (H, W, 3)


def _two_room_success(base: Any, state: np.ndarray, goal: np.ndarray) -> bool:
    return bool(np.linalg.norm(state[:2] - goal[:2]) < 16.0)  # TwoRoomEnv.step's test


def _push_t_state(base: Any) -> np.ndarray:
    return np.asarray(base._get_obs(), dtype=np.float64)


def _push_t_goal(base: Any) -> np.ndarray:
    return np.asarray(base.goal_state, dtype=np.float64)


def _push_t_goal_frame(base: Any, goal: np.ndarray, scratch: Callable[[], Any]) -> np.ndarray:
    _, info = scratch().reset(options={"state": goal.copy(), "goal_state": goal.copy()})
    return np.asarray(info["goal"])


# PushT.eval_state's success test: agent and block within 20 px (one 4-d norm), angle within pi/9
_PUSH_T_POS_PX = 20.0
_PUSH_T_ANGLE = np.pi / 9


def _push_t_distance(base: Any, state: np.ndarray, goal: np.ndarray) -> float:
    """The larger of the two errors that ``eval_state``'s success tests, the angle's in pixels
    at the success test's ratio (20 px per pi/9): below 20 exactly when it succeeds. (swm's own
    ``eval_state`` distance is the 7-d state norm, the agent's velocity included, which no
    goal image shows.)"""
    pos = float(np.linalg.norm(goal[:4] - state[:4]))
    angle = abs(float(goal[4] - state[4])) % (2 * np.pi)
    angle = min(angle, 2 * np.pi - angle)
    return max(pos, angle * _PUSH_T_POS_PX / _PUSH_T_ANGLE)


# WeakPolicy's dist_constraint: the agent's target stays within this many px of the block per axis
_PUSH_T_NEAR_PX = 100.0


def _push_t_near(base: Any, action: np.ndarray) -> np.ndarray:
    """WeakPolicy's constraint on an action (relative, in [-1, 1]): the agent's target
    (``position + action * action_scale``) clipped into the square of +-100 px around the
    block, so that exploration stays where it can push the T (and inside the arena)."""
    agent = np.array(tuple(base.agent.position), dtype=np.float64)
    block = np.array(tuple(base.block.position), dtype=np.float64)
    target = np.clip(
        agent + np.asarray(action, dtype=np.float64) * base.action_scale,
        block - _PUSH_T_NEAR_PX,
        block + _PUSH_T_NEAR_PX,
    )
    return np.clip((target - agent) / base.action_scale, -1.0, 1.0)


def _reacher_state(base: Any) -> np.ndarray:
    data = base.env.physics.data
    return np.concatenate([data.qpos, data.qvel]).astype(np.float64)


def _reacher_set_state(base: Any, state: np.ndarray) -> None:
    nq = base.env.physics.model.nq
    base.set_state(state[:nq].copy(), state[nq:].copy())


def _reacher_goal(base: Any) -> np.ndarray:
    """The goal pose (zero velocity); before any goal is set, the pose now (as reset drew it)."""
    target = base.env.task.target_qpos
    qpos = base.env.physics.data.qpos if target is None else target
    return np.concatenate([qpos, np.zeros_like(qpos)]).astype(np.float64)


def _reacher_set_goal(base: Any, goal: np.ndarray) -> None:
    base.set_target_qpos(goal[: base.env.physics.model.nq].copy())


def _reacher_goal_frame(base: Any, goal: np.ndarray, scratch: Callable[[], Any]) -> np.ndarray:
    env = scratch()
    env.reset(seed=0)  # applies swm's render variations (the target geom not drawn)
    _reacher_set_state(env, np.concatenate([goal[:2], np.zeros(2)]))
    return np.asarray(env.render())


def _reacher_distance(base: Any, state: np.ndarray, goal: np.ndarray) -> float:
    """The largest joint error in rad (the qpos_match test compares each joint, unwrapped)."""
    return float(np.abs(state[:2] - goal[:2]).max())


# OGBench's cube: qpos is 14 arm and gripper joints, then the cube's free joint (7); qvel 14 + 6
_CUBE_NQ, _CUBE_NV = 21, 20
_CUBE_POS = slice(14, 17)  # the cube's position in qpos (its quaternion is 17:21)
_CUBE_PROPRIO = slice(0, 7)  # 6 arm joints, the gripper's driver joint
_CUBE_SUCCESS_M = 0.04  # CubeEnv._compute_successes: the cube within 4 cm of the target


def _cube_state(base: Any) -> np.ndarray:
    data = base._data
    return np.concatenate([data.qpos, data.qvel]).astype(np.float64)


def _cube_set_state(base: Any, state: np.ndarray) -> None:
    """swm's ``reset(options={"state": ...})``: ``set_state``, then ``pre_step``/``post_step``."""
    base.set_state(state[:_CUBE_NQ].copy(), state[_CUBE_NQ:].copy())
    base.pre_step()
    base.post_step()


def _cube_target(base: Any) -> np.ndarray:
    """The target's pose, position then quaternion (7), as the mocap body holds it."""
    mocap = base._cube_target_mocap_ids[0]
    return np.concatenate([base._data.mocap_pos[mocap], base._data.mocap_quat[mocap]])


def _cube_goal(base: Any) -> np.ndarray:
    """The goal sim state that ``set_goal`` was given while the target is still its cube pose;
    otherwise (reset's target, or the expert's next one) the state now with the cube moved to
    the target, at rest."""
    goal = getattr(base, "_vworld_goal", None)
    target = _cube_target(base)
    if goal is not None and np.allclose(goal[14:_CUBE_NQ], target):
        return goal.copy()
    state = _cube_state(base)
    state[14:_CUBE_NQ] = target
    state[_CUBE_NQ:] = 0.0
    return state


def _cube_set_goal(base: Any, goal: np.ndarray) -> None:
    base.set_target_pos(0, goal[_CUBE_POS].copy(), goal[17:_CUBE_NQ].copy())
    base._vworld_goal = goal.copy()
    base.post_step()  # the env's success flag, for the new target


# OGBench renders with 4x multisampling and a 4096-px shadow map: on a CPU's software OpenGL a
# step and its frame cost 0.18 s (one process alone on 2 cores). Without multisampling and with
# a 1024-px map they cost 0.11 s, and the 224-px frame differs by 2.5 of 255 on average (edges
# and the shadow's border; the same scene, lights and camera).
_CUBE_OFFSAMPLES, _CUBE_SHADOWSIZE = 0, 1024


def _cube_render(base: Any) -> np.ndarray:
    """The env's own ``render`` at vworld's render quality, set again after each recompile
    (a new model; OGBench then makes a new renderer, which reads it)."""
    quality = base._model.vis.quality
    if (quality.offsamples, quality.shadowsize) != (_CUBE_OFFSAMPLES, _CUBE_SHADOWSIZE):
        quality.offsamples, quality.shadowsize = _CUBE_OFFSAMPLES, _CUBE_SHADOWSIZE
        if base._renderer is not None:  # made for the old settings
            base._renderer.close()
            base._renderer = None  # ``render`` makes one
    return np.asarray(base.render())


def _cube_goal_frame(base: Any, goal: np.ndarray, scratch: Callable[[], Any]) -> np.ndarray:
    env = scratch()
    env.reset(seed=0)
    _cube_set_state(env, goal)
    return _cube_render(env)


def _cube_distance(base: Any, state: np.ndarray, goal: np.ndarray) -> float:
    """The cube's distance to the goal's cube position, in metres (success below 0.04)."""
    return float(np.linalg.norm(state[_CUBE_POS] - goal[_CUBE_POS]))


def _cube_expert_info(base: Any, step: int) -> dict[str, Any]:
    """What swm's ``World`` gives OGBench's expert: the env's ``compute_ob_info`` (privileged
    cube and target poses included) and ``step_idx``, each as a (1 env, 1 frame) batch."""
    info = {**base.compute_ob_info(), "step_idx": step}
    return {k: np.asarray(v)[None, None] for k, v in info.items()}


@dataclass(frozen=True)
class SwmTask:
    """How to read one swm env family (matched by the class name of the unwrapped env).

    Args:
        env_class: class name of the swm env (``type(env.unwrapped).__name__``).
        sim_state_dim: length of the sim state.
        state_dim: length of the proprioception.
        state: ``base -> sim state`` (float64; what ``_set_state`` takes).
        goal: ``base -> goal`` sim state (what ``_set_goal_state`` was given).
        proprio: ``sim state -> proprioception`` (swm's ``proprio``).
        goal_frame: ``(base, goal, scratch) -> (224, 224, 3)`` rendering at the goal state;
            ``scratch()`` returns a private unwrapped copy of the env, made on first use.
        success: ``(base, state, goal) -> bool``, the env's own termination test.
        distance: ``(base, state, goal) -> float``, the distance to the goal that the success
            test measures (for planning reports and diagnostics).
        success_threshold: the distance below which ``success`` holds, where one does.
        expert: ``"module:Class"`` of swm's expert policy for this env.
        expert_kwargs: its constructor arguments by default (swm's data-collection settings).
        expert_noise_arg: the constructor argument that ``noise`` sets (None: no noise).
        set_state: ``(base, sim state) -> None`` (default: swm's ``_set_state``).
        set_goal: ``(base, goal) -> None`` (default: swm's ``_set_goal_state``).
        expert_info: ``(base, step) -> info`` that the expert's ``get_action`` reads, where it
            needs more than ``state``, ``goal_state`` and ``proprio`` (OGBench's oracles).
        seeded_variations: variations that ``reset``'s seed draws, with the env's
            ``np_random`` (swm's OGBench envs draw the start and the target from a variation
            space they reseed at random, and pass the seed on to nothing).
        render: ``base -> (224, 224, 3)`` frame of the current state (default: the env's own
            ``render``).
        near: ``(base, action) -> action``, the task's constraint that keeps exploration near
            what the robot acts on (``policy=smooth-near``; PushT: ``WeakPolicy``'s square around
            the block); None where the task has none. Actions are in the env's own box.
    """

    env_class: str
    sim_state_dim: int
    state_dim: int
    state: Callable[[Any], np.ndarray]
    goal: Callable[[Any], np.ndarray]
    proprio: Callable[[np.ndarray], np.ndarray]
    goal_frame: Callable[[Any, np.ndarray, Callable[[], Any]], np.ndarray]
    success: Callable[[Any, np.ndarray, np.ndarray], bool]
    distance: Callable[[Any, np.ndarray, np.ndarray], float]
    success_threshold: float | None = None
    expert: str = ""
    expert_kwargs: dict[str, Any] = field(default_factory=dict)
    expert_noise_arg: str | None = None
    set_state: Callable[[Any, np.ndarray], None] = lambda base, s: base._set_state(s)
    set_goal: Callable[[Any, np.ndarray], None] = lambda base, g: base._set_goal_state(g)
    expert_info: Callable[[Any, int], dict[str, Any]] | None = None
    seeded_variations: tuple[str, ...] = ()
    render: Callable[[Any], np.ndarray] = lambda base: np.asarray(base.render())
    near: Callable[[Any, np.ndarray], np.ndarray] | None = None


TASKS: dict[str, SwmTask] = {
    "TwoRoomEnv": SwmTask(
        env_class="TwoRoomEnv",
        sim_state_dim=2,
        state_dim=2,
        state=_two_room_state,
        goal=_two_room_goal,
        proprio=lambda s: s[:2],
        goal_frame=_two_room_goal_frame,
        success=_two_room_success,
        distance=lambda base, s, g: float(np.linalg.norm(s[:2] - g[:2])),
        success_threshold=16.0,
        expert="stable_worldmodel.envs.two_room.expert_policy:ExpertPolicy",
        # swm's scripts/data/collect_tworooms.py records its TwoRoom dataset with this noise.
        expert_kwargs={"action_noise": 3.0},
        expert_noise_arg="action_noise",
    ),
    "PushT": SwmTask(
        env_class="PushT",
        sim_state_dim=7,
        state_dim=4,
        state=_push_t_state,
        goal=_push_t_goal,
        proprio=lambda s: np.concatenate([s[:2], s[-2:]]),
        goal_frame=_push_t_goal_frame,
        success=lambda base, s, g: bool(base.eval_state(g, s)[0]),
        distance=_push_t_distance,
        success_threshold=_PUSH_T_POS_PX,
        # WeakPolicy: random moves near the block, blind to the goal (swm's collection policy).
        expert="stable_worldmodel.envs.pusht.expert_policy:WeakPolicy",
        near=_push_t_near,
    ),
    "ReacherDMControlWrapper": SwmTask(
        env_class="ReacherDMControlWrapper",
        sim_state_dim=4,
        state_dim=4,
        state=_reacher_state,
        goal=_reacher_goal,
        proprio=lambda s: s,
        goal_frame=_reacher_goal_frame,
        # ReacherQPosMatchTask.get_termination: every joint within its qpos_threshold
        success=lambda base, s, g: bool(
            np.all(np.abs(s[:2] - g[:2]) < base.env.task.qpos_threshold)
        ),
        distance=_reacher_distance,
        success_threshold=0.05,
        set_state=_reacher_set_state,
        set_goal=_reacher_set_goal,
    ),
    "CubeEnv": SwmTask(
        env_class="CubeEnv",
        sim_state_dim=_CUBE_NQ + _CUBE_NV,
        state_dim=7,
        state=_cube_state,
        goal=_cube_goal,
        proprio=lambda s: s[_CUBE_PROPRIO],
        goal_frame=_cube_goal_frame,
        success=lambda base, s, g: _cube_distance(base, s, g) <= _CUBE_SUCCESS_M,
        distance=_cube_distance,
        success_threshold=_CUBE_SUCCESS_M,
        # swm's collection policy for OGBench: the Markov oracle (pick the cube, place it at the
        # target, move away, then the next target), Gaussian noise up to action_noise
        expert="stable_worldmodel.envs.ogbench.expert_policy:ExpertPolicy",
        expert_noise_arg="action_noise",
        set_state=_cube_set_state,
        set_goal=_cube_set_goal,
        expert_info=_cube_expert_info,
        render=_cube_render,
        # swm's cube_env.DEFAULT_VARIATIONS: the cube's start and target positions and yaws
        seeded_variations=(
            "cube.start_position",
            "cube.start_yaw",
            "cube.goal_position",
            "cube.goal_yaw",
        ),
    ),
}


def task_for(base: Any) -> SwmTask:
    """The :class:`SwmTask` of an unwrapped swm env."""
    name = type(base).__name__
    if name not in TASKS:
        raise ValueError(f"env: no SwmTask for the swm env class {name!r} (known: {sorted(TASKS)})")
    return TASKS[name]


# gymnasium.make arguments that vworld's protocol needs from an swm id (the env's own success)
ENV_KWARGS: dict[str, dict[str, Any]] = {
    "swm/ReacherDMControl-v0": {"task": "qpos_match"},
    # swm's cube evaluation: one cube, no target drawn, the episode ends at the goal
    "swm/OGBCube-v0": {
        "env_type": "single",
        "mode": "data_collection",
        "visualize_info": False,
        "terminate_at_goal": True,
    },
}

# gymnasium.make arguments for collection only, over ENV_KWARGS (OGBench records its datasets
# with terminate_at_goal=False: the expert places the cube, then goes on to a new target)
COLLECT_KWARGS: dict[str, dict[str, Any]] = {"swm/OGBCube-v0": {"terminate_at_goal": False}}
