"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ptx.cache.workspace import Workspace, default_workspace

SUBJECT_HELP = "The subject (a name given to `ptx prepare --subject`)."


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


def subject_option(required: bool = True, help: str = SUBJECT_HELP) -> Any:
    """``--subject/-s NAME``."""
    return typer.Option(... if required else None, "--subject", "-s", help=help)


def hide_flag_types() -> None:
    """Show on/off flags without a ``<bool>`` type in ``--help`` (they take no value)."""
    from typer.core import TyperOption

    original = TyperOption.display_type_rich
    if getattr(original, "_ptx", False):
        return

    def display(self: TyperOption, ctx: Any) -> str | None:
        if getattr(self, "is_bool_flag", False):
            return None
        return original(self, ctx)

    display._ptx = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display  # type: ignore[method-assign]
