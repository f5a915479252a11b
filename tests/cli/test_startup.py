"""The CLI starts without the heavy libraries: each command imports what it needs when it
runs, so `ptx --help`, `ptx status` and `ptx methods` answer at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "mediapipe", "numba", "cv2", "scipy", "av")


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """``code`` run by a fresh Python in ``tmp_path`` (this checkout importable, no PATH)."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "", "HOME": str(tmp_path), "COLUMNS": "100"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )


def _loaded_after(code: str, tmp_path: Path) -> list[str]:
    """The heavy modules in ``sys.modules`` after running ``code`` in a fresh process."""
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    out = _python(probe, tmp_path)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_library(tmp_path):
    assert _loaded_after("import ptx.cli.main", tmp_path) == []


@pytest.mark.parametrize(
    "argv", [["--help"], ["methods"], ["status", "-w", "ws"], ["prepare", "--help"]]
)
def test_light_commands_load_no_heavy_library(tmp_path, argv):
    (tmp_path / "ws").mkdir()
    code = (
        "import contextlib, io\nfrom ptx.cli.main import run\n"
        f"with contextlib.redirect_stdout(io.StringIO()) as buf:\n    code = run({argv!r})\n"
        "assert code == 0, (code, buf.getvalue())\n"
    )
    assert _loaded_after(code, tmp_path) == []


def test_a_command_still_gets_its_libraries(tmp_path):
    """The lazy imports really happen: `ptx synth` renders a clip (torch body model)."""
    code = (
        "import contextlib, io\nfrom ptx.cli.main import run\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = run(['synth', 'c.mp4', '--frames', '4', '--size', '32'])\n"
        "assert code == 0, code\n"
    )
    assert "torch" in _loaded_after(code, tmp_path)
    assert (tmp_path / "c.mp4").is_file()


def test_a_named_command_builds_only_itself(tmp_path):
    """`ptx status` neither imports nor builds the other commands (typer builds every
    parameter of every registered command), while `ptx --help` still lists them all."""
    (tmp_path / "ws").mkdir()
    code = (
        "import contextlib, io, sys\nfrom ptx.cli.main import run, COMMANDS\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert run(['status', '-w', 'ws']) == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('ptx.cli.')))\n"
    )
    out = _python(code, tmp_path)
    assert out.returncode == 0, out.stderr
    loaded = set(eval(out.stdout.strip().splitlines()[-1]))
    assert "ptx.cli.status" in loaded
    assert not loaded & {"ptx.cli.compare", "ptx.cli.train", "ptx.cli.prepare", "ptx.cli.demo"}
    from ptx.cli.main import COMMANDS

    helped = _python(
        "from ptx.cli.main import main\nimport sys\nsys.argv = ['ptx', '--help']\nmain()", tmp_path
    )
    assert helped.returncode == 0, helped.stderr
    listed = {line.split()[1] for line in helped.stdout.splitlines() if line.startswith("│ ")}
    assert set(COMMANDS) <= listed


def test_the_stage_settings_load_no_torch(tmp_path):
    """`ptx prepare` resolves and fingerprints every stage's settings before the first stage
    runs; that needs none of the stages' heavy libraries (they load beside extract)."""
    code = (
        "from ptx.pipeline.runner import resolve_configs, stage_fingerprint\n"
        "configs = resolve_configs()\n"
        "print([stage_fingerprint(s, c) for s, c in configs.items()])\n"
    )
    assert not set(_loaded_after(code, tmp_path)) & {"torch", "mediapipe", "numba", "scipy"}


def test_the_command_exits_with_its_code_after_threads_and_exit_handlers(tmp_path):
    """`main` leaves without the interpreter's teardown, but only after what an ordinary
    exit does first: other threads finish, exit handlers run, stdout is flushed."""
    code = (
        "import atexit, sys, threading, time\nfrom ptx.cli.main import main\n"
        "def late():\n    time.sleep(0.3)\n    open('thread.txt', 'w').write('done')\n"
        "threading.Thread(target=late).start()\n"
        "atexit.register(lambda: open('handler.txt', 'w').write('ran'))\n"
        "sys.stdout.write('x' * 100000)\n"
        "sys.argv = ['ptx', 'no-such-command']\nmain()\n"
    )
    out = _python(code, tmp_path)
    assert out.returncode == 2, out.stderr
    assert "No such command" in out.stderr
    assert out.stdout == "x" * 100000
    assert (tmp_path / "thread.txt").read_text() == "done"
    assert (tmp_path / "handler.txt").read_text() == "ran"
