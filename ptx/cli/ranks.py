"""Processes of a ``torchrun`` launch: only rank 0 speaks (progress, tables, summaries);
the others stay silent but for their errors, which name their rank."""

from __future__ import annotations

import os


def rank() -> int:
    """This process's rank under a launcher (``RANK``); 0 outside one."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def other_rank() -> bool:
    """Whether this process is a rank other than 0 of a launch."""
    return rank() > 0


def silence_other_ranks() -> None:
    """Quiet the CLI's consoles on ranks other than 0 (errors are written apart)."""
    if other_rank():
        from ptx.cli.reporting import err_console, out_console

        out_console.quiet = err_console.quiet = True
