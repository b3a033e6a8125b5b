"""How much of a world model's latent is a smooth function of the simulator's state?

A frame is a deterministic render of the scene's state, so a latent is a function of it; a
planner can only use the part of the latent a predictor can learn. This fits a small MLP from
the state logged with each frame (``observation.sim_state``, used only to grade) to the
latent, on frames of training episodes, and prints its R^2 on held-out episodes (the mean and
the lowest over latent dims) with the mean squared errors on training and held-out frames. A
predictor that knew the next state exactly and learnt from as much data would miss the latent
by about the held-out error; a low R^2 means the latent holds detail (aliasing, texture) that
the state does not smoothly determine, and the planner's cost inherits it as noise.

With ``--read-state`` it also fits the other way, the state read back from the latent and from
the encoder's (pooled) tokens the projector makes it from, and prints the held-out median
error per sim-state dim (angles in degrees): where the two differ, the projector loses what the
encoder keeps.

    python bench/bench_latent_state.py runs/wm-a runs/wm-b --train-data data/swm-pusht \
        --heldout-data data/swm-pusht-heldout --angle-dims 4 [--read-state]
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
    """The first ``episodes`` episodes' frames (one array each), their state features and their
    sim states."""
    from vworld.data.lerobot_read import open_lerobot

    log = open_lerobot(root)
    frames, states, sims = [], [], []
    for i in range(min(episodes, log.num_episodes)):
        ep = log.load_episode(i)
        if ep.sim_states is None:
            raise SystemExit(f"{root}: episode {i} has no observation.sim_state to grade with")
        frames.append(ep.frames)
        states.append(state_features(ep.sim_states, angle_dims))
        sims.append(ep.sim_states)
    return frames, np.concatenate(states), np.concatenate(sims)


def read_errors(feats: np.ndarray, sim: np.ndarray, angle_dims: list[int]) -> np.ndarray:
    """Median |error| per sim-state dim of predicted ``state_features`` (angles in degrees)."""
    keep = [i for i in range(sim.shape[1]) if i not in angle_dims]
    est = np.empty_like(sim)
    est[:, keep] = feats[:, : len(keep)]
    for j, i in enumerate(angle_dims):
        est[:, i] = np.arctan2(feats[:, len(keep) + 2 * j], feats[:, len(keep) + 2 * j + 1])
    err = np.abs(est - sim)
    for i in angle_dims:
        err[:, i] = np.degrees(np.abs((est[:, i] - sim[:, i] + np.pi) % (2 * np.pi) - np.pi))
    return np.median(err, 0)


@torch.no_grad()
def latents(world_model, frames: list[np.ndarray], tokens: bool = False) -> np.ndarray:
    """Each frame's latent ``(sum L, d)`` (or its flattened pooled tokens), 256 frames a call."""
    embed = world_model.tokens if tokens else world_model.encode
    out = []
    for ep in frames:
        x = torch.from_numpy(ep).permute(0, 3, 1, 2)[None]  # (1, L, 3, H, W)
        z = torch.cat([embed(x[:, j : j + 256]) for j in range(0, len(ep), 256)], 1)
        out.append(z.reshape(len(ep), -1).float().numpy())
    return np.concatenate(out)


def fit_mlp(x_tr, y_tr, x_te, steps: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An MLP fit from ``x_tr`` to ``y_tr``: its predictions on the training and held-out x."""
    torch.manual_seed(seed)
    mu, sd = x_tr.mean(0), x_tr.std(0) + 1e-6
    xt, yt = torch.from_numpy((x_tr - mu) / sd), torch.from_numpy(y_tr)
    xe = torch.from_numpy((x_te - mu) / sd)
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
        return net(xt[:20000]).numpy(), net(xe).numpy()


def fit_r2(x_tr, y_tr, x_te, y_te, steps: int, seed: int = 0) -> tuple[np.ndarray, float, float]:
    """R^2 per output dim on the held-out set, and the train and held-out mean squared errors."""
    p_tr, p_te = fit_mlp(x_tr, y_tr, x_te, steps, seed)
    err_te = ((p_te - y_te) ** 2).mean(0)
    err_tr = ((p_tr - y_tr[:20000]) ** 2).mean()
    r2 = 1 - err_te / y_te.var(0)
    return r2, float(err_tr), float(err_te.mean())


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
    ap.add_argument("--read-state", action="store_true", help="also read the state back")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"{'world model':<48} {'dims':>4} {'R2 mean':>8} {'R2 min':>7} {'mse tr':>7} {'mse ho':>7}"
    )
    # decoded once, encoded by each model
    f_tr, s_tr, _ = frames_and_states(args.train_data, args.train_episodes, args.angle_dims)
    f_te, s_te, sim_te = frames_and_states(
        args.heldout_data, args.heldout_episodes, args.angle_dims
    )
    for path in args.world_models:
        wm = load_world_model(path)
        wm.eval()
        z_tr, z_te = latents(wm, f_tr), latents(wm, f_te)
        r2, mse_tr, mse_te = fit_r2(s_tr, z_tr, s_te, z_te, args.steps)
        print(
            f"{path:<48} {z_tr.shape[1]:>4} {r2.mean():>8.3f} {r2.min():>7.3f} "
            f"{mse_tr:>7.3f} {mse_te:>7.3f}"
        )
        if not args.read_state:
            continue
        for what, x_tr, x_te in (
            ("latent", z_tr, z_te),
            ("tokens", latents(wm, f_tr, tokens=True), latents(wm, f_te, tokens=True)),
        ):
            err = read_errors(fit_mlp(x_tr, s_tr, x_te, args.steps)[1], sim_te, args.angle_dims)
            print(
                f"  state read from its {what} ({x_tr.shape[1]} numbers), held-out median "
                f"|error| per sim-state dim: {' '.join(f'{e:.3g}' for e in err)}"
            )


if __name__ == "__main__":
    main()
