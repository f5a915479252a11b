"""Running a video's stages two at a time where they do not depend on each other.

Most stages keep about one core busy (measured on the 1080p dance clip at 512 px: each
stage's CPU seconds were within 20% of its wall seconds), so on a machine with two cores
or more a second *lane* runs stages nothing else reads (the leaves of the stage graph:
poselabel, iuv, label3d, background, flow) beside the main lane's chain (extract,
keypoints, crop, mask, fit; then iuv or label3d, whichever is free). A stage starts once every stage writing its inputs has finished in
this run; each lane takes the first ready stage in catalog order, the main lane preferring
stages others wait on. Every stage computes what it computes alone (the outputs do not
depend on the lanes; tests/pipeline/test_lanes.py compares them bit for bit).

The main lane is the calling thread, so Ctrl-C interrupts its stage at once; the side
lane's stage stops at its next committed chunk (what it committed is kept). When a stage
fails, the other lane finishes the stage it is running and takes no other; the first
failure is raised.

``PTX_STAGE_LANES`` sets the number of lanes (1: one stage at a time, as before); by
default 2 where this process may run on two cores or more, else 1.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from ptx.devices import env_count, usable_cores
from ptx.errors import PtxError

LANES_ENV = "PTX_STAGE_LANES"


def stage_lanes() -> int:
    """How many stages may run at once (``PTX_STAGE_LANES``, else 2 on 2+ cores)."""
    value = env_count(LANES_ENV, "a number of lanes", "Give 1 or 2.")
    if value is not None:
        return min(value, 2)
    return 2 if usable_cores() >= 2 else 1


def dependencies(stages: dict[str, Any], order: list[str]) -> dict[str, set[str]]:
    """Stage -> the stages of ``order`` that write its inputs."""
    made_by = {out: name for name in order for out in stages[name].outputs}
    return {
        name: {made_by[i] for i in stages[name].inputs if made_by.get(i, name) != name}
        for name in order
    }


def leaves(stages: dict[str, Any]) -> set[str]:
    """The stages whose outputs no registered stage reads."""
    read = {i for cls in stages.values() for i in cls.inputs}
    return {name for name, cls in stages.items() if not set(cls.outputs) & read}


class _Locked:
    """A reporter whose calls from two lanes do not interleave."""

    def __init__(self, inner: Any) -> None:
        self._inner, self._lock = inner, threading.Lock()

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._inner, name)
        if not callable(fn):
            return fn

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return fn(*args, **kwargs)

        return call


def locked(reporter: Any) -> Any:
    return _Locked(reporter)


Run = Callable[[str, threading.Event | None, bool], Any]
"""run(stage, stop, side) -> its outcome; ``stop`` set: end at the next committed chunk."""


def run_lanes(
    order: list[str], needs: dict[str, set[str]], side_ok: Iterable[str], run: Run, lanes: int
) -> dict[str, Any]:
    """Run every stage of ``order`` once its ``needs`` have run, on ``lanes`` lanes (the
    side lane only takes ``side_ok`` stages); return stage -> outcome."""
    side_ok = set(side_ok) & set(order)
    outcomes: dict[str, Any] = {}
    if lanes < 2 or not side_ok or len(order) < 2:
        for name in order:
            outcomes[name] = run(name, None, False)
        return outcomes
    cond = threading.Condition()
    done: set[str] = set()
    taken: set[str] = set()
    failures: list[BaseException] = []
    stop = threading.Event()

    def pick(side: bool) -> str | None:
        ready = [s for s in order if s not in taken and needs[s] <= done]
        if side:
            ready = [s for s in ready if s in side_ok]
        else:
            ready = [s for s in ready if s not in side_ok] or ready
        return ready[0] if ready else None

    def next_stage(side: bool) -> str | None:
        with cond:
            while True:
                if failures:
                    return None
                name = pick(side)
                if name is not None:
                    taken.add(name)
                    return name
                if len(taken) == len(order) or (side and side_ok <= taken):
                    return None
                cond.wait()

    def finished(name: str) -> None:
        with cond:
            done.add(name)
            cond.notify_all()

    def side_lane() -> None:
        while (name := next_stage(True)) is not None:
            try:
                outcomes[name] = run(name, stop, True)
            except BaseException as exc:  # handed to the main lane
                with cond:
                    failures.append(exc)
                    cond.notify_all()
                return
            finished(name)

    side = threading.Thread(target=side_lane, name="ptx-stage-side-lane", daemon=True)
    side.start()
    try:
        while (name := next_stage(False)) is not None:
            outcomes[name] = run(name, None, False)
            finished(name)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt) or getattr(exc, "exit_code", 0) == 130
        if interrupted:
            stop.set()
        with cond:
            failures.insert(0, exc)
            cond.notify_all()
        side.join()
        if isinstance(exc, KeyboardInterrupt):  # between stages: the side lane's names one
            named = [f for f in failures[1:] if isinstance(f, PtxError)]
            if named:
                raise named[0] from None
        raise
    side.join()
    if failures:
        raise failures[0]
    return outcomes
