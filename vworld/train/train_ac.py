"""Train an action-conditioned predictor over a frozen video encoder (V-JEPA 2-AC, 2025).

The encoder's features of every frame are computed once (``vworld.train.features``); the
predictor then learns ``z_{t+1} = P(z_<=t, a_<=t, s_<=t)`` with two L1 terms, as V-JEPA 2-AC:
teacher forcing over a window of T frames, and a rollout over ``rollout_steps`` steps fed with
its own predictions (the released code's rollout indexing was later fixed to predict z_3 from
z_1 and the predicted z_2, which is what this does). An L1 term trains the state head, so
rollouts need no simulator. Held-out episodes measure the latent error 1..H steps ahead
beside the copy-the-last-latent baseline. With ``probe.enabled``, a state probe
(``vworld/models/state_probe.py``) learns beside it to read the state a frame shows, so a
planner can aim predicted states at the state of a goal image.

Actions are aggregated over ``data.frame_stride`` env steps (summed, or the state difference),
so one model step is ``frame_stride`` env steps: plan with ``action_block = frame_stride``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from vworld.config import MISSING, save_config
from vworld.data.episodes import RobotLog, open_robot_log
from vworld.data.lerobot_read import recording_codec
from vworld.encoders import export_encoder, load_encoder
from vworld.layers.angles import wrap_angles
from vworld.models.ac_predictor import ac_predictor_names, build_ac_predictor
from vworld.models.registry import model_class
from vworld.models.state_probe import StateProbe
from vworld.train.features import EncodedEpisode, encode_log, load_frames
from vworld.train.latent_objective import LatentLossConfig, LatentObjective, validate_latent
from vworld.train.monitor import MetricsLogger
from vworld.train.runtime import (
    OptimConfig,
    apply_schedules,
    batch_split,
    check_loss,
    make_accelerator,
    maybe_checkpoint,
    progress_bar,
    resume_state,
    step_seed,
)
from vworld.world_model import Normalizer

__all__ = ["ACWindows", "TrainACConfig", "train_ac"]

log = logging.getLogger("vworld.train_ac")


@dataclass
class ACDataConfig:
    path: str = MISSING  # a LeRobot (v3.0 / v2.1) folder or a robomimic HDF5 file
    num_frames: int = 4  # frames per training window (T)
    frame_stride: int = 5  # env steps per model step
    # How the frame_stride env-step actions of one model step are given to the model: summed,
    # the state difference, or concatenated (LeWM's frameskip encoder; latent_* models).
    action_mode: str = "sum"  # sum | state_diff | concat
    val_fraction: float = 0.1  # held-out episodes (the last ones)
    pool_grid: list[int] | None = None  # pool each frame's tokens to (h', w')
    cache_dir: str | None = None  # where encoded features are cached; default out_dir/cache
    # Columns of the log's observation.sim_state appended to the state the model predicts: an
    # object's pose the robot's state lacks (Push's block: [2, 3, 4]). Planners read them from
    # each observed image with the state probe, which must estimate them (probe.dims).
    sim_state_dims: list[int] | None = None
    # State indices that are angles wrapped to [-pi, pi): left in radians by the normaliser,
    # compared modulo 2 pi by the state loss, wrapped by proprio_* models after each step.
    angle_dims: list[int] = field(default_factory=list)


@dataclass
class ACModelConfig:
    name: str = "ac_micro"
    predictor_embed_dim: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    residual: bool | None = None  # predict z_{t+1} - z_t (None: the named config's choice)
    dynamics_dim: int | None = None  # proprio_* models: hidden width of the dynamics MLP
    dynamics_depth: int | None = None  # proprio_* models: its hidden layers
    latent_dim: int | None = None  # latent_* models: size of the compact per-frame latent
    action_cond: str | None = None  # latent_* models: adaln | concat | input
    proj_hidden: int | None = None  # latent_* models: hidden width of the projector
    proj_norm: str | None = None  # latent_* models: batch | none (the projector's output norm)
    inverse_hidden: int | None = None  # latent_* models: inverse-dynamics head width (0: none)


@dataclass
class ACProbeConfig:
    """The state probe (``vworld/models/state_probe.py``): goal image -> goal state for planning."""

    enabled: bool = False
    dims: list[int] | None = None  # state dims one frame shows (default: all)
    # Probed dims regressed as (sin, cos) and read back with atan2: every joint angle, wrapped
    # or not (on Reach the wrist's error on goal images falls from 0.038 to 0.030 rad median,
    # 90th percentile 0.15 to 0.06). Default: data.angle_dims.
    angle_dims: list[int] | None = None
    hidden: int = 512
    depth: int = 2
    loss_weight: float = 1.0
    # The token grid the probe reads, pooled from the encoder's (default: the encoder's own,
    # unpooled). Pooling to the predictor's 4x4 loses small objects' positions: on PointMaze
    # the probe's mean held-out y error was 0.031 m on 4x4 tokens and 0.0066 m on 8x8 ones.
    pool_grid: list[int] | None = None
    # The probe trains on at most this many frames, evenly spaced in each episode (unpooled
    # tokens of every frame would not fit in memory on long logs).
    max_frames: int = 50000


@dataclass
class ACTrainConfig:
    steps: int = 2000
    batch_size: int = 64
    grad_accum: int = 1
    rollout_steps: int = 2
    state_loss_weight: float = 1.0
    precision: str = "auto"
    log_every: int = 50
    ckpt_every: int = 500
    keep_every: int = 0
    val_every: int = 500
    val_horizon: int = 5
    val_windows: int = 256
    collapse_std: float = 0.02  # latent_* models: warn when the latents' mean std falls below


@dataclass
class TrainACConfig:
    out_dir: str = MISSING
    encoder: str = MISSING  # a pretraining run folder, exported encoder or official .pt
    seed: int = 0
    resume: bool = True
    device: str = "auto"
    data: ACDataConfig = field(default_factory=ACDataConfig)
    model: ACModelConfig = field(default_factory=ACModelConfig)
    probe: ACProbeConfig = field(default_factory=ACProbeConfig)
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(
            lr=1.0e-3, start_lr=1.0e-4, final_lr=1.0e-5, warmup_steps=100, grad_clip=1.0
        )
    )
    train: ACTrainConfig = field(default_factory=ACTrainConfig)
    latent: LatentLossConfig = field(default_factory=LatentLossConfig)

    def validate(self) -> None:
        if self.data.action_mode not in ACTION_MODES:
            raise ValueError(
                f"data.action_mode: '{self.data.action_mode}', expected one of {ACTION_MODES}"
            )
        names = ac_predictor_names()
        if self.model.name not in names:
            raise ValueError(f"model.name: {self.model.name!r}, expected one of {names}")
        self.latent.validate()
        latent = getattr(model_class(self.model.name), "learned_latent", False)
        if self.latent.finetune_encoder and not latent:
            raise ValueError(
                f"latent.finetune_encoder needs a latent_* model (model.name={self.model.name})"
            )
        if self.latent.finetune_encoder and self.probe.enabled:
            raise ValueError(
                "latent.finetune_encoder with probe.enabled: the probe reads the frozen "
                "encoder's tokens; train one or the other"
            )
        if self.data.num_frames < self.train.rollout_steps + 1:
            raise ValueError(
                f"data.num_frames={self.data.num_frames} must be > train.rollout_steps="
                f"{self.train.rollout_steps}"
            )
        if self.data.pool_grid is not None and len(self.data.pool_grid) != 2:
            raise ValueError(f"data.pool_grid: expected [h, w], got {self.data.pool_grid}")
        if self.probe.pool_grid is not None and len(self.probe.pool_grid) != 2:
            raise ValueError(f"probe.pool_grid: expected [h, w], got {self.probe.pool_grid}")
        if self.data.sim_state_dims and self.data.action_mode != "sum":
            raise ValueError(
                "data.sim_state_dims needs data.action_mode=sum (state_diff actions would hold "
                "the appended object state's future)"
            )
        if self.probe.max_frames < 1:
            raise ValueError(f"probe.max_frames: expected >= 1, got {self.probe.max_frames}")


def aggregate(actions: np.ndarray, states: np.ndarray, frames: np.ndarray, mode: str) -> np.ndarray:
    """Actions between consecutive sampled frames: summed over the stride, or state deltas.

    Args:
        actions: ``(L, A)`` per-env-step actions (``actions[t]`` leads from frame t to t+1).
        states: ``(L, S)``.
        frames: sampled frame indices ``(T,)`` (strictly increasing).
    Returns:
        ``(T-1, A)`` (sum) or ``(T-1, S)`` (state_diff).
    """
    if mode == "state_diff":
        return states[frames[1:]] - states[frames[:-1]]
    csum = np.concatenate([np.zeros_like(actions[:1]), np.cumsum(actions, 0)])  # (L+1, A)
    return csum[frames[1:]] - csum[frames[:-1]]


ACTION_MODES = ("sum", "state_diff", "concat")


class ACWindows:
    """All windows of T frames at a stride inside each episode (never crossing episodes).

    The episodes are concatenated once (tokens, states, action prefix sums), so a batch of
    windows is a few gathers rather than a Python loop over rows.
    """

    def __init__(self, episodes: list[EncodedEpisode], num_frames: int, stride: int, mode: str):
        if mode not in ACTION_MODES:
            raise ValueError(f"data.action_mode: {mode!r}, expected one of {ACTION_MODES}")
        self.num_frames, self.stride, self.mode = num_frames, stride, mode
        span = (num_frames - 1) * stride
        lengths = [len(ep.actions) for ep in episodes]
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        starts = [off + np.arange(max(n - span, 0)) for off, n in zip(offsets, lengths)]
        self.starts = torch.from_numpy(np.concatenate(starts)) if starts else torch.zeros(0)
        if len(self.starts) == 0:
            raise ValueError(
                f"no window of {num_frames} frames at stride {stride} fits in any episode "
                f"(longest has {max(lengths, default=0)} frames)"
            )
        self.z = torch.cat([ep.z for ep in episodes])  # (sum L, Np, D) float16, or uint8 frames
        self.actions = torch.from_numpy(np.concatenate([ep.actions for ep in episodes])).float()
        self.states = torch.from_numpy(np.concatenate([ep.states for ep in episodes])).float()
        # Prefix sums of actions: actions between frames i < j of one episode are csum[j] -
        # csum[i]; an episode's sums restart at 0, so windows never mix episodes.
        csum = [np.cumsum(ep.actions, 0, dtype=np.float64) - ep.actions for ep in episodes]
        self.csum = torch.from_numpy(np.concatenate(csum))
        self.offsets = torch.arange(num_frames) * stride

    def __len__(self) -> int:
        return len(self.starts)

    def get(self, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Windows ``rows`` as ``z (B, T, Np, D)`` (or uint8 frames ``(B, T, H, W, 3)``),
        ``actions (B, T-1, A)`` (``(B, T-1, stride * A)`` concatenated) and ``states (B, T, S)``."""
        frames = self.starts[rows][:, None] + self.offsets  # (B, T)
        states = self.states[frames]
        if self.mode == "state_diff":
            actions = states[:, 1:] - states[:, :-1]
        elif self.mode == "concat":
            steps = frames[:, :-1, None] + torch.arange(self.stride)  # (B, T-1, stride)
            actions = self.actions[steps].flatten(2)  # (B, T-1, stride * A)
        else:
            c = self.csum[frames]  # (B, T, A): sum of the episode's actions before each frame
            actions = (c[:, 1:] - c[:, :-1]).float()
        z = self.z[frames]
        return (z if z.dtype == torch.uint8 else z.float()), actions, states


class ProbeFrames:
    """The state probe's training pairs: the tokens ``encode_log`` kept at the probe's grid
    (every ``every``-th frame of each episode) and those frames' states."""

    def __init__(self, episodes: list[EncodedEpisode], every: int):
        if any(ep.z_probe is None for ep in episodes):
            raise ValueError("ProbeFrames: episodes were encoded without probe tokens")
        self.z = torch.cat([ep.z_probe for ep in episodes])  # (N, Np, D) float16
        states = [ep.states[::every] for ep in episodes]
        self.states = torch.from_numpy(np.concatenate(states)).float()  # (N, S)

    def __len__(self) -> int:
        return len(self.z)

    def get(self, rows: Tensor) -> tuple[Tensor, Tensor]:
        return self.z[rows].float(), self.states[rows]


def _norm_stats(windows: ACWindows, angle_dims: list[int]) -> dict[str, list[float]]:
    """Mean and std of actions and states; angle dims keep mean 0 and std 1 (radians)."""
    n = min(len(windows), 20000)
    rows = torch.linspace(0, len(windows) - 1, n).long()
    _, a, s = windows.get(rows)
    a, s = a.reshape(-1, a.shape[-1]), s.reshape(-1, s.shape[-1])
    s_mean, s_std = s.mean(0), s.std(0).clamp_min(1e-6)
    s_mean[angle_dims], s_std[angle_dims] = 0.0, 1.0
    return {
        "action_mean": a.mean(0).tolist(),
        "action_std": a.std(0).clamp_min(1e-6).tolist(),
        "state_mean": s_mean.tolist(),
        "state_std": s_std.tolist(),
    }


def state_error(pred: Tensor, target: Tensor, angle_dims: list[int]) -> Tensor:
    """``pred - target`` with the angle dims taken modulo 2 pi into [-pi, pi)."""
    return wrap_angles(pred - target, angle_dims)


def ac_losses(
    model: nn.Module,
    z: Tensor,
    a: Tensor,
    s: Tensor,
    rollout_steps: int,
    state_w: float,
    angle_dims: list[int] | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Teacher-forcing + rollout L1 losses on normalised windows.

    Args:
        z: ``(B, T, Np, D)`` tokens; a: ``(B, T-1, A)``; s: ``(B, T, S)``.
        angle_dims: state dims compared modulo 2 pi.
    """
    angle_dims = angle_dims or []
    z_pred, s_pred = model(z[:, :-1], a, s[:, :-1])  # (B, T-1, Np, D), (B, T-1, S)
    tf = (z_pred - z[:, 1:]).abs().mean()
    loss_s = state_error(s_pred, s[:, 1:], angle_dims).abs().mean()
    roll = z.new_zeros(())
    if rollout_steps > 1:
        zs, ss = z[:, :1], s[:, :1]
        for r in range(rollout_steps):
            zp, sp = model(zs, a[:, : r + 1], ss)
            zs = torch.cat([zs, zp[:, -1:]], 1)
            ss = torch.cat([ss, sp[:, -1:]], 1)
        roll = (zs[:, 2:] - z[:, 2 : rollout_steps + 1]).abs().mean()
        loss_s = (
            loss_s + state_error(ss[:, 2:], s[:, 2 : rollout_steps + 1], angle_dims).abs().mean()
        )
    total = tf + roll + state_w * loss_s
    return total, {
        "loss_tf": tf.detach(),
        "loss_rollout": roll.detach(),
        "loss_state": loss_s.detach(),
    }


@torch.no_grad()
def validate(
    model: nn.Module, windows: ACWindows, norm: Normalizer, max_windows: int, device: torch.device
) -> dict[str, float]:
    """Latent L1 error 1..H steps ahead from one context frame, and the copy-last baseline."""
    n = min(len(windows), max_windows)
    rows = torch.linspace(0, len(windows) - 1, n).long()
    z, a, s = windows.get(rows)
    z, a, s = z.to(device), norm.actions(a.to(device)), norm.states(s.to(device))
    out: dict[str, float] = {}
    preds = []
    for i in range(0, n, 64):
        zp, _ = model.rollout(
            z[i : i + 64, :1], s[i : i + 64, :1], a[i : i + 64, :0], a[i : i + 64]
        )
        preds.append(zp)
    zp = torch.cat(preds)  # (n, H, Np, D)
    for h in range(1, zp.shape[1] + 1):
        out[f"val_l1_h{h}"] = float((zp[:, h - 1] - z[:, h]).abs().mean())
        out[f"val_copy_h{h}"] = float((z[:, 0] - z[:, h]).abs().mean())
    return out


@torch.no_grad()
def validate_probe(
    probe: StateProbe, frames: ProbeFrames, device: torch.device
) -> dict[str, float]:
    """The probe's absolute error per probed state dim on held-out frames (angles mod 2 pi)."""
    rows = torch.linspace(0, len(frames) - 1, min(len(frames), 4096)).long()
    est = probe.infer(frames.z[rows].to(device)).cpu()  # (n, K)
    true = frames.states[rows][:, probe.dims]
    angles = [i for i, a in enumerate(probe.is_angle) if a]
    err = wrap_angles(est - true, angles).abs()
    out: dict[str, float] = {}
    for i, d in enumerate(probe.dims):
        out[f"val_probe_mae_s{d}"] = float(err[:, i].mean())
        out[f"val_probe_p90_s{d}"] = float(err[:, i].quantile(0.9))
    return out


def _append_sim_state(
    robot_log: RobotLog, episodes: list[EncodedEpisode], dims: list[int]
) -> list[EncodedEpisode]:
    """The episodes with columns ``dims`` of each frame's sim state appended to its state."""
    field = "data.sim_state_dims"
    if robot_log.sim_state_dim == 0:
        raise ValueError(
            f"{robot_log.path}: {field} is set but the log has no observation.sim_state"
        )
    bad = [d for d in dims if not 0 <= d < robot_log.sim_state_dim]
    if bad:
        raise ValueError(
            f"{robot_log.path}: {field} {bad} out of range for observation.sim_state of width "
            f"{robot_log.sim_state_dim}"
        )
    out = []
    for ep in episodes:
        sim = robot_log.load_episode(ep.index, frames=False).sim_states[:, dims]
        states = np.concatenate([ep.states, sim.astype(np.float32)], 1)
        out.append(dataclasses.replace(ep, states=states))
    return out


def _encoder_spec(path: str) -> Path | None:
    """The ``encoder.json`` beside a vworld encoder (None for an official checkpoint)."""
    src = Path(path)
    spec = (src if src.is_dir() else src.parent) / "encoder.json"
    return spec if spec.is_file() else None


def _model_kwargs(
    cfg: TrainACConfig, robot_log: RobotLog, embed_dim: int, state_dim: int, grid: tuple
) -> dict:
    """The predictor's arguments: what the data fixes, then the recipe's ``model.*``.

    The data's arguments are given only where the model takes them; a ``model.*`` setting
    the model does not take is an error (``build_ac_predictor`` names it)."""
    import inspect

    mode, stride = cfg.data.action_mode, cfg.data.frame_stride
    a_dim = {"state_diff": robot_log.state_dim, "concat": robot_log.action_dim * stride}.get(
        mode, robot_log.action_dim
    )
    from_data = {
        "embed_dim": embed_dim,
        "action_dim": int(a_dim),
        "state_dim": int(state_dim),
        "grid": list(grid),
        "max_steps": max(cfg.data.num_frames, cfg.train.val_horizon + 1, 16),
        "angle_dims": list(cfg.data.angle_dims),
    }
    accepted = inspect.signature(model_class(cfg.model.name)).parameters
    kwargs = {k: v for k, v in from_data.items() if k in accepted}
    user = dataclasses.asdict(cfg.model)
    kwargs.update({k: v for k, v in user.items() if k != "name" and v is not None})
    return kwargs


def _split(num_episodes: int, val_fraction: float) -> tuple[list[int], list[int]]:
    if num_episodes < 2 or val_fraction <= 0:
        return list(range(num_episodes)), []
    n_val = max(1, round(num_episodes * val_fraction))
    return list(range(num_episodes - n_val)), list(range(num_episodes - n_val, num_episodes))


def train_ac(cfg: TrainACConfig) -> Path:
    """Train (or resume) the action-conditioned predictor; returns ``out_dir``."""
    cfg.validate()
    out_dir = Path(cfg.out_dir)
    acc = make_accelerator(cfg.device, cfg.train.precision)
    world, rank = acc.num_processes, acc.process_index
    micro = batch_split(cfg.train.batch_size, world, cfg.train.grad_accum)

    encoder = load_encoder(cfg.encoder, device=acc.device)
    finetune = cfg.latent.finetune_encoder
    if finetune and _encoder_spec(cfg.encoder) is None:
        raise ValueError(
            f"encoder: latent.finetune_encoder needs a vworld encoder (a folder with "
            f"encoder.json), got {cfg.encoder}"
        )
    robot_log = open_robot_log(cfg.data.path)
    first = robot_log.load_episode(0, frames=True)
    h_img, w_img = first.frames.shape[1:3]
    _, gh, gw = encoder.grid(encoder.tubelet_size, h_img, w_img)
    pool = tuple(cfg.data.pool_grid) if cfg.data.pool_grid else None
    probe_grid, probe_every = None, 1
    if cfg.probe.enabled:
        probe_grid = tuple(cfg.probe.pool_grid) if cfg.probe.pool_grid else (gh, gw)
        if probe_grid[0] > gh or probe_grid[1] > gw:
            raise ValueError(
                f"probe.pool_grid {list(probe_grid)} exceeds the encoder's grid [{gh}, {gw}]"
            )
        probe_every = max(1, math.ceil(robot_log.num_frames / cfg.probe.max_frames))
    cache_dir = Path(cfg.data.cache_dir) if cfg.data.cache_dir else out_dir / "cache"
    enc_kw = {"probe_grid": probe_grid, "probe_every": probe_every}
    if finetune:  # the encoder trains: windows hold frames, encoded at every step
        episodes = load_frames(robot_log, show_progress=acc.is_main_process)
    else:
        if acc.is_main_process:
            episodes = encode_log(encoder, robot_log, (gh, gw), pool, cache_dir, **enc_kw)
        acc.wait_for_everyone()
        if not acc.is_main_process:
            episodes = encode_log(
                encoder, robot_log, (gh, gw), pool, cache_dir, show_progress=False, **enc_kw
            )
    state_dim = robot_log.state_dim
    image_dims: list[int] = []  # appended state dims the planner reads from images
    if cfg.data.sim_state_dims:
        episodes = _append_sim_state(robot_log, episodes, list(cfg.data.sim_state_dims))
        image_dims = list(range(state_dim, state_dim + len(cfg.data.sim_state_dims)))
        state_dim += len(image_dims)
        probed = cfg.probe.dims if cfg.probe.dims is not None else list(range(state_dim))
        if not cfg.probe.enabled or not set(image_dims) <= set(probed):
            raise ValueError(
                f"data.sim_state_dims: the appended state dims {image_dims} must be read from "
                f"images at plan time; set probe.enabled=true with probe.dims covering them "
                f"(got enabled={cfg.probe.enabled}, dims={cfg.probe.dims})"
            )
    train_eps, val_eps = _split(len(episodes), cfg.data.val_fraction)
    stride, mode = cfg.data.frame_stride, cfg.data.action_mode
    train_w = ACWindows([episodes[i] for i in train_eps], cfg.data.num_frames, stride, mode)
    val_w = (
        ACWindows([episodes[i] for i in val_eps], cfg.train.val_horizon + 1, stride, mode)
        if val_eps
        else None
    )
    bad = [d for d in cfg.data.angle_dims if not 0 <= d < state_dim]
    if bad:
        raise ValueError(
            f"{cfg.data.path}: data.angle_dims {bad} out of range for state_dim {state_dim}"
        )
    stats = _norm_stats(train_w, list(cfg.data.angle_dims))
    norm = Normalizer(stats).to(acc.device)
    token_grid = pool or (gh, gw)
    model_kwargs = _model_kwargs(cfg, robot_log, int(encoder.embed_dim), state_dim, token_grid)

    torch.manual_seed(cfg.seed)
    model = build_ac_predictor(cfg.model.name, **{**model_kwargs, "grid": tuple(token_grid)})
    objective = None
    if model.learned_latent:
        objective = LatentObjective(
            model,
            cfg.latent,
            cfg.train.rollout_steps,
            cfg.train.state_loss_weight,
            list(cfg.data.angle_dims),
            encoder=encoder.train().requires_grad_(True) if finetune else None,
            encoder_grid=(gh, gw),
            pool_grid=pool,
        )
    probe_kwargs = None
    probe = None
    probe_train = probe_val = None
    if probe_grid is not None:
        probe_train = ProbeFrames([episodes[i] for i in train_eps], probe_every)
        probe_val = ProbeFrames([episodes[i] for i in val_eps], probe_every) if val_eps else None
        probe_kwargs = {
            "num_tokens": probe_grid[0] * probe_grid[1],
            "embed_dim": int(encoder.embed_dim),
            "state_dim": int(state_dim),
            "dims": cfg.probe.dims,
            "angle_dims": list(
                cfg.data.angle_dims if cfg.probe.angle_dims is None else cfg.probe.angle_dims
            ),
            "hidden": cfg.probe.hidden,
            "depth": cfg.probe.depth,
        }
        probe = StateProbe(**probe_kwargs)
        frames = torch.linspace(0, len(probe_train) - 1, min(len(probe_train), 20000)).long()
        probe.set_stats(*probe_train.get(frames))
    trained = objective if objective is not None else model
    optimizer = cfg.optim.make(
        trained if probe is None else nn.ModuleList([trained, probe]),
        scaled=(encoder, cfg.latent.encoder_lr_scale) if finetune else None,
    )
    start_step = 0
    state = resume_state(out_dir, cfg.resume)
    if state is not None:
        if (probe is not None) != ("probe" in state):
            raise ValueError(
                f"{out_dir}/checkpoints: the checkpoint was saved with probe.enabled="
                f"{'probe' in state}, this run has probe.enabled={cfg.probe.enabled}; "
                "use the same setting or a new out_dir"
            )
        model.load_state_dict(state["predictor"])
        if objective is not None:  # the grounding head and, when fine-tuned, the encoder
            objective.load_state_dict(state["objective"])
        if probe is not None:
            probe.load_state_dict(state["probe"])
        optimizer.load_state_dict(state["optimizer"])
        start_step = int(state["step"])
    if acc.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out_dir / "config.yaml")
    # DDP wraps what trains: for latent_* models the whole objective, one forward per batch.
    inner = model
    prepared = acc.prepare(trained, *([probe] if probe is not None else []), optimizer)
    model, optimizer = prepared[0], prepared[-1]
    if probe is not None:
        probe = prepared[1]
    if objective is not None:
        objective, inner_objective = model, acc.unwrap_model(model)
    inner_probe = acc.unwrap_model(probe) if probe is not None else None

    metrics = (
        MetricsLogger(
            out_dir / "metrics.jsonl", resume_step=start_step if state is not None else None
        )
        if acc.is_main_process
        else None
    )
    bar = progress_bar(cfg.train.steps, start_step, "train-ac", disable=not acc.is_main_process)
    t_last, n_since = time.perf_counter(), 0
    loss_val = float("nan")
    for step in range(start_step, cfg.train.steps):
        torch.manual_seed(step_seed(cfg.seed, step, rank + 1))
        lr, _ = apply_schedules(optimizer, cfg.optim, step, cfg.train.steps)
        gen = torch.Generator().manual_seed(step_seed(cfg.seed, step, 0))
        global_rows = torch.randint(len(train_w), (cfg.train.batch_size,), generator=gen)
        if probe_train is not None:
            probe_rows = torch.randint(len(probe_train), (cfg.train.batch_size,), generator=gen)
        step_loss = torch.zeros((), device=acc.device)
        parts: dict[str, Tensor] = {}  # each loss term, averaged over the micro-batches
        for m in range(cfg.train.grad_accum):
            mine = torch.arange(micro) * world + rank + world * m * micro
            rows = global_rows[mine]
            z, a, s = train_w.get(rows)
            z, a, s = (
                z.to(acc.device),
                norm.actions(a.to(acc.device)),
                norm.states(s.to(acc.device)),
            )
            ctx = contextlib.ExitStack()
            if m < cfg.train.grad_accum - 1:  # all-reduce gradients on the last micro-batch
                for module in (model, probe) if probe is not None else (model,):
                    ctx.enter_context(acc.no_sync(module))
            with ctx, acc.autocast():
                if objective is not None:
                    loss, terms = objective(z, a, s, step_seed(cfg.seed, step, 7))
                else:
                    loss, terms = ac_losses(
                        model,
                        z,
                        a,
                        s,
                        cfg.train.rollout_steps,
                        cfg.train.state_loss_weight,
                        list(cfg.data.angle_dims),
                    )
                if probe is not None:
                    zp, sp = probe_train.get(probe_rows[mine])
                    # StateProbe.loss, called through the DDP-wrapped module
                    loss_probe = (
                        (probe(zp.to(acc.device)) - inner_probe.targets(sp.to(acc.device)))
                        .abs()
                        .mean()
                    )
                    loss = loss + cfg.probe.loss_weight * loss_probe
                    terms["loss_probe"] = loss_probe.detach()
                acc.backward(loss / cfg.train.grad_accum)
            step_loss += loss.detach() / cfg.train.grad_accum
            for k, v in terms.items():
                parts[k] = parts.get(k, 0.0) + v / cfg.train.grad_accum
        if cfg.optim.grad_clip > 0:
            acc.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

        done = step + 1
        n_since += cfg.train.batch_size
        loss_val = float(acc.reduce(step_loss, reduction="mean"))
        check_loss(loss_val, done)
        bar.update(1)
        record = None
        if done % cfg.train.log_every == 0 or done == cfg.train.steps:
            now = time.perf_counter()
            rate = n_since / max(now - t_last, 1e-9)
            t_last, n_since = now, 0
            bar.set_postfix(loss=f"{loss_val:.4f}", win_s=f"{rate:.0f}")
            record = {"step": done, "loss": loss_val, "lr": lr, "windows_per_s": rate}
            record.update({k: float(acc.reduce(v, reduction="mean")) for k, v in parts.items()})
        if val_w is not None and (done % cfg.train.val_every == 0 or done == cfg.train.steps):
            if objective is not None:
                inner_objective.eval()
                val = validate_latent(
                    inner_objective, val_w, norm, cfg.train.val_windows, acc.device
                )
                inner_objective.train()
                if val["val_latent_std"] < cfg.train.collapse_std:
                    log.warning(
                        "step %d: latents look collapsed (mean std %.4f < train.collapse_std "
                        "%.4f, effective rank %.1f)",
                        done,
                        val["val_latent_std"],
                        cfg.train.collapse_std,
                        val["val_latent_rank"],
                    )
            else:
                inner.eval()
                val = validate(inner, val_w, norm, cfg.train.val_windows, acc.device)
                inner.train()
            if inner_probe is not None and probe_val is not None:
                inner_probe.eval()
                val.update(validate_probe(inner_probe, probe_val, acc.device))
                inner_probe.train()
            record = record or {"step": done, "loss": loss_val, "lr": lr}
            record.update(val)
        if record is not None and metrics is not None:
            metrics.log(record)
        maybe_checkpoint(
            acc,
            cfg,
            done,
            lambda: {
                "predictor": inner.state_dict(),
                **({"objective": inner_objective.state_dict()} if objective is not None else {}),
                "optimizer": optimizer.state_dict(),
                **({"probe": inner_probe.state_dict()} if inner_probe is not None else {}),
            },
        )
    bar.close()
    if acc.is_main_process:
        _export_world_model(
            out_dir,
            encoder,
            inner,
            cfg,
            model_kwargs,
            stats,
            (h_img, w_img),
            (gh, gw),
            (inner_probe, probe_kwargs, probe_grid) if inner_probe is not None else None,
            recording_codec(robot_log),
        )
        log.info("train-ac done: %s (final loss %.4f)", out_dir, loss_val)
    acc.wait_for_everyone()
    return out_dir


def _export_world_model(
    out_dir: Path,
    encoder: nn.Module,
    predictor: nn.Module,
    cfg: TrainACConfig,
    model_kwargs: dict,
    stats: dict,
    image_size: tuple[int, int],
    encoder_grid: tuple[int, int],
    probe: tuple[nn.Module, dict, tuple[int, int]] | None = None,
    frame_codec: dict | None = None,
) -> None:
    """A self-contained world model: encoder, predictor (and probe) weights, ``world_model.json``.

    ``probe`` is ``(module, its kwargs, the token grid it reads)``.

    ``frame_codec`` (``vworld.data.lerobot_read.recording_codec``) lets planners pass outside
    images through the training videos' codec before encoding them."""
    from safetensors.torch import save_file

    src = Path(cfg.encoder)
    spec_file = _encoder_spec(cfg.encoder)
    if spec_file is not None:
        spec = json.loads(spec_file.read_text())
        export_encoder(out_dir, encoder, spec["model"], spec["kwargs"])
        encoder_ref = "encoder.safetensors"
    else:
        encoder_ref = str(src.resolve())

    def save_weights(module: nn.Module, name: str) -> None:
        state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
        tmp = out_dir / f".{name}.tmp"
        save_file(state, str(tmp))
        os.replace(tmp, out_dir / name)

    save_weights(predictor, "predictor.safetensors")
    if probe is not None:
        save_weights(probe[0], "probe.safetensors")
    meta = {
        "format": "vworld-world-model/1",
        "encoder": encoder_ref,
        "predictor": {"name": cfg.model.name, "kwargs": model_kwargs},
        "image_size": list(image_size),
        "encoder_grid": list(encoder_grid),
        "pool_grid": cfg.data.pool_grid,
        "frame_stride": cfg.data.frame_stride,
        "action_mode": cfg.data.action_mode,
        "angle_dims": list(cfg.data.angle_dims),
        "stats": stats,
        "frame_codec": frame_codec,
        # the state's last len(sim_state_dims) entries come from the log's sim state in
        # training and from images (the probe) when planning
        "sim_state_dims": list(cfg.data.sim_state_dims or []),
    }
    if probe is not None:
        meta["probe"] = {"weights": "probe.safetensors", "kwargs": probe[1], "grid": list(probe[2])}
    tmpj = out_dir / ".world_model.json.tmp"
    tmpj.write_text(json.dumps(meta, indent=2))
    os.replace(tmpj, out_dir / "world_model.json")
