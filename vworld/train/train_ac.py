"""Train an action-conditioned predictor over a video encoder (V-JEPA 2-AC, 2025): the wiring.

The encoder's features of every frame are computed once (``vworld.train.features``), or,
when the encoder is fine-tuned, frames are encoded at every step. Windows of T frames
(``vworld.data.windows``) train the predictor with its objective
(``vworld.train.objectives.ac_losses`` for predictors over the encoder's tokens,
``vworld.train.latent_objective`` for compact-latent ones); with ``probe.enabled`` a state
probe learns beside it to read the state a frame shows. Held-out episodes are measured
(``vworld.train.ac_validate``) and the result is written as a world model
(``JEPAWorldModel.save``), which ``vworld plan`` loads.

Actions are aggregated over ``data.frame_stride`` env steps, so one model step is
``frame_stride`` env steps: plan with ``action_block = frame_stride``.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from pathlib import Path

import torch
from torch import Tensor, nn

from vworld.config import save_config
from vworld.data.episodes import RobotLog
from vworld.data.logs import open_robot_log
from vworld.data.windows import (
    ACWindows,
    Normalizer,
    ProbeFrames,
    append_sim_state,
    norm_stats,
    split_episodes,
)
from vworld.encoders import encoder_spec, load_encoder
from vworld.models.ac_predictors import build_ac_predictor, predictor_settings
from vworld.models.state_probe import StateProbe
from vworld.train.ac_config import TrainACConfig
from vworld.train.ac_validate import validate_run
from vworld.train.features import encode_log, load_frames
from vworld.train.latent_objective import LatentObjective, recalibrate_batchnorm
from vworld.train.monitor import MetricsLogger
from vworld.train.objectives import ProbeObjective, ac_losses
from vworld.train.runtime import (
    apply_schedules,
    batch_split,
    check_loss,
    make_accelerator,
    maybe_checkpoint,
    progress_bar,
    resume_state,
    step_seed,
)
from vworld.world_model import JEPAWorldModel

__all__ = ["TrainACConfig", "train_ac"]

log = logging.getLogger("vworld.train_ac")

# Batches of training windows whose mean sets the projector's BatchNorm statistics before the
# model is validated or written (a micro-batch of windows each, on every process)
_BN_BATCHES = 8


def _model_kwargs(
    cfg: TrainACConfig, robot_log: RobotLog, embed_dim: int, state_dim: int, grid: tuple
) -> dict:
    """The predictor's arguments: what the data fixes (its family's ``DATA_ARGS``), then the
    recipe's ``model.*`` settings."""
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
    wanted = predictor_settings(cfg.model.name).DATA_ARGS
    return {**{k: from_data[k] for k in wanted}, **cfg.model.settings()}


def _make_probe(
    cfg: TrainACConfig,
    train_eps: list,
    val_eps: list,
    probe_grid: tuple[int, int],
    probe_every: int,
    embed_dim: int,
    state_dim: int,
) -> tuple[StateProbe, dict, ProbeFrames, ProbeFrames | None]:
    """The state probe (``probe.*``) with its normalisation fitted on up to 20000 training
    frames, its constructor arguments (saved with the world model), and its frame sets."""
    probe_train = ProbeFrames(train_eps, probe_every)
    probe_val = ProbeFrames(val_eps, probe_every) if val_eps else None
    probe_kwargs = {
        "num_tokens": probe_grid[0] * probe_grid[1],
        "embed_dim": embed_dim,
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
    return probe, probe_kwargs, probe_train, probe_val


def _accumulate(
    cfg: TrainACConfig,
    acc,
    step: int,
    wrapped: list[nn.Module],
    objective: nn.Module | None,
    probe_objective: nn.Module | None,
    train_w: ACWindows,
    probe_train: ProbeFrames | None,
    norm: Normalizer,
    global_rows: Tensor,
    probe_rows: Tensor | None,
    micro: int,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Forward and backward this rank's share of one step's batch, ``train.grad_accum``
    micro-batches of ``micro`` windows; gradients are all-reduced on the last one only.
    ``wrapped[0]`` is the predictor, or the latent ``objective`` around it. Returns the step's
    loss and each loss term, averaged over the micro-batches."""
    world, rank, accum = acc.num_processes, acc.process_index, cfg.train.grad_accum
    step_loss = torch.zeros((), device=acc.device)
    parts: dict[str, Tensor] = {}
    for m in range(accum):
        mine = torch.arange(micro) * world + rank + world * m * micro
        z, a, s = train_w.get(global_rows[mine])
        z, a, s = (
            z.to(acc.device),
            norm.actions(a.to(acc.device)),
            norm.states(s.to(acc.device)),
        )
        ctx = contextlib.ExitStack()
        if m < accum - 1:
            for module in wrapped:
                ctx.enter_context(acc.no_sync(module))
        with ctx, acc.autocast():
            if objective is not None:
                loss, terms = objective(z, a, s, step_seed(cfg.seed, step, 7))
            else:
                loss, terms = ac_losses(
                    wrapped[0],
                    z,
                    a,
                    s,
                    cfg.train.rollout_steps,
                    cfg.train.state_loss_weight,
                    list(cfg.data.angle_dims),
                )
            if probe_objective is not None:
                assert probe_train is not None and probe_rows is not None
                zp, sp = probe_train.get(probe_rows[mine])
                loss_probe = probe_objective(zp.to(acc.device), sp.to(acc.device))
                loss = loss + cfg.probe.loss_weight * loss_probe
                terms["loss_probe"] = loss_probe.detach()
            acc.backward(loss / accum)
        step_loss += loss.detach() / accum
        for k, v in terms.items():
            parts[k] = parts.get(k, 0.0) + v / accum
    return step_loss, parts


def train_ac(cfg: TrainACConfig) -> Path:
    """Train (or resume) the action-conditioned predictor; returns ``out_dir``."""
    cfg.validate()
    out_dir = Path(cfg.out_dir)
    acc = make_accelerator(cfg.device, cfg.train.precision)
    world, rank = acc.num_processes, acc.process_index
    micro = batch_split(cfg.train.batch_size, world, cfg.train.grad_accum)

    torch.manual_seed(cfg.seed)  # an encoder built from scratch (scratch:<name>) starts here
    encoder = load_encoder(cfg.encoder, device=acc.device)
    finetune = cfg.latent.finetune_encoder
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
        episodes = append_sim_state(robot_log, episodes, list(cfg.data.sim_state_dims))
        image_dims = list(range(state_dim, state_dim + len(cfg.data.sim_state_dims)))
        state_dim += len(image_dims)
        probed = cfg.probe.dims if cfg.probe.dims is not None else list(range(state_dim))
        if not set(image_dims) <= set(probed):
            raise ValueError(
                f"data.sim_state_dims: the appended state dims {image_dims} must be read from "
                f"images at plan time; probe.dims={cfg.probe.dims} must cover them"
            )
    train_eps, val_eps = split_episodes(len(episodes), cfg.data.val_fraction)
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
    stats = norm_stats(train_w, list(cfg.data.angle_dims))
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
    probe = probe_kwargs = probe_objective = probe_train = probe_val = None
    if probe_grid is not None:
        train_eps_, val_eps_ = [episodes[i] for i in train_eps], [episodes[i] for i in val_eps]
        probe, probe_kwargs, probe_train, probe_val = _make_probe(
            cfg, train_eps_, val_eps_, probe_grid, probe_every, int(encoder.embed_dim), state_dim
        )
        probe_objective = ProbeObjective(probe)
    trained = objective if objective is not None else model
    optimizer = cfg.optim.make(
        trained if probe is None else nn.ModuleList([trained, probe_objective]),
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
    extra = [probe_objective] if probe_objective is not None else []
    prepared = acc.prepare(trained, *extra, optimizer)
    wrapped, optimizer = prepared[:-1], prepared[-1]  # the modules DDP synchronises
    model = wrapped[0]
    if probe_objective is not None:
        probe_objective = wrapped[1]
    inner_objective = None
    if objective is not None:
        objective, inner_objective = model, acc.unwrap_model(model)

    spec = encoder_spec(cfg.encoder)

    def export(dest: Path, predictor: nn.Module, state_probe: nn.Module | None, enc: nn.Module):
        """Write a plannable world model of these modules (which it freezes) into ``dest``."""
        return JEPAWorldModel(
            enc,
            predictor,
            (cfg.model.name, model_kwargs),
            spec if spec is not None else cfg.encoder,
            stats,
            (h_img, w_img),
            (gh, gw),
            pool,
            cfg.data.frame_stride,
            cfg.data.action_mode,
            list(cfg.data.angle_dims),
            robot_log.recording_codec(),
            list(cfg.data.sim_state_dims or []),
            state_probe,
            probe_kwargs,
            probe_grid,
        ).save(dest)

    def recalibrate() -> None:
        """The projector's BatchNorm statistics at the current weights, before the model is
        validated or written (``recalibrate_batchnorm``): the same training windows each time."""
        if inner_objective is None:
            return
        gen = torch.Generator().manual_seed(step_seed(cfg.seed, 0, 11))
        rows = [torch.randint(len(train_w), (micro,), generator=gen) for _ in range(_BN_BATCHES)]
        recalibrate_batchnorm(inner_objective, (train_w.get(r)[0].to(acc.device) for r in rows))

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
        probe_rows = None
        if probe_train is not None:
            probe_rows = torch.randint(len(probe_train), (cfg.train.batch_size,), generator=gen)
        step_loss, parts = _accumulate(
            cfg,
            acc,
            step,
            wrapped,
            objective,
            probe_objective,
            train_w,
            probe_train,
            norm,
            global_rows,
            probe_rows,
            micro,
        )
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
        keep = cfg.train.keep_every
        kept = keep > 0 and done % keep == 0 and done != cfg.train.steps
        validating = val_w is not None and (
            done % cfg.train.val_every == 0 or done == cfg.train.steps
        )
        if validating or kept or done == cfg.train.steps:
            recalibrate()
        if validating:
            val = validate_run(
                inner_objective if inner_objective is not None else inner,
                probe,
                val_w,
                probe_val,
                norm,
                cfg.train.val_windows,
                acc.device,
            )
            if "val_latent_std" in val and val["val_latent_std"] < cfg.train.collapse_std:
                log.warning(
                    "step %d: latents look collapsed (mean std %.4f < train.collapse_std "
                    "%.4f, effective rank %.1f)",
                    done,
                    val["val_latent_std"],
                    cfg.train.collapse_std,
                    val["val_latent_rank"],
                )
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
                **(
                    {"objective": inner_objective.state_dict()}
                    if inner_objective is not None
                    else {}
                ),
                "optimizer": optimizer.state_dict(),
                **({"probe": probe.state_dict()} if probe is not None else {}),
            },
        )
        if kept and acc.is_main_process:
            # A plannable world model at this step too (copies: the world model freezes what
            # it is given), so a learning curve can be planned checkpoint by checkpoint.
            kept_probe = copy.deepcopy(probe) if probe is not None else None
            kept_encoder = copy.deepcopy(encoder) if finetune else encoder
            export(
                out_dir / "steps" / f"step_{done}", copy.deepcopy(inner), kept_probe, kept_encoder
            )
    bar.close()
    if acc.is_main_process:
        export(out_dir, inner, probe, encoder)
        log.info("train-ac done: %s (final loss %.4f)", out_dir, loss_val)
    acc.wait_for_everyone()
    return out_dir
