"""`ptx score`: held-out self-transfer metrics of a trained subject (the paper's Table 1)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ptx.cli.options import subject_option, workspace_option
from ptx.cli.reporting import out_console
from ptx.perform.score import METRICS, ScoreResult

_FORMATS = {
    "ssim": ".4f",
    "r_ssim": ".4f",
    "psnr": ".2f",
    "r_psnr": ".2f",
    "lpips": ".4f",
    "fid": ".2f",
}


def _fmt(name: str, value: float | None) -> str:
    return "-" if value is None else format(value, _FORMATS.get(name, ".3g"))


def score_command(
    subject: str = subject_option(help="The trained subject."),
    run: str | None = typer.Option(None, "--run", help="Run folder or name (default: newest)."),
    method: str | None = typer.Option(
        None, "--method", "-m", help="Score the newest run of this method (default: any)."
    ),
    compare: list[str] = typer.Option(
        [], "--compare", help="Score these runs side by side (repeatable)."
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the results as JSON."),
    report: Path | None = typer.Option(
        None, "--report", help="Folder for the challenging-pose strip and PSNR plot."
    ),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    workspace: Path | None = workspace_option(),
) -> None:
    """Render SUBJECT's held-out frames and report SSIM, PSNR, R-SSIM, R-PSNR, temporal error,
    LPIPS, FID, AKD, MKR and render frames/s."""
    from ptx.api import score

    runs = list(compare) or [run]
    one = len(runs) == 1
    results = [score(subject, method=method, run=r, device=device, report=report if one else None,
                     json=json_out if one else None, workspace=workspace) for r in runs]  # fmt: skip
    table = Table(title=f"ptx score: {subject} (held-out frames)", title_justify="left")
    table.add_column("metric")
    for res in results:
        table.add_column(f"{res.method} {res.run}", justify="right")
    if len(results) == 1:
        table.add_column("note")
    for name in METRICS:
        row = [_fmt(name, res.results[name]) for res in results]
        if len(results) == 1:
            row.append(results[0].reasons.get(name, ""))
        table.add_row(name, *row)
    out_console.print(table)
    _explain(results[0])
    for res in results:
        for note in res.notes:
            out_console.print(f"note ({res.run}): {note}", highlight=False)
    if json_out is not None:
        if not one:
            from ptx.cache.atomic import atomic_write_json

            atomic_write_json(json_out, [r.to_json() for r in results])
        out_console.print(f"Wrote {json_out}", highlight=False)
    if report is not None and len(results) == 1:
        out_console.print(f"Report in {report}", highlight=False)


def _explain(res: ScoreResult) -> None:
    x = res.extra
    out_console.print(
        f"{x['frames']} held-out frames at {x['size']} px, checkpoint {res.checkpoint}; "
        f"whole-frame SSIM/PSNR (background included); person-only PSNR "
        f"{_fmt('psnr', x['person_psnr'])}, SSIM {_fmt('ssim', x['person_ssim'])}.",
        highlight=False,
    )
