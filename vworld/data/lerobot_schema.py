"""The columns of a LeRobot dataset: the parquet schema of the frame rows and the ``features``
block of ``meta/info.json`` as vworld writes them, and the checked readers of its metadata and
vector columns (each bad value a ``RobotLogError`` naming the file and the field)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from vworld.data.episodes import RobotLogError

__all__ = [
    "INDEX_COLUMNS",
    "frame_schema",
    "info_features",
    "load_json",
    "load_jsonl",
    "stats_to_numpy",
    "vector_column",
]

# per-frame bookkeeping columns, after the action and the states
INDEX_COLUMNS = (
    ("timestamp", "float32"),
    ("frame_index", "int64"),
    ("episode_index", "int64"),
    ("index", "int64"),
    ("task_index", "int64"),
)


def _vector_type(dtype: str, dim: int) -> pa.DataType:
    return pa.list_(pa.from_numpy_dtype(np.dtype(dtype)), dim)  # fixed-size list, like HF


def frame_schema(action_dim: int, state_dim: int, sim_state_dim: int | None) -> pa.Schema:
    """The parquet schema of the frame rows (``observation.sim_state`` only when given)."""
    fields = [
        pa.field("action", _vector_type("float32", action_dim)),
        pa.field("observation.state", _vector_type("float32", state_dim)),
    ]
    if sim_state_dim is not None:
        fields.append(pa.field("observation.sim_state", _vector_type("float64", sim_state_dim)))
    fields += [pa.field(key, pa.from_numpy_dtype(np.dtype(dt))) for key, dt in INDEX_COLUMNS]
    return pa.schema(fields)


def info_features(
    action_names: list[str],
    state_names: list[str],
    sim_state_dim: int | None,
    video_key: str,
    hw: tuple[int, int],
    video: dict,
) -> dict[str, dict]:
    """The ``features`` block of ``info.json``; ``video`` holds the codec, pix_fmt, fps, gop
    and crf the camera's videos were written with."""
    h, w = hw
    feats: dict[str, dict] = {
        "action": {"dtype": "float32", "shape": [len(action_names)], "names": action_names},
        "observation.state": {
            "dtype": "float32",
            "shape": [len(state_names)],
            "names": state_names,
        },
    }
    if sim_state_dim is not None:
        feats["observation.sim_state"] = {
            "dtype": "float64",
            "shape": [sim_state_dim],
            "names": None,
        }
    feats[video_key] = {
        "dtype": "video",
        "shape": [h, w, 3],
        "names": ["height", "width", "channels"],
        "info": {
            "video.height": h,
            "video.width": w,
            "video.codec": video["codec"],
            "video.pix_fmt": video["pix_fmt"],
            "video.fps": video["fps"],
            "video.channels": 3,
            "video.g": video["gop"],
            "video.crf": video["crf"],
            "video.is_depth_map": False,
            "has_audio": False,
        },
    }
    for key, dtype in INDEX_COLUMNS:
        feats[key] = {"dtype": dtype, "shape": [1], "names": None}
    return feats


def load_json(path: Path, field: str) -> dict:
    if not path.is_file():
        raise RobotLogError(path, field, "no such file")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RobotLogError(path, field, f"not valid JSON ({e})") from None


def load_jsonl(path: Path, field: str) -> list[dict]:
    if not path.is_file():
        raise RobotLogError(path, field, "no such file")
    rows = []
    for n, line in enumerate(path.read_text().splitlines()):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise RobotLogError(path, field, f"line {n + 1} is not valid JSON ({e})") from None
    return rows


def stats_to_numpy(raw: dict) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for feat, d in raw.items():
        if isinstance(d, dict):
            out[feat] = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in d.items()}
    return out


def vector_column(
    table: pa.Table, key: str, dim: int, dtype: type, path: Path, episode: int | None
) -> np.ndarray:
    """A list column as ``(N, dim)``; a width other than ``dim`` is a RobotLogError."""
    col = table.column(key).combine_chunks()
    n = len(col)
    if pa.types.is_fixed_size_list(col.type):
        width = col.type.list_size
    elif pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        lengths = np.unique(col.value_lengths().to_numpy(zero_copy_only=False))
        width = int(lengths[0]) if len(lengths) == 1 else -1
        if width < 0:
            raise RobotLogError(path, key, f"rows of different widths {lengths.tolist()}", episode)
    elif dim == 1 and (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
        return col.to_numpy(zero_copy_only=False).astype(dtype).reshape(n, 1)
    else:
        raise RobotLogError(path, key, f"column type {col.type}, expected a list of numbers")
    if width != dim:
        raise RobotLogError(
            path, key, f"width {width} differs from its shape [{dim}] in meta/info.json", episode
        )
    flat = col.flatten().to_numpy(zero_copy_only=False)
    return flat.astype(dtype, copy=False).reshape(n, dim)  # (N, dim)
