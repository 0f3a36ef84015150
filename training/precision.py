"""The training precision a stage gets when its config does not choose one: bf16 mixed precision
where the hardware computes bf16 natively, full fp32 elsewhere.

bf16 autocast halves the bytes every conv and matmul moves and, on tensor cores or CPUs with bf16
instructions (AVX512-BF16, AMX), runs them at a multiple of the fp32 rate. Where the CPU only
emulates bf16 (AVX2 machines, most laptops) the same step is slower than in fp32, so there the
default stays fp32. The quantisers keep their codebooks, distances and EMA updates in fp32 under
autocast either way (:mod:`tokenizer.vqvae`).
"""

from __future__ import annotations

from pathlib import Path

import torch

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
"""``/proc/cpuinfo`` flags of CPUs with native bf16 arithmetic."""


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes bf16 natively (``cpuinfo``: the text of ``/proc/cpuinfo``, read if None)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    words = set(cpuinfo.split())
    return any(flag in words for flag in BF16_CPU_FLAGS)


def default_precision(accelerator: str | None, cpuinfo: str | None = None) -> str:
    """Lightning's ``precision`` for a run on ``accelerator`` (``cpu``, ``gpu``, ``cuda``, ``auto`` or None)."""
    name = (accelerator or "auto").lower()
    on_gpu = name in ("gpu", "cuda") or (name == "auto" and torch.cuda.is_available())
    if on_gpu:
        return "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "32-true"
    if name in ("cpu", "auto"):
        return "bf16-mixed" if cpu_has_native_bf16(cpuinfo) else "32-true"
    return "32-true"  # mps, tpu, ...: leave it to the user


__all__ = ["BF16_CPU_FLAGS", "cpu_has_native_bf16", "default_precision"]
