"""A prepared video's artifact store: one Zarr v3 group plus stage records.

Arrays are chunked along time (``chunk_frames`` frames per chunk, the whole frame in each
chunk) and compressed with Blosc/Zstd. Stages write whole chunks, so a chunk is the unit of
durable progress: Zarr's local store writes each chunk file atomically, and the stage record
names the chunks that are complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from ptx import __version__
from ptx.cache.atomic import atomic_write_json, read_json, translate_os_error
from ptx.cache.locks import exclusive_lock
from ptx.cache.records import StageRecord
from ptx.cache.workspace import Workspace
from ptx.errors import StageError

SCHEMA_VERSION = 2
"""Version of the arrays' layout and meaning; stored in the group attributes.

1: square canonical frames (S, S). 2: canonical frames (H, W) that follow the person
(``ptx.cache.frame``); the crop records the frame's shape and where the picture is in it.
A schema-1 store still reads (its frames are square); preparing it again re-crops it and
marks it 2."""


def default_chunk_frames() -> int:
    """Frames per time chunk: ``PTX_CHUNK_FRAMES`` when set, else 16."""
    return max(1, int(os.environ.get("PTX_CHUNK_FRAMES", "16")))


def _codec(clevel: int = 1) -> BloscCodec:
    return BloscCodec(cname="zstd", clevel=clevel, shuffle="noshuffle")


class VideoStore:
    """The arrays and records of one prepared video."""

    def __init__(self, workspace: Workspace, video_id: str) -> None:
        self.workspace = workspace
        self.video_id = video_id
        self.dir = workspace.video_dir(video_id)
        self.zarr_path = self.dir / "data.zarr"
        self.records_dir = self.dir / "records"
        self._group: zarr.Group | None = None

    # --- locking ----------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive write access to this video (raises LockedError when held)."""
        with exclusive_lock(self.dir / "lock", f"Video {self.video_id} ({self.dir})"):
            yield

    # --- the Zarr group ---------------------------------------------------------------
    @property
    def group(self) -> zarr.Group:
        if self._group is None:
            exists = (self.zarr_path / "zarr.json").is_file()
            try:
                if not exists:
                    self.dir.mkdir(parents=True, exist_ok=True)
                    self._group = zarr.open_group(
                        self.zarr_path,
                        mode="a",
                        zarr_format=3,
                        attributes={"schema_version": SCHEMA_VERSION, "created_by": __version__},
                    )
                else:
                    self._group = zarr.open_group(self.zarr_path, mode="a", zarr_format=3)
            except OSError as exc:
                raise translate_os_error(exc, self.zarr_path, "opening the store") from exc
            schema = self._group.attrs.get("schema_version", 0)
            if schema > SCHEMA_VERSION:
                raise StageError(
                    f"{self.zarr_path} was written by a newer ptx (schema {schema}).",
                    "Upgrade ptx, or prepare the video into another workspace.",
                )
        return self._group

    def mark_schema(self) -> None:
        """Record that the arrays follow this ptx's schema (the crop stage calls it when it
        writes a video's canonical frames)."""
        if self.group.attrs.get("schema_version", 0) < SCHEMA_VERSION:
            self.group.attrs["schema_version"] = SCHEMA_VERSION

    @property
    def schema(self) -> int:
        """The schema version the store's arrays were written with (0: unknown)."""
        return int(self.group.attrs.get("schema_version", 0))

    def create_array(
        self,
        name: str,
        shape: tuple[int, ...],
        dtype: Any,
        chunk_frames: int | None = None,
        time_axis: bool = True,
        clevel: int = 1,
    ) -> zarr.Array:
        """Create (or replace) array ``name``. With ``time_axis`` the first axis is time and
        is chunked by ``chunk_frames``; otherwise the array is one chunk."""
        chunks = (chunk_frames or default_chunk_frames(), *shape[1:]) if time_axis else shape
        chunks = tuple(max(1, c) for c in chunks)
        try:
            return self.group.create_array(
                name,
                shape=shape,
                chunks=chunks,
                dtype=dtype,
                compressors=_codec(clevel),
                fill_value=0,
                overwrite=True,
            )
        except OSError as exc:
            raise translate_os_error(exc, self.zarr_path, f"creating array {name}") from exc

    def open_array(self, name: str) -> zarr.Array | None:
        """The array ``name``, or None when absent."""
        if not (self.zarr_path / name / "zarr.json").is_file():
            return None
        try:
            return self.group[name]  # type: ignore[return-value]
        except (KeyError, FileNotFoundError):
            return None

    def has(self, name: str) -> bool:
        return self.open_array(name) is not None

    def read(self, name: str, start: int | None = None, stop: int | None = None) -> np.ndarray:
        """Read ``name[start:stop]`` (along time) into memory."""
        arr = self.open_array(name)
        if arr is None:
            raise StageError(
                f"Array '{name}' is missing from video {self.video_id}.",
                "Run `ptx prepare` on the video to compute it.",
            )
        return np.asarray(arr[slice(start, stop)])

    def write(self, name: str, start: int, data: np.ndarray) -> None:
        """Write ``data`` into ``name`` starting at time index ``start``."""
        arr = self.open_array(name)
        if arr is None:
            raise StageError(f"Array '{name}' must be created before it is written.")
        try:
            arr[start : start + len(data)] = data
        except OSError as exc:
            raise translate_os_error(exc, self.zarr_path / name, f"writing {name}") from exc

    def delete_array(self, name: str) -> None:
        shutil.rmtree(self.zarr_path / name, ignore_errors=True)

    def arrays(self) -> list[str]:
        """Names of all arrays, nested ones as ``body/pose``."""
        if not self.zarr_path.is_dir():
            return []
        found = []
        for meta in sorted(self.zarr_path.rglob("zarr.json")):
            node = read_json(meta) or {}
            if node.get("node_type") == "array":
                found.append(meta.parent.relative_to(self.zarr_path).as_posix())
        return found

    # --- records ----------------------------------------------------------------------
    def record(self, stage: str) -> StageRecord | None:
        data = read_json(self.records_dir / f"{stage}.json")
        return StageRecord.from_json(data) if data else None

    def write_record(self, record: StageRecord) -> None:
        self.records_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.records_dir / f"{record.stage}.json", record.to_json())

    def delete_record(self, stage: str) -> None:
        (self.records_dir / f"{stage}.json").unlink(missing_ok=True)

    def meta(self, stage: str) -> dict[str, Any]:
        """The metadata a complete stage recorded (e.g. ``meta('extract')['fps']``)."""
        rec = self.record(stage)
        if rec is None or rec.status != "complete":
            raise StageError(
                f"Stage '{stage}' has not completed for video {self.video_id}.",
                "Run `ptx prepare` on the video first.",
            )
        return rec.meta

    # --- requested settings (for `ptx status`) ----------------------------------------
    def settings(self) -> dict[str, dict[str, Any]]:
        """The config hashes last requested per stage (to tell 'stale: config changed')."""
        return read_json(self.dir / "settings.json", {})

    def save_settings(self, settings: dict[str, dict[str, Any]]) -> None:
        atomic_write_json(self.dir / "settings.json", settings)
