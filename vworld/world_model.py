"""The world-model contract, the encoder + predictor world model, and its file format.

Declared once here (the short verbs of TD-MPC2):

- :class:`Predictor`: what every action-conditioned predictor implements (the V-JEPA 2-AC
  transformer, the proprioceptive model, the compact-latent model).
- :class:`WorldModel`: every member a controller or the planning harness uses. Planners and
  harnesses take any object that has them, and read nothing else.
- :class:`JEPAWorldModel`: a frozen video encoder and a registered predictor, with the
  normalisation of actions and states; ``encode`` gives the planning latent of frames,
  ``rollout`` imagines H steps for hundreds of candidate action sequences at once.
- :class:`EnsembleWorldModel`: several world models planned as one (PETS, Chua et al. 2018):
  a candidate's cost is the mean of its costs in every member, so a plan must look good in
  models trained apart, and the errors of one model are not what the planner optimises.
- :meth:`JEPAWorldModel.save` and :func:`load_world_model`: the one writer and the one
  reader of a world-model folder (``world_model.json``, ``predictor.safetensors``, the
  encoder and optionally ``probe.safetensors``); ``vworld/world_model_format.py`` holds the
  fields of ``world_model.json`` that both check.

Actions and states go in and come out in the environment's units; normalisation is inside.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from vworld.data.windows import Normalizer
from vworld.encoders import encode_frames, encoder_spec, export_encoder, load_encoder
from vworld.files import atomic_write_text, save_weights
from vworld.layers.pooling import pool_tokens
from vworld.models.ac_predictors import build_ac_predictor
from vworld.models.state_probe import StateProbe
from vworld.world_model_format import FORMAT, check_meta, read_world_model_json

__all__ = [
    "EnsembleWorldModel",
    "JEPAWorldModel",
    "Predictor",
    "WorldModel",
    "load_world_model",
    "load_world_models",
]


@runtime_checkable
class Predictor(Protocol):
    """An action-conditioned predictor over per-frame latents (normalised actions and states).

    ``learned_latent`` says whether the latent is the predictor's own compact embedding of
    the encoder's tokens (``embed`` projects them) or the tokens themselves (``embed`` is
    the identity).
    """

    learned_latent: bool

    def embed(self, tokens: Tensor) -> Tensor:
        """Encoder tokens ``(..., Np, D)`` -> the planning latent of each frame."""
        ...

    def forward(self, z: Tensor, actions: Tensor, states: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher forcing: ``z (B, T, ...)``, ``actions (B, T, A)``, ``states (B, T, S)`` ->
        ``(z_next, s_next)``, where index t predicts step t+1."""
        ...

    def rollout(
        self,
        z_context: Tensor,
        s_context: Tensor,
        a_context: Tensor,
        actions: Tensor,
        use_cache: bool = True,
        latents: bool = True,
    ) -> tuple[Tensor | None, Tensor]:
        """Imagine ``H`` steps for ``N`` sequences ``actions (N, H, A)`` from one context.

        ``latents=False``: the caller needs only the states; a predictor whose states do not
        depend on its latents may return ``None`` for them."""
        ...


@runtime_checkable
class WorldModel(Protocol):
    """Everything a controller and the planning harness use of a world model.

    One model step is one action block: ``frame_stride`` env steps with the action held.
    The goal is represented by ``encode(goal_frames)`` (the latent cost) and, for the
    state-probe planner, by ``read_state(goal_frames)``.
    """

    frame_stride: int  # env steps per model step (plan with action_block = frame_stride)
    angle_dims: list[int]  # state dims that are angles in [-pi, pi)
    frame_codec: dict | None  # codec of the training videos (images are recoded through it)
    # columns of the simulator state appended to the robot's in training; at plan time they
    # are read from images by the probe (empty: the state is the robot's own)
    sim_state_dims: list[int]
    state_dims: list[int] | None  # the state dims ``read_state`` estimates (None: no probe)

    def encode(self, frames: Tensor) -> Tensor:
        """uint8 frames ``(B, T, 3, H, W)`` or ``(B, T, H, W, 3)`` -> latents ``(B, T, ...)``."""
        ...

    def observed_state(self, frames: Tensor, proprio: Tensor) -> Tensor:
        """The model's state ``(B, T, S)`` of observations with the robot's ``proprio``."""
        ...

    def read_state(self, frames: Tensor) -> Tensor:
        """The state dims :attr:`state_dims` a frame shows ``(B, T, K)`` (raises: no probe)."""
        ...

    def rollout(
        self, z_context: Tensor, s_context: Tensor, actions: Tensor, latents: bool = True
    ) -> tuple[Tensor | None, Tensor]:
        """``H`` imagined steps for ``N`` candidate sequences ``actions (N, H, A)`` from a
        context ``z (1, Tc, ...)``, ``s (1, Tc, S)`` -> ``(z (N, H, ...), s (N, H, S))``;
        ``latents=False`` allows ``z`` to be ``None``."""
        ...


class JEPAWorldModel(nn.Module):
    """A frozen video encoder and an action-conditioned predictor: implements :class:`WorldModel`.

    Args:
        encoder: video ViT (frames are encoded one at a time, repeated to fill a tubelet).
        predictor: a registered :class:`Predictor` (``build_ac_predictor``).
        predictor_spec: ``(registered name, keyword arguments)`` it was built with.
        encoder_source: the encoder's registered ``{"model", "kwargs"}`` (saved with the
            weights), or the path of an official checkpoint (saved as a reference).
        stats: ``action_mean/std``, ``state_mean/std`` of the training windows.
        image_size: ``(H, W)`` of the frames it was trained on.
        encoder_grid: the encoder's token grid ``(h, w)`` for one frame.
        pool_grid: pool the encoder's tokens to this grid before the predictor.
        frame_stride: env steps per model step (plan with ``action_block = frame_stride``).
        action_mode: ``sum`` (a planned action held for ``frame_stride`` steps sums to
            ``frame_stride * a``), ``concat`` (fed ``frame_stride`` times, concatenated)
            or ``state_diff``.
        angle_dims: state indices that are angles wrapped to [-pi, pi).
        frame_codec: ``{"codec", "pix_fmt", "crf"}`` of the training videos, or None.
        sim_state_dims: sim-state columns appended to the robot's state in training; the
            state's last ``len(sim_state_dims)`` entries are then read from images by the probe.
        probe: optional :class:`StateProbe` (tokens -> state dims) with its ``probe_kwargs``.
        probe_grid: the token grid the probe reads (default: the predictor's).
    """

    def __init__(
        self,
        encoder: nn.Module,
        predictor: nn.Module,
        predictor_spec: tuple[str, dict[str, Any]],
        encoder_source: dict[str, Any] | str,
        stats: dict[str, list[float]],
        image_size: tuple[int, int],
        encoder_grid: tuple[int, int],
        pool_grid: tuple[int, int] | None = None,
        frame_stride: int = 1,
        action_mode: str = "sum",
        angle_dims: list[int] | None = None,
        frame_codec: dict | None = None,
        sim_state_dims: list[int] | None = None,
        probe: StateProbe | None = None,
        probe_kwargs: dict[str, Any] | None = None,
        probe_grid: tuple[int, int] | None = None,
    ):
        super().__init__()
        if not isinstance(predictor, Predictor):
            raise TypeError(f"{type(predictor).__name__} does not implement Predictor")
        self.encoder = encoder.eval().requires_grad_(False)
        self.predictor = predictor.eval().requires_grad_(False)
        self.predictor_spec = (predictor_spec[0], dict(predictor_spec[1]))
        self.encoder_source = encoder_source
        self.norm = Normalizer(stats)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.encoder_grid = (int(encoder_grid[0]), int(encoder_grid[1]))
        self.pool_grid = tuple(pool_grid) if pool_grid else None
        self.frame_stride = int(frame_stride)
        self.action_mode = action_mode
        self.angle_dims = list(angle_dims or [])
        self.frame_codec = dict(frame_codec) if frame_codec else None
        self.sim_state_dims = list(sim_state_dims or [])
        if (probe is None) != (probe_kwargs is None):
            raise ValueError("probe and probe_kwargs come together")
        self.probe = probe.eval().requires_grad_(False) if probe is not None else None
        self.probe_kwargs = dict(probe_kwargs) if probe_kwargs else None
        self.probe_grid = tuple(probe_grid) if probe_grid else self.pool_grid or self.encoder_grid
        k, s_dim = len(self.sim_state_dims), len(stats["state_mean"])
        self.image_state_dims = list(range(s_dim - k, s_dim))
        missing = [d for d in self.image_state_dims if d not in (self.state_dims or [])]
        if missing:
            raise ValueError(
                f"state dims {missing} come from images but the probe "
                f"does not estimate them (probe dims: {self.state_dims})"
            )

    @property
    def state_dims(self) -> list[int] | None:
        """The state dims :meth:`read_state` estimates (None without a probe)."""
        return None if self.probe is None else list(self.probe.dims)

    @property
    def learned_latent(self) -> bool:
        """Whether latents are the predictor's own embedding of the tokens (``latent_*``)."""
        return bool(self.predictor.learned_latent)

    @property
    def device(self) -> torch.device:
        return next(self.predictor.parameters()).device

    @torch.no_grad()
    def observed_state(self, frames: Tensor, proprio: Tensor) -> Tensor:
        """The robot's ``proprio (B, T, S0)``, followed by the state dims the probe reads from
        ``frames`` (none for world models trained on the robot's state alone)."""
        if not self.image_state_dims:
            return proprio
        est = self.read_state(frames)  # (B, T, K)
        cols = [self.probe.dims.index(d) for d in self.image_state_dims]
        return torch.cat([proprio.to(est), est[..., cols]], -1)

    @torch.no_grad()
    def read_state(self, frames: Tensor) -> Tensor:
        """Estimated state dims ``(B, T, K)`` of uint8 frames: the probe reads their tokens at
        its own grid (:attr:`probe_grid`).

        Raises:
            RuntimeError: the world model has no probe (train-ac ran with probe.enabled=false).
        """
        if self.probe is None:
            raise RuntimeError(
                "this world model has no state probe; retrain it with "
                "`vworld train-ac ... probe.enabled=true` or plan with cost.goal_state=given"
            )
        return self.probe.infer(self.tokens(frames, grid=self.probe_grid))

    @property
    def block_action_dim(self) -> int | None:
        """Size of a model step's actions planned one per env step (``frame_stride`` actions,
        concatenated: :meth:`rollout` takes them), or None where a step takes one held action
        only (``action_mode`` other than ``concat``)."""
        return len(self.norm.action_mean) if self.action_mode == "concat" else None

    def _norm_a(self, a: Tensor) -> Tensor:
        if self.action_mode == "sum":
            a = a * self.frame_stride  # an action held for the whole block, summed
        elif self.action_mode == "concat" and a.shape[-1] != self.block_action_dim:
            # one action held for the whole block: each step's fed together
            a = a.unsqueeze(-2).expand(*a.shape[:-1], self.frame_stride, a.shape[-1]).flatten(-2)
        return self.norm.actions(a)

    @torch.no_grad()
    def encode(self, frames: Tensor) -> Tensor:
        """uint8 frames -> the planning latents: ``(B, T, d)`` for a ``latent_*`` model, else
        the pooled tokens ``(B, T, Np, D)``."""
        return self.predictor.embed(self.tokens(frames))

    @torch.no_grad()
    def tokens(self, frames: Tensor, grid: tuple[int, int] | None = None) -> Tensor:
        """uint8 frames ``(B, T, H, W, 3)`` or ``(B, T, 3, H, W)`` -> tokens ``(B, T, Np, D)``,
        pooled to ``grid`` (default: the predictor's, ``pool_grid``)."""
        if frames.dim() != 5:
            raise ValueError(f"encode expects (B, T, H, W, 3) frames, got {tuple(frames.shape)}")
        b, t = frames.shape[:2]
        z = encode_frames(self.encoder, frames.reshape(b * t, *frames.shape[2:]).to(self.device))
        z = pool_tokens(z, self.encoder_grid, grid or self.pool_grid)  # (B*T, Np', D)
        return z.reshape(b, t, *z.shape[1:])

    def predict(self, z: Tensor, actions: Tensor, states: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher-forced next-step latents and states: ``z (B, T, ...)``, ``actions (B, T, A)``,
        ``states (B, T, S)`` (env units); index t predicts step t+1."""
        zp, sp = self.predictor(z, self._norm_a(actions), self.norm.states(states))
        return zp, self.norm.unstates(sp)

    def rollout(
        self,
        z_context: Tensor,
        s_context: Tensor,
        actions: Tensor,
        latents: bool = True,
        a_context: Tensor | None = None,
        use_cache: bool = True,
    ) -> tuple[Tensor | None, Tensor]:
        """Imagine ``H`` steps for ``N`` candidate action sequences from one context.

        Args:
            z_context: ``(1, Tc, ...)`` latents of the observed frames.
            s_context: ``(1, Tc, S)`` their states (env units).
            actions: ``(N, H, A)`` candidate actions (env units, each held ``frame_stride``
                steps), or, with ``action_mode=concat``, ``(N, H, frame_stride * A)``: each
                step's own actions (:attr:`block_action_dim`).
            latents: False lets a predictor whose states do not depend on its latents
                (``proprio_*``) skip decoding them and return ``None`` for ``z``.
            a_context: ``(1, Tc-1, A)`` actions taken between the context frames (default 0).
            use_cache: reuse the context's keys and values across imagined steps.
        Returns:
            ``(z (N, H, ...), s (N, H, S))``.
        """
        tc = z_context.shape[1]
        if a_context is None:
            a_context = actions.new_zeros(1, tc - 1, actions.shape[-1])
        zp, sp = self.predictor.rollout(
            z_context,
            self.norm.states(s_context),
            self._norm_a(a_context),
            self._norm_a(actions),
            use_cache=use_cache,
            latents=latents,
        )
        return zp, self.norm.unstates(sp)

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write the world model into ``out_dir`` (every file atomically); returns the folder.

        ``world_model.json`` is written last, so a folder with one is complete."""
        out = Path(out_dir)

        def weights(module: nn.Module, name: str) -> str:
            save_weights(module, out / name)
            return name

        if isinstance(self.encoder_source, dict):
            src = self.encoder_source
            export_encoder(out, self.encoder, src["model"], src["kwargs"])
            encoder_ref = "encoder.safetensors"
        else:
            encoder_ref = str(Path(self.encoder_source).resolve())
        name, kwargs = self.predictor_spec
        meta = {
            "format": FORMAT,
            "encoder": encoder_ref,
            "predictor": {
                "name": name,
                "kwargs": kwargs,
                "weights": weights(self.predictor, "predictor.safetensors"),
            },
            "image_size": list(self.image_size),
            "encoder_grid": list(self.encoder_grid),
            "pool_grid": list(self.pool_grid) if self.pool_grid else None,
            "frame_stride": self.frame_stride,
            "action_mode": self.action_mode,
            "angle_dims": self.angle_dims,
            "stats": self.norm.stats,
            "frame_codec": self.frame_codec,
            "sim_state_dims": self.sim_state_dims,
            "probe": None,
        }
        if self.probe is not None:
            meta["probe"] = {
                "weights": weights(self.probe, "probe.safetensors"),
                "kwargs": self.probe_kwargs,
                "grid": list(self.probe_grid),
            }
        check_meta(meta, out / "world_model.json")  # the writer keeps to the reader's schema
        atomic_write_text(out / "world_model.json", json.dumps(meta, indent=2))
        return out


def load_world_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> JEPAWorldModel:
    """Load a world model written by :meth:`JEPAWorldModel.save` from its folder."""
    from safetensors.torch import load_file

    run = Path(path)
    meta_path = run / "world_model.json"
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{run}: no world_model.json; is this a `vworld train-ac` run folder?"
        )
    meta = read_world_model_json(meta_path)
    enc_ref = Path(meta["encoder"])
    if enc_ref.is_absolute():
        encoder, source = load_encoder(enc_ref, device=device), str(enc_ref)
    else:
        encoder, source = load_encoder(run, device=device), encoder_spec(run)
    name, kw = meta["predictor"]["name"], dict(meta["predictor"]["kwargs"])
    predictor = build_ac_predictor(name, **{**kw, "grid": tuple(kw["grid"])})
    predictor.load_state_dict(load_file(str(run / meta["predictor"]["weights"])))
    probe = probe_kwargs = probe_grid = None
    if meta["probe"] is not None:
        probe_kwargs, probe_grid = meta["probe"]["kwargs"], tuple(meta["probe"]["grid"])
        probe = StateProbe(**probe_kwargs)
        probe.load_state_dict(load_file(str(run / meta["probe"]["weights"])))
    wm = JEPAWorldModel(
        encoder,
        predictor,
        (name, kw),
        source,
        meta["stats"],
        tuple(meta["image_size"]),
        tuple(meta["encoder_grid"]),
        tuple(meta["pool_grid"]) if meta["pool_grid"] else None,
        meta["frame_stride"],
        meta["action_mode"],
        meta["angle_dims"],
        meta["frame_codec"],
        meta["sim_state_dims"],
        probe,
        probe_kwargs,
        probe_grid,
    )
    return wm.to(device)


class EnsembleWorldModel:
    """Several world models of one task planned as one (PETS's ensemble, Chua et al. 2018).

    Each member keeps its own latent space (a compact-latent model learns its projector), so
    the ensemble's latent of a frame is the members' latents side by side, and a rollout's is
    their predictions side by side: a distance that averages over the latent's elements
    (``vworld.eval.costs``) is then the mean of the members' distances. CEM picks the plan
    that every member predicts to reach the goal, instead of the one a single model's errors
    make look best. The state is the members' mean prediction.

    Args:
        members: world models with the same ``frame_stride``, actions (``action_mode`` and
            :attr:`block_action_dim`), ``angle_dims``, ``frame_codec`` and latent shape
            except its last dim; none may read simulator state from images.
    """

    def __init__(self, members: list[WorldModel]) -> None:
        if not members:
            raise ValueError("EnsembleWorldModel: needs at least one member")
        first = members[0]
        for i, m in enumerate(members[1:], 1):
            for name in ("frame_stride", "angle_dims", "frame_codec", "block_action_dim"):
                a, b = getattr(first, name, None), getattr(m, name, None)
                if a != b:
                    raise ValueError(
                        f"EnsembleWorldModel: member {i}'s {name} is {b!r}, member 0's {a!r}; "
                        "the members must be trained for the same task and actions"
                    )
        for i, m in enumerate(members):
            if m.sim_state_dims:
                raise ValueError(
                    f"EnsembleWorldModel: member {i} reads simulator columns "
                    f"{list(m.sim_state_dims)} from images; ensembles take models of the "
                    "robot's own state"
                )
        self.members = list(members)
        self.frame_stride = first.frame_stride
        self.angle_dims = list(first.angle_dims)
        self.frame_codec = first.frame_codec
        self.sim_state_dims: list[int] = []
        self.state_dims: list[int] | None = None
        self.block_action_dim = getattr(first, "block_action_dim", None)
        self._sizes: list[int] | None = None  # the members' latent sizes, once encoded

    @property
    def learned_latent(self) -> bool:
        return all(getattr(m, "learned_latent", False) for m in self.members)

    def __len__(self) -> int:
        return len(self.members)

    @staticmethod
    def _side_by_side(parts: list[Tensor], what: str) -> Tensor:
        lead = {tuple(p.shape[:-1]) for p in parts}
        if len(lead) != 1:
            shapes = [tuple(p.shape) for p in parts]
            raise ValueError(f"EnsembleWorldModel: the members' {what} shapes differ: {shapes}")
        return torch.cat(parts, dim=-1)

    @torch.no_grad()
    def encode(self, frames: Tensor) -> Tensor:
        """The members' latents of ``frames``, side by side along the last dim."""
        parts = [m.encode(frames) for m in self.members]
        self._sizes = [p.shape[-1] for p in parts]
        return self._side_by_side(parts, "latent")

    @property
    def latent_sizes(self) -> list[int] | None:
        """The members' latent sizes, in the order :meth:`encode` puts them side by side
        (None until it has encoded a frame)."""
        return None if self._sizes is None else list(self._sizes)

    def _latent_sizes(self, z: Tensor) -> list[int]:
        sizes = self._sizes
        if sizes is None or sum(sizes) != z.shape[-1]:
            raise ValueError(
                f"EnsembleWorldModel.rollout: a context latent of size {z.shape[-1]} is not "
                "one this ensemble's encode gave (the members' latents side by side)"
            )
        return sizes

    def observed_state(self, frames: Tensor, proprio: Tensor) -> Tensor:
        return proprio

    def read_state(self, frames: Tensor) -> Tensor:
        raise RuntimeError("an EnsembleWorldModel has no state probe")

    @torch.no_grad()
    def rollout(
        self, z_context: Tensor, s_context: Tensor, actions: Tensor, latents: bool = True
    ) -> tuple[Tensor | None, Tensor]:
        """Every member's rollout from its own part of ``z_context``: their latents side by
        side, and their states' mean (angles averaged on the circle)."""
        sizes = self._latent_sizes(z_context)
        zs, ss = [], []
        for m, z in zip(self.members, z_context.split(sizes, dim=-1)):
            zp, sp = m.rollout(z, s_context, actions, latents=latents)
            zs.append(zp)
            ss.append(sp)
        s = torch.stack(ss).mean(0)
        if self.angle_dims:
            ang = torch.stack(ss)[..., self.angle_dims]
            s[..., self.angle_dims] = torch.atan2(ang.sin().mean(0), ang.cos().mean(0))
        if not latents or any(z is None for z in zs):
            return None, s
        return self._side_by_side(zs, "predicted latent"), s


def load_world_models(
    paths: str | os.PathLike | list[str | os.PathLike], device: str | torch.device = "cpu"
) -> JEPAWorldModel | EnsembleWorldModel:
    """One world model, or an :class:`EnsembleWorldModel` of several: ``paths`` is one
    folder, a list of folders, or folders joined by commas (``runs/wm-a,runs/wm-b``)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [p.strip() for p in str(paths).split(",") if p.strip()]
    if not paths:
        raise ValueError("load_world_models: no world-model folder given")
    if len(paths) == 1:
        return load_world_model(paths[0], device=device)
    return EnsembleWorldModel([load_world_model(p, device=device) for p in paths])
