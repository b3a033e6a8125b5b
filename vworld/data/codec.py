"""The video codec settings vworld records with, shared by the LeRobot writer and reader.

A dataset's videos are H.264 or AV1, ``yuv420p`` or ``yuv444p`` (lossless with ``crf=0``),
without B-frames. ``recode_frames`` passes an image from outside a dataset through the same
settings, so a model sees the compression artifacts it was trained on;
``recorded_settings`` reads the settings back from a dataset's ``info.json`` feature entry.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = [
    "CODECS",
    "PIX_FMTS",
    "VideoFile",
    "add_stream",
    "available_codecs",
    "check_pix_fmt",
    "encoder_name",
    "recode_frames",
    "recorded_settings",
]

_ENCODERS = {"h264": ("libx264",), "av1": ("libsvtav1", "libaom-av1")}
CODECS = tuple(_ENCODERS)


def available_codecs() -> list[str]:
    """The ``codec`` values this PyAV build can write (``"h264"``, ``"av1"``)."""
    import av

    return [c for c, encs in _ENCODERS.items() if any(e in av.codecs_available for e in encs)]


PIX_FMTS = ("yuv420p", "yuv444p")
# speed settings per encoder
_ENCODER_SPEED = {
    "libx264": {"preset": "veryfast"},
    "libsvtav1": {"preset": "12"},
    "libaom-av1": {"cpu-used": "8"},
}


def check_pix_fmt(pix_fmt: str) -> None:
    if pix_fmt not in PIX_FMTS:
        raise ValueError(f"pix_fmt '{pix_fmt}': expected one of {PIX_FMTS}")


def add_stream(
    container, encoder: str, fps: int, height: int, width: int, pix_fmt: str, gop: int, crf: int
):
    """A video stream of ``container`` with vworld's encoder settings (no B-frames: decode
    order is presentation order)."""
    s = container.add_stream(encoder, rate=fps)
    s.width, s.height, s.pix_fmt = width, height, pix_fmt
    s.codec_context.gop_size = gop
    s.codec_context.max_b_frames = 0
    s.options = {"crf": str(crf), **_ENCODER_SPEED.get(encoder, {})}
    return s


def encoder_name(codec: str) -> str:
    import av

    if codec not in _ENCODERS:
        raise ValueError(f"codec '{codec}': expected one of {sorted(_ENCODERS)}")
    for enc in _ENCODERS[codec]:
        if enc in av.codecs_available:
            return enc
    raise ValueError(f"codec '{codec}': no encoder {_ENCODERS[codec]} in this PyAV build")


def recode_frames(
    frames: np.ndarray, codec: str = "h264", pix_fmt: str = "yuv420p", crf: int = 18
) -> np.ndarray:
    """``frames`` as a dataset written with these settings would decode them.

    Each frame is encoded on its own (an intra frame) in memory and decoded again, so an image
    from outside a dataset (a goal render, a live camera frame) carries the same compression
    artifacts as the frames a model was trained on. Frames of a lossless recording
    (``pix_fmt="yuv444p", crf=0``) come back exactly as the dataset holds them; for lossy ones
    the dataset's inter frames differ a little from an intra frame.

    Args:
        frames: ``(N, H, W, 3)`` uint8.
        codec, pix_fmt, crf: as ``vworld.data.lerobot_write.LeRobotWriter`` takes them.
    Returns:
        ``(N, H, W, 3)`` uint8.
    """
    import io

    import av

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"recode_frames: expected (N, H, W, 3) uint8, got {frames.shape}")
    check_pix_fmt(pix_fmt)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        h, w = frames.shape[1:3]
        stream = add_stream(container, encoder_name(codec), 1, h, w, pix_fmt, gop=1, crf=crf)
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        container.mux(stream.encode())
    buf.seek(0)
    with av.open(buf) as container:
        out = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if len(out) != len(frames):
        raise RuntimeError(f"recode_frames: {len(frames)} frames in, {len(out)} decoded")
    return np.stack(out)


class VideoFile:
    """One open mp4 that episodes are appended to; each episode starts on a keyframe, and
    presentation timestamps count frames at ``1/fps``."""

    def __init__(
        self,
        path: Path,
        encoder: str,
        fps: int,
        height: int,
        width: int,
        gop: int,
        crf: int,
        pix_fmt: str,
    ):
        import av

        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(path), "w")
        s = add_stream(self.container, encoder, fps, height, width, pix_fmt, gop, crf)
        s.time_base = Fraction(1, fps)
        self.stream = s
        self.num_frames = 0
        self.bytes = 0  # of packets muxed so far: the file on disk lags behind the muxer

    def add(self, frames: np.ndarray) -> tuple[int, int]:
        import av
        from av.video.frame import PictureType

        start = self.num_frames
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            f.pts = start + i
            if i == 0:
                f.pict_type = PictureType.I  # each episode decodes on its own
            for packet in self.stream.encode(f):
                self.bytes += packet.size
                self.container.mux(packet)
        self.num_frames += len(frames)
        return start, self.num_frames

    def size_mb(self) -> float:
        return self.bytes / 2**20

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


def recorded_settings(video_info: dict) -> dict | None:
    """``{"codec", "pix_fmt", "crf"}`` from a video feature's ``info`` entry of ``info.json``
    when it names all three (datasets written by ``vworld collect``), else None."""
    codec, pix_fmt, crf = (video_info.get(f"video.{k}") for k in ("codec", "pix_fmt", "crf"))
    if codec not in CODECS or pix_fmt not in PIX_FMTS or crf is None:
        return None
    return {"codec": codec, "pix_fmt": pix_fmt, "crf": int(crf)}
