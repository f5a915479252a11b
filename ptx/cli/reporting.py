"""Rich progress bars and tables for the runner's reports (the CLI side of Reporter)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ptx.api.progress import LineProgress

if TYPE_CHECKING:
    from ptx.pipeline.stage import StageOutcome

err_console = Console(stderr=True)
# In logs and pipes, wide tables instead of wrapped cells (scripts grep them).
out_console = Console() if sys.stdout.isatty() else Console(width=160)


def progress_bar(console: Console, label: str, unit: str = "", *extra: TextColumn) -> Progress:
    """A bar with done/total, ``{task.fields[rate]}``, elapsed time and ETA (plus ``extra``
    columns); drawn only on a terminal, never as redraws in logs and pipes."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        *([TextColumn(unit)] if unit else []),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        *extra,
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )


class RichReporter:
    """One progress bar per stage (frames done, frames/s, ETA); warnings as they come."""

    def __init__(self, console: Console = err_console) -> None:
        self.console = console
        self.progress = progress_bar(console, "[bold]{task.description:<10}", "frames")
        self.tasks: dict[str, TaskID] = {}
        self.outcomes: list[StageOutcome] = []

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def stage_start(self, stage: str, total: int | None, done: int) -> None:
        self.tasks[stage] = self.progress.add_task(stage, total=total, completed=done, rate="")

    def stage_total(self, stage: str, total: int) -> None:
        self.progress.update(self.tasks[stage], total=total)

    def advance(self, stage: str, frames: int) -> None:
        task = self.tasks[stage]
        self.progress.advance(task, frames)
        speed = self.progress.tasks[self.tasks_index(task)].speed
        if speed:
            self.progress.update(task, rate=f"{speed:,.1f} f/s")

    def tasks_index(self, task: TaskID) -> int:
        return next(i for i, t in enumerate(self.progress.tasks) if t.id == task)

    def stage_end(self, outcome: StageOutcome) -> None:
        self.outcomes.append(outcome)
        task = self.tasks.get(outcome.stage)
        if task is not None and outcome.status != "failed":
            t = self.progress.tasks[self.tasks_index(task)]
            self.progress.update(task, total=t.completed or outcome.frames or 1)
            if not t.completed:
                self.progress.update(task, completed=outcome.frames or 1)

    def render_start(self, total: int) -> None:
        self.stage_start("render", total, 0)

    def render_advance(self, frames: int) -> None:
        self.advance("render", frames)

    def warn(self, stage: str, message: str) -> None:
        self.console.print(f"[yellow]warning[/] ({stage}): {message}", highlight=False)


def stage_reporter() -> RichReporter | LineProgress:
    """Progress bars on a terminal; plain lines every few seconds in logs and pipes
    (``PTX_PROGRESS_EVERY`` seconds, default 10)."""
    return RichReporter() if err_console.is_terminal else LineProgress(ends=False)


def outcome_table(outcomes: list[StageOutcome]) -> Table:
    table = Table(title="ptx prepare", title_justify="left")
    table.add_column("stage")
    table.add_column("status")
    table.add_column("frames", justify="right")
    table.add_column("seconds", justify="right")
    colours = {
        "ran": "green",
        "resumed": "green",
        "cached": "cyan",
        "repaired": "yellow",
        "failed": "red",
    }
    for o in outcomes:
        table.add_row(
            o.stage,
            f"[{colours.get(o.status, 'white')}]{o.status}[/]",
            str(o.frames),
            f"{o.seconds:.1f}",
        )
    return table
