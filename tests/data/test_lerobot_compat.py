"""LeRobot's own ``LeRobotDataset`` loads what :class:`LeRobotWriter` writes.

Runs when ``lerobot`` is importable here, or in the interpreter named by the environment
variable ``VWORLD_LEROBOT_PYTHON`` (lerobot pins its own torch, so it often lives in a
separate venv: ``VWORLD_LEROBOT_PYTHON=/tmp/lerobot_venv/bin/python pytest ...``).
Skipped otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from fixtures.robotlog_data import make_episodes, write_v30

from vworld.data.lerobot_read import open_lerobot

CHECK = r"""
import json, os, sys
os.environ["HF_HUB_OFFLINE"] = "1"
import numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
root, key = sys.argv[1], sys.argv[2]
ds = LeRobotDataset(repo_id="local/vworld_test", root=root, video_backend="pyav")
out = {"num_frames": ds.num_frames, "num_episodes": ds.num_episodes, "fps": ds.fps, "items": []}
for idx in range(ds.num_frames):
    it = ds[idx]
    out["items"].append({
        "episode_index": int(it["episode_index"]), "frame_index": int(it["frame_index"]),
        "action": it["action"].tolist(), "task": it["task"],
        "frame": (it[key].numpy() * 255).round().astype(int).tolist(),
    })
d = LeRobotDataset(repo_id="local/vworld_test", root=root, video_backend="pyav",
                   delta_timestamps={key: [-2 / ds.fps, 0.0]})
out["delta_shape"] = list(d[20][key].shape)
print("RESULT" + json.dumps(out))
"""


def _python() -> str | None:
    if importlib.util.find_spec("lerobot") is not None:
        return sys.executable
    return os.environ.get("VWORLD_LEROBOT_PYTHON")


@pytest.mark.skipif(_python() is None, reason="lerobot not importable (set VWORLD_LEROBOT_PYTHON)")
def test_lerobot_dataset_loads_our_v30(tmp_path):
    eps = make_episodes(lengths=(12, 16, 9))
    root = write_v30(tmp_path / "ds", eps)
    key = "observation.images.top"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run(
        [_python(), "-c", CHECK, str(root), key],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.split("RESULT", 1)[1])
    assert (out["num_frames"], out["num_episodes"], out["fps"]) == (37, 3, 10)
    assert out["delta_shape"] == [2, 3, 64, 64]
    ours = open_lerobot(root)
    loaded = {e: ours.load_episode(e) for e in range(3)}
    for item in out["items"]:
        e, t = item["episode_index"], item["frame_index"]
        np.testing.assert_allclose(item["action"], eps[e]["actions"][t], rtol=1e-6)
        assert item["task"] == eps[e]["task"]
        theirs = np.asarray(item["frame"]).transpose(1, 2, 0)  # (H, W, 3)
        assert np.abs(theirs - loaded[e].frames[t].astype(int)).mean() < 2.0
