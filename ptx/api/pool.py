"""Local worker processes for a batch of preparations (``ptx prepare --jobs N``).

Each worker is a fresh Python process (``spawn``) that prepares video after video, so its
imports and compiled kernels are paid once, not per video. The parent hands each idle
worker one job at a time, so it always knows which video a worker holds: when a worker
dies (killed, out of memory, a crash in native code) its video is given to a new worker,
which resumes from the chunks already committed, at most ``retries`` more times.

Each worker runs its numerical libraries on ``cpu_count // N`` threads (at least one)
unless ``OMP_NUM_THREADS`` is set, and its stages in as many lanes (at most 2;
``PTX_STAGE_LANES``), so N workers do not fight over the cores.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

from ptx.api.prepare_batch import VideoResult, prepare_one, result_of

_POLL = 0.2
"""Seconds between checks for dead workers while waiting for results (a death also
wakes the wait, through the process's sentinel)."""


def _threads(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def _worker(inbox: Any, outbox: Any, threads: int) -> None:
    """A worker's loop: a job in, its result out (on its own pipe); None ends it."""
    for var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    os.environ.setdefault("PTX_STAGE_LANES", str(min(2, threads)))  # ptx.pipeline.lanes
    while True:
        job = inbox.get()
        if job is None:
            return
        index, payload = job
        outbox.send((index, prepare_one(payload)))


class _Slot:
    """One worker process, the job it holds and its own result pipe (a worker killed
    while writing garbles only its own pipe, never the others')."""

    def __init__(self, ctx: Any, threads: int) -> None:
        self.inbox = ctx.SimpleQueue()
        self.results, writer = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_worker, args=(self.inbox, writer, threads), daemon=True)
        self.proc.start()
        writer.close()  # the worker holds the only writer: its death reads as EOF
        self.job: int | None = None

    def give(self, index: int, payload: dict[str, Any]) -> None:
        self.job = index
        self.inbox.put((index, payload))

    def receive(self) -> tuple[int, dict[str, Any]] | None:
        """A result waiting on the pipe, or None (nothing yet, or the worker is gone)."""
        try:
            return self.results.recv() if self.results.poll() else None
        except (EOFError, OSError):
            return None

    def stop(self) -> None:
        if self.proc.is_alive():
            self.inbox.put(None)


def run_processes(
    jobs: list[dict[str, Any]],
    workers: int,
    retries: int,
    done: Callable[[int, VideoResult], None],
) -> None:
    """Run ``jobs`` (:func:`prepare_one` payloads) in ``workers`` processes; call
    ``done(index, result)`` as each finishes (module docstring)."""
    ctx = mp.get_context("spawn")
    threads = _threads(workers)
    waiting = deque(range(len(jobs)))
    attempts = [0] * len(jobs)
    slots = [_Slot(ctx, threads) for _ in range(min(workers, len(jobs)))]
    finished: set[int] = set()

    def finish(slot: _Slot, got: tuple[int, dict[str, Any]]) -> None:
        index, raw = got
        if slot.job == index:
            slot.job = None
        if index in finished:  # a late result of a job given out again
            return
        finished.add(index)
        if index in waiting:
            waiting.remove(index)
        done(index, result_of(raw, attempts[index]))

    try:
        while len(finished) < len(jobs):
            for slot in slots:
                if slot.job is None and waiting and slot.proc.is_alive():
                    index = waiting.popleft()
                    attempts[index] += 1
                    slot.give(index, jobs[index])
            wait([s.results for s in slots] + [s.proc.sentinel for s in slots], timeout=_POLL)
            for slot in slots:
                while (got := slot.receive()) is not None:
                    finish(slot, got)
            for i, slot in enumerate(slots):
                if slot.proc.is_alive():
                    continue
                while (got := slot.receive()) is not None:  # what it sent before it died
                    finish(slot, got)
                lost = slot.job
                slots[i] = _Slot(ctx, threads)
                if lost is None or lost in finished:
                    continue
                if attempts[lost] <= retries:
                    waiting.appendleft(lost)
                    continue
                finished.add(lost)
                code = slot.proc.exitcode
                done(lost, VideoResult(
                    jobs[lost]["video"], "failed", exit_code=70, attempts=attempts[lost],
                    error=f"its worker died {attempts[lost]} time(s) (last exit code {code})",
                ))  # fmt: skip
    finally:
        for slot in slots:
            slot.stop()
        for slot in slots:
            slot.proc.join(timeout=5)
            if slot.proc.is_alive():
                slot.proc.terminate()
