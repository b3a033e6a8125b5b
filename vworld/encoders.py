"""Saving and loading encoders: run folders, exported weights and official checkpoints.

An exported encoder is two files side by side: ``encoder.safetensors`` (weights, loaded with
no code execution) and ``encoder.json`` (the registered model name and the keyword arguments
it was built with). ``load_encoder`` also accepts a pretraining run folder, one of its
training checkpoints, or an officially released V-JEPA / V-JEPA 2 ``.pt`` file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from vworld.data.transforms import normalize

__all__ = ["encode_frames", "encode_images", "export_encoder", "load_encoder"]


def export_encoder(out_dir: str | os.PathLike, encoder: nn.Module, name: str, kwargs: dict) -> Path:
    """Write ``encoder.safetensors`` and ``encoder.json`` into ``out_dir`` (atomically)."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    tmp = out / ".encoder.safetensors.tmp"
    save_file(state, str(tmp))
    os.replace(tmp, out / "encoder.safetensors")
    spec = {"model": name, "kwargs": kwargs}
    tmpj = out / ".encoder.json.tmp"
    tmpj.write_text(json.dumps(spec, indent=2))
    os.replace(tmpj, out / "encoder.json")
    return out / "encoder.safetensors"


def _from_export(folder: Path) -> nn.Module:
    from safetensors.torch import load_file

    from vworld.models.registry import create_model

    spec_path = folder / "encoder.json"
    try:
        spec = json.loads(spec_path.read_text())
        name, kwargs = spec["model"], spec["kwargs"]
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(
            f"{spec_path}: expected {{'model': name, 'kwargs': {{...}}}} ({e})"
        ) from None
    model = create_model(name, **kwargs)
    state = load_file(str(folder / "encoder.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{folder / 'encoder.safetensors'}: weights do not fit model '{name}' "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return model


def _from_training_checkpoint(path: Path) -> nn.Module:
    from vworld.config import load_config
    from vworld.train.checkpoint import load_checkpoint
    from vworld.train.pretrain import PretrainConfig, build_models

    run = path.parent.parent
    cfg = load_config(PretrainConfig, run / "config.yaml")
    encoder, _ = build_models(cfg)
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
            ``.pt`` checkpoint (its target encoder).
    """
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
            head = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
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
