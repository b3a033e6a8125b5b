"""Held-out measures of the action-conditioned predictor and the state probe.

``validate_tokens``: the latent L1 error 1..H steps ahead of a predictor over the encoder's
tokens, from one context frame, beside the copy-the-last-latent baseline (a model that does
no better has learned nothing about the dynamics). ``validate_probe``: the probe's absolute
error per probed state dim. The compact-latent models' measures (action sensitivity, latent
std and rank) are ``vworld.train.latent_objective.validate_latent``. ``validate_run``: what
training logs at each validation, whichever the model.
"""

from __future__ import annotations

import torch
from torch import nn

from vworld.data.windows import ACWindows, Normalizer, ProbeFrames
from vworld.layers.angles import wrap_angles
from vworld.models.state_probe import StateProbe
from vworld.train.latent_objective import LatentObjective, validate_latent

__all__ = ["validate_probe", "validate_run", "validate_tokens"]


@torch.no_grad()
def validate_tokens(
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


def validate_run(
    model: nn.Module,
    probe: StateProbe | None,
    windows: ACWindows,
    probe_frames: ProbeFrames | None,
    norm: Normalizer,
    max_windows: int,
    device: torch.device,
) -> dict[str, float]:
    """The held-out measures of ``model`` (a predictor over the encoder's tokens, or a
    :class:`LatentObjective` around a compact-latent one) and of the probe, if any. Each module
    is put in eval mode for the measure and back in training mode afterwards."""
    model.eval()
    if isinstance(model, LatentObjective):
        val = validate_latent(model, windows, norm, max_windows, device)
    else:
        val = validate_tokens(model, windows, norm, max_windows, device)
    model.train()
    if probe is not None and probe_frames is not None:
        probe.eval()
        val.update(validate_probe(probe, probe_frames, device))
        probe.train()
    return val
