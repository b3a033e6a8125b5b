"""3D RoPE: relative-position behaviour and the official channel layout."""

import torch

from vworld.layers.attention import Attention
from vworld.layers.pos_embed import full_grid_positions
from vworld.layers.rope import apply_rope, rope_angles, rope_axis_dim


def _scores(q, k, pos_q, pos_k, head_dim, variant):
    cq, sq = rope_angles(pos_q, head_dim, variant=variant)
    ck, sk = rope_angles(pos_k, head_dim, variant=variant)
    return apply_rope(q, cq, sq) @ apply_rope(k, ck, sk).transpose(-1, -2)


def test_standard_rope_depends_only_on_relative_position():
    torch.manual_seed(0)
    hd = 30
    q, k = torch.randn(1, 2, 5, hd), torch.randn(1, 2, 7, hd)
    pq, pk = torch.randint(0, 9, (5, 3)).float(), torch.randint(0, 9, (7, 3)).float()
    shift = torch.tensor([3.0, -2.0, 5.0])
    a = _scores(q, k, pq, pk, hd, "standard")
    b = _scores(q, k, pq + shift, pk + shift, hd, "standard")
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    # and it is not trivially constant: moving only the keys changes the scores
    c = _scores(q, k, pq, pk + shift, hd, "standard")
    assert (a - c).abs().max() > 1e-2


def test_standard_rope_preserves_norm_and_vjepa2_layout_is_tiled():
    torch.manual_seed(0)
    hd = 64  # 3 x 20 rotated channels, 4 pass through
    assert rope_axis_dim(hd) == 20
    x = torch.randn(2, 3, 6, hd)
    pos = torch.rand(6, 3) * 10
    cos, sin = rope_angles(pos, hd, variant="standard")
    torch.testing.assert_close(apply_rope(x, cos, sin).norm(dim=-1), x.norm(dim=-1))
    cos, sin = rope_angles(pos, hd, variant="vjepa2")
    assert cos.shape == (6, 60)
    y = apply_rope(x, cos, sin)
    torch.testing.assert_close(y[..., 60:], x[..., 60:])  # leftover channels untouched
    # official layout: chunk c of the time axis uses frequency omega[c mod 10], omega_0 = 1
    torch.testing.assert_close(cos[:, 0], torch.cos(pos[:, 0]))
    torch.testing.assert_close(cos[:, 10], torch.cos(pos[:, 0]))
    torch.testing.assert_close(cos[:, 20], torch.cos(pos[:, 1]))  # height chunk starts at 20
    # pairwise rotation: channel 0 mixes with channel 1
    expected0 = x[..., 0] * cos[:, 0] - x[..., 1] * sin[:, 0]
    torch.testing.assert_close(y[..., 0], expected0)


def test_attention_rope_shift_invariant_and_accepts_mask():
    torch.manual_seed(0)
    attn = Attention(48, num_heads=2).eval()
    x = torch.randn(2, 10, 48)
    pos = full_grid_positions((2, 5, 1))
    out = attn(x, rope=rope_angles(pos, 24, variant="standard"))
    out_shift = attn(x, rope=rope_angles(pos + 4.0, 24, variant="standard"))
    torch.testing.assert_close(out, out_shift, atol=1e-5, rtol=1e-5)
    # boolean mask (True = attend): a token that can see only itself returns its own value path
    mask = torch.eye(10, dtype=torch.bool)
    masked = attn(x, attn_mask=mask)
    qkv = attn.qkv(x).view(2, 10, 3, 2, 24)
    v = qkv[:, :, 2].reshape(2, 10, 48)
    torch.testing.assert_close(masked, attn.proj(v), atol=1e-5, rtol=1e-5)
    # per-sample angles (B, 1, N, r) equal shared angles when identical
    cos, sin = rope_angles(pos, 24)
    per = rope_angles(pos.expand(2, 1, 10, 3), 24)
    torch.testing.assert_close(attn(x, rope=(cos, sin)), attn(x, rope=per))
