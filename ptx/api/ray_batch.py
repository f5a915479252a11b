"""Ray tasks for a batch of preparations (``ptx prepare --ray [ADDRESS]``).

One task per video, each declaring what it needs: ``task_cpus`` CPUs, ``task_memory_gb``
of memory (Ray schedules on it; it is not a hard limit) and ``task_gpus`` GPUs (the fit
stage runs on a GPU it can see; a task that reserved none sees none, so it never shares a
GPU Ray gave to another task). A task whose worker process dies (killed, out of memory, a
lost node) is run again by Ray, up to ``retries`` more times, and resumes from the chunks
the dead one committed; an error ptx reports (a broken file, no person in view) is the
video's result, not retried. Ray keeps worker processes between tasks, so imports are paid
once per worker.

``address``: ``local`` starts a Ray instance on this machine (as many CPUs as the machine
has, or ``RAY_NUM_CPUS``) and stops it at the end; ``auto`` joins the cluster this machine
belongs to (``ray start``); anything else is a cluster address (``ray://HOST:10001``,
``HOST:6379``). On a cluster every node needs ptx installed, the workspace (a shared
folder or an object-store URL) and the video files at the paths listed.

Ray is an optional dependency (``pip install "ptx[ray]"``), imported only here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from ptx.api.prepare_batch import VideoResult, one_line, prepare_one, result_of
from ptx.errors import InputError

LOCAL = "local"


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError(
            "--ray needs Ray, which is not installed.",
            'Install it with `pip install "ptx[ray]"`, or use --jobs N (local processes).',
        ) from None
    return ray


def _start(ray: Any, address: str) -> bool:
    """Connect to (or start) Ray; True when this call started a local instance."""
    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address == LOCAL:
            cpus = int(os.environ.get("RAY_NUM_CPUS") or os.cpu_count() or 1)
            ray.init(num_cpus=cpus, include_dashboard=False, **quiet)
            return True
        ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise InputError(
            f"Cannot connect to the Ray cluster at {address!r} ({one_line(exc)}).",
            "Start one with `ray start --head`, give its address, or use --ray without an "
            "address for a local instance.",
        ) from None
    return False


def run_ray(
    jobs: list[dict[str, Any]],
    address: str,
    task_cpus: float,
    task_memory_gb: float,
    task_gpus: float,
    retries: int,
    done: Callable[[int, VideoResult], None],
    start: Callable[[int, str, int], None],
) -> int:
    """Run ``jobs`` as Ray tasks; call ``done(index, result)`` as each finishes. Returns
    the number of tasks that can run at once on the cluster's CPUs."""
    ray = _ray()
    started = _start(ray, address)
    try:
        options: dict[str, Any] = {
            "num_cpus": task_cpus,
            "memory": int(task_memory_gb * 2**30),
            "num_gpus": task_gpus,
            "max_retries": retries,
            "retry_exceptions": False,
        }
        if not task_gpus:
            options["runtime_env"] = {"env_vars": {"RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "1"}}
        task = ray.remote(prepare_one).options(**options)
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        slots = max(1, min(len(jobs), int(cpus // task_cpus)))
        start(len(jobs), "ray", slots)
        refs = {task.remote(job): i for i, job in enumerate(jobs)}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                index = refs.pop(ref)
                try:
                    done(index, result_of(ray.get(ref), None))
                except ray.exceptions.RayError as exc:
                    done(index, VideoResult(
                        jobs[index]["video"], "failed", exit_code=70, attempts=retries + 1,
                        error=f"its Ray worker was lost {retries + 1} time(s) "
                        f"({type(exc).__name__})",
                    ))  # fmt: skip
        return slots
    finally:
        if started:
            ray.shutdown()
