"""A prepared video's artifact store: one Zarr v3 group plus stage records.

Arrays are chunked along time (``chunk_frames`` frames per chunk, the whole frame in each
chunk), compressed with Blosc/Zstd and checksummed (CRC-32C per chunk file,
``ptx.cache.integrity``). Stages write whole chunks, so a chunk is the unit of durable
progress: Zarr's local store writes each chunk file atomically, and the stage record names
the chunks that are complete and their checksums. :meth:`VideoStore.read` refuses a chunk
that the records say was written but is missing or altered (:class:`DamagedError`, naming
the video, the array, the frames and the fix), instead of reading zeros.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # zarr and numpy load when a store opens its group (`ptx status` never does)
    import numpy as np
    import zarr
    from zarr.codecs import BloscCodec

from ptx import __version__
from ptx.cache import integrity
from ptx.cache.atomic import atomic_write_json, damaged_file, read_json, translate_os_error
from ptx.cache.locks import exclusive_lock
from ptx.cache.records import StageRecord
from ptx.cache.workspace import Workspace
from ptx.errors import DamagedError, PtxError, StageError

SCHEMA_VERSION = 2
"""Version of the arrays' layout and meaning; stored in the group attributes.

1: square canonical frames (S, S). 2: canonical frames (H, W) that follow the person
(``ptx.cache.frame``); the crop records the frame's shape and where the picture is in it.
A schema-1 store still reads (its frames are square); preparing it again re-crops it and
marks it 2."""


def default_chunk_frames() -> int:
    """Frames per time chunk: ``PTX_CHUNK_FRAMES`` when set, else 16."""
    return max(1, int(os.environ.get("PTX_CHUNK_FRAMES", "16")))


CODECS = ("zstd", "lz4")
"""Compressors an array may use: ``zstd`` (the default: smaller) or ``lz4`` (about 3x
faster to write and 5x to read, files about 1.5x larger; for arrays written at the rate
of decoding, such as the analysis frames)."""


def _codec(clevel: int = 1, cname: str = "zstd") -> BloscCodec:
    from zarr.codecs import BloscCodec

    return BloscCodec(cname=cname, clevel=clevel, shuffle="noshuffle")


def _compressors(clevel: int = 1, cname: str = "zstd") -> tuple:
    """Blosc (Zstd or LZ4), then the CRC-32C of the compressed bytes (ptx.cache.integrity)."""
    from zarr.codecs import Crc32cCodec

    return (_codec(clevel, cname), Crc32cCodec())


def _writing_every_chunk(arr: zarr.Array) -> zarr.Array:
    """``arr`` set to write every chunk it is given. By default Zarr first compares each
    chunk with the fill value, to leave out one that holds nothing else; that comparison
    cost 2.5-3.5 ms per MB on one thread shared by all writes (22 ms for 16 canonical
    frames at 512 x 288, 15 ms for their flow), as much as compressing them. An all-zero
    chunk is now stored (a few bytes) instead of left out; either reads back as zeros."""
    from zarr import Array, AsyncArray

    eager = AsyncArray(arr.metadata, arr.store_path, config={"write_empty_chunks": True})
    return Array(eager)


def _why(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:100] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class VideoStore:
    """The arrays and records of one prepared video."""

    def __init__(self, workspace: Workspace, video_id: str) -> None:
        self.workspace = workspace
        self.video_id = video_id
        self.dir = workspace.video_dir(video_id)
        self.zarr_path = self.dir / "data.zarr"
        self.records_dir = self.dir / "records"
        self._group: zarr.Group | None = None
        self._checksums: dict[str, list[str | None]] | None = None
        """Array -> committed chunk checksums, from the records (read once, kept current)."""

    # --- how to name this video in messages ------------------------------------------
    def label(self) -> str:
        """``video <id> (<file name>)`` for messages."""
        try:
            paths = self.workspace.source_info(self.video_id).get("paths") or []
        except PtxError:
            paths = []
        return f"video {self.video_id}" + (f" ({Path(paths[-1]).name})" if paths else "")

    def prepare_hint(self, what: str = "it") -> str:
        """The command that recomputes ``what`` (`ptx verify --repair`, which prepares the
        video again with the settings its records hold)."""
        try:
            path = self.workspace.source_path(self.video_id)
            paths = self.workspace.source_info(self.video_id).get("paths") or []
        except PtxError:
            path, paths = None, []
        where = "" if path or not paths else f" (its file must be back at {paths[-1]})"
        return f"Run `ptx verify --repair {self.video_id}` to recompute {what}{where}."

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
            import zarr

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
            except Exception as exc:  # a zarr.json that does not parse
                raise damaged_file(
                    self.zarr_path / "zarr.json",
                    _why(exc),
                    self.prepare_hint("the group's metadata"),
                ) from None
            schema = self._group.attrs.get("schema_version", 0)
            if schema > SCHEMA_VERSION:
                raise StageError(
                    f"{self.zarr_path} was written by a newer ptx (schema {schema}).",
                    "Upgrade ptx, or prepare the video into another workspace.",
                )
        return self._group

    def repair_group(self) -> None:
        """Write the group's metadata anew (its arrays are kept), after it was damaged."""
        (self.zarr_path / "zarr.json").unlink(missing_ok=True)
        self._group = None
        self.group.attrs.update({"schema_version": SCHEMA_VERSION, "created_by": __version__})

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
        codec: str = "zstd",
    ) -> zarr.Array:
        """Create (or replace) array ``name``. With ``time_axis`` the first axis is time and
        is chunked by ``chunk_frames``; otherwise the array is one chunk. ``codec``: one of
        :data:`CODECS`."""
        chunks = (chunk_frames or default_chunk_frames(), *shape[1:]) if time_axis else shape
        chunks = tuple(max(1, c) for c in chunks)
        try:
            return self.group.create_array(
                name,
                shape=shape,
                chunks=chunks,
                dtype=dtype,
                compressors=_compressors(clevel, codec),
                fill_value=0,
                overwrite=True,
                attributes={"time_axis": time_axis},
            )
        except OSError as exc:
            raise translate_os_error(exc, self.zarr_path, f"creating array {name}") from exc

    def open_array(self, name: str) -> zarr.Array | None:
        """The array ``name``, or None when absent (DamagedError when its metadata is)."""
        meta = self.zarr_path / name / "zarr.json"
        if not meta.is_file():
            return None
        try:
            return self.group[name]  # type: ignore[return-value]
        except FileNotFoundError:
            return None
        except PtxError:
            raise
        except Exception as exc:  # a zarr.json that does not parse
            raise damaged_file(meta, _why(exc), self.prepare_hint(f"'{name}'")) from None

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
        n = arr.shape[0] if arr.ndim else 0
        a, b, _ = slice(start, stop).indices(n)
        chunks = integrity.chunks_in(arr, a, b) if arr.ndim else [0]
        expected = self.committed_checksums(name)
        if expected is not None:
            lost = [i for i in chunks if i < len(expected) and expected[i] is not None and
                    not integrity.chunk_file(self.zarr_path / name, arr, i).is_file()]  # fmt: skip
            if lost:
                raise self._chunk_error(name, arr, lost, integrity.MISSING)
        import numpy as np

        try:
            return np.asarray(arr[slice(start, stop)])
        except OSError as exc:
            raise translate_os_error(exc, self.zarr_path / name, f"reading {name}") from exc
        except Exception:  # a chunk that does not decode: find which
            bad = [i for i in chunks if not self._chunk_decodes(name, arr, i)]
            if not bad:
                raise
            raise self._chunk_error(name, arr, bad, integrity.DAMAGED) from None

    def committed_checksums(self, name: str) -> list[str | None] | None:
        """The checksums the records list for ``name``'s chunks (None: not recorded)."""
        if self._checksums is None:
            found: dict[str, list[str | None]] = {}
            if self.records_dir.is_dir():
                for path in sorted(self.records_dir.glob("*.json")):
                    rec = self.record(path.stem)
                    if rec is not None:
                        found.update(rec.checksums)
            self._checksums = found
        return self._checksums.get(name)

    def _chunk_decodes(self, name: str, arr: zarr.Array, index: int) -> bool:
        path = integrity.chunk_file(self.zarr_path / name, arr, index)
        if not path.is_file():
            return True  # a never-written chunk reads as zeros
        if integrity.checksummed(arr):
            return integrity.self_consistent(path)
        coords = integrity._unravel(index, integrity.grid(arr))
        sel = tuple(slice(c * k, (c + 1) * k) for c, k in zip(coords, arr.chunks))
        try:
            arr[sel]
        except Exception:
            return False
        return True

    def _chunk_error(
        self, name: str, arr: zarr.Array, chunks: list[int], kind: str
    ) -> DamagedError:
        spans = [integrity.chunk_frames(arr, i) for i in chunks]
        if all(spans):
            where = ", ".join(f"{a}-{b - 1}" for a, b in spans[:4])  # type: ignore[misc]
            where = f"frames {where}{' ...' if len(spans) > 4 else ''}"
        else:
            where = f"chunk {', '.join(map(str, chunks[:4]))}"
        what = "is missing" if kind == integrity.MISSING else "is damaged (checksum mismatch)"
        plural = "chunks" if len(chunks) > 1 else "chunk"
        return DamagedError(
            f"{self.label().capitalize()}: array '{name}', {where}: the {plural} "
            f"{what.replace('is ', 'are ') if len(chunks) > 1 else what} "
            f"({self.zarr_path / name}).",
            self.prepare_hint("exactly the damaged chunks"),
        )

    def write(self, name: str, start: int, data: np.ndarray) -> None:
        """Write ``data`` into ``name`` starting at time index ``start``."""
        arr = self.open_array(name)
        if arr is None:
            raise StageError(f"Array '{name}' must be created before it is written.")
        try:
            _writing_every_chunk(arr)[start : start + len(data)] = data
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
        """The stage's record, None when there is none (DamagedError when unreadable)."""
        path = self.records_dir / f"{stage}.json"
        fix = self.prepare_hint(f"stage '{stage}'")
        data = read_json(path, fix=fix)
        if not data:
            return None
        try:
            return StageRecord.from_json(data)
        except ValueError as exc:
            raise damaged_file(path, str(exc), fix) from None

    def write_record(self, record: StageRecord) -> None:
        self.records_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.records_dir / f"{record.stage}.json", record.to_json())
        self._checksums = None

    def delete_record(self, stage: str) -> None:
        (self.records_dir / f"{stage}.json").unlink(missing_ok=True)
        self._checksums = None

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
        return read_json(
            self.dir / "settings.json", {}, fix=self.prepare_hint("the settings (it rewrites them)")
        )

    def save_settings(self, settings: dict[str, dict[str, Any]]) -> None:
        atomic_write_json(self.dir / "settings.json", settings)
