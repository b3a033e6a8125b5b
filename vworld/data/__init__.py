"""Data: video clips for pretraining, decoding, transforms, samplers and synthetic videos."""

from vworld.data.sampler import ResumableSampler
from vworld.data.transforms import IMAGENET_MEAN, IMAGENET_STD, denormalize, normalize
from vworld.data.video import (
    NoReadableVideosError,
    SkippedFileWarning,
    VideoClipDataset,
    VideoDataConfig,
    build_video_loader,
    collate_clips,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "NoReadableVideosError",
    "ResumableSampler",
    "SkippedFileWarning",
    "VideoClipDataset",
    "VideoDataConfig",
    "build_video_loader",
    "collate_clips",
    "denormalize",
    "normalize",
]
