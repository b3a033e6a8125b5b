"""The config of ``vworld train-ac``: data windows, predictor, state probe and training loop.

``TrainACConfig.validate`` holds every check that needs no data, so a bad recipe fails before
the robot log is opened or encoded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from vworld.config import MISSING
from vworld.data.windows import ACTION_MODES
from vworld.encoders import SCRATCH, encoder_spec
from vworld.models.ac_predictors import ac_predictor_names, predictor_settings
from vworld.models.registry import model_class
from vworld.train.latent_objective import LatentLossConfig
from vworld.train.runtime import OptimConfig

__all__ = [
    "ACDataConfig",
    "ACModelConfig",
    "ACProbeConfig",
    "ACTrainConfig",
    "TrainACConfig",
]


@dataclass
class ACDataConfig:
    path: str = MISSING  # a LeRobot (v3.0 / v2.1) folder or a robomimic HDF5 file
    num_frames: int = 4  # frames per training window (T)
    frame_stride: int = 5  # env steps per model step
    # How the frame_stride env-step actions of one model step are given to the model: summed,
    # the state difference, or concatenated (LeWM's frameskip encoder; latent_* models).
    action_mode: str = "sum"  # sum | state_diff | concat
    val_fraction: float = 0.1  # held-out episodes (the last ones)
    pool_grid: list[int] | None = None  # pool each frame's tokens to (h', w')
    cache_dir: str | None = None  # where encoded features are cached; default out_dir/cache
    # Columns of the log's observation.sim_state appended to the state the model predicts: an
    # object's pose the robot's state lacks (Push's block: [2, 3, 4]). Planners read them from
    # each observed image with the state probe, which must estimate them (probe.dims).
    sim_state_dims: list[int] | None = None
    # State indices that are angles wrapped to [-pi, pi): left in radians by the normaliser,
    # compared modulo 2 pi by the state loss, wrapped by proprio_* models after each step.
    angle_dims: list[int] = field(default_factory=list)


@dataclass
class ACModelConfig:
    """The predictor: a registered name and the settings its family accepts (None: the named
    architecture's). Each family declares its settings (``predictor_settings(name)``); a
    setting another family's model takes is an error."""

    name: str = "ac_micro"
    predictor_embed_dim: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    residual: bool | None = None  # predict z_{t+1} - z_t (None: the named config's choice)
    dynamics_dim: int | None = None  # proprio_* models: hidden width of the dynamics MLP
    dynamics_depth: int | None = None  # proprio_* models: its hidden layers
    latent_dim: int | None = None  # latent_* models: size of the compact per-frame latent
    action_cond: str | None = None  # latent_* models: adaln | concat | input
    proj_hidden: int | None = None  # latent_* models: hidden width of the projector
    proj_norm: str | None = None  # latent_* models: batch | none (the projector's output norm)
    inverse_hidden: int | None = None  # latent_* models: inverse-dynamics head width (0: none)

    def validate(self) -> None:
        names = ac_predictor_names()
        if self.name not in names:
            raise ValueError(f"model.name: {self.name!r}, expected one of {names}")
        accepted = {f.name for f in dataclasses.fields(predictor_settings(self.name))}
        for f in dataclasses.fields(self):
            if f.name != "name" and getattr(self, f.name) is not None and f.name not in accepted:
                raise ValueError(
                    f"model.{f.name}: not a setting of {self.name} (its settings: "
                    f"{sorted(accepted)})"
                )

    def settings(self) -> dict[str, Any]:
        """The settings given (not None), as the predictor's keyword arguments."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "name" and getattr(self, f.name) is not None
        }


@dataclass
class ACProbeConfig:
    """The state probe (``vworld/models/state_probe.py``): goal image -> goal state for planning."""

    enabled: bool = False
    dims: list[int] | None = None  # state dims one frame shows (default: all)
    # Probed dims regressed as (sin, cos) and read back with atan2: every joint angle, wrapped
    # or not (a regression of the angle itself is torn at the wrap). Default: data.angle_dims.
    angle_dims: list[int] | None = None
    hidden: int = 512
    depth: int = 2
    loss_weight: float = 1.0
    # The token grid the probe reads, pooled from the encoder's (default: the encoder's own,
    # unpooled). Pooling to the predictor's 4x4 loses small objects' positions.
    pool_grid: list[int] | None = None
    # The probe trains on at most this many frames, evenly spaced in each episode (unpooled
    # tokens of every frame would not fit in memory on long logs).
    max_frames: int = 50000


@dataclass
class ACTrainConfig:
    steps: int = 2000
    batch_size: int = 64
    grad_accum: int = 1
    rollout_steps: int = 2
    state_loss_weight: float = 1.0
    precision: str = "auto"
    log_every: int = 50
    ckpt_every: int = 500
    # Every N steps also keep checkpoints/step_N.pt and a plannable world model in
    # steps/step_N/ (a learning curve, planned step by step); 0 keeps only the last.
    keep_every: int = 0
    val_every: int = 500
    val_horizon: int = 5
    val_windows: int = 256
    collapse_std: float = 0.02  # latent_* models: warn when the latents' mean std falls below


@dataclass
class TrainACConfig:
    out_dir: str = MISSING
    # a pretraining run folder, exported encoder or official .pt; scratch:<name> (e.g.
    # scratch:conv_micro) is an untrained registered encoder, with latent.finetune_encoder
    encoder: str = MISSING
    seed: int = 0
    resume: bool = True
    device: str = "auto"
    data: ACDataConfig = field(default_factory=ACDataConfig)
    model: ACModelConfig = field(default_factory=ACModelConfig)
    probe: ACProbeConfig = field(default_factory=ACProbeConfig)
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(
            lr=1.0e-3, start_lr=1.0e-4, final_lr=1.0e-5, warmup_steps=100, grad_clip=1.0
        )
    )
    train: ACTrainConfig = field(default_factory=ACTrainConfig)
    latent: LatentLossConfig = field(default_factory=LatentLossConfig)

    def validate(self) -> None:
        """Every check that needs no data: runs before the robot log is opened or encoded."""
        if self.data.action_mode not in ACTION_MODES:
            raise ValueError(
                f"data.action_mode: '{self.data.action_mode}', expected one of {ACTION_MODES}"
            )
        self.model.validate()
        self.latent.validate()
        latent = model_class(self.model.name).learned_latent
        if self.latent.finetune_encoder and not latent:
            raise ValueError(
                f"latent.finetune_encoder needs a latent_* model (model.name={self.model.name})"
            )
        if str(self.encoder).startswith(SCRATCH) and not self.latent.finetune_encoder:
            raise ValueError(
                f"encoder: {self.encoder} is an untrained encoder; it needs "
                "latent.finetune_encoder=true (trained end to end with the world model)"
            )
        if self.latent.finetune_encoder and encoder_spec(self.encoder) is None:
            raise ValueError(
                f"encoder: latent.finetune_encoder needs a vworld encoder (a folder with "
                f"encoder.json), got {self.encoder}"
            )
        if self.latent.finetune_encoder and self.probe.enabled:
            raise ValueError(
                "latent.finetune_encoder with probe.enabled: the probe reads the frozen "
                "encoder's tokens; train one or the other"
            )
        if self.data.num_frames < self.train.rollout_steps + 1:
            raise ValueError(
                f"data.num_frames={self.data.num_frames} must be > train.rollout_steps="
                f"{self.train.rollout_steps}"
            )
        if self.data.pool_grid is not None and len(self.data.pool_grid) != 2:
            raise ValueError(f"data.pool_grid: expected [h, w], got {self.data.pool_grid}")
        if self.probe.pool_grid is not None and len(self.probe.pool_grid) != 2:
            raise ValueError(f"probe.pool_grid: expected [h, w], got {self.probe.pool_grid}")
        if self.data.sim_state_dims and self.data.action_mode != "sum":
            raise ValueError(
                "data.sim_state_dims needs data.action_mode=sum (state_diff actions would hold "
                "the appended object state's future)"
            )
        if self.probe.max_frames < 1:
            raise ValueError(f"probe.max_frames: expected >= 1, got {self.probe.max_frames}")
        if self.data.sim_state_dims and not self.probe.enabled:
            raise ValueError(
                "data.sim_state_dims: the appended state dims must be read from images at plan "
                "time; set probe.enabled=true"
            )
