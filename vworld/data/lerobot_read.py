"""Read LeRobot datasets (Cadene et al., LeRobot, 2024) as :class:`RobotLog` s.

Two layouts, chosen by ``codebase_version`` in ``meta/info.json``:

- **v3.0**: frames of many episodes share ``data/chunk-*/file-*.parquet`` and
  ``videos/<key>/chunk-*/file-*.mp4``; ``meta/episodes/chunk-*/file-*.parquet`` says where
  each episode lies (``dataset_from_index``/``dataset_to_index`` rows, and
  ``videos/<key>/from_timestamp``/``to_timestamp`` in its video file).
- **v2.1** (and v2.0): one parquet and one mp4 per episode, found through the ``data_path``
  and ``video_path`` templates (``episode_chunk = episode_index // chunks_size``), with
  ``meta/episodes.jsonl``, ``meta/tasks.jsonl`` and ``meta/episodes_stats.jsonl`` (v2.0 keeps
  ``meta/stats.json`` instead).

Videos are decoded with :func:`vworld.data.decode.open_video` (decord for H.264, PyAV for
AV1), one pass over an episode's span per :meth:`RobotLog.load_episode`.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vworld.data.codec import recorded_settings
from vworld.data.decode import VideoDecodeError, open_video
from vworld.data.episodes import (
    Episode,
    RobotLog,
    RobotLogError,
    aggregate_stats,
    check_finite,
)
from vworld.data.lerobot_schema import load_json, load_jsonl, stats_to_numpy, vector_column

__all__ = ["SUPPORTED_VERSIONS", "LeRobotLog", "open_lerobot"]

SUPPORTED_VERSIONS = ("v3.0", "v2.1", "v2.0")
SIM_STATE_KEY = "observation.sim_state"


class LeRobotLog(RobotLog):
    """A LeRobot dataset (v3.0, v2.1 or v2.0) read through one camera.

    Args:
        root: the dataset folder (holds ``meta/info.json``).
        camera: the camera, as ``"top"`` or the full key ``"observation.images.top"``; the
            first video feature when None.
        action_key: the action feature.
        state_key: the state feature.
        video_backend: passed to :func:`open_video` (``"auto"``, ``"decord"``, ``"pyav"``).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        camera: str | None = None,
        action_key: str = "action",
        state_key: str = "observation.state",
        video_backend: str = "auto",
    ):
        self.path = self.root = Path(root)
        self.info_path = self.root / "meta" / "info.json"
        self.info = load_json(self.info_path, "info.json")
        self.version = str(self.info.get("codebase_version"))
        if self.version not in SUPPORTED_VERSIONS:
            raise RobotLogError(
                self.info_path,
                "codebase_version",
                f"'{self.version}' is not supported, expected one of {list(SUPPORTED_VERSIONS)}",
            )
        for key in ("fps", "features", "total_episodes"):
            if key not in self.info:
                raise RobotLogError(self.info_path, key, "missing")
        self.fps = float(self.info["fps"])
        feats: dict[str, dict] = self.info["features"]
        self.features = feats
        self.action_key, self.state_key = action_key, state_key
        self.action_dim = self._vector_dim(action_key)
        self.state_dim = self._vector_dim(state_key)
        self.sim_state_dim = self._vector_dim(SIM_STATE_KEY) if SIM_STATE_KEY in feats else 0
        videos = [k for k, f in feats.items() if f.get("dtype") == "video"]
        if camera is None:
            if not videos:
                kinds = sorted({f.get("dtype") for f in feats.values()})
                raise RobotLogError(
                    self.info_path, "features", f"no video feature (dtypes {kinds})"
                )
            self.video_key = videos[0]
        else:
            self.video_key = camera if camera in feats else f"observation.images.{camera}"
            if self.video_key not in videos:
                raise RobotLogError(
                    self.info_path,
                    "features",
                    f"no video feature for camera '{camera}' in {videos}",
                )
        self.video_backend = video_backend
        self._readers: OrderedDict[str, object] = OrderedDict()
        self._reader_pid = os.getpid()
        self._tables: OrderedDict[Path, tuple[pa.Table, dict[int, tuple[int, int]]]] = OrderedDict()
        if self.version == "v3.0":
            self._open_v30()
        else:
            self._open_v21()
        if len(self.episode_lengths) != int(self.info["total_episodes"]):
            raise RobotLogError(
                self.info_path,
                "total_episodes",
                f"says {self.info['total_episodes']}, the episode metadata lists "
                f"{len(self.episode_lengths)}",
            )

    def _vector_dim(self, key: str) -> int:
        ft = self.features.get(key)
        if ft is None:
            raise RobotLogError(self.info_path, key, f"no such feature in {sorted(self.features)}")
        shape = ft.get("shape")
        if not isinstance(shape, list | tuple) or len(shape) != 1:
            raise RobotLogError(self.info_path, key, f"shape {shape}, expected [dim]")
        return int(shape[0])

    # -- v3.0 -----------------------------------------------------------------------------
    def _open_v30(self) -> None:
        ep_dir = self.root / "meta" / "episodes"
        files = sorted(ep_dir.glob("chunk-*/file-*.parquet"))
        if not files:
            raise RobotLogError(ep_dir, "meta/episodes", "no chunk-*/file-*.parquet")
        vk = f"videos/{self.video_key}"
        cols = [
            "episode_index",
            "tasks",
            "length",
            "data/chunk_index",
            "data/file_index",
            "dataset_from_index",
            "dataset_to_index",
            f"{vk}/chunk_index",
            f"{vk}/file_index",
            f"{vk}/from_timestamp",
            f"{vk}/to_timestamp",
        ]
        parts = []
        for f in files:
            names = pq.read_schema(f).names
            missing = [c for c in cols if c not in names]
            if missing:
                raise RobotLogError(f, missing[0], "column missing from the episodes parquet")
            parts.append(pq.read_table(f, columns=cols))
        meta = pa.concat_tables(parts).to_pydict()
        order = np.argsort(meta["episode_index"], kind="stable")
        ep_index = np.asarray(meta["episode_index"])[order]
        if not np.array_equal(ep_index, np.arange(len(ep_index))):
            raise RobotLogError(ep_dir, "episode_index", "episodes are not numbered 0..N-1")
        self._meta = {k: [meta[k][j] for j in order] for k in cols}
        self.episode_lengths = [int(x) for x in self._meta["length"]]
        self.tasks = [str(t[0]) if len(t) else "" for t in self._meta["tasks"]]
        for i, (a, b, n) in enumerate(
            zip(
                self._meta["dataset_from_index"],
                self._meta["dataset_to_index"],
                self.episode_lengths,
            )
        ):
            if b - a != n:
                raise RobotLogError(
                    files[0], "length", f"{n} but dataset_to_index - from_index = {b - a}", i
                )
        self._data_tpl = self.info.get(
            "data_path", "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
        )
        self._video_tpl = self.info.get("video_path")
        if not self._video_tpl:
            raise RobotLogError(self.info_path, "video_path", "null, but the dataset has videos")
        for i in range(self.num_episodes):
            self._check_file(self._video_file(i), f"{vk}", i)
            self._check_file(self._data_file(i), "data", i)
        stats_path = self.root / "meta" / "stats.json"
        self.stats = stats_to_numpy(load_json(stats_path, "stats.json"))

    def _data_file(self, i: int) -> Path:
        if self.version == "v3.0":
            m = self._meta
            return self.root / self._data_tpl.format(
                chunk_index=m["data/chunk_index"][i], file_index=m["data/file_index"][i]
            )
        return self.root / self._data_tpl.format(
            episode_chunk=i // self._chunks_size, episode_index=i
        )

    def _video_file(self, i: int) -> Path:
        if self.version == "v3.0":
            vk = f"videos/{self.video_key}"
            return self.root / self._video_tpl.format(
                video_key=self.video_key,
                chunk_index=self._meta[f"{vk}/chunk_index"][i],
                file_index=self._meta[f"{vk}/file_index"][i],
            )
        return self.root / self._video_tpl.format(
            episode_chunk=i // self._chunks_size, episode_index=i, video_key=self.video_key
        )

    def _check_file(self, path: Path, field: str, episode: int) -> None:
        if not path.is_file():
            raise RobotLogError(path, field, "no such file", episode)

    # -- v2.1 -----------------------------------------------------------------------------
    def _open_v21(self) -> None:
        meta = self.root / "meta"
        eps = load_jsonl(meta / "episodes.jsonl", "episodes.jsonl")
        eps.sort(key=lambda r: r["episode_index"])
        if [r["episode_index"] for r in eps] != list(range(len(eps))):
            raise RobotLogError(
                meta / "episodes.jsonl", "episode_index", "episodes are not numbered 0..N-1"
            )
        self.episode_lengths = [int(r["length"]) for r in eps]
        self.tasks = [str(r["tasks"][0]) if r.get("tasks") else "" for r in eps]
        self._chunks_size = int(self.info.get("chunks_size", 1000))
        for key in ("data_path", "video_path"):
            if not self.info.get(key):
                raise RobotLogError(self.info_path, key, "missing")
        self._data_tpl, self._video_tpl = self.info["data_path"], self.info["video_path"]
        for i in range(self.num_episodes):
            self._check_file(self._data_file(i), "data", i)
            self._check_file(self._video_file(i), self.video_key, i)
        if (meta / "stats.json").is_file():
            self.stats = stats_to_numpy(load_json(meta / "stats.json", "stats.json"))
        else:
            rows = load_jsonl(meta / "episodes_stats.jsonl", "episodes_stats.jsonl")
            per_ep = [stats_to_numpy(r["stats"]) for r in rows]
            keys = set.intersection(*(set(s) for s in per_ep)) if per_ep else set()
            self.stats = {k: aggregate_stats([s[k] for s in per_ep]) for k in sorted(keys)}

    # -- episodes -------------------------------------------------------------------------
    def _episode_table(self, i: int) -> tuple[Path, pa.Table]:
        path = self._data_file(i)
        if path not in self._tables:
            cols = [self.action_key, self.state_key, "frame_index", "episode_index"]
            if self.sim_state_dim:
                cols.append(SIM_STATE_KEY)
            names = pq.read_schema(path).names
            for c in cols:
                if c not in names:
                    raise RobotLogError(path, c, "column missing from the data parquet", i)
            table = pq.read_table(path, columns=cols)
            ep = table.column("episode_index").to_numpy()
            starts = np.flatnonzero(np.r_[True, ep[1:] != ep[:-1]])
            stops = np.r_[starts[1:], len(ep)]
            spans = {int(ep[a]): (int(a), int(b)) for a, b in zip(starts, stops)}
            if len(spans) != len(starts):
                raise RobotLogError(path, "episode_index", "an episode's rows are not contiguous")
            self._tables[path] = (table, spans)
            while len(self._tables) > 2:  # a v3.0 data file holds many episodes
                self._tables.popitem(last=False)
        self._tables.move_to_end(path)
        table, spans = self._tables[path]
        if i not in spans:
            raise RobotLogError(path, "episode_index", "no rows for this episode", i)
        a, b = spans[i]
        return path, table.slice(a, b - a)

    def _reader(self, path: Path):
        if self._reader_pid != os.getpid():  # decoders do not survive a fork
            self._readers = OrderedDict()
            self._reader_pid = os.getpid()
        key = str(path)
        if key not in self._readers:
            try:
                self._readers[key] = open_video(path, backend=self.video_backend)
            except VideoDecodeError as e:
                raise RobotLogError(path, self.video_key, e.reason) from None
            while len(self._readers) > 4:
                self._readers.popitem(last=False)[1].close()
        self._readers.move_to_end(key)
        return self._readers[key]

    def frame_span(self, i: int) -> tuple[Path, int, int]:
        """The video file of episode ``i`` and its frame range ``[start, stop)`` in it."""
        i = self._check_index(i)
        L = self.episode_lengths[i]
        path = self._video_file(i)
        if self.version != "v3.0":
            return path, 0, L
        vk = f"videos/{self.video_key}"
        t0, t1 = self._meta[f"{vk}/from_timestamp"][i], self._meta[f"{vk}/to_timestamp"][i]
        start = round(t0 * self.fps)
        if abs(round((t1 - t0) * self.fps) - L) > 0:
            raise RobotLogError(
                path,
                f"{vk}/to_timestamp",
                f"video span [{t0}, {t1}) s holds {round((t1 - t0) * self.fps)} frames at "
                f"{self.fps} fps, the parquet {L}",
                i,
            )
        return path, start, start + L

    def load_episode(self, i: int, frames: bool = True) -> Episode:
        """Episode ``i``.

        Args:
            i: the episode index.
            frames: decode the camera frames (one pass over the episode's span).
        Raises:
            RobotLogError: a missing or short video, rows that disagree with the metadata,
                non-finite actions or states, widths other than in ``info.json``.
        """
        i = self._check_index(i)
        L = self.episode_lengths[i]
        path, table = self._episode_table(i)
        if table.num_rows != L:
            raise RobotLogError(
                path, "length", f"{table.num_rows} rows in the parquet, metadata says {L}", i
            )
        fi = table.column("frame_index").to_numpy()
        if not np.array_equal(fi, np.arange(L)):
            raise RobotLogError(path, "frame_index", "not 0..L-1 in order", i)
        actions = vector_column(table, self.action_key, self.action_dim, np.float32, path, i)
        states = vector_column(table, self.state_key, self.state_dim, np.float32, path, i)
        check_finite(actions, path, self.action_key, i)
        check_finite(states, path, self.state_key, i)
        sim = None
        if self.sim_state_dim:
            sim = vector_column(table, SIM_STATE_KEY, self.sim_state_dim, np.float64, path, i)
        imgs = self._decode(i) if frames else None
        return Episode(imgs, actions, states, sim, self.tasks[i], i)

    def _decode(self, i: int) -> np.ndarray:
        path, start, stop = self.frame_span(i)
        reader = self._reader(path)
        if reader.num_frames < stop:
            raise RobotLogError(
                path,
                self.video_key,
                f"video has {reader.num_frames} frames, the episode needs frames "
                f"[{start}, {stop}) (parquet and video lengths disagree)",
                i,
            )
        try:
            return reader.get_frames(range(start, stop))  # (L, H, W, 3)
        except VideoDecodeError as e:
            raise RobotLogError(path, self.video_key, e.reason, i) from None

    def recording_codec(self) -> dict | None:
        """The codec settings ``info.json`` records for the camera's videos (see
        ``vworld.data.codec.recorded_settings``), else None."""
        video = self.info.get("features", {}).get(self.video_key, {}).get("info", {}) or {}
        return recorded_settings(video)

    def close(self) -> None:
        for r in self._readers.values():
            r.close()
        self._readers.clear()
        self._tables.clear()


def open_lerobot(
    root: str | os.PathLike,
    camera: str | None = None,
    action_key: str = "action",
    state_key: str = "observation.state",
    video_backend: str = "auto",
) -> LeRobotLog:
    """Open a LeRobot dataset folder (v3.0, v2.1 or v2.0, by its ``codebase_version``).

    Args:
        root: the dataset folder.
        camera: camera name or full video key; the first video feature when None.
        action_key: the action feature.
        state_key: the state feature.
        video_backend: ``"auto"`` (decord for H.264, PyAV for AV1), ``"decord"`` or ``"pyav"``.
    Raises:
        RobotLogError: the folder is not a readable LeRobot dataset (the message names the
            file, the field and, where one is at fault, the episode).
    """
    return LeRobotLog(root, camera, action_key, state_key, video_backend)
