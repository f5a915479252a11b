"""The built-in stages, in the order `ptx prepare` runs them.

Adding a stage means adding its module and one line here; nothing registers itself by
being imported.
"""

from __future__ import annotations

from ptx.pipeline.extract import ExtractStage
from ptx.pipeline.stage import Stage

STAGES: dict[str, type[Stage]] = {
    "extract": ExtractStage,
}


def producers() -> dict[str, str]:
    """Array name -> the stage that writes it."""
    return {out: name for name, cls in STAGES.items() for out in cls.outputs}


def downstream(stage: str) -> list[str]:
    """``stage`` and every stage that (transitively) reads its outputs, in run order."""
    prod = producers()
    affected = {stage}
    for name, cls in STAGES.items():
        if any(prod.get(i) in affected for i in cls.inputs):
            affected.add(name)
    return [n for n in STAGES if n in affected]
