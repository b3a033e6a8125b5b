import itertools

import pytest
import torch
from torch import nn

from vworld.train.ema import ema_update, make_target
from vworld.train.schedules import lr_at, momentum_at, wd_at


def test_warmup_then_cosine():
    kw = dict(total_steps=100, lr=1.0, warmup_steps=10, start_lr=0.1, final_lr=0.0)
    assert lr_at(0, **kw) == pytest.approx(0.1)
    assert lr_at(5, **kw) == pytest.approx(0.55)
    assert lr_at(10, **kw) == pytest.approx(1.0)
    assert lr_at(55, **kw) == pytest.approx(0.5)
    assert lr_at(100, **kw) == pytest.approx(0.0)
    values = [lr_at(s, **kw) for s in range(10, 101)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_wsd_holds_then_decays_linearly():
    kw = dict(total_steps=100, lr=1.0, warmup_steps=10, start_lr=0.0, final_lr=0.0)
    assert lr_at(50, kind="wsd", decay_steps=20, **kw) == pytest.approx(1.0)
    assert lr_at(80, kind="wsd", decay_steps=20, **kw) == pytest.approx(1.0)
    assert lr_at(90, kind="wsd", decay_steps=20, **kw) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown lr schedule"):
        lr_at(50, kind="step", **kw)


def test_wd_and_momentum():
    assert wd_at(0, 100, 0.04, 0.4) == pytest.approx(0.04)
    assert wd_at(100, 100, 0.04, 0.4) == pytest.approx(0.4)
    assert momentum_at(37, 100, 0.99925, 0.99925) == 0.99925
    assert momentum_at(50, 100, 0.99, 1.0) == pytest.approx(0.995)


def test_ema_update_moves_target_towards_online():
    torch.manual_seed(0)
    online = nn.Linear(4, 3)
    target = make_target(online)
    assert all(not p.requires_grad for p in target.parameters())
    t0 = target.weight.clone()
    with torch.no_grad():
        online.weight.add_(1.0)
    ema_update(target, online, 0.9)
    expected = 0.9 * t0 + 0.1 * online.weight
    assert torch.allclose(target.weight, expected, atol=1e-6)
    ema_update(target, online, 1.0)  # momentum 1 freezes the target
    assert torch.allclose(target.weight, expected, atol=1e-6)
    ema_update(target, online, 0.0)
    assert torch.equal(target.weight, online.weight)
    assert torch.equal(target.bias, online.bias.detach())
