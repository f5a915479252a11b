"""`ptx compare`: several methods trained with the same budget on one subject, scored on
the same held-out frames, beside D2G-Net's Table 1."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ptx.cache.atomic import atomic_write_json
from ptx.cache.workspace import Workspace
from ptx.cli.options import workspace_option
from ptx.cli.reporting import out_console
from ptx.cli.train import RichTrainReporter, _overrides
from ptx.errors import InputError
from ptx.tools.compare import COLUMNS, PAPER_NAME, PAPER_TABLE_1, CompareResult, compare

_FORMATS = {"ssim": ".3f", "r_ssim": ".3f", "psnr": ".2f", "r_psnr": ".2f",
            "temporal_error": ".2f", "lpips": ".3f", "fid": ".2f", "fps": ".1f"}  # fmt: skip
_HEAD = {"ssim": "SSIM", "r_ssim": "R-SSIM", "psnr": "PSNR", "r_psnr": "R-PSNR",
         "temporal_error": "temporal", "lpips": "LPIPS", "fid": "FID", "fps": "render f/s"}  # fmt: skip
_WORDS = {"psnr": "PSNR", "r_psnr": "R-PSNR", "temporal_error": "temporal error",
          "ssim": "SSIM", "r_ssim": "R-SSIM"}  # fmt: skip


def _cell(name: str, value: float | None) -> str:
    return "-" if value is None else format(value, _FORMATS[name])


def compare_command(
    subject: str | None = typer.Option(
        None, "--subject", help="The prepared subject (person-specific methods)."
    ),
    one_shot: bool = typer.Option(
        False,
        "--one-shot",
        help="Compare one-shot runs (--runs, default the newest of every one-shot method) on "
        "their held-out people, with the warp-only baseline.",
    ),
    runs: str | None = typer.Option(None, "--runs", help="One-shot runs, comma-separated."),
    pairs: int = typer.Option(4, "--pairs", min=0, help="One-shot: cross-person pairs."),
    same_motion: bool = typer.Option(
        False, "--same-motion", help="One-shot: the held-out people perform one motion."
    ),
    out_dir: Path | None = typer.Option(
        None, "--out", help="One-shot: folder of the table and picture (default: outputs/)."
    ),
    methods: str = typer.Option("d2g,tna,edn", "--methods", help="Methods, comma-separated."),
    preset: str = typer.Option("tiny", "--preset", "-p", help="tiny (CPU minutes), small, paper."),
    steps: int | None = typer.Option(
        None, "--steps", help="Steps of every method's main phase (default: the preset's)."
    ),
    minutes: float | None = typer.Option(
        None, "--minutes", help="Train every method for this many minutes instead."
    ),
    seed: int = typer.Option(0, "--seed", help="The seed of every run."),
    set_: list[str] = typer.Option(
        [],
        "--set",
        metavar="FIELD=VALUE",
        help="A setting for every method that has it, as FIELD=VALUE.",
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the results as JSON."),
    picture: Path | None = typer.Option(
        None, "--png", help="The comparison picture (default: outputs/compare-SUBJECT.png)."
    ),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    workspace: Path | None = workspace_option(),
) -> None:
    """Train METHODS on SUBJECT with the same budget and seed, score each on the same
    held-out frames, and print the table beside D2G-Net's Table 1. With --one-shot: score
    trained one-shot runs on the same held-out people, beside the warp-only baseline."""
    if one_shot:
        _one_shot(workspace, runs, pairs, seed, same_motion, device, out_dir)
        return
    if subject is None:
        raise InputError("Give --subject (or --one-shot to compare one-shot runs).")
    if steps is not None and minutes is not None:
        raise InputError("Give --steps or --minutes, not both.")
    ws = Workspace.open(workspace, create=False)
    names = [m.strip() for m in methods.split(",") if m.strip()]

    def reporter(name: str) -> RichTrainReporter:
        out_console.print(f"[bold]== {name}[/]", highlight=False)
        return RichTrainReporter()

    result = compare(ws, subject, names, preset, steps, minutes, seed, _overrides(set_),
                     device, picture, reporter)  # fmt: skip
    out_console.print(table(result))
    for line in ranking_lines(result):
        out_console.print(line, highlight=False)
    for note in result.notes:
        out_console.print(f"note: {note}", highlight=False)
    out_console.print(f"Picture: {result.picture}", highlight=False)
    if json_out is not None:
        atomic_write_json(json_out, result.to_json())
        out_console.print(f"Wrote {json_out}", highlight=False)


def table(result: CompareResult) -> Table:
    """ptx's rows (this subject, this budget), then Table 1's."""
    r0 = result.runs[0].score.extra
    budget = ", ".join(f"{k} {v}" for k, v in result.budget.items())
    t = Table(
        title=f"ptx compare: {result.subject}, {r0['frames']} held-out frames at {r0['size']} "
        f"px ({budget}); below, D2G-Net's Table 1 (512 px)",
        title_justify="left",
    )
    t.add_column("")
    for name in COLUMNS:
        t.add_column(_HEAD[name], justify="right")
    t.add_column("train min", justify="right")
    t.add_column("steps", justify="right")
    for r in result.runs:
        cells = [_cell(k, r.score.results.get(k)) for k in COLUMNS]
        steps = f"{r.steps}" + (f"/{r.total_steps}" if r.steps < r.total_steps else "")
        t.add_row(f"ptx {r.method}", *cells, f"{r.train_seconds / 60:.1f}", steps)
    ours = {PAPER_NAME.get(r.method) for r in result.runs}
    t.rows[-1].end_section = True
    for name, row in PAPER_TABLE_1.items():
        label = f"paper {name}" + (" (reference only)" if name == "LWG" else "")
        style = None if name in ours else "dim"
        t.add_row(label, *[_cell(k, row.get(k)) for k in COLUMNS], "", "", style=style)
    return t


def ranking_lines(result: CompareResult) -> list[str]:
    """Whether D2G-Net comes first here as in the paper, per metric."""
    lines = []
    for metric, entry in result.ranking.items():
        here, paper = ", ".join(entry["order"]), ", ".join(entry["paper_order"])
        line = f"{_WORDS[metric]}, best first: here {here}; in the paper {paper}"
        if "d2g_first" in entry:
            unit = " dB" if "psnr" in metric else ""
            word = "ahead" if entry["d2g_first"] else "behind"
            line += f" (d2g {word} by {abs(entry['d2g_margin']):.3g}{unit})"
        lines.append(line)
    return lines


def _one_shot(workspace, runs, pairs, seed, same_motion, device, out_dir) -> None:
    from ptx.tools.compare_oneshot import compare_oneshot

    ws = Workspace.open(workspace, create=False)
    given = [Path(r.strip()) for r in (runs or "").split(",") if r.strip()]
    for run in given:
        if not run.is_dir():
            raise InputError(f"No run folder {run}.", "Give run folders, comma-separated.")
    cmp = compare_oneshot(ws, given, pairs, seed, same_motion, device, out_dir)
    out_console.print(cmp.files["markdown"].read_text(), highlight=False)
    for what, path in cmp.files.items():
        out_console.print(f"{what}: {path}", highlight=False)
