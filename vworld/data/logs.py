"""Open a robot log by what is at a path: a LeRobot dataset folder or a robomimic HDF5 file."""

from __future__ import annotations

import os
from pathlib import Path

from vworld.data.episodes import RobotLog, RobotLogError
from vworld.data.hdf5 import open_hdf5
from vworld.data.lerobot_read import open_lerobot

__all__ = ["open_robot_log"]


def open_robot_log(path: str | os.PathLike, **kwargs) -> RobotLog:
    """Open a robot log by what is at ``path``.

    A folder with ``meta/info.json`` is a LeRobot dataset (v3.0 or v2.1); a ``.hdf5``/``.h5``
    file is a robomimic-layout HDF5 file.

    Args:
        path: the dataset folder or HDF5 file.
        **kwargs: passed on to :func:`vworld.data.lerobot_read.open_lerobot` or
            :func:`vworld.data.hdf5.open_hdf5`.
    Raises:
        RobotLogError: nothing readable is at ``path``.
    """
    p = Path(path)
    if p.is_dir():
        if (p / "meta" / "info.json").is_file():
            return open_lerobot(p, **kwargs)
        raise RobotLogError(
            p / "meta" / "info.json", "info.json", "no such file: not a LeRobot dataset"
        )
    if p.is_file() and p.suffix.lower() in (".hdf5", ".h5", ".he5"):
        return open_hdf5(p, **kwargs)
    if not p.exists():
        raise RobotLogError(p, "path", "no such file or folder")
    raise RobotLogError(
        p, "path", "expected a LeRobot dataset folder (meta/info.json) or an .hdf5 file"
    )
