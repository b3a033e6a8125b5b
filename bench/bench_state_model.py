"""Can the data and the planner reach the goals at all? CEM over a learnt state-space model.

A shortcut ceiling, not a vworld planner: an MLP learns the env's dynamics on the exact
simulator state that the training episodes log (``observation.sim_state`` plus one model
step's actions -> the state one model step later), and CEM plans on it under a plan recipe's
protocol with the env's own task distance as the cost. Pixels, encoders and latents play no
part. It separates two causes of a latent planner's failure: if this plans well, the data
cover the dynamics well enough and CEM finds the plans, so what fails is the latent (what the
encoder keeps of the state, what the predictor makes of it); if this fails too, no encoder will
fix it. Prints the model's held-out one-step error per state dim, then success with its 95%
interval, the mean final task distance and the seconds per executed env step.

    python bench/bench_state_model.py -c configs/plan/swm-pusht-latent.yaml \
        --train-data data/swm-pusht --angle-dims 4
    python bench/bench_state_model.py -c configs/plan/swm-pusht-latent.yaml \
        --train-data data/swm-pusht --angle-dims 4 episodes=10  # plan-config overrides
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import Tensor, nn

from vworld.layers.angles import wrap_angles


def load_transitions(
    root: str, block: int, episodes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(states, block actions, next states, episode)`` one model step apart, from a dataset."""
    from vworld.data.lerobot_read import open_lerobot

    log = open_lerobot(root)
    xs, acts, ys, eps = [], [], [], []
    for i in range(min(episodes, log.num_episodes)):
        ep = log.load_episode(i, frames=False)
        if ep.sim_states is None:
            raise SystemExit(f"{root}: episode {i} has no observation.sim_state to learn from")
        s, a = ep.sim_states, np.asarray(ep.actions, np.float64)
        n = len(s) - block
        if n <= 0:
            continue
        xs.append(s[:n])
        ys.append(s[block:])
        acts.append(np.stack([a[t : t + block].ravel() for t in range(n)]))
        eps.append(np.full(n, i))
    return tuple(np.concatenate(v) for v in (xs, acts, ys, eps))  # type: ignore[return-value]


class StateModel(nn.Module):
    """``(state, block actions) -> next state``: an MLP on the change, angles as sine and cosine.

    Args:
        state_dim: the sim state's size.
        action_dim: one model step's actions (``action_block`` env actions, concatenated).
        angle_dims: state dims that are angles (wrapped; fed as sine and cosine).
        width: hidden width.
    """

    def __init__(self, state_dim: int, action_dim: int, angle_dims: list[int], width: int = 512):
        super().__init__()
        self.angle_dims = list(angle_dims)
        self.keep = [i for i in range(state_dim) if i not in self.angle_dims]
        din = len(self.keep) + 2 * len(self.angle_dims) + action_dim
        self.net = nn.Sequential(
            nn.Linear(din, width),
            nn.GELU(),
            nn.Linear(width, width),
            nn.GELU(),
            nn.Linear(width, width),
            nn.GELU(),
            nn.Linear(width, state_dim),
        )
        for name, n in (("x_mean", din - action_dim), ("d_mean", state_dim)):
            self.register_buffer(name, torch.zeros(n))
            self.register_buffer(name.replace("mean", "std"), torch.ones(n))

    def features(self, s: Tensor) -> Tensor:
        ang = s[:, self.angle_dims]
        return torch.cat([s[:, self.keep], torch.sin(ang), torch.cos(ang)], 1)

    def delta(self, s: Tensor, s_next: Tensor) -> Tensor:
        return wrap_angles(s_next - s, self.angle_dims)

    def fit_normalisation(self, s: Tensor, d: Tensor) -> None:
        f = self.features(s)
        self.x_mean, self.x_std = f.mean(0), f.std(0) + 1e-6
        self.d_mean, self.d_std = d.mean(0), d.std(0) + 1e-6

    def normalised_delta(self, s: Tensor, a: Tensor) -> Tensor:
        return self.net(torch.cat([(self.features(s) - self.x_mean) / self.x_std, a], 1))

    def forward(self, s: Tensor, a: Tensor) -> Tensor:
        return wrap_angles(
            s + self.normalised_delta(s, a) * self.d_std + self.d_mean, self.angle_dims
        )


def train_state_model(model: StateModel, s, a, s_next, steps: int, batch: int = 1024) -> float:
    """Fit ``model`` on the transitions (tensors); returns the last batch's loss."""
    d = model.delta(s, s_next)
    model.fit_normalisation(s, d)
    target = (d - model.d_mean) / model.d_std
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    loss = torch.zeros(())
    for _ in range(steps):
        i = torch.randint(0, len(s), (batch,))
        loss = (model.normalised_delta(s[i], a[i]) - target[i]).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return float(loss.detach())


def main() -> None:
    from planners.cem import CEM
    from vworld.config import load_config
    from vworld.eval.harness import PlanConfig, make_env, planner_config
    from vworld.eval.mpc import goal_api
    from vworld.eval.report import wilson_interval
    from vworld.eval.swm_protocol import dataset_goal

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", "--config", required=True, help="a plan recipe (goal_source: dataset)")
    ap.add_argument("--train-data", required=True, help="a LeRobot dataset with sim states")
    ap.add_argument("--train-episodes", type=int, default=100000)
    ap.add_argument("--angle-dims", type=int, nargs="*", default=[], help="sim-state angles")
    ap.add_argument("--steps", type=int, default=6000, help="MLP training steps")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("overrides", nargs="*", help="plan-config overrides, key=value")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = load_config(PlanConfig, args.config, args.overrides)
    if cfg.goal_source != "dataset":
        raise SystemExit(f"{args.config}: goal_source must be 'dataset' (swm's protocol)")
    if cfg.block_actions != "each":
        raise SystemExit(f"{args.config}: block_actions must be 'each' (each env step planned)")
    block = cfg.action_block
    x, a, y, ep = load_transitions(args.train_data, block, args.train_episodes)
    x, a, y = (torch.tensor(v, dtype=torch.float32) for v in (x, a, y))
    val = torch.from_numpy(ep % 10 == 0)
    model = StateModel(x.shape[1], a.shape[1], args.angle_dims)
    t0 = time.time()
    loss = train_state_model(model, x[~val], a[~val], y[~val], args.steps)
    model.eval()
    with torch.no_grad():
        err = model.delta(model(x[val], a[val]), y[val]).abs().median(0).values
    print(
        f"state model: {int((~val).sum())} transitions, {args.steps} steps in "
        f"{time.time() - t0:.0f} s (loss {loss:.4f}); held-out one-step median |error| per "
        f"dim: {' '.join(f'{v:.3g}' for v in err.tolist())}"
    )

    env = make_env(cfg)
    act_dim = env.action_space.shape[0]
    low, high = float(env.action_space.low.min()), float(env.action_space.high.max())
    planner = CEM(planner_config(cfg, "cem", act_dim * block, low, high))
    u = goal_api(env)
    wins, finals, t0, executed = 0, [], time.time(), 0
    for i in range(cfg.episodes):
        _, info, _, goal = dataset_goal(env, i, cfg)
        done, gen = bool(info.get("success", False)), torch.Generator().manual_seed(cfg.seed + i)
        steps = 0
        while not done and steps < cfg.max_steps:
            s0 = torch.tensor(u.get_state(), dtype=torch.float32)[None]

            def cost_fn(actions: Tensor, s0: Tensor = s0, goal: np.ndarray = goal) -> Tensor:
                s, total = s0.expand(len(actions), -1), torch.zeros(len(actions))
                with torch.no_grad():
                    for h in range(actions.shape[1]):
                        s = model(s, actions[:, h])
                        total += torch.tensor([u.task_distance(r, goal) for r in s.numpy()])
                return total

            plan, _ = planner.plan(cost_fn, generator=gen)
            todo = plan[: cfg.receding_horizon].reshape(-1, act_dim).numpy()
            for act in todo[: cfg.max_steps - steps]:
                _, _, _, _, info = env.step(act)
                steps += 1
                if info.get("success", False):
                    done = True
                    break
        executed += steps
        wins += done
        finals.append(float(info.get("distance", np.nan)))
    lo, hi = wilson_interval(wins, cfg.episodes)
    print(
        f"{cfg.env}: CEM on the learnt state model, the task distance as cost (a shortcut): "
        f"{wins}/{cfg.episodes} ({lo:.2f}-{hi:.2f}), mean final distance "
        f"{np.nanmean(finals):.1f}, {(time.time() - t0) / max(executed, 1):.3f} s per executed "
        "env step"
    )


if __name__ == "__main__":
    main()
