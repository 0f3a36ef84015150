"""Reconstruction and codebook figures of the tokenizers (no Lightning): MPJPE, root drift, velocity
spectrum error, perplexity and dead codes.

All take torch tensors; positions in metres, errors reported in the units named by each function.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from scipy.signal import welch

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


SPEED_BANDS_HZ = (0.0, 1.0, 3.0, 6.0, 12.0, math.inf)
"""Edges of the bands :func:`speed_band_figures` reports (the last is open)."""


def velocity_psd(sequences: Sequence[torch.Tensor], fps: float, segment_seconds: float = 2.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density of the velocities, summed over channels and averaged over sequences.

    Args:
        sequences: positions ``(T, C)`` per sequence; lengths may differ, and sequences shorter than
            one segment are skipped (their bins would not line up with the others').
        fps: frame rate.
        segment_seconds: Welch segment length; averaging over segments is what makes the estimate stable
            (a single periodogram's bins fluctuate by 100 %).

    Returns:
        ``(freqs (F,), psd (F,))``, the PSD in (m/s)^2/Hz, frame-weighted over the sequences.
    """
    nperseg = int(round(segment_seconds * fps))
    total, weight = None, 0
    for x in sequences:
        v = np.diff(np.asarray(x, dtype=np.float64).reshape(x.shape[0], -1), axis=0) * fps  # (T-1, C) per second
        if v.shape[0] < nperseg:
            continue
        freqs, psd = welch(v, fs=fps, nperseg=nperseg, axis=0)  # (F,), (F, C)
        total = psd.sum(-1) * v.shape[0] if total is None else total + psd.sum(-1) * v.shape[0]
        weight += v.shape[0]
    if total is None:
        raise ValueError(f"no sequence is as long as one Welch segment ({nperseg} frames)")
    return freqs, total / weight


def speed_band_figures(pred: Sequence[torch.Tensor], target: Sequence[torch.Tensor], fps: float,
                       bands: Sequence[float] = SPEED_BANDS_HZ) -> dict[str, float]:
    """Speed content kept by a reconstruction, band by band (phase-blind: what a viewer sees as
    "as fast and as jerky as the original", not whether each jerk lands on the same frame).

    Returns ``band_ratio/<lo>-<hi>Hz``: velocity energy of ``pred`` over ``target`` in each band (1 =
    kept, below 1 = smoothed away: speed homogenisation; above 1 = added jitter), and
    ``psd_log_distance_db``: the RMS over frequency bins above 0 Hz of ``10 log10(PSD_pred / PSD_target)``
    (0 = the same speed spectrum).
    """
    freqs, p_pred = velocity_psd(pred, fps)
    return compare_psd(freqs, p_pred, velocity_psd(target, fps)[1], bands)


def compare_psd(freqs: np.ndarray, p_pred: np.ndarray, p_true: np.ndarray,
                bands: Sequence[float] = SPEED_BANDS_HZ) -> dict[str, float]:
    """:func:`speed_band_figures` of two PSDs already computed by :func:`velocity_psd`."""
    out = {}
    for lo, hi in zip(bands[:-1], bands[1:]):
        sel = (freqs >= lo) & (freqs < hi)
        if sel.any():
            name = f"{lo:g}-{hi:g}Hz" if math.isfinite(hi) else f">={lo:g}Hz"
            out[f"band_ratio/{name}"] = float(p_pred[sel].sum() / max(p_true[sel].sum(), 1e-30))
    pos = freqs > 0
    ratio_db = 10.0 * np.log10(np.maximum(p_pred[pos], 1e-30) / np.maximum(p_true[pos], 1e-30))
    out["psd_log_distance_db"] = float(np.sqrt(np.mean(ratio_db ** 2)))
    return out


__all__ = ["mpjpe_mm", "root_error_at", "code_histogram", "codebook_usage", "velocity_spectrum_error",
           "SPEED_BANDS_HZ", "velocity_psd", "speed_band_figures", "compare_psd"]
