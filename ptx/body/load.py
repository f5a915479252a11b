"""Choose a body model by name: ``open`` (ships with ptx) or ``smpl:PATH``."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ptx.errors import InputError, MissingWeightsError
from ptx.weights import weights_dir

if TYPE_CHECKING:  # the models are torch-backed; naming one (body_identity) needs no torch
    from ptx.body.model import BodyModel

SMPL_URL = "https://smpl.is.tue.mpg.de"
"""Where users register, accept SMPL's licence and download the model files."""


def smpl_path(spec: str) -> Path:
    """The file named by ``smpl:PATH``; a bare file name is also looked for in the
    weights directory (``PTX_WEIGHTS``, or its ``smpl/`` folder)."""
    raw = spec.split(":", 1)[1].strip()
    if not raw:
        raise InputError("--body smpl: needs a path, as in smpl:/models/SMPL_NEUTRAL.pkl.")
    path = Path(raw).expanduser()
    if path.is_file() or path.is_absolute():
        return path
    for cand in (weights_dir() / "smpl" / raw, weights_dir() / raw):
        if cand.is_file():
            return cand
    return path


def load_body_model(spec: str = "open") -> BodyModel:
    """The body model named by ``spec``. Raises MissingWeightsError when an SMPL file is
    absent (saying where to get it) and InputError for an unknown name or bad file."""
    from ptx.body.open_model import open_body_model

    spec = (spec or "open").strip()
    if spec == "open":
        return open_body_model()
    if spec.startswith("smpl:"):
        path = smpl_path(spec)
        if not path.is_file():
            raise MissingWeightsError(
                f"SMPL model file {path} not found.",
                f"Register at {SMPL_URL}, accept the SMPL licence, download 'SMPL for Python' "
                "and pass its SMPL_NEUTRAL.pkl (or basicModel_neutral_lbs_10_207_0_v1.0.0.pkl) "
                "as --body smpl:PATH (or --set fit.body=smpl:PATH); until then ptx uses its "
                "open body model.",
            )
        return _smpl_cached(str(path.resolve()), path.stat().st_mtime_ns)
    raise InputError(f"Unknown body model {spec!r}.", "Use 'open' or 'smpl:PATH'.")


@functools.lru_cache(maxsize=2)
def _smpl_cached(path: str, mtime: int) -> BodyModel:
    from ptx.body.smpl import smpl_body_model

    return smpl_body_model(Path(path))


def spec_of(model: BodyModel, spec: str) -> str:
    """The spec that loads ``model`` again from anywhere: ``open`` or ``smpl:`` with the
    file's absolute path (``spec`` is what the model was loaded from)."""
    if model.name == "open":
        return "open"
    return f"smpl:{smpl_path(spec).resolve()}"


def resolve_body_model(spec: str = "open") -> tuple[BodyModel, str | None]:
    """Like :func:`load_body_model`, but a missing SMPL file falls back to the open model;
    returns the model and the warning to show (None when nothing was replaced)."""
    try:
        return load_body_model(spec), None
    except MissingWeightsError as exc:
        from ptx.body.open_model import open_body_model

        return open_body_model(), str(exc)


def body_identity(spec: str = "open") -> dict[str, Any]:
    """What a fit made with ``spec`` really depends on: ``{}`` for the open model; for
    ``smpl:PATH`` the file's content hash, or, when the file is absent (the fit falls back to
    the open model), that fallback. Supplying, replacing or removing the file changes it."""
    spec = (spec or "open").strip()
    if not spec.startswith("smpl:"):
        return {}
    try:
        path = smpl_path(spec)
    except InputError:
        return {}
    if not path.is_file():
        return {"body": "open", "fallback_from": spec}
    st = path.stat()
    return {
        "body": "smpl",
        "file_hash": _file_hash(str(path.resolve()), st.st_size, st.st_mtime_ns),
    }


@functools.lru_cache(maxsize=8)
def _file_hash(path: str, size: int, mtime: int) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()
