"""Preparing many videos (``ptx prepare a.mp4 b.mp4 ...``, ``--from LIST``): in this process,
in ``jobs`` local worker processes (:mod:`ptx.api.pool`), or as one Ray task per video
(:mod:`ptx.api.ray_batch`); ``shard=(i, n)`` keeps every n-th video for job arrays.

Every video is prepared by :func:`prepare_one`, the same call as ``ptx.prepare``, so a batch
gives the arrays a sequential run gives, bit for bit. A worker process prepares video after
video, paying its imports (torch, numba's compiled kernels, MediaPipe) once. The store's
per-video locks keep writers apart; a video whose lock another process holds (the same
file listed twice, or an overlapping batch elsewhere) is waited for, then found cached.
Failures are kept per video (the one-line reason and its exit code); the other videos go on.

Options given as text may name the video: ``{dir}`` (its folder), ``{stem}`` (its file
name without the extension) and ``{name}`` (with it) are replaced in ``subject``,
``keypoints``, ``iuv`` and ``body``, so each video can import its own keypoints
(``keypoints="openpose:{dir}/{stem}_gt/openpose"``).
"""

from __future__ import annotations

import inspect
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ptx.api.core import PathLike, prepare
from ptx.errors import InputError, LockedError, PtxError

TEMPLATED = ("subject", "keypoints", "iuv", "body")
"""Options in which ``{dir}``, ``{stem}`` and ``{name}`` name the video."""
LOCK_WAIT = 600.0
"""Seconds a video whose lock another process holds is waited for before it fails."""
STATUSES = ("done", "cached", "failed")


@dataclass
class VideoResult:
    """What the batch did with one video."""

    video: str
    """The video as listed."""
    status: str
    """``done`` (some stage ran), ``cached`` (every stage was current) or ``failed``."""
    video_id: str | None = None
    subject: str | None = None
    frames: int = 0
    seconds: float = 0.0
    error: str | None = None
    """The one-line reason of a failure."""
    exit_code: int = 0
    """The failure's exit code (0 when it did not fail)."""
    stages: dict[str, str] = field(default_factory=dict)
    """Stage -> ran, resumed, repaired or cached."""
    worker: str = ""
    """``host:pid`` of the process that prepared it."""
    attempts: int | None = 1
    """Workers it was given to (more than one after a worker died under it); None under
    Ray, which retries by itself and does not say (a retried video shows ``resumed``
    stages)."""
    warnings: list[str] = field(default_factory=list)


@dataclass
class BatchPrepared:
    """What :func:`prepare_batch` did: one :class:`VideoResult` per video, in list order."""

    results: list[VideoResult]
    backend: str
    """``sequential``, ``processes`` or ``ray``."""
    workers: int
    seconds: float
    skipped: int = 0
    """Videos of the list left to other shards."""

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[VideoResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def exit_code(self) -> int:
        """0 when every video was prepared; the failures' exit code when they share one,
        else 1."""
        codes = {r.exit_code for r in self.failed}
        return 0 if not codes else codes.pop() if len(codes) == 1 else 1


class BatchReporter(Protocol):
    """Receives a batch's progress (the CLI draws it; the library never prints)."""

    def batch_start(self, total: int, backend: str, workers: int) -> None: ...
    def video_done(self, result: VideoResult, done: int, total: int) -> None: ...


def read_video_list(path: PathLike) -> list[str]:
    """The videos a list file names: one path per line (spaces are part of the name),
    blank lines and ``#`` comments skipped, relative paths relative to the file's folder;
    ``-`` reads standard input (relative to the current folder)."""
    if str(path) == "-":
        lines, base = sys.stdin.read().splitlines(), Path.cwd()
    else:
        path = Path(path).expanduser()
        try:
            lines, base = path.read_text().splitlines(), path.parent
        except FileNotFoundError:
            raise InputError(f"No such list file: {path}.") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"Cannot read list file {path} ({exc}).") from None
    out = []
    for line in lines:
        item = line.strip()
        if item and not item.startswith("#"):
            p = Path(item).expanduser()
            out.append(str(p if p.is_absolute() else base / p))
    return out


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> (i, n), 0 <= i < n (SLURM: ``$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT``
    with ``--array=0-(n-1)``)."""
    i, sep, n = text.partition("/")
    try:
        index, count = int(i), int(n)
    except ValueError:
        index = count = -1
    if not sep or count < 1 or not 0 <= index < count:
        raise InputError(
            f"Cannot read --shard {text!r}.",
            "Write it as I/N with 0 <= I < N, e.g. --shard 0/4 (shards 0/4 to 3/4 together "
            "take every video once).",
        )
    return index, count


def select_shard(videos: list[str], shard: tuple[int, int] | None) -> list[str]:
    """The videos of shard ``(i, n)``: positions i, i + n, i + 2n, ... of the list (every
    shard of one list is disjoint from the others, and together they take all)."""
    if shard is None:
        return list(videos)
    i, n = shard
    return videos[i::n]


def _fill(value: Any, video: str) -> Any:
    if not isinstance(value, str) or "{" not in value:
        return value
    p = Path(video)
    try:
        return value.format_map({"dir": str(p.parent), "stem": p.stem, "name": p.name})
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(
            f"Cannot fill in {value!r} for {p.name} ({exc}).",
            "Use {dir}, {stem} and {name} (write {{ and }} for braces).",
        ) from None


def video_jobs(videos: list[str], options: dict[str, Any], workspace: str) -> list[dict[str, Any]]:
    """One job per video: the options of ``ptx.prepare`` with the video's name filled in."""
    allowed = set(inspect.signature(prepare).parameters) - {"video", "workspace", "progress"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise InputError(f"prepare has no option {unknown[0]!r}.", f"Known: {', '.join(sorted(allowed))}.")  # fmt: skip
    jobs = []
    for v in videos:
        opts = {k: (_fill(x, v) if k in TEMPLATED else x) for k, x in options.items()}
        jobs.append({"video": v, "workspace": workspace, "options": opts})
    return jobs


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def prepare_one(job: dict[str, Any]) -> dict[str, Any]:
    """Prepare one video of a batch (what every worker runs); never raises: a failure is
    returned with its one-line reason and exit code. A held lock is waited for (up to
    :data:`LOCK_WAIT` seconds, ``job["lock_wait"]``)."""
    t0 = time.perf_counter()
    out: dict[str, Any] = {"video": job["video"], "worker": f"{socket.gethostname()}:{os.getpid()}"}
    deadline = time.monotonic() + float(job.get("lock_wait", LOCK_WAIT))
    delay = 0.5
    while True:
        try:
            res = prepare(job["video"], workspace=job["workspace"], **job["options"])
            break
        except LockedError as exc:
            if time.monotonic() + delay > deadline:
                return {**out, "status": "failed", "error": one_line(exc),
                        "exit_code": exc.exit_code, "seconds": time.perf_counter() - t0}  # fmt: skip
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
        except PtxError as exc:
            return {**out, "status": "failed", "error": one_line(exc),
                    "exit_code": exc.exit_code, "seconds": time.perf_counter() - t0}  # fmt: skip
        except Exception as exc:
            return {**out, "status": "failed", "exit_code": 70,
                    "error": f"internal error: {type(exc).__name__}: {one_line(exc)}",
                    "seconds": time.perf_counter() - t0}  # fmt: skip
    stages = {o.stage: o.status for o in res.outcomes}
    return {
        **out,
        "status": "cached" if all(s == "cached" for s in stages.values()) else "done",
        "video_id": res.video_id,
        "subject": res.subject,
        "frames": max((o.frames for o in res.outcomes), default=0),
        "stages": stages,
        "warnings": res.warnings,
        "seconds": time.perf_counter() - t0,
    }


def result_of(raw: dict[str, Any], attempts: int | None = 1) -> VideoResult:
    names = set(inspect.signature(VideoResult).parameters)
    return VideoResult(**{k: v for k, v in raw.items() if k in names}, attempts=attempts)


def prepare_batch(
    videos: Iterable[PathLike] = (),
    *,
    list_file: PathLike | None = None,
    shard: tuple[int, int] | str | None = None,
    jobs: int = 1,
    ray: str | None = None,
    task_cpus: float = 1.0,
    task_memory_gb: float = 2.0,
    task_gpus: float = 0.0,
    retries: int = 2,
    workspace: PathLike | None = None,
    progress: BatchReporter | None = None,
    **options: Any,
) -> BatchPrepared:
    """Prepare many videos (module docstring). ``videos`` and the paths of ``list_file``
    are taken in order (a path listed twice once); ``shard`` ``(i, n)`` or ``"i/n"`` keeps
    every n-th. ``jobs`` > 1 prepares in that many local processes; ``ray`` (``"local"``,
    ``"auto"`` or a cluster address) as Ray tasks of ``task_cpus`` CPUs, ``task_memory_gb``
    of memory and ``task_gpus`` GPUs each. A worker that dies is replaced and its video
    given to another up to ``retries`` more times (it resumes from its committed chunks).
    ``options`` are those of :func:`ptx.prepare` (``subject``, ``size``, ``keypoints``,
    ``settings``, ...)."""
    from ptx.api.core import workspace_of

    listed = [str(v) for v in videos] + (read_video_list(list_file) if list_file else [])
    seen: set[str] = set()
    unique = [v for v in listed if not (v in seen or seen.add(v))]
    if not unique:
        raise InputError("No videos to prepare.", "Name video files, or a list with --from.")
    if isinstance(shard, str):
        shard = parse_shard(shard)
    chosen = select_shard(unique, shard)
    if jobs < 1 or retries < 0 or task_cpus <= 0 or task_memory_gb <= 0 or task_gpus < 0:
        raise InputError("--jobs and --task-cpus must be at least 1 (and --retries 0 or more).")
    if ray not in (None, "local") and os.environ.get("PTX_WORKSPACE_URL"):
        raise InputError(
            "--ray ADDRESS cannot prepare into an object-store workspace yet: its tasks would "
            "write this machine's local copy of it.",
            "Run `ptx prepare --from LIST --shard I/N -w URL` on each machine instead (each "
            "keeps its own copy in step with the bucket).",
        )
    ws = workspace_of(workspace, create=True)
    ws.ensure()
    todo = video_jobs(chosen, options, str(ws.root))
    t0 = time.perf_counter()
    results: dict[int, VideoResult] = {}

    def done(index: int, result: VideoResult) -> None:
        results[index] = result
        if progress is not None:
            progress.video_done(result, len(results), len(todo))

    if ray is not None:
        from ptx.api.ray_batch import run_ray

        backend, workers = (
            "ray",
            run_ray(
                todo, ray, task_cpus, task_memory_gb, task_gpus, retries, done, _starter(progress)
            ),
        )
    elif jobs > 1 and len(todo) > 1:
        from ptx.api.pool import run_processes

        backend, workers = "processes", min(jobs, len(todo))
        if progress is not None:
            progress.batch_start(len(todo), backend, workers)
        run_processes(todo, workers, retries, done)
    else:
        backend, workers = "sequential", 1
        if progress is not None:
            progress.batch_start(len(todo), backend, workers)
        for i, job in enumerate(todo):
            done(i, result_of(prepare_one(job)))
    return BatchPrepared(
        [results[i] for i in range(len(todo))], backend, workers, time.perf_counter() - t0,
        skipped=len(unique) - len(chosen),
    )  # fmt: skip


def _starter(progress: BatchReporter | None) -> Callable[[int, str, int], None]:
    def start(total: int, backend: str, workers: int) -> None:
        if progress is not None:
            progress.batch_start(total, backend, workers)

    return start
