"""Fixtures for the body tests: a small synthetic subject (shared by the session) and a
synthetic file with the structure of SMPL's official model file."""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from ptx.body.open_model import open_body_model
from ptx.body.synth import SynthConfig, SynthSubject, synth_subject

SIZE = 128
FRAMES = 24


@pytest.fixture(scope="session")
def subject() -> SynthSubject:
    """24 frames of the dance at 128 px (about a second to make)."""
    return synth_subject(SynthConfig(motion="dance", frames=FRAMES, size=SIZE, seed=3))


def write_fake_smpl(path: Path, fmt: str = "pkl") -> Path:
    """Write an SMPL-structured model (the open model's mesh with a nearest-vertex joint
    regressor) as SMPL's official pickle does: chumpy objects for some arrays, a scipy
    sparse joint regressor, Python-2 compatible protocol. chumpy itself is faked while
    writing and removed afterwards, so reading must work without it."""
    m = open_body_model()
    n = len(m.surface_vertices())
    v = m.v_template[:n].astype(np.float64)
    jreg = np.zeros((24, n))
    for j in range(24):
        near = np.argsort(np.linalg.norm(v - m.j_template[j], axis=1))[:12]
        jreg[j, near] = 1.0 / 12
    arrays = {
        "v_template": v,
        "shapedirs": m.shapedirs[:n].astype(np.float64),
        "posedirs": np.zeros((n, 3, 207)),
        "weights": m.weights[:n].astype(np.float64),
        "kintree_table": np.stack([np.r_[4294967295, m.parents[1:]], np.arange(24)]),
        "f": m.faces.astype(np.uint32),
    }
    if fmt == "npz":
        np.savez(path, J_regressor=jreg, **arrays)
        return path
    chumpy, chumpy_ch = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")

    class Ch:
        pass

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    chumpy_ch.Ch = Ch
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = chumpy, chumpy_ch
    try:
        data = dict(arrays, bs_type="lrotmin", bs_style="lbs")
        for key in ("v_template", "shapedirs"):
            data[key] = Ch()
            data[key].x = arrays[key]
        data["J_regressor"] = scipy.sparse.csc_matrix(jreg)
        with open(path, "wb") as fh:
            pickle.dump(data, fh, protocol=2)
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]
    return path
