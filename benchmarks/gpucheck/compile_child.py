"""``torch.compile`` on, in child processes the check starts early and can pause or stop:
compiling takes minutes of CPU, which would not fit after everything else.

Each child (``gpu_check.py --child-compile SPEC``) builds one preset with ``compile=True``
through the method's record, on toy arrays of the preset's size in GPU memory (throughput
does not depend on the picture), runs its first step (the compile) while the other parts
go on, says it is ready, and waits. The parent lets it time its steady steps when the GPU
is otherwise idle (``finish``), pauses every child (SIGSTOP) while quality per minute and
rendering are measured, and stops those that are not done when the time is up. The compile
time is therefore an upper bound (other parts ran beside it; paused time is subtracted).
In the rehearsal the children run with compile off: the plumbing is what it proves."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gpucheck.context import STEP_KEYS, Context, blank, config, load, on_device, timed, trainer

COMPILE_KEYS = (
    "enabled", "first_step_seconds", "compile_seconds", "paused_seconds", "speedup",
    "ran_beside", *STEP_KEYS,
)  # fmt: skip
BESIDE = "the gpu tests, the subject's preparation and the training figures"


def child(spec: dict[str, Any]) -> None:
    """Compile one preset, say so, wait for the go, time steady steps, write the JSON."""
    import torch

    from gpucheck import device as dev
    from gpucheck.plan import Clock, Plan
    from ptx.methods.registry import METHODS

    plan = Plan(**spec["plan"])
    method = METHODS[spec["method"]]
    # toy arrays: enough for a batch of the method's clips (ren's hold 11 frames)
    plan.subject_frames = min(plan.subject_frames, max(8, method.clip + 4))
    if plan.threads:
        torch.set_num_threads(plan.threads)
    device = torch.device(spec["device"])
    gate = Path(spec["gate"])
    ctx = Context(plan, Clock(plan.budget_s), device, gate, gate)  # no subject: toy arrays
    cfg = config(ctx, method, spec["preset"], compile=spec["compile"])
    data = load(ctx, method, cfg)
    if ctx.cuda:
        data = on_device(data, device)
    t = trainer(ctx, method, cfg, data)
    first = timed(ctx, t, data, cfg.batch, method.clip, warm=0, steps=1)  # the compile
    (gate / "ready").write_text(json.dumps({"first_step_seconds": first["seconds_per_step"]}))
    while not (gate / "go").exists():
        if os.getppid() == 1:  # the check is gone
            return
        time.sleep(0.1)
    steady = timed(ctx, t, data, cfg.batch, method.clip)
    dev.sync(device)
    (gate / "result.json").write_text(json.dumps({**steady, "enabled": bool(spec["compile"])}))


@dataclasses.dataclass
class _Child:
    proc: subprocess.Popen
    gate: Path
    started: float
    paused: float = 0.0
    """Seconds paused before it was ready (not compile time)."""
    paused_at: float | None = None
    result: dict[str, Any] | None = None


class CompilePool:
    """The compile children of one check."""

    def __init__(self, ctx: Context, launcher: Path) -> None:
        self.ctx, self.launcher = ctx, launcher
        self.children: dict[tuple[str, str], _Child] = {}

    def start(self, method: str, preset: str) -> None:
        ctx = self.ctx
        gate = ctx.tmp / f"compile-{method}-{preset}"
        gate.mkdir(parents=True, exist_ok=True)
        spec = {
            "plan": dataclasses.asdict(ctx.plan), "device": str(ctx.device), "method": method,
            "preset": preset, "compile": ctx.plan.compile and ctx.cuda, "gate": str(gate),
        }  # fmt: skip
        env = {
            **os.environ,
            "TORCHINDUCTOR_COMPILE_THREADS": str(max(1, (os.cpu_count() or 2) // 4)),
        }
        with open(gate / "log.txt", "w") as log:
            proc = subprocess.Popen(
                [sys.executable, str(self.launcher), "--child-compile", json.dumps(spec)],
                stdout=log, stderr=subprocess.STDOUT, env=env, process_group=0,
            )  # fmt: skip
        self.children[(method, preset)] = _Child(proc, gate, time.perf_counter())

    def _signal(self, c: _Child, sig: int) -> None:
        if c.proc.poll() is None:
            os.killpg(c.proc.pid, sig)

    def pause(self) -> None:
        """Stop every unfinished child (and its compile workers) until ``resume``."""
        for c in self.children.values():
            if c.result is None and c.proc.poll() is None:
                self._signal(c, signal.SIGSTOP)
                c.paused_at = time.perf_counter()

    def resume(self) -> None:
        for c in self.children.values():
            if c.paused_at is not None:
                self._signal(c, signal.SIGCONT)
                if not (c.gate / "ready").exists():
                    c.paused += time.perf_counter() - c.paused_at
                c.paused_at = None

    def ready(self) -> list[tuple[str, str]]:
        return [
            k for k, c in self.children.items() if c.result is None and (c.gate / "ready").exists()
        ]

    def finish(self, key: tuple[str, str], timeout: float) -> None:
        """Let child ``key`` time its steady steps (it compiles first if not ready) and
        keep its figures; stop it when ``timeout`` runs out."""
        c = self.children[key]
        (c.gate / "go").touch()
        end = time.perf_counter() + max(0.0, timeout)
        while c.proc.poll() is None and time.perf_counter() < end:
            time.sleep(0.1)
        if c.proc.poll() is None:
            self._signal(c, signal.SIGKILL)
            c.proc.wait()
            waited = time.perf_counter() - c.started - c.paused
            c.result = blank(
                COMPILE_KEYS, f"not done after {waited:.0f} s (compiling beside {BESIDE})"
            )
            return
        result_file = c.gate / "result.json"
        if c.proc.returncode != 0 or not result_file.is_file():
            tail = (c.gate / "log.txt").read_text(errors="replace").strip().splitlines()[-1:]
            raise RuntimeError(f"compile child {key} failed (exit {c.proc.returncode}): {tail}")
        steady = json.loads(result_file.read_text())
        first = json.loads((c.gate / "ready").read_text())["first_step_seconds"]
        c.result = {
            **steady,
            "first_step_seconds": first,
            "compile_seconds": max(0.0, first - c.paused - steady["seconds_per_step"]),
            "paused_seconds": c.paused,
            "speedup": None,
            "ran_beside": BESIDE,
        }
        if not steady["enabled"]:
            c.result["skipped"] = "compile off in this run (the CPU rehearsal): plumbing only"

    def figures(
        self, key: tuple[str, str], uncompiled: dict[str, Any], gflop: float | None
    ) -> dict:
        """The child's figures, with its speed-up over ``uncompiled`` and its TFLOP/s."""
        from gpucheck.context import with_flops

        c = self.children.get(key)
        if c is None or c.result is None:
            return blank(COMPILE_KEYS, "the compile child was not started or not finished")
        out = dict(c.result)
        if out.get("steps_per_s") and uncompiled.get("steps_per_s"):
            out["speedup"] = out["steps_per_s"] / uncompiled["steps_per_s"]
            with_flops(self.ctx, out, gflop)
        return out

    def stop_all(self) -> None:
        for c in self.children.values():
            if c.proc.poll() is None:
                self._signal(c, signal.SIGCONT)
                self._signal(c, signal.SIGKILL)
                c.proc.wait()
