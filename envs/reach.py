"""Reach: a planar two-link arm must take a goal configuration (DeepMind Control reacher).

The arm follows the proportions of the DeepMind Control Suite ``reacher`` (Tassa et al., 2018):
links of 0.12 m and 0.1 m in a 0.3 m arena, torque motors with gear 0.05 and damped hinges.
Unlike the suite's task (touch a target point), the goal is a whole arm configuration, given as
an image, as in the goal-image planning of V-JEPA 2-AC (Assran et al., 2025) and DINO-WM.

- state (proprioception, float32): ``[q1, q2, qd1, qd2]`` with ``q1`` (shoulder, unlimited)
  wrapped to [-pi, pi) and ``q2`` (wrist, limited to +-2.8 rad) as is.
- goal configuration (``goal_dim = 2``): the joint angles ``[q1, q2]``.
- action: 2 torques in [-1, 1], times the gear 0.05 N m.
- success: every joint within ``success_threshold`` (0.05 rad) of the goal, angles wrapped to
  [-pi, pi) for the comparison; ``info["distance"]`` is that largest wrapped joint error.
"""

from __future__ import annotations

import numpy as np

from envs.base import GoalEnv, wrap_angle

WRIST_LIMIT = 2.8


class ReachEnv(GoalEnv):
    """Planar two-link arm reaching a goal joint configuration.

    Args:
        render_size: height and width of the frames in pixels.
        frame_skip: physics steps (0.01 s each) per env step.
        success_threshold: largest joint error (rad) that counts as success.
        goal_wrist_range: goals and starts draw the wrist angle from +-this range (rad).
        render_mode: ``"rgb_array"`` or None.
    """

    xml_name = "reach.xml"
    goal_dim = 2

    def __init__(
        self,
        render_size: int = 64,
        frame_skip: int = 5,
        success_threshold: float = 0.05,
        goal_wrist_range: float = 2.5,
        render_mode: str | None = "rgb_array",
    ) -> None:
        if not 0.0 < goal_wrist_range <= WRIST_LIMIT:
            raise ValueError(
                f"goal_wrist_range must be in (0, {WRIST_LIMIT}], got {goal_wrist_range}"
            )
        self.success_threshold = float(success_threshold)
        self.goal_wrist_range = float(goal_wrist_range)
        super().__init__(render_size=render_size, frame_skip=frame_skip, render_mode=render_mode)

    def _proprio(self, data) -> np.ndarray:
        q = data.qpos.copy()
        q[0] = wrap_angle(q[0])
        return np.concatenate([q, data.qvel])

    def task_config(self, state: np.ndarray | None = None) -> np.ndarray:
        q = self.data.qpos.copy() if state is None else self.split_state(state)["qpos"].copy()
        q[0] = wrap_angle(q[0])
        return q

    def config_to_state(self, config: np.ndarray) -> np.ndarray:
        config = np.asarray(config, dtype=np.float64)
        state = np.zeros(self.sim_state_dim)
        state[0] = wrap_angle(config[0])
        state[1] = np.clip(config[1], -WRIST_LIMIT, WRIST_LIMIT)
        return state

    def _distances(self, cfg: np.ndarray, goal_cfg: np.ndarray) -> dict[str, float]:
        return {"distance": float(np.max(np.abs(wrap_angle(cfg - goal_cfg))))}

    def _is_success(self, dists: dict[str, float]) -> bool:
        return dists["distance"] < self.success_threshold

    def _random_config(self, rng: np.random.Generator) -> np.ndarray:
        return np.array(
            [rng.uniform(-np.pi, np.pi), rng.uniform(-self.goal_wrist_range, self.goal_wrist_range)]
        )

    def _sample_start(self, rng: np.random.Generator) -> np.ndarray:
        return self.config_to_state(self._random_config(rng))

    def sample_goal_state(self, rng: np.random.Generator) -> np.ndarray:
        """A random arm configuration at rest (shoulder uniform, wrist within the goal range)."""
        return self.config_to_state(self._random_config(rng))
