"""All-or-nothing writes of small files (records, subject lists, settings).

A reader sees either the old file or the new one, never a half-written file: the bytes go
to a temporary file in the same folder, are flushed to disk, and are renamed over the target.
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from ptx.errors import DamagedError, DiskFullError, WorkspaceError

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def translate_os_error(exc: OSError, path: Path | str, doing: str) -> Exception:
    """Turn an OSError into the ptx error a user can act on (disk full, permission)."""
    if exc.errno in _DISK_FULL:
        return DiskFullError(
            f"Disk full while {doing} ({path}).",
            "Free some space and run the same command again; finished work is kept.",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return WorkspaceError(
            f"Cannot write {path}: {os.strerror(exc.errno)}.",
            "Choose a writable workspace with --workspace or PTX_WORKSPACE.",
        )
    return exc


def atomic_write(path: Path, write: Callable[[BinaryIO], None], doing: str = "writing") -> None:
    """Call ``write(file)`` on a temp file beside ``path``, fsync it and rename it over
    ``path``: readers see the old file or the new one, never a partial one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise translate_os_error(exc, path, doing) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + fsync + rename)."""
    atomic_write(path, lambda f: f.write(data))


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path, default: Any = None, fix: str | None = None, kind: type = dict) -> Any:
    """Read a JSON file ptx wrote, or return ``default`` when it does not exist.

    A file that is not valid JSON, or whose top level is not a ``kind``, was damaged
    outside ptx: :class:`DamagedError` names it, with ``fix`` as the hint."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return default
    except IsADirectoryError:
        raise damaged_file(path, "it is a folder", fix) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        why = "it is empty" if not raw.strip() else f"not valid JSON: {str(exc)[:80]}"
        raise damaged_file(path, why, fix) from None
    if not isinstance(data, kind):
        raise damaged_file(path, f"it holds a {type(data).__name__}, not a {kind.__name__}", fix)
    return data


def damaged_file(path: Path, why: str, fix: str | None = None) -> DamagedError:
    """The error for a small file ptx wrote that cannot be read any more."""
    return DamagedError(
        f"{path} is damaged ({why}).",
        fix or "Delete it and run the command again; ptx writes a new one.",
    )


def remove_stale_temp_files(folder: Path, recursive: bool = False) -> list[Path]:
    """Delete the temp files :func:`atomic_write` (``.NAME.XXXX.tmp``) and Zarr's local
    store (``NAME.<32 hex>.partial``) leave behind when a process is killed mid-write.
    Call it only while holding the lock of what ``folder`` belongs to."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    files = folder.rglob("*") if recursive else folder.iterdir()
    for p in files:
        if _TEMP.match(p.name) and p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


_TEMP = re.compile(r"^(\..+\.[A-Za-z0-9_]{8}\.tmp|.+\.[0-9a-f]{32}\.partial)$")
