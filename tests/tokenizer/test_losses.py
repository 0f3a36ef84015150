"""Losses and figures of the tokenizer, checked against hand-computed values."""

import math

import pytest
import torch

from tokenizer.evaluation import code_histogram, codebook_usage, mpjpe_mm, velocity_spectrum_error
from tokenizer.losses import focal_frequency_loss, l1_derivatives, temporal_difference


def cosine(T: int, k: int, amp: float) -> torch.Tensor:
    """amp * cos(2 pi k t / T), (1, T, 1): exactly one rfft bin (k) when 0 < k < T/2."""
    t = torch.arange(T, dtype=torch.float64)
    return (amp * torch.cos(2 * math.pi * k * t / T)).reshape(1, T, 1)


def test_l1_derivatives_hand_values():
    target = torch.zeros(1, 4, 1)
    pred = torch.tensor([0.0, 1.0, 0.0, 1.0]).reshape(1, 4, 1)  # vel +1 -1 +1, acc -2 +2
    out = l1_derivatives(pred, target)
    assert out["rec"].item() == pytest.approx(0.5)
    assert out["vel"].item() == pytest.approx(1.0)
    assert out["acc"].item() == pytest.approx(2.0)
    assert temporal_difference(pred, 2).flatten().tolist() == [-2.0, 2.0]


def test_focal_frequency_loss_zero_iff_equal():
    x = torch.randn(2, 32, 5)
    assert focal_frequency_loss(x, x.clone()).item() == 0.0
    y = x.clone()
    y[0, 7, 3] += 0.1
    assert focal_frequency_loss(y, x).item() > 0.0


def test_focal_frequency_loss_closed_form_two_tones():
    # Error = a cos at bin k1 + b cos at bin k2 (b > a). With the orthonormal rfft each tone puts
    # sqrt(T)/2 * amplitude into its bin, so |D|^2 = T a^2 / 4 and T b^2 / 4, and the focal weights
    # are (a/b)^alpha and 1. Mean over the T/2 + 1 bins.
    T, a, b, alpha = 64, 0.1, 0.4, 1.0
    error = cosine(T, 3, a) + cosine(T, 20, b)
    loss = focal_frequency_loss(error, torch.zeros_like(error), alpha=alpha).item()
    expected = ((a / b) ** alpha * T * a**2 / 4 + T * b**2 / 4) / (T // 2 + 1)
    assert loss == pytest.approx(expected, rel=1e-5)


def test_focal_weighting_shifts_weight_to_the_worse_high_frequency():
    # Same two-tone error: the share of the loss from the high (larger-error) tone grows with alpha,
    # from b^2/(a^2+b^2) at alpha 0 (plain spectral MSE) to b^(2+alpha)/(a^(2+alpha)+b^(2+alpha)).
    T, a, b = 64, 0.1, 0.4
    low, high = cosine(T, 3, a), cosine(T, 20, b)
    zero = torch.zeros_like(low)
    for alpha in (0.0, 1.0, 2.0):
        total = focal_frequency_loss(low + high, zero, alpha).item()
        high_only = focal_frequency_loss(high, zero, alpha).item()  # a single tone: its weight is 1
        share = high_only / total
        assert share == pytest.approx(b ** (2 + alpha) / (a ** (2 + alpha) + b ** (2 + alpha)), rel=1e-5)
    # alpha 0 is the plain spectral MSE: by Parseval the one-sided spectrum of tones strictly
    # between DC and Nyquist holds half the signal energy, sum x^2 / 2 = T mse / 2, over T/2 + 1 bins.
    mse_time = (low + high).square().mean().item()
    assert focal_frequency_loss(low + high, zero, 0.0).item() == pytest.approx(mse_time * T / 2 / (T // 2 + 1), rel=1e-5)


def test_velocity_spectrum_error_detects_smoothing():
    T, fps = 120, 60.0
    slow, fast = cosine(T, 2, 0.3), cosine(T, 20, 0.05)  # 1 Hz and 10 Hz components
    target = (slow + fast).float()
    same = velocity_spectrum_error(target, target.clone(), fps)
    assert same["spectrum_error"] == 0.0 and same["high_band_ratio"] == pytest.approx(1.0)
    smoothed = velocity_spectrum_error(slow.float(), target, fps)  # fast part lost
    assert smoothed["spectrum_error"] > 0.1 and smoothed["high_band_ratio"] < 0.05


def test_mpjpe_and_codebook_usage():
    a = torch.zeros(2, 3, 4, 3)
    b = a.clone()
    b[..., 1, 0] = 0.003  # joint 1 off by 3 mm everywhere
    assert mpjpe_mm(b, a).item() == pytest.approx(0.75)
    assert mpjpe_mm(b, a, [1]).item() == pytest.approx(3.0)
    hist = code_histogram(torch.tensor([[0, 1], [2, 3]]), 8)
    usage = codebook_usage(hist)
    assert usage["perplexity"] == pytest.approx(4.0) and usage["used"] == 4 and usage["dead"] == 4
    assert codebook_usage(code_histogram(torch.zeros(10, dtype=torch.long), 8))["perplexity"] == pytest.approx(1.0)


def test_speed_band_figures_by_band():
    from tokenizer.evaluation import speed_band_figures, velocity_psd

    fps, T = 60.0, 1200
    t = torch.arange(T, dtype=torch.float64) / fps
    slow = 0.3 * torch.sin(2 * math.pi * 1.5 * t)  # 1.5 Hz: the 1-3 Hz band
    fast = 0.02 * torch.sin(2 * math.pi * 9.0 * t)  # 9 Hz: the 6-12 Hz band
    target = [torch.stack([slow + fast, slow], dim=-1)]  # (T, 2)
    same = speed_band_figures(target, target, fps)
    assert same["psd_log_distance_db"] == 0.0 and same["band_ratio/1-3Hz"] == 1.0
    smoothed = speed_band_figures([torch.stack([slow, slow], dim=-1)], target, fps)
    assert smoothed["band_ratio/1-3Hz"] == pytest.approx(1.0, rel=1e-3)
    assert smoothed["band_ratio/6-12Hz"] < 1e-3  # the fast part is gone
    jitter = speed_band_figures([torch.stack([slow + 2 * fast, slow], dim=-1)], target, fps)
    assert jitter["band_ratio/6-12Hz"] == pytest.approx(4.0, rel=1e-2)  # twice the amplitude: 4x the energy
    # Parseval: the PSD integrates to the mean squared velocity (m/s)^2.
    freqs, psd = velocity_psd(target, fps)
    v = torch.diff(target[0], dim=0) * fps
    assert float(psd.sum() * (freqs[1] - freqs[0])) == pytest.approx(float(v.square().sum(-1).mean()), rel=0.02)
