"""Saving and loading encoders: run folders, exported weights and official checkpoints.

An exported encoder is two files side by side: ``encoder.safetensors`` (weights, loaded with
no code execution) and ``encoder.json`` (the registered model name and the keyword arguments
it was built with). ``load_encoder`` also accepts a pretraining run folder, one of its
training checkpoints, or an officially released V-JEPA / V-JEPA 2 ``.pt`` file.
``scratch:<name>`` (for ``vworld train-ac`` with ``latent.finetune_encoder=true``) is a fresh,
untrained registered encoder, which the world model's training then trains end to end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from vworld.data.transforms import normalize
from vworld.files import atomic_write_text, load_tensors, save_weights

__all__ = [
    "SCRATCH",
    "encode_frames",
    "encode_images",
    "encoder_spec",
    "export_encoder",
    "load_encoder",
    "write_encoder_spec",
]


SCRATCH = "scratch:"
_ENCODER_KINDS = ("encoder", "encoder_alias", "image_encoder")


def _scratch_spec(ref: str) -> dict:
    """``scratch:<name>`` -> the ``{"model", "kwargs"}`` that build it (kwargs in full, so a
    saved model does not depend on the registry's defaults of the day)."""
    from vworld.models.registry import IMAGE_ENCODERS, list_models, model_kind

    name = ref[len(SCRATCH) :]
    known = [n for n in list_models() if model_kind(n) in _ENCODER_KINDS]
    if name not in known:
        raise ValueError(f"encoder: {ref!r}: no registered encoder {name!r}; valid: {known}")
    kwargs = IMAGE_ENCODERS.get(name, {})
    return {
        "model": name,
        "kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
    }


def write_encoder_spec(out_dir: str | os.PathLike, name: str, kwargs: dict) -> Path:
    """Write ``encoder.json``: the registered model name and the keyword arguments to build it.

    Pretraining writes it when a run starts, so its checkpoints load without the trainer."""
    spec = {"model": name, "kwargs": kwargs}
    return atomic_write_text(Path(out_dir) / "encoder.json", json.dumps(spec, indent=2))


def export_encoder(out_dir: str | os.PathLike, encoder: nn.Module, name: str, kwargs: dict) -> Path:
    """Write ``encoder.safetensors`` and ``encoder.json`` into ``out_dir`` (atomically)."""
    weights = save_weights(encoder, Path(out_dir) / "encoder.safetensors")
    write_encoder_spec(out_dir, name, kwargs)
    return weights


def encoder_spec(path: str | os.PathLike) -> dict | None:
    """The ``{"model", "kwargs"}`` of a vworld encoder (its folder, its ``.safetensors`` or a
    checkpoint in its run folder), or None for an official checkpoint (no ``encoder.json``).
    ``scratch:<name>`` gives the spec of that registered encoder."""
    if str(path).startswith(SCRATCH):
        return _scratch_spec(str(path))
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    for candidate in (folder, folder.parent):
        spec_path = candidate / "encoder.json"
        if spec_path.is_file():
            return _read_spec(spec_path)
    return None


def _read_spec(spec_path: Path) -> dict:
    try:
        spec = json.loads(spec_path.read_text())
        if not isinstance(spec["model"], str) or not isinstance(spec["kwargs"], dict):
            raise TypeError("model must be a string and kwargs a mapping")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(
            f"{spec_path}: expected {{'model': name, 'kwargs': {{...}}}} ({e})"
        ) from None
    return {"model": spec["model"], "kwargs": spec["kwargs"]}


def _from_export(folder: Path) -> nn.Module:
    from safetensors.torch import load_file

    from vworld.models.registry import create_model

    spec = _read_spec(folder / "encoder.json")
    model = create_model(spec["model"], **spec["kwargs"])
    state = load_file(str(folder / "encoder.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{folder / 'encoder.safetensors'}: weights do not fit model '{spec['model']}' "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return model


def _from_training_checkpoint(path: Path) -> nn.Module:
    """The target encoder (else the context encoder) of a pretraining checkpoint, built from
    the ``encoder.json`` pretraining wrote into its run folder."""
    from vworld.models.registry import create_model
    from vworld.train.checkpoint import load_checkpoint

    run = path.parent.parent
    if not (run / "encoder.json").is_file():
        raise FileNotFoundError(
            f"{path}: no encoder.json in its run folder {run} (written by `vworld pretrain`)"
        )
    spec = _read_spec(run / "encoder.json")
    encoder = create_model(spec["model"], **spec["kwargs"])
    state = load_checkpoint(path)
    key = "target_encoder" if "target_encoder" in state else "encoder"
    encoder.load_state_dict(state[key])
    return encoder


def load_encoder(path: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """An encoder ready for inference (eval mode, no gradient).

    Args:
        path: a pretraining run folder (its exported ``encoder.safetensors``, else its last
            checkpoint's target encoder), a folder with ``encoder.safetensors`` +
            ``encoder.json``, a vworld training checkpoint, or an official V-JEPA / V-JEPA 2
            ``.pt`` checkpoint (its target encoder), or ``scratch:<name>``: that registered
            encoder, freshly initialised from torch's generator (seed it first).
    """
    if str(path).startswith(SCRATCH):
        from vworld.models.registry import create_model

        spec = _scratch_spec(str(path))
        model = create_model(spec["model"], **spec["kwargs"])
        return model.eval().requires_grad_(False).to(device)
    p = Path(path)
    if p.is_dir():
        if (p / "encoder.safetensors").is_file():
            model = _from_export(p)
        elif (p / "checkpoints" / "last.pt").is_file():
            model = _from_training_checkpoint(p / "checkpoints" / "last.pt")
        else:
            raise FileNotFoundError(
                f"{p}: no encoder.safetensors and no checkpoints/last.pt; is this a run folder?"
            )
    elif p.is_file():
        if p.suffix == ".safetensors":
            model = _from_export(p.parent)
        else:
            head = load_tensors(p, mmap=True)
            if isinstance(head, dict) and "encoder" in head and "step" in head:
                model = _from_training_checkpoint(p)
            else:
                from vworld.models.official import load_official_encoder

                model = load_official_encoder(p)
    else:
        raise FileNotFoundError(f"{p}: no such encoder run, file or checkpoint")
    model.eval().requires_grad_(False)
    return model.to(device)


def encode_images(encoder: nn.Module, frames: Tensor) -> Tensor:
    """Encode single frames, with gradients when the encoder trains (encoder fine-tuning).

    Each frame is repeated to fill a tubelet, as V-JEPA 2-AC does.

    Args:
        encoder: a video ViT with ``tubelet_size``.
        frames: uint8 ``(N, H, W, 3)`` or ``(N, 3, H, W)``.
    Returns:
        Layer-normed tokens ``(N, h*w, D)`` in float32.
    """
    if frames.dim() != 4:
        raise ValueError(
            f"encode_frames expects (N, H, W, 3) or (N, 3, H, W), got {tuple(frames.shape)}"
        )
    if frames.shape[-1] == 3 and frames.shape[1] != 3:
        frames = frames.permute(0, 3, 1, 2)  # (N, 3, H, W)
    device = next(encoder.parameters()).device
    t = int(encoder.tubelet_size)
    x = normalize(frames.to(device), channel_dim=-3)  # (N, 3, H, W)
    x = x.unsqueeze(2).expand(-1, -1, t, -1, -1)  # (N, 3, t, H, W)
    h = encoder(x)  # (N, h*w, D)
    return torch.nn.functional.layer_norm(h.float(), (h.shape[-1],))


@torch.no_grad()
def encode_frames(encoder: nn.Module, frames: Tensor, batch_size: int = 256) -> Tensor:
    """:func:`encode_images` without gradients, ``batch_size`` frames at a time.

    Args:
        encoder: a video ViT with ``tubelet_size``.
        frames: uint8 ``(N, H, W, 3)`` or ``(N, 3, H, W)``.
    Returns:
        Layer-normed tokens ``(N, h*w, D)`` in float32.
    """
    out = [
        encode_images(encoder, frames[i : i + batch_size])
        for i in range(0, frames.shape[0], batch_size)
    ]
    return torch.cat(out)
