"""Benchmark: KV-cached vs uncached planning rollouts of the V-JEPA 2-AC predictor.

Prints, for a named predictor at a planning batch (N candidates x H steps): rollout throughput
(sequence-steps per second), achieved FLOP/s against an fp32 matmul peak measured in the same
run, the cost of one imagined step with and without the cache, and peak memory
(``torch.cuda.max_memory_allocated`` on GPU; peak RSS via /proc/self/status VmHWM on CPU).

    python bench/bench_rollout.py                      # ac_micro, 8x8 and pooled 4x4 grids
    python bench/bench_rollout.py --config ac_vjepa2 --device cuda --n 100
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from vworld.models.ac_predictors import build_ac_predictor


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(
    fn: Callable[[], object], device: torch.device, repeats: int, warmup: bool = True
) -> float:
    """Median wall time in seconds over ``repeats`` calls (after one warm-up call)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def _flops(fn: Callable[[], object]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def matmul_peak(device: torch.device, size: int, repeats: int) -> float:
    """Measured fp32 matmul FLOP/s for square matrices of ``size``."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    t = _time(lambda: a @ b, device, repeats)
    return 2 * size**3 / t


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    clear = Path("/proc/self/clear_refs")
    if clear.exists():
        with contextlib.suppress(OSError):  # not writable: report the process-wide peak
            clear.write_text("5")  # resets VmHWM (peak RSS) of this process


def _proc_status_mib(field: str) -> float | None:
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return None


def _peak_mib(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda max allocated"
    hwm = _proc_status_mib("VmHWM")
    if hwm is not None:
        return hwm, "peak RSS (VmHWM)"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "peak RSS (ru_maxrss)"


def bench_one(args: argparse.Namespace, pool_grid: tuple[int, int] | None, peak: float) -> None:
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    overrides = {} if pool_grid is None else {"pool_grid": pool_grid}
    model = build_ac_predictor(args.config, **overrides).to(device=device, dtype=dtype).eval()
    n, h, tc = args.n, args.horizon, args.context
    z_ctx = torch.randn(1, tc, model.grid[0] * model.grid[1], model.embed_dim, device=device)
    s_ctx = torch.randn(1, tc, model.state_dim, device=device)
    a_ctx = torch.randn(1, tc - 1, model.action_dim, device=device)
    plan = torch.randn(n, h, model.action_dim, device=device)
    z_ctx, s_ctx, a_ctx, plan = (t.to(dtype) for t in (z_ctx, s_ctx, a_ctx, plan))
    # Inputs of the last uncached step: the whole sequence so far, for all N candidates.
    steps = tc + h - 1
    z_seq = torch.randn(n, steps, model.num_frame_tokens, model.embed_dim, device=device)
    a_seq = torch.randn(n, steps, model.action_dim, device=device)
    s_seq = torch.randn(n, steps, model.state_dim, device=device)
    z_seq, a_seq, s_seq = (t.to(dtype) for t in (z_seq, a_seq, s_seq))

    def cached():
        return model.rollout(z_ctx, s_ctx, a_ctx, plan)

    def uncached():
        return model.rollout(z_ctx, s_ctx, a_ctx, plan, use_cache=False)

    def last_step_uncached():
        return model(z_seq, a_seq, s_seq)

    reps = args.repeats
    with torch.inference_mode():
        f_cached, f_uncached = _flops(cached), _flops(uncached)  # also the warm-up calls
        base = _proc_status_mib("VmRSS") if device.type == "cpu" else None
        _reset_peak(device)
        t_cached = _time(cached, device, reps, warmup=False)
        mem_cached, mem_kind = _peak_mib(device)
        _reset_peak(device)
        t_uncached = _time(uncached, device, reps, warmup=False)
        mem_uncached, _ = _peak_mib(device)
        t_step_nc = _time(last_step_uncached, device, reps)
        # A cached step, averaged over steps 2..H: (rollout of H steps - rollout of 1) / (H-1).
        t_one = _time(lambda: model.rollout(z_ctx, s_ctx, a_ctx, plan[:, :1]), device, reps)
    t_step_c = max(t_cached - t_one, 0.0) / max(h - 1, 1)
    grid = "x".join(map(str, model.token_grid))
    print(
        f"\n{args.config} tokens/frame {grid} ({model.num_frame_tokens}), L={model.tokens_per_step}"
        f" tokens/step, N={n} H={h} Tc={tc}, {args.dtype} on {device.type}"
        + ("" if base is None else f", RSS before {base:.0f} MiB")
    )
    for name, t, f, mem in (
        ("cached  ", t_cached, f_cached, mem_cached),
        ("uncached", t_uncached, f_uncached, mem_uncached),
    ):
        print(
            f"  rollout {name}: {t * 1e3:8.1f} ms  {n * h / t:9.0f} seq-steps/s  "
            f"{f / 1e9:7.2f} GFLOP  {f / t / 1e9:7.1f} GFLOP/s = {100 * f / t / peak:5.1f}% of "
            f"matmul peak  {mem_kind} {mem:7.0f} MiB"
        )
    print(
        f"  one step: cached {t_step_c * 1e3:7.1f} ms (mean of steps 2..H), "
        f"uncached at step H (forward on {steps} steps) {t_step_nc * 1e3:7.1f} ms, "
        f"ratio {t_step_nc / max(t_step_c, 1e-9):5.1f}x; whole rollout speed-up "
        f"{t_uncached / t_cached:5.1f}x"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--config", default="ac_micro")
    p.add_argument("--n", type=int, default=300, help="candidate action sequences")
    p.add_argument("--horizon", type=int, default=5)
    p.add_argument("--context", type=int, default=2, help="context frames Tc")
    p.add_argument("--pool", default="none,4x4", help="comma list: none or HxW")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--peak-size", type=int, default=2048)
    args = p.parse_args()
    device = torch.device(args.device)
    peak = matmul_peak(device, args.peak_size, 5)
    print(
        f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"fp32 matmul peak ({args.peak_size}^3) {peak / 1e9:.1f} GFLOP/s"
    )
    for spec in args.pool.split(","):
        pool = None if spec == "none" else tuple(int(v) for v in spec.split("x"))
        bench_one(args, pool, peak)


if __name__ == "__main__":
    main()
