"""All-or-nothing writes of small files (records, subject lists, settings).

A reader sees either the old file or the new one, never a half-written file: the bytes go
to a temporary file in the same folder, are flushed to disk, and are renamed over the target.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from ptx.errors import DiskFullError, WorkspaceError

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


def read_json(path: Path, default: Any = None) -> Any:
    """Read a JSON file, or return ``default`` when it does not exist."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return default
