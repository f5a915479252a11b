"""Reading the next chunk of conditions ahead (on a thread) returns exactly what reading
them in turn returns, for every batch and lookahead."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ptx.perform.render import _ChunkReader


class Counting:
    shape = (4, 4)
    computed = True

    def __init__(self, n: int) -> None:
        self.n, self.calls, self.threads = n, [], set()

    def __len__(self) -> int:
        return self.n

    def chunk(self, start, stop, names):
        self.calls.append((start, stop))
        self.threads.add(threading.current_thread().name)
        return {"poselabel": np.arange(start, stop)[:, None, None] * np.ones((1, 4, 4))}


@pytest.mark.parametrize(("n", "batch", "after"), [(23, 8, 0), (23, 8, 2), (5, 8, 1), (16, 4, 7)])
def test_prefetch_reads_the_same_chunks(n, batch, after):
    got = {}
    for prefetch in (False, True):
        src = Counting(n)
        reader = _ChunkReader(src, n, batch, after, ("poselabel",), prefetch)
        loaded, frames = 0, []
        for start in range(0, n, batch):
            want = min(n, min(start + batch, n) + after)
            if want > loaded:
                frames.append(reader.get(loaded, want)["poselabel"][:, 0, 0])
                loaded = want
        got[prefetch] = (np.concatenate(frames), sorted(src.calls), src.threads)
    assert np.array_equal(got[False][0], np.arange(n))
    assert np.array_equal(got[True][0], got[False][0])
    assert got[True][1] == got[False][1]  # each chunk read once
    if len(got[True][1]) > 1:
        assert any(t.startswith("ptx-conditions") for t in got[True][2])
