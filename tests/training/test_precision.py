"""The default training precision: bf16 mixed where bf16 is native, fp32 elsewhere."""

import torch

from training.precision import cpu_has_native_bf16, default_precision

AVX2 = "flags\t\t: fpu vme sse sse2 avx avx2 fma"
SAPPHIRE = "flags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile amx_bf16"


def test_cpu_flags():
    assert not cpu_has_native_bf16(AVX2)
    assert cpu_has_native_bf16(SAPPHIRE)
    assert not cpu_has_native_bf16("flags: avx512_bf16x")  # whole words only


def test_cpu_runs():
    assert default_precision("cpu", AVX2) == "32-true"
    assert default_precision("cpu", SAPPHIRE) == "bf16-mixed"
    assert default_precision("mps", SAPPHIRE) == "32-true"


def test_gpu_runs(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert default_precision("gpu", AVX2) == "bf16-mixed"
    assert default_precision("auto", AVX2) == "bf16-mixed"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # e.g. a V100
    assert default_precision("cuda", AVX2) == "32-true"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_precision("auto", AVX2) == "32-true"
