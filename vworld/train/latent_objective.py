"""The training objective of a compact-latent world model (``vworld/models/latent_predictor.py``).

LeWM (Maes et al., 2026) and PLDM (Sobal et al., 2025) train the encoder's projection and the
predictor together from pixels and actions; the terms here are theirs:

- next-latent MSE under teacher forcing, and along a rollout of ``rollout_steps`` steps fed
  with the model's own predictions (the planning horizon, not only 2 steps);
- an L1 term on the predicted sensed state (V-JEPA 2-AC's state token), angles mod 2 pi;
- inverse dynamics: the action is predicted from ``(z_t, z_{t+1})`` (eb_jepa, PLDM), so the
  latent keeps what the action changes;
- optionally PLDM's temporal similarity: consecutive latents are pulled together, so the
  distance between latents tracks how many steps apart they are (what a planner's cost needs);
- a collapse regulariser on the latents: SIGReg (LeWM, LeJEPA) or variance-covariance
  (PLDM, eb_jepa). Without it, a projector trained through both sides of the prediction
  loss maps every frame to one point.

With ``encoder`` given, the objective also encodes the frames, so the V-JEPA-pretrained
encoder is fine-tuned on the robot log with the same loss ("fine-tuned on robot
trajectories"); the regulariser then guards the encoder too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vworld.encoders import encode_images
from vworld.layers.angles import wrap_angles
from vworld.layers.pooling import pool_tokens
from vworld.train.monitor import feature_stats
from vworld.train.objectives import sigreg, variance_covariance

__all__ = [
    "REGULARIZERS",
    "TARGETS",
    "LatentLossConfig",
    "LatentObjective",
    "recalibrate_batchnorm",
    "validate_latent",
]

REGULARIZERS = ("sigreg", "vc", "none")
TARGETS = ("online", "stopgrad")


@dataclass
class LatentLossConfig:
    """Loss terms of a ``latent_*`` world model (``train-ac latent.*``).

    Args:
        regularizer: ``sigreg``, ``vc`` (variance-covariance) or ``none``.
        reg_weight: its weight.
        sigreg_slices: random directions SIGReg draws per step.
        inverse_weight: weight of the inverse-dynamics term (0: off).
        smooth_weight: weight of PLDM's temporal-similarity term, the mean squared distance
            between consecutive latents: latents then move little per step, so their distance
            to the goal's tracks how far the goal is (0: off).
        ground_dims: sensed-state dims a linear head must read from the latent of the same
            frame (angles as sin/cos): the robot's own proprioception, which real robot logs
            hold, anchors the latent's geometry to the robot's configuration. Empty: off.
        ground_weight: weight of that term.
        recon_weight: weight of a token-reconstruction term: an MLP must rebuild the frame's
            (pooled, layer-normed, detached) encoder tokens from its latent, so the projector
            keeps what the encoder sees and not only what is easy to predict (0: off).
        recon_hidden: that MLP's hidden width.
        target: ``online`` (gradients through both sides of the prediction loss, as LeWM) or
            ``stopgrad`` (targets detached).
        finetune_encoder: train the encoder with the world model (frames are encoded every
            step instead of once).
        encoder_lr_scale: the encoder's learning rate over the world model's.
    """

    regularizer: str = "sigreg"
    reg_weight: float = 0.1
    sigreg_slices: int = 256
    inverse_weight: float = 1.0
    smooth_weight: float = 0.0
    ground_dims: list[int] = field(default_factory=list)
    ground_weight: float = 1.0
    recon_weight: float = 0.0
    recon_hidden: int = 512
    target: str = "online"
    finetune_encoder: bool = False
    encoder_lr_scale: float = 0.1

    def validate(self) -> None:
        if self.regularizer not in REGULARIZERS:
            raise ValueError(
                f"latent.regularizer: {self.regularizer!r}, expected one of {REGULARIZERS}"
            )
        if self.target not in TARGETS:
            raise ValueError(f"latent.target: {self.target!r}, expected one of {TARGETS}")
        names = (
            "reg_weight",
            "inverse_weight",
            "smooth_weight",
            "ground_weight",
            "recon_weight",
            "encoder_lr_scale",
        )
        for name in names:
            if getattr(self, name) < 0:
                raise ValueError(f"latent.{name}: expected >= 0, got {getattr(self, name)}")
        if self.sigreg_slices < 1:
            raise ValueError(f"latent.sigreg_slices: expected >= 1, got {self.sigreg_slices}")
        if self.recon_hidden < 1:
            raise ValueError(f"latent.recon_hidden: expected >= 1, got {self.recon_hidden}")


class LatentObjective(nn.Module):
    """The whole loss in one ``forward``, so DDP sees one call per micro-batch.

    Args:
        predictor: a :class:`vworld.models.latent_predictor.LatentPredictor`.
        cfg: :class:`LatentLossConfig`.
        rollout_steps: steps of the rollout term (<= T - 1).
        state_weight: weight of the state term.
        angle_dims: state dims compared modulo 2 pi.
        encoder: the encoder to fine-tune (frames in, not tokens), or None.
        encoder_grid: its token grid ``(h, w)`` (with ``encoder``).
        pool_grid: pool its tokens to this grid before the projector (with ``encoder``).
    """

    def __init__(
        self,
        predictor: nn.Module,
        cfg: LatentLossConfig,
        rollout_steps: int,
        state_weight: float = 1.0,
        angle_dims: list[int] | None = None,
        encoder: nn.Module | None = None,
        encoder_grid: tuple[int, int] | None = None,
        pool_grid: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.predictor = predictor
        self.encoder = encoder
        self.cfg = cfg
        self.rollout_steps = rollout_steps
        self.state_weight = state_weight
        self.angle_dims = list(angle_dims or [])
        self.encoder_grid, self.pool_grid = encoder_grid, pool_grid
        dims = list(cfg.ground_dims)
        bad = [d for d in dims if not 0 <= d < predictor.state_dim]
        if bad:
            raise ValueError(
                f"latent.ground_dims {bad} out of range for a state of {predictor.state_dim} dims"
            )
        self.ground_angles = [i for i, d in enumerate(dims) if d in self.angle_dims]
        width = len(dims) + len(self.ground_angles)  # angles as (sin, cos)
        self.ground = nn.Linear(predictor.latent_dim, width) if dims else None
        self.recon = None
        if cfg.recon_weight > 0:
            out = predictor.grid[0] * predictor.grid[1] * predictor.embed_dim
            self.recon = nn.Sequential(
                nn.Linear(predictor.latent_dim, cfg.recon_hidden),
                nn.GELU(),
                nn.Linear(cfg.recon_hidden, out),
            )

    def tokens(self, x: Tensor) -> Tensor:
        """Window tokens ``(B, T, Np, D)``: given, or encoded from uint8 frames ``(B, T, H, W, 3)``."""
        if self.encoder is None:
            return x
        b, t = x.shape[:2]
        tok = encode_images(self.encoder, x.reshape(b * t, *x.shape[2:]))  # (B*T, N, D)
        tok = pool_tokens(tok, self.encoder_grid, self.pool_grid)
        return tok.reshape(b, t, *tok.shape[1:])

    def forward(self, x: Tensor, a: Tensor, s: Tensor, seed: int = 0) -> tuple[Tensor, dict]:
        """Loss of windows: tokens or frames ``x``, actions ``a (B, T-1, A)``, states
        ``s (B, T, S)`` (normalised); ``seed`` draws SIGReg's directions (same on every process).
        """
        p, cfg = self.predictor, self.cfg
        tok = self.tokens(x)  # (B, T, Np, D)
        z = p.embed(tok)  # (B, T, d)
        target = z.detach() if cfg.target == "stopgrad" else z
        z_tf, s_tf = p(z[:, :-1], a, s[:, :-1])
        loss_tf = (z_tf - target[:, 1:]).square().mean()
        loss_s = self._state_err(s_tf, s[:, 1:])
        loss_roll = z.new_zeros(())
        if self.rollout_steps > 1:
            zr, sr = z[:, 0], s[:, 0]
            zs, ss = [], []
            for r in range(self.rollout_steps):
                zr, sr = p.step(zr, sr, a[:, r])
                zs.append(zr)
                ss.append(sr)
            steps = slice(1, self.rollout_steps + 1)
            loss_roll = (torch.stack(zs, 1) - target[:, steps]).square().mean()
            loss_s = loss_s + self._state_err(torch.stack(ss, 1), s[:, steps])
        total = loss_tf + loss_roll + self.state_weight * loss_s
        terms = {"loss_tf": loss_tf, "loss_rollout": loss_roll, "loss_state": loss_s}
        if cfg.inverse_weight > 0 and p.inverse_head is not None:
            loss_inv = (p.inverse(z[:, :-1], z[:, 1:]) - a).square().mean()
            total = total + cfg.inverse_weight * loss_inv
            terms["loss_inverse"] = loss_inv
        if cfg.smooth_weight > 0:
            loss_smooth = (z[:, 1:] - z[:, :-1]).square().mean()
            total = total + cfg.smooth_weight * loss_smooth
            terms["loss_smooth"] = loss_smooth
        if self.ground is not None:
            loss_ground = (self.ground(z) - self._ground_targets(s)).square().mean()
            total = total + cfg.ground_weight * loss_ground
            terms["loss_ground"] = loss_ground
        if self.recon is not None:
            want = F.layer_norm(tok.detach().float(), tok.shape[-1:]).flatten(2)
            loss_recon = (self.recon(z) - want).square().mean()
            total = total + cfg.recon_weight * loss_recon
            terms["loss_recon"] = loss_recon
        if cfg.regularizer != "none":
            flat = z.reshape(-1, z.shape[-1])
            if cfg.regularizer == "sigreg":
                gen = torch.Generator().manual_seed(seed)
                reg = sigreg(flat, num_slices=cfg.sigreg_slices, generator=gen)
            else:
                reg = variance_covariance(flat)
            total = total + cfg.reg_weight * reg
            terms["loss_reg"] = reg
        terms["latent_std"] = z.detach().reshape(-1, z.shape[-1]).std(0).mean()
        return total, {k: v.detach() for k, v in terms.items()}

    def _ground_targets(self, s: Tensor) -> Tensor:
        """The grounded dims of ``s``: angles as (sin, cos), the others as they are."""
        x = s[..., list(self.cfg.ground_dims)]
        if not self.ground_angles:
            return x
        keep = [i for i in range(x.shape[-1]) if i not in self.ground_angles]
        a = x[..., self.ground_angles]
        return torch.cat([x[..., keep], torch.sin(a), torch.cos(a)], -1)

    def _state_err(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.shape[-1] == 0:
            return pred.new_zeros(())
        return wrap_angles(pred - target, self.angle_dims).abs().mean()


@torch.no_grad()
def recalibrate_batchnorm(objective: nn.Module, batches: Iterable[Tensor]) -> int:
    """Recompute the running statistics of the predictor's BatchNorm layers (LeWM's projector)
    as their plain mean over ``batches`` at the current weights, as SWA's ``update_bn`` does.

    Training normalises each batch by its own statistics; evaluation and planning use the
    running ones, an average of the last ~10 batches (momentum 0.1) that lags the weights
    while the learning rate is high. Measured on swm/PushT: a model kept at step 3000 of 6000
    encoded held-out frames about one standard deviation off centre per latent dim, so its
    predictor saw inputs it was never trained on. Weights and the training itself are
    untouched (training normalises by batch statistics); every module keeps its mode.

    Args:
        objective: a :class:`LatentObjective`, or a saved ``JEPAWorldModel``: a module with a
            ``predictor`` (holding the BatchNorm layers) and ``tokens(x)``.
        batches: windows' tokens or frames ``(B, T, ...)`` as its ``tokens`` takes them.
    Returns:
        The number of BatchNorm layers recomputed (0: none, and nothing was read).
    """
    bns = [
        m for m in objective.predictor.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    if not bns:
        return 0
    modes = [(m, m.training) for m in objective.modules()]
    momenta = [bn.momentum for bn in bns]
    objective.eval()
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative mean over the batches
        bn.train()
    seen = 0
    try:
        for x in batches:
            objective.predictor.embed(objective.tokens(x))
            seen += 1
        if seen == 0:
            raise ValueError("recalibrate_batchnorm: no batches given")
    finally:
        for bn, momentum in zip(bns, momenta):
            bn.momentum = momentum
        for m, training in modes:
            m.train(training)
    return len(bns)


@torch.no_grad()
def validate_latent(
    objective: LatentObjective,
    windows: Any,
    norm: Any,
    max_windows: int,
    device: torch.device,
) -> dict[str, float]:
    """``windows``: the trainer's ``ACWindows``; ``norm``: its ``Normalizer``.

    A compact-latent model's rollout error 1..H steps ahead (MSE, beside copying the
    first latent), whether it can plan, and whether its latents collapse.

    ``val_action_sensitivity``: how far the H-step prediction moves when each window's
    actions are swapped for another window's, over how far the true latent moves in H steps
    (0: the model ignores the action). ``val_latent_std`` / ``val_latent_rank``: the
    latents' mean per-dim std and effective rank.
    """
    n = min(len(windows), max_windows)
    rows = torch.linspace(0, len(windows) - 1, n).long()
    x, a, s = windows.get(rows)
    a, s = norm.actions(a.to(device)), norm.states(s.to(device))
    p = objective.predictor
    z = torch.cat([p.embed(objective.tokens(x[i : i + 64].to(device))) for i in range(0, n, 64)])
    perm = torch.roll(torch.arange(n, device=device), 1)
    zp, _ = p.rollout(z[:, :1], s[:, :1], a[:, :0], a)  # (n, H, d)
    zq, _ = p.rollout(z[:, :1], s[:, :1], a[:, :0], a[perm])
    out: dict[str, float] = {}
    for h in range(1, zp.shape[1] + 1):
        out[f"val_l2_h{h}"] = float((zp[:, h - 1] - z[:, h]).square().mean())
        out[f"val_copy_h{h}"] = float((z[:, 0] - z[:, h]).square().mean())
    moved = (z[:, -1] - z[:, 0]).norm(dim=-1).mean()
    out["val_action_sensitivity"] = float((zp[:, -1] - zq[:, -1]).norm(dim=-1).mean() / moved)
    stats = feature_stats(z)
    out["val_latent_std"], out["val_latent_rank"] = stats["feat_std"], stats["feat_rank"]
    return out
