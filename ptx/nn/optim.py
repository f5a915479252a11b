"""Optimisation helpers shared by methods' trainers: the linear learning-rate decay, the
check that stops before a non-finite loss is applied, and bf16 autocast on CUDA."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from ptx.errors import NonFiniteLoss


@dataclass
class LinearDecay:
    """Learning-rate factor: 1, then linear to 0 from ``start`` of ``total`` steps."""

    total: int
    start: float

    def __call__(self, step: int) -> float:
        begin = int(self.total * self.start)
        if step < begin or self.total <= begin:
            return 1.0
        return max(0.0, 1.0 - (step - begin) / (self.total - begin))


def apply_losses(
    opt: torch.optim.Optimizer,
    terms: dict[str, torch.Tensor],
    weights: dict[str, float],
    step: int,
) -> dict[str, float]:
    """One optimiser step on the weighted sum of ``terms`` (stopped by
    :func:`check_finite` before anything is applied); returns each term's value and
    ``g_total``."""
    total = sum(weights[k] * v.float() for k, v in terms.items())
    check_finite(step, total, terms)
    opt.zero_grad(set_to_none=True)
    total.backward()
    opt.step()
    values = {k: float(v.detach()) for k, v in terms.items()}
    values["g_total"] = float(total.detach())
    return values


def check_finite(step: int, total: torch.Tensor, terms: dict[str, torch.Tensor]) -> None:
    """Raise NonFiniteLoss (naming the first bad term) unless ``total`` is finite."""
    if bool(torch.isfinite(total)):
        return
    bad = next((k for k, v in terms.items() if not bool(torch.isfinite(v))), "total")
    raise NonFiniteLoss(
        f"Loss '{bad}' became {float(terms.get(bad, total).detach())} at step {step + 1}; "
        "training stopped before applying it.",
        "The last good checkpoint is kept: lower the learning rate (--set lr=...) and "
        "start again from it with --resume.",
    )


def autocast(enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when ``enabled``, else nothing."""
    if enabled:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def requires_grad(module: torch.nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)
