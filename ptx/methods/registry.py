"""The methods ptx can train, in one visible dict.

Adding a method means adding its sub-package (``ptx/methods/<name>/``, whose
``__init__`` defines its :class:`~ptx.methods.base.Method` record) and one line here;
nothing registers itself by being imported.
"""

from __future__ import annotations

from ptx.errors import InputError
from ptx.methods import bdmm, d2g, dwnet, edn, ji, ren, tna
from ptx.methods.base import Method

METHODS: dict[str, Method] = {
    "d2g": d2g.METHOD,
    "tna": tna.METHOD,
    "edn": edn.METHOD,
    "ren": ren.METHOD,
    "dwnet": dwnet.METHOD,
    "ji": ji.METHOD,
    "bdmm": bdmm.METHOD,
}

DEFAULT = "d2g"
"""The method `ptx train` uses when none is named."""


def get_method(name: str | None) -> Method:
    """The registered method ``name`` (the default when None); an unknown name is an
    InputError listing the known ones."""
    name = DEFAULT if name is None else name.strip().lower()
    if name not in METHODS:
        raise InputError(
            f"No method named {name!r}.",
            f"Known methods: {', '.join(METHODS)} (see `ptx methods`).",
        )
    return METHODS[name]
