"""Inter-process locks on workspace objects (a video's store, the subject list, a run).

``fcntl.flock`` locks die with their process, so a killed ``ptx`` never leaves a stale lock
behind; the holder's pid is written into the lock file so the error can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from ptx.errors import LockedError


@contextlib.contextmanager
def exclusive_lock(path: Path, what: str, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the ``with`` block.

    ``what`` names the locked object in the error. With ``wait`` the call blocks until the
    lock is free (for short critical sections such as rewriting the subject list);
    otherwise a held lock raises :class:`LockedError` at once.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            who = f"pid {holder}" if holder else "another process"
            raise LockedError(
                f"{what} is in use by {who}.",
                "Wait for it to finish (or stop it), then run the command again.",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        raw = os.pread(fd, 32, 0).decode().strip()
        return int(raw) if raw else None
    except (OSError, ValueError):
        return None
