import json

import torch

from vworld.train.monitor import MetricsLogger, effective_rank, feature_stats
from vworld.train.objectives import jepa_loss, sigreg


def test_jepa_loss_l1_and_power():
    a = torch.zeros(2, 3, 4)
    b = torch.full((2, 3, 4), 2.0)
    assert float(jepa_loss(a, b)) == 2.0
    assert float(jepa_loss(a, b, power=2.0)) == 2.0  # mean(4) / 2


def test_sigreg_prefers_gaussian_over_collapse():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1024, 32, generator=g)
    collapsed = torch.ones(1024, 32) + 0.01 * torch.randn(1024, 32, generator=g)
    s_gauss = float(sigreg(x, generator=torch.Generator().manual_seed(1)))
    s_coll = float(sigreg(collapsed, generator=torch.Generator().manual_seed(1)))
    assert s_gauss < 5.0 < 100.0 < s_coll
    # the gradient pushes a collapsed batch apart
    y = collapsed.clone().requires_grad_(True)
    sigreg(y, generator=torch.Generator().manual_seed(1)).backward()
    assert y.grad.abs().sum() > 0


def test_effective_rank_and_std():
    g = torch.Generator().manual_seed(0)
    full = torch.randn(512, 16, generator=g)
    rank1 = torch.randn(512, 1, generator=g) @ torch.randn(1, 16, generator=g)
    assert effective_rank(full) > 12
    assert effective_rank(rank1) < 1.5
    const = torch.ones(4, 10, 16)
    assert feature_stats(const)["feat_std"] == 0.0


def test_metrics_logger_truncates_on_resume(tmp_path):
    path = tmp_path / "metrics.jsonl"
    m = MetricsLogger(path)
    for s in (10, 20, 30):
        m.log({"step": s, "loss": 1.0})
    MetricsLogger(path, resume_step=20).log({"step": 30, "loss": 0.5})
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20, 30]
    assert rows[-1]["loss"] == 0.5
