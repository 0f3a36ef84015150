"""Reconstruction and codebook figures of the tokenizers (no Lightning): MPJPE, root drift, velocity
spectrum error, perplexity and dead codes.

All take torch tensors; positions in metres, errors reported in the units named by each function.
"""

from __future__ import annotations

import math

import torch

from tokenizer.losses import temporal_difference, velocity_spectrum


def mpjpe_mm(pred: torch.Tensor, target: torch.Tensor, joints: list[int] | tuple[int, ...] | None = None) -> torch.Tensor:
    """Mean per-joint position error in millimetres: ``(..., J, 3)`` pairs -> ``()``.

    ``joints`` restricts the mean to those joints (a part). Inputs are compared as given: pass
    pelvis-relative joints for the pose error alone.
    """
    if joints is not None:
        pred, target = pred[..., list(joints), :], target[..., list(joints), :]
    return (pred - target).norm(dim=-1).mean() * 1000.0


def root_error_at(pred_root: torch.Tensor, target_root: torch.Tensor, frame: int) -> torch.Tensor:
    """Distance (metres) between two pelvis trajectories ``(..., T, 3)`` at ``frame``, averaged over
    the leading axes. With both integrated from the same start, this is the drift after ``frame`` frames."""
    return (pred_root[..., frame, :] - target_root[..., frame, :]).norm(dim=-1).mean()


def code_histogram(indices: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """Counts of each code in ``indices`` (any shape) -> ``(K,)`` int64."""
    return torch.bincount(indices.reshape(-1).long(), minlength=codebook_size)[:codebook_size]


def codebook_usage(histogram: torch.Tensor) -> dict[str, float]:
    """Perplexity ``exp(H(p))`` of the code distribution, codes used, and dead codes (never used).

    Perplexity equals the codebook size for perfectly uniform use and 1 when one code does everything.
    """
    counts = histogram.double()
    total = counts.sum()
    if total <= 0:
        return {"perplexity": 0.0, "used": 0.0, "dead": float(histogram.numel())}
    p = counts / total
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    used = int((histogram > 0).sum())
    return {"perplexity": float(math.exp(float(entropy))), "used": float(used), "dead": float(histogram.numel() - used)}


def velocity_spectrum_error(pred: torch.Tensor, target: torch.Tensor, fps: float,
                            high_hz: float = 3.0) -> dict[str, float]:
    """How well the speed content survives reconstruction: ``(B, T, C)`` positions.

    Returns:
        ``spectrum_error``: ``sum|A_pred - A_gt| / sum A_gt`` over the amplitude spectra of the
        per-frame velocities (relative L1, 0 = identical spectra);
        ``high_band_ratio``: velocity energy above ``high_hz`` Hz, reconstructed over ground truth
        (1 = kept; below 1 = fast movement smoothed away, the "speed homogenisation" FreqVQ targets).
    """
    a_pred, a_gt = velocity_spectrum(pred), velocity_spectrum(target)  # (B, F, C)
    n = temporal_difference(pred, 1).shape[1]
    freqs = torch.fft.rfftfreq(n, d=1.0 / fps)  # (F,)
    high = freqs >= high_hz
    err = (a_pred - a_gt).abs().sum() / a_gt.sum().clamp_min(1e-12)
    e_pred, e_gt = a_pred[:, high].square().sum(), a_gt[:, high].square().sum()
    return {"spectrum_error": float(err), "high_band_ratio": float(e_pred / e_gt.clamp_min(1e-12))}


__all__ = ["mpjpe_mm", "root_error_at", "code_histogram", "codebook_usage", "velocity_spectrum_error"]
