"""A command on a URL workspace (``-w s3://bucket/ws`` or ``PTX_WORKSPACE=s3://...``): it
runs on the workspace's local copy, pulled first and pushed while it runs and at its end
(``ptx.cache.remote``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from ptx.cache.remote import is_url, remote_workspace

FLAGS = ("--workspace", "-w")


def workspace_url(argv: list[str]) -> tuple[int | None, str | None]:
    """(index in argv of the workspace value, or None for PTX_WORKSPACE; the URL), or
    (None, None) when the workspace is a folder."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg in FLAGS and i + 1 < len(argv):
            return (i + 1, argv[i + 1]) if is_url(argv[i + 1]) else (None, None)
        if arg.startswith("--workspace="):
            value = arg.split("=", 1)[1]
            return (i, value) if is_url(value) else (None, None)
    env = os.environ.get("PTX_WORKSPACE", "")
    return (None, env) if is_url(env) else (None, None)


@contextlib.contextmanager
def on_local_copy(argv: list[str]) -> Iterator[list[str]]:
    """``argv`` with a URL workspace replaced by its local copy, for the ``with`` block."""
    index, url = workspace_url(argv)
    if url is None:
        yield argv
        return
    with remote_workspace(url) as local:
        out = list(argv)
        saved = os.environ.get("PTX_WORKSPACE")
        if index is None:
            os.environ["PTX_WORKSPACE"] = str(local)
        elif out[index].startswith("--workspace="):
            out[index] = f"--workspace={local}"
        else:
            out[index] = str(local)
        try:
            yield out
        finally:
            if index is None and saved is not None:
                os.environ["PTX_WORKSPACE"] = saved
