"""How much of a world model's latent is a smooth function of the simulator's state?

A frame is a deterministic render of the scene's state, so a latent is a function of it; a
planner can only use the part of the latent a predictor can learn. This fits a small MLP from
the state logged with each frame (``observation.sim_state``, used only to grade) to the
latent, on frames of training episodes, and prints its R^2 on held-out episodes (the mean and
the lowest over latent dims) with the mean squared errors on training and held-out frames. A
predictor that knew the next state exactly and learnt from as much data would miss the latent
by about the held-out error; a low R^2 means the latent holds detail (aliasing, texture) that
the state does not smoothly determine, and the planner's cost inherits it as noise.

    python bench/bench_latent_state.py runs/wm-a runs/wm-b --train-data data/swm-pusht \
        --heldout-data data/swm-pusht-heldout --angle-dims 4
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def state_features(sim: np.ndarray, angle_dims: list[int]) -> np.ndarray:
    """The state with each angle replaced by its sine and cosine (``fit_r2`` standardises)."""
    keep = [i for i in range(sim.shape[1]) if i not in angle_dims]
    parts = [sim[:, keep]] + [np.c_[np.sin(sim[:, i]), np.cos(sim[:, i])] for i in angle_dims]
    return np.concatenate(parts, axis=1).astype(np.float32)


def frames_and_states(root: str, episodes: int, angle_dims: list[int]):
    """The first ``episodes`` episodes' frames (one array each) and their state features."""
    from vworld.data.lerobot_read import open_lerobot

    log = open_lerobot(root)
    frames, states = [], []
    for i in range(min(episodes, log.num_episodes)):
        ep = log.load_episode(i)
        if ep.sim_states is None:
            raise SystemExit(f"{root}: episode {i} has no observation.sim_state to grade with")
        frames.append(ep.frames)
        states.append(state_features(ep.sim_states, angle_dims))
    return frames, np.concatenate(states)


@torch.no_grad()
def latents(world_model, frames: list[np.ndarray]) -> np.ndarray:
    """Each frame's latent ``(sum L, d)``, encoded 256 frames at a time."""
    out = []
    for ep in frames:
        x = torch.from_numpy(ep).permute(0, 3, 1, 2)[None]  # (1, L, 3, H, W)
        z = torch.cat([world_model.encode(x[:, j : j + 256]) for j in range(0, len(ep), 256)], 1)
        out.append(z.reshape(len(ep), -1).numpy())
    return np.concatenate(out)


def fit_r2(x_tr, y_tr, x_te, y_te, steps: int, seed: int = 0) -> tuple[np.ndarray, float, float]:
    """R^2 per output dim on the held-out set, and the train and held-out mean squared errors."""
    torch.manual_seed(seed)
    mu, sd = x_tr.mean(0), x_tr.std(0) + 1e-6
    xt, yt = torch.from_numpy((x_tr - mu) / sd), torch.from_numpy(y_tr)
    xe, ye = torch.from_numpy((x_te - mu) / sd), torch.from_numpy(y_te)
    net = torch.nn.Sequential(
        torch.nn.Linear(xt.shape[1], 512),
        torch.nn.GELU(),
        torch.nn.Linear(512, 512),
        torch.nn.GELU(),
        torch.nn.Linear(512, yt.shape[1]),
    )
    opt = torch.optim.AdamW(net.parameters(), 1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        idx = torch.randint(0, len(xt), (512,))
        loss = (net(xt[idx]) - yt[idx]).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        err_te = (net(xe) - ye).square().mean(0)
        err_tr = (net(xt[:20000]) - yt[:20000]).square().mean()
    r2 = 1 - err_te / ye.var(0)
    return r2.numpy(), float(err_tr), float(err_te.mean())


def main() -> None:
    from vworld.world_model import load_world_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("world_models", nargs="+")
    ap.add_argument("--train-data", required=True, help="a LeRobot dataset with sim states")
    ap.add_argument("--heldout-data", required=True)
    ap.add_argument("--train-episodes", type=int, default=300)
    ap.add_argument("--heldout-episodes", type=int, default=100)
    ap.add_argument("--angle-dims", type=int, nargs="*", default=[], help="sim-state angles")
    ap.add_argument("--steps", type=int, default=6000, help="MLP training steps")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"{'world model':<48} {'dims':>4} {'R2 mean':>8} {'R2 min':>7} {'mse tr':>7} {'mse ho':>7}"
    )
    # decoded once, encoded by each model
    f_tr, s_tr = frames_and_states(args.train_data, args.train_episodes, args.angle_dims)
    f_te, s_te = frames_and_states(args.heldout_data, args.heldout_episodes, args.angle_dims)
    for path in args.world_models:
        wm = load_world_model(path)
        wm.eval()
        z_tr, z_te = latents(wm, f_tr), latents(wm, f_te)
        r2, mse_tr, mse_te = fit_r2(s_tr, z_tr, s_te, z_te, args.steps)
        print(
            f"{path:<48} {z_tr.shape[1]:>4} {r2.mean():>8.3f} {r2.min():>7.3f} "
            f"{mse_tr:>7.3f} {mse_te:>7.3f}"
        )


if __name__ == "__main__":
    main()
