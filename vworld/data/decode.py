"""One small interface for decoding video frames: decord where it can, PyAV otherwise.

decord is the fast path for H.264/HEVC/VP9; it cannot decode AV1, LeRobot's default
codec, so files whose first video stream is AV1 (or that decord fails to open) go to
PyAV. The backend is chosen per file. Every failure is raised as ``VideoDecodeError``
naming the file, so callers decide whether to skip it (clip datasets) or stop (robot logs).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

__all__ = [
    "VIDEO_EXTENSIONS",
    "VideoDecodeError",
    "VideoReader",
    "available_backends",
    "open_video",
    "probe_codec",
]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")


class VideoDecodeError(RuntimeError):
    """A video file cannot be opened or decoded."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class VideoReader(Protocol):
    path: str
    backend: str
    num_frames: int
    fps: float
    height: int
    width: int

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at these indices as ``(T, H, W, 3)`` uint8 RGB, in the order asked."""
        ...

    def close(self) -> None: ...


def _has_decord() -> bool:
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True


def available_backends() -> list[str]:
    return (["decord"] if _has_decord() else []) + ["pyav"]


def probe_codec(path: str | os.PathLike) -> str:
    """The codec name of the first video stream (reads the header only)."""
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise VideoDecodeError(path, "no video stream")
            return c.streams.video[0].codec_context.codec.canonical_name
    except av.error.FFmpegError as e:
        raise VideoDecodeError(path, f"cannot open ({e})") from None


class DecordReader:
    backend = "decord"

    def __init__(self, path: str | os.PathLike, num_threads: int = 1):
        import decord

        self.path = str(path)
        try:
            self._vr = decord.VideoReader(self.path, ctx=decord.cpu(0), num_threads=num_threads)
        except (decord.DECORDError, RuntimeError) as e:
            raise VideoDecodeError(path, f"decord cannot open: {str(e).splitlines()[0]}") from None
        self.num_frames = len(self._vr)
        if self.num_frames <= 0:
            raise VideoDecodeError(path, "no frames")
        self.fps = float(self._vr.get_avg_fps())
        h, w = self._vr[0].shape[:2] if self.num_frames else (0, 0)
        self.height, self.width = int(h), int(w)

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        import decord

        idx = _check_indices(self.path, indices, self.num_frames)
        try:
            return self._vr.get_batch(idx).asnumpy()
        except (decord.DECORDError, RuntimeError) as e:
            raise VideoDecodeError(self.path, f"decode failed: {str(e).splitlines()[0]}") from None

    def close(self) -> None:
        self._vr = None


class PyAVReader:
    """Random access by seeking to the keyframe before the first wanted frame.

    Frame indices are computed from presentation timestamps at the stream's average rate,
    which is how LeRobot addresses frames in its (constant frame rate) videos.
    """

    backend = "pyav"

    def __init__(self, path: str | os.PathLike, num_threads: int = 1):
        import av

        self.path = str(path)
        try:
            self._container = av.open(self.path)
        except av.error.FFmpegError as e:
            raise VideoDecodeError(path, f"cannot open ({e})") from None
        if not self._container.streams.video:
            self._container.close()
            raise VideoDecodeError(path, "no video stream")
        try:
            self._init_stream(path, num_threads)
        except BaseException:
            self._container.close()
            raise

    def _init_stream(self, path: str | os.PathLike, num_threads: int) -> None:
        stream = self._container.streams.video[0]
        if num_threads != 1:
            stream.thread_type = "AUTO"
            stream.thread_count = num_threads
        self._stream = stream
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise VideoDecodeError(path, "unknown frame rate")
        self._rate = Fraction(rate)
        self.fps = float(self._rate)
        self._tb = Fraction(stream.time_base)
        self._start = stream.start_time or 0
        self.height, self.width = stream.codec_context.height, stream.codec_context.width
        n = stream.frames
        if not n and stream.duration:
            n = round(stream.duration * self._tb * self._rate)
        if not n:
            n = sum(1 for _ in self._decode_from(0))
        self.num_frames = int(n)
        if self.num_frames <= 0:
            raise VideoDecodeError(path, "no frames")

    def _index(self, frame) -> int:
        return round((frame.pts - self._start) * self._tb * self._rate)

    def _decode_from(self, first: int):
        import av

        try:
            if first > 0:
                ts = int(first / self._rate / self._tb) + self._start
                self._container.seek(ts, stream=self._stream, backward=True, any_frame=False)
            else:
                self._container.seek(self._start, stream=self._stream, backward=True)
            for frame in self._container.decode(self._stream):
                if frame.pts is None:
                    continue
                yield frame
        except av.error.FFmpegError as e:
            raise VideoDecodeError(self.path, f"decode failed ({e})") from None

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        idx = _check_indices(self.path, indices, self.num_frames)
        wanted = set(idx)
        last = max(idx)
        got: dict[int, np.ndarray] = {}
        for frame in self._decode_from(min(idx)):
            i = self._index(frame)
            if i in wanted and i not in got:
                got[i] = frame.to_ndarray(format="rgb24")
            if i >= last:
                break
        missing = wanted - got.keys()
        if missing:
            raise VideoDecodeError(
                self.path,
                f"frames {sorted(missing)[:5]} not found (video has {self.num_frames}); "
                "the file may be truncated",
            )
        return np.stack([got[i] for i in idx])

    def close(self) -> None:
        self._container.close()


def _check_indices(path: str, indices: Sequence[int], n: int) -> list[int]:
    idx = [int(i) for i in indices]
    if not idx:
        raise ValueError(f"{path}: no frame indices asked for")
    bad = [i for i in idx if i < 0 or i >= n]
    if bad:
        raise VideoDecodeError(path, f"frame index {bad[0]} out of range [0, {n})")
    return idx


_DECORD_CODECS = {"h264", "hevc", "mpeg4", "vp8", "vp9", "mjpeg", "mpeg2video", "mpeg1video"}


def open_video(path: str | os.PathLike, backend: str = "auto", num_threads: int = 1) -> VideoReader:
    """Open a video for random access.

    Args:
        path: the video file.
        backend: ``"auto"`` (decord for the codecs it reads, PyAV otherwise), ``"decord"``
            or ``"pyav"``.
        num_threads: decoding threads (1 suits DataLoader workers; 0 lets FFmpeg choose).
    Raises:
        VideoDecodeError: the file is missing, empty, not a video, or cannot be decoded.
    """
    p = Path(path)
    if not p.is_file():
        raise VideoDecodeError(p, "no such file")
    if p.stat().st_size == 0:
        raise VideoDecodeError(p, "empty file")
    if backend == "pyav":
        return PyAVReader(p, num_threads)
    if backend == "decord":
        return DecordReader(p, max(num_threads, 0))
    if backend != "auto":
        raise ValueError(f"unknown video backend '{backend}', expected auto, decord or pyav")
    codec = probe_codec(p)
    if codec in _DECORD_CODECS and _has_decord():
        try:
            return DecordReader(p, max(num_threads, 0))
        except VideoDecodeError as e:
            warnings.warn(f"{e}; falling back to PyAV", stacklevel=2)
    return PyAVReader(p, num_threads)
