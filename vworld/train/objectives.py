"""Training objectives for JEPA pretraining.

- ``jepa_loss``: V-JEPA's regression of predicted features onto the layer-normed target
  features at the masked positions, ``mean(|z - h|^p) / p`` (p=1: L1, V-JEPA 2's choice).
- ``sigreg``: Sketched Isotropic Gaussian Regularisation from LeJEPA (Balestriero & LeCun,
  2025). Random 1-D projections of the embeddings are compared with a standard normal through
  the Epps-Pulley statistic on the empirical characteristic function; pushing every projection
  towards N(0, 1) forbids collapse without a target network, stop-gradient or EMA.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["jepa_loss", "sigreg", "variance_covariance"]


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
