"""PointMaze: a point mass crossing between two rooms through a door (Two-Rooms).

The layout follows the Two-Rooms navigation task used by PLDM (Sobal et al., 2025, "Learning
from Reward-Free Offline Data: A Case for Planning with Latent Dynamics Models") and EB-JEPA:
a 2 x 2 m arena split by a wall at x = 0 with a 0.4 m door centred at y = 0. By default the
start and the goal lie in different rooms, so the agent must find the door.

- state (proprioception, float32): ``[x, y, vx, vy]`` of the point mass (m, m/s).
- goal configuration (``goal_dim = 2``): the position ``[x, y]``.
- action: 2 forces in [-1, 1], times the gear 2 N (mass 0.5 kg, damping 2 N s/m, so the top
  speed is about 1 m/s).
- success: Euclidean distance to the goal position below ``success_threshold`` (0.1 m, i.e.
  0.05 of the arena width); ``info["distance"]`` is that distance.
"""

from __future__ import annotations

import numpy as np

from envs.base import GoalEnv

ARENA = 1.0  # inner half-width of the arena (m)
WALL_HALF = 0.04  # half-thickness of the walls (m)
AGENT_RADIUS = 0.08
DOOR_HALF = 0.2  # the door spans y in [-0.2, 0.2] at x = 0


class PointMazeEnv(GoalEnv):
    """Point mass in two rooms joined by a door.

    Args:
        render_size: height and width of the frames in pixels.
        frame_skip: physics steps (0.01 s each) per env step.
        success_threshold: distance (m) to the goal position that counts as success.
        cross_rooms: start and goal in different rooms (True) or anywhere (False).
        render_mode: ``"rgb_array"`` or None.
    """

    xml_name = "pointmaze.xml"
    goal_dim = 2

    def __init__(
        self,
        render_size: int = 64,
        frame_skip: int = 5,
        success_threshold: float = 0.1,
        cross_rooms: bool = True,
        render_mode: str | None = "rgb_array",
    ) -> None:
        self.success_threshold = float(success_threshold)
        self.cross_rooms = bool(cross_rooms)
        self._start_room = 0
        super().__init__(render_size=render_size, frame_skip=frame_skip, render_mode=render_mode)

    def _proprio(self, data) -> np.ndarray:
        return np.concatenate([data.qpos, data.qvel])

    def task_config(self, state: np.ndarray | None = None) -> np.ndarray:
        if state is None:
            return self.data.qpos.copy()
        return self.split_state(state)["qpos"].copy()

    def config_to_state(self, config: np.ndarray) -> np.ndarray:
        state = np.zeros(self.sim_state_dim)
        state[:2] = np.asarray(config, dtype=np.float64)
        return state

    def _distances(self, cfg: np.ndarray, goal_cfg: np.ndarray) -> dict[str, float]:
        return {"distance": float(np.linalg.norm(cfg - goal_cfg))}

    def _is_success(self, dists: dict[str, float]) -> bool:
        return dists["distance"] < self.success_threshold

    @staticmethod
    def room_of(xy: np.ndarray) -> int:
        """0 for the left room (x < 0), 1 for the right room."""
        return int(np.asarray(xy)[0] >= 0.0)

    @staticmethod
    def sample_in_room(rng: np.random.Generator, room: int) -> np.ndarray:
        """A free position (no overlap with a wall) drawn uniformly in room 0 (left) or 1."""
        lo = WALL_HALF + AGENT_RADIUS + 0.01
        hi = ARENA - AGENT_RADIUS - 0.01
        x = rng.uniform(lo, hi) * (1.0 if room == 1 else -1.0)
        y = rng.uniform(-hi, hi)
        return np.array([x, y])

    def _sample_start(self, rng: np.random.Generator) -> np.ndarray:
        self._start_room = int(rng.integers(2))
        return self.config_to_state(self.sample_in_room(rng, self._start_room))

    def sample_goal_state(self, rng: np.random.Generator) -> np.ndarray:
        """A goal position at rest: in the other room than the last start when ``cross_rooms``,
        else in a random room."""
        room = 1 - self._start_room if self.cross_rooms else int(rng.integers(2))
        return self.config_to_state(self.sample_in_room(rng, room))
