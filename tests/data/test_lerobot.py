"""LeRobot v3.0 writing and v3.0 / v2.1 reading: round trip, layout, bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fixtures.robotlog_data import make_episodes, smooth_frames, write_v21, write_v30

from vworld.data.codec import available_codecs, recode_frames
from vworld.data.episodes import RobotLogError
from vworld.data.lerobot_read import open_lerobot
from vworld.data.lerobot_write import LeRobotWriter
from vworld.data.logs import open_robot_log

VKEY = "observation.images.top"


@pytest.fixture(scope="module")
def episodes():
    return make_episodes()


@pytest.fixture(scope="module")
def v30(tmp_path_factory, episodes):
    return write_v30(tmp_path_factory.mktemp("v30") / "ds", episodes, robot_type="fake")


def _copy(src, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


def test_v30_round_trip(v30, episodes):
    log = open_robot_log(v30)
    assert log.num_episodes == 3 and log.episode_lengths == [12, 16, 9]
    assert (log.fps, log.action_dim, log.state_dim, log.sim_state_dim) == (10.0, 2, 3, 5)
    for i, ref in enumerate(episodes):
        ep = log.load_episode(i)
        np.testing.assert_array_equal(ep.actions, ref["actions"])
        np.testing.assert_array_equal(ep.states, ref["states"])
        np.testing.assert_array_equal(ep.sim_states, ref["sim_states"])  # float64, exact
        assert ep.sim_states.dtype == np.float64 and ep.actions.dtype == np.float32
        assert ep.frames.shape == ref["frames"].shape and ep.frames.dtype == np.uint8
        assert np.abs(ep.frames.astype(float) - ref["frames"]).mean() < 3.0
        assert ep.task == ref["task"]
        assert log.load_episode(i, frames=False).frames is None
    all_a = np.concatenate([e["actions"] for e in episodes])
    np.testing.assert_allclose(log.stats["action"]["mean"], all_a.mean(0), atol=1e-5)
    np.testing.assert_allclose(log.stats["action"]["std"], all_a.std(0), atol=1e-5)
    np.testing.assert_allclose(log.stats["action"]["min"], all_a.min(0), atol=1e-6)


def test_v30_layout(v30):
    files = sorted(str(p.relative_to(v30)) for p in v30.rglob("*") if p.is_file())
    assert files == [
        "data/chunk-000/file-000.parquet",
        "meta/episodes/chunk-000/file-000.parquet",
        "meta/info.json",
        "meta/stats.json",
        "meta/tasks.parquet",
        f"videos/{VKEY}/chunk-000/file-000.mp4",
    ]
    info = json.loads((v30 / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (3, 37, 2)
    assert info["features"]["observation.sim_state"]["dtype"] == "float64"
    assert info["features"][VKEY]["info"]["video.codec"] == "h264"
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    for k in ("robot_type", "chunks_size", "data_files_size_in_mb", "video_files_size_in_mb"):
        assert k in info
    data = pq.read_table(v30 / "data/chunk-000/file-000.parquet")
    assert set(data.column_names) == {
        "action",
        "observation.state",
        "observation.sim_state",
        "timestamp",
        "frame_index",
        "episode_index",
        "index",
        "task_index",
    }
    np.testing.assert_array_equal(data.column("index").to_numpy(), np.arange(37))
    eps = pq.read_table(v30 / "meta/episodes/chunk-000/file-000.parquet").to_pydict()
    assert eps["dataset_from_index"] == [0, 12, 28] and eps["dataset_to_index"] == [12, 28, 37]
    assert eps[f"videos/{VKEY}/from_timestamp"] == [0.0, 1.2, 2.8]
    assert eps[f"videos/{VKEY}/to_timestamp"] == [1.2, 2.8, 3.7]
    assert eps["tasks"] == [["task 0"], ["task 1"], ["task 0"]]
    for k in ("data/chunk_index", "meta/episodes/chunk_index", "stats/action/mean"):
        assert k in eps
    tasks = pd.read_parquet(v30 / "meta/tasks.parquet")
    assert tasks.index.name == "task" and tasks.loc["task 1", "task_index"] == 1
    stats = json.loads((v30 / "meta/stats.json").read_text())
    assert np.array(stats[VKEY]["mean"]).shape == (3, 1, 1)
    assert {"min", "max", "mean", "std", "count", "q01", "q99"} <= stats["action"].keys()


def test_unfinished_writer_leaves_no_info_json(tmp_path, episodes):
    w = LeRobotWriter(tmp_path / "ds", fps=10, action_dim=2, state_dim=3, sim_state_dim=5)
    ep = episodes[0]
    w.add_episode(ep["frames"], ep["actions"], ep["states"], ep["sim_states"], ep["task"])
    assert not (tmp_path / "ds/meta/info.json").exists()
    with pytest.raises(RobotLogError, match=r"info\.json"):
        open_robot_log(tmp_path / "ds")


def test_rolls_to_new_files(tmp_path, episodes):
    root = write_v30(
        tmp_path / "ds",
        episodes,
        data_files_size_in_mb=1e-4,
        video_files_size_in_mb=1e-4,
        chunks_size=2,
    )
    assert (root / "data/chunk-001/file-000.parquet").is_file()  # 3 files, 2 per chunk
    assert (root / f"videos/{VKEY}/chunk-001/file-000.mp4").is_file()
    log = open_lerobot(root)
    for i, ref in enumerate(episodes):
        ep = log.load_episode(i)
        np.testing.assert_array_equal(ep.actions, ref["actions"])
        assert np.abs(ep.frames.astype(float) - ref["frames"]).mean() < 3.0


def test_no_sim_states(tmp_path):
    eps = make_episodes(lengths=(6, 7), sim_dim=0)
    log = open_lerobot(write_v30(tmp_path / "ds", eps, camera="wrist"), camera="wrist")
    assert log.sim_state_dim == 0 and log.load_episode(1).sim_states is None


@pytest.mark.skipif("av1" not in available_codecs(), reason="no AV1 encoder in PyAV")
def test_av1_option(tmp_path):
    eps = make_episodes(lengths=(8, 6))
    root = write_v30(tmp_path / "ds", eps, codec="av1")
    info = json.loads((root / "meta/info.json").read_text())
    assert info["features"][VKEY]["info"]["video.codec"] == "av1"
    ep = open_lerobot(root).load_episode(1)
    np.testing.assert_array_equal(ep.actions, eps[1]["actions"])
    assert np.abs(ep.frames.astype(float) - eps[1]["frames"]).mean() < 4.0


def _dots(length: int) -> np.ndarray:
    """A 3-pixel red dot moving over grey: the small coloured object yuv420p smears."""
    out = np.full((length, 32, 32, 3), 200, np.uint8)
    for t in range(length):
        out[t, 10 + t : 13 + t, 7 + 2 * t : 10 + 2 * t] = (220, 30, 25)
    return out


def test_yuv444p_lossless_keeps_small_colours(tmp_path):
    eps = make_episodes(lengths=(8, 6))
    for e in eps:
        e["frames"] = _dots(len(e["frames"]))
    errs = {}
    for pix_fmt, crf in (("yuv420p", 18), ("yuv444p", 0)):
        root = write_v30(tmp_path / pix_fmt, eps, pix_fmt=pix_fmt, crf=crf)
        info = json.loads((root / "meta/info.json").read_text())
        assert info["features"][VKEY]["info"]["video.pix_fmt"] == pix_fmt
        ep = open_lerobot(root).load_episode(1)
        errs[pix_fmt] = np.abs(ep.frames.astype(int) - eps[1]["frames"]).max()
    assert errs["yuv444p"] <= 2 < 20 < errs["yuv420p"]


def test_recode_frames_reproduces_a_lossless_recording(tmp_path):
    eps = make_episodes(lengths=(7,))
    eps[0]["frames"] = _dots(7)
    root = write_v30(tmp_path / "ds", eps, pix_fmt="yuv444p", crf=0)
    log = open_lerobot(root)
    codec = log.recording_codec()
    assert codec == {"codec": "h264", "pix_fmt": "yuv444p", "crf": 0}
    recoded = recode_frames(eps[0]["frames"], **codec)
    np.testing.assert_array_equal(recoded, log.load_episode(0).frames)
    assert not np.array_equal(recoded, eps[0]["frames"])  # the RGB/YUV rounding is there
    lossy = recode_frames(eps[0]["frames"][:2])  # the writer's defaults: yuv420p, crf 18
    assert np.abs(lossy.astype(int) - eps[0]["frames"][:2]).max() > 20
    with pytest.raises(ValueError, match="uint8"):
        recode_frames(eps[0]["frames"][0])


def test_pix_fmt_refused(tmp_path):
    eps = make_episodes(lengths=(4,))
    with pytest.raises(ValueError, match="pix_fmt 'rgb24'"):
        write_v30(tmp_path / "a", eps, pix_fmt="rgb24")
    if "av1" in available_codecs():
        with pytest.raises(ValueError, match="only with codec 'h264'"):
            write_v30(tmp_path / "b", eps, codec="av1", pix_fmt="yuv444p")


def test_v21_fixture_reads(tmp_path):
    eps = make_episodes(lengths=(7, 9, 8), sim_dim=0)
    root = write_v21(tmp_path / "v21", eps)
    log = open_robot_log(root)
    assert log.version == "v2.1" and log.episode_lengths == [7, 9, 8]
    assert log.video_key == "observation.images.front"
    for i, ref in enumerate(eps):
        ep = log.load_episode(i)
        np.testing.assert_array_equal(ep.actions, ref["actions"])
        np.testing.assert_array_equal(ep.states, ref["states"])
        assert np.abs(ep.frames.astype(float) - ref["frames"]).mean() < 3.0
        assert ep.task == ref["task"]
    all_s = np.concatenate([e["states"] for e in eps])
    np.testing.assert_allclose(log.stats["observation.state"]["mean"], all_s.mean(0), atol=1e-4)
    np.testing.assert_allclose(log.stats["observation.state"]["std"], all_s.std(0), atol=1e-4)


# -- bad input ---------------------------------------------------------------------------
def test_missing_video(v30, tmp_path):
    root = _copy(v30, tmp_path)
    video = root / f"videos/{VKEY}/chunk-000/file-000.mp4"
    video.unlink()
    with pytest.raises(RobotLogError, match=r"file-000\.mp4") as e:
        open_lerobot(root)
    assert e.value.field == f"videos/{VKEY}" and e.value.episode == 0


def test_video_shorter_than_parquet(v30, tmp_path, episodes):
    root = _copy(v30, tmp_path)
    video = root / f"videos/{VKEY}/chunk-000/file-000.mp4"
    w = LeRobotWriter(tmp_path / "short", fps=10, action_dim=2, state_dim=3)
    w.add_episode(smooth_frames(30, 0), np.zeros((30, 2)), np.zeros((30, 3)), None, "t")
    w.finalize()
    shutil.copy(tmp_path / "short" / f"videos/{VKEY}/chunk-000/file-000.mp4", video)
    log = open_lerobot(root)
    log.load_episode(0)  # frames 0..11 exist
    with pytest.raises(RobotLogError, match="lengths disagree") as e:
        log.load_episode(2)  # needs frames 28..36
    assert e.value.path == str(video) and e.value.episode == 2


def test_episode_length_disagrees_with_rows(v30, tmp_path):
    root = _copy(v30, tmp_path)
    p = root / "meta/episodes/chunk-000/file-000.parquet"
    t = pq.read_table(p)
    lengths = t.column("length").to_pylist()
    lengths[1] += 1
    pq.write_table(t.set_column(t.schema.get_field_index("length"), "length", pa.array(lengths)), p)
    with pytest.raises(RobotLogError, match="length") as e:
        open_lerobot(root)
    assert e.value.episode == 1


def test_nan_action(v30, tmp_path):
    root = _copy(v30, tmp_path)
    p = root / "data/chunk-000/file-000.parquet"
    t = pq.read_table(p)
    a = np.stack(t.column("action").to_numpy(zero_copy_only=False)).astype(np.float32)
    a[14, 1] = np.nan  # episode 1, frame 2
    col = pa.FixedSizeListArray.from_arrays(pa.array(a.reshape(-1)), 2)
    pq.write_table(t.set_column(0, "action", col), p)
    log = open_lerobot(root)
    log.load_episode(0)
    with pytest.raises(RobotLogError, match=r"file-000\.parquet.*episode 1.*'action'.*frame 2"):
        log.load_episode(1)


def test_width_differs_from_info(v30, tmp_path):
    root = _copy(v30, tmp_path)
    p = root / "meta/info.json"
    info = json.loads(p.read_text())
    info["features"]["observation.state"]["shape"] = [4]
    p.write_text(json.dumps(info))
    with pytest.raises(RobotLogError, match=r"observation\.state") as e:
        open_lerobot(root).load_episode(0)
    assert "width 3" in str(e.value) and e.value.path.endswith("file-000.parquet")


def test_unknown_codebase_version(v30, tmp_path):
    root = _copy(v30, tmp_path)
    p = root / "meta/info.json"
    info = json.loads(p.read_text())
    info["codebase_version"] = "v9.9"
    p.write_text(json.dumps(info))
    with pytest.raises(RobotLogError, match=r"info\.json.*codebase_version.*v9\.9"):
        open_robot_log(root)


def test_writer_rejects_bad_shapes(tmp_path):
    w = LeRobotWriter(tmp_path / "ds", fps=10, action_dim=2, state_dim=3)
    f = smooth_frames(5, 0)
    with pytest.raises(ValueError, match="action"):
        w.add_episode(f, np.zeros((5, 3)), np.zeros((5, 3)), None, "t")
    with pytest.raises(ValueError, match=r"observation\.state"):
        w.add_episode(f, np.zeros((5, 2)), np.zeros((4, 3)), None, "t")
    with pytest.raises(RobotLogError, match="non-finite"):
        w.add_episode(f, np.full((5, 2), np.inf), np.zeros((5, 3)), None, "t")
    with pytest.raises(FileExistsError):
        LeRobotWriter(tmp_path / "ds", fps=10, action_dim=2, state_dim=3)


def test_open_robot_log_rejects_other_paths(tmp_path):
    with pytest.raises(RobotLogError, match="no such file"):
        open_robot_log(tmp_path / "nothing")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(RobotLogError, match="LeRobot"):
        open_robot_log(tmp_path / "x.txt")
