"""Offscreen GL set-up shared by the envs.

MuJoCo picks its GL backend when it is imported; EGL works with no display (and, through
Mesa's llvmpipe, on a CPU). Mesa's llvmpipe and Triton (which PyTorch loads lazily, e.g. on a
first ``torch.optim`` step or activation checkpointing) each bring their own LLVM; loading
Triton after an EGL context exists crashes the process with a segmentation fault. Loading
Triton first, when it is installed, avoids the clash, so every renderer is made through
``make_renderer``.
"""

from __future__ import annotations

import importlib.util
import os

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco

_preloaded = False


def _preload_triton() -> None:
    global _preloaded
    if _preloaded:
        return
    _preloaded = True
    if os.environ.get("MUJOCO_GL") == "egl" and importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401


def make_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    """A ``mujoco.Renderer``, created after the LLVM clash above has been headed off."""
    _preload_triton()
    return mujoco.Renderer(model, height, width)
