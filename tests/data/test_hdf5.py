"""Robomimic-layout HDF5 logs."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from fixtures.robotlog_data import make_episodes, write_robomimic

from vworld.data.episodes import RobotLogError
from vworld.data.hdf5 import open_hdf5
from vworld.data.logs import open_robot_log

pytest.importorskip("h5py")


@pytest.fixture(scope="module")
def eps():
    return make_episodes(lengths=(6, 8, 5), state_dim=3, sim_dim=4)


def test_robomimic_reads(tmp_path, eps):
    # demo numbers 2, 10, 1: read in numeric order 1, 2, 10
    path = write_robomimic(tmp_path / "demo.hdf5", eps, order=[2, 10, 1])
    log = open_robot_log(path, image_key="agentview_image", state_keys=["eef_pos", "gripper"])
    assert log.num_episodes == 3 and log.episode_lengths == [5, 6, 8]
    assert (log.fps, log.action_dim, log.state_dim, log.sim_state_dim) == (15.0, 2, 3, 4)
    ep = log.load_episode(1)  # demo_2 = eps[0]
    np.testing.assert_array_equal(ep.actions, eps[0]["actions"])
    np.testing.assert_array_equal(ep.states, eps[0]["states"])  # eef_pos ++ gripper
    np.testing.assert_array_equal(ep.frames, eps[0]["frames"])
    np.testing.assert_array_equal(ep.sim_states, eps[0]["sim_states"])
    assert ep.task == "Lift"
    all_a = np.concatenate([e["actions"] for e in eps])
    np.testing.assert_allclose(log.stats["action"]["mean"], all_a.mean(0), atol=1e-5)
    log.close()


def test_state_key_order_and_missing_key(tmp_path, eps):
    path = write_robomimic(tmp_path / "demo.hdf5", eps)
    log = open_hdf5(path, state_keys=["gripper", "eef_pos"])
    np.testing.assert_array_equal(log.load_episode(0).states[:, 0], eps[0]["states"][:, 2])
    with pytest.raises(RobotLogError, match=r"data/demo_0/obs/joint_pos") as e:
        open_hdf5(path, state_keys=["joint_pos"])
    assert e.value.episode == 0
    with pytest.raises(RobotLogError, match="robot0_eye"):
        open_hdf5(path, image_key="robot0_eye", state_keys=["eef_pos"])


def test_nan_action_in_hdf5(tmp_path, eps):
    bad = [dict(e) for e in eps]
    bad[1]["actions"] = bad[1]["actions"].copy()
    bad[1]["actions"][3, 0] = np.nan
    path = write_robomimic(tmp_path / "bad.hdf5", bad)
    with pytest.raises(RobotLogError, match=r"bad\.hdf5.*episode 1.*data/demo_1/actions"):
        open_hdf5(path, state_keys=["eef_pos"])


def test_clear_error_without_h5py(tmp_path, eps, monkeypatch):
    path = write_robomimic(tmp_path / "demo.hdf5", eps)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match="pip install h5py"):
        open_hdf5(path, state_keys=["eef_pos"])
