"""The state of every stage of one video (complete, stale, partial, missing, damaged), for
`ptx status`. It reads records, array metadata (JSON) and checks that chunk files exist,
from the stage catalog: it loads neither the stages' libraries nor zarr."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ptx import __version__
from ptx.cache import integrity
from ptx.cache.atomic import damaged_file
from ptx.cache.integrity import Damage
from ptx.cache.store import VideoStore
from ptx.errors import DamagedError
from ptx.pipeline.catalog import CATALOG, SOURCE


@dataclass
class StageState:
    stage: str
    state: str
    """``complete``, ``stale``, ``partial``, ``missing`` or ``damaged``."""
    detail: str = ""
    frames: int = 0


def _input_tokens(
    store: VideoStore, stage: str, stages: Mapping[str, Any]
) -> dict[str, str] | None:
    """The tokens of ``stage``'s inputs, or None when an input is not complete yet (or no
    stage writes it; the runner refuses such a stage)."""
    prod = {out: name for name, info in stages.items() for out in info.outputs}
    tokens: dict[str, str] = {}
    for name in stages[stage].inputs:
        if name == SOURCE:
            tokens[name] = store.workspace.source_info(store.video_id).get("content_hash", "")
            continue
        producer = prod.get(name)
        rec = store.record(producer) if producer is not None else None
        if rec is None or rec.status != "complete":
            return None
        tokens[name] = rec.token
    return tokens


def stage_states(store: VideoStore, stages: Mapping[str, Any] | None = None) -> list[StageState]:
    """The state of every stage of one video, for `ptx status`: a damaged record or array
    is reported as ``damaged`` (with the file), never raised. Chunk files are checked for
    presence only (`ptx verify` reads them). ``stages`` maps each stage to what it reads
    and writes and its version (the stage classes, or by default the catalog)."""
    stages = CATALOG if stages is None else stages
    try:
        settings = store.settings()
    except DamagedError:
        settings = {}
    states: list[StageState] = []
    for stage in stages:
        try:
            states.append(_stage_state(store, stage, stages, settings))
        except DamagedError as exc:
            states.append(StageState(stage, "damaged", exc.message))
    return states


def _stage_state(
    store: VideoStore, stage: str, stages: Mapping[str, Any], settings: dict
) -> StageState:
    info = stages[stage]
    rec = store.record(stage)
    if rec is None:
        return StageState(stage, "missing")
    wanted = (settings.get(stage) or {}).get("config_hash", rec.config_hash)
    inputs = _input_tokens(store, stage, stages) or {}
    reasons = rec.stale_reasons(f"{__version__}/{info.version}", wanted, inputs)
    if SOURCE in info.inputs and store.workspace.source_path(store.video_id) is None:
        reasons.append("source file moved or deleted")
    if rec.status != "complete":
        detail = f"{len(rec.chunks_done)} of {rec.n_chunks or '?'} chunks"
        if reasons:
            detail += f"; {', '.join(reasons)}"
        return StageState(stage, "partial", detail, rec.frames)
    _check_group(store)
    damages = [d for name in info.outputs for d in _missing(store, name, rec.checksums.get(name))]
    gone = [d for d in damages if d.chunk < 0 and d.kind == integrity.MISSING]
    if gone and len(gone) == len(damages):
        return StageState(stage, "missing", "outputs deleted", rec.frames)
    if damages:
        shown = "; ".join(d.describe() for d in damages[:2])
        more = f" and {len(damages) - 2} more" if len(damages) > 2 else ""
        return StageState(stage, "damaged", f"{shown}{more}: run ptx prepare", rec.frames)
    if reasons:
        return StageState(stage, "stale", ", ".join(reasons), rec.frames)
    return StageState(stage, "complete", f"{rec.wall_time:.1f} s", rec.frames)


def _check_group(store: VideoStore) -> None:
    """Raise DamagedError when the store's group metadata no longer parses (as opening
    the group would)."""
    path = store.zarr_path / "zarr.json"
    try:
        meta = json.loads(path.read_text())
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        raise damaged_file(
            path, f"{type(exc).__name__}", store.prepare_hint("the group's metadata")
        ) from None


def _missing(store: VideoStore, name: str, sums: list[str | None] | None) -> list[Damage]:
    """What ``integrity.check_outputs(..., full=False)`` finds for array ``name`` (metadata
    unreadable or gone, committed chunk files missing), read from its ``zarr.json``."""
    folder = store.zarr_path / name
    if not (folder / "zarr.json").is_file():
        return [Damage(name, -1, integrity.MISSING)]
    try:
        meta = json.loads((folder / "zarr.json").read_text())
        shape = [int(n) for n in meta["shape"]]
        chunks = [int(n) for n in meta["chunk_grid"]["configuration"]["chunk_shape"]]
        encoding = meta.get("chunk_key_encoding") or {"name": "default"}
        sep = (encoding.get("configuration") or {}).get("separator")
        v2 = encoding["name"] == "v2"
        time_axis = (meta.get("attributes") or {}).get("time_axis")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return [Damage(name, -1, "metadata")]
    if sums is None:
        return []
    grid = [max(1, math.ceil(s / c)) for s, c in zip(shape, chunks)]
    if len(sums) != math.prod(grid):
        return [Damage(name, -1, "metadata")]
    by_time = (bool(time_axis) if time_axis is not None else bool(grid) and grid[0] > 1) and all(
        n == 1 for n in grid[1:]
    )
    found = []
    for i, expected in enumerate(sums):
        coords, rest = [], i
        for n in reversed(grid):
            coords.append(rest % n)
            rest //= n
        coords.reverse()
        parts = [str(c) for c in coords]
        key = ((sep or ".").join(parts) or "0") if v2 else (sep or "/").join(["c", *parts])
        if expected is not None and not (folder / key).is_file():
            t = coords[0] if coords else 0
            frames = (t * chunks[0], min(shape[0], (t + 1) * chunks[0])) if by_time else None
            found.append(Damage(name, i, integrity.MISSING, frames))
    return found
