"""`vworld demo --quick`: every stage at toy size, end to end, then resumed from out_dir."""

import json

from vworld.cli import main


def test_quick_demo_runs_every_stage_and_reuses_them(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", f"out_dir={out}", "device=cpu"]) == 0
    table = capsys.readouterr().out
    for label in ("world model + CEM", "random actions", "simulator oracle"):
        assert label in table
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["planners"]) == {"cem", "random", "oracle"}
    for name in ("cem", "random", "oracle"):
        res = json.loads((out / f"plan_{name}" / "results.json").read_text())
        assert 0.0 <= res["success_rate"] <= 1.0 and res["num_episodes"] == 2
    assert set(summary["stage_seconds"]) >= {"collect", "pretrain", "train-ac", "plan-cem"}
    report = (out / "report.md").read_text()
    assert "distances.png" in report

    # a second run finds every stage done and only re-prints the table
    before = json.loads((out / "timings.json").read_text())
    assert main(["demo", "--quick", f"out_dir={out}", "device=cpu"]) == 0
    assert json.loads((out / "timings.json").read_text()) == before
