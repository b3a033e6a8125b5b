"""V-JEPA / V-JEPA 2 video pretraining (Bardes et al. 2024; Assran et al. 2025).

A context encoder sees the clip minus large spatiotemporal blocks; a narrow predictor fills
in the features of the hidden tokens, given learnable mask tokens at their positions; the
loss is L1 against the layer-normed features of a target encoder that is an EMA of the
context encoder and gets no gradient. ``objective.kind=sigreg`` swaps the EMA target for
LeJEPA's SIGReg regulariser on the online encoder's features.

One function, ``pretrain(cfg)``, runs on a CPU, one GPU or many GPUs/nodes through
``accelerate`` (``accelerate launch -m vworld.cli pretrain ...``). ``train.batch_size`` is
the global batch per optimizer step: each of W processes with A accumulation steps gets
``batch_size / (W * A)`` clips per micro-step, the masks of a step are drawn for the global
batch from (seed, step) and each process takes its rows, so the loss curve does not depend
on how the batch is split. Every random choice is a function of (seed, step, sample), so a
killed run resumes on the curve it would have drawn.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vworld.config import MISSING, save_config
from vworld.data.video import VideoDataConfig, build_video_loader
from vworld.encoders import export_encoder, write_encoder_spec
from vworld.masks.multiblock import MaskConfig, MaskSampler
from vworld.models.registry import create_model, list_models, model_kind
from vworld.train.ema import ema_update, make_target
from vworld.train.monitor import MetricsLogger, feature_stats
from vworld.train.objectives import jepa_loss, sigreg
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
from vworld.train.schedules import momentum_at

__all__ = ["JEPAModel", "PretrainConfig", "build_models", "encoder_kwargs", "pretrain"]

log = logging.getLogger("vworld.pretrain")


def _vjepa2_masks() -> list[MaskConfig]:
    return [
        MaskConfig(spatial_scale=(0.15, 0.15), num_blocks=8),
        MaskConfig(spatial_scale=(0.7, 0.7), num_blocks=2),
    ]


@dataclass
class ModelConfig:
    """Which registered encoder and predictor to build, and the few knobs to change."""

    encoder: str = "vit_micro"
    predictor: str = "predictor_micro"
    pos_embed: str | None = None  # rope | sincos; None keeps the registered default
    drop_path_rate: float = 0.0
    grad_checkpointing: bool = False
    predictor_depth: int | None = None
    predictor_width: int | None = None
    predictor_heads: int | None = None


@dataclass
class ObjectiveConfig:
    kind: str = "ema"  # ema (V-JEPA) | sigreg (LeJEPA)
    loss_power: float = 1.0
    ema_start: float = 0.99925
    ema_end: float = 0.99925
    sigreg_weight: float = 0.05
    sigreg_slices: int = 256
    sigreg_rows: int = 2048  # tokens sampled per step for SIGReg


@dataclass
class TrainConfig:
    steps: int = 200
    batch_size: int = 8  # global clips per optimizer step
    grad_accum: int = 1
    precision: str = "auto"  # auto (bf16 on GPU, fp32 on CPU) | fp32 | bf16
    compile: bool = False
    log_every: int = 10
    ckpt_every: int = 100
    keep_every: int = 0  # also keep step_N.pt every N steps; 0 keeps only last.pt
    collapse_std: float = 0.02  # warn when the target features' mean std falls below


@dataclass
class PretrainConfig:
    out_dir: str = MISSING
    seed: int = 0
    resume: bool = True
    device: str = "auto"  # auto | cpu | cuda
    data: VideoDataConfig = field(default_factory=VideoDataConfig)
    masks: list[MaskConfig] = field(default_factory=_vjepa2_masks)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        if self.objective.kind not in ("ema", "sigreg"):
            raise ValueError(f"objective.kind: '{self.objective.kind}', expected ema or sigreg")
        if self.train.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"train.precision: '{self.train.precision}', expected auto|fp32|bf16")
        if self.train.steps <= 0 or self.train.batch_size <= 0:
            raise ValueError("train.steps and train.batch_size must be positive")
        if not self.masks:
            raise ValueError("masks: at least one mask generator is needed")
        name = self.model.encoder
        if name in list_models() and model_kind(name) == "image_encoder":
            raise ValueError(
                f"model.encoder: {name} is an image encoder that V-JEPA cannot pretrain (it "
                f"has no tokens to mask); train-ac trains it end to end: encoder=scratch:{name} "
                "latent.finetune_encoder=true"
            )


def _drop_none(**kw: object) -> dict:
    return {k: v for k, v in kw.items() if v is not None}


def encoder_kwargs(cfg: PretrainConfig) -> dict:
    """The keyword arguments ``cfg`` builds its registered encoder with."""
    m = cfg.model
    return _drop_none(
        img_size=cfg.data.crop_size,
        num_frames=cfg.data.frames_per_clip,
        pos_embed=m.pos_embed,
        drop_path_rate=m.drop_path_rate,
        grad_checkpointing=m.grad_checkpointing,
    )


def build_models(cfg: PretrainConfig) -> tuple[nn.Module, nn.Module]:
    """The context encoder and the predictor described by ``cfg`` (fresh weights)."""
    m = cfg.model
    encoder = create_model(m.encoder, **encoder_kwargs(cfg))
    predictor = create_model(
        m.predictor,
        **_drop_none(
            embed_dim=encoder.embed_dim,
            img_size=cfg.data.crop_size,
            num_frames=cfg.data.frames_per_clip,
            patch_size=encoder.patch_size,
            tubelet_size=encoder.tubelet_size,
            num_mask_tokens=len(cfg.masks),
            pos_embed=m.pos_embed,
            depth=m.predictor_depth,
            predictor_embed_dim=m.predictor_width,
            num_heads=m.predictor_heads,
            grad_checkpointing=m.grad_checkpointing,
        ),
    )
    return encoder, predictor


def _gather_tokens(x: Tensor, idx: Tensor) -> Tensor:
    # x (B, N, D), idx (B, K) -> (B, K, D)
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class JEPAModel(nn.Module):
    """Context encoder + predictor, one module so that DDP syncs both in one pass."""

    def __init__(self, encoder: nn.Module, predictor: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.predictor = predictor

    def forward(
        self,
        clips: Tensor,
        masks: list[tuple[Tensor, Tensor]],
        target: Tensor | None,
        loss_power: float = 1.0,
    ) -> tuple[Tensor, Tensor]:
        """Prediction loss over all mask generators.

        Args:
            clips: ``(B, C, T, H, W)``.
            masks: per generator, (context indices ``(B, Nc)``, target indices ``(B, Nt)``).
            target: layer-normed target features ``(B, N, D)``; None computes them with this
                encoder on the full clip (SIGReg: the online encoder is its own target).
        Returns:
            (loss, raw full-clip features or an empty tensor when ``target`` was given).
        """
        raw = clips.new_zeros(0)
        if target is None:
            raw = self.encoder(clips)  # (B, N, D), with gradient for SIGReg
            target = F.layer_norm(raw, (raw.shape[-1],)).detach()
        grid = self.encoder.grid(*clips.shape[2:])
        loss = clips.new_zeros(())
        for i, (ctx, tgt) in enumerate(masks):
            z = self.encoder(clips, masks=ctx)  # (B, Nc, D)
            pred = self.predictor(z, ctx, tgt, grid=grid, mask_index=i)  # (B, Nt, D)
            loss = loss + jepa_loss(pred.float(), _gather_tokens(target, tgt).float(), loss_power)
        return loss / len(masks), raw


def pretrain(cfg: PretrainConfig) -> Path:
    """Run (or resume) V-JEPA pretraining as described by ``cfg``; returns ``out_dir``."""
    cfg.validate()
    out_dir = Path(cfg.out_dir)
    acc = make_accelerator(cfg.device, cfg.train.precision)
    world, rank = acc.num_processes, acc.process_index
    micro = batch_split(cfg.train.batch_size, world, cfg.train.grad_accum)

    torch.manual_seed(cfg.seed)
    encoder, predictor = build_models(cfg)
    target = make_target(encoder) if cfg.objective.kind == "ema" else None
    model = JEPAModel(encoder, predictor)
    optimizer = cfg.optim.make(model)

    start_step = 0
    state = resume_state(out_dir, cfg.resume)
    if state is not None:
        model.encoder.load_state_dict(state["encoder"])
        model.predictor.load_state_dict(state["predictor"])
        if target is not None:
            target.load_state_dict(state["target_encoder"])
        optimizer.load_state_dict(state["optimizer"])
        start_step = int(state["step"])
    if acc.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out_dir / "config.yaml")
        write_encoder_spec(out_dir, cfg.model.encoder, _export_kwargs(cfg))

    if target is not None:
        target.to(acc.device)
    if cfg.train.compile:
        model = torch.compile(model)
        if target is not None:
            target = torch.compile(target)
    model, optimizer = acc.prepare(model, optimizer)
    inner: JEPAModel = acc.unwrap_model(model)
    if hasattr(inner, "_orig_mod"):
        inner = inner._orig_mod

    samples_per_step_rank = micro * cfg.train.grad_accum
    loader = build_video_loader(
        cfg.data,
        batch_size=micro,
        seed=cfg.seed,
        rank=rank,
        world_size=world,
        start_index=start_step * samples_per_step_rank,
    )
    skipped_at_open = int(getattr(loader.dataset, "num_skipped_at_open", 0))
    grid = inner.encoder.grid(cfg.data.frames_per_clip, cfg.data.crop_size, cfg.data.crop_size)
    mask_sampler = MaskSampler(grid, list(cfg.masks))

    metrics = (
        MetricsLogger(
            out_dir / "metrics.jsonl", resume_step=start_step if state is not None else None
        )
        if acc.is_main_process
        else None
    )
    bar = progress_bar(cfg.train.steps, start_step, "pretrain", disable=not acc.is_main_process)

    skipped_total = torch.zeros((), device=acc.device)
    data_iter = iter(loader)
    t_last, clips_since = time.perf_counter(), 0
    loss_val = float("nan")
    for step in range(start_step, cfg.train.steps):
        torch.manual_seed(step_seed(cfg.seed, step, rank))
        lr, wd = apply_schedules(optimizer, cfg.optim, step, cfg.train.steps)
        global_masks = mask_sampler.sample(cfg.train.batch_size, seed=step_seed(cfg.seed, step, 0))

        step_loss = torch.zeros((), device=acc.device)
        last_target: Tensor | None = None
        for m in range(cfg.train.grad_accum):
            batch = next(data_iter)
            clips = batch["clips"]  # None when every clip of the micro-batch was unreadable
            if clips is not None:
                clips = clips.to(acc.device, non_blocking=True)
            skipped_total += batch["num_skipped"]
            b = 0 if clips is None else clips.shape[0]
            rows = torch.arange(b) * world + rank + world * m * micro
            masks = [(c[rows].to(acc.device), t[rows].to(acc.device)) for c, t in global_masks]
            sync = m == cfg.train.grad_accum - 1
            ctx = acc.no_sync(model) if not sync else contextlib.nullcontext()
            with ctx, acc.autocast():
                if b == 0:  # every clip of this micro-batch was unreadable: keep DDP in step
                    loss = sum(p.sum() * 0.0 for p in model.parameters())
                    raw = None
                else:
                    tfeat = None
                    if target is not None:
                        with torch.no_grad():
                            h = target(clips)
                            tfeat = F.layer_norm(h, (h.shape[-1],))
                    loss, raw = model(clips, masks, tfeat, cfg.objective.loss_power)
                    if cfg.objective.kind == "sigreg":
                        last_target = F.layer_norm(raw, (raw.shape[-1],)).detach()
                        tokens = raw.reshape(-1, raw.shape[-1])
                        gen = torch.Generator().manual_seed(step_seed(cfg.seed, step, 0))
                        pick = torch.randperm(tokens.shape[0], generator=gen)
                        tokens = tokens[pick[: cfg.objective.sigreg_rows].to(tokens.device)]
                        reg = sigreg(tokens, cfg.objective.sigreg_slices, generator=gen)
                        w = cfg.objective.sigreg_weight
                        loss = (1 - w) * loss + w * reg
                    else:
                        last_target = tfeat
                acc.backward(loss / cfg.train.grad_accum)
            step_loss += loss.detach() / cfg.train.grad_accum
        if cfg.optim.grad_clip > 0:
            acc.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        momentum = momentum_at(
            step, cfg.train.steps, cfg.objective.ema_start, cfg.objective.ema_end
        )
        if target is not None:
            ema_update(target, inner.encoder, momentum)

        done = step + 1
        clips_since += cfg.train.batch_size
        loss_val = float(acc.reduce(step_loss, reduction="mean"))
        check_loss(loss_val, done)
        bar.update(1)
        if done % cfg.train.log_every == 0 or done == cfg.train.steps:
            now = time.perf_counter()
            rate = clips_since / max(now - t_last, 1e-9)
            t_last, clips_since = now, 0
            stats = feature_stats(last_target) if last_target is not None else {}
            skipped = int(acc.reduce(skipped_total.clone(), reduction="sum")) + skipped_at_open
            bar.set_postfix(loss=f"{loss_val:.4f}", clips_s=f"{rate:.1f}")
            if metrics is not None:
                rec = {"step": done, "loss": loss_val, "lr": lr, "wd": wd, "momentum": momentum}
                rec.update(clips_per_s=rate, skipped_videos=skipped, **stats)
                metrics.log(rec)
                if stats and stats["feat_std"] < cfg.train.collapse_std:
                    log.warning(
                        "step %d: target features look collapsed (mean std %.4f < %.4f, "
                        "effective rank %.2f)",
                        done,
                        stats["feat_std"],
                        cfg.train.collapse_std,
                        stats["feat_rank"],
                    )
        maybe_checkpoint(
            acc,
            cfg,
            done,
            lambda: {
                "encoder": inner.encoder.state_dict(),
                "predictor": inner.predictor.state_dict(),
                "optimizer": optimizer.state_dict(),
                **({"target_encoder": _unwrap(target).state_dict()} if target is not None else {}),
            },
        )
    bar.close()
    if acc.is_main_process:
        final = _unwrap(target) if target is not None else inner.encoder
        export_encoder(out_dir, final, cfg.model.encoder, _export_kwargs(cfg))
        log.info("pretraining done: %s (final loss %.4f)", out_dir, loss_val)
    acc.wait_for_everyone()
    return out_dir


def _export_kwargs(cfg: PretrainConfig) -> dict:
    """The encoder's arguments for inference: no gradient checkpointing, no drop path."""
    return {**encoder_kwargs(cfg), "grad_checkpointing": False, "drop_path_rate": 0.0}


def _unwrap(m: nn.Module) -> nn.Module:
    return getattr(m, "_orig_mod", m)
