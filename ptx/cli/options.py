"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ptx.cache.workspace import Workspace, default_workspace


def workspace_option() -> Any:
    """``--workspace/-w DIR``, defaulting to ``$PTX_WORKSPACE`` or ``./ptx-workspace``."""
    return typer.Option(
        None,
        "--workspace",
        "-w",
        help="Workspace folder (default: $PTX_WORKSPACE or ./ptx-workspace).",
    )


def workspace_at(path: Path | None) -> Workspace:
    """The workspace the option names (not created or checked yet)."""
    return Workspace(path.expanduser() if path else default_workspace())
