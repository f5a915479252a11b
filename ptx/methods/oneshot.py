"""What the one-shot methods' trainers and renderers have in common.

``OneShotTrainer``: ``cfg.steps`` steps of one phase, and (``SavedParts``) a checkpoint
that is the ``state_dict`` of each network and optimiser named in ``PARTS`` (keys are the
attribute names). ``OneShotRenderer``: the generator rebuilt from a checkpoint's ``g``, the
source picture (and its IUV) to animate, and the composite of the generated body over a
given background.
"""

from __future__ import annotations

from typing import Any

import torch

from ptx.nn.poselabels import unit


class SavedParts:
    PARTS: tuple[str, ...] = ("g", "d", "opt_g", "opt_d")

    def state_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k).state_dict() for k in self.PARTS}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in self.PARTS:
            getattr(self, k).load_state_dict(state[k])


class OneShotTrainer(SavedParts):
    """The Trainer protocol's plain parts: ``cfg.steps`` steps of one phase (``gan``; a
    staged method overrides ``phase``), the learning rate the step last set (``_lr``),
    nothing initialised from the data."""

    cfg: Any
    _lr: float

    @property
    def total_steps(self) -> int:
        return int(self.cfg.steps)

    def phase(self, step: int) -> str:
        return "gan"

    def lr(self) -> float:
        return self._lr

    def init_from_data(self, data: Any) -> None:
        return None


class OneShotRenderer:
    one_shot = True

    def __init__(self, cfg: Any, state: dict[str, Any], device: torch.device, frame) -> None:
        self.cfg, self.device, self.frame = cfg, device, tuple(frame)
        self.g = self.build(cfg).to(device)
        self.g.load_state_dict(state["g"])
        self.g.eval()
        self.source: torch.Tensor | None = None
        self.source_iuv: torch.Tensor | None = None

    def build(self, cfg: Any) -> torch.nn.Module:
        raise NotImplementedError

    def set_source(self, frame: torch.Tensor, iuv: torch.Tensor) -> None:
        """The picture to animate: uint8 (3, H, W) frame and IUV at the model's frame."""
        self.source = unit(frame[None].to(self.device))
        self.source_iuv = iuv[None].to(self.device)

    def require_source(self) -> None:
        if self.source is None:
            raise ValueError(f"{type(self).__name__}: set_source() before rendering")


def over_background(fg: torch.Tensor, alpha: torch.Tensor, background: Any) -> torch.Tensor:
    """The generated picture, or the body (``alpha``) over ``background`` when given."""
    if background is None:
        return fg
    return alpha * fg + (1 - alpha) * background
