"""Training objectives: JEPA pretraining and the action-conditioned predictor.

- ``jepa_loss``: V-JEPA's regression of predicted features onto the layer-normed target
  features at the masked positions, ``mean(|z - h|^p) / p`` (p=1: L1, V-JEPA 2's choice).
- ``sigreg``: Sketched Isotropic Gaussian Regularisation from LeJEPA (Balestriero & LeCun,
  2025). Random 1-D projections of the embeddings are compared with a standard normal through
  the Epps-Pulley statistic on the empirical characteristic function; pushing every projection
  towards N(0, 1) forbids collapse without a target network, stop-gradient or EMA.
- ``ac_losses``: V-JEPA 2-AC's two L1 terms over the encoder's tokens, teacher forcing over a
  window of T frames and a rollout fed with its own predictions (``z_3`` from ``z_1`` and the
  predicted ``z_2``, and so on), plus an L1 term on the predicted state so that rollouts need
  no simulator. The compact-latent models' objective is ``vworld.train.latent_objective``.
- :class:`ProbeObjective`: the state probe's L1 loss as a module, so that data-parallel
  training wraps and synchronises it like the predictor.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vworld.layers.angles import wrap_angles
from vworld.models.state_probe import StateProbe

__all__ = [
    "ProbeObjective",
    "ac_losses",
    "jepa_loss",
    "sigreg",
    "state_error",
    "variance_covariance",
]


def jepa_loss(pred: Tensor, target: Tensor, power: float = 1.0) -> Tensor:
    """``mean(|pred - target|^power) / power`` over all elements."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    diff = (pred - target).abs()
    if power != 1.0:
        diff = diff.pow(power)
    return diff.mean() / power


def sigreg(
    x: Tensor,
    num_slices: int = 256,
    num_knots: int = 17,
    t_max: float = 5.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Epps-Pulley normality statistic of random projections, averaged over slices.

    Args:
        x: embeddings ``(N, D)``; N samples (tokens or clips), D features.
        num_slices: random unit directions in R^D drawn per call.
        num_knots: integration points of the characteristic function on [-t_max, t_max].
        generator: seeds the directions (the same on every process keeps DDP consistent).
    Returns:
        A scalar; 0 for a standard normal sample of infinite size.
    """
    if x.dim() != 2:
        raise ValueError(f"sigreg expects (N, D) embeddings, got {tuple(x.shape)}")
    n, d = x.shape
    x = x.float()
    dirs = torch.randn(d, num_slices, generator=generator, device="cpu").to(x.device)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    proj = x @ dirs  # (N, M)
    t = torch.linspace(-t_max, t_max, num_knots, device=x.device)
    xt = proj.unsqueeze(-1) * t  # (N, M, K)
    ecf_re = torch.cos(xt).mean(0)  # (M, K)
    ecf_im = torch.sin(xt).mean(0)  # (M, K)
    gauss = torch.exp(-0.5 * t**2)  # characteristic function of N(0,1), also the weight
    err = ((ecf_re - gauss) ** 2 + ecf_im**2) * gauss  # (M, K)
    stat = torch.trapezoid(err, t, dim=-1) * n  # (M,)
    return stat.mean()


def variance_covariance(x: Tensor, eps: float = 1e-4) -> Tensor:
    """VICReg's variance and covariance terms (PLDM, eb_jepa): each feature's std is pushed
    above 1 (hinge) and the off-diagonal covariances towards 0.

    Args:
        x: embeddings ``(N, D)``.
    Returns:
        A scalar: ``mean(relu(1 - std)) + sum(offdiag(cov)^2) / D``.
    """
    if x.dim() != 2:
        raise ValueError(f"variance_covariance expects (N, D) embeddings, got {tuple(x.shape)}")
    n, d = x.shape
    x = x.float() - x.float().mean(0)
    std = (x.var(0) + eps).sqrt()
    var = torch.relu(1.0 - std).mean()
    cov = (x.T @ x) / max(n - 1, 1)  # (D, D)
    off = cov - torch.diag(torch.diag(cov))
    return var + off.square().sum() / d


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
        model: a predictor over the encoder's tokens (``ac_*``, ``proprio_*``).
        z: ``(B, T, Np, D)`` tokens; a: ``(B, T-1, A)``; s: ``(B, T, S)``.
        rollout_steps: steps of the rollout term (1: teacher forcing only).
        state_w: weight of the state term.
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


class ProbeObjective(nn.Module):
    """:meth:`StateProbe.loss` as a module's forward (what data-parallel training wraps)."""

    def __init__(self, probe: StateProbe) -> None:
        super().__init__()
        self.probe = probe

    def forward(self, z: Tensor, s: Tensor) -> Tensor:
        return self.probe.loss(z, s)
