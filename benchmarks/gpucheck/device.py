"""The device the check measures on: what it is, its bf16 peak (the datasheet's and one
measured here), timing with synchronisation, peak memory, bf16 autocast."""

from __future__ import annotations

import contextlib
import os
import platform
import time
from typing import Any

import torch

DATASHEET_BF16_TFLOPS = {"H200": 989.4, "H100": 989.4}
"""Dense bf16 tensor-core peak (no sparsity) of the SXM parts, by NVIDIA's H100/H200
datasheets (1,979 TFLOP/s is the figure with 2:4 sparsity). Matched on the device name."""

GIB = 2**30


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def now(device: torch.device) -> float:
    """perf_counter after the device has finished its queued work."""
    sync(device)
    return time.perf_counter()


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: torch.device) -> float | None:
    """Peak GPU memory allocated since the last reset (None on the CPU)."""
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / GIB, 3)


def free_gib(device: torch.device) -> float | None:
    """GPU memory free on the whole device (other processes' use counts), in GiB."""
    if device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(device)
    return round(free / GIB, 2)


def free_memory(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def bf16(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` (CUDA or, in the rehearsal, the CPU)."""
    return torch.autocast(device.type, dtype=torch.bfloat16)


@contextlib.contextmanager
def strict_fp32():
    """Full fp32 matrix products and convolutions (no TF32, which cuDNN allows by
    default): the reference a bf16 render is compared with."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc)


def describe(device: torch.device) -> dict[str, Any]:
    """Where the figures came from."""
    import numpy

    info: dict[str, Any] = {
        "device": str(device),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.version.cuda,
        "cpu_cores": os.cpu_count(),
        "gpu": None,
        "gpu_memory_gib": None,
        "gpu_sms": None,
        "load_average": round(os.getloadavg()[0], 2),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(
            gpu=props.name,
            gpu_memory_gib=round(props.total_memory / GIB, 1),
            gpu_sms=props.multi_processor_count,
        )
    return info


def datasheet_peak(device: torch.device) -> tuple[float | None, str]:
    """(dense bf16 TFLOP/s by the datasheet, where the figure comes from)."""
    if device.type != "cuda":
        return None, "CPU: no datasheet tensor-core peak"
    name = torch.cuda.get_device_name(device)
    for key, tflops in DATASHEET_BF16_TFLOPS.items():
        if key in name:
            return tflops, f"NVIDIA {key} SXM datasheet, dense BF16 tensor core (without sparsity)"
    return None, f"no datasheet figure known for {name}: compare with the measured matmul"


def matmul_tflops(device: torch.device, n: int, repeats: int = 10) -> dict[str, Any]:
    """bf16 (fp32 on the CPU) n x n x n matrix products on random data: the mean over
    ``repeats`` after 3 warm-ups, as TFLOP/s: the ceiling this card reaches in practice."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    for _ in range(3):
        a @ b
    t0 = now(device)
    for _ in range(repeats):
        a @ b
    seconds = (now(device) - t0) / repeats
    return {"n": n, "dtype": str(dtype).replace("torch.", ""), "tflops": 2 * n**3 / seconds / 1e12}
