"""Transformer feed-forward network (two Linear layers with GELU), as in ViT and V-JEPA.

Public API: ``MLP(in_features, hidden_features, out_features=None, drop=0.0)``; parameter
names ``fc1``/``fc2`` match the official V-JEPA checkpoints. ``mlp_stack`` builds the deeper
plain MLPs of the small heads (state probe, proprioceptive dynamics and decoder).
"""

from __future__ import annotations

from torch import Tensor, nn


class MLP(nn.Module):
    """Linear -> GELU -> Linear.

    Args:
        in_features: input width.
        hidden_features: hidden width.
        out_features: output width (defaults to ``in_features``).
        drop: dropout after the activation and after ``fc2`` while training.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int | None = None,
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, out_features or in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def mlp_stack(din: int, hidden: int, dout: int, depth: int) -> nn.Sequential:
    """``depth`` hidden layers (Linear -> GELU) of width ``hidden``, then Linear to ``dout``.

    ``depth`` must be >= 1; parameters are named ``0.weight``, ``2.weight``, ... in order.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(din if i == 0 else hidden, hidden), nn.GELU()]
    layers.append(nn.Linear(hidden, dout))
    return nn.Sequential(*layers)
