"""vworld: video world models.

Pretrain a video encoder the V-JEPA way, train an action-conditioned predictor on robot
logs the V-JEPA 2-AC way, and plan toward goal images in latent space.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# MuJoCo picks its GL backend at import: offscreen EGL works with no display (and on CPUs).
os.environ.setdefault("MUJOCO_GL", "egl")

__version__ = "0.1.0"
__all__ = ["load_encoder", "load_world_model"]

if TYPE_CHECKING:
    from vworld.encoders import load_encoder
    from vworld.world_model import load_world_model


def __getattr__(name: str) -> Any:
    # Lazy, so that `import vworld` (and `vworld --help`) stays fast.
    if name == "load_encoder":
        from vworld.encoders import load_encoder

        return load_encoder
    if name == "load_world_model":
        from vworld.world_model import load_world_model

        return load_world_model
    raise AttributeError(f"module 'vworld' has no attribute {name!r}")
