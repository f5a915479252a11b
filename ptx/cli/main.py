"""The ``ptx`` command. Each command lives in its own module and stays thin: parse, call
one library function, print. Errors become one line on stderr and an exit code here."""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import importlib
import os
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer

from ptx import __version__
from ptx.cache.atomic import translate_os_error
from ptx.cache.workspace import default_workspace
from ptx.cli import ranks
from ptx.cli.options import hide_flag_types
from ptx.errors import PtxError

COMMANDS: dict[str, tuple[str, str]] = {
    "prepare": ("prepare", "prepare"),
    "status": ("status", "status"),
    "inspect": ("inspect", "inspect"),
    "demo": ("demo", "demo"),
    "synth": ("synth", "synth"),
    "train": ("train", "train"),
    "weights": ("weights", "weights"),
    "transfer": ("transfer", "transfer"),
    "render": ("render", "render"),
    "score": ("score", "score_command"),
    "methods": ("methods", "methods"),
    "compare": ("compare", "compare_command"),
    "verify": ("verify", "verify"),
    "export": ("export", "export"),
    "config": ("config", "config_app"),
}
"""Command -> (its module in ptx.cli, the function or sub-app there), in help order."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ptx {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """ptx: person-specific neural rendering and pose transfer."""


def build_app(only: Iterable[str] | None = None) -> typer.Typer:
    """The ``ptx`` app with every command, or ``only`` those named. Typer builds each
    parameter of each registered command at start-up (a pydantic adapter per parameter),
    so a command line naming a command registers that one: ``ptx status`` neither imports
    nor builds the other fourteen (``ptx --help`` and a mistyped command get them all)."""
    app = typer.Typer(
        name="ptx",
        help="Turn a video of a person into a neural renderer, then make them perform other "
        "videos' moves (D2G-Net and the systems of its papers; see `ptx methods`).",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
    )
    app.callback()(_root)
    wanted = None if only is None else set(only)
    for name, (module, attr) in COMMANDS.items():
        if wanted is not None and name not in wanted:
            continue
        target = getattr(importlib.import_module(f"ptx.cli.{module}"), attr)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    hide_flag_types()
    return app


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole app, built when asked for
        return build_app()
    raise AttributeError(name)


def _workspace_in(argv: list[str]) -> Path:
    """The workspace the command line uses (``--workspace``/``-w``, else the default)."""
    for i, arg in enumerate(argv):
        if arg in ("--workspace", "-w") and i + 1 < len(argv):
            return Path(argv[i + 1]).expanduser()
        if arg.startswith("--workspace="):
            return Path(arg.split("=", 1)[1]).expanduser()
    return default_workspace()


def _log_crash(exc: BaseException, argv: list[str]) -> Path | None:
    """Write the traceback of an unexpected error to ``logs/`` of the workspace in use
    (only when that workspace exists: a crash never creates one), else to the temp
    folder; return its path."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    ws = _workspace_in(argv)
    bases = [ws / "logs"] if ws.is_dir() else []
    for base in (*bases, Path(tempfile.gettempdir())):
        try:
            base.mkdir(exist_ok=True)
            path = base / f"ptx-crash-{stamp}-{os.getpid()}.log"
            path.write_text("".join(traceback.format_exception(exc)))
            return path
        except OSError:
            continue
    return None


def _fail(message: str, code: int) -> int:
    who = f" (rank {ranks.rank()})" if ranks.other_rank() else ""
    sys.stderr.write(f"ptx: error{who}: {message}\n")
    return code


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (for tests and ``main``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["prepare"]:
        from ptx.cli.prepare_batch import normalize_ray

        argv = normalize_ray(argv)
    ranks.silence_other_ranks()
    try:
        from ptx.cli.remote import on_local_copy

        with on_local_copy(argv) as local_argv:  # a URL workspace: its local copy
            only = local_argv[:1] if local_argv[:1] and local_argv[0] in COMMANDS else None
            build_app(only)(args=local_argv, prog_name="ptx")  # usage errors, --help: SystemExit
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except PtxError as exc:
        return _fail(str(exc), exc.exit_code)
    except OSError as exc:
        translated = translate_os_error(exc, exc.filename or "the workspace", "writing")
        if isinstance(translated, PtxError):
            return _fail(str(translated), translated.exit_code)
        return _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1)
    except KeyboardInterrupt:
        return _fail("interrupted; finished work is kept. Run the same command to resume.", 130)
    except Exception as exc:
        if os.environ.get("PTX_DEBUG"):
            raise
        log = _log_crash(exc, argv)
        where = f" (traceback in {log})" if log else ""
        return _fail(f"internal error: {type(exc).__name__}: {exc}{where}. Please report it.", 70)
    return 0


def main() -> None:
    code = run()
    _exit(code)
    sys.exit(code)


def _exit(code: int) -> None:
    """End the process the way the interpreter would, less its teardown: wait for the other
    threads (``threading._shutdown``, as at exit), run the exit handlers, flush stdout and
    stderr, and leave with ``code``. The teardown skipped (freeing every module and object,
    torch's and MediaPipe's libraries unloading) took ~1 s after a prepare, 0.5 s after any
    command that imported torch, and writes nothing a command made. Returns without doing
    anything where this Python has no ``threading._shutdown`` (the caller exits as usual)."""
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is None:
        return
    shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
