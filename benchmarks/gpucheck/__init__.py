"""The prepared GPU check (``benchmarks/gpu_check.py``, ``make gpu-check``): every CUDA path
of ptx and its GPU figures in one short call, rehearsed on the CPU by ``--dry``."""
