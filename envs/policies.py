"""Behaviour policies for collecting exploration data in the goal-reaching envs.

Offline world-model data (PLDM, Sobal et al., 2025; DINO-WM, Zhou et al., 2024) is collected
with random or weakly goal-directed behaviour. Four kinds, sharing one interface:

- ``RandomPolicy``: white noise, uniform in [-1, 1].
- ``SmoothPolicy``: temporally correlated noise (an AR(1) / discretised Ornstein-Uhlenbeck
  process); it wanders much farther than white noise, which mostly cancels out.
- ``ScriptedPolicy``: noisy goal-directed control toward randomly drawn sub-goals: PD control of
  the joints (Reach), PD toward waypoints through the door (PointMaze), move behind the block and
  push it toward the goal (Push).
- ``SmoothNearPolicy``: the same correlated noise under the swm task's exploration constraint
  (PushT: ``WeakPolicy``'s square around the block), so that it makes coherent pushes where
  ``WeakPolicy``'s white noise only jitters, and stays near the object instead of wandering off.
- ``SwmExpertPolicy``: stable-worldmodel's own expert of an ``swm/...`` task (``envs/swm_expert.py``),
  with swm's data-collection settings by default.

Interface: ``policy.reset(rng, env)`` at the start of an episode (``rng`` is a
``np.random.Generator``; ``env`` may be wrapped, the policy reads ``env.unwrapped``), then
``policy(obs, env) -> action`` (float32, shape ``env.action_space.shape``, in [-1, 1]).
``make_policy(name, env, **kw)`` builds one by name: ``"random"``, ``"smooth"``, ``"scripted"``,
``"smooth-near"`` and ``"expert"`` (swm tasks only).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from envs.base import GoalEnv, wrap_angle
from envs.pointmaze import PointMazeEnv
from envs.push import BLOCK_HALF, PUSHER_RADIUS, PushEnv
from envs.reach import ReachEnv


def _dim(env: gym.Env) -> int:
    return int(np.prod(env.action_space.shape))


def _clip(a: np.ndarray) -> np.ndarray:
    return np.clip(a, -1.0, 1.0).astype(np.float32)


class Policy:
    """Base class: ``reset(rng, env)`` then ``__call__(obs, env) -> action``."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def reset(self, rng: np.random.Generator, env: gym.Env) -> None:
        """Start an episode; all randomness of the policy comes from ``rng``."""
        self.rng = rng

    def __call__(self, obs: Any, env: gym.Env) -> np.ndarray:
        raise NotImplementedError


class RandomPolicy(Policy):
    """Uniform white noise in [-1, 1]."""

    def __call__(self, obs: Any, env: gym.Env) -> np.ndarray:
        return _clip(self.rng.uniform(-1.0, 1.0, size=_dim(env)))


class SmoothPolicy(Policy):
    """Temporally correlated noise: ``a_t = beta a_{t-1} + sqrt(1 - beta^2) sigma eps_t``.

    The stationary standard deviation is ``sigma`` and the correlation time about
    ``1 / (1 - beta)`` steps; actions are clipped to [-1, 1].

    Args:
        beta: correlation between consecutive actions, in [0, 1).
        sigma: stationary standard deviation of the (unclipped) process.
    """

    def __init__(self, beta: float = 0.9, sigma: float = 0.7) -> None:
        super().__init__()
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"SmoothPolicy beta must be in [0, 1), got {beta}")
        if sigma <= 0.0:
            raise ValueError(f"SmoothPolicy sigma must be > 0, got {sigma}")
        self.beta = float(beta)
        self.sigma = float(sigma)
        self._a = np.zeros(0)

    def reset(self, rng: np.random.Generator, env: gym.Env) -> None:
        super().reset(rng, env)
        self._a = rng.normal(0.0, self.sigma, size=_dim(env))

    def __call__(self, obs: Any, env: gym.Env) -> np.ndarray:
        eps = self.rng.normal(0.0, 1.0, size=self._a.shape)
        self._a = self.beta * self._a + np.sqrt(1.0 - self.beta**2) * self.sigma * eps
        return _clip(self._a)


class SmoothNearPolicy(SmoothPolicy):
    """``SmoothPolicy``'s noise under an swm task's exploration constraint (``keep_near``).

    The constrained action is also the process's state, so the noise turns back at the
    constraint instead of pressing against it. PushT's ``WeakPolicy`` draws each step's action
    afresh (consecutive actions uncorrelated), so its data hold no push longer than a step;
    a planner's action sequences are coherent, and a model trained on white noise alone is
    asked about moves it never saw.

    Args:
        beta: correlation between consecutive actions, in [0, 1).
        sigma: stationary standard deviation of the (unconstrained) process.
    """

    def __init__(self, beta: float = 0.8, sigma: float = 0.6) -> None:
        super().__init__(beta=beta, sigma=sigma)

    def reset(self, rng: np.random.Generator, env: gym.Env) -> None:
        super().reset(rng, env)
        self._a = env.unwrapped.keep_near(_clip(self._a)).astype(np.float64)

    def __call__(self, obs: Any, env: gym.Env) -> np.ndarray:
        a = env.unwrapped.keep_near(super().__call__(obs, env))
        self._a = a.astype(np.float64)
        return _clip(a)


class ScriptedPolicy(Policy):
    """Noisy goal-directed control toward sub-goals drawn with ``env.sample_goal_state``.

    Args:
        noise: standard deviation of the Gaussian noise added to each action.
        use_env_goal: steer toward the env's own goal instead of random sub-goals.
        resample_on_reach: draw a new sub-goal once the current one is reached (random
            sub-goals only), so that long episodes keep moving.
        max_steps_per_goal: draw a new sub-goal after this many steps (random sub-goals only).
    """

    def __init__(
        self,
        noise: float = 0.1,
        use_env_goal: bool = False,
        resample_on_reach: bool = True,
        max_steps_per_goal: int = 100,
    ) -> None:
        super().__init__()
        self.noise = float(noise)
        self.use_env_goal = bool(use_env_goal)
        self.resample_on_reach = bool(resample_on_reach)
        self.max_steps_per_goal = int(max_steps_per_goal)
        self.goal = np.zeros(0)
        self._steps = 0
        self._turning = False

    def reset(self, rng: np.random.Generator, env: gym.Env) -> None:
        super().reset(rng, env)
        self._new_goal(env.unwrapped)

    def _new_goal(self, base: GoalEnv) -> None:
        state = base.goal_state if self.use_env_goal else base.sample_goal_state(self.rng)
        self.goal = base.task_config(state)
        self._steps = 0
        self._turning = False

    def __call__(self, obs: Any, env: gym.Env) -> np.ndarray:
        base = env.unwrapped
        if self.use_env_goal:
            self.goal = base.task_config(base.goal_state)
        elif self._steps >= self.max_steps_per_goal or (
            self.resample_on_reach and self._reached(base)
        ):
            self._new_goal(base)
        self._steps += 1
        a = self._control(base)
        return _clip(a + self.rng.normal(0.0, self.noise, size=a.shape))

    def _reached(self, base: GoalEnv) -> bool:
        dists = base._distances(base.task_config(), self.goal)
        return bool(base._is_success(dists))

    def _control(self, base: GoalEnv) -> np.ndarray:
        if isinstance(base, ReachEnv):
            return self._reach(base)
        if isinstance(base, PointMazeEnv):
            return self._maze(base)
        if isinstance(base, PushEnv):
            return self._push(base)
        raise TypeError(
            f"ScriptedPolicy has no controller for {type(base).__name__}; "
            "expected ReachEnv, PointMazeEnv or PushEnv"
        )

    # Reach: joint-space PD on the wrapped angle error.
    def _reach(self, base: ReachEnv) -> np.ndarray:
        err = wrap_angle(self.goal - base.task_config())
        return 3.0 * err - 0.4 * base.data.qvel

    # PointMaze: PD toward the goal, through two waypoints at the door when rooms differ.
    def _maze(self, base: PointMazeEnv) -> np.ndarray:
        pos, vel = base.data.qpos.copy(), base.data.qvel.copy()
        target = self.goal
        here, there = PointMazeEnv.room_of(pos), PointMazeEnv.room_of(self.goal)
        if here != there:
            side = 1.0 if here == 1 else -1.0
            near_door = np.array([0.2 * side, 0.0])
            # Go to the door's near side, then straight through once lined up with it.
            aligned = abs(pos[1]) < 0.08 and abs(pos[0]) < 0.25
            target = np.array([-0.2 * side, 0.0]) if aligned else near_door
        return 4.0 * (target - pos) - 1.0 * vel

    # Push: get behind the block (seen from the goal) and push it toward the goal position; once
    # there, turn it by pushing sideways on one end.
    def _push(self, base: PushEnv) -> np.ndarray:
        p, pv = base.data.qpos[:2].copy(), base.data.qvel[:2].copy()
        pose = base.task_config()
        block = pose[:2]
        yaw_err = float(wrap_angle(self.goal[2] - pose[2]))
        # Hysteresis: start turning once in place, keep turning while the block stays near.
        pos_err = np.linalg.norm(self.goal[:2] - block)
        limit = (2.0 if self._turning else 0.7) * base.position_threshold
        self._turning = bool(pos_err < limit and abs(yaw_err) > 0.5 * base.angle_threshold)
        if pos_err < 0.7 * base.position_threshold and abs(yaw_err) < 0.5 * base.angle_threshold:
            return -1.0 * pv  # there: stop
        if self._turning:
            target = self._push_turn(p, pose, yaw_err)
            return 8.0 * (target - p) - 1.0 * pv
        to_goal = self.goal[:2] - block
        dist = np.linalg.norm(to_goal)
        d = to_goal / dist if dist > 1e-6 else np.array([1.0, 0.0])
        standoff = max(BLOCK_HALF) + PUSHER_RADIUS + 0.02
        behind = block - d * standoff
        rel = p - block
        perp = np.array([-d[1], d[0]])
        along, lateral = float(np.dot(rel, d)), float(np.dot(rel, perp))
        if along > -0.5 * standoff:
            # On the wrong side: go around, via a point beside and slightly behind the block.
            side = 1.0 if lateral >= 0.0 else -1.0
            target = block + side * perp * (standoff + 0.03) - d * 1.2 * standoff
        elif abs(lateral) > 0.02:
            target = behind
        else:
            target = block + d * min(dist, 0.1)
        return 8.0 * (target - p) - 1.0 * pv

    @staticmethod
    def _push_turn(p: np.ndarray, pose: np.ndarray, yaw_err: float) -> np.ndarray:
        """Target that turns the block: push sideways on its +x end (its torque turns it)."""
        c, s = np.cos(pose[2]), np.sin(pose[2])
        rot = np.array([[c, -s], [s, c]])  # block frame -> world
        local = rot.T @ (p - pose[:2])
        side = -np.sign(yaw_err)  # counter-clockwise: push the +x end from below (-y)
        clear = BLOCK_HALF[1] + PUSHER_RADIUS + 0.015
        end_x = BLOCK_HALF[0] - 0.015
        if local[1] * side > clear - 0.01 and 0.0 < local[0] < BLOCK_HALF[0] + 0.01:
            goal_local = np.array([end_x, -side * 0.1])  # engaged: sweep across the end
        elif local[1] * side > clear - 0.01 or local[0] > BLOCK_HALF[0] + PUSHER_RADIUS:
            goal_local = np.array([end_x, side * clear])  # approach beside the end
        else:
            # Round the end first, to a point in line with the approach (no back and forth).
            goal_local = np.array([BLOCK_HALF[0] + PUSHER_RADIUS + 0.04, side * clear])
        return pose[:2] + rot @ goal_local


class SwmExpertPolicy(Policy):
    """stable-worldmodel's expert policy of an ``swm/...`` task (see ``envs.swm_expert.SwmExpert``).

    TwoRoom's heads for the door, then the goal (by default with the action noise 3.0 that swm
    records its TwoRoom dataset with); PushT's (``WeakPolicy``) moves at random near the block.
    It steers toward the env's own goal.

    Args:
        noise: the expert's action noise; swm's data-collection setting when None.
    """

    def __init__(self, noise: float | None = None) -> None:
        super().__init__()
        self.noise = noise
        self._expert: Any = None

    def reset(self, rng: np.random.Generator, env: gym.Env) -> None:
        super().reset(rng, env)
        from envs.swm import SwmGoalEnv
        from envs.swm_expert import SwmExpert

        base = env.unwrapped
        if not isinstance(base, SwmGoalEnv):
            raise TypeError(f"policy: expert needs an swm/... env, got {type(base).__name__}")
        self._expert = SwmExpert(base, seed=int(rng.integers(2**31 - 1)), noise=self.noise)

    def __call__(self, obs: Any, env: gym.Env) -> np.ndarray:
        if self._expert is None:
            raise RuntimeError("SwmExpertPolicy.reset(rng, env) was not called")
        return _clip(self._expert.act())


def make_policy(name: str, env: gym.Env, **kw: Any) -> Policy:
    """Build a policy by name (``"random"``, ``"smooth"``, ``"scripted"``, ``"smooth-near"`` or
    ``"expert"``; the last two for swm tasks only).

    Args:
        name: which policy.
        env: the env it will act in (checked for a 2-D [-1, 1] Box action space).
        **kw: constructor arguments of that policy (e.g. ``beta``, ``noise``).
    """
    space = env.action_space
    if not isinstance(space, gym.spaces.Box) or not (
        np.all(space.low == -1.0) and np.all(space.high == 1.0)
    ):
        raise ValueError(f"make_policy expects a Box[-1, 1] action space, got {space}")
    kinds = {
        "random": RandomPolicy,
        "smooth": SmoothPolicy,
        "scripted": ScriptedPolicy,
        "smooth-near": SmoothNearPolicy,
        "expert": SwmExpertPolicy,
    }
    if name not in kinds:
        raise ValueError(f"unknown policy {name!r}; expected one of {sorted(kinds)}")
    if name in ("expert", "smooth-near"):
        from envs.swm import SwmGoalEnv

        if not isinstance(env.unwrapped, SwmGoalEnv):
            raise ValueError(
                f"policy: {name} is for stable-worldmodel's swm/... envs; "
                f"got {type(env.unwrapped).__name__}"
            )
        if name == "smooth-near":
            env.unwrapped.keep_near(np.zeros(_dim(env)))  # the task has a constraint
    return kinds[name](**kw)
