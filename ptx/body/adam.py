"""Adam with a cosine-decayed rate for the body fit, and sequences that stop when settled.

Written out rather than taken from ``torch.optim``: its first use imports torch's compiler
(1.0-1.5 s of every ``ptx prepare`` on a 2-core machine), and it cannot freeze some rows
of a tensor, which stopping each sequence of a batched fit on its own needs.
"""

from __future__ import annotations

import math

import torch

_BETAS = (0.9, 0.999)
_EPS = 1e-8


def adam(params, steps: int, lr: float, closure, group=None, settled: float = 0.0,
         window: int = 10, check_from: float = 1.0) -> int:  # fmt: skip
    """``steps`` Adam steps (Kingma & Ba, the usual betas and epsilon) on the sum of
    ``closure(step, fraction done)``, a vector of energies, one per sequence, with the rate
    decayed from ``lr`` to a tenth of it along a cosine.

    With ``settled`` > 0, from ``check_from`` of the steps on, a sequence whose energy fell
    by less than ``settled`` (a fraction) over its last ``window`` steps stops moving: the
    rows of each parameter in ``params`` that ``group`` (frame -> sequence) gives to it
    keep their values (parameters with another first size, such as the shape, move while
    any sequence does). The loop ends when every sequence has stopped. Returns the steps
    taken."""
    b1, b2 = _BETAS
    state = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    history: list[torch.Tensor] = []
    active: torch.Tensor | None = None
    lr_min = lr * 0.1
    for i in range(steps):
        rate = lr_min + (lr - lr_min) * (1 + math.cos(math.pi * i / max(steps, 1))) / 2
        energy = closure(i, i / max(steps - 1, 1))
        grads = torch.autograd.grad(energy.sum(), params)
        bc1, bc2 = 1 - b1 ** (i + 1), math.sqrt(1 - b2 ** (i + 1))
        with torch.no_grad():
            moving = None if active is None else active[group]
            for p, g, (m, v) in zip(params, grads, state):
                m.lerp_(g, 1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                step = m / (v.sqrt() / bc2).add_(_EPS) * (rate / bc1)
                if moving is not None and p.shape[0] == len(moving):
                    step *= moving.view(-1, *([1] * (p.dim() - 1)))
                p.sub_(step)
        if settled > 0:
            history.append(energy.detach().reshape(-1).clone())
            if i + 1 >= check_from * steps and len(history) > window:
                before = history[-1 - window]
                still = before - history[-1] > settled * before.abs()
                active = still if active is None else active & still
                if not active.any():
                    return i + 1
    return steps
