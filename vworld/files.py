"""Atomic file writes, and loading tensors without running code.

Every file vworld writes appears whole or not at all.

A writer writes to a temporary name in the destination's folder; the file is flushed and
fsynced, renamed over the destination, and the folder is fsynced so the rename itself
survives a crash. A run killed at any moment leaves the previous file or the new one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "UnsafeCheckpointError",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "load_tensors",
    "save_weights",
]


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; renamed over ``path`` on success.

    For writers that take a file name (safetensors, parquet, video muxers). The temporary
    file keeps ``path``'s suffix, since some writers choose a format by it. On an exception
    the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see the module docstring)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def save_weights(module: object, path: str | os.PathLike) -> Path:
    """A module's ``state_dict`` as safetensors (CPU, contiguous), written atomically."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))
    return Path(path)


class UnsafeCheckpointError(ValueError):
    """A ``.pt`` file that ``torch.load(weights_only=True)`` refuses (it needs pickled code)."""


def load_tensors(
    path: str | os.PathLike, mmap: bool = False, map_location: object = "cpu"
) -> object:
    """``torch.load(path, weights_only=True)``: no pickled code ever runs.

    Raises:
        UnsafeCheckpointError: naming the file and PyTorch's reason, for a file that holds
            more than tensors, numbers, strings and containers (or is not a checkpoint).
    """
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as e:  # UnpicklingError, RuntimeError, EOFError...: name the file
        reason = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
        raise UnsafeCheckpointError(
            f"{path}: not loadable as plain tensors (torch.load with weights_only=True "
            f"refused it: {reason}); vworld never runs pickled code: re-save its state dicts "
            "with torch.save, or as safetensors"
        ) from None
