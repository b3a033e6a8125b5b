"""Encode a robot log once with the frozen encoder and cache the features on disk.

V-JEPA 2-AC keeps the video encoder frozen, so every frame's tokens can be computed once:
training on a CPU is then spent on the predictor. The cache is keyed by a hash of the
encoder's weights and of the dataset's metadata files, so changing either re-encodes.

A state probe may read the tokens at another grid than the predictor (pooling to 4x4 keeps
what the predictor needs but loses where a 4-pixel ball is), so the same pass can keep every
``probe_every``-th frame's tokens at ``probe_grid`` as well.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from vworld.data.episodes import RobotLog
from vworld.encoders import encode_frames
from vworld.layers.pooling import pool_tokens
from vworld.train.checkpoint import atomic_save, load_checkpoint

__all__ = ["EncodedEpisode", "encode_log", "feature_cache_key", "load_frames"]

log = logging.getLogger("vworld.features")


@dataclass
class EncodedEpisode:
    z: Tensor  # (L, Np, D) float16 tokens (pooled if asked), layer-normed
    actions: np.ndarray  # (L, A) float32
    states: np.ndarray  # (L, S) float32
    index: int
    # Every probe_every-th frame's tokens at the probe's grid (None: not asked for).
    z_probe: Tensor | None = None  # (ceil(L / probe_every), Np_probe, D) float16


def _hash_files(h: hashlib._Hash, root: Path) -> None:
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix in (".json", ".jsonl", ".parquet", ".hdf5", ".h5")
    )
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}".encode())


def feature_cache_key(
    encoder: nn.Module,
    log_: RobotLog,
    pool_grid: tuple[int, int] | None,
    probe: tuple[tuple[int, int], int] | None = None,
) -> str:
    h = hashlib.sha256()
    for k, v in sorted(encoder.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().float().cpu().numpy().tobytes()[:4096])
        h.update(str(float(v.float().sum())).encode())
    root = Path(log_.path)
    if root.is_dir():
        _hash_files(h, root)
    elif root.is_file():
        st = root.stat()
        h.update(f"{root}:{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(repr(pool_grid).encode())
    if probe is not None:  # absent for caches written before the probe had its own grid
        h.update(repr(probe).encode())
    return h.hexdigest()[:20]


@torch.no_grad()
def encode_log(
    encoder: nn.Module,
    log_: RobotLog,
    grid: tuple[int, int],
    pool_grid: tuple[int, int] | None = None,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 256,
    show_progress: bool = True,
    probe_grid: tuple[int, int] | None = None,
    probe_every: int = 1,
) -> list[EncodedEpisode]:
    """Every episode's frames as layer-normed encoder tokens, cached under ``cache_dir``.

    Args:
        grid: the encoder's token grid of one frame.
        pool_grid: pool the tokens to this grid (``EncodedEpisode.z``).
        probe_grid: also keep tokens pooled to this grid (``EncodedEpisode.z_probe``).
        probe_every: ... for every ``probe_every``-th frame of each episode (from its first).
    """
    if probe_every < 1:
        raise ValueError(f"encode_log: probe_every must be >= 1, got {probe_every}")
    probe = None if probe_grid is None else (tuple(probe_grid), int(probe_every))
    path = None
    if cache_dir is not None:
        key = feature_cache_key(encoder, log_, pool_grid, probe)
        path = Path(cache_dir) / f"features-{key}.pt"
        if path.is_file():
            state = load_checkpoint(path)
            log.info("feature cache hit: %s", path)
            return [
                EncodedEpisode(
                    z=state["z"][i],
                    actions=state["actions"][i].numpy(),
                    states=state["states"][i].numpy(),
                    index=i,
                    z_probe=state["z_probe"][i] if "z_probe" in state else None,
                )
                for i in range(len(state["z"]))
            ]
    episodes = []
    bar = tqdm(range(log_.num_episodes), desc="encode", disable=not show_progress)
    for i in bar:
        ep = log_.load_episode(i, frames=True)
        z_full = encode_frames(encoder, torch.from_numpy(ep.frames), batch_size=batch_size)
        z = pool_tokens(z_full, grid, pool_grid)  # (L, Np', D)
        z_probe = None
        if probe is not None:
            z_probe = pool_tokens(z_full[::probe_every], grid, probe[0]).to(torch.float16).cpu()
        episodes.append(
            EncodedEpisode(
                z=z.to(torch.float16).cpu(),
                actions=ep.actions.astype(np.float32),
                states=ep.states.astype(np.float32),
                index=i,
                z_probe=z_probe,
            )
        )
    if path is not None:
        atomic_save(
            {
                "z": [e.z for e in episodes],
                "actions": [torch.from_numpy(e.actions) for e in episodes],
                "states": [torch.from_numpy(e.states) for e in episodes],
                **({"z_probe": [e.z_probe for e in episodes]} if probe is not None else {}),
            },
            path,
        )
    return episodes


def load_frames(log_: RobotLog, show_progress: bool = True) -> list[EncodedEpisode]:
    """Every episode with its decoded uint8 frames ``(L, H, W, 3)`` in place of tokens, for
    training that encodes the frames itself (encoder fine-tuning)."""
    episodes = []
    bar = tqdm(range(log_.num_episodes), desc="decode", disable=not show_progress)
    for i in bar:
        ep = log_.load_episode(i, frames=True)
        episodes.append(
            EncodedEpisode(
                z=torch.from_numpy(np.ascontiguousarray(ep.frames)),
                actions=ep.actions.astype(np.float32),
                states=ep.states.astype(np.float32),
                index=i,
            )
        )
    return episodes
