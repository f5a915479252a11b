"""`ptx train`: train a method on a prepared subject (or pretrain a method's
person-agnostic part on many subjects)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    TaskID,
    TextColumn,
)

from ptx.api.progress import LineProgress
from ptx.cache.workspace import default_workspace
from ptx.cli.ranks import other_rank
from ptx.cli.reporting import err_console, out_console, progress_bar
from ptx.errors import InputError

SHOWN = 7
"""Losses shown in the progress line, at most (all of them go to log.csv)."""


class RichTrainReporter:
    """A progress bar with step, losses, steps/s and ETA; notes printed as they come."""

    def __init__(self, console: Console = err_console) -> None:
        self.console = console
        self.progress = progress_bar(
            console, "[bold]train", "", TextColumn("{task.fields[losses]}")
        )
        self.task: TaskID | None = None
        self._last = 0.0

    def start(self, run_dir: Path, step: int, total: int) -> None:
        self.console.print(f"Run folder: {run_dir}", highlight=False)
        self.progress.start()
        self.task = self.progress.add_task("train", total=total, completed=step, rate="", losses="")

    def step(self, step: int, total: int, values: dict[str, float]) -> None:
        now = time.monotonic()
        if self.task is None or (now - self._last < 0.2 and step < total):
            return
        self._last = now
        names = [k for k in values if k != "steps_per_s"][:SHOWN]
        losses = " ".join(f"{k} {values[k]:.4g}" for k in names)
        rate = values.get("steps_per_s", 0.0)
        self.progress.update(self.task, completed=step, rate=f"{rate:.2f} steps/s", losses=losses)

    def note(self, message: str) -> None:
        self.console.print(f"[cyan]note[/]: {message}", highlight=False)

    def end(self) -> None:
        self.progress.stop()


def _overrides(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().removeprefix("train.")
        if not sep or not key:
            raise InputError(
                f"Cannot read --set {item!r}.", "Write it as FIELD=VALUE, e.g. lr=2e-4."
            )
        out[key] = value.strip()
    return out


def train_reporter() -> RichTrainReporter | LineProgress | Any:
    """A progress bar on a terminal; plain lines every few seconds in logs and pipes;
    nothing on torchrun's ranks other than 0."""
    if other_rank():
        from ptx.training.log import NullTrainReporter  # torch: only when training runs

        return NullTrainReporter()
    return RichTrainReporter() if err_console.is_terminal else LineProgress()


def train(
    subject: str | None = typer.Option(None, "--subject", "-s", help="The subject to train."),
    method: str | None = typer.Option(
        None, "--method", "-m", help="The method (default d2g; see `ptx methods`)."
    ),
    preset: str | None = typer.Option(
        None, "--preset", "-p", help="tiny (CPU minutes; the default), small, paper."
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Settings from a YAML file (a run's config.yaml gives the same settings again).",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the subject's newest run (of --method, if given)."
    ),
    run: Path | None = typer.Option(None, "--run", help="Continue this run folder instead."),
    steps: int | None = typer.Option(None, "--steps", help="Training steps (default: preset's)."),
    set_: list[str] = typer.Option(
        [], "--set", metavar="FIELD=VALUE", help="Any setting, as FIELD=VALUE (repeatable)."
    ),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N."),
    pretrain: bool = typer.Option(
        False,
        "--pretrain",
        "--pretrain-uv",
        help="Pretrain the method's person-agnostic part (d2g: the UV generator) on --subjects.",
    ),
    subjects: str | None = typer.Option(
        None, "--subjects", help="a,b,c: the subjects of a one-shot method (or --pretrain)."
    ),
    subjects_from: Path | None = typer.Option(
        None, "--subjects-from", help="A text file of subjects, one a line (one-shot methods)."
    ),
    holdout_subjects: int = typer.Option(
        0,
        "--holdout-subjects",
        help="Hold out the last N subjects: whole people never trained on (one-shot methods).",
    ),
    unpaired: str | None = typer.Option(
        None,
        "--unpaired",
        help="ren: subjects or prepared videos (a,b) whose poses train the unpaired branch.",
    ),
    workspace: Path | None = typer.Option(
        None,
        "--workspace",
        "-w",
        help="Workspace folder (default: $PTX_WORKSPACE or ./ptx-workspace).",
    ),
) -> None:
    """Train a method's renderer of a prepared subject (resumable; TensorBoard in the run
    folder)."""
    from ptx.api import train as api_train

    reporter = train_reporter()
    settings = _overrides(set_)
    if unpaired is not None:
        settings["unpaired"] = unpaired  # a setting of the methods that have one (ren)
    common = dict(method=method, preset=preset, steps=steps, settings=settings,
                  config=config, device=device, workspace=workspace or default_workspace(),
                  progress=reporter)  # fmt: skip
    if pretrain:
        result = api_train(subject, pretrain=True, subjects=subjects, **common)
        summary = ", ".join(
            f"{k} {v:.1%}" if k == "accuracy" else f"{k} {v:.4g}" for k, v in result.final.items()
        )
        out_console.print(
            f"Pretrained on {result.videos} video(s), {result.frames} frames, "
            f"{result.steps} steps: {summary}. Saved {result.path}",
            highlight=False,
        )
        return
    if subjects or subjects_from or (run is not None and subject is None):
        return _train_shared(subjects, subjects_from, holdout_subjects, run, common)
    if not subject:
        raise InputError("Which subject?", "Give --subject NAME (see `ptx status`).")
    try:
        result = api_train(subject, resume=resume, run=run, **common)
    except KeyboardInterrupt:
        reporter.end()
        err_console.print(
            f"Interrupted. Continue from the last checkpoint with `ptx train --subject {subject} "
            "--resume`.",
            highlight=False,
        )
        raise typer.Exit(130) from None
    f = result.final
    before = result.initial
    gain = f" (from {before['psnr']:.2f} dB at step 0)" if before and "psnr" in before else ""
    others = "".join(f"; {k.removeprefix('psnr_')} {v:.2f} dB" for k, v in f.items() if k != "psnr")
    out_console.print(
        f"Trained [bold]{subject}[/] ({result.run_dir.parent.name}) to step "
        f"{result.end_step}/{result.total_steps} at {result.steps_per_s:.2f} steps/s. "
        f"Held-out PSNR {f.get('psnr', float('nan')):.2f} dB{gain}{others}.\n"
        f"Checkpoint: {result.checkpoint}\nSamples: {result.run_dir / 'samples'}",
        highlight=False,
    )


def _train_shared(subjects, subjects_from, holdout, run, common) -> None:
    """A one-shot method trained once on many subjects."""
    from ptx.api import train as api_train

    try:
        result = api_train(None, subjects=subjects, subjects_from=subjects_from,
                           holdout_subjects=holdout, run=run, **common)  # fmt: skip
    except KeyboardInterrupt:
        common["progress"].end()
        err_console.print("Interrupted. Continue with `ptx train --run RUN_FOLDER`.")
        raise typer.Exit(130) from None
    f = result.final
    others = "".join(f"; {k.removeprefix('psnr_')} {v:.2f} dB" for k, v in f.items() if k != "psnr")
    out_console.print(
        f"Trained run {result.run_dir} to step {result.end_step}/{result.total_steps} at "
        f"{result.steps_per_s:.2f} steps/s. One-shot PSNR on held-out frames (their video's first "
        f"frame the source) {f.get('psnr', float('nan')):.2f} dB{others}.\n"
        f"Checkpoint: {result.checkpoint}",
        highlight=False,
    )
