"""What a training run writes besides checkpoints: a CSV for scripts (its columns are the
method's: ``Method.columns()``), a text log of notices, TensorBoard scalars and images,
and sample sheets (real | the method's eval images, e.g. output | static | background for
D2G-Net). The library prints nothing; progress goes to a :class:`TrainReporter`."""

from __future__ import annotations

import csv
import datetime as _dt
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ptx.cache.atomic import atomic_write


class TrainReporter(Protocol):
    """Receives a run's progress; the CLI draws it, the library never prints."""

    def start(self, run_dir: Path, step: int, total: int) -> None: ...
    def step(self, step: int, total: int, values: dict[str, float]) -> None: ...
    def note(self, message: str) -> None: ...
    def end(self) -> None: ...


class NullTrainReporter:
    """Ignores everything (library default)."""

    def start(self, run_dir: Path, step: int, total: int) -> None:
        pass

    def step(self, step: int, total: int, values: dict[str, float]) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def end(self) -> None:
        pass


class RunLog:
    """The files of one run folder, with ``columns`` in its CSV (a value under any other
    name is an error, never silently dropped). ``resume_step`` drops CSV rows after it
    (they belong to steps that are about to be trained again)."""

    def __init__(
        self,
        run_dir: Path,
        columns: tuple[str, ...],
        tensorboard: bool,
        resume_step: int | None = None,
    ) -> None:
        self.dir = run_dir
        self.columns = tuple(columns)
        self.csv_path = run_dir / "log.csv"
        self.text_path = run_dir / "train.log"
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.csv_path.is_file():
            with open(self.csv_path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
            self._write_rows(rows)
        elif not self.csv_path.is_file():
            self._write_rows([])
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run_dir / "tb"), purge_step=resume_step)

    def _write_rows(self, rows: list[dict[str, Any]]) -> None:
        with open(self.csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)

    def row(self, step: int, values: dict[str, Any]) -> None:
        """Append one CSV row and the same numbers as TensorBoard scalars."""
        unknown = sorted(set(values) - set(self.columns))
        if unknown:
            raise ValueError(
                f"log values {unknown} are not among the method's columns {self.columns}"
            )
        with open(self.csv_path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.columns)
            w.writerow({"step": step, **{k: _fmt(v) for k, v in values.items()}})
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, float | int) and not isinstance(v, bool):
                    group = "eval" if k.startswith("psnr") else "train"
                    self.tb.add_scalar(f"{group}/{k}", v, step)

    def note(self, message: str) -> None:
        stamp = _dt.datetime.now().isoformat(timespec="seconds")
        with open(self.text_path, "a") as f:
            f.write(f"{stamp} {message}\n")
        if self.tb is not None:
            self.tb.add_text("notes", message)

    def sample(self, step: int, sheet: np.ndarray) -> Path:
        """Save a sample sheet (uint8 (H, W, 3)) as PNG and to TensorBoard."""
        from PIL import Image

        path = self.dir / "samples" / f"step-{step:09d}.png"
        atomic_write(path, lambda f: Image.fromarray(sheet).save(f, format="PNG"), "writing")
        if self.tb is not None:
            self.tb.add_image("samples", sheet, step, dataformats="HWC")
        return path

    def close(self) -> None:
        if self.tb is not None:
            self.tb.flush()
            self.tb.close()


def _fmt(v: Any) -> Any:
    return f"{v:.6g}" if isinstance(v, float) else v


def sample_sheet(rows: list[list[torch.Tensor]], min_tile: int = 128) -> np.ndarray:
    """Tile images (each float (3, h, w) in [-1, 1]) into a uint8 (rows, cols, 3) sheet, one
    row per list, enlarged (nearest) so tiles are at least ``min_tile`` px on their long
    side."""
    lines = [torch.cat([t.detach().float().cpu() for t in row], dim=2) for row in rows]
    sheet = torch.cat(lines, dim=1)
    scale = max(1, -(-min_tile // max(rows[0][0].shape[-2:])))
    if scale > 1:
        sheet = sheet.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    img = ((sheet.clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return img.permute(1, 2, 0).numpy()
