"""Dataclass configs loaded from YAML with OmegaConf, strictly.

Every program of vworld is driven by one dataclass (its schema). A run's config is the
schema's defaults, then a YAML recipe (``-c file.yaml``), then dotted command-line
overrides (``train.steps=100``). An unknown or misspelt key, or a value of the wrong type,
is an error that names the file or the override and the key.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

__all__ = [
    "MISSING",
    "ConfigError",
    "config_keys",
    "describe",
    "load_config",
    "resolve_config_path",
    "save_config",
    "to_dict",
    "to_yaml",
]

T = TypeVar("T")

REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


class ConfigError(ValueError):
    """A config is not valid: names where the bad value came from (the recipe file or the
    command-line override the user wrote), the key and the reason.

    ``ConfigError(message)`` alone is a whole message."""

    def __init__(self, source: str, key: str | None = None, reason: str | None = None):
        self.source, self.key, self.reason = source, key, reason
        if reason is None:
            msg = source
        elif key:
            msg = f"{source}: {key}: {reason}"
        else:
            msg = f"{source}: {reason}"
        super().__init__(msg)


def resolve_config_path(path: str | os.PathLike) -> Path:
    """Find a recipe: as given, else relative to the repository's ``configs/`` folder."""
    p = Path(path)
    if p.exists():
        return p
    for candidate in (REPO_CONFIGS / p, REPO_CONFIGS.parent / p):
        if candidate.exists():
            return candidate
    raise ConfigError(f"config file not found: {path} (also looked under {REPO_CONFIGS})")


def _merge(base: DictConfig, other: Any, where: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, other)  # type: ignore[return-value]
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or ""
        msg = str(e).splitlines()[0]
        raise ConfigError(f"{where}: invalid key '{key}': {msg}") from None


def load_config(
    schema: type[T],
    path: str | os.PathLike | None = None,
    overrides: Sequence[str] = (),
    base: T | None = None,
) -> T:
    """Build a config: schema defaults (or ``base``) < YAML file < dotted overrides.

    Args:
        schema: the dataclass type describing every key.
        path: a YAML recipe; a relative path is also looked up under ``configs/``.
        overrides: ``key.sub=value`` strings, applied last.
        base: start from this instance instead of the schema's defaults.
    Returns:
        An instance of ``schema`` with every value validated.
    """
    cfg = OmegaConf.structured(base if base is not None else schema)
    sources: dict[str, str] = {}  # dotted key -> the recipe file or override that set it
    if path is not None:
        p = resolve_config_path(path)
        try:
            loaded = OmegaConf.load(p)
        except Exception as e:  # yaml errors have many types; name the file
            raise ConfigError(f"{p}: not valid YAML: {e}") from None
        if loaded is not None and not isinstance(loaded, DictConfig):
            raise ConfigError(f"{p}: expected a mapping of keys at top level")
        if loaded is not None:
            cfg = _merge(cfg, loaded, str(p))
            for key in _leaf_keys(OmegaConf.to_container(loaded)):
                sources[key] = str(p)
    for ov in overrides:
        if "=" not in ov:
            raise ConfigError(f"override '{ov}': expected key=value")
        try:
            dot = OmegaConf.from_dotlist([ov])
        except OmegaConfBaseException as e:
            raise ConfigError(f"override '{ov}': {e}") from None
        cfg = _merge(cfg, dot, f"override '{ov}'")
        sources[ov.split("=", 1)[0].strip()] = f"override '{ov}'"
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"required config keys not set: {', '.join(missing)}")
    try:
        obj = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as e:
        raise ConfigError(str(e)) from None
    _validate_tree(obj, "", sources, schema.__name__)
    return obj  # type: ignore[return-value]


def _leaf_keys(tree: Any, prefix: str = "") -> list[str]:
    if not isinstance(tree, dict):
        return [prefix[:-1]] if prefix else []
    out: list[str] = []
    for k, v in tree.items():
        out += _leaf_keys(v, f"{prefix}{k}.")
    return out


def _validate_tree(obj: Any, prefix: str, sources: dict[str, str], schema: str) -> None:
    """Call ``validate()`` on every dataclass in the config, innermost first; a ValueError
    becomes a :class:`ConfigError` naming the recipe file or override that set the key."""
    if isinstance(obj, list | tuple):
        for item in obj:
            _validate_tree(item, prefix, sources, schema)
        return
    if not dataclasses.is_dataclass(obj):
        return
    for f in dataclasses.fields(obj):
        _validate_tree(getattr(obj, f.name), f"{prefix}{f.name}.", sources, schema)
    post = getattr(obj, "validate", None)
    if not callable(post):
        return
    try:
        post()
    except ConfigError:
        raise
    except ValueError as e:
        raise _blame(str(e), prefix, sources, schema) from None


def _blame(reason: str, prefix: str, sources: dict[str, str], schema: str) -> ConfigError:
    """The error for a failed ``validate()`` of the section ``prefix``: the key its message
    names (else the section), and where the user set it (else the schema's defaults)."""
    named = [k for k in sources if k in reason or k.removeprefix(prefix) in reason.split()]
    in_section = [k for k in sources if k.startswith(prefix)]
    if named:
        source = ", ".join(sorted({sources[k] for k in named}))
    elif in_section:
        source = ", ".join(sorted({sources[k] for k in in_section}))
    else:
        source = f"the defaults of {schema}"
    return ConfigError(source, None, reason)


def to_dict(cfg: Any) -> dict:
    """A plain nested dict of a config instance."""
    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)  # type: ignore[return-value]


def to_yaml(cfg: Any) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def save_config(cfg: Any, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML, atomically."""
    from vworld.files import atomic_write_text

    atomic_write_text(path, to_yaml(cfg))


def config_keys(schema: type) -> list[tuple[str, str, str]]:
    """Every leaf key of a schema as ``(dotted key, type, default)``."""
    out: list[tuple[str, str, str]] = []

    def walk(obj: Any, prefix: str) -> None:
        for f in dataclasses.fields(obj):
            val = getattr(obj, f.name)
            key = f"{prefix}{f.name}"
            if dataclasses.is_dataclass(val):
                walk(val, key + ".")
            else:
                tname = getattr(f.type, "__name__", None) or str(f.type)
                out.append((key, str(tname).replace("typing.", ""), repr(val)))

    walk(schema(), "")
    return out


def describe(schema: type) -> str:
    """A help text listing every config key with its type and default."""
    rows = config_keys(schema)
    width = max(len(k) for k, _, _ in rows)
    lines = ["config keys (override with key=value):"]
    for key, tname, default in rows:
        lines.append(f"  {key.ljust(width)}  {default}  ({tname})")
    return "\n".join(lines)
