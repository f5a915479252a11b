"""`ptx score`: held-out self-transfer metrics of a trained subject (the paper's Table 1)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from ptx.cli.options import subject_option, workspace_option
from ptx.cli.reporting import out_console

if TYPE_CHECKING:
    from ptx.perform.score import ScoreResult

_FORMATS = {
    "ssim": ".4f",
    "r_ssim": ".4f",
    "person_ssim": ".4f",
    "psnr": ".2f",
    "r_psnr": ".2f",
    "person_psnr": ".2f",
    "lpips": ".4f",
    "fid": ".2f",
}


def _fmt(name: str, value: float | None) -> str:
    return "-" if value is None else format(value, _FORMATS.get(name, ".3g"))


def score_command(
    subject: str | None = subject_option(
        required=False,
        help="The trained subject (leave out for a one-shot run: its held-out subjects).",
    ),
    run: str | None = typer.Option(None, "--run", help="Run folder or name (default: newest)."),
    method: str | None = typer.Option(
        None, "--method", "-m", help="Score the newest run of this method (default: any)."
    ),
    compare: list[str] = typer.Option(
        [], "--compare", metavar="RUN", help="Score these runs side by side (repeatable)."
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the results as JSON."),
    report: Path | None = typer.Option(
        None, "--report", help="Folder for the challenging-pose strip and PSNR plot."
    ),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    pairs: int = typer.Option(
        4, "--pairs", min=0, help="One-shot runs: cross-person pairs of held-out people."
    ),
    pair_seed: int = typer.Option(0, "--pair-seed", help="One-shot runs: seed of the pairs."),
    same_motion: bool = typer.Option(
        False,
        "--same-motion",
        help="One-shot runs: the held-out people perform the identical motion (a synthetic "
        "crowd), so each one's own frames are the cross-person ground truth.",
    ),
    workspace: Path | None = workspace_option(),
) -> None:
    """Render SUBJECT's held-out frames and report SSIM, PSNR, R-SSIM, R-PSNR, temporal error,
    LPIPS, FID, AKD, MKR and render frames/s."""
    from ptx.api import score

    if subject is None:
        _score_oneshot(run, method, device, json_out, workspace, pairs, pair_seed, same_motion)
        return
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
    for name in _rows():
        row = [_fmt(name, _value(res, name)) for res in results]
        if len(results) == 1:
            row.append(results[0].reasons.get(name, "") or _scope(results[0], name))
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


_PERSON = ("person_ssim", "person_psnr")


def _rows() -> tuple[str, ...]:
    """The table's rows: the whole-picture metrics, then their person-only variants."""
    from ptx.perform.score import METRICS

    return (*METRICS[:2], *_PERSON, *METRICS[2:])


def _value(res: ScoreResult, name: str) -> float | None:
    return res.extra.get(name) if name in _PERSON else res.results[name]


def _scope(res: ScoreResult, name: str) -> str:
    """What a row measures over."""
    if name in _PERSON:
        return "person only (real mask)"
    if name in ("ssim", "psnr", "r_ssim", "r_psnr"):
        padded = float(res.extra.get("padded_fraction", 0.0))
        if padded > 0:
            return f"whole picture; padding ({padded:.0%} of the frame) excluded"
        return "whole frame (no padding)"
    return ""


def _explain(res: ScoreResult) -> None:
    x = res.extra
    h, w = x.get("frame", [x["size"], x["size"]])
    padded = float(x.get("padded_fraction", 0.0))
    where = (
        f"over the picture (padding, {padded:.1%} of the frame, excluded)"
        if padded > 0
        else "over the whole frame (no padding)"
    )
    out_console.print(
        f"{x['frames']} held-out frames at {w}x{h} (W x H), checkpoint {res.checkpoint}; "
        f"SSIM/PSNR {where}, background included; person_* over the real person mask only.",
        highlight=False,
    )


def _score_oneshot(run, method, device, json_out, workspace, pairs, seed, same_motion) -> None:
    """The one-shot protocol on a one-shot run's held-out subjects."""
    from ptx.cache.workspace import Workspace, default_workspace
    from ptx.perform.oneshot_score import describe, save_oneshot_json, score_oneshot
    from ptx.perform.oneshot_transfer import resolve_shared_run

    ws = Workspace.open(workspace or default_workspace(), create=False)
    res = score_oneshot(ws, resolve_shared_run(ws, run, method), device, pairs, seed, same_motion)
    for line in describe(res):
        out_console.print(line, highlight=False)
    if json_out is not None:
        out_console.print(f"Wrote {save_oneshot_json(res, json_out)}", highlight=False)
