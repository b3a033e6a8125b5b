"""The world-model contract: predictors implement Predictor, the file format round-trips and
is read strictly."""

from __future__ import annotations

import json

import pytest
import torch

from vworld.models.ac_predictors import ac_predictor_names, build_ac_predictor
from vworld.models.registry import create_model
from vworld.world_model import JEPAWorldModel, Predictor, WorldModel, load_world_model
from vworld.world_model_format import WorldModelFormatError

_STATS = {
    "action_mean": [0.0] * 3,
    "action_std": [1.0] * 3,
    "state_mean": [0.0] * 4,
    "state_std": [2.0] * 4,
}


@pytest.mark.parametrize("name", ["ac_test", "proprio_test", "latent_test"])
def test_every_predictor_family_implements_the_predictor_protocol(name):
    assert name in ac_predictor_names()
    model = build_ac_predictor(name, embed_dim=48, grid=(2, 2))
    assert isinstance(model, Predictor)
    tokens = torch.randn(3, 2, 4, 48)  # (B, T, Np, D)
    z = model.embed(tokens)
    if model.learned_latent:
        assert z.shape == (3, 2, model.latent_dim)
    else:
        assert z is tokens  # token-space models plan on the tokens themselves
    zp, sp = model(z, torch.randn(3, 2, 3), torch.randn(3, 2, 4))
    assert zp.shape == z.shape and sp.shape == (3, 2, 4)
    zr, sr = model.rollout(
        z[:1, :1], torch.randn(1, 1, 4), torch.zeros(1, 0, 3), torch.randn(5, 2, 3)
    )
    assert zr.shape == (5, 2, *z.shape[2:]) and sr.shape == (5, 2, 4)


def test_an_object_without_the_members_is_not_a_predictor_or_world_model():
    assert not isinstance(torch.nn.Linear(2, 2), Predictor)
    assert not isinstance(torch.nn.Linear(2, 2), WorldModel)
    with pytest.raises(TypeError, match="does not implement Predictor"):
        _world_model(predictor=torch.nn.Linear(2, 2))


def _world_model(predictor=None) -> JEPAWorldModel:
    torch.manual_seed(0)
    encoder = create_model("vit_test", img_size=32, num_frames=2)
    kwargs = {"embed_dim": 48, "action_dim": 3, "state_dim": 4, "grid": (2, 2)}
    predictor = predictor if predictor is not None else build_ac_predictor("latent_test", **kwargs)
    return JEPAWorldModel(
        encoder,
        predictor,
        ("latent_test", {**kwargs, "grid": [2, 2]}),
        {"model": "vit_test", "kwargs": {"img_size": 32, "num_frames": 2}},
        _STATS,
        (32, 32),
        (4, 4),
        pool_grid=(2, 2),
        frame_stride=2,
        action_mode="sum",
        frame_codec={"codec": "h264", "pix_fmt": "yuv444p", "crf": 0},
    )


def test_save_then_load_gives_the_same_world_model(tmp_path):
    wm = _world_model()
    assert isinstance(wm, WorldModel)
    wm.save(tmp_path / "wm")
    back = load_world_model(tmp_path / "wm")
    assert isinstance(back, WorldModel)
    assert back.frame_stride == 2 and back.frame_codec == wm.frame_codec
    assert back.sim_state_dims == [] and back.state_dims is None
    frames = torch.randint(0, 255, (1, 1, 32, 32, 3), dtype=torch.uint8)
    z = wm.encode(frames)
    torch.testing.assert_close(back.encode(frames), z)
    actions = torch.rand(6, 3, 3) * 2 - 1
    s = torch.zeros(1, 1, 4)
    for got, want in zip(back.rollout(z, s, actions), wm.rollout(z, s, actions)):
        torch.testing.assert_close(got, want)
    # saving the loaded one writes the same description
    back.save(tmp_path / "again")
    first = json.loads((tmp_path / "wm" / "world_model.json").read_text())
    assert json.loads((tmp_path / "again" / "world_model.json").read_text()) == first


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("frame_stride"), "missing frame_stride"),
        (lambda m: m.update(frame_strides=5), "unknown frame_strides"),
        (lambda m: m["predictor"].pop("weights"), "missing predictor.weights"),
        (lambda m: m.update(frame_stride="5"), "field frame_stride is str, expected int"),
        (lambda m: m.update(format="vworld-world-model/0"), "field format"),
    ],
)
def test_world_model_json_is_read_strictly(tmp_path, edit, message):
    out = _world_model().save(tmp_path / "wm")
    path = out / "world_model.json"
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))
    with pytest.raises(WorldModelFormatError, match=message) as err:
        load_world_model(out)
    assert str(path) in str(err.value)


def _seeded(seed: int, **edit) -> JEPAWorldModel:
    wm = _world_model()
    torch.manual_seed(seed)
    for p in wm.predictor.parameters():
        p.data.normal_(0, 0.3)  # another member: other weights, as another training seed gives
    for k, v in edit.items():
        setattr(wm, k, v)
    return wm


def test_an_ensemble_sees_each_members_latents_side_by_side_and_averages_their_costs(tmp_path):
    from vworld.eval.costs import latent_distance
    from vworld.world_model import EnsembleWorldModel, load_world_models

    a, b = _seeded(1), _seeded(2)
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    ens = load_world_models(f"{tmp_path / 'a'},{tmp_path / 'b'}")
    assert isinstance(ens, EnsembleWorldModel) and len(ens) == 2
    assert isinstance(ens, WorldModel) and ens.frame_stride == 2
    assert isinstance(load_world_models(tmp_path / "a"), JEPAWorldModel)
    frames = torch.randint(0, 255, (1, 1, 32, 32, 3), dtype=torch.uint8)
    goal = torch.randint(0, 255, (1, 1, 32, 32, 3), dtype=torch.uint8)
    z = ens.encode(frames)
    za, zb = a.encode(frames), b.encode(frames)
    torch.testing.assert_close(z, torch.cat([za, zb], -1))
    actions = torch.rand(6, 3, 3) * 2 - 1
    s = torch.zeros(1, 1, 4)
    (pa, sa), (pb, sb) = a.rollout(za, s, actions), b.rollout(zb, s, actions)
    assert not torch.allclose(pa, pb)  # the members disagree
    zp, sp = ens.rollout(z, s, actions)
    torch.testing.assert_close(zp, torch.cat([pa, pb], -1))
    torch.testing.assert_close(sp, (sa + sb) / 2)
    # the L2 cost in the ensemble's latent is the mean of the members' costs
    zg, zga, zgb = ens.encode(goal), a.encode(goal), b.encode(goal)
    want = (latent_distance(pa, zga, "l2") + latent_distance(pb, zgb, "l2")) / 2
    torch.testing.assert_close(latent_distance(zp, zg, "l2"), want)
    with pytest.raises(ValueError, match="not one this ensemble's encode gave"):
        ens.rollout(za, s, actions)


def test_a_pessimistic_ensemble_cost_is_each_candidates_worst_member():
    from vworld.eval.costs import CostConfig, goal_cost, make_latent_cost
    from vworld.world_model import EnsembleWorldModel

    a, b = _seeded(1), _seeded(2)
    ens = EnsembleWorldModel([a, b])
    assert ens.latent_sizes is None  # known once it has encoded a frame
    frames = torch.randint(0, 255, (1, 1, 32, 32, 3), dtype=torch.uint8)
    goal = torch.randint(0, 255, (1, 1, 32, 32, 3), dtype=torch.uint8)
    z, zg = ens.encode(frames), ens.encode(goal)
    assert ens.latent_sizes == [a.encode(frames).shape[-1], b.encode(frames).shape[-1]]
    s = torch.zeros(1, 1, 4)
    actions = torch.rand(32, 3, 3) * 2 - 1
    cfg = CostConfig(cost_type="l2", cost_on="all", latent_only=True, ensemble="max")
    cost = make_latent_cost(lambda x: ens.rollout(z, s, x), zg, cfg, latent_sizes=ens.latent_sizes)
    ca = goal_cost(a.rollout(a.encode(frames), s, actions)[0], a.encode(goal), cfg)
    cb = goal_cost(b.rollout(b.encode(frames), s, actions)[0], b.encode(goal), cfg)
    got = cost(actions)
    torch.testing.assert_close(got, torch.maximum(ca, cb))
    assert (ca > cb).any() and (cb > ca).any()  # the worst member differs between candidates
    mean = make_latent_cost(
        lambda x: ens.rollout(z, s, x), zg, CostConfig(cost_type="l2", cost_on="all")
    )
    assert (mean(actions) < got).all()  # the mean of two different costs is below their max
    with pytest.raises(ValueError, match=r"cost\.ensemble=max needs an ensemble"):
        make_latent_cost(lambda x: a.rollout(z, s, x), zg, cfg)
    with pytest.raises(ValueError, match=r"cost\.ensemble must be one of"):
        CostConfig(ensemble="min").validate()


def test_an_ensemble_refuses_members_of_other_tasks():
    from vworld.world_model import EnsembleWorldModel

    with pytest.raises(ValueError, match="member 1's frame_stride is 5, member 0's 2"):
        EnsembleWorldModel([_seeded(1), _seeded(2, frame_stride=5)])
    with pytest.raises(ValueError, match="member 1's frame_codec"):
        EnsembleWorldModel([_seeded(1), _seeded(2, frame_codec=None)])
    with pytest.raises(ValueError, match="at least one member"):
        EnsembleWorldModel([])
