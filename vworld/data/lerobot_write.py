"""Write robot episodes as a LeRobot v3.0 dataset (Cadene et al., LeRobot, 2024).

Layout, as LeRobot v3.0 writes it (``src/lerobot/datasets/utils.py``)::

    meta/info.json                               written last: its presence marks a complete set
    meta/stats.json                              per feature: min, max, mean, std, count, q01..q99
    meta/tasks.parquet                           index ``task`` (str), column ``task_index``
    meta/episodes/chunk-000/file-000.parquet     one row per episode (see below)
    data/chunk-000/file-000.parquet              one row per frame, one row group per episode
    videos/observation.images.<camera>/chunk-000/file-000.mp4   episodes concatenated

Each frame row holds ``action`` (float32), ``observation.state`` (float32),
``observation.sim_state`` (float64: LeRobot's features accept any numpy dtype, and MuJoCo's
``qpos``/``qvel`` need float64 to restore a scene exactly), ``timestamp`` (float32, seconds
from the episode start), ``frame_index``, ``episode_index``, ``index`` (global) and
``task_index`` (int64). Each episode row holds ``episode_index``, ``tasks``, ``length``,
``data/chunk_index``, ``data/file_index``, ``dataset_from_index``, ``dataset_to_index``,
``videos/<key>/{chunk_index,file_index,from_timestamp,to_timestamp}``,
``meta/episodes/{chunk_index,file_index}`` and the episode's stats as ``stats/<feature>/<stat>``.

Video: H.264 (libx264, yuv420p, CRF 18, no B-frames) by default; AV1 (libsvtav1) with
``codec="av1"``. The GOP is 2 frames, LeRobot's own default: a random frame costs at most one
extra decode, which LeRobot's loader needs since it seeks per item (a longer GOP gives smaller
files); whole-episode reads decode sequentially and do not care.
Every episode starts on a keyframe, so an episode's span decodes without touching the one
before it. Presentation timestamps are the frame index within the file at ``1/fps``, so
episode ``e`` occupies ``[from_timestamp, to_timestamp)`` exactly. With the default
``yuv420p`` decoded frames differ from the recorded ones mostly by chroma subsampling at object
edges; ``pix_fmt="yuv444p", crf=0`` (H.264 only) keeps full-resolution colour and is lossless
up to RGB/YUV rounding, for larger files.

Files roll over to a new ``file-NNN`` (and ``chunk-NNN`` every ``chunks_size`` files) when a
data or video file passes its size limit, as LeRobot does; with the defaults (100 MB of
parquet, 200 MB of video) small datasets stay in ``file-000``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vworld.data.codec import VideoFile, check_pix_fmt, encoder_name
from vworld.data.episodes import aggregate_stats, check_finite, feature_stats
from vworld.data.lerobot_schema import frame_schema, info_features
from vworld.files import atomic_write_text

__all__ = ["CODEBASE_VERSION", "LeRobotWriter"]

CODEBASE_VERSION = "v3.0"
CHUNK_PATTERN = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_PATTERN + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_PATTERN + ".mp4"
EPISODES_PATH = "meta/episodes/" + CHUNK_PATTERN + ".parquet"

_IMAGE_STATS_FRAMES = 32  # frames per episode sampled for the pixel stats


def _next_file(chunk: int, file: int, chunks_size: int) -> tuple[int, int]:
    return (chunk + 1, 0) if file == chunks_size - 1 else (chunk, file + 1)


def _atomic_json(obj: dict, path: Path) -> None:
    atomic_write_text(path, json.dumps(obj, indent=4))


def _jsonable(stats: dict[str, dict[str, np.ndarray]]) -> dict:
    return {k: {s: np.asarray(v).tolist() for s, v in d.items()} for k, d in stats.items()}


class LeRobotWriter:
    """Write episodes (frames, actions, states, simulator states, task) as LeRobot v3.0.

    Episodes are streamed to disk as they arrive (video encoded, parquet row group
    written); :meth:`finalize` writes the metadata, ``meta/info.json`` last and atomically,
    so an interrupted run never leaves a folder that looks like a complete dataset.

    Args:
        root: the dataset folder; must not exist unless ``overwrite``.
        fps: frames per second of the recording.
        action_dim: width of ``action``.
        state_dim: width of ``observation.state``.
        sim_state_dim: width of ``observation.sim_state`` (float64), or None for none.
        camera: camera name; frames go to ``observation.images.<camera>``.
        codec: ``"h264"`` (default) or ``"av1"``.
        robot_type: stored in ``info.json``.
        action_names: names of the action dimensions (default ``a0, a1, ...``).
        state_names: names of the state dimensions (default ``s0, s1, ...``).
        gop: keyframe interval in frames.
        crf: encoder quality (lower is better and larger).
        pix_fmt: ``"yuv420p"`` (default; what every player and LeRobot's own encoder use) or
            ``"yuv444p"`` (H.264 only): full-resolution colour. With ``crf=0`` it is lossless
            up to the RGB/YUV rounding (at most 2 of 255 on rendered frames), which keeps
            small coloured objects sharp: yuv420p smears a 4-pixel ball's colour over 2x2
            blocks, and probes trained on such frames misread clean goal renders.
        chunks_size: files per ``chunk-NNN`` folder.
        data_files_size_in_mb: roll the data parquet to a new file past this size.
        video_files_size_in_mb: roll the mp4 to a new file past this size.
        overwrite: delete an existing ``root`` first.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        fps: int,
        action_dim: int,
        state_dim: int,
        sim_state_dim: int | None = None,
        camera: str = "top",
        codec: str = "h264",
        robot_type: str | None = None,
        action_names: list[str] | None = None,
        state_names: list[str] | None = None,
        gop: int = 2,
        crf: int = 18,
        pix_fmt: str = "yuv420p",
        chunks_size: int = 1000,
        data_files_size_in_mb: float = 100,
        video_files_size_in_mb: float = 200,
        overwrite: bool = False,
    ):
        self.root = Path(root)
        if self.root.exists():
            if not overwrite:
                raise FileExistsError(f"{self.root}: already exists (pass overwrite=True)")
            shutil.rmtree(self.root)
        if int(fps) != fps or fps <= 0:
            raise ValueError(f"fps: expected a positive integer (LeRobot stores int), got {fps}")
        self.fps = int(fps)
        self.action_dim, self.state_dim = int(action_dim), int(state_dim)
        self.sim_state_dim = None if sim_state_dim is None else int(sim_state_dim)
        self.video_key = f"observation.images.{camera}"
        self.codec = codec
        self._encoder = encoder_name(codec)
        self.robot_type = robot_type
        self.action_names = action_names or [f"a{i}" for i in range(self.action_dim)]
        self.state_names = state_names or [f"s{i}" for i in range(self.state_dim)]
        if len(self.action_names) != self.action_dim or len(self.state_names) != self.state_dim:
            raise ValueError("action_names/state_names: lengths must match action_dim/state_dim")
        self.gop, self.crf = int(gop), int(crf)
        check_pix_fmt(pix_fmt)
        if pix_fmt != "yuv420p" and self._encoder != "libx264":
            raise ValueError(
                f"pix_fmt '{pix_fmt}': only with codec 'h264' (AV1 here is {self._encoder}, 4:2:0)"
            )
        self.pix_fmt = pix_fmt
        self.chunks_size = int(chunks_size)
        self.data_files_size_in_mb = data_files_size_in_mb
        self.video_files_size_in_mb = video_files_size_in_mb
        self.root.mkdir(parents=True)

        self._hw: tuple[int, int] | None = None
        self._tasks: dict[str, int] = {}
        self._episodes: list[dict] = []
        self._ep_stats: list[dict[str, dict[str, np.ndarray]]] = []
        self._total_frames = 0
        self._data_loc = (0, 0)
        self._data_writer: pq.ParquetWriter | None = None
        self._data_path: Path | None = None
        self._video_loc = (0, 0)
        self._video: VideoFile | None = None
        self._finalized = False
        self._schema = frame_schema(self.action_dim, self.state_dim, self.sim_state_dim)

    def features(self) -> dict[str, dict]:
        """The ``features`` block of ``info.json``."""
        video = {
            "codec": self.codec,
            "pix_fmt": self.pix_fmt,
            "fps": self.fps,
            "gop": self.gop,
            "crf": self.crf,
        }
        names = (self.action_names, self.state_names)
        return info_features(*names, self.sim_state_dim, self.video_key, self._hw or (0, 0), video)

    # -- episodes -------------------------------------------------------------------------
    def _check(self, name: str, x: np.ndarray, width: int | None, length: int) -> None:
        where = f"{self.root} episode {len(self._episodes)}"
        if x.ndim != 2 or x.shape[0] != length or (width is not None and x.shape[1] != width):
            raise ValueError(
                f"{where}: {name} has shape {x.shape}, expected ({length}, {width}) "
                "(one row per frame)"
            )
        check_finite(x, self.root, name, len(self._episodes))

    def add_episode(
        self,
        frames: np.ndarray,
        actions: np.ndarray,
        states: np.ndarray,
        sim_states: np.ndarray | None,
        task: str,
    ) -> int:
        """Append one episode and return its index.

        Args:
            frames: ``(L, H, W, 3)`` uint8 RGB; every episode has the same ``H, W``.
            actions: ``(L, A)``; ``actions[t]`` is taken at frame ``t``.
            states: ``(L, S)`` robot state at each frame.
            sim_states: ``(L, K)`` simulator state at each frame, or None if the writer was
                made with ``sim_state_dim=None``.
            task: natural-language task.
        """
        if self._finalized:
            raise RuntimeError(f"{self.root}: writer already finalized")
        frames = np.asarray(frames)
        L = frames.shape[0]
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or L == 0:
            raise ValueError(
                f"{self.root} episode {len(self._episodes)}: frames {frames.shape} "
                f"{frames.dtype}, expected (L>0, H, W, 3) uint8"
            )
        if self._hw is None:
            self._hw = (int(frames.shape[1]), int(frames.shape[2]))
            odd = self._hw[0] % 2 or self._hw[1] % 2
            if self._encoder == "libx264" and self.pix_fmt == "yuv420p" and odd:
                raise ValueError(f"frames {self._hw}: yuv420p needs even height and width")
        elif frames.shape[1:3] != self._hw:
            raise ValueError(
                f"{self.root} episode {len(self._episodes)}: frames are {frames.shape[1:3]}, "
                f"earlier episodes {self._hw}"
            )
        actions = np.asarray(actions, dtype=np.float32)
        states = np.asarray(states, dtype=np.float32)
        self._check("action", actions, self.action_dim, L)
        self._check("observation.state", states, self.state_dim, L)
        if (sim_states is None) != (self.sim_state_dim is None):
            raise ValueError(
                f"{self.root}: sim_states given as {type(sim_states).__name__} but the writer "
                f"was made with sim_state_dim={self.sim_state_dim}"
            )
        if sim_states is not None:
            sim_states = np.asarray(sim_states, dtype=np.float64)
            self._check("observation.sim_state", sim_states, self.sim_state_dim, L)

        ep = len(self._episodes)
        task_index = self._tasks.setdefault(str(task), len(self._tasks))
        row: dict = {"episode_index": ep, "tasks": [str(task)], "length": L}
        row.update(self._write_data(ep, L, actions, states, sim_states, task_index))
        row.update(self._write_video(frames))
        self._episodes.append(row)
        self._ep_stats.append(
            self._episode_stats(ep, L, frames, actions, states, sim_states, task_index)
        )
        self._total_frames += L
        return ep

    def _write_data(self, ep, L, actions, states, sim_states, task_index) -> dict:
        if self._data_writer is not None and self._data_path.stat().st_size / 2**20 >= (
            self.data_files_size_in_mb
        ):
            self._data_writer.close()
            self._data_writer = None
            self._data_loc = _next_file(*self._data_loc, self.chunks_size)
        if self._data_writer is None:
            chunk, file = self._data_loc
            self._data_path = self.root / DATA_PATH.format(chunk_index=chunk, file_index=file)
            self._data_path.parent.mkdir(parents=True, exist_ok=True)
            self._data_writer = pq.ParquetWriter(
                self._data_path, self._schema, compression="snappy"
            )
        start = self._total_frames
        cols = {
            "action": pa.FixedSizeListArray.from_arrays(
                pa.array(actions.reshape(-1)), self.action_dim
            ),
            "observation.state": pa.FixedSizeListArray.from_arrays(
                pa.array(states.reshape(-1)), self.state_dim
            ),
        }
        if sim_states is not None:
            cols["observation.sim_state"] = pa.FixedSizeListArray.from_arrays(
                pa.array(sim_states.reshape(-1)), self.sim_state_dim
            )
        frame_index = np.arange(L, dtype=np.int64)
        cols["timestamp"] = pa.array((frame_index / self.fps).astype(np.float32))
        cols["frame_index"] = pa.array(frame_index)
        cols["episode_index"] = pa.array(np.full(L, ep, np.int64))
        cols["index"] = pa.array(np.arange(start, start + L, dtype=np.int64))
        cols["task_index"] = pa.array(np.full(L, task_index, np.int64))
        # one row group per episode, so one episode reads without the rest of the file
        self._data_writer.write_table(pa.table(cols, schema=self._schema))
        return {
            "data/chunk_index": self._data_loc[0],
            "data/file_index": self._data_loc[1],
            "dataset_from_index": start,
            "dataset_to_index": start + L,
        }

    def _write_video(self, frames: np.ndarray) -> dict:
        if self._video is not None and self._video.size_mb() >= self.video_files_size_in_mb:
            self._video.close()
            self._video = None
            self._video_loc = _next_file(*self._video_loc, self.chunks_size)
        if self._video is None:
            chunk, file = self._video_loc
            path = self.root / VIDEO_PATH.format(
                video_key=self.video_key, chunk_index=chunk, file_index=file
            )
            self._video = VideoFile(
                path, self._encoder, self.fps, *self._hw, self.gop, self.crf, self.pix_fmt
            )
        start, stop = self._video.add(frames)
        k = f"videos/{self.video_key}"
        return {
            f"{k}/chunk_index": self._video_loc[0],
            f"{k}/file_index": self._video_loc[1],
            f"{k}/from_timestamp": start / self.fps,
            f"{k}/to_timestamp": stop / self.fps,
        }

    def _episode_stats(self, ep, L, frames, actions, states, sim_states, task_index) -> dict:
        stats = {"action": feature_stats(actions), "observation.state": feature_stats(states)}
        if sim_states is not None:
            stats["observation.sim_state"] = feature_stats(sim_states)
        # pixels: per channel in [0, 1], shaped (3, 1, 1) as LeRobot keeps them
        pick = np.linspace(0, L - 1, min(L, _IMAGE_STATS_FRAMES)).round().astype(int)
        px = frames[pick].reshape(-1, 3).astype(np.float32) / 255.0  # (n*H*W, 3)
        img = feature_stats(px)
        img = {k: (v if k == "count" else v.reshape(3, 1, 1)) for k, v in img.items()}
        img["count"] = np.array([len(pick)])
        stats[self.video_key] = img
        fi = np.arange(L, dtype=np.float64)[:, None]
        stats["timestamp"] = feature_stats(fi / self.fps)
        stats["frame_index"] = feature_stats(fi)
        stats["episode_index"] = feature_stats(np.full((L, 1), ep, np.float64))
        start = self._total_frames
        stats["index"] = feature_stats(np.arange(start, start + L, dtype=np.float64)[:, None])
        stats["task_index"] = feature_stats(np.full((L, 1), task_index, np.float64))
        return stats

    # -- finalize -------------------------------------------------------------------------
    def finalize(self) -> Path:
        """Close the files and write the metadata (``meta/info.json`` last). Returns root."""
        if self._finalized:
            return self.root
        if not self._episodes:
            raise ValueError(f"{self.root}: no episodes were added")
        if self._data_writer is not None:
            self._data_writer.close()
        if self._video is not None:
            self._video.close()
        meta = self.root / "meta"
        meta.mkdir(exist_ok=True)

        tasks = pd.DataFrame(
            {"task_index": np.arange(len(self._tasks), dtype=np.int64)},
            index=pd.Index(list(self._tasks), name="task"),
        )
        tasks.to_parquet(meta / "tasks.parquet")

        rows = []
        for row, st in zip(self._episodes, self._ep_stats):
            r = dict(row, **{"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
            for feat, d in st.items():
                for name, v in d.items():
                    r[f"stats/{feat}/{name}"] = np.asarray(v).tolist()
            rows.append(r)
        ep_path = self.root / EPISODES_PATH.format(chunk_index=0, file_index=0)
        ep_path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), ep_path)

        keys = self._ep_stats[0].keys()
        stats = {k: aggregate_stats([s[k] for s in self._ep_stats]) for k in keys}
        _atomic_json(_jsonable(stats), meta / "stats.json")

        n = len(self._episodes)
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": n,
            "total_frames": self._total_frames,
            "total_tasks": len(self._tasks),
            "chunks_size": self.chunks_size,
            "data_files_size_in_mb": self.data_files_size_in_mb,
            "video_files_size_in_mb": self.video_files_size_in_mb,
            "fps": self.fps,
            "splits": {"train": f"0:{n}"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH,
            "features": self.features(),
        }
        _atomic_json(info, meta / "info.json")
        self._finalized = True
        return self.root

    def __enter__(self) -> LeRobotWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finalize()
        else:  # leave the partial folder (no info.json) for inspection; close the files
            if self._data_writer is not None:
                self._data_writer.close()
            if self._video is not None:
                self._video.container.close()
