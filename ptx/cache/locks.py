"""Inter-process locks on workspace objects (a video's store, the subject list, a run).

The locks are ``filelock`` locks (``flock`` on POSIX, ``LockFileEx`` on Windows), which die
with their process, so a killed ``ptx`` never leaves a stale lock behind. The holder's pid
is written beside the lock file (``<lock>.pid``; the lock file itself belongs to
``filelock``) so the error can name it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from ptx.errors import LockedError


@contextlib.contextmanager
def exclusive_lock(path: Path, what: str, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the ``with`` block.

    ``what`` names the locked object in the error. With ``wait`` the call blocks until the
    lock is free (for short critical sections such as rewriting the subject list);
    otherwise a held lock raises :class:`LockedError` at once.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=-1 if wait else 0, thread_local=False)
    pid_file = path.with_name(path.name + ".pid")
    try:
        lock.acquire()
    except Timeout:
        holder = _read_pid(pid_file)
        who = f"pid {holder}" if holder else "another process"
        raise LockedError(
            f"{what} is in use by {who}.",
            "Wait for it to finish (or stop it), then run the command again.",
        ) from None
    try:
        with contextlib.suppress(OSError):  # the pid is for the message only
            pid_file.write_text(str(os.getpid()))
        yield
    finally:
        with contextlib.suppress(OSError):
            pid_file.write_text("")
        lock.release()


def _read_pid(path: Path) -> int | None:
    try:
        raw = path.read_text().strip()
        return int(raw) if raw else None
    except (OSError, ValueError):
        return None
