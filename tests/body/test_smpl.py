"""SMPL-family files: read without chumpy, posed, rendered; missing files explained."""

from __future__ import annotations

import importlib.util
import pickle

import numpy as np
import pytest

from ptx.body.load import SMPL_URL, load_body_model, resolve_body_model, spec_of
from ptx.body.render import render_sequence
from ptx.errors import InputError, MissingWeightsError

from .conftest import write_fake_smpl


@pytest.fixture(scope="module")
def smpl_pkl(tmp_path_factory):
    return write_fake_smpl(tmp_path_factory.mktemp("smpl") / "SMPL_FAKE.pkl")


def _frontal_and_back(model):
    pose = np.zeros((2, 24, 3), np.float32)
    pose[0, 0] = [np.pi, 0, 0]  # facing the camera
    pose[1, 0] = [0, 0, np.pi]  # upside down about z twice = facing away, upright
    pose[:, 16, 2], pose[:, 17, 2] = -1.0, 1.0
    pose[:, 1, 0], pose[:, 4, 0] = -0.4, 0.8  # a bent left leg
    transl = np.array([[0, 0.1, 3.0], [0, 0.1, 3.0]], np.float32)
    cam = np.array([115.0, 64, 64], np.float32)
    return render_sequence(model, np.zeros(10), pose, transl, cam, 128, ("iuv", "mask"))


def test_the_official_pickle_layout_loads_without_chumpy_and_renders_plausibly(smpl_pkl):
    assert importlib.util.find_spec("chumpy") is None
    model = load_body_model(f"smpl:{smpl_pkl}")
    assert model.name == "smpl:SMPL_FAKE.pkl" and model.posedirs is not None
    assert model.shapedirs.shape[2] == 10 and set(np.unique(model.face_part)) == set(range(1, 25))
    out = _frontal_and_back(model)
    iuv, mask = out["iuv"], out["mask"] > 0
    assert mask[0].sum() > 600
    assert np.array_equal(iuv[..., 0] > 0, mask)  # the parts cover the silhouette
    count = lambda t, pid: int((iuv[t, ..., 0] == pid).sum())  # noqa: E731
    assert all(count(0, p) > 0 for p in (2, 3, 4, 10, 14, 15, 16))  # fronts, hands
    assert all(count(1, p) > 0 for p in (1, 7, 8, 17, 18))  # backs
    assert count(0, 2) > 10 * count(0, 1) and count(1, 1) > 10 * count(1, 2)
    cols = lambda t, pid: np.nonzero(iuv[t, ..., 0] == pid)[1].mean()  # noqa: E731
    assert cols(0, 4) > 64 > cols(0, 3)  # facing us: the left hand is on the image right
    assert cols(1, 4) < 64 < cols(1, 3)  # facing away: the other way round


def test_an_npz_with_the_same_arrays_gives_the_same_model(smpl_pkl, tmp_path):
    a = load_body_model(f"smpl:{smpl_pkl}")
    b = load_body_model(f"smpl:{write_fake_smpl(tmp_path / 'm.npz', 'npz')}")
    np.testing.assert_allclose(a.v_template, b.v_template)
    np.testing.assert_allclose(a.j_template, b.j_template, atol=1e-6)
    assert np.array_equal(a.face_part, b.face_part)


def test_a_missing_file_says_where_to_get_it_and_falls_back_to_the_open_model(tmp_path):
    spec = f"smpl:{tmp_path / 'SMPL_NEUTRAL.pkl'}"
    with pytest.raises(MissingWeightsError, match="not found") as err:
        load_body_model(spec)
    assert SMPL_URL in str(err.value) and "open body model" in str(err.value)
    model, warning = resolve_body_model(spec)
    assert model.name == "open" and warning == str(err.value)
    assert resolve_body_model("open")[1] is None


def test_a_bare_name_is_found_in_the_weights_folder(smpl_pkl, tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_WEIGHTS", str(tmp_path))
    (tmp_path / "smpl").mkdir()
    (tmp_path / "smpl" / "SMPL_X.pkl").write_bytes(smpl_pkl.read_bytes())
    model = load_body_model("smpl:SMPL_X.pkl")
    assert model.name == "smpl:SMPL_X.pkl"
    # what the fit records must load the same file from any working directory
    spec = spec_of(model, "smpl:SMPL_X.pkl")
    assert spec == f"smpl:{(tmp_path / 'smpl' / 'SMPL_X.pkl').resolve()}"
    assert load_body_model(spec).name == "smpl:SMPL_X.pkl"
    assert spec_of(load_body_model("open"), "open") == "open"


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": Evil()}))
    with pytest.raises(InputError, match=r"refers to builtins\.print"):
        load_body_model(f"smpl:{path}")
    with pytest.raises(InputError, match="Unknown body model"):
        load_body_model("smplx:whatever")
