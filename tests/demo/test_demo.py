"""`vworld demo --quick`: every stage at toy size, end to end, then resumed from out_dir."""

import json

from vworld.cli import main


def test_quick_demo_runs_every_stage_and_reuses_them(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", f"out_dir={out}", "device=cpu"]) == 0
    table = capsys.readouterr().out
    for label in ("latent cost only", "state-probe planner", "random actions", "oracle"):
        assert label in table
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["planners"]) == {"latent", "probe", "random", "oracle"}
    for name in ("latent", "probe", "random", "oracle"):
        res = json.loads((out / f"plan_{name}" / "results.json").read_text())
        assert 0.0 <= res["success_rate"] <= 1.0 and res["num_episodes"] == 2
    # the default planner is the latent one: its cost compares latents and nothing else
    latent = json.loads((out / "plan_latent" / "results.json").read_text())
    assert latent["cost"]["latent_only"] and latent["cost"]["state_weight"] == 0.0
    wm = json.loads((out / "world_model" / "world_model.json").read_text())
    assert wm["predictor"]["name"].startswith("latent_") and not wm["sim_state_dims"]
    stages = {"collect", "pretrain", "train-ac", "train-ac-probe", "plan-latent", "plan-probe"}
    assert set(summary["stage_seconds"]) >= stages
    report = (out / "report.md").read_text()
    assert "distances.png" in report

    # a second run finds every stage done and only re-prints the table
    before = json.loads((out / "timings.json").read_text())
    assert main(["demo", "--quick", f"out_dir={out}", "device=cpu"]) == 0
    assert json.loads((out / "timings.json").read_text()) == before
