"""`ptx config show`: every setting, its default and what it does."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from ptx.cli.reporting import out_console
from ptx.errors import InputError

config_app = typer.Typer(
    help="Settings: every stage and method setting with its default and description.",
    no_args_is_help=True,
)


def _shown(value: object) -> str:
    return escape(repr(value) if isinstance(value, str) else str(value))


@config_app.command("show")
def show(
    stage: str | None = typer.Option(None, "--stage", help="Only this preparation stage."),
    method: str | None = typer.Option(
        None, "--method", "-m", help="A method's training settings (see `ptx methods`)."
    ),
    preset: str = typer.Option("tiny", "--preset", "-p", help="The method's preset."),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Show the values this YAML file sets."
    ),
    fmt: str = typer.Option(
        "table", "--format", help="table, or yaml (a file --config reads back)."
    ),
) -> None:
    """Print every setting with its value, default and description: the stages of `ptx
    prepare` (all, or --stage S) or a method's (--method M --preset P)."""
    from ptx.api.settings import (
        method_rows,
        prepare_settings,
        rows_yaml,
        stage_rows,
        train_overrides,
        train_settings,
    )
    from ptx.methods.registry import get_method

    if fmt not in ("table", "yaml"):
        raise InputError(f"Unknown --format {fmt!r}.", "Use table or yaml.")
    if method is not None and stage is not None:
        raise InputError("Give --stage or --method, not both.")
    if method is not None:
        file = train_settings(config) if config is not None else None
        preset = (file.preset if file and file.preset else None) or preset
        m = get_method(method)
        rows = method_rows(method, preset, train_overrides(m, preset, file) if file else None)
        title, kind = f"ptx config: method {m.name}, preset {preset}", "method"
    else:
        rows = stage_rows(stage, prepare_settings(config) if config is not None else None)
        title, kind = (
            "ptx config: " + (f"stage {stage}" if stage else "preparation stages"),
            "stages",
        )
    if fmt == "yaml":
        out_console.print(rows_yaml(rows, kind, preset), end="", markup=False, highlight=False)
        return
    table = Table(title=title, title_justify="left", show_lines=False)
    for col in ("setting", "value", "default", "description"):
        table.add_column(col, overflow="fold")
    for r in rows:
        name = r.name if kind == "method" else f"{r.owner}.{r.name}"
        value = _shown(r.value)
        if r.value != r.default:
            value = f"[bold]{value}[/]"
        doc = escape(r.doc.replace("\n", " "))
        if r.fixed:
            doc += " [dim](fixed on --resume)[/]"
        table.add_row(name, value, _shown(r.default), doc)
    out_console.print(table)
    if kind == "stages" and stage is None:
        out_console.print(
            "Training settings: ptx config show --method NAME [--preset P].", highlight=False
        )
