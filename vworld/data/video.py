"""Video clip dataset for self-supervised video pretraining, as in V-JEPA / V-JEPA 2.

A list of videos (and, optionally, images used as static clips, as V-JEPA 2 mixes
ImageNet into its video data) is probed once at construction; every item then decodes one
clip of ``frames_per_clip`` frames, ``frame_step`` apart (or resampled at ``fps``), from a
random start, applies one random-resized crop box and flip to the whole clip and returns
ImageNet-normalised floats ``(C, T, H, W)``.

Bad files are never silently replaced by another item: a file that cannot be opened is
dropped at construction, one that fails to decode later yields ``{"skipped": path}``;
both are warned about once per file and counted, and ``collate_clips`` drops the skipped
items from the batch and reports them. The augmentation of an item is a function of
``(seed, epoch, index)`` only, so a run resumed with ``ResumableSampler(start_index=...)``
sees the very same clips.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vworld.config import MISSING
from vworld.data.decode import VideoDecodeError, open_video
from vworld.data.media import (
    IMAGE_EXTENSIONS,
    is_image,
    list_media_files,
    load_image,
    probe_image,
    probe_video,
)
from vworld.data.sampler import ResumableSampler
from vworld.data.transforms import normalize, random_resized_crop_box, resize_crop_clip

__all__ = [
    "IMAGE_EXTENSIONS",
    "NoReadableVideosError",
    "SkippedFileWarning",
    "VideoClipDataset",
    "VideoDataConfig",
    "build_video_loader",
    "collate_clips",
    "list_media_files",
]


class NoReadableVideosError(RuntimeError):
    """None of the files listed by ``VideoDataConfig.path`` can be read."""


class SkippedFileWarning(UserWarning):
    """A video or image was skipped because it cannot be read."""


@dataclass
class VideoDataConfig:
    """Where the clips come from and how they are cut.

    Args:
        path: a folder (searched recursively for videos and images), or a ``.txt`` / ``.csv``
            file of paths, one per line (required; empty by default so that the config can
            be nested in a parent config's defaults) (a CSV may have a header with a ``path`` column;
            relative paths are relative to the list file's folder).
        frames_per_clip: frames per clip (T).
        frame_step: take every ``frame_step``-th frame; ignored when ``fps`` is set.
        fps: if set, sample frames at this rate (in the video's time) instead of a step.
        crop_size: output side in pixels.
        rrc_scale: random-resized crop area range, as a fraction of the frame.
        rrc_ratio: random-resized crop width/height range.
        hflip: flip clips left-right with probability 0.5.
        short_video: ``"pad"`` repeats the last frame when a clip is longer than the video;
            ``"skip"`` leaves such videos out.
        backend: decoder, ``"auto"`` | ``"decord"`` | ``"pyav"`` (see ``open_video``).
        image_repeat: use images found under ``path`` as static clips (the image repeated
            ``frames_per_clip`` times); ``False`` ignores image files.
        num_workers: DataLoader worker processes.
    """

    path: str = MISSING
    frames_per_clip: int = 16
    frame_step: int = 4
    fps: float | None = None
    crop_size: int = 256
    rrc_scale: tuple[float, float] = (0.3, 1.0)
    rrc_ratio: tuple[float, float] = (0.75, 1.35)
    hflip: bool = True
    short_video: str = "pad"
    backend: str = "auto"
    image_repeat: bool = True
    num_workers: int = 2

    def __post_init__(self) -> None:
        self._check_values()

    def validate(self) -> None:
        """Check every field, including that ``path`` is set (the default is empty)."""
        if not self.path or self.path == MISSING:
            raise ValueError("VideoDataConfig.path: expected a folder or a .txt/.csv list")
        self._check_values()

    def _check_values(self) -> None:
        if self.frames_per_clip < 1:
            raise ValueError(
                f"VideoDataConfig.frames_per_clip: expected >= 1, got {self.frames_per_clip}"
            )
        if self.frame_step < 1:
            raise ValueError(f"VideoDataConfig.frame_step: expected >= 1, got {self.frame_step}")
        if self.fps is not None and self.fps <= 0:
            raise ValueError(f"VideoDataConfig.fps: expected None or > 0, got {self.fps}")
        if self.short_video not in ("pad", "skip"):
            raise ValueError(
                f"VideoDataConfig.short_video: expected 'pad' or 'skip', got '{self.short_video}'"
            )
        if self.backend not in ("auto", "decord", "pyav"):
            raise ValueError(
                f"VideoDataConfig.backend: expected auto, decord or pyav, got '{self.backend}'"
            )
        if not 0 < self.rrc_scale[0] <= self.rrc_scale[1] <= 1:
            raise ValueError(
                f"VideoDataConfig.rrc_scale: expected 0 < lo <= hi <= 1, got {self.rrc_scale}"
            )
        if not 0 < self.rrc_ratio[0] <= self.rrc_ratio[1]:
            raise ValueError(
                f"VideoDataConfig.rrc_ratio: expected 0 < lo <= hi, got {self.rrc_ratio}"
            )


def _item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, epoch, index]))


class VideoClipDataset(Dataset):
    """Random clips from a folder or list of videos (and images as static clips).

    Args:
        cfg: the data settings.
        seed: the run's seed; an item's augmentation depends on ``(seed, epoch, index)``.
    Raises:
        NoReadableVideosError: no file under ``cfg.path`` can be opened.

    Items: ``dataset[i]`` or ``dataset[(epoch, i)]`` (what ``ResumableSampler`` yields) is
    ``{"clip": float (C, T, H, W), "index": i}``, or ``{"skipped": path, "index": i}`` when the
    file cannot be decoded.
    """

    max_open_readers = 8

    def __init__(self, cfg: VideoDataConfig, seed: int = 0):
        cfg.validate()
        self.cfg = cfg
        self.seed = seed
        self._warned: set[str] = set()
        found = list_media_files(cfg.path, images=cfg.image_repeat)
        self.paths: list[Path] = []
        self.is_image: list[bool] = []
        self.skipped_at_open: list[str] = []
        self.num_too_short = 0
        for f in found:
            try:
                if is_image(f):
                    if not cfg.image_repeat:
                        continue
                    probe_image(f)
                else:
                    n, fps = probe_video(f)
                    if cfg.short_video == "skip" and 0 < n < self.frames_needed(fps or 1.0):
                        self.num_too_short += 1
                        continue
            except VideoDecodeError as e:
                self.skipped_at_open.append(str(f))
                self._warn(str(f), e.reason)
                continue
            self.paths.append(f)
            self.is_image.append(is_image(f))
        if not self.paths:
            what = f"{len(found)} file(s) found" if found else "no video or image files found"
            raise NoReadableVideosError(
                f"VideoDataConfig.path: {cfg.path}: no readable videos ({what}, "
                f"{len(self.skipped_at_open)} unreadable, {self.num_too_short} shorter than a "
                f"clip with short_video='skip')"
            )
        self._bad: dict[int, str] = {}  # per process: files that failed to decode

    @property
    def num_skipped_at_open(self) -> int:
        """Files dropped at construction because they cannot be opened."""
        return len(self.skipped_at_open)

    def __len__(self) -> int:
        return len(self.paths)

    def _warn(self, path: str, reason: str) -> None:
        if path not in self._warned:
            self._warned.add(path)
            warnings.warn(f"skipping {path}: {reason}", SkippedFileWarning, stacklevel=3)

    def _step(self, video_fps: float) -> float:
        """Source frames between two clip frames."""
        if self.cfg.fps is None:
            return float(self.cfg.frame_step)
        return video_fps / self.cfg.fps

    def frames_needed(self, video_fps: float) -> int:
        """Source frames one clip spans, first to last frame inclusive."""
        return math.floor((self.cfg.frames_per_clip - 1) * self._step(video_fps) + 1e-6) + 1

    def clip_indices(
        self, num_frames: int, video_fps: float, rng: np.random.Generator
    ) -> np.ndarray | None:
        """Source frame indices ``(T,)`` of one clip from a random start.

        A clip longer than the video is padded with the last frame, or ``None`` is returned
        when ``short_video="skip"``.

        Args:
            num_frames: frames in the video.
            video_fps: the video's frame rate (used when ``cfg.fps`` is set).
            rng: the item's random generator.
        """
        need = self.frames_needed(video_fps)
        if need > num_frames and self.cfg.short_video == "skip":
            return None
        start = int(rng.integers(0, max(0, num_frames - need) + 1))
        offsets = np.floor(np.arange(self.cfg.frames_per_clip) * self._step(video_fps) + 1e-6)
        return np.minimum(start + offsets.astype(np.int64), num_frames - 1)

    def _decode(self, i: int, rng: np.random.Generator) -> np.ndarray | None:
        path = self.paths[i]
        if self.is_image[i]:
            return load_image(path)[None]  # (1, H, W, 3)
        reader = self._reader(i)
        idx = self.clip_indices(reader.num_frames, reader.fps, rng)
        if idx is None:
            return None
        uniq, inverse = np.unique(idx, return_inverse=True)
        frames = reader.get_frames(uniq.tolist())  # (T', H, W, 3)
        return frames[inverse]

    def _reader(self, i: int):
        """An open reader for video ``i``, kept in a small per-process LRU.

        Opening indexes the whole file, which for a long video (a LeRobot file holds every
        episode of a chunk) costs far more than decoding one clip.
        """
        cache = self.__dict__.setdefault("_readers", OrderedDict())
        reader = cache.pop(i, None)
        if reader is None:
            reader = open_video(self.paths[i], backend=self.cfg.backend)
        cache[i] = reader
        while len(cache) > self.max_open_readers:
            cache.popitem(last=False)[1].close()
        return reader

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_readers", None)  # open decoders do not cross process boundaries
        return state

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, i = (int(key[0]), int(key[1])) if isinstance(key, (tuple, list)) else (0, int(key))
        path = str(self.paths[i])
        if i in self._bad:
            return {"skipped": path, "index": i}
        rng = _item_rng(self.seed, epoch, i)
        try:
            frames = self._decode(i, rng)
        except VideoDecodeError as e:
            self._bad[i] = e.reason
            self._warn(path, e.reason)
            return {"skipped": path, "index": i}
        if frames is None:
            self._bad[i] = "shorter than one clip"
            self._warn(path, "shorter than one clip (short_video='skip')")
            return {"skipped": path, "index": i}
        cfg = self.cfg
        h, w = frames.shape[1:3]
        box = random_resized_crop_box(h, w, cfg.rrc_scale, cfg.rrc_ratio, rng)
        flip = bool(cfg.hflip and rng.random() < 0.5)
        clip = normalize(resize_crop_clip(frames, box, cfg.crop_size, hflip=flip))  # (3, T', S, S)
        if clip.shape[1] != cfg.frames_per_clip:  # a static image clip: (3, 1, S, S)
            clip = clip.expand(-1, cfg.frames_per_clip, -1, -1).contiguous()
        return {"clip": clip, "index": i}


def collate_clips(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack the clips of a batch, dropping skipped items and reporting them.

    Args:
        items: ``VideoClipDataset`` items.
    Returns:
        ``{"clips": (B, C, T, H, W) or None if every item was skipped, "indices": (B,)
        LongTensor, "num_skipped": int, "skipped": list[str]}``.
    """
    good = [it for it in items if "clip" in it]
    skipped = [it["skipped"] for it in items if "skipped" in it]
    return {
        "clips": torch.stack([it["clip"] for it in good]) if good else None,
        "indices": torch.tensor([it["index"] for it in good], dtype=torch.long),
        "num_skipped": len(skipped),
        "skipped": skipped,
    }


def build_video_loader(
    cfg: VideoDataConfig,
    batch_size: int,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    start_index: int = 0,
) -> DataLoader:
    """An endless, resumable DataLoader of clip batches (see ``collate_clips``).

    Args:
        cfg: the data settings.
        batch_size: items per batch per rank (skipped files make a batch smaller).
        seed: the run's seed (order and augmentation).
        rank: this process's rank.
        world_size: number of data-parallel processes.
        start_index: samples this rank already consumed (``step * batch_size`` on resume).
    """
    dataset = VideoClipDataset(cfg, seed=seed)
    sampler = ResumableSampler(
        len(dataset), seed, rank=rank, world_size=world_size, start_index=start_index
    )
    workers = cfg.num_workers
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate_clips,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=workers > 0,
        drop_last=True,
    )
