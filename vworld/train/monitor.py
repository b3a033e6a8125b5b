"""Collapse watch and metric logging.

Joint-embedding methods can fail by collapse: every input maps to (nearly) the same feature.
The loss can still look fine, so we watch the target features themselves: their mean
per-dimension standard deviation across tokens and clips, and their effective rank (the
exponential of the entropy of the normalised singular values, Roy & Vetterli 2007).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = ["MetricsLogger", "effective_rank", "feature_stats"]


@torch.no_grad()
def effective_rank(x: Tensor, eps: float = 1e-12) -> float:
    """Effective rank of ``(N, D)`` features after centring; between 1 and min(N, D)."""
    x = x.float()
    x = x - x.mean(0, keepdim=True)
    s = torch.linalg.svdvals(x)
    total = s.sum()
    if total <= eps:
        return 0.0
    p = s / total
    p = p[p > eps]
    return float(math.exp(-(p * p.log()).sum().item()))


@torch.no_grad()
def feature_stats(h: Tensor, max_rows: int = 2048) -> dict[str, float]:
    """Mean per-dimension std and effective rank of features ``(..., D)``."""
    x = h.detach().reshape(-1, h.shape[-1]).float()
    if x.shape[0] > max_rows:
        idx = torch.linspace(0, x.shape[0] - 1, max_rows, device=x.device).long()
        x = x[idx]
    return {"feat_std": float(x.std(0).mean()), "feat_rank": effective_rank(x)}


class MetricsLogger:
    """Appends one JSON object per logged step to ``metrics.jsonl``.

    On resume, lines for steps after the resumed step are dropped so the file continues
    the curve the interrupted run would have drawn.
    """

    def __init__(self, path: str | os.PathLike, resume_step: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            self.path.write_text("")
        elif self.path.exists():
            kept = [
                line
                for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= resume_step
            ]
            self.path.write_text("".join(line + "\n" for line in kept))

    def log(self, record: dict[str, Any]) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
