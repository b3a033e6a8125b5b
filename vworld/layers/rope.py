"""3D rotary position embedding (RoPE) as in V-JEPA 2 (Assran et al., 2025).

The head dimension is split into three equal, even-sized chunks that are rotated by the
token's time, height and width index on the token grid; leftover channels (``head_dim``
not divisible by 6) pass through unrotated. RoPE is applied to queries and keys only.

Public API (used by the encoder, the masked predictor and the action-conditioned predictor):

- ``rope_axis_dim(head_dim) -> int``: channels rotated per axis, ``2 * ((head_dim // 3) // 2)``.
- ``rope_angles(pos, head_dim, theta=10000.0, variant="vjepa2") -> (cos, sin)``: ``pos`` is a
  float tensor ``(..., N, 3)`` of (time, height, width) positions (any token subset, any grid,
  fractional positions allowed); returns fp32 ``cos``/``sin`` of shape ``(..., N, 3 * a)`` with
  ``a = rope_axis_dim(head_dim)``. Pass ``(B, 1, N, 3)`` positions to get per-sample angles
  that broadcast over heads, or ``(N, 3)`` for angles shared by the batch.
- ``apply_rope(x, cos, sin) -> Tensor``: rotates the first ``3 * a`` channels of
  ``x: (B, heads, N, head_dim)`` and keeps the rest.
- ``RopeAngles``: the ``(cos, sin)`` pair type accepted by ``vworld.layers.attention``.

Frequency convention (must match official checkpoints): for an axis chunk of ``a`` channels,
``omega_j = 10000 ** (-j / (a / 2))`` for ``j < a / 2``; channels are rotated in interleaved
pairs ``(x[2i], x[2i+1]) -> (-x[2i+1], x[2i])``. With ``variant="vjepa2"`` (the official code
and released weights) channel ``c`` of the chunk uses frequency ``omega[c mod (a/2)]`` (the
frequency vector is tiled, so the two members of a pair can use different frequencies; see
facebookresearch/vjepa2 PR #15). That map is not an exact rotation, so ``q . k`` is only
approximately a function of relative position. ``variant="standard"`` gives each pair one
frequency, ``omega[c // 2]``, which is an exact rotation (relative-position invariant); use it
for new models that need not load official weights.
"""

from __future__ import annotations

import torch
from torch import Tensor

RopeAngles = tuple[Tensor, Tensor]

ROPE_VARIANTS = ("vjepa2", "standard")


def rope_axis_dim(head_dim: int) -> int:
    """Channels rotated per axis (time, height, width) for a head of ``head_dim`` channels.

    Args:
        head_dim: channels per attention head.
    """
    return 2 * ((head_dim // 3) // 2)


def rope_angles(
    pos: Tensor, head_dim: int, theta: float = 10000.0, variant: str = "vjepa2"
) -> RopeAngles:
    """Cosines and sines of the 3D RoPE angles for the given token positions.

    Args:
        pos: ``(..., N, 3)`` positions (time, height, width) in token-grid units.
        head_dim: channels per attention head.
        theta: base of the geometric frequency ladder.
        variant: ``"vjepa2"`` (official layout, tiled frequencies) or ``"standard"``.

    Returns:
        ``(cos, sin)``, each fp32 ``(..., N, 3 * rope_axis_dim(head_dim))``.
    """
    if variant not in ROPE_VARIANTS:
        raise ValueError(f"variant must be one of {ROPE_VARIANTS}, got {variant!r}")
    if pos.shape[-1] != 3:
        raise ValueError(f"pos must end in 3 (time, height, width), got {tuple(pos.shape)}")
    a = rope_axis_dim(head_dim)
    if a == 0:
        raise ValueError(f"head_dim={head_dim} is too small for 3D RoPE (needs >= 6)")
    half = a // 2
    omega = torch.arange(half, dtype=torch.float32, device=pos.device) / half
    omega = theta**-omega  # (a/2,)
    if variant == "vjepa2":
        omega = omega.repeat(2)  # (a,) tiled: channel c uses omega[c mod a/2]
    else:
        omega = omega.repeat_interleave(2)  # (a,) paired: channel c uses omega[c // 2]
    freqs = pos.float().unsqueeze(-1) * omega  # (..., N, 3, a)
    freqs = freqs.flatten(-2)  # (..., N, 3a) laid out [time | height | width]
    return freqs.cos(), freqs.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate the leading ``cos.shape[-1]`` channels of ``x`` by the precomputed angles.

    Args:
        x: ``(B, heads, N, head_dim)`` queries or keys.
        cos: angles' cosines broadcastable to ``(B, heads, N, r)``, ``r <= head_dim``.
        sin: angles' sines, same shape as ``cos``.
    """
    r = cos.shape[-1]
    x_rot, x_pass = x[..., :r], x[..., r:]
    pairs = x_rot.unflatten(-1, (-1, 2))  # (B, heads, N, r/2, 2)
    rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)  # (B, heads, N, r)
    out = x_rot * cos.to(x.dtype) + rotated * sin.to(x.dtype)
    if x_pass.shape[-1] == 0:
        return out
    return torch.cat((out, x_pass), dim=-1)
