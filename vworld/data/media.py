"""Finding and probing the media a video dataset is made of: videos, and images used as
static clips. A file that cannot be opened raises ``VideoDecodeError`` naming it."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from vworld.data.decode import VIDEO_EXTENSIONS, VideoDecodeError

__all__ = [
    "IMAGE_EXTENSIONS",
    "is_image",
    "list_media_files",
    "load_image",
    "probe_image",
    "probe_video",
    "read_path_list",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def read_path_list(list_file: Path) -> list[Path]:
    base = list_file.parent
    with list_file.open(newline="") as f:
        if list_file.suffix.lower() == ".csv":
            rows = [r for r in csv.reader(f) if r and r[0].strip()]
            col = 0
            if rows and "path" in [c.strip().lower() for c in rows[0]]:
                col = [c.strip().lower() for c in rows[0]].index("path")
                rows = rows[1:]
            names = [r[col].strip() for r in rows]
        else:
            names = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    return [p if p.is_absolute() else base / p for p in map(Path, names)]


def list_media_files(path: str | os.PathLike, images: bool = True) -> list[Path]:
    """Videos (and images if ``images``) under a folder, or the paths in a .txt/.csv list.

    Args:
        path: a folder or a list file.
        images: include ``.jpg``/``.jpeg``/``.png`` files when searching a folder.
    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is a file but not a .txt or .csv list.
    """
    p = Path(path)
    if p.is_dir():
        exts = VIDEO_EXTENSIONS + (IMAGE_EXTENSIONS if images else ())
        return sorted(f for f in p.rglob("*") if f.suffix.lower() in exts and f.is_file())
    if p.is_file():
        if p.suffix.lower() not in (".txt", ".csv"):
            raise ValueError(
                f"VideoDataConfig.path: {p} is a file but not a .txt or .csv list of paths"
            )
        return read_path_list(p)
    raise FileNotFoundError(f"VideoDataConfig.path: {p} does not exist")


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def probe_video(path: Path) -> tuple[int, float]:
    """Frame count (0 if the header does not say) and frame rate from the container header."""
    import av

    if not path.is_file():
        raise VideoDecodeError(path, "no such file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(path, "empty file")
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise VideoDecodeError(path, "no video stream")
            s = c.streams.video[0]
            if not s.codec_context.width:
                raise VideoDecodeError(path, "video stream has no frame size")
            n = s.frames
            if not n and s.duration and s.average_rate:
                n = round(s.duration * s.time_base * s.average_rate)
            return int(n or 0), float(s.average_rate or s.guessed_rate or 0)
    except av.error.FFmpegError as e:
        raise VideoDecodeError(path, f"cannot open ({e})") from None


def probe_image(path: Path) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.verify()
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
        raise VideoDecodeError(path, f"cannot open image ({e})") from None


def load_image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.array(im.convert("RGB"))  # (H, W, 3) uint8, writable
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
        raise VideoDecodeError(path, f"cannot decode image ({e})") from None
