"""The light stage catalog (`ptx status` reads it instead of importing the stages) agrees
with the stage classes: same stages in the same order, same versions, inputs, outputs."""

from __future__ import annotations

from ptx.pipeline import catalog, stage
from ptx.pipeline.registry import STAGES, producers


def test_catalog_matches_the_stage_classes():
    assert list(catalog.CATALOG) == list(STAGES)
    for name, cls in STAGES.items():
        info = catalog.CATALOG[name]
        assert cls.name == name
        assert (info.version, info.inputs, info.outputs) == (
            cls.version,
            tuple(cls.inputs),
            tuple(cls.outputs),
        ), name
    assert catalog.producers() == producers()
    assert catalog.SOURCE == stage.SOURCE
