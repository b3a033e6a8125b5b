"""Push: an actuated disk pushes a block to a goal pose (position and yaw) on a plane.

A planar version of the pushing tasks used for goal-image planning with latent world models
(the PushT task of DINO-WM, Zhou et al., 2024; the block pushing of V-JEPA 2-AC, Assran et al.,
2025): a point end effector pushes a two-tone block on free planar joints (x, y, yaw) in a
walled 0.6 x 0.6 m arena. The yellow end of the block makes its yaw unambiguous in images.

- state (proprioception, float32): the end effector ``[px, py, pvx, pvy]`` only; the block pose
  is task state, read with ``task_config()`` (``[bx, by, byaw]``) or from ``get_state()``
  (``qpos = [px, py, bx, by, byaw]``).
- goal configuration (``goal_dim = 3``): the block pose ``[bx, by, byaw]``; ``config_to_state``
  parks the pusher in the arena corner farthest from the block.
- action: 2 forces in [-1, 1], times the gear 1 N (pusher mass 0.2 kg, damping 2 N s/m: top
  speed about 0.5 m/s).
- success: block position within ``position_threshold`` (0.03 m) and yaw within
  ``angle_threshold`` (0.2 rad, wrapped). ``info["distance"]`` is the position error (m) and
  ``info["angle_distance"]`` the wrapped yaw error (rad).
"""

from __future__ import annotations

import numpy as np

from envs.base import GoalEnv, wrap_angle

HALF = 0.3  # inner half-width of the arena (m)
PUSHER_RADIUS = 0.02
BLOCK_HALF = (0.05, 0.03)
BLOCK_RANGE = 0.17  # block centres are drawn in [-0.17, 0.17]^2
CLEARANCE = 0.09  # least pusher-to-block-centre distance in sampled states


class PushEnv(GoalEnv):
    """Planar pusher and block.

    Args:
        render_size: height and width of the frames in pixels.
        frame_skip: physics steps (0.005 s each) per env step.
        position_threshold: block position error (m) that counts as success.
        angle_threshold: block yaw error (rad) that counts as success.
        render_mode: ``"rgb_array"`` or None.
    """

    xml_name = "push.xml"
    goal_dim = 3

    def __init__(
        self,
        render_size: int = 64,
        frame_skip: int = 10,
        position_threshold: float = 0.03,
        angle_threshold: float = 0.2,
        render_mode: str | None = "rgb_array",
    ) -> None:
        self.position_threshold = float(position_threshold)
        self.angle_threshold = float(angle_threshold)
        super().__init__(render_size=render_size, frame_skip=frame_skip, render_mode=render_mode)

    def _proprio(self, data) -> np.ndarray:
        return np.concatenate([data.qpos[:2], data.qvel[:2]])

    def task_config(self, state: np.ndarray | None = None) -> np.ndarray:
        qpos = self.data.qpos if state is None else self.split_state(state)["qpos"]
        return np.array([qpos[2], qpos[3], wrap_angle(qpos[4])])

    def pusher_position(self, state: np.ndarray | None = None) -> np.ndarray:
        """End-effector position ``[px, py]`` of a sim state (default: current)."""
        qpos = self.data.qpos if state is None else self.split_state(state)["qpos"]
        return np.array(qpos[:2], dtype=np.float64)

    def _make_state(self, pusher_xy: np.ndarray, block_pose: np.ndarray) -> np.ndarray:
        state = np.zeros(self.sim_state_dim)
        state[:2] = pusher_xy
        state[2:4] = block_pose[:2]
        state[4] = wrap_angle(block_pose[2])
        return state

    def config_to_state(self, config: np.ndarray) -> np.ndarray:
        pose = np.asarray(config, dtype=np.float64)
        corner = -np.sign(pose[:2] + 1e-12) * (HALF - 0.04)
        return self._make_state(corner, pose)

    def _distances(self, cfg: np.ndarray, goal_cfg: np.ndarray) -> dict[str, float]:
        return {
            "distance": float(np.linalg.norm(cfg[:2] - goal_cfg[:2])),
            "angle_distance": float(abs(wrap_angle(cfg[2] - goal_cfg[2]))),
        }

    def _is_success(self, dists: dict[str, float]) -> bool:
        return (
            dists["distance"] < self.position_threshold
            and dists["angle_distance"] < self.angle_threshold
        )

    def _random_state(self, rng: np.random.Generator) -> np.ndarray:
        pose = np.array(
            [
                rng.uniform(-BLOCK_RANGE, BLOCK_RANGE),
                rng.uniform(-BLOCK_RANGE, BLOCK_RANGE),
                rng.uniform(-np.pi, np.pi),
            ]
        )
        lim = HALF - PUSHER_RADIUS - 0.01
        while True:  # rejection sampling: terminates quickly, the free area is most of the arena
            pusher = rng.uniform(-lim, lim, size=2)
            if np.linalg.norm(pusher - pose[:2]) > CLEARANCE:
                return self._make_state(pusher, pose)

    def _sample_start(self, rng: np.random.Generator) -> np.ndarray:
        return self._random_state(rng)

    def sample_goal_state(self, rng: np.random.Generator) -> np.ndarray:
        """A random block pose at rest, with the pusher at a random place clear of the block."""
        return self._random_state(rng)
