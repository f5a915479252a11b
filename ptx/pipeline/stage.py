"""What a stage is, and what the runner hands it.

A stage is a class with a name, a config dataclass (every field documented under it), the
arrays it reads (``inputs``) and writes (``outputs``), and a ``run(ctx)`` that does the work
chunk by chunk::

    class ExtractStage(Stage):
        name = "extract"
        Config = ExtractConfig
        inputs = ("source",)              # "source" is the video file itself
        outputs = ("frames_analysis",)

        def run(self, ctx):
            arr = ctx.create_array("frames_analysis", (T, H, W, 3), "uint8")
            for i in ctx.pending(n_chunks):  # chunks not yet committed
                ...                          # compute chunk i, write it
                ctx.commit(i, frames=n)      # durable from here on

The runner decides whether to run, resume or skip a stage (see ``ptx.pipeline.runner``).

Outputs chunked along time like the stage (one array chunk per stage chunk) are committed
with the chunk; any other output (one chunk, or a whole array written at the end) must be
rewritten by every ``run()``, which is what lets the runner repair a damaged chunk by
re-running only the stage chunks it belongs to.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import zarr

from ptx.cache import integrity
from ptx.cache.records import StageRecord
from ptx.cache.store import VideoStore, default_chunk_frames
from ptx.errors import MissingWeightsError, PtxError, QualityError, StageError

SOURCE = "source"
"""Input name standing for the source video file."""


class Reporter(Protocol):
    """Receives progress from the runner; the CLI draws it, the library never prints."""

    def stage_start(self, stage: str, total: int | None, done: int) -> None: ...
    def stage_total(self, stage: str, total: int) -> None: ...
    def advance(self, stage: str, frames: int) -> None: ...
    def stage_end(self, outcome: StageOutcome) -> None: ...
    def warn(self, stage: str, message: str) -> None: ...


class NullReporter:
    """A reporter that ignores everything (library default)."""

    def stage_start(self, stage: str, total: int | None, done: int) -> None:
        pass

    def stage_total(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str, frames: int) -> None:
        pass

    def stage_end(self, outcome: StageOutcome) -> None:
        pass

    def warn(self, stage: str, message: str) -> None:
        pass


LOAD_MEDIAPIPE = "ptx.pipeline.mediapipe_pose:load_mediapipe"
"""The preload entry (:meth:`Stage.preload`) of a stage that runs MediaPipe."""


@dataclass
class StageOutcome:
    """What happened to one stage in one `prepare`."""

    stage: str
    status: str
    """``ran``, ``resumed``, ``cached`` or ``failed``."""
    frames: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


class StageContext:
    """Everything a running stage may touch: its config, the store, progress."""

    def __init__(
        self,
        stage: Stage,
        config: Any,
        store: VideoStore,
        record: StageRecord,
        source: Path | None,
        reporter: Reporter,
        strict: bool = False,
        stop: threading.Event | None = None,
    ) -> None:
        self.stage = stage
        self.config = config
        self.store = store
        self.record = record
        self.source = source
        self.reporter = reporter
        self.strict = strict
        """``--strict``: what :meth:`gate` is given stops the stage instead of warning."""
        self.stop = stop
        """Set by the runner when the stage must end at its next commit (Ctrl-C stopped the
        stage running beside it; ``ptx.pipeline.lanes``)."""
        self._t0 = time.perf_counter()
        self._wall_before = record.wall_time
        self._resumed = bool(record.chunks_done)
        """Chunks were committed by an earlier run (their arrays must be reopened)."""
        self._created: set[str] = set()
        self._arrays: dict[str, zarr.Array] = {}
        self.total_frames: int | None = None
        """The frames the stage covers, once it said so (``pending``)."""
        if not self._resumed or "chunk_frames" not in record.meta:
            record.meta["chunk_frames"] = default_chunk_frames()

    # --- arrays -----------------------------------------------------------------------
    def create_array(
        self,
        name: str,
        shape: tuple[int, ...],
        dtype: Any,
        chunk_frames: int | None = None,
        time_axis: bool = True,
        codec: str = "zstd",
    ) -> zarr.Array:
        """Create a declared output, or reopen it when resuming with the same shape
        (``codec``: ``ptx.cache.store.CODECS``)."""
        if name not in self.stage.outputs:
            raise StageError(f"Stage '{self.stage.name}' does not declare output '{name}'.")
        chunk_frames = chunk_frames or self.chunk_frames
        if name in self._created:  # made earlier in this run: just replace it
            arr = self.store.create_array(name, shape, dtype, chunk_frames, time_axis, codec=codec)
            self._arrays[name] = arr
            return arr
        existing = self.store.open_array(name)
        if (
            self._resumed
            and existing is not None
            and tuple(existing.shape) == tuple(shape)
            and np.dtype(existing.dtype) == np.dtype(dtype)
        ):
            self._created.add(name)
            self._arrays[name] = existing
            return existing
        if self._resumed:  # the committed chunks' layout changed or vanished: start over
            self.record.chunks_done = []
            self.record.frames = 0
            self.record.checksums = {}
            self._resumed = False
        self._created.add(name)
        arr = self.store.create_array(name, shape, dtype, chunk_frames, time_axis, codec=codec)
        self._arrays[name] = arr
        return arr

    def read(self, name: str, start: int | None = None, stop: int | None = None) -> np.ndarray:
        """Read a declared input array."""
        if name not in self.stage.inputs:
            raise StageError(f"Stage '{self.stage.name}' does not declare input '{name}'.")
        return self.store.read(name, start, stop)

    @property
    def chunk_frames(self) -> int:
        """Frames per chunk: what the stage's first run used (a resume keeps it), else
        ``PTX_CHUNK_FRAMES`` or 16."""
        return int(self.record.meta.get("chunk_frames") or default_chunk_frames())

    # --- progress ---------------------------------------------------------------------
    def pending(self, n_chunks: int, total_frames: int | None = None) -> list[int]:
        """Declare the stage's chunk count; return the chunks still to do, in order."""
        if self.record.n_chunks != n_chunks:
            self.record.n_chunks = n_chunks
            self.record.chunks_done = [c for c in self.record.chunks_done if c < n_chunks]
        if total_frames is not None:
            self.total_frames = total_frames
            self.reporter.stage_total(self.stage.name, total_frames)
        done = set(self.record.chunks_done)
        return [i for i in range(n_chunks) if i not in done]

    def commit(self, chunk: int, frames: int = 0) -> None:
        """Mark ``chunk`` durable (its arrays are written) and persist the record."""
        if chunk not in self.record.chunks_done:
            self.record.chunks_done.append(chunk)
            self.record.frames += frames
        self._note_checksums(chunk)
        self.record.wall_time = self._wall_before + time.perf_counter() - self._t0
        self.store.write_record(self.record)
        self.reporter.advance(self.stage.name, frames)
        if self.stop is not None and self.stop.is_set():
            raise KeyboardInterrupt  # the runner keeps what was committed, as for Ctrl-C

    def _note_checksums(self, chunk: int) -> None:
        """Record the checksums of the chunk files ``chunk`` wrote (the outputs chunked like
        the stage), so a resume can tell an intact committed chunk from a damaged one."""
        for name, arr in self._arrays.items():
            if not aligned(arr, self.record.n_chunks):
                continue
            sums = self.record.checksums.get(name)
            if sums is None or len(sums) != self.record.n_chunks:
                sums = self.record.checksums[name] = [None] * self.record.n_chunks
            path = integrity.chunk_file(self.store.zarr_path / name, arr, chunk)
            sums[chunk] = integrity.stored_checksum(path)

    def warn(self, message: str) -> None:
        """A warning kept in the record and shown to the user."""
        if message not in self.record.warnings:
            self.record.warnings.append(message)
        self.reporter.warn(self.stage.name, message)

    def gate(self, messages: list[str], kind: str = "quality") -> None:
        """Problems a quality gate found: warnings, or with ``strict`` one error
        (:data:`GATE_ERRORS` ``[kind]``) naming them all. Kept in the record (``meta
        ["gates"]``), so a later ``--strict`` run stops on the cached result too."""
        if not messages:
            return
        if self.strict:
            raise gate_error(kind, messages)
        gates = self.record.meta.setdefault("gates", [])
        for message in messages:
            if [kind, message] not in gates:
                gates.append([kind, message])
            self.warn(message)

    def set_meta(self, **values: Any) -> None:
        """Metadata kept with the record (readable later via ``store.meta(stage)``)."""
        self.record.meta.update(values)


GATE_ERRORS: dict[str, type[PtxError]] = {"quality": QualityError, "weights": MissingWeightsError}
"""The error a gate of each kind raises under ``--strict``."""


def gate_error(kind: str, messages: list[str]) -> PtxError:
    """The ``--strict`` error for gate ``messages`` of ``kind``."""
    return GATE_ERRORS[kind](" ".join(messages), "(--strict turns these warnings into errors.)")


class Stage:
    """Base class of the pipeline stages; see the module docstring."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    """Bump when the stage's output changes meaning or content for the same inputs."""
    Config: ClassVar[type]
    inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()
    runs_during_preload: ClassVar[bool] = False
    """True where the stage's code may run while torch is being imported on the preload
    thread (it uses no library that looks into ``sys.modules``; see :meth:`preload`)."""

    @classmethod
    def identity(cls, config: Any) -> dict[str, Any]:
        """What the stage's outputs depend on besides its config and inputs (e.g. the
        content of a model file the config names); part of its fingerprint. Empty by
        default."""
        return {}

    @classmethod
    def preload(cls, config: Any) -> tuple[str, ...]:
        """Modules slow to import (a second or so) that the stage imports only when it
        runs; the runner imports them on a thread of their own while the stages before
        run (their work mostly outside the GIL), so that this one does not wait for them.
        List ``"torch"`` where any of them imports it: it is then imported first, and
        stages wait until it is complete (``ptx.pipeline.runner._preload``). An entry
        ``"module:function"`` imports the module and calls the function (MediaPipe is
        imported through one: :data:`LOAD_MEDIAPIPE`). Empty by default."""
        return ()

    @classmethod
    def check(cls, config: Any) -> None:
        """Raise InputError for settings that cannot work; called for every stage before
        any stage runs (checks that need the video belong in ``run``)."""

    def run(self, ctx: StageContext) -> None:
        raise NotImplementedError


def aligned(arr: zarr.Array, n_chunks: int) -> bool:
    """Whether array chunk i is exactly stage chunk i (time-chunked, as many chunks as the
    stage, one chunk across the other axes) and checksummed."""
    if not integrity.checksummed(arr) or not integrity.has_time_axis(arr):
        return False
    g = integrity.grid(arr)
    return g[0] == n_chunks > 0 and all(n == 1 for n in g[1:])
