"""`ptx demo`: the main job on subjects ptx generates itself, with nothing downloaded."""

from __future__ import annotations

from pathlib import Path

import typer

from ptx.cli.options import workspace_at, workspace_option
from ptx.cli.reporting import RichReporter, out_console
from ptx.cli.train import RichTrainReporter


def demo(
    steps: int = typer.Option(300, help="Training steps of the tiny preset."),
    workspace: Path | None = workspace_option(),
) -> None:
    """Synthesize a target and a source, prepare both, train the target (tiny preset, a few
    CPU minutes) and make it perform the source's motion."""
    from ptx.tools.demo import run_demo

    ws = workspace_at(workspace)
    res = run_demo(ws, steps, make_reporter=RichReporter, train_reporter=RichTrainReporter())
    psnr = "" if res.heldout_psnr is None else (
        f"Held-out PSNR {res.heldout_psnr:.2f} dB (untrained {res.initial_psnr or 0:.2f} dB, "
        f"static texture alone {res.static_psnr or 0:.2f} dB). "
    )  # fmt: skip
    out_console.print(f"{psnr}", highlight=False)
    out_console.print(f"Target video:   {res.target_video}", highlight=False)
    out_console.print(f"Source video:   {res.source_video}", highlight=False)
    out_console.print(f"Contact sheet:  {res.sheet}", highlight=False)
    out_console.print(
        f"Result (source | target performing it): {res.transfer.output}", highlight=False
    )
