"""Settings: build configs from defaults plus user overrides (``--set stage.field=value``),
and the field metadata that says which settings a resumed run cannot change."""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import textwrap
import types
import typing
from typing import Any

from ptx.errors import InputError


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value.lower() in ("none", "null", "") and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except InputError:
                continue
        raise InputError(f"Cannot read {where}={value!r}.")
    try:
        if annotation is bool:
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if annotation in (int, float, str):
            return annotation(value)
    except ValueError:
        raise InputError(f"Cannot read {where}={value!r} as {annotation.__name__}.") from None
    return value


def build_config(cls: type, overrides: dict[str, Any], owner: str) -> Any:
    """An instance of dataclass ``cls`` with ``overrides`` applied (strings are converted
    to the field's type). Unknown fields raise InputError listing the known ones."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in overrides.items():
        if key not in names:
            raise InputError(
                f"{owner} has no setting '{key}'.", f"Known settings: {', '.join(names)}."
            )
        kwargs[key] = _coerce(value, hints[key], f"{owner}.{key}")
    return cls(**kwargs)


def parse_assignments(items: list[str]) -> dict[str, dict[str, str]]:
    """``["extract.fps=25", ...]`` -> ``{"extract": {"fps": "25"}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        stage, dot, field = key.strip().partition(".")
        if not sep or not dot or not stage or not field:
            raise InputError(f"Cannot read --set {item!r}.", "Write it as STAGE.FIELD=VALUE.")
        out.setdefault(stage, {})[field] = value.strip()
    return out


def setting(
    default: Any, *, fixed: bool = False, groups: tuple[str, ...] = (), fingerprint: bool = True
) -> Any:
    """A dataclass field with ptx's metadata: a ``fixed`` field cannot change when a
    training run resumes (it shapes the networks or the data order); ``groups`` tag fields
    for other uses (e.g. the settings a pretrained part must share with the run loading it);
    ``fingerprint=False`` marks a stage setting that never changes the stage's outputs (it
    only decides whether to stop, or how loudly to say something), so changing it re-runs
    nothing. The field's docstring goes right under it, as for any other field."""
    metadata = {"fixed": fixed, "groups": groups, "fingerprint": fingerprint}
    return dataclasses.field(default=default, metadata=metadata)


def fixed_fields(cls: type) -> tuple[str, ...]:
    """The fields of dataclass ``cls`` declared with ``setting(..., fixed=True)``."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("fixed"))


def group_fields(cls: type, group: str) -> tuple[str, ...]:
    """The fields of dataclass ``cls`` tagged with ``group``."""
    return tuple(f.name for f in dataclasses.fields(cls) if group in f.metadata.get("groups", ()))


def fingerprint_values(config: Any) -> dict[str, Any]:
    """The values of dataclass ``config`` that decide its outputs: every field, except that
    a field declared with ``setting(..., fingerprint=False)`` counts at its default (so
    changing it changes no hash, and hashes made before it was marked stay valid)."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if not f.metadata.get("fingerprint", True):
            value = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out[f.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
    return out


def config_from_dict(cls: type, values: dict[str, Any]) -> Any:
    """Rebuild a saved config of dataclass ``cls``; keys it does not know (written by another
    ptx version) are ignored."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written right under each field of dataclass ``cls`` (and of the
    dataclasses it inherits from; a redeclared field without a docstring keeps its base's),
    read from the source. Fields without one map to ``""``."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            docs.update(_own_field_docs(klass))
    return {f.name: docs.get(f.name, "") for f in dataclasses.fields(cls)}


@functools.cache
def _own_field_docs(cls: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # no source (a frozen install): no docs, not an error
        return {}
    tree = ast.parse(source)
    node = next((n for n in tree.body if isinstance(n, ast.ClassDef)), None)
    out: dict[str, str] = {}
    body = node.body if node is not None else []
    for stmt, after in zip(body, [*body[1:], None]):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            out[stmt.target.id] = inspect.cleandoc(after.value.value)
    return out
