"""Settings from files, and every setting with its default and its description.

``ptx prepare --config FILE.yaml`` reads stage settings, one mapping per stage (optionally
under a ``prepare:`` key)::

    crop: {size: 256, margin: 0.15}
    fit: {body: "smpl:/models/SMPL_NEUTRAL.pkl"}

``ptx train --config FILE.yaml`` reads ``method``, ``preset``, and settings under
``config`` (the resolved settings a run saves in its ``config.yaml``, which is therefore a
valid input: the new run resolves to the same settings) and/or ``settings`` (changes on
top), optionally under a ``train:`` key. The other keys of a saved run's ``config.yaml``
(its subject, videos, inputs, notes) describe that run and are ignored. Options and
``--set`` given with ``--config`` win over the file.

``ptx config show`` lists the settings with their defaults and descriptions (the docstring
under each field of the config dataclasses), and ``--format yaml`` prints them as a file
these options read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ptx.config import build_config, field_docs
from ptx.errors import InputError

RUN_KEYS = ("subject", "subjects", "videos", "inputs", "notes", "created", "ptx_version",
            "overrides", "frame", "canonical")  # fmt: skip
"""Keys of a saved run's config.yaml that describe the run, not settings."""


def read_yaml(path: Path | str) -> dict[str, Any]:
    """A YAML mapping from ``path``; InputError for a missing, unreadable or non-mapping file."""
    path = Path(path).expanduser()
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InputError(f"No such config file: {path}.") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"Cannot read {path} as YAML ({reason}).") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path} holds a {type(data).__name__}, not a mapping of settings.")
    return data


def prepare_settings(path: Path | str) -> dict[str, dict[str, Any]]:
    """``{stage: {field: value}}`` from a prepare config file (module docstring); stage and
    field names are checked when the configs are built."""
    data = read_yaml(path)
    data = data.get("prepare", data) if "prepare" in data else data
    data = {k: v for k, v in data.items() if k != "train"}
    for stage, values in data.items():
        if not isinstance(values, dict):
            raise InputError(
                f"{path}: '{stage}' should map setting names to values, not {values!r}.",
                "Write it as STAGE: {FIELD: VALUE}.",
            )
    return {str(k): dict(v) for k, v in data.items()}


@dataclass
class TrainSettings:
    """What a train config file says."""

    method: str | None = None
    preset: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    """Resolved settings (a saved run's)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Changes on top."""


def train_settings(path: Path | str) -> TrainSettings:
    """Read a train config file (module docstring)."""
    data = read_yaml(path)
    data = data["train"] if isinstance(data.get("train"), dict) else data
    out = TrainSettings(data.get("method"), data.get("preset"))
    for key in ("config", "settings"):
        value = data.get(key) or {}
        if not isinstance(value, dict):
            raise InputError(f"{path}: '{key}' should map setting names to values.")
        setattr(out, key, dict(value))
    unknown = set(data) - {"method", "preset", "config", "settings", "prepare", *RUN_KEYS}
    if unknown:
        raise InputError(
            f"{path}: unknown key(s) {', '.join(sorted(unknown))}.",
            "A train config has method, preset, config (a saved run's settings) and settings.",
        )
    return out


def train_overrides(method: Any, preset: str, file: TrainSettings) -> dict[str, Any]:
    """The overrides over ``preset`` that give the settings of ``file``: a saved run's
    resolved ``config`` (fields this ptx does not know are ignored), then ``settings``."""
    base = method.resolve_config(preset, {})
    known = {f.name for f in dataclasses.fields(method.config)}
    saved = build_config(method.config, {k: v for k, v in file.config.items() if k in known},
                         "train")  # fmt: skip
    out = {k: getattr(saved, k) for k in file.config if k in known and getattr(saved, k) !=
           getattr(base, k)}  # fmt: skip
    out.update(file.settings)
    return out


@dataclass
class SettingRow:
    """One setting: its owner (a stage or method), name, value, default and description."""

    owner: str
    name: str
    value: Any
    default: Any
    doc: str
    fixed: bool = False
    """Cannot change when a training run resumes."""


def _rows(owner: str, cls: type, config: Any) -> list[SettingRow]:
    docs = field_docs(cls)
    defaults = cls()
    return [
        SettingRow(
            owner,
            f.name,
            getattr(config, f.name),
            getattr(defaults, f.name),
            docs[f.name],
            bool(f.metadata.get("fixed")),
        )
        for f in dataclasses.fields(cls)
    ]


def stage_rows(
    stage: str | None = None, overrides: dict[str, dict[str, Any]] | None = None
) -> list[SettingRow]:
    """Every setting of ``stage`` (or of every stage), at ``overrides`` over the defaults."""
    from ptx.pipeline.registry import STAGES

    if stage is not None and stage not in STAGES:
        raise InputError(f"No stage named {stage!r}.", f"Stages: {', '.join(STAGES)}.")
    overrides = overrides or {}
    rows: list[SettingRow] = []
    for name, cls in STAGES.items():
        if stage is None or name == stage:
            config = build_config(cls.Config, overrides.get(name, {}), name)
            rows += _rows(name, cls.Config, config)
    return rows


def method_rows(
    method: str | None = None, preset: str = "tiny", overrides: dict[str, Any] | None = None
) -> list[SettingRow]:
    """Every setting of ``method`` (default d2g): its value in ``preset`` with
    ``overrides``, and the class default."""
    from ptx.methods.registry import get_method

    m = get_method(method)
    cfg = m.resolve_config(preset, overrides or {})
    return _rows(m.name, m.config, cfg)


def rows_yaml(rows: list[SettingRow], kind: str, preset: str | None = None) -> str:
    """``rows`` as a config file: stage mappings (``kind="stages"``) or a train config."""
    if kind == "stages":
        data: dict[str, Any] = {}
        for r in rows:
            data.setdefault(r.owner, {})[r.name] = r.value
    else:
        data = {"method": rows[0].owner, "preset": preset,
                "settings": {r.name: r.value for r in rows}}  # fmt: skip
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
