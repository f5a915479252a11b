"""torch's CPU thread count: the user's (PTX_THREADS, or a method's ``threads``), else the
cores free now, so a second CPU-bound job shares the machine instead of collapsing it."""

from __future__ import annotations

import pytest

from ptx import devices
from ptx.errors import InputError


@pytest.fixture
def machine(monkeypatch):
    """A machine with ``cores`` cores at load average ``load``."""

    def set_(cores: int, load: float) -> None:
        monkeypatch.delenv(devices.THREADS_ENV, raising=False)
        monkeypatch.setattr(devices, "usable_cores", lambda: cores)
        monkeypatch.setattr(devices.os, "getloadavg", lambda: (load, load, load))

    return set_


@pytest.mark.parametrize(
    ("cores", "load", "threads"),
    [(2, 0.1, 2), (2, 0.6, 2), (2, 1.0, 1), (2, 7.0, 1), (8, 3.0, 5), (8, 0.0, 8), (1, 0, 1)],
)
def test_threads_follow_the_free_cores(machine, cores, load, threads):
    machine(cores, load)
    assert devices.cpu_threads() == threads


def test_the_user_decides_first(machine, monkeypatch):
    machine(2, 7.0)
    assert devices.cpu_threads(3) == 3
    monkeypatch.setenv(devices.THREADS_ENV, "4")
    assert devices.cpu_threads() == 4
    assert devices.cpu_threads(2) == 2  # an explicit setting beats the environment


@pytest.mark.parametrize("bad", ["0", "-1", "two"])
def test_a_bad_thread_count_is_refused(machine, monkeypatch, bad):
    machine(2, 0.0)
    monkeypatch.setenv(devices.THREADS_ENV, bad)
    with pytest.raises(InputError, match="PTX_THREADS"):
        devices.cpu_threads()


def test_use_cpu_threads_sets_torch(machine, monkeypatch):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(devices.THREADS_ENV, "1")
        assert devices.use_cpu_threads() == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_training_records_the_thread_count_it_chose_so_a_resume_keeps_it(monkeypatch):
    import torch

    from ptx.methods.registry import get_method
    from ptx.training.run import _prepare_device

    before = torch.get_num_threads()
    try:
        for n in (1, 2):
            monkeypatch.setenv(devices.THREADS_ENV, str(n))
            cfg = get_method("d2g").resolve_config("tiny", {"device": "cpu"})
            assert cfg.threads == 0
            _prepare_device(cfg)
            assert cfg.threads == n == torch.get_num_threads()  # saved with the run's config
        monkeypatch.setenv(devices.THREADS_ENV, "1")
        resumed = get_method("d2g").resolve_config("tiny", {"device": "cpu", "threads": 2})
        _prepare_device(resumed)  # a saved count wins over the machine's current choice
        assert resumed.threads == 2 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
