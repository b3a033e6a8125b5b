"""Transformer block: residual structure, stochastic depth."""

import torch

from vworld.layers.block import Block, DropPath


def test_block_shapes_and_backward():
    blk = Block(32, 4, mlp_ratio=2.0, drop_path=0.5)
    assert blk.mlp.fc1.out_features == 64 and blk.norm1.eps == 1e-6
    x = torch.randn(3, 5, 32, requires_grad=True)
    blk(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_drop_path_is_identity_in_eval_and_per_sample_in_train():
    dp = DropPath(0.5)
    x = torch.ones(64, 3, 2)
    assert torch.equal(dp.eval()(x), x)
    y = dp.train()(x)
    per_sample = y.flatten(1)
    assert ((per_sample == 0).all(1) | (per_sample == 2).all(1)).all()
