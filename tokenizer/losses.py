"""Reconstruction losses of the motion VQ-VAEs: L1 with velocity and acceleration terms, and the focal
frequency loss (FreqVQ).

Every function takes ``(B, T, C)`` tensors (time on axis 1, channels last) and returns a scalar.

* :func:`l1_derivatives`: Bailando's ``L1(x̂, x) + vel * L1(Δx̂, Δx) + acc * L1(Δ²x̂, Δ²x)``, as its three
  parts so each can be logged.
* :func:`focal_frequency_loss`: the focal frequency loss of Jiang et al. 2021 ("Focal Frequency Loss for
  Image Reconstruction and Synthesis"), applied along time instead of over an image: the squared error
  of every temporal frequency is weighted by that error's own magnitude to the power ``alpha``,
  normalised per channel by the largest one, so training concentrates on the frequencies it gets most
  wrong. ExpressiveBailando's FreqVQ-VAE adds it against speed homogenisation: an L1 VQ-VAE smooths
  fast moves (their high-frequency content is small in L1 terms), and the focal weighting puts the
  weight back where the spectrum is missed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def temporal_difference(x: torch.Tensor, order: int = 1) -> torch.Tensor:
    """``order``-th forward difference along time: ``(B, T, C) -> (B, T - order, C)``.

    Order 2 is ``x_{t+2} - 2 x_{t+1} + x_t`` (Bailando's acceleration).
    """
    for _ in range(order):
        x = x[:, 1:] - x[:, :-1]
    return x


def l1_derivatives(pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean absolute error of positions, velocities and accelerations, ``(B, T, C)`` each.

    Returns ``{"rec", "vel", "acc"}`` unweighted; windows shorter than 3 frames give zero for the
    terms they cannot form.
    """
    out = {"rec": F.l1_loss(pred, target)}
    for name, order in (("vel", 1), ("acc", 2)):
        if pred.shape[1] > order:
            out[name] = F.l1_loss(temporal_difference(pred, order), temporal_difference(target, order))
        else:
            out[name] = pred.new_zeros(())
    return out


def focal_frequency_loss(pred: torch.Tensor, target: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Focal frequency loss along time.

    With ``D = rfft_t(pred) - rfft_t(target)`` (orthonormal, per channel) the loss is
    ``mean_{b,f,c}( w_{bfc} |D_{bfc}|^2 )`` where ``w = |D|^alpha / max_f |D|^alpha`` (per sample and
    channel, in [0, 1], no gradient). ``alpha = 0`` is the plain spectral MSE, which Parseval makes
    a scaled time-domain MSE; larger ``alpha`` focuses on the worst-reconstructed frequencies.

    Args:
        pred, target: ``(B, T, C)``.
        alpha: focusing exponent (FFL's default 1).

    Returns:
        a scalar; exactly 0 when ``pred == target``.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    # FFTs in float32 at least: half-precision FFTs need power-of-two lengths and lose the small bins.
    diff = torch.fft.rfft(pred.float(), dim=1, norm="ortho") - torch.fft.rfft(target.float(), dim=1, norm="ortho")
    dist = diff.real.square() + diff.imag.square()  # (B, F, C) squared spectral error
    with torch.no_grad():
        weight = dist.sqrt().pow(alpha)  # (B, F, C) |D|^alpha
        weight = weight / weight.amax(dim=1, keepdim=True)  # per sample and channel: the worst bin is 1
        # 0/0 where a channel is reconstructed exactly: that channel contributes nothing.
        weight = torch.nan_to_num(weight, nan=0.0).clamp_(0.0, 1.0)
    return (weight * dist).mean()


def velocity_spectrum(x: torch.Tensor) -> torch.Tensor:
    """Amplitude spectrum of the velocities: ``(B, T, C) -> (B, T//2, C)`` (``|rfft_t(Δx)|``, ortho)."""
    return torch.fft.rfft(temporal_difference(x.float(), 1), dim=1, norm="ortho").abs()


__all__ = ["temporal_difference", "l1_derivatives", "focal_frequency_loss", "velocity_spectrum"]
