"""`ptx prepare` on many videos: a line per finished video, a closing table over all of
them (done / cached / failed with the reason), and an exit code (0 when none failed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from ptx.api.prepare_batch import BatchPrepared, VideoResult, prepare_batch
from ptx.cli.reporting import err_console, out_console
from ptx.errors import PtxError

RAY_WORDS = ("local", "auto")


def takes_address(token: str) -> bool:
    """Whether the word after ``--ray`` is its address (``local``, ``auto``, ``HOST:PORT``,
    ``ray://...``) rather than the next video or option."""
    if token.startswith("-"):
        return False
    return token in RAY_WORDS or (":" in token and not Path(token).exists())


def normalize_ray(argv: list[str]) -> list[str]:
    """``--ray`` takes an optional address: without one it means a local instance
    (``--ray local``), so ``ptx prepare --ray a.mp4`` keeps a.mp4 a video."""
    out = list(argv)
    for i, arg in enumerate(out):
        if arg == "--":
            break
        if arg == "--ray" and (i + 1 == len(out) or not takes_address(out[i + 1])):
            out.insert(i + 1, "local")
            break
    return out


class BatchLines:
    """One line on standard error per finished video."""

    def batch_start(self, total: int, backend: str, workers: int) -> None:
        how = {"sequential": "in this process", "processes": f"in {workers} local processes",
               "ray": f"as Ray tasks ({workers} at a time)"}[backend]  # fmt: skip
        err_console.print(f"Preparing {total} video(s) {how}.", highlight=False)

    def video_done(self, r: VideoResult, done: int, total: int) -> None:
        name = Path(r.video).name
        if r.status == "failed":
            text = f"[red]failed[/] {name}: {r.error}"
        else:
            text = (f"{r.status} {name}: video {r.video_id} of subject {r.subject}, "
                    f"{r.frames} frames in {r.seconds:.1f} s ({r.worker})")  # fmt: skip
        err_console.print(f"[{done}/{total}] {text}", highlight=False, markup=True)


def batch_table(res: BatchPrepared) -> Table:
    table = Table(title="ptx prepare (batch)", title_justify="left")
    for col, right in (("video", False), ("status", False), ("id", False), ("subject", False),
                       ("frames", True), ("seconds", True), ("worker", False),
                       ("reason", False)):  # fmt: skip
        table.add_column(col, justify="right" if right else "left", overflow="fold")
    colours = {"done": "green", "cached": "cyan", "failed": "red"}
    for r in res.results:
        table.add_row(
            Path(r.video).name,
            f"[{colours[r.status]}]{r.status}[/]",
            r.video_id or "",
            r.subject or "",
            str(r.frames) if r.status != "failed" else "",
            f"{r.seconds:.1f}",
            r.worker,
            r.error or (f"{len(r.warnings)} warning(s)" if r.warnings else ""),
        )
    return table


class BatchFailed(PtxError):
    """Some videos of a batch failed (their reasons are in the table)."""


def run_batch(videos: list[Path], workspace: Any, **kwargs: Any) -> None:
    """Prepare the batch, print its table and summary; raise BatchFailed (with the
    failures' exit code) when a video failed."""
    res = prepare_batch(videos, workspace=workspace, progress=BatchLines(), **kwargs)
    out_console.print(batch_table(res))
    how = {"sequential": "one process", "processes": f"{res.workers} local processes",
           "ray": "Ray"}[res.backend]  # fmt: skip
    shard = f" ({res.skipped} left to other shards)" if res.skipped else ""
    out_console.print(
        f"Prepared {len(res.results)} video(s){shard} in {res.seconds:.1f} s with {how}: "
        f"{res.count('done')} done, {res.count('cached')} cached, {res.count('failed')} failed.",
        highlight=False,
    )
    if res.failed:
        err = BatchFailed(
            f"{len(res.failed)} of {len(res.results)} video(s) failed; the table says why.",
            "Fix them and run the same command again: the prepared ones are cached.",
        )
        err.exit_code = res.exit_code
        raise err
