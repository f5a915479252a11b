"""Read SMPL-family model files without chumpy: the official ``.pkl`` or an ``.npz``.

SMPL's official pickles were written by Python 2 and hold some arrays as chumpy objects
and the joint regressor as a scipy sparse matrix. chumpy no longer installs on current
Python, so the pickle is read with a restricted unpickler that knows only numpy arrays,
plain containers, and stand-ins for chumpy and scipy.sparse objects, which keep the
arrays they carry. Nothing else in the file can run (a pickle is code; this one is only
allowed to build arrays).
"""

from __future__ import annotations

import codecs
import copyreg
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError

REQUIRED = ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f")
"""Keys every SMPL-family file has."""


class _Captured:
    """Stand-in for a chumpy or scipy.sparse object: keeps its pickled state."""

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __call__(self, *args: Any, **kwargs: Any) -> _Captured:  # pragma: no cover
        return self

    def to_array(self) -> np.ndarray:
        st = self.state if isinstance(self.state, dict) else {}
        if "x" in st:  # chumpy.Ch keeps its value in x
            return np.asarray(st["x"])
        if "indptr" in st and "indices" in st and "data" in st:
            return _sparse_to_dense(st)
        for value in st.values():
            if isinstance(value, np.ndarray):
                return value
            if isinstance(value, _Captured):
                return value.to_array()
        raise InputError("An object in the SMPL file holds no array ptx can read.")


def _sparse_to_dense(st: dict) -> np.ndarray:
    shape = tuple(st.get("_shape") or st.get("shape"))
    fmt = st.get("format", "csc")
    dense = np.zeros(shape, np.float64)
    indptr, indices, data = (np.asarray(st[k]) for k in ("indptr", "indices", "data"))
    for k in range(len(indptr) - 1):
        lo, hi = indptr[k], indptr[k + 1]
        if fmt == "csr":
            dense[k, indices[lo:hi]] = data[lo:hi]
        else:
            dense[indices[lo:hi], k] = data[lo:hi]
    return dense


_NUMPY_OK = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _SmplUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_OK:
            return getattr(__import__(module, fromlist=[name]), name)
        if module in ("copy_reg", "copyreg") and name == "_reconstructor":
            return copyreg._reconstructor
        if module in ("__builtin__", "builtins") and name == "object":
            return object
        if module == "_codecs" and name == "encode":  # bytes in protocol-2 pickles
            return codecs.encode
        if module.split(".")[0] in ("chumpy", "scipy"):
            return _Captured
        raise InputError(
            f"The SMPL file refers to {module}.{name}, which ptx does not load.",
            "Use the official SMPL .pkl or an .npz with plain arrays.",
        )


def _plain(value: Any) -> Any:
    if isinstance(value, _Captured):
        return value.to_array()
    return value


def read_smpl_file(path: Path) -> dict[str, Any]:
    """The model's arrays by name (``v_template``, ``shapedirs``, ``J_regressor`` dense,
    ``weights``, ``kintree_table``, ``f``, and ``posedirs`` when present)."""
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        else:
            with open(path, "rb") as fh:
                data = _SmplUnpickler(fh, encoding="latin1").load()
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        OSError,
        AttributeError,
        ImportError,
    ) as exc:
        raise InputError(
            f"{path} is not a readable SMPL model file ({type(exc).__name__}: {exc}).",
            "Use the official SMPL .pkl or an .npz with the same arrays.",
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{path} does not hold an SMPL model (expected a dictionary).")
    out = {k: _plain(v) for k, v in data.items()}
    missing = [k for k in REQUIRED if k not in out]
    if missing:
        raise InputError(f"{path} lacks {', '.join(missing)}; it is not an SMPL model file.")
    if out["J_regressor"].ndim == 0:  # a sparse matrix saved into an .npz by np.savez
        raise InputError(f"{path}: J_regressor is not a plain array.")
    return out
