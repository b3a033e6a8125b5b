"""Windows over robot-log episodes: boundaries, stride, action aggregation, normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fixtures.robotlog_data import make_episodes, write_v30

from vworld.data.lerobot_read import open_lerobot
from vworld.data.windows import EpisodeWindows


@pytest.fixture(scope="module")
def eps():
    return make_episodes(lengths=(12, 16, 9), sim_dim=0)


@pytest.fixture(scope="module")
def log(tmp_path_factory, eps):
    return open_lerobot(write_v30(tmp_path_factory.mktemp("win") / "ds", eps))


def test_windows_never_cross_episodes(log, eps):
    ds = EpisodeWindows(log, num_frames=4, frame_stride=2)
    span = 3 * 2
    assert len(ds) == sum(L - span for L in (12, 16, 9))
    seen = set()
    for k in range(len(ds)):
        item = ds[k]
        e, s = item["episode_index"], item["start"]
        assert s + span <= len(eps[e]["actions"]) - 1
        ref = eps[e]["states"][s : s + span + 1 : 2]
        np.testing.assert_array_equal(item["states"].numpy(), ref)
        seen.add((e, s))
    assert len(seen) == len(ds)
    item = ds[0]
    assert item["frames"].shape == (4, 3, 64, 64) and item["frames"].dtype == torch.uint8
    assert item["actions"].shape == (3, 2) and item["states"].shape == (4, 3)
    ref_frames = eps[0]["frames"][[0, 2, 4, 6]].transpose(0, 3, 1, 2)
    assert np.abs(item["frames"].numpy().astype(float) - ref_frames).mean() < 3.0


def test_action_sum_vs_state_diff(log, eps):
    s_ds = EpisodeWindows(log, num_frames=3, frame_stride=3, action_mode="sum", episodes=[1])
    d_ds = EpisodeWindows(log, num_frames=3, frame_stride=3, action_mode="state_diff", episodes=[1])
    a, st = eps[1]["actions"], eps[1]["states"]
    for k in (0, 4):
        s = s_ds[k]["start"]
        ref_sum = np.stack([a[s : s + 3].sum(0), a[s + 3 : s + 6].sum(0)])
        np.testing.assert_allclose(s_ds[k]["actions"].numpy(), ref_sum, rtol=1e-6, atol=1e-6)
        ref_diff = np.stack([st[s + 3] - st[s], st[s + 6] - st[s + 3]])
        np.testing.assert_allclose(d_ds[k]["actions"].numpy(), ref_diff, rtol=1e-6, atol=1e-6)
    assert d_ds.action_dim == 3 and s_ds.action_dim == 2
    assert {s_ds[k]["episode_index"] for k in range(len(s_ds))} == {1}


def test_normalisation_uses_stats(log, eps):
    raw = EpisodeWindows(log, num_frames=2, normalize=False)
    norm = EpisodeWindows(log, num_frames=2, normalize=True)
    st = log.stats
    r, n = raw[5], norm[5]
    ref = (r["states"].numpy() - st["observation.state"]["mean"]) / st["observation.state"]["std"]
    np.testing.assert_allclose(n["states"].numpy(), ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        n["actions"].numpy(), r["actions"].numpy() / st["action"]["std"], rtol=1e-5, atol=1e-5
    )
    all_s = np.concatenate([norm[k]["states"].numpy() for k in range(len(norm))])
    assert abs(all_s.mean()) < 0.3 and 0.6 < all_s.std() < 1.4


def test_target_fps_and_errors(log):
    ds = EpisodeWindows(log, num_frames=3, target_fps=5)  # log at 10 fps: stride 2
    assert ds.frame_stride == 2
    with pytest.raises(ValueError, match="whole multiple"):
        EpisodeWindows(log, num_frames=3, target_fps=3)
    with pytest.raises(ValueError, match="long enough"):
        EpisodeWindows(log, num_frames=20, frame_stride=1)
    with pytest.raises(ValueError, match="action_mode"):
        EpisodeWindows(log, num_frames=2, action_mode="mean")


def test_episode_cache_is_lru(log, monkeypatch):
    ds = EpisodeWindows(log, num_frames=2, cache_episodes=1)
    calls = []
    orig = log.load_episode
    monkeypatch.setattr(log, "load_episode", lambda i, frames=True: calls.append(i) or orig(i))
    ds[0], ds[1], ds[len(ds) - 1], ds[len(ds) - 2], ds[0]
    assert calls == [0, 2, 0]


def test_works_in_a_dataloader(log):
    ds = EpisodeWindows(log, num_frames=3)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True)))
    assert batch["frames"].shape == (4, 3, 3, 64, 64) and batch["actions"].shape == (4, 2, 2)
