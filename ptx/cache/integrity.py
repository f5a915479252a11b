"""Checksummed chunks: find a chunk of a stored array that is missing or was altered.

Every array ptx writes ends its codec chain with Zarr v3's ``crc32c`` codec: each chunk
file is the compressed bytes followed by their CRC-32C (4 bytes, little endian). So a chunk
file can be checked without decompressing it (:func:`chunk_problem`), and a reader that
decodes a changed chunk gets an error instead of wrong numbers.

A stage record lists, per output array, the checksum of each chunk file it committed
(``StageRecord.checksums``; ``None`` for a chunk never written, which reads as zeros). That
list is what "committed" means: a chunk with a checksum must exist and carry exactly that
checksum; a missing one is never read as the fill value.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import google_crc32c

if TYPE_CHECKING:
    import zarr

MISSING = "missing"
DAMAGED = "damaged"


@dataclass(frozen=True)
class Damage:
    """One chunk (or the metadata) of an array that cannot be trusted."""

    array: str
    chunk: int
    """Flat index in the array's chunk grid (-1: the array's metadata)."""
    kind: str
    """``missing``, ``damaged`` (contents altered or truncated) or ``metadata``."""
    frames: tuple[int, int] | None = None
    """[first, last + 1) along time, for arrays chunked along time."""

    def describe(self) -> str:
        if self.kind == "metadata":
            return f"{self.array}: its zarr.json is damaged"
        if self.chunk < 0:
            return f"{self.array}: the whole array is {self.kind}"
        where = f"frames {self.frames[0]}-{self.frames[1] - 1}" if self.frames else "its data"
        return f"{self.array} chunk {self.chunk} ({where}): {self.kind}"


def checksummed(arr: zarr.Array) -> bool:
    """Whether the array's chunks end with a CRC-32C (written by this ptx or newer)."""
    from zarr.codecs import Crc32cCodec

    codecs = getattr(arr.metadata, "codecs", ())
    return bool(codecs) and isinstance(codecs[-1], Crc32cCodec)


def grid(arr: zarr.Array) -> tuple[int, ...]:
    """Chunks per axis."""
    return tuple(max(1, math.ceil(s / c)) for s, c in zip(arr.shape, arr.chunks))


def n_chunks(arr: zarr.Array) -> int:
    return math.prod(grid(arr))


def time_chunks(arr: zarr.Array) -> int:
    """Chunks along the first axis (time, for the arrays that have it)."""
    return grid(arr)[0] if arr.ndim else 1


def chunk_file(folder: Path, arr: zarr.Array, index: int) -> Path:
    """The file of chunk ``index`` (flat, C order) of the array stored in ``folder``."""
    coords = _unravel(index, grid(arr))
    return Path(folder) / arr.metadata.encode_chunk_key(coords)


def has_time_axis(arr: zarr.Array) -> bool:
    """Whether the first axis is time (recorded at creation; guessed for older arrays)."""
    flag = arr.attrs.get("time_axis")
    return bool(flag) if flag is not None else arr.ndim > 0 and time_chunks(arr) > 1


def chunk_frames(arr: zarr.Array, index: int) -> tuple[int, int] | None:
    """[first, stop) along time of chunk ``index``, for arrays with a time axis."""
    g = grid(arr)
    if not has_time_axis(arr) or any(n > 1 for n in g[1:]):
        return None
    t = _unravel(index, g)[0]
    c = arr.chunks[0]
    return t * c, min(arr.shape[0], (t + 1) * c)


def chunks_in(arr: zarr.Array, start: int, stop: int) -> list[int]:
    """Flat indices of the chunks holding rows ``[start, stop)`` of the first axis."""
    g = grid(arr)
    if arr.ndim == 0:
        return [0]
    c = arr.chunks[0]
    first, last = start // c, max(start, stop - 1) // c
    rows = range(first, min(g[0], last + 1)) if stop > start else range(0)
    rest = [range(n) for n in g[1:]]
    return [_ravel((t, *r), g) for t in rows for r in itertools.product(*rest)]


def stored_checksum(path: Path) -> str | None:
    """The CRC-32C a chunk file carries (its last 4 bytes, hex), '' for a file too short to
    carry one, None when the file does not exist."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            if size < 4:
                return ""
            f.seek(size - 4)
            return f.read(4).hex()
    except FileNotFoundError:
        return None


def file_checksum(data: bytes) -> str:
    """The CRC-32C of ``data`` as the crc32c codec appends it (little-endian uint32, hex)."""
    return google_crc32c.value(data).to_bytes(4, "little").hex()


def chunk_problem(path: Path, expected: str | None) -> str | None:
    """``missing``, ``damaged`` or None (intact) for a chunk whose record checksum is
    ``expected`` (None: never written, nothing to check)."""
    if expected is None:
        return None
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return MISSING
    if len(data) < 4 or data[-4:].hex() != expected or file_checksum(data[:-4]) != expected:
        return DAMAGED
    return None


def self_consistent(path: Path) -> bool:
    """Whether a chunk file's contents match the checksum it carries (no record needed)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return False
    return len(data) >= 4 and file_checksum(data[:-4]) == data[-4:].hex()


def array_checksums(folder: Path, arr: zarr.Array) -> list[str | None] | None:
    """The checksum each chunk file of the array carries (None where none was written), or
    None for an array written without checksums."""
    if not checksummed(arr):
        return None
    return [stored_checksum(chunk_file(folder, arr, i)) for i in range(n_chunks(arr))]


def _unravel(index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    for n in reversed(shape):
        out.append(index % n)
        index //= n
    return tuple(reversed(out))


def _ravel(coords: tuple[int, ...], shape: tuple[int, ...]) -> int:
    index = 0
    for c, n in zip(coords, shape):
        index = index * n + c
    return index


def check_outputs(store, checksums: dict[str, list[str | None]], outputs: tuple[str, ...],
                  full: bool = True) -> list[Damage]:  # fmt: skip
    """What is wrong with a stage's ``outputs`` in ``store`` (a VideoStore) against the
    checksums its record lists: arrays whose metadata is unreadable or gone, chunks missing
    or altered. ``full`` reads every chunk file (CRC-32C of its bytes); otherwise only
    checks that each committed chunk file exists. Arrays the record has no checksums for
    (written by an older ptx) are only checked for presence."""
    from ptx.errors import DamagedError

    found: list[Damage] = []
    for name in outputs:
        try:
            arr = store.open_array(name)
        except DamagedError:
            found.append(Damage(name, -1, "metadata"))
            continue
        if arr is None:
            found.append(Damage(name, -1, MISSING))
            continue
        sums = checksums.get(name)
        if sums is None:
            continue
        if len(sums) != n_chunks(arr):
            found.append(Damage(name, -1, "metadata"))
            continue
        folder = store.zarr_path / name
        for i, expected in enumerate(sums):
            if expected is None:
                continue
            path = chunk_file(folder, arr, i)
            problem = chunk_problem(path, expected) if full else (
                None if path.is_file() else MISSING
            )  # fmt: skip
            if problem:
                found.append(Damage(name, i, problem, chunk_frames(arr, i)))
    return found


def output_checksums(store, outputs: tuple[str, ...]) -> dict[str, list[str | None]]:
    """Array -> the checksums its chunk files carry now, for the stage's ``outputs``."""
    out: dict[str, list[str | None]] = {}
    for name in outputs:
        arr = store.open_array(name)
        sums = array_checksums(store.zarr_path / name, arr) if arr is not None else None
        if sums is not None:
            out[name] = sums
    return out
