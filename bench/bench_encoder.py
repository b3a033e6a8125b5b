"""Training-step throughput and model FLOP utilisation of the V-JEPA encoder + predictor.

One step is the V-JEPA 2 objective: the target encoder (no grad) encodes the whole clip, the
context encoder encodes the kept tokens (1 - mask_ratio), the predictor predicts the masked
tokens, L1 loss, backward. Model FLOPs are counted analytically (matmuls and attention, x3 for
the trained parts, x1 for the no-grad target pass) and compared with a matrix-multiply peak
measured in the same run on the same device and threads.

    python bench/bench_encoder.py --model vit_micro --predictor predictor_micro \
        --img-size 64 --frames 8 --batch 8 --device cpu

``--reference /path/to/vjepa2`` also times the official VisionTransformer (encoder forward +
backward on the context tokens, same weights) against vworld's, side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

import torch
import torch.nn.functional as F

from vworld.models import create_model


def block_flops(n_tokens: int, dim: int, hidden: int, depth: int) -> float:
    """Forward FLOPs of ``depth`` transformer blocks on ``n_tokens`` tokens (one sample)."""
    linear = 2 * n_tokens * (3 * dim * dim + dim * dim + 2 * dim * hidden)
    attention = 2 * 2 * n_tokens * n_tokens * dim  # q k^T and attn v
    return depth * (linear + attention)


def step_flops(enc, pred, grid, n_keep: int, batch: int) -> float:
    n = grid[0] * grid[1] * grid[2]
    hidden = enc.blocks[0].mlp.fc1.out_features
    patch = 2 * enc.in_chans * enc.tubelet_size * enc.patch_size**2 * enc.embed_dim
    target = block_flops(n, enc.embed_dim, hidden, enc.depth) + n * patch
    context = block_flops(n_keep, enc.embed_dim, hidden, enc.depth) + n * patch
    total = target + 3 * context
    if pred is not None:
        pd = pred.predictor_embed_dim
        ph = pred.predictor_blocks[0].mlp.fc1.out_features
        p = block_flops(n, pd, ph, pred.depth) + 2 * 2 * n * pd * enc.embed_dim
        total += 3 * p
    return batch * total


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device: torch.device, dtype: torch.dtype, size: int, reps: int) -> float:
    """Achieved FLOP/s of a large square matmul (the 'peak' for utilisation)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * size**3 * reps / (time.perf_counter() - t0)


def time_steps(step, steps: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="vit_micro")
    ap.add_argument("--predictor", default="predictor_micro", help="registry name or 'none'")
    ap.add_argument("--img-size", type=int, default=64)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--mask-ratio", type=float, default=0.9)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument(
        "--dtype", choices=["fp32", "bf16"], default=None, help="bf16 autocast (default on cuda)"
    )
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--reference", default=None, help="path to a facebookresearch/vjepa2 checkout")
    args = ap.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = args.dtype or ("bf16" if device.type == "cuda" else "fp32")
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if dtype == "bf16"
        else contextlib.nullcontext()
    )
    torch.manual_seed(0)
    enc = create_model(args.model, img_size=args.img_size, num_frames=args.frames).to(device)
    target = (
        create_model(args.model, img_size=args.img_size, num_frames=args.frames).to(device).eval()
    )
    target.load_state_dict(enc.state_dict())
    target.requires_grad_(False)
    pred = None
    if args.predictor != "none":
        pred = create_model(
            args.predictor,
            embed_dim=enc.embed_dim,
            img_size=args.img_size,
            num_frames=args.frames,
            patch_size=enc.patch_size,
            tubelet_size=enc.tubelet_size,
        ).to(device)
    grid = enc.grid(args.frames, args.img_size, args.img_size)
    n = grid[0] * grid[1] * grid[2]
    n_keep = max(1, round(n * (1 - args.mask_ratio)))
    x = torch.randn(args.batch, 3, args.frames, args.img_size, args.img_size, device=device)
    perm = torch.stack([torch.randperm(n, device=device) for _ in range(args.batch)])
    m_ctx, m_tgt = perm[:, :n_keep].contiguous(), perm[:, n_keep:].contiguous()
    params = list(enc.parameters()) + (list(pred.parameters()) if pred is not None else [])
    opt = torch.optim.AdamW(params, lr=1e-4)
    enc_fn = torch.compile(enc) if args.compile else enc
    tgt_fn = torch.compile(target) if args.compile else target
    pred_fn = torch.compile(pred) if args.compile and pred is not None else pred

    def step() -> None:
        with autocast:
            with torch.no_grad():
                h = F.layer_norm(tgt_fn(x), (enc.embed_dim,))
                h = torch.gather(h, 1, m_tgt.unsqueeze(-1).expand(-1, -1, h.shape[-1]))
            z = enc_fn(x, masks=m_ctx)
            if pred_fn is not None:
                loss = (pred_fn(z, m_ctx, m_tgt, grid=grid) - h).abs().mean()
            else:
                loss = z.float().pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    peak_dtype = torch.bfloat16 if dtype == "bf16" else torch.float32
    peak = matmul_peak(
        device,
        peak_dtype,
        4096 if device.type == "cuda" else 1024,
        50 if device.type == "cuda" else 8,
    )
    sec = time_steps(step, args.steps, args.warmup, device)
    flops = step_flops(enc, pred, grid, n_keep, args.batch)
    print(
        f"device={device} threads={torch.get_num_threads()} dtype={dtype} compile={args.compile} "
        f"model={args.model} predictor={args.predictor} clip={args.frames}x{args.img_size}px "
        f"tokens={n} context={n_keep} batch={args.batch}"
    )
    print(f"matmul peak ({peak_dtype}): {peak / 1e9:.1f} GFLOP/s")
    print(
        f"train step: {sec * 1e3:.1f} ms  {args.batch / sec:.2f} clips/s  "
        f"{flops / sec / 1e9:.1f} GFLOP/s  MFU {flops / sec / peak:.1%}"
    )
    if args.reference:
        compare_reference(args, enc, x, m_ctx, autocast, device)


def compare_reference(args, enc, x, m_ctx, autocast, device) -> None:
    """Encoder forward+backward on the context: official VisionTransformer vs vworld, same weights."""
    from functools import partial

    sys.path.insert(0, args.reference)
    from src.models.vision_transformer import VisionTransformer as RefViT

    ref = RefViT(
        img_size=(args.img_size, args.img_size),
        patch_size=enc.patch_size,
        num_frames=args.frames,
        tubelet_size=enc.tubelet_size,
        embed_dim=enc.embed_dim,
        depth=enc.depth,
        num_heads=enc.num_heads,
        mlp_ratio=enc.blocks[0].mlp.fc1.out_features / enc.embed_dim,
        qkv_bias=True,
        use_rope=enc.pos_embed_type == "rope",
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
    ).to(device)
    ref.load_state_dict(enc.state_dict(), strict=False)
    ref_fn = torch.compile(ref) if args.compile else ref
    enc_fn = torch.compile(enc) if args.compile else enc

    def run(model):
        def step() -> None:
            with autocast:
                out = model(x, masks=m_ctx)
            out.float().pow(2).mean().backward()

        return step

    t_ref = time_steps(run(ref_fn), args.steps, args.warmup, device)
    t_vw = time_steps(run(enc_fn), args.steps, args.warmup, device)
    print(
        f"encoder fwd+bwd on context: reference {t_ref * 1e3:.1f} ms  vworld {t_vw * 1e3:.1f} ms  "
        f"speed-up x{t_ref / t_vw:.2f}"
    )


if __name__ == "__main__":
    main()
