"""Locks between processes: a held lock names its holder's pid; nothing needs fcntl."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ptx.cache.locks import exclusive_lock
from ptx.errors import LockedError

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, **kw)


def test_a_lock_held_by_another_process_names_its_pid(tmp_path):
    child = _python(
        f"""
        import sys, time
        from pathlib import Path
        from ptx.cache.locks import exclusive_lock
        with exclusive_lock(Path({str(tmp_path / "lock")!r}), "X"):
            print("held", flush=True)
            sys.stdin.readline()
        """,
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "held"
        want = f"Video v is in use by pid {child.pid}\\."
        with pytest.raises(LockedError, match=want), exclusive_lock(tmp_path / "lock", "Video v"):
            pass
    finally:
        child.communicate("\n", timeout=30)
    with exclusive_lock(tmp_path / "lock", "Video v"):  # free once the holder is gone
        pass


def test_the_store_imports_without_fcntl():
    """Windows has no fcntl: the store and its locks must import without it."""
    child = _python(
        """
        import sys
        sys.modules["fcntl"] = None  # importing it now raises ImportError, as on Windows
        import ptx.cache.store, ptx.cache.locks
        print("ok")
        """,
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0 and out.strip() == "ok"
