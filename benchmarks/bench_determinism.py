"""Determinism benchmark: is training bit-identical run to run, and what does it cost?

Three variants of the `tiny` preset's full training step (every loss on, batch 2 at 64 px)
on the CPU, measured in the same run, interleaved so the machine's load falls on all alike:

- ``advanced_indexing``: the learned background picked with ``background[idx]`` (how D2G
  did it before): its gradient is summed with atomic adds in thread order;
- ``index_select``: ``torch.index_select`` (today's default), summed in item order;
- ``deterministic``: index_select plus ``torch.use_deterministic_algorithms(True)``
  (``--set deterministic=true``).

For each: median seconds per step, and whether two identical runs of ``--steps`` steps
ended with identical weights (how many tensors differed); and the background pick alone
(forward + backward), both ways.

    python benchmarks/bench_determinism.py [--steps 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

from ptx.body.toydata import make_toy_subject
from ptx.methods.d2g import METHOD as D2G
from ptx.methods.d2g.trainer import D2GTrainer
from ptx.training.data import BatchSampler
from ptx.training.load import from_arrays

VARIANTS = ("advanced_indexing", "index_select", "deterministic")


@contextlib.contextmanager
def variant(name: str):
    real = torch.index_select
    try:
        if name == "deterministic":
            torch.use_deterministic_algorithms(True, warn_only=True)
        if name == "advanced_indexing":
            with mock.patch.object(torch, "index_select", lambda t, dim, i: t[i]):
                yield
        else:
            yield
    finally:
        torch.use_deterministic_algorithms(False)
        assert torch.index_select is real


def trained(cfg, data, steps: int) -> tuple[dict[str, torch.Tensor], list[float]]:
    torch.manual_seed(0)
    trainer = D2GTrainer(cfg, 1, torch.device("cpu"))
    trainer.init_from_data(data)
    sampler = BatchSampler(len(data.train_ids), cfg.batch, 0)
    times = []
    for step in range(steps):
        batch = data.batch(data.train_ids[sampler.next()], trainer.device)
        t0 = time.perf_counter()
        trainer.train_step(batch, cfg.gan_start + step)
        times.append(time.perf_counter() - t0)
    state = trainer.state_dict()
    weights = {f"G.{k}": v.clone() for k, v in state["generator"].items()}
    weights.update({f"D.{k}": v.clone() for k, v in state["discriminator"].items()})
    return weights, times[1:]  # the first step warms caches up


def op_time(select, repeats: int = 200) -> float:
    """Median seconds of one forward + backward of the background pick alone (batch 2,
    one video's 64 px background, as in the tiny preset)."""
    bg = torch.nn.Parameter(torch.randn(1, 3, 64, 64))
    idx = torch.zeros(2, dtype=torch.long)
    weight = torch.randn(2, 3, 64, 64)
    times = []
    for _ in range(repeats):
        bg.grad = None
        t0 = time.perf_counter()
        (select(bg, idx) * weight).sum().backward()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    cfg = D2G.resolve_config("tiny", {"device": "cpu", "tensorboard": False})
    toy = make_toy_subject(frames=12, size=cfg.size, seed=0)
    data = from_arrays({"toy": toy.arrays()}, D2G, cfg)
    load = [os.getloadavg()[0]]
    per_step: dict[str, list[float]] = {v: [] for v in VARIANTS}
    first: dict[str, dict] = {}
    differing: dict[str, int] = {}
    for r in range(args.repeats):
        for v in VARIANTS:
            with variant(v):
                weights, times = trained(cfg, data, args.steps)
            per_step[v].append(statistics.median(times))
            if r == 0:
                first[v] = weights
            elif r == 1:
                differing[v] = sum(not torch.equal(first[v][k], weights[k]) for k in weights)
    load.append(os.getloadavg()[0])
    base = statistics.median(per_step["advanced_indexing"])
    result = {
        "preset": "tiny",
        "size": cfg.size,
        "batch": cfg.batch,
        "threads": torch.get_num_threads(),
        "steps_per_run": args.steps,
        "repeats": args.repeats,
        "statistic": "median of per-run medians",
        "load_average_before_after": load,
    }
    result["background_pick_op_us"] = {
        "advanced_indexing": 1e6 * op_time(lambda t, i: t[i]),
        "index_select": 1e6 * op_time(lambda t, i: torch.index_select(t, 0, i)),
    }
    for v in VARIANTS:
        sec = statistics.median(per_step[v])
        result[v] = {
            "seconds_per_step_runs": per_step[v],
            "seconds_per_step": sec,
            "steps_per_s": 1.0 / sec,
            "vs_advanced_indexing": base / sec,
            "tensors_differing_between_two_runs": differing.get(v),
            "tensors": len(first[v]),
        }
    path = write_result("determinism", result)
    for v in VARIANTS:
        r = result[v]
        print(f"{v:18s} {r['steps_per_s']:.2f} steps/s ({r['vs_advanced_indexing']:.2f}x), "
              f"{r['tensors_differing_between_two_runs']} of {r['tensors']} tensors differ")  # fmt: skip
    print(path)


if __name__ == "__main__":
    main()
