"""The fields of ``world_model.json``, read strictly.

A world-model folder (written by ``JEPAWorldModel.save``, read by ``load_world_model``, both
in ``vworld/world_model.py``) describes itself in ``world_model.json``: the encoder (saved
beside it, or the path of an official checkpoint), the predictor's registered name, keyword
arguments and weights file, the frame and token grids, the action block, the normalisation
statistics, the recording codec, the simulator columns of the state and the optional probe.
A missing, unknown or mistyped field is an error naming the file and the field.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vworld.data.windows import Normalizer

__all__ = ["FORMAT", "WorldModelFormatError", "check_meta", "read_world_model_json"]

FORMAT = "vworld-world-model/1"


class WorldModelFormatError(ValueError):
    """A ``world_model.json`` that does not hold what the format says: names file and field."""


_FIELDS = {
    "format": str,
    "encoder": str,
    "predictor": dict,
    "image_size": list,
    "encoder_grid": list,
    "pool_grid": (list, type(None)),
    "frame_stride": int,
    "action_mode": str,
    "angle_dims": list,
    "stats": dict,
    "frame_codec": (dict, type(None)),
    "sim_state_dims": list,
    "probe": (dict, type(None)),
}
_SUBFIELDS = {
    "predictor": {"name": str, "kwargs": dict, "weights": str},
    "probe": {"weights": str, "kwargs": dict, "grid": list},
    "stats": {k: list for k in Normalizer.KEYS},
}


def _check_fields(path: Path, obj: dict, fields: dict, prefix: str = "") -> None:
    missing = sorted(set(fields) - set(obj))
    unknown = sorted(set(obj) - set(fields))
    if missing or unknown:
        what = "missing " + ", ".join(prefix + k for k in missing) if missing else ""
        what += ("; " if missing and unknown else "") + (
            "unknown " + ", ".join(prefix + k for k in unknown) if unknown else ""
        )
        raise WorldModelFormatError(f"{path}: field(s) {what} (format {FORMAT})")
    for key, typ in fields.items():
        if not isinstance(obj[key], typ):
            raise WorldModelFormatError(
                f"{path}: field {prefix}{key} is {type(obj[key]).__name__}, expected "
                f"{typ.__name__ if isinstance(typ, type) else ' or '.join(t.__name__ for t in typ)}"
            )


def read_world_model_json(path: str | os.PathLike) -> dict[str, Any]:
    """``world_model.json`` checked strictly: a missing, unknown or mistyped field raises
    :class:`WorldModelFormatError` naming the file and the field."""
    path = Path(path)
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise WorldModelFormatError(f"{path}: not readable JSON ({e})") from None
    if not isinstance(meta, dict):
        raise WorldModelFormatError(f"{path}: expected a JSON object")
    return check_meta(meta, path)


def check_meta(meta: dict[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """``meta`` if it has every field of the format with its type and nothing else, else a
    :class:`WorldModelFormatError` naming ``path`` and the field."""
    path = Path(path)
    if meta.get("format") != FORMAT:
        raise WorldModelFormatError(
            f"{path}: field format is {meta.get('format')!r}, expected {FORMAT!r}"
        )
    _check_fields(path, meta, _FIELDS)
    for key, sub in _SUBFIELDS.items():
        if meta[key] is not None:
            _check_fields(path, meta[key], sub, prefix=f"{key}.")
    return meta
