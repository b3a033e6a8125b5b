"""The world-model API the planner uses: encode observations, predict and roll out latents.

``load_world_model(run_dir)`` reads what ``vworld train-ac`` exports (``world_model.json``,
``predictor.safetensors`` and the encoder) and returns a ``WorldModel`` with the short verbs of
TD-MPC2: ``encode(frames) -> z`` (the planning latent: the encoder's pooled tokens, or a
``latent_*`` model's compact embedding of them), ``predict(z, actions, states) -> (z_next, s_next)`` and
``rollout(z_context, s_context, actions) -> (z, s)`` for H steps, batched over hundreds of
candidate action sequences, with the context's keys and values cached so each imagined step
costs only its own tokens, and, when ``train-ac`` trained a state probe,
``read_state(frames) -> s`` (the state dims a frame shows, e.g. a goal image's joint angles).
Actions and states go in and come out in the environment's units; normalisation is inside.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from vworld.encoders import encode_frames, load_encoder
from vworld.layers.pooling import pool_tokens
from vworld.models.ac_predictor import build_ac_predictor
from vworld.models.state_probe import StateProbe

__all__ = ["Normalizer", "WorldModel", "load_world_model"]


class Normalizer(nn.Module):
    """z-scores actions and states with the training windows' mean and std."""

    def __init__(self, stats: dict[str, list[float]]):
        super().__init__()
        for k, v in stats.items():
            self.register_buffer(k, torch.tensor(v, dtype=torch.float32), persistent=False)

    def actions(self, a: Tensor) -> Tensor:
        return (a - self.action_mean) / self.action_std

    def states(self, s: Tensor) -> Tensor:
        return (s - self.state_mean) / self.state_std

    def unstates(self, s: Tensor) -> Tensor:
        return s * self.state_std + self.state_mean


class WorldModel(nn.Module):
    """A frozen encoder and an action-conditioned predictor, with their normalisation.

    Args:
        encoder: video ViT (frames are encoded one at a time, repeated to fill a tubelet).
        predictor: a registered action-conditioned predictor (``build_ac_predictor``): the
            V-JEPA 2-AC transformer or ``proprio_*`` over the encoder's tokens, or a
            ``latent_*`` model over its own compact latent of them (``learned_latent``).
        stats: ``action_mean/std``, ``state_mean/std`` of the training windows.
        encoder_grid: the encoder's token grid ``(h, w)`` for one frame.
        pool_grid: pool the encoder's tokens to this grid before the predictor.
        frame_stride: env steps per model step (plan with ``action_block = frame_stride``).
        action_mode: ``sum`` (a planned action held for ``frame_stride`` steps sums to
            ``frame_stride * a``), ``concat`` (it is fed ``frame_stride`` times, concatenated)
            or ``state_diff``.
        probe: optional :class:`StateProbe` (tokens -> state dims) for goal images.
        probe_grid: the token grid the probe reads (default: the predictor's).
        sim_state_dims: the sim-state columns appended to the robot's state in training
            (``train-ac data.sim_state_dims``); the state's last ``len(sim_state_dims)``
            entries (:attr:`image_state_dims`) are then read from images by the probe.
        angle_dims: state indices that are angles wrapped to [-pi, pi).
        frame_codec: ``{"codec", "pix_fmt", "crf"}`` of the videos it was trained on, or None.
            Planners pass images from outside (goal renders, camera frames) through it
            (``vworld.data.lerobot_write.recode_frames``) so the encoder sees the artifacts it
            was trained on.
    """

    def __init__(
        self,
        encoder: nn.Module,
        predictor: nn.Module,
        stats: dict[str, list[float]],
        encoder_grid: tuple[int, int],
        pool_grid: tuple[int, int] | None = None,
        frame_stride: int = 1,
        action_mode: str = "sum",
        probe: StateProbe | None = None,
        angle_dims: list[int] | None = None,
        frame_codec: dict | None = None,
        probe_grid: tuple[int, int] | None = None,
        sim_state_dims: list[int] | None = None,
    ):
        super().__init__()
        self.frame_codec = dict(frame_codec) if frame_codec else None
        self.encoder = encoder.eval().requires_grad_(False)
        self.predictor = predictor.eval().requires_grad_(False)
        self.encoder_grid = tuple(encoder_grid)
        self.pool_grid = tuple(pool_grid) if pool_grid else None
        self.frame_stride = int(frame_stride)
        self.action_mode = action_mode
        self.norm = Normalizer(stats)
        self.probe = probe.eval().requires_grad_(False) if probe is not None else None
        self.probe_grid = tuple(probe_grid) if probe_grid else self.pool_grid or self.encoder_grid
        self.angle_dims = list(angle_dims or [])
        self.sim_state_dims = list(sim_state_dims or [])
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
        """The state dims :meth:`infer_state` estimates (None without a probe)."""
        return None if self.probe is None else list(self.probe.dims)

    @torch.no_grad()
    def observed_state(self, frames: Tensor, proprio: Tensor) -> Tensor:
        """The model's state ``(B, T, S)`` of observations: the robot's ``proprio (B, T, S0)``,
        followed by the :attr:`image_state_dims` the probe reads from ``frames`` (none for
        world models trained on the robot's state alone)."""
        if not self.image_state_dims:
            return proprio
        est = self.read_state(frames)  # (B, T, K)
        cols = [self.probe.dims.index(d) for d in self.image_state_dims]
        return torch.cat([proprio.to(est), est[..., cols]], -1)

    @torch.no_grad()
    def read_state(self, frames: Tensor) -> Tensor:
        """Estimated state dims ``(B, T, K)`` of uint8 frames ``(B, T, H, W, 3)``: the probe
        reads their tokens at its own grid (:attr:`probe_grid`)."""
        return self.infer_state(self.tokens(frames, grid=self.probe_grid))

    @torch.no_grad()
    def infer_state(self, z: Tensor) -> Tensor:
        """Estimated state dims ``(..., K)`` of frames with tokens ``z (..., Np, D)`` at
        :attr:`probe_grid`.

        Raises:
            RuntimeError: the world model has no probe (train-ac ran with probe.enabled=false).
        """
        if self.probe is None:
            raise RuntimeError(
                "this world model has no state probe; retrain it with "
                "`vworld train-ac ... probe.enabled=true` or plan with cost.goal_state=given"
            )
        return self.probe.infer(z)

    @property
    def device(self) -> torch.device:
        return next(self.predictor.parameters()).device

    def _norm_a(self, a: Tensor) -> Tensor:
        if self.action_mode == "sum":
            a = a * self.frame_stride  # an action held for the whole block, summed
        elif self.action_mode == "concat":  # held for the whole block, each step's fed together
            a = a.unsqueeze(-2).expand(*a.shape[:-1], self.frame_stride, a.shape[-1]).flatten(-2)
        return self.norm.actions(a)

    @property
    def learned_latent(self) -> bool:
        """Whether latents are the predictor's own compact embedding of the encoder's tokens
        (``latent_*`` models) rather than the tokens themselves."""
        return bool(self.predictor.learned_latent)

    @torch.no_grad()
    def encode(self, frames: Tensor) -> Tensor:
        """uint8 frames ``(B, T, H, W, 3)`` or ``(B, T, 3, H, W)`` -> the planning latents:
        ``(B, T, d)`` for a ``latent_*`` model, else the pooled tokens ``(B, T, Np, D)``."""
        z = self.tokens(frames)
        return self.predictor.embed(z) if self.learned_latent else z

    @torch.no_grad()
    def tokens(self, frames: Tensor, grid: tuple[int, int] | None = None) -> Tensor:
        """uint8 frames ``(B, T, H, W, 3)`` or ``(B, T, 3, H, W)`` -> tokens ``(B, T, Np, D)``.

        ``grid``: pool the tokens to this grid (default: the predictor's, ``pool_grid``).
        """
        if frames.dim() != 5:
            raise ValueError(f"encode expects (B, T, H, W, 3) frames, got {tuple(frames.shape)}")
        b, t = frames.shape[:2]
        z = encode_frames(self.encoder, frames.reshape(b * t, *frames.shape[2:]).to(self.device))
        z = pool_tokens(z, self.encoder_grid, grid or self.pool_grid)  # (B*T, Np', D)
        return z.reshape(b, t, *z.shape[1:])

    def predict(self, z: Tensor, actions: Tensor, states: Tensor) -> tuple[Tensor, Tensor]:
        """Next-step latents and states for each step of a teacher-forced sequence.

        Args:
            z: ``(B, T, Np, D)``; actions: ``(B, T, A)``; states: ``(B, T, S)`` (env units).
        Returns:
            ``(z_next (B, T, Np, D), s_next (B, T, S))``: index t predicts step t+1.
        """
        zp, sp = self.predictor(z, self._norm_a(actions), self.norm.states(states))
        return zp, self.norm.unstates(sp)

    def rollout(
        self,
        z_context: Tensor,
        s_context: Tensor,
        actions: Tensor,
        a_context: Tensor | None = None,
        use_cache: bool = True,
        latents: bool = True,
    ) -> tuple[Tensor | None, Tensor]:
        """Imagine ``H`` steps for ``N`` candidate action sequences from one context.

        Args:
            z_context: ``(1, Tc, Np, D)`` latents of the observed frames.
            s_context: ``(1, Tc, S)`` their states (env units).
            actions: ``(N, H, A)`` candidate actions (env units, each held ``frame_stride`` steps).
            a_context: ``(1, Tc-1, A)`` actions taken between the context frames.
            latents: False lets a predictor whose states do not depend on its latents
                (``proprio_*``) skip decoding them and return ``None`` for ``z``.
        Returns:
            ``(z (N, H, Np, D), s (N, H, S))``.
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


def load_world_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> WorldModel:
    """Load a world model exported by ``vworld train-ac`` from its run folder."""
    from safetensors.torch import load_file

    run = Path(path)
    meta_path = run / "world_model.json"
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{run}: no world_model.json; is this a `vworld train-ac` run folder?"
        )
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != "vworld-world-model/1":
        raise ValueError(
            f"{meta_path}: field 'format' is {meta.get('format')!r}, expected vworld-world-model/1"
        )
    enc_ref = Path(meta["encoder"])
    encoder = load_encoder(enc_ref if enc_ref.is_absolute() else run, device=device)
    kw = dict(meta["predictor"]["kwargs"])
    kw["grid"] = tuple(kw["grid"])
    predictor = build_ac_predictor(meta["predictor"]["name"], **kw)
    predictor.load_state_dict(load_file(str(run / "predictor.safetensors")))
    probe, probe_grid = None, None
    if meta.get("probe"):
        probe = StateProbe(**meta["probe"]["kwargs"])
        # world models exported before the probe had its own grid read the predictor's tokens
        probe_grid = tuple(meta["probe"]["grid"]) if meta["probe"].get("grid") else None
        probe.load_state_dict(load_file(str(run / meta["probe"]["weights"])))
    wm = WorldModel(
        encoder,
        predictor,
        meta["stats"],
        tuple(meta["encoder_grid"]),
        tuple(meta["pool_grid"]) if meta.get("pool_grid") else None,
        meta.get("frame_stride", 1),
        meta.get("action_mode", "sum"),
        probe,
        meta.get("angle_dims", kw.get("angle_dims")),
        meta.get("frame_codec"),
        probe_grid,
        meta.get("sim_state_dims"),
    )
    return wm.to(device)
