"""Training windows of encoded episodes: gathers agree with a per-episode loop."""

import numpy as np
import pytest
import torch

from vworld.data.windows import ACWindows, norm_stats, split_episodes
from vworld.train.features import EncodedEpisode


def _episodes() -> list[EncodedEpisode]:
    rng = np.random.default_rng(0)
    return [
        EncodedEpisode(
            torch.randn(n, 3, 2).half(),
            rng.normal(size=(n, 2)).astype(np.float32),
            rng.normal(size=(n, 4)).astype(np.float32),
            i,
        )
        for i, n in enumerate([30, 17, 40])
    ]


def _by_hand(ep: EncodedEpisode, frames: np.ndarray, mode: str, stride: int) -> np.ndarray:
    if mode == "state_diff":
        return ep.states[frames[1:]] - ep.states[frames[:-1]]
    if mode == "concat":
        return np.stack([ep.actions[f : f + stride].reshape(-1) for f in frames[:-1]])
    return np.stack([ep.actions[f : f + stride].sum(0) for f in frames[:-1]])


@pytest.mark.parametrize("mode", ["sum", "state_diff", "concat"])
def test_windows_gather_matches_per_episode_loop(mode):
    eps = _episodes()
    w = ACWindows(eps, 4, 5, mode)
    z, a, s = w.get(torch.arange(len(w)))
    k = 0
    for ep in eps:
        for start in range(len(ep.actions) - 15):
            fr = start + 5 * np.arange(4)
            torch.testing.assert_close(z[k], ep.z[fr].float())
            np.testing.assert_allclose(s[k], ep.states[fr])
            np.testing.assert_allclose(a[k], _by_hand(ep, fr, mode, 5), atol=1e-5)
            k += 1
    assert k == len(w)  # no window crosses an episode boundary


def test_windows_refuse_bad_mode_and_too_short_episodes():
    with pytest.raises(ValueError, match="action_mode"):
        ACWindows(_episodes(), 4, 5, "mean")
    with pytest.raises(ValueError, match="no window of 20 frames"):
        ACWindows(_episodes(), 20, 5, "sum")


def test_norm_stats_keep_angles_in_radians_and_split_holds_out_the_last():
    stats = norm_stats(ACWindows(_episodes(), 4, 5, "sum"), angle_dims=[1])
    assert stats["state_mean"][1] == 0.0 and stats["state_std"][1] == 1.0
    assert stats["state_std"][0] != 1.0
    assert split_episodes(10, 0.2) == (list(range(8)), [8, 9])
    assert split_episodes(1, 0.5) == ([0], [])
