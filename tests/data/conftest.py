"""Fixtures: tiny real videos (H.264 or MPEG-4, AV1 where PyAV has an encoder) and bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from vworld.data.synthetic import make_synthetic_frames, make_synthetic_videos, write_video


def _has_encoder(name: str) -> bool:
    if name not in av.codecs_available:
        return False
    try:
        av.codec.Codec(name, "w")
    except (ValueError, av.error.FFmpegError):
        return False
    return True


H264_CODEC = "h264" if _has_encoder("libx264") else "mpeg4"
AV1_CODEC = (
    "av1" if _has_encoder("libsvtav1") else "av1-aom" if _has_encoder("libaom-av1") else None
)


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory) -> Path:
    """Four 24-frame 64x64 videos at 10 fps."""
    d = tmp_path_factory.mktemp("videos")
    make_synthetic_videos(d, num_videos=4, frames=24, size=64, fps=10, codec=H264_CODEC)
    return d


@pytest.fixture(scope="session")
def h264_video(video_dir) -> Path:
    return sorted(video_dir.glob("*.mp4"))[0]


@pytest.fixture(scope="session")
def av1_video(tmp_path_factory) -> Path:
    if AV1_CODEC is None:
        pytest.skip("no AV1 encoder (libsvtav1 / libaom-av1) in PyAV")
    d = tmp_path_factory.mktemp("av1")
    frames = make_synthetic_frames(12, 64, rng=np.random.default_rng(1))
    return write_video(d / "clip_av1.mp4", frames, fps=10, codec=AV1_CODEC)


@pytest.fixture(scope="session")
def short_video(tmp_path_factory) -> Path:
    """A 5-frame video, shorter than the clips the tests ask for."""
    d = tmp_path_factory.mktemp("short")
    frames = make_synthetic_frames(5, 64, rng=np.random.default_rng(2))
    return write_video(d / "short.mp4", frames, fps=10, codec=H264_CODEC)


@pytest.fixture()
def bad_files(tmp_path, h264_video) -> dict[str, Path]:
    """A corrupt, a truncated, an empty and a non-video .mp4."""
    rng = np.random.default_rng(0)
    files = {
        "corrupt": tmp_path / "corrupt.mp4",
        "truncated": tmp_path / "truncated.mp4",
        "empty": tmp_path / "empty.mp4",
        "text": tmp_path / "notes.mp4",
    }
    files["corrupt"].write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    data = h264_video.read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["empty"].write_bytes(b"")
    files["text"].write_text("this is not a video\n" * 20)
    return files


@pytest.fixture()
def mixed_dir(tmp_path, video_dir, bad_files) -> Path:
    """Two good videos and the four bad files in one folder."""
    for p in sorted(video_dir.glob("*.mp4"))[:2]:
        shutil.copy(p, tmp_path / p.name)
    return tmp_path
